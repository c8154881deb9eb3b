//! The manifest (`spec`): everything a platform needs to know about a connector,
//! derived from its types. Data only: [`Manifest::of`] assembles it in
//! [`crate::connector`], where the connector's types are known.

use serde::Serialize;
use serde_json::Value;

use crate::activity::{ActivityInfo, Role};
use crate::schema::schema_of;

/// What `<bin> spec` prints: name, version, description, the connection settings
/// schema and each activity with its schemas. Schemas are JSON Schema 2020-12; keys
/// are sorted so the output is byte-for-byte deterministic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// The connector's machine name.
    pub name: String,
    /// The connector's version.
    pub version: String,
    /// What the connector is for.
    pub description: String,
    /// Schema of the connection settings.
    pub connection: Value,
    /// The activities, in declaration order.
    pub activities: Vec<ActivityManifest>,
}

/// One activity in the [`Manifest`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityManifest {
    /// Machine name, unique in the connector.
    pub name: String,
    /// `source` or `target`.
    pub role: Role,
    /// What the activity does.
    pub description: String,
    /// Schema of the activity settings.
    pub config: Value,
    /// Schema of one request (targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    /// Schema of one result line (targets): the target's result with the request's
    /// `index` the host adds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// Schema of one record (sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Value>,
    /// Schema of the state a source keeps between runs (sources that keep one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// Whether `discover` works for this activity.
    pub discovery: bool,
}

impl Manifest {
    /// The manifest as canonical JSON (sorted keys), as `spec` prints it.
    pub fn to_value(&self) -> Value {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        crate::json::canonical(&value)
    }

    /// The activity named `name`.
    ///
    /// ```
    /// # use connector_sdk::prelude::*;
    /// # #[connector_sdk::settings]
    /// # /// Nothing.
    /// # pub struct Empty {}
    /// # #[derive(Debug)] pub struct C;
    /// # #[connector_sdk::connection]
    /// # impl Connection for C { async fn check(&self) -> CheckReport { CheckReport::new() } }
    /// # /// Reads nothing.
    /// # #[derive(Debug)] pub struct Nothing;
    /// /// Reads nothing.
    /// #[connector_sdk::activity(name = "nothing")]
    /// impl Source for Nothing {
    ///     type Connection = C;
    ///     type Config = NoConfig;
    ///     type Record = Empty;
    ///     type Ack = u64;
    ///     async fn read(&self, _: &C, _: &NoConfig, _: &Emitter<Empty, u64>) -> Result<()> { Ok(()) }
    ///     async fn commit(&self, _: &C, _: &NoConfig, _: Vec<u64>) -> Result<()> { Ok(()) }
    /// }
    /// # #[derive(Debug)] pub struct K;
    /// # /// A connector.
    /// # #[connector_sdk::connector(name = "k", activities(Nothing))]
    /// # impl Connector for K {
    /// #     type Settings = Empty;
    /// #     type Connection = C;
    /// #     async fn connect(&self, _: Empty) -> Result<C> { Ok(C) }
    /// # }
    /// let manifest = connector_sdk::Manifest::of(&K);
    /// assert_eq!(manifest.activity("nothing").map(|a| a.role), Some(Role::Source));
    /// assert!(manifest.activity("other").is_none());
    /// ```
    pub fn activity(&self, name: &str) -> Option<&ActivityManifest> {
        self.activities.iter().find(|a| a.name == name)
    }
}

impl ActivityManifest {
    pub(crate) fn new(info: ActivityInfo, role: Role, config: Value) -> Self {
        Self {
            name: info.name.to_owned(),
            role,
            description: info.description.to_owned(),
            config,
            request: None,
            response: None,
            record: None,
            state: None,
            discovery: info.discovery,
        }
    }

    pub(crate) fn with_target<Req, Resp>(mut self) -> Self
    where
        Req: schemars::JsonSchema,
        Resp: schemars::JsonSchema,
    {
        self.request = Some(schema_of::<Req>());
        self.response = Some(with_index(schema_of::<Resp>()));
        self
    }

