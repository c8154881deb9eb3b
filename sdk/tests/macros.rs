//! What the macros generate: schemas with descriptions and defaults, unknown fields
//! refused, discovery detected, names and versions filled in.

use connector_sdk::{
    Activities, CheckReport, Connection, Connector, Emitter, Manifest, Object, Result, Source,
    Target, from_value, schema_of,
};
use serde_json::json;

#[connector_sdk::settings]
/// Connection settings.
///
/// A second paragraph.
pub struct Settings {
    /// The host name,
    /// wrapped over two lines.
    pub host: String,
    /// The port.
    #[serde(default = "default_port")]
    pub port: u16,
}

fn default_port() -> u16 {
    993
}

#[connector_sdk::settings(allow_unknown_fields)]
/// Lenient settings.
pub struct Lenient {
    /// A name.
    pub name: String,
}

/// A connection.
#[derive(Debug)]
pub struct Conn;

#[connector_sdk::connection]
impl Connection for Conn {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }
}

/// A source without discovery.
#[derive(Debug)]
pub struct Plain;
/// A source with discovery.
#[derive(Debug)]
pub struct Discovering;
/// A target.
#[derive(Debug)]
pub struct Sink;

/// Emits nothing.
#[connector_sdk::activity(name = "plain")]
impl Source for Plain {
    type Connection = Conn;
    type Config = Lenient;
    type Record = Lenient;
    type Ack = ();

    async fn read(&self, _: &Conn, _: &Lenient, _: &Emitter<Lenient, ()>) -> Result<()> {
        Ok(())
    }
    async fn commit(&self, _: &Conn, _: &Lenient, _: Vec<()>) -> Result<()> {
        Ok(())
    }
}

/// Emits nothing, but lists things.
#[connector_sdk::activity(name = "listing")]
impl Source for Discovering {
    type Connection = Conn;
    type Config = Lenient;
    type Record = Lenient;
    type Ack = ();

    async fn read(&self, _: &Conn, _: &Lenient, _: &Emitter<Lenient, ()>) -> Result<()> {
        Ok(())
    }
    async fn commit(&self, _: &Conn, _: &Lenient, _: Vec<()>) -> Result<()> {
        Ok(())
    }
    async fn discover(&self, _: &Conn, _: Option<&Lenient>) -> Result<Vec<Object>> {
        Ok(vec![Object::named("x")])
    }
}

#[connector_sdk::activity(name = "sink", description = "Takes anything.")]
impl Target for Sink {
    type Connection = Conn;
    type Config = Lenient;
    type Request = Lenient;
    type Response = Lenient;

    async fn call(
        &self,
        _: &Conn,
        c: &Lenient,
        requests: &connector_sdk::Requests<Lenient>,
        results: &connector_sdk::Results<Lenient>,
    ) -> Result<()> {
        while let Some((index, _)) = requests.next() {
            results.send(index, c.clone())?;
        }
        Ok(())
    }
}

/// A connector with an explicit version.
#[derive(Debug)]
pub struct Versioned;

/// A test connector.
#[connector_sdk::connector(
    name = "versioned",
    version = "2.1.0",
    activities(Plain, Discovering, Sink)
)]
impl Connector for Versioned {
    type Settings = Settings;
    type Connection = Conn;

    async fn connect(&self, _: Settings) -> Result<Conn> {
        Ok(Conn)
    }
}

/// A connector with the crate's version.
#[derive(Debug)]
pub struct Unversioned;

#[connector_sdk::connector(name = "unversioned", description = "From an argument.", activities())]
impl Connector for Unversioned {
    type Settings = Settings;
    type Connection = Conn;

    async fn connect(&self, _: Settings) -> Result<Conn> {
        Ok(Conn)
    }
}

#[test]
fn settings_docs_become_descriptions_and_defaults_show() {
    let schema = schema_of::<Settings>();
    assert_eq!(
        schema["description"],
        "Connection settings.\n\nA second paragraph."
    );
    assert_eq!(
        schema["properties"]["host"]["description"],
        "The host name, wrapped over two lines."
    );
    assert_eq!(schema["properties"]["port"]["default"], 993);
    assert_eq!(schema["required"], json!(["host"]));
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn settings_refuse_unknown_fields_unless_allowed() {
    let err = from_value::<Settings>(&json!({"host": "h", "hots": 1})).expect_err("unknown");
    assert_eq!(err.path(), Some("/hots"));
    let ok = from_value::<Lenient>(&json!({"name": "n", "extra": 1})).expect("allowed");
    assert_eq!(ok.name, "n");
    assert!(schema_of::<Lenient>().get("additionalProperties").is_none());
}

#[test]
fn activity_discovery_flag_follows_the_impl() {
    assert!(!Plain.info().discovery);
    assert!(Discovering.info().discovery);
    assert_eq!(
        Discovering.info().description,
        "Emits nothing, but lists things."
    );
    assert_eq!(Sink.info().description, "Takes anything.");
}

#[test]
fn connector_info_and_activity_order() {
    assert_eq!(Versioned.info().version, "2.1.0");
    assert_eq!(Unversioned.info().version, env!("CARGO_PKG_VERSION"));
    assert_eq!(Unversioned.info().description, "From an argument.");
    assert_eq!(Versioned.activities().names(), ["plain", "listing", "sink"]);
    let manifest = Manifest::of(&Versioned);
    let roles: Vec<_> = manifest
        .activities
        .iter()
        .map(|a| (a.name.as_str(), a.role, a.discovery))
        .collect();
    use connector_sdk::Role::{Source as S, Target as T};
    assert_eq!(
        roles,
        [
            ("plain", S, false),
            ("listing", S, true),
            ("sink", T, false)
        ]
    );
}

#[test]
#[should_panic(expected = "two activities are named `plain`")]
fn duplicate_activity_names_are_refused() {
    let _ = Activities::<Conn>::new().with(Plain).with(Plain);
}
