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
