//! At trace level the SMTP and IMAP dialogue is logged, with credentials redacted.

mod common;

use common::{Fixture, code, run};
use serde_json::json;

#[test]
fn trace_shows_the_dialogue_but_never_the_password() {
    let fx = Fixture::new();
    let canary = "canary-Pa55-w0rd";
    let s = common::servers();
    // Give this user a password we can recognise: the fixture's own password file.
    let _ = s;
    let mut settings = fx.settings();
    let real = settings["auth"]["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let pw_file = fx.dir.path().join("pw");
    std::fs::write(&pw_file, &real).expect("write");
    settings["auth"]["password"] = json!({"file": pw_file});
    let conn = fx.file("conn.json", &settings);
    let out = run(&["--log-level", "trace", "check", "--connection", &conn]);
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    let stderr = common::stderr(&out);
    assert!(
        stderr.contains("email_connector::smtp") && stderr.contains("C: EHLO"),
        "SMTP dialogue traced"
    );
    assert!(
        stderr.contains("email_connector::imap") && stderr.contains("LOGIN"),
        "IMAP dialogue traced"
    );
    assert!(
        stderr.contains("AUTH PLAIN ***"),
        "the AUTH line is redacted"
    );
    assert!(!stderr.contains(&real), "the password never appears");
    use base64::Engine as _;
    let plain =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{}\0{real}", fx.user.address));
    assert!(!stderr.contains(&plain), "nor its base64 form");

    // A wrong password given literally never appears either, even in errors.
    settings["auth"]["password"] = json!(canary);
    let out = run(&[
        "--log-level",
        "trace",
        "check",
        "--connection",
        &fx.file("bad.json", &settings),
    ]);
    assert_eq!(code(&out), 1);
    let all = format!(
        "{}{}",
        common::stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!all.contains(canary), "canary leaked");
}

#[test]
fn trace_has_one_event_per_protocol_line_before_and_after_tls() {
    let fx = Fixture::new();
    fx.plant(&common::raw_message(
        "traced@example.test",
        "traced",
        "a@example.test",
    ));
    let (conn, config) = (fx.conn(), fx.file("read.json", &json!({})));
    let out = run(&[
        "--log-level",
        "trace",
        "run",
        "read",
        "--connection",
        &conn,
        "--config",
        &config,
    ]);
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    let stderr = common::stderr(&out);
    let events: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once(" S: ").or_else(|| l.split_once(" C: ")))
        .map(|(_, text)| text)
        .collect();
    // Before TLS the reply to STARTTLS is read a byte at a time; still whole lines.
    assert!(
        events.iter().any(|e| e.starts_with("* OK") && e.len() > 10),
        "the greeting as one line: {events:?}"
    );
    assert!(events.iter().any(|e| e.contains("STARTTLS")), "{events:?}");
    assert!(
        events.iter().all(|e| e.len() > 1),
        "an event of one character: {events:?}"
    );
    // Message content is one event with its size, not traced line by line.
    assert!(
        events.iter().any(|e| e.starts_with("<literal: ")),
        "{events:?}"
    );
    assert!(
        !stderr.contains("Body of traced@example.test"),
        "the message body is not traced"
    );
}
