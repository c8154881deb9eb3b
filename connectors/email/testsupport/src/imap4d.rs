//! GNU Mailutils `imap4d` on loopback: an IMAP server of another family than Dovecot,
//! and one without the extensions Read Email uses where it can (no UIDPLUS, no MOVE,
//! no CONDSTORE, no UTF8=ACCEPT), for the interop tests. Started by the test on a port
//! it picks, with its own configuration, one virtual user and Maildir folders in a
//! temporary directory; stopped when dropped. Needs the Debian package
//! `mailutils-imap4d` (`scripts/install-deps.sh` installs it; it does not conflict with
//! Dovecot); without it, [`Imap4d::start`] fails with the reason.
//!
//! ```no_run
//! use email_testsupport::InteropImap as _;
//!
//! let server = email_testsupport::imap4d::Imap4d::start().expect("imap4d runs");
//! server.append("INBOX", b"Subject: hi\r\n\r\nhello\r\n").expect("stored");
//! assert_eq!(server.flags("INBOX").expect("listed").len(), 1);
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::imap_client::{Client, free_port};
use crate::mail::HarnessError;

/// The server binary, as Debian installs it.
const IMAP4D: &str = "/usr/sbin/imap4d";

/// The user every test reads as.
pub const USER: &str = "reader@example.test";
/// Its password.
pub const PASSWORD: &str = "interop-secret";

/// A running `imap4d`.
#[derive(Debug)]
pub struct Imap4d {
    port: u16,
    /// Stopped first when dropped (before its directory goes).
    _server: crate::Watched,
    dir: tempfile::TempDir,
}

impl Imap4d {
    /// Starts `imap4d` with a user ([`USER`]) and an empty INBOX; waits until it
    /// answers.
    ///
    /// # Errors
    /// When the binary is missing (with what to install), cannot start, or does not
    /// answer within 10 seconds (with its log).
    pub fn start() -> Result<Self, HarnessError> {
        if !Path::new(IMAP4D).exists() {
            return Err(HarnessError::Setup(format!(
                "{IMAP4D} is missing: install the Debian package mailutils-imap4d (scripts/install-deps.sh does)"
            )));
        }
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        let home = root.join("mail").join("reader");
        std::fs::create_dir_all(root.join("passwd.d"))?;
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(root.join("folders").join("reader"))?;
        let hash = Command::new("openssl")
            .args(["passwd", "-6", PASSWORD])
            .output()?;
        if !hash.status.success() {
            return Err(HarnessError::Setup("openssl passwd failed".into()));
        }
        let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
        // The user's uid (imap4d, run as root, keeps root for virtual users).
        let (uid, gid) = (65534, 65534);
        std::fs::write(
            root.join("passwd.d").join("example.test"),
            format!("reader:{hash}:{uid}:{gid}::{}:/bin/false\n", home.display()),
        )?;
        for path in [
            root.join("mail"),
            home.clone(),
            root.join("folders"),
            root.join("folders").join("reader"),
        ] {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
        }
        let port = free_port()?;
        let config = root.join("imap4d.conf");
        std::fs::write(
            &config,
            format!(
                r#"mode daemon;
foreground yes;
server 127.0.0.1:{port} {{ tls-mode false; transcript yes; }};
auth {{ authentication generic; authorization virtdomain; }};
virtdomain {{ passwd-dir "{passwd}"; }};
mailbox {{ mailbox-pattern "maildir://{mail}/${{user}}"; }};
namespace personal {{ prefix "" {{ directory "{folders}/${{user}}"; delimiter "/"; mailbox-type "maildir"; }}; }};
logging {{ syslog no; }};
"#,
                passwd = root.join("passwd.d").display(),
                mail = root.join("mail").display(),
                folders = root.join("folders").display(),
            ),
        )?;
        let log = std::fs::File::create(root.join("imap4d.log"))?;
        let child = Command::new(IMAP4D)
            .arg(format!("--config-file={}", config.display()))
            .arg("--no-site-config")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let watched = crate::Watched::start(child, dir.path(), false)?;
        let server = Self {
            port,
            _server: watched,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = Client::login(port, USER, PASSWORD) {
                // imap4d makes the INBOX Maildir on the first SELECT; APPEND before
                // that is refused (TRYCREATE).
                c.command("SELECT INBOX")?;
                c.command("LOGOUT")?;
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(HarnessError::Setup(format!(
                    "imap4d did not answer on port {port}: {}",
                    server.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("imap4d.log")).unwrap_or_default()
    }

    /// Where its files are (its log, the Maildirs).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl crate::InteropImap for Imap4d {
    fn name(&self) -> &'static str {
        "imap4d"
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn credentials(&self) -> (&'static str, &'static str) {
        (USER, PASSWORD)
    }
    fn log(&self) -> String {
        Self::log(self)
    }
}
