//! [`ScriptedImap`]: an IMAP server on loopback that behaves as a test tells it to, for
//! what a real server will not do on demand: refuse a FETCH with a tagged `NO`, answer
//! for messages it was not asked about, announce a literal of 500 MB, send a SEARCH
//! line of millions of UIDs, or lie about sizes.
//!
//! It serves one folder (`INBOX`) of the messages it is given, logs anyone in, and
//! answers every command correctly unless the test's [`Script`] says otherwise for it.
//!
//! ```no_run
//! use email_testsupport::imap::{Answer, ScriptedImap};
//! let server = ScriptedImap::start(vec![b"Subject: a\r\n\r\nhi\r\n".to_vec()], |cmd| {
//!     (cmd.name == "UID FETCH" && cmd.line.contains("BODY"))
//!         .then(|| Answer::Bytes(format!("{} NO [SERVERBUG] cannot\r\n", cmd.tag).into_bytes()))
//! });
//! assert!(server.port() > 0);
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One command the client sent.
#[derive(Debug, Clone)]
pub struct Command {
    /// Its tag (`A0003`).
    pub tag: String,
    /// Its name, upper case, with `UID` when given (`UID FETCH`, `SELECT`).
    pub name: String,
    /// The whole line after the tag, without the line break.
    pub line: String,
}

/// How the server answers one command, instead of correctly.
#[derive(Debug, Clone)]
pub enum Answer {
    /// These bytes, then the server reads the next command.
    Bytes(Vec<u8>),
    /// These bytes, one every `pause`.
    Trickle(Vec<u8>, Duration),
    /// The connection is closed without a word.
    Close,
}

/// What a test says for a command: `None` leaves the correct answer.
pub type Script = dyn Fn(&Command) -> Option<Answer> + Send + Sync;

/// The server: on a port of its own until the process ends.
#[derive(Debug)]
pub struct ScriptedImap {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl ScriptedImap {
    /// Starts the server with `messages` as UIDs 1, 2, 3 … of `INBOX` (all unseen) and
    /// `script` deciding answers.
    pub fn start(
        messages: Vec<Vec<u8>>,
        script: impl Fn(&Command) -> Option<Answer> + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Server {
            messages,
            script: Box::new(script),
            log: Arc::clone(&log),
        });
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = server.serve(stream);
                });
            }
        });
        Self { port, log }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every command line received so far, without tags, in order.
    pub fn commands(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Connection settings for the connector: plain IMAP on this port, basic auth.
    pub fn connection(&self) -> serde_json::Value {
        serde_json::json!({
            "imap": {"host": "127.0.0.1", "port": self.port, "security": "none"},
            "auth": {"type": "basic", "username": "reader", "password": "secret"},
            "allow_insecure_auth": true,
            "timeouts": {"connect_secs": 5, "io_secs": 5}
        })
    }
}

