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

mod manifest;
mod process;

use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use manifest::looks_secret;
use process::{Run, Workdir};

/// Every check, by the name of the test it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// Every schema in the manifest is valid JSON Schema 2020-12.
    SchemasAreValid,
    /// Activities have unique names, a role, and the schemas their role needs.
    ActivitiesAreWellFormed,
    /// Every property has a description.
    PropertiesAreDescribed,
    /// `spec` prints the same bytes every time.
    ManifestIsDeterministic,
    /// The manifest matches the committed insta snapshot.
    ManifestMatchesSnapshot,
    /// No breaking change from the committed snapshot without a major version bump.
    BackwardCompatible,
    /// Every property whose name suggests a secret is a `Secret`.
    SecretsAreMarked,
    /// The canary secret never appears in any output, log or error.
    CanaryNeverLeaks,
    /// Valid settings and configs are accepted.
    ValidSettingsAreAccepted,
    /// Invalid settings exit 2 with the expected JSON path.
    InvalidSettingsAreRejected,
    /// Unknown fields are refused, in the connection and every activity config.
    UnknownFieldsAreRejected,
    /// Every default in the schemas deserializes (schema and serde agree).
    DefaultsDeserialize,
    /// `check` against an unreachable endpoint fails as connect or timeout, in time.
    CheckOfUnreachableFailsInTime,
    /// `check` against the live endpoint succeeds.
    CheckOfLiveEndpointSucceeds,
    /// Every source record validates against the record schema.
    RecordsMatchSchema,
    /// Acknowledged records do not come again.
    AcknowledgedRecordsDoNotComeAgain,
    /// A closed output commits nothing, and what was not acknowledged comes again.
    ClosedOutputCommitsNothing,
    /// Every target response validates against the response schema.
    ResponsesMatchSchema,
    /// A request that breaks the schema exits 2 with its path.
    InvalidRequestsAreRejected,
    /// Exit codes and the JSON error line follow the host protocol.
    ExitCodesAndErrorLine,
    /// stdout carries nothing but data, even at trace level.
    StdoutCarriesOnlyData,
}

impl Check {
    /// Every check, in the order the suite runs them.
    pub const ALL: [Check; 21] = [
        Check::SchemasAreValid,
        Check::ActivitiesAreWellFormed,
        Check::PropertiesAreDescribed,
        Check::ManifestIsDeterministic,
        Check::ManifestMatchesSnapshot,
        Check::BackwardCompatible,
        Check::SecretsAreMarked,
        Check::CanaryNeverLeaks,
        Check::ValidSettingsAreAccepted,
        Check::InvalidSettingsAreRejected,
        Check::UnknownFieldsAreRejected,
        Check::DefaultsDeserialize,
        Check::CheckOfUnreachableFailsInTime,
        Check::CheckOfLiveEndpointSucceeds,
        Check::RecordsMatchSchema,
        Check::AcknowledgedRecordsDoNotComeAgain,
        Check::ClosedOutputCommitsNothing,
        Check::ResponsesMatchSchema,
        Check::InvalidRequestsAreRejected,
        Check::ExitCodesAndErrorLine,
        Check::StdoutCarriesOnlyData,
    ];
}

