//! A fetched message's MIME, parsed with mail-parser, turned into a record.

use base64::Engine as _;
use mail_parser::{MessageParser, MimeHeaders};

use super::config::{AttachmentMode, ReadConfig};
use super::record::{AddressRecord, AttachmentRecord, EmailRecord, HeaderRecord};

/// Turns one fetched message into a record; `None` when it cannot be parsed.
pub(crate) fn record(
    config: &ReadConfig,
    uid: u32,
    uid_validity: u32,
    flags: Vec<String>,
    raw: &[u8],
) -> Option<EmailRecord> {
    let message = MessageParser::default().parse(raw)?;
    if message.headers().is_empty() {
        return None;
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
    let text = message
        .text_body
        .iter()
        .filter_map(|id| message.part(*id))
        .find(|p| matches!(p.body, mail_parser::PartType::Text(_)))
        .and_then(|p| p.text_contents())
        .map(normalize_body);
    let html = message
        .html_body
        .iter()
        .filter_map(|id| message.part(*id))
        .find(|p| matches!(p.body, mail_parser::PartType::Html(_)))
        .and_then(|p| p.text_contents())
        .map(normalize_body);
    let headers = message
        .headers_raw()
        .map(|(name, value)| HeaderRecord {
            name: name.to_owned(),
            value: unfold(value),
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
                    filename: part.attachment_name().map(str::to_owned),
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
    Some(EmailRecord {
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
