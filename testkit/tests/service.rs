//! The service fixture starts a local server and waits until it listens; a server that
//! exits or never listens is an error that shows what it printed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use connector_testkit::service::{Service, ServiceError};

#[test]
fn a_server_is_ready_when_it_listens_and_stopped_when_dropped() {
    let port = Service::free_port();
    // It serves an empty directory of its own, not whatever the tests change.
    let root = tempfile::tempdir().expect("a directory to serve");
    let server = Service::command("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
            root.path().to_str().expect("a UTF-8 path"),
        ])
        .port(port)
        .ready_within(Duration::from_secs(20))
        .start()
        .expect("python3's http.server starts");
    // Every failure says what the server printed (it failed once at the read, in a
    // full test run, and could not be made to again).
    let fail = |what: &str, e: std::io::Error| -> ! {
        panic!(
            "{what}: {e} ({:?})\nthe server printed:\n{}",
            e.kind(),
            server.logs()
        )
    };
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| fail("connect", e));
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .unwrap_or_else(|e| fail("write", e));
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)
        .unwrap_or_else(|e| fail("read", e));
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    drop(server);
    std::thread::sleep(Duration::from_millis(200));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "stopped");
}

#[test]
fn a_server_that_exits_first_says_why() {
    let err = Service::command("sh")
        .args(["-c", "echo 'config file missing' >&2; exit 3"])
        .port(Service::free_port())
        .start()
        .expect_err("it exits");
    assert!(matches!(err, ServiceError::Exited { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("config file missing") && text.contains('3'),
        "{text}"
    );
}

#[test]
fn a_server_that_never_listens_times_out_with_its_output() {
    let err = Service::command("sh")
        .args(["-c", "echo starting; sleep 30"])
        .port(Service::free_port())
        .ready_within(Duration::from_millis(500))
        .start()
        .expect_err("it never listens");
    assert!(matches!(err, ServiceError::NotListening { .. }), "{err}");
    assert!(err.to_string().contains("starting"), "{err}");
}

#[test]
fn a_program_that_is_not_installed_is_named() {
    let err = Service::command("no-such-program-zz")
        .start()
        .expect_err("not installed");
    assert!(err.to_string().contains("no-such-program-zz"), "{err}");
}
