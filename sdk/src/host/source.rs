//! Running a source: records out as JSON Lines, flushed, then committed in batches.
//!
//! Three tasks share the work: the source's `read` (spawned), this writer, and a
//! committer (spawned). The writer never waits for a commit, so a source that holds
//! its connection while emitting cannot deadlock against its own commit.

use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::activity::RunIo;
use crate::connector::Source;
use crate::emit::{Emitted, Emitter};
use crate::error::{Error, Result};

const TARGET: &str = "connector_sdk::host";
/// Records in flight between the source and the writer.
const CHANNEL: usize = 1024;
/// Flush at least this often (in records) while the source keeps the channel full.
const FLUSH_EVERY: usize = 1024;
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
    let reader = tokio::spawn({
        let (source, conn, config) = (Arc::clone(&source), Arc::clone(&conn), Arc::clone(&config));
        async move { source.read(&conn, &config, &emitter).await }
    });
    let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Vec<S::Ack>>();
    let committer = tokio::spawn(commit_loop(
        Arc::clone(&source),
        Arc::clone(&conn),
        Arc::clone(&config),
        ack_rx,
        io.commit_every,
    ));

    let mut stop = io.stop;
    let mut out = BufWriter::with_capacity(64 * 1024, io.output);
    let mut pending: Vec<S::Ack> = Vec::new();
    let mut delivered: u64 = 0;
    let mut skipped: Vec<Error> = Vec::new();
    let mut line: Vec<u8> = Vec::with_capacity(1024);

    // Hands the acks of everything written so far to the committer, once flushed.
    macro_rules! deliver {
        () => {
            if !pending.is_empty() {
                if let Err(e) = out.flush() {
                    break End::OutputClosed(e);
                }
                delivered += pending.len() as u64;
                if ack_tx.send(std::mem::take(&mut pending)).is_err() {
                    break End::CommitFailed;
                }
            }
        };
    }

    let end = loop {
        if *stop.borrow() {
            break End::Signal;
        }
        let item = match received.try_recv() {
            Ok(item) => Some(item),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                // The source is busy: deliver what we have rather than sit on it.
                deliver!();
                tokio::select! {
                    biased;
                    _ = stop.changed() => break End::Signal,
                    item = received.recv() => item,
                }
            }
        };
        match item {
            None => {
                deliver!();
                break End::Finished;
            }
            Some(Emitted::Record(record, ack)) => {
                line.clear();
                if let Err(e) = serde_json::to_writer(&mut line, &record) {
                    skipped.push(Error::internal(format!("a record cannot be serialized: {e}")));
                    continue;
                }
                line.push(b'\n');
                if let Err(e) = out.write_all(&line) {
                    break End::OutputClosed(e);
                }
                pending.push(ack);
                if pending.len() >= FLUSH_EVERY {
                    deliver!();
                }
            }
            Some(Emitted::Skipped(err)) => {
                tracing::warn!(target: TARGET, activity = name, kind = %err.kind(), "skipped, left uncommitted: {err}");
                skipped.push(err);
            }
        }
    };

    // Whatever is complete in the buffer after a signal was still written in full:
    // deliver it. After a closed output nothing unflushed counts as delivered.
    if matches!(end, End::Signal) && !pending.is_empty() && out.flush().is_ok() {
        delivered += pending.len() as u64;
        let _ = ack_tx.send(std::mem::take(&mut pending));
    }
    let undelivered = pending.len();
    drop(pending);
    drop(ack_tx);
    let stopped_early = !matches!(end, End::Finished);
    if stopped_early {
        received.stop();
        reader.abort();
    }
    let read_result = match reader.await {
        Ok(r) => r,
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(Error::internal(format!("the source panicked: {e}"))),
    };
    let commit_result = match committer.await {
        Ok(r) => r,
        Err(e) => Err(Error::internal(format!("the commit task panicked: {e}"))),
    };
    let committed = *commit_result.as_ref().unwrap_or(&0);
    tracing::info!(target: TARGET, activity = name, delivered, committed, skipped = skipped.len(), undelivered, "source run ended");

    match end {
        End::OutputClosed(e) => {
            return Err(Error::internal(format!(
                "output closed after {delivered} records ({e}); nothing undelivered was committed"
            ))
            .retryable(true));
        }
        End::CommitFailed | End::Finished | End::Signal => {}
    }
    commit_result?;
    if !stopped_early || matches!(end, End::CommitFailed) {
        read_result?;
    }
    if matches!(end, End::Signal) {
        return Err(Error::internal(format!(
            "interrupted by a signal after {delivered} delivered and {committed} committed records"
        ))
        .retryable(true));
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
