//! [`Watch`]: what an IMAP server sends, checked below the IMAP client, byte by byte,
//! before the client sees it.
//!
//! async-imap trusts the server in three ways this connector cannot accept from a
//! hostile or broken one, and this watch closes each:
//!
//! - **Literal sizes.** A literal announced as `{530000000}` makes the client allocate
//!   that much before a byte of it arrives. The watch refuses an announcement over the
//!   literal limit (the largest message Read Email takes), and more literal bytes in one
//!   command's answer than that command may bring (the batch's byte budget), whatever
//!   `RFC822.SIZE` said.
//! - **Line length.** The client parses a line again each time more of it arrives, so a
//!   huge line (a `SEARCH` answer of millions of UIDs) costs quadratic time. Outside
//!   literals no line may be longer than [`MAX_LINE`].
//! - **Tagged completions.** The client ends a `FETCH`, `STORE`, `EXPUNGE`, `SEARCH` or
//!   `NOOP` answer stream at the tagged completion without saying whether it was `OK`,
//!   `NO` or `BAD` (RFC 3501 section 7.1): a refused FETCH looks like a mailbox without
//!   those messages. The watch keeps the last completion so the caller can check it.
//!
//! A refusal ends the connection: the read fails with an [`Exceeded`] error and every
//! later read fails the same way.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The longest line, outside literals, an IMAP server may send (1 MiB). A `SEARCH`
/// answer is asked for in UID windows that keep it far below this.
pub(crate) const MAX_LINE: usize = 1024 * 1024;

/// How much of a completion's text is kept.
const TEXT: usize = 200;

/// What a tagged completion said (RFC 3501 section 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    No,
    Bad,
}

/// The last tagged completion: its status and its text, printable and short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Completion {
    pub(crate) status: Status,
    pub(crate) text: String,
}

/// Limits and findings shared between the stream (which scans) and the IMAP code
/// (which sets limits and reads completions). One per IMAP dialer; each new stream
/// starts a fresh scan.
#[derive(Debug)]
pub(crate) struct Watch {
    literal_max: AtomicU64,
    response_max: AtomicU64,
    completion: Mutex<Option<Completion>>,
    /// Whether the last refusal was of one literal over the limit (a message over
    /// `max_message_bytes`: the reader finds such messages and reads on without them).
    oversized: AtomicBool,
}

/// The literal limit before a reader sets its own: 64 MiB.
pub(crate) const DEFAULT_LITERAL: u64 = 64 * 1024 * 1024;

impl Default for Watch {
    fn default() -> Self {
        Self {
            literal_max: AtomicU64::new(DEFAULT_LITERAL),
            response_max: AtomicU64::new(2 * DEFAULT_LITERAL),
            completion: Mutex::new(None),
            oversized: AtomicBool::new(false),
        }
    }
}

impl Watch {
    /// Sets the largest literal a server may announce and the most literal bytes one
    /// command's answer may carry.
    pub(crate) fn limit(&self, literal: u64, per_response: u64) {
        self.literal_max.store(literal, Ordering::Relaxed);
        self.response_max
            .store(per_response.max(literal), Ordering::Relaxed);
    }

    /// The largest literal allowed.
    pub(crate) fn literal_max(&self) -> u64 {
        self.literal_max.load(Ordering::Relaxed)
    }

    /// The most literal bytes allowed in one response.
    pub(crate) fn response_max(&self) -> u64 {
        self.response_max.load(Ordering::Relaxed)
    }

    /// Whether a literal over the limit was refused since the last call (the
    /// connection is then unusable; every other refusal leaves this `false`).
    pub(crate) fn take_oversized(&self) -> bool {
        self.oversized.swap(false, Ordering::Relaxed)
    }

    /// Takes the last tagged completion seen (`None` if none came since the last take).
    pub(crate) fn take_completion(&self) -> Option<Completion> {
        self.completion.lock().ok().and_then(|mut c| c.take())
    }

    fn complete(&self, completion: Completion) {
        if let Ok(mut c) = self.completion.lock() {
            *c = Some(completion);
        }
    }
}

