//! Continuous reading (`follow: true`) against real Dovecot: the messages there are
//! come first, then each new one as it arrives, within 2 seconds of being stored (IMAP
//! IDLE), each marked read once delivered; SIGTERM ends the run within 2 seconds,
//! saying what it did, with what was delivered committed. A cursor that follows flag
//! changes logs in again after its sessions were ended and still hears of expunges.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{BIN, Fixture, raw_message};
use serde_json::{Value, json};

/// Lines of a child's output as they come.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts `run read` with debug logs; returns the child and its stdout and stderr
/// lines as they come.
fn follow(
    conn: &str,
    config: &str,
) -> (
    std::process::Child,
    mpsc::Receiver<String>,
    mpsc::Receiver<String>,
) {
    let mut child = Command::new(BIN)
        .args(["--log-level", "debug", "run", "read", "--connection", conn])
        .args(["--config", config])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let records = lines(child.stdout.take().expect("stdout"));
    let log = lines(child.stderr.take().expect("stderr"));
    (child, records, log)
}

/// The next record's subject, within `limit`.
fn next_subject(records: &mpsc::Receiver<String>, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let line = records.recv_timeout(left).ok()?;
        let value: Value = serde_json::from_str(&line).ok()?;
        if let Some(subject) = value.get("subject").and_then(Value::as_str) {
            return Some(subject.to_owned());
        }
    }
}

/// Waits until stderr says the run is waiting for new mail.
fn until_idle(log: &mpsc::Receiver<String>, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match log.recv_timeout(left) {
            Ok(line) if line.contains("waiting for new mail") => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn new_mail_is_read_as_it_arrives_and_sigterm_ends_the_run() {
    let fx = Fixture::new();
    fx.plant(&raw_message("old@x", "already there", "a@example.test"));
    let config = fx.file("follow.json", &json!({"follow": true}));
    let (mut child, records, log) = follow(&fx.conn(), &config);

    assert_eq!(
        next_subject(&records, Duration::from_secs(20)).as_deref(),
        Some("already there")
    );
    assert!(
        until_idle(&log, Duration::from_secs(20)),
        "the run went idle"
    );

    let mut waits = Vec::new();
    for i in 0..3 {
        let subject = format!("new {i}");
        fx.plant(&raw_message(
            &format!("new{i}@x"),
            &subject,
            "b@example.test",
        ));
        let stored = Instant::now();
        assert_eq!(
            next_subject(&records, Duration::from_secs(10)).as_deref(),
            Some(subject.as_str())
        );
        waits.push(stored.elapsed());
        assert!(until_idle(&log, Duration::from_secs(20)), "idle again");
    }
    for wait in &waits {
        assert!(
            *wait < Duration::from_secs(2),
            "a new message took {wait:?} to come out (all: {waits:?})"
        );
    }
    // Give the commits a moment (they go on while the run waits), then stop it.
    let marked = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        fx.stored("INBOX").iter().all(|m| m.seen())
    });
    assert!(
        marked,
        "every delivered message was marked read while following"
    );

    let stopped = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "SIGTERM did not end the run"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "SIGTERM took {:?}",
        stopped.elapsed()
    );
    assert_eq!(status.code(), Some(143));
    let rest: Vec<String> = log.try_iter().collect();
    eprintln!("new mail came out after {waits:?}; the run's last words: {rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("interrupted by a signal: 4 records delivered and 4 committed")),
        "the run says what it did: {rest:?}"
    );
}

#[test]
fn without_idle_the_folder_is_polled_and_sigterm_still_ends_the_run() {
    use email_testsupport::imap::{ScriptedImap, message};
    // The scripted server offers no IDLE.
    let server = ScriptedImap::start(vec![message("one")], |_| None);
    let dir = tempfile::tempdir().expect("dir");
    let conn = dir.path().join("conn.json");
    let cfg = dir.path().join("follow.json");
    std::fs::write(&conn, server.connection().to_string()).expect("write");
    std::fs::write(
        &cfg,
        json!({"follow": true, "poll_interval_secs": 1, "after_read": "none"}).to_string(),
    )
    .expect("write");
    let (mut child, records, _log) = follow(&conn.to_string_lossy(), &cfg.to_string_lossy());
    assert_eq!(
        next_subject(&records, Duration::from_secs(10)).as_deref(),
        Some("one")
    );
    std::thread::sleep(Duration::from_millis(2500));
    // Each look selects the folder again (for new UIDNEXT); with nothing above the
    // last UID read there is nothing to search.
    let looks = server
        .commands()
        .iter()
        .filter(|c| c.starts_with("SELECT"))
        .count();
    assert!(looks >= 3, "a look every second: {:?}", server.commands());
    assert!(
        !server.commands().iter().any(|c| c.starts_with("IDLE")),
        "no IDLE where it is not offered"
    );
    // The message was read once: later looks start after it.
    assert!(
        next_subject(&records, Duration::from_millis(100)).is_none(),
        "nothing twice"
    );
    let stopped = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(stopped.elapsed() < Duration::from_secs(2));
    assert_eq!(status.code(), Some(143));
}

/// The next record that says what changed (`change`), as `(change, uid)`, within `limit`.
fn next_change(records: &mpsc::Receiver<String>, limit: Duration) -> Option<(String, u64)> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let line = records.recv_timeout(left).ok()?;
        let value: Value = serde_json::from_str(&line).ok()?;
        if let (Some(change), Some(uid)) = (value["change"].as_str(), value["uid"].as_u64()) {
            return Some((change.to_owned(), uid));
        }
    }
}

#[test]
fn a_following_cursor_logs_in_again_with_qresync_and_still_hears_of_expunges() {
    // QRESYNC is enabled per connection, before a folder is selected: a session opened
    // again after the server ended the first must enable it again, or its `VANISHED`
    // fetch is refused (`BAD`) and the run fails.
    let fx = Fixture::new();
    fx.plant(&raw_message("one@x", "one", "a@example.test"));
    fx.plant(&raw_message("two@x", "two", "a@example.test"));
    let config = fx.file(
        "follow.json",
        &json!({
            "follow": true, "poll_interval_secs": 1, "mode": "cursor",
            "after_read": "none", "unseen_only": false, "flag_changes": true
        }),
    );
    let (mut child, records, log) = follow(&fx.conn(), &config);
    for subject in ["one", "two"] {
        assert_eq!(
            next_subject(&records, Duration::from_secs(20)).as_deref(),
            Some(subject)
        );
    }
    assert!(
        until_idle(&log, Duration::from_secs(20)),
        "the run went idle"
    );

    fx.kick();
    fx.flag(1, "\\Flagged");
    fx.expunge(2);
    let mut changes = Vec::new();
    while changes.len() < 2 {
        match next_change(&records, Duration::from_secs(20)) {
            Some(change) => changes.push(change),
            None => break,
        }
    }
    common::sigterm(&child);
    let status = child.wait().expect("wait");
    let said: Vec<String> = log.try_iter().collect();
    assert_eq!(
        changes,
        vec![("flags".to_owned(), 1), ("vanished".to_owned(), 2)],
        "{said:#?}"
    );
    assert!(
        said.iter().any(|l| l.contains("logging in again")),
        "the run lost its session and opened another: {said:#?}"
    );
    assert_eq!(status.code(), Some(143), "{said:#?}");
}
