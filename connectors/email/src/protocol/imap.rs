//! IMAP sessions: opened step by step (a check reports each step, work runs the same
//! code silently), and the helpers Read Email needs, with errors classified.

use std::sync::Arc;

use async_imap::types::{Flag, NameAttribute};
use connector_sdk::{Error, Result};
use futures_util::TryStreamExt;

use crate::auth::Login;
use crate::settings::OauthMechanism;
use crate::transport::error::io_error;
use crate::transport::watch::{Completion, Status, Watch, exceeded};
use crate::transport::{Endpoint, Net, Steps, Stream, within};

/// An authenticated IMAP session.
pub(crate) type ImapSession = async_imap::Session<Stream>;

/// Opens IMAP sessions: where, how to secure and log in.
#[derive(Debug, Clone)]
pub(crate) struct ImapDialer {
    pub(crate) net: Net,
    pub(crate) endpoint: Endpoint,
    pub(crate) login: Login,
    /// The limits on what the server sends, and its last tagged completion.
    pub(crate) watch: Arc<Watch>,
}

impl ImapDialer {
    /// Forgets the last tagged completion, before a command whose answer async-imap
    /// reads as a stream.
    pub(crate) fn begin(&self) {
        self.watch.take_completion();
    }

    /// The error for a command async-imap failed on: the server's own tagged `NO` or
    /// `BAD` when there was one (async-imap cannot parse a completion with 8-bit text,
    /// which Courier sends in the user's language, and would report a parse error),
    /// else the classified error. Call [`Self::begin`] before the command.
    pub(crate) fn failed(&self, doing: &str, e: async_imap::error::Error) -> Error {
        match self.completed(doing) {
            Err(refusal) => refusal,
            Ok(()) => classify(&self.what(), doing, e),
        }
    }

    /// After such a command: fails if the server completed it with `NO` (`rejected`) or
    /// `BAD` (`protocol`). async-imap ends the answer stream at the tagged completion
    /// whatever it says, so a refused FETCH would look like a mailbox without those
    /// messages (RFC 3501 section 7.1 gives the three results).
    pub(crate) fn completed(&self, doing: &str) -> Result<()> {
        let what = self.what();
        match self.watch.take_completion() {
            Some(Completion {
                status: Status::No,
                text,
            }) => Err(Error::rejected(format!("{what}: {doing} refused: {text}"))
                .retryable(transient(&text))),
            Some(Completion {
                status: Status::Bad,
                text,
            }) => Err(Error::protocol(format!(
                "{what}: {doing} rejected as malformed: {text}"
            ))),
            _ => Ok(()),
        }
    }

    pub(crate) fn what(&self) -> String {
        self.endpoint.what()
    }

    /// The same dialer with a watch of its own, for a second session whose answers
    /// must not be mistaken for the first one's (IDLE beside the reading session),
    /// with the same limits.
    pub(crate) fn with_own_watch(&self) -> Self {
        let watch = Watch::default();
        watch.limit(self.watch.literal_max(), self.watch.response_max());
        Self {
            watch: Arc::new(watch),
            ..self.clone()
        }
    }

    /// The steps of opening a session, and of the check's `select`, for a report.
    pub(crate) fn steps(&self) -> [&'static str; 4] {
        ["connect", self.endpoint.tls_step(), "login", "select"]
    }

    /// Opens and logs in: connect, TLS or STARTTLS, LOGIN or AUTHENTICATE, each
    /// reported to `steps`. `login` false stops before logging in (a check whose token
    /// could not be had) with the error `skipped`.
    pub(crate) async fn open(&self, steps: &mut Steps<'_>, login: bool) -> Result<ImapSession> {
        let (stream, greeted) = self.net.dial(&self.endpoint, "", steps).await?;
        let stream = stream.watched(Arc::clone(&self.watch));
        if !login {
            steps.skip_after(self.endpoint.tls_step());
            return Err(Error::auth("not logged in: no access token"));
        }
        let who = format!("logged in as {}", self.login.username().unwrap_or_default());
        steps
            .run("login", self.login(stream, greeted), |_| who)
            .await
    }

