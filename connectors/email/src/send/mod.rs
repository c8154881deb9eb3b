//! Send Email: a target that sends a batch of messages over pooled SMTP sessions.

//!
//! Split by concern: [`request`] (settings, request, response), [`validate`] (rules
//! checked before the first message is sent), [`mime`] (a request to a MIME message);
//! this file is the target: the worker pool over SMTP sessions and the retries.

mod address;
mod files;
mod journal;
mod mime;
mod options;
mod request;
mod template;
mod validate;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use connector_sdk::{Error, ErrorBody, ErrorKind, Requests, Result, Results, Target};

pub use request::{
    Addresses, AttachmentRequest, AutoSubmitted, Dkim, DkimAlgorithm, Dsn, DsnNotify, DsnReturn,
    Mailbox, Priority, RejectedRecipient, SendConfig, SendRequest, SendResult, SendStatus,
    SentCopy, Template,
};

use crate::connection::EmailConnection;
use crate::protocol::smtp::{SmtpDialer, SmtpSession};
use crate::transport::Steps;
use journal::{Entry, Journal};
use mime::{Built, build};

const TARGET: &str = "email_connector::send";

/// The `send` target.
#[derive(Debug, Default, Clone, Copy)]
pub struct SendEmail;

/// Sends email over SMTP: text, HTML or both, attachments and inline images, custom
/// headers; a batch goes over pooled sessions, and each message gets its own result
/// with the accepted and refused recipients.
#[connector_sdk::activity(name = "send")]
impl Target for SendEmail {
    type Connection = EmailConnection;
    type Config = SendConfig;
    type Request = SendRequest;
    type Response = SendResult;

    fn validate_config(&self, config: &SendConfig) -> Result<()> {
        if let Some(dkim) = &config.dkim {
            dkim.signer()?;
        }
        Ok(())
    }

    fn validate(&self, config: &SendConfig, request: &SendRequest) -> Result<()> {
        validate::validate(config, request)
    }

    async fn call(
        &self,
        conn: &EmailConnection,
        config: &SendConfig,
        requests: &Requests<SendRequest>,
        results: &Results<SendResult>,
    ) -> Result<()> {
        let smtp = conn.smtp()?;
        if config.save_to_sent.is_some() && conn.imap.is_none() {
            return Err(Error::config(
                "/save_to_sent",
                "a copy in a folder is saved over IMAP: add `imap` to the connection settings",
            ));
        }
        let journal = config
            .journal_file
            .as_deref()
            .map(Journal::open)
            .transpose()?;
        // One login before any message is taken: wrong credentials end the batch after a
        // single attempt, never one per message (Microsoft 365 and Gmail lock accounts
        // that keep failing). Other failures are left to each message's retries.
        let first = match smtp.open(&mut Steps::silent("smtp"), true).await {
            Ok(session) => Some(session),
            Err(e) if e.kind() == ErrorKind::Auth => {
                return Err(Error::auth(format!(
                    "{}; nothing was sent (one login attempt, no retry of refused credentials)",
                    e.message()
                )));
            }
            Err(e) => {
                tracing::warn!(target: TARGET, "the first SMTP session could not be opened; each message will try: {e}");
                None
            }
        };
        // Messages are built by the workers just before sending, so the first one goes
        // out at once instead of after the whole batch was built; each result is
        // reported the moment it is known.
        let workers = (config.concurrency.get() as usize)
            .min(requests.len())
            .max(1);
        let refused = AtomicBool::new(false);
        let down = Down::default();
        let mut first = first;
        let done = futures_util::future::join_all((0..workers).map(|_| {
            let session = first.take();
            worker(
                conn,
                config,
                requests,
                results,
                session,
                (&refused, &down),
                journal.as_ref(),
            )
        }))
        .await;
        done.into_iter().collect()
    }

