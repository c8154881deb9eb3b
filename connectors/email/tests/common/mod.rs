//! Helpers for the email connector's tests: one Postfix + Dovecot per test binary, a
//! fresh mailbox per test, and runs of the real `email-connector` binary.

#![allow(dead_code, unused_imports)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub use email_testsupport::mail::{MailServers, StoredMessage, Transport, User};
use serde_json::{Value, json};

pub mod interop;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_email-connector");

/// Sends SIGTERM to `child` (what a platform or `systemctl stop` sends).
pub fn sigterm(child: &std::process::Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill -TERM {} failed", child.id());
}

/// The shared servers; a test that cannot start them fails with the reason.
pub fn servers() -> &'static MailServers {
    MailServers::shared()
        .unwrap_or_else(|e| panic!("the mail servers must start for this test: {e}"))
}

/// A mailbox of its own, a second one to send from, and a temporary directory.
pub struct Fixture {
    pub user: User,
    pub peer: User,
    pub dir: tempfile::TempDir,
    pub transport: Transport,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with(Transport::Starttls)
    }

    pub fn with(transport: Transport) -> Self {
        let s = servers();
        Self {
            user: s.new_user(),
            peer: s.new_user(),
            dir: tempfile::tempdir().expect("temp dir"),
            transport,
        }
    }

    /// The connection settings for this fixture's mailbox.
    pub fn settings(&self) -> Value {
        servers().connection(&self.user, self.transport)
    }

    /// Writes JSON to a file in the fixture's directory and returns its path.
    pub fn file(&self, name: &str, value: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).expect("write");
        path.to_str().expect("utf-8").to_owned()
    }

    /// The connection file.
    pub fn conn(&self) -> String {
        self.file("conn.json", &self.settings())
    }

    /// Runs `send` with `input` (one request or an array) and `config`.
    pub fn send(&self, config: Value, input: Value) -> Output {
        self.send_via(&self.settings(), config, input)
    }

    /// Runs `send` over other connection `settings` (a hostile server, a wrong
    /// password) with `config` and `input`.
    pub fn send_via(&self, settings: &Value, config: Value, input: Value) -> Output {
        let (conn, config, input) = (
            self.file("conn.json", settings),
            self.file("send.json", &config),
            self.file("input.json", &input),
        );
        run(&[
            "run",
            "send",
            "--connection",
            &conn,
            "--config",
            &config,
            "--input",
            &input,
        ])
    }

    /// Runs `read` with `config`.
    pub fn read(&self, config: Value) -> Output {
        let (conn, config) = (self.conn(), self.file("read.json", &config));
        run(&["run", "read", "--connection", &conn, "--config", &config])
    }

    /// Runs `read` with `config` and `extra` arguments (`--state FILE`); returns the
    /// records, the state lines, and the output.
    pub fn read_with(&self, config: Value, extra: &[&str]) -> (Vec<Value>, Vec<Value>, Output) {
        let (conn, config) = (self.conn(), self.file("read.json", &config));
        let mut args = vec!["run", "read", "--connection", &conn, "--config", &config];
        args.extend_from_slice(extra);
        let out = run(&args);
        let (states, records): (Vec<Value>, Vec<Value>) = records(&out)
            .into_iter()
            .partition(|l| l.get("$state").is_some());
        (records, states, out)
    }

    /// Sends one message from the peer to this fixture's user and waits for it.
    pub fn deliver_via_smtp(&self, mut request: Value) -> Vec<Value> {
        let before = servers().messages(&self.user, "INBOX").expect("list").len();
        if request.get("from").is_none() {
            request["from"] = json!(self.peer.address);
        }
        if request.get("to").is_none() {
            request["to"] = json!([self.user.address]);
        }
        // Files attached by path come from the fixture's own directory.
        let out = self.send(json!({"attachment_dir": self.dir.path()}), request);
        assert_eq!(code(&out), 0, "send failed: {}", stderr(&out));
        servers()
            .wait_for(&self.user, "INBOX", before + 1, Duration::from_secs(15))
            .expect("delivered");
        results(&out)
    }

    /// Stores a raw message in this fixture's INBOX directly.
    pub fn plant(&self, raw: &str) {
        servers()
            .deliver(&self.user, "INBOX", raw.as_bytes())
            .expect("doveadm save");
    }

    /// Adds `flags` (`"\\Seen \\Flagged"`) to message `uid` of INBOX, as another client
    /// would; panics when doveadm fails.
    pub fn flag(&self, uid: u32, flags: &str) {
        let uid = uid.to_string();
        let user = self.user.address.as_str();
        doveadm(&[
            "flags", "add", "-u", user, flags, "mailbox", "INBOX", "uid", &uid,
        ]);
    }

    /// Expunges message `uid` of INBOX, as another client would; panics when doveadm
    /// fails.
    pub fn expunge(&self, uid: u32) {
        let uid = uid.to_string();
        let user = self.user.address.as_str();
        doveadm(&["expunge", "-u", user, "mailbox", "INBOX", "uid", &uid]);
    }

    /// Ends every IMAP session of the user (`doveadm kick`), as a server restart would.
    pub fn kick(&self) {
        doveadm(&["kick", &self.user.address]);
    }

    /// The messages in `folder`.
    pub fn stored(&self, folder: &str) -> Vec<StoredMessage> {
        servers().messages(&self.user, folder).expect("list")
    }
}

/// Runs `doveadm` on the shared servers; panics with its words when it fails.
fn doveadm(args: &[&str]) {
    let out = servers().doveadm(args).output().expect("doveadm");
    assert!(
        out.status.success(),
        "doveadm {}: {}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A simple message for planting, with a Message-ID and subject.
pub fn raw_message(id: &str, subject: &str, from: &str) -> String {
    format!(
        "From: {from}\r\nTo: someone@example.test\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of {id}\r\n"
    )
}

/// How long one run of the binary may take before the test fails as a hang.
const LIMIT: Duration = Duration::from_secs(120);

pub fn run(args: &[&str]) -> Output {
    connector_testkit::cli::output_within(Command::new(BIN).args(args), None, LIMIT)
}

pub fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    connector_testkit::cli::output_within(&mut cmd, None, LIMIT)
}

pub fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    connector_testkit::cli::output_within(
        Command::new(BIN).args(args),
        Some(stdin.as_bytes()),
        LIMIT,
    )
}

pub use connector_testkit::cli::{code, last_error, stderr, stdout_json, stdout_lines as records};

/// The check step named `name`.
pub fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {report}"))
}

/// The fixture's settings with an `oauth2` login for its user: `grant` and the rest
/// of the block come from `block` (merged over `{"type": "oauth2", "username": …}`).
pub fn oauth_settings(fx: &Fixture, block: Value) -> Value {
    let mut auth = json!({"type": "oauth2", "username": fx.user.address});
    auth.as_object_mut()
        .expect("object")
        .extend(block.as_object().expect("an object").clone());
    let mut settings = fx.settings();
    settings["auth"] = auth;
    settings
}

/// Send Email's result lines (one per request, printed as each is known), in request
/// order by their `index`.
pub fn results(out: &Output) -> Vec<Value> {
    let mut lines = records(out);
    lines.sort_by_key(|r| r["index"].as_u64());
    lines
}

/// A number the run's `summary` log line gives for `field` (`peak_rss_bytes`,
/// `skipped`), from its stderr `text`.
pub fn summary(text: &str, field: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.contains("summary"))
        .unwrap_or_else(|| panic!("no summary in:\n{text}"));
    let at = line
        .find(&format!("{field}="))
        .unwrap_or_else(|| panic!("no {field} in {line}"));
    line[at + field.len() + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number")
}
