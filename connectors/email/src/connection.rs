//! The connector and its connection: settings checked up front, the IMAP session
//! opened lazily and shared by reading and committing, and a step-by-step check.

use connector_sdk::{CheckReport, Connection, Connector, Error, Result};
use tokio::sync::{Mutex, MutexGuard};

use crate::imap::{ImapConfig, Session};
use crate::login::Login;
use crate::net::Net;
use crate::oauth::Tokens;
use crate::read::ReadEmail;
use crate::send::SendEmail;
use crate::settings::{Auth, EmailSettings, Security, Server};
use crate::smtp::SmtpConfig;

/// An email connection: SMTP and IMAP settings, and the IMAP session once opened.
pub struct EmailConnection {
    smtp: Option<SmtpConfig>,
    imap: Option<ImapConfig>,
    session: Mutex<Option<Session>>,
    /// The folder Read Email selected and its UIDVALIDITY, to select again after a
    /// reconnect.
    selected: std::sync::Mutex<Option<(String, u32)>>,
}

impl std::fmt::Debug for EmailConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConnection")
            .field("smtp", &self.smtp.as_ref().map(|s| &s.server))
            .field("imap", &self.imap.as_ref().map(|s| &s.server))
            .finish_non_exhaustive()
    }
}

impl EmailConnection {
    /// The settings rules, without building anything costly: what `validate` runs.
    /// Returns the EHLO name.
    pub(crate) fn check(settings: &EmailSettings) -> Result<String> {
        if settings.smtp.is_none() && settings.imap.is_none() {
            return Err(Error::config("", "configure `smtp`, `imap` or both"));
        }
        for (at, auth) in auths(settings) {
            if let Auth::Oauth2(o) = auth {
                crate::oauth::plan(o, settings.allow_insecure_auth, &at)?;
            }
        }
        if !settings.allow_insecure_auth {
            for (name, server) in [("smtp", &settings.smtp), ("imap", &settings.imap)] {
                let Some(server) = server else { continue };
                let auth = server.auth.as_ref().unwrap_or(&settings.auth);
                if !matches!(auth, Auth::None) && server.security == Security::None {
                    return Err(Error::config(
                        format!("/{name}/security"),
                        "refusing to send a password or token over an unencrypted connection: use `tls` or `starttls`, or set `allow_insecure_auth: true`",
                    ));
                }
            }
        }
        let hello = settings
            .hello_name
            .clone()
            .unwrap_or_else(|| "localhost".into());
        if hello.is_empty() || hello.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(Error::config(
                "/hello_name",
                "expected a host name without spaces",
            ));
        }
        crate::net::extra_roots(&settings.tls)?;
        Ok(hello)
    }

    /// Checks the settings and prepares TLS; opens nothing yet.
    pub fn new(settings: EmailSettings) -> Result<Self> {
        let hello = Self::check(&settings)?;
        let net = Net::new(&settings.tls, settings.timeouts.clone())?;
        let shared = login(&settings.auth, &settings, &net, "/auth")?;
        let login_for = |name: &str, server: &Server| match &server.auth {
            Some(own) => login(own, &settings, &net, &format!("/{name}/auth")),
            None => Ok(shared.clone()),
        };
        Ok(Self {
            smtp: match &settings.smtp {
                Some(server) => Some(SmtpConfig {
                    net: net.clone(),
                    login: login_for("smtp", server)?,
                    server: server.clone(),
                    hello: hello.clone(),
                }),
                None => None,
            },
            imap: match &settings.imap {
                Some(server) => Some(ImapConfig {
                    net: net.clone(),
                    login: login_for("imap", server)?,
                    server: server.clone(),
                }),
                None => None,
            },
            session: Mutex::new(None),
            selected: std::sync::Mutex::new(None),
        })
    }

    pub(crate) fn smtp(&self) -> Result<&SmtpConfig> {
        self.smtp.as_ref().ok_or_else(|| {
            Error::config(
                "/smtp",
                "Send Email needs `smtp` in the connection settings",
            )
        })
    }

    pub(crate) fn imap(&self) -> Result<&ImapConfig> {
        self.imap.as_ref().ok_or_else(|| {
            Error::config(
                "/imap",
                "Read Email needs `imap` in the connection settings",
            )
        })
    }

    /// The IMAP session, opened on first use; held by one user at a time.
    pub(crate) async fn session(&self) -> Result<MutexGuard<'_, Option<Session>>> {
        let imap = self.imap()?;
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            *guard = Some(imap.open().await?);
        }
        Ok(guard)
    }

    /// Remembers the folder a read selected, for [`Self::reconnect`].
    pub(crate) fn selected(&self, folder: &str, uid_validity: u32) {
        if let Ok(mut s) = self.selected.lock() {
            *s = Some((folder.to_owned(), uid_validity));
        }
    }

    /// After the IMAP connection was lost (Microsoft 365 ends a session with `BYE
    /// Session invalidated - AccessTokenExpired` when the token it logged in with
    /// expires): logs in again, with a fresh token if needed, and selects the folder
    /// again. The UIDs read so far stay valid only if UIDVALIDITY did not change; if it
    /// did, this fails rather than act on the wrong messages.
    pub(crate) async fn reconnect(&self, lost: &Error) -> Result<()> {
        let imap = self.imap()?;
        let what = imap.what();
        tracing::warn!(target: "email_connector", "{what}: connection lost ({}); logging in again", lost.message());
        let mut guard = self.session.lock().await;
        *guard = None;
        let mut session = imap.open().await?;
        let selected = self.selected.lock().ok().and_then(|s| s.clone());
        if let Some((folder, uid_validity)) = selected {
            let mailbox = session
                .select(&folder)
                .await
                .map_err(|e| crate::imap::classify(&what, "SELECT", e))?;
            let now = mailbox.uid_validity.unwrap_or(0);
            if now != uid_validity {
                return Err(Error::protocol(format!(
                    "{what}: UIDVALIDITY of {folder} changed from {uid_validity} to {now} while reconnecting; messages delivered but not yet marked are read again by the next run"
                )));
            }
        }
        *guard = Some(session);
        Ok(())
    }

    async fn check_smtp(&self, report: &mut CheckReport, smtp: &SmtpConfig, token_ok: bool) {
        let security = smtp.server.security;
        let tls = if security == Security::Starttls {
            "starttls"
        } else {
            "tls"
        };
        let Ok(stream) = report
            .step("smtp.connect", async {
                smtp.connect().await.map(|s| {
                    (
                        s,
                        format!("{}:{}", smtp.server.host, smtp.server.port.get()),
                    )
                })
            })
            .await
        else {
            return skip(report, "smtp", &[tls, "ehlo", "auth"]);
        };
        let secured = if security == Security::None {
            report.skip("smtp.tls", "security is none: the session is not encrypted");
            Ok((stream.0, false))
        } else {
            let name = format!("smtp.{tls}");
            report
                .step(name, async {
                    smtp.secure(stream.0)
                        .await
                        .map(|s| (s, "TLS established".to_owned()))
                })
                .await
                .map(|(s, _)| s)
        };
        let Ok((stream, greeted)) = secured else {
            return skip(report, "smtp", &["ehlo", "auth"]);
        };
        let Ok((mut conn, _)) = report
            .step("smtp.ehlo", async {
                smtp.ehlo(stream, greeted).await.map(|c| {
                    let info = ehlo_detail(c.server_info());
                    (c, info)
                })
            })
            .await
        else {
            return skip(report, "smtp", &["auth"]);
        };
        match smtp.login.username() {
            Some(username) if token_ok => {
                let who = format!("logged in as {username}");
                let _ = report
                    .step("smtp.auth", async {
                        smtp.login(&mut conn).await.map(|()| who)
                    })
                    .await;
            }
            Some(_) => report.skip("smtp.auth", "not tried: no access token"),
            None => report.skip("smtp.auth", "no login configured"),
        }
        let _ = tokio::time::timeout(smtp.net.timeouts.io(), conn.quit()).await;
    }

    async fn check_imap(&self, report: &mut CheckReport, imap: &ImapConfig, token_ok: bool) {
        let security = imap.server.security;
        let tls = if security == Security::Starttls {
            "starttls"
        } else {
            "tls"
        };
        let Ok(stream) = report
            .step("imap.connect", async {
                imap.connect().await.map(|s| {
                    (
                        s,
                        format!("{}:{}", imap.server.host, imap.server.port.get()),
                    )
                })
            })
            .await
        else {
            return skip(report, "imap", &[tls, "login", "select"]);
        };
        let secured = if security == Security::None {
            report.skip("imap.tls", "security is none: the session is not encrypted");
            Ok((stream.0, false))
        } else {
            let name = format!("imap.{tls}");
            report
                .step(name, async {
                    imap.secure(stream.0)
                        .await
                        .map(|s| (s, "TLS established".to_owned()))
                })
                .await
                .map(|(s, _)| s)
        };
        let Ok((stream, greeted)) = secured else {
            return skip(report, "imap", &["login", "select"]);
        };
        if !token_ok {
            return skip(report, "imap", &["login", "select"]);
        }
        let who = imap.login.username().unwrap_or_default().to_owned();
        let Ok((mut session, _)) = report
            .step("imap.login", async {
                imap.login(stream, greeted)
                    .await
                    .map(|s| (s, format!("logged in as {who}")))
            })
            .await
        else {
            return skip(report, "imap", &["select"]);
        };
        let what = imap.what();
        let _ = report
            .step("imap.select", async {
                let mailbox = session
                    .examine("INBOX")
                    .await
                    .map_err(|e| crate::imap::classify(&what, "EXAMINE INBOX", e))?;
                Ok(format!(
                    "INBOX: {} messages, UIDVALIDITY {}",
                    mailbox.exists,
                    mailbox.uid_validity.unwrap_or(0)
                ))
            })
            .await;
        let _ = tokio::time::timeout(imap.net.timeouts.io(), session.logout()).await;
    }
}

