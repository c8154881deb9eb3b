//! The answers to `UID FETCH` and `UID SEARCH`, read by the connector itself a buffer
//! at a time instead of through async-imap's response stream (the command is still
//! sent by async-imap).
//!
//! Reading 50,000 messages, a profile put a third of the reading thread in async-imap's
//! decoding: every answer parsed by imap-proto's general grammar, boxed with its
//! buffer, the rest of the read copied into a new block after each one (64 KiB moved
//! for a 4 KB message) and a cleared 4 KiB block allocated on each attempt that found
//! an answer incomplete. Here one read fills a large buffer, answers are framed in it
//! (a line, and for a line that ends in `{n}`, the `n` bytes that follow, until a line
//! ends without one), and the common form of a FETCH answer (`UID`, `FLAGS` and
//! `BODY[]` with a literal, as Dovecot sends them) is read by [`fast`]; any other
//! form goes to imap-proto's parser, so what comes out is what
//! async-imap gives (property-tested against it in `fetch_tests.rs`). A `SEARCH`
//! answer of plain numbers is read the same way (50,000 UIDs cost async-imap's parser
//! a tenth of a read's time); any other goes to imap-proto.
//!
//! The stream below hands the reader bytes only up to the end of a tagged
//! completion (see `transport::watch`), and async-imap has consumed everything
//! before the command was sent: the two never share a byte. Limits stay where they
//! were: every byte passes the stream's watch, which refuses a literal over the limit
//! before it is read, so the buffer grows only with bytes that arrived and within
//! that limit.

use async_imap::error::{Error as ImapError, ParseError};
use async_imap::imap_proto::{self, AttributeValue, Response};
use tokio::io::AsyncReadExt as _;

use crate::transport::Stream;
use crate::transport::watch::literal_size;

/// What one read asks for at least.
const READ: usize = 256 * 1024;

/// The buffers messages are copied into by [`fast`], on the thread that reads the
/// socket, and given back by the thread that parsed them: taken again here instead of
/// freed into another thread's arena and allocated anew (at most 4 MiB kept, none over
/// 1 MiB).
pub(crate) static BODIES: connector_sdk::BufferPool =
    connector_sdk::BufferPool::new(4 << 20, 1 << 20);

/// One answer of a FETCH, as the read uses it: the same fields async-imap's `Fetch`
/// gives (`uid`, the flags' names in order, and `body()`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Fetched {
    /// The last `UID` item, if any.
    pub(crate) uid: Option<u32>,
    /// Every flag of every `FLAGS` item, in order, as the server wrote it.
    pub(crate) flags: Vec<String>,
    /// The first `BODY[]` (or `RFC822`) item that carried content.
    pub(crate) body: Option<Vec<u8>>,
}

impl From<&async_imap::types::Fetch> for Fetched {
    fn from(f: &async_imap::types::Fetch) -> Self {
        Self {
            uid: f.uid,
            flags: f.flags().map(|x| super::imap::flag_name(&x)).collect(),
            body: f.body().map(<[u8]>::to_vec),
        }
    }
}

/// The answers to one command, read from `stream` until its tagged completion.
pub(crate) struct Answers<'s> {
    stream: &'s mut Stream,
    tag: Vec<u8>,
    buf: Vec<u8>,
    /// `buf[start..end]` is read and not yet taken.
    start: usize,
    end: usize,
    /// How far past `start` the current answer was framed: the start of a line not yet
    /// complete, or of the literal being waited for.
    framed: usize,
    done: bool,
    /// Whether the command's tagged completion came.
    tagged: bool,
}

