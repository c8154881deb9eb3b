//! A fetched message's MIME, parsed with mail-parser, turned into a record: one concern
//! (what a record holds of a message and why), its header-section helpers in
//! `header.rs`, its walks over the part tree in `tree.rs` and its tests in
//! `mime_tests.rs`.

use std::borrow::Cow;

use base64::Engine as _;
use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};

use super::config::{AttachmentMode, ReadConfig};
use super::header::{
    HeaderStart, first_fields, header_len, header_start, lossy, raw_value, text_value, unfolded,
};
use super::record::{AddressRecord, AttachmentRecord, BodyPart, EmailRecord, HeaderRecord};
use super::tree::{Flat, digest_children, nesting, part_numbers};

/// The MIME parser, told to parse only the fields the record takes from its parsed
/// values (the MIME fields and `Subject`); every other field is kept as written.
/// Addresses, dates and identifiers are read by `fields.rs` from the field's own text,
/// so mail-parser's reading of them (its default) was work thrown away (a read used
/// about 8% less CPU without it).
static PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_text(HeaderName::Subject)
        .default_header_raw()
});

/// Turns one fetched message into a record and hands it to `then` (which writes it,
/// say), or says why it cannot be one. The record borrows its text from the parsed
/// message, which lives only as long as this call: what is kept of it is what `then`
/// makes of it. A panic in the MIME parser (mail-parser 0.11 has a `debug_assert!`
/// that malformed nesting reaches, found by the property tests) is caught here: that
/// message is reported and left untouched, and the run goes on, instead of one
/// stranger's message aborting every run.
pub(crate) fn record<T>(
    config: &ReadConfig,
    uid: u32,
    uid_validity: u32,
    flags: Vec<String>,
    raw: &[u8],
    then: impl FnOnce(&EmailRecord<'_>) -> Result<T, String>,
) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build(config, uid, uid_validity, flags, raw, then)
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

fn build<T>(
    config: &ReadConfig,
    uid: u32,
    uid_validity: u32,
    flags: Vec<String>,
    raw: &[u8],
    then: impl FnOnce(&EmailRecord<'_>) -> Result<T, String>,
) -> Result<T, String> {
    let header = header_len(raw);
    if header as u64 > config.max_header_bytes {
        return Err(format!(
            "its header is {header} bytes, more than max_header_bytes ({})",
            config.max_header_bytes
        ));
    }
    let bodied: Vec<u8>;
    let input = match header_start(raw) {
        HeaderStart::At(at) => &raw[at..],
        HeaderStart::None => {
            // No header at all: the whole message is its body (RFC 5322 section 2.1
            // makes every field optional at this level; a reader must not refuse it).
            bodied = [b"\r\n".as_slice(), raw].concat();
            &bodied
        }
    };
    let message = Flat(Some(
        PARSER.parse(input).ok_or("it cannot be parsed as MIME")?,
    ));
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
    // Address lists, dates and identifiers are read from the first field of each
    // name, as written (`fields.rs` says where mail-parser misreads them).
    let [
        from,
        to,
        cc,
        reply_to,
        message_id,
        date,
        in_reply_to,
        references,
        subject,
    ] = first_fields(
        &message,
        [
            HeaderName::From,
            HeaderName::To,
            HeaderName::Cc,
            HeaderName::ReplyTo,
            HeaderName::MessageId,
            HeaderName::Date,
            HeaderName::InReplyTo,
            HeaderName::References,
            HeaderName::Subject,
        ],
    );
    let header = |h: Option<&mail_parser::Header<'_>>| raw_value(&message, h?);
    // What a field's reader takes from the value is the message's own text when the
    // value is, and a copy when the value had to be made (unfolded, say).
    let addresses = |h| match header(h) {
        None => Vec::new(),
        Some(Cow::Borrowed(v)) => super::fields::addresses(v),
        Some(Cow::Owned(v)) => super::fields::addresses(&v)
            .into_iter()
            .map(AddressRecord::into_owned)
            .collect(),
    };
    let ids = |h| match header(h) {
        None => Vec::new(),
        Some(Cow::Borrowed(v)) => super::fields::ids(v),
        Some(Cow::Owned(v)) => super::fields::ids(&v)
            .into_iter()
            .map(|id| Cow::Owned(id.into_owned()))
            .collect(),
    };
    // Part numbers only matter when a record lists several body parts of a kind.
    let numbers = std::cell::OnceCell::new();
    // The body parts of each kind (mail-parser lists text parts converted from HTML,
    // and the reverse, among the bodies; only a part of the kind itself counts).
    let bodies = |ids: &[u32], html: bool| -> Vec<BodyPart<'_>> {
        ids.iter()
            .filter_map(|id| Some((*id as usize, message.part(*id)?)))
            .filter(|(_, p)| match p.body {
                PartType::Html(_) => html,
                PartType::Text(_) => !html,
                _ => false,
            })
            .filter_map(|(id, p)| {
                Some(BodyPart {
                    part: if ids.len() > 1 {
                        numbers
                            .get_or_init(|| part_numbers(&message))
                            .get(id)
                            .cloned()
                            .flatten()
                            .unwrap_or_default()
                    } else {
                        String::new()
                    },
                    content: normalize_body(text_of(&message, p)?),
                })
            })
            .collect()
    };
    let mut uu_files = Vec::new();
    let mut text_parts: Vec<BodyPart<'_>> = bodies(&message.text_body, false)
        .into_iter()
        .map(|mut part| {
            let (text, files) = super::uu::extract(std::mem::take(&mut part.content));
            part.content = text;
            uu_files.extend(files);
            part
        })
        .collect();
    let mut html_parts = bodies(&message.html_body, true);
    // One part is moved into `text` or `html` (nearly every message); several are
    // kept apart as well, so the first or the joined text is a copy.
    let text = match text_parts.as_mut_slice() {
        [] => None,
        [one] => Some(std::mem::take(&mut one.content)),
        several => Some(Cow::Owned(
            several
                .iter()
                .map(|p| p.content.as_ref())
                .collect::<Vec<_>>()
                .join("\n\n"),
        )),
    };
    let html = match html_parts.as_mut_slice() {
        [] => None,
        [one] => Some(std::mem::take(&mut one.content)),
        [first, ..] => Some(first.content.clone()),
    };
    let several = |parts: Vec<_>| if parts.len() > 1 { parts } else { Vec::new() };
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
            let value = lossy(bytes);
            let not_utf8 = matches!(value, std::borrow::Cow::Owned(_)).then_some(true);
            HeaderRecord {
                name: match &h.name {
                    // A name mail-parser knows is its canonical spelling, a static str.
                    mail_parser::HeaderName::Other(name) => Cow::Borrowed(name.as_ref()),
                    known => Cow::Borrowed(known.as_static_str()),
                },
                value: unfolded(value),
                not_utf8,
            }
        })
        .collect();
    let save_files = config.save_to.as_ref().is_some_and(|s| {
        matches!(
            s.what,
            super::config::SaveWhat::Attachments | super::config::SaveWhat::Both
        )
    });
    let mut files: Vec<Vec<u8>> = Vec::new();
    let mut attachments = if config.attachments == AttachmentMode::None {
        Vec::new()
    } else {
        let in_digest = digest_children(&message);
        attachment_ids(&message)
            .into_iter()
            .filter_map(|id| Some((id, message.part(id as u32)?)))
            .map(|(id, part)| {
                let contents = original_bytes(&message, part);
                let size = contents.len() as u64;
                if save_files {
                    files.push(contents.to_vec());
                }
                let content_type: String = part
                    .content_type()
                    .map(|ct| match ct.subtype() {
                        Some(sub) => format!("{}/{}", ct.ctype(), sub),
                        None => ct.ctype().to_owned(),
                    })
                    .unwrap_or_else(|| {
                        // RFC 2046 section 5.1.5: in a digest, a part without a type is
                        // a message; elsewhere RFC 2045 section 5.2 says plain text.
                        if in_digest.get(id).copied().unwrap_or(false)
                            || matches!(part.body, PartType::Message(_))
                        {
                            "message/rfc822".into()
                        } else {
                            "text/plain".into()
                        }
                    })
                    .to_ascii_lowercase();
                let inline = part.content_disposition().is_some_and(|d| d.is_inline());
                let (content_base64, skipped) = content(config, &contents);
                AttachmentRecord {
                    filename: part.attachment_name().map(crate::filename::safe),
                    content_type: Cow::Owned(content_type),
                    size,
                    content_id: part
                        .content_id()
                        .map(|c| Cow::Borrowed(c.trim_matches(['<', '>']))),
                    inline,
                    content_base64,
                    skipped,
                    path: None,
                }
            })
            .collect()
    };
    if config.attachments != AttachmentMode::None {
        for file in uu_files {
            let size = file.bytes.len() as u64;
            let (content_base64, skipped) = content(config, &file.bytes);
            attachments.push(AttachmentRecord {
                filename: Some(Cow::Owned(crate::filename::safe(&file.name).into_owned())),
                content_type: Cow::Borrowed(
                    mime_guess::from_path(&file.name)
                        .first_raw()
                        .unwrap_or("application/octet-stream"),
                ),
                size,
                content_id: None,
                inline: false,
                content_base64,
                skipped,
                path: None,
            });
            if save_files {
                files.push(file.bytes);
            }
        }
    }
    let mut record = EmailRecord {
        uid,
        uid_validity,
        folder: Cow::Borrowed(&config.folder),
        message_id: ids(message_id).into_iter().next(),
        date: header(date).and_then(|d| super::fields::date(&d)).map(utc),
        from: addresses(from),
        to: addresses(to),
        cc: addresses(cc),
        reply_to: addresses(reply_to),
        subject: subject.and_then(text_value),
        text,
        html,
        text_parts: several(text_parts),
        html_parts: several(html_parts),
        headers,
        in_reply_to: ids(in_reply_to).into_iter().next(),
        references: ids(references),
        flags,
        size: raw.len() as u64,
        attachments,
        raw_base64: config
            .include_raw
            .then(|| base64::engine::general_purpose::STANDARD.encode(raw)),
        eml_path: None,
        change: None,
    };
    if let Some(save) = &config.save_to {
        super::save::store(save, &mut record, raw, &files)?;
    }
    then(&record)
}

