//! The rules a request must follow beyond its schema, checked for the whole batch
//! before the first message is sent: a sender and a recipient, no line breaks where
//! they would start a header, Message-ID forms, attachments that can be read.

use base64::Engine as _;
use connector_sdk::{Error, Result};
use lettre::message::header::ContentType;

use super::request::{SendConfig, SendRequest};

/// Headers the message sets itself; a request may not replace them.
const PROTECTED: [&str; 19] = [
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "message-id",
    "date",
    "reply-to",
    "sender",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "return-path",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "auto-submitted",
    "disposition-notification-to",
];

fn no_line_breaks(path: &str, value: &str) -> Result<()> {
    if value.contains(['\r', '\n']) {
        return Err(Error::config(
            path,
            "line breaks are not allowed here (they would start a new header)",
        ));
    }
    Ok(())
}

/// The longest run without whitespace a header value may have: RFC 5322 §2.1.1 limits a
/// line to 998 octets, and a header can be folded only at whitespace.
const MAX_UNBROKEN: usize = 900;

fn foldable(path: &str, value: &str) -> Result<()> {
    if value
        .split(char::is_whitespace)
        .any(|run| run.len() > MAX_UNBROKEN)
    {
        return Err(Error::config(
            path,
            format!(
                "a header line may not exceed 998 octets (RFC 5322 section 2.1.1) and can be folded only at spaces: give the value a space at least every {MAX_UNBROKEN} characters"
            ),
        ));
    }
    Ok(())
}

fn message_id_form(path: &str, id: &str) -> Result<()> {
    no_line_breaks(path, id)?;
    foldable(path, id)?;
    let ok = id.starts_with('<')
        && id.ends_with('>')
        && id.contains('@')
        && !id[1..id.len() - 1].contains(['<', '>', ' ']);
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            path,
            format!("expected a Message-ID like \"<id@example.com>\", got {id:?}"),
        ))
    }
}

