//! A run stopped by its deadline (as by SIGTERM) gives the connection's goodbye little
//! time: the exit is promised within 2 s, so a `close` that hangs is left behind.
//! (Its own process: the stop is process-wide.)

use std::time::{Duration, Instant};

use connector_sdk::prelude::*;

#[connector_sdk::settings]
/// No settings.
pub struct Empty {}

/// A connection whose goodbye never ends.
#[derive(Debug)]
pub struct Conn;

#[connector_sdk::connection]
impl Connection for Conn {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }

    async fn close(self) -> Result<()> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    }
}

/// Reads until told to stop.
#[derive(Debug, Default)]
pub struct Waiting;

/// Waits for the stop.
#[connector_sdk::activity(name = "waiting")]
impl Source for Waiting {
    type Connection = Conn;
    type Config = NoConfig;
    type Record = Empty;
    type Ack = u64;

    async fn read(&self, _: &Conn, _: &NoConfig, out: &Emitter<Empty, u64>) -> Result<()> {
        while !out.is_stopped() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    async fn commit(&self, _: &Conn, _: &NoConfig, _: Vec<u64>) -> Result<()> {
        Ok(())
    }
}

/// A connector whose connection hangs when closed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Hanging;

/// Hangs on close.
#[connector_sdk::connector(name = "hanging", activities(Waiting))]
impl Connector for Hanging {
    type Settings = Empty;
    type Connection = Conn;

    async fn connect(&self, _: Empty) -> Result<Conn> {
        Ok(Conn)
    }
}

#[test]
fn a_stopped_run_does_not_wait_for_a_hanging_close() {
    let dir = tempfile::tempdir().expect("dir");
    let conn = dir.path().join("conn.json");
    std::fs::write(&conn, "{}").expect("write");
    let conn = conn.to_str().expect("utf-8");
    let started = Instant::now();
    let code = connector_sdk::host::main_with_args(
        Hanging,
        [
            "hanging",
            "run",
            "waiting",
            "--connection",
            conn,
            "--deadline",
            "1",
        ],
    );
    let took = started.elapsed();
    assert_ne!(
        code,
        std::process::ExitCode::SUCCESS,
        "a deadline is not a success"
    );
    assert!(
        took < Duration::from_secs(3),
        "the run took {took:?}: it waited for the connection's goodbye"
    );
}
