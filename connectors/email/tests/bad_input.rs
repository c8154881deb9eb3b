//! Bad requests and settings are config errors naming the JSON path, exit 2, and
//! nothing is sent.

mod common;

use common::{Fixture, code, last_error};
use serde_json::{Value, json};

fn refused(fx: &Fixture, input: Value, path: &str) -> Value {
    let out = fx.send(json!({}), input.clone());
    assert_eq!(code(&out), 2, "{input}: {}", common::stderr(&out));
    let err = last_error(&out);
    assert_eq!(err["kind"], "config", "{input}");
    assert_eq!(err["path"], path, "{input}: {err}");
    assert!(out.stdout.is_empty(), "no response for refused input");
    err
}

#[test]
fn header_injection_is_refused_everywhere() {
    let fx = Fixture::new();
    let to = fx.user.address.clone();
    let from = fx.peer.address.clone();
    let base = || json!({"from": from, "to": [to], "subject": "ok", "text": "x"});
    let with = |k: &str, v: Value| {
        let mut r = base();
        r[k] = v;
        r
    };
    refused(
        &fx,
        with("subject", json!("hi\r\nBcc: victim@example.test")),
        "/subject",
    );
    refused(
        &fx,
        with("headers", json!({"X-A": "1\r\nBcc: victim@example.test"})),
        "/headers/X-A",
    );
    refused(
        &fx,
        with("to", json!(["a@example.test\r\nBcc: victim@example.test"])),
        "/to/0",
    );
    refused(
        &fx,
        with(
            "cc",
            json!([{"name": "Eve\nBcc: x@y", "address": "eve@example.test"}]),
        ),
        "/cc/0",
    );
    refused(
        &fx,
        with("in_reply_to", json!("<a@b>\r\nX: y")),
        "/in_reply_to",
    );
    refused(
        &fx,
        with(
            "attachments",
            json!([{"filename": "a\r\n.txt", "content_base64": "eA=="}]),
        ),
        "/attachments/0/filename",
    );
    assert!(fx.stored("INBOX").is_empty(), "nothing was sent");
}

#[test]
fn every_other_bad_request_names_its_path() {
    let fx = Fixture::new();
    let to = fx.user.address.clone();
    let from = fx.peer.address.clone();
    refused(
        &fx,
        json!({"from": from, "to": ["not an address"]}),
        "/to/0",
    );
    refused(&fx, json!({"from": from, "subject": "no recipient"}), "/to");
    refused(&fx, json!({"to": [to]}), "/from");
    refused(
        &fx,
        json!({"from": from, "to": [to], "headers": {"From": "ceo@example.test"}}),
        "/headers/From",
    );
    refused(
        &fx,
        json!({"from": from, "to": [to], "headers": {"message-id": "<x@y>"}}),
        "/headers/message-id",
    );
    refused(
        &fx,
        json!({"from": from, "to": [to], "attachments": [{"path": "/no/such/file.pdf"}]}),
        "/attachments/0/path",
    );
    refused(
        &fx,
        json!({"from": from, "to": [to], "attachments": [{"filename": "a", "content_base64": "!!!"}]}),
        "/attachments/0/content_base64",
    );
    refused(
        &fx,
        json!({"from": from, "to": [to], "attachments": [{"filename": "a.png", "content_base64": "eA==", "inline": true}]}),
        "/attachments/0/content_id",
    );
    refused(
        &fx,
        json!({"from": from, "to": [to], "priority": "urgent"}),
        "/priority",
    );
    refused(
        &fx,
        json!({"from": from, "to": [to], "sbject": "typo"}),
        "/sbject",
    );
    // One bad request in a batch: nothing of the batch is sent.
    refused(
        &fx,
        json!([{"from": from, "to": [to], "subject": "fine"}, {"from": from, "to": []}]),
        "/1/to",
    );
    assert!(fx.stored("INBOX").is_empty(), "nothing was sent");
}

#[test]
fn bad_connection_and_read_settings_name_their_paths() {
    let fx = Fixture::new();
    let check = |settings: Value, path: &str| {
        let out = common::run(&["check", "--connection", &fx.file("c.json", &settings)]);
        assert_eq!(code(&out), 2, "{settings}");
        assert_eq!(last_error(&out)["path"], path, "{settings}");
    };
    let mut s = fx.settings();
    s["imap"]["port"] = json!(70000);
    check(s, "/imap/port");
    let mut s = fx.settings();
    s["smtp"]["security"] = json!("ssl");
    check(s, "/smtp/security");
    let mut s = fx.settings();
    s["auth"] =
        json!({"type": "basic", "username": "u", "password": {"env": "NO_SUCH_MAIL_PASSWORD"}});
    check(s, "/auth/password");
    let mut s = fx.settings();
    s["allow_insecure_auth"] = json!(false);
    s["imap"]["security"] = json!("none");
    check(s, "/imap/security");
    let mut s = fx.settings();
    s["tls"]["ca_file"] = json!("/no/such/ca.pem");
    check(s, "/tls/ca_file");

    let read = |config: Value, path: &str| {
        let out = fx.read(config.clone());
        assert_eq!(code(&out), 2, "{config}");
        assert_eq!(last_error(&out)["path"], path, "{config}");
    };
    read(json!({"after_read": "archive"}), "/after_read");
    read(json!({"filter": {"since": "2026-13-01"}}), "/filter/since");
    read(json!({"filter": {"subject": "a\r\nb"}}), "/filter/subject");
    read(json!({"max_messages": 0}), "/max_messages");
}
