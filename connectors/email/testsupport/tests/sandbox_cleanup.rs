//! A `mail-sandbox` run whose whole process group is killed (a stopped job, Ctrl-C in
//! its terminal, a CI step cancelled) still stops the Postfix and Dovecot it started
//! and removes their directory: nothing is left listening or written in `/tmp`.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The pid in a pid file (Postfix pads it with blanks).
fn pid_in(file: &Path) -> u32 {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn alive(pid: u32) -> bool {
    // A zombie has not been reaped yet but runs no more.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Waits for `done`, up to `secs` seconds.
fn wait_until(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

#[test]
fn killing_the_sandbox_process_group_stops_its_servers_and_removes_their_files() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let connection = work.path().join("connection.json");
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_mail-sandbox"))
        .args(["--transport", "plain", "--connection"])
        .arg(&connection)
        .args(["--", "sleep", "120"])
        // Its own process group, as a job started from a shell is.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mail-sandbox runs");
    let written = wait_until(60, || {
        std::fs::read_to_string(&connection)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some()
    });
    if !written {
        let _ = sandbox.kill();
        panic!("mail-sandbox did not write its connection file within 60 s");
    }
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&connection).expect("read")).expect("JSON");
    // The servers' directory holds the CA the connection trusts: DIR/tls/ca.pem.
    let dir: PathBuf = Path::new(settings["tls"]["ca_file"].as_str().expect("a CA file"))
        .ancestors()
        .nth(2)
        .expect("the servers' directory")
        .to_path_buf();
    assert!(
        dir.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("mail-servers-")),
        "{}",
        dir.display()
    );
    let dovecot = pid_in(&dir.join("run/dovecot/master.pid"));
    let postfix = pid_in(&dir.join("postfix/spool/pid/master.pid"));
    assert!(alive(dovecot) && alive(postfix), "both servers run");

    let group = format!("-{}", sandbox.id());
    let killed = Command::new("kill")
        .args(["-TERM", "--", &group])
        .status()
        .expect("kill");
    assert!(killed.success(), "the process group was signalled");
    let _ = sandbox.wait();

    let stopped = wait_until(20, || !alive(dovecot) && !alive(postfix) && !dir.exists());
    let left = format!(
        "20 s after the process group was killed: Dovecot running {}, Postfix running {}, {} exists {}",
        alive(dovecot),
        alive(postfix),
        dir.display(),
        dir.exists()
    );
    if !stopped {
        // Leave nothing behind for the next run, then fail.
        for pid in [dovecot, postfix] {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(stopped, "{left}");
}
