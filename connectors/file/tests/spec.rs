//! `spec` prints the manifest derived from the connector's types, deterministically.

mod common;

use common::{code, run, stdout_json};

#[test]
fn spec_lists_both_activities_with_their_schemas() {
    let out = run(&["spec"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let m = stdout_json(&out);
    assert_eq!(m["name"], "file");
    assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        m["description"],
        "Reads and appends JSON Lines files in one directory; a worked example of the SDK."
    );
    let schema = "https://json-schema.org/draft/2020-12/schema";
    assert_eq!(m["connection"]["$schema"], schema);
    assert_eq!(m["connection"]["additionalProperties"], false);
    assert_eq!(m["connection"]["required"], serde_json::json!(["root"]));

    let read = &m["activities"][0];
    assert_eq!(read["name"], "read");
    assert_eq!(read["role"], "source");
    assert_eq!(read["discovery"], true);
    assert_eq!(
        read["record"]["properties"]["line"]["description"],
        "The line number in the file, from 1."
    );
    assert!(read.get("request").is_none());
    // Wrapped doc comments become one paragraph.
    assert_eq!(
        read["config"]["properties"]["state"]["description"],
        "Where the committed offset is kept, relative to the root; defaults to the file's path plus `.offset`."
    );
    assert_eq!(read["config"]["properties"]["follow"]["default"], false);

    let append = &m["activities"][1];
    assert_eq!(append["name"], "append");
    assert_eq!(append["role"], "target");
    assert_eq!(append["discovery"], false);
    assert_eq!(append["request"]["required"], serde_json::json!(["data"]));
    assert_eq!(append["response"]["$schema"], schema);
    assert!(append.get("record").is_none());
}

#[test]
fn spec_is_byte_for_byte_deterministic_with_sorted_keys() {
    let a = run(&["spec"]).stdout;
    let b = run(&["spec"]).stdout;
    assert_eq!(a, b);
    let text = String::from_utf8(a).expect("utf-8");
    let top: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  \"") && !l.starts_with("   "))
        .collect();
    assert_eq!(
        top,
        [
            "  \"activities\": [",
            "  \"connection\": {",
            "  \"description\": \"Reads and appends JSON Lines files in one directory; a worked example of the SDK.\",",
            "  \"name\": \"file\",",
            &*format!("  \"version\": \"{}\"", env!("CARGO_PKG_VERSION"))
        ]
    );
}

#[test]
fn spec_writes_nothing_to_stderr() {
    let out = run(&["spec"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
