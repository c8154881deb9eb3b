//! Property tests of the connection settings, as an attacker or a careless platform
//! would write them: any JSON, shaped like the settings or not, is accepted or refused
//! with a config error, never a panic; and a password or client secret, wherever the
//! rest is wrong, never appears in an error or in Debug output.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::checked::Checked;
use crate::settings::EmailSettings;

const SECRET: &str = "hunter2-secret-Z9";

/// JSON built from the settings' own keys and values near their edges.
fn settings_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop::sample::select(vec![
            0_i64,
            1,
            -1,
            25,
            465,
            587,
            993,
            65535,
            65536,
            i64::MAX
        ])
        .prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "localhost",
            "127.0.0.1",
            "smtp.example.com",
            "tls",
            "starttls",
            "none",
            "basic",
            "oauth2",
            "client_credentials",
            "refresh_token",
            "http://example.com/token",
            "https://user:pw@example.com/t?code=x",
            "/dev/zero",
            "/etc/shadow",
            "a\r\nb",
            "\u{0}",
            "ünïcödé",
        ])
        .prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "smtp",
        "imap",
        "host",
        "port",
        "security",
        "auth",
        "type",
        "username",
        "password",
        "grant",
        "tenant_id",
        "token_url",
        "client_id",
        "client_secret",
        "timeouts",
        "connect_secs",
        "io_secs",
        "tls",
        "ca_file",
        "env",
        "file",
        "allow_insecure_auth",
        "hello_name",
        "scopes",
        "unknown",
    ]);
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn judge(value: &Value) -> Result<(), String> {
    let settings: EmailSettings = match connector_sdk::from_value(value) {
        Ok(s) => s,
        Err(e) => return Err(e.to_string()),
    };
    let debug = format!("{settings:?}");
    assert!(!debug.contains(SECRET), "a secret in Debug output: {debug}");
    Checked::new(&settings)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn any_json_is_accepted_or_refused_without_a_panic(value in settings_json()) {
        let _ = judge(&value);
    }

    #[test]
    fn a_secret_never_appears_in_an_error(
        mut value in settings_json(),
        oauth in any::<bool>(),
        wrapped in any::<bool>(),
    ) {
        let secret = if wrapped { json!({"value": SECRET}) } else { json!(SECRET) };
        let auth = if oauth {
            json!({"type": "oauth2", "username": "u", "client_id": "c", "grant": "client_credentials", "client_secret": secret})
        } else {
            json!({"type": "basic", "username": "u", "password": secret})
        };
        if !value.is_object() {
            value = json!({"smtp": value});
        }
        value["auth"] = auth;
        if let Err(e) = judge(&value) {
            prop_assert!(!e.contains(SECRET), "the secret in an error: {}", e);
        }
    }
}
