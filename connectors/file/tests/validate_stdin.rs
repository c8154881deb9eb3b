//! `validate ACTIVITY` checks a target's requests from stdin when stdin is piped, as
//! `run` reads them: a bad request piped in is not "valid".

mod common;

use common::{Fixture, code, run, run_with_stdin};
use serde_json::json;

#[test]
fn validate_reads_piped_requests() {
    let fx = Fixture::new();
    let config = fx.json("a.json", &json!({"path": "out.jsonl"}));
    let args = [
        "validate",
        "append",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
    ];
    // A request without `data`, piped in as JSON Lines: refused with its index.
    let out = run_with_stdin(&args, "{\"data\": 1}\n{\"nodata\": 2}\n");
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    let err = common::last_error(&out);
    assert!(
        err["path"].as_str().is_some_and(|p| p.starts_with("/1")),
        "{err}"
    );
    // Good requests piped in: valid.
    let out = run_with_stdin(&args, "[{\"data\": 1}, {\"data\": \"x\"}]");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // Nothing piped (stdin closed at once): the settings alone are validated.
    let out = run(&args);
    assert_eq!(code(&out), 0);
}

#[test]
fn validate_of_a_source_leaves_stdin_alone() {
    let fx = Fixture::new();
    let config = fx.json("r.json", &json!({"path": "in.jsonl"}));
    // Whatever is piped in, a source has no requests to read from it.
    let out = run_with_stdin(
        &[
            "validate",
            "read",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
        ],
        "not JSON at all",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
}
