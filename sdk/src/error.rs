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
    /// The remote side asked to slow down (HTTP 429, a quota): try again later, after
    /// the wait it asked for when it said one (`retry_after_secs`).
    RateLimited,
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
            Self::RateLimited => "rate_limited",
        }
    }

    /// Whether trying again later may succeed when nothing else is known: true for
    /// `connect`, `timeout`, `interrupted` and `rate_limited`, false for the others.
    ///
    /// ```
    /// use connector_sdk::ErrorKind;
    /// assert!(ErrorKind::Connect.retryable_by_default());
    /// assert!(!ErrorKind::Auth.retryable_by_default());
    /// ```
    pub fn retryable_by_default(self) -> bool {
        matches!(
            self,
            Self::Connect | Self::Timeout | Self::Interrupted | Self::RateLimited
        )
    }

    /// The kind an HTTP status stands for, for connectors that call HTTP APIs: 401 and
    /// 403 `auth`, 408 and 504 `timeout`, 429 `rate_limited`, 500, 502 and 503
    /// `connect`, other 4xx `rejected`, anything else (a 1xx or 3xx where a result was
    /// expected) `protocol`. `None` for a success.
    ///
    /// ```
    /// use connector_sdk::ErrorKind;
    /// assert_eq!(ErrorKind::from_http_status(429), Some(ErrorKind::RateLimited));
    /// assert_eq!(ErrorKind::from_http_status(503), Some(ErrorKind::Connect));
    /// assert_eq!(ErrorKind::from_http_status(404), Some(ErrorKind::Rejected));
    /// assert_eq!(ErrorKind::from_http_status(204), None);
    /// ```
    pub fn from_http_status(status: u16) -> Option<Self> {
        Some(match status {
            200..=299 => return None,
            401 | 403 => Self::Auth,
            408 | 504 => Self::Timeout,
            429 => Self::RateLimited,
            500 | 502 | 503 => Self::Connect,
            400..=499 => Self::Rejected,
            _ => Self::Protocol,
        })
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
    retry_after: Option<std::time::Duration>,
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
            retry_after: None,
            source: None,
        }
    }

    /// The remote side asked to slow down (retryable); add how long with
    /// [`Error::after`] when it said.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::RateLimited, message)
    }

    /// An error for an HTTP answer with `status` (see [`ErrorKind::from_http_status`]),
    /// with its `Retry-After` header value when there was one (RFC 9110 §10.2.3: delay
    /// seconds or an HTTP date).
    ///
    /// ```
    /// use connector_sdk::{Error, ErrorKind};
    /// let e = Error::from_http(429, Some("120"), "GET /items: too many requests");
    /// assert_eq!(e.kind(), ErrorKind::RateLimited);
    /// assert!(e.is_retryable());
    /// assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(120)));
    /// assert!(!Error::from_http(404, None, "GET /items/7").is_retryable());
    /// ```
    pub fn from_http(status: u16, retry_after: Option<&str>, message: impl Into<String>) -> Self {
        let kind = ErrorKind::from_http_status(status).unwrap_or(ErrorKind::Protocol);
        let mut e = Self::new(kind, format!("HTTP {status}: {}", message.into()));
        e.retry_after = retry_after.and_then(parse_retry_after);
        e
    }

    /// Sets how long the remote side asked to wait before trying again.
    #[must_use]
    pub fn after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// How long the remote side asked to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after
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
            retry_after_secs: self.retry_after.map(|d| d.as_secs_f64().ceil() as u64),
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
    /// What went wrong: config, auth, connect, timeout, rejected, protocol, internal,
    /// interrupted or rate_limited.
    pub kind: ErrorKind,
    /// What happened, for a person.
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
    /// The JSON pointer of the offending value, for config errors.
    pub path: Option<String>,
    /// For `rate_limited`: how many seconds the remote side asked to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl From<ErrorBody> for Error {
    fn from(body: ErrorBody) -> Self {
        Self {
            kind: body.kind,
            message: body.message,
            retryable: body.retryable,
            path: body.path,
            retry_after: body.retry_after_secs.map(std::time::Duration::from_secs),
            source: None,
        }
    }
}

/// A `Retry-After` header value (RFC 9110 §10.2.3): a number of seconds, or an HTTP
/// date (the wait until then; none once it has passed).
///
/// ```
/// use std::time::Duration;
/// use connector_sdk::retry::parse_retry_after;
/// assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None); // in the past
/// assert_eq!(parse_retry_after("soon"), None);
/// ```
pub fn parse_retry_after(value: &str) -> Option<std::time::Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    when.duration_since(std::time::SystemTime::now()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_http_status_class_maps_to_its_kind() {
        use ErrorKind as K;
        for (status, kind) in [
            (200, None),
            (299, None),
            (401, Some(K::Auth)),
            (403, Some(K::Auth)),
            (408, Some(K::Timeout)),
            (504, Some(K::Timeout)),
            (429, Some(K::RateLimited)),
            (500, Some(K::Connect)),
            (502, Some(K::Connect)),
            (503, Some(K::Connect)),
            (400, Some(K::Rejected)),
            (404, Some(K::Rejected)),
            (499, Some(K::Rejected)),
            (301, Some(K::Protocol)),
            (505, Some(K::Protocol)),
            (100, Some(K::Protocol)),
        ] {
            assert_eq!(ErrorKind::from_http_status(status), kind, "{status}");
        }
        // What `from_http` makes of them: retryable as the kind says.
        assert!(!Error::from_http(401, None, "no").is_retryable());
        assert!(Error::from_http(504, None, "slow").is_retryable());
        assert_eq!(
            Error::from_http(429, Some("7"), "later").retry_after(),
            Some(std::time::Duration::from_secs(7))
        );
    }

    #[test]
    fn debug_shows_every_field_set_and_only_those() {
        let e = Error::config("/port", "out of range").with_source(std::io::Error::other("deeper"));
        assert_eq!(
            format!("{e:?}"),
            r#"Error { kind: Config, message: "out of range", retryable: false, path: "/port", source: "deeper" }"#
        );
        assert_eq!(
            format!("{:?}", Error::timeout("slow")),
            r#"Error { kind: Timeout, message: "slow", retryable: true }"#
        );
    }

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
        // A config error without a path, and another kind with one, get the prefix too.
        assert_eq!(
            Error::new(ErrorKind::Config, "x").under("/3").path(),
            Some("/3")
        );
        assert_eq!(
            Error::rejected("x").at("/to").under("/3").path(),
            Some("/3/to")
        );
    }

    #[test]
    fn a_cause_is_added_once_and_only_when_it_says_something() {
        let io = || std::io::Error::other("connection reset");
        // Already in the message: not repeated.
        let body = Error::connect("imap: connection reset")
            .with_source(io())
            .body();
        assert_eq!(body.message, "imap: connection reset");
        // Empty: nothing added.
        let body = Error::connect("imap")
            .with_source(std::io::Error::other(""))
            .body();
        assert_eq!(body.message, "imap");
    }

    #[test]
    fn kinds_print_as_their_wire_names() {
        for kind in [
            ErrorKind::Config,
            ErrorKind::Auth,
            ErrorKind::RateLimited,
            ErrorKind::Interrupted,
        ] {
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(ErrorKind::RateLimited.to_string(), "rate_limited");
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
