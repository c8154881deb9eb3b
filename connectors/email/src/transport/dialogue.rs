//! The trace of an SMTP or IMAP conversation at `trace` level (targets
//! `email_connector::smtp` and `email_connector::imap`), with credentials replaced by
//! `***`.

use super::Proto;

/// The trace of a conversation, with credentials replaced by `***`: one event per
/// protocol line in each direction, whatever pieces the bytes arrived in (before TLS
/// a STARTTLS reply is read a byte at a time). Message content is not traced line by
/// line: an IMAP literal and SMTP message data are one event each, with their size.
pub(crate) struct Dialogue {
    proto: Proto,
    /// Whether tracing is on for this protocol (fixed for the process).
    on: bool,
    /// Inside an AUTH exchange: client lines are credentials.
    redacting: bool,
    /// Client bytes not yet ending in CRLF.
    pending: Vec<u8>,
    /// Server bytes not yet ending in LF.
    incoming: Vec<u8>,
    /// Bytes of an IMAP literal the server is still sending.
    literal_left: u64,
    /// The next server line continues one a literal interrupted.
    after_literal: bool,
    /// The client is sending SMTP message data: lines until the lone `.`.
    data: Option<(u64, u64)>,
    /// The client said DATA, and this many replies to earlier commands come before
    /// DATA's (pipelining, RFC 2920); a `354` in reply to DATA starts the message data.
    data_asked: Option<u32>,
    /// SMTP replies still to come for commands the client sent.
    awaiting: u32,
    /// Bytes of a `BDAT` chunk (RFC 3030) still to come from the client.
    chunk_left: u64,
}

const SHOWN: usize = 200;
/// A line longer than this is traced as far as this, and its rest dropped.
const LONGEST: usize = 64 * 1024;

impl Dialogue {
    pub(crate) fn new(proto: Proto) -> Self {
        let mut dialogue = Self::traced(proto);
        dialogue.on = dialogue.enabled();
        dialogue
    }

