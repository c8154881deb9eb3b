//! The transport layer, shared by SMTP and IMAP: dialing with a connect timeout, TLS
//! (one rustls configuration for the process), STARTTLS, a deadline on every read and
//! write, the redacted trace of the dialogue, and how transport failures are
//! classified.
//!
//! The lowest layer of the connector above its settings: it knows servers and bytes,
//! not logins or mail.

mod dialogue;
pub(crate) mod error;
mod starttls;
mod steps;
mod stream;
pub(crate) mod tls;
pub(crate) mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connector_sdk::{Error, Result};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig};

pub(crate) use steps::Steps;
use stream::Inner;
pub(crate) use stream::{Outbox, Probe, ReadWait, Stream};

use crate::settings::{Security, Server, Timeouts};

/// Which protocol a stream carries, for logs and redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Smtp,
    Imap,
}

impl Proto {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Smtp => "SMTP",
            Self::Imap => "IMAP",
        }
    }
}

/// A server to dial, checked once: its host is a valid name for TLS.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) proto: Proto,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    name: ServerName<'static>,
}

impl Endpoint {
    /// Checks `server` (at JSON path `at`, such as `/imap`).
    pub(crate) fn new(proto: Proto, server: &Server, at: &str) -> Result<Self> {
        let name = ServerName::try_from(server.host.clone()).map_err(|_| {
            Error::config(
                format!("{at}/host"),
                format!(
                    "expected a host name or IP address, got {:?}",
                    crate::settings::clip(&server.host)
                ),
            )
        })?;
        Ok(Self {
            proto,
            host: server.host.clone(),
            port: server.port.get(),
            security: server.security,
            name,
        })
    }

    /// `SMTP host:port`, for messages.
    pub(crate) fn what(&self) -> String {
        format!("{} {}:{}", self.proto.name(), self.host, self.port)
    }

    /// The name of the step that secures the connection, for check reports.
    pub(crate) fn tls_step(&self) -> &'static str {
        if self.security == Security::Starttls {
            "starttls"
        } else {
            "tls"
        }
    }
}

/// The receive buffer asked for on an IMAP connection. Read Email stops reading the
/// socket while it hands a batch on (a millisecond or so); with the default buffer
/// (128 KiB, a few dozen messages) the server then stops sending too. A larger one lets
/// the server keep sending meanwhile. The kernel caps it (`net.core.rmem_max`); it is
/// memory the kernel uses only as far as it is filled.
const IMAP_RECEIVE_BUFFER: u32 = 4 * 1024 * 1024;

/// Connects to the first address of `host` that answers, as `TcpStream::connect` does,
/// with a larger receive buffer for IMAP (set before connecting, so the window the
/// server is offered can use it).
async fn connect(host: &str, port: u16, proto: Proto) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if proto == Proto::Imap {
            let _ = socket.set_recv_buffer_size(IMAP_RECEIVE_BUFFER);
        }
        match socket.connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the name resolves to no address",
        )
    }))
}

