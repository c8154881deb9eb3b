//! SMTP sessions: opened step by step (a check reports each step, work runs the same
//! code silently), and one transaction at a time with a result per recipient.

use connector_sdk::{Error, Result};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;

use crate::auth::Login;
use crate::settings::OauthMechanism;
use crate::transport::{Endpoint, Net, ReadWait, Steps, Stream, within};

mod reply;
pub(crate) use reply::classify;
use reply::{ehlo_detail, exchange, reply_text};

/// Opens SMTP sessions: where, how to secure and log in.
#[derive(Debug, Clone)]
pub(crate) struct SmtpDialer {
    pub(crate) net: Net,
    pub(crate) endpoint: Endpoint,
    pub(crate) login: Login,
    pub(crate) hello: String,
}

/// An open, authenticated SMTP session.
pub(crate) struct SmtpSession {
    conn: AsyncSmtpConnection,
    dialer: SmtpDialer,
    /// Stretches the wait for the reply to the end of DATA.
    wait: ReadWait,
    /// Whether the server offers DSN (RFC 3461), once asked.
    dsn: Option<bool>,
    /// Parameters of the next transaction's MAIL and RCPT commands.
    mail_params: Vec<lettre::transport::smtp::extension::MailParameter>,
    rcpt_params: Vec<lettre::transport::smtp::extension::RcptParameter>,
}

impl std::fmt::Debug for SmtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSession")
            .field("server", &self.dialer.endpoint.host)
            .finish_non_exhaustive()
    }
}

impl SmtpDialer {
    fn what(&self) -> String {
        self.endpoint.what()
    }

    /// The steps of opening a session, for a check report.
    pub(crate) fn steps(&self) -> [&'static str; 4] {
        ["connect", self.endpoint.tls_step(), "ehlo", "auth"]
    }

    /// Opens and authenticates a session: connect, TLS or STARTTLS, EHLO, AUTH, each
    /// reported to `steps`. `login` false leaves AUTH out (a check whose token could
    /// not be had).
    pub(crate) async fn open(&self, steps: &mut Steps<'_>, login: bool) -> Result<SmtpSession> {
        let (stream, greeted) = self.net.dial(&self.endpoint, &self.hello, steps).await?;
        let wait = stream.read_wait();
        let mut conn = steps
            .run("ehlo", self.ehlo(stream, greeted), |c| {
                ehlo_detail(c.server_info())
            })
            .await?;
        match self.login.username() {
            Some(username) if login => {
                let who = format!("logged in as {username}");
                steps.run("auth", self.login(&mut conn), |()| who).await?;
            }
            Some(_) => steps.skip("auth", "not tried: no access token"),
            None => steps.skip("auth", "no login configured"),
        }
        Ok(SmtpSession {
            conn,
            dialer: self.clone(),
            wait,
            dsn: None,
            mail_params: Vec::new(),
            rcpt_params: Vec::new(),
        })
    }