    /// A dialogue that follows the conversation whether or not tracing is on.
    fn traced(proto: Proto) -> Self {
        Self {
            on: true,
            proto,
            redacting: false,
            pending: Vec::new(),
            incoming: Vec::new(),
            literal_left: 0,
            after_literal: false,
            data: None,
            data_asked: None,
            awaiting: 0,
            chunk_left: 0,
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

    /// What the client sent, traced line by line (a command may arrive in pieces:
    /// async-imap writes the tag and the command separately).
    pub(crate) fn client(&mut self, data: &[u8]) {
        if !self.on {
            return;
        }
        let mut data = data;
        if self.chunk_left > 0 {
            let n = usize::try_from(self.chunk_left)
                .unwrap_or(usize::MAX)
                .min(data.len());
            self.chunk_left -= n as u64;
            data = &data[n..];
        }
        self.pending.extend_from_slice(data);
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.pending.drain(..end + 2).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            if let Some((lines, bytes)) = &mut self.data {
                if line == "." {
                    let (lines, bytes) = (*lines, *bytes);
                    self.data = None;
                    self.emit(
                        "C:",
                        &format!("<message data: {lines} lines, {bytes} bytes>"),
                    );
                    self.emit("C:", ".");
                    self.awaiting += 1;
                } else {
                    *lines += 1;
                    *bytes += line.len() as u64 + 2;
                }
                continue;
            }
            let shown = self.redact(&line);
            self.emit("C:", &clip(&shown));
            if self.proto == Proto::Smtp {
                if line.eq_ignore_ascii_case("DATA") {
                    self.data_asked = Some(self.awaiting);
                }
                self.awaiting += 1;
                if let Some(size) = chunk(&line) {
                    // The chunk's bytes follow the command line, not as lines.
                    self.emit("C:", &format!("<message data: {size} bytes>"));
                    let rest = std::mem::take(&mut self.pending);
                    let n = usize::try_from(size).unwrap_or(usize::MAX).min(rest.len());
                    self.chunk_left = size - n as u64;
                    self.pending.extend_from_slice(&rest[n..]);
                }
            }
        }
        if self.pending.len() > LONGEST {
            self.pending.clear();
            self.emit("C:", "<a line longer than 64 KiB, not traced>");
        }
    }

    /// What the server sent, traced line by line.
    pub(crate) fn server(&mut self, data: &[u8]) {
        if !self.on {
            return;
        }
        let mut data = data;
        while !data.is_empty() {
            if self.literal_left > 0 {
                let n = usize::try_from(self.literal_left)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.literal_left -= n as u64;
                data = &data[n..];
                continue;
            }
            let Some(end) = data.iter().position(|&b| b == b'\n') else {
                self.incoming.extend_from_slice(data);
                if self.incoming.len() > LONGEST {
                    self.incoming.clear();
                    self.emit("S:", "<a line longer than 64 KiB, not traced>");
                }
                return;
            };
            self.incoming.extend_from_slice(&data[..=end]);
            data = &data[end + 1..];
            let raw = std::mem::take(&mut self.incoming);
            let text = String::from_utf8_lossy(&raw);
            let line = text.trim_end_matches(['\r', '\n']);
            self.server_line(line);
        }
    }

    fn server_line(&mut self, line: &str) {
        // A final reply (not a continuation) ends an AUTH exchange.
        let continuation = match self.proto {
            Proto::Smtp => line.starts_with("334"),
            Proto::Imap => line.starts_with('+'),
        };
        if self.redacting && !continuation && !line.is_empty() {
            self.redacting = false;
        }
        // The last line of a reply (`250 ok`, not `250-…`) answers one command.
        let last = line.len() <= 3 || line.as_bytes()[3] == b' ';
        if self.proto == Proto::Smtp && last {
            self.awaiting = self.awaiting.saturating_sub(1);
            match self.data_asked {
                Some(0) => {
                    self.data_asked = None;
                    if line.starts_with("354") {
                        self.data = Some((0, 0));
                    }
                }
                Some(n) => self.data_asked = Some(n - 1),
                None => {}
            }
        }
        if std::mem::take(&mut self.after_literal) {
            // The rest of a line a literal interrupted (`)` after a message).
            self.emit("S:", &format!("… {}", clip(line)));
        } else {
            self.emit("S:", &clip(line));
        }
        if self.proto == Proto::Imap
            && let Some(size) = literal(line)
        {
            self.literal_left = size;
            self.after_literal = true;
            self.emit("S:", &format!("<literal: {size} bytes>"));
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

/// The size of the chunk a `BDAT <size> [LAST]` command announces (RFC 3030).
fn chunk(line: &str) -> Option<u64> {
    let mut words = line.split(' ');
    let verb = words.next()?;
    if !verb.eq_ignore_ascii_case("BDAT") {
        return None;
    }
    words.next()?.parse().ok()
}

/// The size of the literal a line announces at its end (`{123}`).
fn literal(line: &str) -> Option<u64> {
    let inner = line.strip_suffix('}')?;
    let (_, digits) = inner.rsplit_once('{')?;
    digits.parse().ok()
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
        let mut smtp = Dialogue::traced(Proto::Smtp);
        assert_eq!(
            smtp.redact("AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
            "AUTH PLAIN ***"
        );
        assert!(smtp.redacting);
        assert_eq!(smtp.redact("c2VjcmV0"), "***");
        smtp.server(b"235 2.7.0 Authentication successful\r\n");
        assert!(!smtp.redacting);
        assert_eq!(smtp.redact("MAIL FROM:<a@b>"), "MAIL FROM:<a@b>");

        let mut imap = Dialogue::traced(Proto::Imap);
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

    #[test]
    fn literals_are_passed_over_and_lines_are_whole() {
        let mut imap = Dialogue::traced(Proto::Imap);
        imap.server(b"* 1 FETCH (BODY[] {12}\r\nhello\r\nworld)\r\n");
        assert_eq!(imap.literal_left, 0);
        assert!(imap.incoming.is_empty());
        // A reply read a byte at a time (STARTTLS before TLS) is still one line.
        for b in b"* OK [CAPABILITY IMAP4rev1] ready\r" {
            imap.server(&[*b]);
        }
        assert!(!imap.incoming.is_empty());
        imap.server(b"\n");
        assert!(imap.incoming.is_empty());
        assert_eq!(literal("* 1 FETCH (BODY[] {530}"), Some(530));
        assert_eq!(literal("a1 OK done"), None);
    }

    #[test]
    fn pipelined_commands_and_chunks_are_traced_as_lines_and_sizes() {
        let mut smtp = Dialogue::traced(Proto::Smtp);
        // MAIL, RCPT and DATA in one write; the replies in one read.
        smtp.client(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
        assert_eq!((smtp.awaiting, smtp.data_asked), (3, Some(2)));
        smtp.server(b"250 2.1.0 Ok\r\n250-2.1.5 Ok\r\n250 2.1.5 Ok\r\n");
        assert_eq!(
            smtp.data, None,
            "the replies to MAIL and RCPT do not start the data"
        );
        smtp.server(b"354 End data with <CR><LF>.<CR><LF>\r\n");
        assert_eq!(smtp.data, Some((0, 0)));
        // The data is counted (lines, bytes with their CRLFs), not traced.
        smtp.client(b"Subject: x\r\n\r\nhello\r\n");
        assert_eq!(smtp.data, Some((3, 21)));
        smtp.client(b".\r\n");
        assert_eq!(
            (smtp.data, smtp.awaiting),
            (None, 1),
            "the final `.` is answered"
        );

        // BDAT: the chunk's bytes are not lines, even when they hold CRLFs, and the
        // command after it is a line again.
        smtp.server(b"250 2.0.0 queued\r\n");
        assert_eq!(smtp.awaiting, 0);
        smtp.client(b"MAIL FROM:<a@b>\r\nBDAT 7 LAST\r\nab\r\n.\r\n");
        assert_eq!(smtp.chunk_left, 0);
        assert!(smtp.pending.is_empty());
        smtp.client(b"BDAT 4 LAST\r\nxy");
        assert_eq!(smtp.chunk_left, 2);
        smtp.client(b"\r\nQUIT\r\n");
        assert_eq!((smtp.chunk_left, smtp.pending.len()), (0, 0));
        assert_eq!(chunk("BDAT 12 LAST"), Some(12));
        assert_eq!(chunk("bdat 7"), Some(7));
        assert_eq!(chunk("DATA"), None);
    }
}
