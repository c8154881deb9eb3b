//! SMTP sessions: opened step by step (a check reports each step, work runs the same
//! code silently), and one transaction at a time with a result per recipient.
//!
//! One concern, the session's life: open, log in, learn the extensions, run
//! transactions (one command at a time, or pipelined: both paths share the failure
//! rules and the data phase, so they stay side by side), quit. Reply parsing and error
//! classes live in `reply.rs`; the bytes on the wire in `transport`.

use connector_sdk::{Error, Result};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;

use crate::auth::Login;
use crate::settings::OauthMechanism;
use crate::transport::{Endpoint, Net, Outbox, Probe, ReadWait, Steps, Stream, within};

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
    /// Holds writes until the next read; pipelined commands are queued here.
    outbox: Outbox,
    /// Tells whether the server closed the session while it was idle.
    probe: Option<Probe>,
    /// The extensions the server offers that lettre does not track.
    offers: Offers,
    /// Whether transactions may use PIPELINING and CHUNKING when offered.
    pipelining: bool,
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
        let probe = stream
            .probe()
            .inspect_err(|e| tracing::debug!(target: "email_connector::smtp", "no probe of the connection: {e}"))
            .ok();
        let (mut conn, outbox, offers) = steps
            .run("ehlo", self.ehlo(stream, greeted), |(c, _, offers)| {
                ehlo_detail(c.server_info(), *offers)
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
            outbox,
            probe,
            offers,
            pipelining: true,
            mail_params: Vec::new(),
            rcpt_params: Vec::new(),
        })
    }

    /// The greeting and EHLO, then EHLO once more for the extensions lettre does not
    /// keep (EHLO may be repeated, RFC 5321 section 4.1.4; before AUTH, so nothing of
    /// the login is reset).
    async fn ehlo(
        &self,
        mut stream: Stream,
        greeted: bool,
    ) -> Result<(AsyncSmtpConnection, Outbox, Offers)> {
        let outbox = stream.coalesced();
        // After STARTTLS there is no new greeting; lettre expects one, so the stream
        // serves a synthetic one before the server's next (EHLO) reply.
        let stream = if greeted {
            stream.with_prefix(b"220 TLS session started\r\n")
        } else {
            stream
        };
        let hello = ClientId::Domain(self.hello.clone());
        let what = self.what();
        let io = self.net.timeouts.io();
        let mut conn = within(
            io,
            &what,
            "the greeting and EHLO",
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello),
        )
        .await
        .map_err(crate::transport::silent_greeting)?
        .map_err(|e| crate::transport::silent_greeting(classify(&what, "EHLO", &e)))?;
        let reply = exchange(
            io,
            &what,
            "EHLO",
            conn.command(Line(format!("EHLO {}", self.hello))),
        )
        .await
        .map_err(|f| f.error)?;
        let offers = Offers::from_ehlo(reply.message());
        Ok((conn, outbox, offers))
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

impl Delivery {
    /// Notes a refused recipient, with the server's reason.
    fn refused(&mut self, rcpt: &lettre::Address, error: &Error) {
        self.rejected.push((
            rcpt.to_string(),
            error.message().to_owned(),
            error.is_retryable(),
        ));
    }

    /// The error when no recipient was accepted: retryable only if every refusal was.
    fn none_accepted(&self, what: &str) -> Error {
        let all_transient = self.rejected.iter().all(|r| r.2);
        Error::rejected(format!("{what}: every recipient was refused")).retryable(all_transient)
    }
}

/// A failure with the session still usable (`broken` false) or not.
fn fail(error: Error, broken: bool, delivery: Delivery) -> Failure {
    Failure {
        error,
        broken,
        unknown: false,
        delivery,
    }
}

