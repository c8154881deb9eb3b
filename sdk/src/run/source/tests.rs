//! The run loop against a source that holds its session while emitting, like IMAP:
//! a closed output and a signal end it without deadlock, committing only what was
//! delivered.

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

#[crate::connection]
impl Connection for Session {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }
}

/// A test source's description.
fn info(name: &'static str) -> ActivityInfo {
    ActivityInfo {
        name,
        description: "",
        discovery: false,
    }
}

/// Emits numbers forever while holding the session.
struct Greedy;

impl crate::__private::SourceImpl for Greedy {}

#[async_trait::async_trait]
impl Source for Greedy {
    type Connection = Session;
    type Config = ();
    type Record = u64;
    type Ack = u64;
    type State = ();

    fn info(&self) -> ActivityInfo {
        info("greedy")
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
        state_file: None,
        deferred: false,
        state_lines: false,
        progress_every: Duration::ZERO,
    };
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        run(Arc::new(Greedy), Arc::clone(&conn), Arc::new(()), None, io),
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

/// Emits two records around an item it cannot read.
struct WithUnreadable;

impl crate::__private::SourceImpl for WithUnreadable {}

#[async_trait::async_trait]
impl Source for WithUnreadable {
    type Connection = Session;
    type Config = ();
    type Record = u64;
    type Ack = u64;
    type State = ();

    fn info(&self) -> ActivityInfo {
        info("unreadable")
    }

    async fn read(&self, _: &Session, _: &(), out: &Emitter<u64, u64>) -> Result<()> {
        out.emit(1, 1).await?;
        out.skip(crate::Error::protocol("item 2 cannot be parsed"))
            .await?;
        out.emit(3, 3).await
    }

    async fn commit(&self, conn: &Session, _: &(), acks: Vec<u64>) -> Result<()> {
        conn.committed.lock().expect("lock").extend(acks);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_item_fails_the_run_after_the_rest_is_delivered_and_committed() {
    let conn = Arc::new(Session::default());
    let (_tx, stop) = watch::channel(false);
    let io = RunIo {
        output: Box::new(std::io::sink()),
        stop,
        commit_every: 100,
        state_file: None,
        deferred: false,
        state_lines: false,
        progress_every: Duration::ZERO,
    };
    let result = run(
        Arc::new(WithUnreadable),
        Arc::clone(&conn),
        Arc::new(()),
        None,
        io,
    )
    .await;
    let err = result.expect_err("an unreadable item fails the run");
    assert_eq!(err.kind(), crate::ErrorKind::Protocol);
    assert!(!err.is_retryable(), "{err}");
    assert!(
        err.message().contains("1 item(s) could not be read") && err.message().contains("item 2"),
        "{err}"
    );
    // The items around it were delivered and committed; it was not.
    assert_eq!(*conn.committed.lock().expect("lock"), [1, 3]);
}

/// Emits the same records either as they are or serialized ahead of time.
struct Mixed {
    serialized: bool,
}

impl crate::__private::SourceImpl for Mixed {}

/// Records with what JSON must escape.
fn mixed_records() -> Vec<String> {
    (0..3_000)
        .map(|i| format!("record {i}: \"quoted\", a\ttab and a line\nbreak, ünïcödé"))
        .collect()
}

#[async_trait::async_trait]
impl Source for Mixed {
    type Connection = Session;
    type Config = ();
    type Record = String;
    type Ack = u64;
    type State = ();

    fn info(&self) -> ActivityInfo {
        info("mixed")
    }

    async fn read(&self, _: &Session, _: &(), out: &Emitter<String, u64>) -> Result<()> {
        for (i, record) in mixed_records().into_iter().enumerate() {
            // Every third record as it is, the rest serialized beforehand.
            if self.serialized && i % 3 != 0 {
                out.emit_serialized(crate::Serialized::new(&record)?, i as u64)
                    .await?;
            } else {
                out.emit(record, i as u64).await?;
            }
        }
        Ok(())
    }

    async fn commit(&self, conn: &Session, _: &(), acks: Vec<u64>) -> Result<()> {
        conn.committed.lock().expect("lock").extend(acks);
        Ok(())
    }
}

async fn run_mixed(serialized: bool) -> (Vec<u8>, Vec<u64>) {
    let conn = Arc::new(Session::default());
    let output = crate::testing::Lines::default();
    let (_tx, stop) = watch::channel(false);
    let io = RunIo {
        output: Box::new(output.clone()),
        stop,
        commit_every: 100,
        state_file: None,
        deferred: false,
        state_lines: false,
        progress_every: Duration::ZERO,
    };
    run(
        Arc::new(Mixed { serialized }),
        Arc::clone(&conn),
        Arc::new(()),
        None,
        io,
    )
    .await
    .expect("the run succeeds");
    let written = output.bytes();
    let committed = conn.committed.lock().expect("lock").clone();
    (written, committed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_serialized_by_the_source_are_written_and_committed_like_the_rest() {
    let (plain, plain_committed) = run_mixed(false).await;
    let (mixed, mixed_committed) = run_mixed(true).await;
    // Byte for byte the same output, one line per record, each reading back.
    assert_eq!(mixed, plain);
    let lines: Vec<String> = mixed
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("a JSON string per line"))
        .collect();
    assert_eq!(lines, mixed_records());
    // Every record committed, in the order emitted, whichever way it came.
    let all: Vec<u64> = (0..3_000).collect();
    assert_eq!(mixed_committed, all);
    assert_eq!(plain_committed, all);
}
