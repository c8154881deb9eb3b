//! Errors with a common, known cause say what to do next: TLS on a port that starts in
//! plain text, STARTTLS or plain text on a port that waits for TLS, a folder that does
//! not exist.

mod common;

use common::{Fixture, code, last_error, run, servers, stdout_json, step};
use serde_json::json;

fn check_with(fx: &Fixture, smtp_port: u16, imap_port: u16, security: &str) -> serde_json::Value {
    let mut settings = fx.settings();
    settings["smtp"]["port"] = json!(smtp_port);
    settings["smtp"]["security"] = json!(security);
    settings["imap"]["port"] = json!(imap_port);
    settings["imap"]["security"] = json!(security);
    settings["timeouts"] = json!({"connect_secs": 2, "io_secs": 2});
    let conn = fx.file("mixed.json", &settings);
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 1);
    stdout_json(&out)
}

fn message<'a>(report: &'a serde_json::Value, name: &str) -> &'a str {
    step(report, name)["error"]["message"]
        .as_str()
        .unwrap_or_default()
}

#[test]
fn tls_on_a_port_that_starts_in_plain_text() {
    let fx = Fixture::new();
    let p = servers().ports;
    let report = check_with(&fx, p.submission, p.imap, "tls");
    for name in ["smtp.tls", "imap.tls"] {
        let m = message(&report, name);
        assert!(
            m.contains("hint: the server answered in plain text"),
            "{name}: {m}"
        );
        assert!(m.contains("`security: starttls`"), "{name}: {m}");
    }
}

#[test]
fn starttls_on_a_port_that_waits_for_tls() {
    let fx = Fixture::new();
    let p = servers().ports;
    let report = check_with(&fx, p.smtps, p.imaps, "starttls");
    for name in ["smtp.starttls", "imap.starttls"] {
        let error = &step(&report, name)["error"];
        assert_eq!(error["kind"], "timeout", "{name}: {error}");
        let m = error["message"].as_str().unwrap_or_default();
        assert!(
            m.contains("hint: no greeting came: if this port is for TLS from the first byte"),
            "{name}: {m}"
        );
    }
}

#[test]
fn a_folder_that_does_not_exist_points_at_discover() {
    let fx = Fixture::new();
    let out = fx.read(json!({"folder": "Nope"}));
    assert_eq!(code(&out), 2);
    let err = last_error(&out);
    assert_eq!(err["path"], "/folder");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("hint: run `discover read`"),
        "{err}"
    );
}
