//! Behaviour snapshots of the Email connector against the real servers: the MIME Send
//! Email produces, the records Read Email returns and the check report, normalized
//! (dates, ids, boundaries, ports, users), so an SDK or connector change that alters
//! behaviour shows up as a snapshot diff to review.

use std::process::Command;
use std::time::Duration;

use email_testsupport::mail::{MailServers, Transport, User};
use serde_json::{Value, json};

fn servers() -> &'static MailServers {
    MailServers::shared().unwrap_or_else(|e| panic!("the mail servers must start: {e}"))
}

fn email() -> &'static str {
    env!("CARGO_BIN_EXE_email-connector")
}

fn run(dir: &tempfile::TempDir, args: &[&str], files: &[(&str, &Value)]) -> std::process::Output {
    for (name, value) in files {
        std::fs::write(dir.path().join(name), value.to_string()).expect("write");
    }
    Command::new(email())
        .current_dir(dir.path())
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run")
}

/// Replaces what differs from run to run.
fn normalize(text: &str, users: &[(&User, &str)]) -> String {
    let mut out = text.replace("\r\n", "\n");
    for (user, label) in users {
        out = out.replace(&user.address, label);
    }
    // MIME boundaries, in order of appearance.
    let mut n = 0;
    let mut from = 0;
    while let Some(i) = out[from..].find("boundary=\"") {
        let start = from + i + "boundary=\"".len();
        let Some(len) = out[start..].find('"') else {
            break;
        };
        let boundary = out[start..start + len].to_owned();
        n += 1;
        let label = format!("[boundary-{n}]");
        out = out.replace(&boundary, &label);
        from = start + label.len();
    }
    out.lines()
        .map(|l| {
            for (prefix, label) in [("Date: ", "[date]"), ("Message-ID: ", "[message-id]")] {
                if let Some(rest) = l.strip_prefix(prefix) {
                    let _ = rest;
                    return format!("{prefix}{label}");
                }
            }
            l.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn send_email_mime() {
    let s = servers();
    let (user, peer) = (s.new_user(), s.new_user());
    let dir = tempfile::tempdir().expect("dir");
    let request = json!({
        "from": {"name": "Zoë Sender", "address": peer.address},
        "to": [format!("Jürgen <{}>", user.address)],
        "cc": ["copy@example.test"],
        "reply_to": ["Support <support@example.test>"],
        "subject": "Quarterly report — Q3 ✓",
        "text": "Hello,\nthe report is attached.",
        "html": "<p>Hello,</p><p>the report is attached. <img src=\"cid:logo\"></p>",
        "attachments": [
            {"filename": "report.csv", "content_base64": "YSxiCjEsMgo="},
            {"filename": "logo.png", "content_base64": "iVBORw0KGgo=", "inline": true, "content_id": "logo"}
        ],
        "headers": {"X-Ticket": "42"},
        "in_reply_to": "<thread@example.test>",
        "priority": "high"
    });
    let conn = s.connection(&user, Transport::Starttls);
    let out = run(
        &dir,
        &["run", "send", "--connection", "c.json", "--input", "r.json"],
        &[("c.json", &conn), ("r.json", &request)],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = s
        .wait_for(&user, "INBOX", 1, Duration::from_secs(10))
        .expect("delivered");
    let raw = String::from_utf8_lossy(&s.raw_message(&user, "INBOX", stored[0].uid).expect("raw"))
        .into_owned();
    // Headers the servers add on the way (trace, delivery) are not the connector's.
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").expect("headers and body");
    let mut headers: Vec<String> = Vec::new();
    for line in head.lines() {
        match headers.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push('\n');
                last.push_str(line);
            }
            _ => headers.push(line.to_owned()),
        }
    }
    headers.retain(|h| {
        !["Return-Path:", "Delivered-To:", "Received:"]
            .iter()
            .any(|p| h.starts_with(p))
    });
    let message = format!("{}\n\n{body}", headers.join("\n"));
    insta::assert_snapshot!(normalize(&message, &[(&user, "[user]"), (&peer, "[peer]")]));
}

#[test]
fn read_email_records() {
    let s = servers();
    let user = s.new_user();
    let dir = tempfile::tempdir().expect("dir");
    let messages = [
        "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: plain\r\nMessage-ID: <plain@behaviour>\r\nDate: Tue, 03 Mar 2026 09:30:00 +0100\r\n\r\nJust text.\r\n",
        concat!(
            "From: =?utf-8?q?Bj=C3=B6rn?= <bjorn@example.test>\r\nTo: bob@example.test\r\nCc: carol@example.test\r\n",
            "Subject: =?utf-8?b?UmVwb3J0IOKckw==?=\r\nMessage-ID: <multi@behaviour>\r\nIn-Reply-To: <plain@behaviour>\r\n",
            "References: <root@behaviour> <plain@behaviour>\r\nDate: Wed, 04 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=outer\r\n\r\n",
            "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n",
            "--inner\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nR=E9sum=E9\r\n",
            "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Résumé</p>\r\n--inner--\r\n",
            "--outer\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"data.csv\"\r\nContent-Transfer-Encoding: base64\r\n\r\nYSxiCjEsMgo=\r\n",
            "--outer--\r\n"
        ),
    ];
    for m in messages {
        s.deliver(&user, "INBOX", m.as_bytes()).expect("plant");
    }
    let conn = s.connection(&user, Transport::Tls);
    let out = run(
        &dir,
        &["run", "read", "--connection", "c.json"],
        &[("c.json", &conn)],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut r: Value = serde_json::from_str(l).expect("json");
            r["uid_validity"] = json!("[uid_validity]");
            // \Recent depends on which session saw the message first.
            if let Some(flags) = r["flags"].as_array_mut() {
                flags.retain(|f| f != "\\Recent");
            }
            r
        })
        .collect();
    insta::assert_snapshot!(normalize(
        &serde_json::to_string_pretty(&records).expect("json"),
        &[(&user, "[user]")]
    ));
}

#[test]
fn check_report() {
    let s = servers();
    let user = s.new_user();
    let dir = tempfile::tempdir().expect("dir");
    let conn = s.connection(&user, Transport::Starttls);
    let out = run(
        &dir,
        &["check", "--connection", "c.json"],
        &[("c.json", &conn)],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report: Value = serde_json::from_slice(&out.stdout).expect("json");
    for step in report["steps"].as_array_mut().expect("steps") {
        step["duration_ms"] = json!(0);
        if let Some(d) = step["detail"].as_str() {
            let d = d
                .replace(&format!(":{}", s.ports.submission), ":[port]")
                .replace(&format!(":{}", s.ports.imap), ":[port]");
            let d = match d.split_once("UIDVALIDITY ") {
                Some((head, _)) => format!("{head}UIDVALIDITY [n]"),
                None => d,
            };
            step["detail"] = json!(d);
        }
    }
    insta::assert_snapshot!(normalize(
        &serde_json::to_string_pretty(&report).expect("json"),
        &[(&user, "[user]")]
    ));
}
