//! SMTP sessions: opened step by step (so `check` can report each), and one
//! transaction at a time with a result per recipient.

use connector_sdk::{Error, Result};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::login::Login;
use crate::net::{Net, Proto, Stream, within};
use crate::settings::{Security, Server};

/// Everything needed to open SMTP sessions.
#[derive(Debug, Clone)]
pub(crate) struct SmtpConfig {
    pub(crate) net: Net,
    pub(crate) server: Server,
    pub(crate) login: Login,
    pub(crate) hello: String,
}

/// An open, authenticated SMTP session.
pub(crate) struct Session {
    conn: AsyncSmtpConnection,
    config: SmtpConfig,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.config.server.host)
            .finish_non_exhaustive()
    }
}

impl SmtpConfig {
    fn what(&self) -> String {
        format!("SMTP {}:{}", self.server.host, self.server.port.get())
    }

    /// Opens and authenticates a session.
    pub(crate) async fn open(&self) -> Result<Session> {
        let stream = self.connect().await?;
        let (stream, greeted) = self.secure(stream).await?;
        let mut conn = self.ehlo(stream, greeted).await?;
        self.login(&mut conn).await?;
        Ok(Session {
            conn,
            config: self.clone(),
        })
    }

    /// Step 1: the TCP connection.
    pub(crate) async fn connect(&self) -> Result<Stream> {
        self.net
            .tcp(Proto::Smtp, &self.server.host, self.server.port.get())
            .await
    }

    /// Step 2: TLS, implicit or by STARTTLS (which must be offered). Returns whether
    /// the greeting was already read.
    pub(crate) async fn secure(&self, stream: Stream) -> Result<(Stream, bool)> {
        match self.server.security {
            Security::None => Ok((stream, false)),
            Security::Tls => Ok((self.net.tls(stream, &self.server.host).await?, false)),
            Security::Starttls => {
                let mut stream = stream;
                let io = self.net.timeouts.io();
                let what = self.what();
                within(io, &what, "the STARTTLS negotiation", async {
                    expect(&mut stream, &what, "220", "").await?;
                    let ehlo = expect(&mut stream, &what, "250", &format!("EHLO {}", self.hello)).await?;
                    if !ehlo.lines().any(|l| l.get(4..).is_some_and(|ext| ext.trim().eq_ignore_ascii_case("STARTTLS"))) {
                        return Err(Error::connect(format!(
                            "{what}: the server does not offer STARTTLS, which `security: starttls` requires; refusing to continue in plaintext"
                        ))
                        .retryable(false));
                    }
                    expect(&mut stream, &what, "220", "STARTTLS").await
                })
                .await??;
                Ok((self.net.tls(stream, &self.server.host).await?, true))
            }
        }
    }

    /// Step 3: the greeting and EHLO.
    pub(crate) async fn ehlo(&self, stream: Stream, greeted: bool) -> Result<AsyncSmtpConnection> {
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
            "EHLO",
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello),
        )
        .await?
        .map_err(|e| classify(&what, "EHLO", &e))
    }

    /// Step 4: AUTH, when the settings have credentials.
    pub(crate) async fn login(&self, conn: &mut AsyncSmtpConnection) -> Result<()> {
        let (username, password) = match &self.login {
            Login::None => return Ok(()),
            Login::Token {
                username,
                mechanism,
                tokens,
            } => {
                return crate::login::with_token!(tokens, |token| {
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
                err if matches!(err.kind(), connector_sdk::ErrorKind::Rejected) => Error::auth(
                    format!("{what}: login as {username} refused: {}", reply_text(&e)),
                )
                .retryable(err.is_retryable()),
                err => err,
            }),
        }
    }
}

