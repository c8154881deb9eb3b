//! Logs go to stderr only, as text or JSON; stdout carries nothing but data.

mod common;

use common::{Fixture, code, run, stdout_lines};
use serde_json::json;

#[test]
fn json_logs_on_stderr_and_only_records_on_stdout() {
    let fx = Fixture::new();
    fx.lines("in.jsonl", 3);
    let config = fx.json("r.json", &json!({"path": "in.jsonl"}));
    let out = run(&[
        "run",
        "read",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
        "--log-format",
        "json",
        "--log-level",
        "debug",
    ]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout_lines(&out).len(),
        3,
        "stdout holds the records and nothing else"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().count() >= 2, "{stderr}");
    for line in stderr.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            event["level"].is_string() && event["target"].is_string(),
            "{line}"
        );
    }
    assert!(
        stderr.contains("\"target\":\"file_connector\""),
        "a target per connector: {stderr}"
    );
}

#[test]
fn log_level_filters_and_rust_log_is_the_fallback() {
    let fx = Fixture::new();
    fx.lines("in.jsonl", 1);
    let config = fx.json("r.json", &json!({"path": "in.jsonl"}));
    let quiet = run(&[
        "run",
        "read",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
        "--log-level",
        "error",
    ]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let out = std::process::Command::new(common::BIN)
        .args([
            "run",
            "read",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
        ])
        .env("RUST_LOG", "off")
        .output()
        .expect("run");
    assert!(out.stderr.is_empty());
}