    /// The greeting and EHLO.
    async fn ehlo(&self, stream: Stream, greeted: bool) -> Result<AsyncSmtpConnection> {
        // After STARTTLS there is no new greeting; lettre expects one, so the stream
        // serves a synthetic one before the server's next (EHLO) reply.
        let stream = if greeted {
            stream.with_prefix(b"220 TLS session started\r\n")
        } else {
            stream
        };
        let hello = ClientId::Domain(self.hello.clone());
        let what = self.what();
        within(
            self.net.timeouts.io(),
            &what,
            "the greeting and EHLO",
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello),
        )
        .await
        .map_err(crate::transport::silent_greeting)?
        .map_err(|e| crate::transport::silent_greeting(classify(&what, "EHLO", &e)))
    }

    /// AUTH, when the settings have credentials.
    async fn login(&self, conn: &mut AsyncSmtpConnection) -> Result<()> {
        let (username, password) = match &self.login {
            Login::None => return Ok(()),
            Login::Token {
                username,
                mechanism,
                tokens,
            } => {
                return crate::auth::with_token!(tokens, |token| {
                    self.login_token(conn, username, token, *mechanism).await
                });
            }
            Login::Password { username, password } => (username, password),
        };
        let what = self.what();
        let credentials = Credentials::new(username.clone(), password.expose().to_owned());
        let result = within(
            self.net.timeouts.io(),
            &what,
            "AUTH",
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials),
        )
        .await?;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.is_client() => Err(Error::auth(format!(
                "{what}: the server offers no login mechanism this connector supports (PLAIN, LOGIN): {e}"
            ))),
            Err(e) => Err(match classify(&what, "AUTH", &e) {
                err if matches!(err.kind(), connector_sdk::ErrorKind::Rejected) => {
                    let message =
                        format!("{what}: login as {username} refused: {}", reply_text(&e));
                    let message = if crate::hints::is_exchange_online(&self.endpoint.host) {
                        crate::hints::with(message, crate::hints::EXCHANGE_BASIC)
                    } else {
                        message
                    };
                    Error::auth(message).retryable(err.is_retryable())
                }
                err => err,
            }),
        }
    }
}

impl SmtpDialer {
    /// AUTH XOAUTH2 or OAUTHBEARER with an initial response. A refused token comes back
    /// as a `334` challenge carrying the reason, answered with an empty line; lettre's
    /// own XOAUTH2 cannot answer it, hence the raw command.
    async fn login_token(
        &self,
        conn: &mut AsyncSmtpConnection,
        username: &str,
        token: &str,
        mechanism: OauthMechanism,
    ) -> Result<()> {
        let what = self.what();
        let io = self.net.timeouts.io();
        let b64 = crate::auth::sasl::initial_response_b64(
            mechanism,
            username,
            token,
            &self.endpoint.host,
            self.endpoint.port,
        );
        let refused = |why: String| {
            Error::auth(format!(
                "{what}: the token for {username} was refused ({}): {why}",
                mechanism.name()
            ))
        };
        match within(
            io,
            &what,
            "AUTH",
            conn.command(Line(format!("AUTH {} {b64}", mechanism.name()))),
        )
        .await?
        {
            Ok(reply) if reply.has_code(235) => Ok(()),
            Ok(reply) if reply.has_code(334) => {
                let challenge: String = reply.message().collect();
                let why = crate::auth::sasl::reason(challenge.as_bytes());
                // The server expects an empty reply before its final refusal.
                let _ = within(io, &what, "AUTH", conn.command(Line(String::new()))).await;
                Err(refused(why))
            }
            Ok(reply) => Err(Error::protocol(format!(
                "{what}: unexpected reply to AUTH: {}",
                reply.code()
            ))),
            Err(e) if e.is_permanent() || e.is_transient() => {
                Err(refused(reply_text(&e)).retryable(e.is_transient()))
            }
            Err(e) => Err(classify(&what, "AUTH", &e)),
        }
    }
}

/// A raw command line for `AsyncSmtpConnection::command`.
struct Line(String);

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\r\n", self.0)
    }
}

/// What the server said about one message.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    pub(crate) accepted: Vec<String>,
    pub(crate) rejected: Vec<(String, String, bool)>,
    pub(crate) queued: Option<String>,
    /// Recipients not yet tried because the server's recipient limit was reached.
    deferred: Vec<lettre::Address>,
}

/// Why a transaction failed, and whether it is worth trying again.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    /// The session is broken and must not be reused.
    pub(crate) broken: bool,
    /// The whole message was sent and no reply came (a silent server, a lost
    /// connection): the server may have accepted it, so it must not be sent again.
    pub(crate) unknown: bool,
    /// Per-recipient answers gathered before the failure.
    pub(crate) delivery: Delivery,
}

