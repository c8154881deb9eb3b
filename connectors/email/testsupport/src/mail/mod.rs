//! Real mail servers for tests: Postfix (SMTP submission) delivering through Dovecot
//! LMTP into Maildirs, and Dovecot IMAP, all on loopback ports picked at start, in a
//! temporary directory, with a private certificate authority.
//!
//! ```no_run
//! let servers = email_testsupport::mail::MailServers::shared().expect("mail servers");
//! let alice = servers.new_user();
//! let settings = servers.connection(&alice, email_testsupport::mail::Transport::Starttls);
//! // … run the connector with `settings` …
//! assert!(servers.messages(&alice, "INBOX").expect("list").is_empty());
//! ```
//!
//! Everything comes from Debian's packages (`dovecot-core dovecot-imapd dovecot-lmtpd
//! postfix openssl`). When one is missing, [`MailServers::start`] fails with the
//! install command; it never pretends. The servers need root (Postfix's master
//! drops privileges itself), as in CI and the developer machines here.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod config;
mod mailbox;

pub(crate) use config::sign_token;
pub use mailbox::StoredMessage;

/// The mail domain every test user lives in.
pub const DOMAIN: &str = "example.test";
/// An address Postfix always answers with a temporary failure (`451 4.3.0`) at RCPT,
/// for testing retries.
pub const BUSY: &str = "busy@example.test";
/// The `iss` of the OAuth 2.0 access tokens Dovecot accepts.
pub const TOKEN_ISSUER: &str = "https://login.testkit.invalid/";
/// The `aud` (client id) the tokens must name.
pub const TOKEN_AUDIENCE: &str = "testkit-mail";
/// How many users exist; [`MailServers::new_user`] hands out each once.
pub const USERS: usize = 200;
/// The uid and gid that own the Maildirs.
const VMAIL: u32 = 5000;

const PACKAGES: &str = "dovecot-core dovecot-imapd dovecot-lmtpd postfix openssl";

/// Why the servers could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A program the harness needs is not installed.
    #[error(
        "`{program}` is not installed; install the mail servers with: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {PACKAGES}"
    )]
    Missing {
        /// The missing program.
        program: String,
    },
    /// A command the harness ran failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and output, or the log tail.
        detail: String,
    },
    /// A server did not start listening in time.
    #[error("{what} did not listen on 127.0.0.1:{port} within {secs} s; log tail:\n{log}")]
    NotReady {
        /// Which server.
        what: &'static str,
        /// The port it should listen on.
        port: u16,
        /// How long the harness waited.
        secs: u64,
        /// The end of the server's log.
        log: String,
    },
    /// A file could not be written or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A server could not be set up or refused what the harness asked (the reason).
    #[error("{0}")]
    Setup(String),
}

/// How a client reaches the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// SMTP submission with STARTTLS required (and IMAP with STARTTLS).
    Starttls,
    /// Implicit TLS for both SMTP and IMAP.
    Tls,
    /// Plaintext: SMTP relay port without TLS or login; IMAP without TLS.
    Plain,
}

/// One mailbox owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The login and address (`user007@example.test`).
    pub address: String,
    /// The password (a test password, not a secret).
    pub password: String,
}

/// The ports the servers listen on, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// IMAP (plaintext, STARTTLS offered).
    pub imap: u16,
    /// IMAP over implicit TLS.
    pub imaps: u16,
    /// SMTP submission, STARTTLS required, AUTH required.
    pub submission: u16,
    /// SMTP submission over implicit TLS, AUTH required.
    pub smtps: u16,
    /// SMTP without TLS or AUTH, relaying for loopback clients only.
    pub smtp_plain: u16,
}

/// Running Postfix and Dovecot instances. Dropping it stops them and removes their
/// files; a watcher process does the same if the test process dies first.
#[derive(Debug)]
pub struct MailServers {
    dir: tempfile::TempDir,
    /// The ports.
    pub ports: Ports,
    next_user: AtomicUsize,
    /// Stops both servers and removes the directory if this process ends without
    /// dropping `self` (statics are never dropped; a killed process drops nothing):
    /// [`crate::watch_exit`].
    watcher: Option<std::process::Child>,
}