    /// The greeting (unless already read) and LOGIN or AUTHENTICATE.
    async fn login(&self, stream: Stream, greeted: bool) -> Result<ImapSession> {
        let what = self.what();
        let io = self.net.timeouts.io();
        let mut client = async_imap::Client::new(stream);
        if !greeted {
            let greeting = within(io, &what, "the greeting", client.read_response())
                .await
                .map_err(crate::transport::silent_greeting)?
                .map_err(|e| crate::transport::silent_greeting(greeting_error(&what, &e)))?;
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
                        | async_imap::error::Error::Bad(text) => {
                            let message = format!(
                                "{what}: login as {username} refused: {}",
                                crate::transport::error::printable(text.as_bytes(), EXCERPT)
                            );
                            Error::auth(if crate::hints::is_exchange_online(&self.endpoint.host) {
                                crate::hints::with(message, crate::hints::EXCHANGE_BASIC)
                            } else {
                                message
                            })
                        }
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
                let session = crate::auth::with_token!(tokens, |token| {
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
        mechanism: OauthMechanism,
    ) -> (Result<ImapSession>, Option<async_imap::Client<Stream>>) {
        let what = self.what();
        let initial = crate::auth::sasl::initial_response(
            mechanism,
            username,
            token,
            &self.endpoint.host,
            self.endpoint.port,
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
                            crate::auth::sasl::reason(&challenge)
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

/// A greeting that could not be read: a dropped or silent connection is `connect` or
/// `timeout` as usual; anything else is a server that does not speak IMAP here
/// (`protocol`, not worth retrying), said with a short printable excerpt, never a dump.
fn greeting_error(what: &str, e: &std::io::Error) -> Error {
    if let Some(why) = exceeded(e) {
        return Error::protocol(format!("{what} (the greeting): {why}")).retryable(false);
    }
    match unparsed(e) {
        None => io_error(what, e),
        Some(seen) => Error::protocol(format!(
            "{what}: the greeting is not IMAP ({}); is this the IMAP port, and is `security` right for it?",
            if seen.is_empty() { "unreadable".to_owned() } else { format!("it began {seen:?}") }
        ))
        .retryable(false),
    }
}

/// For an I/O error that is really a parse failure (async-imap reports what it could
/// not parse as a list of byte values, which can be a whole message): a short
/// printable excerpt of it. `None` for a real I/O error.
fn unparsed(e: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::TimedOut | K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
    ) {
        return None;
    }
    let detail = e.to_string();
    let bytes: Vec<u8> = detail
        .split_once("input: [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| {
            list.split(',')
                .take(EXCERPT)
                .filter_map(|n| n.trim().parse::<u8>().ok())
                .collect()
        })
        .unwrap_or_else(|| detail.bytes().take(EXCERPT).collect());
    Some(crate::transport::error::printable(&bytes, EXCERPT))
}

/// Whether a `NO` is worth trying again: the response codes of RFC 5530 that say the
/// server is busy or failing for now.
fn transient(text: &str) -> bool {
    ["[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]"]
        .iter()
        .any(|code| text.to_ascii_uppercase().starts_with(code))
}

/// How much of what a server sent an error message quotes.
const EXCERPT: usize = 120;

/// What an error says when the server's answer could not be parsed.
const UNPARSED: &str = "the answer cannot be parsed as IMAP";

/// Whether `e` is an answer the IMAP client could not parse: the session is then in an
/// unknown state (the command may well have been done), and only a new one can tell.
pub(crate) fn unparsed_answer(e: &Error) -> bool {
    e.kind() == connector_sdk::ErrorKind::Protocol && e.message().contains(UNPARSED)
}

/// Classifies an IMAP error.
pub(crate) fn classify(what: &str, doing: &str, e: async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    // Whatever the server sent is quoted short and printable: a parse error may carry
    // a whole message (hundreds of MB), and a line may carry control characters.
    let said = |text: &str| crate::transport::error::printable(text.as_bytes(), EXCERPT);
    match e {
        E::Io(io) if exceeded(&io).is_some() => Error::protocol(format!(
            "{what} ({doing}): {}",
            exceeded(&io).unwrap_or_default()
        ))
        .retryable(false),
        E::Io(io) => match unparsed(&io) {
            None => io_error(&format!("{what} ({doing})"), &io),
            Some(seen) => {
                Error::protocol(format!("{what} ({doing}): {UNPARSED} (it began {seen:?})"))
            }
        },
        E::ConnectionLost => Error::connect(format!("{what} ({doing}): connection lost")),
        E::No(text) => Error::rejected(format!("{what}: {doing} refused: {}", said(&text))),
        E::Bad(text) => Error::protocol(format!(
            "{what}: {doing} rejected as malformed: {}",
            said(&text)
        )),
        other => Error::protocol(format!("{what} ({doing}): {}", said(&other.to_string()))),
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
pub(crate) async fn list(
    session: &mut ImapSession,
    what: &str,
) -> Result<Vec<(String, Vec<String>)>> {
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
                super::mutf7::decode(n.name()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_server_sent_is_quoted_short_and_printable() {
        // async-imap's parse error carries the unparsed input, which can be a message.
        let dump = format!(
            "Error(Error {{ input: [{}], code: Tag }})",
            "65, ".repeat(1_000_000)
        );
        let e = classify(
            "IMAP h:993",
            "UID FETCH",
            async_imap::error::Error::Io(std::io::Error::other(dump)),
        );
        assert_eq!(e.kind(), connector_sdk::ErrorKind::Protocol);
        assert!(e.message().len() < 300, "{} bytes", e.message().len());
        assert!(e.message().contains("AAAA"), "{e}");
        let no = classify(
            "IMAP h:993",
            "UID STORE",
            async_imap::error::Error::No(format!("\u{7}{}", "x".repeat(10_000))),
        );
        assert!(
            no.message().len() < 300 && !no.message().contains('\u{7}'),
            "{no}"
        );
    }

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
