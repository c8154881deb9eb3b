//! An example connector built only on `connector-sdk`'s public API: JSON Lines files
//! in one directory.
//!
//! - **`read`** (source): emits one record per line of a `.jsonl` file, starting after
//!   the last committed offset, and commits by writing that offset to a state file. A
//!   run that stops early (closed output, a signal, a crash) resumes where delivery
//!   stopped: at least once, nothing skipped. `discover` lists the `.jsonl` files.
//! - **`append`** (target): appends each request's `data` as one line.
//!
//! It is the subject of the book's tutorial and of the SDK's own end-to-end tests.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use connector_sdk::prelude::*;
//! use connector_sdk::testing::{Emitted, channel};
//! use file_connector::{FileConnector, FileSettings, ReadConfig, ReadLines};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("in.jsonl"), "{\"n\": 1}\n{\"n\": 2}\n").unwrap();
//!
//! let conn = FileConnector
//!     .connect(FileSettings { root: dir.path().to_owned() })
//!     .await
//!     .unwrap();
//! let config = ReadConfig { path: "in.jsonl".into(), state: None, follow: false, max_records: None };
//! let (out, mut received) = channel(16);
//! ReadLines.read(&conn, &config, &out).await.unwrap();
//! drop(out);
//! let mut acks = Vec::new();
//! while let Some(Emitted::Record(record, ack)) = received.recv().await {
//!     assert_eq!(record.data["n"], record.line);
//!     acks.push(ack);
//! }
//! ReadLines.commit(&conn, &config, acks).await.unwrap();
//! let state = std::fs::read_to_string(dir.path().join("in.jsonl.offset")).unwrap();
//! assert_eq!(state.trim(), "18 2"); // offset after line 2, and its number
//! # }
//! ```

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

// ANCHOR: imports
use connector_sdk::prelude::*;
// ANCHOR_END: imports
use serde_json::Value;

const TARGET: &str = "file_connector";

// ANCHOR: settings
#[connector_sdk::settings]
/// Where the files are.
pub struct FileSettings {
    /// The directory holding the files. Activity paths are relative to it and may not
    /// leave it.
    pub root: PathBuf,
}
// ANCHOR_END: settings

// ANCHOR: connection
/// An open directory.
#[derive(Debug)]
pub struct FileConnection {
    root: PathBuf,
}

impl FileConnection {
    /// Resolves `relative` inside the root; `pointer` names the setting for errors.
    fn resolve(&self, relative: &str, pointer: &str) -> Result<PathBuf> {
        inside(relative, pointer)?;
        Ok(self.root.join(relative))
    }
}

/// Refuses a path that is empty, absolute or leaves the root (`..`).
fn inside(relative: &str, pointer: &str) -> Result<()> {
    let escapes = Path::new(relative)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if relative.is_empty() || escapes {
        return Err(Error::config(
            pointer,
            format!("expected a path inside the root directory, got {relative:?}"),
        ));
    }
    Ok(())
}

#[connector_sdk::connection]
impl Connection for FileConnection {
    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::new();
        let root = self.root.clone();
        let listed = report
            .step("root.list", async {
                let entries = std::fs::read_dir(&root)
                    .map_err(|e| Error::connect(format!("cannot list {}: {e}", root.display())))?;
                Ok(format!("{} entries", entries.count()))
            })
            .await;
        if listed.is_err() {
            report.skip("root.write", "not tried: the directory cannot be listed");
            return report;
        }
        let _ = report
            .step("root.write", async {
                let probe = root.join(format!(".file-connector-check-{}", std::process::id()));
                std::fs::write(&probe, b"")
                    .and_then(|()| std::fs::remove_file(&probe))
                    .map_err(|e| {
                        Error::rejected(format!("cannot write in {}: {e}", root.display()))
                    })
            })
            .await;
        report
    }
}
// ANCHOR_END: connection

