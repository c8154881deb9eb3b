//! A request turned into a MIME message with lettre: text, HTML or both, inline parts
//! under `multipart/related`, attachments under `multipart/mixed`, always base64 for
//! attachments so they arrive byte for byte.

use base64::Engine as _;
use connector_sdk::{Error, Result};
use lettre::message::header::{
    ContentDisposition, ContentId, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{Attachment, Body as MimeBody, MultiPart, SinglePart};

use super::request::{AttachmentRequest, Priority, SendConfig, SendRequest};

/// A message ready for the wire.
pub(crate) struct Built {
    pub(crate) message_id: String,
    pub(crate) from: lettre::Address,
    pub(crate) recipients: Vec<lettre::Address>,
    pub(crate) data: Vec<u8>,
    /// The delivery status notifications asked for.
    pub(crate) dsn: Option<super::request::Dsn>,
}

/// Assembles the MIME message with lettre.
pub(crate) fn build(
    config: &SendConfig,
    req: &SendRequest,
    dkim: Option<&lettre::message::dkim::DkimConfig>,
) -> Result<Built> {
    let merged = super::template::merged(config, req)?;
    let req: &SendRequest = &merged;
    let from = req
        .from
        .clone()
        .or_else(|| config.from.clone())
        .ok_or_else(|| Error::config("/from", "missing"))?;
    let message_id = match &req.message_id {
        Some(id) => id.clone(),
        None => stable_message_id(req, from.address().domain()),
    };
    let mut b = lettre::Message::builder()
        .from(from.0.clone())
        .message_id(Some(message_id.clone()));
    b = b.subject(req.subject.clone());
    for m in &req.to {
        b = b.to(m.0.clone());
    }
    for m in &req.cc {
        b = b.cc(m.0.clone());
    }
    for m in &req.bcc {
        b = b.bcc(m.0.clone());
    }
    let reply_to = if req.reply_to.is_empty() {
        &config.reply_to
    } else {
        &req.reply_to.0
    };
    for m in reply_to {
        b = b.reply_to(m.0.clone());
    }
    if let Some(id) = &req.in_reply_to {
        b = b.in_reply_to(id.clone());
    }
    if !req.references.is_empty() {
        b = b.references(req.references.join(" "));
    }
    if let Some(p) = req.priority {
        let (x, importance) = match p {
            Priority::High => ("1 (Highest)", "high"),
            Priority::Normal => ("3 (Normal)", "normal"),
            Priority::Low => ("5 (Lowest)", "low"),
        };
        b = b
            .raw_header(raw("X-Priority", x)?)
            .raw_header(raw("Importance", importance)?);
    }
    if !req.list_unsubscribe.is_empty() {
        let uris: Vec<String> = req
            .list_unsubscribe
            .iter()
            .map(|u| format!("<{u}>"))
            .collect();
        b = b.raw_header(raw("List-Unsubscribe", &uris.join(", "))?);
        if req.one_click_unsubscribe {
            b = b.raw_header(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")?);
        }
    }
    if let Some(kind) = req.auto_submitted {
        b = b.raw_header(raw("Auto-Submitted", kind.header())?);
    }
    if let Some(to) = &req.disposition_notification_to {
        b = b.raw_header(raw(
            "Disposition-Notification-To",
            &format!("<{}>", to.address()),
        )?);
    }
    for (name, value) in &req.headers {
        b = b.raw_header(raw(name, value)?);
    }

    let body = body_part(req);
    let mut inline = Vec::new();
    let mut attached = Vec::new();
    for (i, a) in req.attachments.iter().enumerate() {
        let (content, name) = attachment_content(config, i, a)?;
        // The name recipients see and may save under: no directory parts or controls.
        let name = name
            .as_deref()
            .map(|n| crate::filename::safe(n).into_owned());
        // Base64 always: a text attachment in 7bit or quoted-printable would have its
        // line endings rewritten in transit, and attachments must arrive byte for byte.
        let content = MimeBody::new_with_encoding(content, ContentTransferEncoding::Base64)
            .map_err(|_| Error::internal("base64 encoding failed"))?;
        let content_type = match &a.content_type {
            Some(ct) => ContentType::parse(ct)
                .map_err(|_| Error::config(format!("/attachments/{i}/content_type"), "invalid"))?,
            None => guess_type(name.as_deref()),
        };
        let part = if a.inline {
            let cid = a.content_id.clone().unwrap_or_default();
            match &name {
                Some(n) => {
                    Attachment::new_inline_with_name(cid, n.clone()).body(content, content_type)
                }
                None => Attachment::new_inline(cid).body(content, content_type),
            }
        } else {
            let filename = name.clone().unwrap_or_else(|| "attachment".into());
            let mut part = SinglePart::builder()
                .header(content_type)
                .header(ContentDisposition::attachment(&filename));
            if let Some(cid) = &a.content_id {
                // An attached part may still carry a Content-ID.
                part = part.header(ContentId::from(format!("<{cid}>")));
            }
            part.body(content)
        };
        if a.inline {
            inline.push(part)
        } else {
            attached.push(part)
        }
    }
    let message = match (inline.is_empty(), attached.is_empty()) {
        (true, true) => match body {
            Body::Single(p) => b.singlepart(p),
            Body::Multi(m) => b.multipart(m),
        },
        _ => {
            let mut related = None;
            if !inline.is_empty() {
                let mut r = match body.clone() {
                    Body::Single(p) => MultiPart::related().singlepart(p),
                    Body::Multi(m) => MultiPart::related().multipart(m),
                };
                for p in inline {
                    r = r.singlepart(p);
                }
                related = Some(r);
            }
            let core = related.map(Body::Multi).unwrap_or(body);
            if attached.is_empty() {
                match core {
                    Body::Single(p) => b.singlepart(p),
                    Body::Multi(m) => b.multipart(m),
                }
            } else {
                let mut mixed = match core {
                    Body::Single(p) => MultiPart::mixed().singlepart(p),
                    Body::Multi(m) => MultiPart::mixed().multipart(m),
                };
                for p in attached {
                    mixed = mixed.singlepart(p);
                }
                b.multipart(mixed)
            }
        }
    }
    .map_err(|e| Error::config("", format!("cannot build the message: {e}")))?;
    let mut message = message;
    if let Some(signer) = dkim {
        message.sign(signer);
    }
    // A recipient named twice (in to and cc, or twice in to) gets the message once.
    let mut seen = std::collections::HashSet::new();
    let recipients: Vec<lettre::Address> = message
        .envelope()
        .to()
        .iter()
        .filter(|a| seen.insert(a.to_string().to_ascii_lowercase()))
        .cloned()
        .collect();
    Ok(Built {
        message_id,
        from: from.0.email,
        recipients,
        data: message.formatted(),
        dsn: req.dsn.clone(),
    })
}

#[derive(Clone)]
enum Body {
    Single(SinglePart),
    Multi(MultiPart),
}

fn body_part(req: &SendRequest) -> Body {
    let unsafe_text = req.text.as_deref().is_some_and(not_7bit_safe)
        || req.html.as_deref().is_some_and(not_7bit_safe);
    if unsafe_text {
        // A NUL or a CR that does not end a line may not travel as 7bit or quoted
        // lines (RFC 5322 section 2.3, RFC 2045 section 2.7): such a body goes base64,
        // so it arrives byte for byte.
        let part = |text: &str, content_type: ContentType| {
            let body = MimeBody::new_with_encoding(
                text.as_bytes().to_vec(),
                ContentTransferEncoding::Base64,
            )
            .unwrap_or_else(|_| MimeBody::new(text.to_owned()));
            SinglePart::builder().header(content_type).body(body)
        };
        return match (&req.text, &req.html) {
            (Some(t), Some(h)) => Body::Multi(
                MultiPart::alternative()
                    .singlepart(part(t, ContentType::TEXT_PLAIN))
                    .singlepart(part(h, ContentType::TEXT_HTML)),
            ),
            (None, Some(h)) => Body::Single(part(h, ContentType::TEXT_HTML)),
            (Some(t), None) => Body::Single(part(t, ContentType::TEXT_PLAIN)),
            (None, None) => Body::Single(SinglePart::plain(String::new())),
        };
    }
    match (&req.text, &req.html) {
        (Some(t), Some(h)) => Body::Multi(MultiPart::alternative_plain_html(t.clone(), h.clone())),
        (None, Some(h)) => Body::Single(SinglePart::html(h.clone())),
        (Some(t), None) => Body::Single(SinglePart::plain(t.clone())),
        (None, None) => Body::Single(SinglePart::plain(String::new())),
    }
}

/// Whether `text` holds a NUL or a CR that is not followed by LF.
fn not_7bit_safe(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, b)| *b == 0 || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
}

fn raw(name: &str, value: &str) -> Result<HeaderValue> {
    let header = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|_| Error::config(format!("/headers/{name}"), "invalid header name"))?;
    Ok(HeaderValue::new(header, value.to_owned()))
}

