//! At least once: a run killed mid-stream has marked nothing it did not write, and the
//! next run delivers the rest.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{BIN, Fixture, raw_message, records};
use serde_json::json;

#[test]
fn killing_the_process_mid_stream_marks_nothing_unwritten() {
    let fx = Fixture::new();
    let total = 400;
    for i in 0..total {
        fx.plant(&raw_message(
            &format!("{i}@kill"),
            &format!("m{i}"),
            "a@example.test",
        ));
    }
    let config = fx.file(
        "read.json",
        &json!({"max_messages": 1000, "batch_size": 20}),
    );
    let mut child = Command::new(BIN)
        .args([
            "run",
            "read",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
            "--commit-every",
            "10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut written: Vec<String> = Vec::new();
    for _ in 0..50 {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        written.push(line);
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    // Whatever the process wrote before it died is still in the pipe.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("drain");
    written.extend(rest.lines().map(|l| format!("{l}\n")));
    let written_ids: HashSet<String> = written
        .iter()
        .filter(|l| l.ends_with('\n'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["message_id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();

    let stored = fx.stored("INBOX");
    let seen: Vec<&common::StoredMessage> = stored.iter().filter(|m| m.seen()).collect();
    assert!(seen.len() < total, "the run was stopped before the end");
    for m in &seen {
        assert!(
            written_ids.contains(&m.message_id),
            "{} was marked read but never written",
            m.message_id
        );
    }

    // The next run delivers everything not yet committed: together, nothing is lost.
    let next = records(&fx.read(json!({"max_messages": 1000})));
    let next_ids: HashSet<String> = next
        .iter()
        .map(|r| r["message_id"].as_str().expect("id").to_owned())
        .collect();
    let seen_ids: HashSet<String> = seen.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(seen_ids.len() + next_ids.len(), total);
    assert!(seen_ids.is_disjoint(&next_ids));
    assert!(fx.stored("INBOX").iter().all(|m| m.seen()));
}

#[test]
fn a_closed_output_commits_only_what_was_flushed() {
    let fx = Fixture::new();
    for i in 0..200 {
        fx.plant(&raw_message(
            &format!("{i}@pipe"),
            &format!("m{i}"),
            "a@example.test",
        ));
    }
    let config = fx.file("read.json", &json!({"max_messages": 1000}));
    let (_, out) = connector_testkit::cli::close_after(
        Command::new(BIN).args([
            "run",
            "read",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
        ]),
        1,
    );
    let seen = fx.stored("INBOX").iter().filter(|m| m.seen()).count();
    if out.status.code() == Some(1) {
        let err = common::last_error(&out);
        assert!(
            err["message"]
                .as_str()
                .expect("msg")
                .starts_with("output closed"),
            "{err}"
        );
        assert!(
            seen < 200,
            "unwritten messages must stay unread ({seen} seen)"
        );
    } else {
        // The whole output fitted in the pipe before it was closed: all delivered.
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(seen, 200);
    }
    let rest = records(&fx.read(json!({"max_messages": 1000})));
    assert_eq!(seen + rest.len(), 200, "nothing is lost");
}
