//! Running a source: records out as JSON Lines, flushed, then committed in batches.
//!
//! The source's `read` and the writer share one task (records cross the bounded
//! channel in batches, with no thread hand-off per record); commits run in a task of
//! their own, so the writer never waits for a commit and a source that holds its
//! connection while emitting cannot deadlock against its own commit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::RunIo;
use super::progress::Progress;
use crate::activity::Source;
use crate::emit::{Emitted, Emitter, Received};
use crate::error::{Error, Result};
use crate::meter::Meter;
use output::Output;

mod output;

const TARGET: &str = "connector_sdk::host";
/// Records in flight between the source and the writer. Small on purpose: records
/// are freed soon after they were allocated, which keeps the allocator in its fast
/// path (measured: 32 is 17% faster than 256 on the host benchmark).
const CHANNEL: usize = 32;
/// Flush at least this often (in records) while the source keeps the channel full.
const FLUSH_EVERY: usize = 1024;
/// Flush once the source has been quiet this long (bounds the latency of a record).
const IDLE_FLUSH: Duration = Duration::from_millis(2);
/// Commit what was delivered once nothing new was delivered for this long.
const COMMIT_IDLE: Duration = Duration::from_millis(200);

enum End {
    Finished,
    Signal,
    OutputClosed(std::io::Error),
    CommitFailed,
    StateFailed(Error),
}

pub(crate) async fn run<S: Source>(
    source: Arc<S>,
    conn: Arc<S::Connection>,
    config: Arc<S::Config>,
    previous: Option<S::State>,
    io: RunIo,
) -> Result<()> {
    let name = source.info().name;
    if io.deferred
        && let Some(state) = &previous
    {
        // The platform kept every record up to this state: mark them done first.
        tracing::info!(target: TARGET, activity = name, "deferred commit: committing what the given state covers");
        source.commit_state(&conn, &config, state).await?;
    }
    let meter = Arc::new(Meter::default());
    let progress = Progress::start(Arc::clone(&meter), name, "records", io.progress_every);
    let (emitter, mut received) =
        Emitter::with_stop(CHANNEL, io.stop.clone(), previous, Arc::clone(&meter));
    // In deferred mode nothing is committed during the run: the next run, given a
    // state the platform kept, commits what it covers.
    let (ack_tx, committer) = if io.deferred {
        (None, None)
    } else {
        let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Vec<S::Ack>>();
        let committer = tokio::spawn(commit_loop(
            Arc::clone(&source),
            Arc::clone(&conn),
            Arc::clone(&config),
            ack_rx,
            io.commit_every,
        ));
        (Some(ack_tx), Some(committer))
    };

    // The source's `read` runs in this task, beside the writer: records pass through
    // the bounded channel in batches with no cross-thread hand-off per record.
    let mut read = source.read(&conn, &config, &emitter);
    let mut read_result: Option<Result<()>> = None;

    let mut stop = io.stop;
    let mut writer = Writer {
        out: Output::new(io.output),
        line: Vec::with_capacity(1024),
        pending: Vec::new(),
        delivered: 0,
        skipped: Vec::new(),
        ack_tx,
        state_file: if io.deferred { None } else { io.state_file },
        state_lines: io.state_lines,
        checkpoints: 0,
        name,
        meter,
    };

    let end = 'run: loop {
        if *stop.borrow() {
            break End::Signal;
        }
        // Drain whatever is ready without waiting.
        if let Err(end) = writer.drain(&mut received) {
            break end;
        }
        if read_result.is_some() {
            // `read` returned and everything it sent has been written.
            if let Err(end) = writer.deliver() {
                break end;
            }
            break End::Finished;
        }
        let idle = tokio::time::sleep(IDLE_FLUSH);
        tokio::pin!(idle);
        let mut flushed = writer.pending.is_empty();
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                result = &mut read, if read_result.is_none() => {
                    read_result = Some(result);
                    break;
                }
                item = received.recv() => {
                    if let Some(item) = item
                        && let Err(end) = writer.write(item)
                    {
                        break 'run end;
                    }
                    break;
                }
                // The source is quiet: deliver what was written rather than sit on it.
                () = &mut idle, if !flushed => {
                    flushed = true;
                    if let Err(end) = writer.deliver() {
                        break 'run end;
                    }
                }
            }
        }
    };
    // Drop an unfinished `read` before committing: it may hold what the commit needs
    // (a session lock), and it must not emit anything more.
    drop(read);
    progress.finish();
    finish::<S>(end, writer, received, read_result, committer).await
}

