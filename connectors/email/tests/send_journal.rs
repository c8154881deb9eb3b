//! Exactly-once sending across retries and kills: a Message-ID that is the same on every
//! run for the same request, and the send journal (`journal_file`), synced before each
//! result is printed, so a rerun skips what was sent (`already_sent`) and never sends
//! twice what may have gone out (`unknown`).

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Fixture, code, results, servers, stderr};
use serde_json::{Value, json};

#[test]
fn the_message_id_is_the_same_on_every_run_for_the_same_request() {
    let fx = Fixture::new();
    let request =
        json!({"from": fx.peer.address, "to": fx.user.address, "subject": "same", "text": "x"});
    let first = &results(&fx.send(json!({}), request.clone()))[0]["message_id"];
    let again = &results(&fx.send(json!({}), request.clone()))[0]["message_id"];
    assert_eq!(first, again);
    let mut keyed = request.clone();
    keyed["idempotency_key"] = json!("order-1");
    let one = &results(&fx.send(json!({}), keyed.clone()))[0]["message_id"];
    keyed["idempotency_key"] = json!("order-2");
    let two = &results(&fx.send(json!({}), keyed))[0]["message_id"];
    assert_ne!(one, two);
    assert_ne!(one, first);
    let mut given = request;
    given["message_id"] = json!("<given-1@example.test>");
    assert_eq!(
        results(&fx.send(json!({}), given))[0]["message_id"],
        "<given-1@example.test>"
    );
}

#[test]
fn a_rerun_with_the_journal_sends_nothing_twice() {
    let fx = Fixture::new();
    let journal = fx.dir.path().join("journal.jsonl");
    let config = json!({"journal_file": journal});
    let requests: Vec<Value> = (0..3)
        .map(|i| json!({"from": fx.peer.address, "to": fx.user.address, "subject": format!("j{i}"), "text": "x"}))
        .collect();
    let out = fx.send(config.clone(), json!(requests));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    servers()
        .wait_for(&fx.user, "INBOX", 3, Duration::from_secs(15))
        .expect("delivered");
    let out = fx.send(config, json!(requests));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for r in results(&out) {
        assert_eq!(r["status"], "already_sent", "{r}");
        assert_eq!(r["attempts"], 0, "{r}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fx.stored("INBOX").len(), 3);
}

/// Runs `send` with `input`, killing it (SIGKILL) after `kill_after` result lines;
/// returns the result lines read and whether it ran to its end.
fn send_until(conn: &str, config: &str, input: &str, kill_after: usize) -> (Vec<Value>, bool) {
    let mut child = Command::new(BIN)
        .args(["--log-level", "warn", "run", "send", "--connection", conn])
        .args(["--config", config, "--input", input])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = Vec::new();
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut killed = false;
    for line in reader.lines().map_while(Result::ok) {
        lines.push(serde_json::from_str(&line).expect("a result line"));
        if lines.len() >= kill_after {
            let _ = child.kill();
            killed = true;
            break;
        }
    }
    let _ = child.wait();
    (lines, !killed)
}

#[test]
fn killed_at_random_points_every_message_arrives_once_or_is_listed_unknown() {
    let fx = Fixture::new();
    let total = 1000;
    let requests: Vec<Value> = (0..total)
        .map(|i| json!({"from": fx.peer.address, "to": fx.user.address, "subject": format!("k{i}"), "text": format!("message {i}")}))
        .collect();
    let journal = fx.dir.path().join("journal.jsonl");
    let conn = fx.conn();
    let config = fx.file(
        "send.json",
        &json!({"journal_file": journal, "concurrency": 4}),
    );
    let input = fx.file("input.json", &json!(requests));
    // Kill points spread over the batch (deterministic, so a failure can be replayed).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kills = 0;
    let mut final_run = Vec::new();
    for round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = if round < 4 {
            40 + (seed % 300) as usize
        } else {
            usize::MAX
        };
        let (lines, finished) = send_until(&conn, &config, &input, kill_after);
        if finished {
            final_run = lines;
            break;
        }
        kills += 1;
    }
    assert!(
        kills >= 3,
        "the batch finished before it could be killed: {kills} kills"
    );
    assert_eq!(final_run.len(), total, "the last run reports every request");

    let mut unknown = HashSet::new();
    let mut ids = HashSet::new();
    for r in &final_run {
        let id = r["message_id"].as_str().expect("message_id").to_owned();
        match r["status"].as_str() {
            Some("sent" | "already_sent") => {}
            Some("unknown") => {
                unknown.insert(id.clone());
            }
            other => panic!("unexpected status {other:?}: {r}"),
        }
        ids.insert(id);
    }
    assert_eq!(ids.len(), total, "one Message-ID per request");

    // Wait until delivery settles, then count what arrived, by Message-ID.
    let started = Instant::now();
    let mut last = usize::MAX;
    loop {
        let n = fx.stored("INBOX").len();
        if n == last || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        last = n;
        std::thread::sleep(Duration::from_secs(2));
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for m in fx.stored("INBOX") {
        *counts.entry(m.message_id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let missing: Vec<_> = ids
        .iter()
        .filter(|id| !counts.contains_key(*id) && !unknown.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "neither delivered nor reported unknown: {missing:?}"
    );
    eprintln!(
        "{kills} kills; {} delivered once; {} reported unknown (of which {} arrived)",
        counts.len(),
        unknown.len(),
        unknown.iter().filter(|id| counts.contains_key(*id)).count()
    );
}
