//! The host closes the connection (LOGOUT, QUIT) after `check`, `discover` and `run`,
//! and waits for it to finish when the run was not stopped (a goodbye may take a while).

use std::sync::atomic::{AtomicUsize, Ordering};

use connector_sdk::prelude::*;

static CLOSED: AtomicUsize = AtomicUsize::new(0);

#[connector_sdk::settings]
/// No settings.
pub struct Empty {}

/// A connection that counts its closing, which takes 400 ms (longer than the 200 ms a
/// stopped run gives it).
#[derive(Debug)]
pub struct Conn;

#[connector_sdk::connection]
impl Connection for Conn {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }

    async fn close(self) -> Result<()> {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        CLOSED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Nothing to read.
#[derive(Debug, Default)]
pub struct Nothing;

/// Reads nothing.
#[connector_sdk::activity(name = "nothing")]
impl Source for Nothing {
    type Connection = Conn;
    type Config = NoConfig;
    type Record = Empty;
    type Ack = u64;

    async fn read(&self, _: &Conn, _: &NoConfig, _: &Emitter<Empty, u64>) -> Result<()> {
        Ok(())
    }

    async fn commit(&self, _: &Conn, _: &NoConfig, _: Vec<u64>) -> Result<()> {
        Ok(())
    }
}

/// A connector whose connection counts its closing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counting;

/// Counts closings.
#[connector_sdk::connector(name = "counting", activities(Nothing))]
impl Connector for Counting {
    type Settings = Empty;
    type Connection = Conn;

    async fn connect(&self, _: Empty) -> Result<Conn> {
        Ok(Conn)
    }
}

#[test]
fn every_command_that_connects_closes_the_connection() {
    let dir = tempfile::tempdir().expect("dir");
    let conn = dir.path().join("conn.json");
    std::fs::write(&conn, "{}").expect("write");
    let conn = conn.to_str().expect("utf-8");
    for (i, args) in [
        vec!["counting", "check", "--connection", conn],
        vec!["counting", "run", "nothing", "--connection", conn],
    ]
    .into_iter()
    .enumerate()
    {
        let code = connector_sdk::host::main_with_args(Counting, args.clone());
        assert_eq!(code, std::process::ExitCode::SUCCESS, "{args:?}");
        assert_eq!(
            CLOSED.load(Ordering::SeqCst),
            i + 1,
            "{args:?} did not close"
        );
    }
}
