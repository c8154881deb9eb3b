//! TCP and TLS for both protocols: one rustls configuration, connect and handshake
//! timeouts, a timeout on every read and write, and a trace of the dialogue with
//! credentials redacted.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use connector_sdk::{Error, Result};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::settings::{Timeouts, TlsSettings};

/// Which protocol a stream carries, for logs and redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Smtp,
    Imap,
    /// A token endpoint: never traced (the bytes hold secrets and tokens).
    Http,
}

impl Proto {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Smtp => "SMTP",
            Self::Imap => "IMAP",
            Self::Http => "token endpoint",
        }
    }
}

/// How to open connections: TLS configuration and timeouts.
#[derive(Clone)]
pub(crate) struct Net {
    tls: Arc<ClientConfig>,
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
    /// Builds the TLS configuration: the system's roots plus `ca_file`.
    pub(crate) fn new(tls: &TlsSettings, timeouts: Timeouts) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS setup: {e}")))?;
        let config = if tls.accept_invalid_certs {
            tracing::warn!(
                target: "email_connector",
                "tls.accept_invalid_certs is on: server certificates are NOT verified; anyone on the path can read and change the mail"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(roots(tls)?)
                .with_no_client_auth()
        };
        Ok(Self {
            tls: Arc::new(config),
            timeouts,
        })
    }

