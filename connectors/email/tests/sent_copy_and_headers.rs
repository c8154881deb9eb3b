//! A copy of each sent message in a folder over IMAP (`save_to_sent`), read back from
//! Dovecot; and the headers a bulk sender needs (RFC 2369 `List-Unsubscribe`, RFC 8058
//! one-click, RFC 3834 `Auto-Submitted`, RFC 8098 `Disposition-Notification-To`), read
//! back from the delivered message.

mod common;

use std::time::Duration;

use common::{Fixture, code, records, results, servers, stderr};
use serde_json::json;

#[test]
fn a_copy_of_each_sent_message_is_kept_in_the_sent_folder_marked_read() {
    let fx = Fixture::new();
    // The fixture's user sends; its own Sent folder gets the copies.
    let mut settings = fx.settings();
    settings["imap"] = servers().connection(&fx.user, common::Transport::Starttls)["imap"].clone();
    let out = fx.send_via(
        &settings,
        json!({"save_to_sent": "Sent"}),
        json!([
            {"from": fx.user.address, "to": fx.peer.address, "subject": "copy 1", "text": "one"},
            {"from": fx.user.address, "to": fx.peer.address, "subject": "copy 2", "text": "two"}
        ]),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = results(&out);
    for r in &lines {
        assert_eq!(
            r["sent_copy"],
            json!({"folder": "Sent", "saved": true}),
            "{r}"
        );
    }
    let stored = fx.stored("Sent");
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|m| m.seen()), "copies are marked read");
    let ids: Vec<&str> = lines
        .iter()
        .filter_map(|r| r["message_id"].as_str())
        .collect();
    assert!(
        stored.iter().all(|m| ids.contains(&m.message_id.as_str())),
        "{stored:?}"
    );

    // A folder that does not exist: the message is sent, the result says the copy failed.
    let out = fx.send_via(
        &settings,
        json!({"save_to_sent": "No Such Folder"}),
        json!({"from": fx.user.address, "to": fx.peer.address, "subject": "copy 3", "text": "x"}),
    );
    assert_eq!(
        code(&out),
        0,
        "the message itself was sent: {}",
        stderr(&out)
    );
    let r = &results(&out)[0];
    assert_eq!(r["status"], "sent");
    assert_eq!(r["sent_copy"]["saved"], false, "{r}");
}

#[test]
fn bulk_sender_headers_arrive_as_the_rfcs_write_them() {
    let fx = Fixture::new();
    let out = fx.send(
        json!({}),
        json!({
            "from": fx.peer.address, "to": fx.user.address, "subject": "newsletter", "text": "news",
            "list_unsubscribe": ["https://example.test/unsub?u=1", "mailto:unsub@example.test"],
            "one_click_unsubscribe": true,
            "auto_submitted": "auto_generated",
            "disposition_notification_to": fx.peer.address
        }),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    servers()
        .wait_for(&fx.user, "INBOX", 1, Duration::from_secs(15))
        .expect("delivered");
    let out = fx.read(json!({"after_read": "none"}));
    let record = &records(&out)[0];
    let header = |name: &str| -> Option<String> {
        record["headers"].as_array().and_then(|all| {
            all.iter()
                .find(|h| {
                    h["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .and_then(|h| h["value"].as_str().map(str::to_owned))
        })
    };
    assert_eq!(
        header("List-Unsubscribe").as_deref(),
        Some("<https://example.test/unsub?u=1>, <mailto:unsub@example.test>")
    );
    assert_eq!(
        header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(header("Auto-Submitted").as_deref(), Some("auto-generated"));
    assert_eq!(
        header("Disposition-Notification-To"),
        Some(format!("<{}>", fx.peer.address))
    );

    // One-click without an https URI is refused before anything is sent.
    let out = fx.send(
        json!({}),
        json!({"from": fx.peer.address, "to": fx.user.address, "subject": "x", "text": "x",
               "list_unsubscribe": ["mailto:unsub@example.test"], "one_click_unsubscribe": true}),
    );
    assert_eq!(code(&out), 2);
    assert_eq!(common::last_error(&out)["path"], "/one_click_unsubscribe");
}
