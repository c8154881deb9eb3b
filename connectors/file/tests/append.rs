//! The `append` target takes one request, an array or JSON Lines, and prints one result
//! line per request with its index; empty input is nothing to do.

mod common;

use common::{Fixture, code, run, run_with_stdin, stdout_lines};
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
        stdout_lines(&out),
        [json!({"index": 0, "path": "out.jsonl", "offset": 0, "bytes": 8})]
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
    assert_eq!(
        stdout_lines(&out),
        [
            json!({"index": 0, "path": "out.jsonl", "offset": 8, "bytes": 4}),
            json!({"index": 1, "path": "out.jsonl", "offset": 12, "bytes": 6}),
        ]
    );
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
fn json_lines_are_a_batch_and_empty_input_is_nothing_to_do() {
    let fx = Fixture::new();
    let config = fx.json("a.json", &json!({"path": "out.jsonl"}));
    let append = |stdin: &str| {
        run_with_stdin(
            &[
                "run",
                "append",
                "--connection",
                &fx.conn(),
                "--config",
                &config,
            ],
            stdin,
        )
    };
    let out = append("{\"data\": 1}\n{\"data\": 2}\n\n{\"data\": 3}\n");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let indexes: Vec<_> = stdout_lines(&out)
        .iter()
        .map(|l| l["index"].clone())
        .collect();
    assert_eq!(indexes, [json!(0), json!(1), json!(2)]);

    // A bad line is refused with its index, before anything is written.
    let out = append("{\"data\": 4}\n{\"dta\": 5}\n");
    assert_eq!(code(&out), 2);
    assert_eq!(common::last_error(&out)["path"], "/1/dta");

    for empty in ["", "  \n", "[]"] {
        let out = append(empty);
        assert_eq!(
            code(&out),
            0,
            "{empty:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    // Nothing to do is said, and no connection is opened for it.
    let out = run_with_stdin(
        &[
            "--log-level",
            "info",
            "run",
            "append",
            "--connection",
            &fx.conn(),
            "--config",
            &config,
        ],
        "[]",
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("the input holds no request: nothing to do"),
        "{log}"
    );
    let text = std::fs::read_to_string(fx.root().join("out.jsonl")).expect("read");
    assert_eq!(text, "1\n2\n3\n");
}
