//! The fetch pipeline of a pass. The UIDs to read go to the server in windows of
//! [`WINDOW`] messages when commits need the session between them, else of as many as
//! one search finds (at most [`WINDOW_RUNS`] runs of consecutive UIDs, so the command
//! stays short), one `UID FETCH` each, and the answers are taken as they
//! arrive: cut into chunks of `batch_size` messages or `batch_bytes` bytes, each chunk
//! parsed on the blocking pool while the rest keeps arriving, and the parsed chunks
//! emitted in UID order, each followed by a checkpoint up to where everything before
//! was handed on. The server is never left waiting for the client between two
//! batches, and memory holds at most [`in_flight`] chunks being parsed and the one
//! being filled, whatever the server sends.
//!
//! No size pass, and no size search before the first fetch: a message over
//! `max_message_bytes` is refused at its literal's announcement, before a byte of it
//! is read (the transport's watch; the connection goes with it). Then one `UID SEARCH
//! … LARGER` (the server knows the sizes; one search per 50,000 UIDs) finds every
//! such message among the rest, they are reported and left, and the rest is read on a
//! new connection; later windows search first. A search before every read cost the
//! server 25–70 ms at 50,000 messages (5% of the read) for messages that are rare.
//!
//! One concern in one file: the window's bookkeeping (`Window`, pure, with its unit
//! tests at the bottom) and the IMAP side that feeds it (`Flow`) change together
//! whenever the pipeline does; split, each half would be read with the other open.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use connector_sdk::{Emitter, Error, Result, Serialized};

use super::TARGET;
use super::config::{AfterRead, ReadConfig};
use super::mailbox::{HalfAnswered, confirm, fetch_batch, larger_than, lost};
use super::mime;
use super::record::EmailRecord;
use super::state::{Progress, ReadState};
use crate::connection::EmailConnection;
use crate::protocol::fetch::{Answers, BODIES, Fetched};
use crate::protocol::imap::{classify, uid_set};

/// Messages per `UID FETCH` (or `batch_size` when larger) when delivered messages are
/// marked, moved or deleted: between two windows the session is free for those
/// commits.
pub(super) const WINDOW: usize = 5_000;

/// Messages per `UID FETCH` when commits change nothing on the server (`after_read:
/// none`, cursor mode): one command for as many as one search finds, so the server
/// streams without a pause between windows.
const WHOLE_WINDOW: usize = super::mailbox::SEARCH_WINDOW as usize;

/// Runs of consecutive UIDs per `UID FETCH` at most: each is one `a` or `a:b` in the
/// command (at most 22 bytes), so a window of scattered UIDs stays well inside the
/// line length servers accept (Dovecot's `imap_max_line_length` is 64 KiB).
const WINDOW_RUNS: usize = 2_500;

/// Chunks being parsed (or parsed and not yet emitted) at most, counting the one just
/// handed over; the next one fills meanwhile only when this is more than one. Set
/// once per process by [`depth_for`] from the CPUs it may use.
fn in_flight() -> usize {
    static DEPTH: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
        depth_for(std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
    });
    *DEPTH
}

/// The pipeline's depth on `cpus` CPUs: one less, from 1 to 3. With two or fewer, one
/// chunk at a time: the thread that reads the socket waits while its chunk is parsed
/// (the server keeps writing into the socket's buffer meanwhile), so the reader keeps
/// one CPU busy and leaves the other to the server, whoever reads its output or
/// another connector. On two vCPUs with Dovecot on the same machine (50,000 messages,
/// runs alternating with three chunks at once) this used 3–8% less CPU and a quarter
/// less memory (21 MB against 27–28 MB), with no consistent difference in time
/// (`docs/src/performance.md`, stop 30). With more CPUs, parsing overlaps reading
/// again.
fn depth_for(cpus: usize) -> usize {
    cpus.saturating_sub(1).clamp(1, 3)
}

