//! Send Email prints one result line per message the moment its outcome is known, so a
//! batch stopped midway (SIGTERM) or killed (SIGKILL) has already said what it sent:
//! the caller resends only what has no `sent` line. After SIGTERM no new message is
//! started, the one in hand finishes, and the run exits 143 within 2 seconds.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Fixture, servers};
use serde_json::{Value, json};

/// Starts a batch of `n` messages to the fixture's user over one session, waits until
/// `after` results were printed, sends `signal`, and returns the printed lines, the
/// exit code and how long the exit took.
fn interrupt(
    fx: &Fixture,
    n: usize,
    after: usize,
    signal: &str,
) -> (Vec<Value>, Option<i32>, Duration) {
    let batch: Vec<Value> = (0..n)
        .map(|i| json!({"from": fx.peer.address, "to": [fx.user.address], "subject": format!("m{i}"), "text": "x"}))
        .collect();
    let (conn, config, input) = (
        fx.conn(),
        fx.file("send.json", &json!({"concurrency": 1})),
        fx.file("in.json", &json!(batch)),
    );
    let mut child = Command::new(BIN)
        .args([
            "run",
            "send",
            "--connection",
            &conn,
            "--config",
            &config,
            "--input",
            &input,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    for _ in 0..after {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("read") > 0,
            "ended early"
        );
        lines.push(serde_json::from_str::<Value>(&line).expect("a JSON result line"));
    }
    let started = Instant::now();
    assert!(
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    for line in stdout.lines() {
        lines.push(serde_json::from_str(&line.expect("read")).expect("a JSON result line"));
    }
    let status = child.wait().expect("wait");
    (lines, status.code(), started.elapsed())
}

fn sent_ids(lines: &[Value]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| l["status"] == "sent")
        .map(|l| l["message_id"].as_str().expect("message_id").to_owned())
        .collect()
}

/// The Message-IDs Dovecot holds, once delivery has settled.
fn received(fx: &Fixture, at_least: usize) -> BTreeSet<String> {
    let mut seen = 0;
    loop {
        let stored = servers()
            .wait_for(&fx.user, "INBOX", at_least, Duration::from_secs(20))
            .expect("delivered");
        // Settled when two looks a moment apart agree.
        if stored.len() == seen {
            return stored.into_iter().map(|m| m.message_id).collect();
        }
        seen = stored.len();
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn sigterm_mid_batch_prints_a_line_for_every_message_sent() {
    let fx = Fixture::new();
    let (lines, code, took) = interrupt(&fx, 400, 20, "TERM");
    assert_eq!(code, Some(143), "128 + SIGTERM");
    assert!(took < Duration::from_millis(2800), "exit took {took:?}");
    let indexes: Vec<u64> = lines
        .iter()
        .map(|l| l["index"].as_u64().expect("index"))
        .collect();
    assert!(
        lines.len() >= 20 && lines.len() < 400,
        "{} lines",
        lines.len()
    );
    assert_eq!(
        indexes,
        (0..lines.len() as u64).collect::<Vec<_>>(),
        "one session sends in input order, each index once"
    );
    let sent = sent_ids(&lines);
    assert_eq!(sent.len(), lines.len(), "every printed message was sent");
    // What the server got is exactly what was reported: nothing sent unreported, and
    // the message in hand at the signal was finished, not abandoned.
    assert_eq!(received(&fx, sent.len()), sent);
}

#[test]
fn sigkill_mid_batch_leaves_every_finished_message_printed() {
    let fx = Fixture::new();
    let (lines, code, _) = interrupt(&fx, 400, 20, "KILL");
    assert_eq!(code, None, "killed");
    let sent = sent_ids(&lines);
    assert!(sent.len() >= 20);
    let got = received(&fx, sent.len());
    assert!(sent.is_subset(&got), "every printed message arrived");
    // At most the one message in flight at the kill arrived without a line: its
    // outcome is unknown to the caller, as after any crash mid-transaction.
    let unreported: Vec<_> = got.difference(&sent).collect();
    assert!(unreported.len() <= 1, "{unreported:?}");
}
