//! The token endpoint's HTTP client: `reqwest` with the connector's rustls
//! configuration and timeouts, as the `oauth2` crate's async HTTP client. Answers are
//! capped in size and never traced (they hold tokens); an answer that is not an OAuth
//! one is classified here.

use std::future::Future;
use std::pin::Pin;

use connector_sdk::{Error, Result};
use oauth2::{HttpRequest, HttpResponse};

use super::TARGET;
use crate::transport::Net;

/// The most a token response may hold.
const MAX_RESPONSE: usize = 1 << 20;

/// An HTTP client for one token endpoint.
pub(super) struct Client {
    inner: reqwest::Client,
    /// The JSON path of the auth settings, for config errors (`/imap/auth`).
    at: String,
}

impl Client {
    /// A client that trusts what the mail connections trust and waits as long.
    pub(super) fn new(net: &Net, at: &str) -> Result<Self> {
        let timeouts = &net.timeouts;
        let inner = reqwest::Client::builder()
            .use_preconfigured_tls((*net.tls_config()?).clone())
            .connect_timeout(timeouts.connect())
            .read_timeout(timeouts.io())
            .timeout(timeouts.connect() + timeouts.io())
            // A token endpoint answers; a redirect would resend the secret elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("email-connector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            inner,
            at: at.to_owned(),
        })
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let url = request.uri().clone();
        let what = format!(
            "token endpoint {}:{}",
            url.host().unwrap_or("?"),
            url.port_u16()
                .unwrap_or(if url.scheme_str() == Some("https") {
                    443
                } else {
                    80
                })
        );
        let request = reqwest::Request::try_from(request)
            .map_err(|e| Error::internal(format!("{what}: cannot build the request: {e}")))?;
        let mut response = self
            .inner
            .execute(request)
            .await
            .map_err(|e| transport_error(&what, &e))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(&what, &e))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE {
                return Err(Error::protocol(format!(
                    "{what}: the answer is larger than {MAX_RESPONSE} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let json = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
        tracing::debug!(target: TARGET, status = status.as_u16(), bytes = body.len(), "{what}: answered");
        if !status.is_success() && !json {
            // An OAuth error is JSON; anything else is the server (or a proxy) failing.
            let message = format!("{what}: HTTP {status}: {}", snippet(&body));
            return Err(match status.as_u16() {
                429 | 500..=599 => Error::connect(message).retryable(true),
                401 | 403 => Error::auth(message),
                404 | 405 => Error::config(
                    format!("{}/token_url", self.at),
                    format!("{message}: is this the token endpoint?"),
                ),
                _ => Error::protocol(message),
            });
        }
        let mut builder = oauth2::http::Response::builder().status(status.as_u16());
        for (name, value) in response.headers() {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
        builder
            .body(body)
            .map_err(|e| Error::protocol(format!("{what}: {e}")))
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Client {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// Classifies a failed request: an untrusted certificate is not worth retrying, a
/// silent endpoint is a timeout, anything else a (retryable) connection failure.
fn transport_error(what: &str, e: &reqwest::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|i| i.is::<tokio_rustls::rustls::Error>())
        {
            return crate::transport::tls::tls_error(what, io);
        }
        if let Some(tls) = s.downcast_ref::<tokio_rustls::rustls::Error>() {
            return crate::transport::tls::tls_error(
                what,
                &std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone()),
            );
        }
        source = s.source();
    }
    if e.is_timeout() {
        return Error::timeout(format!("{what}: no answer in time"));
    }
    // reqwest's own message names the URL, which may carry credentials in its query:
    // say what failed underneath instead.
    let mut cause = String::from("the request failed");
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    Error::connect(format!("{what}: {cause}"))
}

pub(super) fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "malformed",
        serde_json::error::Category::Data => "a missing field or a value of the wrong type",
        serde_json::error::Category::Eof => "cut off",
    }
}

/// The start of a body that is not JSON, printable and short (an HTML error page from
/// a proxy says what went wrong in its first words).
pub(super) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(80)
        .collect();
    if flat.trim().is_empty() {
        format!("{} bytes", body.len())
    } else {
        format!("{:?}", flat.trim())
    }
}