impl SmtpSession {
    /// Whether the server offers `DSN` (RFC 3461). lettre keeps only the extensions it
    /// knows from the first EHLO, so this asks again (EHLO may be repeated, RFC 5321
    /// section 4.1.4), once per session.
    pub(crate) async fn offers_dsn(&mut self) -> Result<bool> {
        if let Some(known) = self.dsn {
            return Ok(known);
        }
        let what = self.dialer.what();
        let io = self.dialer.net.timeouts.io();
        let reply = exchange(
            io,
            &what,
            "EHLO",
            self.conn
                .command(Line(format!("EHLO {}", self.dialer.hello))),
        )
        .await
        .map_err(|f| f.error)?;
        let offered = reply.message().any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("DSN"))
        });
        self.dsn = Some(offered);
        Ok(offered)
    }

    /// The MAIL and RCPT parameters of the next messages (DSN's `RET`, `ENVID`,
    /// `NOTIFY`).
    pub(crate) fn envelope(
        &mut self,
        mail: Vec<lettre::transport::smtp::extension::MailParameter>,
        rcpt: Vec<lettre::transport::smtp::extension::RcptParameter>,
    ) {
        self.mail_params = mail;
        self.rcpt_params = rcpt;
    }

    /// Sends one message to every recipient: as many transactions as the server's
    /// recipient limit needs. RFC 5321 section 4.5.3.1.10: a server out of room for
    /// recipients answers RCPT with `452` (older ones `552`), and the client sends the
    /// message to the rest in another transaction. Once one transaction delivered the
    /// message, a later failure is reported for its recipients alone (sending the whole
    /// message again would deliver it twice).
    ///
    /// `before_data` runs just before the message data goes out (the send journal
    /// records the message as `sending` there); if it fails, the session is dropped
    /// and nothing is sent.
    pub(crate) async fn send(
        &mut self,
        from: &lettre::Address,
        recipients: &[lettre::Address],
        data: &[u8],
        final_reply: std::time::Duration,
        before_data: &(dyn Fn() -> Result<()> + Sync),
    ) -> std::result::Result<Delivery, Failure> {
        let mut all = self
            .transaction(from, recipients, data, final_reply, before_data)
            .await?;
        let mut round = 1;
        while !all.deferred.is_empty() {
            round += 1;
            let rest = std::mem::take(&mut all.deferred);
            tracing::debug!(target: "email_connector::send", round, recipients = rest.len(), "the server's recipient limit was reached: another transaction for the rest");
            match self
                .transaction(from, &rest, data, final_reply, before_data)
                .await
            {
                Ok(more) => {
                    all.accepted.extend(more.accepted);
                    all.rejected.extend(more.rejected);
                    all.deferred = more.deferred;
                    if let Some(q) = more.queued {
                        all.queued = Some(match all.queued.take() {
                            Some(first) => format!("{first}; {q}"),
                            None => q,
                        });
                    }
                }
                Err(f) => {
                    for rcpt in rest {
                        all.rejected.push((
                            rcpt.to_string(),
                            f.error.message().to_owned(),
                            f.error.is_retryable(),
                        ));
                    }
                    all.rejected.extend(f.delivery.rejected);
                    break;
                }
            }
        }
        Ok(all)
    }

    /// One transaction: MAIL, RCPT per recipient, DATA. Rejected recipients are
    /// reported; the message goes to the accepted ones; those past the server's
    /// recipient limit are left in `deferred`.
    async fn transaction(
        &mut self,
        from: &lettre::Address,
        recipients: &[lettre::Address],
        data: &[u8],
        final_reply: std::time::Duration,
        before_data: &(dyn Fn() -> Result<()> + Sync),
    ) -> std::result::Result<Delivery, Failure> {
        let what = self.dialer.what();
        let io = self.dialer.net.timeouts.io();
        let mut delivery = Delivery::default();
        let fail = |error: Error, broken: bool, delivery: Delivery| Failure {
            error,
            broken,
            unknown: false,
            delivery,
        };

        let mail = exchange(
            io,
            &what,
            "MAIL",
            self.conn
                .command(Mail::new(Some(from.clone()), self.mail_params.clone())),
        )
        .await;
        if let Err(e) = mail {
            return Err(self.abort(fail(e.error, e.broken, delivery)).await);
        }
        for (i, rcpt) in recipients.iter().enumerate() {
            match exchange(
                io,
                &what,
                "RCPT",
                self.conn
                    .command(Rcpt::new(rcpt.clone(), self.rcpt_params.clone())),
            )
            .await
            {
                Ok(_) => delivery.accepted.push(rcpt.to_string()),
                Err(e) if e.broken => return Err(fail(e.error, true, delivery)),
                Err(e) if matches!(e.code, Some(452 | 552)) && !delivery.accepted.is_empty() => {
                    // Too many recipients for one transaction: the rest go in the next.
                    delivery.deferred = recipients[i..].to_vec();
                    break;
                }
                Err(e) => {
                    let transient = e.error.is_retryable();
                    delivery.rejected.push((
                        rcpt.to_string(),
                        e.error.message().to_owned(),
                        transient,
                    ));
                }
            }
        }
        if delivery.accepted.is_empty() {
            let all_transient = delivery.rejected.iter().all(|r| r.2);
            let error = Error::rejected(format!("{what}: every recipient was refused"))
                .retryable(all_transient);
            return Err(self.abort(fail(error, false, delivery)).await);
        }
        if let Err(e) = exchange(io, &what, "DATA", self.conn.command(Data)).await {
            return Err(self.abort(fail(e.error, e.broken, delivery)).await);
        }
        if let Err(e) = before_data() {
            // Nothing went out yet: drop the session rather than end the data with a
            // lone `.` (which would send an empty message).
            return Err(fail(e, true, delivery));
        }
        // The whole message gets one timeout per write (a large one gets more time);
        // then the server may take up to `final_reply` to answer the end of the data
        // (RFC 5321 section 4.5.3.2.6 gives it 10 minutes). If no answer comes, or the
        // connection is lost first, the server may have taken the message: the outcome is
        // unknown, and sending it again could deliver it twice.
        let writing = std::time::Duration::from_secs((data.len() / (256 * 1024)) as u64);
        self.wait.stretch(final_reply.max(io));
        let sent = exchange(
            io + writing + final_reply,
            &what,
            "the reply to the message data",
            self.conn.message(data),
        )
        .await;
        self.wait.reset();
        match sent {
            Ok(reply) => {
                delivery.queued = Some(reply.message().collect::<Vec<_>>().join(" "));
                Ok(delivery)
            }
            Err(e) => {
                let unknown = e.broken;
                let error = if unknown {
                    Error::new(
                        e.error.kind(),
                        format!(
                            "{}; the message data went out, so the server may have accepted it: not sent again",
                            e.error.message()
                        ),
                    )
                    .retryable(false)
                } else {
                    e.error
                };
                Err(Failure {
                    error,
                    broken: e.broken,
                    unknown,
                    delivery,
                })
            }
        }
    }

    /// Resets the transaction after a refusal so the session can be reused.
    async fn abort(&mut self, mut failure: Failure) -> Failure {
        if !failure.broken {
            let io = self.dialer.net.timeouts.io();
            if exchange(io, &self.dialer.what(), "RSET", self.conn.command(Rset))
                .await
                .is_err()
            {
                failure.broken = true;
            }
        }
        failure
    }

    /// Whether the session can carry another message.
    pub(crate) fn usable(&self) -> bool {
        !self.conn.has_broken()
    }

    /// Says QUIT.
    pub(crate) async fn quit(mut self) {
        let io = self.dialer.net.timeouts.io();
        let _ = tokio::time::timeout(io, self.conn.quit()).await;
    }
}
