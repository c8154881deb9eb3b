//! What Read Email emits: one [`EmailRecord`] per message, with its addresses,
//! headers and attachments.
//!
//! A record's text borrows from the message it was read from where it can (`'a`):
//! most header values, names, addresses and bodies are written as they stand in the
//! message, so building a record copies them only where it changes them (unfolding,
//! decoding, a charset). Records emitted and read back are `EmailRecord<'static>`,
//! owning their text.

use std::borrow::Cow;

#[connector_sdk::settings]
/// One message.
pub struct EmailRecord<'a> {
    /// The message's IMAP UID in the folder.
    pub uid: u32,
    /// The folder's UIDVALIDITY: with `uid`, identifies the message for de-duplication.
    pub uid_validity: u32,
    /// The folder the message was read from.
    pub folder: Cow<'a, str>,
    /// The Message-ID header, with angle brackets.
    pub message_id: Option<Cow<'a, str>>,
    /// The Date header in UTC, RFC 3339 (`2026-11-22T10:00:00Z`).
    pub date: Option<String>,
    /// Senders.
    pub from: Vec<AddressRecord<'a>>,
    /// Recipients.
    pub to: Vec<AddressRecord<'a>>,
    /// Copy recipients.
    pub cc: Vec<AddressRecord<'a>>,
    /// Reply-To addresses.
    pub reply_to: Vec<AddressRecord<'a>>,
    /// The decoded subject.
    pub subject: Option<Cow<'a, str>>,
    /// The plain-text body, decoded to UTF-8, with `\n` line endings: every inline
    /// text part in order, joined by an empty line when there are several.
    pub text: Option<Cow<'a, str>>,
    /// The HTML body, decoded to UTF-8, with `\n` line endings: the first HTML part
    /// (see `html_parts` for the others).
    pub html: Option<Cow<'a, str>>,
    /// Each inline text part on its own, with the MIME part it came from, when there
    /// are several (a mailing-list footer, a forwarded or signed body in parts).
    /// Absent when there is one or none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_parts: Vec<BodyPart<'a>>,
    /// Each HTML part on its own, with the MIME part it came from, when there are
    /// several. Absent when there is one or none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub html_parts: Vec<BodyPart<'a>>,
    /// Every header, in order, with its raw (unfolded) value.
    pub headers: Vec<HeaderRecord<'a>>,
    /// The In-Reply-To Message-ID.
    pub in_reply_to: Option<Cow<'a, str>>,
    /// The References Message-IDs.
    pub references: Vec<Cow<'a, str>>,
    /// IMAP flags when read (`\Seen` is never set by reading).
    pub flags: Vec<String>,
    /// The message size in bytes.
    pub size: u64,
    /// Attachments and inline parts (images referenced from the HTML).
    pub attachments: Vec<AttachmentRecord<'a>>,
    /// The whole message as the server sent it, base64-encoded (with `include_raw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_base64: Option<String>,
    /// The file the message was written to (with `save_to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eml_path: Option<String>,
    /// `flags` on a record that is not a new message but the new flags of one read
    /// before (with `flag_changes`): only `uid`, `uid_validity`, `folder` and `flags`
    /// are filled. Absent on the record of a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// What a record that is not a new message says.
pub enum Change {
    /// The message's flags changed since the last run.
    Flags,
    /// The message was expunged since the last run (found on a server with QRESYNC,
    /// RFC 7162). The record carries its UID only. A server may name UIDs it never
    /// gave a message, so this means "gone, if you had it".
    Vanished,
}

// A record borrowing from its message is written as the record the source emits.
impl<'a> connector_sdk::SerializeAs<EmailRecord<'static>> for EmailRecord<'a> {}

