//! What Send Email takes and returns: its settings ([`SendConfig`]), one request per
//! message ([`SendRequest`], with [`Mailbox`] addresses and attachments) and the
//! response with one result per message.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::PathBuf;

use connector_sdk::ErrorBody;
use connector_sdk::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use connector_sdk::serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use lettre::message::Mailbox as LettreMailbox;

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
    /// How long to wait for the server's reply after the whole message was sent, in
    /// seconds. RFC 5321 (section 4.5.3.2.6) gives a server 10 minutes; without a reply
    /// the outcome is `unknown`, and the message is not sent again.
    #[serde(default = "ten_minutes")]
    #[schemars(range(min = 1, max = 3600))]
    pub final_reply_timeout_secs: NonZeroU32,
    /// The directory whose files requests may attach by `path` (a relative `path` is
    /// taken inside it). A `path` must resolve, symlinks followed, to a regular file
    /// inside it. Without it, attachments by `path` are refused: requests may come from
    /// anyone upstream, and could otherwise mail any file this process can read.
    #[serde(default)]
    pub attachment_dir: Option<PathBuf>,
    /// The largest attachment, in bytes, given as content or by path.
    #[serde(default = "max_attachment")]
    #[schemars(range(min = 1))]
    pub max_attachment_bytes: u64,
    /// The largest message, in bytes: its texts and attachments together, before
    /// encoding. A larger request is refused before anything is sent.
    #[serde(default = "max_message")]
    #[schemars(range(min = 1024))]
    pub max_message_bytes: u64,
    /// The most recipients (to, cc and bcc together) one request may name. A message
    /// to more than the server takes in one transaction is sent in several (RFC 5321
    /// section 4.5.3.1.10).
    #[serde(default = "max_recipients")]
    #[schemars(range(min = 1))]
    pub max_recipients: u32,
    /// A file recording each message's outcome by Message-ID, synced to disk before its
    /// result is printed. A later run given the same requests skips what the journal
    /// shows sent (`already_sent`), and does not send again a message whose outcome was
    /// unknown (cut off after its data went out, or killed while sending) unless
    /// `resend_unknown` is set: every message is delivered once across retries, crashes
    /// and kills.
    #[serde(default)]
    pub journal_file: Option<PathBuf>,
    /// Send again messages the journal shows with an unknown outcome (they may then
    /// arrive twice).
    #[serde(default)]
    pub resend_unknown: bool,
    /// Sign each message with DKIM (RFC 6376), so receivers can check it comes from the
    /// domain: the key's public half is published at `<selector>._domainkey.<domain>`.
    #[serde(default)]
    pub dkim: Option<Dkim>,
    /// A template for every request (mail merge): each request then gives only its
    /// `variables` (and recipients). A request's own `template` wins.
    #[serde(default)]
    pub template: Option<Template>,
    /// A folder to keep a copy of each sent message in (`"Sent"`), appended over IMAP
    /// (the connection's `imap` settings) and marked read: for servers that do not file
    /// submitted mail themselves (most do not; Gmail and Microsoft 365 do). The result
    /// says whether the copy was saved.
    #[serde(default)]
    pub save_to_sent: Option<String>,
}

fn max_message() -> u64 {
    50 * 1024 * 1024
}

fn max_recipients() -> u32 {
    1000
}

fn ten_minutes() -> NonZeroU32 {
    NonZeroU32::new(600).expect("non-zero")
}

