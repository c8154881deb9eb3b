//! Servers that do not speak the protocol: a greeting of garbage (or a TLS record) is a
//! `protocol` error, not worth retrying, said with a short printable excerpt: never a
//! byte dump, never a control character in an error line.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{Fixture, code, run, stdout_json, step};
use serde_json::json;

/// A server that greets every connection with `greeting` and then waits.
fn greeting_server(greeting: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8).flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.write_all(greeting);
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
            });
        }
    });
    port
}

#[test]
fn a_garbage_greeting_is_a_protocol_error_for_both_protocols() {
    let fx = Fixture::new();
    let port = greeting_server(b"\x16\x03\x01\x00 not a mail server\x07\r\n");
    let mut settings = fx.settings();
    settings["smtp"] =
        json!({"host": "127.0.0.1", "port": port, "security": "none", "auth": {"type": "none"}});
    settings["imap"] = json!({"host": "127.0.0.1", "port": port, "security": "none"});
    settings["allow_insecure_auth"] = json!(true);
    settings["timeouts"] = json!({"connect_secs": 2, "io_secs": 2});
    let conn = fx.file("garbage.json", &settings);
    let out = run(&["check", "--connection", &conn]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    for name in ["smtp.ehlo", "imap.login"] {
        let error = &step(&report, name)["error"];
        assert_eq!(error["kind"], "protocol", "{name}: {error}");
        assert_eq!(error["retryable"], false, "{name}: {error}");
        let message = error["message"].as_str().expect("message");
        assert!(
            !message.chars().any(|c| c.is_control()),
            "{name}: control characters in {message:?}"
        );
        assert!(
            !message.contains("input: ["),
            "{name}: a byte dump: {message}"
        );
        assert!(message.contains("not a mail server"), "{name}: {message}");
    }
}
