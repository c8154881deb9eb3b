//! [`EmailConnection`]: built once from the [`Checked`] settings, it holds the SMTP and
//! IMAP dialers (with their logins, sharing one token source when both use the same
//! settings) and the IMAP session, opened lazily and shared by reading and committing.
//! The step-by-step check is in [`crate::check`].

use std::sync::Arc;

use connector_sdk::{Error, Result};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::auth::Login;
use crate::auth::oauth::Tokens;
use crate::checked::{Checked, CheckedAuth};
use crate::protocol::imap::{ImapDialer, ImapSession};
use crate::protocol::smtp::SmtpDialer;
use crate::transport::{Net, Steps};

/// An email connection: SMTP and IMAP dialers, and the IMAP session once opened.
pub struct EmailConnection {
    pub(crate) smtp: Option<SmtpDialer>,
    pub(crate) imap: Option<ImapDialer>,
    pub(crate) session: Mutex<Option<ImapSession>>,
    /// Set when the session's holder left a command half-answered: the next
    /// [`EmailConnection::session`] opens a new one.
    abandoned: std::sync::atomic::AtomicBool,
    /// The folder Read Email selected and its UIDVALIDITY, to select again after a
    /// reconnect.
    selected: std::sync::Mutex<Option<(String, u32)>>,
    /// Set once a read has said `ENABLE QRESYNC` (RFC 7162): a session opened again
    /// after a reconnect says it too, before it selects.
    qresync: std::sync::atomic::AtomicBool,
    /// The UIDVALIDITY of each folder read in this run, for commits to a folder the
    /// read has left (several folders in one run).
    validities: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl std::fmt::Debug for EmailConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConnection")
            .field("smtp", &self.smtp.as_ref().map(|s| s.endpoint.what()))
            .field("imap", &self.imap.as_ref().map(|s| s.endpoint.what()))
            .finish_non_exhaustive()
    }
}

/// The IMAP session, held by one user at a time.
pub(crate) type SessionGuard<'a> = MappedMutexGuard<'a, ImapSession>;

impl EmailConnection {
    /// Builds the connection from checked settings: loads the system's CA store once
    /// and sets up the logins; opens nothing yet.
    pub(crate) fn new(checked: Checked) -> Result<Self> {
        let net = Net::new(
            checked.accept_invalid_certs,
            &checked.ca_certs,
            checked.timeouts.clone(),
        )?;
        let shared = login(&checked.auth, &net)?;
        let login_for = |own: &Option<CheckedAuth>| match own {
            Some(own) => login(own, &net),
            None => Ok(shared.clone()),
        };
        Ok(Self {
            smtp: match &checked.smtp {
                Some((endpoint, own)) => Some(SmtpDialer {
                    net: net.clone(),
                    endpoint: endpoint.clone(),
                    login: login_for(own)?,
                    hello: checked.hello.clone(),
                }),
                None => None,
            },
            imap: match &checked.imap {
                Some((endpoint, own)) => Some(ImapDialer {
                    net: net.clone(),
                    endpoint: endpoint.clone(),
                    login: login_for(own)?,
                    watch: Arc::default(),
                }),
                None => None,
            },
            session: Mutex::new(None),
            abandoned: std::sync::atomic::AtomicBool::new(false),
            selected: std::sync::Mutex::new(None),
            qresync: std::sync::atomic::AtomicBool::new(false),
            validities: std::sync::Mutex::default(),
        })
    }

    pub(crate) fn smtp(&self) -> Result<&SmtpDialer> {
        self.smtp.as_ref().ok_or_else(|| {
            Error::config(
                "/smtp",
                "Send Email needs `smtp` in the connection settings",
            )
        })
    }

    pub(crate) fn imap(&self) -> Result<&ImapDialer> {
        self.imap.as_ref().ok_or_else(|| {
            Error::config(
                "/imap",
                "Read Email needs `imap` in the connection settings",
            )
        })
    }