impl EmailRecord<'static> {
    /// The record of a message read before whose flags are now `flags`.
    pub(crate) fn flags_changed(
        uid: u32,
        uid_validity: u32,
        folder: &str,
        flags: Vec<String>,
    ) -> Self {
        Self::changed(uid, uid_validity, folder, flags, Change::Flags)
    }

    /// The record of a message expunged since the last run.
    pub(crate) fn vanished(uid: u32, uid_validity: u32, folder: &str) -> Self {
        Self::changed(uid, uid_validity, folder, Vec::new(), Change::Vanished)
    }

    /// A record that carries no message, only what `change` says about `uid`.
    fn changed(
        uid: u32,
        uid_validity: u32,
        folder: &str,
        flags: Vec<String>,
        change: Change,
    ) -> Self {
        Self {
            uid,
            uid_validity,
            folder: Cow::Owned(folder.to_owned()),
            message_id: None,
            date: None,
            from: Vec::new(),
            to: Vec::new(),
            cc: Vec::new(),
            reply_to: Vec::new(),
            subject: None,
            text: None,
            html: None,
            text_parts: Vec::new(),
            html_parts: Vec::new(),
            headers: Vec::new(),
            in_reply_to: None,
            references: Vec::new(),
            flags,
            size: 0,
            attachments: Vec::new(),
            raw_base64: None,
            eml_path: None,
            change: Some(change),
        }
    }
}

#[connector_sdk::settings]
/// One body part of a message with several.
pub struct BodyPart<'a> {
    /// The part's number as IMAP names it (RFC 3501 section 6.4.5: `1`, `2.1`).
    pub part: String,
    /// Its content, decoded to UTF-8, with `\n` line endings.
    pub content: Cow<'a, str>,
}

#[connector_sdk::settings]
/// A sender or recipient.
pub struct AddressRecord<'a> {
    /// The display name, decoded.
    pub name: Option<Cow<'a, str>>,
    /// The address.
    pub address: Option<Cow<'a, str>>,
}

impl AddressRecord<'_> {
    /// The same mailbox owning its text (to keep it after the message it was read
    /// from is gone).
    ///
    /// ```
    /// use email_connector::AddressRecord;
    ///
    /// let written = String::from("ada@example.test");
    /// let read = AddressRecord { name: None, address: Some(written.as_str().into()) };
    /// let kept = read.into_owned();
    /// drop(written);
    /// assert_eq!(kept.address.as_deref(), Some("ada@example.test"));
    /// ```
    pub fn into_owned(self) -> AddressRecord<'static> {
        AddressRecord {
            name: self.name.map(|n| Cow::Owned(n.into_owned())),
            address: self.address.map(|a| Cow::Owned(a.into_owned())),
        }
    }
}

#[connector_sdk::settings]
/// A header.
pub struct HeaderRecord<'a> {
    /// Its name as written, except that the common fields are given in their standard
    /// spelling (`Message-ID`, `Content-Type`, whatever the message's case).
    pub name: Cow<'a, str>,
    /// Its raw value, unfolded and trimmed.
    pub value: Cow<'a, str>,
    /// `true` when the value was not UTF-8: it is shown with replacement characters
    /// (`\u{fffd}`) where the bytes could not be decoded. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_utf8: Option<bool>,
}

#[connector_sdk::settings]
/// An attachment or inline part.
pub struct AttachmentRecord<'a> {
    /// The file name, decoded (RFC 2231 and 2047).
    pub filename: Option<Cow<'a, str>>,
    /// The MIME type (`image/png`).
    pub content_type: Cow<'a, str>,
    /// The decoded size in bytes (of the original bytes: a text attachment is not
    /// converted to UTF-8).
    pub size: u64,
    /// The Content-ID, without angle brackets.
    pub content_id: Option<Cow<'a, str>>,
    /// Whether the part is shown inline rather than attached.
    pub inline: bool,
    /// The content, base64-encoded (with `attachments: content`, below the size limit):
    /// the sender's bytes, a text file in its own charset included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    /// Why the content was left out (`larger than max_attachment_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The file the content was written to (with `save_to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}
