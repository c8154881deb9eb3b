//! Exim 4.96 on loopback: an SMTP server of another family than Postfix, for the
//! interop tests of Send Email. It accepts mail for `example.test` without login or TLS
//! (as a relay port would) and writes it into a Maildir the test names, usually a
//! Dovecot user's INBOX ([`crate::mail::MailServers::open_inbox_maildir`]), so what
//! Exim delivered is read back over IMAP. Started on a port the test picks; stopped
//! when dropped.
//!
//! Debian's Exim package would replace Postfix, so `scripts/install-deps.sh` unpacks its
//! binary into [`EXIM_ROOT`] and creates the `Debian-exim` user it was built for;
//! without them, [`Exim::start`] fails with what to run.
//!
//! ```no_run
//! let maildir = std::path::Path::new("/tmp/some/Maildir");
//! let exim = email_testsupport::exim::Exim::start(maildir).expect("exim runs");
//! println!("SMTP on 127.0.0.1:{}", exim.port());
//! ```

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::mail::HarnessError;

/// Where `scripts/install-deps.sh` unpacks Exim.
pub const EXIM_ROOT: &str = "/opt/connector-interop/exim";

/// A running Exim daemon.
#[derive(Debug)]
pub struct Exim {
    port: u16,
    /// Stopped first when dropped (before its directory goes).
    _server: crate::Watched,
    dir: tempfile::TempDir,
}

impl Exim {
    /// Starts Exim delivering mail for `example.test` into `maildir`.
    ///
    /// # Errors
    /// When Exim is not unpacked (with what to run), cannot start, or does not listen
    /// within 10 seconds (with its log).
    pub fn start(maildir: &Path) -> Result<Self, HarnessError> {
        let binary = PathBuf::from(EXIM_ROOT).join("usr/sbin/exim4");
        if !binary.exists() {
            return Err(HarnessError::Setup(format!(
                "{} is missing: run scripts/install-deps.sh (it unpacks Debian's exim4-daemon-light there)",
                binary.display()
            )));
        }
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        let (spool, log) = (root.join("spool"), root.join("log"));
        std::fs::create_dir_all(&spool)?;
        std::fs::create_dir_all(&log)?;
        // Exim drops to its own user: its spool and log must be its own.
        let owner = Command::new("id").args(["-u", "Debian-exim"]).output()?;
        let uid: u32 = String::from_utf8_lossy(&owner.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                HarnessError::Setup(
                    "there is no user Debian-exim: run scripts/install-deps.sh".into(),
                )
            })?;
        for d in [&spool, &log] {
            std::os::unix::fs::chown(d, Some(uid), None)?;
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = root.join("exim.conf");
        std::fs::write(
            &config,
            format!(
                r"exim_path = {binary}
keep_environment =
primary_hostname = interop.test
spool_directory = {spool}
log_file_path = {log}/%slog
pid_file_path = {root}/exim.pid
local_interfaces = <; 127.0.0.1
daemon_smtp_ports = {port}
domainlist local_domains = example.test
acl_smtp_rcpt = acl_check_rcpt
tls_advertise_hosts =
chunking_advertise_hosts = *
never_users =
begin acl
acl_check_rcpt:
  accept domains = +local_domains
  deny message = relay not permitted
begin routers
local:
  driver = accept
  domains = +local_domains
  transport = to_maildir
begin transports
to_maildir:
  driver = appendfile
  directory = {maildir}
  maildir_format
  create_directory
  user = Debian-exim
  group = Debian-exim
  mode = 0644
begin retry
* * F,1h,5m
",
                binary = binary.display(),
                spool = spool.display(),
                log = log.display(),
                root = root.display(),
                maildir = maildir.display(),
            ),
        )?;
        let child = Command::new(&binary)
            .arg("-C")
            .arg(&config)
            .arg("-bdf")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = crate::Watched::start(child, dir.path(), false)?;
        let exim = Self {
            port,
            _server: server,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(HarnessError::NotReady {
                    what: "exim",
                    port,
                    secs: 10,
                    log: exim.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(exim)
    }

    /// Its SMTP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its main and reject logs.
    pub fn log(&self) -> String {
        let log = self.dir.path().join("log");
        ["mainlog", "rejectlog", "paniclog"]
            .iter()
            .map(|f| std::fs::read_to_string(log.join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SMTP settings for the connector: this server, no TLS, no login.
    pub fn smtp(&self) -> serde_json::Value {
        serde_json::json!({"host": "127.0.0.1", "port": self.port, "security": "none", "auth": {"type": "none"}})
    }
}