/// What a window's `UID FETCH` asks for (no `RFC822.SIZE`: the content's length is
/// its size).
const ITEMS: &str = "(UID FLAGS BODY.PEEK[])";

/// A fetched message, parsed (and written as its line of JSON on the parsing thread,
/// so the thread that reads the socket and writes the output only copies bytes) or not.
pub(super) enum Parsed {
    Record(Serialized<EmailRecord<'static>>, u32),
    Unreadable { uid: u32, size: usize, why: String },
}

impl Parsed {
    fn uid(&self) -> u32 {
        match self {
            Self::Record(_, uid) | Self::Unreadable { uid, .. } => *uid,
        }
    }
}

/// One answer of a `UID FETCH`, as the window's bookkeeping sees it.
pub(super) trait Answer {
    /// The UID it is for, if it says.
    fn uid(&self) -> Option<u32>;
    /// The length of the message it carries, if it carries one.
    fn content_len(&self) -> Option<usize>;
}

impl Answer for Fetched {
    fn uid(&self) -> Option<u32> {
        self.uid
    }
    fn content_len(&self) -> Option<usize> {
        self.body.as_ref().map(Vec::len)
    }
}

/// The most answers a chunk's list is made ready for at once (it grows past it when
/// `batch_size` is larger).
const CHUNK_CAPACITY: usize = 1024;

/// A message that is reported, not read: its UID, size (0 when unknown) and why.
type Report = (u32, usize, String);

/// A chunk to parse: the messages, the reports among them, and the UID up to which
/// everything of the window is in this chunk or an earlier one (the checkpoint's
/// place once it was emitted; 0 when nothing is settled yet).
pub(super) struct Chunk<T> {
    pub(super) items: Vec<T>,
    pub(super) reports: Vec<Report>,
    pub(super) upto: u32,
}

/// What one window asked for and what has come: which UIDs are settled (arrived with
/// their content, or reported), where the unbroken run of settled UIDs ends, and the
/// chunk being filled. Pure bookkeeping; the IMAP side feeds it.
pub(super) struct Window<T> {
    /// Every UID of the window, ascending.
    uids: Vec<u32>,
    /// Whether `uids[i]` is settled (a flag per UID: this is asked for every answer).
    settled: Vec<bool>,
    /// Answered without content so far (a server may send flags first).
    bodiless: HashSet<u32>,
    /// `uids[..front]` are all settled.
    front: usize,
    /// Reported messages not yet in a chunk, ascending.
    reports: VecDeque<Report>,
    chunk: Vec<T>,
    chunk_bytes: u64,
    count_max: usize,
    bytes_max: u64,
    /// Answers for UIDs not asked for (dropped).
    pub(super) unasked: usize,
}

impl<T: Answer> Window<T> {
    /// A window over `uids` (ascending), of which `reported` are settled already.
    pub(super) fn new(
        uids: &[u32],
        reported: Vec<Report>,
        count_max: usize,
        bytes_max: u64,
    ) -> Self {
        let mut w = Self {
            uids: uids.to_vec(),
            settled: vec![false; uids.len()],
            bodiless: HashSet::new(),
            front: 0,
            reports: reported.into(),
            chunk: Vec::with_capacity(count_max.clamp(1, CHUNK_CAPACITY)),
            chunk_bytes: 0,
            count_max: count_max.max(1),
            bytes_max,
            unasked: 0,
        };
        for (uid, _, _) in &w.reports {
            if let Ok(i) = w.uids.binary_search(uid) {
                w.settled[i] = true;
            }
        }
        w.advance();
        w
    }

    /// Settles `uid`; whether it was not settled before. A UID outside the window
    /// counts as settled once it is among the reports.
    fn settle(&mut self, uid: u32) -> bool {
        match self.uids.binary_search(&uid) {
            Ok(i) => !std::mem::replace(&mut self.settled[i], true),
            Err(_) => !self.reports.iter().any(|r| r.0 == uid),
        }
    }

