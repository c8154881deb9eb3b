//! `check` reports SMTP and IMAP step by step, and classifies each failure.

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, Transport, code, last_error, run, servers, stdout_json, step};
use serde_json::json;

#[test]
fn check_passes_every_step_over_starttls_tls_and_plain() {
    for (transport, tls_step) in [
        (Transport::Starttls, "smtp.starttls"),
        (Transport::Tls, "smtp.tls"),
        (Transport::Plain, "smtp.tls"),
    ] {
        let fx = Fixture::with(transport);
        let out = run(&["check", "--connection", &fx.conn()]);
        assert_eq!(code(&out), 0, "{transport:?}: {}", common::stderr(&out));
        let report = stdout_json(&out);
        assert_eq!(report["ok"], true);
        let names: Vec<&str> = report["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names[0], "smtp.connect");
        assert!(names.contains(&tls_step), "{names:?}");
        assert!(names.contains(&"imap.select"), "{names:?}");
        assert!(
            step(&report, "imap.select")["detail"]
                .as_str()
                .expect("detail")
                .contains("UIDVALIDITY")
        );
        if transport == Transport::Plain {
            assert_eq!(step(&report, "smtp.tls")["status"], "skipped");
            assert_eq!(
                step(&report, "smtp.auth")["status"],
                "skipped",
                "the relay port takes no login"
            );
        }
    }
}

#[test]
fn wrong_password_is_an_auth_error_for_both_protocols() {
    let fx = Fixture::new();
    let mut settings = fx.settings();
    settings["auth"]["password"] = json!("not-the-password");
    let out = run(&["check", "--connection", &fx.file("bad.json", &settings)]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    assert_eq!(step(&report, "smtp.auth")["error"]["kind"], "auth");
    assert_eq!(step(&report, "imap.login")["error"]["kind"], "auth");
    assert_eq!(step(&report, "imap.select")["status"], "skipped");
    let err = last_error(&out);
    assert_eq!(err["kind"], "auth");
    assert_eq!(err["retryable"], false);
    assert!(!common::stderr(&out).contains("not-the-password"));
}

#[test]
fn closed_port_is_a_retryable_connect_error() {
    let fx = Fixture::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut settings = fx.settings();
    settings["smtp"]["port"] = json!(closed);
    settings["imap"]["port"] = json!(closed);
    let out = run(&["check", "--connection", &fx.file("closed.json", &settings)]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    assert_eq!(step(&report, "smtp.connect")["error"]["kind"], "connect");
    assert_eq!(step(&report, "smtp.starttls")["status"], "skipped");
    assert_eq!(step(&report, "imap.connect")["error"]["kind"], "connect");
    assert_eq!(last_error(&out)["retryable"], true);
}

#[test]
fn untrusted_certificate_is_a_connect_error_that_is_not_retried() {
    let fx = Fixture::with(Transport::Tls);
    let mut settings = fx.settings();
    settings["tls"] = json!({}); // the test CA is not trusted any more
    let out = run(&[
        "check",
        "--connection",
        &fx.file("untrusted.json", &settings),
    ]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    let err = &step(&report, "smtp.tls")["error"];
    assert_eq!(err["kind"], "connect");
    assert_eq!(err["retryable"], false);
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .contains("not trusted"),
        "{err}"
    );
    assert_eq!(step(&report, "imap.tls")["error"]["kind"], "connect");

    // accept_invalid_certs gets through, loudly.
    settings["tls"] = json!({"accept_invalid_certs": true});
    let out = run(&[
        "check",
        "--connection",
        &fx.file("insecure.json", &settings),
    ]);
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("NOT verified"));
}

#[test]
fn starttls_required_but_not_offered_never_falls_back_to_plaintext() {
    let fx = Fixture::new();
    let mut settings = fx.settings();
    settings["smtp"] =
        json!({"host": "127.0.0.1", "port": servers().ports.smtp_plain, "security": "starttls"});
    settings.as_object_mut().expect("object").remove("imap");
    let out = run(&[
        "check",
        "--connection",
        &fx.file("nostarttls.json", &settings),
    ]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    let err = &step(&report, "smtp.starttls")["error"];
    assert_eq!(err["kind"], "connect");
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .contains("does not offer STARTTLS"),
        "{err}"
    );
    assert_eq!(
        step(&report, "smtp.auth")["status"],
        "skipped",
        "no password may follow in plaintext"
    );
}

#[test]
fn a_server_that_never_answers_times_out_within_the_limit() {
    // Accepts connections and says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let fx = Fixture::new();
    let mut settings = fx.settings();
    settings["smtp"]["port"] = json!(port);
    settings.as_object_mut().expect("object").remove("imap");
    settings["timeouts"] = json!({"connect_secs": 2, "io_secs": 1});
    let started = Instant::now();
    let out = run(&["check", "--connection", &fx.file("hung.json", &settings)]);
    let took = started.elapsed();
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    assert_eq!(step(&report, "smtp.starttls")["error"]["kind"], "timeout");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
