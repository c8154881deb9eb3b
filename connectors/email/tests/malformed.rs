//! A message that cannot be parsed is reported and left untouched; the others go on.

mod common;

use common::{Fixture, code, last_error, raw_message, records};
use serde_json::json;

#[test]
fn an_unparseable_message_among_good_ones() {
    let fx = Fixture::new();
    fx.plant(&raw_message("good1@x", "good one", "a@example.test"));
    // No header at all: not a message.
    fx.plant("\r\n\r\n");
    fx.plant(&raw_message("good2@x", "good two", "a@example.test"));
    let out = fx.read(json!({}));
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
