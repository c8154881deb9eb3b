//! Reading what a connector program printed, for tests that drive its binary.
//!
//! ```no_run
//! let out = std::process::Command::new("target/debug/file-connector").arg("spec").output().unwrap();
//! let manifest = connector_testkit::cli::stdout_json(&out);
//! assert_eq!(manifest["name"], "file");
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The exit code.
///
/// # Panics
/// When the program was killed by a signal.
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("the program exited normally")
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `error` object of the JSON line the host prints last on stderr on failure.
///
/// # Panics
/// When stderr is empty or its last line is not JSON, with stderr in the message.
pub fn last_error(out: &Output) -> Value {
    let text = stderr(out);
    let last = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("nothing on stderr"));
    let value: Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("the last stderr line is not JSON ({e}): {last}\nstderr:\n{text}")
    });
    value["error"].clone()
}

/// stdout as one JSON document (`spec`, `check`, a target's response).
///
/// # Panics
/// When stdout is not JSON, with both streams in the message.
pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// stdout as JSON Lines (a source's records).
///
/// # Panics
/// When a line is not JSON.
pub fn stdout_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Starts `command` like [`Command::spawn`], but waits out "Text file busy".
///
/// A test that writes a program (a wrapper script, a fake connector) and then runs
/// it races every other test thread of its process that starts a program at the
/// same moment: the forked child holds the writer's descriptor until it `exec`s,
/// and Linux refuses to run a file open for writing (`ETXTBSY`). The window is
/// microseconds, so this tries again for up to a second; any other error, or a
/// file still busy after that, is returned as it is.
///
/// ```
/// let child = connector_testkit::cli::spawn(std::process::Command::new("true").stdout(std::process::Stdio::null()));
/// assert!(child.unwrap().wait().unwrap().success());
/// ```
///
/// # Errors
/// What [`Command::spawn`] returns, once the file is not busy or a second has passed.
pub fn spawn(command: &mut Command) -> std::io::Result<Child> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match command.spawn() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Runs `command` as a consumer that goes away early would (`… | head -n N`): reads
/// `lines` lines of its stdout, closes the pipe, and waits for the program to end.
/// Returns the lines read and the program's output (stdout holds nothing more).
///
/// ```no_run
/// let mut cmd = std::process::Command::new("target/debug/file-connector");
/// cmd.args(["run", "read", "--connection", "conn.json", "--config", "read.json"]);
/// let (first, out) = connector_testkit::cli::close_after(&mut cmd, 10);
/// assert_eq!(first.len(), 10);
/// assert_eq!(connector_testkit::cli::last_error(&out)["kind"], "internal");
/// ```
///
/// # Panics
/// When the program cannot be started or its stdout read.
pub fn close_after(command: &mut Command, lines: usize) -> (Vec<String>, Output) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(command).unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut read = Vec::with_capacity(lines);
    for _ in 0..lines {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("read stdout") == 0 {
            break;
        }
        read.push(line);
    }
    drop(stdout); // the consumer goes away
    let out = child.wait_with_output().expect("wait for the program");
    (read, out)
}

/// Runs `command` to the end with `stdin` fed to it, like [`Command::output`], but
/// never longer than `limit`: a program that hangs is killed and the test fails with
/// what it printed so far, instead of holding CI until its own timeout.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// let out = connector_testkit::cli::output_within(
///     Command::new("cat").arg("-"),
///     Some(b"hello"),
///     Duration::from_secs(10),
/// );
/// assert_eq!(out.stdout, b"hello");
/// ```
///
/// # Panics
/// When the program cannot start, or runs past `limit` (it is killed first).
pub fn output_within(
    command: &mut Command,
    stdin: Option<&[u8]>,
    limit: std::time::Duration,
) -> Output {
    use std::io::{Read, Write};
    use std::process::Stdio;
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(command).unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let feed = stdin.map(<[u8]>::to_vec).and_then(|bytes| {
        let mut pipe = child.stdin.take()?;
        Some(std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        }))
    });
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = err.join().unwrap_or_default();
                panic!(
                    "{command:?} did not finish within {limit:?} (killed: a hang?); its stderr:\n{}",
                    String::from_utf8_lossy(&stderr)
                );
            }
        }
    };
    if let Some(f) = feed {
        let _ = f.join();
    }
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}