    /// The UIDs still to fetch, ascending.
    pub(super) fn unsettled(&self) -> Vec<u32> {
        self.uids[self.front..]
            .iter()
            .zip(&self.settled[self.front..])
            .filter(|(_, settled)| !**settled)
            .map(|(u, _)| *u)
            .collect()
    }

    fn advance(&mut self) {
        while self.settled.get(self.front).copied().unwrap_or(false) {
            self.front += 1;
        }
    }

    /// Takes one answer; returns a chunk when it filled one. An answer for a UID not
    /// asked for, or for one already settled, is dropped.
    pub(super) fn take(&mut self, answer: T) -> Option<Chunk<T>> {
        let uid = answer.uid()?;
        let Ok(i) = self.uids.binary_search(&uid) else {
            self.unasked += 1;
            return None;
        };
        if self.settled[i] {
            return None;
        }
        let Some(len) = answer.content_len() else {
            self.bodiless.insert(uid);
            return None;
        };
        self.settled[i] = true;
        self.bodiless.remove(&uid);
        self.chunk.push(answer);
        self.chunk_bytes = self.chunk_bytes.saturating_add(len as u64);
        self.advance();
        (self.chunk.len() >= self.count_max || self.chunk_bytes >= self.bytes_max)
            .then(|| self.cut())
    }

    /// Settles `uid` as reported, not read.
    pub(super) fn report(&mut self, uid: u32, size: usize, why: String) {
        if self.settle(uid) {
            let at = self.reports.partition_point(|r| r.0 < uid);
            self.reports.insert(at, (uid, size, why));
            self.advance();
        }
    }

    /// After the answer ended without refusal: what is still missing was expunged
    /// meanwhile (settled, nothing to read), but a message answered only without its
    /// content, which is reported.
    pub(super) fn settle_missing(&mut self) {
        for uid in self.unsettled() {
            if self.bodiless.contains(&uid) {
                self.report(uid, 0, "the server sent no content for it".into());
            } else {
                self.settle(uid);
            }
        }
        self.advance();
    }

    /// The chunk filled so far, with the reports it covers.
    fn cut(&mut self) -> Chunk<T> {
        let upto = self.front.checked_sub(1).map_or(0, |i| self.uids[i]);
        let covered = self.reports.partition_point(|r| r.0 <= upto);
        self.chunk_bytes = 0;
        Chunk {
            items: std::mem::replace(
                &mut self.chunk,
                Vec::with_capacity(self.count_max.min(CHUNK_CAPACITY)),
            ),
            reports: self.reports.drain(..covered).collect(),
            upto,
        }
    }

    /// The last chunk, with every report left; its place is the window's last UID if
    /// everything is settled.
    pub(super) fn rest(&mut self) -> Chunk<T> {
        let mut last = self.cut();
        last.reports.extend(self.reports.drain(..));
        last
    }
}

/// A chunk being parsed: its place and the parsing task.
type Job = (u32, tokio::task::JoinHandle<Vec<Parsed>>);

/// Reads UIDs of one folder through the pipeline, emitting and checkpointing.
pub(super) struct Flow<'a> {
    pub(super) conn: &'a EmailConnection,
    pub(super) what: &'a str,
    pub(super) config: Arc<ReadConfig>,
    pub(super) out: &'a Emitter<EmailRecord<'static>, (u16, u32), ReadState>,
    pub(super) index: u16,
    pub(super) uid_validity: u32,
    pub(super) progress: &'a mut Progress,
    pub(super) parsing: VecDeque<Job>,
    /// Whether each window first looks for messages over `max_message_bytes` (once
    /// one was met: until then none is assumed, and the search is saved).
    pub(super) sizes_first: bool,
}