// ANCHOR: read_types
#[connector_sdk::settings]
/// What to read.
pub struct ReadConfig {
    /// The JSON Lines file, relative to the root.
    pub path: String,
    /// Where the committed offset is kept, relative to the root; defaults to the
    /// file's path plus `.offset`.
    #[serde(default)]
    pub state: Option<String>,
    /// Keep waiting for new lines at the end of the file until stopped (like `tail -f`).
    #[serde(default)]
    pub follow: bool,
    /// Stop after this many records.
    #[serde(default)]
    pub max_records: Option<u64>,
}

#[connector_sdk::settings]
/// One line of the file.
pub struct LineRecord {
    /// The line number in the file, from 1.
    pub line: u64,
    /// The byte offset where the line starts.
    pub offset: u64,
    /// The line's JSON value.
    pub data: Value,
}
// ANCHOR_END: read_types

/// A position in the file: the offset just after a line, and that line's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset after the line.
    pub offset: u64,
    /// Number of the line.
    pub line: u64,
}

// ANCHOR: read
/// The `read` source.
#[derive(Debug, Default)]
pub struct ReadLines;

/// Reads a JSON Lines file from the last committed offset, one record per line, and
/// commits by recording the offset after the last delivered line.
#[connector_sdk::activity(name = "read")]
impl Source for ReadLines {
    type Connection = FileConnection;
    type Config = ReadConfig;
    type Record = LineRecord;
    type Ack = Position;

    fn validate(&self, config: &ReadConfig) -> Result<()> {
        inside(&config.path, "/path")?;
        config
            .state
            .as_deref()
            .map_or(Ok(()), |state| inside(state, "/state"))
    }

    async fn read(
        &self,
        conn: &FileConnection,
        config: &ReadConfig,
        out: &Emitter<LineRecord, Position>,
    ) -> Result<()> {
        let path = conn.resolve(&config.path, "/path")?;
        let start = load_state(&conn.resolve(&state_path(config), "/state")?)?;
        let mut file = std::fs::File::open(&path)
            .map_err(|e| Error::rejected(format!("cannot open {}: {e}", config.path)))?;
        file.seek(SeekFrom::Start(start.offset))
            .map_err(|e| Error::internal(format!("cannot seek in {}: {e}", config.path)))?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let (mut pos, mut emitted) = (start, 0_u64);
        let mut buf = String::new();
        loop {
            if config.max_records.is_some_and(|max| emitted >= max) {
                return Ok(());
            }
            let n = reader
                .read_line(&mut buf)
                .map_err(|e| Error::internal(format!("cannot read {}: {e}", config.path)))?;
            let complete = buf.ends_with('\n');
            if n == 0 || (!complete && config.follow) {
                // End of file (or half a line still being written).
                if !config.follow || out.is_stopped() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let text = buf.trim_end_matches(['\n', '\r']);
            let line = pos.line + 1;
            let data: Value = serde_json::from_str(text).map_err(|e| {
                Error::protocol(format!("{} line {line} is not JSON: {e}", config.path))
            })?;
            let offset = pos.offset;
            pos = Position {
                offset: pos.offset + buf.len() as u64,
                line,
            };
            buf.clear();
            out.emit(LineRecord { line, offset, data }, pos).await?;
            emitted += 1;
        }
    }

    async fn commit(
        &self,
        conn: &FileConnection,
        config: &ReadConfig,
        acks: Vec<Position>,
    ) -> Result<()> {
        // Acks arrive in emission order: the last one covers all before it.
        let Some(last) = acks.last() else {
            return Ok(());
        };
        let state = conn.resolve(&state_path(config), "/state")?;
        let last = *last;
        // fsync blocks: keep it off the async runtime's thread.
        tokio::task::spawn_blocking(move || save_state(&state, last))
            .await
            .map_err(|e| Error::internal(format!("saving the offset failed: {e}")))??;
        tracing::debug!(target: TARGET, offset = last.offset, line = last.line, "committed");
        Ok(())
    }

    async fn discover(
        &self,
        conn: &FileConnection,
        _config: Option<&ReadConfig>,
    ) -> Result<Vec<Object>> {
        let entries = std::fs::read_dir(&conn.root)
            .map_err(|e| Error::connect(format!("cannot list {}: {e}", conn.root.display())))?;
        let mut objects: Vec<Object> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            .map(|e| {
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                Object {
                    name: e.file_name().to_string_lossy().into_owned(),
                    description: Some(format!("{size} bytes")),
                    attributes: Vec::new(),
                }
            })
            .collect();
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(objects)
    }
}
// ANCHOR_END: read

fn state_path(config: &ReadConfig) -> String {
    config
        .state
        .clone()
        .unwrap_or_else(|| format!("{}.offset", config.path))
}

/// The state file holds `offset line`; a missing file means the start.
fn load_state(path: &Path) -> Result<Position> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut parts = text.split_whitespace().map(str::parse::<u64>);
            match (parts.next(), parts.next()) {
                (Some(Ok(offset)), Some(Ok(line))) => Ok(Position { offset, line }),
                (Some(Ok(offset)), None) => Ok(Position { offset, line: 0 }),
                _ => Err(Error::internal(format!(
                    "state file {} is corrupt: expected `OFFSET LINE`",
                    path.display()
                ))),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Position { offset: 0, line: 0 }),
        Err(e) => Err(Error::internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes the state atomically: a temporary file, synced, then renamed over the old.
fn save_state(path: &Path, pos: Position) -> Result<()> {
    let tmp = path.with_extension("offset.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{} {}", pos.offset, pos.line)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))
}

