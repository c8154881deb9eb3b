//! When the token request fails, the error says why and is classified: a wrong client
//! secret is `auth`, an endpoint that is down is `connect` (retryable), one that
//! answers garbage is `protocol`; and no secret or token shows up in any output, even
//! at trace level.

mod common;

use common::{Fixture, code, last_error, run, servers, stderr, stdout_json, step};
use email_testsupport::oauth::{Mode, TokenEndpoint};
use serde_json::{Value, json};

fn endpoint() -> TokenEndpoint {
    TokenEndpoint::start(servers()).expect("token endpoint")
}

fn client_credentials(fx: &Fixture, url: &str, id: &str, secret: &str) -> String {
    let settings = common::oauth_settings(
        fx,
        json!({"grant": "client_credentials", "token_url": url, "client_id": id, "client_secret": secret}),
    );
    fx.file("oauth.json", &settings)
}

/// Runs `check`, expects it to fail at the token step with `kind`, and the logins to
/// be skipped. Returns the step's error.
fn failed_token_step(conn: &str, kind: &str) -> Value {
    let out = run(&["check", "--connection", conn]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = stdout_json(&out);
    let token = step(&report, "oauth2.token");
    assert_eq!(token["status"], "failed", "{report}");
    assert_eq!(token["error"]["kind"], kind, "{report}");
    // The servers are still checked up to the login, which is not tried.
    assert_eq!(step(&report, "smtp.ehlo")["status"], "ok");
    assert_eq!(step(&report, "smtp.auth")["status"], "skipped");
    assert_eq!(step(&report, "imap.login")["status"], "skipped");
    assert_eq!(last_error(&out)["kind"], kind);
    token["error"].clone()
}

#[test]
fn a_wrong_client_secret_is_an_auth_error_with_the_providers_words() {
    let fx = Fixture::new();
    let idp = endpoint();
    let app = idp.app(&fx.user);
    let conn = client_credentials(&fx, &idp.url(), &app.client_id, "not-the-secret");
    let err = failed_token_step(&conn, "auth");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("refused the client_credentials grant: invalid_client: AADSTS7000215"),
        "{message}"
    );
    assert_eq!(err["retryable"], false);

    // A run fails the same way, before sending anything.
    let input = fx.file(
        "in.json",
        &json!({"from": fx.user.address, "to": [fx.user.address], "subject": "x", "text": "x"}),
    );
    let out = run(&["run", "send", "--connection", &conn, "--input", &input]);
    assert_eq!(code(&out), 1);
    let err = last_error(&out);
    assert_eq!(err["kind"], "auth", "{err}");
    assert!(fx.stored("INBOX").is_empty());
}

#[test]
fn an_unknown_client_is_an_auth_error() {
    let fx = Fixture::new();
    let idp = endpoint();
    let conn = client_credentials(&fx, &idp.url(), "no-such-app", "x");
    let err = failed_token_step(&conn, "auth");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unauthorized_client: AADSTS700016"),
        "{err}"
    );
}

