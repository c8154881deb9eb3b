//! `manifest-compat OLD NEW` for a platform's CI: exit 0 for a compatible manifest, 1
//! with each change and its rule for an incompatible one, 2 for unusable arguments.

use std::process::Command;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_manifest-compat");

fn file_manifest() -> Value {
    let out = Command::new(connector_testkit::workspace::binary(
        "file-connector",
        "file-connector",
    ))
    .arg("spec")
    .output()
    .expect("spec");
    serde_json::from_slice(&out.stdout).expect("manifest")
}

fn compare(old: &Value, new: &Value) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("dir");
    let (o, n) = (dir.path().join("old.json"), dir.path().join("new.json"));
    std::fs::write(&o, old.to_string()).expect("write");
    std::fs::write(&n, new.to_string()).expect("write");
    let out = Command::new(BIN).args([&o, &n]).output().expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_same_manifest_is_compatible() {
    let m = file_manifest();
    let (code, text) = compare(&m, &m);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("compatible"), "{text}");
}

#[test]
fn narrowing_a_setting_is_reported_with_its_rule() {
    let old = file_manifest();
    let mut new = old.clone();
    // The append target's path gains a length limit, and a required field appears.
    let config = &mut new["activities"][1]["config"];
    config["properties"]["path"]["maxLength"] = json!(8);
    config["properties"]["mode"] = json!({"type": "string"});
    config["required"] = json!(["path", "mode"]);
    let (code, text) = compare(&old, &new);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("activities/append/config/path: maxLength tightened from none to 8"),
        "{text}"
    );
    assert!(
        text.contains("[length]") && text.contains("[required]"),
        "{text}"
    );
}

#[test]
fn unusable_arguments_exit_2() {
    let out = Command::new(BIN)
        .arg("only-one.json")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}