/// How to open connections: TLS configuration and timeouts.
#[derive(Clone)]
pub(crate) struct Net {
    /// Built on first use: a run on plain connections never loads the system's CA
    /// store (about 5 ms).
    tls: Arc<std::sync::OnceLock<Arc<ClientConfig>>>,
    accept_invalid_certs: bool,
    extra: Arc<[CertificateDer<'static>]>,
    pub(crate) timeouts: Timeouts,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl Net {
    /// Keeps what the TLS configuration is built from when first needed: the
    /// system's roots plus `extra` (the parsed `tls.ca_file`), or no verification with
    /// `accept_invalid_certs`.
    pub(crate) fn new(
        accept_invalid_certs: bool,
        extra: &[CertificateDer<'static>],
        timeouts: Timeouts,
    ) -> Result<Self> {
        if accept_invalid_certs {
            tracing::warn!(
                target: "email_connector",
                "tls.accept_invalid_certs is on: server certificates are NOT verified; anyone on the path can read and change the mail"
            );
        }
        Ok(Self {
            tls: Arc::default(),
            accept_invalid_certs,
            extra: extra.into(),
            timeouts,
        })
    }

    /// The rustls configuration, built once.
    fn tls_setup(&self) -> Result<Arc<ClientConfig>> {
        if let Some(config) = self.tls.get() {
            return Ok(Arc::clone(config));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS setup: {e}")))?;
        let config = if self.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(tls::AcceptAny(provider)))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(tls::roots(&self.extra)?)
                .with_no_client_auth()
        };
        Ok(Arc::clone(self.tls.get_or_init(|| Arc::new(config))))
    }

    /// Opens a TCP connection, within the connect timeout.
    pub(crate) async fn tcp(&self, proto: Proto, host: &str, port: u16) -> Result<Stream> {
        let what = format!("{} {host}:{port}", proto.name());
        let tcp = within(
            self.timeouts.connect(),
            &what,
            "connecting",
            connect(host, port, proto),
        )
        .await?
        .map_err(|e| error::connect_error(&what, &e))?;
        let _ = tcp.set_nodelay(true);
        let peer = tcp
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], port)));
        tracing::debug!(target: "email_connector", %peer, "{what}: connected");
        Ok(Stream::new(
            Inner::Plain(tcp),
            proto,
            self.timeouts.io(),
            peer,
        ))
    }

    /// Upgrades a plain stream to TLS, checking the certificate against `name`.
    pub(crate) async fn tls(&self, stream: Stream, name: &ServerName<'static>) -> Result<Stream> {
        let what = format!(
            "{} {}:{}",
            stream.proto.name(),
            name.to_str(),
            stream.peer.port()
        );
        let Inner::Plain(tcp) = stream.inner else {
            return Err(Error::internal(format!("{what}: TLS started twice")));
        };
        let tls = within(
            self.timeouts.connect(),
            &what,
            "the TLS handshake",
            TlsConnector::from(self.tls_setup()?).connect(name.clone(), tcp),
        )
        .await?
        .map_err(|e| tls::tls_error(&what, &e))?;
        tracing::debug!(target: "email_connector", "{what}: TLS established");
        let mut upgraded = Stream::new(
            Inner::Tls(Box::new(tls)),
            stream.proto,
            stream.io_timeout,
            stream.peer,
        );
        upgraded.read_wait = stream.read_wait;
        Ok(upgraded)
    }

    /// The rustls configuration, for other clients that must trust the same
    /// certificates (the OAuth token requests).
    ///
    /// # Errors
    /// When the system's CA store or `tls.ca_file` cannot be used.
    pub(crate) fn tls_config(&self) -> Result<Arc<ClientConfig>> {
        self.tls_setup()
    }

    /// Opens `endpoint` up to an encrypted stream: the `connect` step, then the `tls`
    /// or `starttls` step (`hello` is the SMTP EHLO name). Returns the stream and
    /// whether the greeting was already read (by STARTTLS).
    pub(crate) async fn dial(
        &self,
        endpoint: &Endpoint,
        hello: &str,
        steps: &mut Steps<'_>,
    ) -> Result<(Stream, bool)> {
        let address = format!("{}:{}", endpoint.host, endpoint.port);
        let stream = steps
            .run(
                "connect",
                self.tcp(endpoint.proto, &endpoint.host, endpoint.port),
                |_| address.clone(),
            )
            .await?;
        let established = |_: &Stream| "TLS established".to_owned();
        match endpoint.security {
            Security::None => {
                steps.skip("tls", "security is none: the session is not encrypted");
                Ok((stream, false))
            }
            Security::Tls => {
                let tls = self.tls(stream, &endpoint.name);
                Ok((steps.run("tls", tls, established).await?, false))
            }
            Security::Starttls => {
                let secured = async {
                    let mut stream = stream;
                    let what = endpoint.what();
                    within(
                        self.timeouts.io(),
                        &what,
                        "the STARTTLS negotiation",
                        async {
                            starttls::negotiate(&mut stream, endpoint.proto, &what, hello).await
                        },
                    )
                    .await
                    .map_err(silent_greeting)?
                    .map_err(silent_greeting)?;
                    self.tls(stream, &endpoint.name).await
                };
                Ok((steps.run("starttls", secured, established).await?, true))
            }
        }
    }
}

/// Runs `fut` within `limit`, or fails with a timeout error naming what timed out.
pub(crate) async fn within<T>(
    limit: Duration,
    what: &str,
    doing: &str,
    fut: impl Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(limit, fut).await.map_err(|_| {
        Error::timeout(format!(
            "{what}: {doing} timed out after {} s",
            limit.as_secs()
        ))
    })
}

/// A server that says nothing when a plain connection opens is often a port that
/// waits for TLS first: a timeout waiting for a greeting says so.
pub(crate) fn silent_greeting(e: Error) -> Error {
    if e.kind() != connector_sdk::ErrorKind::Timeout {
        return e;
    }
    let retryable = e.is_retryable();
    Error::timeout(crate::hints::with(
        e.message().to_owned(),
        crate::hints::TLS_PORT,
    ))
    .retryable(retryable)
}
