//! A target's batch: [`Requests`] it pulls work from (the host stops feeding them after
//! a signal) and [`Results`] it reports each outcome to as soon as it is known (the
//! host writes it at once as one JSON line, flushed, with the request's `index`).
//!
//! Beside [`crate::emit`] and below the activity traits: a target's `call` takes both.

use std::collections::VecDeque;
use std::io::Write;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::meter::Meter;

/// The requests of a batch, validated, in input order, each with its index. Several
/// workers may pull from it at once.
///
/// ```
/// use connector_sdk::testing::requests;
///
/// let batch = requests(vec!["a", "b"]);
/// assert_eq!(batch.len(), 2);
/// assert_eq!(batch.next(), Some((0, "a")));
/// assert_eq!(batch.next(), Some((1, "b")));
/// assert_eq!(batch.next(), None);
/// ```
pub struct Requests<R> {
    pending: Mutex<Pending<R>>,
    len: usize,
    stop: watch::Receiver<bool>,
}

/// Where the requests still to hand out are.
enum Pending<R> {
    /// Held, typed.
    Queue(VecDeque<(usize, R)>),
    /// Read from the input one at a time as they are handed out (the host keeps the
    /// input's text, not a typed copy of every request: memory does not grow with
    /// the batch beyond the text itself).
    Lazy {
        next: usize,
        fetch: Box<dyn FnMut(usize) -> Option<R> + Send>,
    },
}

impl<R> std::fmt::Debug for Requests<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("len", &self.len)
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl<R> Requests<R> {
    pub(crate) fn new(requests: Vec<R>, stop: watch::Receiver<bool>) -> Self {
        let len = requests.len();
        Self {
            pending: Mutex::new(Pending::Queue(requests.into_iter().enumerate().collect())),
            len,
            stop,
        }
    }

    /// `len` requests, the one at index `i` made by `fetch(i)` when it is handed out
    /// (in order, once each). A request `fetch` cannot make is left unreported, which
    /// the host reports as the target's fault; the host fetches only requests it has
    /// validated.
    pub(crate) fn lazy(
        len: usize,
        fetch: Box<dyn FnMut(usize) -> Option<R> + Send>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            pending: Mutex::new(Pending::Lazy { next: 0, fetch }),
            len,
            stop,
        }
    }

    /// The next request and its index, or `None` when none is left or the host has
    /// stopped the run (a signal): then finish what is in hand and return.
    pub fn next(&self) -> Option<(usize, R)> {
        if *self.stop.borrow() {
            return None;
        }
        match &mut *self.pending.lock().ok()? {
            Pending::Queue(queue) => queue.pop_front(),
            Pending::Lazy { next, fetch } => {
                while *next < self.len {
                    let index = *next;
                    *next += 1;
                    match fetch(index) {
                        Some(request) => return Some((index, request)),
                        None => {
                            tracing::error!(target: "connector_sdk::host", index, "request {index} could not be read again; it is not handed out")
                        }
                    }
                }
                None
            }
        }
    }

    /// How many requests the batch has (taken or not).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch has no request at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the host has stopped the run.
    pub fn is_stopped(&self) -> bool {
        *self.stop.borrow()
    }
}

/// How the host tells a failed result from a good one (`Target::failure`).
pub(crate) type Judge<T> = Box<dyn Fn(&T) -> Option<Error> + Send + Sync>;

/// Where a target reports the outcome of each request, as soon as it is known.
///
/// Each [`send`](Results::send) writes one JSON line (the result with the request's
/// `index` added) and flushes it, so a run that is killed has already said what it did.
pub struct Results<T> {
    meter: Arc<Meter>,
    sink: Mutex<Sink>,
    failure: Judge<T>,
    _result: PhantomData<fn(T)>,
}

struct Sink {
    out: Box<dyn Write + Send>,
    reported: Vec<bool>,
    count: usize,
    failures: Vec<(usize, Error)>,
    line: Vec<u8>,
}

impl<T> std::fmt::Debug for Results<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (reported, of) = self
            .sink
            .lock()
            .map_or((0, 0), |s| (s.count, s.reported.len()));
        f.debug_struct("Results")
            .field("reported", &reported)
            .field("of", &of)
            .finish_non_exhaustive()
    }
}

/// What a batch's results came to, for the host's exit status.
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) reported: usize,
    pub(crate) unreported: Vec<usize>,
    pub(crate) failures: Vec<(usize, Error)>,
}

impl<T: Serialize> Results<T> {
    pub(crate) fn new(out: Box<dyn Write + Send>, len: usize, failure: Judge<T>) -> Self {
        Self::metered(out, len, failure, Arc::default())
    }

    /// Results counted in `meter` as they are reported.
    pub(crate) fn metered(
        out: Box<dyn Write + Send>,
        len: usize,
        failure: Judge<T>,
        meter: Arc<Meter>,
    ) -> Self {
        Self {
            meter,
            sink: Mutex::new(Sink {
                out,
                reported: vec![false; len],
                count: 0,
                failures: Vec::new(),
                line: Vec::with_capacity(512),
            }),
            failure,
            _result: PhantomData,
        }
    }

