//! The run loop: how one activity runs once its settings and input are valid.
//! [`source`] writes records as JSON Lines and commits what was delivered; [`target`]
//! calls the target and writes its response.
//!
//! Above the activity traits, below the registry (which erases the types and calls
//! in here).

pub(crate) mod source;
pub(crate) mod target;

use std::io::Write;

use tokio::sync::watch;

/// Where a run writes and what stops it.
pub(crate) struct RunIo {
    pub(crate) output: Box<dyn Write + Send>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) commit_every: usize,
    /// Sources: the file kept up to date with each checkpoint (`--state FILE`).
    pub(crate) state_file: Option<std::path::PathBuf>,
    /// Sources: commit nothing during the run; commit what a given state covers.
    pub(crate) deferred: bool,
    /// Sources: print checkpoints as state lines (the caller asked for state).
    pub(crate) state_lines: bool,
}

/// Resolves once the stop flag is set (never, if its sender is gone unset).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        if stop.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
