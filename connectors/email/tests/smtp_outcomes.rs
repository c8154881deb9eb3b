//! After the whole message was sent, a server that goes silent or hangs up leaves the
//! outcome unknown (RFC 5321 §4.5.3.2.6 gives it 10 minutes to answer, and it may have
//! queued the message): Send Email reports `unknown` with the Message-ID and does not
//! send the message again, so no recipient gets it twice.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Fixture, code, last_error, results, stderr};
use serde_json::json;

#[derive(Clone, Copy)]
enum AfterData {
    /// Say nothing, keep the connection open.
    Silent,
    /// Close the connection.
    HangUp,
}

/// A scripted SMTP server on loopback that takes any message and then misbehaves.
/// Returns its port and how many messages it received in full.
fn server(after: AfterData) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            let count = Arc::clone(&count);
            std::thread::spawn(move || session(stream, after, &count));
        }
    });
    (port, received)
}

fn session(stream: TcpStream, after: AfterData, received: &AtomicUsize) {
    let mut out = stream.try_clone().expect("clone");
    let mut lines = BufReader::new(stream);
    let mut say = |s: &str| out.write_all(s.as_bytes());
    if say("220 hostile ESMTP\r\n").is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => "250-hostile\r\n250 8BITMIME\r\n",
            "DATA" => {
                let _ = say("354 go on\r\n");
                // The message, up to the lone dot.
                loop {
                    line.clear();
                    if lines.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                }
                received.fetch_add(1, Ordering::SeqCst);
                match after {
                    AfterData::Silent => {
                        std::thread::sleep(Duration::from_secs(30));
                        return;
                    }
                    AfterData::HangUp => return,
                }
            }
            "QUIT" => {
                let _ = say("221 bye\r\n");
                return;
            }
            _ => "250 ok\r\n",
        };
        if say(reply).is_err() {
            return;
        }
    }
}

fn check_unknown(after: AfterData) -> Duration {
    let fx = Fixture::new();
    let (port, received) = server(after);
    let mut settings = fx.settings();
    settings["smtp"] =
        json!({"host": "127.0.0.1", "port": port, "security": "none", "auth": {"type": "none"}});
    settings["timeouts"] = json!({"connect_secs": 2, "io_secs": 2});
    let started = Instant::now();
    let out = fx.send_via(
        &settings,
        json!({"final_reply_timeout_secs": 3, "max_retries": 3, "retry_backoff_ms": 10}),
        json!({"from": fx.peer.address, "to": [fx.user.address], "subject": "once", "text": "x"}),
    );
    let took = started.elapsed();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let result = &results(&out)[0];
    assert_eq!(result["status"], "unknown", "{result}");
    assert_eq!(result["attempts"], 1, "not sent again: {result}");
    assert!(
        result["message_id"]
            .as_str()
            .is_some_and(|id| id.starts_with('<')),
        "the Message-ID to look for: {result}"
    );
    assert_eq!(result["error"]["retryable"], false, "{result}");
    assert_eq!(last_error(&out)["retryable"], false);
    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "the server received the message exactly once"
    );
    took
}

#[test]
fn a_server_silent_after_the_data_leaves_the_outcome_unknown_not_resent() {
    // It waits the final-reply timeout (3 s here), not the I/O timeout (2 s).
    let took = check_unknown(AfterData::Silent);
    assert!(took >= Duration::from_secs(3), "waited {took:?}");
}

#[test]
fn a_server_hanging_up_after_the_data_leaves_the_outcome_unknown_not_resent() {
    check_unknown(AfterData::HangUp);
}

#[test]
fn the_final_reply_wait_has_bounds() {
    let fx = Fixture::new();
    for bad in [0, 3601] {
        let out = fx.send(
            json!({"final_reply_timeout_secs": bad}),
            json!({"from": fx.peer.address, "to": [fx.user.address], "text": "x"}),
        );
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
        assert_eq!(last_error(&out)["path"], "/final_reply_timeout_secs");
    }
}
