//! OAuth 2.0 grants end to end: the connector requests its own tokens from a token
//! endpoint (the testkit's, on loopback) with `client_credentials`, `password` and
//! `refresh_token`, and uses them for `check`, Send Email and Read Email against
//! Dovecot and Postfix, which validate the signed tokens.

mod common;

use std::time::Duration;

use common::{Fixture, code, records, run, servers, stderr, stdout_json, step};
use email_testsupport::oauth::TokenEndpoint;
use serde_json::{Value, json};

fn endpoint() -> TokenEndpoint {
    TokenEndpoint::start(servers()).expect("token endpoint")
}

/// check, then send one message to the fixture's user, then read it back: all with
/// `settings`. Returns the check report.
fn round_trip(fx: &Fixture, settings: &Value, subject: &str) -> Value {
    let conn = fx.file("oauth.json", settings);
    // On failure, Dovecot's own reason for refusing a token is in its log.
    let dovecot = || servers().log_tail("log/dovecot.log");
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(
        code(&out),
        0,
        "check: {}\ndovecot:\n{}",
        stderr(&out),
        dovecot()
    );
    let report = stdout_json(&out);
    let input = fx.file(
        "in.json",
        &json!({"from": fx.user.address, "to": [fx.user.address], "subject": subject, "text": "hello"}),
    );
    let out = run(&["run", "send", "--connection", &conn, "--input", &input]);
    assert_eq!(
        code(&out),
        0,
        "send: {}\ndovecot:\n{}",
        stderr(&out),
        dovecot()
    );
    servers()
        .wait_for(&fx.user, "INBOX", 1, Duration::from_secs(10))
        .expect("delivered");
    let out = run(&["run", "read", "--connection", &conn]);
    assert_eq!(
        code(&out),
        0,
        "read: {}\ndovecot:\n{}",
        stderr(&out),
        dovecot()
    );
    let got = records(&out);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["subject"], subject);
    report
}

#[test]
fn client_credentials_works_for_check_send_and_read() {
    let fx = Fixture::new();
    let idp = endpoint();
    let app = idp.app(&fx.user);
    let settings = common::oauth_settings(
        &fx,
        json!({
            "grant": "client_credentials",
            "token_url": idp.url(),
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scopes": ["https://outlook.office365.com/.default"],
        }),
    );
    let report = round_trip(&fx, &settings, "app-only");
    // The token request is its own line, first, and says where the token came from.
    let names: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "oauth2.token", "{names:?}");
    let detail = step(&report, "oauth2.token")["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("client_credentials grant: token requested from 127.0.0.1")
            && detail.contains("scopes https://outlook.office365.com/.default"),
        "{detail}"
    );
    // One token per run serves SMTP and IMAP; the scopes went out as configured, the
    // client authenticated in the body (what Microsoft documents).
    let requests = idp.requests();
    assert_eq!(requests.len(), 3, "check, send, read: {requests:?}");
    for r in &requests {
        assert_eq!(r.grant_type, "client_credentials");
        assert_eq!(r.client_id, app.client_id);
        assert!(!r.basic_auth);
        assert_eq!(
            r.scope.as_deref(),
            Some("https://outlook.office365.com/.default")
        );
        assert_eq!(r.status, 200);
    }
}

#[test]
fn the_password_grant_works_for_a_public_client_with_both_mechanisms() {
    for mechanism in ["xoauth2", "oauthbearer"] {
        let fx = Fixture::new();
        let idp = endpoint();
        idp.allow_password(&fx.user);
        let settings = common::oauth_settings(
            &fx,
            json!({
                "grant": "password",
                "token_url": idp.url(),
                "client_id": idp.public_client(),
                "password": {"env": "MAILBOX_PASSWORD"},
                "mechanism": mechanism,
            }),
        );
        // The password comes from the environment, as a deployment would pass it.
        let conn = fx.file("oauth.json", &settings);
        let out = common::run_with_env(
            &["check", "--connection", &conn],
            &[("MAILBOX_PASSWORD", &fx.user.password)],
        );
        assert_eq!(code(&out), 0, "{mechanism}: {}", stderr(&out));
        let report = stdout_json(&out);
        assert!(
            step(&report, "oauth2.token")["detail"]
                .as_str()
                .unwrap()
                .starts_with("password grant")
        );
        assert_eq!(step(&report, "smtp.auth")["status"], "ok");
        assert_eq!(step(&report, "imap.login")["status"], "ok");
        assert_eq!(idp.tokens_issued("password"), 1);

        let mut literal = settings.clone();
        literal["auth"]["password"] = json!(fx.user.password);
        round_trip(&fx, &literal, &format!("ropc via {mechanism}"));
        assert_eq!(idp.tokens_issued("password"), 4);
    }
}