#[test]
fn a_token_endpoint_that_is_down_is_a_retryable_connect_error() {
    let fx = Fixture::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conn = client_credentials(&fx, &format!("http://127.0.0.1:{port}/token"), "a", "b");
    let err = failed_token_step(&conn, "connect");
    assert_eq!(err["retryable"], true, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("token endpoint 127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn a_token_endpoint_answering_garbage_is_a_protocol_error() {
    let fx = Fixture::new();
    let idp = endpoint();
    let app = idp.app(&fx.user);
    idp.set_mode(Mode::Garbage);
    let conn = client_credentials(&fx, &idp.url(), &app.client_id, &app.client_secret);
    let err = failed_token_step(&conn, "protocol");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("not an OAuth 2.0 token response") && message.contains("captive portal"),
        "the start of the body says what answered: {message}"
    );
    assert_eq!(err["retryable"], false);
}

#[test]
fn an_unavailable_token_endpoint_is_a_retryable_connect_error() {
    let fx = Fixture::new();
    let idp = endpoint();
    let app = idp.app(&fx.user);
    idp.set_mode(Mode::Unavailable);
    let conn = client_credentials(&fx, &idp.url(), &app.client_id, &app.client_secret);
    let err = failed_token_step(&conn, "connect");
    assert!(
        err["message"].as_str().unwrap().contains("HTTP 503"),
        "{err}"
    );
    assert_eq!(err["retryable"], true);
}

#[test]
fn no_secret_or_token_appears_in_any_output_at_trace_level() {
    let fx = Fixture::new();
    let idp = endpoint();
    let app = idp.app(&fx.user);
    let client = idp.public_client();
    let refresh = idp.refresh_token(&client, &fx.user);
    idp.allow_password(&fx.user);
    let auths = [
        json!({"grant": "client_credentials", "client_id": app.client_id, "client_secret": app.client_secret}),
        json!({"grant": "password", "client_id": client, "password": fx.user.password}),
        json!({"grant": "refresh_token", "client_id": client, "refresh_token": refresh, "token_cache_file": fx.dir.path().join("cache.json")}),
    ];
    let mut everything = String::new();
    for (i, grant) in auths.iter().enumerate() {
        let mut block = grant.clone();
        block["token_url"] = json!(idp.url());
        let settings = common::oauth_settings(&fx, block);
        let conn = fx.file(&format!("conn{i}.json"), &settings);
        let input = fx.file(
            "in.json",
            &json!({"from": fx.user.address, "to": [fx.user.address], "subject": "x", "text": "x"}),
        );
        for args in [
            vec!["--log-level", "trace", "check", "--connection", &conn],
            vec![
                "--log-level",
                "trace",
                "run",
                "send",
                "--connection",
                &conn,
                "--input",
                &input,
            ],
            vec!["--log-level", "trace", "run", "read", "--connection", &conn],
            vec![
                "--log-level",
                "trace",
                "--log-format",
                "json",
                "check",
                "--connection",
                &conn,
            ],
        ] {
            let out = run(&args);
            assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
            everything.push_str(&stderr(&out));
            everything.push_str(&String::from_utf8_lossy(&out.stdout));
        }
    }
    // The spec (manifest) is output too.
    everything.push_str(&String::from_utf8_lossy(&run(&["spec"]).stdout));
    assert!(
        everything.contains("access token received"),
        "the token requests are logged"
    );
    let issued = idp.issued();
    assert!(issued.len() >= 4, "{issued:?}");
    for secret in issued
        .iter()
        .map(String::as_str)
        .chain([app.client_secret.as_str(), fx.user.password.as_str()])
    {
        assert!(
            !everything.contains(secret),
            "leaked: {secret} in\n{everything}"
        );
        // JWTs are three parts; none of the signed parts may show either.
        for part in secret.split('.').filter(|p| p.len() > 20) {
            assert!(!everything.contains(part), "part of a token leaked");
        }
    }
}

/// A server that answers every request with `404 Not Found`: a `token_url` that is not
/// a token endpoint.
fn not_found_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/not-the-token-endpoint",
        listener.local_addr().expect("addr")
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8).flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
            );
        }
    });
    url
}

#[test]
fn a_token_url_that_is_not_an_endpoint_is_a_config_error_at_the_blocks_own_path() {
    // The IMAP server logs in with its own OAuth block, at /imap/auth: the error names
    // that block's token_url, not the top-level /auth.
    let fx = Fixture::new();
    let mut settings = fx.settings();
    settings["imap"]["auth"] = json!({
        "type": "oauth2", "username": fx.user.address, "grant": "client_credentials",
        "token_url": not_found_server(), "client_id": "app", "client_secret": "s",
    });
    let conn = fx.file("conn.json", &settings);
    let out = run(&["check", "--connection", &conn]);
    let report = stdout_json(&out);
    let token = step(&report, "oauth2.token");
    assert_eq!(token["status"], "failed", "{report}");
    assert_eq!(token["error"]["kind"], "config", "{report}");
    assert_eq!(token["error"]["path"], "/imap/auth/token_url", "{report}");
    assert!(
        token["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 404 Not Found: \"not found\": is this the token endpoint?"),
        "{report}"
    );
    // SMTP logs in with the top-level password and is unaffected.
    assert_eq!(step(&report, "smtp.auth")["status"], "ok", "{report}");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn a_token_urls_query_never_reaches_the_logs() {
    // Some providers take a key in the token URL's query; it is a credential too.
    let fx = Fixture::new();
    let idp = endpoint();
    let app = idp.app(&fx.user);
    let url = format!("{}?api_key=q-s3cret-in-query", idp.url());
    let conn = client_credentials(&fx, &url, &app.client_id, &app.client_secret);
    for format in ["text", "json"] {
        let out = run(&[
            "--log-level",
            "trace",
            "--log-format",
            format,
            "check",
            "--connection",
            &conn,
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(
            !all.contains("q-s3cret-in-query"),
            "{format}: the query leaked"
        );
        assert!(
            all.contains("api_key") || all.contains("?***"),
            "{format}: the URL is logged, redacted"
        );
    }
}
