//! Bad settings, config and input exit 2 with the JSON path and the expected form, and
//! nothing runs.

mod common;

use common::{Fixture, code, last_error, run, run_with_stdin};
use serde_json::json;

#[test]
fn wrong_type_names_the_path_and_the_expected_form() {
    let fx = Fixture::new();
    let conn = fx.json("c.json", &json!({"root": 5}));
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 2);
    let err = last_error(&out);
    assert_eq!(err["kind"], "config");
    assert_eq!(err["path"], "/root");
    assert_eq!(err["message"], "expected a string, got 5");
    assert_eq!(err["retryable"], false);
}

#[test]
fn unknown_fields_are_rejected_with_the_known_ones() {
    let fx = Fixture::new();
    let conn = fx.json("c.json", &json!({"root": "/tmp", "rot": 1}));
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 2);
    let err = last_error(&out);
    assert_eq!(err["path"], "/rot");
    assert_eq!(err["message"], "unknown field, expected one of: root");
}

#[test]
fn missing_fields_and_malformed_json_are_config_errors() {
    let fx = Fixture::new();
    let out = run(&["check", "--connection", &fx.json("c.json", &json!({}))]);
    assert_eq!(code(&out), 2);
    assert_eq!(last_error(&out)["path"], "/root");

    std::fs::write(fx.path("broken.json"), "{\"root\": ").expect("write");
    let out = run(&["check", "--connection", &fx.path("broken.json")]);
    assert_eq!(code(&out), 2);
    let err = last_error(&out);
    assert_eq!(err["path"], "");
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .contains("invalid JSON"),
        "{err}"
    );
}

#[test]
fn activity_config_errors_are_caught_before_connecting() {
    let fx = Fixture::new();
    let config = fx.json("r.json", &json!({"path": "in.jsonl", "max_records": -1}));
    // The connection file does not even exist: config is validated first.
    let out = run(&[
        "run",
        "read",
        "--connection",
        "/nonexistent.json",
        "--config",
        &config,
    ]);
    assert_eq!(code(&out), 2);
    let err = last_error(&out);
    assert_eq!(err["path"], "/max_records");
    assert_eq!(
        err["message"],
        "expected an integer of at least 0 or null, got -1"
    );
}

#[test]
fn paths_outside_the_root_are_refused() {
    let fx = Fixture::new();
    let config = fx.json("r.json", &json!({"path": "../conn.json"}));
    let out = run(&[
        "run",
        "read",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
    ]);
    assert_eq!(code(&out), 2);
    assert_eq!(last_error(&out)["path"], "/path");
}

#[test]
fn one_bad_request_in_a_batch_appends_nothing() {
    let fx = Fixture::new();
    let config = fx.json("a.json", &json!({"path": "out.jsonl"}));
    let out = run_with_stdin(
        &[
            "run",
            "append",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
        ],
        r#"[{"data": 1}, {"date": 2}]"#,
    );
    assert_eq!(code(&out), 2);
    let err = last_error(&out);
    assert_eq!(err["path"], "/1/date");
    assert!(out.stdout.is_empty());
    assert!(
        !fx.root().join("out.jsonl").exists(),
        "nothing may be written"
    );
}

#[test]
fn usage_errors_exit_2_with_a_json_line() {
    for args in [
        vec!["run"],
        vec!["frobnicate"],
        vec!["check"],
        vec!["run", "read", "--connection", "-", "--config", "-"],
    ] {
        let out = run(&args);
        assert_eq!(code(&out), 2, "{args:?}");
        assert_eq!(last_error(&out)["kind"], "config", "{args:?}");
    }
}

#[test]
fn unknown_activities_list_the_known_ones() {
    let fx = Fixture::new();
    let out = run(&["run", "write", "--connection", &fx.conn()]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        last_error(&out)["message"],
        "unknown activity `write`, expected one of: read, append"
    );
}
