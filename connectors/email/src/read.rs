//! Read Email: a source that emits messages of a folder and commits them (mark seen,
//! delete or move) only after the host has delivered them.

use std::borrow::Cow;
use std::num::NonZeroU32;

use base64::Engine as _;
use connector_sdk::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use connector_sdk::serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use connector_sdk::{Emitter, Error, Object, Result, Source};
use futures_util::TryStreamExt;
use mail_parser::{MessageParser, MimeHeaders};

use crate::connection::EmailConnection;
use crate::imap::{Session, classify, flag_name, quote, uid_set};

const TARGET: &str = "email_connector::read";

#[connector_sdk::settings]
/// Settings of Read Email.
pub struct ReadConfig {
    /// The folder to read (see `discover` for the names).
    #[serde(default = "inbox")]
    pub folder: String,
    /// At most this many messages per run, oldest first.
    #[serde(default = "hundred")]
    pub max_messages: NonZeroU32,
    /// Read only messages not marked read (`\Seen`).
    #[serde(default = "yes")]
    pub unseen_only: bool,
    /// Which messages to read, evaluated by the server.
    #[serde(default)]
    pub filter: Filter,
    /// What to do with a message once it was delivered: `mark_seen`, `none`, `delete`
    /// or `{"move_to": "Folder"}`.
    #[serde(default)]
    pub after_read: AfterRead,
    /// What records carry of attachments: `content` (base64), `metadata` or `none`.
    #[serde(default)]
    pub attachments: AttachmentMode,
    /// Attachments larger than this are listed with their size and marked skipped,
    /// without their content.
    #[serde(default = "max_attachment")]
    pub max_attachment_bytes: u64,
    /// At most this many messages per UID FETCH.
    #[serde(default = "batch")]
    pub batch_size: NonZeroU32,
    /// At most this many bytes of messages per UID FETCH (a larger message is fetched
    /// alone). With one batch being parsed while the next is fetched, this bounds memory.
    #[serde(default = "batch_bytes")]
    pub batch_bytes: u64,
}

fn inbox() -> String {
    "INBOX".into()
}
fn hundred() -> NonZeroU32 {
    NonZeroU32::new(100).expect("non-zero")
}
fn yes() -> bool {
    true
}
fn max_attachment() -> u64 {
    25 * 1024 * 1024
}
fn batch() -> NonZeroU32 {
    NonZeroU32::new(200).expect("non-zero")
}
fn batch_bytes() -> u64 {
    16 * 1024 * 1024
}

#[connector_sdk::settings]
#[derive(Default)]
/// Server-side filters; all given ones must match.
pub struct Filter {
    /// The From header contains this text.
    #[serde(default)]
    pub from: Option<String>,
    /// The subject contains this text.
    #[serde(default)]
    pub subject: Option<String>,
    /// Sent on or after this day (`2026-01-31`), by the Date header: the same date the
    /// record's `date` shows.
    #[serde(default)]
    pub since: Option<Date>,
    /// Sent before this day (`2026-02-28`), by the Date header.
    #[serde(default)]
    pub before: Option<Date>,
}

