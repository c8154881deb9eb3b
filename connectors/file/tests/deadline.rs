//! `run --deadline SECS` bounds a run that would otherwise wait forever (a source
//! following a file, a server that trickles bytes): it stops like SIGTERM, commits what
//! was delivered, and exits 1 with a retryable `timeout` error that says what was done.

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, code, last_error, run};
use serde_json::json;

#[test]
fn a_following_source_stops_at_its_deadline_having_committed_what_it_delivered() {
    let fx = Fixture::new();
    fx.lines("in.jsonl", 3);
    let config = fx.json("r.json", &json!({"path": "in.jsonl", "follow": true}));
    let started = Instant::now();
    let out = run(&[
        "run",
        "read",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
        "--deadline",
        "1",
    ]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "took {took:?}"
    );
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let err = last_error(&out);
    assert_eq!(err["kind"], "timeout");
    assert_eq!(err["retryable"], true);
    let message = err["message"].as_str().expect("message");
    assert!(
        message.starts_with(
            "stopped at the run's deadline (1 s, --deadline): 3 records delivered and 3 committed"
        ),
        "{message}"
    );
    assert_eq!(common::stdout_lines(&out).len(), 3);
    assert_eq!(
        fx.state("in.jsonl"),
        Some((24, 3)),
        "delivered records are committed"
    );
}
