//! Helpers shared by the file connector's end-to-end tests: a temporary root with a
//! connection file, and runs of the real binary.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_file-connector");

/// A temporary root directory with `conn.json` pointing at `root/`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("root")).expect("root");
        let conn = serde_json::json!({ "root": dir.path().join("root") });
        std::fs::write(dir.path().join("conn.json"), conn.to_string()).expect("conn");
        Self { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn conn(&self) -> String {
        self.path("conn.json")
    }

    pub fn path(&self, name: &str) -> String {
        self.dir
            .path()
            .join(name)
            .to_str()
            .expect("utf-8")
            .to_owned()
    }

    /// Writes `value` as `name` beside the connection file and returns its path.
    pub fn json(&self, name: &str, value: &Value) -> String {
        std::fs::write(self.dir.path().join(name), value.to_string()).expect("write");
        self.path(name)
    }

    /// Writes `n` lines `{"n": i}` (1-based) to `root/name`.
    pub fn lines(&self, name: &str, n: u64) {
        let mut text = String::new();
        for i in 1..=n {
            text.push_str(&format!("{{\"n\":{i}}}\n"));
        }
        std::fs::write(self.root().join(name), text).expect("write");
    }

    /// The committed `(offset, line)` for `root/name`, if any.
    pub fn state(&self, name: &str) -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(self.root().join(format!("{name}.offset"))).ok()?;
        let mut parts = text
            .split_whitespace()
            .map(|p| p.parse::<u64>().expect("number"));
        Some((parts.next()?, parts.next()?))
    }

    /// Runs `read` on `root/name` and returns the output.
    pub fn read(&self, name: &str, extra: Value) -> Output {
        let mut config = serde_json::json!({ "path": name });
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let config = self.json("read.json", &config);
        run(&[
            "run",
            "read",
            "--connection",
            &self.conn(),
            "--config",
            &config,
        ])
    }
}

/// How long one run of the binary may take before the test fails as a hang.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the binary with `args` and no stdin, within [`LIMIT`].
pub fn run(args: &[&str]) -> Output {
    connector_testkit::cli::output_within(Command::new(BIN).args(args), None, LIMIT)
}

/// Runs the binary with `args`, feeding `stdin`, within [`LIMIT`].
pub fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    connector_testkit::cli::output_within(
        Command::new(BIN).args(args),
        Some(stdin.as_bytes()),
        LIMIT,
    )
}

pub use connector_testkit::cli::{code, last_error, stdout_json, stdout_lines};

/// Whether `path` exists.
pub fn exists(path: &Path) -> bool {
    path.exists()
}
