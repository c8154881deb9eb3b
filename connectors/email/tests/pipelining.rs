//! Fewer round trips: with PIPELINING (RFC 2920) Send Email writes MAIL, every RCPT and
//! DATA in one flight, and with CHUNKING (RFC 3030) the message too, as one `BDAT …
//! LAST` chunk. The scripted server below answers nothing until it has the whole
//! flight, so a client that waited for a reply after each command would stall into its
//! I/O timeout and fail these tests. The replies are then taken one by one, in order:
//! a refused recipient, a full transaction (`452`) and a refused sender mean what they
//! mean without pipelining.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::{Fixture, code, results, stderr};
use serde_json::{Value, json};

/// What the server offers, and what it does.
#[derive(Clone, Copy, PartialEq)]
enum Offer {
    /// PIPELINING and CHUNKING: the whole transaction in one flight.
    Chunking,
    /// PIPELINING only: MAIL, RCPT… and DATA in one flight, then the data.
    Pipelining,
    /// Neither: one command at a time (the server answers each at once).
    Neither,
}

/// One transaction as the server saw it.
#[derive(Debug, Clone, Default)]
struct Seen {
    recipients: Vec<String>,
    /// The message, when one was taken.
    message: Option<Vec<u8>>,
    /// How the message came: `BDAT` or `DATA`.
    how: &'static str,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn all(&self) -> Vec<Seen> {
        self.0.lock().expect("log").clone()
    }
}

/// The reply to `RCPT TO:<address>`: by the address's local part. `full…` stands for
/// a recipient past the server's limit of two per transaction.
fn rcpt_reply(address: &str, accepted: usize) -> &'static str {
    if address.starts_with("refused") {
        "550 5.1.1 no such user\r\n"
    } else if address.starts_with("later") {
        "451 4.3.0 try again later\r\n"
    } else if accepted >= 2 {
        "452 4.5.3 too many recipients\r\n"
    } else {
        "250 2.1.5 ok\r\n"
    }
}

fn server(offer: Offer) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let log = Log::default();
    let shared = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            let log = shared.clone();
            std::thread::spawn(move || session(stream, offer, &log));
        }
    });
    (port, log)
}

fn session(stream: TcpStream, offer: Offer, log: &Log) {
    let mut out = stream.try_clone().expect("clone");
    let mut input = BufReader::new(stream);
    let ehlo = match offer {
        Offer::Chunking => "250-scripted\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n",
        Offer::Pipelining => "250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
        Offer::Neither => "250-scripted\r\n250 8BITMIME\r\n",
    };
    if out.write_all(b"220 scripted ESMTP\r\n").is_err() {
        return;
    }
    // Replies owed for the commands read so far: held until the flight is complete.
    let mut owed = String::new();
    let mut seen = Seen::default();
    let mut sender_ok = true;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_owned();
        match verb.as_str() {
            "EHLO" => owed.push_str(ehlo),
            "MAIL" => {
                seen = Seen::default();
                sender_ok = !upper.contains("<BLOCKED");
                owed.push_str(if sender_ok {
                    "250 2.1.0 ok\r\n"
                } else {
                    "550 5.7.1 sender blocked\r\n"
                });
            }
            "RCPT" => {
                let address = line
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(a, _)| a.to_owned())
                    .unwrap_or_default();
                if !sender_ok {
                    owed.push_str("503 5.5.1 need MAIL first\r\n");
                    continue;
                }
                let reply = rcpt_reply(&address, seen.recipients.len());
                if reply.starts_with('2') {
                    seen.recipients.push(address);
                }
                owed.push_str(reply);
            }
            "BDAT" => {
                let size: usize = upper
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut chunk = vec![0; size];
                if input.read_exact(&mut chunk).is_err() {
                    return;
                }
                if sender_ok && !seen.recipients.is_empty() {
                    seen.message = Some(chunk);
                    seen.how = "BDAT";
                    log.0.lock().expect("log").push(seen.clone());
                    owed.push_str("250 2.0.0 queued as BDAT1\r\n");
                } else {
                    owed.push_str("554 5.5.1 no valid recipients\r\n");
                }
            }
            "DATA" => {
                if !sender_ok || seen.recipients.is_empty() {
                    owed.push_str("554 5.5.1 no valid recipients\r\n");
                } else {
                    owed.push_str("354 go on\r\n");
                    if out.write_all(owed.as_bytes()).is_err() {
                        return;
                    }
                    owed.clear();
                    let mut message = Vec::new();
                    loop {
                        line.clear();
                        if input.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        message.extend_from_slice(line.as_bytes());
                    }
                    seen.message = Some(message);
                    seen.how = "DATA";
                    log.0.lock().expect("log").push(seen.clone());
                    owed.push_str("250 2.0.0 queued as DATA1\r\n");
                }
            }
            "RSET" => owed.push_str("250 2.0.0 ok\r\n"),
            "QUIT" => {
                owed.push_str("221 bye\r\n");
                let _ = out.write_all(owed.as_bytes());
                return;
            }
            _ => owed.push_str("502 5.5.2 unknown command\r\n"),
        }
        // A pipelining server answers when the client waits (nothing more to read);
        // this one insists on the whole flight: only EHLO, RSET, the end of a
        // transaction (DATA, BDAT) or a client that does not pipeline get answers.
        let flight_done = matches!(verb.as_str(), "EHLO" | "RSET" | "DATA" | "BDAT");
        if flight_done || offer == Offer::Neither {
            if out.write_all(owed.as_bytes()).is_err() {
                return;
            }
            owed.clear();
        }
    }
}

