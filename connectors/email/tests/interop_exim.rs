//! Send Email against Exim 4.96 (Debian's binary), an SMTP server of another family
//! than Postfix, with its own PIPELINING, CHUNKING and SMTPUTF8: what Exim delivers is
//! written into a Dovecot user's Maildir and read back over IMAP, byte for byte
//! (attachments by SHA-256). A recipient Exim refuses comes back refused, the others
//! delivered.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{Fixture, Transport, code, records, results, servers, stderr};
use email_testsupport::exim::Exim;
use serde_json::json;
use sha2::Digest as _;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

#[test]
fn a_message_sent_through_exim_reads_back_byte_for_byte() {
    let fx = Fixture::with(Transport::Plain);
    let maildir = servers().open_inbox_maildir(&fx.user).expect("maildir");
    let exim = Exim::start(&maildir).unwrap_or_else(|e| panic!("Exim must start: {e}"));
    let mut settings = fx.settings();
    settings["smtp"] = exim.smtp();

    let binary: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let request = json!({
        "from": fx.peer.address,
        "to": [fx.user.address, "someone@elsewhere.test"],
        "subject": "Grüße über Exim",
        "text": "Zeile eins\nZeile zwei: ü ß é\n",
        "attachments": [
            {"filename": "data.bin", "content_base64": b64(&binary)},
            {"filename": "notes.txt", "content_base64": b64(b"plain notes\r\n")}
        ]
    });
    let out = fx.send_via(&settings, json!({}), request);
    let sent = results(&out);
    assert_eq!(sent.len(), 1, "{}\n{}", stderr(&out), exim.log());
    // Exim refuses the recipient outside its domain; the other is delivered.
    assert_eq!(sent[0]["status"], "sent", "{}", sent[0]);
    let refused = sent[0]["rejected"].as_array().expect("refused recipients");
    assert_eq!(refused.len(), 1, "{}", sent[0]);
    assert_eq!(refused[0]["address"], "someone@elsewhere.test");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Exim logs `K` for a message received with CHUNKING (BDAT).
    let log = exim.log();
    assert!(log.contains("P=esmtp K "), "sent with BDAT: {log}");

    servers()
        .wait_for(&fx.user, "INBOX", 1, Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("delivered by Exim: {e}\n{}", exim.log()));
    let out = fx.read(json!({}));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["subject"], "Grüße über Exim");
    assert_eq!(r["from"][0]["address"], fx.peer.address.as_str());
    assert_eq!(r["text"], "Zeile eins\nZeile zwei: ü ß é");
    assert!(
        r["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .any(|h| h["name"] == "Received"
                && h["value"].as_str().is_some_and(|v| v.contains("Exim"))),
        "went through Exim"
    );
    let attachments = r["attachments"].as_array().expect("attachments");
    let got: Vec<(String, String)> = attachments
        .iter()
        .map(|a| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(a["content_base64"].as_str().expect("content"))
                .expect("base64");
            (
                a["filename"].as_str().unwrap_or_default().to_owned(),
                sha(&bytes),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("data.bin".to_owned(), sha(&binary)),
            ("notes.txt".to_owned(), sha(b"plain notes\r\n"))
        ]
    );
}

#[test]
fn a_batch_goes_through_one_exim_session_with_each_result() {
    let fx = Fixture::with(Transport::Plain);
    let maildir = servers().open_inbox_maildir(&fx.user).expect("maildir");
    let exim = Exim::start(&maildir).unwrap_or_else(|e| panic!("Exim must start: {e}"));
    let mut settings = fx.settings();
    settings["smtp"] = exim.smtp();
    let batch: Vec<_> = (0..20)
        .map(|i| json!({"from": fx.peer.address, "to": [fx.user.address], "subject": format!("batch {i}"), "text": "x"}))
        .collect();
    let out = fx.send_via(&settings, json!({}), json!(batch));
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), exim.log());
    let sent = results(&out);
    assert_eq!(sent.len(), 20);
    assert!(sent.iter().all(|r| r["status"] == "sent"), "{sent:?}");
    servers()
        .wait_for(&fx.user, "INBOX", 20, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("all delivered: {e}\n{}", exim.log()));
}