/// Serializes records to the output and hands their acks on once flushed; writes each
/// checkpoint as a state line after the records it covers.
struct Writer<W: Write, A> {
    out: Output<W>,
    line: Vec<u8>,
    pending: Vec<A>,
    delivered: u64,
    skipped: Vec<Error>,
    /// `None` in deferred mode: nothing is committed during the run.
    ack_tx: Option<mpsc::UnboundedSender<Vec<A>>>,
    /// Kept up to date with each checkpoint (immediate mode only).
    state_file: Option<PathBuf>,
    /// Whether checkpoints are printed (only for a caller that asked for state, so
    /// plain consumers see records alone).
    state_lines: bool,
    checkpoints: u64,
    name: &'static str,
    meter: Arc<Meter>,
}

impl<W: Write, A> Writer<W, A> {
    fn drain<R: Serialize, St: Serialize>(
        &mut self,
        received: &mut Received<R, A, St>,
    ) -> Result<(), End> {
        loop {
            match received.try_recv() {
                Ok(item) => self.write(item)?,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(()),
            }
        }
    }

    fn write<R: Serialize, St: Serialize>(&mut self, item: Emitted<R, A, St>) -> Result<(), End> {
        match item {
            Emitted::Record(record, ack) => {
                self.line.clear();
                if let Err(e) = crate::line::record_line(&mut self.line, &record) {
                    self.skipped.push(e);
                    return Ok(());
                }
                let len = self.line.len();
                self.out
                    .scratch(&mut self.line)
                    .map_err(End::OutputClosed)?;
                self.recorded(len, ack)?;
            }
            Emitted::Serialized(record, ack) => {
                let line = record.into_line();
                let len = line.len();
                self.out.own(line).map_err(End::OutputClosed)?;
                self.recorded(len, ack)?;
            }
            Emitted::Skipped(err) => {
                tracing::warn!(target: TARGET, activity = self.name, kind = %err.kind(), "skipped, left uncommitted: {err}");
                self.skipped.push(err);
                self.meter.error();
            }
            Emitted::Checkpoint(state) => self.checkpoint(&state)?,
        }
        Ok(())
    }

    /// Counts a record of `len` bytes just written; delivers once [`FLUSH_EVERY`] wait.
    fn recorded(&mut self, len: usize, ack: A) -> Result<(), End> {
        self.meter.item(len as u64, false);
        self.pending.push(ack);
        if self.pending.len() >= FLUSH_EVERY {
            self.deliver()?;
        }
        Ok(())
    }

    /// Delivers the records before it, then writes `{"$state": …}` and flushes; with
    /// `--state FILE` (immediate mode) replaces the file atomically.
    fn checkpoint<St: Serialize>(&mut self, state: &St) -> Result<(), End> {
        self.deliver()?;
        self.checkpoints += 1;
        if !self.state_lines {
            return Ok(());
        }
        let value = serde_json::to_value(state).map_err(|e| {
            End::StateFailed(Error::internal(format!("cannot serialize a state: {e}")))
        })?;
        let value = crate::json::canonical(&value);
        self.line.clear();
        serde_json::to_writer(&mut self.line, &serde_json::json!({ "$state": value })).map_err(
            |e| End::StateFailed(Error::internal(format!("cannot serialize a state: {e}"))),
        )?;
        self.line.push(b'\n');
        self.out.copy(&self.line).map_err(End::OutputClosed)?;
        self.out.flush().map_err(End::OutputClosed)?;
        if let Some(file) = &self.state_file {
            save_state(file, &value).map_err(End::StateFailed)?;
        }
        Ok(())
    }

    /// Flushes, then hands the acks of everything written so far to the committer.
    fn deliver(&mut self) -> Result<(), End> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.out.flush().map_err(End::OutputClosed)?;
        self.delivered += self.pending.len() as u64;
        // The next batch gets a list as large as this one was (regrowing it from
        // nothing for every batch showed in a profile).
        let room = self.pending.capacity();
        let acks = std::mem::replace(&mut self.pending, Vec::with_capacity(room));
        match &self.ack_tx {
            Some(tx) => tx.send(acks).map_err(|_| End::CommitFailed),
            None => Ok(()),
        }
    }
}

/// Replaces `file` with `state` atomically: written beside it, synced, renamed over it,
/// and the directory synced, so a crash leaves the old state or the new one.
fn save_state(file: &Path, state: &serde_json::Value) -> Result<()> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        serde_json::to_writer(&mut f, state)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::internal(format!(
            "cannot write the state file {}: {e}",
            file.display()
        ))
    })
}

