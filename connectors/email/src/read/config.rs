//! The settings of Read Email ([`ReadConfig`]) and the rules they must follow.
//!
//! One concern in one file, though long: every setting with its doc (the manifest's
//! text) and the checks across settings that a schema cannot say, side by side, so a
//! reader sees each rule next to what it constrains.

use std::borrow::Cow;
use std::num::NonZeroU32;

use connector_sdk::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use connector_sdk::serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use connector_sdk::{Error, Result};

#[connector_sdk::settings]
/// Settings of Read Email.
pub struct ReadConfig {
    /// The folder to read (see `discover` for the names).
    #[serde(default = "inbox")]
    pub folder: String,
    /// More folders to read in the same run, one after another after `folder`, each
    /// with its own place in the state (`mode: cursor`) and its own commits.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub folders: Vec<String>,
    /// At most this many messages per run (over all folders), oldest first.
    #[serde(default = "hundred")]
    pub max_messages: NonZeroU32,
    /// Read only messages not marked read (`\Seen`).
    #[serde(default = "yes")]
    pub unseen_only: bool,
    /// Which messages to read, evaluated by the server.
    #[serde(default)]
    pub filter: Filter,
    /// How a run picks messages: `mark` (the default: those matching the search,
    /// marked, moved or deleted once delivered, see `after_read`) or `cursor` (every
    /// message with a UID above the last one a previous run delivered, given with `run
    /// --state FILE`; changes no flag, so it suits shared and read-only mailboxes; needs
    /// `after_read: none`).
    #[serde(default)]
    pub mode: ReadMode,
    /// With `mode: cursor`, what to do when a folder's UIDVALIDITY is not the one its
    /// place in the state was written under (the server renumbered the folder, so the
    /// place means nothing now): `reread` the folder from its start (the default; some
    /// messages may come twice), go on `from_now` (only mail that arrives after this
    /// run; what is there now is not read), or `fail` the run so an operator decides.
    #[serde(default)]
    pub on_uidvalidity_change: UidValidityChange,
    /// With `mode: cursor`, also report messages read before whose flags changed since
    /// the last run (read, flagged, answered elsewhere): one record each with `change:
    /// "flags"` and the new `flags`, found by mod-sequence on a server with CONDSTORE
    /// (RFC 7162), without fetching any message again; on a server with QRESYNC also
    /// one record with `change: "vanished"` for each message read before and expunged
    /// since. A run on a server without CONDSTORE stops with a config error.
    #[serde(default)]
    pub flag_changes: bool,
    /// Keep reading: after the messages there are, wait for new ones (IMAP IDLE where
    /// the server has it, and a look anyway every `poll_interval_secs`; a poll at that
    /// interval where it has no IDLE) and emit each as it arrives, until SIGINT or
    /// SIGTERM ends the run. Commits go on meanwhile.
    #[serde(default)]
    pub follow: bool,
    /// With `follow`: seconds between looks for new mail (on a server with IDLE, the
    /// longest wait when its IDLE says nothing).
    #[serde(default = "minute")]
    #[schemars(range(min = 1, max = 3600))]
    pub poll_interval_secs: NonZeroU32,
    /// What to do with a message once it was delivered: `mark_seen`, `none`, `delete`
    /// or `{"move_to": "Folder"}`.
    #[serde(default)]
    pub after_read: AfterRead,
    /// What records carry of attachments: `content` (base64), `metadata` or `none`.
    #[serde(default)]
    pub attachments: AttachmentMode,
    /// Put the whole message, as the server sent it, in the record (`raw_base64`): for
    /// an archive, or a parser of your own.
    #[serde(default)]
    pub include_raw: bool,
    /// Write each message (`.eml`) and/or its attachments to files in a directory,
    /// each named by the SHA-256 of its content; the record carries the paths
    /// (`eml_path`, `attachments[].path`). A message is committed only after its files
    /// are synced to disk; one whose files cannot be written is reported and left.
    #[serde(default)]
    pub save_to: Option<SaveTo>,
    /// Attachments larger than this are listed with their size and marked skipped,
    /// without their content.
    #[serde(default = "max_attachment")]
    pub max_attachment_bytes: u64,
    /// A message whose MIME parts nest deeper than this (multiparts in multiparts,
    /// messages in messages) is not turned into a record: it is reported with its UID
    /// and left untouched, and the run goes on. Postfix refuses mail nested deeper
    /// than 100.
    #[serde(default = "hundred_deep")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_nesting_depth: u32,
    /// The largest message taken, in bytes. A larger one is not read (refused at the
    /// size the server announces, before its bytes come): it is reported with its UID
    /// and left untouched, and the run goes on. A server that announces more than this
    /// in one piece after reporting a smaller size is refused (`protocol`).
    #[serde(default = "max_message")]
    #[schemars(range(min = 1024))]
    pub max_message_bytes: u64,
    /// A message with more MIME parts than this (counting every part of every nested
    /// message) is reported with its UID and left untouched, and the run goes on.
    #[serde(default = "ten_thousand")]
    #[schemars(range(min = 1))]
    pub max_parts: u32,
    /// A message whose header section is larger than this, in bytes, is reported with
    /// its UID and left untouched (checked before it is parsed). Postfix truncates
    /// headers past 100 KiB; other servers may pass more.
    #[serde(default = "one_mebibyte")]
    #[schemars(range(min = 1024))]
    pub max_header_bytes: u64,
    /// At most this many messages in one batch: handed to the parser together while
    /// the next ones arrive, and checkpointed together once delivered.
    #[serde(default = "batch")]
    pub batch_size: NonZeroU32,
    /// At most this many bytes of messages in one batch (the message that passes it
    /// closes the batch). A `UID FETCH` answer is taken as it arrives and handed on a
    /// batch at a time, with at most three batches being parsed (one on a machine with
    /// two CPUs or fewer): this bounds memory whatever the server sends.
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
fn max_message() -> u64 {
    64 * 1024 * 1024
}
fn ten_thousand() -> u32 {
    10_000
}
fn one_mebibyte() -> u64 {
    1024 * 1024
}
fn hundred_deep() -> u32 {
    100
}
fn minute() -> NonZeroU32 {
    NonZeroU32::new(60).expect("non-zero")
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
    /// The To header contains this text.
    #[serde(default)]
    pub to: Option<String>,
    /// Each of these header fields contains its text (`{"List-Id": "announce"}`); an
    /// empty text matches every message that has the field.
    #[serde(default)]
    pub header: std::collections::BTreeMap<String, String>,
    /// Larger than this many bytes.
    #[serde(default)]
    pub larger: Option<u32>,
    /// Smaller than this many bytes.
    #[serde(default)]
    pub smaller: Option<u32>,
    /// `true`: only messages flagged (`\Flagged`, starred); `false`: only those not.
    #[serde(default)]
    pub flagged: Option<bool>,
    /// More search keys in IMAP's own syntax (RFC 3501 section 6.4.4), ANDed with the
    /// rest: `OR FROM "a@x" FROM "b@x"`, `NOT KEYWORD $Junk`. ASCII, at most 1,000
    /// characters, quotes and parentheses balanced, no literals.
    #[serde(default)]
    #[schemars(length(min = 1, max = 1000))]
    pub search: Option<String>,
    /// Gmail's own search syntax (`has:attachment older_than:7d label:invoices`), sent
    /// as `X-GM-RAW` where the server offers it (X-GM-EXT-1: Gmail); on any other
    /// server the run stops with a config error before searching.
    #[schemars(length(min = 1, max = 1000))]
    pub gmail_raw: Option<String>,
    /// Sent on or after this day (`2026-01-31`), by the Date header: the same date the
    /// record's `date` shows.
    #[serde(default)]
    pub since: Option<Date>,
    /// Sent before this day (`2026-02-28`), by the Date header.
    #[serde(default)]
    pub before: Option<Date>,
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// How a run picks messages.
pub enum ReadMode {
    /// The messages matching the search (`unseen_only`, `filter`), marked, moved or
    /// deleted after delivery as `after_read` says.
    #[default]
    Mark,
    /// The messages with a UID above the state's `last_uid` (and matching the search),
    /// changing nothing on the server.
    Cursor,
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// What a cursor does when a folder's UIDVALIDITY changed since its place was kept.
pub enum UidValidityChange {
    /// Read the folder from its start.
    #[default]
    Reread,
    /// Read only what arrives from now on.
    FromNow,
    /// Stop the run with an error.
    Fail,
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

#[connector_sdk::settings]
/// Where and what to write to files.
pub struct SaveTo {
    /// An existing directory.
    pub dir: std::path::PathBuf,
    /// `eml` (the whole message), `attachments`, or `both` (the default).
    #[serde(default)]
    pub what: SaveWhat,
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// What [`SaveTo`] writes.
pub enum SaveWhat {
    /// The whole message as received, `<sha256>.eml`.
    Eml,
    /// Each attachment the record lists, `<sha256>.<extension>`.
    Attachments,
    /// Both.
    #[default]
    Both,
}

impl ReadConfig {
    /// The rules beyond the schema: a valid search, a `move_to` folder that is not
    /// the one read, `since` before `before`.
    /// Every folder a run reads, in order: `folder`, then `folders`.
    pub(crate) fn all_folders(&self) -> Vec<&str> {
        std::iter::once(self.folder.as_str())
            .chain(self.folders.iter().map(String::as_str))
            .collect()
    }

    /// These settings for reading one of the run's folders alone.
    pub(crate) fn for_folder(&self, folder: &str) -> Self {
        Self {
            folder: folder.to_owned(),
            folders: Vec::new(),
            ..self.clone()
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        let config = self;
        for (i, folder) in config.folders.iter().enumerate() {
            let path = format!("/folders/{i}");
            if folder.is_empty() || crate::protocol::imap::quote(folder).is_none() {
                return Err(Error::config(
                    path,
                    "expected a folder name without line breaks",
                ));
            }
            if config.all_folders()[..=i].contains(&folder.as_str()) {
                return Err(Error::config(
                    path,
                    format!("`{folder}` is read already (each folder once)"),
                ));
            }
        }
        if config.flag_changes && config.mode != ReadMode::Cursor {
            return Err(Error::config(
                "/flag_changes",
                "flag changes are reported against a cursor's place: set `mode` to `cursor`",
            ));
        }
        if config.follow && !config.folders.is_empty() {
            return Err(Error::config(
                "/folders",
                "`follow` watches one folder: use one run per folder to follow several",
            ));
        }
        if config.mode == ReadMode::Cursor && config.after_read != AfterRead::None {
            return Err(Error::config(
                "/after_read",
                "`mode: cursor` changes nothing on the server: set `after_read` to `none`",
            ));
        }
        if let AfterRead::MoveTo(folder) = &config.after_read {
            if folder.is_empty() || crate::protocol::imap::quote(folder).is_none() {
                return Err(Error::config(
                    "/after_read/move_to",
                    "expected a folder name without line breaks",
                ));
            }
            if config.all_folders().contains(&folder.as_str()) {
                return Err(Error::config(
                    "/after_read/move_to",
                    "moving messages to a folder they are read from would read them again",
                ));
            }
        }
        if let (Some(since), Some(before)) = (config.filter.since, config.filter.before)
            && since >= before
        {
            return Err(Error::config("/filter/before", "must be after `since`"));
        }
        if let (Some(larger), Some(smaller)) = (config.filter.larger, config.filter.smaller)
            && smaller <= larger.saturating_add(1)
        {
            return Err(Error::config(
                "/filter/smaller",
                "must be more than `larger` + 1: no message is both",
            ));
        }
        for name in config.filter.header.keys() {
            // RFC 5322 section 2.2: printable ASCII but the colon.
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                return Err(Error::config(
                    format!(
                        "/filter/header/{}",
                        crate::settings::clip(name)
                            .replace('~', "~0")
                            .replace('/', "~1")
                    ),
                    "expected a header field name: printable ASCII without spaces or colons",
                ));
            }
        }
        if let Some(save) = &config.save_to
            && !save.dir.is_dir()
        {
            return Err(Error::config(
                "/save_to/dir",
                format!("`{}` is not a directory", save.dir.display()),
            ));
        }
        if let Some(search) = &config.filter.search {
            search_syntax(search).map_err(|why| Error::config("/filter/search", why))?;
        }
        Ok(())
    }
}

/// Checks a raw IMAP search string before it goes to the server inside parentheses:
/// printable ASCII, quoted strings closed (with `\\` escapes), parentheses balanced
/// outside them, and no literal (`{5}` would make the server wait for bytes the
/// connector never sends). The server judges the keys themselves.
fn search_syntax(search: &str) -> std::result::Result<(), String> {
    if search.trim().is_empty() {
        return Err("expected IMAP search keys, got nothing".into());
    }
    if let Some(bad) = search.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "only printable ASCII may go here (found {bad:?}); use `subject`, `from`, `to` or `header` for other text"
        ));
    }
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in search.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => quoted = false,
            (true, false, _) => {}
            (false, _, '"') => quoted = true,
            (false, _, '(') => depth += 1,
            (false, _, ')') => {
                depth = depth.checked_sub(1).ok_or("a `)` closes no `(`")?;
            }
            (false, _, '{') => return Err("literals (`{…}`) are not allowed here".into()),
            _ => {}
        }
    }
    if quoted {
        return Err("a quoted string is not closed".into());
    }
    if depth > 0 {
        return Err("a `(` is not closed".into());
    }
    Ok(())
}

