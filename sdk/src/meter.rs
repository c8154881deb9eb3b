//! [`Meter`]: what a run has done so far (items, bytes, errors) and what it expects, as
//! counters the run loop, the emitter and the results share; the host shows them as a
//! progress line or log events and sums them up at the end.
//!
//! Data only, below the activity traits: nothing here prints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters of one run. `u64::MAX` in `total` and `remaining` means not known.
#[derive(Debug)]
pub(crate) struct Meter {
    started: Instant,
    done: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    total: AtomicU64,
    remaining: AtomicU64,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            total: AtomicU64::new(u64::MAX),
            remaining: AtomicU64::new(u64::MAX),
        }
    }
}

/// A reading of a [`Meter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) done: u64,
    pub(crate) bytes: u64,
    pub(crate) errors: u64,
    pub(crate) total: Option<u64>,
    pub(crate) remaining: Option<u64>,
    pub(crate) elapsed: Duration,
}

impl Meter {
    /// One item done (a record written, a result reported), `bytes` long.
    pub(crate) fn item(&self, bytes: u64, failed: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One item that could not be done (an unreadable message).
    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// How many items the run expects in all.
    pub(crate) fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// How many items wait beyond this run.
    pub(crate) fn set_remaining(&self, remaining: u64) {
        self.remaining.store(remaining, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn read(&self) -> Counts {
        let known = |v: u64| (v != u64::MAX).then_some(v);
        Counts {
            done: self.done.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            total: known(self.total.load(Ordering::Relaxed)),
            remaining: known(self.remaining.load(Ordering::Relaxed)),
            elapsed: self.started.elapsed(),
        }
    }
}

impl Counts {
    /// Items per second so far.
    pub(crate) fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_unknowns_stay_unknown() {
        let m = Meter::default();
        assert_eq!((m.read().total, m.read().remaining), (None, None));
        m.item(10, false);
        m.item(5, true);
        m.error();
        m.set_total(7);
        m.set_remaining(3);
        let c = m.read();
        assert_eq!(
            (c.done, c.bytes, c.errors, c.total, c.remaining),
            (2, 15, 2, Some(7), Some(3))
        );
    }
}
