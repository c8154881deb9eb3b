//! The conformance suite: the checks every connector must pass, run against its real
//! binary through the host protocol.
//!
//! One call in a test file generates one named test per check:
//!
//! ```no_run
//! use connector_testkit::conformance::Suite;
//! use serde_json::json;
//!
//! fn suite() -> Suite {
//!     // In the connector's own tests: env!("CARGO_BIN_EXE_<your binary>").
//!     Suite::new("target/debug/file-connector", "file")
//!         .snapshots(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"))
//!         .connection(json!({"root": "/tmp"}))
//!         .invalid_connection(json!({"root": 5}), "/root")
//!         .config("read", json!({"path": "in.jsonl"}))
//! }
//!
//! connector_testkit::conformance_tests!(suite());
//! ```
//!
//! Each check can also be run alone with [`Suite::check`], which returns the problems
//! instead of panicking. A failure lists every problem with where it is and how to
//! fix it.
//!
//! The checks live by group, each an `impl Suite` of its own: `manifest`, `settings`,
//! `check`, `source`, `target` and `process`; `schema` walks JSON Schemas for them, and
//! `runner` runs the program under test with a deadline.

mod check;
mod checks;
pub mod compat;
mod generated;
mod manifest;
mod process;
mod robust;
mod runner;
mod schema;
mod settings;
mod source;
mod target;

use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

pub use checks::{Check, Failure};
use runner::Run;
pub use schema::looks_secret;

/// A fresh source case: settings to run with and how many records they must yield.
pub struct SourceCase {
    /// Connection settings (a live endpoint).
    pub connection: Value,
    /// The activity's settings.
    pub config: Value,
    /// How many records a full run yields.
    pub records: usize,
    /// Kept alive for the case (a temporary directory, a mailbox).
    pub guard: Box<dyn Any + Send>,
}

impl fmt::Debug for SourceCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceCase")
            .field("config", &self.config)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

type Factory<T> = Arc<dyn Fn() -> T + Send + Sync>;

/// Settings for a server on a given local port.
type Silent = Arc<dyn Fn(u16) -> Value + Send + Sync>;

struct SourceFixture {
    activity: String,
    key: String,
    setup: Factory<SourceCase>,
}

struct TargetFixture {
    activity: String,
    config: Value,
    request: Value,
    connection: Factory<Value>,
    invalid: Vec<(Value, String)>,
}

/// A connector under test and its fixtures.
pub struct Suite {
    binary: PathBuf,
    name: String,
    snapshots: Option<PathBuf>,
    allowed_breaks: Vec<(String, String)>,
    connection: Option<Value>,
    invalid: Vec<(Value, String)>,
    configs: Vec<(String, Value)>,
    unreachable: Option<(Value, Duration)>,
    live: Option<Factory<Value>>,
    canary: Option<String>,
    sources: Vec<SourceFixture>,
    targets: Vec<TargetFixture>,
    silent: Option<(Silent, Duration)>,
    wrong_credentials: Option<Factory<Value>>,
    invalid_configs: Vec<(String, Value, String)>,
    not_applicable: Vec<(Check, String)>,
}

impl fmt::Debug for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("binary", &self.binary)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Suite {
    /// A suite for the connector program at `binary` (in a test:
    /// `env!("CARGO_BIN_EXE_<name>")`); `name` names its snapshots.
    pub fn new(binary: impl Into<PathBuf>, name: &str) -> Self {
        Self {
            binary: binary.into(),
            name: name.to_owned(),
            snapshots: None,
            allowed_breaks: Vec::new(),
            connection: None,
            invalid: Vec::new(),
            configs: Vec::new(),
            unreachable: None,
            live: None,
            canary: None,
            sources: Vec::new(),
            targets: Vec::new(),
            silent: None,
            wrong_credentials: None,
            invalid_configs: Vec::new(),
            not_applicable: Vec::new(),
        }
    }

    /// Connection settings for a server on `127.0.0.1:<port>` that accepts and never
    /// answers (the suite starts it): `check` must fail as a retryable `timeout` (or
    /// `connect`) within `timeout` plus two seconds.
    #[must_use]
    pub fn silent(
        mut self,
        settings: impl Fn(u16) -> Value + Send + Sync + 'static,
        timeout: Duration,
    ) -> Self {
        self.silent = Some((Arc::new(settings), timeout));
        self
    }

