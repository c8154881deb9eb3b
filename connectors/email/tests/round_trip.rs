//! Send Email, then Read Email: every field arrives as it was sent.

mod common;

use base64::Engine as _;
use common::{Fixture, code, records, servers};
use serde_json::json;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn every_field_survives_the_round_trip() {
    let fx = Fixture::new();
    let s = servers();
    let (cc, bcc) = (s.new_user(), s.new_user());
    // Every byte value, so any re-encoding shows.
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let text_file = b"line one\nline two\r\nno final newline";
    let png = [
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
    ];
    let attachment_path = fx.dir.path().join("report.csv");
    std::fs::write(&attachment_path, "a,b\n1,2\n").expect("write");

    let response = fx.deliver_via_smtp(json!({
        "from": {"name": "Zoë Ångström", "address": fx.peer.address},
        "to": [format!("Jürgen Müller <{}>", fx.user.address)],
        "cc": [cc.address],
        "bcc": [bcc.address],
        "reply_to": ["Support Desk <support@example.test>"],
        "subject": "Grüße aus Köln — 東京 ✓ a long subject that has to be folded across more than one header line",
        "text": "Plain text, ünïcödé.\nSecond line.",
        "html": "<p>HTML <b>body</b> <img src=\"cid:logo\"></p>",
        "attachments": [
            {"filename": "data.bin", "content_base64": b64(&binary)},
            {"filename": "notes.txt", "content_base64": b64(text_file)},
            {"path": attachment_path},
            {"filename": "rapport été.pdf", "content_type": "application/pdf", "content_base64": b64(b"%PDF-1.4")},
            {"filename": "logo.png", "content_base64": b64(&png), "inline": true, "content_id": "logo"}
        ],
        "headers": {"X-Ticket": "42", "X-Unicode": "Grüße"},
        "in_reply_to": "<parent@example.test>",
        "references": ["<root@example.test>", "<parent@example.test>"],
        "priority": "high"
    }));
    let result = &response[0];
    assert_eq!(result["status"], "sent");
    let mut accepted: Vec<&str> = result["accepted"]
        .as_array()
        .expect("accepted")
        .iter()
        .map(|a| a.as_str().expect("str"))
        .collect();
    accepted.sort();
    let mut expected = vec![
        fx.user.address.as_str(),
        cc.address.as_str(),
        bcc.address.as_str(),
    ];
    expected.sort();
    assert_eq!(accepted, expected, "to, cc and bcc are all recipients");
    let message_id = result["message_id"]
        .as_str()
        .expect("message id")
        .to_owned();

    // Bcc was delivered, but appears in no header anywhere.
    s.wait_for(&bcc, "INBOX", 1, std::time::Duration::from_secs(10))
        .expect("bcc delivered");
    let raw =
        String::from_utf8_lossy(&s.raw_message(&fx.user, "INBOX", 1).expect("raw")).to_lowercase();
    assert!(
        !raw.contains("bcc:") && !raw.contains(&bcc.address),
        "Bcc leaked into the headers"
    );

    let out = fx.read(json!({}));
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["message_id"], message_id);
    assert_eq!(r["uid"], 1);
    assert!(r["uid_validity"].as_u64().expect("uid_validity") > 0);
    assert_eq!(
        r["subject"],
        "Grüße aus Köln — 東京 ✓ a long subject that has to be folded across more than one header line"
    );
    assert_eq!(
        r["from"],
        json!([{"name": "Zoë Ångström", "address": fx.peer.address}])
    );
    assert_eq!(
        r["to"],
        json!([{"name": "Jürgen Müller", "address": fx.user.address}])
    );
    assert_eq!(r["cc"], json!([{"name": null, "address": cc.address}]));
    assert_eq!(
        r["reply_to"],
        json!([{"name": "Support Desk", "address": "support@example.test"}])
    );
    assert_eq!(r["text"], "Plain text, ünïcödé.\nSecond line.");
    assert_eq!(r["html"], "<p>HTML <b>body</b> <img src=\"cid:logo\"></p>");
    assert_eq!(r["in_reply_to"], "<parent@example.test>");
    assert_eq!(
        r["references"],
        json!(["<root@example.test>", "<parent@example.test>"])
    );
    assert!(r["date"].as_str().expect("date").ends_with('Z'));
    let header = |name: &str| {
        r["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .find(|h| h["name"].as_str().expect("name").eq_ignore_ascii_case(name))
            .map(|h| h["value"].clone())
    };
    assert_eq!(header("X-Ticket"), Some(json!("42")));
    assert_eq!(header("X-Priority"), Some(json!("1 (Highest)")));
    assert_eq!(header("Importance"), Some(json!("high")));
    assert!(header("X-Unicode").is_some());
    assert!(header("Bcc").is_none());

    let attachments = r["attachments"].as_array().expect("attachments");
    let find = |name: &str| {
        attachments
            .iter()
            .find(|a| a["filename"] == name)
            .unwrap_or_else(|| panic!("no {name} in {attachments:?}"))
    };
    let bytes = |a: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(a["content_base64"].as_str().expect("content"))
            .expect("base64")
    };
    assert_eq!(
        bytes(find("data.bin")),
        binary,
        "binary attachment must be byte-exact"
    );
    assert_eq!(
        bytes(find("notes.txt")),
        text_file,
        "text attachment must keep its line endings"
    );
    assert_eq!(bytes(find("report.csv")), b"a,b\n1,2\n");
    assert_eq!(find("report.csv")["content_type"], "text/csv");
    assert_eq!(find("rapport été.pdf")["content_type"], "application/pdf");
    let logo = find("logo.png");
    assert_eq!(logo["inline"], true);
    assert_eq!(logo["content_id"], "logo");
    assert_eq!(logo["content_type"], "image/png");
    assert_eq!(bytes(logo), png);
    assert_eq!(find("data.bin")["size"], 70_000);
}

#[test]
fn html_only_and_text_only_messages() {
    let fx = Fixture::new();
    fx.deliver_via_smtp(json!({"subject": "html only", "html": "<h1>Hi</h1>"}));
    fx.deliver_via_smtp(json!({"subject": "text only", "text": "just text"}));
    let recs = records(&fx.read(json!({})));
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["html"], "<h1>Hi</h1>");
    assert_eq!(recs[0]["text"], json!(null), "no text part was sent");
    assert_eq!(recs[1]["text"], "just text");
    assert_eq!(recs[1]["html"], json!(null));
}
