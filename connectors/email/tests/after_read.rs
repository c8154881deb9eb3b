//! What happens to a message once delivered: mark_seen, none, delete, move_to; and
//! nothing happens before delivery.

mod common;

use common::{Fixture, code, raw_message, records};
use serde_json::json;

fn plant_three(fx: &Fixture) {
    for i in 1..=3 {
        fx.plant(&raw_message(
            &format!("{i}@after"),
            &format!("m{i}"),
            "a@example.test",
        ));
    }
}

#[test]
fn mark_seen_is_the_default() {
    let fx = Fixture::new();
    plant_three(&fx);
    let out = fx.read(json!({}));
    assert_eq!(records(&out).len(), 3);
    let stored = fx.stored("INBOX");
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|m| m.seen()), "{stored:?}");
    // The flags in the records are those before the commit: reading never marks.
    assert!(records(&out).iter().all(|r| {
        !r["flags"]
            .as_array()
            .expect("flags")
            .contains(&json!("\\Seen"))
    }));
}

#[test]
fn none_leaves_messages_untouched() {
    let fx = Fixture::new();
    plant_three(&fx);
    assert_eq!(records(&fx.read(json!({"after_read": "none"}))).len(), 3);
    assert!(fx.stored("INBOX").iter().all(|m| !m.seen()));
    assert_eq!(
        records(&fx.read(json!({"after_read": "none"}))).len(),
        3,
        "read again next time"
    );
}

#[test]
fn delete_expunges_exactly_the_delivered_messages() {
    let fx = Fixture::new();
    plant_three(&fx);
    // A message already flagged \Deleted by someone else must survive our expunge.
    fx.flag(3, "\\Deleted \\Seen");
    let out = fx.read(json!({"after_read": "delete"}));
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    assert_eq!(records(&out).len(), 2);
    let left = fx.stored("INBOX");
    assert_eq!(
        left.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [3],
        "only UIDs 1 and 2 are expunged (UID EXPUNGE)"
    );
}

#[test]
fn move_to_moves_delivered_messages() {
    let fx = Fixture::new();
    plant_three(&fx);
    common::servers()
        .create_folder(&fx.user, "Processed")
        .expect("create");
    let out = fx.read(json!({"after_read": {"move_to": "Processed"}}));
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    assert_eq!(records(&out).len(), 3);
    assert!(fx.stored("INBOX").is_empty());
    let moved: Vec<String> = fx
        .stored("Processed")
        .iter()
        .map(|m| m.message_id.clone())
        .collect();
    assert_eq!(moved, ["<1@after>", "<2@after>", "<3@after>"]);
}

#[test]
fn move_to_a_missing_folder_fails_before_touching_anything() {
    let fx = Fixture::new();
    plant_three(&fx);
    let out = fx.read(json!({"after_read": {"move_to": "Nowhere"}}));
    assert_eq!(code(&out), 2);
    assert_eq!(common::last_error(&out)["path"], "/after_read/move_to");
    assert!(out.stdout.is_empty());
    assert!(fx.stored("INBOX").iter().all(|m| !m.seen()));
}
