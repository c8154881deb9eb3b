//! Delivery status notifications (RFC 3461): asked for with `dsn`, sent as `NOTIFY`,
//! `RET` and `ENVID`; the notification Postfix generates on delivery arrives in the
//! sender's mailbox, quoting the envelope id. A server without DSN is an error for the
//! message, not a silent send without it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::{Fixture, code, results, servers, stderr};
use serde_json::json;

#[test]
fn a_success_notification_from_postfix_reaches_the_sender() {
    let fx = Fixture::new();
    let out = fx.send(
        json!({}),
        json!({"from": fx.peer.address, "to": fx.user.address, "subject": "with dsn", "text": "x",
               "dsn": {"notify": ["success", "failure"], "ret": "headers", "envid": "order-7"}}),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(results(&out)[0]["status"], "sent");
    servers()
        .wait_for(&fx.user, "INBOX", 1, Duration::from_secs(15))
        .expect("delivered");
    // Postfix reports the delivery to the envelope sender.
    let reports = servers()
        .wait_for(&fx.peer, "INBOX", 1, Duration::from_secs(20))
        .expect("a delivery status notification for the sender");
    let report = servers()
        .raw_message(&fx.peer, "INBOX", reports[0].uid)
        .expect("the report");
    let text = String::from_utf8_lossy(&report);
    assert!(text.contains("report-type=delivery-status"), "{text}");
    assert!(text.contains("Original-Envelope-Id: order-7"), "{text}");
    // Postfix says `relayed` for a hand-over to an LMTP server that does not do DSN.
    assert!(
        text.contains("Action: delivered") || text.contains("Action: relayed"),
        "{text}"
    );
    assert!(text.contains("Status: 2.0.0"), "{text}");
    assert!(
        text.contains(&format!("Final-Recipient: rfc822; {}", fx.user.address)),
        "{text}"
    );
}

#[test]
fn a_server_without_dsn_fails_the_message_that_asks_for_it() {
    // A minimal SMTP server whose EHLO offers nothing.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4).flatten() {
            let mut out = stream.try_clone().expect("clone");
            let mut lines = BufReader::new(stream);
            let _ = out.write_all(b"220 plain ESMTP\r\n");
            let mut line = String::new();
            while lines.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                let reply: &[u8] = if line.to_ascii_uppercase().starts_with("EHLO") {
                    b"250-plain\r\n250 8BITMIME\r\n"
                } else if line.to_ascii_uppercase().starts_with("QUIT") {
                    b"221 bye\r\n"
                } else {
                    b"250 ok\r\n"
                };
                let _ = out.write_all(reply);
                line.clear();
            }
        }
    });
    let fx = Fixture::new();
    let mut settings = fx.settings();
    settings["smtp"] =
        json!({"host": "127.0.0.1", "port": port, "security": "none", "auth": {"type": "none"}});
    settings["allow_insecure_auth"] = json!(true);
    let out = fx.send_via(
        &settings,
        json!({}),
        json!({"from": fx.peer.address, "to": fx.user.address, "subject": "x", "text": "x",
               "dsn": {"notify": ["failure"]}}),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r = &results(&out)[0];
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["error"]["retryable"], false, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not offer DSN")),
        "{r}"
    );
}
