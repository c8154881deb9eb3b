//! SMTP replies: one exchange with its timeout and whether it broke the session, the
//! server's words in a refusal, how errors are classified, and the EHLO summary for a
//! check.

use connector_sdk::Error;

use crate::transport::within;

/// A failed SMTP exchange: its error, and whether the session is broken by it.
pub(super) struct Failed {
    pub(super) error: Error,
    pub(super) broken: bool,
    /// The server's reply code, when it replied.
    pub(super) code: Option<u16>,
}

/// Runs one SMTP exchange (`doing`: `MAIL`, `RCPT`, `DATA` …) within `limit`. A reply
/// from the server, even a refusal, leaves the session usable; a timeout or a lost
/// connection does not.
pub(super) async fn exchange<T>(
    limit: std::time::Duration,
    what: &str,
    doing: &str,
    fut: impl std::future::Future<Output = std::result::Result<T, lettre::transport::smtp::Error>>,
) -> std::result::Result<T, Failed> {
    match within(limit, what, doing, fut).await {
        Err(error) => Err(Failed {
            error,
            broken: true,
            code: None,
        }),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            // Only a whole reply with a status code counts as an answer; a reply cut
            // off ("incomplete response") means the connection is gone.
            let answered = e.is_permanent() || e.is_transient() || e.status().is_some();
            Err(Failed {
                error: classify(what, "", &e),
                broken: !answered,
                code: e.status().and_then(|c| c.to_string().parse().ok()),
            })
        }
    }
}

/// The server's own words in a refusal (`550 5.1.1 <x>: Recipient address rejected`).
pub(super) fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    let text = e.to_string();
    // lettre formats "permanent error (550): 5.1.1 …"; keep the code and the text.
    match (e.status(), text.split_once("): ")) {
        (Some(code), Some((_, rest))) => format!("{code} {rest}"),
        _ => text,
    }
}

/// Classifies an SMTP error: refusals by reply code, I/O by kind.
pub(crate) fn classify(what: &str, doing: &str, e: &lettre::transport::smtp::Error) -> Error {
    let doing = if doing.is_empty() {
        String::new()
    } else {
        format!(" ({doing})")
    };
    if e.is_permanent() {
        return Error::rejected(format!("{}{doing}", reply_text(e))).retryable(false);
    }
    if e.is_transient() {
        return Error::rejected(format!("{}{doing}", reply_text(e))).retryable(true);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return if io.kind() == std::io::ErrorKind::TimedOut {
                Error::timeout(format!("{what}{doing}: {io}"))
            } else {
                Error::connect(format!("{what}{doing}: connection lost: {io}"))
            };
        }
        source = s.source();
    }
    if e.is_timeout() {
        return Error::timeout(format!("{what}{doing}: {e}"));
    }
    // lettre quotes what the server sent: keep it short and printable.
    let said = crate::transport::error::printable(e.to_string().as_bytes(), 200);
    Error::protocol(format!("{what}{doing}: {said}"))
}

/// The server's name and the extensions this connector uses, in a fixed order
/// (lettre's own `Display` follows a hash set's order).
pub(super) fn ehlo_detail(
    info: &lettre::transport::smtp::extension::ServerInfo,
    more: super::Offers,
) -> String {
    use lettre::transport::smtp::authentication::Mechanism;
    use lettre::transport::smtp::extension::Extension;
    let mut offered: Vec<&str> = Vec::new();
    for (ext, name) in [
        (Extension::EightBitMime, "8BITMIME"),
        (Extension::SmtpUtfEight, "SMTPUTF8"),
        (Extension::StartTls, "STARTTLS"),
    ] {
        if info.supports_feature(ext) {
            offered.push(name);
        }
    }
    for (m, name) in [
        (Mechanism::Plain, "AUTH PLAIN"),
        (Mechanism::Login, "AUTH LOGIN"),
        (Mechanism::Xoauth2, "AUTH XOAUTH2"),
    ] {
        if info.supports_auth_mechanism(m) {
            offered.push(name);
        }
    }
    for (on, name) in [
        (more.pipelining, "PIPELINING"),
        (more.chunking, "CHUNKING"),
        (more.dsn, "DSN"),
    ] {
        if on {
            offered.push(name);
        }
    }
    format!("{} offers {}", info.name(), offered.join(", "))
}
