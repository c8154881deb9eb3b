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
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::error::ErrorKind;

    /// An HTTP server on loopback that answers each connection with the next of
    /// `answers` (a status line and headers; `Connection: close` is added) and keeps
    /// each request as text (head and body). `None` takes the connection and never
    /// answers.
    fn serve(answers: Vec<Option<String>>) -> (Url, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base: Url = format!("http://{}/v1/", listener.local_addr().expect("addr"))
            .parse()
            .expect("url");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 65536];
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    let complete = text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(str::to_owned)
                            })
                            .and_then(|n| n.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        body.len() >= length
                    });
                    if n == 0 || complete {
                        log.lock().expect("log").push(text);
                        break;
                    }
                }
                match answer {
                    Some(answer) => {
                        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
                        let _ = write!(stream, "{head}\r\nConnection: close\r\n\r\n{body}");
                    }
                    None => std::thread::sleep(Duration::from_secs(5)),
                }
            }
        });
        (base, seen)
    }

    fn ok(body: &str) -> Option<String> {
        Some(format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    fn status(line: &str, headers: &str, body: &str) -> Option<String> {
        Some(format!(
            "HTTP/1.1 {line}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    fn quick(base: &Url) -> ClientBuilder {
        Client::builder(base).retry(Backoff::new(Duration::from_millis(5)).attempts(3))
    }

    #[tokio::test]
    async fn answers_are_read_up_to_the_limit_and_no_further() {
        let big = format!("\"{}\"", "x".repeat(2 << 20));
        let (base, _) = serve(vec![
            // Content-Length over the limit: refused before reading.
            ok("[1,2,3,456]"),
            // No Content-Length, chunks adding up to more: refused while reading.
            Some("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n[1,2,3\r\n5\r\n,456]\r\n0\r\n\r\n".into()),
            // Exactly the limit: read.
            ok("[1,2,3,45]"),
            // The default limit is 16 MiB: 2 MiB is read.
            ok(&big),
        ]);
        let client = quick(&base).max_body_bytes(10).build().expect("client");
        for _ in 0..2 {
            let e = client
                .get::<Value>("items", &[])
                .await
                .expect_err("too large");
            assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
            assert!(e.message().contains("larger than 10 bytes"), "{e}");
            assert!(!e.is_retryable());
        }
        let v: Vec<u32> = client.get("items", &[]).await.expect("10 bytes");
        assert_eq!(v, [1, 2, 3, 45]);
        let client = Client::builder(&base).build().expect("client");
        let v: String = client.get("big", &[]).await.expect("2 MiB");
        assert_eq!(v.len(), 2 << 20);
    }

    #[tokio::test]
    async fn statuses_are_classified_with_the_servers_words_made_printable() {
        let (base, _) = serve(vec![
            status("401 Unauthorized", "", "who?"),
            status("429 Too Many Requests", "Retry-After: 7\r\n", ""),
            status("503 Service Unavailable", "", ""),
            status("404 Not Found", "", " no such\u{7}thing\n"),
            ok("not json"),
            ok(""),
        ]);
        let client = Client::builder(&base)
            .build()
            .expect("client")
            .without_retries();
        let e = client.get::<Value>("a", &[]).await.expect_err("401");
        assert_eq!(
            (e.kind(), e.is_retryable()),
            (ErrorKind::Auth, false),
            "{e}"
        );
        let e = client.get::<Value>("a", &[]).await.expect_err("429");
        assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let e = client.get::<Value>("a", &[]).await.expect_err("503");
        assert_eq!(
            (e.kind(), e.is_retryable()),
            (ErrorKind::Connect, true),
            "{e}"
        );
        let e = client.get::<Value>("/things", &[]).await.expect_err("404");
        assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
        assert_eq!(e.message(), "HTTP 404: GET /things: no such thing");
        let e = client.get::<Value>("a", &[]).await.expect_err("not JSON");
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert!(
            e.message().starts_with("GET a: the answer is not JSON"),
            "{e}"
        );
        // An empty answer is JSON's null.
        assert_eq!(
            client.get::<Value>("a", &[]).await.expect("empty"),
            Value::Null
        );
    }

    #[tokio::test]
    async fn a_get_is_retried_and_a_post_only_when_the_server_did_not_act_on_it() {
        let (base, seen) = serve(vec![
            status("503 Service Unavailable", "", ""),
            ok("1"),
            // A POST answered 503 may have been acted on: not sent again.
            status("503 Service Unavailable", "", ""),
            // A POST answered 429 was not: sent again.
            status("429 Too Many Requests", "Retry-After: 0\r\n", ""),
            ok("2"),
        ]);
        let client = quick(&base).build().expect("client");
        assert_eq!(client.get::<u32>("a", &[]).await.expect("retried"), 1);
        let e = client.post::<_, u32>("a", &1).await.expect_err("503");
        assert!(!e.is_retryable(), "the outcome is unknown: {e}");
        assert_eq!(client.post::<_, u32>("a", &1).await.expect("after 429"), 2);
        assert_eq!(seen.lock().expect("log").len(), 5);
        // Once means once.
        let (base, seen) = serve(vec![status("503 Service Unavailable", "", ""), ok("1")]);
        let client = quick(&base).build().expect("client").without_retries();
        assert!(client.get::<u32>("a", &[]).await.is_err());
        assert_eq!(seen.lock().expect("log").len(), 1);
    }

    #[tokio::test]
    async fn requests_carry_the_token_agent_query_and_body_under_the_base() {
        let (base, seen) = serve(vec![ok("{}"), ok("{}")]);
        let client = quick(&base)
            .bearer(Secret::new("tok-123"))
            .user_agent("agent/1")
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let debug = format!("{client:?}");
        assert!(
            debug.contains("/v1") && !debug.contains("tok-123"),
            "{debug}"
        );
        let _: Value = client.get("/items", &[("limit", "5")]).await.expect("get");
        let _: Value = client
            .post("items", &serde_json::json!({"name": "a"}))
            .await
            .expect("post");
        let seen = seen.lock().expect("log").clone();
        let get = seen[0].to_ascii_lowercase();
        assert!(
            get.starts_with("get /v1/items?limit=5 http/1.1\r\n"),
            "{get}"
        );
        assert!(get.contains("authorization: bearer tok-123\r\n"), "{get}");
        assert!(get.contains("user-agent: agent/1\r\n"), "{get}");
        let post = seen[1].to_ascii_lowercase();
        assert!(post.starts_with("post /v1/items http/1.1\r\n"), "{post}");
        assert!(
            post.contains("content-type: application/json\r\n"),
            "{post}"
        );
        assert!(post.ends_with("\r\n\r\n{\"name\":\"a\"}"), "{post}");
    }

    #[tokio::test]
    async fn failures_to_reach_the_server_name_the_path_never_the_query() {
        let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base: Url = format!("http://{}", closed.local_addr().expect("addr"))
            .parse()
            .expect("url");
        drop(closed);
        let client = quick(&base).build().expect("client");
        let e = client
            .get::<Value>("items", &[("key", "hidden-value")])
            .await
            .expect_err("refused");
        assert_eq!(
            (e.kind(), e.is_retryable()),
            (ErrorKind::Connect, true),
            "{e}"
        );
        assert!(
            e.message().starts_with("GET items: cannot connect: "),
            "{e}"
        );
        assert!(!e.message().contains("hidden-value"), "{e}");
        // The deepest cause, the system's words, not reqwest's wrapping.
        assert!(e.message().to_lowercase().contains("refused"), "{e}");
        // Refused at once, so nothing was sent: a POST stays retryable too.
        let e = client
            .post::<_, Value>("items", &1)
            .await
            .expect_err("refused");
        assert_eq!(
            (e.kind(), e.is_retryable()),
            (ErrorKind::Connect, true),
            "{e}"
        );
        // Taken but never answered: a timeout, after the one attempt asked for.
        let (base, seen) = serve(vec![None]);
        let client = quick(&base)
            .timeout(Duration::from_millis(300))
            .build()
            .expect("client")
            .without_retries();
        let e = client.get::<Value>("slow", &[]).await.expect_err("timeout");
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::Timeout, "GET slow: no answer in time")
        );
        assert_eq!(seen.lock().expect("log").len(), 1);
    }

    #[tokio::test]
    async fn pages_follow_the_cursor_until_it_ends_or_repeats() {
        let (base, seen) = serve(vec![
            ok(r#"{"items":[1],"next":"c2"}"#),
            ok(r#"{"items":[2],"next":7}"#),
            ok(r#"{"items":[3],"next":"7"}"#),
        ]);
        let client = quick(&base).build().expect("client");
        let mut pages = client
            .pages("items")
            .query("limit", 100)
            .cursor("after", "/next")
            .start_at(Some("c1".into()));
        assert_eq!(pages.position(), Some("c1"));
        let mut items = Vec::new();
        while let Some(page) = pages.next::<Value>().await.expect("page") {
            items.push(page["items"][0].as_u64().expect("item"));
        }
        assert_eq!(items, [1, 2, 3]);
        // The same cursor again ended it: it is where the next run starts.
        assert_eq!(pages.position(), Some("7"));
        assert!(pages.next::<Value>().await.expect("done").is_none());
        let seen = seen.lock().expect("log").clone();
        let lines: Vec<&str> = seen.iter().filter_map(|r| r.lines().next()).collect();
        assert_eq!(
            lines,
            [
                "GET /v1/items?limit=100&after=c1 HTTP/1.1",
                "GET /v1/items?limit=100&after=c2 HTTP/1.1",
                "GET /v1/items?limit=100&after=7 HTTP/1.1",
            ]
        );
        // An empty or null cursor ends it; without a cursor there is one page.
        for last in [r#"{"next":""}"#, r#"{"next":null}"#, r#"{"other":1}"#] {
            let (base, _) = serve(vec![ok(last), ok("{}")]);
            let client = quick(&base).build().expect("client");
            let mut pages = client.pages("items").cursor("after", "/next");
            assert!(pages.next::<Value>().await.expect("one").is_some());
            assert!(
                pages.next::<Value>().await.expect("end").is_none(),
                "{last}"
            );
            assert_eq!(pages.position(), None);
        }
        // Without a cursor, not even an answer that is itself a string is taken for one.
        let (base, _) = serve(vec![ok(r#""c2""#), ok("{}")]);
        let client = quick(&base).build().expect("client");
        let mut pages = client.pages("items");
        assert!(pages.next::<Value>().await.expect("one").is_some());
        assert!(pages.next::<Value>().await.expect("end").is_none());
    }
}