impl Flow<'_> {
    /// Reads every UID of `uids` (ascending), window by window.
    pub(super) async fn read(mut self, uids: &[u32]) -> Result<()> {
        let most = if self.config.after_read == AfterRead::None {
            WHOLE_WINDOW
        } else {
            WINDOW
        };
        let size = most.max(self.config.batch_size.get() as usize);
        for window in windows(uids, size, WINDOW_RUNS) {
            if self.out.is_stopped() {
                break;
            }
            self.window(window).await?;
        }
        while let Some(job) = self.parsing.pop_front() {
            self.emit(job).await?;
        }
        Ok(())
    }

    /// The messages of `uids` over `max_message_bytes`, as reports: one `UID SEARCH …
    /// LARGER` per 50,000 UIDs (the server knows every size), then the sizes of those
    /// it names.
    async fn oversized(&self, uids: &[u32]) -> Result<Vec<Report>> {
        let max = self.config.max_message_bytes;
        let mut large = Vec::new();
        for part in uids.chunks(super::mailbox::SEARCH_WINDOW as usize) {
            large.extend(larger_than(self.conn, self.what, part, max).await?);
        }
        Ok(large
            .into_iter()
            .map(|(uid, size)| {
                (
                    uid,
                    usize::try_from(size).unwrap_or(usize::MAX),
                    format!("it is larger than max_message_bytes ({max})"),
                )
            })
            .collect())
    }

    async fn window(&mut self, uids: &[u32]) -> Result<()> {
        let config = Arc::clone(&self.config);
        // Once a message over the limit was met, each later window looks for such
        // messages before it fetches.
        let reported = if self.sizes_first {
            self.oversized(uids).await?
        } else {
            Vec::new()
        };
        let mut w = Window::new(
            uids,
            reported,
            config.batch_size.get() as usize,
            config.batch_bytes,
        );
        let watch = &self.conn.imap()?.watch;
        watch.take_oversized();
        let refused = match self.stream(&mut w).await {
            Err(e) if lost(&e) => {
                // Once per window: what arrived stays, the rest is asked for again.
                self.conn.reconnect(&e).await?;
                self.stream(&mut w).await?
            }
            Err(e) if watch.take_oversized() && !self.sizes_first => {
                // A message over max_message_bytes was announced: refused before a
                // byte of it was read, and the connection with it. What arrived
                // before it stays; one search finds every such message among the
                // rest, they are reported and left, and the rest is read on a new
                // connection (a second such announcement is a server that lied about
                // sizes, and fails the read).
                tracing::info!(target: TARGET, "a message over max_message_bytes was announced; finding every such message and reading on without them");
                self.sizes_first = true;
                self.conn.reconnect(&e).await?;
                for (uid, size, why) in self.oversized(&w.unsettled()).await? {
                    w.report(uid, size, why);
                }
                self.stream(&mut w).await?
            }
            other => other?,
        };
        if self.out.is_stopped() {
            return Ok(());
        }
        match refused {
            Some(why) => {
                tracing::warn!(target: TARGET, "{why}; fetching the messages it did not send one by one");
                for uid in w.unsettled() {
                    let one = fetch_batch(self.conn, self.what, &[uid]).await?;
                    match one.refused {
                        Some(e) => w.report(
                            uid,
                            0,
                            format!("the server refused to send it: {}", e.message()),
                        ),
                        None => {
                            for answer in &one.messages {
                                if let Some(chunk) = w.take(Fetched::from(answer)) {
                                    self.dispatch(chunk);
                                }
                            }
                        }
                    }
                }
                w.settle_missing();
            }
            None => w.settle_missing(),
        }
        if w.unasked > 0 {
            tracing::warn!(target: TARGET, count = w.unasked, "the server sent messages that were not asked for; ignored");
        }
        let rest = w.rest();
        if !rest.items.is_empty() || !rest.reports.is_empty() || rest.upto > 0 {
            self.dispatch(rest);
        }
        self.emit_ready(false).await
    }

    /// One `UID FETCH` of what `w` still needs, taken as it arrives. Returns the
    /// server's refusal, if it completed the command with one.
    async fn stream(&mut self, w: &mut Window<Fetched>) -> Result<Option<Error>> {
        let ask = w.unsettled();
        if ask.is_empty() {
            return Ok(None);
        }
        let conn = self.conn;
        let what = self.what;
        let imap = conn.imap()?;
        let max = self.config.max_message_bytes;
        // One piece at most max_message_bytes; the command's whole answer at most
        // what was asked for (memory is bounded by the chunks, not by this).
        imap.watch.limit(max, max.saturating_mul(ask.len() as u64));
        // A server may answer twice for a message (flags, then content); more than
        // that is a server that does not stop.
        let most = ask.len().saturating_mul(2).saturating_add(16);
        let mut session = conn.session().await?;
        let mut pending = HalfAnswered(conn, true);
        imap.begin();
        {
            // Sent by async-imap, which then holds nothing of the connection; the
            // answers are read here (see `protocol::fetch`).
            let tag = session
                .run_command(format!("UID FETCH {} {ITEMS}", uid_set(&ask)))
                .await
                .map_err(|e| classify(what, "UID FETCH", e))?;
            let mut answers = Answers::new(session.get_mut(), &tag.0);
            let mut count = 0usize;
            while let Some(answer) = answers
                .next()
                .await
                .map_err(|e| classify(what, "UID FETCH", e))?
            {
                count += 1;
                if count > most {
                    return Err(Error::protocol(format!(
                        "{what}: the server sent more than {most} answers to a UID FETCH of {} messages; refused",
                        ask.len()
                    ))
                    .retryable(false));
                }
                if let Some(chunk) = w.take(answer) {
                    self.dispatch(chunk);
                    if self.out.is_stopped() {
                        return Ok(None);
                    }
                    self.emit_ready(self.parsing.len() >= in_flight()).await?;
                }
            }
        }
        pending.1 = false;
        let refused = imap.completed("UID FETCH").err();
        if refused.is_none() && !w.unsettled().is_empty() {
            // async-imap ends a FETCH stream quietly when the connection drops; a NOOP
            // tells that apart from messages expunged in the meantime.
            confirm(imap, &mut session, what).await?;
        }
        drop(pending);
        Ok(refused)
    }

    /// Parses a chunk on the blocking pool.
    fn dispatch(&mut self, chunk: Chunk<Fetched>) {
        let config = Arc::clone(&self.config);
        let uid_validity = self.uid_validity;
        let upto = chunk.upto;
        let handle = tokio::task::spawn_blocking(move || {
            let mut parsed: Vec<Parsed> = chunk
                .items
                .into_iter()
                .filter_map(|f| parse_fetch(&config, uid_validity, f))
                .chain(
                    chunk
                        .reports
                        .into_iter()
                        .map(|(uid, size, why)| Parsed::Unreadable { uid, size, why }),
                )
                .collect();
            parsed.sort_by_key(Parsed::uid);
            parsed
        });
        self.parsing.push_back((upto, handle));
    }

    /// Emits the parsed chunks at the front that are done; with `wait`, the first one
    /// whether done or not.
    async fn emit_ready(&mut self, mut wait: bool) -> Result<()> {
        while let Some((_, handle)) = self.parsing.front() {
            if !wait && !handle.is_finished() {
                break;
            }
            wait = false;
            let job = self.parsing.pop_front().expect("a front");
            self.emit(job).await?;
        }
        Ok(())
    }

    /// Emits a parsed chunk, then checkpoints its place.
    async fn emit(&mut self, (upto, handle): Job) -> Result<()> {
        let parsed = handle
            .await
            .map_err(|e| Error::internal(format!("parsing messages failed: {e}")))?;
        let mut skipped = Vec::new();
        for p in parsed {
            match p {
                Parsed::Record(line, uid) => {
                    self.out.emit_serialized(line, (self.index, uid)).await?
                }
                Parsed::Unreadable { uid, size, why } => {
                    skipped.push(uid);
                    self.out
                        .skip(Error::protocol(format!(
                            "message uid {uid} ({size} bytes) in {} cannot be read: {why}; left untouched",
                            self.config.folder
                        )))
                        .await?;
                }
            }
        }
        self.out
            .checkpoint(self.progress.batch_done(upto, &skipped))
            .await
    }
}