    /// Opens a TCP connection, within the connect timeout.
    pub(crate) async fn tcp(&self, proto: Proto, host: &str, port: u16) -> Result<Stream> {
        let what = format!("{} {host}:{port}", proto.name());
        let tcp = within(
            self.timeouts.connect(),
            &what,
            "connecting",
            TcpStream::connect((host, port)),
        )
        .await?
        .map_err(|e| connect_error(&what, &e))?;
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

    /// Upgrades a plain stream to TLS, checking the certificate against `host`.
    pub(crate) async fn tls(&self, stream: Stream, host: &str) -> Result<Stream> {
        let what = format!("{} {host}:{}", stream.proto.name(), stream.peer.port());
        let Inner::Plain(tcp) = stream.inner else {
            return Err(Error::internal(format!("{what}: TLS started twice")));
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| Error::config("", format!("`{host}` is not a valid host name for TLS")))?;
        let tls = within(
            self.timeouts.connect(),
            &what,
            "the TLS handshake",
            TlsConnector::from(Arc::clone(&self.tls)).connect(name, tcp),
        )
        .await?
        .map_err(|e| tls_error(&what, &e))?;
        tracing::debug!(target: "email_connector", "{what}: TLS established");
        Ok(Stream::new(
            Inner::Tls(Box::new(tls)),
            stream.proto,
            stream.io_timeout,
            stream.peer,
        ))
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

fn roots(tls: &TlsSettings) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(target: "email_connector", added, "system CA certificates loaded");
    for cert in extra_roots(tls)? {
        let path = tls.ca_file.as_deref().unwrap_or(std::path::Path::new(""));
        roots
            .add(cert)
            .map_err(|e| Error::config("/tls/ca_file", format!("{}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// The certificates of `tls.ca_file`, if given: read and parsed, so `validate` can refuse
/// a bad file without loading the system's store.
pub(crate) fn extra_roots(
    tls: &TlsSettings,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let Some(path) = &tls.ca_file else {
        return Ok(Vec::new());
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect())
        .map_err(|e| {
            Error::config(
                "/tls/ca_file",
                format!("cannot read CA certificates from {}: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::config(
            "/tls/ca_file",
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(certs)
}

/// Classifies a failed TCP connect.
fn connect_error(what: &str, e: &io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut => Error::timeout(format!("{what}: {e}")),
        _ => Error::connect(format!("{what}: {e}")),
    }
}

/// Classifies a failed TLS handshake: certificate problems are not retryable.
fn tls_error(what: &str, e: &io::Error) -> Error {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(reason)) => Error::connect(format!(
            "{what}: the server's certificate is not trusted ({reason:?}); set tls.ca_file to the CA that signed it"
        ))
        .retryable(false),
        Some(other) => Error::connect(format!("{what}: TLS handshake failed: {other}")).retryable(false),
        None => connect_error(what, e),
    }
}

/// A certificate verifier that accepts anything (`accept_invalid_certs`), but still
/// checks handshake signatures.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// A connection to a mail server: plain or TLS, with a timeout on every read and
/// write and a redacted trace of what passes.
pub(crate) struct Stream {
    inner: Inner,
    proto: Proto,
    peer: SocketAddr,
    io_timeout: Duration,
    read_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes served before the socket's own (a synthetic greeting after STARTTLS).
    prefix: Vec<u8>,
    dialogue: Dialogue,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("proto", &self.proto)
            .field("peer", &self.peer)
            .field("tls", &self.is_tls())
            .finish_non_exhaustive()
    }
}

impl Stream {
    fn new(inner: Inner, proto: Proto, io_timeout: Duration, peer: SocketAddr) -> Self {
        Self {
            inner,
            proto,
            peer,
            io_timeout,
            read_deadline: None,
            write_deadline: None,
            prefix: Vec::new(),
            dialogue: Dialogue::new(proto),
        }
    }

    /// Whether the stream is encrypted.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    /// Serves `bytes` to the next reads before the socket's own data.
    pub(crate) fn with_prefix(mut self, bytes: &[u8]) -> Self {
        self.prefix = bytes.to_vec();
        self
    }

    fn timed_out(&self, doing: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{} {}: no answer while {doing} for {} s",
                self.proto.name(),
                self.peer,
                self.io_timeout.as_secs()
            ),
        )
    }
}

/// Polls a deadline that starts when an operation first has to wait.
fn poll_deadline(
    slot: &mut Option<Pin<Box<Sleep>>>,
    limit: Duration,
    cx: &mut Context<'_>,
) -> bool {
    let sleep = slot.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    sleep.as_mut().poll(cx).is_ready()
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.drain(..n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        match polled {
            Poll::Ready(result) => {
                this.read_deadline = None;
                if result.is_ok() {
                    this.dialogue.server(&buf.filled()[before..]);
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                if poll_deadline(&mut this.read_deadline, this.io_timeout, cx) {
                    this.read_deadline = None;
                    return Poll::Ready(Err(this.timed_out("reading")));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, data),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        };
        match polled {
            Poll::Ready(result) => {
                this.write_deadline = None;
                if let Ok(n) = &result {
                    this.dialogue.client(&data[..*n]);
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                if poll_deadline(&mut this.write_deadline, this.io_timeout, cx) {
                    this.write_deadline = None;
                    return Poll::Ready(Err(this.timed_out("writing")));
                }
                Poll::Pending
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        if polled.is_pending() && poll_deadline(&mut this.write_deadline, this.io_timeout, cx) {
            this.write_deadline = None;
            return Poll::Ready(Err(this.timed_out("flushing")));
        }
        if polled.is_ready() {
            this.write_deadline = None;
        }
        polled
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl lettre::transport::smtp::client::AsyncTokioStream for Stream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

/// The trace of a conversation, with credentials replaced by `***`.
struct Dialogue {
    proto: Proto,
    /// Inside an AUTH exchange: client lines are credentials.
    redacting: bool,
    /// Client bytes not yet ending in CRLF.
    pending: Vec<u8>,
}

const SHOWN: usize = 200;

impl Dialogue {
    fn new(proto: Proto) -> Self {
        Self {
            proto,
            redacting: false,
            pending: Vec::new(),
        }
    }

    fn enabled(&self) -> bool {
        match self.proto {
            Proto::Smtp => {
                tracing::enabled!(target: "email_connector::smtp", tracing::Level::TRACE)
            }
            Proto::Imap => {
                tracing::enabled!(target: "email_connector::imap", tracing::Level::TRACE)
            }
            Proto::Http => false,
        }
    }

    fn emit(&self, direction: &str, line: &str) {
        match self.proto {
            Proto::Smtp => tracing::trace!(target: "email_connector::smtp", "{direction} {line}"),
            Proto::Imap => tracing::trace!(target: "email_connector::imap", "{direction} {line}"),
            Proto::Http => {}
        }
    }

    /// What the client sent. Writes are reassembled into lines first: a command may
    /// arrive in pieces (async-imap writes the tag and the command separately).
    fn client(&mut self, data: &[u8]) {
        if !self.enabled() {
            return;
        }
        self.pending.extend_from_slice(data);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.pending.drain(..end + 2).collect();
            lines.push(String::from_utf8_lossy(&line[..end]).into_owned());
        }
        if self.pending.len() > 65_536 {
            self.pending.clear();
        }
        let Some(first) = lines.first() else { return };
        let shown = self.redact(first);
        for line in &lines[1..] {
            self.redact(line);
        }
        let more = lines.len() - 1;
        let tail = if more > 0 {
            format!(" (+{more} lines)")
        } else {
            String::new()
        };
        self.emit("C:", &format!("{}{tail}", clip(&shown)));
    }

    /// What the server sent.
    fn server(&mut self, data: &[u8]) {
        if !self.enabled() && !self.redacting {
            return;
        }
        let text = String::from_utf8_lossy(data);
        let last = text
            .trim_end_matches("\r\n")
            .rsplit("\r\n")
            .next()
            .unwrap_or("");
        // A final reply (not a continuation) ends an AUTH exchange.
        let continuation = match self.proto {
            Proto::Smtp => last.starts_with("334"),
            Proto::Imap => last.starts_with('+'),
            Proto::Http => false,
        };
        if self.redacting && !continuation && !last.is_empty() {
            self.redacting = false;
        }
        if self.enabled() {
            let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
            if let Some(first) = lines.next() {
                let more = lines.count();
                let tail = if more > 0 {
                    format!(" (+{more} lines, {} bytes)", data.len())
                } else {
                    String::new()
                };
                self.emit("S:", &format!("{}{tail}", clip(first)));
            }
        }
    }

    /// The line as it may be logged; starts redacting at an AUTH command.
    fn redact(&mut self, line: &str) -> String {
        if self.redacting {
            return "***".to_owned();
        }
        let words: Vec<&str> = line.split(' ').collect();
        let upper = |i: usize| words.get(i).map(|w| w.to_ascii_uppercase());
        match self.proto {
            Proto::Smtp if upper(0).as_deref() == Some("AUTH") => {
                self.redacting = true;
                format!("AUTH {} ***", words.get(1).unwrap_or(&""))
            }
            Proto::Imap if upper(1).as_deref() == Some("LOGIN") => {
                format!("{} LOGIN {} ***", words[0], words.get(2).unwrap_or(&""))
            }
            Proto::Imap if upper(1).as_deref() == Some("AUTHENTICATE") => {
                self.redacting = true;
                format!(
                    "{} AUTHENTICATE {} ***",
                    words[0],
                    words.get(2).unwrap_or(&"")
                )
            }
            _ => line.to_owned(),
        }
    }
}

fn clip(line: &str) -> String {
    if line.chars().count() <= SHOWN {
        return line.to_owned();
    }
    line.chars().take(SHOWN).collect::<String>() + "…"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_in_both_protocols() {
        let mut smtp = Dialogue::new(Proto::Smtp);
        assert_eq!(
            smtp.redact("AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
            "AUTH PLAIN ***"
        );
        assert!(smtp.redacting);
        assert_eq!(smtp.redact("c2VjcmV0"), "***");
        smtp.server(b"235 2.7.0 Authentication successful\r\n");
        assert!(!smtp.redacting);
        assert_eq!(smtp.redact("MAIL FROM:<a@b>"), "MAIL FROM:<a@b>");

        let mut imap = Dialogue::new(Proto::Imap);
        assert_eq!(
            imap.redact("a1 LOGIN \"alice\" \"hunter2\""),
            "a1 LOGIN \"alice\" ***"
        );
        assert_eq!(
            imap.redact("a2 AUTHENTICATE XOAUTH2 dXNlcj1h"),
            "a2 AUTHENTICATE XOAUTH2 ***"
        );
        imap.server(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
        assert!(imap.redacting, "a continuation keeps the exchange open");
        assert_eq!(imap.redact(""), "***");
        imap.server(b"a2 NO [AUTHENTICATIONFAILED] failed\r\n");
        assert!(!imap.redacting);
    }
}
