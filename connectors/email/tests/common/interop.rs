//! The interop scenarios, written once and run against each IMAP server the harness
//! runs besides Dovecot (`interop_imap4d.rs`, `interop_cyrus.rs`): read and mark, move,
//! delete, discover and read a non-ASCII folder, 8-bit search text, follow. Each checks
//! the server afterwards with a small IMAP client of the harness's own.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use email_testsupport::InteropImap;
use serde_json::{Value, json};

use super::{BIN, code, records, stderr, stdout_json};

pub fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.test>\r\nTo: reader@example.test\r\nSubject: {subject}\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <{}@interop>\r\n\r\nbody of {subject}\r\n",
        subject.replace(' ', ".")
    )
    .into_bytes()
}

pub fn run(
    server: &impl InteropImap,
    args: &[&str],
    config: Option<&Value>,
) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = dir.path().join("conn.json");
    std::fs::write(&conn, server.connection().to_string()).expect("write");
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("--connection").arg(&conn);
    if let Some(config) = config {
        let path = dir.path().join("read.json");
        std::fs::write(&path, config.to_string()).expect("write");
        cmd.arg("--config").arg(path);
    }
    cmd.stdin(Stdio::null()).output().expect("run")
}

pub fn read(server: &impl InteropImap, config: Value) -> std::process::Output {
    run(server, &["run", "read"], Some(&config))
}

