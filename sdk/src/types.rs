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
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        for (text, millis) in [
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("2d", 172_800_000),
            ("250ms", 250),
            ("45", 45_000),
            (" 1s ", 1_000),
        ] {
            let d: Duration = text.parse().expect(text);
            assert_eq!(d.as_millis(), millis, "{text}");
        }
        for bad in [
            "",
            "s",
            "5x",
            "1.5s",
            "-3s",
            "99999999999999999999d",
            "1h 30m",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
        assert_eq!(
            Duration::from(std::time::Duration::from_millis(1500)).to_string(),
            "1500ms"
        );
    }

    #[test]
    fn urls_keep_their_text_and_find_their_host() {
        let u: Url = "HTTPS://User@Example.com:8443/a?b#c".parse().expect("url");
        assert_eq!(u.scheme(), "https");
        assert_eq!(u.host(), Some("Example.com"));
        assert_eq!(u.as_str(), "https://User@Example.com:8443/a?b#c");
        assert!("mailto:a@b.c".parse::<Url>().is_ok());
        assert!("/relative".parse::<Url>().is_err());
        assert!("http://exa mple.com".parse::<Url>().is_err());
        // Only http and https need a host; other schemes may have none.
        assert!("https:///path".parse::<Url>().is_err());
        assert!("http://".parse::<Url>().is_err());
        let file: Url = "file:///etc/hosts".parse().expect("file URL");
        assert_eq!((file.scheme(), file.host()), ("file", None));
        assert_eq!(
            format!("{u:?}"),
            "Url(\"https://User@Example.com:8443/a?b#c\")"
        );
        assert_eq!(u.to_string(), u.as_str());
    }

    /// Each type's schema, as the manifest shows it: inlined (never a `$ref`), under
    /// the type's own name, and exactly this.
    #[test]
    fn each_type_has_its_schema_inlined_under_its_own_name() {
        fn schema_of<T: JsonSchema>() -> (String, bool, serde_json::Value) {
            let mut generator = SchemaGenerator::default();
            (
                T::schema_name().into_owned(),
                T::inline_schema(),
                T::json_schema(&mut generator).to_value(),
            )
        }
        let (name, inline, schema) = schema_of::<Url>();
        assert_eq!((name.as_str(), inline), ("Url", true));
        assert_eq!(schema["format"], "uri");
        assert_eq!(schema["type"], "string");
        let (name, inline, schema) = schema_of::<Duration>();
        assert_eq!((name.as_str(), inline), ("Duration", true));
        assert_eq!(
            schema["anyOf"][1],
            serde_json::json!({"type": "integer", "minimum": 0})
        );
        let pattern = schema["anyOf"][0]["pattern"].as_str().expect("pattern");
        assert_eq!(pattern, "^\\s*([0-9]+(ms|s|m|h|d))+\\s*$");
        let (name, inline, schema) = schema_of::<EmailAddress>();
        assert_eq!((name.as_str(), inline), ("EmailAddress", true));
        assert_eq!(
            (schema["format"].as_str(), schema["maxLength"].as_u64()),
            (Some("email"), Some(254))
        );
        let (name, inline, schema) = schema_of::<NonEmptyString>();
        assert_eq!((name.as_str(), inline), ("NonEmptyString", true));
        assert_eq!(
            schema,
            serde_json::json!({"type": "string", "minLength": 1, "pattern": "\\S"})
        );
        let (name, inline, schema) = schema_of::<Port>();
        assert_eq!((name.as_str(), inline), ("Port", true));
        assert_eq!(
            schema,
            serde_json::json!({"type": "integer", "minimum": 1, "maximum": 65535})
        );
    }

    #[test]
    fn durations_convert_and_go_through_json_either_way() {
        let d = Duration::from(std::time::Duration::from_secs(90));
        assert_eq!(d.get(), std::time::Duration::from_secs(90));
        assert_eq!(
            std::time::Duration::from(d),
            std::time::Duration::from_secs(90)
        );
        assert_eq!(d.as_secs(), 90); // through Deref
        assert_eq!(d.to_string(), "90s");
        assert_eq!(Duration::default().to_string(), "0s");
        // Written as its text; read from a number of seconds or a text.
        assert_eq!(
            serde_json::to_value(d).expect("json"),
            serde_json::json!("90s")
        );
        let read = |v: serde_json::Value| serde_json::from_value::<Duration>(v);
        assert_eq!(read(serde_json::json!(45)).expect("u64").as_secs(), 45);
        assert_eq!(read(serde_json::json!("1m30s")).expect("str"), d);
        assert_eq!(
            read(serde_json::json!(" 250ms")).expect("str").as_millis(),
            250
        );
        let negative = read(serde_json::json!(-3)).expect_err("negative");
        assert!(
            negative.to_string().contains("cannot be negative"),
            "{negative}"
        );
        let wrong = read(serde_json::json!(true)).expect_err("a bool");
        assert!(
            wrong.to_string().contains("a duration like \"30s\""),
            "{wrong}"
        );
        // Units add up, each as itself; too long a text is refused.
        for (text, millis) in [
            ("1d1h1m1s1ms", 90_061_001u128),
            ("2s", 2_000),
            ("3m", 180_000),
            ("4h", 14_400_000),
        ] {
            assert_eq!(
                text.parse::<Duration>().expect(text).as_millis(),
                millis,
                "{text}"
            );
        }
        assert!("1s".repeat(33).parse::<Duration>().is_err());
        assert!("1s".repeat(32).parse::<Duration>().is_ok());
        assert!("7".parse::<Duration>().is_ok_and(|d| d.as_secs() == 7));
        for bad in ["s5", "5 s", "18446744073709551615d", "5y"] {
            let e = bad.parse::<Duration>().expect_err(bad);
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn email_addresses_are_checked_and_keep_their_text() {
        let a: EmailAddress = "ops@mail.example.com".parse().expect("address");
        assert_eq!(a.as_str(), "ops@mail.example.com");
        assert_eq!(a.domain(), "mail.example.com");
        assert_eq!(a.to_string(), "ops@mail.example.com");
        assert_eq!(
            serde_json::to_value(&a).expect("json"),
            serde_json::json!("ops@mail.example.com")
        );
        let long = format!("{}@example.com", "a".repeat(254 - 12));
        assert_eq!(long.len(), 254);
        // 254 is RFC 5321's longest path; one more is refused, even if well formed.
        let too_long = format!("{}@example.com", "a".repeat(255 - 12));
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops at example.com",
            too_long.as_str(),
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?}");
        }
        let local = format!("{}@example.com", "a".repeat(64));
        assert!(local.parse::<EmailAddress>().is_ok());
        let e = serde_json::from_value::<EmailAddress>(serde_json::json!(7)).expect_err("number");
        assert!(e.to_string().contains("an email address like"), "{e}");
    }

    #[test]
    fn non_empty_strings_refuse_blank_text() {
        let s: NonEmptyString = " invoices ".parse().expect("text");
        assert_eq!(s.as_str(), " invoices ");
        assert_eq!(&*s, " invoices ");
        assert_eq!(s.len(), 10); // through Deref to str
        for bad in ["", " ", "\t\n"] {
            let e = bad.parse::<NonEmptyString>().expect_err(bad);
            assert!(e.contains("must not be empty"), "{e}");
        }
        assert_eq!(
            serde_json::from_value::<NonEmptyString>(serde_json::json!("x")).expect("json"),
            "x".parse::<NonEmptyString>().expect("x")
        );
    }

    #[test]
    fn ports_are_one_to_65535() {
        let p = Port::try_from(993).expect("port");
        assert_eq!(p.get(), 993);
        assert_eq!(p.to_string(), "993");
        assert_eq!(
            serde_json::to_value(p).expect("json"),
            serde_json::json!(993)
        );
        assert!(Port::try_from(0).is_err());
        assert_eq!(Port::try_from(65535).map(Port::get), Ok(65535));
        let read = |v: serde_json::Value| serde_json::from_value::<Port>(v);
        assert_eq!(read(serde_json::json!(1)).map(Port::get).ok(), Some(1));
        for bad in [
            serde_json::json!(0),
            serde_json::json!(65536),
            serde_json::json!(-1),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
        let e = read(serde_json::json!(70000)).expect_err("too big");
        assert!(e.to_string().contains("from 1 to 65535"), "{e}");
    }
}