    /// Reports the outcome of request `index`: written and flushed before this returns.
    ///
    /// # Errors
    /// An `internal` error for an index that is not in the batch or was reported
    /// already (a bug in the target), or when the output is closed (stop the batch).
    pub fn send(&self, index: usize, result: T) -> Result<()> {
        let failed = (self.failure)(&result);
        let value = serde_json::to_value(&result)
            .map_err(|e| Error::internal(format!("cannot serialize result {index}: {e}")))?;
        let value = match value {
            Value::Object(mut map) => {
                map.insert("index".to_owned(), Value::from(index));
                Value::Object(map)
            }
            other => serde_json::json!({ "index": index, "result": other }),
        };
        let value = crate::json::canonical(&value);
        let mut sink = self
            .sink
            .lock()
            .map_err(|_| Error::internal("the results lock is poisoned"))?;
        match sink.reported.get(index) {
            None => {
                return Err(Error::internal(format!(
                    "result for request {index}, but the batch has {} requests",
                    sink.reported.len()
                )));
            }
            Some(true) => {
                return Err(Error::internal(format!(
                    "request {index} was reported twice"
                )));
            }
            Some(false) => {}
        }
        let Sink { out, line, .. } = &mut *sink;
        line.clear();
        serde_json::to_writer(&mut *line, &value)
            .map_err(|e| Error::internal(format!("cannot serialize result {index}: {e}")))?;
        line.push(b'\n');
        let written = line.len() as u64;
        out.write_all(line)
            .and_then(|()| out.flush())
            .map_err(|e| {
                Error::internal(format!(
                    "output closed while reporting request {index}: {e}"
                ))
                .retryable(true)
            })?;
        sink.reported[index] = true;
        sink.count += 1;
        self.meter.item(written, failed.is_some());
        if let Some(e) = failed {
            sink.failures.push((index, e));
        }
        Ok(())
    }

    /// How many results were reported so far.
    pub fn reported(&self) -> usize {
        self.sink.lock().map_or(0, |s| s.count)
    }

    pub(crate) fn tally(&self) -> Tally {
        match self.sink.lock() {
            Ok(mut s) => Tally {
                reported: s.count,
                unreported: s
                    .reported
                    .iter()
                    .enumerate()
                    .filter(|(_, done)| !**done)
                    .map(|(i, _)| i)
                    .collect(),
                failures: std::mem::take(&mut s.failures),
            },
            Err(_) => Tally {
                reported: 0,
                unreported: Vec::new(),
                failures: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Requests;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn lazy_requests_are_made_one_at_a_time_as_they_are_handed_out() {
        let made = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&made);
        let (stop, rx) = tokio::sync::watch::channel(false);
        let batch = Requests::lazy(
            4,
            Box::new(move |i| {
                count.fetch_add(1, Ordering::SeqCst);
                // Request 2 cannot be made again: it is skipped, not handed out.
                (i != 2).then(|| format!("request {i}"))
            }),
            rx,
        );
        assert_eq!(made.load(Ordering::SeqCst), 0, "nothing made up front");
        let shown = format!("{batch:?}");
        assert!(
            shown.contains("len: 4") && shown.contains("stopped: false"),
            "{shown}"
        );
        assert_eq!(batch.next(), Some((0, "request 0".to_owned())));
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert_eq!(batch.next(), Some((1, "request 1".to_owned())));
        assert_eq!(batch.next(), Some((3, "request 3".to_owned())));
        assert_eq!(batch.next(), None);
        assert_eq!(made.load(Ordering::SeqCst), 4);
        assert_eq!(batch.len(), 4);

        // After a stop nothing more is made.
        let made = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&made);
        let (stop2, rx) = tokio::sync::watch::channel(false);
        let batch = Requests::lazy(
            3,
            Box::new(move |i| {
                count.fetch_add(1, Ordering::SeqCst);
                Some(i)
            }),
            rx,
        );
        assert_eq!(batch.next(), Some((0, 0)));
        assert!(!batch.is_stopped() && !batch.is_empty());
        stop2.send(true).expect("send");
        assert!(batch.is_stopped());
        assert_eq!(batch.next(), None);
        assert_eq!(made.load(Ordering::SeqCst), 1);
        drop(stop);
    }

    #[test]
    fn an_empty_batch_and_the_results_reported_so_far() {
        let (_stop, rx) = tokio::sync::watch::channel(false);
        let none = Requests::<u32>::new(Vec::new(), rx);
        assert!(none.is_empty());
        assert_eq!(none.len(), 0);
        let out = super::Results::<u32>::new(Box::new(std::io::sink()), 3, Box::new(|_| None));
        assert_eq!(out.reported(), 0);
        out.send(2, 7).expect("sent");
        out.send(0, 5).expect("sent");
        assert_eq!(out.reported(), 2);
        let shown = format!("{out:?}");
        assert!(
            shown.contains("reported: 2") && shown.contains("of: 3"),
            "{shown}"
        );
    }
}
