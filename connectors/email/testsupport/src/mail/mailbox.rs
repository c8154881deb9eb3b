//! What tests do with the mailboxes: plant messages, create folders, list and read
//! what is stored, wait for delivery, and end sessions from the server side.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use super::{HarnessError, MailServers, User, VMAIL, check, chown};

impl MailServers {
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

    /// `user`'s INBOX Maildir, made writable for another program's delivery (the
    /// interop tests' Exim writes into it; Dovecot then serves what it wrote).
    ///
    /// # Errors
    /// When a directory cannot be made.
    pub fn open_inbox_maildir(&self, user: &User) -> Result<PathBuf, HarnessError> {
        use std::os::unix::fs::PermissionsExt as _;
        let maildir = self.path("mail").join(&user.address).join("Maildir");
        for sub in ["", "cur", "new", "tmp"] {
            let d = maildir.join(sub);
            std::fs::create_dir_all(&d)?;
            chown(&d, VMAIL, VMAIL)?;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777))?;
        }
        chown(&self.path("mail").join(&user.address), VMAIL, VMAIL)?;
        Ok(maildir)
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