/// Why a check failed: every problem found, each saying what, where and how to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check.
    pub check: Check,
    /// The problems.
    pub problems: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance check {:?} failed:", self.check)?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

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
    connection: Option<Value>,
    invalid: Vec<(Value, String)>,
    configs: Vec<(String, Value)>,
    unreachable: Option<(Value, Duration)>,
    live: Option<Factory<Value>>,
    canary: Option<String>,
    sources: Vec<SourceFixture>,
    targets: Vec<TargetFixture>,
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
            connection: None,
            invalid: Vec::new(),
            configs: Vec::new(),
            unreachable: None,
            live: None,
            canary: None,
            sources: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Where the manifest snapshot is kept (commit it): usually
    /// `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots")`.
    #[must_use]
    pub fn snapshots(mut self, dir: impl Into<PathBuf>) -> Self {
        self.snapshots = Some(dir.into());
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

    fn spec(&self) -> Result<Value, String> {
        let out = Run::new(&self.binary).args(["spec"]).output();
        if out.code != Some(0) {
            return Err(format!(
                "`spec` failed (exit {:?}): {}",
                out.code, out.stderr
            ));
        }
        serde_json::from_str(&out.stdout).map_err(|e| format!("`spec` did not print JSON: {e}"))
    }

    fn need<'a, T>(&self, what: &'a Option<T>, fixture: &str) -> Result<&'a T, String> {
        what.as_ref().ok_or_else(|| {
            format!("this check needs the `{fixture}` fixture: add .{fixture}(…) to the suite")
        })
    }

    fn run_check(&self, check: Check) -> Result<Vec<String>, String> {
        use Check as C;
        Ok(match check {
            C::SchemasAreValid => manifest::invalid_schemas(&self.spec()?),
            C::ActivitiesAreWellFormed => manifest::malformed_activities(&self.spec()?),
            C::PropertiesAreDescribed => manifest::undescribed(&self.spec()?),
            C::SecretsAreMarked => manifest::unmarked_secrets(&self.spec()?),
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
        })
    }

    fn deterministic(&self) -> Vec<String> {
        let a = Run::new(&self.binary).args(["spec"]).output();
        let b = Run::new(&self.binary).args(["spec"]).output();
        let mut problems = Vec::new();
        if a.stdout != b.stdout {
            problems.push("two runs of `spec` printed different bytes; derive everything from types, with no clock, randomness or hash-map order".into());
        }
        if let Ok(v) = serde_json::from_str::<Value>(&a.stdout) {
            let sorted = serde_json::to_string_pretty(&sort_keys(&v)).unwrap_or_default();
            if sorted.trim() != a.stdout.trim() {
                problems.push(
                    "`spec` keys are not sorted; print it with connector_sdk::Manifest::to_value"
                        .into(),
                );
            }
        }
        problems
    }

    fn snapshot_path(&self) -> Result<PathBuf, String> {
        let dir = self.need(&self.snapshots, "snapshots")?;
        Ok(dir.join(format!("{}_manifest.snap", self.name)))
    }

    fn snapshot(&self) -> Result<Vec<String>, String> {
        let spec = self.spec()?;
        let dir = self.need(&self.snapshots, "snapshots")?.clone();
        let text = serde_json::to_string_pretty(&spec).map_err(|e| e.to_string())?;
        let name = format!("{}_manifest", self.name);
        let result = std::panic::catch_unwind(|| {
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path(dir);
            settings.set_prepend_module_to_snapshot(false);
            settings.set_omit_expression(true);
            settings.bind(|| insta::assert_snapshot!(name, text));
        });
        Ok(match result {
            Ok(()) => Vec::new(),
            Err(_) => vec![format!(
                "the manifest differs from the committed snapshot {}; review the diff above, then accept it with `cargo insta review` (or INSTA_UPDATE=always) and commit the .snap file",
                self.snapshot_path()?.display()
            )],
        })
    }

    fn compatible(&self) -> Result<Vec<String>, String> {
        let path = self.snapshot_path()?;
        let Ok(text) = std::fs::read_to_string(&path) else {
            // Nothing committed yet: nothing to be compatible with.
            return Ok(Vec::new());
        };
        let old = snapshot_body(&text)
            .ok_or_else(|| format!("{} is not an insta snapshot of a manifest", path.display()))?;
        let new = self.spec()?;
        let (ov, nv) = (
            old["version"].as_str().unwrap_or("0"),
            new["version"].as_str().unwrap_or("0"),
        );
        if manifest::major(nv) > manifest::major(ov) {
            return Ok(Vec::new());
        }
        Ok(manifest::breaking_changes(&old, &new)
            .into_iter()
            .map(|c| format!("{c} — breaks users of version {ov}; keep it compatible or raise the major version (now {nv})"))
            .collect())
    }

    fn canary_check(&self) -> Result<Vec<String>, String> {
        let Some(canary) = &self.canary else {
            let spec = serde_json::to_string(&self.spec()?).unwrap_or_default();
            return if spec.contains("\"x-secret\":true") {
                Err("the connector has secrets: add .canary(\"…\") with a value that the `connection` fixture uses for one".into())
            } else {
                Ok(Vec::new())
            };
        };
        let conn = self.need(&self.connection, "connection")?;
        let wd = Workdir::new();
        let conn_file = wd.json("conn.json", conn);
        let trace = ["--log-level", "trace"];
        let mut runs: Vec<(String, process::Output)> = Vec::new();
        let mut go = |label: String, run: Run| runs.push((label, run.output()));
        go(
            "spec".into(),
            Run::new(&self.binary).args(trace).args(["spec"]),
        );
        go(
            "validate".into(),
            Run::new(&self.binary)
                .args(trace)
                .args(["validate", "--connection", &conn_file]),
        );
        go(
            "check".into(),
            Run::new(&self.binary)
                .args(trace)
                .args(["check", "--connection", &conn_file])
                .timeout(Duration::from_secs(60)),
        );
        for (activity, config) in &self.configs {
            let cfg = wd.json(&format!("{activity}.json"), config);
            let input = self
                .targets
                .iter()
                .find(|t| &t.activity == activity)
                .map(|t| wd.json(&format!("{activity}-in.json"), &t.request));
            let mut run = Run::new(&self.binary).args(trace).args([
                "run",
                activity,
                "--connection",
                &conn_file,
                "--config",
                &cfg,
            ]);
            if let Some(input) = &input {
                run = run.args(["--input", input]);
            }
            go(
                format!("run {activity}"),
                run.timeout(Duration::from_secs(60)),
            );
        }
        for (settings, _) in &self.invalid {
            let f = wd.json("invalid.json", settings);
            go(
                "check (invalid settings)".into(),
                Run::new(&self.binary)
                    .args(trace)
                    .args(["check", "--connection", &f]),
            );
        }
        Ok(runs
            .into_iter()
            .filter(|(_, o)| o.stdout.contains(canary.as_str()) || o.stderr.contains(canary.as_str()))
            .map(|(label, o)| {
                let stream = if o.stdout.contains(canary.as_str()) { "stdout" } else { "stderr" };
                let line = o.stdout.lines().chain(o.stderr.lines()).find(|l| l.contains(canary.as_str())).unwrap_or("");
                format!(
                    "`{label}` printed the canary secret on {stream}: {}; keep secrets in connector_sdk::Secret and never format them",
                    line.replace(canary.as_str(), "<CANARY>")
                )
            })
            .collect())
    }

    fn validate(
        &self,
        wd: &Workdir,
        conn: &Value,
        activity: Option<(&str, &Value)>,
    ) -> process::Output {
        let conn_file = wd.json("validate-conn.json", conn);
        let mut run = Run::new(&self.binary).args(["validate", "--connection", &conn_file]);
        if let Some((name, config)) = activity {
            let cfg = wd.json("validate-config.json", config);
            run = run.args([name, "--config", &cfg]);
        }
        run.output()
    }

    fn valid_settings(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        let wd = Workdir::new();
        let mut problems = Vec::new();
        let out = self.validate(&wd, conn, None);
        if out.code != Some(0) {
            problems.push(format!(
                "the valid connection settings were refused: {}",
                out.last_line()
            ));
        }
        for (activity, config) in &self.configs {
            let out = self.validate(&wd, conn, Some((activity, config)));
            if out.code != Some(0) {
                problems.push(format!(
                    "the valid settings of `{activity}` were refused: {}",
                    out.last_line()
                ));
            }
        }
        Ok(problems)
    }

    fn expect_config_error(out: &process::Output, path: &str, what: &str) -> Option<String> {
        let err = out.error();
        if out.code != Some(2) {
            return Some(format!(
                "{what}: expected exit 2, got {:?} ({})",
                out.code,
                out.last_line()
            ));
        }
        match err {
            None => Some(format!(
                "{what}: the last stderr line is not a JSON error: {}",
                out.last_line()
            )),
            Some(e) if e["kind"] != "config" || e["path"] != path => Some(format!(
                "{what}: expected a config error at {path:?}, got kind {} at {}; the error must name the JSON path of the bad value",
                e["kind"], e["path"]
            )),
            Some(_) => None,
        }
    }

    fn invalid_settings(&self) -> Vec<String> {
        let wd = Workdir::new();
        self.invalid
            .iter()
            .filter_map(|(settings, path)| {
                let out = self.validate(&wd, settings, None);
                Self::expect_config_error(&out, path, &format!("settings {settings}"))
            })
            .collect()
    }

    fn unknown_fields(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        let wd = Workdir::new();
        let key = "zz_conformance_unknown_field";
        let mut problems = Vec::new();
        let mut bad = conn.clone();
        bad[key] = json!(1);
        if let Some(p) = Self::expect_config_error(
            &self.validate(&wd, &bad, None),
            &format!("/{key}"),
            "connection settings with an unknown field",
        ) {
            problems.push(format!("{p}; put #[connector_sdk::settings] (which denies unknown fields) on the settings type"));
        }
        for (activity, config) in &self.configs {
            let mut bad = config.clone();
            bad[key] = json!(1);
            let out = self.validate(&wd, conn, Some((activity, &bad)));
            if let Some(p) = Self::expect_config_error(
                &out,
                &format!("/{key}"),
                &format!("`{activity}` settings with an unknown field"),
            ) {
                problems.push(p);
            }
        }
        Ok(problems)
    }

    fn defaults(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        let spec = self.spec()?;
        let wd = Workdir::new();
        let mut problems = Vec::new();
        for manifest::Default {
            pointer: path,
            value: default,
            only_if,
        } in manifest::defaults(&spec["connection"])
        {
            // A variant's default applies only where the fixture uses that variant.
            if only_if.is_some_and(|(tag, value)| conn.pointer(&tag) != Some(&value)) {
                continue;
            }
            let Some(candidate) = with_value(conn, &path, default.clone()) else {
                continue;
            };
            let out = self.validate(&wd, &candidate, None);
            if out.code != Some(0) {
                problems.push(format!("connection{path}: the schema's default {default} is refused: {}; make the serde default and the schema agree", out.last_line()));
            }
        }
        for (activity, config) in &self.configs {
            let schema = spec["activities"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["name"] == activity.as_str())
                .map(|a| a["config"].clone())
                .unwrap_or(Value::Null);
            for manifest::Default {
                pointer: path,
                value: default,
                only_if,
            } in manifest::defaults(&schema)
            {
                if only_if.is_some_and(|(tag, value)| config.pointer(&tag) != Some(&value)) {
                    continue;
                }
                let Some(candidate) = with_value(config, &path, default.clone()) else {
                    continue;
                };
                let out = self.validate(&wd, conn, Some((activity, &candidate)));
                if out.code != Some(0) {
                    problems.push(format!(
                        "{activity}{path}: the schema's default {default} is refused: {}",
                        out.last_line()
                    ));
                }
            }
        }
        Ok(problems)
    }

    fn unreachable_check(&self) -> Result<Vec<String>, String> {
        let (settings, timeout) = self.need(&self.unreachable, "unreachable")?;
        let wd = Workdir::new();
        let f = wd.json("unreachable.json", settings);
        let limit = *timeout + Duration::from_secs(2);
        let started = Instant::now();
        let out = Run::new(&self.binary)
            .args(["check", "--connection", &f])
            .timeout(limit + Duration::from_secs(10))
            .output();
        let took = started.elapsed();
        let mut problems = Vec::new();
        if took > limit {
            problems.push(format!("`check` took {took:?} against an unreachable endpoint; it must give up within the configured timeout ({timeout:?}) plus 2 s"));
        }
        if out.code != Some(1) {
            problems.push(format!(
                "`check` against an unreachable endpoint must exit 1, got {:?}",
                out.code
            ));
        }
        match out.error() {
            Some(e) if e["kind"] == "connect" || e["kind"] == "timeout" => {}
            Some(e) => problems.push(format!("`check` against an unreachable endpoint failed as {} instead of connect or timeout", e["kind"])),
            None => problems.push(format!("no JSON error line after a failed check: {}", out.last_line())),
        }
        Ok(problems)
    }

    fn live_check(&self) -> Result<Vec<String>, String> {
        let live = self.need(&self.live, "live")?;
        let wd = Workdir::new();
        let f = wd.json("live.json", &live());
        let out = Run::new(&self.binary)
            .args(["check", "--connection", &f])
            .timeout(Duration::from_secs(60))
            .output();
        let mut problems = Vec::new();
        if out.code != Some(0) {
            problems.push(format!(
                "`check` against the live endpoint failed (exit {:?}): {}",
                out.code,
                out.last_line()
            ));
        }
        match serde_json::from_str::<Value>(&out.stdout) {
            Ok(r) if r["ok"] == true && r["steps"].as_array().is_some_and(|s| !s.is_empty()) => {}
            Ok(r) => problems.push(format!("the check report is not ok or has no steps: {r}")),
            Err(e) => problems.push(format!("the check report is not JSON: {e}")),
        }
        Ok(problems)
    }

    fn activity_schema(&self, activity: &str, key: &str) -> Result<Value, String> {
        let spec = self.spec()?;
        spec["activities"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"] == activity)
            .and_then(|a| a.get(key).cloned())
            .ok_or_else(|| format!("the manifest has no {key} schema for `{activity}`"))
    }

    fn run_source(
        &self,
        wd: &Workdir,
        case: &SourceCase,
        activity: &str,
        tag: &str,
    ) -> process::Output {
        let conn = wd.json(&format!("{tag}-conn.json"), &case.connection);
        let cfg = wd.json(&format!("{tag}-config.json"), &case.config);
        Run::new(&self.binary)
            .args(["run", activity, "--connection", &conn, "--config", &cfg])
            .timeout(Duration::from_secs(120))
            .output()
    }

    /// The source fixtures; none needed when the connector has no source.
    fn need_sources(&self) -> Result<&[SourceFixture], String> {
        let has_source = self.spec()?["activities"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["role"] == "source");
        if !has_source {
            return Ok(&[]);
        }
        if self.sources.is_empty() {
            return Err("this check needs a `source` fixture: add .source(…) to the suite (or the connector has no source and the check does not apply)".into());
        }
        Ok(&self.sources)
    }

    /// The target fixtures; none needed when the connector has no target.
    fn need_targets(&self) -> Result<&[TargetFixture], String> {
        let has_target = self.spec()?["activities"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["role"] == "target");
        if !has_target {
            return Ok(&[]);
        }
        if self.targets.is_empty() {
            return Err("this check needs a `target` fixture: add .target(…) to the suite".into());
        }
        Ok(&self.targets)
    }

    fn records_match(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        for s in self.need_sources()? {
            let schema = self.activity_schema(&s.activity, "record")?;
            let validator = jsonschema::validator_for(&schema)
                .map_err(|e| format!("record schema of `{}`: {e}", s.activity))?;
            let case = (s.setup)();
            let wd = Workdir::new();
            let out = self.run_source(&wd, &case, &s.activity, "records");
            if out.code != Some(0) {
                problems.push(format!(
                    "`run {}` failed (exit {:?}): {}",
                    s.activity,
                    out.code,
                    out.last_line()
                ));
            }
            let lines: Vec<&str> = out.stdout.lines().collect();
            if lines.len() != case.records {
                problems.push(format!(
                    "`run {}` wrote {} records, the fixture expects {}",
                    s.activity,
                    lines.len(),
                    case.records
                ));
            }
            for (i, line) in lines.iter().enumerate() {
                match serde_json::from_str::<Value>(line) {
                    Err(e) => {
                        problems.push(format!("record {i} of `{}` is not JSON: {e}", s.activity))
                    }
                    Ok(record) => {
                        for e in validator.iter_errors(&record) {
                            problems.push(format!(
                                "record {i} of `{}` breaks its schema at {}: {e}; the record type and what is emitted disagree",
                                s.activity,
                                e.instance_path()
                            ));
                        }
                    }
                }
            }
        }
        Ok(problems)
    }

    fn keys(out: &process::Output, pointer: &str) -> Vec<String> {
        out.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|r| r.pointer(pointer).map(Value::to_string).unwrap_or_default())
            .collect()
    }

    fn acknowledged(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        for s in self.need_sources()? {
            let case = (s.setup)();
            let wd = Workdir::new();
            let first = self.run_source(&wd, &case, &s.activity, "first");
            let delivered = Self::keys(&first, &s.key);
            if first.code != Some(0) || delivered.len() != case.records {
                problems.push(format!("the first run of `{}` should deliver {} records and exit 0; it delivered {} and exited {:?}: {}", s.activity, case.records, delivered.len(), first.code, first.last_line()));
                continue;
            }
            let again = Self::keys(&self.run_source(&wd, &case, &s.activity, "second"), &s.key);
            let repeated: Vec<&String> = again.iter().filter(|k| delivered.contains(k)).collect();
            if !repeated.is_empty() {
                problems.push(format!(
                    "`{}`: {} acknowledged records came again on the next run (first: {}); `commit` must make delivered records done",
                    s.activity,
                    repeated.len(),
                    repeated[0]
                ));
            }
        }
        Ok(problems)
    }

    fn closed_output(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        for s in self.need_sources()? {
            let case = (s.setup)();
            let wd = Workdir::new();
            let conn = wd.json("closed-conn.json", &case.connection);
            let cfg = wd.json("closed-config.json", &case.config);
            // stdout is a pipe whose reader is already gone: every write fails.
            let out = Run::new(&self.binary)
                .args(["run", &s.activity, "--connection", &conn, "--config", &cfg])
                .closed_stdout()
                .timeout(Duration::from_secs(120))
                .output();
            if case.records > 0 && out.code != Some(1) {
                problems.push(format!(
                    "`{}` with a closed output must exit 1, got {:?}",
                    s.activity, out.code
                ));
            }
            let next = self.run_source(&wd, &case, &s.activity, "after-closed");
            let got = Self::keys(&next, &s.key).len();
            if got != case.records {
                problems.push(format!(
                    "after a run whose output was closed, the next run delivered {got} of {} records: {} were committed without being delivered; commit only in `commit`, never in `read`",
                    case.records,
                    case.records.saturating_sub(got)
                ));
            }
        }
        Ok(problems)
    }

    fn responses_match(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        for t in self.need_targets()? {
            let schema = self.activity_schema(&t.activity, "response")?;
            let validator = jsonschema::validator_for(&schema)
                .map_err(|e| format!("response schema of `{}`: {e}", t.activity))?;
            let wd = Workdir::new();
            let conn = wd.json("conn.json", &(t.connection)());
            let cfg = wd.json("config.json", &t.config);
            let input = wd.json("input.json", &t.request);
            let out = Run::new(&self.binary)
                .args([
                    "run",
                    &t.activity,
                    "--connection",
                    &conn,
                    "--config",
                    &cfg,
                    "--input",
                    &input,
                ])
                .timeout(Duration::from_secs(120))
                .output();
            if out.code != Some(0) {
                problems.push(format!(
                    "`run {}` with the valid request failed (exit {:?}): {}",
                    t.activity,
                    out.code,
                    out.last_line()
                ));
            }
            match serde_json::from_str::<Value>(&out.stdout) {
                Err(e) => problems.push(format!(
                    "the response of `{}` is not one JSON document: {e}",
                    t.activity
                )),
                Ok(response) => {
                    for e in validator.iter_errors(&response) {
                        problems.push(format!(
                            "the response of `{}` breaks its schema at {}: {e}",
                            t.activity,
                            e.instance_path()
                        ));
                    }
                }
            }
        }
        Ok(problems)
    }

    fn invalid_requests(&self) -> Vec<String> {
        let Some(conn) = &self.connection else {
            return vec!["this check needs the `connection` fixture".into()];
        };
        let wd = Workdir::new();
        let conn = wd.json("conn.json", conn);
        let mut problems = Vec::new();
        for t in &self.targets {
            let cfg = wd.json("config.json", &t.config);
            for (request, path) in &t.invalid {
                let input = wd.json("bad.json", request);
                let out = Run::new(&self.binary)
                    .args([
                        "validate",
                        "--connection",
                        &conn,
                        &t.activity,
                        "--config",
                        &cfg,
                        "--input",
                        &input,
                    ])
                    .output();
                if let Some(p) = Self::expect_config_error(
                    &out,
                    path,
                    &format!("`{}` request {request}", t.activity),
                ) {
                    problems.push(p);
                }
            }
        }
        if !self.targets.is_empty() && self.targets.iter().all(|t| t.invalid.is_empty()) {
            problems.push(
                "no invalid request fixture: add .invalid_request(…) after .target(…)".into(),
            );
        }
        problems
    }

    fn exit_codes(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        let cases: [(&[&str], i32, &str); 3] = [
            (&["no-such-command"], 2, "an unknown command"),
            (&["run"], 2, "a missing argument"),
            (
                &[
                    "run",
                    "no-such-activity",
                    "--connection",
                    "/nonexistent.json",
                ],
                2,
                "an unknown activity",
            ),
        ];
        for (args, code, what) in cases {
            let out = Run::new(&self.binary).args(args.iter().copied()).output();
            if out.code != Some(code) {
                problems.push(format!("{what} must exit {code}, got {:?}", out.code));
            }
            match out.error() {
                Some(e) if e["kind"].is_string() && e["message"].is_string() && e["retryable"].is_boolean() => {}
                _ => problems.push(format!(
                    "after {what} the last stderr line must be {{\"error\": {{\"kind\", \"message\", \"retryable\", \"path\"}}}}, got: {}",
                    out.last_line()
                )),
            }
            if !out.stdout.trim().is_empty() {
                problems.push(format!(
                    "{what} printed on stdout: {}",
                    out.stdout.lines().next().unwrap_or("")
                ));
            }
        }
        let out = Run::new(&self.binary).args(["spec"]).output();
        if out.code != Some(0) {
            problems.push(format!("`spec` must exit 0, got {:?}", out.code));
        }
        Ok(problems)
    }

    fn stdout_only_data(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        let wd = Workdir::new();
        let conn_file = wd.json("conn.json", conn);
        let trace = ["--log-level", "trace"];
        let mut problems = Vec::new();
        let mut documents = vec![
            (
                "spec",
                Run::new(&self.binary).args(trace).args(["spec"]).output(),
            ),
            (
                "validate",
                Run::new(&self.binary)
                    .args(trace)
                    .args(["validate", "--connection", &conn_file])
                    .output(),
            ),
        ];
        if let Some(live) = &self.live {
            let f = wd.json("live.json", &live());
            documents.push((
                "check",
                Run::new(&self.binary)
                    .args(trace)
                    .args(["check", "--connection", &f])
                    .timeout(Duration::from_secs(60))
                    .output(),
            ));
        }
        for (what, out) in documents {
            if serde_json::from_str::<Value>(&out.stdout).is_err() {
                problems.push(format!(
                    "`{what}` at trace level: stdout is not exactly one JSON document (first line: {:?}); send logs to stderr with tracing, never println!",
                    out.stdout.lines().next().unwrap_or("")
                ));
            }
        }
        for s in &self.sources {
            let case = (s.setup)();
            let c = wd.json("src-conn.json", &case.connection);
            let cfg = wd.json("src-config.json", &case.config);
            let out = Run::new(&self.binary)
                .args(trace)
                .args(["run", &s.activity, "--connection", &c, "--config", &cfg])
                .timeout(Duration::from_secs(120))
                .output();
            if let Some(bad) = out.stdout.lines().find(|l| {
                serde_json::from_str::<Value>(l)
                    .map(|v| !v.is_object())
                    .unwrap_or(true)
            }) {
                problems.push(format!("`run {}` at trace level wrote a line on stdout that is not a JSON record: {bad:?}", s.activity));
            }
        }
        Ok(problems)
    }
}

