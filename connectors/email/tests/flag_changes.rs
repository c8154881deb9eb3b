//! `flag_changes` with `mode: cursor`: besides the new messages, a record for each
//! message read before whose flags changed since the last run (`change: "flags"`),
//! found by mod-sequence (CONDSTORE, RFC 7162) without fetching a message again,
//! and, where the server has QRESYNC, one for each message expunged since
//! (`change: "vanished"`); against Dovecot (which has both) and scripted servers with
//! CONDSTORE alone and with QRESYNC. Refused without a cursor, and on a server without
//! CONDSTORE.

mod common;

use common::{Fixture, code, last_error, raw_message, run, stderr};
use email_testsupport::imap::{Answer, ScriptedImap, message};
use serde_json::{Value, json};

fn plant(fx: &Fixture, from: usize, to: usize) {
    for i in from..to {
        fx.plant(&raw_message(
            &format!("{i}@flags"),
            &format!("m{i}"),
            "a@example.test",
        ));
    }
}

fn read(fx: &Fixture, state: &str) -> (Vec<Value>, std::process::Output) {
    let config = json!({
        "mode": "cursor", "after_read": "none", "unseen_only": false, "flag_changes": true
    });
    let (records, _, out) = fx.read_with(config, &["--state", state]);
    (records, out)
}

#[test]
fn flags_changed_elsewhere_come_as_records_of_their_own() {
    let fx = Fixture::new();
    plant(&fx, 1, 4);
    let state = fx.dir.path().join("state.json");
    let state = state.to_str().expect("utf-8");
    let (records, out) = read(&fx, state);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(records.len(), 3);
    assert!(
        records.iter().all(|r| r.get("change").is_none()),
        "{records:?}"
    );
    let kept: Value =
        serde_json::from_str(&std::fs::read_to_string(state).expect("state")).expect("json");
    assert!(
        kept["modseq"].as_u64().is_some(),
        "the mod-sequence is kept: {kept}"
    );

    // Someone flags one message and reads another, and deletes the first; a new one
    // arrives.
    fx.flag(2, "\\Flagged");
    fx.flag(3, "\\Seen");
    fx.expunge(1);
    plant(&fx, 4, 5);
    let (records, out) = read(&fx, state);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let new: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("change").is_none())
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["subject"], "m4");
    // Dovecot has QRESYNC: the expunged message is named, first, in UID order.
    let vanished: Vec<&Value> = records
        .iter()
        .filter(|r| r["change"] == "vanished")
        .collect();
    assert_eq!(vanished.len(), 1, "{records:?}");
    assert_eq!(vanished[0]["uid"], 1);
    assert!(vanished[0]["subject"].is_null() && vanished[0]["flags"] == json!([]));
    let changes: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("change").is_some())
        .collect();
    assert_eq!(changes[0]["change"], "vanished", "{records:?}");
    let changed: Vec<(u64, Vec<String>)> = records
        .iter()
        .filter(|r| r["change"] == "flags")
        .map(|r| {
            let flags = r["flags"]
                .as_array()
                .expect("flags")
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect();
            (r["uid"].as_u64().expect("uid"), flags)
        })
        .collect();
    assert_eq!(changed.len(), 2, "{records:?}");
    assert_eq!(changed[0].0, 2);
    assert!(changed[0].1.iter().any(|f| f == "\\Flagged"), "{changed:?}");
    assert_eq!(changed[1].0, 3);
    assert!(changed[1].1.iter().any(|f| f == "\\Seen"), "{changed:?}");
    // A flag-change record carries no message.
    let flag_record = records
        .iter()
        .find(|r| r["change"] == "flags")
        .expect("one");
    assert!(flag_record["subject"].is_null() && flag_record["headers"] == json!([]));

    // Nothing changed since: nothing comes.
    let (records, out) = read(&fx, state);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(records.is_empty(), "{records:?}");
    // The run changed no flag itself (UIDs 2, 3 and 4 are left; 3 was read elsewhere).
    let stored = fx.stored("INBOX");
    assert_eq!(stored.len(), 3);
    assert!(!stored[0].seen() && !stored[2].seen());
}

#[test]
fn flag_changes_need_a_cursor() {
    let fx = Fixture::new();
    let out = fx.read(json!({"flag_changes": true}));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(last_error(&out)["path"], "/flag_changes");
}

#[test]
fn flag_changes_on_a_server_without_condstore_is_a_config_error() {
    let server = ScriptedImap::start(vec![message("one")], |_| None);
    let dir = tempfile::tempdir().expect("dir");
    let conn = dir.path().join("conn.json");
    let cfg = dir.path().join("read.json");
    std::fs::write(&conn, server.connection().to_string()).expect("write");
    std::fs::write(
        &cfg,
        json!({"mode": "cursor", "after_read": "none", "flag_changes": true}).to_string(),
    )
    .expect("write");
    let out = run(&[
        "run",
        "read",
        "--connection",
        conn.to_str().expect("utf-8"),
        "--config",
        cfg.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let error = last_error(&out);
    assert_eq!(error["path"], "/flag_changes");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("CONDSTORE")),
        "{error}"
    );
    assert!(common::records(&out).is_empty());
}

