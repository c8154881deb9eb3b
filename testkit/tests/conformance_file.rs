//! The conformance suite over the example file connector.

use std::time::Duration;

use connector_testkit::conformance::{Check, SourceCase, Suite};
use serde_json::json;

/// A directory of its own under Cargo's temporary directory for integration tests
/// (`target/tmp`): the suite keeps it for the whole test binary, so it is never
/// removed, and there it goes with `cargo clean` instead of piling up in `/tmp`.
fn fresh_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("conformance-file-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir")
}

fn suite() -> Suite {
    let root = fresh_dir();
    let root_path = root.path().to_owned();
    // The suite lives for the whole test binary; so does its directory.
    std::mem::forget(root);
    Suite::new(
        connector_testkit::workspace::binary("file-connector", "file-connector"),
        "file",
    )
    .snapshots(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"))
    .connection(json!({ "root": root_path }))
    .invalid_connection(json!({"root": 5}), "/root")
    .invalid_connection(json!({}), "/root")
    .config("read", json!({"path": "in.jsonl"}))
    .invalid_config("read", json!({"path": "../outside.jsonl"}), "/path")
    .not_applicable(
        Check::SilentServerTimesOut,
        "it reads a local directory: there is no server to go silent",
    )
    .not_applicable(
        Check::WrongCredentialsAreAuth,
        "a local directory has no credentials",
    )
    .config("append", json!({"path": "out.jsonl"}))
    .unreachable(
        json!({"root": "/nonexistent/conformance"}),
        Duration::from_secs(1),
    )
    .live(move || json!({ "root": root_path }))
    .source("read", "/offset", || {
        let dir = fresh_dir();
        let lines: String = (1..=25).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        std::fs::write(dir.path().join("in.jsonl"), lines).expect("write");
        SourceCase {
            connection: json!({ "root": dir.path() }),
            config: json!({"path": "in.jsonl"}),
            records: 25,
            guard: Box::new(dir),
        }
    })
    .target(
        "append",
        json!({"path": "out.jsonl"}),
        json!([{"data": {"a": 1}}, {"data": "b"}]),
        || {
            let dir = fresh_dir();
            let root = dir.path().to_owned();
            std::mem::forget(dir);
            json!({ "root": root })
        },
    )
    .invalid_request(json!({"dta": 1}), "/dta")
    .invalid_request(json!([{"data": 1}, {}]), "/1/data")
}

connector_testkit::conformance_tests!(suite());