/// The server's name and the extensions this connector uses, in a fixed order
/// (lettre's own `Display` follows a hash set's order).
fn ehlo_detail(info: &lettre::transport::smtp::extension::ServerInfo) -> String {
    use lettre::transport::smtp::authentication::Mechanism;
    use lettre::transport::smtp::extension::Extension;
    let mut offered: Vec<&str> = Vec::new();
    for (ext, name) in [
        (Extension::EightBitMime, "8BITMIME"),
        (Extension::SmtpUtfEight, "SMTPUTF8"),
        (Extension::StartTls, "STARTTLS"),
    ] {
        if info.supports_feature(ext) {
            offered.push(name);
        }
    }
    for (m, name) in [
        (Mechanism::Plain, "AUTH PLAIN"),
        (Mechanism::Login, "AUTH LOGIN"),
        (Mechanism::Xoauth2, "AUTH XOAUTH2"),
    ] {
        if info.supports_auth_mechanism(m) {
            offered.push(name);
        }
    }
    format!("{} offers {}", info.name(), offered.join(", "))
}

/// The login settings in force, with their JSON paths.
fn auths(settings: &EmailSettings) -> Vec<(String, &Auth)> {
    let mut out = vec![("/auth".to_owned(), &settings.auth)];
    for (name, server) in [("smtp", &settings.smtp), ("imap", &settings.imap)] {
        if let Some(auth) = server.as_ref().and_then(|s| s.auth.as_ref()) {
            out.push((format!("/{name}/auth"), auth));
        }
    }
    out
}

