//! [`Secret`]: a string that never prints.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// What a secret prints as, wherever it is printed.
pub const REDACTED: &str = "***";

/// A password, token or key.
///
/// `Debug` and `Display` show `***`, serializing never writes the value, and the memory
/// is wiped on drop. In settings it can be given three ways, all resolved when the
/// settings are read; a missing variable or file is a config error at the secret's path:
///
/// - literally: `"password": "hunter2"`
/// - from the environment: `"password": {"env": "MAIL_PASSWORD"}`
/// - from a file (one trailing newline is dropped): `"password": {"file": "/run/secrets/mail"}`
///
/// Its JSON Schema carries `"writeOnly": true` and `"x-secret": true` so that user
/// interfaces mask it and tools can find every secret in a manifest.
///
/// ```
/// use connector_sdk::Secret;
///
/// let s: Secret = serde_json::from_str(r#""hunter2""#).unwrap();
/// assert_eq!(s.expose(), "hunter2");
/// assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#""***""#);
///
/// let s: Secret = serde_json::from_str(r#"{"env": "PATH"}"#).unwrap();
/// assert!(!s.is_empty());
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"env":"PATH"}"#);
///
/// let err = serde_json::from_str::<Secret>(r#"{"env": "DOC_SECRET_MISSING"}"#).unwrap_err();
/// assert!(err.to_string().contains("environment variable `DOC_SECRET_MISSING` is not set"));
/// ```
#[derive(Clone)]
pub struct Secret {
    value: Zeroizing<String>,
    origin: Origin,
}

#[derive(Clone, PartialEq, Eq)]
enum Origin {
    Literal,
    Env(String),
    File(PathBuf),
}

