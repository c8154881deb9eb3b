//! Off a terminal, a run logs a structured `progress` event every `--progress-every`
//! seconds (so a long run is never silent), and every run ends with one `summary`
//! event: what was delivered and committed, bytes, errors, duration and peak memory.

mod common;

use common::{Fixture, run};
use serde_json::{Value, json};

fn events(out: &std::process::Output, kind: &str) -> Vec<Value> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == kind)
        .collect()
}

#[test]
fn a_long_run_reports_progress_and_every_run_ends_with_a_summary() {
    let fx = Fixture::new();
    fx.lines("in.jsonl", 5);
    let config = fx.json("r.json", &json!({"path": "in.jsonl", "follow": true}));
    let out = run(&[
        "run",
        "read",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
        "--deadline",
        "3",
        "--progress-every",
        "1",
        "--log-format",
        "json",
    ]);
    let progress = events(&out, "progress");
    assert!(
        (2..=3).contains(&progress.len()),
        "one progress event a second: {progress:?}"
    );
    let p = &progress[0];
    assert_eq!(p["activity"], "read", "{p}");
    assert_eq!(p["done"], 5, "{p}");
    assert!(p["bytes"].as_u64().is_some_and(|b| b > 0), "{p}");
    assert!(
        p["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("progress: 5 records")),
        "{p}"
    );
    let summary = events(&out, "summary");
    assert_eq!(summary.len(), 1, "{summary:?}");
    let s = &summary[0];
    assert_eq!(
        (s["delivered"].as_u64(), s["committed"].as_u64()),
        (Some(5), Some(5)),
        "{s}"
    );
    assert!(s["duration_ms"].as_u64().is_some_and(|d| d >= 3000), "{s}");
    assert!(s["peak_rss_bytes"].as_u64().is_some_and(|b| b > 0), "{s}");
}

#[test]
fn progress_events_can_be_turned_off() {
    let fx = Fixture::new();
    fx.lines("in.jsonl", 2);
    let config = fx.json("r.json", &json!({"path": "in.jsonl", "follow": true}));
    let out = run(&[
        "run",
        "read",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
        "--deadline",
        "2",
        "--progress-every",
        "0",
        "--log-format",
        "json",
    ]);
    assert!(events(&out, "progress").is_empty());
    assert_eq!(events(&out, "summary").len(), 1);
}
