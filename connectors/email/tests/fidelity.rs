//! Every byte of a message reaches the record, read from real Dovecot: each inline text
//! part (not only the first) with the part it came from, attachments as the sender's
//! own bytes (a text file in Latin-1 is not converted to UTF-8), and the parts of a
//! digest typed as messages (RFC 2046 section 5.1.5), and a uuencoded file in a text
//! body as an attachment.

mod common;

use base64::Engine as _;
use common::{Fixture, code, records, stderr};
use serde_json::json;

const LATIN1: &[u8] = b"caf\xe9 cr\xe8me br\xfbl\xe9e\r\nna\xefve\r\n";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn several_text_parts_a_latin1_file_and_a_digest_come_out_whole() {
    let fx = Fixture::new();
    let raw = format!(
        concat!(
            "From: list@example.test\r\nTo: someone@example.test\r\nSubject: weekly\r\n",
            "Message-ID: <digest@example.test>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n",
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n",
            "--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis week.\r\n",
            "--outer\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n",
            "--d\r\n\r\nFrom: one@example.test\r\nSubject: first\r\n\r\nfirst body\r\n",
            "--d\r\n\r\nFrom: two@example.test\r\nSubject: second\r\n\r\nsecond body\r\n",
            "--d--\r\n",
            "--outer\r\nContent-Type: text/plain; charset=iso-8859-1\r\n",
            "Content-Disposition: attachment; filename=menu.txt\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            "--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n-- \r\nUnsubscribe: reply STOP\r\n",
            "--outer--\r\n"
        ),
        b64(LATIN1)
    );
    fx.plant(&raw);
    let out = fx.read(json!({"after_read": "none", "attachments": "content"}));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let record = &records(&out)[0];

    assert_eq!(
        record["text_parts"],
        json!([
            {"part": "1", "content": "This week."},
            {"part": "4", "content": "-- \nUnsubscribe: reply STOP"}
        ]),
        "{record}"
    );
    assert_eq!(record["text"], "This week.\n\n-- \nUnsubscribe: reply STOP");

    let attachments = record["attachments"].as_array().expect("attachments");
    let menu = attachments
        .iter()
        .find(|a| a["filename"] == "menu.txt")
        .expect("menu.txt");
    assert_eq!(menu["content_base64"], b64(LATIN1), "the sender's bytes");
    assert_eq!(menu["size"], LATIN1.len());
    let digest_parts = attachments
        .iter()
        .filter(|a| a["content_type"] == "message/rfc822")
        .count();
    assert_eq!(digest_parts, 2, "{attachments:?}");
}

#[test]
fn a_text_file_sent_comes_back_with_the_same_checksum() {
    let fx = Fixture::new();
    fx.deliver_via_smtp(json!({
        "subject": "file",
        "text": "attached",
        "attachments": [{
            "filename": "menu.txt",
            "content_type": "text/plain; charset=iso-8859-1",
            "content_base64": b64(LATIN1)
        }]
    }));
    let out = fx.read(json!({"after_read": "none", "attachments": "content"}));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let record = &records(&out)[0];
    let menu = &record["attachments"][0];
    assert_eq!(menu["filename"], "menu.txt", "{record}");
    assert_eq!(menu["content_base64"], b64(LATIN1), "{record}");
}

#[test]
fn a_uuencoded_file_in_a_text_body_comes_out_as_an_attachment() {
    let fx = Fixture::new();
    fx.plant(concat!(
        "From: old@example.test\r\nTo: someone@example.test\r\nSubject: uu\r\n",
        "Message-ID: <uu@example.test>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\n",
        "the file:\r\n\r\nbegin 644 hello.txt\r\n,:&5L;&\\@=V]R;&0*\r\n`\r\nend\r\n"
    ));
    let out = fx.read(json!({"after_read": "none"}));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let record = &records(&out)[0];
    assert_eq!(record["text"], "the file:");
    assert_eq!(record["attachments"][0]["filename"], "hello.txt");
    assert_eq!(
        record["attachments"][0]["content_base64"],
        b64(b"hello world\n")
    );
}
