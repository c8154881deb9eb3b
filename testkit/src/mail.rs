//! Real mail servers for tests: Postfix (SMTP submission) delivering through Dovecot
//! LMTP into Maildirs, and Dovecot IMAP, all on loopback ports picked at start, in a
//! temporary directory, with a private certificate authority.
//!
//! ```no_run
//! let servers = connector_testkit::mail::MailServers::shared().expect("mail servers");
//! let alice = servers.new_user();
//! let settings = servers.connection(&alice, connector_testkit::mail::Transport::Starttls);
//! // … run the connector with `settings` …
//! assert!(servers.messages(&alice, "INBOX").expect("list").is_empty());
//! ```
//!
//! Everything comes from Debian's packages (`dovecot-core dovecot-imapd dovecot-lmtpd
//! postfix openssl`). When one is missing, [`MailServers::start`] fails with the
//! install command; it never pretends. The servers need root (Postfix's master
//! drops privileges itself), as in CI and the developer machines here.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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
        let ports = Ports {
            imap: free_port()?,
            imaps: free_port()?,
            submission: free_port()?,
            smtps: free_port()?,
            smtp_plain: free_port()?,
        };
        let servers = Self {
            dir,
            ports,
            next_user: AtomicUsize::new(1),
        };
        servers.write_tls()?;
        servers.write_users()?;
        servers.write_dovecot()?;
        servers.write_postfix()?;
        servers.start_watcher()?;
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
            "all {USERS} test users are taken; raise connector_testkit::mail::USERS"
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

    /// Stores a raw message in `user`'s `folder` directly (no SMTP), exactly as given:
    /// the way to plant malformed or hand-made messages.
    ///
    /// # Errors
    /// When `doveadm save` fails.
    pub fn deliver(&self, user: &User, folder: &str, raw: &[u8]) -> Result<(), HarnessError> {
        let mut child = self
            .doveadm(&["save", "-u", &user.address, "-m", folder])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().expect("piped").write_all(raw)?;
        let out = child.wait_with_output()?;
        check("doveadm save", &out)
    }

    /// Writes many messages straight into `user`'s INBOX Maildir (`new/`), for
    /// benchmarks that need thousands: Dovecot indexes them on the next access. Much
    /// faster than [`MailServers::deliver`], and the bytes are stored as given.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn fill_inbox<I, M>(&self, user: &User, messages: I) -> Result<usize, HarnessError>
    where
        I: IntoIterator<Item = M>,
        M: AsRef<[u8]>,
    {
        let maildir = self.path("mail").join(&user.address).join("Maildir");
        for sub in ["", "cur", "new", "tmp"] {
            let d = maildir.join(sub);
            std::fs::create_dir_all(&d)?;
            chown(&d, VMAIL, VMAIL)?;
        }
        chown(&self.path("mail").join(&user.address), VMAIL, VMAIL)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut n = 0;
        for (i, m) in messages.into_iter().enumerate() {
            let name = maildir
                .join("new")
                .join(format!("{stamp}.M{i}P{}.testkit", std::process::id()));
            std::fs::write(&name, m.as_ref())?;
            chown(&name, VMAIL, VMAIL)?;
            n += 1;
        }
        Ok(n)
    }

    /// Creates `folder` for `user`.
    ///
    /// # Errors
    /// When `doveadm mailbox create` fails (also when it exists).
    pub fn create_folder(&self, user: &User, folder: &str) -> Result<(), HarnessError> {
        let out = self
            .doveadm(&["mailbox", "create", "-u", &user.address, folder])
            .output()?;
        check("doveadm mailbox create", &out)
    }

    /// The messages in `user`'s `folder`: UID, flags and the Message-ID, in UID order.
    ///
    /// # Errors
    /// When `doveadm fetch` fails.
    pub fn messages(&self, user: &User, folder: &str) -> Result<Vec<StoredMessage>, HarnessError> {
        let out = self
            .doveadm(&[
                "-f",
                "tab",
                "fetch",
                "-u",
                &user.address,
                "uid flags hdr.message-id",
                "mailbox",
                folder,
                "all",
            ])
            .output()?;
        check("doveadm fetch", &out)?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut cols = line.splitn(3, '\t');
                let uid = cols.next()?.trim().parse().ok()?;
                let flags = cols
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                let message_id = cols.next().unwrap_or("").trim().to_owned();
                Some(StoredMessage {
                    uid,
                    flags,
                    message_id,
                })
            })
            .collect())
    }

    /// The raw bytes of the message with `uid` in `user`'s `folder`.
    ///
    /// # Errors
    /// When `doveadm fetch` fails.
    pub fn raw_message(
        &self,
        user: &User,
        folder: &str,
        uid: u32,
    ) -> Result<Vec<u8>, HarnessError> {
        let out = self
            .doveadm(&[
                "-f",
                "pager",
                "fetch",
                "-u",
                &user.address,
                "text",
                "mailbox",
                folder,
                "uid",
                &uid.to_string(),
            ])
            .output()?;
        check("doveadm fetch", &out)?;
        // `pager` output is `text:` then the message, then a form feed.
        let body = out.stdout;
        let start = body
            .windows(6)
            .position(|w| w == b"text:\n")
            .map_or(0, |i| i + 6);
        let end = body.iter().rposition(|b| *b == 0x0c).unwrap_or(body.len());
        Ok(body[start..end].to_vec())
    }

    /// Waits until `user`'s `folder` holds at least `count` messages.
    ///
    /// # Errors
    /// The messages seen when `timeout` ran out.
    pub fn wait_for(
        &self,
        user: &User,
        folder: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<StoredMessage>, HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages(user, folder)?;
            if messages.len() >= count {
                return Ok(messages);
            }
            if Instant::now() > deadline {
                return Err(HarnessError::Command {
                    command: format!("wait for {count} messages in {}/{folder}", user.address),
                    detail: format!(
                        "only {} arrived; postfix log tail:\n{}",
                        messages.len(),
                        self.log_tail("log/postfix.log")
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of a log file under the directory (`log/postfix.log`,
    /// `log/dovecot.log`).
    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Ends `user`'s IMAP sessions from the server side, as Microsoft 365 does when the
    /// token a session logged in with expires (`BYE Session invalidated -
    /// AccessTokenExpired`).
    ///
    /// # Errors
    /// When `doveadm kick` fails.
    pub fn kick(&self, user: &User) -> Result<(), HarnessError> {
        let out = self.doveadm(&["kick", &user.address]).output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(HarnessError::Command {
                command: format!("doveadm kick {}", user.address),
                detail: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    /// Ends every open SMTP session (kills Postfix's `smtpd` processes), as a server
    /// does that drops idle or long sessions. Returns how many it ended.
    ///
    /// # Errors
    /// When Postfix's master process cannot be found.
    pub fn drop_smtp_sessions(&self) -> Result<usize, HarnessError> {
        let pid = std::fs::read_to_string(self.path("postfix/spool/pid/master.pid"))?;
        let master = pid.trim().to_owned();
        let mut ended = 0;
        for entry in std::fs::read_dir("/proc")?.flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...
            let Some((head, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let comm = head.split_once(" (").map_or("", |(_, c)| c);
            let parent = rest.split_whitespace().nth(1).unwrap_or("");
            if comm == "smtpd" && parent == master {
                let child = entry.file_name().to_string_lossy().into_owned();
                if Command::new("kill")
                    .args(["-9", &child])
                    .status()?
                    .success()
                {
                    ended += 1;
                }
            }
        }
        Ok(ended)
    }

    /// A `doveadm` command against this Dovecot.
    pub fn doveadm(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("/usr/bin/doveadm");
        cmd.arg("-c")
            .arg(self.path("dovecot/dovecot.conf"))
            .args(args);
        cmd
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

    fn write_tls(&self) -> Result<(), HarnessError> {
        let tls = self.path("tls");
        std::fs::create_dir_all(&tls)?;
        chmod(&tls, 0o755)?;
        self.write(
            "tls/server.ext",
            "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
        )?;
        let steps: [&[&str]; 4] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=connector-testkit CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
            // A self-signed certificate no client trusts, for "untrusted certificate" tests.
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=untrusted",
                "-keyout",
                "other.key",
                "-out",
                "other.pem",
            ],
        ];
        for args in steps {
            let out = Command::new("/usr/bin/openssl")
                .args(args)
                .current_dir(&tls)
                .output()?;
            check(&format!("openssl {}", args[0]), &out)?;
        }
        for f in [
            "server.key",
            "server.pem",
            "ca.pem",
            "other.pem",
            "other.key",
        ] {
            chmod(&tls.join(f), 0o644)?;
        }
        Ok(())
    }

    fn write_users(&self) -> Result<(), HarnessError> {
        let mail = self.path("mail");
        std::fs::create_dir_all(&mail)?;
        chown(&mail, VMAIL, VMAIL)?;
        let mut passwd = String::new();
        let mut vmailbox = String::new();
        for n in 1..=USERS {
            let u = user(n);
            passwd.push_str(&format!(
                "{}:{{PLAIN}}{}:{VMAIL}:{VMAIL}::{}::\n",
                u.address,
                u.password,
                mail.join(&u.address).display()
            ));
            vmailbox.push_str(&format!("{} ok\n", u.address));
        }
        self.write("dovecot/users", &passwd)?;
        self.write("postfix/etc/vmailbox", &vmailbox)
    }

    fn write_dovecot(&self) -> Result<(), HarnessError> {
        let d = self.dir.path().display();
        let p = self.ports;
        let run = self.path("run");
        std::fs::create_dir_all(&run)?;
        chmod(&run, 0o755)?;
        let conf = format!(
            r#"# Written by connector-testkit: a private Dovecot on loopback.
instance_name = testkit-{pid}
base_dir = {d}/run/dovecot
state_dir = {d}/run/state
log_path = {d}/log/dovecot.log
info_log_path = {d}/log/dovecot.log
debug_log_path = {d}/log/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/tls/server.pem
ssl_key = <{d}/tls/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
auth_cache_size = 0
first_valid_uid = 1000
mail_location = maildir:~/Maildir
mail_plugins =
default_vsz_limit = 1G
mail_max_userip_connections = 500
mail_fsync = never
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/dovecot/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%Lu {d}/dovecot/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {d}/dovecot/users
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \Sent
    auto = create
  }}
  mailbox Drafts {{
    special_use = \Drafts
    auto = create
  }}
  mailbox Trash {{
    special_use = \Trash
    auto = create
  }}
  mailbox Archive {{
    special_use = \Archive
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
  process_min_avail = 2
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 500
}}
"#,
            pid = std::process::id(),
            imap = p.imap,
            imaps = p.imaps,
        );
        self.write("dovecot/dovecot.conf", &conf)?;
        // OAuth 2.0: Dovecot checks the JWT's HS256 signature itself.
        self.write(
            "dovecot/oauth2.conf.ext",
            &format!(
                "introspection_mode = local\nlocal_validation_key_dict = fs:posix:prefix={d}/dovecot/keys/\nusername_attribute = email\nissuers = {TOKEN_ISSUER}\nclient_id = {TOKEN_AUDIENCE}\n"
            ),
        )?;
        let mut key = [0u8; 32];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        use base64::Engine as _;
        self.write(
            "dovecot/keys/default/HS256/default",
            &base64::engine::general_purpose::STANDARD.encode(key),
        )?;
        std::fs::write(self.path("dovecot/signing.key"), key)?;
        chmod(&self.path("dovecot/signing.key"), 0o600)
    }

    /// An OAuth 2.0 access token (a JWT signed with the key Dovecot trusts) for `user`,
    /// valid for `ttl`; `Duration::ZERO` mints one that expires at once. Dovecot takes
    /// it for XOAUTH2 and OAUTHBEARER logins over IMAP and, through Postfix's SASL,
    /// SMTP submission.
    ///
    /// # Errors
    /// When the signing key cannot be read.
    pub fn access_token(&self, user: &User, ttl: Duration) -> Result<String, HarnessError> {
        Ok(sign_token(&self.signing_key()?, &user.address, ttl))
    }

    /// The key that signs access tokens (what Dovecot trusts).
    pub(crate) fn signing_key(&self) -> Result<Vec<u8>, HarnessError> {
        Ok(std::fs::read(self.path("dovecot/signing.key"))?)
    }

    fn write_postfix(&self) -> Result<(), HarnessError> {
        let d = self.dir.path().display();
        let p = self.ports;
        for sub in ["postfix/spool", "postfix/data", "log"] {
            std::fs::create_dir_all(self.path(sub))?;
            chmod(&self.path(sub), 0o755)?;
        }
        chown(&self.path("postfix/data"), postfix_uid()?, 0)?;
        let main = format!(
            r#"# Written by connector-testkit: a private Postfix on loopback.
compatibility_level = 3.6
# Restart a killed smtpd at once (tests end sessions on purpose).
service_throttle_time = 1s
queue_directory = {d}/postfix/spool
data_directory = {d}/postfix/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/log/postfix.log
maillog_file_prefixes = {d}/log
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{d}/postfix/etc/vmailbox
virtual_alias_domains =
virtual_transport = lmtp:unix:{d}/run/dovecot/lmtp
smtputf8_enable = yes
message_size_limit = 104857600
mailbox_size_limit = 0
smtpd_tls_cert_file = {d}/tls/server.pem
smtpd_tls_key_file = {d}/tls/server.key
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = {d}/run/dovecot/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{d}/postfix/etc/access
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 100
lmtp_destination_concurrency_limit = 20
lmtp_destination_recipient_limit = 50
biff = no
"#
        );
        let master = format!(
            r#"# service type private unpriv chroot wakeup maxproc command
127.0.0.1:{sub} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
127.0.0.1:{smtps} inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
127.0.0.1:{plain} inet n - n - - smtpd
  -o syslog_name=postfix/plain
  -o smtpd_tls_security_level=none
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"#,
            sub = p.submission,
            smtps = p.smtps,
            plain = p.smtp_plain,
        );
        self.write("postfix/etc/main.cf", &main)?;
        self.write(
            "postfix/etc/access",
            &format!("{BUSY} 451 4.3.0 Mailbox busy, try again later\n"),
        )?;
        self.write("postfix/etc/master.cf", &master)
    }

    /// A watcher that stops both servers and removes the directory if this process
    /// dies without dropping `self` (statics are never dropped).
    fn start_watcher(&self) -> Result<(), HarnessError> {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}",
            pid = std::process::id(),
            stop = self.stop_script()
        );
        Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
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
        let _ = Command::new("/bin/sh")
            .args(["-c", &self.stop_script()])
            .status();
    }
}

/// A message as stored: its UID, flags and Message-ID header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The IMAP UID.
    pub uid: u32,
    /// IMAP flags such as `\Seen`.
    pub flags: Vec<String>,
    /// The Message-ID header, with angle brackets.
    pub message_id: String,
}

impl StoredMessage {
    /// Whether the message is marked read.
    pub fn seen(&self) -> bool {
        self.flags.iter().any(|f| f == "\\Seen")
    }
}

/// A JWT for `address` signed with `key` (HS256), valid for `ttl`.
pub(crate) fn sign_token(key: &[u8], address: &str, ttl: Duration) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "sub": address,
        "email": address,
        "iat": now,
        "exp": now + ttl.as_secs(),
    });
    let payload = b64.encode(claims.to_string());
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = b64.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

fn user(n: usize) -> User {
    User {
        address: format!("user{n:03}@{DOMAIN}"),
        password: format!("pw-{n:03}-test"),
    }
}

fn free_port() -> Result<u16, HarnessError> {
    // Bound and released at once; the servers bind it a moment later.
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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
