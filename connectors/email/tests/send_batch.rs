//! A batch goes over pooled sessions; each message gets its own result line; transient
//! failures are retried, permanent ones are not; any failure exits 1 with every result
//! printed.

mod common;

use common::{Fixture, code, last_error, results};
use email_testsupport::mail::BUSY;
use serde_json::json;

#[test]
fn a_batch_sends_every_message_over_a_few_sessions() {
    let fx = Fixture::new();
    let batch: Vec<_> = (0..30)
        .map(|i| json!({"from": fx.peer.address, "to": [fx.user.address], "subject": format!("batch {i}"), "text": "x"}))
        .collect();
    let (conn, config, input) = (
        fx.conn(),
        fx.file("send.json", &json!({"concurrency": 3})),
        fx.file("in.json", &json!(batch)),
    );
    let out = common::run(&[
        "--log-level",
        "email_connector=debug",
        "run",
        "send",
        "--connection",
        &conn,
        "--config",
        &config,
        "--input",
        &input,
    ]);
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    let results = results(&out);
    assert_eq!(results.len(), 30);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
        assert_eq!(r["status"], "sent");
        assert_eq!(r["attempts"], 1);
    }
    let ids: std::collections::HashSet<_> =
        results.iter().map(|r| r["message_id"].clone()).collect();
    assert_eq!(ids.len(), 30, "every message has its own Message-ID");
    common::servers()
        .wait_for(&fx.user, "INBOX", 30, std::time::Duration::from_secs(20))
        .expect("all delivered");
    // Three pooled sessions, not thirty: count the connections the connector opened.
    let connections = common::stderr(&out)
        .lines()
        .filter(|l| l.contains("SMTP") && l.contains(": connected"))
        .count();
    assert_eq!(connections, 3, "{}", common::stderr(&out));
}

#[test]
fn refused_recipients_are_reported_with_the_server_reason() {
    let fx = Fixture::new();
    let out = fx.send(
        json!({}),
        json!([
            {"from": fx.peer.address, "to": [fx.user.address, "nobody@example.test"], "subject": "partly", "text": "x"},
            {"from": fx.peer.address, "to": ["nobody@example.test"], "subject": "nobody", "text": "x"}
        ]),
    );
    assert_eq!(code(&out), 1, "one message failed");
    let response = results(&out);
    let partly = &response[0];
    assert_eq!(partly["status"], "sent");
    assert_eq!(partly["accepted"], json!([fx.user.address]));
    assert_eq!(partly["rejected"][0]["address"], "nobody@example.test");
    assert!(
        partly["rejected"][0]["reason"]
            .as_str()
            .expect("reason")
            .starts_with("550"),
        "{partly}"
    );
    let failed = &response[1];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 1, "a permanent refusal is not retried");
    assert_eq!(failed["error"]["kind"], "rejected");
    assert_eq!(failed["error"]["retryable"], false);
    let err = last_error(&out);
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .starts_with("1 of 2 requests failed"),
        "{err}"
    );
}

#[test]
fn transient_failures_are_retried_with_backoff_then_reported() {
    let fx = Fixture::new();
    let started = std::time::Instant::now();
    let out = fx.send(
        json!({"max_retries": 2, "retry_backoff_ms": 100}),
        json!({"from": fx.peer.address, "to": [BUSY], "subject": "busy", "text": "x"}),
    );
    assert_eq!(code(&out), 1);
    let r = &results(&out)[0];
    assert_eq!(r["status"], "failed");
    assert_eq!(r["attempts"], 3, "one try and two retries");
    assert_eq!(r["error"]["retryable"], true);
    assert!(
        r["rejected"][0]["reason"]
            .as_str()
            .expect("reason")
            .starts_with("451"),
        "{r}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "100 ms then 200 ms of backoff"
    );
    assert_eq!(last_error(&out)["retryable"], true);
}

#[test]
fn a_wrong_password_ends_the_batch_after_one_login_attempt() {
    // Microsoft 365 and Gmail lock accounts that keep failing: one attempt per batch,
    // not one per message or per session.
    let fx = Fixture::new();
    let mut settings = fx.settings();
    settings["auth"]["password"] = json!("wrong");
    let batch: Vec<_> = (0..6)
        .map(|_| json!({"from": fx.peer.address, "to": [fx.user.address], "text": "x"}))
        .collect();
    let out = fx.send_via(&settings, json!({"concurrency": 3}), json!(batch));
    assert_eq!(code(&out), 1, "{}", common::stderr(&out));
    let err = last_error(&out);
    assert_eq!(err["kind"], "auth", "{err}");
    assert_eq!(err["retryable"], false);
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .contains("nothing was sent"),
        "{err}"
    );
    assert!(results(&out).is_empty(), "no message was taken");
    // Dovecot (which checks Postfix's logins) saw exactly one attempt for this user.
    let log = std::fs::read_to_string(common::servers().dir().join("log/dovecot.log"))
        .expect("dovecot log");
    let attempts = log
        .lines()
        .filter(|l| l.contains(&fx.user.address) && l.contains("Password mismatch"))
        .count();
    assert_eq!(attempts, 1, "login attempts: {attempts}");
}
