//! An HTTP client for REST connectors (feature `http`): what Airbyte's `HttpStream` and
//! Singer's `RESTStream` give their authors, on `reqwest` with rustls (no OpenSSL, no C
//! toolchain beyond Debian's default).
//!
//! - timeouts (connect and whole request), a user agent, a bearer token that never
//!   prints, JSON in and out, answers read no further than a limit;
//! - every answer classified by the SDK's error model: `401`/`403` are `auth`, `429`
//!   is `rate_limited` with its `Retry-After`, `5xx` are `connect` (retryable), other
//!   `4xx` are `rejected` with the server's words, short and printable;
//! - retries with [`crate::retry::Backoff`]: a `GET` is retried on any
//!   retryable error; a `POST` only when the server surely did not act on it (`429`, or
//!   no connection), so nothing is created twice;
//! - a trace at `debug` of each request (method, path, query keys, status, time),
//!   never its headers, query values or body;
//! - [`Pages`]: cursor pagination in a loop.
//!
//! ```no_run
//! # async fn demo() -> connector_sdk::Result<()> {
//! use connector_sdk::http::Client;
//! use connector_sdk::{Secret, types::Url};
//!
//! #[derive(serde::Deserialize)]
//! struct Page { items: Vec<serde_json::Value>, next: Option<u64> }
//!
//! let base: Url = "https://api.example.com/v1".parse().unwrap();
//! let client = Client::builder(&base).bearer(Secret::new("token")).build()?;
//! let mut pages = client.pages("/items").query("limit", "100").cursor("after", "/next");
//! while let Some(page) = pages.next::<Page>().await? {
//!     println!("{} items", page.items.len());
//! }
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::retry::Backoff;
use crate::secret::Secret;
use crate::types::Url;

const TARGET: &str = "connector_sdk::http";

