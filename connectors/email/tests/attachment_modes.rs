//! Attachments as content, metadata or nothing, and the size limit.

mod common;

use base64::Engine as _;
use common::{Fixture, records};
use serde_json::json;

fn send_with_attachments(fx: &Fixture) {
    let small = base64::engine::general_purpose::STANDARD.encode(b"small file");
    let big = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 200_000]);
    fx.deliver_via_smtp(json!({
        "subject": "files",
        "text": "see attached",
        "attachments": [
            {"filename": "small.txt", "content_base64": small},
            {"filename": "big.bin", "content_base64": big}
        ]
    }));
}

#[test]
fn content_mode_includes_data_under_the_limit_and_marks_the_rest_skipped() {
    let fx = Fixture::new();
    send_with_attachments(&fx);
    let recs = records(&fx.read(json!({"after_read": "none", "max_attachment_bytes": 100_000})));
    let atts = recs[0]["attachments"].as_array().expect("attachments");
    assert_eq!(atts.len(), 2);
    assert_eq!(atts[0]["filename"], "small.txt");
    assert_eq!(
        atts[0]["content_base64"],
        base64::engine::general_purpose::STANDARD.encode(b"small file")
    );
    assert_eq!(atts[1]["filename"], "big.bin");
    assert_eq!(atts[1]["size"], 200_000);
    assert!(atts[1].get("content_base64").is_none());
    assert!(
        atts[1]["skipped"]
            .as_str()
            .expect("skipped")
            .contains("max_attachment_bytes")
    );
    assert_eq!(
        recs[0]["text"], "see attached",
        "the message itself is not failed"
    );
}

#[test]
fn metadata_mode_lists_without_content_and_none_mode_lists_nothing() {
    let fx = Fixture::new();
    send_with_attachments(&fx);
    let recs = records(&fx.read(json!({"after_read": "none", "attachments": "metadata"})));
    let atts = recs[0]["attachments"].as_array().expect("attachments");
    assert_eq!(atts.len(), 2);
    assert!(
        atts.iter()
            .all(|a| a.get("content_base64").is_none() && a.get("skipped").is_none())
    );
    assert_eq!(atts[1]["size"], 200_000);
    let recs = records(&fx.read(json!({"attachments": "none"})));
    assert_eq!(recs[0]["attachments"], json!([]));
}