// ANCHOR: append
#[connector_sdk::settings]
/// Where to append.
pub struct AppendConfig {
    /// The JSON Lines file, relative to the root; created when missing.
    pub path: String,
}

#[connector_sdk::settings]
/// One line to append.
pub struct AppendRequest {
    /// The JSON value to write as one line.
    pub data: Value,
}

#[connector_sdk::settings]
/// Where one request's line went.
pub struct Appended {
    /// The file, relative to the root.
    pub path: String,
    /// The byte offset where the line starts.
    pub offset: u64,
    /// The line's length in bytes, with its newline.
    pub bytes: u64,
}

/// The `append` target.
#[derive(Debug, Default)]
pub struct AppendLines;

/// Appends each request's `data` as one JSON line, all in one write, then reports
/// where each line went.
#[connector_sdk::activity(name = "append")]
impl Target for AppendLines {
    type Connection = FileConnection;
    type Config = AppendConfig;
    type Request = AppendRequest;
    type Response = Appended;

    async fn call(
        &self,
        conn: &FileConnection,
        config: &AppendConfig,
        requests: &Requests<AppendRequest>,
        results: &Results<Appended>,
    ) -> Result<()> {
        let path = conn.resolve(&config.path, "/path")?;
        let mut lines = Vec::new();
        let mut taken = Vec::new();
        while let Some((index, request)) = requests.next() {
            let start = lines.len();
            serde_json::to_writer(&mut lines, &request.data)
                .map_err(|e| Error::internal(format!("cannot serialize: {e}")))?;
            lines.push(b'\n');
            taken.push((index, start, lines.len() - start));
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::rejected(format!("cannot open {}: {e}", config.path)))?;
        let before = file.metadata().map(|m| m.len()).unwrap_or(0);
        file.write_all(&lines)
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::rejected(format!("cannot append to {}: {e}", config.path)))?;
        for (index, start, len) in taken {
            results.send(
                index,
                Appended {
                    path: config.path.clone(),
                    offset: before + start as u64,
                    bytes: len as u64,
                },
            )?;
        }
        Ok(())
    }
}
// ANCHOR_END: append

// ANCHOR: connector
/// The file connector.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileConnector;

/// Reads and appends JSON Lines files in one directory; a worked example of the SDK.
#[connector_sdk::connector(name = "file", activities(ReadLines, AppendLines))]
impl Connector for FileConnector {
    type Settings = FileSettings;
    type Connection = FileConnection;

    async fn connect(&self, settings: FileSettings) -> Result<FileConnection> {
        Ok(FileConnection {
            root: settings.root,
        })
    }
}
// ANCHOR_END: connector
