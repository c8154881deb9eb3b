//! SIGTERM and SIGINT stop the run: what was delivered is committed, the exit is
//! 128 + the signal's number with an `interrupted` JSON error line.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{BIN, Fixture};
use serde_json::json;

fn stop_with(signal: &str) {
    let fx = Fixture::new();
    fx.lines("in.jsonl", 3);
    let config = fx.json("r.json", &json!({"path": "in.jsonl", "follow": true}));
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
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        seen.push(line);
    }
    // Following: the source waits for more lines until it is told to stop.
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read rest");
    let out = child.wait_with_output().expect("wait");
    // 128 + the signal's number, as shells report a run a signal ended.
    let expected = if signal == "TERM" { 143 } else { 130 };
    assert_eq!(
        out.status.code(),
        Some(expected),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = common::last_error(&out);
    assert_eq!(err["kind"], "interrupted");
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .starts_with("interrupted by a signal"),
        "{err}"
    );
    assert_eq!(err["retryable"], true);
    // The log names the signal.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("SIG{signal} received")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fx.state("in.jsonl"),
        Some((24, 3)),
        "delivered records are committed"
    );
    assert!(rest.is_empty());
}

#[test]
fn sigterm_commits_what_was_delivered_and_exits_143() {
    stop_with("TERM");
}

#[test]
fn sigint_commits_what_was_delivered_and_exits_130() {
    stop_with("INT");
}
