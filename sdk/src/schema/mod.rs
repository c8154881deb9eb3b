//! Typed data in and out: the [`Input`] and [`Output`] bounds, the JSON Schema of a
//! type, and reading JSON into a type with errors that name the JSON path of a bad value.
//!
//! The lowest layer of the SDK besides [`crate::error`]: it knows nothing of
//! connectors, activities or the host.

use std::fmt::Debug;

use schemars::{JsonSchema, Schema, generate::SchemaSettings};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

mod enforce;
mod explain;

use crate::error::{Error, Result};
use explain::{explain, pointer_of};

/// A type read from JSON that the host can describe in the manifest: connection
/// settings, activity settings and target requests.
///
/// Implemented for every type with the right derives; `#[connector_sdk::settings]`
/// adds them all (and `deny_unknown_fields`) with one attribute. (Called `Settings`
/// before 0.2, a name that also meant a connector's connection settings.)
pub trait Input: DeserializeOwned + JsonSchema + Debug + Send + Sync + 'static {}

impl<T> Input for T where T: DeserializeOwned + JsonSchema + Debug + Send + Sync + 'static {}

/// A type written as JSON that the host can describe in the manifest: target responses
/// and source records.
pub trait Output: Serialize + JsonSchema + Send + 'static {}

impl<T> Output for T where T: Serialize + JsonSchema + Send + 'static {}

/// The JSON Schema (2020-12) of `T`, as the manifest shows it.
///
/// ```
/// #[connector_sdk::settings]
/// /// Where to connect.
/// struct Endpoint {
///     /// Host name or address.
///     host: String,
///     /// TCP port.
///     #[serde(default = "default_port")]
///     port: u16,
/// }
/// fn default_port() -> u16 { 993 }
///
/// let schema = connector_sdk::schema_of::<Endpoint>();
/// assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
/// assert_eq!(schema["properties"]["port"]["default"], 993);
/// assert_eq!(schema["properties"]["host"]["description"], "Host name or address.");
/// assert_eq!(schema["additionalProperties"], false);
/// ```
pub fn schema_of<T: JsonSchema + ?Sized>() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema: Schema = generator.into_root_schema_for::<T>();
    let mut value = crate::json::canonical(schema.as_value());
    crate::json::unwrap_descriptions(&mut value);
    value
}

/// Reads a `T` from JSON, naming the JSON path and the expected form on failure.
///
/// The error is a config error whose path is a JSON pointer into `value`; its message
/// describes what the schema expects there. Values of secret fields are never quoted.
///
/// ```
/// #[connector_sdk::settings]
/// /// Where to connect.
/// struct Imap {
///     /// Host name or address.
///     host: String,
///     /// TCP port.
///     port: u16,
/// }
/// #[connector_sdk::settings]
/// /// Connection settings.
/// struct Conn {
///     /// The IMAP server.
///     imap: Imap,
/// }
///
/// let value = serde_json::json!({"imap": {"host": "h", "port": 70000}});
/// let err = connector_sdk::from_value::<Conn>(&value).unwrap_err();
/// assert_eq!(err.path(), Some("/imap/port"));
/// assert_eq!(err.message(), "expected an integer from 0 to 65535, got 70000");
///
/// let value = serde_json::json!({"imap": {"host": "h", "port": 1, "tls": true}});
/// let err = connector_sdk::from_value::<Conn>(&value).unwrap_err();
/// assert_eq!(err.path(), Some("/imap/tls"));
/// assert_eq!(err.message(), "unknown field, expected one of: host, port");
/// ```
///
/// # Errors
/// A config [`Error`] with the path of the first bad value.
pub fn from_value<T: Input>(value: &Value) -> Result<T> {
    let compiled = enforce::compiled::<T>();
    compiled.check(value)?;
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Ok(v),
        Err(err) => {
            let pointer = pointer_of(err.path());
            let inner = err.into_inner().to_string();
            Err(explain(&compiled.schema, value, &pointer, &inner))
        }
    }
}

/// Parses JSON text into a `T` with the same errors as [`from_value`]; malformed JSON
/// is a config error at the root naming the line and column.
///
/// # Errors
/// A config [`Error`] for malformed JSON or a value of the wrong form.
pub fn from_str<T: Input>(text: &str) -> Result<T> {
    let value: Value = parse_json(text)?;
    from_value(&value)
}

