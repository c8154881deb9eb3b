//! Secrets never print: not in Debug output of settings, not in error messages, not in
//! serialized settings; and the schema marks them.

use connector_sdk::{Secret, from_value, schema_of};
use serde_json::json;

#[connector_sdk::settings]
/// Login settings.
pub struct Login {
    /// Who logs in.
    pub username: String,
    /// Their password.
    pub password: Secret,
    /// An optional token.
    #[serde(default)]
    pub token: Option<Secret>,
}

const CANARY: &str = "canary-5ecret-9d1";

#[test]
fn debug_and_serialization_of_settings_hide_the_secret() {
    let login: Login =
        from_value(&json!({"username": "u", "password": CANARY, "token": CANARY})).expect("valid");
    assert_eq!(login.password.expose(), CANARY);
    let printed = format!(
        "{login:?} {login:#?} {}",
        serde_json::to_string(&login).expect("json")
    );
    assert!(!printed.contains(CANARY), "{printed}");
    assert!(printed.contains("***"));
}

#[test]
fn errors_about_secrets_never_quote_them() {
    for bad in [
        json!(["canary-5ecret-9d1"]),
        json!({"env": 1}),
        json!({"vault": CANARY}),
    ] {
        let err =
            from_value::<Login>(&json!({"username": "u", "password": bad})).expect_err("invalid");
        let text = format!(
            "{err} {err:?} {}",
            serde_json::to_string(&err.body()).expect("json")
        );
        assert!(!text.contains(CANARY), "{text}");
        assert!(
            err.path().is_some_and(|p| p.starts_with("/password")),
            "{err:?}"
        );
    }
}

#[test]
fn schema_marks_secrets_write_only() {
    let schema = schema_of::<Login>();
    let password = &schema["properties"]["password"];
    assert_eq!(password["writeOnly"], true);
    assert_eq!(password["x-secret"], true);
    assert_eq!(password["description"], "Their password.");
    let token = serde_json::to_string(&schema["properties"]["token"]).expect("json");
    assert!(token.contains("\"x-secret\":true"), "{token}");
}

#[test]
fn file_and_env_sources_resolve_and_serialize_as_references() {
    let dir = tempfile_dir();
    let path = dir.join("pw");
    std::fs::write(&path, format!("{CANARY}\n")).expect("write");
    let login: Login =
        from_value(&json!({"username": "u", "password": {"file": path}})).expect("valid");
    assert_eq!(login.password.expose(), CANARY);
    let text = serde_json::to_string(&login).expect("json");
    assert!(text.contains("\"file\""), "{text}");
    assert!(!text.contains(CANARY));

    let err =
        from_value::<Login>(&json!({"username": "u", "password": {"env": "SURELY_UNSET_VAR_42"}}))
            .expect_err("unset");
    assert_eq!(
        err.message(),
        "environment variable `SURELY_UNSET_VAR_42` is not set"
    );
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sdk-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}
