//! Read Email stopped by SIGTERM in the middle of a long `UID FETCH` (a window of
//! thousands of messages streams on one command): the run ends within 2 seconds, and
//! exactly the messages it printed are marked read, no more and no fewer. The commit
//! after the stop runs on a new session: the one whose FETCH answer was cut off
//! cannot be reused (its next reply would be the rest of that answer).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Fixture, servers, sigterm, summary};
use email_testsupport::mail::Transport;
use serde_json::{Value, json};

const MESSAGES: usize = 20_000;

fn message(i: usize) -> Vec<u8> {
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(40);
    format!(
        "From: s{i}@example.test\r\nTo: r@example.test\r\nSubject: m{i}\r\nMessage-ID: <{i}.interrupted@example.test>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn sigterm_mid_fetch_marks_exactly_what_was_printed() {
    let fx = Fixture::with(Transport::Plain);
    servers()
        .fill_inbox(&fx.user, (0..MESSAGES).map(message))
        .expect("fill");
    let config = fx.file("read.json", &json!({"max_messages": MESSAGES}));
    let mut child = Command::new(BIN)
        .args([
            "run",
            "read",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed: BTreeSet<u64> = BTreeSet::new();
    let mut line = String::new();
    while printed.len() < 3_000 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).expect("read") > 0,
            "ended early"
        );
        let record: Value = serde_json::from_str(&line).expect("a JSON line");
        if let Some(uid) = record["uid"].as_u64() {
            printed.insert(uid);
        }
    }
    let started = Instant::now();
    sigterm(&child);
    loop {
        line.clear();
        if stdout.read_line(&mut line).expect("read") == 0 {
            break;
        }
        let record: Value = serde_json::from_str(&line).expect("a JSON line");
        if let Some(uid) = record["uid"].as_u64() {
            printed.insert(uid);
        }
    }
    let status = child.wait().expect("wait");
    let took = started.elapsed();
    let errors = errors.join().expect("stderr");
    assert!(took < Duration::from_secs(2), "took {took:?} after SIGTERM");
    assert_eq!(status.code(), Some(143), "128 + SIGTERM\n{errors}");
    assert!(
        printed.len() < MESSAGES,
        "the run finished before the signal; nothing was tested"
    );
    let seen: BTreeSet<u64> = fx
        .stored("INBOX")
        .into_iter()
        .filter(|m| m.seen())
        .map(|m| u64::from(m.uid))
        .collect();
    assert_eq!(
        seen.len(),
        printed.len(),
        "marked read: {}, printed: {}\n{errors}",
        seen.len(),
        printed.len()
    );
    assert!(
        seen == printed,
        "marked read is not what was printed\n{errors}"
    );
    assert_eq!(
        summary(&errors, "committed"),
        printed.len() as u64,
        "{errors}"
    );
    // Two logins: the read's session, and the new one the commit ran on.
    let log = std::fs::read_to_string(servers().dir().join("log/dovecot.log")).expect("log");
    let logins = log
        .lines()
        .filter(|l| l.contains(&format!("Login: user=<{}>", fx.user.address)))
        .count();
    assert_eq!(logins, 2, "{errors}");
}