    /// The IMAP session, opened on first use; held by one user at a time. After
    /// [`Self::abandon`] (a command left half-answered) a new one is opened, with the
    /// folder the read had selected selected again.
    pub(crate) async fn session(&self) -> Result<SessionGuard<'_>> {
        let imap = self.imap()?;
        let mut guard = self.session.lock().await;
        if self
            .abandoned
            .swap(false, std::sync::atomic::Ordering::SeqCst)
            && guard.take().is_some()
        {
            tracing::debug!(target: "email_connector", "a half-answered session was closed; opening a new one");
            *guard = Some(self.open_selected(imap).await?);
        }
        if guard.is_none() {
            *guard = Some(imap.open(&mut Steps::silent("imap"), true).await?);
        }
        MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| Error::internal("the IMAP session is gone"))
    }

    /// Marks the session as unusable: its holder stops in the middle of a command's
    /// answer (a run told to stop while a FETCH streams). Call it while still holding
    /// the session, so nobody else gets it before the next [`Self::session`] replaces
    /// it.
    pub(crate) fn abandon(&self) {
        self.abandoned
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Remembers the folder a read selected, for [`Self::reconnect`].
    pub(crate) fn selected(&self, folder: &str, uid_validity: u32) {
        if let Ok(mut s) = self.selected.lock() {
            *s = Some((folder.to_owned(), uid_validity));
        }
        if let Ok(mut v) = self.validities.lock() {
            v.insert(folder.to_owned(), uid_validity);
        }
    }

    /// Says `ENABLE QRESYNC` (RFC 7162) on `session`, which must not have selected a
    /// folder yet (RFC 5161), and on every session opened after a reconnect: its
    /// `CHANGEDSINCE` fetches may then ask which messages vanished.
    /// Once is enough: a connection that has said it says nothing more.
    pub(crate) async fn enable_qresync(&self, session: &mut ImapSession) -> Result<()> {
        if self.qresync.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        enable_qresync(self.imap()?, session).await
    }

    /// The folder the session has selected for reading, and its UIDVALIDITY.
    pub(crate) fn selected_now(&self) -> Option<(String, u32)> {
        self.selected.lock().ok().and_then(|s| s.clone())
    }

    /// The UIDVALIDITY `folder` had when this run read it.
    pub(crate) fn validity_of(&self, folder: &str) -> Option<u32> {
        self.validities
            .lock()
            .ok()
            .and_then(|v| v.get(folder).copied())
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
        self.abandoned
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let session = self.open_selected(imap).await?;
        *guard = Some(session);
        Ok(())
    }

    /// A new session, logged in, with the folder the read had selected (if any)
    /// selected again and its UIDVALIDITY checked.
    async fn open_selected(&self, imap: &ImapDialer) -> Result<ImapSession> {
        let what = imap.what();
        let mut session = imap.open(&mut Steps::silent("imap"), true).await?;
        if self.qresync.load(std::sync::atomic::Ordering::SeqCst) {
            enable_qresync(imap, &mut session).await?;
        }
        let selected = self.selected.lock().ok().and_then(|s| s.clone());
        if let Some((folder, uid_validity)) = selected {
            imap.begin();
            let mailbox = session
                .select(crate::protocol::mutf7::encode(&folder))
                .await
                .map_err(|e| imap.failed("SELECT", e))?;
            let now = mailbox.uid_validity.unwrap_or(0);
            if now != uid_validity {
                return Err(Error::protocol(format!(
                    "{what}: UIDVALIDITY of {folder} changed from {uid_validity} to {now} while reconnecting; messages delivered but not yet marked are read again by the next run"
                )));
            }
        }
        Ok(session)
    }
}

/// `ENABLE QRESYNC` on a session that has not selected a folder.
async fn enable_qresync(imap: &ImapDialer, session: &mut ImapSession) -> Result<()> {
    imap.begin();
    session
        .run_command_and_check_ok("ENABLE QRESYNC")
        .await
        .map_err(|e| imap.failed("ENABLE QRESYNC", e))?;
    imap.completed("ENABLE QRESYNC")
}

/// Builds a login from a checked one.
fn login(auth: &CheckedAuth, net: &Net) -> Result<Login> {
    Ok(match auth {
        CheckedAuth::None => Login::None,
        CheckedAuth::Password { username, password } => Login::Password {
            username: username.clone(),
            password: password.clone(),
        },
        CheckedAuth::Token { settings, plan, at } => Login::Token {
            username: settings.username.clone(),
            mechanism: settings.mechanism,
            tokens: Arc::new(Tokens::new(settings, plan.clone(), net, at)?),
        },
    })
}
