//! Settings types every connector needs, validated once when settings are read, each
//! with its JSON Schema (`format`, bounds, pattern) so the manifest shows the form and
//! `validate` enforces it: [`Url`], [`Duration`], [`EmailAddress`], [`NonEmptyString`]
//! and [`Port`].
//!
//! ```
//! use connector_sdk::settings;
//! use connector_sdk::types::{Duration, Port, Url};
//!
//! #[settings]
//! /// Where the API is.
//! pub struct Api {
//!     /// The base URL.
//!     pub base_url: Url,
//!     /// How long one request may take (`"30s"`, `"2m"`).
//!     pub timeout: Duration,
//!     /// The port of the metrics endpoint.
//!     pub metrics_port: Port,
//! }
//!
//! let api: Api = connector_sdk::from_value(&serde_json::json!({
//!     "base_url": "https://api.example.com/v2", "timeout": "1m30s", "metrics_port": 9100
//! })).unwrap();
//! assert_eq!(api.timeout.as_secs(), 90);
//! let err = connector_sdk::from_value::<Api>(&serde_json::json!({
//!     "base_url": "not a url", "timeout": "soon", "metrics_port": 0
//! })).unwrap_err();
//! assert_eq!(err.path(), Some("/base_url"));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Implements serde and `Display` for a type that parses from and prints as a string.
macro_rules! string_form {
    ($ty:ident, $expecting:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$ty, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// An absolute URL (`https://api.example.com/v2`), checked against RFC 3986 and
/// required to have a scheme and, for `http` and `https`, a host. Schema: a string of
/// format `uri`.
///
/// ```
/// use connector_sdk::types::Url;
/// let url: Url = "https://api.example.com/v2?page=1".parse().unwrap();
/// assert_eq!((url.scheme(), url.host()), ("https", Some("api.example.com")));
/// assert!("api.example.com".parse::<Url>().is_err()); // no scheme
/// assert!("https:///path".parse::<Url>().is_err()); // no host
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    text: String,
    scheme_end: usize,
}

impl Url {
    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme, lower case (`https`).
    pub fn scheme(&self) -> &str {
        &self.text[..self.scheme_end]
    }

    /// The host, if the URL has an authority.
    pub fn host(&self) -> Option<&str> {
        let uri = fluent_uri::Uri::parse(self.text.as_str()).ok()?;
        uri.authority().map(|a| a.host()).filter(|h| !h.is_empty())
    }
}

impl FromStr for Url {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let uri = fluent_uri::Uri::parse(s)
            .map_err(|e| format!("not an absolute URL like \"https://example.com/path\": {e}"))?;
        let scheme = uri.scheme().as_str().to_ascii_lowercase();
        let host = uri.authority().map(|a| a.host()).unwrap_or_default();
        if matches!(scheme.as_str(), "http" | "https") && host.is_empty() {
            return Err(format!("a {scheme} URL needs a host"));
        }
        let scheme_end = scheme.len();
        Ok(Self {
            text: format!("{scheme}{}", &s[scheme_end..]),
            scheme_end,
        })
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({:?})", self.text)
    }
}

string_form!(Url, "an absolute URL like \"https://example.com/path\"");

impl JsonSchema for Url {
    fn schema_name() -> Cow<'static, str> {
        "Url".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "uri", "description": "An absolute URL, such as \"https://example.com/path\"."})
    }
}