#[connector_sdk::settings]
#[derive(Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// What happens to a message after it was delivered.
pub enum AfterRead {
    /// Mark it read (`\Seen`).
    #[default]
    MarkSeen,
    /// Leave it as it is (a later run reads it again unless `unseen_only` excludes it).
    None,
    /// Delete it (flag `\Deleted` and expunge just those messages).
    Delete,
    /// Move it to this folder (IMAP MOVE, or copy and delete where MOVE is missing).
    MoveTo(String),
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// What records carry of attachments.
pub enum AttachmentMode {
    /// Name, type, size and the content in base64.
    #[default]
    Content,
    /// Name, type and size only.
    Metadata,
    /// Nothing.
    None,
}

/// A day, written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The IMAP form (`31-Jan-2026`).
    fn imap(self) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{}-{}-{}",
            self.day,
            MONTHS[usize::from(self.month - 1)],
            self.year
        )
    }
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{s}` is not a day like \"2026-01-31\"");
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let (year, month, day): (u16, u8, u8) = (
            y.parse().map_err(|_| bad())?,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        );
        if y.len() != 4 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(bad());
        }
        Ok(Self { year, month, day })
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: String| de::Error::invalid_value(de::Unexpected::Str(&s), &e.as_str()))
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&format!(
            "{:04}-{:02}-{:02}",
            self.year, self.month, self.day
        ))
    }
}

impl JsonSchema for Date {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})
    }
}

#[connector_sdk::settings]
/// One message.
pub struct EmailRecord {
    /// The message's IMAP UID in the folder.
    pub uid: u32,
    /// The folder's UIDVALIDITY: with `uid`, identifies the message for de-duplication.
    pub uid_validity: u32,
    /// The folder the message was read from.
    pub folder: String,
    /// The Message-ID header, with angle brackets.
    pub message_id: Option<String>,
    /// The Date header in UTC, RFC 3339 (`2026-11-22T10:00:00Z`).
    pub date: Option<String>,
    /// Senders.
    pub from: Vec<AddressRecord>,
    /// Recipients.
    pub to: Vec<AddressRecord>,
    /// Copy recipients.
    pub cc: Vec<AddressRecord>,
    /// Reply-To addresses.
    pub reply_to: Vec<AddressRecord>,
    /// The decoded subject.
    pub subject: Option<String>,
    /// The plain-text body, decoded to UTF-8, with `\n` line endings.
    pub text: Option<String>,
    /// The HTML body, decoded to UTF-8, with `\n` line endings.
    pub html: Option<String>,
    /// Every header, in order, with its raw (unfolded) value.
    pub headers: Vec<HeaderRecord>,
    /// The In-Reply-To Message-ID.
    pub in_reply_to: Option<String>,
    /// The References Message-IDs.
    pub references: Vec<String>,
    /// IMAP flags when read (`\Seen` is never set by reading).
    pub flags: Vec<String>,
    /// The message size in bytes.
    pub size: u64,
    /// Attachments and inline parts (images referenced from the HTML).
    pub attachments: Vec<AttachmentRecord>,
}

#[connector_sdk::settings]
/// A sender or recipient.
pub struct AddressRecord {
    /// The display name, decoded.
    pub name: Option<String>,
    /// The address.
    pub address: Option<String>,
}

#[connector_sdk::settings]
/// A header.
pub struct HeaderRecord {
    /// Its name as written.
    pub name: String,
    /// Its raw value, unfolded and trimmed.
    pub value: String,
}

#[connector_sdk::settings]
/// An attachment or inline part.
pub struct AttachmentRecord {
    /// The file name, decoded (RFC 2231 and 2047).
    pub filename: Option<String>,
    /// The MIME type (`image/png`).
    pub content_type: String,
    /// The decoded size in bytes.
    pub size: u64,
    /// The Content-ID, without angle brackets.
    pub content_id: Option<String>,
    /// Whether the part is shown inline rather than attached.
    pub inline: bool,
    /// The content, base64-encoded (with `attachments: content`, below the size limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    /// Why the content was left out (`larger than max_attachment_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The server-side search for the settings.
pub(crate) fn search_query(config: &ReadConfig) -> Result<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut utf8 = false;
    if config.unseen_only {
        terms.push("UNSEEN".into());
    }
    for (key, value, path) in [
        ("FROM", &config.filter.from, "/filter/from"),
        ("SUBJECT", &config.filter.subject, "/filter/subject"),
    ] {
        if let Some(v) = value {
            let q =
                quote(v).ok_or_else(|| Error::config(path, "line breaks are not allowed here"))?;
            utf8 |= !v.is_ascii();
            terms.push(format!("{key} {q}"));
        }
    }
    if let Some(d) = config.filter.since {
        terms.push(format!("SENTSINCE {}", d.imap()));
    }
    if let Some(d) = config.filter.before {
        terms.push(format!("SENTBEFORE {}", d.imap()));
    }
    if terms.is_empty() {
        terms.push("ALL".into());
    }
    let charset = if utf8 { "CHARSET UTF-8 " } else { "" };
    Ok(format!("{charset}{}", terms.join(" ")))
}

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

/// The `read` source.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadEmail;

/// Reads messages from an IMAP folder (unread ones by default) without marking them,
/// emits one record per message, and marks them read, deletes or moves them only after
/// the records were delivered. `discover` lists the folders.
#[connector_sdk::activity(name = "read")]
impl Source for ReadEmail {
    type Connection = EmailConnection;
    type Config = ReadConfig;
    type Record = EmailRecord;
    type Ack = u32;