static SHARED: OnceLock<Result<MailServers, String>> = OnceLock::new();

impl MailServers {
    /// One instance per test process, started on first use. Tests stay independent by
    /// taking their own user with [`MailServers::new_user`].
    ///
    /// # Errors
    /// Why the servers could not start (the same message for every caller).
    pub fn shared() -> Result<&'static MailServers, String> {
        SHARED
            .get_or_init(|| Self::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Starts a private instance.
    ///
    /// # Errors
    /// A missing package (with the install command), a failed command, or a server
    /// that did not come up (with its log).
    pub fn start() -> Result<Self, HarnessError> {
        // The ports are picked free, then bound by the servers a moment later: another
        // process (a parallel test binary) can take one in between. Found by running the
        // suite 30 times beside other work; such a start is tried again on new ports.
        let mut attempt = 1;
        loop {
            match Self::start_once() {
                Err(e)
                    if attempt < 5
                        && ["Address already in use", "duplicate listener"]
                            .iter()
                            .any(|m| e.to_string().contains(m)) =>
                {
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    fn start_once() -> Result<Self, HarnessError> {
        for program in [
            "/usr/sbin/dovecot",
            "/usr/bin/doveadm",
            "/usr/sbin/postfix",
            "/usr/bin/openssl",
        ] {
            if !Path::new(program).exists() {
                return Err(HarnessError::Missing {
                    program: program.to_owned(),
                });
            }
        }
        let dir = tempfile::Builder::new().prefix("mail-servers-").tempdir()?;
        chmod(dir.path(), 0o755)?;
        let [imap, imaps, submission, smtps, smtp_plain] = free_ports()?;
        let ports = Ports {
            imap,
            imaps,
            submission,
            smtps,
            smtp_plain,
        };
        let mut servers = Self {
            dir,
            ports,
            next_user: AtomicUsize::new(1),
            watcher: None,
        };
        servers.write_tls()?;
        servers.write_users()?;
        servers.write_dovecot()?;
        servers.write_postfix()?;
        servers.watcher = Some(crate::watch_exit(&servers.stop_script())?);
        servers.start_dovecot()?;
        servers.start_postfix()?;
        Ok(servers)
    }

    /// The temporary directory holding configuration, logs and mail.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The private CA certificate (PEM) the servers' certificate is signed by.
    pub fn ca_file(&self) -> PathBuf {
        self.path("tls/ca.pem")
    }

    /// A user no other test of this process has been given.
    ///
    /// # Panics
    /// After [`USERS`] users.
    pub fn new_user(&self) -> User {
        let n = self.next_user.fetch_add(1, Ordering::SeqCst);
        assert!(
            n <= USERS,
            "all {USERS} test users are taken; raise email_testsupport::mail::USERS"
        );
        user(n)
    }

    /// Connection settings for the email connector logging in as `user`.
    pub fn connection(&self, user: &User, transport: Transport) -> Value {
        let p = self.ports;
        let (smtp, imap) = match transport {
            Transport::Starttls => (
                json!({"host": "localhost", "port": p.submission, "security": "starttls"}),
                json!({"host": "localhost", "port": p.imap, "security": "starttls"}),
            ),
            Transport::Tls => (
                json!({"host": "localhost", "port": p.smtps, "security": "tls"}),
                json!({"host": "localhost", "port": p.imaps, "security": "tls"}),
            ),
            Transport::Plain => (
                json!({"host": "127.0.0.1", "port": p.smtp_plain, "security": "none", "auth": {"type": "none"}}),
                json!({"host": "127.0.0.1", "port": p.imap, "security": "none"}),
            ),
        };
        json!({
            "smtp": smtp,
            "imap": imap,
            "auth": {"type": "basic", "username": user.address, "password": user.password},
            "tls": {"ca_file": self.ca_file()},
            "timeouts": {"connect_secs": 5, "io_secs": 20},
            "allow_insecure_auth": transport == Transport::Plain,
        })
    }

    /// The last lines of a log file under the directory (`log/postfix.log`,
    /// `log/dovecot.log`).
    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// A `doveadm` command against this Dovecot.
    pub fn doveadm(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("/usr/bin/doveadm");
        cmd.arg("-c")
            .arg(self.path("dovecot/dovecot.conf"))
            .args(args);
        cmd
    }

    /// The process id of Dovecot's master process (every IMAP session's process is
    /// its child: what they cost in CPU is added to its reaped children's time once
    /// they end, which is how the bench measures the server's work for one read).
    ///
    /// # Errors
    /// When Dovecot's pid file cannot be read.
    pub fn dovecot_pid(&self) -> Result<u32, HarnessError> {
        let pid = std::fs::read_to_string(self.path("run/dovecot/master.pid"))?;
        pid.trim().parse().map_err(|_| {
            HarnessError::from(std::io::Error::other(format!(
                "Dovecot's pid file holds {pid:?}, not a process id"
            )))
        })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> Result<(), HarnessError> {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
            chmod(parent, 0o755)?;
        }
        std::fs::write(&path, text)?;
        chmod(&path, 0o644)?;
        Ok(())
    }

    fn stop_script(&self) -> String {
        let d = self.dir.path().display();
        format!(
            "/usr/sbin/postfix -c {d}/postfix/etc stop >/dev/null 2>&1; \
             /usr/bin/doveadm -c {d}/dovecot/dovecot.conf stop >/dev/null 2>&1; \
             sleep 1; rm -rf {d}"
        )
    }

    fn start_dovecot(&self) -> Result<(), HarnessError> {
        let log = std::fs::File::create(self.path("log/dovecot.start"))?;
        // Dovecot keeps the stderr it was started with: give it a file, not a pipe.
        let status = Command::new("/usr/sbin/dovecot")
            .arg("-c")
            .arg(self.path("dovecot/dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()?;
        if !status.success() {
            return Err(HarnessError::Command {
                command: "dovecot".into(),
                detail: format!(
                    "{status}: {}{}",
                    self.log_tail("log/dovecot.start"),
                    self.log_tail("log/dovecot.log")
                ),
            });
        }
        for port in [self.ports.imap, self.ports.imaps] {
            self.wait_listening("dovecot", port, "log/dovecot.log")?;
        }
        let lmtp = self.path("run/dovecot/lmtp");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !lmtp.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn start_postfix(&self) -> Result<(), HarnessError> {
        let etc = self.path("postfix/etc");
        let out = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(&etc)
            .arg("start")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(HarnessError::Command {
                command: "postfix start".into(),
                detail: format!(
                    "{}: {}{}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    self.log_tail("log/postfix.log")
                ),
            });
        }
        for port in [
            self.ports.submission,
            self.ports.smtps,
            self.ports.smtp_plain,
        ] {
            self.wait_listening("postfix", port, "log/postfix.log")?;
        }
        Ok(())
    }

    fn wait_listening(&self, what: &'static str, port: u16, log: &str) -> Result<(), HarnessError> {
        let secs = 20;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(HarnessError::NotReady {
            what,
            port,
            secs,
            log: self.log_tail(log),
        })
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        if let Some(watcher) = self.watcher.as_mut() {
            crate::end_watch(watcher);
        }
        let _ = Command::new("/bin/sh")
            .args(["-c", &self.stop_script()])
            .status();
    }
}

fn user(n: usize) -> User {
    User {
        address: format!("user{n:03}@{DOMAIN}"),
        password: format!("pw-{n:03}-test"),
    }
}

/// Five distinct free ports. All are held until all are picked: a port released at
/// once can be handed out again by the next bind (found by the 30-run sweep: Dovecot
/// refused a configuration with the same port twice).
fn free_ports() -> Result<[u16; 5], HarnessError> {
    let held: Vec<TcpListener> = (0..5)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    let mut ports = [0u16; 5];
    for (port, listener) in ports.iter_mut().zip(&held) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

fn check(what: &str, out: &std::process::Output) -> Result<(), HarnessError> {
    if out.status.success() {
        Ok(())
    } else {
        Err(HarnessError::Command {
            command: what.to_owned(),
            detail: format!(
                "{}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}

fn chmod(path: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), HarnessError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    Ok(())
}

fn postfix_uid() -> Result<u32, HarnessError> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|l| l.strip_prefix("postfix:"))
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|uid| uid.parse().ok())
        .ok_or_else(|| HarnessError::Missing {
            program: "the postfix user".into(),
        })
}
