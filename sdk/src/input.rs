//! A target's input: one JSON object, a JSON array, or JSON Lines (one request per
//! line). [`RequestDocs`] says how many requests there are and hands them out parsed,
//! one at a time, never all at once: a file is read again for each pass (validation,
//! then the run) and only the requests in flight are in memory; stdin, which cannot be
//! read twice, is kept as its text with where each request is in it.
//!
//! Below the registry (which validates and runs the requests) and the host (which
//! reads the input named on the command line).

use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::{Error, Result};

/// A target's requests, as read.
#[derive(Debug)]
pub(crate) struct RequestDocs {
    input: Input,
    len: usize,
    /// An array or JSON Lines: errors then carry the request's index (`/3/to`).
    pub(crate) batch: bool,
}

#[derive(Debug)]
enum Input {
    /// Stdin: its text, and where each request is in it.
    Text {
        text: String,
        spans: Vec<Range<usize>>,
    },
    /// A file, read again when the requests are wanted.
    File { path: PathBuf, array: bool },
}

/// How many requests a file read ahead may hold (per pass).
const AHEAD: usize = 64;

impl RequestDocs {
    /// Reads the input at `source` (`-`: stdin) far enough to know its form and its
    /// number of requests, each checked to be JSON.
    pub(crate) fn read(source: &str) -> Result<Self> {
        let fail = |e: String| Error::config("", format!("input `{source}`: {e}"));
        if source == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::config("", format!("cannot read input from stdin: {e}")))?;
            let (spans, batch) = spans_of(&text).map_err(fail)?;
            return Ok(Self {
                len: spans.len(),
                input: Input::Text { text, spans },
                batch,
            });
        }
        let path = PathBuf::from(source);
        let open = || {
            std::fs::File::open(&path)
                .map(BufReader::new)
                .map_err(|e| Error::config("", format!("cannot read input file `{source}`: {e}")))
        };
        let mut reader = open()?;
        let array = starts_with_bracket(&mut reader)
            .map_err(|e| Error::config("", format!("cannot read input file `{source}`: {e}")))?;
        let len = if array {
            let mut de = serde_json::Deserializer::from_reader(reader);
            serde::Deserializer::deserialize_seq(&mut de, Count)
                .and_then(|n| de.end().map(|()| n))
                .map_err(|e| fail(format!("not a valid JSON array: {e}")))?
        } else {
            let mut n = 0;
            for item in serde_json::Deserializer::from_reader(reader).into_iter::<IgnoredAny>() {
                item.map_err(|e| fail(format!("request {n} is not valid JSON: {e}")))?;
                n += 1;
            }
            n
        };
        Ok(Self {
            input: Input::File { path, array },
            len,
            batch: array || len != 1,
        })
    }

    /// How many requests.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The requests in order, each parsed as it is taken. A file is read on a thread of
    /// its own, at most [`AHEAD`] requests ahead; dropping the iterator stops it.
    pub(crate) fn each(self: &Arc<Self>) -> Box<dyn Iterator<Item = Result<Value>> + Send> {
        match &self.input {
            Input::Text { .. } => {
                let docs = Arc::clone(self);
                Box::new((0..self.len).map(move |i| docs.item(i)))
            }
            Input::File { path, array } => {
                let (tx, rx) = sync_channel(AHEAD);
                let (path, array) = (path.clone(), *array);
                std::thread::spawn(move || produce(&path, array, &tx));
                Box::new(rx.into_iter())
            }
        }
    }

    /// Request `i` of a text input, parsed.
    fn item(&self, i: usize) -> Result<Value> {
        let Input::Text { text, spans } = &self.input else {
            return Err(Error::internal("requests of a file are read in order"));
        };
        let text = spans
            .get(i)
            .and_then(|span| text.get(span.clone()))
            .ok_or_else(|| Error::internal(format!("no request {i} in the input")))?;
        serde_json::from_str(text)
            .map_err(|e| Error::config("", format!("request {i} is not valid JSON: {e}")))
    }
}

/// Reads the requests of the file at `path` into `tx`, until the file ends or nobody
/// takes them any more.
fn produce(path: &std::path::Path, array: bool, tx: &SyncSender<Result<Value>>) {
    let reader = match std::fs::File::open(path) {
        Ok(f) => BufReader::new(f),
        Err(e) => {
            let _ = tx.send(Err(Error::config(
                "",
                format!("cannot read input file `{}` again: {e}", path.display()),
            )));
            return;
        }
    };
    let changed = |e: serde_json::Error| {
        Error::config(
            "",
            format!(
                "input file `{}` changed while it was read: {e}",
                path.display()
            ),
        )
    };
    if array {
        let mut de = serde_json::Deserializer::from_reader(reader);
        if let Err(e) = serde::Deserializer::deserialize_seq(&mut de, Sending(tx)) {
            // Also when the run stopped taking requests (the send failed): no one
            // reads this then.
            let _ = tx.send(Err(changed(e)));
        }
    } else {
        for item in serde_json::Deserializer::from_reader(reader).into_iter::<Value>() {
            if tx.send(item.map_err(changed)).is_err() {
                return;
            }
        }
    }
}

/// Whether the first byte that is not whitespace is `[`; reads nothing else.
fn starts_with_bracket(reader: &mut impl BufRead) -> std::io::Result<bool> {
    loop {
        let buf = reader.fill_buf()?;
        let Some(first) = buf.first().copied() else {
            return Ok(false);
        };
        if first.is_ascii_whitespace() {
            reader.consume(1);
            continue;
        }
        return Ok(first == b'[');
    }
}