impl std::fmt::Debug for Answers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answers")
            .field("tag", &String::from_utf8_lossy(&self.tag))
            .field("buffered", &(self.end - self.start))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'s> Answers<'s> {
    /// Reads the answers to the command sent with `tag`.
    pub(crate) fn new(stream: &'s mut Stream, tag: &str) -> Self {
        Self {
            stream,
            tag: tag.as_bytes().to_vec(),
            buf: vec![0; READ],
            start: 0,
            end: 0,
            framed: 0,
            done: false,
            tagged: false,
        }
    }

    /// The next FETCH answer; `None` once the tagged completion came (its status is
    /// the watch's to tell) or the connection ended between two answers (as
    /// async-imap's stream ends: the caller tells that apart). Other untagged answers
    /// (`EXISTS`, `EXPUNGE`, `OK`) are passed over.
    pub(crate) async fn next(&mut self) -> Result<Option<Fetched>, ImapError> {
        while let Some(at) = self.untagged().await? {
            let bytes = &self.buf[at.clone()];
            if is_named(&bytes[2..], b" FETCH") {
                return match fast(bytes) {
                    Some(f) => Ok(Some(f)),
                    None => general(bytes).map(Some),
                };
            }
        }
        Ok(None)
    }

    /// Every number of every `* SEARCH` answer until the completion, in the order
    /// given (as async-imap's `uid_search`, which gives them as a set: the caller
    /// sorts and removes repeats). An answer in another form goes to imap-proto.
    pub(crate) async fn search(&mut self) -> Result<Vec<u32>, ImapError> {
        let mut ids = Vec::new();
        while let Some(at) = self.untagged().await? {
            let bytes = &self.buf[at];
            let Some(rest) = bytes
                .get(..8)
                .filter(|w| w.eq_ignore_ascii_case(b"* SEARCH"))
                .map(|_| &bytes[8..])
            else {
                continue;
            };
            if !search_numbers(rest, &mut ids) {
                let invalid = || {
                    ImapError::Parse(ParseError::Invalid(bytes[..bytes.len().min(200)].to_vec()))
                };
                match imap_proto::parser::parse_response(bytes).map_err(|_| invalid())? {
                    (_, Response::MailboxData(imap_proto::MailboxDatum::Search(found))) => {
                        ids.extend(found);
                    }
                    _ => return Err(invalid()),
                }
            }
        }
        Ok(ids)
    }

    /// Reads to the tagged completion; how many untagged answers were `n EXPUNGE`
    /// (or `n EXPUNGED`, as GNU imap4d 3.15 writes it, which async-imap cannot parse:
    /// its error left the rest of the answer unread and the server, writing it into a
    /// closed connection, died halfway through the expunge). A connection that ends
    /// before the completion is an error.
    pub(crate) async fn expunged(&mut self) -> Result<usize, ImapError> {
        let mut n = 0;
        while let Some(at) = self.untagged().await? {
            n += usize::from(is_named(&self.buf[at][2..], b" EXPUNGE"));
        }
        if !self.tagged {
            return Err(ImapError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(n)
    }

    /// Where the next untagged answer is in the buffer (it is taken); `None` once the
    /// tagged completion came or the connection ended between two answers.
    async fn untagged(&mut self) -> Result<Option<std::ops::Range<usize>>, ImapError> {
        while !self.done {
            let Some(len) = self.frame() else {
                if !self.fill().await? {
                    if self.start == self.end {
                        self.done = true;
                        return Ok(None);
                    }
                    return Err(ImapError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                }
                continue;
            };
            let at = self.start..self.start + len;
            self.start += len;
            self.framed = 0;
            let bytes = &self.buf[at.clone()];
            if bytes.starts_with(b"* ") {
                return Ok(Some(at));
            }
            if bytes.starts_with(b"+ ") || bytes.starts_with(b"+\r") {
                continue;
            }
            let mut words = bytes.splitn(3, |&b| b == b' ');
            let tag = words.next().unwrap_or_default();
            let status = words.next().unwrap_or_default().to_ascii_uppercase();
            if !matches!(status.as_slice(), b"OK" | b"NO" | b"BAD") {
                return Err(ImapError::Parse(ParseError::Invalid(
                    bytes[..bytes.len().min(200)].to_vec(),
                )));
            }
            // Another tag's completion (a server's mistake) is passed over, as
            // async-imap does.
            self.done = tag == self.tag;
            self.tagged = self.done;
        }
        Ok(None)
    }

    /// The length of the first whole answer in the buffer, if it is all there.
    fn frame(&mut self) -> Option<usize> {
        frame(&self.buf[self.start..self.end], &mut self.framed)
    }

    /// Reads more; whether anything came. Keeps what is not taken at the front and
    /// grows the buffer only when one answer fills it.
    async fn fill(&mut self) -> Result<bool, ImapError> {
        if self.start == self.end {
            if self.buf.len() > 4 * READ {
                // A large message has gone: the buffer goes back to its usual size.
                self.buf = vec![0; READ];
            }
            self.start = 0;
            self.end = 0;
        }
        if self.start > 0 && self.buf.len() - self.end < READ {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ / 4 {
            let grown = self.buf.len().saturating_mul(2);
            self.buf.resize(grown, 0);
        }
        let end = self.end;
        let n = self.stream.read(&mut self.buf[end..]).await?;
        self.end += n;
        Ok(n > 0)
    }
}

/// The length of the first whole answer in `data`: a line, and while a line ends in a
/// literal's announcement, the literal and the line that goes on after it. `None` if
/// it is not all there yet; `framed` keeps how far it got (the start of the line not
/// yet complete), so that a literal already passed is not looked at again.
fn frame(data: &[u8], framed: &mut usize) -> Option<usize> {
    loop {
        let line_end = *framed + memchr::memchr(b'\n', &data[*framed..])? + 1;
        match literal_size(&data[*framed..line_end]) {
            Some(n) => {
                // A size past 64 bits never arrives whole; the stream's watch has
                // already refused it (and any size over `max_message_bytes`).
                let n = n
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(usize::MAX);
                let after = line_end.checked_add(n)?;
                if after > data.len() {
                    return None;
                }
                *framed = after;
            }
            None => return Some(line_end),
        }
    }
}

/// Whether an untagged answer (after `* `) is `n NAME` (`name` with its space).
fn is_named(rest: &[u8], name: &[u8]) -> bool {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0
        && rest[digits..]
            .get(..name.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(name))
}

/// The numbers of a `SEARCH` answer after the word, when it is only numbers each
/// after one space (or none), then the line's end; `false` (nothing added) otherwise.
fn search_numbers(mut rest: &[u8], into: &mut Vec<u32>) -> bool {
    let before = into.len();
    loop {
        if rest == b"\r\n" {
            return true;
        }
        let Some(after) = rest.strip_prefix(b" ") else {
            break;
        };
        let mut r = Reader(after);
        let Some(n) = r.number() else {
            break;
        };
        into.push(n);
        rest = r.0;
    }
    into.truncate(before);
    false
}

/// The common form, exactly: `* n FETCH (` then `UID n`, `FLAGS (…)` with plain flags
/// and `BODY[] {n}` with its literal, each at most once, one space apart, then `)`
/// and the line's end. Anything else is `None`, for the general parser.
pub(crate) fn fast(answer: &[u8]) -> Option<Fetched> {
    let mut r = Reader(answer.strip_prefix(b"* ")?);
    r.number()?;
    r.tag(b" FETCH (")?;
    let mut f = Fetched::default();
    let (mut uid, mut flags, mut body) = (false, false, false);
    loop {
        if r.tag(b"UID ").is_some() && !uid {
            uid = true;
            f.uid = Some(r.number()?);
        } else if r.tag(b"FLAGS (").is_some() && !flags {
            flags = true;
            if r.tag(b")").is_none() {
                loop {
                    f.flags.push(r.flag()?.to_owned());
                    if r.tag(b")").is_some() {
                        break;
                    }
                    r.tag(b" ")?;
                }
            }
        } else if r.tag(b"BODY[] {").is_some() && !body {
            body = true;
            let n = r.number()? as usize;
            r.tag(b"}\r\n")?;
            let content = r.take(n)?;
            let mut kept = BODIES.take(content.len());
            kept.extend_from_slice(content);
            f.body = Some(kept);
        } else {
            return None;
        }
        if r.tag(b")\r\n").is_some() {
            return r.0.is_empty().then_some(f);
        }
        r.tag(b" ")?;
    }
}

/// Reads the front of an answer.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn tag(&mut self, t: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(t)?;
        Some(())
    }

    /// A number as imap-proto reads one: ASCII digits that fit in 32 bits. Added up by
    /// hand (ten digits fit in a `u64`): through `str::parse` each number cost about
    /// 200 instructions, three per fetched message and one per UID of a search answer
    /// (2% of a read's instructions, callgrind).
    fn number(&mut self) -> Option<u32> {
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 10 {
            return None;
        }
        let n = self.0[..digits]
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        let n = u32::try_from(n).ok()?;
        self.0 = &self.0[digits..];
        Some(n)
    }

    /// A flag of letters, digits and `$ _ - .`, after an optional `\` (or `\*`).
    fn flag(&mut self) -> Option<&'a str> {
        let system = usize::from(self.0.first() == Some(&b'\\'));
        let body = self.0[system..]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'$' | b'_' | b'-' | b'.'))
            .count();
        let len = if body == 0 && system == 1 && self.0.get(1) == Some(&b'*') {
            2
        } else if body == 0 {
            return None;
        } else {
            system + body
        };
        let (flag, rest) = self.0.split_at(len);
        self.0 = rest;
        std::str::from_utf8(flag).ok()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }
}

/// Any FETCH answer, through imap-proto's parser, read as async-imap's `Fetch` reads
/// it: the last `UID`, every flag, the first body with content.
pub(crate) fn general(answer: &[u8]) -> Result<Fetched, ImapError> {
    let invalid = || {
        ImapError::Parse(ParseError::Invalid(
            answer[..answer.len().min(200)].to_vec(),
        ))
    };
    let (rest, response) = imap_proto::parser::parse_response(answer).map_err(|_| invalid())?;
    let Response::Fetch(_, attrs) = response else {
        return Err(invalid());
    };
    if !rest.is_empty() {
        return Err(invalid());
    }
    let mut f = Fetched::default();
    for attr in attrs {
        match attr {
            AttributeValue::Uid(uid) => f.uid = Some(uid),
            AttributeValue::Flags(flags) => {
                f.flags.extend(flags.into_iter().map(|s| s.into_owned()))
            }
            AttributeValue::BodySection {
                section: None,
                data: Some(body),
                ..
            }
            | AttributeValue::Rfc822(Some(body))
                if f.body.is_none() =>
            {
                f.body = Some(body.into_owned());
            }
            _ => {}
        }
    }
    Ok(f)
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