/// The connection was lost after the whole message went out: the server may have
/// accepted it, so it must not be sent again.
fn unknown(error: Error, delivery: Delivery) -> Failure {
    let error = Error::new(
        error.kind(),
        format!(
            "{}; the message data went out, so the server may have accepted it: not sent again",
            error.message()
        ),
    )
    .retryable(false);
    Failure {
        error,
        broken: true,
        unknown: true,
        delivery,
    }
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

/// The SMTP extensions this connector uses that lettre does not keep, from the reply
/// to EHLO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Offers {
    /// Delivery status notifications (RFC 3461).
    pub(crate) dsn: bool,
    /// Command pipelining (RFC 2920).
    pub(crate) pipelining: bool,
    /// `BDAT` chunks (RFC 3030).
    pub(crate) chunking: bool,
}

impl Offers {
    /// Reads the extension keywords of an EHLO reply's lines (the first is the
    /// greeting).
    fn from_ehlo<'a>(lines: impl Iterator<Item = &'a str>) -> Self {
        let mut offers = Self::default();
        for line in lines.skip(1) {
            let keyword = line.split_whitespace().next().unwrap_or("");
            for (name, flag) in [
                ("DSN", &mut offers.dsn),
                ("PIPELINING", &mut offers.pipelining),
                ("CHUNKING", &mut offers.chunking),
            ] {
                if keyword.eq_ignore_ascii_case(name) {
                    *flag = true;
                }
            }
        }
        offers
    }
}

impl SmtpSession {
    /// The extensions the server offers beyond lettre's.
    pub(crate) fn offers(&self) -> Offers {
        self.offers
    }

