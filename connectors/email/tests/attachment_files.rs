//! Attachments by `path` come only from the activity's `attachment_dir`: a request
//! (which anyone upstream may steer) cannot mail `/proc/self/environ`, escape with `..`
//! or a symlink, hang the run on a FIFO, or exhaust memory with a huge file. Every
//! refusal is exit 2 at the attachment's path, before anything is sent.

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, code, last_error, stderr};
use serde_json::{Value, json};

fn request(fx: &Fixture, path: &str) -> Value {
    json!({"from": fx.peer.address, "to": [fx.user.address], "subject": "file", "text": "see attached",
           "attachments": [{"path": path}]})
}

/// Sends with `config`; expects exit 2 at `/attachments/0/path` whose message contains
/// `says`, and nothing delivered.
fn refused(fx: &Fixture, config: Value, path: &str, says: &str) {
    let started = Instant::now();
    let out = fx.send(config, request(fx, path));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{path}: the run must not wait"
    );
    assert_eq!(code(&out), 2, "{path}: {}", stderr(&out));
    let err = last_error(&out);
    assert_eq!(err["path"], "/attachments/0/path", "{path}: {err}");
    let message = err["message"].as_str().expect("message");
    assert!(message.contains(says), "{path}: {message}");
    assert!(
        !message.contains("PATH="),
        "no file content in the error: {message}"
    );
    assert!(fx.stored("INBOX").is_empty(), "{path}: nothing is sent");
}

#[test]
fn without_an_attachment_dir_files_are_not_attached() {
    let fx = Fixture::new();
    let file = fx.dir.path().join("report.csv");
    std::fs::write(&file, "a,b\n").expect("write");
    refused(
        &fx,
        json!({}),
        file.to_str().expect("utf-8"),
        "attachments from files are off: set `attachment_dir`",
    );
    refused(
        &fx,
        json!({}),
        "/proc/self/environ",
        "attachments from files are off",
    );
}

#[test]
fn files_outside_the_attachment_dir_are_refused() {
    let fx = Fixture::new();
    let allowed = fx.dir.path().join("outbox");
    std::fs::create_dir(&allowed).expect("mkdir");
    std::fs::write(fx.dir.path().join("private.key"), "-----BEGIN KEY-----").expect("write");
    std::os::unix::fs::symlink(fx.dir.path().join("private.key"), allowed.join("link.txt"))
        .expect("symlink");
    let config = json!({"attachment_dir": allowed});
    refused(
        &fx,
        config.clone(),
        "/proc/self/environ",
        "is outside attachment_dir",
    );
    refused(
        &fx,
        config.clone(),
        "/etc/passwd",
        "is outside attachment_dir",
    );
    refused(
        &fx,
        config.clone(),
        "../private.key",
        "is outside attachment_dir",
    );
    refused(&fx, config.clone(), "link.txt", "is outside attachment_dir");
    refused(&fx, config, "missing.txt", "cannot read missing.txt");
}

#[test]
fn only_regular_files_within_the_size_limit_are_attached() {
    let fx = Fixture::new();
    let dir = fx.dir.path().join("outbox");
    std::fs::create_dir(&dir).expect("mkdir");
    let fifo = dir.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::fs::create_dir(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("big.bin"), vec![7u8; 4096]).expect("write");
    let config = json!({"attachment_dir": dir, "max_attachment_bytes": 1024});
    refused(&fx, config.clone(), "pipe", "is not a regular file");
    refused(&fx, config.clone(), "sub", "is not a regular file");
    refused(
        &fx,
        config.clone(),
        "big.bin",
        "larger than max_attachment_bytes (1024)",
    );

    // Content given inline is held to the same limit, before it is decoded.
    let out = fx.send(
        config,
        json!({"from": fx.peer.address, "to": [fx.user.address], "subject": "x", "text": "x",
               "attachments": [{"filename": "a.bin", "content_base64": "QUFB".repeat(400)}]}),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(last_error(&out)["path"], "/attachments/0/content_base64");
}

#[test]
fn a_file_inside_the_attachment_dir_is_attached_byte_for_byte() {
    let fx = Fixture::new();
    let dir = fx.dir.path().join("outbox");
    std::fs::create_dir_all(dir.join("reports")).expect("mkdir");
    let content: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    std::fs::write(dir.join("reports/q3.bin"), &content).expect("write");
    // A relative path is taken inside the directory; an absolute one must be inside it.
    for path in [
        "reports/q3.bin".to_owned(),
        dir.join("reports/q3.bin")
            .to_str()
            .expect("utf-8")
            .to_owned(),
    ] {
        let out = fx.send(json!({"attachment_dir": dir}), request(&fx, &path));
        assert_eq!(code(&out), 0, "{path}: {}", stderr(&out));
        assert_eq!(common::results(&out)[0]["status"], "sent");
    }
    common::servers()
        .wait_for(&fx.user, "INBOX", 2, Duration::from_secs(15))
        .expect("delivered");
    let records = common::records(&fx.read(json!({})));
    assert_eq!(records.len(), 2);
    for r in &records {
        let att = &r["attachments"][0];
        assert_eq!(att["filename"], "q3.bin");
        use base64::Engine as _;
        let got = base64::engine::general_purpose::STANDARD
            .decode(att["content_base64"].as_str().expect("content"))
            .expect("base64");
        assert_eq!(got, content);
    }
}