/// A day, written `YYYY-MM-DD`; a day that is not in the calendar (`2026-02-31`) is
/// refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(chrono::NaiveDate);

impl Date {
    /// The IMAP form (`31-Jan-2026`, RFC 3501 `date`).
    pub(crate) fn imap(self) -> String {
        use chrono::Datelike as _;
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{}-{}-{}",
            self.0.day(),
            MONTHS[self.0.month0() as usize],
            self.0.year()
        )
    }
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || {
            format!(
                "`{}` is not a day like \"2026-01-31\"",
                crate::settings::clip(s)
            )
        };
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let (year, month, day): (i32, u32, u32) = (
            y.parse().map_err(|_| bad())?,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        );
        chrono::NaiveDate::from_ymd_opt(year, month, day)
            .map(Self)
            .ok_or_else(bad)
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
        use chrono::Datelike as _;
        s.serialize_str(&format!(
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_search_strings_are_checked_before_they_reach_the_server() {
        for good in [
            "OR FROM \"a@x\" FROM \"b@x\"",
            "NOT KEYWORD $Junk",
            "(OR SEEN FLAGGED) SUBJECT \"a \\\"quoted\\\" (word\"",
        ] {
            assert_eq!(search_syntax(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "nothing"),
            ("SUBJECT \"Grüße\"", "printable ASCII"),
            ("ALL\r\nA2 LOGOUT", "printable ASCII"),
            ("SUBJECT \"open", "not closed"),
            ("(SEEN", "`(` is not closed"),
            ("SEEN)", "closes no"),
            ("SUBJECT {5}", "literals"),
        ] {
            let e = search_syntax(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
        let err = connector_sdk::from_value::<ReadConfig>(
            &serde_json::json!({"filter": {"search": "SEEN)"}}),
        )
        .and_then(|c| c.check().map(|()| c))
        .unwrap_err();
        assert_eq!(err.path(), Some("/filter/search"));
        let err = connector_sdk::from_value::<ReadConfig>(
            &serde_json::json!({"filter": {"header": {"List Id": "x"}}}),
        )
        .and_then(|c| c.check().map(|()| c))
        .unwrap_err();
        assert_eq!(err.path(), Some("/filter/header/List Id"));
        let err = connector_sdk::from_value::<ReadConfig>(
            &serde_json::json!({"filter": {"larger": 100, "smaller": 101}}),
        )
        .and_then(|c| c.check().map(|()| c))
        .unwrap_err();
        assert_eq!(err.path(), Some("/filter/smaller"));
    }

    #[test]
    fn days_must_be_in_the_calendar() {
        assert_eq!(
            "2026-01-31".parse::<Date>().map(Date::imap),
            Ok("31-Jan-2026".into())
        );
        assert_eq!(
            "2024-02-29".parse::<Date>().map(Date::imap),
            Ok("29-Feb-2024".into())
        );
        for bad in [
            "2026-02-31",
            "2025-02-29",
            "2026-13-01",
            "2026-1-5",
            "26-01-01",
            "x",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        let err = connector_sdk::from_value::<ReadConfig>(
            &serde_json::json!({"filter": {"since": "2026-02-31"}}),
        )
        .unwrap_err();
        assert_eq!(err.path(), Some("/filter/since"));
    }
}
