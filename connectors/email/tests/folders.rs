//! Several folders in one run (`folders`): each read in turn, each record saying its
//! folder, each message committed in its own folder (while the read has moved on to the
//! next one), each folder with its own place in the state; `max_messages` counts over
//! the whole run.

mod common;

use common::{Fixture, code, last_error, raw_message, servers, stderr};
use serde_json::{Value, json};

const LISTS: &str = "Lists/rust";
const GREETINGS: &str = "Grüße";

fn put(fx: &Fixture, folder: &str, subjects: &[&str]) {
    for s in subjects {
        servers()
            .deliver(
                &fx.user,
                folder,
                raw_message(&format!("{s}@folders"), s, "a@example.test").as_bytes(),
            )
            .expect("deliver");
    }
}

fn fixture() -> Fixture {
    let fx = Fixture::new();
    for folder in [LISTS, GREETINGS] {
        servers().create_folder(&fx.user, folder).expect("create");
    }
    fx
}

/// Runs `read` with `config` and extra arguments; returns records and state lines.
fn read(
    fx: &Fixture,
    config: Value,
    extra: &[&str],
) -> (Vec<Value>, Vec<Value>, std::process::Output) {
    fx.read_with(config, extra)
}

fn pairs(records: &[Value]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["folder"].as_str().unwrap_or_default().to_owned(),
                r["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn each_folder_is_read_in_turn_and_committed_in_its_own_folder() {
    let fx = fixture();
    put(&fx, "INBOX", &["i1", "i2"]);
    put(&fx, LISTS, &["l1"]);
    put(&fx, GREETINGS, &["g1", "g2"]);
    // Batches of one: commits of a folder arrive while the read is in the next one.
    let config = json!({"folders": [LISTS, GREETINGS], "batch_size": 1});
    let (records, _, out) = read(&fx, config.clone(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        pairs(&records),
        owned(&[
            ("INBOX", "i1"),
            ("INBOX", "i2"),
            (LISTS, "l1"),
            (GREETINGS, "g1"),
            (GREETINGS, "g2")
        ])
    );
    for folder in ["INBOX", LISTS, GREETINGS] {
        let stored = fx.stored(folder);
        assert!(
            stored.iter().all(|m| m.seen()),
            "every message of {folder} marked read in {folder}"
        );
    }
    // Nothing is left to read.
    let (records, _, out) = read(&fx, config, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(records.is_empty(), "{records:?}");
}

#[test]
fn moving_from_several_folders_moves_each_message_from_its_own() {
    let fx = fixture();
    servers().create_folder(&fx.user, "Done").expect("create");
    put(&fx, "INBOX", &["i1"]);
    put(&fx, LISTS, &["l1", "l2"]);
    let config = json!({"folders": [LISTS], "batch_size": 1, "after_read": {"move_to": "Done"}});
    let (records, _, out) = read(&fx, config, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(records.len(), 3);
    assert!(fx.stored("INBOX").is_empty() && fx.stored(LISTS).is_empty());
    assert_eq!(fx.stored("Done").len(), 3);
}

#[test]
fn a_cursor_keeps_a_place_per_folder() {
    let fx = fixture();
    put(&fx, "INBOX", &["i1"]);
    put(&fx, LISTS, &["l1", "l2"]);
    let state = fx.dir.path().join("state.json");
    let state = state.to_str().expect("utf-8");
    let config = json!({
        "mode": "cursor", "after_read": "none", "unseen_only": false,
        "folders": [LISTS, GREETINGS]
    });
    let (records, states, out) = read(&fx, config.clone(), &["--state", state]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(records.len(), 3);
    let last = &states.last().expect("a checkpoint")["$state"];
    assert_eq!(
        (last["folder"].as_str(), last["last_uid"].as_u64()),
        (Some("INBOX"), Some(1))
    );
    let more = last["more"].as_array().expect("the other folders");
    assert_eq!(more[0]["folder"], LISTS);
    assert_eq!(more[0]["last_uid"], 2);
    // A folder gets its place with its first checkpoint: the empty one has none yet.
    assert_eq!(more.len(), 1, "{more:?}");

    put(&fx, LISTS, &["l3"]);
    put(&fx, GREETINGS, &["g1"]);
    let (records, _, out) = read(&fx, config.clone(), &["--state", state]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pairs(&records), owned(&[(LISTS, "l3"), (GREETINGS, "g1")]));
    let (records, _, _) = read(&fx, config, &["--state", state]);
    assert!(records.is_empty(), "nothing new anywhere: {records:?}");
    for folder in ["INBOX", LISTS, GREETINGS] {
        assert!(
            fx.stored(folder).iter().all(|m| !m.seen()),
            "no flag changed in {folder}"
        );
    }
}

#[test]
fn max_messages_counts_over_the_whole_run() {
    let fx = fixture();
    put(&fx, "INBOX", &["i1", "i2"]);
    put(&fx, LISTS, &["l1", "l2"]);
    put(&fx, GREETINGS, &["g1"]);
    let config = json!({"folders": [LISTS, GREETINGS], "max_messages": 3});
    let (records, _, out) = read(&fx, config.clone(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        pairs(&records),
        owned(&[("INBOX", "i1"), ("INBOX", "i2"), (LISTS, "l1")])
    );
    let err = stderr(&out);
    assert!(err.contains("more matching messages wait"), "{err}");
    assert!(err.contains("these folders wait for the next run"), "{err}");
    // The summary counts what waits in the folders read (l2; Greetings was not
    // searched).
    assert!(err.contains("; 1 more wait for the next run"), "{err}");
    let (records, _, _) = read(&fx, config, &[]);
    assert_eq!(pairs(&records), owned(&[(LISTS, "l2"), (GREETINGS, "g1")]));
}

#[test]
fn folder_lists_are_checked_before_connecting() {
    let fx = Fixture::new();
    for (config, path, says) in [
        (json!({"folders": ["INBOX"]}), "/folders/0", "read already"),
        (json!({"folders": ["A", "A"]}), "/folders/1", "read already"),
        (
            json!({"folders": [""]}),
            "/folders/0",
            "expected a folder name",
        ),
        (
            json!({"folders": ["A"], "follow": true}),
            "/folders",
            "watches one folder",
        ),
        (
            json!({"folders": ["A"], "after_read": {"move_to": "A"}}),
            "/after_read/move_to",
            "would read them again",
        ),
    ] {
        let out = fx.read(config.clone());
        assert_eq!(code(&out), 2, "{config}: {}", stderr(&out));
        let err = last_error(&out);
        assert_eq!(err["path"], path, "{config}");
        assert!(
            err["message"].as_str().is_some_and(|m| m.contains(says)),
            "{err}"
        );
    }
}

#[test]
fn a_folder_that_does_not_exist_is_a_config_error_naming_it() {
    let fx = Fixture::new();
    let out = fx.read(json!({"folders": ["No/Such"]}));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_error(&out)["message"]
            .as_str()
            .is_some_and(|m| m.contains("No/Such")),
        "{}",
        stderr(&out)
    );
}
