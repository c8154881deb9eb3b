//! [`Stream`]: a connection to a mail server, plain or TLS, with a deadline on every
//! read and write and the dialogue traced as it passes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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
    /// For IMAP: bytes read from the socket ahead of the client (see [`READ_AHEAD`]):
    /// where the next one is, how many there are, the buffer.
    ahead: (usize, usize, Box<[u8]>),
    dialogue: Dialogue,
    /// For IMAP: the check of what the server sends (see [`Watch`]).
    scan: Option<Scan>,
    /// For SMTP: what the client wrote, sent when it next waits for a reply (see
    /// [`Outbox`]).
    outbox: Option<Outbox>,
}

/// Writes held back until the client next reads, so that what it says between two
/// replies goes out in one write (one TCP segment, one TLS record): an SMTP client
/// writes and flushes each command and, separately, the message data and its final
/// `.`. Shared, so an SMTP session can queue pipelined commands (RFC 2920) that the
/// protocol client then reads the replies to. A write of [`Outbox::DIRECT`] bytes or
/// more (a large message) goes straight out, after what was held.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outbox(Arc<Mutex<Held>>);

/// Tells whether an idle connection is still open, without reading from it: a server
/// that timed an idle session out has closed it (and often said `421` first). A
/// session reused for the next message checks this first, so a message is not sent
/// into a connection already gone, where a lost reply would leave its outcome unknown.
#[derive(Debug)]
pub(crate) struct Probe(std::net::TcpStream);

impl Probe {
    /// Whether the server closed the connection or sent something unasked (a `421`, a
    /// TLS alert) while nothing was awaited from it.
    pub(crate) fn peer_gone(&self) -> bool {
        // The descriptor is shared with the stream, which tokio made non-blocking: an
        // open, quiet connection has nothing to peek at.
        match self.0.peek(&mut [0u8; 1]) {
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
            Ok(_) => true,
        }
    }
}

#[derive(Debug, Default)]
struct Held {
    bytes: Vec<u8>,
    /// How much of `bytes` the socket took so far.
    sent: usize,
    /// Written, not yet flushed (TLS keeps a record until flushed).
    unflushed: bool,
}

impl Outbox {
    /// Writes this large or larger are not held.
    pub(crate) const DIRECT: usize = 64 * 1024;

    /// Queues `bytes` to go out with the next write.
    pub(crate) fn push(&self, bytes: &[u8]) {
        self.held().bytes.extend_from_slice(bytes);
    }