async fn finish<S: Source>(
    end: End,
    mut writer: Writer<impl Write, S::Ack>,
    mut received: Received<S::Record, S::Ack, S::State>,
    read_result: Option<Result<()>>,
    committer: Option<tokio::task::JoinHandle<Result<u64>>>,
) -> Result<()> {
    // Whatever is complete in the buffer after a signal was still written in full:
    // deliver it. After a closed output nothing unflushed counts as delivered.
    if matches!(end, End::Signal) {
        let _ = writer.deliver();
    }
    received.stop();
    let undelivered = writer.pending.len();
    let Writer {
        delivered,
        skipped,
        ack_tx,
        checkpoints,
        name,
        meter,
        ..
    } = writer;
    drop(ack_tx);
    let commit_result = match committer {
        None => Ok(0),
        Some(committer) => match committer.await {
            Ok(r) => r,
            Err(e) => Err(Error::internal(format!("the commit task panicked: {e}"))),
        },
    };
    let committed = *commit_result.as_ref().unwrap_or(&0);
    let counts = meter.read();
    let secs = counts.elapsed.as_secs_f64();
    let remaining = counts
        .remaining
        .map(|n| format!("; {n} more wait for the next run"))
        .unwrap_or_default();
    tracing::info!(
        target: TARGET,
        event = "summary",
        activity = name,
        delivered,
        bytes = counts.bytes,
        committed,
        checkpoints,
        skipped = skipped.len(),
        undelivered,
        remaining = counts.remaining,
        duration_ms = u64::try_from(counts.elapsed.as_millis()).unwrap_or(u64::MAX),
        peak_rss_bytes = super::progress::peak_rss_bytes(),
        "summary: {delivered} records ({}) delivered, {committed} committed, {} skipped, {undelivered} undelivered in {secs:.1} s{remaining}",
        super::progress::bytes(counts.bytes),
        skipped.len()
    );

    if let End::StateFailed(e) = end {
        return Err(e);
    }

    if let End::OutputClosed(e) = end {
        return Err(Error::internal(format!(
            "output closed after {delivered} records ({e}); nothing undelivered was committed"
        ))
        .retryable(true));
    }
    commit_result?;
    if matches!(end, End::Signal) {
        // The source may have noticed the stop first and failed because of it.
        if let Some(Err(e)) = read_result {
            tracing::debug!(target: TARGET, "the source ended after the stop with: {e}");
        }
        return Err(super::stopped_error(&format!(
            "{delivered} records delivered and {committed} committed"
        )));
    }
    if let Some(Err(e)) = read_result {
        return Err(e);
    }
    if let Some(first) = skipped.first() {
        let n = skipped.len();
        return Err(Error::new(
            first.kind(),
            format!("{n} item(s) could not be read and were left uncommitted; first: {first}"),
        )
        .retryable(false));
    }
    Ok(())
}

async fn commit_loop<S: Source>(
    source: Arc<S>,
    conn: Arc<S::Connection>,
    config: Arc<S::Config>,
    mut rx: mpsc::UnboundedReceiver<Vec<S::Ack>>,
    every: usize,
) -> Result<u64> {
    let mut batch: Vec<S::Ack> = Vec::new();
    let mut committed: u64 = 0;
    loop {
        let next = if batch.is_empty() {
            rx.recv().await
        } else {
            match tokio::time::timeout(COMMIT_IDLE, rx.recv()).await {
                Ok(next) => next,
                Err(_idle) => {
                    committed += commit(&*source, &conn, &config, &mut batch).await?;
                    continue;
                }
            }
        };
        match next {
            Some(acks) => {
                batch.extend(acks);
                if batch.len() >= every {
                    committed += commit(&*source, &conn, &config, &mut batch).await?;
                }
            }
            None => {
                if !batch.is_empty() {
                    committed += commit(&*source, &conn, &config, &mut batch).await?;
                }
                return Ok(committed);
            }
        }
    }
}

async fn commit<S: Source>(
    source: &S,
    conn: &S::Connection,
    config: &S::Config,
    batch: &mut Vec<S::Ack>,
) -> Result<u64> {
    let acks = std::mem::take(batch);
    let n = acks.len() as u64;
    tracing::debug!(target: TARGET, activity = source.info().name, count = n, "committing");
    source.commit(conn, config, acks).await.map_err(|e| {
        tracing::error!(target: TARGET, "commit failed; those records stay uncommitted and come again: {e}");
        e
    })?;
    Ok(n)
}

#[cfg(test)]
mod tests;