/// Cuts `uids` (ascending) into windows of at most `count` UIDs and `runs` runs of
/// consecutive UIDs each.
fn windows(uids: &[u32], count: usize, runs: usize) -> impl Iterator<Item = &[u32]> {
    let (count, runs) = (count.max(1), runs.max(1));
    let mut rest = uids;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut seen = 1;
        let mut end = 1;
        while end < rest.len().min(count) {
            if rest[end] != rest[end - 1].wrapping_add(1) {
                if seen == runs {
                    break;
                }
                seen += 1;
            }
            end += 1;
        }
        let (window, after) = rest.split_at(end);
        rest = after;
        Some(window)
    })
}

/// Reads one answer into a record; the answer is taken whole, so its flags move into
/// the record and its content goes back to the pool it came from, here, on the parsing
/// thread.
fn parse_fetch(config: &ReadConfig, uid_validity: u32, fetch: Fetched) -> Option<Parsed> {
    let uid = fetch.uid?;
    let flags = fetch.flags;
    let Some(body) = fetch.body else {
        return Some(Parsed::Unreadable {
            uid,
            size: 0,
            why: "the server sent no content for it".into(),
        });
    };
    let raw = body.as_slice();
    let record = mime::record(config, uid, uid_validity, flags, raw, |rec| {
        // Room for the message and the JSON around it, made once.
        Serialized::from_borrowed(rec, raw.len() + raw.len() / 4 + 1024)
            .map_err(|e| e.message().to_owned())
    });
    let size = raw.len();
    BODIES.give(body);
    Some(match record {
        Ok(line) => Parsed::Record(line, uid),
        Err(why) => Parsed::Unreadable { uid, size, why },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer: its UID and, if it carries content, its length.
    struct A(u32, Option<usize>);

    impl Answer for A {
        fn uid(&self) -> Option<u32> {
            Some(self.0)
        }
        fn content_len(&self) -> Option<usize> {
            self.1
        }
    }

    fn uids<T>(c: &Chunk<T>) -> Vec<u32>
    where
        T: Answer,
    {
        c.items.iter().filter_map(Answer::uid).collect()
    }

    #[test]
    fn the_pipeline_is_one_chunk_deep_on_two_cpus_and_at_most_three() {
        let depths: Vec<usize> = [0, 1, 2, 3, 4, 64].map(depth_for).to_vec();
        assert_eq!(depths, [1, 1, 1, 2, 3, 3]);
        assert!((1..=3).contains(&in_flight()));
    }

    #[test]
    fn windows_are_cut_by_count_and_by_runs_of_consecutive_uids() {
        let cut = |uids: &[u32], count, runs| -> Vec<Vec<u32>> {
            windows(uids, count, runs).map(<[u32]>::to_vec).collect()
        };
        let run: Vec<u32> = (1..=10).collect();
        assert_eq!(
            cut(&run, 4, 1),
            [vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10]]
        );
        assert_eq!(cut(&run, 100, 1), [(1..=10).collect::<Vec<u32>>()]);
        let scattered = [1, 2, 5, 6, 7, 9, 20, 21];
        assert_eq!(
            cut(&scattered, 100, 2),
            [vec![1, 2, 5, 6, 7], vec![9, 20, 21]]
        );
        assert_eq!(
            cut(&scattered, 3, 100),
            [vec![1, 2, 5], vec![6, 7, 9], vec![20, 21]]
        );
        assert!(cut(&[], 5, 5).is_empty());
        // The command stays short whatever the gaps: no window's set is longer than
        // its runs allow.
        let sparse: Vec<u32> = (0..50_000).map(|i| 4_000_000_000 - 3 * i).rev().collect();
        let all: Vec<Vec<u32>> = cut(&sparse, 50_000, WINDOW_RUNS);
        assert_eq!(all.concat(), sparse);
        assert!(all.iter().all(|w| uid_set(w).len() <= WINDOW_RUNS * 22));
        assert_eq!(all.len(), 50_000usize.div_ceil(WINDOW_RUNS));
    }

    #[test]
    fn chunks_are_cut_by_count_and_by_bytes() {
        let mut w: Window<A> = Window::new(&[1, 2, 3, 4, 5], Vec::new(), 2, 100);
        assert!(w.take(A(1, Some(10))).is_none());
        let c = w.take(A(2, Some(10))).expect("two messages fill a chunk");
        assert_eq!((uids(&c), c.upto), (vec![1, 2], 2));
        let c = w.take(A(3, Some(150))).expect("150 bytes fill a chunk");
        assert_eq!((uids(&c), c.upto), (vec![3], 3));
        assert!(w.take(A(4, Some(1))).is_none());
        let rest = w.rest();
        assert_eq!((uids(&rest), rest.upto), (vec![4], 4));
        assert_eq!(w.unsettled(), [5]);
    }

    #[test]
    fn the_place_stops_below_a_message_not_yet_arrived() {
        // A server that answers out of order: records may go ahead, the checkpoint not.
        let mut w: Window<A> = Window::new(&[1, 2, 3, 4], Vec::new(), 2, 1 << 20);
        assert!(w.take(A(1, Some(1))).is_none());
        let c = w.take(A(3, Some(1))).expect("a chunk");
        assert_eq!((uids(&c), c.upto), (vec![1, 3], 1));
        assert!(w.take(A(2, Some(1))).is_none());
        let c = w.take(A(4, Some(1))).expect("a chunk");
        assert_eq!((uids(&c), c.upto), (vec![2, 4], 4));
    }

    #[test]
    fn answers_not_asked_for_twice_or_without_content_are_not_kept() {
        let mut w: Window<A> = Window::new(&[5, 6], Vec::new(), 10, 1 << 20);
        assert!(w.take(A(9, Some(1))).is_none());
        assert!(w.take(A(5, None)).is_none());
        assert!(w.take(A(5, Some(1))).is_none());
        assert!(w.take(A(5, Some(1))).is_none());
        assert!(w.take(A(6, None)).is_none());
        assert_eq!(w.unasked, 1);
        assert_eq!(w.unsettled(), [6]);
        w.settle_missing();
        let rest = w.rest();
        assert_eq!(uids(&rest), [5], "5 once, with its content");
        assert_eq!(rest.upto, 6);
        assert_eq!(rest.reports.len(), 1);
        assert_eq!(rest.reports[0].0, 6);
        assert!(
            rest.reports[0].2.contains("no content"),
            "{:?}",
            rest.reports
        );
    }

    #[test]
    fn reported_messages_go_with_the_chunk_that_passes_them() {
        let reported = vec![
            (2, 900, "too large".to_owned()),
            (4, 800, "too large".to_owned()),
        ];
        let mut w: Window<A> = Window::new(&[1, 2, 3, 4, 5], reported, 2, 1 << 20);
        assert_eq!(w.unsettled(), [1, 3, 5]);
        assert!(w.take(A(1, Some(1))).is_none());
        let c = w.take(A(3, Some(1))).expect("a chunk");
        assert_eq!((uids(&c), c.upto), (vec![1, 3], 4));
        let reports: Vec<u32> = c.reports.iter().map(|r| r.0).collect();
        assert_eq!(reports, [2, 4]);
        // Missing without a trace: expunged meanwhile; the place goes past it.
        w.settle_missing();
        let rest = w.rest();
        assert!(rest.items.is_empty() && rest.reports.is_empty());
        assert_eq!(rest.upto, 5);
    }
}
