//! Running a source: records out as JSON Lines, flushed, then committed in batches.
//!
//! The source's `read` and the writer share one task (records cross the bounded
//! channel in batches, with no thread hand-off per record); commits run in a task of
//! their own, so the writer never waits for a commit and a source that holds its
//! connection while emitting cannot deadlock against its own commit.

use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::RunIo;
use crate::activity::Source;
use crate::emit::{Emitted, Emitter, Received};
use crate::error::{Error, Result};

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
}

pub(crate) async fn run<S: Source>(
    source: Arc<S>,
    conn: Arc<S::Connection>,
    config: Arc<S::Config>,
    io: RunIo,
) -> Result<()> {
    let name = source.info().name;
    let (emitter, mut received) = Emitter::with_stop(CHANNEL, io.stop.clone());
    let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Vec<S::Ack>>();
    let committer = tokio::spawn(commit_loop(
        Arc::clone(&source),
        Arc::clone(&conn),
        Arc::clone(&config),
        ack_rx,
        io.commit_every,
    ));

    // The source's `read` runs in this task, beside the writer: records pass through
    // the bounded channel in batches with no cross-thread hand-off per record.
    let mut read = source.read(&conn, &config, &emitter);
    let mut read_result: Option<Result<()>> = None;

    let mut stop = io.stop;
    let mut writer = Writer {
        out: BufWriter::with_capacity(64 * 1024, io.output),
        line: Vec::with_capacity(1024),
        pending: Vec::new(),
        delivered: 0,
        skipped: Vec::new(),
        ack_tx,
        name,
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
    finish::<S>(end, writer, received, read_result, committer).await
}

/// Serializes records to the output and hands their acks on once flushed.
struct Writer<W: Write, A> {
    out: BufWriter<W>,
    line: Vec<u8>,
    pending: Vec<A>,
    delivered: u64,
    skipped: Vec<Error>,
    ack_tx: mpsc::UnboundedSender<Vec<A>>,
    name: &'static str,
}

impl<W: Write, A> Writer<W, A> {
    fn drain<R: serde::Serialize>(&mut self, received: &mut Received<R, A>) -> Result<(), End> {
        loop {
            match received.try_recv() {
                Ok(item) => self.write(item)?,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(()),
            }
        }
    }

    fn write<R: serde::Serialize>(&mut self, item: Emitted<R, A>) -> Result<(), End> {
        match item {
            Emitted::Record(record, ack) => {
                self.line.clear();
                if let Err(e) = serde_json::to_writer(&mut self.line, &record) {
                    self.skipped.push(Error::internal(format!(
                        "a record cannot be serialized: {e}"
                    )));
                    return Ok(());
                }
                self.line.push(b'\n');
                self.out.write_all(&self.line).map_err(End::OutputClosed)?;
                self.pending.push(ack);
                if self.pending.len() >= FLUSH_EVERY {
                    self.deliver()?;
                }
            }
            Emitted::Skipped(err) => {
                tracing::warn!(target: TARGET, activity = self.name, kind = %err.kind(), "skipped, left uncommitted: {err}");
                self.skipped.push(err);
            }
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
        self.ack_tx
            .send(std::mem::take(&mut self.pending))
            .map_err(|_| End::CommitFailed)
    }
}

async fn finish<S: Source>(
    end: End,
    mut writer: Writer<impl Write, S::Ack>,
    mut received: Received<S::Record, S::Ack>,
    read_result: Option<Result<()>>,
    committer: tokio::task::JoinHandle<Result<u64>>,
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
        name,
        ..
    } = writer;
    drop(ack_tx);
    let commit_result = match committer.await {
        Ok(r) => r,
        Err(e) => Err(Error::internal(format!("the commit task panicked: {e}"))),
    };
    let committed = *commit_result.as_ref().unwrap_or(&0);
    tracing::info!(target: TARGET, activity = name, delivered, committed, skipped = skipped.len(), undelivered, "source run ended");

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
        return Err(Error::interrupted(format!(
            "interrupted by a signal after {delivered} delivered and {committed} committed records"
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
mod tests {
    use std::sync::Mutex as StdMutex;

    use tokio::sync::{Mutex, watch};

    use super::*;
    use crate::{ActivityInfo, CheckReport, Connection};

    /// A connection whose single session both `read` and `commit` need, like IMAP.
    #[derive(Debug, Default)]
    struct Session {
        lock: Mutex<()>,
        committed: StdMutex<Vec<u64>>,
    }

    #[async_trait::async_trait]
    impl Connection for Session {
        async fn check(&self) -> CheckReport {
            CheckReport::new()
        }
    }

    /// Emits numbers forever while holding the session.
    struct Greedy;

    #[async_trait::async_trait]
    impl Source for Greedy {
        type Connection = Session;
        type Config = ();
        type Record = u64;
        type Ack = u64;

        fn info(&self) -> ActivityInfo {
            ActivityInfo {
                name: "greedy",
                description: "",
                discovery: false,
            }
        }

        async fn read(&self, conn: &Session, _: &(), out: &Emitter<u64, u64>) -> Result<()> {
            let _held = conn.lock.lock().await;
            for i in 0.. {
                out.emit(i, i).await?;
            }
            Ok(())
        }

        async fn commit(&self, conn: &Session, _: &(), acks: Vec<u64>) -> Result<()> {
            let _held = conn.lock.lock().await;
            conn.committed.lock().expect("lock").extend(acks);
            Ok(())
        }
    }

    /// Accepts `limit` bytes, then fails like a closed pipe.
    struct Closing {
        written: usize,
        limit: usize,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.written + buf.len() > self.limit {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.written += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn run_greedy(
        output: Box<dyn Write + Send>,
        stop: watch::Receiver<bool>,
    ) -> (Result<()>, Vec<u64>) {
        let conn = Arc::new(Session::default());
        let io = RunIo {
            output,
            stop,
            commit_every: 100,
        };
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            run(Arc::new(Greedy), Arc::clone(&conn), Arc::new(()), io),
        )
        .await
        .expect("the run must end, not deadlock on the session");
        let committed = conn.committed.lock().expect("lock").clone();
        (result, committed)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_output_ends_the_run_and_commits_only_flushed_records() {
        let (_tx, stop) = watch::channel(false);
        // Each record `i\n` is a few bytes: the output takes about 5,000 records.
        let (result, committed) = run_greedy(
            Box::new(Closing {
                written: 0,
                limit: 25_000,
            }),
            stop,
        )
        .await;
        let err = result.expect_err("closed output is an error");
        assert!(err.message().starts_with("output closed"), "{err}");
        // Committed records are a prefix of what was emitted and fit in what was written.
        let written: usize = committed.iter().map(|i| i.to_string().len() + 1).sum();
        assert!(
            written <= 25_000,
            "committed {} records ({written} bytes)",
            committed.len()
        );
        assert!(committed.iter().enumerate().all(|(i, v)| *v == i as u64));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_signal_ends_a_source_that_holds_its_session() {
        let (tx, stop) = watch::channel(false);
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = tx.send(true);
            tx
        });
        let (result, committed) = run_greedy(Box::new(std::io::sink()), stop).await;
        drop(stopper.await);
        let err = result.expect_err("a signal ends the run with an error");
        assert!(
            err.message().starts_with("interrupted by a signal"),
            "{err}"
        );
        assert!(!committed.is_empty(), "what was delivered is committed");
    }
}
