//! The trace of an SMTP or IMAP conversation at `trace` level (targets
//! `email_connector::smtp` and `email_connector::imap`), with credentials replaced by
//! `***`.

use super::Proto;

/// The trace of a conversation, with credentials replaced by `***`.
pub(crate) struct Dialogue {
    proto: Proto,
    /// Inside an AUTH exchange: client lines are credentials.
    redacting: bool,
    /// Client bytes not yet ending in CRLF.
    pending: Vec<u8>,
}

const SHOWN: usize = 200;

impl Dialogue {
    pub(crate) fn new(proto: Proto) -> Self {
        Self {
            proto,
            redacting: false,
            pending: Vec::new(),
        }
    }

    fn enabled(&self) -> bool {
        match self.proto {
            Proto::Smtp => {
                tracing::enabled!(target: "email_connector::smtp", tracing::Level::TRACE)
            }
            Proto::Imap => {
                tracing::enabled!(target: "email_connector::imap", tracing::Level::TRACE)
            }
        }
    }

    fn emit(&self, direction: &str, line: &str) {
        match self.proto {
            Proto::Smtp => tracing::trace!(target: "email_connector::smtp", "{direction} {line}"),
            Proto::Imap => tracing::trace!(target: "email_connector::imap", "{direction} {line}"),
        }
    }

    /// What the client sent. Writes are reassembled into lines first: a command may
    /// arrive in pieces (async-imap writes the tag and the command separately).
    pub(crate) fn client(&mut self, data: &[u8]) {
        if !self.enabled() {
            return;
        }
        self.pending.extend_from_slice(data);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.pending.drain(..end + 2).collect();
            lines.push(String::from_utf8_lossy(&line[..end]).into_owned());
        }
        if self.pending.len() > 65_536 {
            self.pending.clear();
        }
        let Some(first) = lines.first() else { return };
        let shown = self.redact(first);
        for line in &lines[1..] {
            self.redact(line);
        }
        let more = lines.len() - 1;
        let tail = if more > 0 {
            format!(" (+{more} lines)")
        } else {
            String::new()
        };
        self.emit("C:", &format!("{}{tail}", clip(&shown)));
    }

    /// What the server sent.
    pub(crate) fn server(&mut self, data: &[u8]) {
        if !self.enabled() && !self.redacting {
            return;
        }
        let text = String::from_utf8_lossy(data);
        let last = text
            .trim_end_matches("\r\n")
            .rsplit("\r\n")
            .next()
            .unwrap_or("");
        // A final reply (not a continuation) ends an AUTH exchange.
        let continuation = match self.proto {
            Proto::Smtp => last.starts_with("334"),
            Proto::Imap => last.starts_with('+'),
        };
        if self.redacting && !continuation && !last.is_empty() {
            self.redacting = false;
        }
        if self.enabled() {
            let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
            if let Some(first) = lines.next() {
                let more = lines.count();
                let tail = if more > 0 {
                    format!(" (+{more} lines, {} bytes)", data.len())
                } else {
                    String::new()
                };
                self.emit("S:", &format!("{}{tail}", clip(first)));
            }
        }
    }

    /// The line as it may be logged; starts redacting at an AUTH command.
    fn redact(&mut self, line: &str) -> String {
        if self.redacting {
            return "***".to_owned();
        }
        let words: Vec<&str> = line.split(' ').collect();
        let upper = |i: usize| words.get(i).map(|w| w.to_ascii_uppercase());
        match self.proto {
            Proto::Smtp if upper(0).as_deref() == Some("AUTH") => {
                self.redacting = true;
                format!("AUTH {} ***", words.get(1).unwrap_or(&""))
            }
            Proto::Imap if upper(1).as_deref() == Some("LOGIN") => {
                format!("{} LOGIN {} ***", words[0], words.get(2).unwrap_or(&""))
            }
            Proto::Imap if upper(1).as_deref() == Some("AUTHENTICATE") => {
                self.redacting = true;
                format!(
                    "{} AUTHENTICATE {} ***",
                    words[0],
                    words.get(2).unwrap_or(&"")
                )
            }
            _ => line.to_owned(),
        }
    }
}

fn clip(line: &str) -> String {
    if line.chars().count() <= SHOWN {
        return line.to_owned();
    }
    line.chars().take(SHOWN).collect::<String>() + "…"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_in_both_protocols() {
        let mut smtp = Dialogue::new(Proto::Smtp);
        assert_eq!(
            smtp.redact("AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
            "AUTH PLAIN ***"
        );
        assert!(smtp.redacting);
        assert_eq!(smtp.redact("c2VjcmV0"), "***");
        smtp.server(b"235 2.7.0 Authentication successful\r\n");
        assert!(!smtp.redacting);
        assert_eq!(smtp.redact("MAIL FROM:<a@b>"), "MAIL FROM:<a@b>");

        let mut imap = Dialogue::new(Proto::Imap);
        assert_eq!(
            imap.redact("a1 LOGIN \"alice\" \"hunter2\""),
            "a1 LOGIN \"alice\" ***"
        );
        assert_eq!(
            imap.redact("a2 AUTHENTICATE XOAUTH2 dXNlcj1h"),
            "a2 AUTHENTICATE XOAUTH2 ***"
        );
        imap.server(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
        assert!(imap.redacting, "a continuation keeps the exchange open");
        assert_eq!(imap.redact(""), "***");
        imap.server(b"a2 NO [AUTHENTICATIONFAILED] failed\r\n");
        assert!(!imap.redacting);
    }
}
