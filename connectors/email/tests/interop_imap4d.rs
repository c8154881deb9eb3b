//! Read Email against GNU Mailutils' `imap4d` 3.15 (Debian's package), a server of
//! another family than Dovecot and without the extensions Read Email uses where it can:
//! no UIDPLUS, no MOVE, no CONDSTORE, no UTF8=ACCEPT (it has IDLE and LITERAL+). Read,
//! mark, move (copy + delete + plain EXPUNGE), delete, discover, a folder with a
//! non-ASCII name, and the follow mode's IDLE, each checked on the server afterwards.
//! Each test starts its own server.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, code, records, stderr, stdout_json};
use email_testsupport::imap4d::Imap4d;
use serde_json::{Value, json};

fn server() -> Imap4d {
    Imap4d::start().unwrap_or_else(|e| panic!("imap4d must start for this test: {e}"))
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.test>\r\nTo: reader@example.test\r\nSubject: {subject}\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <{}@interop>\r\n\r\nbody of {subject}\r\n",
        subject.replace(' ', ".")
    )
    .into_bytes()
}

fn run(server: &Imap4d, args: &[&str], config: Option<&Value>) -> std::process::Output {
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

fn read(server: &Imap4d, config: Value) -> std::process::Output {
    run(server, &["run", "read"], Some(&config))
}

fn subjects(out: &std::process::Output) -> Vec<String> {
    records(out)
        .iter()
        .map(|r| r["subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn read_then_mark_read() {
    let s = server();
    for subject in ["one", "two", "three"] {
        s.append("INBOX", &message(subject)).expect("append");
    }
    let out = read(&s, json!({}));
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    assert_eq!(subjects(&out), ["one", "two", "three"]);
    let recs = records(&out);
    assert_eq!(recs[0]["from"][0]["address"], "sender@example.test");
    assert_eq!(recs[0]["text"], "body of one");
    let flags = s.flags("INBOX").expect("flags");
    assert_eq!(flags.len(), 3);
    assert!(flags.iter().all(|(_, f)| f.contains("\\Seen")), "{flags:?}");
    let again = read(&s, json!({}));
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(records(&again).is_empty(), "nothing unread is left");
}

#[test]
fn move_without_move_or_uidplus_copies_deletes_and_expunges() {
    let s = server();
    s.create("Processed").expect("create");
    // A message already read stays: imap4d gives a Maildir a new UIDVALIDITY when it
    // becomes empty, which would make the commit's second try (after imap4d's
    // malformed `* 1 EXPUNGED`) refuse, though the move was done (docs: interop).
    s.append("INBOX", &message("old")).expect("append");
    read(&s, json!({}));
    for subject in ["a", "b"] {
        s.append("INBOX", &message(subject)).expect("append");
    }
    let out = read(&s, json!({"after_read": {"move_to": "Processed"}}));
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
    let again = read(&s, json!({"after_read": {"move_to": "Processed"}}));
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(records(&again).is_empty());
    assert_eq!(s.flags("Processed").expect("flags").len(), 2);
}

#[test]
fn delete_without_uidplus_expunges_when_nothing_else_is_flagged() {
    let s = server();
    s.append("INBOX", &message("old")).expect("append");
    read(&s, json!({}));
    for subject in ["x", "y"] {
        s.append("INBOX", &message(subject)).expect("append");
    }
    let out = read(&s, json!({"after_read": "delete"}));
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    assert_eq!(subjects(&out), ["x", "y"]);
    assert_eq!(
        s.flags("INBOX").expect("flags").len(),
        1,
        "only the old one is left"
    );
}

#[test]
fn a_non_ascii_folder_is_listed_and_read_by_its_unicode_name() {
    let s = server();
    // Created as IMAP writes it (modified UTF-7); the connector shows and takes Unicode.
    s.create("Gr&APwA3w-e").expect("create");
    s.append("Gr&APwA3w-e", &message("Grüße aus dem Ordner"))
        .expect("append");
    let out = run(&s, &["discover", "read"], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let names: Vec<String> = stdout_json(&out)["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.iter().any(|n| n == "Grüße"), "{names:?}");
    let out = read(&s, json!({"folder": "Grüße"}));
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

#[test]
fn non_ascii_search_text_goes_as_a_literal_plus() {
    let s = server();
    s.append("INBOX", &message("plain")).expect("append");
    s.append("INBOX", &message("Café au lait")).expect("append");
    let out = read(
        &s,
        json!({"filter": {"subject": "Café"}, "after_read": "none"}),
    );
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), s.log());
    assert_eq!(subjects(&out), ["Café au lait"]);
}

#[test]
fn following_finds_new_mail_though_the_servers_idle_says_nothing() {
    let s = server();
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = dir.path().join("conn.json");
    let cfg = dir.path().join("read.json");
    std::fs::write(&conn, s.connection().to_string()).expect("write");
    // imap4d's IDLE does not tell of new mail: the look every poll interval finds it.
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