/// `value` with `pointer` set to `new`, creating objects on the way; `None` when the
/// path crosses something that is not an object.
fn with_value(value: &Value, pointer: &str, new: Value) -> Option<Value> {
    let mut out = value.clone();
    let mut node = &mut out;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = node.as_object_mut()?;
        if i + 1 == parts.len() {
            obj.insert((*part).to_owned(), new);
            return Some(out);
        }
        node = obj.entry((*part).to_owned()).or_insert_with(|| json!({}));
    }
    None
}

fn sort_keys(v: &Value) -> Value {
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

/// The JSON body of an insta snapshot file (after its `---` header).
fn snapshot_body(text: &str) -> Option<Value> {
    let rest = text.strip_prefix("---")?;
    let end = rest.find("\n---")?;
    serde_json::from_str(rest[end + 4..].trim()).ok()
}

/// Generates one `#[test]` per conformance check for the suite `$suite` (an
/// expression building a [`Suite`], evaluated once per test binary).
#[macro_export]
macro_rules! conformance_tests {
    ($suite:expr) => {
        fn __conformance_suite() -> &'static $crate::conformance::Suite {
            static SUITE: ::std::sync::OnceLock<$crate::conformance::Suite> = ::std::sync::OnceLock::new();
            SUITE.get_or_init(|| $suite)
        }
        $crate::conformance_tests!(@tests
            manifest_schemas_are_valid_json_schema_2020_12 => SchemasAreValid,
            activities_are_well_formed => ActivitiesAreWellFormed,
            every_property_has_a_description => PropertiesAreDescribed,
            manifest_is_deterministic => ManifestIsDeterministic,
            manifest_matches_snapshot => ManifestMatchesSnapshot,
            manifest_is_backward_compatible => BackwardCompatible,
            secret_looking_properties_are_secrets => SecretsAreMarked,
            canary_secret_never_leaks => CanaryNeverLeaks,
            valid_settings_are_accepted => ValidSettingsAreAccepted,
            invalid_settings_exit_2_with_their_path => InvalidSettingsAreRejected,
            unknown_fields_are_rejected => UnknownFieldsAreRejected,
            schema_defaults_deserialize => DefaultsDeserialize,
            check_of_unreachable_endpoint_fails_in_time => CheckOfUnreachableFailsInTime,
            check_of_live_endpoint_succeeds => CheckOfLiveEndpointSucceeds,
            records_match_their_schema => RecordsMatchSchema,
            acknowledged_records_do_not_come_again => AcknowledgedRecordsDoNotComeAgain,
            closed_output_commits_nothing => ClosedOutputCommitsNothing,
            responses_match_their_schema => ResponsesMatchSchema,
            invalid_requests_exit_2_with_their_path => InvalidRequestsAreRejected,
            exit_codes_and_error_line => ExitCodesAndErrorLine,
            stdout_carries_only_data => StdoutCarriesOnlyData,
        );
    };
    (@tests $($name:ident => $check:ident,)*) => {
        $(
            #[test]
            fn $name() {
                __conformance_suite().assert($crate::conformance::Check::$check);
            }
        )*
    };
}