#[test]
fn the_refresh_token_grant_keeps_rotated_tokens_in_the_cache_file() {
    let fx = Fixture::new();
    let idp = endpoint();
    let client = idp.public_client();
    let first = idp.refresh_token(&client, &fx.user);
    let cache = fx.dir.path().join("tokens.json");
    let settings = common::oauth_settings(
        &fx,
        json!({
            "grant": "refresh_token",
            "token_url": idp.url(),
            "client_id": client,
            "refresh_token": first,
            "token_cache_file": cache,
        }),
    );
    // The first run redeems the configured refresh token; the endpoint rotates it (the
    // configured one stops working) and the new one goes to the cache file.
    round_trip(&fx, &settings, "delegated");
    assert_eq!(
        idp.tokens_issued("refresh_token"),
        1,
        "check, send and read share the cached access token: {:?}",
        idp.requests()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the cache file is private");
    }
    let cached: Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    let rotated = cached["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, first);
    assert_eq!(cached["version"], 1);

    // When the access token has expired, the next run refreshes with the rotated token
    // (the configured one would be refused now).
    idp.set_lifetime(Duration::from_secs(1));
    let mut stale = cached.clone();
    stale["expires_at"] = json!(1);
    std::fs::write(&cache, stale.to_string()).unwrap();
    let out = run(&["check", "--connection", &fx.file("oauth.json", &settings)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(idp.tokens_issued("refresh_token"), 2);
    let newest: Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    assert_ne!(newest["refresh_token"], rotated.as_str());
    assert!(
        stderr(&out).contains("saved to the token cache file"),
        "the log says where the rotated refresh token went: {}",
        stderr(&out)
    );
}

#[test]
fn without_a_cache_file_a_rotated_refresh_token_is_lost_and_the_log_says_so() {
    let fx = Fixture::new();
    let idp = endpoint();
    let app = idp.app(&fx.user);
    let token = idp.refresh_token(&app.client_id, &fx.user);
    let settings = common::oauth_settings(
        &fx,
        json!({
            "grant": "refresh_token",
            "token_url": idp.url(),
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "client_auth": "basic",
            "refresh_token": token,
        }),
    );
    let conn = fx.file("oauth.json", &settings);
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(idp.requests()[0].basic_auth, "client_auth basic");
    assert!(
        stderr(&out).contains("kept in memory only") && stderr(&out).contains("token_cache_file"),
        "{}",
        stderr(&out)
    );
    // The endpoint rotated the token, so the configured one is spent.
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    let err = &step(&report, "oauth2.token")["error"];
    assert_eq!(err["kind"], "auth", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("invalid_grant"),
        "{err}"
    );
}

#[test]
fn incomplete_grant_settings_are_refused_before_anything_connects() {
    let fx = Fixture::new();
    for (auth, path) in [
        (
            json!({"grant": "client_credentials", "tenant_id": "contoso.onmicrosoft.com", "client_id": "app"}),
            "/auth/client_secret",
        ),
        (
            json!({"grant": "password", "tenant_id": "contoso.onmicrosoft.com", "client_id": "app"}),
            "/auth/password",
        ),
        (
            json!({"client_id": "app", "client_secret": "s", "tenant_id": "contoso.onmicrosoft.com"}),
            "/auth/grant",
        ),
        (
            json!({"grant": "refresh_token", "token_url": "http://idp.example.com/token", "client_id": "app", "refresh_token": "r"}),
            "/auth/token_url",
        ),
    ] {
        let settings = common::oauth_settings(&fx, auth.clone());
        let conn = fx.file("bad.json", &settings);
        for command in ["validate", "check"] {
            let out = run(&[command, "--connection", &conn]);
            assert_eq!(code(&out), 2, "{command} {auth}: {}", stderr(&out));
            let err = common::last_error(&out);
            assert_eq!(err["kind"], "config");
            assert_eq!(err["path"], path, "{err}");
        }
    }
}