#[test]
fn a_server_that_answers_for_messages_not_asked_about_brings_no_records_for_them() {
    // A CONDSTORE server whose CHANGEDSINCE answer names the one message asked about
    // and 2,000 that were not (and that one again): one flag record comes, for it.
    let server = ScriptedImap::start(vec![message("one")], |c| {
        let answer = match c.name.as_str() {
            "CAPABILITY" => "* CAPABILITY IMAP4rev1 UIDPLUS CONDSTORE\r\n".to_owned(),
            "SELECT" => "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n* OK [HIGHESTMODSEQ 20] ok\r\n".to_owned(),
            "UID FETCH" if c.line.contains("CHANGEDSINCE") => {
                let mut lines = String::from("* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (19))\r\n");
                for uid in 1000..3000 {
                    lines.push_str(&format!("* {uid} FETCH (UID {uid} FLAGS (\\Seen) MODSEQ (19))\r\n"));
                }
                lines.push_str("* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (19))\r\n");
                lines
            }
            _ => return None,
        };
        Some(Answer::Bytes(
            format!("{answer}{} OK done\r\n", c.tag).into_bytes(),
        ))
    });
    let (first, changed, commands) = read_twice(&server);
    assert_eq!(first, 1);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["change"], "flags");
    assert_eq!(changed[0]["uid"], 1);
    assert_eq!(changed[0]["flags"], json!(["\\Flagged"]));
    // CONDSTORE without QRESYNC: expunges are not asked about (the server would
    // answer `BAD`), and nothing is enabled.
    assert!(
        commands
            .iter()
            .all(|c| !c.contains("VANISHED") && !c.starts_with("ENABLE")),
        "{commands:?}"
    );
}

/// Two messages on a scripted server with QRESYNC; `answer` is its answer to the
/// `CHANGEDSINCE` fetch (untagged lines).
fn qresync_server(answer: &'static str) -> ScriptedImap {
    ScriptedImap::start(vec![message("one"), message("two")], move |c| {
        let lines = match c.name.as_str() {
            "CAPABILITY" => "* CAPABILITY IMAP4rev1 UIDPLUS CONDSTORE QRESYNC\r\n".to_owned(),
            "ENABLE" => "* ENABLED QRESYNC\r\n".to_owned(),
            "SELECT" => "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n* OK [HIGHESTMODSEQ 20] ok\r\n".to_owned(),
            "UID FETCH" if c.line.contains("CHANGEDSINCE") => answer.to_owned(),
            _ => return None,
        };
        Some(Answer::Bytes(
            format!("{lines}{} OK done\r\n", c.tag).into_bytes(),
        ))
    })
}

/// Reads `server` twice with flag changes (the second run is the one that asks what
/// changed); returns how many messages the first run read, the second run's change
/// records, and the commands the second run sent.
fn read_twice(server: &ScriptedImap) -> (usize, Vec<Value>, Vec<String>) {
    let dir = tempfile::tempdir().expect("dir");
    let conn = dir.path().join("conn.json");
    let cfg = dir.path().join("read.json");
    let state = dir.path().join("state.json");
    std::fs::write(&conn, server.connection().to_string()).expect("write");
    std::fs::write(
        &cfg,
        json!({"mode": "cursor", "after_read": "none", "unseen_only": false, "flag_changes": true})
            .to_string(),
    )
    .expect("write");
    let read = || {
        run(&[
            "run",
            "read",
            "--connection",
            conn.to_str().expect("utf-8"),
            "--config",
            cfg.to_str().expect("utf-8"),
            "--state",
            state.to_str().expect("utf-8"),
        ])
    };
    let first = read();
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let messages = common::records(&first)
        .iter()
        .filter(|r| r.get("$state").is_none())
        .count();
    let before = server.commands().len();
    let second = read();
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    let changes = common::records(&second)
        .into_iter()
        .filter(|r| r.get("change").is_some())
        .collect();
    (messages, changes, server.commands()[before..].to_vec())
}

#[test]
fn with_qresync_the_same_fetch_names_what_vanished_within_what_was_read() {
    // The server says UID 2 and every UID there could ever be vanished (RFC 7162 lets
    // it over-report): one record, for the one message read before, in UID order
    // after the flag change of UID 1.
    let server = qresync_server(
        "* VANISHED (EARLIER) 4294967295:2\r\n* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (19))\r\n",
    );
    let (_, changes, commands) = read_twice(&server);
    let seen: Vec<(String, u64)> = changes
        .iter()
        .map(|r| {
            (
                r["change"].as_str().expect("change").to_owned(),
                r["uid"].as_u64().expect("uid"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![("flags".to_owned(), 1), ("vanished".to_owned(), 2)],
        "{changes:?}"
    );
    // Enabled before the folder is selected (RFC 5161), and asked in the same fetch.
    let enable = commands.iter().position(|c| c == "ENABLE QRESYNC");
    let select = commands.iter().position(|c| c.starts_with("SELECT"));
    assert!(
        enable.is_some() && enable < select,
        "ENABLE QRESYNC before SELECT: {commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.contains("CHANGEDSINCE") && c.contains("VANISHED")),
        "{commands:?}"
    );
}
