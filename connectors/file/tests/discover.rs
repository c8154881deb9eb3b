//! `discover` lists objects for activities that support it, and refuses the others.

mod common;

use common::{Fixture, code, last_error, run, stdout_json};

#[test]
fn discover_lists_jsonl_files_sorted() {
    let fx = Fixture::new();
    fx.lines("b.jsonl", 1);
    fx.lines("a.jsonl", 2);
    std::fs::write(fx.root().join("notes.txt"), "x").expect("write");
    let out = run(&["discover", "read", "--connection", &fx.conn()]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let objects = stdout_json(&out);
    assert_eq!(
        objects,
        serde_json::json!({"objects": [
            {"name": "a.jsonl", "description": "16 bytes"},
            {"name": "b.jsonl", "description": "8 bytes"}
        ]})
    );
}

#[test]
fn discover_on_an_activity_without_discovery_is_a_config_error() {
    let fx = Fixture::new();
    let out = run(&["discover", "append", "--connection", &fx.conn()]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        last_error(&out)["message"],
        "activity `append` has no discovery"
    );
}
