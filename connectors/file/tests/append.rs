//! The `append` target takes one request or an array and prints one response.

mod common;

use common::{Fixture, code, run, run_with_stdin, stdout_json};
use serde_json::json;

#[test]
fn appends_a_single_request_and_a_batch() {
    let fx = Fixture::new();
    let config = fx.json("a.json", &json!({"path": "out.jsonl"}));
    let input = fx.json("one.json", &json!({"data": {"a": 1}}));
    let out = run(&[
        "run",
        "append",
        "--connection",
        &fx.conn(),
        "--config",
        &config,
        "--input",
        &input,
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout_json(&out),
        json!({"path": "out.jsonl", "appended": 1, "size": 8})
    );

    let out = run_with_stdin(
        &[
            "run",
            "append",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
            "--input",
            "-",
        ],
        r#"[{"data": "x"}, {"data": [1, 2]}]"#,
    );
    assert_eq!(code(&out), 0);
    assert_eq!(stdout_json(&out)["appended"], 2);
    let text = std::fs::read_to_string(fx.root().join("out.jsonl")).expect("read");
    assert_eq!(text, "{\"a\":1}\n\"x\"\n[1,2]\n");
}

#[test]
fn what_append_writes_read_reads_back() {
    let fx = Fixture::new();
    let config = fx.json("a.json", &json!({"path": "loop.jsonl"}));
    let out = run_with_stdin(
        &[
            "run",
            "append",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
        ],
        r#"[{"data": {"k": "é"}}, {"data": null}]"#,
    );
    assert_eq!(code(&out), 0);
    let records = common::stdout_lines(&fx.read("loop.jsonl", json!({})));
    assert_eq!(records[0]["data"], json!({"k": "é"}));
    assert_eq!(records[1]["data"], json!(null));
}

#[test]
fn an_empty_batch_is_refused() {
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
        "[]",
    );
    assert_eq!(code(&out), 2);
}