    /// Connection settings to a live endpoint with credentials it refuses: `check` must
    /// fail as `auth`, not retryable.
    #[must_use]
    pub fn wrong_credentials(
        mut self,
        settings: impl Fn() -> Value + Send + Sync + 'static,
    ) -> Self {
        self.wrong_credentials = Some(Arc::new(settings));
        self
    }

    /// Settings for `activity` that the schema accepts and the connector's own
    /// validation refuses at `path`: `validate` and `run` must both exit 2 there.
    #[must_use]
    pub fn invalid_config(mut self, activity: &str, config: Value, path: &str) -> Self {
        self.invalid_configs
            .push((activity.to_owned(), config, path.to_owned()));
        self
    }

    /// Declares that `check` does not apply to this connector, for `reason` (a local
    /// directory has no credentials); the check passes and prints the reason. Every
    /// other missing fixture fails the check that needs it.
    #[must_use]
    pub fn not_applicable(mut self, check: Check, reason: &str) -> Self {
        self.not_applicable.push((check, reason.to_owned()));
        self
    }

    /// Where the manifest snapshot is kept (commit it): usually
    /// `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots")`.
    #[must_use]
    pub fn snapshots(mut self, dir: impl Into<PathBuf>) -> Self {
        self.snapshots = Some(dir.into());
        self
    }

    /// Accepts an incompatible change under `path` (a manifest path such as
    /// `activities/send/request/to`, or a prefix of one) on purpose, for `reason`; the
    /// compatibility check then reports it without failing. Raising the version is the
    /// other way; this is for a break every user has agreed to.
    #[must_use]
    pub fn allow_break(mut self, path: &str, reason: &str) -> Self {
        self.allowed_breaks
            .push((path.to_owned(), reason.to_owned()));
        self
    }

    /// Valid connection settings (they need not reach a server).
    #[must_use]
    pub fn connection(mut self, settings: Value) -> Self {
        self.connection = Some(settings);
        self
    }

    /// Connection settings that must be refused with exit 2 at `path`.
    #[must_use]
    pub fn invalid_connection(mut self, settings: Value, path: &str) -> Self {
        self.invalid.push((settings, path.to_owned()));
        self
    }

    /// Valid settings for `activity`.
    #[must_use]
    pub fn config(mut self, activity: &str, config: Value) -> Self {
        self.configs.push((activity.to_owned(), config));
        self
    }

    /// Connection settings pointing at nothing: `check` must fail as `connect` or
    /// `timeout` within `timeout` plus two seconds.
    #[must_use]
    pub fn unreachable(mut self, settings: Value, timeout: Duration) -> Self {
        self.unreachable = Some((settings, timeout));
        self
    }

    /// Connection settings for a live endpoint, where `check` must succeed.
    #[must_use]
    pub fn live(mut self, settings: impl Fn() -> Value + Send + Sync + 'static) -> Self {
        self.live = Some(Arc::new(settings));
        self
    }

    /// A secret value that appears in the valid connection settings and must never
    /// appear in any output.
    #[must_use]
    pub fn canary(mut self, secret: &str) -> Self {
        self.canary = Some(secret.to_owned());
        self
    }

    /// A source to run: `setup` prepares a fresh case (new data) each time it is
    /// called; `key` is the JSON pointer of a record's identity (`/message_id`).
    #[must_use]
    pub fn source(
        mut self,
        activity: &str,
        key: &str,
        setup: impl Fn() -> SourceCase + Send + Sync + 'static,
    ) -> Self {
        self.sources.push(SourceFixture {
            activity: activity.into(),
            key: key.into(),
            setup: Arc::new(setup),
        });
        self
    }

    /// A target to run with a valid `request` over `connection` (a live endpoint).
    #[must_use]
    pub fn target(
        mut self,
        activity: &str,
        config: Value,
        request: Value,
        connection: impl Fn() -> Value + Send + Sync + 'static,
    ) -> Self {
        self.targets.push(TargetFixture {
            activity: activity.into(),
            config,
            request,
            connection: Arc::new(connection),
            invalid: Vec::new(),
        });
        self
    }

    /// A request for the last target added that must be refused with exit 2 at `path`.
    ///
    /// # Panics
    /// When no target was added before.
    #[must_use]
    pub fn invalid_request(mut self, request: Value, path: &str) -> Self {
        self.targets
            .last_mut()
            .expect("add a target before its invalid requests")
            .invalid
            .push((request, path.to_owned()));
        self
    }

