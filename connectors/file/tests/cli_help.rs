//! The command line teaches: `--help` names the program as it was run, lists the
//! activities with their roles and examples, and `--version` names the SDK too.

mod common;

use common::run;

#[test]
fn help_lists_the_activities_with_examples_under_the_programs_name() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Usage: file-connector"), "{text}");
    assert!(
        text.contains("read (source)") && text.contains("append (target)"),
        "{text}"
    );
    assert!(
        text.contains("file-connector run append --connection conn.json --input requests.jsonl"),
        "{text}"
    );
    assert!(text.contains("130/143 stopped by a signal"), "{text}");
    // Each activity's line carries its description (one sentence each here), aligned.
    assert!(
        text.contains("\n  read (source)    Reads a JSON Lines file from the last committed offset, one record per line, and commits by recording the offset after the last delivered line.\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  append (target)  Appends each request's `data` as one JSON line, all in one write, then reports where each line went.\n"),
        "{text}"
    );
}

#[test]
fn version_names_the_connector_and_the_sdk() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(
        text.trim(),
        format!("file-connector {v} (connector file {v}, connector-sdk {v})")
    );
}