/// What an attachment's record carries of its bytes: the content in base64 (with
/// `attachments: content`), or why it was left out (over `max_attachment_bytes`).
fn content(config: &ReadConfig, bytes: &[u8]) -> (Option<String>, Option<String>) {
    let size = bytes.len() as u64;
    match config.attachments {
        AttachmentMode::Content if size > config.max_attachment_bytes => (
            None,
            Some(format!(
                "larger than max_attachment_bytes ({size} > {})",
                config.max_attachment_bytes
            )),
        ),
        AttachmentMode::Content => (
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            None,
        ),
        _ => (None, None),
    }
}

/// The parts a record lists as attachments, in document order: mail-parser's
/// attachments, and every other part that is neither a body part nor a container
/// (mail-parser 0.11 leaves some out of all three lists, such as a whole message that
/// is one named file with an empty body, so a record would not say it exists). A
/// multipart with no parts found in it and nothing in its body is no attachment.
fn attachment_ids(message: &Message<'_>) -> Vec<usize> {
    let mut listed = vec![false; message.parts.len()];
    for id in message.attachments.iter().copied() {
        if let Some(flag) = listed.get_mut(id as usize) {
            *flag = true;
        }
    }
    let body = |id: usize| {
        let as_text = message.text_body.contains(&(id as u32))
            && matches!(message.parts[id].body, PartType::Text(_));
        let as_html = message.html_body.contains(&(id as u32))
            && matches!(message.parts[id].body, PartType::Html(_));
        as_text || as_html
    };
    (0..message.parts.len())
        .filter(|&id| {
            let part = &message.parts[id];
            if matches!(part.body, PartType::Multipart(_)) {
                return false;
            }
            let empty_container = part
                .content_type()
                .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"))
                && part.contents().iter().all(u8::is_ascii_whitespace);
            !empty_container && (listed[id] || !body(id))
        })
        .collect()
}

