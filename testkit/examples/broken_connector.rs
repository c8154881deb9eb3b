//! A connector built by hand on `connector-sdk` (no macros) that the conformance
//! suite's own tests break on purpose: `BROKEN=<what>` selects one fault. Without
//! `BROKEN` it passes every check.
//!
//! - source `numbers`: one record per line of `ROOT/numbers.txt`, committed by writing
//!   the count of delivered lines to `ROOT/numbers.offset`;
//! - target `echo`: echoes each request's `text`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use connector_sdk::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use connector_sdk::serde::{Deserialize, Serialize, Serializer};
use connector_sdk::{
    Activities, CheckReport, Connection, Connector, Emitter, Error, Info, Requests, Result,
    Results, Secret, Source, Target,
};
use serde_json::Value;

fn broken(what: &str) -> bool {
    std::env::var("BROKEN").is_ok_and(|b| b == what)
}

/// A password whose schema and `Debug` are honest unless `BROKEN=plain_password`.
#[derive(Clone, Deserialize)]
#[serde(crate = "connector_sdk::serde")]
struct Password(Secret);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if broken("plain_password") {
            write!(f, "{:?}", self.0.expose())
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

impl JsonSchema for Password {
    fn schema_name() -> Cow<'static, str> {
        "Password".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        if broken("plain_password") {
            json_schema!({"type": "string"})
        } else {
            Secret::json_schema(generator)
        }
    }
}

/// Connection settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "connector_sdk::serde")]
#[schemars(crate = "connector_sdk::schemars")]
struct Settings {
    /// An absolute directory holding `numbers.txt`.
    root: PathBuf,
    /// A password, only ever printed through `Debug` (the fault `plain_password` shows).
    #[allow(dead_code)]
    password: Password,
    /// How often to retry, at least 1.
    #[serde(default = "one")]
    retries: u32,
    /// Unknown fields, refused in `validate` (unless `BROKEN=allow_unknown`).
    #[serde(flatten)]
    #[schemars(skip)]
    extra: BTreeMap<String, Value>,
}

fn one() -> u32 {
    1
}

/// The connection.
#[derive(Debug)]
struct Conn {
    root: PathBuf,
    /// The password `wrong` is refused.
    refused: bool,
}

#[connector_sdk::connection]
impl Connection for Conn {
    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::new();
        if broken("slow_check") {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let refused = self.refused;
        let _ = report
            .step("root.login", async move {
                if refused {
                    // An auth refusal is not worth retrying (unless BROKEN=retry_auth).
                    Err(Error::auth("the password was refused").retryable(broken("retry_auth")))
                } else {
                    Ok(())
                }
            })
            .await;
        let root = self.root.clone();
        let _ = report
            .step("root.exists", async move {
                if broken("failing_check") || !root.is_dir() {
                    Err(Error::connect(format!(
                        "{} is not a directory",
                        root.display()
                    )))
                } else {
                    Ok(())
                }
            })
            .await;
        report
    }
}

/// Settings of `numbers`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "connector_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "connector_sdk::schemars")]
struct NumbersConfig {
    /// Stop after this many records (at least 1).
    #[serde(default)]
    limit: Option<u64>,
    /// Pause this long before each record, in milliseconds.
    #[serde(default)]
    delay_ms: u64,
}

/// One number.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(crate = "connector_sdk::serde")]
#[schemars(crate = "connector_sdk::schemars")]
struct Number {
    /// Its line, from 1.
    line: u64,
    /// The number.
    #[serde(serialize_with = "number_as_declared")]
    n: u64,
}

fn number_as_declared<S: Serializer>(n: &u64, s: S) -> std::result::Result<S::Ok, S::Error> {
    if broken("bad_record") {
        s.serialize_str(&n.to_string())
    } else {
        s.serialize_u64(*n)
    }
}

struct Numbers;

fn offset_file(conn: &Conn) -> PathBuf {
    conn.root.join("numbers.offset")
}

fn committed(conn: &Conn) -> u64 {
    std::fs::read_to_string(offset_file(conn))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Numbers, one per line.
#[connector_sdk::activity(name = "numbers")]
impl Source for Numbers {
    type Connection = Conn;
    type Config = NumbersConfig;
    type Record = Number;
    type Ack = u64;
    type State = ();

    fn validate(&self, config: &NumbersConfig) -> Result<()> {
        if config.limit == Some(0) && !broken("no_validate") {
            return Err(Error::config("/limit", "expected at least 1"));
        }
        Ok(())
    }

    async fn read(
        &self,
        conn: &Conn,
        config: &NumbersConfig,
        out: &Emitter<Number, u64>,
    ) -> Result<()> {
        let text = std::fs::read_to_string(conn.root.join("numbers.txt"))
            .map_err(|e| Error::rejected(e.to_string()))?;
        let start = committed(conn);
        for (i, l) in text
            .lines()
            .enumerate()
            .skip(usize::try_from(start).unwrap_or(0))
        {
            let line = i as u64 + 1;
            if config.limit.is_some_and(|max| line > start + max) {
                break;
            }
            if broken("commit_in_read") {
                std::fs::write(offset_file(conn), line.to_string())
                    .map_err(|e| Error::internal(e.to_string()))?;
            }
            let n = l
                .trim()
                .parse()
                .map_err(|_| Error::protocol(format!("line {line} is not a number")))?;
            if config.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(config.delay_ms)).await;
            }
            out.emit(Number { line, n }, line).await?;
        }
        Ok(())
    }

    async fn commit(&self, conn: &Conn, _: &NumbersConfig, acks: Vec<u64>) -> Result<()> {
        if broken("never_commit") {
            return Ok(());
        }
        // BROKEN=commit_all: every line of the file is marked done, not the acked ones.
        let last = if broken("commit_all") {
            std::fs::read_to_string(conn.root.join("numbers.txt"))
                .map(|t| t.lines().count() as u64)
                .ok()
        } else {
            acks.last().copied()
        };
        if let Some(last) = last {
            std::fs::write(offset_file(conn), last.to_string())
                .map_err(|e| Error::internal(e.to_string()))?;
        }
        Ok(())
    }
}

