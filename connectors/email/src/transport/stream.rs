//! [`Stream`]: a connection to a mail server, plain or TLS, with a deadline on every
//! read and write and the dialogue traced as it passes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::Proto;
use super::dialogue::Dialogue;
use super::watch::{Scan, Watch};

pub(crate) enum Inner {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// A connection to a mail server: plain or TLS, with a timeout on every read and
/// write and a redacted trace of what passes.
pub(crate) struct Stream {
    pub(crate) inner: Inner,
    pub(crate) proto: Proto,
    pub(crate) peer: SocketAddr,
    pub(crate) io_timeout: Duration,
    /// How long a read may wait, in milliseconds: `io_timeout` unless a session stretches
    /// it for one known long wait (the reply to the end of SMTP DATA). Shared, so the
    /// session can change it while the stream is owned by the protocol client.
    pub(crate) read_wait: Arc<AtomicU64>,
    read_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes served before the socket's own (a synthetic greeting after STARTTLS).
    prefix: Vec<u8>,
    dialogue: Dialogue,
    /// For IMAP: the check of what the server sends (see [`Watch`]).
    scan: Option<Scan>,
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
    pub(crate) fn new(inner: Inner, proto: Proto, io_timeout: Duration, peer: SocketAddr) -> Self {
        Self {
            inner,
            proto,
            peer,
            io_timeout,
            read_wait: Arc::new(AtomicU64::new(
                u64::try_from(io_timeout.as_millis()).unwrap_or(u64::MAX),
            )),
            read_deadline: None,
            write_deadline: None,
            prefix: Vec::new(),
            dialogue: Dialogue::new(proto),
            scan: None,
        }
    }

    /// The handle that sets how long reads may wait (see [`ReadWait`]).
    pub(crate) fn read_wait(&self) -> ReadWait {
        ReadWait {
            millis: Arc::clone(&self.read_wait),
            normal: self.io_timeout,
        }
    }

    /// Whether the stream is encrypted.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    /// Checks everything the server sends from now on against `watch`'s limits, and
    /// keeps its tagged completions there (IMAP).
    pub(crate) fn watched(mut self, watch: Arc<Watch>) -> Self {
        self.scan = Some(Scan::new(watch));
        self
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

impl Stream {
    /// Hands what was read to the scan, if any; what it refuses is not passed on.
    fn check(&mut self, buf: &mut ReadBuf<'_>, before: usize) -> io::Result<()> {
        if let Some(scan) = &mut self.scan
            && let Err(e) = scan.feed(&buf.filled()[before..])
        {
            buf.set_filled(before);
            return Err(e);
        }
        Ok(())
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
        let before = buf.filled().len();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.drain(..n);
            return Poll::Ready(this.check(buf, before));
        }
        let polled = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        match polled {
            Poll::Ready(result) => {
                this.read_deadline = None;
                if result.is_ok() {
                    this.dialogue.server(&buf.filled()[before..]);
                    return Poll::Ready(this.check(buf, before));
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let wait = Duration::from_millis(this.read_wait.load(Ordering::Relaxed));
                if poll_deadline(&mut this.read_deadline, wait, cx) {
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
                    if let Some(scan) = &mut this.scan {
                        scan.client_wrote();
                    }
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

/// Sets how long the stream's reads may wait, for one wait the protocol allows to be
/// long; [`ReadWait::reset`] goes back to the I/O timeout.
#[derive(Debug, Clone)]
pub(crate) struct ReadWait {
    millis: Arc<AtomicU64>,
    normal: Duration,
}

impl ReadWait {
    /// Reads may wait `limit` from now on.
    pub(crate) fn stretch(&self, limit: Duration) {
        self.millis.store(
            u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Reads wait the I/O timeout again.
    pub(crate) fn reset(&self) {
        self.stretch(self.normal);
    }
}
