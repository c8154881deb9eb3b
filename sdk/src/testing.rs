//! Helpers for testing a connector in-process, without the host: drive a
//! [`Source`](crate::Source) through [`channel`] and look at what it emitted.
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

use crate::emit::Emitter;
pub use crate::emit::{Emitted, Received};

/// An [`Emitter`] for a source under test and the [`Received`] half that reads what it
/// emitted; the channel holds up to `capacity` items (sends wait beyond that).
pub fn channel<R, A>(capacity: usize) -> (Emitter<R, A>, Received<R, A>) {
    Emitter::channel(capacity)
}