struct Server {
    messages: Vec<Vec<u8>>,
    script: Box<Script>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut out = stream.try_clone()?;
        let mut lines = BufReader::new(stream);
        out.write_all(b"* OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE] scripted server ready\r\n")?;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let text = line.trim_end().to_owned();
            let Some((tag, rest)) = text.split_once(' ') else {
                continue;
            };
            let mut words = rest.split(' ');
            let first = words.next().unwrap_or_default().to_ascii_uppercase();
            let name = if first == "UID" {
                format!(
                    "UID {}",
                    words.next().unwrap_or_default().to_ascii_uppercase()
                )
            } else {
                first
            };
            if let Ok(mut log) = self.log.lock() {
                log.push(rest.to_owned());
            }
            let command = Command {
                tag: tag.to_owned(),
                name,
                line: rest.to_owned(),
            };
            match (self.script)(&command) {
                Some(Answer::Bytes(bytes)) => out.write_all(&bytes)?,
                Some(Answer::Trickle(bytes, pause)) => {
                    for b in bytes {
                        out.write_all(&[b])?;
                        std::thread::sleep(pause);
                    }
                }
                Some(Answer::Close) => return Ok(()),
                None => {
                    let answer = self.answer(&command);
                    out.write_all(&answer)?;
                    if command.name == "LOGOUT" {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The correct answer.
    fn answer(&self, c: &Command) -> Vec<u8> {
        let tag = &c.tag;
        let count = self.messages.len();
        let body = match c.name.as_str() {
            "CAPABILITY" => "* CAPABILITY IMAP4rev1 UIDPLUS MOVE\r\n".to_owned(),
            "LOGOUT" => "* BYE logging out\r\n".to_owned(),
            "LIST" => "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Processed\r\n".to_owned(),
            "SELECT" | "EXAMINE" => format!(
                "* {count} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Deleted)\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT {}] ok\r\n",
                count + 1
            ),
            "UID SEARCH" => {
                // `LARGER n` is the one key understood beside `UID`: the rest match all.
                let larger: Option<usize> = c
                    .line
                    .split(' ')
                    .skip_while(|w| !w.eq_ignore_ascii_case("LARGER"))
                    .nth(1)
                    .and_then(|n| n.parse().ok());
                let uids: Vec<String> = self
                    .uids_in(&c.line)
                    .into_iter()
                    .filter(|u| larger.is_none_or(|n| self.messages[u - 1].len() > n))
                    .map(|u| u.to_string())
                    .collect();
                format!("* SEARCH {}\r\n", uids.join(" "))
            }
            "UID FETCH" => return self.fetch(c),
            _ => String::new(),
        };
        format!("{body}{tag} OK {} completed\r\n", c.name).into_bytes()
    }

    /// The UIDs of this folder in the command's first UID set (after `UID FETCH`, or
    /// after the `UID` search key).
    fn uids_in(&self, line: &str) -> Vec<usize> {
        let words: Vec<&str> = line.split(' ').collect();
        let set = if words.first().is_some_and(|w| w.eq_ignore_ascii_case("UID"))
            && words
                .get(1)
                .is_some_and(|w| w.eq_ignore_ascii_case("FETCH"))
        {
            words.get(2).copied()
        } else {
            words
                .windows(2)
                .skip(1)
                .find(|w| w[0].eq_ignore_ascii_case("UID"))
                .map(|w| w[1])
        };
        let count = self.messages.len();
        let Some(set) = set else {
            return (1..=count).collect();
        };
        let mut uids = Vec::new();
        for part in set.split(',') {
            let bound = |s: &str| {
                if s == "*" {
                    count
                } else {
                    s.parse().unwrap_or(0)
                }
            };
            let (lo, hi) = match part.split_once(':') {
                Some((a, b)) => (bound(a).min(bound(b)), bound(a).max(bound(b))),
                None => (bound(part), bound(part)),
            };
            uids.extend(lo.max(1)..=hi.min(count));
        }
        uids.sort_unstable();
        uids.dedup();
        uids
    }

    fn fetch(&self, c: &Command) -> Vec<u8> {
        let mut out = Vec::new();
        let with_body = c.line.contains("BODY");
        for uid in self.uids_in(&c.line) {
            let message = &self.messages[uid - 1];
            if with_body {
                out.extend_from_slice(
                    format!(
                        "* {uid} FETCH (UID {uid} FLAGS () RFC822.SIZE {} BODY[] {{{}}}\r\n",
                        message.len(),
                        message.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(message);
                out.extend_from_slice(b")\r\n");
            } else {
                out.extend_from_slice(
                    format!(
                        "* {uid} FETCH (UID {uid} RFC822.SIZE {})\r\n",
                        message.len()
                    )
                    .as_bytes(),
                );
            }
        }
        out.extend_from_slice(format!("{} OK UID FETCH completed\r\n", c.tag).as_bytes());
        out
    }
}

/// A small message with `subject`, for a scripted folder.
pub fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.test>\r\n\r\nBody of {subject}\r\n"
    )
    .into_bytes()
}
