//! The `create` target reports each request's result as it is known; a refused request
//! fails alone; a rate-limited POST is sent again (the API did not act on it), so
//! nothing is created twice.

mod common;

use common::{ItemsApi, code, file, run, stdout_lines};
use serde_json::json;

#[test]
fn each_request_gets_its_result_and_a_refusal_fails_alone() {
    let api = ItemsApi::start();
    api.rate_limit_every(3);
    let dir = tempfile::tempdir().expect("dir");
    let conn = file(&dir, "conn.json", &api.settings());
    let input = ["a", "b", "reject-me", "c", "d"]
        .iter()
        .map(|n| json!({"name": n}).to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let out = run(&["run", "create", "--connection", &conn], &input);
    assert_eq!(
        code(&out),
        1,
        "one request failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 5);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["index"], i, "{line}");
    }
    assert_eq!(lines[2]["error"]["kind"], "rejected", "{}", lines[2]);
    assert!(
        lines[2]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("reserved")),
        "{}",
        lines[2]
    );
    // Each name once, though some POSTs were answered 429 and sent again.
    assert_eq!(api.names(), ["a", "b", "c", "d"]);
    assert!(api.limited() >= 1);
}

#[test]
fn a_blank_name_is_refused_before_anything_is_sent() {
    let api = ItemsApi::start();
    let dir = tempfile::tempdir().expect("dir");
    let conn = file(&dir, "conn.json", &api.settings());
    let out = run(
        &["run", "create", "--connection", &conn],
        "{\"name\": \"a\"}\n{\"name\": \"\"}\n",
    );
    assert_eq!(code(&out), 2);
    assert!(api.names().is_empty());
}