impl SmtpConfig {
    /// AUTH XOAUTH2 or OAUTHBEARER with an initial response. A refused token comes back
    /// as a `334` challenge carrying the reason, answered with an empty line; lettre's
    /// own XOAUTH2 cannot answer it, hence the raw command.
    async fn login_token(
        &self,
        conn: &mut AsyncSmtpConnection,
        username: &str,
        token: &str,
        mechanism: crate::settings::OauthMechanism,
    ) -> Result<()> {
        let what = self.what();
        let io = self.net.timeouts.io();
        let b64 = crate::sasl::initial_response_b64(
            mechanism,
            username,
            token,
            &self.server.host,
            self.server.port.get(),
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
                let why = crate::sasl::reason(challenge.as_bytes());
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
}

/// Why a transaction failed, and whether it is worth trying again.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    /// The session is broken and must not be reused.
    pub(crate) broken: bool,
    /// Per-recipient answers gathered before the failure.
    pub(crate) delivery: Delivery,
}

impl Session {
    /// Sends one message: MAIL, RCPT per recipient, DATA. Rejected recipients are
    /// reported; the message goes to the accepted ones.
    pub(crate) async fn send(
        &mut self,
        from: &lettre::Address,
        recipients: &[lettre::Address],
        data: &[u8],
    ) -> std::result::Result<Delivery, Failure> {
        let what = self.config.what();
        let io = self.config.net.timeouts.io();
        let mut delivery = Delivery::default();
        let fail = |error: Error, broken: bool, delivery: Delivery| Failure {
            error,
            broken,
            delivery,
        };

        let mail = timed(
            io,
            &what,
            self.conn.command(Mail::new(Some(from.clone()), vec![])),
        )
        .await;
        if let Err(e) = mail {
            return Err(self.abort(fail(e.error, e.broken, delivery)).await);
        }
        for rcpt in recipients {
            match timed(
                io,
                &what,
                self.conn.command(Rcpt::new(rcpt.clone(), vec![])),
            )
            .await
            {
                Ok(_) => delivery.accepted.push(rcpt.to_string()),
                Err(e) if e.broken => return Err(fail(e.error, true, delivery)),
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
        if let Err(e) = timed(io, &what, self.conn.command(Data)).await {
            return Err(self.abort(fail(e.error, e.broken, delivery)).await);
        }
        // The whole message gets one timeout per write; a large one gets more time.
        let budget = io + std::time::Duration::from_secs((data.len() / (256 * 1024)) as u64);
        match timed(budget, &what, self.conn.message(data)).await {
            Ok(reply) => {
                delivery.queued = Some(reply.message().collect::<Vec<_>>().join(" "));
                Ok(delivery)
            }
            Err(e) => Err(fail(e.error, e.broken, delivery)),
        }
    }

    /// Resets the transaction after a refusal so the session can be reused.
    async fn abort(&mut self, mut failure: Failure) -> Failure {
        if !failure.broken {
            let io = self.config.net.timeouts.io();
            if timed(io, &self.config.what(), self.conn.command(Rset))
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
        let io = self.config.net.timeouts.io();
        let _ = tokio::time::timeout(io, self.conn.quit()).await;
    }
}

struct Timed {
    error: Error,
    broken: bool,
}

async fn timed<T>(
    limit: std::time::Duration,
    what: &str,
    fut: impl std::future::Future<Output = std::result::Result<T, lettre::transport::smtp::Error>>,
) -> std::result::Result<T, Timed> {
    match tokio::time::timeout(limit, fut).await {
        Err(_) => Err(Timed {
            error: Error::timeout(format!("{what}: no reply for {} s", limit.as_secs())),
            broken: true,
        }),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            // A reply from the server leaves the session usable; anything else does not.
            let answered = e.is_response() || e.is_permanent() || e.is_transient();
            Err(Timed {
                error: classify(what, "", &e),
                broken: !answered,
            })
        }
    }
}

/// The server's own words in a refusal (`550 5.1.1 <x>: Recipient address rejected`).
fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    let text = e.to_string();
    // lettre formats "permanent error (550): 5.1.1 …"; keep the code and the text.
    match (e.status(), text.split_once("): ")) {
        (Some(code), Some((_, rest))) => format!("{code} {rest}"),
        _ => text,
    }
}

/// Classifies an SMTP error: refusals by reply code, I/O by kind.
pub(crate) fn classify(what: &str, doing: &str, e: &lettre::transport::smtp::Error) -> Error {
    let doing = if doing.is_empty() {
        String::new()
    } else {
        format!(" ({doing})")
    };
    if e.is_permanent() {
        return Error::rejected(format!("{}{doing}", reply_text(e))).retryable(false);
    }
    if e.is_transient() {
        return Error::rejected(format!("{}{doing}", reply_text(e))).retryable(true);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return if io.kind() == std::io::ErrorKind::TimedOut {
                Error::timeout(format!("{what}{doing}: {io}"))
            } else {
                Error::connect(format!("{what}{doing}: connection lost: {io}"))
            };
        }
        source = s.source();
    }
    if e.is_timeout() {
        return Error::timeout(format!("{what}{doing}: {e}"));
    }
    Error::protocol(format!("{what}{doing}: {e}"))
}

/// Sends `command` (if any) and reads one reply, which must start with `code`.
async fn expect(stream: &mut Stream, what: &str, code: &str, command: &str) -> Result<String> {
    if !command.is_empty() {
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .map_err(|e| io_error(what, &e))?;
    }
    let reply = read_reply(stream, what).await?;
    if reply.starts_with(code) {
        Ok(reply)
    } else {
        let shown = if command.is_empty() {
            "the greeting"
        } else {
            command
        };
        Err(Error::protocol(format!(
            "{what}: unexpected reply to {shown}: {}",
            reply.trim_end()
        )))
    }
}

/// Reads a (multi-line) reply a byte at a time, so nothing after it is consumed
/// before the TLS handshake.
async fn read_reply(stream: &mut Stream, what: &str) -> Result<String> {
    let mut reply = String::new();
    let mut line = Vec::new();
    loop {
        let b = stream.read_u8().await.map_err(|e| io_error(what, &e))?;
        line.push(b);
        if b == b'\n' {
            let text = String::from_utf8_lossy(&line).into_owned();
            reply.push_str(&text);
            let last = text.len() < 4 || text.as_bytes()[3] != b'-';
            line.clear();
            if last {
                return Ok(reply);
            }
        }
        if line.len() > 4096 || reply.len() > 65_536 {
            return Err(Error::protocol(format!("{what}: reply too long")));
        }
    }
}

pub(crate) fn io_error(what: &str, e: &std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::TimedOut => Error::timeout(format!("{what}: {e}")),
        std::io::ErrorKind::UnexpectedEof => {
            Error::connect(format!("{what}: the server closed the connection"))
        }
        _ => Error::connect(format!("{what}: {e}")),
    }
}
