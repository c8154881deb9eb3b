//! OAuth 2.0 bearer tokens over XOAUTH2 and OAUTHBEARER, for SMTP and IMAP, against
//! Dovecot's oauth2 password database (Postfix authenticates through it).

mod common;

use std::time::Duration;

use common::{Fixture, code, last_error, records, run, servers, stdout_json, step};
use serde_json::{Value, json};

fn with_token(fx: &Fixture, token: &str, mechanism: &str) -> Value {
    let mut settings = fx.settings();
    settings["auth"] = json!({
        "type": "oauth2",
        "username": fx.user.address,
        "access_token": token,
        "mechanism": mechanism,
    });
    settings
}

#[test]
fn a_valid_token_passes_check_send_and_read_with_both_mechanisms() {
    for mechanism in ["xoauth2", "oauthbearer"] {
        let fx = Fixture::new();
        let token = servers()
            .access_token(&fx.user, Duration::from_secs(600))
            .expect("token");
        let conn = fx.file("token.json", &with_token(&fx, &token, mechanism));
        let out = run(&["check", "--connection", &conn]);
        assert_eq!(code(&out), 0, "{mechanism}: {}", common::stderr(&out));
        let report = stdout_json(&out);
        assert_eq!(step(&report, "smtp.auth")["status"], "ok");
        assert_eq!(step(&report, "imap.login")["status"], "ok");

        let input = fx.file("in.json", &json!({"from": fx.user.address, "to": [fx.user.address], "subject": format!("via {mechanism}"), "text": "x"}));
        let out = run(&["run", "send", "--connection", &conn, "--input", &input]);
        assert_eq!(code(&out), 0, "{}", common::stderr(&out));
        servers()
            .wait_for(&fx.user, "INBOX", 1, Duration::from_secs(10))
            .expect("delivered");
        let out = run(&["run", "read", "--connection", &conn]);
        assert_eq!(records(&out)[0]["subject"], format!("via {mechanism}"));
    }
}

#[test]
fn an_expired_token_is_an_auth_error_with_the_providers_reason() {
    let fx = Fixture::new();
    let token = servers()
        .access_token(&fx.user, Duration::ZERO)
        .expect("token");
    std::thread::sleep(Duration::from_millis(1100));
    let conn = fx.file("expired.json", &with_token(&fx, &token, "xoauth2"));
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    for name in ["smtp.auth", "imap.login"] {
        let err = &step(&report, name)["error"];
        assert_eq!(err["kind"], "auth", "{name}: {err}");
        let msg = err["message"].as_str().expect("msg");
        assert!(msg.contains("was refused (XOAUTH2)"), "{name}: {err}");
        assert!(
            msg.contains("status 401"),
            "the provider's reason is kept: {name}: {err}"
        );
    }
    assert_eq!(last_error(&out)["kind"], "auth");
}

#[test]
fn the_token_never_appears_in_trace_output() {
    let fx = Fixture::new();
    let token = servers()
        .access_token(&fx.user, Duration::from_secs(600))
        .expect("token");
    let conn = fx.file("token.json", &with_token(&fx, &token, "xoauth2"));
    let out = run(&["--log-level", "trace", "check", "--connection", &conn]);
    assert_eq!(code(&out), 0);
    let all = format!(
        "{}{}",
        common::stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        all.contains("AUTH XOAUTH2 ***") && all.contains("AUTHENTICATE XOAUTH2 ***"),
        "the exchange is traced, redacted"
    );
    assert!(!all.contains(&token), "the token leaked");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!(
        "user={}\x01auth=Bearer {token}\x01\x01",
        fx.user.address
    ));
    assert!(!all.contains(&b64), "the SASL response leaked");
}

#[test]
fn a_token_is_not_sent_in_plaintext_unless_allowed() {
    let fx = Fixture::with(common::Transport::Plain);
    let mut settings = with_token(&fx, "x.y.z", "xoauth2");
    settings["allow_insecure_auth"] = json!(false);
    let out = run(&["check", "--connection", &fx.file("plain.json", &settings)]);
    assert_eq!(code(&out), 2);
    assert_eq!(last_error(&out)["path"], "/imap/security");
}