    fn failure(&self, result: &SendResult) -> Option<Error> {
        if matches!(result.status, SendStatus::Sent | SendStatus::AlreadySent) {
            return None;
        }
        let body = result.error.clone().unwrap_or(ErrorBody {
            kind: ErrorKind::Internal,
            message: "failed".into(),
            retryable: false,
            path: None,
            retry_after_secs: None,
        });
        Some(Error::from(body))
    }
}

/// The server found unreachable: once a message could not open a session after all
/// its retries (refused, unreachable, silent), the rest of the batch fails at once,
/// retryable, instead of each message dialing and waiting again.
#[derive(Debug, Default)]
struct Down(std::sync::Mutex<Option<(ErrorKind, String)>>);

impl Down {
    /// The error every message left gets, once the server is found unreachable.
    fn get(&self) -> Option<Error> {
        let (kind, why) = self.0.lock().ok()?.clone()?;
        Some(
            Error::new(
                kind,
                format!("not tried: the server could not be reached ({why})"),
            )
            .retryable(true),
        )
    }

    fn set(&self, e: &Error) {
        if let Ok(mut d) = self.0.lock() {
            d.get_or_insert_with(|| (e.kind(), e.message().to_owned()));
        }
    }
}

/// Sets the session's MAIL and RCPT parameters for `built`: RFC 3461's `RET`, `ENVID`
/// and `NOTIFY` when it asks for delivery status notifications, after making sure the
/// server offers `DSN` (a `rejected` error, not retryable, when it does not).
fn envelope(session: &mut SmtpSession, config: &SendConfig, built: &Built) -> Result<()> {
    use lettre::transport::smtp::extension::{MailParameter, RcptParameter};
    use request::{DsnNotify, DsnReturn};
    session.pipeline(config.pipelining);
    let Some(dsn) = &built.dsn else {
        session.envelope(Vec::new(), Vec::new());
        return Ok(());
    };
    if !session.offers().dsn {
        return Err(Error::rejected(
            "delivery status notifications were asked for (dsn), but the server does not offer DSN (RFC 3461); nothing was sent",
        )
        .retryable(false));
    }
    let other = |keyword: &str, value: String| MailParameter::Other {
        keyword: keyword.to_owned(),
        value: Some(value),
    };
    let mut mail = Vec::new();
    if let Some(ret) = dsn.ret {
        let value = match ret {
            DsnReturn::Headers => "HDRS",
            DsnReturn::Full => "FULL",
        };
        mail.push(other("RET", value.to_owned()));
    }
    if let Some(envid) = &dsn.envid {
        mail.push(other("ENVID", envid.clone()));
    }
    let notify: Vec<&str> = dsn
        .notify
        .iter()
        .map(|n| match n {
            DsnNotify::Success => "SUCCESS",
            DsnNotify::Failure => "FAILURE",
            DsnNotify::Delay => "DELAY",
            DsnNotify::Never => "NEVER",
        })
        .collect();
    session.envelope(
        mail,
        vec![RcptParameter::Other {
            keyword: "NOTIFY".into(),
            value: Some(notify.join(",")),
        }],
    );
    Ok(())
}

/// Appends a sent message to `folder` over IMAP, marked read (RFC 3501 section 6.3.11);
/// once more after a lost connection.
async fn save_copy(conn: &EmailConnection, folder: &str, data: &[u8]) -> SentCopy {
    let what = conn.imap().map(|i| i.what()).unwrap_or_default();
    let append = || async {
        let mut session = conn.session().await?;
        session
            .append(
                crate::protocol::mutf7::encode(folder),
                Some("(\\Seen)"),
                None,
                data,
            )
            .await
            .map_err(|e| crate::protocol::imap::classify(&what, "APPEND", e))
    };
    let outcome = match append().await {
        Err(e) if e.kind() == ErrorKind::Connect => match conn.reconnect(&e).await {
            Ok(()) => append().await,
            Err(e) => Err(e),
        },
        done => done,
    };
    match outcome {
        Ok(()) => SentCopy {
            folder: folder.to_owned(),
            saved: true,
            error: None,
        },
        Err(e) => {
            tracing::warn!(target: TARGET, folder, "the sent message was not copied: {e}");
            SentCopy {
                folder: folder.to_owned(),
                saved: false,
                error: Some(e.message().to_owned()),
            }
        }
    }
}

