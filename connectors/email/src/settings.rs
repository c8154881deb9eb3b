//! Connection settings: where the SMTP and IMAP servers are, how to secure and log in.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use connector_sdk::Secret;
use connector_sdk::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use connector_sdk::serde::{Deserialize, Deserializer, Serialize, Serializer, de};

#[connector_sdk::settings]
/// Connection settings for an SMTP server (Send Email) and an IMAP server (Read Email).
/// Either may be left out; an activity that needs the missing one fails with a config
/// error.
pub struct EmailSettings {
    /// The SMTP server used by Send Email.
    #[serde(default)]
    pub smtp: Option<Server>,
    /// The IMAP server used by Read Email.
    #[serde(default)]
    pub imap: Option<Server>,
    /// How to log in to both servers.
    pub auth: Auth,
    /// Which certificates to trust.
    #[serde(default)]
    pub tls: TlsSettings,
    /// How long to wait for the servers.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Allow sending a password over a connection with `security: none`. Off by
    /// default: a password in plaintext can be read by anyone on the path.
    #[serde(default)]
    pub allow_insecure_auth: bool,
    /// The name this client gives in SMTP EHLO; defaults to `localhost`.
    #[serde(default)]
    pub hello_name: Option<String>,
}

#[connector_sdk::settings]
/// One server.
pub struct Server {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (SMTP: 587 with STARTTLS, 465 with TLS; IMAP: 993 with TLS, 143 with
    /// STARTTLS).
    pub port: Port,
    /// Transport security.
    #[serde(default)]
    pub security: Security,
    /// How to log in to this server, when it differs from the top-level `auth` (an
    /// SMTP relay that takes no login beside an IMAP server that needs one).
    #[serde(default)]
    pub auth: Option<Auth>,
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
/// Transport security.
pub enum Security {
    /// TLS from the first byte (SMTPS 465, IMAPS 993).
    #[default]
    Tls,
    /// Plaintext upgraded with STARTTLS, which is then required: a server that does
    /// not offer it is an error, never a silent plaintext session.
    Starttls,
    /// No encryption. Passwords are refused unless `allow_insecure_auth` is set.
    None,
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tls => "tls",
            Self::Starttls => "starttls",
            Self::None => "none",
        })
    }
}

#[connector_sdk::settings]
#[serde(tag = "type", rename_all = "snake_case")]
/// How to log in.
pub enum Auth {
    /// A username and password (SMTP AUTH PLAIN/LOGIN, IMAP LOGIN).
    Basic {
        /// The login, usually the mailbox address.
        username: String,
        /// The password: a string, `{"env": "NAME"}` or `{"file": "PATH"}`.
        password: Secret,
    },
    /// An OAuth 2.0 access token (Microsoft 365, Gmail), sent with XOAUTH2 or
    /// OAUTHBEARER.
    Oauth2 {
        /// The mailbox to log in to.
        username: String,
        /// An access token obtained elsewhere: a string, `{"env": "NAME"}` or
        /// `{"file": "PATH"}` (a file a token helper keeps fresh).
        access_token: Secret,
        /// The SASL mechanism: `xoauth2` (Microsoft 365, Gmail) or `oauthbearer`
        /// (RFC 7628).
        #[serde(default)]
        mechanism: OauthMechanism,
    },
    /// No login, for SMTP relays that trust the network. IMAP always needs a login.
    None,
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// How an OAuth 2.0 token is presented.
pub enum OauthMechanism {
    /// `AUTH XOAUTH2` (Google's and Microsoft's).
    #[default]
    Xoauth2,
    /// `AUTH OAUTHBEARER` (RFC 7628).
    Oauthbearer,
}

impl OauthMechanism {
    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Xoauth2 => "XOAUTH2",
            Self::Oauthbearer => "OAUTHBEARER",
        }
    }
}

impl Auth {
    /// The login name, if any.
    pub fn username(&self) -> Option<&str> {
        match self {
            Self::Basic { username, .. } | Self::Oauth2 { username, .. } => Some(username),
            Self::None => None,
        }
    }
}

#[connector_sdk::settings]
#[derive(Default)]
/// Which certificates to trust.
pub struct TlsSettings {
    /// A PEM file of CA certificates to trust in addition to the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate, even expired, self-signed or for another host. Only for
    /// tests: anyone on the path can read and change the mail. Logged as a warning.
    #[serde(default)]
    pub accept_invalid_certs: bool,
}

#[connector_sdk::settings]
/// How long to wait for the servers.
pub struct Timeouts {
    /// Seconds to wait for a TCP connection and the TLS handshake.
    #[serde(default = "ten")]
    pub connect_secs: NonZeroU32,
    /// Seconds to wait for any one read or write.
    #[serde(default = "sixty")]
    pub io_secs: NonZeroU32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_secs: ten(),
            io_secs: sixty(),
        }
    }
}

impl Timeouts {
    /// The connect timeout.
    pub fn connect(&self) -> Duration {
        Duration::from_secs(self.connect_secs.get().into())
    }
    /// The read/write timeout.
    pub fn io(&self) -> Duration {
        Duration::from_secs(self.io_secs.get().into())
    }
}

fn ten() -> NonZeroU32 {
    NonZeroU32::new(10).expect("non-zero")
}

fn sixty() -> NonZeroU32 {
    NonZeroU32::new(60).expect("non-zero")
}

/// A TCP port, 1 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Port(u16);

impl Port {
    /// The port number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for Port {
    type Error = &'static str;
    fn try_from(v: u16) -> Result<Self, Self::Error> {
        if v == 0 {
            Err("port 0 is not a port")
        } else {
            Ok(Self(v))
        }
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        u16::try_from(v)
            .ok()
            .and_then(|v| Port::try_from(v).ok())
            .ok_or_else(|| {
                de::Error::invalid_value(de::Unexpected::Unsigned(v), &"a port from 1 to 65535")
            })
    }
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

impl JsonSchema for Port {
    fn schema_name() -> Cow<'static, str> {
        "Port".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 1, "maximum": 65535})
    }
}