fn send(offer: Offer, config: Value, requests: Value) -> (std::process::Output, Log) {
    let fx = Fixture::new();
    let (port, log) = server(offer);
    let mut settings = fx.settings();
    settings["smtp"] =
        json!({"host": "127.0.0.1", "port": port, "security": "none", "auth": {"type": "none"}});
    settings["timeouts"] = json!({"connect_secs": 2, "io_secs": 2});
    let mut config = config;
    config["concurrency"] = json!(1);
    config["retry_backoff_ms"] = json!(10);
    let out = fx.send_via(&settings, config, requests);
    (out, log)
}

fn request(to: &[&str], subject: &str) -> Value {
    json!({"from": "sender@example.test", "to": to, "subject": subject, "text": "hello\n.dot at the start of a line\n"})
}

#[test]
fn with_chunking_a_message_goes_in_one_flight() {
    let (out, log) = send(
        Offer::Chunking,
        json!({}),
        json!([
            request(&["a@example.test"], "one"),
            request(&["b@example.test", "c@example.test"], "two")
        ]),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let results = results(&out);
    assert!(results.iter().all(|r| r["status"] == "sent"), "{results:?}");
    assert_eq!(results[0]["server_reply"], "2.0.0 queued as BDAT1");
    let seen = log.all();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].recipients, ["b@example.test", "c@example.test"]);
    for s in &seen {
        assert_eq!(s.how, "BDAT");
        let message = String::from_utf8_lossy(s.message.as_deref().expect("message"));
        // BDAT carries the message as it is: no dot-stuffing, and it ends in CRLF.
        assert!(message.contains("\r\n.dot at the start"), "{message}");
        assert!(message.ends_with("\r\n"));
    }
}

#[test]
fn with_pipelining_alone_mail_rcpt_and_data_go_in_one_flight() {
    let (out, log) = send(
        Offer::Pipelining,
        json!({}),
        json!(request(&["a@example.test"], "one")),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(results(&out)[0]["status"], "sent");
    let seen = log.all();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].how, "DATA");
    let message = String::from_utf8_lossy(seen[0].message.as_deref().expect("message"));
    // DATA stuffs a leading dot (RFC 5321 section 4.5.2).
    assert!(message.contains("\r\n..dot at the start"), "{message}");
}

