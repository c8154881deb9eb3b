//! A program written by the test and started at once: "Text file busy" is waited
//! out, not reported as the connector failing to start (it failed CI once: another
//! test thread forked while the script's writer was still open).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// An executable script whose writer stays open, as a forked sibling would hold it.
fn busy_script(dir: &tempfile::TempDir) -> (std::path::PathBuf, std::fs::File) {
    let path = dir.path().join("fake-connector");
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(b"#!/bin/sh\necho started\n").expect("write");
    file.flush().expect("flush");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (path, file)
}

#[test]
fn a_program_busy_for_a_moment_is_started_once_its_writer_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, writer) = busy_script(&dir);
    // The plain spawn fails while the writer is open: the race this guards against.
    let plain = Command::new(&path).stdout(Stdio::null()).spawn();
    assert_eq!(
        plain.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ExecutableFileBusy),
        "the kernel should refuse a program open for writing"
    );
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        drop(writer);
    });
    let child = connector_testkit::cli::spawn(Command::new(&path).stdout(Stdio::piped()))
        .expect("started once the writer closed");
    let out = child.wait_with_output().expect("wait");
    closer.join().expect("closer");
    assert_eq!(out.stdout, b"started\n");
}

#[test]
fn a_program_busy_for_good_is_reported_after_a_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _writer) = busy_script(&dir);
    let started = std::time::Instant::now();
    let err = connector_testkit::cli::spawn(Command::new(&path).stdout(Stdio::null()))
        .expect_err("still busy");
    assert_eq!(err.kind(), std::io::ErrorKind::ExecutableFileBusy);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "gave up after {:?}, before its second",
        started.elapsed()
    );
}

#[test]
fn a_missing_program_is_reported_at_once() {
    let err = connector_testkit::cli::spawn(&mut Command::new("/nonexistent/fake-connector"))
        .expect_err("no such program");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}