    fn validate(&self, config: &ReadConfig) -> Result<()> {
        search_query(config)?;
        if let AfterRead::MoveTo(folder) = &config.after_read {
            if folder.is_empty() || quote(folder).is_none() {
                return Err(Error::config(
                    "/after_read/move_to",
                    "expected a folder name without line breaks",
                ));
            }
            if *folder == config.folder {
                return Err(Error::config(
                    "/after_read/move_to",
                    "moving messages to the folder they are read from would read them again",
                ));
            }
        }
        if let (Some(since), Some(before)) = (config.filter.since, config.filter.before)
            && (since.year, since.month, since.day) >= (before.year, before.month, before.day)
        {
            return Err(Error::config("/filter/before", "must be after `since`"));
        }
        Ok(())
    }

    async fn read(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        out: &Emitter<EmailRecord, u32>,
    ) -> Result<()> {
        let imap = conn.imap()?;
        let what = imap.what();
        let (uid_validity, uids) = {
            let mut guard = conn.session().await?;
            let session = guard
                .as_mut()
                .ok_or_else(|| Error::internal("no IMAP session"))?;
            if let AfterRead::MoveTo(target) = &config.after_read {
                let exists = crate::imap::list(session, &what)
                    .await?
                    .iter()
                    .any(|(n, _)| n == target);
                if !exists {
                    return Err(Error::config(
                        "/after_read/move_to",
                        format!("there is no folder `{target}` to move messages to"),
                    ));
                }
            }
            let mailbox = session.select(&config.folder).await.map_err(|e| {
                match classify(&what, "SELECT", e) {
                    err if err.kind() == connector_sdk::ErrorKind::Rejected => Error::config(
                        "/folder",
                        format!("cannot open folder `{}`: {}", config.folder, err.message()),
                    ),
                    err => err,
                }
            })?;
            let uid_validity = mailbox.uid_validity.unwrap_or(0);
            conn.selected(&config.folder, uid_validity);
            let query = search_query(config)?;
            let found = session
                .uid_search(&query)
                .await
                .map_err(|e| classify(&what, "UID SEARCH", e))?;
            let mut uids: Vec<u32> = found.into_iter().collect();
            uids.sort_unstable();
            uids.truncate(config.max_messages.get() as usize);
            tracing::info!(target: TARGET, folder = %config.folder, uid_validity, found = uids.len(), %query, "searched");
            (uid_validity, uids)
        };
        let sizes = fetch_sizes(conn, &what, &uids).await?;
        let batches = plan_batches(
            &uids,
            &sizes,
            config.batch_size.get() as usize,
            config.batch_bytes,
        );
        // The next batch is fetched while the previous one is parsed on another thread.
        let shared = std::sync::Arc::new(config.clone());
        let mut parsing: Option<tokio::task::JoinHandle<Vec<Parsed>>> = None;
        for batch in batches {
            if out.is_stopped() {
                break;
            }
            let fetched = match fetch_batch(conn, &what, &batch).await {
                Err(e) if lost(&e) => {
                    conn.reconnect(&e).await?;
                    fetch_batch(conn, &what, &batch).await?
                }
                fetched => fetched?,
            };
            if let Some(previous) = parsing.take() {
                emit_parsed(out, &config.folder, previous).await?;
            }
            let config = std::sync::Arc::clone(&shared);
            parsing = Some(tokio::task::spawn_blocking(move || {
                fetched
                    .iter()
                    .filter_map(|f| parse_fetch(&config, uid_validity, f))
                    .collect()
            }));
        }
        if let Some(last) = parsing {
            emit_parsed(out, &config.folder, last).await?;
        }
        Ok(())
    }

    async fn commit(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        mut acks: Vec<u32>,
    ) -> Result<()> {
        if config.after_read == AfterRead::None || acks.is_empty() {
            return Ok(());
        }
        acks.sort_unstable();
        let set = uid_set(&acks);
        let what = conn.imap()?.what();
        // Marking is idempotent (a flag set twice, a UID already moved or expunged is
        // no longer there), so after a lost connection it is simply done again.
        match apply(conn, config, &what, &set).await {
            Err(e) if lost(&e) => {
                conn.reconnect(&e).await?;
                apply(conn, config, &what, &set).await?;
            }
            done => done?,
        }
        tracing::debug!(target: TARGET, count = acks.len(), uids = %set, "committed");
        Ok(())
    }