    /// Whether everything queued went out.
    pub(crate) fn is_empty(&self) -> bool {
        let held = self.held();
        held.sent >= held.bytes.len()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
            ahead: (0, 0, Box::default()),
            dialogue: Dialogue::new(proto),
            scan: None,
            outbox: None,
        }
    }

    /// A plain, watched IMAP stream over `tcp`, for tests of what reads it.
    #[cfg(test)]
    pub(crate) fn imap_for_test(tcp: TcpStream, watch: Arc<Watch>) -> Self {
        let peer = tcp.peer_addr().expect("a peer");
        Self::new(Inner::Plain(tcp), Proto::Imap, Duration::from_secs(5), peer).watched(watch)
    }

    /// A handle that tells, without reading, whether the server has closed the
    /// connection (see [`Probe`]).
    pub(crate) fn probe(&self) -> io::Result<Probe> {
        use std::os::fd::AsFd;
        let fd = match &self.inner {
            Inner::Plain(s) => s.as_fd().try_clone_to_owned()?,
            Inner::Tls(s) => s.get_ref().0.as_fd().try_clone_to_owned()?,
        };
        Ok(Probe(std::net::TcpStream::from(fd)))
    }

    /// Holds writes back until the next read (see [`Outbox`]); the handle queues more.
    pub(crate) fn coalesced(&mut self) -> Outbox {
        self.outbox.get_or_insert_with(Outbox::default).clone()
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

/// Where the bytes a read served came from.
#[derive(Clone, Copy)]
enum Served {
    /// The synthetic greeting's bytes.
    Prefix,
    /// What was read ahead.
    Ahead,
    /// The socket, straight into the client's buffer.
    Socket,
}

impl Stream {
    /// Hands what was read to the scan, if any; what it refuses is not passed on.
    /// What follows a tagged completion is taken back, to be served next: the client
    /// gets a command's answer up to its end and nothing after it, so that between two
    /// commands the client holds nothing and the connector can read an answer itself
    /// (see `protocol::fetch`).
    fn check(&mut self, buf: &mut ReadBuf<'_>, before: usize, from: Served) -> io::Result<()> {
        let Some(scan) = &mut self.scan else {
            return Ok(());
        };
        let got = buf.filled().len() - before;
        match scan.feed(&buf.filled()[before..]) {
            Err(e) => {
                buf.set_filled(before);
                Err(e)
            }
            Ok(taken) if taken < got => {
                let rest = &buf.filled()[before + taken..];
                match from {
                    Served::Prefix => {
                        self.prefix.splice(0..0, rest.iter().copied());
                    }
                    Served::Ahead => self.ahead.0 -= rest.len(),
                    Served::Socket => {
                        // The read went straight to the socket: the read-ahead was empty.
                        let mut ahead = std::mem::take(&mut self.ahead.2);
                        if ahead.len() < rest.len() {
                            ahead = vec![0; READ_AHEAD.max(rest.len())].into_boxed_slice();
                        }
                        ahead[..rest.len()].copy_from_slice(rest);
                        self.ahead = (0, rest.len(), ahead);
                    }
                }
                buf.set_filled(before + taken);
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }
}

impl Stream {
    /// Sends what the outbox holds, and flushes it: before a read, and on shutdown.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(outbox) = self.outbox.clone() else {
            return Poll::Ready(Ok(()));
        };
        let mut held = outbox.held();
        while held.sent < held.bytes.len() {
            let start = held.sent;
            match self.poll_write_inner(cx, &held.bytes[start..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.dialogue.client(&held.bytes[start..start + n]);
                    held.sent += n;
                    held.unflushed = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        held.bytes.clear();
        held.sent = 0;
        if held.unflushed {
            std::task::ready!(self.poll_flush_inner(cx))?;
            held.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// One write to the socket, within the write deadline.
    fn poll_write_inner(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, data),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        };
        match polled {
            Poll::Ready(result) => {
                self.write_deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                if poll_deadline(&mut self.write_deadline, self.io_timeout, cx) {
                    self.write_deadline = None;
                    return Poll::Ready(Err(self.timed_out("writing")));
                }
                Poll::Pending
            }
        }
    }

    /// Flushes the socket (TLS: sends the record it holds), within the write deadline.
    fn poll_flush_inner(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        if polled.is_pending() && poll_deadline(&mut self.write_deadline, self.io_timeout, cx) {
            self.write_deadline = None;
            return Poll::Ready(Err(self.timed_out("flushing")));
        }
        if polled.is_ready() {
            self.write_deadline = None;
        }
        polled
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

/// How much an IMAP stream reads from the socket at once. async-imap asks for what
/// its buffer has room for, often just the rest of one literal: a message per system
/// call. Reads smaller than this are served from one read of this size instead.
const READ_AHEAD: usize = 64 * 1024;

impl Stream {
    /// Reads from the socket (or TLS) into `buf`, under the read deadline, tracing what
    /// came.
    fn poll_socket(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        match polled {
            Poll::Ready(result) => {
                self.read_deadline = None;
                if result.is_ok() {
                    self.dialogue.server(&buf.filled()[before..]);
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let wait = Duration::from_millis(self.read_wait.load(Ordering::Relaxed));
                if poll_deadline(&mut self.read_deadline, wait, cx) {
                    self.read_deadline = None;
                    return Poll::Ready(Err(self.timed_out("reading")));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        std::task::ready!(this.poll_drain(cx))?;
        let before = buf.filled().len();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.drain(..n);
            return Poll::Ready(this.check(buf, before, Served::Prefix));
        }
        let buffered = this.ahead.0 < this.ahead.1;
        if buffered || (this.scan.is_some() && buf.remaining() < READ_AHEAD) {
            if !buffered {
                let mut ahead = std::mem::take(&mut this.ahead.2);
                if ahead.is_empty() {
                    ahead = vec![0; READ_AHEAD].into_boxed_slice();
                }
                let mut into = ReadBuf::new(&mut ahead);
                let polled = this.poll_socket(cx, &mut into);
                let got = into.filled().len();
                this.ahead = (0, got, ahead);
                std::task::ready!(polled)?;
                if got == 0 {
                    return Poll::Ready(Ok(()));
                }
            }
            let (pos, len, ahead) = &mut this.ahead;
            let n = (*len - *pos).min(buf.remaining());
            buf.put_slice(&ahead[*pos..*pos + n]);
            *pos += n;
            return Poll::Ready(this.check(buf, before, Served::Ahead));
        }
        std::task::ready!(this.poll_socket(cx, buf))?;
        Poll::Ready(this.check(buf, before, Served::Socket))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Some(outbox) = &this.outbox {
            if data.len() < Outbox::DIRECT {
                outbox.push(data);
                return Poll::Ready(Ok(data.len()));
            }
            std::task::ready!(this.poll_drain(cx))?;
        }
        let written = std::task::ready!(this.poll_write_inner(cx, data));
        if let Ok(n) = &written {
            this.dialogue.client(&data[..*n]);
            if let Some(scan) = &mut this.scan {
                scan.client_wrote();
            }
        }
        Poll::Ready(written)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.outbox.as_ref().is_some_and(|o| !o.is_empty()) {
            // Held until the next read (or shutdown).
            return Poll::Ready(Ok(()));
        }
        this.poll_flush_inner(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
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

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
