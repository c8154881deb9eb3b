//! IMAP sessions: opened step by step (so `check` can report each), and the commands
//! Read Email needs, with errors classified.

use async_imap::types::{Flag, NameAttribute};
use connector_sdk::{Error, Result};
use futures_util::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::login::Login;
use crate::net::{Net, Proto, Stream, within};
use crate::settings::{Security, Server};
use crate::smtp::io_error;

/// An authenticated IMAP session.
pub(crate) type Session = async_imap::Session<Stream>;

/// Everything needed to open IMAP sessions.
#[derive(Debug, Clone)]
pub(crate) struct ImapConfig {
    pub(crate) net: Net,
    pub(crate) server: Server,
    pub(crate) login: Login,
}

impl ImapConfig {
    pub(crate) fn what(&self) -> String {
        format!("IMAP {}:{}", self.server.host, self.server.port.get())
    }

    /// Opens and logs in.
    pub(crate) async fn open(&self) -> Result<Session> {
        let stream = self.connect().await?;
        let (stream, greeted) = self.secure(stream).await?;
        self.login(stream, greeted).await
    }

    /// Step 1: the TCP connection.
    pub(crate) async fn connect(&self) -> Result<Stream> {
        self.net
            .tcp(Proto::Imap, &self.server.host, self.server.port.get())
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
                let what = self.what();
                within(self.net.timeouts.io(), &what, "the STARTTLS negotiation", async {
                    let greeting = read_line(&mut stream, &what).await?;
                    if !greeting.starts_with("* OK") {
                        return Err(Error::protocol(format!("{what}: unexpected greeting: {}", greeting.trim_end())));
                    }
                    let caps = command(&mut stream, &what, "s1", "CAPABILITY").await?;
                    let offered = caps
                        .split_whitespace()
                        .any(|w| w.eq_ignore_ascii_case("STARTTLS"));
                    if !offered {
                        return Err(Error::connect(format!(
                            "{what}: the server does not offer STARTTLS, which `security: starttls` requires; refusing to continue in plaintext"
                        ))
                        .retryable(false));
                    }
                    command(&mut stream, &what, "s2", "STARTTLS").await.map(|_| ())
                })
                .await??;
                Ok((self.net.tls(stream, &self.server.host).await?, true))
            }
        }
    }

    /// Step 3: the greeting (unless already read) and LOGIN.
    pub(crate) async fn login(&self, stream: Stream, greeted: bool) -> Result<Session> {
        let what = self.what();
        let io = self.net.timeouts.io();
        let mut client = async_imap::Client::new(stream);
        if !greeted {
            let greeting = within(io, &what, "the greeting", client.read_response())
                .await?
                .map_err(|e| io_error(&what, &e))?;
            if greeting.is_none() {
                return Err(Error::connect(format!(
                    "{what}: the server closed the connection before greeting"
                )));
            }
        }
        match &self.login {
            Login::Password { username, password } => {
                match within(
                    io,
                    &what,
                    "LOGIN",
                    client.login(username, password.expose()),
                )
                .await?
                {
                    Ok(session) => Ok(session),
                    Err((e, _)) => Err(match e {
                        async_imap::error::Error::No(text)
                        | async_imap::error::Error::Bad(text) => Error::auth(format!(
                            "{what}: login as {username} refused: {}",
                            text.trim()
                        )),
                        other => classify(&what, "LOGIN", other),
                    }),
                }
            }
            Login::Token {
                username,
                mechanism,
                tokens,
            } => {
                // The client comes back after a refusal, for a second try.
                let mut client = Some(client);
                #[allow(unused_assignments)] // the client is put back for the second try
                let session = crate::login::with_token!(tokens, |token| {
                    match client.take() {
                        Some(c) => {
                            let (session, back) =
                                self.authenticate(c, username, token, *mechanism).await;
                            client = back;
                            session
                        }
                        None => Err(Error::internal("IMAP client lost")),
                    }
                });
                session
            }
            Login::None => Err(Error::config(
                "/auth",
                "IMAP needs a login: set auth.type to basic or oauth2",
            )),
        }
    }

    /// AUTHENTICATE with a token. Returns the client after a refusal.
    async fn authenticate(
        &self,
        mut client: async_imap::Client<Stream>,
        username: &str,
        token: &str,
        mechanism: crate::settings::OauthMechanism,
    ) -> (Result<Session>, Option<async_imap::Client<Stream>>) {
        let what = self.what();
        let initial = crate::sasl::initial_response(
            mechanism,
            username,
            token,
            &self.server.host,
            self.server.port.get(),
        );
        let challenge = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let auth = TokenAuth {
            initial: Some(initial),
            challenge: std::sync::Arc::clone(&challenge),
        };
        let outcome = match within(
            self.net.timeouts.io(),
            &what,
            "AUTHENTICATE",
            client.authenticate(mechanism.name(), auth),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(e) => return (Err(e), None),
        };
        match outcome {
            Ok(session) => (Ok(session), None),
            Err((e, back)) => {
                client = back;
                let error = match e {
                    async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
                        let challenge = challenge.lock().map(|c| c.clone()).unwrap_or_default();
                        let why = if challenge.is_empty() {
                            text.trim().to_owned()
                        } else {
                            crate::sasl::reason(&challenge)
                        };
                        return (
                            Err(Error::auth(format!(
                                "{what}: the token for {username} was refused ({}): {why}",
                                mechanism.name()
                            ))),
                            Some(client),
                        );
                    }
                    other => classify(&what, "AUTHENTICATE", other),
                };
                (Err(error), None)
            }
        }
    }
}