    async fn discover(
        &self,
        conn: &EmailConnection,
        _config: Option<&ReadConfig>,
    ) -> Result<Vec<Object>> {
        let what = conn.imap()?.what();
        let mut guard = conn.session().await?;
        let session = guard
            .as_mut()
            .ok_or_else(|| Error::internal("no IMAP session"))?;
        let folders = crate::imap::list(session, &what).await?;
        Ok(folders
            .into_iter()
            .map(|(name, attributes)| Object {
                name,
                description: None,
                attributes,
            })
            .collect())
    }
}

/// Whether an error means the IMAP connection is gone (worth one reconnect).
fn lost(e: &Error) -> bool {
    e.kind() == connector_sdk::ErrorKind::Connect
}

/// Marks, deletes or moves the messages in `set` after their records were delivered.
async fn apply(conn: &EmailConnection, config: &ReadConfig, what: &str, set: &str) -> Result<()> {
    let mut guard = conn.session().await?;
    let session = guard
        .as_mut()
        .ok_or_else(|| Error::internal("no IMAP session"))?;
    match &config.after_read {
        AfterRead::None => {}
        AfterRead::MarkSeen => {
            drain(
                session.uid_store(set, "+FLAGS.SILENT (\\Seen)").await,
                what,
                "UID STORE",
            )
            .await?;
        }
        AfterRead::Delete => {
            let expunged = delete(session, what, set).await?;
            tracing::debug!(target: TARGET, expunged, "deleted");
        }
        AfterRead::MoveTo(folder) => {
            let caps = session
                .capabilities()
                .await
                .map_err(|e| classify(what, "CAPABILITY", e))?;
            if caps.has_str("MOVE") {
                session
                    .uid_mv(set, folder)
                    .await
                    .map_err(|e| classify(what, "UID MOVE", e))?;
            } else {
                session
                    .uid_copy(set, folder)
                    .await
                    .map_err(|e| classify(what, "UID COPY", e))?;
                delete(session, what, set).await?;
            }
        }
    }
    // The answers to STORE and EXPUNGE also end quietly when the connection drops.
    confirm(session, what).await
}

/// Flags the messages in `set` `\\Deleted` and expunges them (only them: UID
/// EXPUNGE). Returns how many went.
async fn delete(session: &mut Session, what: &str, set: &str) -> Result<usize> {
    drain(
        session.uid_store(set, "+FLAGS.SILENT (\\Deleted)").await,
        what,
        "UID STORE",
    )
    .await?;
    let expunged: Vec<_> = session
        .uid_expunge(set)
        .await
        .map_err(|e| classify(what, "UID EXPUNGE", e))?
        .try_collect()
        .await
        .map_err(|e| classify(what, "UID EXPUNGE", e))?;
    Ok(expunged.len())
}

/// A fetched message, parsed or not.
enum Parsed {
    Record(Box<EmailRecord>, u32),
    Unreadable { uid: u32, size: usize },
}

fn parse_fetch(
    config: &ReadConfig,
    uid_validity: u32,
    fetch: &async_imap::types::Fetch,
) -> Option<Parsed> {
    let uid = fetch.uid?;
    let flags: Vec<String> = fetch.flags().map(|f| flag_name(&f)).collect();
    let raw = fetch.body().unwrap_or_default();
    Some(match record(config, uid, uid_validity, flags, raw) {
        Some(rec) => Parsed::Record(Box::new(rec), uid),
        None => Parsed::Unreadable {
            uid,
            size: raw.len(),
        },
    })
}

async fn emit_parsed(
    out: &Emitter<EmailRecord, u32>,
    folder: &str,
    parsing: tokio::task::JoinHandle<Vec<Parsed>>,
) -> Result<()> {
    let parsed = parsing
        .await
        .map_err(|e| Error::internal(format!("parsing messages failed: {e}")))?;
    for p in parsed {
        match p {
            Parsed::Record(rec, uid) => out.emit(*rec, uid).await?,
            Parsed::Unreadable { uid, size } => {
                out.skip(Error::protocol(format!(
                    "message uid {uid} ({size} bytes) in {folder} cannot be parsed as MIME; left untouched"
                )))
                .await?;
            }
        }
    }
    Ok(())
}