/// The error a read fails with once the server broke a limit.
#[derive(Debug, Clone)]
pub(crate) struct Exceeded(pub(crate) String);

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Exceeded {}

/// If `e` is a refusal by the watch, what it said.
pub(crate) fn exceeded(e: &io::Error) -> Option<&str> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Exceeded>())
        .map(|x| x.0.as_str())
}

/// The scan of one stream: where in the server's output it is.
#[derive(Debug)]
pub(crate) struct Scan {
    watch: Arc<Watch>,
    /// Bytes of the literal being passed over.
    literal_left: u64,
    /// The first bytes of the current line (for a tagged completion).
    head: Vec<u8>,
    /// The last bytes of the current line (for a literal announcement).
    tail: Vec<u8>,
    /// Bytes of the current line segment so far.
    line_len: usize,
    /// Whether the current segment continues a line after a literal.
    continued: bool,
    /// Literal bytes announced since the client last wrote (one command's answer).
    response_bytes: u64,
    failed: Option<Exceeded>,
}

/// Enough of a line's start for a tag, a status and [`TEXT`] bytes of text.
const HEAD: usize = TEXT + 64;
/// Enough of a line's end for `{18446744073709551615}\r\n`.
const TAIL: usize = 32;

impl Scan {
    pub(crate) fn new(watch: Arc<Watch>) -> Self {
        Self {
            watch,
            literal_left: 0,
            head: Vec::with_capacity(HEAD),
            tail: Vec::with_capacity(TAIL),
            line_len: 0,
            continued: false,
            response_bytes: 0,
            failed: None,
        }
    }

    /// The client wrote: a new command's answer begins.
    pub(crate) fn client_wrote(&mut self) {
        self.response_bytes = 0;
    }

    /// Checks bytes the server sent, in order, up to the end of the first tagged
    /// completion among them: returns how many it took (all of them, or up to and
    /// including that line's end). The caller hands the client only those, so that a
    /// client holds nothing past the end of a command's answer and the connector can
    /// read the next answer itself (see `protocol::fetch`). An error ends the
    /// connection.
    pub(crate) fn feed(&mut self, all: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io::Error::other(e.clone()));
        }
        let mut bytes = all;
        while !bytes.is_empty() {
            if self.literal_left > 0 {
                let n = usize::try_from(self.literal_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.literal_left -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            // Up to the end of the line, or of what arrived.
            let (segment, ended) = match memchr::memchr(b'\n', bytes) {
                Some(i) => (&bytes[..=i], true),
                None => (bytes, false),
            };
            bytes = &bytes[segment.len()..];
            self.line_len += segment.len();
            if self.head.len() < HEAD {
                let take = (HEAD - self.head.len()).min(segment.len());
                self.head.extend_from_slice(&segment[..take]);
            }
            if segment.len() >= TAIL {
                self.tail.clear();
                self.tail
                    .extend_from_slice(&segment[segment.len() - TAIL..]);
            } else {
                self.tail.extend_from_slice(segment);
                let over = self.tail.len().saturating_sub(TAIL);
                self.tail.drain(..over);
            }
            if self.line_len > MAX_LINE {
                return self.fail(format!(
                    "the server sent a line longer than {} bytes; refused (a broken or hostile server)",
                    MAX_LINE
                ));
            }
            if ended && self.end_of_line()? {
                return Ok(all.len() - bytes.len());
            }
        }
        Ok(all.len())
    }

    /// Ends a line; whether it was a tagged completion.
    fn end_of_line(&mut self) -> io::Result<bool> {
        let literal = literal_size(&self.tail);
        let mut completed = false;
        if !self.continued
            && literal.is_none()
            && let Some(c) = completion(&self.head)
        {
            self.watch.complete(c);
            completed = true;
        }
        self.head.clear();
        self.tail.clear();
        self.line_len = 0;
        match literal {
            None => {
                self.continued = false;
                Ok(completed)
            }
            Some(None) => self.fail("the server announced a literal too large to count".into()),
            Some(Some(size)) => {
                let max = self.watch.literal_max.load(Ordering::Relaxed);
                if size > max {
                    self.watch.oversized.store(true, Ordering::Relaxed);
                    return self.fail(format!(
                        "the server announced {size} bytes in one piece, over the limit of {max} (max_message_bytes); refused before reading it"
                    ));
                }
                self.response_bytes = self.response_bytes.saturating_add(size);
                let budget = self.watch.response_max.load(Ordering::Relaxed);
                if self.response_bytes > budget {
                    return self.fail(format!(
                        "the server sent more than {budget} bytes for one command (batch_bytes plus max_message_bytes), more than the sizes it reported; refused"
                    ));
                }
                self.literal_left = size;
                self.continued = true;
                Ok(false)
            }
        }
    }

    fn fail<T>(&mut self, why: String) -> io::Result<T> {
        let e = Exceeded(why);
        self.failed = Some(e.clone());
        Err(io::Error::other(e))
    }
}