    pub(crate) fn with_state<S: schemars::JsonSchema + 'static>(mut self) -> Self {
        if std::any::TypeId::of::<S>() != std::any::TypeId::of::<()>() {
            self.state = Some(schema_of::<S>());
        }
        self
    }

    pub(crate) fn with_record<R: schemars::JsonSchema>(mut self) -> Self {
        self.record = Some(schema_of::<R>());
        self
    }
}

/// A result's schema as the host prints it: with the request's `index` added (an
/// object's own property, or around a result that is not an object).
fn with_index(mut schema: Value) -> Value {
    let index = serde_json::json!({
        "description": "The request's position in the input, from 0.",
        "minimum": 0,
        "type": "integer"
    });
    let is_object = schema.get("type").and_then(Value::as_str) == Some("object")
        && schema.get("properties").is_some_and(Value::is_object);
    if is_object {
        if let Some(props) = schema["properties"].as_object_mut() {
            props.insert("index".to_owned(), index);
        }
        match schema.get_mut("required").and_then(Value::as_array_mut) {
            Some(required) => {
                required.push(Value::from("index"));
                required.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                required.dedup();
            }
            None => schema["required"] = serde_json::json!(["index"]),
        }
        return crate::json::canonical(&schema);
    }
    // Not an object: the host prints {"index": i, "result": …}.
    let defs = schema
        .as_object_mut()
        .and_then(|m| m.remove("$defs"))
        .unwrap_or(Value::Null);
    let dialect = schema
        .as_object_mut()
        .and_then(|m| m.remove("$schema"))
        .unwrap_or(Value::Null);
    let mut wrapped = serde_json::json!({
        "type": "object",
        "properties": {"index": index, "result": schema},
        "required": ["index", "result"],
        "additionalProperties": false
    });
    if !dialect.is_null() {
        wrapped["$schema"] = dialect;
    }
    if !defs.is_null() {
        wrapped["$defs"] = defs;
    }
    crate::json::canonical(&wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_result_schema_gets_the_index_as_the_host_prints_it() {
        // An object: `index` joins its properties and `required`, in order.
        let s = with_index(json!({"type": "object", "properties": {"z": {}}, "required": ["z"]}));
        assert_eq!(s["required"], json!(["index", "z"]));
        assert!(s["properties"]["index"].is_object());
        let s = with_index(json!({"type": "object", "properties": {"z": {}}}));
        assert_eq!(s["required"], json!(["index"]));
        // An object schema without properties, and a string: wrapped, with the dialect
        // and the definitions kept at the top.
        for inner in [
            json!({"type": "object"}),
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"A": {}}, "type": "string"}),
        ] {
            let s = with_index(inner.clone());
            assert_eq!(s["required"], json!(["index", "result"]));
            assert_eq!(s["additionalProperties"], json!(false));
            assert_eq!(s.get("$schema"), inner.get("$schema"));
            assert_eq!(s.get("$defs"), inner.get("$defs"));
            assert!(s["properties"]["result"].get("$defs").is_none());
        }
    }

    fn activity(name: &str, role: Role) -> ActivityManifest {
        let info = ActivityInfo {
            name: "",
            description: "Does a thing.",
            discovery: false,
        };
        ActivityManifest {
            name: name.to_owned(),
            ..ActivityManifest::new(info, role, json!({}))
        }
    }

    #[test]
    fn activities_are_found_by_name_and_only_a_real_state_gets_a_schema() {
        let manifest = Manifest {
            name: "k".into(),
            version: "1.0.0".into(),
            description: "A connector.".into(),
            connection: json!({}),
            activities: vec![
                activity("read", Role::Source),
                activity("send", Role::Target),
            ],
        };
        assert_eq!(
            manifest.activity("send").map(|a| a.role),
            Some(Role::Target)
        );
        assert_eq!(
            manifest.activity("read").map(|a| a.role),
            Some(Role::Source)
        );
        assert!(manifest.activity("other").is_none());
        assert_eq!(manifest.to_value()["activities"][1]["name"], "send");

        let stateless = activity("read", Role::Source).with_state::<()>();
        assert_eq!(stateless.state, None, "`()` is no state");
        let kept = activity("read", Role::Source).with_state::<u64>();
        assert_eq!(
            kept.state.as_ref().and_then(|s| s.get("type")),
            Some(&json!("integer"))
        );
    }
}