/// Builds a login from checked settings.
fn login(auth: &Auth, settings: &EmailSettings, net: &Net, at: &str) -> Result<Login> {
    Ok(match auth {
        Auth::None => Login::None,
        Auth::Basic { username, password } => Login::Password {
            username: username.clone(),
            password: password.clone(),
        },
        Auth::Oauth2(o) => {
            let plan = crate::oauth::plan(o, settings.allow_insecure_auth, at)?;
            Login::Token {
                username: o.username.clone(),
                mechanism: o.mechanism,
                tokens: std::sync::Arc::new(Tokens::new(o, plan, net, at)?),
            }
        }
    })
}

fn skip(report: &mut CheckReport, proto: &str, steps: &[&str]) {
    for step in steps {
        report.skip(
            format!("{proto}.{step}"),
            "not tried: an earlier step failed",
        );
    }
}

#[connector_sdk::async_trait]
impl Connection for EmailConnection {
    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::new();
        // The token request is a step of its own, before the servers: one line per
        // token source (one, unless SMTP and IMAP log in differently).
        let logins: Vec<&Login> = [
            self.smtp.as_ref().map(|s| &s.login),
            self.imap.as_ref().map(|s| &s.login),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut sources: Vec<&std::sync::Arc<Tokens>> = Vec::new();
        let mut failed: Vec<&std::sync::Arc<Tokens>> = Vec::new();
        for tokens in logins.iter().filter_map(|l| l.tokens()) {
            if !sources.iter().any(|s| std::sync::Arc::ptr_eq(s, tokens)) {
                sources.push(tokens);
            }
        }
        for (i, tokens) in sources.iter().enumerate() {
            let name = match (sources.len(), i) {
                (1, _) => "oauth2.token",
                (_, 0) if self.smtp.as_ref().and_then(|s| s.login.tokens()).is_some() => {
                    "smtp.oauth2.token"
                }
                _ => "imap.oauth2.token",
            };
            if report.step(name, tokens.describe()).await.is_err() {
                failed.push(*tokens);
            }
        }
        let token_ok = |login: &Login| {
            login
                .tokens()
                .is_none_or(|t| !failed.iter().any(|f| std::sync::Arc::ptr_eq(f, t)))
        };
        if let Some(smtp) = &self.smtp {
            self.check_smtp(&mut report, smtp, token_ok(&smtp.login))
                .await;
        }
        if let Some(imap) = &self.imap {
            self.check_imap(&mut report, imap, token_ok(&imap.login))
                .await;
        }
        report
    }

    async fn close(self) -> Result<()> {
        if let (Some(mut session), Some(imap)) = (self.session.into_inner(), &self.imap) {
            let _ = tokio::time::timeout(imap.net.timeouts.io(), session.logout()).await;
        }
        Ok(())
    }
}

/// The email connector.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmailConnector;

/// Sends email over SMTP and reads it over IMAP, with TLS, STARTTLS, basic login,
/// at-least-once reading and per-recipient results.
#[connector_sdk::connector(name = "email", activities(SendEmail, ReadEmail))]
impl Connector for EmailConnector {
    type Settings = EmailSettings;
    type Connection = EmailConnection;

    fn validate(&self, settings: &EmailSettings) -> Result<()> {
        // The rules only: the system's CA store is loaded once, by `connect`.
        EmailConnection::check(settings).map(drop)
    }

    async fn connect(&self, settings: EmailSettings) -> Result<EmailConnection> {
        EmailConnection::new(settings)
    }
}
