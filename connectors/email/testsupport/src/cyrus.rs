//! Cyrus IMAP 3.6 on loopback: a full IMAP server of another family than Dovecot
//! (UIDPLUS, MOVE, CONDSTORE, QRESYNC, IDLE, LITERAL+, SPECIAL-USE), for the interop
//! tests. Started by the test on a port it picks, with its own configuration and
//! spool in a temporary directory, one user (`reader`, any password: the test server
//! checks none), and stopped with its processes when dropped.
//!
//! Debian's Cyrus package would replace Dovecot's IMAP server, so
//! `scripts/install-deps.sh` unpacks it (and the libraries it needs) into
//! [`CYRUS_ROOT`] and creates the `cyrus` user it was built for; without them,
//! [`Cyrus::start`] fails with what to run.
//!
//! ```no_run
//! use email_testsupport::InteropImap as _;
//!
//! let server = email_testsupport::cyrus::Cyrus::start().expect("cyrus runs");
//! server.append("INBOX", b"Subject: hi\r\n\r\nhello\r\n").expect("stored");
//! ```

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::imap_client::{Client, free_port, quoted};
use crate::mail::HarnessError;

/// Where `scripts/install-deps.sh` unpacks Cyrus.
pub const CYRUS_ROOT: &str = "/opt/connector-interop/cyrus";

/// The user every test reads as.
pub const USER: &str = "reader";
/// Its password (not checked by this test server).
pub const PASSWORD: &str = "interop-secret";

/// A running Cyrus `master` and its services.
#[derive(Debug)]
pub struct Cyrus {
    port: u16,
    /// Stopped first when dropped (before its directory goes): master and the
    /// services it started share its process group.
    _server: crate::Watched,
    _dir: tempfile::TempDir,
}

impl Cyrus {
    /// Starts Cyrus with the user [`USER`] and an empty INBOX; waits until it answers.
    ///
    /// # Errors
    /// When Cyrus is not unpacked (with what to run), cannot start, or does not answer
    /// within 15 seconds.
    pub fn start() -> Result<Self, HarnessError> {
        let root = PathBuf::from(CYRUS_ROOT);
        let bin = root.join("usr/lib/cyrus/bin");
        if !bin.join("master").exists() {
            return Err(HarnessError::Setup(format!(
                "{} is missing: run scripts/install-deps.sh (it unpacks Debian's cyrus-imapd there)",
                bin.join("master").display()
            )));
        }
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        for sub in ["conf", "spool", "run"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        let port = free_port()?;
        let imapd_conf = d.join("imapd.conf");
        std::fs::write(
            &imapd_conf,
            format!(
                "configdirectory: {conf}
partition-default: {spool}
sasl_pwcheck_method: alwaystrue
admins: cyrus
allowplaintext: yes
unixhierarchysep: yes
altnamespace: yes
imapidlepoll: 1
idlesocket: {run}/idle
lmtpsocket: {run}/lmtp
notifysocket: {run}/notify
mboxname_lockpath: {run}/lock
proc_path: {run}/proc
syslog_prefix: cyrus-interop
",
                conf = d.join("conf").display(),
                spool = d.join("spool").display(),
                run = d.join("run").display(),
            ),
        )?;
        std::fs::write(
            d.join("cyrus.conf"),
            format!(
                r#"START {{
  recover cmd="{bin}/ctl_cyrusdb -r -C {conf}"
}}
SERVICES {{
  imap cmd="{bin}/imapd -C {conf}" listen="127.0.0.1:{port}" prefork=0
}}
EVENTS {{
}}
"#,
                bin = bin.display(),
                conf = imapd_conf.display(),
            ),
        )?;
        let chown = Command::new("chown")
            .args(["-R", "cyrus:mail"])
            .arg(d)
            .status()?;
        if !chown.success() {
            return Err(HarnessError::Setup(
                "there is no user cyrus: run scripts/install-deps.sh".into(),
            ));
        }
        let libs = format!(
            "{}:{}",
            root.join("usr/lib/x86_64-linux-gnu").display(),
            root.join("lib/x86_64-linux-gnu").display()
        );
        let child = Command::new(bin.join("master"))
            .arg("-C")
            .arg(&imapd_conf)
            .arg("-M")
            .arg(d.join("cyrus.conf"))
            .arg("-D")
            .arg("-p")
            .arg(d.join("run/master.pid"))
            .env("LD_LIBRARY_PATH", libs)
            // Its own process group: dropping the server ends its services too.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // master and the services it started share its process group.
        let watched = crate::Watched::start(child, dir.path(), true)?;
        let server = Self {
            port,
            _server: watched,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut admin) = Client::login(port, "cyrus", PASSWORD) {
                admin.command(&format!("CREATE {}", quoted(&format!("user/{USER}"))))?;
                admin.command("LOGOUT")?;
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(HarnessError::NotReady {
                    what: "cyrus",
                    port,
                    secs: 15,
                    log: "Cyrus logs to syslog only".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl crate::InteropImap for Cyrus {
    fn name(&self) -> &'static str {
        "cyrus"
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn credentials(&self) -> (&'static str, &'static str) {
        (USER, PASSWORD)
    }
    fn log(&self) -> String {
        String::from("(Cyrus logs to syslog only)")
    }
}
