//! A consumer that closes the output early: the run stops, only what was written is
//! committed, and the next run resumes exactly there (nothing lost, nothing skipped).

mod common;

use std::process::Command;

use common::{BIN, Fixture, stdout_lines};
use serde_json::json;

#[test]
fn closing_stdout_commits_nothing_unwritten() {
    let fx = Fixture::new();
    let total = 200_000;
    fx.lines("in.jsonl", total);
    let config = fx.json("r.json", &json!({"path": "in.jsonl"}));
    let (_, out) = connector_testkit::cli::close_after(
        Command::new(BIN).args([
            "run",
            "read",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
        ]),
        10,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = common::last_error(&out);
    assert_eq!(err["kind"], "internal");
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .starts_with("output closed"),
        "{err}"
    );

    let (offset, committed) = fx.state("in.jsonl").unwrap_or((0, 0));
    assert!(
        committed < total,
        "the unwritten tail must not be committed ({committed})"
    );

    // The next run starts exactly at the committed line: at least once, no gap.
    let rest = stdout_lines(&fx.read("in.jsonl", json!({})));
    assert_eq!(rest.len() as u64, total - committed);
    assert_eq!(rest[0]["line"], committed + 1);
    assert_eq!(rest[0]["offset"], offset);
    assert_eq!(fx.state("in.jsonl"), Some((offset_of_end(total), total)));
}

/// The size of `n` lines `{"n":i}\n`.
fn offset_of_end(n: u64) -> u64 {
    (1..=n).map(|i| i.to_string().len() as u64 + 7).sum()
}
