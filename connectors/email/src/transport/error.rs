//! How transport failures become the SDK's error kinds: a refused or dropped
//! connection is `connect` (retryable), a silent peer is `timeout`.

use std::io;

use connector_sdk::Error;

/// Classifies a failed TCP connect.
pub(crate) fn connect_error(what: &str, e: &io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut => Error::timeout(format!("{what}: {e}")),
        _ => Error::connect(format!("{what}: {e}")),
    }
}

/// Classifies an I/O error on an open connection.
pub(crate) fn io_error(what: &str, e: &io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut => Error::timeout(format!("{what}: {e}")),
        io::ErrorKind::UnexpectedEof => {
            Error::connect(format!("{what}: the server closed the connection"))
        }
        _ => Error::connect(format!("{what}: {e}")),
    }
}

/// At most `max` characters of what a peer sent, with control characters and
/// non-UTF-8 bytes shown as `.`, for an error message: never a raw dump.
pub(crate) fn printable(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{fffd}' {
                '.'
            } else {
                c
            }
        })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}