/// Settings of `echo`.
#[derive(Debug, Deserialize)]
#[serde(crate = "connector_sdk::serde", deny_unknown_fields)]
struct EchoConfig {
    /// Put before each text.
    #[serde(default)]
    prefix: Option<String>,
}

impl JsonSchema for EchoConfig {
    fn schema_name() -> Cow<'static, str> {
        "EchoConfig".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let prefix = if broken("narrowed") {
            json_schema!({"type": "string", "maxLength": 10, "description": "Put before each text."})
        } else if broken("unchecked_bound") {
            // An invalid regex keeps the schema from compiling: the SDK then falls back
            // to serde alone, and `maxLength` is shown but not enforced.
            json_schema!({"type": ["string", "null"], "default": null, "maxLength": 10, "pattern": "(", "description": "Put before each text."})
        } else {
            json_schema!({"type": ["string", "null"], "default": null, "maxLength": 10, "description": "Put before each text."})
        };
        json_schema!({
            "type": "object",
            "description": "Settings of `echo`.",
            "properties": {"prefix": prefix},
            "additionalProperties": false
        })
    }
}

/// One text to echo.
#[derive(Debug, Deserialize)]
#[serde(crate = "connector_sdk::serde")]
struct EchoRequest {
    text: String,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

impl JsonSchema for EchoRequest {
    fn schema_name() -> Cow<'static, str> {
        "EchoRequest".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        if broken("invalid_schema") {
            return json_schema!({"type": 5});
        }
        let text = if broken("no_docs") {
            json_schema!({"type": "string"})
        } else {
            json_schema!({"type": "string", "description": "The text."})
        };
        // `accept_anything` declares that it takes any field (the SDK enforces the
        // schema, so a connector that accepts junk must say so) and lets it through.
        json_schema!({
            "type": "object",
            "description": "One text to echo.",
            "properties": {"text": text},
            "required": ["text"],
            "additionalProperties": broken("accept_anything")
        })
    }
}

/// One echo.
#[derive(Debug, JsonSchema)]
#[schemars(crate = "connector_sdk::schemars")]
struct EchoResponse {
    /// The text, with the prefix.
    echoed: String,
}

impl Serialize for EchoResponse {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use connector_sdk::serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        if broken("bad_response") {
            m.serialize_entry("echoed", &self.echoed.len())?;
        } else {
            m.serialize_entry("echoed", &self.echoed)?;
        }
        m.end()
    }
}

struct Echo;

/// Echoes texts.
#[connector_sdk::activity(name = "echo")]
impl Target for Echo {
    type Connection = Conn;
    type Config = EchoConfig;
    type Request = EchoRequest;
    type Response = EchoResponse;

    fn validate(&self, _: &EchoConfig, request: &EchoRequest) -> Result<()> {
        match request.extra.keys().next() {
            Some(key) if !broken("accept_anything") => {
                Err(Error::config(format!("/{key}"), "unknown field"))
            }
            _ => Ok(()),
        }
    }

    async fn call(
        &self,
        _: &Conn,
        config: &EchoConfig,
        requests: &Requests<EchoRequest>,
        results: &Results<EchoResponse>,
    ) -> Result<()> {
        let prefix = config.prefix.clone().unwrap_or_default();
        while let Some((index, r)) = requests.next() {
            if broken("lose_result") && index > 0 {
                continue; // taken, never reported
            }
            results.send(
                index,
                EchoResponse {
                    echoed: format!("{prefix}{}", r.text),
                },
            )?;
        }
        Ok(())
    }
}

struct Fixture;

#[connector_sdk::async_trait]
impl Connector for Fixture {
    type Settings = Settings;
    type Connection = Conn;

    fn info(&self) -> Info {
        let description: &'static str = if broken("nondeterministic") {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            Box::leak(format!("Built at {nanos}.").into_boxed_str())
        } else {
            "A fixture for the conformance suite's own tests."
        };
        Info {
            name: "fixture",
            version: "1.0.0",
            description,
        }
    }

    fn activities(&self) -> Activities<Conn> {
        let activities = Activities::new().source(Numbers);
        if broken("removed_activity") {
            activities
        } else {
            activities.target(Echo)
        }
    }

    fn validate(&self, settings: &Settings) -> Result<()> {
        if broken("refuse_valid") {
            return Err(Error::config("/root", "refused"));
        }
        if let Some(key) = settings.extra.keys().next()
            && !broken("allow_unknown")
        {
            return Err(Error::config(format!("/{key}"), "unknown field"));
        }
        if !settings.root.is_absolute() && !broken("accept_relative") {
            return Err(Error::config("/root", "expected an absolute path"));
        }
        if settings.retries <= 1 && broken("bad_default") {
            return Err(Error::config("/retries", "expected at least 2"));
        }
        Ok(())
    }

    async fn connect(&self, settings: Settings) -> Result<Conn> {
        if broken("stdout_log") {
            println!("connecting to {}", settings.root.display());
        }
        Ok(Conn {
            root: settings.root,
            refused: settings.password.0.expose() == "wrong",
        })
    }
}

fn main() -> std::process::ExitCode {
    connector_sdk::host::main(Fixture)
}
