//! [`Emitter`]: how a source hands records and their acknowledgements to the host.
//! Below the activity traits (a source's `read` takes one) and the run loop (which
//! drains it).

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

use crate::error::{Error, Result};
use crate::meter::Meter;

/// What a source emitted: a record with its acknowledgement, or an item it could not
/// read (reported, never committed).
#[derive(Debug)]
pub enum Emitted<R, A, S = ()> {
    /// A record and the token that commits it.
    Record(R, A),
    /// A record already written as its line of JSON, and the token that commits it
    /// ([`Emitter::emit_serialized`]).
    Serialized(Serialized<R>, A),
    /// An item that could not be turned into a record; it stays uncommitted.
    Skipped(Error),
    /// The source's position after every record emitted before it.
    Checkpoint(S),
}

/// A record already written as the line of JSON the host would write for it.
///
/// The host writes each record as one line of compact JSON on the thread that runs
/// the source's `read`. A source that builds its records on other threads (a pool
/// of parsers, say) can write the line there too, with [`Serialized::new`], and hand
/// it over with [`Emitter::emit_serialized`]: the host then writes the bytes as they
/// stand instead of serializing and freeing a record, and the record is freed where it
/// was built. The bytes are exactly those the host writes for [`Emitter::emit`] of the
/// same record. Once written, the line's buffer is kept for the next `Serialized` (a
/// bounded pool), so lines made on one thread and freed on another do not make the
/// allocator hand memory back and forth.
///
/// ```
/// use connector_sdk::Serialized;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Row {
///     id: u32,
///     text: String,
/// }
///
/// let row = Row { id: 7, text: "a \"quoted\" line".into() };
/// let line = Serialized::new(&row).unwrap();
/// assert_eq!(line.json(), br#"{"id":7,"text":"a \"quoted\" line"}"#);
/// assert_eq!(line.to_record().unwrap(), row);
/// ```
pub struct Serialized<R> {
    /// The JSON and its line break.
    line: Vec<u8>,
    record: PhantomData<fn() -> R>,
}

impl<R: Serialize> Serialized<R> {
    /// Writes `record` as its line.
    ///
    /// # Errors
    /// When the record cannot be serialized (serde_json's reason: a map with keys
    /// that are not strings, a `Serialize` impl that fails); report the item with
    /// [`Emitter::skip`].
    pub fn new(record: &R) -> Result<Self> {
        Self::with_capacity(record, 0)
    }

    /// Like [`new`](Self::new), with room for `capacity` bytes made at once (say,
    /// the size of what the record was built from), so a large record is not
    /// copied as its line grows.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_capacity(record: &R, capacity: usize) -> Result<Self> {
        Self::written(record, capacity)
    }
}

impl<R> Serialized<R> {
    /// `record` written as a line, with room for `capacity` bytes.
    fn written<T: Serialize + ?Sized>(record: &T, capacity: usize) -> Result<Self> {
        let mut line = Self {
            line: crate::recycle::LINES.take(capacity.max(256)),
            record: PhantomData,
        };
        crate::line::record_line(&mut line.line, record)?;
        Ok(line)
    }
}

/// A type written exactly as the record type `R`: a borrowed form of it, such as
/// `Row<'a>` for a source whose records are `Row<'static>`, with its text pointing
/// into what the record was read from. [`Serialized::from_borrowed`] writes such a
/// record as a line of `R` without copying its text into owned strings first.
///
/// Implement it for the borrowed form of your record type (the same type at another
/// lifetime), whose JSON is the same by construction:
///
/// ```
/// use std::borrow::Cow;
///
/// use connector_sdk::SerializeAs;
///
/// #[derive(serde::Serialize)]
/// struct Row<'a> {
///     text: Cow<'a, str>,
/// }
///
/// // Every `Row` is written as a `Row<'static>`, the type the source emits.
/// impl<'a> SerializeAs<Row<'static>> for Row<'a> {}
///
/// fn writes_as<R, T: SerializeAs<R>>(_: &T) {}
/// let input = String::from("borrowed");
/// writes_as::<Row<'static>, _>(&Row { text: Cow::Borrowed(&input) });
/// ```
pub trait SerializeAs<R>: Serialize {}

impl<R> Serialized<R> {
    /// Writes `record`, a borrowed form of `R` ([`SerializeAs`]), as the line of an
    /// `R`, with room for `capacity` bytes made at once.
    ///
    /// ```
    /// use std::borrow::Cow;
    ///
    /// use connector_sdk::{SerializeAs, Serialized};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize, Debug, PartialEq)]
    /// struct Row<'a> {
    ///     id: u32,
    ///     text: Cow<'a, str>,
    /// }
    ///
    /// impl<'a> SerializeAs<Row<'static>> for Row<'a> {}
    ///
    /// let input = String::from("word and more");
    /// let row = Row { id: 7, text: Cow::Borrowed(&input[..4]) };
    /// let line: Serialized<Row<'static>> = Serialized::from_borrowed(&row, 64).unwrap();
    /// drop(input);
    /// assert_eq!(line.json(), br#"{"id":7,"text":"word"}"#);
    /// assert_eq!(line.to_record().unwrap(), Row { id: 7, text: "word".into() });
    /// ```
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_borrowed<T: SerializeAs<R> + ?Sized>(record: &T, capacity: usize) -> Result<Self> {
        Self::written(record, capacity)
    }