/// The size of each message, asked for before fetching any, so batches can be planned
/// by bytes.
async fn fetch_sizes(
    conn: &EmailConnection,
    what: &str,
    uids: &[u32],
) -> Result<std::collections::HashMap<u32, u64>> {
    let mut sizes = std::collections::HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(5000) {
        let mut guard = conn.session().await?;
        let session = guard
            .as_mut()
            .ok_or_else(|| Error::internal("no IMAP session"))?;
        let fetched: Vec<async_imap::types::Fetch> = session
            .uid_fetch(uid_set(chunk), "(UID RFC822.SIZE)")
            .await
            .map_err(|e| classify(what, "UID FETCH", e))?
            .try_collect()
            .await
            .map_err(|e| classify(what, "UID FETCH", e))?;
        if fetched.len() < chunk.len() {
            confirm(session, what).await?;
        }
        for f in fetched {
            if let (Some(uid), Some(size)) = (f.uid, f.size) {
                sizes.insert(uid, u64::from(size));
            }
        }
    }
    Ok(sizes)
}

/// Groups UIDs into batches of at most `count` messages and `bytes` bytes; a message
/// larger than `bytes` forms a batch of its own.
pub(crate) fn plan_batches(
    uids: &[u32],
    sizes: &std::collections::HashMap<u32, u64>,
    count: usize,
    bytes: u64,
) -> Vec<Vec<u32>> {
    let mut batches = Vec::new();
    let (mut current, mut total) = (Vec::new(), 0_u64);
    for &uid in uids {
        let size = sizes.get(&uid).copied().unwrap_or(0);
        if !current.is_empty() && (current.len() >= count || total + size > bytes) {
            batches.push(std::mem::take(&mut current));
            total = 0;
        }
        current.push(uid);
        total += size;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

async fn fetch_batch(
    conn: &EmailConnection,
    what: &str,
    batch: &[u32],
) -> Result<Vec<async_imap::types::Fetch>> {
    // Hold the session only while fetching, so commits can run in between.
    let mut guard = conn.session().await?;
    let session = guard
        .as_mut()
        .ok_or_else(|| Error::internal("no IMAP session"))?;
    let fetched: Vec<async_imap::types::Fetch> = session
        .uid_fetch(uid_set(batch), "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
        .await
        .map_err(|e| classify(what, "UID FETCH", e))?
        .try_collect()
        .await
        .map_err(|e| classify(what, "UID FETCH", e))?;
    if fetched.len() < batch.len() {
        // async-imap ends a FETCH stream quietly when the connection drops; a NOOP
        // tells that apart from messages expunged in the meantime.
        confirm(session, what).await?;
    }
    Ok(fetched)
}

/// Confirms the session is still there (a NOOP), so an operation whose answer stream
/// ended early is known to be complete rather than cut off.
async fn confirm(session: &mut Session, what: &str) -> Result<()> {
    session.noop().await.map_err(|e| classify(what, "NOOP", e))
}

async fn drain<S, T>(
    stream: std::result::Result<S, async_imap::error::Error>,
    what: &str,
    doing: &str,
) -> Result<()>
where
    S: futures_util::Stream<Item = std::result::Result<T, async_imap::error::Error>>,
{
    let stream = stream.map_err(|e| classify(what, doing, e))?;
    futures_util::pin_mut!(stream);
    while stream
        .try_next()
        .await
        .map_err(|e| classify(what, doing, e))?
        .is_some()
    {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let uids: Vec<u32> = (1..=7).collect();
        let sizes: std::collections::HashMap<u32, u64> = [
            (1, 10),
            (2, 10),
            (3, 100),
            (4, 10),
            (5, 10),
            (6, 10),
            (7, 10),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            plan_batches(&uids, &sizes, 3, 50),
            vec![vec![1, 2], vec![3], vec![4, 5, 6], vec![7]]
        );
        assert_eq!(plan_batches(&uids, &sizes, 100, 1000), vec![uids.clone()]);
        assert!(plan_batches(&[], &sizes, 3, 50).is_empty());
    }

    #[test]
    fn search_query_combines_terms() {
        let mut config: ReadConfig = connector_sdk::from_value(&serde_json::json!({
            "filter": {"from": "a@b", "subject": "Grüße", "since": "2026-01-31"}
        }))
        .expect("valid");
        assert_eq!(
            search_query(&config).expect("query"),
            "CHARSET UTF-8 UNSEEN FROM \"a@b\" SUBJECT \"Grüße\" SENTSINCE 31-Jan-2026"
        );
        config.unseen_only = false;
        config.filter = Filter::default();
        assert_eq!(search_query(&config).expect("query"), "ALL");
    }
}
