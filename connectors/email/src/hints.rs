//! What to do about the common, known causes of a failure: appended to an error's
//! message (`…; hint: …`) where the cause is classified, so the person at the
//! terminal and the platform's log both read the next step. The JSON error keeps its
//! machine fields.

/// A TLS handshake answered in plain text: `security: tls` on a port that starts in
/// plain text.
pub(crate) const PLAINTEXT_PORT: &str = "the server answered in plain text: this port starts unencrypted, so set `security: starttls` (SMTP 587, IMAP 143), or use the TLS port (SMTP 465, IMAP 993) with `security: tls`";

/// No greeting in time: a plain or STARTTLS connection to a port that waits for a TLS
/// handshake first.
pub(crate) const TLS_PORT: &str = "no greeting came: if this port is for TLS from the first byte (SMTP 465, IMAP 993), it waits for the client to start TLS, so set `security: tls` (or use the STARTTLS port, SMTP 587, IMAP 143)";

/// A certificate for another host name.
pub(crate) const OTHER_NAME: &str = "the certificate is for another host name: set `host` to a name the certificate lists (the server's own name, not an IP address or an alias)";

/// A certificate signed by a CA the connector does not trust.
pub(crate) const UNTRUSTED_CA: &str = "set `tls.ca_file` to the CA that signed it (a private CA), or check that the server sends its full certificate chain";

/// A folder that does not exist.
pub(crate) const NO_FOLDER: &str = "run `discover read` to list the folders and their exact names";

/// A password refused by Microsoft 365.
pub(crate) const EXCHANGE_BASIC: &str = "Exchange Online has turned basic authentication off: log in with OAuth 2.0 (`auth.type: oauth2`, see the OAuth chapter of the book)";

/// `message` with `hint` appended.
pub(crate) fn with(message: String, hint: &str) -> String {
    format!("{message}; hint: {hint}")
}

/// Whether `host` is Microsoft 365's (Exchange Online).
pub(crate) fn is_exchange_online(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    ["office365.com", "outlook.com", "office.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_online_hosts_are_recognised() {
        assert!(is_exchange_online("outlook.office365.com"));
        assert!(is_exchange_online("smtp.office365.com"));
        assert!(is_exchange_online("Outlook.Office365.com"));
        assert!(!is_exchange_online("office365.com.evil.example"));
        assert!(!is_exchange_online("imap.gmail.com"));
        assert!(
            with("x".into(), OTHER_NAME)
                .starts_with("x; hint: the certificate is for another host name")
        );
    }
}
