//! A fetched message's MIME, parsed with mail-parser, turned into a record.

use base64::Engine as _;
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::config::{AttachmentMode, ReadConfig};
use super::record::{AddressRecord, AttachmentRecord, EmailRecord, HeaderRecord};

/// Turns one fetched message into a record, or says why it cannot be one. A panic in
/// the MIME parser (mail-parser 0.11 has a `debug_assert!` that malformed nesting
/// reaches, found by the property tests) is caught here: that message is reported and
/// left untouched, and the run goes on, instead of one stranger's message aborting
/// every run.
pub(crate) fn record(
    config: &ReadConfig,
    uid: u32,
    uid_validity: u32,
    flags: Vec<String>,
    raw: &[u8],
) -> Result<EmailRecord, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build(config, uid, uid_validity, flags, raw)
    }))
    .unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!("the MIME parser failed on it ({why})"))
    })
}

fn build(
    config: &ReadConfig,
    uid: u32,
    uid_validity: u32,
    flags: Vec<String>,
    raw: &[u8],
) -> Result<EmailRecord, String> {
    let header = header_len(raw);
    if header as u64 > config.max_header_bytes {
        return Err(format!(
            "its header is {header} bytes, more than max_header_bytes ({})",
            config.max_header_bytes
        ));
    }
    let message = Flat(Some(
        MessageParser::default()
            .parse(raw)
            .ok_or("it cannot be parsed as MIME")?,
    ));
    if message.headers().is_empty() {
        return Err("it has no header".into());
    }
    let depth = nesting(&message);
    if depth > config.max_nesting_depth as usize {
        return Err(format!(
            "its MIME parts are nested more than {} deep (max_nesting_depth)",
            config.max_nesting_depth
        ));
    }
    if message.parts.len() > config.max_parts as usize {
        return Err(format!(
            "it has {} MIME parts, more than max_parts ({})",
            message.parts.len(),
            config.max_parts
        ));
    }
    let addresses = |a: Option<&mail_parser::Address<'_>>| -> Vec<AddressRecord> {
        a.map(|a| {
            a.iter()
                .map(|addr| AddressRecord {
                    name: addr.name().map(str::to_owned),
                    address: addr.address().map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default()
    };
    let bracket = |id: &str| format!("<{id}>");
    let ids = |v: &mail_parser::HeaderValue<'_>| -> Vec<String> {
        match v {
            mail_parser::HeaderValue::Text(t) => vec![bracket(t)],
            mail_parser::HeaderValue::TextList(list) => list.iter().map(|t| bracket(t)).collect(),
            _ => Vec::new(),
        }
    };
    // The first body part of each kind (mail-parser lists text parts converted from
    // HTML, and the reverse, among the bodies; only a part of the kind itself counts).
    let first_body = |ids: &[u32], html: bool| {
        ids.iter()
            .filter_map(|id| message.part(*id))
            .find(|p| match p.body {
                PartType::Html(_) => html,
                PartType::Text(_) => !html,
                _ => false,
            })
            .and_then(|p| p.text_contents())
            .map(normalize_body)
    };
    let text = first_body(&message.text_body, false);
    let html = first_body(&message.html_body, true);
    // Not `headers_raw()`: it drops every header that is not UTF-8 (mail from older
    // systems), and a header a user does not get is silently lost. Each is kept,
    // decoded with replacement characters and flagged.
    let headers = message
        .parts
        .first()
        .map(|top| top.headers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|h| {
            let bytes = message
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            let value = String::from_utf8_lossy(bytes);
            let not_utf8 = matches!(value, std::borrow::Cow::Owned(_)).then_some(true);
            HeaderRecord {
                name: h.name.as_str().to_owned(),
                value: unfold(&value),
                not_utf8,
            }
        })
        .collect();
    let attachments = if config.attachments == AttachmentMode::None {
        Vec::new()
    } else {
        message
            .attachments()
            .map(|part| {
                let contents = part.contents();
                let size = contents.len() as u64;
                let content_type = part
                    .content_type()
                    .map(|ct| match ct.subtype() {
                        Some(sub) => format!("{}/{}", ct.ctype(), sub),
                        None => ct.ctype().to_owned(),
                    })
                    .unwrap_or_else(|| "application/octet-stream".into())
                    .to_ascii_lowercase();
                let inline = part.content_disposition().is_some_and(|d| d.is_inline());
                let (content_base64, skipped) = match config.attachments {
                    AttachmentMode::Content if size > config.max_attachment_bytes => (
                        None,
                        Some(format!(
                            "larger than max_attachment_bytes ({size} > {})",
                            config.max_attachment_bytes
                        )),
                    ),
                    AttachmentMode::Content => (
                        Some(base64::engine::general_purpose::STANDARD.encode(contents)),
                        None,
                    ),
                    _ => (None, None),
                };
                AttachmentRecord {
                    filename: part.attachment_name().map(crate::filename::safe),
                    content_type,
                    size,
                    content_id: part
                        .content_id()
                        .map(|c| c.trim_matches(['<', '>']).to_owned()),
                    inline,
                    content_base64,
                    skipped,
                }
            })
            .collect()
    };
    Ok(EmailRecord {
        uid,
        uid_validity,
        folder: config.folder.clone(),
        message_id: message.message_id().map(bracket),
        date: message.date().map(|d| utc(d.to_timestamp())),
        from: addresses(message.from()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        reply_to: addresses(message.reply_to()),
        subject: message.subject().map(str::to_owned),
        text,
        html,
        headers,
        in_reply_to: ids(message.in_reply_to()).into_iter().next(),
        references: ids(message.references()),
        flags,
        size: raw.len() as u64,
        attachments,
    })
}

/// The length of the header section: up to the first empty line (RFC 5322 section
/// 2.1), or the whole message if there is none.
fn header_len(raw: &[u8]) -> usize {
    let mut at = 0;
    while let Some(nl) = raw[at..].iter().position(|&b| b == b'\n') {
        let end = at + nl + 1;
        let rest = &raw[end..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return end;
        }
        at = end;
    }
    raw.len()
}

/// How deep containers nest in `message`: multiparts inside multiparts and
/// `message/rfc822` parts inside messages, counted with a stack of our own (the input
/// sets the depth, so no recursion may).
fn nesting(message: &Message<'_>) -> usize {
    let mut deepest = 0;
    // (message, part id, depth); a part is visited once, so a loop of ids cannot spin.
    let mut stack: Vec<(&Message<'_>, usize, usize)> = vec![(message, 0, 0)];
    let mut seen: Vec<Vec<bool>> = Vec::new();
    let mut seen_of = std::collections::HashMap::new();
    while let Some((m, id, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let key = std::ptr::from_ref(m) as usize;
        let slot = *seen_of.entry(key).or_insert_with(|| {
            seen.push(vec![false; m.parts.len()]);
            seen.len() - 1
        });
        let Some(visited) = seen[slot].get_mut(id) else {
            continue;
        };
        if std::mem::replace(visited, true) {
            continue;
        }
        match &m.parts[id].body {
            PartType::Multipart(children) => {
                stack.extend(children.iter().map(|c| (m, *c as usize, depth + 1)));
            }
            PartType::Message(inner) => stack.push((inner, 0, depth + 1)),
            _ => {}
        }
    }
    deepest
}

/// A parsed message that is dropped without recursion: dropping mail-parser's part
/// tree recurses once per nested `message/rfc822`, so 40,000 levels from a stranger
/// would overflow the stack (issue: a poison message stopped every run).
struct Flat<'x>(Option<Message<'x>>);

impl<'x> std::ops::Deref for Flat<'x> {
    type Target = Message<'x>;
    fn deref(&self) -> &Message<'x> {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for Flat<'_> {
    fn drop(&mut self) {
        let mut pending: Vec<Message<'_>> = self.0.take().into_iter().collect();
        while let Some(mut m) = pending.pop() {
            for part in &mut m.parts {
                if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                    pending.push(inner);
                }
            }
        }
    }
}

/// A body as records carry it: MIME's CRLF line endings become `\n`, and the line
/// breaks transports add at the end are dropped.
fn normalize_body(text: &str) -> String {
    text.replace("\r\n", "\n")
        .trim_end_matches(['\n', '\r'])
        .to_owned()
}

/// Unfolds a raw header value: each line break with the whitespace after it becomes
/// one space (RFC 5322 section 2.2.3).
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            while chars
                .peek()
                .is_some_and(|c| matches!(c, '\r' | '\n' | ' ' | '\t'))
            {
                chars.next();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(ts: i64) -> String {
    mail_parser::DateTime::from_timestamp(ts)
        .to_rfc3339()
        .replace("+00:00", "Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message whose body is a `message/rfc822` whose body is one too, `depth` deep:
    /// any sender can deliver it.
    pub(crate) fn nested(depth: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..depth {
            out.extend_from_slice(b"Subject: x\r\nContent-Type: message/rfc822\r\n\r\n");
        }
        out.extend_from_slice(b"Subject: core\r\n\r\nhello\r\n");
        out
    }

    fn config() -> ReadConfig {
        connector_sdk::from_value(&serde_json::json!({})).expect("defaults")
    }

    #[test]
    fn a_deeply_nested_message_is_refused_without_overflowing_the_stack() {
        // The size of a tokio blocking thread's stack, where messages are parsed.
        let raw = nested(40_000);
        let outcome = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || record(&config(), 7, 1, Vec::new(), &raw).map(|r| r.uid))
            .expect("spawn")
            .join()
            .expect("parsing must not overflow the stack");
        let reason = outcome.expect_err("too deep to be a record");
        assert!(reason.contains("nested more than 100 deep"), "{reason}");
    }

    #[test]
    fn deeply_nested_multiparts_are_refused_too() {
        let depth = 40_000;
        let mut raw = b"Subject: deep\r\n".to_vec();
        for i in 0..depth {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ncore\r\n");
        for i in (0..depth).rev() {
            raw.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
        }
        let outcome = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || record(&config(), 7, 1, Vec::new(), &raw).map(|r| r.uid))
            .expect("spawn")
            .join()
            .expect("parsing must not overflow the stack");
        assert!(
            outcome
                .expect_err("too deep")
                .contains("nested more than 100 deep")
        );
    }

    #[test]
    fn a_message_the_parser_chokes_on_is_reported_not_fatal() {
        // Found by `prop_tests`: in debug builds mail-parser 0.11 panics on it
        // ("Invalid part ID, could not find multipart").
        let raw = b"From: \r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: message/rfc822; charset=\"utf-8\"\r\nContent-Transfer-Encoding: x-uue\r\n\r\n\x00\r\n--b\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\r\n--b--\r\n";
        match record(&config(), 1, 1, Vec::new(), raw) {
            Ok(rec) => assert_eq!(rec.uid, 1),
            Err(why) => assert!(why.contains("MIME parser failed"), "{why}"),
        }
    }

    #[test]
    fn parts_and_header_bytes_have_limits() {
        let mut config = config();
        config.max_parts = 10;
        config.max_header_bytes = 1024;
        let mut many = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n".to_vec();
        for _ in 0..20 {
            many.extend_from_slice(b"--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n");
        }
        many.extend_from_slice(b"--x--\r\n");
        let e = record(&config, 1, 1, Vec::new(), &many).expect_err("too many parts");
        assert!(e.contains("max_parts"), "{e}");
        let big = format!("From: a@b\r\nX-Long: {}\r\n\r\nbody\r\n", "y".repeat(2000));
        let e = record(&config, 1, 1, Vec::new(), big.as_bytes()).expect_err("header too big");
        assert!(e.contains("max_header_bytes"), "{e}");
        // A large body is not a large header.
        let body = format!("From: a@b\r\n\r\n{}\r\n", "z".repeat(5000));
        record(&config, 1, 1, Vec::new(), body.as_bytes()).expect("a record");
        assert_eq!(header_len(b"A: b\r\n\r\nbody"), 6);
        assert_eq!(header_len(b"A: b\nC: d\n\nbody"), 10);
        assert_eq!(header_len(b"A: b"), 4);
    }

    #[test]
    fn a_header_that_is_not_utf8_is_kept_and_flagged() {
        let raw = b"Subject: ok\r\nX-Latin: caf\xe9 au lait\r\nFrom: a@example.com\r\n\r\nbody\r\n";
        let rec = record(&config(), 1, 1, Vec::new(), raw).expect("a record");
        let latin = rec
            .headers
            .iter()
            .find(|h| h.name == "X-Latin")
            .expect("the header is kept");
        assert_eq!(latin.value, "caf\u{fffd} au lait");
        assert_eq!(latin.not_utf8, Some(true));
        let subject = rec
            .headers
            .iter()
            .find(|h| h.name == "Subject")
            .expect("subject");
        assert_eq!(subject.not_utf8, None, "flagged only when it was not UTF-8");
    }

    #[test]
    fn attachment_names_from_strangers_cannot_name_a_path() {
        let raw = concat!(
            "Subject: x\r\nFrom: a@example.com\r\nMIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
            "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n",
            "--b\r\nContent-Type: application/octet-stream\r\n",
            "Content-Disposition: attachment; filename=\"../../etc/cron.d/evil\"\r\n\r\nx\r\n",
            "--b--\r\n"
        );
        let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
        assert_eq!(
            rec.attachments[0].filename.as_deref(),
            Some(".._.._etc_cron.d_evil")
        );
    }

    #[test]
    fn nesting_within_the_limit_is_read() {
        let rec = record(&config(), 7, 1, Vec::new(), &nested(20)).expect("a record");
        assert_eq!(rec.subject.as_deref(), Some("x"));
    }
}