    /// The record's JSON, without the line break.
    pub fn json(&self) -> &[u8] {
        &self.line[..self.line.len() - 1]
    }

    /// The record read back from its JSON (for tests that look at what a source
    /// emitted).
    ///
    /// # Errors
    /// When `R`'s `Deserialize` does not read what its `Serialize` wrote.
    pub fn to_record(&self) -> Result<R>
    where
        R: DeserializeOwned,
    {
        serde_json::from_slice(self.json())
            .map_err(|e| Error::internal(format!("a serialized record cannot be read back: {e}")))
    }

    /// The line as the host writes it: the JSON and a line break.
    #[cfg(test)]
    pub(crate) fn line(&self) -> &[u8] {
        &self.line
    }

    /// The line's buffer, to write (and give back to the pool once written).
    pub(crate) fn into_line(mut self) -> Vec<u8> {
        std::mem::take(&mut self.line)
    }
}

impl<R> Drop for Serialized<R> {
    /// The buffer goes back to the SDK's pool, for the next line written ahead of
    /// time (the host frees lines on its own thread: see `recycle`).
    fn drop(&mut self) {
        crate::recycle::LINES.give(std::mem::take(&mut self.line));
    }
}

impl<R> std::fmt::Debug for Serialized<R> {
    /// The length only: a record's content is the user's data, not a log line's.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serialized")
            .field("bytes", &self.json().len())
            .finish()
    }
}

/// The sending half a [`Source`](crate::Source) writes to.
///
/// Sending waits while the host is behind (the channel is bounded), so a source never
/// holds more than a few batches in memory. Once the host stops the run (closed
/// output, a signal, a failed commit) every send fails and the source should return.
///
/// In tests, [`testing::channel`](crate::testing::channel) makes one without the host:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use connector_sdk::testing::{Emitted, channel};
///
/// let (out, mut received) = channel::<String, u64>(16);
/// out.emit("first".to_owned(), 1).await.unwrap();
/// drop(out);
/// let item = received.recv().await.unwrap();
/// assert!(matches!(item, Emitted::Record(r, 1) if r == "first"));
/// assert!(received.recv().await.is_none());
/// # }
/// ```
#[derive(Debug)]
pub struct Emitter<R, A, S = ()> {
    meter: Arc<Meter>,
    tx: mpsc::Sender<Emitted<R, A, S>>,
    stop: watch::Receiver<bool>,
    previous: Option<S>,
}

/// The receiving half of [`testing::channel`](crate::testing::channel), for tests that
/// drive a source without the host.
#[derive(Debug)]
pub struct Received<R, A, S = ()> {
    rx: mpsc::Receiver<Emitted<R, A, S>>,
    stop: Option<watch::Sender<bool>>,
}

impl<R, A, S> Received<R, A, S> {
    /// The next item, or `None` once the source has finished.
    pub async fn recv(&mut self) -> Option<Emitted<R, A, S>> {
        self.rx.recv().await
    }

    /// Tells the source to stop: its next send fails.
    pub fn stop(&mut self) {
        if let Some(stop) = &self.stop {
            let _ = stop.send(true);
        }
        self.rx.close();
    }

    pub(crate) fn try_recv(&mut self) -> Result<Emitted<R, A, S>, mpsc::error::TryRecvError> {
        self.rx.try_recv()
    }
}

fn stopped() -> Error {
    Error::internal("the host stopped the run")
}