/// Answers the server's SASL prompts: the token first; after that the server only asks
/// to report a refusal (its challenge holds the reason), answered with an empty line.
struct TokenAuth {
    initial: Option<String>,
    challenge: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl async_imap::Authenticator for TokenAuth {
    type Response = String;

    fn process(&mut self, challenge: &[u8]) -> String {
        match self.initial.take() {
            Some(first) => first,
            None => {
                if let Ok(mut c) = self.challenge.lock() {
                    *c = challenge.to_vec();
                }
                String::new()
            }
        }
    }
}

/// Classifies an IMAP error.
pub(crate) fn classify(what: &str, doing: &str, e: async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    match e {
        E::Io(io) => io_error(&format!("{what} ({doing})"), &io),
        E::ConnectionLost => Error::connect(format!("{what} ({doing}): connection lost")),
        E::No(text) => Error::rejected(format!("{what}: {doing} refused: {}", text.trim())),
        E::Bad(text) => Error::protocol(format!(
            "{what}: {doing} rejected as malformed: {}",
            text.trim()
        )),
        other => Error::protocol(format!("{what} ({doing}): {other}")),
    }
}

/// The IMAP form of a flag (`\Seen`).
pub(crate) fn flag_name(flag: &Flag<'_>) -> String {
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(s) => s.to_string(),
    }
}

/// The IMAP form of a mailbox attribute (`\Sent`, `\Noselect`).
pub(crate) fn attribute_name(attr: &NameAttribute<'_>) -> String {
    match attr {
        NameAttribute::NoInferiors => "\\Noinferiors".into(),
        NameAttribute::NoSelect => "\\Noselect".into(),
        NameAttribute::Marked => "\\Marked".into(),
        NameAttribute::Unmarked => "\\Unmarked".into(),
        NameAttribute::All => "\\All".into(),
        NameAttribute::Archive => "\\Archive".into(),
        NameAttribute::Drafts => "\\Drafts".into(),
        NameAttribute::Flagged => "\\Flagged".into(),
        NameAttribute::Junk => "\\Junk".into(),
        NameAttribute::Sent => "\\Sent".into(),
        NameAttribute::Trash => "\\Trash".into(),
        NameAttribute::Extension(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// Lists every mailbox with its attributes.
pub(crate) async fn list(session: &mut Session, what: &str) -> Result<Vec<(String, Vec<String>)>> {
    let names: Vec<_> = session
        .list(None, Some("*"))
        .await
        .map_err(|e| classify(what, "LIST", e))?
        .try_collect()
        .await
        .map_err(|e| classify(what, "LIST", e))?;
    let mut out: Vec<(String, Vec<String>)> = names
        .iter()
        .map(|n| {
            (
                n.name().to_owned(),
                n.attributes().iter().map(attribute_name).collect(),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// A UID set in IMAP syntax with ranges (`1:3,7,9:10`), from sorted UIDs.
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// An IMAP quoted string; refuses CR, LF and NUL.
pub(crate) fn quote(s: &str) -> Option<String> {
    if s.contains(['\r', '\n', '\0']) {
        return None;
    }
    Some(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Sends a tagged command before TLS and reads up to its tagged reply, which must be OK.
async fn command(stream: &mut Stream, what: &str, tag: &str, cmd: &str) -> Result<String> {
    stream
        .write_all(format!("{tag} {cmd}\r\n").as_bytes())
        .await
        .map_err(|e| io_error(what, &e))?;
    let mut all = String::new();
    loop {
        let line = read_line(stream, what).await?;
        all.push_str(&line);
        if let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
            return if rest.starts_with("OK") {
                Ok(all)
            } else {
                Err(Error::protocol(format!(
                    "{what}: {cmd} failed: {}",
                    rest.trim_end()
                )))
            };
        }
        if all.len() > 65_536 {
            return Err(Error::protocol(format!("{what}: reply to {cmd} too long")));
        }
    }
}

/// Reads one line a byte at a time, so nothing after it is consumed before TLS.
async fn read_line(stream: &mut Stream, what: &str) -> Result<String> {
    let mut line = Vec::new();
    loop {
        let b = stream.read_u8().await.map_err(|e| io_error(what, &e))?;
        line.push(b);
        if b == b'\n' {
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        if line.len() > 8192 {
            return Err(Error::protocol(format!("{what}: line too long")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_use_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn quoting_escapes_and_refuses_line_breaks() {
        assert_eq!(quote(r#"a "b" \c"#).as_deref(), Some(r#""a \"b\" \\c""#));
        assert_eq!(quote("a\r\nb"), None);
    }
}
