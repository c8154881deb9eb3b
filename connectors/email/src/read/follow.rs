//! Continuous reading (`follow: true`): after each pass over the folder, wait for new
//! mail, then read again, until the host stops the run (SIGINT or SIGTERM: what was
//! delivered is committed, nothing else). The wait is IMAP IDLE (RFC 2177) on a session
//! of its own where the server offers it, renewed before the 29 minutes a server may
//! allow; without IDLE, a poll every `poll_interval_secs`. A lost connection is opened
//! again with a growing pause; a refused login ends the run.

use std::time::Duration;

use connector_sdk::{Emitter, Error, ErrorKind, Result};

use super::config::ReadConfig;
use super::record::EmailRecord;
use super::state::ReadState;
use crate::connection::EmailConnection;
use crate::protocol::imap::{ImapDialer, ImapSession};
use crate::transport::Steps;

const TARGET: &str = "email_connector::read";

/// IDLE is ended and begun again after this long (RFC 2177: servers may drop an IDLE
/// after 30 minutes).
const RENEW: Duration = Duration::from_secs(25 * 60);

/// The longest pause before opening a lost connection again.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// Reads, waits for new mail, reads again; returns only on an error that another try
/// would not cure (the host ends the run on a signal by dropping it).
pub(crate) async fn run(
    conn: &EmailConnection,
    config: &ReadConfig,
    out: &Emitter<EmailRecord<'static>, (u16, u32), ReadState>,
) -> Result<()> {
    let mut watcher = Watcher::new(conn.imap()?, config);
    let (mut after, mut uid_validity, mut planned) = (0u32, None::<u32>, 0u64);
    let mut state = ReadState::for_run(&[config.folder.as_str()], out.previous_state());
    let mut pause = Duration::from_secs(1);
    loop {
        if out.is_stopped() {
            return Ok(());
        }
        let scope = super::pass::Scope {
            index: 0,
            after,
            planned,
            state: state.clone(),
        };
        match super::pass::pass(conn, config, out, scope).await {
            Ok(done) => {
                out.remaining(done.remaining);
                state = done.state.clone();
                pause = Duration::from_secs(1);
                if uid_validity.is_some_and(|v| v != done.uid_validity) {
                    tracing::warn!(target: TARGET, folder = %config.folder, "UIDVALIDITY changed: reading the folder from its start");
                    after = 0;
                } else {
                    after = after.max(done.last_uid);
                }
                uid_validity = Some(done.uid_validity);
                planned += done.planned;
                if done.more {
                    continue; // over max_messages: the rest now, not after new mail
                }
            }
            Err(e) if retried(&e) => {
                tracing::warn!(target: TARGET, pause_secs = pause.as_secs(), "reading failed, trying again: {e}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
                let _ = conn.reconnect(&e).await;
                continue;
            }
            Err(e) => return Err(e),
        }
        loop {
            match watcher.wait().await {
                Ok(()) => break,
                Err(e) if retried(&e) => {
                    tracing::warn!(target: TARGET, pause_secs = pause.as_secs(), "waiting for new mail failed, trying again: {e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether a follow run tries again after `e`: a lost or silent connection, or a
/// server that is busy; not a refused login or bad settings.
fn retried(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Connect | ErrorKind::Timeout) || e.is_retryable()
}

/// The session that waits for new mail, on a connection of its own (the run's session
/// commits meanwhile), with its own watch of what the server sends.
struct Watcher {
    dialer: ImapDialer,
    folder: String,
    poll: Duration,
    session: Option<ImapSession>,
    idle: Option<bool>,
}

impl Watcher {
    fn new(dialer: &ImapDialer, config: &ReadConfig) -> Self {
        Self {
            dialer: dialer.with_own_watch(),
            folder: config.folder.clone(),
            poll: Duration::from_secs(config.poll_interval_secs.get().into()),
            session: None,
            idle: None,
        }
    }

    /// Returns when the folder may have changed: the server said something during
    /// IDLE, or a poll interval passed.
    async fn wait(&mut self) -> Result<()> {
        let what = self.dialer.what();
        let mut session = match self.session.take() {
            Some(s) => s,
            None => self.open().await?,
        };
        if self.idle == Some(false) {
            self.session = Some(session);
            tokio::time::sleep(self.poll).await;
            return Ok(());
        }
        // IDLE until the server says something, and a look anyway after the poll
        // interval (a server whose IDLE never tells, such as GNU imap4d 3.15, is still
        // read), or before the renewal a server may need, whichever comes first.
        let limit = RENEW.min(self.poll);
        {
            let mut handle = session.idle();
            let wait = handle.as_mut().read_wait();
            // The server is silent for as long as nothing arrives: reads may wait past
            // the I/O timeout until the limit.
            wait.stretch(limit + Duration::from_secs(60));
            handle
                .init()
                .await
                .map_err(|e| crate::protocol::imap::classify(&what, "IDLE", e))?;
            tracing::debug!(target: TARGET, folder = %self.folder, "waiting for new mail (IDLE)");
            let (idling, _interrupt) = handle.wait_with_timeout(limit);
            let response = idling
                .await
                .map_err(|e| crate::protocol::imap::classify(&what, "IDLE", e))?;
            wait.reset();
            session = handle
                .done()
                .await
                .map_err(|e| crate::protocol::imap::classify(&what, "DONE", e))?;
            if matches!(
                response,
                async_imap::extensions::idle::IdleResponse::Timeout
            ) {
                tracing::debug!(target: TARGET, folder = %self.folder, "nothing said during IDLE: looking anyway");
            }
            self.session = Some(session);
            Ok(())
        }
    }

    /// Logs in, learns whether the server has IDLE, and opens the folder read-only.
    async fn open(&mut self) -> Result<ImapSession> {
        let what = self.dialer.what();
        let mut session = self.dialer.open(&mut Steps::silent("imap"), true).await?;
        if self.idle.is_none() {
            let caps = session
                .capabilities()
                .await
                .map_err(|e| crate::protocol::imap::classify(&what, "CAPABILITY", e))?;
            let idle = caps.has_str("IDLE");
            if !idle {
                tracing::info!(target: TARGET, poll_secs = self.poll.as_secs(), "the server has no IDLE: polling");
            }
            self.idle = Some(idle);
        }
        self.dialer.begin();
        session
            .examine(crate::protocol::mutf7::encode(&self.folder))
            .await
            .map_err(|e| self.dialer.failed("EXAMINE", e))?;
        Ok(session)
    }
}
