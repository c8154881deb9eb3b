//! `check` verifies the connection step by step; a failure exits 1 with a classified
//! error as the last stderr line.

mod common;

use common::{Fixture, code, last_error, run, stdout_json};

#[test]
fn check_reports_each_step() {
    let fx = Fixture::new();
    let out = run(&["check", "--connection", &fx.conn()]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let report = stdout_json(&out);
    assert_eq!(report["ok"], true);
    let names: Vec<&str> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["root.list", "root.write"]);
    assert!(report["steps"][0]["duration_ms"].is_u64());
}

#[test]
fn check_of_a_missing_directory_fails_as_connect_and_skips_the_rest() {
    let fx = Fixture::new();
    let conn = fx.json("bad.json", &serde_json::json!({"root": fx.path("nowhere")}));
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["steps"][0]["status"], "failed");
    assert_eq!(report["steps"][0]["error"]["kind"], "connect");
    assert_eq!(report["steps"][1]["status"], "skipped");
    let err = last_error(&out);
    assert_eq!(err["kind"], "connect");
    assert_eq!(err["retryable"], true);
}
