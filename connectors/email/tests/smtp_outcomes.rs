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
    /// Send a reply a byte at a time, never finishing it (each byte resets a read
    /// timeout; only a bound on the whole answer ends the wait).
    Trickle,
}

fn say(out: &mut TcpStream, s: &str) -> std::io::Result<()> {
    out.write_all(s.as_bytes())
}

/// What the server does once it has the whole message.
fn misbehave(after: AfterData, out: &mut TcpStream) {
    match after {
        AfterData::Silent => std::thread::sleep(Duration::from_secs(30)),
        AfterData::HangUp => {}
        AfterData::Trickle => trickle(out),
    }
}

/// A reply that never ends, a byte every 300 ms for 30 s.
fn trickle(out: &mut TcpStream) {
    for _ in 0..100 {
        if out.write_all(b"2").is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A scripted SMTP server on loopback that takes any message and then misbehaves.
/// Returns its port and how many messages it received in full.
fn server(after: AfterData, chunking: bool) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            let count = Arc::clone(&count);
            std::thread::spawn(move || session(stream, after, chunking, &count));
        }
    });
    (port, received)
}

fn session(stream: TcpStream, after: AfterData, chunking: bool, received: &AtomicUsize) {
    let mut out = stream.try_clone().expect("clone");
    let mut lines = BufReader::new(stream);
    if say(&mut out, "220 hostile ESMTP\r\n").is_err() {
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
            "EHLO" if chunking => {
                "250-hostile\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n"
            }
            "EHLO" => "250-hostile\r\n250 8BITMIME\r\n",
            // MAIL, RCPT and `BDAT n LAST` with the message come in one flight: take it
            // all, answer nothing.
            "MAIL" | "RCPT" if chunking => continue,
            "BDAT" => {
                let size: usize = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut chunk = vec![0; size];
                if std::io::Read::read_exact(&mut lines, &mut chunk).is_err() {
                    return;
                }
                received.fetch_add(1, Ordering::SeqCst);
                return misbehave(after, &mut out);
            }
            "DATA" => {
                let _ = say(&mut out, "354 go on\r\n");
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
                return misbehave(after, &mut out);
            }
            "QUIT" => {
                let _ = say(&mut out, "221 bye\r\n");
                return;
            }
            _ => "250 ok\r\n",
        };
        if say(&mut out, reply).is_err() {
            return;
        }
    }
}

fn check_unknown(after: AfterData) -> Duration {
    check_unknown_with(after, false, "x")
}

fn check_unknown_with(after: AfterData, chunking: bool, text: &str) -> Duration {
    let fx = Fixture::new();
    let (port, received) = server(after, chunking);
    let mut settings = fx.settings();
    settings["smtp"] =
        json!({"host": "127.0.0.1", "port": port, "security": "none", "auth": {"type": "none"}});
    settings["timeouts"] = json!({"connect_secs": 2, "io_secs": 2});
    let started = Instant::now();
    let out = fx.send_via(
        &settings,
        json!({"final_reply_timeout_secs": 3, "max_retries": 3, "retry_backoff_ms": 10}),
        json!({"from": fx.peer.address, "to": [fx.user.address], "subject": "once", "text": text}),
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

/// Sends a 200 KB message (out in well under a second) with DATA and with one
/// pipelined `BDAT` flight to a server that behaves as `after` says once it has it, and
/// checks that the outcome is known to be unknown long before the server gives up (30 s).
fn gives_up_in_time_either_way(after: AfterData) {
    let text = "a line of text that is long enough to add up quickly\n".repeat(4_000);
    for chunking in [false, true] {
        let took = check_unknown_with(after, chunking, &text);
        assert!(
            took < Duration::from_secs(20),
            "chunking {chunking}: waited {took:?}"
        );
    }
}

#[test]
fn the_wait_for_a_silent_server_grows_with_the_message_only_by_its_writing_time() {
    // The I/O timeout plus the final-reply timeout (5 s here), not minutes.
    gives_up_in_time_either_way(AfterData::Silent);
}

#[test]
fn a_reply_that_trickles_in_for_ever_is_cut_off_by_the_bound_on_the_whole_answer() {
    // A byte every 300 ms keeps each read alive; the answer as a whole gets the I/O
    // timeout plus the message's writing time (2 s here), or the final-reply timeout
    // for the data's reply.
    gives_up_in_time_either_way(AfterData::Trickle);
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
