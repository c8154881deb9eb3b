//! The send journal (`journal_file`): each message's outcome by Message-ID, appended
//! and synced to disk before the result is printed, so a later run given the same
//! requests sends each message once across retries, crashes and kills.
//!
//! Each message gets `sending` just before its data goes out, then `sent`, `unknown`
//! or `failed`. A message whose last entry is `sending` was cut off by a crash or a
//! kill after its data may have gone out: its outcome is unknown, and it is not sent
//! again unless asked (`resend_unknown`). One JSON object per line; a torn last line
//! (a crash while writing) is ignored.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;

use connector_sdk::{Error, Result};

/// What the journal says of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Its data was about to go out; nothing after.
    Sending,
    /// Accepted by the server.
    Sent,
    /// Its data went out and no reply came.
    Unknown,
    /// Not sent (refused, or given up on before its data went out).
    Failed,
}

impl Entry {
    fn name(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Unknown => "unknown",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "unknown" => Self::Unknown,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// An open journal: what earlier runs recorded, and the file new entries go to.
#[derive(Debug)]
pub(crate) struct Journal {
    earlier: HashMap<String, Entry>,
    file: Mutex<File>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads what it holds.
    ///
    /// # Errors
    /// A config error at `/journal_file` when it cannot be read or written.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let bad = |e: std::io::Error| {
            Error::config(
                "/journal_file",
                format!("cannot use {} as the send journal: {e}", path.display()),
            )
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(bad)?;
        let mut earlier = HashMap::new();
        for line in BufReader::new(file.try_clone().map_err(bad)?).lines() {
            let line = line.map_err(bad)?;
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue; // a line torn by a crash
            };
            if let (Some(id), Some(entry)) = (
                v["message_id"].as_str(),
                v["status"].as_str().and_then(Entry::parse),
            ) {
                earlier.insert(id.to_owned(), entry);
            }
        }
        // A torn last line gets its line break, so the next entry starts clean.
        let mut file = file;
        let text = std::fs::read(path).map_err(bad)?;
        if text.last().is_some_and(|b| *b != b'\n') {
            file.write_all(b"\n").map_err(bad)?;
        }
        Ok(Self {
            earlier,
            file: Mutex::new(file),
        })
    }

    /// What an earlier run recorded last for `message_id`.
    pub(crate) fn earlier(&self, message_id: &str) -> Option<Entry> {
        self.earlier.get(message_id).copied()
    }

    /// Appends an entry and syncs it to disk.
    ///
    /// # Errors
    /// `internal` when the file cannot be written.
    pub(crate) fn record(&self, message_id: &str, entry: Entry) -> Result<()> {
        let line = serde_json::json!({"message_id": message_id, "status": entry.name()});
        let mut file = self
            .file
            .lock()
            .map_err(|_| Error::internal("the send journal's lock is poisoned"))?;
        writeln!(file, "{line}")
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::internal(format!("cannot write the send journal: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_entry_of_each_message_counts_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&path).expect("open");
        j.record("<a@x>", Entry::Sending).expect("write");
        j.record("<a@x>", Entry::Sent).expect("write");
        j.record("<b@x>", Entry::Sending).expect("write");
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"message_id\": \"<c@x>\", \"sta"))
            .expect("torn");
        let j = Journal::open(&path).expect("reopen");
        assert_eq!(j.earlier("<a@x>"), Some(Entry::Sent));
        assert_eq!(j.earlier("<b@x>"), Some(Entry::Sending));
        assert_eq!(j.earlier("<c@x>"), None);
        // The entry after a torn line is read back whole.
        j.record("<d@x>", Entry::Unknown).expect("write");
        drop(j);
        let j = Journal::open(&path).expect("reopen");
        assert_eq!(j.earlier("<d@x>"), Some(Entry::Unknown));
    }
}