impl<R, A, S> Emitter<R, A, S> {
    /// An emitter and its receiving half, with a stop flag only the receiver sets.
    pub(crate) fn channel(capacity: usize, previous: Option<S>) -> (Self, Received<R, A, S>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Self {
                meter: Arc::default(),
                tx,
                stop: stop_rx,
                previous,
            },
            Received {
                rx,
                stop: Some(stop_tx),
            },
        )
    }

    pub(crate) fn with_stop(
        capacity: usize,
        stop: watch::Receiver<bool>,
        previous: Option<S>,
        meter: Arc<Meter>,
    ) -> (Self, Received<R, A, S>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Self {
                meter,
                tx,
                stop,
                previous,
            },
            Received { rx, stop: None },
        )
    }

    /// Says how many records this run expects to emit in all, once known (say, after
    /// a search): the progress line then shows `done/total`.
    ///
    /// ```
    /// # let (out, _rx) = connector_sdk::testing::channel::<String, u64>(4);
    /// out.expect(250);
    /// ```
    pub fn expect(&self, total: u64) {
        self.meter.set_total(total);
    }

    /// Says how many items wait beyond this run (say, messages over `max_messages`):
    /// the run's summary reports them, so an operator knows more work is waiting.
    ///
    /// ```
    /// # let (out, _rx) = connector_sdk::testing::channel::<String, u64>(4);
    /// out.remaining(1_200);
    /// ```
    pub fn remaining(&self, items: u64) {
        self.meter.set_remaining(items);
    }

    /// The state the previous run ended with (`run --state FILE`), if any: where to
    /// go on from. `None` on a first run.
    pub fn previous_state(&self) -> Option<&S> {
        self.previous.as_ref()
    }

    /// Records the source's position after every record emitted so far. The host
    /// writes it as a state line after those records (and, with `--state FILE`, into
    /// the file once they are flushed), so a later run given it goes on from there.
    ///
    /// # Errors
    /// When the host has stopped the run.
    pub async fn checkpoint(&self, state: S) -> Result<()> {
        self.send(Emitted::Checkpoint(state)).await
    }

    /// Hands one record and its acknowledgement to the host.
    ///
    /// # Errors
    /// When the host has stopped the run; the record will not be delivered.
    pub async fn emit(&self, record: R, ack: A) -> Result<()> {
        self.send(Emitted::Record(record, ack)).await
    }

    /// Hands one record written ahead of time ([`Serialized`]) and its
    /// acknowledgement to the host, which writes its line as it stands.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use connector_sdk::Serialized;
    /// use connector_sdk::testing::{Emitted, channel};
    ///
    /// let (out, mut received) = channel::<String, u64>(4);
    /// let line = Serialized::new(&"built elsewhere".to_owned()).unwrap();
    /// out.emit_serialized(line, 1).await.unwrap();
    /// let Some(Emitted::Serialized(line, 1)) = received.recv().await else {
    ///     panic!("a serialized record");
    /// };
    /// assert_eq!(line.to_record().unwrap(), "built elsewhere");
    /// # }
    /// ```
    ///
    /// # Errors
    /// When the host has stopped the run; the record will not be delivered.
    pub async fn emit_serialized(&self, record: Serialized<R>, ack: A) -> Result<()> {
        self.send(Emitted::Serialized(record, ack)).await
    }

    /// Reports an item that could not be read (say, a message whose MIME cannot be
    /// parsed). The host logs it, and the run ends with exit status 1 after everything
    /// else was delivered and committed.
    ///
    /// # Errors
    /// When the host has stopped the run.
    pub async fn skip(&self, error: Error) -> Result<()> {
        self.send(Emitted::Skipped(error)).await
    }

    /// Whether the host has stopped the run; long fetches should check it.
    pub fn is_stopped(&self) -> bool {
        *self.stop.borrow() || self.tx.is_closed()
    }

    async fn send(&self, item: Emitted<R, A, S>) -> Result<()> {
        if *self.stop.borrow() {
            return Err(stopped());
        }
        self.tx.send(item).await.map_err(|_| stopped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_and_what_remains_reach_the_meter() {
        let (out, _rx) = Emitter::<u32, u32>::channel(4, None);
        let counts = out.meter.read();
        assert_eq!((counts.total, counts.remaining), (None, None));
        out.expect(250);
        out.remaining(1_200);
        let counts = out.meter.read();
        assert_eq!((counts.total, counts.remaining), (Some(250), Some(1_200)));
    }

    #[test]
    fn a_serialized_record_is_serde_jsons_line_and_never_shows_its_content() {
        let record = serde_json::json!({"subject": "secret plans \u{1}", "n": [1, 2.5, null]});
        let line = Serialized::new(&record).expect("serializable");
        assert_eq!(line.json(), serde_json::to_vec(&record).expect("json"));
        assert_eq!(line.line().last(), Some(&b'\n'));
        assert_eq!(line.to_record().expect("reads back"), record);
        let shown = format!("{line:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(
            shown,
            format!("Serialized {{ bytes: {} }}", line.json().len())
        );
    }

    #[test]
    fn a_record_serde_json_refuses_is_an_error_to_report() {
        let keys: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let err = Serialized::new(&keys).expect_err("tuple keys are no JSON");
        assert_eq!(err.kind(), crate::ErrorKind::Internal);
        assert!(err.message().contains("cannot be serialized"), "{err}");
    }

    #[test]
    fn a_source_sees_the_stop_and_a_closed_receiver() {
        let (out, mut rx) = Emitter::<u32, u32>::channel(4, None);
        assert!(!out.is_stopped());
        rx.stop();
        assert!(out.is_stopped(), "the host stopped the run");

        // A receiver dropped without a stop (the host gone) counts as stopped too.
        let (out, rx) = Emitter::<u32, u32>::channel(4, None);
        drop(rx);
        assert!(out.is_stopped(), "nobody takes records any more");
    }
}