fn failed(message_id: Option<String>, attempts: u32, e: &Error) -> SendResult {
    SendResult {
        status: SendStatus::Failed,
        message_id,
        accepted: Vec::new(),
        rejected: Vec::new(),
        attempts,
        server_reply: None,
        error: Some(e.body()),
        sent_copy: None,
    }
}

/// One pooled session: takes messages from the batch until it is empty (or the host
/// stops handing them out), reporting each outcome as soon as it is known.
async fn worker(
    conn: &EmailConnection,
    config: &SendConfig,
    requests: &Requests<SendRequest>,
    results: &Results<SendResult>,
    mut session: Option<SmtpSession>,
    (refused, down): (&AtomicBool, &Down),
    journal: Option<&Journal>,
) -> Result<()> {
    let smtp = conn.smtp()?;
    let dkim = config
        .dkim
        .as_ref()
        .map(request::Dkim::signer)
        .transpose()?;
    let mut outcome = Ok(());
    while !refused.load(Ordering::Relaxed) {
        let Some((index, request)) = requests.next() else {
            break;
        };
        let result = match (build(config, &request, dkim.as_ref()), down.get()) {
            (Err(e), _) => failed(None, 0, &e),
            (Ok(built), down_error) => match earlier(journal, config, &built.message_id) {
                Some(known) => known,
                None => match down_error {
                    Some(e) => failed(Some(built.message_id), 0, &e),
                    None => {
                        let mut r =
                            send_one(smtp, config, &mut session, index, &built, down, journal)
                                .await;
                        if let (Some(folder), SendStatus::Sent) = (&config.save_to_sent, r.status) {
                            r.sent_copy = Some(save_copy(conn, folder, &built.data).await);
                        }
                        r
                    }
                },
            },
        };
        let auth = result
            .error
            .as_ref()
            .filter(|e| e.kind == ErrorKind::Auth)
            .map(|e| e.message.clone());
        if let Err(e) = results.send(index, result) {
            outcome = Err(e); // the output is gone: stop taking messages
            break;
        }
        if let Some(why) = auth {
            // The credentials stopped working (a revoked password, a token a refresh
            // could not replace): every other message would fail the same way.
            refused.store(true, Ordering::Relaxed);
            outcome = Err(Error::auth(format!(
                "the batch was stopped after an authentication failure (index {index}): {why}"
            )));
            break;
        }
    }
    if let Some(s) = session {
        s.quit().await;
    }
    outcome
}

async fn send_one(
    smtp: &SmtpDialer,
    config: &SendConfig,
    session: &mut Option<SmtpSession>,
    index: usize,
    built: &Built,
    down: &Down,
    journal: Option<&Journal>,
) -> SendResult {
    let result = send_attempts(smtp, config, session, index, built, down, journal).await;
    if let Some(j) = journal {
        let entry = match result.status {
            SendStatus::Sent => Entry::Sent,
            SendStatus::Unknown => Entry::Unknown,
            _ => Entry::Failed,
        };
        // Before the result is printed: a run killed now has the outcome on disk. If
        // this write fails the journal still says `sending`, which a later run takes
        // for unknown (not sent again): never a duplicate.
        if let Err(e) = j.record(&built.message_id, entry) {
            tracing::error!(target: TARGET, index, message_id = %built.message_id, "{e}");
        }
    }
    result
}

