//! The `items` source reads page by page, keeps its position as state (a later run goes
//! on after the last item delivered), and rides out rate limits.

mod common;

use common::{ItemsApi, code, file, last_error, run, stdout_lines};
use serde_json::json;

fn read(
    api: &ItemsApi,
    dir: &tempfile::TempDir,
    config: serde_json::Value,
) -> std::process::Output {
    let conn = file(dir, "conn.json", &api.settings());
    let cfg = file(dir, "items.json", &config);
    let state = dir.path().join("state.json");
    run(
        &[
            "run",
            "items",
            "--connection",
            &conn,
            "--config",
            &cfg,
            "--state",
            state.to_str().expect("utf-8"),
        ],
        "",
    )
}

fn ids(out: &std::process::Output) -> Vec<u64> {
    stdout_lines(out)
        .iter()
        .filter_map(|l| l["id"].as_u64())
        .collect()
}

#[test]
fn pages_are_read_in_order_and_the_next_run_goes_on_from_the_state() {
    let api = ItemsApi::start();
    api.seed(25);
    let dir = tempfile::tempdir().expect("dir");
    let out = read(&api, &dir, json!({"page_size": 10}));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ids(&out), (1..=25).collect::<Vec<_>>());
    // A state line after each page, the last one at 25.
    let states: Vec<u64> = stdout_lines(&out)
        .iter()
        .filter_map(|l| l["$state"]["after"].as_u64())
        .collect();
    assert_eq!(states, [10, 20, 25]);
    // The run's summary counts them.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stderr
        .lines()
        .find(|l| l.contains("summary:"))
        .unwrap_or_else(|| panic!("a summary: {stderr}"));
    assert!(summary.contains("checkpoints=3"), "{summary}");
    assert!(summary.contains("delivered=25"), "{summary}");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).expect("state"))
            .expect("json");
    assert_eq!(saved, json!({"after": 25}));

    api.seed(3);
    let out = read(&api, &dir, json!({"page_size": 10}));
    assert_eq!(ids(&out), [26, 27, 28], "only what is new");
    let out = read(&api, &dir, json!({}));
    assert!(ids(&out).is_empty());
}

#[test]
fn without_state_asked_for_stdout_carries_records_only() {
    // State lines are for a platform that keeps them (`--state`, `--commit deferred`);
    // a plain run prints records alone, as a pipe into another program expects.
    let api = ItemsApi::start();
    api.seed(12);
    let dir = tempfile::tempdir().expect("dir");
    let conn = file(&dir, "conn.json", &api.settings());
    let cfg = file(&dir, "items.json", &json!({"page_size": 5}));
    let out = run(
        &["run", "items", "--connection", &conn, "--config", &cfg],
        "",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 12, "{lines:?}");
    assert!(lines.iter().all(|l| l.get("$state").is_none()), "{lines:?}");
}

#[test]
fn a_state_file_named_without_a_directory_is_kept_in_the_working_directory() {
    // `--state state.json`: the file's directory is the working directory (its parent
    // path is empty, which is not a directory to open).
    let api = ItemsApi::start();
    api.seed(3);
    let dir = tempfile::tempdir().expect("dir");
    let conn = file(&dir, "conn.json", &api.settings());
    let cfg = file(&dir, "items.json", &json!({}));
    let out = std::process::Command::new(common::BIN)
        .args(["run", "items", "--connection", &conn, "--config", &cfg])
        .args(["--state", "state.json"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).expect("state"))
            .expect("json");
    assert_eq!(saved, json!({"after": 3}));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left");
}

#[test]
fn max_items_stops_early_and_the_rest_waits() {
    let api = ItemsApi::start();
    api.seed(12);
    let dir = tempfile::tempdir().expect("dir");
    let out = read(&api, &dir, json!({"page_size": 5, "max_items": 7}));
    assert_eq!(ids(&out), (1..=7).collect::<Vec<_>>());
    let out = read(&api, &dir, json!({"page_size": 5}));
    assert_eq!(ids(&out), (8..=12).collect::<Vec<_>>());
}

#[test]
fn rate_limits_are_waited_out() {
    let api = ItemsApi::start();
    api.seed(30);
    api.rate_limit_every(2);
    let dir = tempfile::tempdir().expect("dir");
    let out = read(&api, &dir, json!({"page_size": 10}));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ids(&out), (1..=30).collect::<Vec<_>>());
    assert!(
        api.limited() >= 2,
        "the API limited {} requests",
        api.limited()
    );
}

#[test]
fn a_wrong_token_is_an_auth_error_and_never_printed() {
    let api = ItemsApi::start();
    api.seed(1);
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = api.settings();
    settings["token"] = json!("wrong-token-Zq9");
    let conn = file(&dir, "conn.json", &settings);
    let out = run(
        &[
            "--log-level",
            "trace",
            "run",
            "items",
            "--connection",
            &conn,
        ],
        "",
    );
    assert_eq!(code(&out), 1);
    let error = last_error(&out);
    assert_eq!(error["kind"], "auth", "{error}");
    assert_eq!(error["retryable"], false, "{error}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("wrong-token-Zq9"));
}
