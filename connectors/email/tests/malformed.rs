//! A message that cannot be read (over a limit, or nested past it) is reported with its
//! UID and left untouched; the others go on. A message without a header is not one of
//! those: it is read as its body.

mod common;

use common::{Fixture, code, last_error, raw_message, records};
use serde_json::json;

#[test]
fn an_unreadable_message_among_good_ones() {
    let fx = Fixture::new();
    fx.plant(&raw_message("good1@x", "good one", "a@example.test"));
    // A header of 2,000 bytes, over this run's max_header_bytes.
    fx.plant(&format!(
        "X-Padding: {}\r\nSubject: too big\r\n\r\nbody\r\n",
        "p".repeat(2_000)
    ));
    fx.plant(&raw_message("good2@x", "good two", "a@example.test"));
    let out = fx.read(json!({"max_header_bytes": 1024}));
    assert_eq!(code(&out), 1, "the run reports the bad message");
    let recs = records(&out);
    assert_eq!(
        recs.iter()
            .map(|r| r["subject"].clone())
            .collect::<Vec<_>>(),
        [json!("good one"), json!("good two")]
    );
    let err = last_error(&out);
    assert_eq!(err["kind"], "protocol");
    let msg = err["message"].as_str().expect("message");
    assert!(
        msg.contains("uid 2") && msg.contains("bytes"),
        "names the uid and size: {msg}"
    );
    let stored = fx.stored("INBOX");
    assert!(stored[0].seen() && stored[2].seen(), "good ones committed");
    assert!(!stored[1].seen(), "the bad one is left untouched");
}

#[test]
fn a_message_without_a_header_is_read_as_its_body() {
    // Before, "it cannot be parsed as MIME": left unread, and every later run failed
    // on it again (mime4j's malformedHeader-noheader).
    let fx = Fixture::new();
    fx.plant("no header here,\r\njust text\r\n");
    fx.plant("\r\n\r\n");
    let out = fx.read(json!({}));
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["text"], "no header here,\njust text");
    assert!(recs[0]["subject"].is_null() && recs[0]["from"] == json!([]));
    assert!(recs[1]["text"].is_null() || recs[1]["text"] == "");
    assert!(
        fx.stored("INBOX").iter().all(|m| m.seen()),
        "both delivered, both marked"
    );
}

#[test]
fn odd_but_parseable_messages_are_still_read() {
    let fx = Fixture::new();
    // Latin-1 body, RFC 2047 subject, RFC 2231 file name, a nested message.
    fx.plant(concat!(
        "From: =?iso-8859-1?q?Andr=E9?= <andre@example.test>\r\n",
        "Subject: =?utf-8?b?w4ljb2xl?=\r\n",
        "Message-ID: <odd@x>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
        "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n",
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt\r\n\r\nhello\r\n",
        "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: x@example.test\r\n\r\ninner body\r\n",
        "--b--\r\n"
    ));
    let recs = records(&fx.read(json!({})));
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["from"][0]["name"], "André");
    assert_eq!(r["subject"], "École");
    assert_eq!(r["text"], "café");
    let names: Vec<&str> = r["attachments"]
        .as_array()
        .expect("atts")
        .iter()
        .filter_map(|a| a["filename"].as_str())
        .collect();
    assert!(names.contains(&"résumé.txt"), "{names:?}");
}

/// A message whose body is a `message/rfc822` whose body is one too, `depth` deep.
fn nested(depth: usize) -> String {
    let mut out = String::from("Message-ID: <poison@x>\r\nFrom: a@example.test\r\n");
    for _ in 0..depth {
        out.push_str("Subject: x\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    out.push_str("Subject: core\r\n\r\nhello\r\n");
    out
}

#[test]
fn a_poison_message_nested_40000_deep_does_not_stop_the_mailbox() {
    // 1.3 MB that any sender can deliver: it used to abort every run with a stack
    // overflow (exit 134), so no later message was ever read.
    let fx = Fixture::new();
    fx.plant(&raw_message("before@x", "before", "a@example.test"));
    fx.plant(&nested(40_000));
    fx.plant(&raw_message("after@x", "after", "a@example.test"));
    let out = fx.read(json!({}));
    assert_eq!(code(&out), 1, "the run reports the poison message");
    let subjects: Vec<_> = records(&out).iter().map(|r| r["subject"].clone()).collect();
    assert_eq!(subjects, [json!("before"), json!("after")]);
    let err = last_error(&out);
    assert_eq!(err["kind"], "protocol");
    let msg = err["message"].as_str().expect("message");
    assert!(
        msg.contains("uid 2") && msg.contains("nested more than 100 deep"),
        "{msg}"
    );
    let stored = fx.stored("INBOX");
    assert!(
        stored[0].seen() && stored[2].seen(),
        "the good ones are committed"
    );
    assert!(!stored[1].seen(), "the poison message is left untouched");

    // The limit is a setting: within it, the message is read.
    let shallow = Fixture::new();
    shallow.plant(&nested(150));
    let out = shallow.read(json!({"max_nesting_depth": 200}));
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    assert_eq!(records(&out).len(), 1);
    let out = shallow.read(json!({"max_nesting_depth": 0}));
    assert_eq!(code(&out), 2, "the limit's own bounds are enforced");
}