fn max_attachment() -> u64 {
    25 * 1024 * 1024
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
    /// Recipients: one address or a list.
    #[serde(default)]
    pub to: Addresses,
    /// Copy recipients: one address or a list.
    #[serde(default)]
    pub cc: Addresses,
    /// Blind copy recipients (one address or a list): they receive the message but
    /// appear in no header.
    #[serde(default)]
    pub bcc: Addresses,
    /// Where replies should go (one address or a list); defaults to the activity's
    /// `reply_to`.
    #[serde(default)]
    pub reply_to: Addresses,
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
    /// Where recipients can unsubscribe: `https:` or `mailto:` URIs, sent as
    /// `List-Unsubscribe` (RFC 2369). Large mailbox providers require it, with
    /// `one_click_unsubscribe`, from bulk senders.
    #[serde(default)]
    pub list_unsubscribe: Vec<String>,
    /// One-click unsubscription (RFC 8058): `List-Unsubscribe-Post:
    /// List-Unsubscribe=One-Click`; needs an `https:` URI in `list_unsubscribe`, which
    /// must unsubscribe on a POST without further steps.
    #[serde(default)]
    pub one_click_unsubscribe: bool,
    /// `Auto-Submitted` (RFC 3834), so auto-responders do not answer automatic mail.
    #[serde(default)]
    pub auto_submitted: Option<AutoSubmitted>,
    /// Ask for a read receipt at this address (`Disposition-Notification-To`, RFC 8098).
    #[serde(default)]
    pub disposition_notification_to: Option<Mailbox>,
    /// A template for this message (Jinja syntax, rendered with minijinja): its
    /// subject, text and HTML are made from `variables`. HTML escapes the values it
    /// inserts; a variable the template uses but `variables` lacks is an error.
    #[serde(default)]
    pub template: Option<Template>,
    /// The values a template inserts (`{"name": "Jo", "items": [...]}`).
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    /// Delivery status notifications (RFC 3461): the server reports to the sender when
    /// the message is delivered, fails or is delayed. Needs a server that offers `DSN`;
    /// asking one that does not is an error for this message.
    #[serde(default)]
    pub dsn: Option<Dsn>,
    /// The Message-ID (`<id@example.com>`). By default one is derived from
    /// `idempotency_key`, or else from the request's whole content: the same on every
    /// run, so a request sent again is recognised (see `journal_file`). Identical
    /// requests are one message; give each a different key to send it twice.
    #[serde(default)]
    pub message_id: Option<String>,
    /// A key the upstream system gives each distinct message (an order number, an
    /// event id): the Message-ID is derived from it, so a retried request keeps it.
    #[serde(default)]
    pub idempotency_key: Option<String>,
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
/// DKIM signing (RFC 6376).
pub struct Dkim {
    /// The selector: the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The signing domain (`d=`), usually the sender's.
    pub domain: String,
    /// The private key: an RSA key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`,
    /// `openssl genrsa -traditional 2048`), or for `ed25519` the base64 of its 32-byte
    /// seed.
    pub private_key: connector_sdk::Secret,
    /// `rsa` (the default) or `ed25519`.
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// A DKIM signing algorithm.
pub enum DkimAlgorithm {
    /// RSA with SHA-256.
    #[default]
    Rsa,
    /// Ed25519 (RFC 8463).
    Ed25519,
}

impl Dkim {
    /// The signing configuration, or a config error that never quotes the key.
    pub(crate) fn signer(&self) -> connector_sdk::Result<lettre::message::dkim::DkimConfig> {
        use lettre::message::dkim::{
            DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
            DkimSigningKey,
        };
        let algorithm = match self.algorithm {
            DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
            DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
        };
        let key = DkimSigningKey::new(self.private_key.expose().trim(), algorithm).map_err(|_| {
            connector_sdk::Error::config(
                "/dkim/private_key",
                match self.algorithm {
                    DkimAlgorithm::Rsa => "not an RSA private key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`; convert a PKCS#8 key with `openssl rsa -traditional`)",
                    DkimAlgorithm::Ed25519 => "not the base64 of a 32-byte Ed25519 seed",
                },
            )
        })?;
        // Relaxed/relaxed (RFC 6376 section 3.4): servers on the way may refold headers
        // or change line endings, which simple header canonicalization does not survive.
        // The headers lettre holds when it signs (MIME-Version and the top Content-Type
        // are written later, with the body, so signing them would sign what is not
        // sent: found by the independent verifier).
        let headers = [
            "From",
            "Subject",
            "To",
            "Cc",
            "Date",
            "Message-ID",
            "Reply-To",
            "In-Reply-To",
            "References",
        ]
        .into_iter()
        .filter_map(|h| lettre::message::header::HeaderName::new_from_ascii(h.to_owned()).ok())
        .collect();
        Ok(DkimConfig::new(
            self.selector.clone(),
            self.domain.clone(),
            key,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        ))
    }
}

#[connector_sdk::settings]
/// A message template (Jinja syntax): each part given is rendered with the request's
/// `variables`.
pub struct Template {
    /// The subject (`Invoice {{ number }}`).
    #[serde(default)]
    pub subject: Option<String>,
    /// The plain-text body.
    #[serde(default)]
    pub text: Option<String>,
    /// The HTML body; inserted values are HTML-escaped (`|safe` opts out).
    #[serde(default)]
    pub html: Option<String>,
}

#[connector_sdk::settings]
/// What delivery status notifications to ask for (RFC 3461).
pub struct Dsn {
    /// When to be notified: any of `success`, `failure`, `delay`; or `never` alone.
    #[serde(default = "on_failure")]
    pub notify: Vec<DsnNotify>,
    /// How much of the message a notification returns: `headers` or `full`.
    #[serde(default)]
    pub ret: Option<DsnReturn>,
    /// An id the notification quotes (`Original-Envelope-Id`): printable ASCII, at most
    /// 100 characters.
    #[serde(default)]
    pub envid: Option<String>,
}

fn on_failure() -> Vec<DsnNotify> {
    vec![DsnNotify::Failure]
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// When a delivery status notification is sent.
pub enum DsnNotify {
    /// On delivery.
    Success,
    /// When delivery fails.
    Failure,
    /// When delivery is delayed.
    Delay,
    /// Never.
    Never,
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// How much of the message a notification returns.
pub enum DsnReturn {
    /// The headers only.
    Headers,
    /// The whole message.
    Full,
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// What kind of automatic message this is (RFC 3834).
pub enum AutoSubmitted {
    /// Made by a process, not in reply to anything (alerts, invoices, newsletters).
    AutoGenerated,
    /// An automatic answer to a message (an out-of-office reply).
    AutoReplied,
    /// An automatic notification (RFC 5230).
    AutoNotified,
}

impl AutoSubmitted {
    /// The header value.
    pub fn header(self) -> &'static str {
        match self {
            Self::AutoGenerated => "auto-generated",
            Self::AutoReplied => "auto-replied",
            Self::AutoNotified => "auto-notified",
        }
    }
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
/// What happened to one message: one line on stdout as soon as it is known, with the
/// request's `index` (its position in the input, from 0) added by the host.
pub struct SendResult {
    /// `sent` when the server accepted the message for at least one recipient,
    /// `unknown` when the whole message went out but no reply came.
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
    /// The copy kept in `save_to_sent`, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_copy: Option<SentCopy>,
}

#[connector_sdk::settings]
/// The copy of a sent message kept over IMAP.
pub struct SentCopy {
    /// The folder.
    pub folder: String,
    /// Whether the copy was saved (the message was sent either way).
    pub saved: bool,
    /// Why it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
    /// The whole message went out but no reply came (the server went silent or the
    /// connection was lost): the server may have accepted it. Not sent again, so it is
    /// never delivered twice; look for its Message-ID before sending it again.
    Unknown,
    /// The journal shows this message (by its Message-ID) sent by an earlier run: not
    /// sent again.
    AlreadySent,
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
pub struct Mailbox(pub(crate) LettreMailbox);

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

/// One address or a list of them: `"a@example.com"`, `{"name", "address"}` or
/// `["a@example.com", "Name <b@example.com>"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses(pub Vec<Mailbox>);

impl Addresses {
    /// Whether there is no address.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The addresses, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Mailbox> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a Addresses {
    type Item = &'a Mailbox;
    type IntoIter = std::slice::Iter<'a, Mailbox>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for Addresses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Addresses;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an address or a list of addresses")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Addresses, E> {
                s.parse().map(|m| Addresses(vec![m])).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Addresses, A::Error> {
                Mailbox::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| Addresses(vec![m]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Addresses, A::Error> {
                let mut all = Vec::new();
                while let Some(m) = seq.next_element::<Mailbox>()? {
                    all.push(m);
                }
                Ok(Addresses(all))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Addresses {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl JsonSchema for Addresses {
    fn schema_name() -> Cow<'static, str> {
        "Addresses".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<Mailbox>();
        json_schema!({
            "description": "One address, or a list of them.",
            "anyOf": [
                one,
                {"type": "array", "items": one}
            ]
        })
    }
}
