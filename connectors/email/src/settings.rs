//! Connection settings: where the SMTP and IMAP servers are, how to secure and log in.
//! Plain data with its schema; the rules that span fields are in [`crate::checked`].

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
    /// OAuth 2.0 (Microsoft 365, Gmail): an access token, obtained with a grant or
    /// given as is, sent with XOAUTH2 or OAUTHBEARER.
    Oauth2(Box<OAuth2>),
    /// No login, for SMTP relays that trust the network. IMAP always needs a login.
    None,
}

#[connector_sdk::settings]
/// OAuth 2.0 login. With a `grant`, the connector requests access tokens itself, keeps
/// them for the process and refreshes them before they expire; with
/// `grant: access_token` it uses the token it is given.
///
/// Microsoft 365 app-only (the usual choice for a service):
/// `{"type": "oauth2", "username": "orders@contoso.com", "grant": "client_credentials",
/// "tenant_id": "contoso.onmicrosoft.com", "client_id": "…", "client_secret": {"env":
/// "EMAIL_CLIENT_SECRET"}}`.
pub struct OAuth2 {
    /// The mailbox to log in to (also the user of the `password` grant).
    pub username: String,
    /// How access tokens are obtained.
    #[serde(default)]
    pub grant: Grant,
    /// The token itself, for `grant: access_token`: a string, `{"env": "NAME"}` or
    /// `{"file": "PATH"}`.
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// The Microsoft Entra tenant (its id or a domain such as
    /// `contoso.onmicrosoft.com`); sets the token URL to
    /// `https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token`.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The token endpoint of any other provider (Gmail:
    /// `https://oauth2.googleapis.com/token`). `https` only, except on loopback.
    #[serde(default)]
    pub token_url: Option<EndpointUrl>,
    /// The application (client) id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client secret: required by `client_credentials`, optional for public
    /// clients with the other grants.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The mailbox password, for `grant: password`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// The refresh token, for `grant: refresh_token`.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// The scopes to request. Defaults: Microsoft `client_credentials`:
    /// `https://outlook.office365.com/.default`; Microsoft delegated:
    /// `https://outlook.office365.com/IMAP.AccessAsUser.All`,
    /// `https://outlook.office365.com/SMTP.Send`, `offline_access`; Google:
    /// `https://mail.google.com/`; other providers: none.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// How the client authenticates to the token endpoint.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// A file that keeps the tokens between runs: the current access token and, above
    /// all, a refresh token the provider rotated. Written atomically with mode 0600.
    /// Without it a rotated refresh token lives only as long as the process.
    #[serde(default)]
    pub token_cache_file: Option<PathBuf>,
    /// The SASL mechanism: `xoauth2` (Microsoft 365, Gmail) or `oauthbearer`
    /// (RFC 7628).
    #[serde(default)]
    pub mechanism: OauthMechanism,
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// How the connector gets access tokens.
pub enum Grant {
    /// Use `access_token` as given (never refreshed).
    #[default]
    AccessToken,
    /// App-only, with the client's own credentials (Microsoft 365 with
    /// `IMAP.AccessAsApp` / `SMTP.SendAsApp`).
    ClientCredentials,
    /// The mailbox's username and password (resource owner password credentials).
    Password,
    /// A refresh token from a one-time interactive consent (Microsoft 365 delegated,
    /// Gmail).
    RefreshToken,
}

impl Grant {
    /// The name in settings and in the token request.
    pub fn name(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
        }
    }
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// How the client id and secret reach the token endpoint.
pub enum ClientAuth {
    /// As form fields in the request body (what Microsoft documents; Google accepts it).
    #[default]
    RequestBody,
    /// As HTTP Basic authentication (RFC 6749 section 2.3.1).
    Basic,
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
            Self::Basic { username, .. } => Some(username),
            Self::Oauth2(o) => Some(&o.username),
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

/// The start of a value, for an error message: at most 100 characters.
pub(crate) fn clip(value: &str) -> String {
    match value.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_owned(),
    }
}

/// A URL from the settings whose user-info and query never reach `Debug` output or
/// logs: they may carry credentials (`https://user:pass@idp/token?key=…`). The value
/// itself is [`EndpointUrl::as_str`]; checks that it is a usable URL happen where it
/// is used, with the setting's path.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for EndpointUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redacted_url(&self.0))
    }
}

/// A URL with its user-info and query replaced by `***`, for logs and `Debug`.
pub(crate) fn redacted_url(raw: &str) -> String {
    let Ok(mut url) = oauth2::url::Url::parse(raw) else {
        return "<not a URL>".to_owned();
    };
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("***");
        let _ = url.set_password(None);
    }
    if url.query().is_some() {
        url.set_query(Some("***"));
    }
    url.set_fragment(None);
    url.to_string()
}

impl<'de> Deserialize<'de> for EndpointUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

impl Serialize for EndpointUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl JsonSchema for EndpointUrl {
    fn schema_name() -> Cow<'static, str> {
        "EndpointUrl".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_debug_output_hide_credentials() {
        let url = EndpointUrl::from("https://app:s3cret@idp.example.com/oauth/token?api_key=k3y#x");
        let shown = format!("{url:?}");
        assert_eq!(shown, "\"https://***@idp.example.com/oauth/token?***\"");
        assert_eq!(
            format!("{:?}", EndpointUrl::from("not a url s3cret")),
            "\"<not a URL>\""
        );
        assert_eq!(
            redacted_url("https://idp.example.com/t"),
            "https://idp.example.com/t"
        );
    }
}