/// Parses JSON text, turning a syntax error into a config error at the root.
pub(crate) fn parse_json(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::config("", format!("invalid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[crate::settings]
    /// Endpoints.
    struct Endpoints {
        /// Where to call.
        list: Vec<Endpoint>,
    }

    #[crate::settings]
    /// One endpoint.
    struct Endpoint {
        /// Its URL.
        url: crate::types::Url,
    }

    #[test]
    fn an_error_found_while_deserializing_names_its_path_too() {
        // `https:` is a URI (the schema's `format` passes it) but not a URL with a host,
        // which `Url` itself refuses: the path comes from the deserializer.
        let value = serde_json::json!({"list": [{"url": "https://ok.example"}, {"url": "https:"}]});
        let err = from_value::<Endpoints>(&value).expect_err("no host");
        assert_eq!(err.path(), Some("/list/1/url"), "{err}");
    }

    #[crate::settings]
    /// Test settings.
    struct T {
        /// A port.
        port: u16,
        /// How to connect.
        #[serde(default)]
        security: Security,
        /// A password.
        password: Option<Secret>,
        /// Items.
        #[serde(default)]
        items: Vec<Item>,
    }

    #[crate::settings]
    /// An item.
    struct Item {
        /// Its name.
        name: String,
    }

    #[crate::settings]
    #[derive(Default)]
    #[serde(rename_all = "snake_case")]
    /// Transport security.
    enum Security {
        /// Implicit TLS.
        #[default]
        Tls,
        /// STARTTLS.
        Starttls,
    }

    fn err(v: Value) -> Error {
        from_value::<T>(&v).expect_err("must fail")
    }

    #[test]
    fn wrong_enum_value_lists_choices() {
        let e = err(serde_json::json!({"port": 1, "security": "ssl"}));
        assert_eq!(e.path(), Some("/security"));
        assert_eq!(
            e.message(),
            r#"expected one of "tls", "starttls", got "ssl""#
        );
    }

    #[test]
    fn missing_field_points_below_parent() {
        let e = err(serde_json::json!({"port": 1, "items": [{"name": "a"}, {}]}));
        assert_eq!(e.path(), Some("/items/1/name"));
        assert_eq!(e.message(), "missing required field, expected a string");
    }

    #[test]
    fn secrets_are_never_quoted() {
        let e = err(serde_json::json!({"port": 1, "password": 12345678}));
        assert_eq!(e.path(), Some("/password"));
        assert!(!e.to_string().contains("12345678"), "{e}");
    }

    #[test]
    fn missing_env_secret_names_variable() {
        let e = err(serde_json::json!({"port": 1, "password": {"env": "NO_SUCH_VAR_X1"}}));
        assert_eq!(e.path(), Some("/password"));
        assert!(e.message().contains("NO_SUCH_VAR_X1"), "{e}");
    }

    fn nothing(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        false.into()
    }

    /// One number, as a one-item tuple whose schema says "no more items" with `false`.
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Single(Vec<u32>);

    impl schemars::JsonSchema for Single {
        fn schema_name() -> std::borrow::Cow<'static, str> {
            "Single".into()
        }
        fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
            schemars::json_schema!({"type": "array", "prefixItems": [{"type": "integer"}], "items": false})
        }
    }

    #[crate::settings]
    /// Settings with a field that takes no value and one that takes one number.
    struct Closed {
        /// Retired: any value is refused.
        #[serde(default)]
        #[schemars(schema_with = "nothing")]
        retired: Option<u8>,
        /// One number.
        #[serde(default)]
        single: Option<Single>,
    }

    #[test]
    fn a_false_schema_is_an_unknown_field_only_where_it_stands_for_one() {
        // A field that takes no value (schemars writes `{"not": {}}`) says so.
        let e = from_value::<Closed>(&serde_json::json!({"retired": 1})).expect_err("refused");
        assert_eq!(
            (e.path(), e.message()),
            (Some("/retired"), "expected nothing (leave it out), got 1")
        );
        // A `false` schema for items past a tuple's is no unknown field.
        let e = from_value::<Closed>(&serde_json::json!({"single": [1, 2]})).expect_err("two");
        assert_eq!(e.path(), Some("/single/1"), "{e}");
        assert!(!e.message().contains("unknown field"), "{e}");
        // An empty struct's `additionalProperties: false` is one.
        let e =
            from_value::<crate::NoConfig>(&serde_json::json!({"extra": 1})).expect_err("a field");
        assert_eq!(e.path(), Some("/extra"), "{e}");
        assert_eq!(e.message(), "unknown field: this object takes no fields");
    }

    #[test]
    fn malformed_json_is_a_root_config_error() {
        let e = from_str::<T>("{\"port\": ").expect_err("must fail");
        assert_eq!(e.path(), Some(""));
        assert!(e.message().starts_with("invalid JSON"));
    }
}