/// A client for one API: its base URL, token, timeouts and retry policy.
#[derive(Clone)]
pub struct Client {
    inner: reqwest::Client,
    base: String,
    token: Option<Secret>,
    retry: Backoff,
    max_body: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| crate::REDACTED))
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Client`], with defaults: 30 s per request, 10 s to connect, 4
/// attempts from 500 ms, answers up to 16 MiB.
#[derive(Debug)]
pub struct ClientBuilder {
    base: String,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    token: Option<Secret>,
    retry: Backoff,
    max_body: usize,
}

impl ClientBuilder {
    /// How long one request may take in all (connect, send, answer).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long connecting may take.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header (default: `connector-sdk/<version>`).
    #[must_use]
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    #[must_use]
    pub fn bearer(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// The retry policy for retryable failures.
    #[must_use]
    pub fn retry(mut self, policy: Backoff) -> Self {
        self.retry = policy;
        self
    }

    /// The largest answer read, in bytes; a larger one is a `protocol` error.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The client.
    ///
    /// # Errors
    /// `internal` when the TLS set-up fails (no usable certificate store).
    pub fn build(self) -> Result<Client> {
        let inner = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            inner,
            base: self.base,
            token: self.token,
            retry: self.retry,
            max_body: self.max_body,
        })
    }
}

impl Client {
    /// Starts a client for the API at `base` (paths are appended to it).
    pub fn builder(base: &Url) -> ClientBuilder {
        ClientBuilder {
            base: base.as_str().trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: format!("connector-sdk/{}", env!("CARGO_PKG_VERSION")),
            token: None,
            retry: Backoff::new(Duration::from_millis(500)).attempts(4),
            max_body: 16 * 1024 * 1024,
        }
    }

    /// `GET base + path ? query`, the answer read as JSON into `T`; retried on every
    /// retryable failure.
    ///
    /// # Errors
    /// The last failure, classified (see the module documentation).
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        let value = self
            .retry
            .retry(|| async {
                self.once(reqwest::Method::GET, path, query, None)
                    .await
                    .map_err(Error::from)
            })
            .await?;
        decode(value)
    }

    /// `POST base + path` with `body` as JSON, the answer read as JSON into `T`. Retried
    /// only when the server surely did not act on it: `429` (rate limited) or no
    /// connection at all.
    ///
    /// # Errors
    /// The last failure, classified.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::internal(format!("cannot serialize the request: {e}")))?;
        let value = self
            .retry
            .retry(|| async {
                self.once(reqwest::Method::POST, path, &[], Some(body.clone()))
                    .await
                    .map_err(|e| match e {
                        Sent::Unsure(e) => e.retryable(false),
                        Sent::NotActedOn(e) => e,
                    })
            })
            .await?;
        decode(value)
    }

    /// The same client, trying each request once (for a `check`, which reports what
    /// happens now).
    #[must_use]
    pub fn without_retries(&self) -> Self {
        Self {
            retry: self.retry.attempts(1),
            ..self.clone()
        }
    }

    /// Cursor pagination over `GET path` (see [`Pages`]).
    pub fn pages(&self, path: &str) -> Pages<'_> {
        Pages {
            client: self,
            path: path.to_owned(),
            query: Vec::new(),
            param: None,
            pointer: String::new(),
            cursor: None,
            done: false,
        }
    }

    /// One request; the error says whether the server may have acted on it.
    async fn once(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Value, Sent> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut request = self.inner.request(method.clone(), &url).query(query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let keys: Vec<&str> = query.iter().map(|(k, _)| *k).collect();
        let started = Instant::now();
        let response = request.send().await.map_err(|e| {
            let error = transport_error(&method, path, &e);
            if e.is_connect() {
                Sent::NotActedOn(error)
            } else {
                Sent::Unsure(error)
            }
        })?;
        let status = response.status().as_u16();
        tracing::debug!(target: TARGET, %method, path, query = ?keys, status, ms = started.elapsed().as_millis() as u64, "request");
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_body(response, self.max_body)
            .await
            .map_err(|e| Sent::Unsure(e.retryable(false)))?;
        if !(200..300).contains(&status) {
            let said = printable(&bytes, 200);
            let error = Error::from_http(
                status,
                retry_after.as_deref(),
                format!("{method} {path}: {said}"),
            );
            return Err(if status == 429 {
                Sent::NotActedOn(error)
            } else {
                Sent::Unsure(error)
            });
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Sent::Unsure(Error::protocol(format!(
                "{method} {path}: the answer is not JSON: {e}"
            )))
        })
    }
}

/// A failed request, and whether the server may have acted on it.
enum Sent {
    NotActedOn(Error),
    Unsure(Error),
}

impl From<Sent> for Error {
    fn from(s: Sent) -> Self {
        match s {
            Sent::NotActedOn(e) | Sent::Unsure(e) => e,
        }
    }
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| Error::protocol(format!("the answer is not of the expected form: {e}")))
}

/// Reads the body, refusing more than `max` bytes (whatever `Content-Length` says).
async fn read_body(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(Error::protocol(format!(
            "the answer is larger than {max} bytes"
        )));
    }
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::connect(format!("reading the answer: {e}")))?
    {
        if out.len() + chunk.len() > max {
            return Err(Error::protocol(format!(
                "the answer is larger than {max} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn transport_error(method: &reqwest::Method, path: &str, e: &reqwest::Error) -> Error {
    // reqwest's message names the URL, whose query may hold a key: say the path only.
    let what = format!("{method} {path}");
    if e.is_timeout() {
        Error::timeout(format!("{what}: no answer in time"))
    } else if e.is_connect() {
        Error::connect(format!("{what}: cannot connect: {}", root_cause(e)))
    } else {
        Error::connect(format!("{what}: {}", root_cause(e)))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn printable(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Cursor pagination: each page's next cursor is read at a JSON pointer of its answer
/// and sent as a query parameter of the next request, until it is absent, `null` or
/// the same again. [`Pages::position`] is the cursor to keep as state.
#[derive(Debug)]
pub struct Pages<'a> {
    client: &'a Client,
    path: String,
    query: Vec<(String, String)>,
    param: Option<String>,
    pointer: String,
    cursor: Option<String>,
    done: bool,
}

impl Pages<'_> {
    /// A query parameter sent with every page.
    #[must_use]
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    /// The next page's cursor is at `pointer` (`/next`) in each answer and goes in
    /// query parameter `param` (`after`). Without it there is one page.
    #[must_use]
    pub fn cursor(mut self, param: &str, pointer: &str) -> Self {
        self.param = Some(param.to_owned());
        self.pointer = pointer.to_owned();
        self
    }

    /// Starts after a cursor kept from an earlier run.
    #[must_use]
    pub fn start_at(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    /// The cursor of the page after the last one read (what to keep as state).
    pub fn position(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The next page, or `None` after the last.
    ///
    /// # Errors
    /// The request's failure, after the client's retries.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        if self.done {
            return Ok(None);
        }
        let mut query: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let (Some(param), Some(cursor)) = (&self.param, &self.cursor) {
            query.push((param, cursor));
        }
        let client = self.client;
        let path = self.path.clone();
        let value = client
            .retry
            .retry(|| async {
                client
                    .once(reqwest::Method::GET, &path, &query, None)
                    .await
                    .map_err(Error::from)
            })
            .await?;
        let next = match value.pointer(&self.pointer) {
            _ if self.param.is_none() => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match next {
            Some(next) if Some(&next) != self.cursor.as_ref() => self.cursor = Some(next),
            _ => self.done = true,
        }
        decode(value).map(Some)
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