fn attachment_content(
    config: &SendConfig,
    i: usize,
    a: &AttachmentRequest,
) -> Result<(Vec<u8>, Option<String>)> {
    match (&a.content_base64, &a.path) {
        (Some(b64), _) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| {
                    Error::config(
                        format!("/attachments/{i}/content_base64"),
                        "not valid base64",
                    )
                })?;
            Ok((bytes, a.filename.clone()))
        }
        (None, Some(path)) => {
            let bytes = super::files::read(config, path, &format!("/attachments/{i}/path"))?;
            let name = a
                .filename
                .clone()
                .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()));
            Ok((bytes, name))
        }
        (None, None) => Err(Error::config(
            format!("/attachments/{i}"),
            "give `content_base64` or `path`",
        )),
    }
}

fn guess_type(name: Option<&str>) -> ContentType {
    let guessed = name
        .and_then(|n| mime_guess::from_path(n).first_raw())
        .unwrap_or("application/octet-stream");
    ContentType::parse(guessed)
        .unwrap_or(ContentType::parse("application/octet-stream").expect("valid"))
}

/// A Message-ID that is the same on every run for the same request: SHA-256 of its
/// `idempotency_key`, or of its whole content (as canonical JSON), at the sender's
/// domain.
pub(crate) fn stable_message_id(req: &SendRequest, domain: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    match &req.idempotency_key {
        Some(key) => {
            hash.update(b"key:");
            hash.update(key.as_bytes());
        }
        None => {
            hash.update(b"content:");
            let value = serde_json::to_value(req).unwrap_or_default();
            hash.update(sorted(&value).to_string().as_bytes());
        }
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("<{hex}@{domain}>")
}

/// `value` with every object's keys in order, so equal requests hash equally.
fn sorted(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: serde_json::Value) -> SendRequest {
        connector_sdk::from_value(&serde_json::json!({
            "from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t",
            "headers": headers
        }))
        .expect("valid")
    }

    fn config() -> SendConfig {
        connector_sdk::from_value(&serde_json::json!({})).expect("defaults")
    }

    #[test]
    fn bodies_with_bare_cr_or_nul_are_not_sent_as_7bit() {
        for text in ["a\rb", "a\0b", "a\nb\r"] {
            let mut req = request(serde_json::json!({}));
            req.text = Some(text.into());
            let built = build(&config(), &req, None).expect("built");
            let data = String::from_utf8_lossy(&built.data).to_string();
            assert!(
                !data.contains("Content-Transfer-Encoding: 7bit"),
                "{text:?} went out as 7bit:\n{data}"
            );
            let body = data.split("\r\n\r\n").nth(1).unwrap_or_default();
            assert!(!body.contains('\0'), "{text:?}: a NUL on the wire");
            let bare_cr = body
                .as_bytes()
                .windows(2)
                .any(|w| w[0] == b'\r' && w[1] != b'\n');
            assert!(!bare_cr, "{text:?}: a bare CR on the wire");
        }
    }

    #[test]
    fn no_line_is_longer_than_rfc_5322_allows() {
        let words = "word ".repeat(600);
        let mut req = request(serde_json::json!({"X-Words": words}));
        req.subject = format!("{} {}", "y".repeat(900), "ünïcödé ".repeat(100));
        req.attachments = vec![
            connector_sdk::from_value(&serde_json::json!({
                "filename": format!("{}.pdf", "n".repeat(600)), "content_base64": "QUJD"
            }))
            .expect("attachment"),
        ];
        let built = build(&config(), &req, None).expect("built");
        let text = String::from_utf8_lossy(&built.data);
        for line in text.split("\r\n") {
            assert!(
                line.len() <= 998,
                "a line of {} octets: {}…",
                line.len(),
                &line[..40]
            );
        }
    }
}
