//! Test support for the Email connector, kept out of the generic `connector-testkit`
//! so a connector author who never speaks SMTP or IMAP does not build mail servers.
//!
//! - [`mail`]: real Postfix and Dovecot on loopback, started by the test itself on
//!   ports it picks (no mail account needed; fails loudly when they cannot start).
//! - [`corpus`]: a generated hostile MIME corpus (nesting of every kind, 100,000
//!   parts, huge headers and lines, broken encodings and boundaries).
//! - [`imap`]: a scripted IMAP server that misbehaves as a test tells it to (tagged
//!   `NO` to a FETCH, a 500 MB literal, a SEARCH line of millions of UIDs).
//! - [`cyrus`]: Cyrus IMAP, a full IMAP server of another family than Dovecot, for the
//!   interop tests.
//! - [`exim`]: Exim, an SMTP server of another family than Postfix, delivering into a
//!   Dovecot user's Maildir, for the interop tests of Send Email.
//! - [`imap4d`]: GNU Mailutils' `imap4d`, an IMAP server without UIDPLUS, MOVE or
//!   CONDSTORE, for the interop tests.
//! - [`oauth`]: an OAuth 2.0 token endpoint on loopback whose tokens the harness's
//!   Dovecot accepts, for the client credentials, password and refresh token grants.
//! - `mail-sandbox` (a binary): the same servers left running for trying the connector
//!   by hand.
//!
//! The server configurations are the files in `templates/`, filled in at start.

pub mod corpus;
pub mod cyrus;
pub mod exim;
pub mod imap;
pub mod imap4d;
mod imap_client;
pub mod mail;
pub mod oauth;

/// Runs the shell command `stop` once this process has ended, however it ends: a
/// watcher of its own that checks five times a second. It is its own process group
/// and ignores the signals a terminal or job control sends (`HUP`, `INT`, `TERM`), so
/// killing the test's or the sandbox's whole process group (Ctrl-C, a stopped job, a
/// cancelled CI step) does not take it along before it stopped the servers; a watcher
/// in the same group died with it and left them running. A harness that stops its
/// servers itself ends the watcher first with [`std::process::Child::kill`]
/// (`SIGKILL`, which cannot be ignored), so that `stop` never runs after a pid it
/// names was reused.
pub(crate) fn watch_exit(stop: &str) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt as _;
    let script = format!(
        "trap '' HUP INT TERM; while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; {stop}",
        pid = std::process::id()
    );
    std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
}

/// A server process the harness started (Cyrus's master, `imap4d`, Exim): stopped
/// when dropped, and watched ([`watch_exit`]) so that it is stopped and its directory
/// removed if this process ends without dropping it. Declare it before the directory
/// it uses, so the server is gone before the directory is removed.
#[derive(Debug)]
pub(crate) struct Watched {
    child: std::process::Child,
    watcher: std::process::Child,
    /// Whether the server's whole process group is stopped (Cyrus's master and the
    /// services it started), not only its process.
    group: bool,
}

impl Watched {
    /// Watches `child`, a server just started with its files in `dir`. When the
    /// watcher cannot be started, `child` is stopped (and reaped) before the error is
    /// returned, so a failed start leaves nothing running.
    pub(crate) fn start(
        mut child: std::process::Child,
        dir: &std::path::Path,
        group: bool,
    ) -> std::io::Result<Self> {
        let kill = if group {
            format!("kill -TERM -- -{} 2>/dev/null; sleep 1", child.id())
        } else {
            format!("kill {} 2>/dev/null", child.id())
        };
        match watch_exit(&format!("{kill}; rm -rf '{}'", dir.display())) {
            Ok(watcher) => Ok(Self {
                child,
                watcher,
                group,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        end_watch(&mut self.watcher);
        if self.group {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", self.child.id())])
                .status();
        } else {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Ends a watcher started by [`watch_exit`] without running its command, and reaps it.
pub(crate) fn end_watch(watcher: &mut std::process::Child) {
    let _ = watcher.kill();
    let _ = watcher.wait();
}

/// What the interop tests need of an IMAP server the harness runs ([`imap4d::Imap4d`],
/// [`cyrus::Cyrus`]), so each scenario is written once and run against each. A server
/// says where it is and who reads; the rest is done over IMAP by the harness's own
/// small client.
pub trait InteropImap {
    /// The server's name, for messages.
    fn name(&self) -> &'static str;
    /// Its port on 127.0.0.1.
    fn port(&self) -> u16;
    /// The login and password of the user the tests read as.
    fn credentials(&self) -> (&'static str, &'static str);
    /// What the server logged, where it keeps a log of its own.
    fn log(&self) -> String;

    /// Connection settings for the connector: plain IMAP, basic auth.
    fn connection(&self) -> serde_json::Value {
        let (user, password) = self.credentials();
        serde_json::json!({
            "imap": {"host": "127.0.0.1", "port": self.port(), "security": "none"},
            "auth": {"type": "basic", "username": user, "password": password},
            "allow_insecure_auth": true,
            "timeouts": {"connect_secs": 5, "io_secs": 10}
        })
    }

    /// Creates a folder (its name as IMAP writes it: modified UTF-7).
    ///
    /// # Errors
    /// When the server refuses.
    fn create(&self, folder: &str) -> Result<(), mail::HarnessError> {
        let mut c = session(self)?;
        c.command(&format!("CREATE {}", imap_client::quoted(folder)))?;
        c.command("LOGOUT").map(drop)
    }

    /// Stores a message in a folder (IMAP APPEND, a LITERAL+ literal).
    ///
    /// # Errors
    /// When the server refuses.
    fn append(&self, folder: &str, raw: &[u8]) -> Result<(), mail::HarnessError> {
        let mut c = session(self)?;
        c.append(folder, raw)?;
        c.command("LOGOUT").map(drop)
    }

    /// Adds `flags` (`\\Flagged`) to message `uid` of a folder, as another client would.
    ///
    /// # Errors
    /// When the server refuses.
    fn add_flags(&self, folder: &str, uid: u32, flags: &str) -> Result<(), mail::HarnessError> {
        let mut c = session(self)?;
        c.command(&format!("SELECT {}", imap_client::quoted(folder)))?;
        c.command(&format!("UID STORE {uid} +FLAGS ({flags})"))?;
        c.command("LOGOUT").map(drop)
    }

    /// Expunges message `uid` of a folder, as another client would (flags it
    /// `\\Deleted`, then `EXPUNGE`: whatever else is flagged so goes too).
    ///
    /// # Errors
    /// When the server refuses.
    fn expunge(&self, folder: &str, uid: u32) -> Result<(), mail::HarnessError> {
        let mut c = session(self)?;
        c.command(&format!("SELECT {}", imap_client::quoted(folder)))?;
        c.command(&format!("UID STORE {uid} +FLAGS (\\Deleted)"))?;
        c.command("EXPUNGE")?;
        c.command("LOGOUT").map(drop)
    }

    /// Each message of a folder: its UID and flags, in UID order.
    ///
    /// # Errors
    /// When the server refuses.
    fn flags(&self, folder: &str) -> Result<Vec<(u32, String)>, mail::HarnessError> {
        let mut c = session(self)?;
        let flags = c.flags(folder)?;
        c.command("LOGOUT")?;
        Ok(flags)
    }
}

/// A logged-in session of the harness's own client on `server`.
fn session(
    server: &(impl InteropImap + ?Sized),
) -> Result<imap_client::Client, mail::HarnessError> {
    let (user, password) = server.credentials();
    imap_client::Client::login(server.port(), user, password)
}
