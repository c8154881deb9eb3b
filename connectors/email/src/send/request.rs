//! What Send Email takes and returns: its settings ([`SendConfig`]), one request per
//! message ([`SendRequest`], with [`Mailbox`] addresses and attachments) and the
//! response with one result per message.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::PathBuf;

use connector_sdk::ErrorBody;

pub use super::address::{Addresses, Mailbox};
pub use super::options::{
    AutoSubmitted, Dkim, DkimAlgorithm, Dsn, DsnNotify, DsnReturn, Priority, Template,
};

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
    /// Send each message's commands together when the server allows it: MAIL, every
    /// RCPT and DATA in one write (PIPELINING, RFC 2920), and with CHUNKING (RFC 3030)
    /// the message too, as one `BDAT` chunk: one round trip per message instead of
    /// three or more. Set to `false` for a server that mishandles either.
    #[serde(default = "yes")]
    pub pipelining: bool,
}

fn yes() -> bool {
    true
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