#[test]
fn pipelined_replies_are_read_one_by_one() {
    for offer in [Offer::Chunking, Offer::Pipelining, Offer::Neither] {
        let (out, log) = send(
            offer,
            json!({"max_retries": 0}),
            json!([
                // A refused recipient among accepted ones.
                request(
                    &["a@example.test", "refused@example.test", "b@example.test"],
                    "mixed"
                ),
                // Every recipient refused: nothing is sent, the session goes on.
                request(&["refused@example.test"], "none"),
                // A refused sender: its error, not the recipients' 503s.
                json!({"from": "blocked@example.test", "to": ["a@example.test"], "subject": "blocked", "text": "x"}),
                // Past the server's limit of two: a second transaction for the rest.
                request(
                    &[
                        "a@example.test",
                        "b@example.test",
                        "c@example.test",
                        "d@example.test"
                    ],
                    "many"
                ),
                // Only a transient refusal: retryable.
                request(&["later@example.test"], "later"),
            ]),
        );
        let name = match offer {
            Offer::Chunking => "chunking",
            Offer::Pipelining => "pipelining",
            Offer::Neither => "neither",
        };
        assert_eq!(code(&out), 1, "{name}: {}", stderr(&out));
        let r = results(&out);
        assert_eq!(r.len(), 5, "{name}: {r:?}");

        assert_eq!(r[0]["status"], "sent", "{name}: {}", r[0]);
        assert_eq!(
            r[0]["accepted"],
            json!(["a@example.test", "b@example.test"])
        );
        assert_eq!(r[0]["rejected"][0]["address"], "refused@example.test");
        assert!(
            r[0]["rejected"][0]["reason"]
                .as_str()
                .is_some_and(|s| s.contains("550 5.1.1")),
            "{name}: {}",
            r[0]
        );

        assert_eq!(r[1]["status"], "failed", "{name}: {}", r[1]);
        assert_eq!(r[1]["error"]["kind"], "rejected");
        assert_eq!(r[1]["error"]["retryable"], false);

        assert_eq!(r[2]["status"], "failed", "{name}: {}", r[2]);
        let why = r[2]["error"]["message"].as_str().unwrap_or_default();
        assert!(why.contains("sender blocked"), "{name}: {why}");

        assert_eq!(r[3]["status"], "sent", "{name}: {}", r[3]);
        assert_eq!(
            r[3]["accepted"],
            json!([
                "a@example.test",
                "b@example.test",
                "c@example.test",
                "d@example.test"
            ]),
            "{name}"
        );

        assert_eq!(r[4]["status"], "failed", "{name}: {}", r[4]);
        assert_eq!(r[4]["error"]["retryable"], true, "{name}: {}", r[4]);

        // What the server took: the mixed message once, the long list in two
        // transactions, nothing for the refused ones.
        let seen = log.all();
        let lists: Vec<Vec<String>> = seen.iter().map(|s| s.recipients.clone()).collect();
        assert_eq!(
            lists,
            [
                vec!["a@example.test", "b@example.test"],
                vec!["a@example.test", "b@example.test"],
                vec!["c@example.test", "d@example.test"],
            ],
            "{name}"
        );
        let how = match offer {
            Offer::Chunking => "BDAT",
            _ => "DATA",
        };
        assert!(seen.iter().all(|s| s.how == how), "{name}");
    }
}

#[test]
fn pipelining_can_be_turned_off() {
    // A server that offers both but the settings say no: one command at a time. This
    // server holds its replies for a pipelined flight, so it answers only because the
    // client waits after DATA: the test shows the sequential path is taken and works.
    let (out, log) = send(
        Offer::Pipelining,
        json!({"pipelining": false, "max_retries": 0}),
        json!(request(&["a@example.test"], "one")),
    );
    // MAIL's reply is held until DATA, so a client that waits for it stalls: the
    // sequential client times out (2 s) and reports the error, nothing is taken.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r = &results(&out)[0];
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["error"]["kind"], "timeout", "{r}");
    assert!(log.all().is_empty());
}