pub fn subjects(out: &std::process::Output) -> Vec<String> {
    records(out)
        .iter()
        .map(|r| r["subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Reads three messages and marks them read; a second run finds nothing.
pub fn read_then_mark_read(s: &impl InteropImap) {
    for subject in ["one", "two", "three"] {
        s.append("INBOX", &message(subject)).expect("append");
    }
    let out = read(s, json!({}));
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    assert_eq!(subjects(&out), ["one", "two", "three"]);
    let recs = records(&out);
    assert_eq!(recs[0]["from"][0]["address"], "sender@example.test");
    assert_eq!(recs[0]["text"], "body of one");
    let flags = s.flags("INBOX").expect("flags");
    assert_eq!(flags.len(), 3);
    assert!(flags.iter().all(|(_, f)| f.contains("\\Seen")), "{flags:?}");
    let again = read(s, json!({}));
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(records(&again).is_empty(), "nothing unread is left");
}

/// Moves what it read to another folder (MOVE, or copy, flag and expunge).
pub fn move_to_another_folder(s: &impl InteropImap) {
    s.create("Processed").expect("create");
    // A message already read stays: imap4d gives a Maildir a new UIDVALIDITY when it
    // becomes empty, which would make the commit's second try (after imap4d's
    // malformed `* 1 EXPUNGED`) refuse, though the move was done (docs: interop).
    s.append("INBOX", &message("old")).expect("append");
    read(s, json!({}));
    for subject in ["a", "b"] {
        s.append("INBOX", &message(subject)).expect("append");
    }
    let out = read(s, json!({"after_read": {"move_to": "Processed"}}));
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    assert_eq!(subjects(&out), ["a", "b"]);
    assert_eq!(
        s.flags("INBOX").expect("flags").len(),
        1,
        "expunged from INBOX"
    );
    assert_eq!(s.flags("Processed").expect("flags").len(), 2);
    // A second run copies nothing again (before: the messages stayed in INBOX flagged
    // \Deleted and were copied once more on every run).
    let again = read(s, json!({"after_read": {"move_to": "Processed"}}));
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(records(&again).is_empty());
    assert_eq!(s.flags("Processed").expect("flags").len(), 2);
}

/// Deletes what it read, and nothing else.
pub fn delete_what_was_read(s: &impl InteropImap) {
    s.append("INBOX", &message("old")).expect("append");
    read(s, json!({}));
    for subject in ["x", "y"] {
        s.append("INBOX", &message(subject)).expect("append");
    }
    let out = read(s, json!({"after_read": "delete"}));
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    assert_eq!(subjects(&out), ["x", "y"]);
    assert_eq!(
        s.flags("INBOX").expect("flags").len(),
        1,
        "only the old one is left"
    );
}

/// Lists a folder named `Grüße` by that name and reads it.
pub fn non_ascii_folder(s: &impl InteropImap) {
    // Created as IMAP writes it (modified UTF-7); the connector shows and takes Unicode.
    s.create("Gr&APwA3w-e").expect("create");
    s.append("Gr&APwA3w-e", &message("Grüße aus dem Ordner"))
        .expect("append");
    let out = run(s, &["discover", "read"], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let names: Vec<String> = stdout_json(&out)["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.iter().any(|n| n == "Grüße"), "{names:?}");
    let out = read(s, json!({"folder": "Grüße"}));
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["folder"], "Grüße");
    assert!(
        s.flags("Gr&APwA3w-e").expect("flags")[0]
            .1
            .contains("\\Seen")
    );
}

/// Searches with 8-bit text (a LITERAL+ literal).
pub fn eight_bit_search(s: &impl InteropImap) {
    s.append("INBOX", &message("plain")).expect("append");
    // RFC 2047, as mailers write it (a raw 8-bit header is not matched by every server).
    s.append("INBOX", &message("=?UTF-8?Q?Caf=C3=A9_au_lait?="))
        .expect("append");
    let out = read(
        s,
        json!({"filter": {"subject": "Café"}, "after_read": "none"}),
    );
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    assert_eq!(subjects(&out), ["Café au lait"]);
}

/// Follows the folder and finds a message stored meanwhile.
pub fn follow_finds_new_mail(s: &impl InteropImap) {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = dir.path().join("conn.json");
    let cfg = dir.path().join("read.json");
    std::fs::write(&conn, s.connection().to_string()).expect("write");
    // imap4d's IDLE does not tell of new mail: the look every poll interval finds it
    // (Cyrus's tells after its `imapidlepoll` of 1 s).
    std::fs::write(
        &cfg,
        json!({"follow": true, "poll_interval_secs": 2}).to_string(),
    )
    .expect("write");
    let child = Command::new(BIN)
        .args(["run", "read", "--connection"])
        .arg(&conn)
        .arg("--config")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(1));
    let stored = Instant::now();
    s.append("INBOX", &message("arrived")).expect("append");
    let deadline = stored + Duration::from_secs(20);
    let seen = loop {
        let flags = s.flags("INBOX").expect("flags");
        if flags.iter().any(|(_, f)| f.contains("\\Seen")) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SIGTERM: the run ends and says what it did.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let out = child.wait_with_output().expect("wait");
    assert!(
        seen,
        "the message was read and marked while following: {}\n{}",
        stderr(&out),
        s.log()
    );
    assert_eq!(subjects(&out), ["arrived"]);
}

fn cursor_with_flag_changes(s: &impl InteropImap, state: &std::path::Path) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = dir.path().join("conn.json");
    let cfg = dir.path().join("read.json");
    std::fs::write(&conn, s.connection().to_string()).expect("write");
    let config =
        json!({"mode": "cursor", "after_read": "none", "unseen_only": false, "flag_changes": true});
    std::fs::write(&cfg, config.to_string()).expect("write");
    Command::new(BIN)
        .args(["run", "read", "--connection"])
        .arg(&conn)
        .arg("--config")
        .arg(&cfg)
        .arg("--state")
        .arg(state)
        .stdin(Stdio::null())
        .output()
        .expect("run")
}

/// On a server with CONDSTORE: a flag set elsewhere comes as a `change: "flags"` record;
/// with QRESYNC too, a message expunged elsewhere as a `change: "vanished"` one.
pub fn flag_changes_found(s: &impl InteropImap, qresync: bool) {
    s.append("INBOX", &message("one")).expect("append");
    s.append("INBOX", &message("two")).expect("append");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let out = cursor_with_flag_changes(s, &state);
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    assert_eq!(
        records(&out)
            .iter()
            .filter(|r| r.get("$state").is_none())
            .count(),
        2
    );
    let uids: Vec<u32> = s
        .flags("INBOX")
        .expect("flags")
        .iter()
        .map(|f| f.0)
        .collect();
    let (gone, uid) = (uids[0], uids[1]);
    s.add_flags("INBOX", uid, "\\Flagged").expect("flag");
    s.expunge("INBOX", gone).expect("expunge");
    let out = cursor_with_flag_changes(s, &state);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let vanished: Vec<Value> = records(&out)
        .into_iter()
        .filter(|r| r["change"] == "vanished")
        .map(|r| r["uid"].clone())
        .collect();
    let expected: Vec<Value> = if qresync { vec![gone.into()] } else { vec![] };
    assert_eq!(vanished, expected, "{}", stderr(&out));
    let changed: Vec<Value> = records(&out)
        .into_iter()
        .filter(|r| r["change"] == "flags")
        .collect();
    assert_eq!(changed.len(), 1, "{}", stderr(&out));
    assert_eq!(changed[0]["uid"], uid);
    assert!(
        changed[0]["flags"]
            .as_array()
            .expect("flags")
            .iter()
            .any(|f| f == "\\Flagged"),
        "{changed:?}"
    );
}

/// On a server without CONDSTORE: flag_changes is a config error naming it.
pub fn flag_changes_refused(s: &impl InteropImap) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cursor_with_flag_changes(s, &dir.path().join("state.json"));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("CONDSTORE"), "{}", stderr(&out));
}
