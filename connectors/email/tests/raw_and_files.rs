//! The message as received, for an archive: in the record (`include_raw`) or written
//! to files named by their SHA-256 (`save_to`), the whole `.eml` and each attachment,
//! synced before the record is emitted. A message whose files cannot be written is
//! reported and left unread: nothing is committed that was not stored.

mod common;

use base64::Engine as _;
use common::{Fixture, code, records, stderr};
use serde_json::json;
use sha2::{Digest as _, Sha256};

const MESSAGE: &str = concat!(
    "From: sender@example.test\r\nTo: someone@example.test\r\nSubject: archive me\r\n",
    "Message-ID: <archive@example.test>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n",
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
    "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n",
    "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\n",
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n",
    "--b--\r\n"
);

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_raw_message_and_files_named_by_content() {
    let fx = Fixture::new();
    fx.plant(MESSAGE);
    let dir = tempfile::tempdir().expect("dir");
    let out = fx.read(json!({
        "after_read": "none",
        "include_raw": true,
        "save_to": {"dir": dir.path()}
    }));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let record = &records(&out)[0];

    let raw = base64::engine::general_purpose::STANDARD
        .decode(record["raw_base64"].as_str().expect("raw_base64"))
        .expect("base64");
    assert_eq!(String::from_utf8_lossy(&raw), MESSAGE, "byte for byte");

    let eml = record["eml_path"].as_str().expect("eml_path");
    assert_eq!(std::fs::read(eml).expect("eml file"), raw);
    assert!(eml.ends_with(&format!("{}.eml", sha256(&raw))), "{eml}");

    let pdf = record["attachments"][0]["path"].as_str().expect("path");
    assert_eq!(std::fs::read(pdf).expect("pdf"), b"%PDF-1.4\n");
    assert!(
        pdf.ends_with(&format!("{}.pdf", sha256(b"%PDF-1.4\n"))),
        "{pdf}"
    );
    assert!(
        std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp")),
        "no temporary file left"
    );

    // Without the options the record carries neither.
    let plain = fx.read(json!({"after_read": "none"}));
    let record = &records(&plain)[0];
    assert!(record.get("raw_base64").is_none() && record.get("eml_path").is_none());
}

#[test]
fn a_message_whose_files_cannot_be_written_is_not_committed() {
    let fx = Fixture::new();
    fx.plant(MESSAGE);
    // A directory no file can be created in, even by root.
    let out = fx.read(json!({"save_to": {"dir": "/proc", "what": "eml"}}));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(records(&out).is_empty());
    assert!(
        stderr(&out).contains("cannot create a file"),
        "{}",
        stderr(&out)
    );
    let stored = fx.stored("INBOX");
    assert!(!stored[0].seen(), "left unread: it was not stored");

    let missing = fx.read(json!({"save_to": {"dir": "/no/such/dir"}}));
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
}