    /// Whether transactions may use PIPELINING (RFC 2920) and CHUNKING (RFC 3030) when
    /// the server offers them (on by default).
    pub(crate) fn pipeline(&mut self, on: bool) {
        self.pipelining = on;
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
    /// recipient limit are left in `deferred`. Pipelined when the server allows it.
    async fn transaction(
        &mut self,
        from: &lettre::Address,
        recipients: &[lettre::Address],
        data: &[u8],
        final_reply: std::time::Duration,
        before_data: &(dyn Fn() -> Result<()> + Sync),
    ) -> std::result::Result<Delivery, Failure> {
        if self.pipelining && self.offers.pipelining {
            return self
                .pipelined(from, recipients, data, final_reply, before_data)
                .await;
        }
        let what = self.dialer.what();
        let io = self.dialer.net.timeouts.io();
        let mut delivery = Delivery::default();

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
                Err(e) => delivery.refused(rcpt, &e.error),
            }
        }
        if delivery.accepted.is_empty() {
            let error = delivery.none_accepted(&what);
            return Err(self.abort(fail(error, false, delivery)).await);
        }
        if let Err(e) = exchange(io, &what, "DATA", self.conn.command(Data)).await {
            return Err(self.abort(fail(e.error, e.broken, delivery)).await);
        }
        self.data(data, final_reply, before_data, delivery).await
    }

    /// One transaction in one or two flights (RFC 2920): MAIL, every RCPT and DATA in
    /// one write, then the message data and its `.` in another; with CHUNKING (RFC
    /// 3030) the message goes in the first flight as one `BDAT … LAST` chunk. The
    /// replies are read in order, every one of them, whatever the earlier ones said.
    async fn pipelined(
        &mut self,
        from: &lettre::Address,
        recipients: &[lettre::Address],
        data: &[u8],
        final_reply: std::time::Duration,
        before_data: &(dyn Fn() -> Result<()> + Sync),
    ) -> std::result::Result<Delivery, Failure> {
        let what = self.dialer.what();
        let io = self.dialer.net.timeouts.io();
        let chunked = self.offers.chunking;
        let mut delivery = Delivery::default();
        let mut flight = Mail::new(Some(from.clone()), self.mail_params.clone()).to_string();
        for rcpt in recipients {
            flight.push_str(&Rcpt::new(rcpt.clone(), self.rcpt_params.clone()).to_string());
        }
        if chunked {
            let end = if data.ends_with(b"\r\n") { 0 } else { 2 };
            flight.push_str(&format!("BDAT {} LAST\r\n", data.len() + end));
            // The message goes out now: the journal must say so first.
            if let Err(e) = before_data() {
                return Err(fail(e, false, delivery));
            }
            self.outbox.push(flight.as_bytes());
            self.outbox.push(data);
            self.outbox.push(&b"\r\n"[..end]);
        } else {
            flight.push_str("DATA\r\n");
            self.outbox.push(flight.as_bytes());
        }
        // The first reply waits for the whole flight to be written.
        let writing = std::time::Duration::from_secs((data.len() / (256 * 1024)) as u64);
        let mail = match exchange(io + writing, &what, "MAIL", self.conn.read_response()).await {
            Err(e) if e.broken => return Err(self.lost(e.error, chunked, delivery)),
            mail => mail.err().map(|f| f.error),
        };
        let mut over_limit = Vec::new();
        for rcpt in recipients {
            match exchange(io, &what, "RCPT", self.conn.read_response()).await {
                Ok(_) => delivery.accepted.push(rcpt.to_string()),
                Err(e) if e.broken => {
                    let possible = chunked && mail.is_none();
                    return Err(self.lost(e.error, possible, delivery));
                }
                Err(e) if matches!(e.code, Some(452 | 552)) => over_limit.push((rcpt, e.error)),
                Err(e) => delivery.refused(rcpt, &e.error),
            }
        }
        if delivery.accepted.is_empty() {
            for (rcpt, error) in &over_limit {
                delivery.refused(rcpt, error);
            }
        } else {
            delivery.deferred = over_limit.into_iter().map(|(r, _)| r.clone()).collect();
        }
        let possible = mail.is_none() && !delivery.accepted.is_empty();
        if chunked {
            // The server answers the chunk once it is all in, and the answer to the
            // end of a message may take long.
            self.wait.stretch(final_reply.max(io));
        }
        let doing = if chunked { "BDAT" } else { "DATA" };
        let last = exchange(io + final_reply, &what, doing, self.conn.read_response()).await;
        self.wait.reset();
        let refusal = match (mail, &last) {
            (_, Err(e)) if e.broken => None,
            (Some(mail), _) => Some(mail),
            (None, _) if delivery.accepted.is_empty() => Some(delivery.none_accepted(&what)),
            (None, _) => None,
        };
        if let Some(error) = refusal {
            if last.is_ok() && !chunked {
                // DATA was taken though nothing may be sent: the session cannot
                // end the data without sending an empty message. Drop it.
                return Err(fail(error, true, delivery));
            }
            return Err(self.abort(fail(error, false, delivery)).await);
        }
        match last {
            Err(e) if e.broken => Err(self.lost(e.error, chunked && possible, delivery)),
            Err(e) => Err(self.abort(fail(e.error, false, delivery)).await),
            Ok(reply) if chunked => {
                delivery.queued = Some(reply.message().collect::<Vec<_>>().join(" "));
                Ok(delivery)
            }
            Ok(_) => self.data(data, final_reply, before_data, delivery).await,
        }
    }

    /// A failure that broke the session; `possible`: the whole message went out, so
    /// the server may have taken it (the outcome is unknown, and it is not sent again).
    fn lost(&self, error: Error, possible: bool, delivery: Delivery) -> Failure {
        if possible && self.outbox.is_empty() {
            return unknown(error, delivery);
        }
        fail(error, true, delivery)
    }

    /// After the server's `354`: the message data and its final `.` (one write), and
    /// the server's reply.
    async fn data(
        &mut self,
        data: &[u8],
        final_reply: std::time::Duration,
        before_data: &(dyn Fn() -> Result<()> + Sync),
        mut delivery: Delivery,
    ) -> std::result::Result<Delivery, Failure> {
        let what = self.dialer.what();
        let io = self.dialer.net.timeouts.io();
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
            Err(e) if e.broken => Err(unknown(e.error, delivery)),
            Err(e) => Err(fail(e.error, false, delivery)),
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

    /// Whether the session can carry another message: not broken, and not closed by
    /// the server while idle (then it is not tried, and the message goes in a new one).
    pub(crate) fn usable(&self) -> bool {
        !self.conn.has_broken() && !self.probe.as_ref().is_some_and(Probe::peer_gone)
    }

    /// Says QUIT.
    pub(crate) async fn quit(mut self) {
        let io = self.dialer.net.timeouts.io();
        let _ = tokio::time::timeout(io, self.conn.quit()).await;
    }
}
