//! Tokens that expire while the connector works: a cached token the server refuses is
//! replaced once; an IMAP session the server ends when its token expires (as
//! Microsoft 365 does) is reopened with a new token in the middle of a read; SMTP
//! sessions lost in the middle of a batch are reopened with a new token. Nothing is
//! lost or delivered twice.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BIN, Fixture, code, servers, stderr, stdout_json, step};
use email_testsupport::mail::BUSY;
use email_testsupport::oauth::TokenEndpoint;
use serde_json::{Value, json};

fn endpoint() -> TokenEndpoint {
    TokenEndpoint::start(servers()).expect("token endpoint")
}

/// App-only settings for the fixture's mailbox, with an app whose tokens open
/// `mailbox`'s.
fn app_only(fx: &Fixture, idp: &TokenEndpoint, mailbox: &common::User, extra: Value) -> Value {
    let app = idp.app(mailbox);
    let mut block = json!({
        "grant": "client_credentials",
        "token_url": idp.url(),
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    });
    block
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    common::oauth_settings(fx, block)
}

#[test]
fn a_cached_token_the_server_refuses_is_replaced_once() {
    let fx = Fixture::new();
    let idp = endpoint();
    // Tokens die after 2 s but the endpoint says they last an hour: the cached one is
    // stale when the next run uses it (as a revoked token would be).
    idp.set_lifetime(Duration::from_secs(2));
    idp.set_reported_lifetime(Some(Duration::from_secs(3600)));
    let settings = app_only(
        &fx,
        &idp,
        &fx.user,
        json!({"token_cache_file": fx.dir.path().join("cache.json")}),
    );
    let conn = fx.file("oauth.json", &settings);
    let out = common::run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(3100));

    let out = common::run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = stdout_json(&out);
    assert!(
        step(&report, "oauth2.token")["detail"]
            .as_str()
            .unwrap()
            .contains("token cached from"),
        "{report}"
    );
    assert_eq!(step(&report, "smtp.auth")["status"], "ok");
    assert_eq!(step(&report, "imap.login")["status"], "ok");
    assert!(
        stderr(&out).contains("refused the cached access token"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        idp.tokens_issued("client_credentials"),
        2,
        "one new token, used by SMTP and IMAP"
    );
}

#[test]
fn a_token_refused_right_after_it_was_issued_is_not_requested_again() {
    // The app's tokens are for another mailbox (no mailbox permission for this one):
    // asking again would only repeat the refusal.
    let fx = Fixture::new();
    let idp = endpoint();
    let settings = app_only(&fx, &idp, &fx.peer, json!({}));
    let out = common::run(&["check", "--connection", &fx.file("oauth.json", &settings)]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    assert_eq!(step(&report, "oauth2.token")["status"], "ok");
    assert_eq!(step(&report, "smtp.auth")["error"]["kind"], "auth");
    assert_eq!(step(&report, "imap.login")["error"]["kind"], "auth");
    assert_eq!(idp.tokens_issued("client_credentials"), 1);
}

#[test]
fn an_imap_session_ended_when_its_token_expires_is_resumed_without_loss_or_repeats() {
    let fx = Fixture::new();
    let idp = endpoint();
    idp.set_lifetime(Duration::from_secs(2));
    // 400 messages of 20 KB: far more than the output pipe (the host widens it to
    // 1 MiB) and the socket's buffers hold, so the connector is still reading when the
    // session ends.
    let total = 400;
    let filler = "x".repeat(20_000);
    servers()
        .fill_inbox(
            &fx.user,
            (0..total).map(|i| {
                common::raw_message(&format!("m{i}@test"), &format!("message {i}"), "a@test")
                    .replace("Body of", &format!("{filler} Body of"))
            }),
        )
        .expect("fill");
    let settings = app_only(&fx, &idp, &fx.user, json!({}));
    let conn = fx.file("oauth.json", &settings);
    let config = fx.file(
        "read.json",
        &json!({"batch_size": 25, "max_messages": 1000}),
    );
    let mut child = Command::new(BIN)
        .args(["run", "read", "--connection", &conn, "--config", &config])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a record").expect("read");
    // The connector is now blocked on the full pipe with most messages unread. The
    // token expires; the server ends the session, as Microsoft 365 does.
    std::thread::sleep(Duration::from_millis(3100));
    servers().kick(&fx.user).expect("kick");
    let mut records = vec![first];
    records.extend(lines.map(|l| l.expect("line")));
    let out = child.wait_with_output().expect("wait");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("connection lost") && stderr(&out).contains("logging in again"),
        "{}",
        stderr(&out)
    );
    let uids: Vec<u64> = records
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["uid"]
                .as_u64()
                .expect("uid")
        })
        .collect();
    assert_eq!(uids.len(), total, "every message once");
    assert_eq!(
        uids.iter().collect::<HashSet<_>>().len(),
        total,
        "no message twice"
    );
    assert_eq!(
        idp.tokens_issued("client_credentials"),
        2,
        "a new token for the new session"
    );
    let stored = fx.stored("INBOX");
    assert_eq!(stored.len(), total);
    assert!(
        stored.iter().all(|m| m.seen()),
        "every delivered message was marked read, also those committed after the reconnect"
    );
}

#[test]
fn smtp_sessions_lost_in_a_batch_are_reopened_with_a_new_token() {
    let fx = Fixture::new();
    let idp = endpoint();
    idp.set_lifetime(Duration::from_secs(2));
    let settings = app_only(&fx, &idp, &fx.user, json!({}));
    let conn = fx.file("oauth.json", &settings);
    // The first message waits for a retry (its recipient answers 451) while its
    // session sits idle; the session is then dropped and the token has expired.
    let mut batch =
        vec![json!({"from": fx.user.address, "to": [BUSY], "subject": "busy", "text": "x"})];
    for i in 0..5 {
        batch.push(json!({"from": fx.user.address, "to": [fx.user.address], "subject": format!("after {i}"), "text": "x"}));
    }
    let input = fx.file("batch.json", &json!(batch));
    let config = fx.file(
        "send.json",
        &json!({"concurrency": 1, "max_retries": 1, "retry_backoff_ms": 2500}),
    );
    let child = Command::new(BIN)
        .args([
            "run",
            "send",
            "--connection",
            &conn,
            "--config",
            &config,
            "--input",
            &input,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1200));
    let dropped = servers().drop_smtp_sessions().expect("drop sessions");
    assert!(dropped >= 1, "the connector's session was open");
    let out = child.wait_with_output().expect("wait");
    // The busy recipient's message fails (retryable); the others went out once each.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let results = common::results(&out);
    assert_eq!(results[0]["status"], "failed");
    assert_eq!(results[0]["error"]["retryable"], true);
    for r in &results[1..] {
        assert_eq!(r["status"], "sent", "{r}");
        assert_eq!(r["attempts"], 1, "{r}");
    }
    assert_eq!(idp.tokens_issued("client_credentials"), 2);
    let stored = servers()
        .wait_for(&fx.user, "INBOX", 5, Duration::from_secs(10))
        .expect("delivered");
    std::thread::sleep(Duration::from_millis(300));
    let stored_now = fx.stored("INBOX");
    assert_eq!(stored_now.len(), 5, "nothing twice: {stored:?}");
    let ids: HashSet<_> = stored_now.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), 5);
}