/// The size a line ending in a literal announcement (`{123}\r\n`, `~{123}` for
/// RFC 3516 binary, `{123+}` as RFC 7888 writes it) gives: `None` if it ends
/// otherwise, `Some(None)` if the number does not fit in 64 bits. The one reading of
/// an announcement: the watch counts by it and `protocol::fetch` frames by it.
pub(crate) fn literal_size(tail: &[u8]) -> Option<Option<u64>> {
    let line = tail.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let line = line.strip_suffix(b"+").unwrap_or(line);
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(std::str::from_utf8(digits).ok()?.parse::<u64>().ok())
}

/// A tagged completion (`a7 NO [SERVERBUG] Internal error`); untagged (`*`) and
/// continuation (`+`) lines are not.
fn completion(head: &[u8]) -> Option<Completion> {
    let line = head.strip_suffix(b"\n").unwrap_or(head);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut words = line.splitn(3, |&b| b == b' ');
    let tag = words.next()?;
    if tag.is_empty() || tag == b"*" || tag == b"+" {
        return None;
    }
    let status = match words.next()?.to_ascii_uppercase().as_slice() {
        b"OK" => Status::Ok,
        b"NO" => Status::No,
        b"BAD" => Status::Bad,
        _ => return None,
    };
    let text = super::error::printable(words.next().unwrap_or_default(), TEXT);
    Some(Completion { status, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan() -> (Scan, Arc<Watch>) {
        let watch = Arc::new(Watch::default());
        watch.limit(1000, 1500);
        (Scan::new(Arc::clone(&watch)), watch)
    }

    #[test]
    fn a_literal_over_the_limit_is_refused_before_its_bytes_arrive() {
        let (mut s, watch) = scan();
        let e = s
            .feed(b"* 1 FETCH (UID 1 BODY[] {530000000}\r\n")
            .expect_err("refused");
        assert!(exceeded(&e).is_some_and(|m| m.contains("530000000")), "{e}");
        // Said once: the reader finds such messages and reads on without them.
        assert!(watch.take_oversized());
        assert!(!watch.take_oversized());
        // Once refused, always refused.
        assert!(s.feed(b"a1 OK done\r\n").is_err());
        let (mut s, watch) = scan();
        assert!(
            s.feed(b"* 1 FETCH (BODY[] {99999999999999999999999}\r\n")
                .is_err()
        );
        // A size past counting is a broken server, not a large message.
        assert!(!watch.take_oversized());
    }

    #[test]
    fn only_a_line_ending_in_braced_digits_announces_a_literal() {
        assert_eq!(literal_size(b"* 1 FETCH (BODY[] {12}\r\n"), Some(Some(12)));
        assert_eq!(literal_size(b"* 1 FETCH (BINARY[] ~{7}\n"), Some(Some(7)));
        assert_eq!(literal_size(b"a SEARCH {3+}\r\n"), Some(Some(3)));
        assert_eq!(literal_size(b"{99999999999999999999999}\r\n"), Some(None));
        // Text that merely ends in braces is a line like any other.
        for line in [
            &b"* OK {}\r\n"[..],
            b"* OK {+}\r\n",
            b"* OK {1a}\r\n",
            b"* OK done\r\n",
            b"* OK {12} more\r\n",
            b"{12}",
        ] {
            assert_eq!(
                literal_size(line),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn literal_bytes_are_passed_over_whatever_they_hold() {
        let (mut s, watch) = scan();
        // A literal holding what looks like a completion and a huge announcement.
        let body = b"a1 NO fake\r\n{999999999}\r\n";
        let mut input = format!("* 1 FETCH (UID 1 BODY[] {{{}}}\r\n", body.len()).into_bytes();
        input.extend_from_slice(body);
        input.extend_from_slice(b")\r\na1 OK Fetch completed.\r\n");
        // Fed one byte at a time and all at once: the same outcome.
        for chunk in [1, input.len()] {
            for piece in input.chunks(chunk) {
                s.feed(piece).expect("within limits");
            }
            let c = watch.take_completion().expect("a completion");
            assert_eq!(c.status, Status::Ok);
            assert_eq!(c.text, "Fetch completed.");
            s.client_wrote();
        }
    }

    #[test]
    fn the_bytes_of_one_answer_are_bounded_whatever_sizes_were_reported() {
        let (mut s, watch) = scan();
        let mut one = b"* 1 FETCH (BODY[] {800}\r\n".to_vec();
        one.extend_from_slice(&[b'x'; 800]);
        one.extend_from_slice(b")\r\n");
        s.feed(&one).expect("first");
        let e = s.feed(&one).expect_err("over the budget");
        assert!(exceeded(&e).is_some_and(|m| m.contains("1500")), "{e}");
        // More bytes than reported is a lying server: no one message to leave out.
        assert!(!watch.take_oversized());
        // A new command starts a new budget.
        let (mut s, _) = scan();
        s.feed(&one).expect("first");
        s.client_wrote();
        s.feed(&one).expect("second command");
    }

    #[test]
    fn a_line_over_the_limit_is_refused_while_it_arrives() {
        let (mut s, _) = scan();
        s.feed(b"* SEARCH").expect("start");
        let mut refused = false;
        for _ in 0..(MAX_LINE / 8 + 2) {
            if s.feed(b" 1234567").is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused);
    }

    #[test]
    fn tagged_completions_are_kept_and_untagged_lines_are_not() {
        let (mut s, watch) = scan();
        s.feed(b"* OK [UIDVALIDITY 5] ok\r\n* NO [ALERT] hm\r\n")
            .expect("ok");
        assert_eq!(watch.take_completion(), None);
        s.feed(b"A0004 no [SERVERBUG] Internal error\x07 occurred\r\n")
            .expect("ok");
        assert_eq!(
            watch.take_completion(),
            Some(Completion {
                status: Status::No,
                text: "[SERVERBUG] Internal error. occurred".into()
            })
        );
        s.feed(b"A0005 BAD Error in IMAP command\r\n").expect("ok");
        assert_eq!(watch.take_completion().map(|c| c.status), Some(Status::Bad));
        assert_eq!(watch.take_completion(), None);
    }

    #[test]
    fn the_scan_stops_after_a_tagged_completion() {
        let (mut s, watch) = scan();
        let answer = b"* 1 FETCH (BODY[] {12}\r\na1 OK inside) UID 1)\r\n";
        let done = b"a1 OK done\r\n";
        let after = b"* 2 EXISTS\r\na2 OK next\r\n";
        let all = [&answer[..], done, after].concat();
        // A completion inside a literal is no completion.
        assert_eq!(
            s.feed(&all).expect("within limits"),
            answer.len() + done.len()
        );
        assert_eq!(watch.take_completion().map(|c| c.text), Some("done".into()));
        // What was not taken is fed again, and taken up to the next completion.
        assert_eq!(s.feed(after).expect("ok"), after.len());
        assert_eq!(watch.take_completion().map(|c| c.text), Some("next".into()));
    }
}