/// Counts the elements of an array without keeping them.
struct Count;

impl<'de> Visitor<'de> for Count {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of requests")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<usize, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

/// Sends each element of an array as it is parsed.
struct Sending<'a>(&'a SyncSender<Result<Value>>);

impl<'de> Visitor<'de> for Sending<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of requests")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            if self.0.send(Ok(value)).is_err() {
                return Err(serde::de::Error::custom("no one takes the requests"));
            }
        }
        Ok(())
    }
}

/// Finds the requests in `text`: each JSON document of a stream (JSON Lines, or one
/// document), and each element of a document that is an array; and whether it is a
/// batch.
fn spans_of(text: &str) -> std::result::Result<(Vec<Range<usize>>, bool), String> {
    use serde_json::value::RawValue;
    let offset = |raw: &RawValue| {
        let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        start..start + raw.get().len()
    };
    let mut docs = Vec::new();
    for (i, item) in serde_json::Deserializer::from_str(text)
        .into_iter::<&RawValue>()
        .enumerate()
    {
        docs.push(item.map_err(|e| format!("request {i} is not valid JSON: {e}"))?);
    }
    Ok(match docs.as_slice() {
        [] => (Vec::new(), true),
        [one] if one.get().starts_with('[') => {
            let elements: Vec<&RawValue> = serde_json::from_str(one.get())
                .map_err(|e| format!("not a valid JSON array: {e}"))?;
            (elements.into_iter().map(offset).collect(), true)
        }
        [one] => (vec![offset(one)], false),
        many => (many.iter().map(|raw| offset(raw)).collect(), true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> (Vec<&str>, bool) {
        let (spans, batch) = spans_of(text).expect("valid");
        (spans.iter().map(|s| &text[s.clone()]).collect(), batch)
    }

    #[test]
    fn requests_are_found_in_every_input_form_without_parsing_them_into_values() {
        assert_eq!(pieces(r#" {"a": 1} "#), (vec![r#"{"a": 1}"#], false));
        assert_eq!(
            pieces("[ {\"a\": [1, 2]},\n {\"b\": \"]\"} ]"),
            (vec![r#"{"a": [1, 2]}"#, r#"{"b": "]"}"#], true)
        );
        assert_eq!(
            pieces("{\"a\": 1}\n{\"b\": 2}\n"),
            (vec![r#"{"a": 1}"#, r#"{"b": 2}"#], true)
        );
        assert_eq!(pieces("[]"), (vec![], true));
        assert_eq!(pieces("  \n"), (vec![], true));
        let bad = spans_of("{\"a\": 1}\n{oops}").expect_err("invalid");
        assert!(bad.contains("request 1 is not valid JSON"), "{bad}");
    }

    fn file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("input.json");
        std::fs::write(&path, text).expect("write");
        let path = path.to_string_lossy().into_owned();
        (dir, path)
    }

    fn all(docs: RequestDocs) -> Vec<Value> {
        Arc::new(docs).each().map(|v| v.expect("valid")).collect()
    }

    #[test]
    fn a_file_is_read_again_one_request_at_a_time_in_every_form() {
        let (_d, path) = file(" [ {\"a\": 1}, {\"b\": [2]} ] ");
        let docs = RequestDocs::read(&path).expect("read");
        assert_eq!((docs.len(), docs.batch), (2, true));
        assert_eq!(
            all(docs),
            [serde_json::json!({"a": 1}), serde_json::json!({"b": [2]})]
        );

        let (_d, path) = file("{\"a\": 1}\n{\"b\": 2}\n");
        let docs = RequestDocs::read(&path).expect("read");
        assert_eq!((docs.len(), docs.batch), (2, true));
        assert_eq!(all(docs).len(), 2);

        let (_d, path) = file("{\"only\": true}");
        let docs = RequestDocs::read(&path).expect("read");
        assert_eq!((docs.len(), docs.batch), (1, false));
        // An array of one is still a batch: its errors carry the index.
        let (_d, path) = file("[{\"only\": true}]");
        let docs = RequestDocs::read(&path).expect("read");
        assert_eq!((docs.len(), docs.batch), (1, true));

        for empty in ["", "  \n", "[]"] {
            let (_d, path) = file(empty);
            let docs = RequestDocs::read(&path).expect("read");
            assert_eq!((docs.len(), docs.batch), (0, true), "{empty:?}");
        }

        let (_d, path) = file("{\"a\": 1}\n{oops}");
        let e = RequestDocs::read(&path).expect_err("invalid");
        assert!(e.message().contains("request 1 is not valid JSON"), "{e}");
        let (_d, path) = file("[{\"a\": 1}, nope]");
        let e = RequestDocs::read(&path).expect_err("invalid");
        assert!(e.message().contains("not a valid JSON array"), "{e}");
    }

    #[test]
    fn a_reader_that_is_dropped_stops_reading_the_file() {
        let text = format!("[{}]", vec!["{\"n\": 1}"; 10_000].join(","));
        let (_d, path) = file(&text);
        let docs = Arc::new(RequestDocs::read(&path).expect("read"));
        let mut each = docs.each();
        assert!(each.next().is_some());
        drop(each); // the thread ends at its next send
        assert_eq!(docs.each().count(), 10_000, "a new pass reads it all again");
    }
}
