//! The run loop: how one activity runs once its settings and input are valid.
//! [`source`] writes records as JSON Lines and commits what was delivered; [`target`]
//! calls the target and writes its response.
//!
//! Above the activity traits, below the registry (which erases the types and calls
//! in here).

pub(crate) mod progress;
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
    /// Off a terminal, how often a progress event is logged (zero: never).
    pub(crate) progress_every: std::time::Duration,
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

/// Why a run was told to stop: a signal, or its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopCause {
    /// SIGINT or SIGTERM (its number).
    Signal(u8),
    /// `--deadline` passed (its seconds).
    Deadline(u64),
}

static STOP_CAUSE: std::sync::Mutex<Option<StopCause>> = std::sync::Mutex::new(None);

/// Records why the run is being stopped (the first cause wins).
pub(crate) fn set_stop_cause(cause: StopCause) {
    if let Ok(mut c) = STOP_CAUSE.lock()
        && c.is_none()
    {
        *c = Some(cause);
    }
}

/// Why the run was stopped, if it was.
pub(crate) fn stop_cause() -> Option<StopCause> {
    STOP_CAUSE.lock().ok().and_then(|c| *c)
}

/// The error a stopped run ends with: `interrupted` after a signal, `timeout` (retryable)
/// after the deadline; `done` says what was done before.
pub(crate) fn stopped_error(done: &str) -> crate::error::Error {
    use crate::error::Error;
    match stop_cause() {
        Some(StopCause::Deadline(secs)) => Error::timeout(format!(
            "stopped at the run's deadline ({secs} s, --deadline): {done}"
        )),
        _ => Error::interrupted(format!("interrupted by a signal: {done}")),
    }
}