/// A length of time written for people: a number and a unit (`ms`, `s`, `m`, `h`,
/// `d`), or several (`"1h30m"`); a bare integer is seconds. Schema: an integer of
/// seconds or a string matching that form.
///
/// ```
/// use connector_sdk::types::Duration;
/// let d: Duration = "1m30s".parse().unwrap();
/// assert_eq!(d.as_secs(), 90);
/// assert_eq!("250ms".parse::<Duration>().unwrap().as_millis(), 250);
/// assert!("soon".parse::<Duration>().is_err());
/// let from_json: Duration = serde_json::from_value(serde_json::json!(45)).unwrap();
/// assert_eq!(from_json.to_string(), "45s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// The standard library's form.
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Self(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl std::ops::Deref for Duration {
    type Target = std::time::Duration;
    fn deref(&self) -> &std::time::Duration {
        &self.0
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a duration like \"30s\", \"5m\" or \"1h30m\"");
        let s = s.trim();
        if s.is_empty() || s.len() > 64 {
            return Err(bad());
        }
        if let Ok(secs) = s.parse::<u64>() {
            return Ok(Self(std::time::Duration::from_secs(secs)));
        }
        let mut total = std::time::Duration::ZERO;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let units = rest[digits..]
                .bytes()
                .take_while(u8::is_ascii_alphabetic)
                .count();
            if digits == 0 || units == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            let part = match &rest[digits..digits + units] {
                "ms" => std::time::Duration::from_millis(n),
                "s" => std::time::Duration::from_secs(n),
                "m" => std::time::Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
                "h" => std::time::Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
                "d" => std::time::Duration::from_secs(n.checked_mul(86_400).ok_or_else(bad)?),
                _ => return Err(bad()),
            };
            total = total.checked_add(part).ok_or_else(bad)?;
            rest = &rest[digits + units..];
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if !millis.is_multiple_of(1000) {
            write!(f, "{millis}ms")
        } else {
            write!(f, "{}s", self.0.as_secs())
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"30s\", \"5m\" or \"1h30m\", or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
                Ok(Duration(std::time::Duration::from_secs(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
                u64::try_from(n)
                    .map(|n| Duration(std::time::Duration::from_secs(n)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: \"30s\", \"5m\", \"1h30m\", \"250ms\", or a number of seconds.",
            "anyOf": [
                {"type": "string", "pattern": "^\\s*([0-9]+(ms|s|m|h|d))+\\s*$"},
                {"type": "integer", "minimum": 0}
            ]
        })
    }
}

/// An email address (`someone@example.com`), checked with the `email_address` crate
/// (RFC 5322's addr-spec, as JSON Schema's `email` format). No display name: for
/// `"Name <a@example.com>"` use your own type. Schema: a string of format `email`.
///
/// ```
/// use connector_sdk::types::EmailAddress;
/// let a: EmailAddress = "ops@example.com".parse().unwrap();
/// assert_eq!(a.domain(), "example.com");
/// assert!("ops at example.com".parse::<EmailAddress>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl FromStr for EmailAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() > 254 || !email_address::EmailAddress::is_valid(s) || !s.contains('@') {
            return Err("not an email address like \"someone@example.com\"".into());
        }
        Ok(Self(s.to_owned()))
    }
}

string_form!(
    EmailAddress,
    "an email address like \"someone@example.com\""
);

impl JsonSchema for EmailAddress {
    fn schema_name() -> Cow<'static, str> {
        "EmailAddress".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "email", "maxLength": 254, "description": "An email address, such as \"someone@example.com\"."})
    }
}

/// A string with at least one character that is not whitespace (a name, a key, an
/// id): `""` and `"  "` are refused. Schema: `minLength` 1 and a pattern.
///
/// ```
/// use connector_sdk::types::NonEmptyString;
/// let s: NonEmptyString = "invoices".parse().unwrap();
/// assert_eq!(s.as_str(), "invoices");
/// assert!("  ".parse::<NonEmptyString>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NonEmptyString(String);

impl NonEmptyString {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for NonEmptyString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromStr for NonEmptyString {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("must not be empty or only whitespace".into());
        }
        Ok(Self(s.to_owned()))
    }
}

string_form!(NonEmptyString, "a string that is not empty");

impl JsonSchema for NonEmptyString {
    fn schema_name() -> Cow<'static, str> {
        "NonEmptyString".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "minLength": 1, "pattern": "\\S"})
    }
}

/// A TCP or UDP port, 1 to 65535 (0 is refused: it means "any" to the system, never
/// a server's port). Schema: an integer from 1 to 65535.
///
/// ```
/// use connector_sdk::types::Port;
/// let p: Port = serde_json::from_value(serde_json::json!(993)).unwrap();
/// assert_eq!(p.get(), 993);
/// assert!(serde_json::from_value::<Port>(serde_json::json!(0)).is_err());
/// assert!(serde_json::from_value::<Port>(serde_json::json!(70000)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(std::num::NonZeroU16);

impl Port {
    /// The port number.
    pub fn get(self) -> u16 {
        self.0.get()
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<u16> for Port {
    type Error = String;
    fn try_from(n: u16) -> Result<Self, String> {
        std::num::NonZeroU16::new(n)
            .map(Self)
            .ok_or_else(|| "a port is from 1 to 65535".to_owned())
    }
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.get())
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        u16::try_from(n)
            .map_err(|_| "a port is from 1 to 65535".to_owned())
            .and_then(Port::try_from)
            .map_err(de::Error::custom)
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

#[cfg(test)]
#[path = "types_tests.rs"]
mod tests;
