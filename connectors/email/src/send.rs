//! Send Email: a target that sends a batch of messages over pooled SMTP sessions.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use connector_sdk::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use connector_sdk::serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use connector_sdk::{Error, ErrorBody, ErrorKind, Result, Target};
use lettre::message::header::{
    ContentDisposition, ContentId, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{
    Attachment, Body as MimeBody, Mailbox as LettreMailbox, MultiPart, SinglePart,
};

use crate::connection::EmailConnection;
use crate::smtp::{Session, SmtpConfig};

const TARGET: &str = "email_connector::send";

#[connector_sdk::settings]
/// Settings of Send Email.
pub struct SendConfig {
    /// The sender for requests that name none (`"Me <me@example.com>"`).
    #[serde(default)]
    pub from: Option<Mailbox>,
    /// Reply-To for requests that name none.
    #[serde(default)]
    pub reply_to: Vec<Mailbox>,
    /// How many SMTP sessions a batch uses at once. The default, 3, is what Microsoft
    /// 365 allows per mailbox (a fourth session gets `432 4.3.2`); a self-hosted server
    /// may take more.
    #[serde(default = "three_sessions")]
    pub concurrency: NonZeroU32,
    /// How many times a message is retried after a transient failure (a 4xx reply or a
    /// dropped connection). Permanent failures (5xx) are never retried.
    #[serde(default = "three")]
    pub max_retries: u32,
    /// The first wait before a retry, in milliseconds; it doubles with each retry.
    #[serde(default = "backoff")]
    pub retry_backoff_ms: u64,
}

fn three_sessions() -> NonZeroU32 {
    NonZeroU32::new(3).expect("non-zero")
}
fn three() -> u32 {
    3
}
fn backoff() -> u64 {
    500
}

#[connector_sdk::settings]
/// One email to send.
pub struct SendRequest {
    /// The sender; defaults to the activity's `from`.
    #[serde(default)]
    pub from: Option<Mailbox>,
    /// Recipients.
    #[serde(default)]
    pub to: Vec<Mailbox>,
    /// Copy recipients.
    #[serde(default)]
    pub cc: Vec<Mailbox>,
    /// Blind copy recipients: they receive the message but appear in no header.
    #[serde(default)]
    pub bcc: Vec<Mailbox>,
    /// Where replies should go; defaults to the activity's `reply_to`.
    #[serde(default)]
    pub reply_to: Vec<Mailbox>,
    /// The subject line (any Unicode).
    #[serde(default)]
    pub subject: String,
    /// The plain-text body.
    #[serde(default)]
    pub text: Option<String>,
    /// The HTML body; with `text` too, the message is multipart/alternative.
    #[serde(default)]
    pub html: Option<String>,
    /// Files to attach, or to show inline in the HTML.
    #[serde(default)]
    pub attachments: Vec<AttachmentRequest>,
    /// Extra headers (`{"X-Ticket": "42"}`). Headers the message already sets (From,
    /// To, Subject, Message-ID …) cannot be replaced here.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The Message-ID this message replies to (`<id@example.com>`).
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// Message-IDs of the thread (`["<id@example.com>"]`).
    #[serde(default)]
    pub references: Vec<String>,
    /// Priority, as X-Priority and Importance headers.
    #[serde(default)]
    pub priority: Option<Priority>,
}

#[connector_sdk::settings]
/// An attachment: from base64 content or a file.
pub struct AttachmentRequest {
    /// The file name recipients see; defaults to the name of `path`.
    #[serde(default)]
    pub filename: Option<String>,
    /// The MIME type; guessed from the file name when left out.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The content, base64-encoded. Give this or `path`.
    #[serde(default)]
    pub content_base64: Option<String>,
    /// A file to attach. Give this or `content_base64`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Show the part inside the HTML (referenced as `cid:<content_id>`) rather than as
    /// an attachment.
    #[serde(default)]
    pub inline: bool,
    /// The Content-ID, without angle brackets; required for inline parts.
    #[serde(default)]
    pub content_id: Option<String>,
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// Message priority.
pub enum Priority {
    /// X-Priority 1, Importance high.
    High,
    /// X-Priority 3, Importance normal.
    Normal,
    /// X-Priority 5, Importance low.
    Low,
}

#[connector_sdk::settings]
/// What happened to each message of the batch, in request order.
pub struct SendResponse {
    /// One result per request.
    pub results: Vec<SendResult>,
}

#[connector_sdk::settings]
/// What happened to one message.
pub struct SendResult {
    /// The request's position in the batch, from 0.
    pub index: usize,
    /// `sent` when the server accepted the message for at least one recipient.
    pub status: SendStatus,
    /// The Message-ID header given to the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Recipients the server accepted.
    pub accepted: Vec<String>,
    /// Recipients the server refused, with its reason.
    pub rejected: Vec<RejectedRecipient>,
    /// How many times sending was tried.
    pub attempts: u32,
    /// The server's reply to the message data (usually its queue id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_reply: Option<String>,
    /// Why the message failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// The outcome of one message.
pub enum SendStatus {
    /// Accepted by the server for at least one recipient.
    Sent,
    /// Not sent.
    Failed,
}

#[connector_sdk::settings]
/// A recipient the server refused.
pub struct RejectedRecipient {
    /// The address.
    pub address: String,
    /// The server's reply (`550 5.1.1 … User unknown`).
    pub reason: String,
}

/// An address: `"a@example.com"`, `"Name <a@example.com>"` or
/// `{"name": "Name", "address": "a@example.com"}`. Display names may be any Unicode;
/// they are encoded for the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox(LettreMailbox);

impl Mailbox {
    /// The address without the name.
    pub fn address(&self) -> &lettre::Address {
        &self.0.email
    }
}

impl std::str::FromStr for Mailbox {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.contains(['\r', '\n']) {
            return Err("an address may not contain line breaks".into());
        }
        s.trim().parse::<LettreMailbox>().map(Mailbox).map_err(|e| {
            format!(
                "`{s}` is not an address like \"a@example.com\" or \"Name <a@example.com>\": {e}"
            )
        })
    }
}

impl<'de> Deserialize<'de> for Mailbox {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Mailbox;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    r#"an address: "a@example.com", "Name <a@example.com>" or {"name", "address"}"#,
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Mailbox, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Mailbox, A::Error> {
                let (mut name, mut address): (Option<String>, Option<String>) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => name = map.next_value()?,
                        "address" => address = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["name", "address"])),
                    }
                }
                let address = address.ok_or_else(|| de::Error::missing_field("address"))?;
                if address.contains(['\r', '\n'])
                    || name.as_deref().is_some_and(|n| n.contains(['\r', '\n']))
                {
                    return Err(de::Error::custom("an address may not contain line breaks"));
                }
                let email = address.trim().parse::<lettre::Address>().map_err(|e| {
                    de::Error::custom(format!(
                        "`{address}` is not an address like \"a@example.com\": {e}"
                    ))
                })?;
                Ok(Mailbox(LettreMailbox::new(
                    name.filter(|n| !n.is_empty()),
                    email,
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Mailbox {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match &self.0.name {
            Some(name) => s.serialize_str(&format!("{name} <{}>", self.0.email)),
            None => s.serialize_str(self.0.email.as_ref()),
        }
    }
}

impl JsonSchema for Mailbox {
    fn schema_name() -> Cow<'static, str> {
        "Mailbox".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An address: \"a@example.com\", \"Name <a@example.com>\" or {\"name\", \"address\"}.",
            "oneOf": [
                {"type": "string", "description": "\"a@example.com\" or \"Name <a@example.com>\"."},
                {
                    "type": "object",
                    "description": "An address with an optional display name.",
                    "properties": {
                        "name": {"type": ["string", "null"], "description": "The display name."},
                        "address": {"type": "string", "description": "The address itself."}
                    },
                    "required": ["address"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// Headers the message sets itself; a request may not replace them.
const PROTECTED: [&str; 15] = [
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

fn message_id_form(path: &str, id: &str) -> Result<()> {
    no_line_breaks(path, id)?;
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
    no_line_breaks("/subject", &req.subject)?;
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
            (None, Some(path)) => match std::fs::metadata(path) {
                Ok(m) if m.is_file() => {
                    if let Err(e) = std::fs::File::open(path) {
                        return Err(Error::config(
                            at("/path"),
                            format!("cannot read {}: {e}", path.display()),
                        ));
                    }
                }
                Ok(_) => {
                    return Err(Error::config(
                        at("/path"),
                        format!("{} is not a file", path.display()),
                    ));
                }
                Err(e) => {
                    return Err(Error::config(
                        at("/path"),
                        format!("cannot read {}: {e}", path.display()),
                    ));
                }
            },
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
    Ok(())
}

/// A message ready for the wire.
pub(crate) struct Built {
    pub(crate) message_id: String,
    pub(crate) from: lettre::Address,
    pub(crate) recipients: Vec<lettre::Address>,
    pub(crate) data: Vec<u8>,
}

/// Assembles the MIME message with lettre.
pub(crate) fn build(config: &SendConfig, req: &SendRequest) -> Result<Built> {
    let from = req
        .from
        .clone()
        .or_else(|| config.from.clone())
        .ok_or_else(|| Error::config("/from", "missing"))?;
    let message_id = new_message_id(from.address().domain());
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
        &req.reply_to
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
    for (name, value) in &req.headers {
        b = b.raw_header(raw(name, value)?);
    }

    let body = body_part(req);
    let mut inline = Vec::new();
    let mut attached = Vec::new();
    for (i, a) in req.attachments.iter().enumerate() {
        let (content, name) = attachment_content(i, a)?;
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
    let recipients = message.envelope().to().to_vec();
    Ok(Built {
        message_id,
        from: from.0.email,
        recipients,
        data: message.formatted(),
    })
}

#[derive(Clone)]
enum Body {
    Single(SinglePart),
    Multi(MultiPart),
}

fn body_part(req: &SendRequest) -> Body {
    match (&req.text, &req.html) {
        (Some(t), Some(h)) => Body::Multi(MultiPart::alternative_plain_html(t.clone(), h.clone())),
        (None, Some(h)) => Body::Single(SinglePart::html(h.clone())),
        (Some(t), None) => Body::Single(SinglePart::plain(t.clone())),
        (None, None) => Body::Single(SinglePart::plain(String::new())),
    }
}

fn raw(name: &str, value: &str) -> Result<HeaderValue> {
    let header = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|_| Error::config(format!("/headers/{name}"), "invalid header name"))?;
    Ok(HeaderValue::new(header, value.to_owned()))
}

fn attachment_content(i: usize, a: &AttachmentRequest) -> Result<(Vec<u8>, Option<String>)> {
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
            let bytes = std::fs::read(path).map_err(|e| {
                Error::config(
                    format!("/attachments/{i}/path"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
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

/// `<time.random@domain>`: unique enough for a Message-ID without another dependency.
fn new_message_id(domain: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    format!("<{nanos:x}.{:016x}@{domain}>", h.finish())
}

/// The `send` target.
#[derive(Debug, Default, Clone, Copy)]
pub struct SendEmail;

/// Sends email over SMTP: text, HTML or both, attachments and inline images, custom
/// headers; a batch goes over pooled sessions, and each message gets its own result
/// with the accepted and refused recipients.
#[connector_sdk::activity(name = "send")]
impl Target for SendEmail {
    type Connection = EmailConnection;
    type Config = SendConfig;
    type Request = SendRequest;
    type Response = SendResponse;

    fn validate(&self, config: &SendConfig, request: &SendRequest) -> Result<()> {
        validate(config, request)
    }

    async fn call(
        &self,
        conn: &EmailConnection,
        config: &SendConfig,
        requests: Vec<SendRequest>,
    ) -> Result<SendResponse> {
        let smtp = conn.smtp()?;
        let mut results: Vec<Option<SendResult>> = vec![None; requests.len()];
        // Messages are built by the workers just before sending, so the first one goes
        // out at once instead of after the whole batch was built.
        let queue: Mutex<VecDeque<(usize, &SendRequest)>> =
            Mutex::new(requests.iter().enumerate().collect());
        let workers = (config.concurrency.get() as usize)
            .min(requests.len())
            .max(1);
        let done =
            futures_util::future::join_all((0..workers).map(|_| worker(smtp, config, &queue)))
                .await;
        for r in done.into_iter().flatten() {
            let i = r.index;
            results[i] = Some(r);
        }
        Ok(SendResponse {
            results: results.into_iter().flatten().collect(),
        })
    }

    fn failure(&self, response: &SendResponse) -> Option<Error> {
        let failed: Vec<&SendResult> = response
            .results
            .iter()
            .filter(|r| r.status == SendStatus::Failed)
            .collect();
        let first = failed.first()?;
        let body = first.error.clone().unwrap_or(ErrorBody {
            kind: ErrorKind::Internal,
            message: "failed".into(),
            retryable: false,
            path: None,
        });
        let retryable = failed
            .iter()
            .all(|r| r.error.as_ref().is_some_and(|e| e.retryable));
        Some(
            Error::new(
                body.kind,
                format!(
                    "{} of {} messages failed; first (index {}): {}",
                    failed.len(),
                    response.results.len(),
                    first.index,
                    body.message
                ),
            )
            .retryable(retryable),
        )
    }
}

fn failed(index: usize, message_id: Option<String>, attempts: u32, e: &Error) -> SendResult {
    SendResult {
        index,
        status: SendStatus::Failed,
        message_id,
        accepted: Vec::new(),
        rejected: Vec::new(),
        attempts,
        server_reply: None,
        error: Some(e.body()),
    }
}

/// One pooled session: takes messages from the queue until it is empty.
async fn worker(
    smtp: &SmtpConfig,
    config: &SendConfig,
    queue: &Mutex<VecDeque<(usize, &SendRequest)>>,
) -> Vec<SendResult> {
    let mut session: Option<Session> = None;
    let mut out = Vec::new();
    loop {
        let next = queue.lock().ok().and_then(|mut q| q.pop_front());
        let Some((index, request)) = next else { break };
        match build(config, request) {
            Ok(built) => out.push(send_one(smtp, config, &mut session, index, &built).await),
            Err(e) => out.push(failed(index, None, 0, &e)),
        }
    }
    if let Some(s) = session {
        s.quit().await;
    }
    out
}

async fn send_one(
    smtp: &SmtpConfig,
    config: &SendConfig,
    session: &mut Option<Session>,
    index: usize,
    built: &Built,
) -> SendResult {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = match session {
            Some(s) if s.usable() => Ok(()),
            _ => smtp.open().await.map(|s| *session = Some(s)),
        };
        let error = match outcome {
            Err(e) => e,
            Ok(()) => {
                let s = session.as_mut().expect("opened above");
                match s.send(&built.from, &built.recipients, &built.data).await {
                    Ok(d) => {
                        tracing::info!(target: TARGET, index, message_id = %built.message_id, accepted = d.accepted.len(), rejected = d.rejected.len(), "sent");
                        return SendResult {
                            index,
                            status: SendStatus::Sent,
                            message_id: Some(built.message_id.clone()),
                            accepted: d.accepted,
                            rejected: d
                                .rejected
                                .into_iter()
                                .map(|(address, reason, _)| RejectedRecipient { address, reason })
                                .collect(),
                            attempts,
                            server_reply: d.queued,
                            error: None,
                        };
                    }
                    Err(f) => {
                        if f.broken {
                            *session = None;
                        }
                        if !f.error.is_retryable() || attempts > config.max_retries {
                            let mut r =
                                failed(index, Some(built.message_id.clone()), attempts, &f.error);
                            r.rejected = f
                                .delivery
                                .rejected
                                .into_iter()
                                .map(|(address, reason, _)| RejectedRecipient { address, reason })
                                .collect();
                            return r;
                        }
                        f.error
                    }
                }
            }
        };
        if !error.is_retryable() || attempts > config.max_retries {
            tracing::warn!(target: TARGET, index, attempts, "not sent: {error}");
            return failed(index, Some(built.message_id.clone()), attempts, &error);
        }
        let wait = Duration::from_millis(
            config
                .retry_backoff_ms
                .saturating_mul(1 << (attempts - 1).min(10)),
        );
        tracing::warn!(target: TARGET, index, attempts, wait_ms = wait.as_millis() as u64, "transient failure, retrying: {error}");
        tokio::time::sleep(wait).await;
    }
}