/// What the journal says of a message an earlier run handled: the result to report
/// instead of sending it, or `None` to send it.
fn earlier(journal: Option<&Journal>, config: &SendConfig, message_id: &str) -> Option<SendResult> {
    match journal?.earlier(message_id)? {
        Entry::Sent => Some(SendResult {
            status: SendStatus::AlreadySent,
            message_id: Some(message_id.to_owned()),
            accepted: Vec::new(),
            rejected: Vec::new(),
            attempts: 0,
            server_reply: Some("sent by an earlier run (send journal)".into()),
            error: None,
            sent_copy: None,
        }),
        Entry::Unknown | Entry::Sending if !config.resend_unknown => {
            let mut r = failed(
                Some(message_id.to_owned()),
                0,
                &Error::connect(
                    "an earlier run lost this message's outcome after its data went out (send journal): not sent again; look for its Message-ID, or set resend_unknown to send it",
                )
                .retryable(false),
            );
            r.status = SendStatus::Unknown;
            Some(r)
        }
        _ => None,
    }
}

async fn send_attempts(
    smtp: &SmtpDialer,
    config: &SendConfig,
    session: &mut Option<SmtpSession>,
    index: usize,
    built: &Built,
    down: &Down,
    journal: Option<&Journal>,
) -> SendResult {
    let before_data = || journal.map_or(Ok(()), |j| j.record(&built.message_id, Entry::Sending));
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = match session {
            Some(s) if s.usable() => Ok(()),
            _ => smtp
                .open(&mut Steps::silent("smtp"), true)
                .await
                .map(|s| *session = Some(s)),
        };
        let error = match outcome {
            Err(e)
                if attempts > config.max_retries
                    && matches!(e.kind(), ErrorKind::Connect | ErrorKind::Timeout) =>
            {
                down.set(&e);
                e
            }
            Err(e) => e,
            Ok(()) => {
                let s = session.as_mut().expect("opened above");
                let final_reply = Duration::from_secs(config.final_reply_timeout_secs.get().into());
                match envelope(s, config, built) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::Rejected => {
                        return failed(Some(built.message_id.clone()), attempts, &e);
                    }
                    Err(e) => {
                        *session = None;
                        return failed(Some(built.message_id.clone()), attempts, &e);
                    }
                }
                match s
                    .send(
                        &built.from,
                        &built.recipients,
                        &built.data,
                        final_reply,
                        &before_data,
                    )
                    .await
                {
                    Ok(d) => {
                        tracing::debug!(target: TARGET, index, message_id = %built.message_id, accepted = d.accepted.len(), rejected = d.rejected.len(), "sent");
                        return SendResult {
                            status: SendStatus::Sent,
                            message_id: Some(built.message_id.clone()),
                            accepted: d.accepted,
                            rejected: d
                                .rejected
                                .into_iter()
                                .map(|(address, reason, _)| RejectedRecipient { address, reason })
                                .collect(),
                            attempts,
                            server_reply: d.queued,
                            error: None,
                            sent_copy: None,
                        };
                    }
                    Err(f) => {
                        if f.broken {
                            *session = None;
                        }
                        if f.unknown {
                            tracing::warn!(target: TARGET, index, message_id = %built.message_id, "outcome unknown: {}", f.error);
                            let mut r = failed(Some(built.message_id.clone()), attempts, &f.error);
                            r.status = SendStatus::Unknown;
                            r.accepted = f.delivery.accepted;
                            return r;
                        }
                        if !f.error.is_retryable() || attempts > config.max_retries {
                            let mut r = failed(Some(built.message_id.clone()), attempts, &f.error);
                            r.rejected = f
                                .delivery
                                .rejected
                                .into_iter()
                                .map(|(address, reason, _)| RejectedRecipient { address, reason })
                                .collect();
                            return r;
                        }
                        f.error
                    }
                }
            }
        };
        if !error.is_retryable() || attempts > config.max_retries {
            tracing::warn!(target: TARGET, index, attempts, "not sent: {error}");
            return failed(Some(built.message_id.clone()), attempts, &error);
        }
        let wait = Duration::from_millis(
            config
                .retry_backoff_ms
                .saturating_mul(1 << (attempts - 1).min(10)),
        );
        tracing::warn!(target: TARGET, index, attempts, wait_ms = wait.as_millis() as u64, "transient failure, retrying: {error}");
        tokio::time::sleep(wait).await;
    }
}