/// A body part's text. mail-parser decodes by the declared charset, and decodes a
/// part labelled US-ASCII (or not labelled) as windows-1252 as the WHATWG Encoding
/// Standard says; but 8-bit bytes in such a part prove the label wrong, and when they
/// are valid UTF-8 they are UTF-8 (what mailers that forget the label send), which
/// windows-1252 would turn into `Ã©` for `é`.
fn text_of<'a>(
    message: &'a Message<'_>,
    part: &'a mail_parser::MessagePart<'_>,
) -> Option<std::borrow::Cow<'a, str>> {
    let decoded = part.text_contents()?;
    let ascii_label = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .is_none_or(|c| {
            let c = c.trim().to_ascii_lowercase();
            c == "us-ascii" || c == "ascii"
        });
    if ascii_label && !decoded.is_ascii() {
        let bytes = original_bytes(message, part);
        if !bytes.is_ascii()
            && let Ok(text) = std::str::from_utf8(&bytes)
        {
            return Some(std::borrow::Cow::Owned(text.to_owned()));
        }
    }
    Some(std::borrow::Cow::Borrowed(decoded))
}

/// An attachment's bytes as the sender had them: the transfer encoding undone, and
/// nothing more. mail-parser converts text parts to UTF-8 from their charset; a text
/// file attached in Latin-1 or UTF-16 must come out as it went in (its checksum is
/// the sender's), so text parts are decoded again from the raw message.
fn original_bytes<'a>(
    message: &'a Message<'_>,
    part: &'a mail_parser::MessagePart<'_>,
) -> std::borrow::Cow<'a, [u8]> {
    use mail_parser::Encoding;
    use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
    if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        return std::borrow::Cow::Borrowed(part.contents());
    }
    let raw = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize);
    let decoded = raw.and_then(|raw| match part.encoding {
        Encoding::Base64 => base64_decode(raw).map(std::borrow::Cow::Owned),
        Encoding::QuotedPrintable => quoted_printable_decode(raw).map(std::borrow::Cow::Owned),
        Encoding::None => Some(std::borrow::Cow::Borrowed(raw)),
    });
    decoded.unwrap_or(std::borrow::Cow::Borrowed(part.contents()))
}

