//! One error model for every connector: a kind, a message, a retry class and, for
//! configuration errors, the JSON path of the offending value.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A boxed error kept as the cause of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the categories an operator acts on.
///
/// The kind decides the exit status of the host (`config` exits 2, `interrupted` exits
/// 128 plus the signal's number, every other kind exits 1) and the default retry class
/// (see [`ErrorKind::retryable_by_default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Settings, a request or a command line that is not of the expected form.
    Config,
    /// The remote side refused the credentials.
    Auth,
    /// The remote side could not be reached or a secure channel not set up.
    Connect,
    /// The remote side did not answer in time.
    Timeout,
    /// The remote side understood the request and refused it.
    Rejected,
    /// The remote side answered something the connector cannot understand.
    Protocol,
    /// A fault in the connector or the host itself.
    Internal,
    /// A signal (SIGINT, SIGTERM) stopped the run early; what was done is reported.
    Interrupted,
}

impl ErrorKind {
    /// The lower-case name used in the JSON error line (`"config"`, `"auth"`, …).
    ///
    /// ```
    /// assert_eq!(connector_sdk::ErrorKind::Timeout.as_str(), "timeout");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Auth => "auth",
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Rejected => "rejected",
            Self::Protocol => "protocol",
            Self::Internal => "internal",
            Self::Interrupted => "interrupted",
        }
    }

    /// Whether trying again later may succeed when nothing else is known: true for
    /// `connect`, `timeout` and `interrupted`, false for the others.
    ///
    /// ```
    /// use connector_sdk::ErrorKind;
    /// assert!(ErrorKind::Connect.retryable_by_default());
    /// assert!(!ErrorKind::Auth.retryable_by_default());
    /// ```
    pub fn retryable_by_default(self) -> bool {
        matches!(self, Self::Connect | Self::Timeout | Self::Interrupted)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error every connector and the host return.
///
/// Build one with the constructor of its kind; the retry class follows the kind unless
/// changed with [`Error::retryable`]. Messages are lower-case with no final period and
/// must never contain a secret.
///
/// ```
/// use connector_sdk::{Error, ErrorKind};
///
/// let err = Error::config("/imap/port", "expected an integer from 1 to 65535");
/// assert_eq!(err.kind(), ErrorKind::Config);
/// assert_eq!(err.path(), Some("/imap/port"));
/// assert_eq!(err.to_string(), "/imap/port: expected an integer from 1 to 65535");
///
/// let err = Error::rejected("450 4.2.1 mailbox busy").retryable(true);
/// assert!(err.is_retryable());
/// ```
#[derive(thiserror::Error)]
#[error("{}", Display(self))]
pub struct Error {
    kind: ErrorKind,
    message: String,
    retryable: bool,
    path: Option<String>,
    #[source]
    source: Option<BoxError>,
}

struct Display<'a>(&'a Error);

impl fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.path {
            Some(path) if !path.is_empty() => write!(f, "{path}: {}", self.0.message),
            _ => f.write_str(&self.0.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind)
            .field("message", &self.message)
            .field("retryable", &self.retryable);
        if let Some(path) = &self.path {
            d.field("path", path);
        }
        if let Some(source) = &self.source {
            d.field("source", &source.to_string());
        }
        d.finish()
    }
}

impl Error {
    /// An error of `kind` with the default retry class of that kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: kind.retryable_by_default(),
            path: None,
            source: None,
        }
    }

    /// A configuration error at a JSON pointer (`""` for the whole document, `/imap/port`).
    pub fn config(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message).at(path)
    }

    /// The remote side refused the credentials (not retryable).
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }

    /// The remote side could not be reached (retryable).
    pub fn connect(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Connect, message)
    }

    /// The remote side did not answer in time (retryable).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// The remote side refused the request (not retryable unless said so).
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Rejected, message)
    }

    /// The remote side answered something unexpected (not retryable).
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }

    /// A fault in the connector or the host (not retryable).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A signal stopped the run (retryable: nothing is wrong with the work itself).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interrupted, message)
    }

    /// Sets the retry class.
    #[must_use]
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Sets the JSON pointer of the value the error is about.
    #[must_use]
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Puts `prefix` in front of the path, as when a request at index 3 of a batch is
    /// invalid: `/to/0` becomes `/3/to/0`.
    #[must_use]
    pub fn under(mut self, prefix: &str) -> Self {
        if self.kind == ErrorKind::Config || self.path.is_some() {
            let rest = self.path.take().unwrap_or_default();
            self.path = Some(format!("{prefix}{rest}"));
        }
        self
    }

    /// Keeps `source` as the cause. Its text must not contain secrets either.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether trying the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The JSON pointer of the offending value, if there is one.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The serializable form used in the host's last stderr line and in reports.
    pub fn body(&self) -> ErrorBody {
        let mut message = self.message.clone();
        if let Some(source) = &self.source {
            let cause = source.to_string();
            if !cause.is_empty() && !message.contains(&cause) {
                message = format!("{message}: {cause}");
            }
        }
        ErrorBody {
            kind: self.kind,
            message,
            retryable: self.retryable,
            path: self.path.clone(),
        }
    }
}

/// An [`Error`] as data: what the host prints as `{"error": {…}}` and what reports and
/// responses embed.
///
/// ```
/// let body = connector_sdk::Error::auth("535 5.7.8 bad credentials").body();
/// assert_eq!(
///     serde_json::to_string(&body).unwrap(),
///     r#"{"kind":"auth","message":"535 5.7.8 bad credentials","retryable":false,"path":null}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong: config, auth, connect, timeout, rejected, protocol or internal.
    pub kind: ErrorKind,
    /// What happened, for a person.
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
    /// The JSON pointer of the offending value, for config errors.
    pub path: Option<String>,
}

impl From<ErrorBody> for Error {
    fn from(body: ErrorBody) -> Self {
        Self {
            kind: body.kind,
            message: body.message,
            retryable: body.retryable,
            path: body.path,
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_path_and_not_kind() {
        let err = Error::config("/a/0", "expected a string");
        assert_eq!(err.to_string(), "/a/0: expected a string");
        assert_eq!(Error::config("", "bad").to_string(), "bad");
    }

    #[test]
    fn under_prefixes_config_paths_only() {
        assert_eq!(
            Error::config("/to/0", "x").under("/3").path(),
            Some("/3/to/0")
        );
        assert_eq!(Error::auth("x").under("/3").path(), None);
    }

    #[test]
    fn body_carries_the_cause() {
        let io = std::io::Error::other("connection reset");
        let body = Error::connect("imap.example.com:993")
            .with_source(io)
            .body();
        assert_eq!(body.message, "imap.example.com:993: connection reset");
        assert!(body.retryable);
    }
}