    /// Runs one check.
    ///
    /// # Errors
    /// The problems found.
    pub fn check(&self, check: Check) -> Result<(), Failure> {
        if let Some((_, reason)) = self.not_applicable.iter().find(|(c, _)| *c == check) {
            eprintln!("{check:?} does not apply to this connector: {reason}");
            return Ok(());
        }
        let problems = match self.run_check(check) {
            Ok(p) => p,
            Err(setup) => vec![setup],
        };
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Failure { check, problems })
        }
    }

    /// Runs one check and panics with the failure: what `conformance_tests!` calls.
    ///
    /// # Panics
    /// When the check fails.
    pub fn assert(&self, check: Check) {
        if let Err(f) = self.check(check) {
            panic!("{f}");
        }
    }

    pub(crate) fn spec(&self) -> Result<Value, String> {
        let out = Run::new(&self.binary).args(["spec"]).output();
        if out.code != Some(0) {
            return Err(format!(
                "`spec` failed (exit {:?}): {}",
                out.code, out.stderr
            ));
        }
        serde_json::from_str(&out.stdout).map_err(|e| format!("`spec` did not print JSON: {e}"))
    }

    pub(crate) fn need<'a, T>(&self, what: &'a Option<T>, fixture: &str) -> Result<&'a T, String> {
        what.as_ref().ok_or_else(|| {
            format!("this check needs the `{fixture}` fixture: add .{fixture}(…) to the suite")
        })
    }

    fn run_check(&self, check: Check) -> Result<Vec<String>, String> {
        use Check as C;
        Ok(match check {
            C::SchemasAreValid => schema::invalid_schemas(&self.spec()?),
            C::ActivitiesAreWellFormed => schema::malformed_activities(&self.spec()?),
            C::PropertiesAreDescribed => schema::undescribed(&self.spec()?),
            C::SecretsAreMarked => schema::unmarked_secrets(&self.spec()?),
            C::ManifestIsDeterministic => self.deterministic(),
            C::ManifestMatchesSnapshot => self.snapshot()?,
            C::BackwardCompatible => self.compatible()?,
            C::CanaryNeverLeaks => self.canary_check()?,
            C::ValidSettingsAreAccepted => self.valid_settings()?,
            C::InvalidSettingsAreRejected => self.invalid_settings(),
            C::UnknownFieldsAreRejected => self.unknown_fields()?,
            C::DefaultsDeserialize => self.defaults()?,
            C::CheckOfUnreachableFailsInTime => self.unreachable_check()?,
            C::CheckOfLiveEndpointSucceeds => self.live_check()?,
            C::RecordsMatchSchema => self.records_match()?,
            C::AcknowledgedRecordsDoNotComeAgain => self.acknowledged()?,
            C::ClosedOutputCommitsNothing => self.closed_output()?,
            C::ResponsesMatchSchema => self.responses_match()?,
            C::InvalidRequestsAreRejected => self.invalid_requests(),
            C::ExitCodesAndErrorLine => self.exit_codes()?,
            C::StdoutCarriesOnlyData => self.stdout_only_data()?,
            C::GeneratedInvalidInputIsRejected => self.generated_invalid()?,
            C::InvalidConfigIsRejected => self.invalid_config_check()?,
            C::SilentServerTimesOut => self.silent_check()?,
            C::WrongCredentialsAreAuth => self.wrong_credentials_check()?,
            C::SignalMidRunCommitsWhatWasWritten => self.signal_mid_run()?,
            C::TwoStdinInputsAreRefused => self.two_stdin()?,
        })
    }
}

/// `value` with `pointer` set to `new`, creating objects on the way; `None` when the
/// path crosses something that is not an object.
pub(crate) fn with_value(value: &Value, pointer: &str, new: Value) -> Option<Value> {
    let mut out = value.clone();
    let mut node = &mut out;
    // RFC 6901: `~1` is `/` and `~0` is `~` inside a segment.
    let parts: Vec<String> = pointer
        .trim_start_matches('/')
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = node.as_object_mut()?;
        if i + 1 == parts.len() {
            obj.insert(part.clone(), new);
            return Some(out);
        }
        node = obj.entry(part.clone()).or_insert_with(|| json!({}));
    }
    None
}

pub(crate) fn sort_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sort_keys(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}