/// Checks a request before anything is sent (the host calls this for the whole batch).
pub(crate) fn validate(config: &SendConfig, req: &SendRequest) -> Result<()> {
    // With a template, what is checked is what will be sent.
    let merged = super::template::merged(config, req)?;
    let req: &SendRequest = &merged;
    if req.from.is_none() && config.from.is_none() {
        return Err(Error::config(
            "/from",
            "missing: give `from` in the request or in the activity settings",
        ));
    }
    if req.to.is_empty() && req.cc.is_empty() && req.bcc.is_empty() {
        return Err(Error::config(
            "/to",
            "no recipient: give at least one address in to, cc or bcc",
        ));
    }
    let recipients = req.to.0.len() + req.cc.0.len() + req.bcc.0.len();
    if recipients > config.max_recipients as usize {
        return Err(Error::config(
            "/to",
            format!(
                "{recipients} recipients in to, cc and bcc, more than max_recipients ({})",
                config.max_recipients
            ),
        ));
    }
    no_line_breaks("/subject", &req.subject)?;
    let mut size = (req.subject.len()
        + req.text.as_ref().map_or(0, String::len)
        + req.html.as_ref().map_or(0, String::len)) as u64;
    for (name, value) in &req.headers {
        let path = format!("/headers/{}", name.replace('~', "~0").replace('/', "~1"));
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
        if !valid_name {
            return Err(Error::config(
                path,
                "a header name is printable ASCII without spaces or colons",
            ));
        }
        if PROTECTED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(Error::config(
                path,
                format!(
                    "`{name}` is set from the request's own fields and cannot be given as a custom header"
                ),
            ));
        }
        no_line_breaks(&path, value)?;
        foldable(&path, value)?;
    }
    for (i, uri) in req.list_unsubscribe.iter().enumerate() {
        let path = format!("/list_unsubscribe/{i}");
        no_line_breaks(&path, uri)?;
        let lower = uri.to_ascii_lowercase();
        if !(lower.starts_with("https:")
            || lower.starts_with("http:")
            || lower.starts_with("mailto:"))
            || uri.contains(['<', '>', ' ', ','])
        {
            return Err(Error::config(
                path,
                "expected an https: or mailto: URI without spaces, commas or angle brackets",
            ));
        }
    }
    if req.one_click_unsubscribe
        && !req
            .list_unsubscribe
            .iter()
            .any(|u| u.to_ascii_lowercase().starts_with("https:"))
    {
        return Err(Error::config(
            "/one_click_unsubscribe",
            "one-click unsubscription (RFC 8058) needs an https: URI in list_unsubscribe",
        ));
    }
    if let Some(dsn) = &req.dsn {
        use super::request::DsnNotify;
        if dsn.notify.is_empty() || (dsn.notify.contains(&DsnNotify::Never) && dsn.notify.len() > 1)
        {
            return Err(Error::config(
                "/dsn/notify",
                "give any of success, failure and delay, or never alone",
            ));
        }
        if let Some(envid) = &dsn.envid
            && (envid.is_empty()
                || envid.len() > 100
                || !envid.bytes().all(|b| (33..=126).contains(&b)))
        {
            return Err(Error::config(
                "/dsn/envid",
                "expected 1 to 100 printable ASCII characters without spaces",
            ));
        }
    }
    if let Some(id) = &req.message_id {
        message_id_form("/message_id", id)?;
    }
    if let Some(id) = &req.in_reply_to {
        message_id_form("/in_reply_to", id)?;
    }
    for (i, id) in req.references.iter().enumerate() {
        message_id_form(&format!("/references/{i}"), id)?;
    }
    for (i, a) in req.attachments.iter().enumerate() {
        let at = |field: &str| format!("/attachments/{i}{field}");
        match (&a.content_base64, &a.path) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(Error::config(
                    at(""),
                    "give exactly one of `content_base64` and `path`",
                ));
            }
            (Some(b64), None) => {
                // Decoded, base64 is three quarters of its length: refuse before decoding.
                let decoded = (b64.trim().len() as u64 / 4) * 3;
                size += decoded;
                if decoded > config.max_attachment_bytes {
                    return Err(Error::config(
                        at("/content_base64"),
                        format!(
                            "the content is larger than max_attachment_bytes ({})",
                            config.max_attachment_bytes
                        ),
                    ));
                }
                if base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .is_err()
                {
                    return Err(Error::config(at("/content_base64"), "not valid base64"));
                }
                if a.filename.is_none() && !a.inline {
                    return Err(Error::config(
                        at("/filename"),
                        "missing: an attachment given as content needs a file name",
                    ));
                }
            }
            (None, Some(path)) => {
                let file = super::files::resolve(config, path, &at("/path"))?;
                size += std::fs::metadata(file).map_or(0, |m| m.len());
            }
        }
        if size > config.max_message_bytes {
            return Err(Error::config(
                at(""),
                format!(
                    "with this attachment the message is larger than max_message_bytes ({})",
                    config.max_message_bytes
                ),
            ));
        }
        if let Some(f) = &a.filename {
            no_line_breaks(&at("/filename"), f)?;
        }
        if let Some(ct) = &a.content_type
            && ContentType::parse(ct).is_err()
        {
            return Err(Error::config(
                at("/content_type"),
                format!("`{ct}` is not a MIME type like \"application/pdf\""),
            ));
        }
        match &a.content_id {
            Some(cid) if cid.contains(['\r', '\n', '<', '>', ' ']) || cid.is_empty() => {
                return Err(Error::config(
                    at("/content_id"),
                    "a Content-ID is given without angle brackets or spaces (\"logo\")",
                ));
            }
            None if a.inline => {
                return Err(Error::config(
                    at("/content_id"),
                    "missing: an inline part needs a content_id for the HTML to reference",
                ));
            }
            _ => {}
        }
    }
    if size > config.max_message_bytes {
        return Err(Error::config(
            if req.html.is_some() { "/html" } else { "/text" },
            format!(
                "the message is larger than max_message_bytes ({})",
                config.max_message_bytes
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_and_message_size_have_limits() {
        let config: SendConfig = connector_sdk::from_value(&serde_json::json!({
            "max_recipients": 3, "max_message_bytes": 2048, "max_attachment_bytes": 2000
        }))
        .expect("ok");
        let req: SendRequest = connector_sdk::from_value(&serde_json::json!({
            "from": "a@example.com", "to": ["b@example.com", "c@example.com"],
            "cc": "d@example.com", "bcc": "e@example.com"
        }))
        .expect("well-formed");
        let err = validate(&config, &req).unwrap_err();
        assert_eq!(err.path(), Some("/to"));
        assert!(err.message().contains("4 recipients"), "{err}");
        // Two attachments each within their limit, together over the message's.
        let part = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 1500]);
        let req: SendRequest = connector_sdk::from_value(&serde_json::json!({
            "from": "a@example.com", "to": "b@example.com", "text": "hi",
            "attachments": [
                {"filename": "a.bin", "content_base64": part},
                {"filename": "b.bin", "content_base64": part}
            ]
        }))
        .expect("well-formed");
        let err = validate(&config, &req).unwrap_err();
        assert_eq!(err.path(), Some("/attachments/1"));
    }

    #[test]
    fn an_unfoldable_header_value_is_refused_with_its_path() {
        let config: SendConfig = connector_sdk::from_value(&serde_json::json!({})).expect("ok");
        let req: SendRequest = connector_sdk::from_value(&serde_json::json!({
            "from": "a@example.com", "to": "b@example.com",
            "headers": {"X-Token": "x".repeat(2000), "X-Words": "word ".repeat(600)}
        }))
        .expect("well-formed");
        let err = validate(&config, &req).unwrap_err();
        assert_eq!(err.path(), Some("/headers/X-Token"));
        assert!(err.message().contains("998 octets"), "{err}");
        let long_id = format!("<{}@example.com>", "i".repeat(1000));
        let req: SendRequest = connector_sdk::from_value(&serde_json::json!({
            "from": "a@example.com", "to": "b@example.com", "in_reply_to": long_id
        }))
        .expect("well-formed");
        assert_eq!(
            validate(&config, &req).unwrap_err().path(),
            Some("/in_reply_to")
        );
    }
}
