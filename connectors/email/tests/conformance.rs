//! The conformance suite over the Email connector, against real Postfix and Dovecot.

use std::time::Duration;

use connector_testkit::conformance::{SourceCase, Suite};
use email_testsupport::mail::{MailServers, Transport};
use serde_json::json;

const CANARY: &str = "canary-7Qx9-never-print-me";

fn servers() -> &'static MailServers {
    MailServers::shared()
        .unwrap_or_else(|e| panic!("the mail servers must start for this suite: {e}"))
}

fn suite() -> Suite {
    let s = servers();
    let someone = s.new_user();
    // Valid settings whose password is the canary (the server refuses it).
    let mut with_canary = s.connection(&someone, Transport::Starttls);
    with_canary["auth"]["password"] = json!(CANARY);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut unreachable = s.connection(&someone, Transport::Starttls);
    unreachable["smtp"]["port"] = json!(closed);
    unreachable["imap"]["port"] = json!(closed);
    unreachable["timeouts"] = json!({"connect_secs": 2, "io_secs": 2});
    let mut bad_port = with_canary.clone();
    bad_port["imap"]["port"] = json!(0);
    let mut bad_security = with_canary.clone();
    bad_security["smtp"]["security"] = json!("ssl");
    let mut missing_password = with_canary.clone();
    missing_password["auth"] = json!({"type": "basic", "username": "u"});

    Suite::new(env!("CARGO_BIN_EXE_email-connector"), "email")
        .snapshots(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"))
        .allow_break(
            "activities/send/response/error/0/kind",
            "0.2.0 is not released yet: the SDK's error kinds gain `rate_limited` in it",
        )
        .allow_break(
            "activities/read/record/change",
            "0.2.0 is not released yet: flag_changes reports expunged messages (`vanished`) in it",
        )
        .allow_break(
            "activities/send/response/status",
            "0.2.0 is not released yet: the send journal adds the `already_sent` status in it",
        )
        .wrong_credentials({
            let refused = with_canary.clone();
            move || refused.clone()
        })
        .silent(
            |port| {
                json!({
                    "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "auth": {"type": "none"}},
                    "imap": {"host": "127.0.0.1", "port": port, "security": "none"},
                    "auth": {"type": "basic", "username": "u", "password": "p"},
                    "allow_insecure_auth": true,
                    "timeouts": {"connect_secs": 2, "io_secs": 2}
                })
            },
            Duration::from_secs(4),
        )
        .invalid_config(
            "read",
            json!({"after_read": {"move_to": "INBOX"}}),
            "/after_read/move_to",
        )
        .connection(with_canary)
        .canary(CANARY)
        .invalid_connection(bad_port, "/imap/port")
        .invalid_connection(bad_security, "/smtp/security")
        .invalid_connection(missing_password, "/auth/password")
        .config("send", json!({"from": "sender@example.test"}))
        .config("read", json!({"folder": "INBOX"}))
        .unreachable(unreachable, Duration::from_secs(2))
        .live(|| {
            let s = servers();
            s.connection(&s.new_user(), Transport::Starttls)
        })
        .source("read", "/message_id", || {
            let s = servers();
            let user = s.new_user();
            for i in 0..12 {
                let raw = format!(
                    "From: a@example.test\r\nSubject: conformance {i}\r\nMessage-ID: <{i}.{}@conformance>\r\n\r\nbody {i}\r\n",
                    user.address
                );
                s.deliver(&user, "INBOX", raw.as_bytes()).expect("plant");
            }
            SourceCase { connection: s.connection(&user, Transport::Tls), config: json!({}), records: 12, guard: Box::new(user) }
        })
        .target(
            "send",
            json!({}),
            json!({"from": "conformance@example.test", "to": ["user200@example.test"], "subject": "conformance", "text": "x"}),
            || {
                let s = servers();
                s.connection(&s.new_user(), Transport::Starttls)
            },
        )
        .invalid_request(json!({"from": "a@example.test", "subject": "no recipient"}), "/to")
        .invalid_request(json!({"from": "a@example.test", "to": ["x@y\r\nBcc: z@w"]}), "/to/0")
}

connector_testkit::conformance_tests!(suite());