/// A body as records carry it: MIME's CRLF line endings become `\n`, and the line
/// breaks transports add at the end are dropped. A body with neither is returned as
/// it is (the message's own text, not copied).
fn normalize_body(text: Cow<'_, str>) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let crlf = memchr::memchr_iter(b'\r', bytes).any(|cr| bytes.get(cr + 1) == Some(&b'\n'));
    if !crlf {
        return match text {
            Cow::Borrowed(t) => Cow::Borrowed(t.trim_end_matches(['\n', '\r'])),
            Cow::Owned(mut t) => {
                let end = t.trim_end_matches(['\n', '\r']).len();
                t.truncate(end);
                Cow::Owned(t)
            }
        };
    }
    // One pass and one allocation (`str::replace` searches for the pair with a general
    // substring search, and the trim copied again: a tenth of a read's parsing time).
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    for cr in memchr::memchr_iter(b'\r', bytes) {
        if bytes.get(cr + 1) == Some(&b'\n') {
            out.push_str(&text[start..cr]);
            start = cr + 1;
        }
    }
    out.push_str(&text[start..]);
    let end = out.trim_end_matches(['\n', '\r']).len();
    out.truncate(end);
    Cow::Owned(out)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`: what mail-parser's
/// `to_rfc3339` writes for a UTC time, in one allocation (its `format!` was a twentieth
/// of building a record).
fn utc(ts: i64) -> String {
    let d = mail_parser::DateTime::from_timestamp(ts);
    let mut out = String::with_capacity(20);
    if d.year > 9999 {
        out.push_str(&d.year.to_string());
    } else {
        for place in [1000, 100, 10, 1] {
            out.push(char::from(b'0' + (d.year / place % 10) as u8));
        }
    }
    for (before, n) in [
        ('-', d.month),
        ('-', d.day),
        ('T', d.hour),
        (':', d.minute),
        (':', d.second),
    ] {
        out.push(before);
        out.push(char::from(b'0' + n / 10 % 10));
        out.push(char::from(b'0' + n % 10));
    }
    out.push('Z');
    out
}

#[cfg(test)]
#[path = "mime_tests.rs"]
mod tests;
