//! The Email connector for `connector-sdk`: **Send Email** over SMTP (a target) and
//! **Read Email** over IMAP (a source), against real mail servers.
//!
//! - Send Email builds MIME with lettre (text, HTML or both, attachments, inline
//!   images, Reply-To, threading headers, priority, custom headers) and sends a batch
//!   over pooled SMTP sessions, reporting accepted and refused recipients per message;
//!   transient failures are retried with backoff, permanent ones are not.
//! - Read Email searches on the server, fetches in batches with `BODY.PEEK[]` (nothing
//!   is marked read by fetching), parses with mail-parser and emits one record per
//!   message; the message is marked read, deleted or moved only after its record was
//!   delivered.
//! - TLS is rustls; `starttls` is required when chosen; passwords never go over
//!   plaintext unless allowed; every read and write has a timeout; the SMTP and IMAP
//!   dialogue is traced at `trace` level (targets `email_connector::smtp` and
//!   `email_connector::imap`) with credentials redacted.
//!
//! The program is `email-connector`, speaking the SDK's host protocol:
//!
//! ```text
//! email-connector check --connection conn.json
//! email-connector run send --connection conn.json --input message.json
//! email-connector run read --connection conn.json --config read.json
//! ```
//!
//! Settings in code:
//!
//! ```
//! let settings: email_connector::EmailSettings = connector_sdk::from_value(&serde_json::json!({
//!     "smtp": {"host": "smtp.example.com", "port": 587, "security": "starttls"},
//!     "auth": {"type": "basic", "username": "me@example.com", "password": {"env": "PATH"}}
//! })).unwrap();
//! assert_eq!(settings.timeouts.io_secs.get(), 60);
//!
//! let err = connector_sdk::from_value::<email_connector::EmailSettings>(&serde_json::json!({
//!     "imap": {"host": "imap.example.com", "port": 0}, "auth": {"type": "none"}
//! })).unwrap_err();
//! assert_eq!(err.to_string(), "/imap/port: expected an integer from 1 to 65535, got 0");
//! ```
//!
//! # Layout
//!
//! Layered one way, lowest first: `settings` (the public settings types), `transport`
//! (dialing, TLS, STARTTLS, deadlines, the traced dialogue), `auth` (logins, SASL, OAuth
//! 2.0 tokens), `protocol` (SMTP and IMAP sessions), `checked` (the settings validated
//! once), `connection` and `check`, then the activities `send` and `read`, each a folder
//! split by concern. `ARCHITECTURE.md` at the repository root draws the map.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.88.

mod auth;
mod check;
mod checked;
mod connection;
mod filename;
mod hints;
#[cfg(test)]
mod prop_tests;
mod protocol;
mod read;
mod send;
mod settings;
mod transport;

use connector_sdk::{Connector, Result};

pub use connection::EmailConnection;
pub use read::{
    AddressRecord, AfterRead, AttachmentMode, AttachmentRecord, BodyPart, Change, Date,
    EmailRecord, Filter, FolderState, HeaderRecord, ReadConfig, ReadEmail, ReadMode, ReadState,
    SaveTo, SaveWhat, UidValidityChange,
};
pub use send::{
    Addresses, AttachmentRequest, AutoSubmitted, Dkim, DkimAlgorithm, Dsn, DsnNotify, DsnReturn,
    Mailbox, Priority, RejectedRecipient, SendConfig, SendEmail, SendRequest, SendResult,
    SendStatus, SentCopy, Template,
};
pub use settings::{
    Auth, ClientAuth, EmailSettings, EndpointUrl, Grant, OAuth2, OauthMechanism, Port, Security,
    Server, Timeouts, TlsSettings,
};

use checked::Checked;

/// The email connector.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmailConnector;

/// Sends email over SMTP and reads it over IMAP, with TLS, STARTTLS, basic login,
/// at-least-once reading and per-recipient results.
#[connector_sdk::connector(name = "email", activities(SendEmail, ReadEmail))]
impl Connector for EmailConnector {
    type Settings = EmailSettings;
    type Connection = EmailConnection;

    fn validate(&self, settings: &EmailSettings) -> Result<()> {
        // The rules and the CA file only: the system's CA store is loaded by `connect`.
        Checked::new(settings).map(drop)
    }

    async fn connect(&self, settings: EmailSettings) -> Result<EmailConnection> {
        EmailConnection::new(Checked::new(&settings)?)
    }

    async fn open(&self, settings: EmailSettings) -> Result<EmailConnection> {
        // `connect` validates while it builds the checked form: once is enough.
        self.connect(settings).await
    }
}
