//! Helpers for testing a connector in-process, without the host: drive a
//! [`Source`](crate::Source) through [`channel`] and look at what it emitted.
//!
//! Drive a [`Target`](crate::Target) with [`requests`] and [`results`].
//!
//! For tests of the whole program (the binary and its host protocol) use the
//! `connector-testkit` crate instead.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use connector_sdk::testing::{Emitted, channel};
//!
//! let (out, mut received) = channel::<&str, u32>(4);
//! out.emit("a record", 7).await.unwrap();
//! received.stop(); // what the host does on a signal or a closed output
//! assert!(out.emit("another", 8).await.is_err());
//! assert!(matches!(received.recv().await, Some(Emitted::Record("a record", 7))));
//! # }
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::batch::{Requests, Results};
use crate::emit::Emitter;
pub use crate::emit::{Emitted, Received};

/// An [`Emitter`] for a source under test and the [`Received`] half that reads what it
/// emitted; the channel holds up to `capacity` items (sends wait beyond that).
pub fn channel<R, A>(capacity: usize) -> (Emitter<R, A>, Received<R, A>) {
    Emitter::channel(capacity, None)
}

/// Like [`channel`], for a source that keeps a state: `previous` is the state the
/// source sees as the previous run's, and checkpoints arrive as
/// [`Emitted::Checkpoint`].
pub fn channel_with_state<R, A, S>(
    capacity: usize,
    previous: Option<S>,
) -> (Emitter<R, A, S>, Received<R, A, S>) {
    Emitter::channel(capacity, previous)
}

/// A batch of `requests` for a target under test; never stopped.
pub fn requests<R>(requests: Vec<R>) -> Requests<R> {
    let (stop, rx) = tokio::sync::watch::channel(false);
    // Keep the sender alive for the process: the batch is never stopped.
    std::mem::forget(stop);
    Requests::new(requests, rx)
}

/// A [`Results`] for a batch of `len` requests under test, and the lines it wrote (as
/// the host writes them: each result with its `index`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use connector_sdk::testing::results;
///
/// let (out, lines) = results::<serde_json::Value>(2);
/// out.send(1, serde_json::json!({"ok": true})).unwrap();
/// assert_eq!(lines.values(), [serde_json::json!({"index": 1, "ok": true})]);
/// assert!(out.send(1, serde_json::json!({})).is_err(), "reported twice");
/// # }
/// ```
pub fn results<T: Serialize>(len: usize) -> (Results<T>, Lines) {
    let buffer = Lines::default();
    let writer = Box::new(buffer.clone());
    (Results::new(writer, len, Box::new(|_| None)), buffer)
}

/// The lines a [`Results`] from [`results`] wrote; also a `Write` for any test that
/// reads back what was written to it (clones share one buffer).
///
/// ```
/// use std::io::Write as _;
///
/// let lines = connector_sdk::testing::Lines::default();
/// let mut writer = lines.clone();
/// writer.write_all(b"{\"a\":1}\n").unwrap();
/// assert_eq!(lines.text(), "{\"a\":1}\n");
/// assert_eq!(lines.values(), [serde_json::json!({"a": 1})]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<u8>>>);

impl Lines {
    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Everything written so far, as bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Every line written so far, parsed.
    ///
    /// # Panics
    /// When a line is not JSON (a bug in the host).
    pub fn values(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each result is one JSON line"))
            .collect()
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn results_are_written_as_lines_and_read_back_in_order() {
        let (out, lines) = results::<Value>(3);
        assert!(lines.values().is_empty());
        out.send(2, serde_json::json!({"id": "c"})).expect("third");
        out.send(0, serde_json::json!({"id": "a"})).expect("first");
        assert_eq!(
            lines.values(),
            [
                serde_json::json!({"index": 2, "id": "c"}),
                serde_json::json!({"index": 0, "id": "a"}),
            ]
        );
        let mut raw = lines.clone();
        assert_eq!(raw.write(b"{\"more\":1}\n").expect("write"), 11);
        assert_eq!(lines.values().len(), 3);
    }
}
