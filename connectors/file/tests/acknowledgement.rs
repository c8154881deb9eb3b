//! Records are committed only once delivered, and a run resumes after the last commit.

mod common;

use common::{Fixture, code, last_error, stdout_lines};
use serde_json::json;

#[test]
fn a_partial_run_commits_what_it_delivered_and_the_next_run_resumes() {
    let fx = Fixture::new();
    fx.lines("in.jsonl", 5);
    let out = fx.read("in.jsonl", json!({"max_records": 2}));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let first = stdout_lines(&out);
    assert_eq!(first.len(), 2);
    assert_eq!(fx.state("in.jsonl"), Some((16, 2)));

    let out = fx.read("in.jsonl", json!({}));
    let rest = stdout_lines(&out);
    let lines: Vec<u64> = rest
        .iter()
        .map(|r| r["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, [3, 4, 5]);
    assert_eq!(rest[0]["offset"], 16);
    assert_eq!(rest[0]["data"], json!({"n": 3}));
    assert_eq!(fx.state("in.jsonl"), Some((40, 5)));

    // Nothing new: nothing emitted, state unchanged.
    let out = fx.read("in.jsonl", json!({}));
    assert_eq!(code(&out), 0);
    assert!(out.stdout.is_empty());
    assert_eq!(fx.state("in.jsonl"), Some((40, 5)));
}

#[test]
fn a_bad_line_stops_the_run_after_committing_the_good_ones_before_it() {
    let fx = Fixture::new();
    std::fs::write(
        fx.root().join("in.jsonl"),
        "{\"n\":1}\n{\"n\":2}\nnot json\n{\"n\":4}\n",
    )
    .expect("write");
    let out = fx.read("in.jsonl", json!({}));
    assert_eq!(code(&out), 1);
    assert_eq!(stdout_lines(&out).len(), 2);
    let err = last_error(&out);
    assert_eq!(err["kind"], "protocol");
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .contains("line 3 is not JSON"),
        "{err}"
    );
    // The two good lines are committed; the bad one is not, so the next run stops there again.
    assert_eq!(fx.state("in.jsonl"), Some((16, 2)));
    let again = fx.read("in.jsonl", json!({}));
    assert_eq!(code(&again), 1);
    assert!(again.stdout.is_empty());
}

#[test]
fn commits_are_batched_not_per_record() {
    let fx = Fixture::new();
    fx.lines("in.jsonl", 3000);
    let config = fx.json("r.json", &json!({"path": "in.jsonl"}));
    let out = common::run(&[
        "--log-level",
        "file_connector=debug,connector_sdk=debug",
        "run",
        "read",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
        "--commit-every",
        "1000",
    ]);
    assert_eq!(code(&out), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let commits = stderr
        .lines()
        .filter(|l| l.contains("committed offset="))
        .count();
    assert!(
        (1..=4).contains(&commits),
        "expected a few batched commits, saw {commits}:\n{stderr}"
    );
    assert_eq!(fx.state("in.jsonl").map(|s| s.1), Some(3000));
}

#[test]
fn commits_come_in_batches_of_commit_every_and_the_summary_counts_them() {
    // 3,000 records, `--commit-every 1000`: the host hands acknowledgements on as it
    // flushes (1,024 records at a time) and commits whenever 1,000 or more wait, so
    // the run commits several times, 3,000 in all, and its summary says so.
    let fx = Fixture::new();
    fx.lines("in.jsonl", 3000);
    let config = fx.json(
        "read.json",
        &json!({"path": "in.jsonl", "max_records": 5000}),
    );
    let out = common::run(&[
        "--log-level",
        "debug",
        "run",
        "read",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
        "--commit-every",
        "1000",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_lines(&out).len(), 3000);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let counts: Vec<u64> = stderr
        .lines()
        .filter(|l| l.contains("committing"))
        .filter_map(|l| {
            let at = l.find("count=")? + "count=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        counts.len() >= 2,
        "commits in batches, not one at the end: {counts:?}"
    );
    assert!(
        counts[..counts.len() - 1].iter().all(|&n| n >= 1000),
        "{counts:?}"
    );
    assert_eq!(counts.iter().sum::<u64>(), 3000, "{counts:?}");
    let summary = stderr
        .lines()
        .find(|l| l.contains("summary:"))
        .expect("a summary");
    assert!(summary.contains("committed=3000"), "{summary}");
}