impl Secret {
    /// A secret given literally.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: Zeroizing::new(value.into()),
            origin: Origin::Literal,
        }
    }

    /// Reads the secret from the environment variable `name`.
    ///
    /// # Errors
    /// A message naming the variable when it is not set or not Unicode.
    pub fn from_env(name: &str) -> Result<Self, String> {
        let value = std::env::var(name).map_err(|e| match e {
            std::env::VarError::NotPresent => format!("environment variable `{name}` is not set"),
            std::env::VarError::NotUnicode(_) => {
                format!("environment variable `{name}` is not valid UTF-8")
            }
        })?;
        Ok(Self {
            value: Zeroizing::new(value),
            origin: Origin::Env(name.to_owned()),
        })
    }

    /// The most a secret file may hold: 64 KiB (a key or a token is far smaller).
    pub const MAX_FILE_BYTES: u64 = 64 * 1024;

    /// Reads the secret from the file at `path` (at most [`Secret::MAX_FILE_BYTES`]:
    /// `/dev/zero` by mistake must not be read forever), dropping one trailing newline.
    ///
    /// # Errors
    /// A message naming the file when it cannot be read, is too large or is not UTF-8.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, String> {
        use std::io::Read as _;
        let path = path.into();
        let cannot = |e: &dyn std::fmt::Display| {
            format!("secret file `{}` cannot be read: {e}", path.display())
        };
        let file = std::fs::File::open(&path).map_err(|e| cannot(&e))?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(Self::MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| cannot(&e))?;
        if bytes.len() as u64 > Self::MAX_FILE_BYTES {
            return Err(cannot(&format!(
                "it holds more than {} bytes, more than any secret",
                Self::MAX_FILE_BYTES
            )));
        }
        let mut value = String::from_utf8(std::mem::take(&mut *bytes))
            .map_err(|_| cannot(&"it is not UTF-8 text"))?;
        if value.ends_with('\n') {
            value.pop();
            if value.ends_with('\r') {
                value.pop();
            }
        }
        Ok(Self {
            value: Zeroizing::new(value),
            origin: Origin::File(path),
        })
    }

    /// The value itself. Call it only where the value leaves for its destination
    /// (an AUTH command, an HTTP header), never to log or format it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Not constant time: secrets are compared only in tests and configuration checks.
        *self.value == *other.value
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    /// A literal secret serializes as `"***"`; one read from the environment or a file
    /// serializes as its reference (`{"env": "NAME"}`), which is not secret.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.origin {
            Origin::Literal => serializer.serialize_str(REDACTED),
            Origin::Env(name) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("env", name)?;
                map.end()
            }
            Origin::File(path) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("file", path)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a string, {"env": "NAME"} or {"file": "PATH"}"#)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                r#"expected {"env": "NAME"} or {"file": "PATH"}, got an empty object"#,
            ));
        };
        let secret = match key.as_str() {
            "env" => Secret::from_env(&map.next_value::<String>()?),
            "file" => Secret::from_file(map.next_value::<PathBuf>()?),
            other => {
                return Err(de::Error::custom(format!(
                    "unknown secret source `{other}`, expected `env` or `file`"
                )));
            }
        }
        .map_err(de::Error::custom)?;
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom(
                r#"a secret reference has exactly one key, `env` or `file`"#,
            ));
        }
        Ok(secret)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn inline_schema() -> bool {
        // Inline, so that every secret property carries the markers itself.
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "writeOnly": true,
            "x-secret": true,
            "oneOf": [
                {"type": "string", "description": "The secret itself."},
                {
                    "type": "object",
                    "description": "The name of an environment variable holding the secret.",
                    "properties": {"env": {"type": "string", "minLength": 1, "description": "The environment variable's name."}},
                    "required": ["env"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "The path of a file holding the secret (one trailing newline is dropped).",
                    "properties": {"file": {"type": "string", "minLength": 1, "description": "The file's path."}},
                    "required": ["file"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_value_and_a_file_of_the_largest_size_is_read() {
        assert_eq!(Secret::new("a"), Secret::new("a"));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        let dir = tempfile::tempdir().expect("dir");
        let exact = dir.path().join("exact");
        std::fs::write(&exact, "x".repeat(Secret::MAX_FILE_BYTES as usize)).expect("write");
        assert!(
            Secret::from_file(&exact).is_ok(),
            "exactly the limit is a secret"
        );
        let over = dir.path().join("over");
        std::fs::write(&over, "x".repeat(Secret::MAX_FILE_BYTES as usize + 1)).expect("write");
        assert!(Secret::from_file(&over).is_err());
    }

    #[test]
    fn emptiness_and_the_expected_form_are_said() {
        assert!(Secret::new("").is_empty());
        assert!(!Secret::new("x").is_empty());
        let err = serde_json::from_value::<Secret>(serde_json::json!(5)).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"a string, {"env": "NAME"} or {"file": "PATH"}"#),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_never_ends_is_refused_after_the_limit() {
        let err = Secret::from_file("/dev/zero").expect_err("endless");
        assert!(err.contains("more than 65536 bytes"), "{err}");
    }

    #[test]
    fn file_source_drops_one_newline_and_names_missing_files() {
        let dir = std::env::temp_dir().join(format!("secret-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("s");
        std::fs::write(&path, "abc\n\n").expect("write");
        let s = Secret::from_file(&path).expect("read");
        assert_eq!(s.expose(), "abc\n");
        let err = Secret::from_file(dir.join("missing")).expect_err("missing");
        assert!(err.contains("missing"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn rejects_unknown_and_extra_keys() {
        let e = serde_json::from_str::<Secret>(r#"{"vault": "x"}"#).expect_err("unknown");
        assert!(e.to_string().contains("unknown secret source `vault`"));
        let e = serde_json::from_str::<Secret>(r#"{"env": "PATH", "file": "x"}"#).expect_err("two");
        assert!(e.to_string().contains("exactly one key"));
    }

    #[test]
    fn never_formats_the_value() {
        let s = Secret::new("canary-7f3a");
        let all = format!("{s} {s:?} {:?} {}", Some(&s), serde_json::json!({ "p": s }));
        assert!(!all.contains("canary"), "{all}");
        // It still says there is a secret, so a log shows that one was set.
        assert_eq!(all, r#"*** Secret(***) Some(Secret(***)) {"p":"***"}"#);
    }
}
