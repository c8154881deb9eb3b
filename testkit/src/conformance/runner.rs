//! Running the connector under test and reading what it printed.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A temporary directory for fixture files.
pub(crate) struct Workdir(tempfile::TempDir);

impl Workdir {
    pub(crate) fn new() -> Self {
        Self(tempfile::tempdir().expect("a temporary directory"))
    }

    /// The path of `name` in the directory (the file need not exist).
    pub(crate) fn path(&self, name: &str) -> String {
        self.0
            .path()
            .join(name)
            .to_str()
            .expect("a UTF-8 path")
            .to_owned()
    }

    /// Writes `value` as `name` and returns the path.
    pub(crate) fn json(&self, name: &str, value: &Value) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).expect("JSON"))
            .expect("write a fixture file");
        path.to_str().expect("a UTF-8 path").to_owned()
    }
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// The last line of stderr.
    pub(crate) fn last_line(&self) -> &str {
        self.stderr.lines().last().unwrap_or("(nothing on stderr)")
    }

    /// The `error` object of the last stderr line, if it is one.
    pub(crate) fn error(&self) -> Option<Value> {
        let v: Value = serde_json::from_str(self.stderr.lines().last()?).ok()?;
        v.get("error").cloned()
    }
}

/// One run of the connector program.
pub(crate) struct Run {
    cmd: Command,
    timeout: Duration,
    closed_stdout: bool,
}

impl Run {
    pub(crate) fn new(binary: &Path) -> Self {
        let mut cmd = Command::new(binary);
        cmd.stdin(Stdio::null()).env_remove("RUST_LOG");
        Self {
            cmd,
            timeout: Duration::from_secs(30),
            closed_stdout: false,
        }
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.cmd.args(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// stdout is a pipe whose reading end is closed before the program starts.
    pub(crate) fn closed_stdout(mut self) -> Self {
        self.closed_stdout = true;
        self
    }

    pub(crate) fn output(mut self) -> Output {
        let stderr_file = tempfile::tempfile().expect("a temporary file");
        let stdout_file = tempfile::tempfile().expect("a temporary file");
        self.cmd.stderr(stderr_file.try_clone().expect("clone"));
        if self.closed_stdout {
            let (reader, writer) = std::io::pipe().expect("a pipe");
            drop(reader);
            self.cmd.stdout(writer);
        } else {
            self.cmd.stdout(stdout_file.try_clone().expect("clone"));
        }
        let mut child = match crate::cli::spawn(&mut self.cmd) {
            Ok(c) => c,
            Err(e) => {
                return Output {
                    code: None,
                    stdout: String::new(),
                    stderr: format!("cannot start the connector: {e}"),
                };
            }
        };
        let deadline = Instant::now() + self.timeout;
        let code = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        Output {
            code,
            stdout: read_all(stdout_file),
            stderr: read_all(stderr_file),
        }
    }
}

fn read_all(mut file: std::fs::File) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    text
}
