//! Checks of sources: records match their schema, acknowledged records do not come
//! again, a closed output commits nothing unwritten.

use std::time::Duration;

use serde_json::Value;

use super::runner::{Output, Run, Workdir};
use super::{SourceCase, SourceFixture, Suite};

impl Suite {
    pub(super) fn activity_schema(&self, activity: &str, key: &str) -> Result<Value, String> {
        let spec = self.spec()?;
        spec["activities"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"] == activity)
            .and_then(|a| a.get(key).cloned())
            .ok_or_else(|| format!("the manifest has no {key} schema for `{activity}`"))
    }

    pub(super) fn run_source(
        &self,
        wd: &Workdir,
        case: &SourceCase,
        activity: &str,
        tag: &str,
    ) -> Output {
        let conn = wd.json(&format!("{tag}-conn.json"), &case.connection);
        let cfg = wd.json(&format!("{tag}-config.json"), &case.config);
        Run::new(&self.binary)
            .args(["run", activity, "--connection", &conn, "--config", &cfg])
            .args(self.state_args(wd, activity))
            .timeout(Duration::from_secs(120))
            .output()
    }

    /// For a source that keeps state (its manifest has a `state` schema): `--state` with
    /// one file per work directory, so each run goes on from the last, as a platform
    /// would run it.
    pub(super) fn state_args(&self, wd: &Workdir, activity: &str) -> Vec<String> {
        let keeps_state = self.spec().ok().is_some_and(|spec| {
            spec["activities"].as_array().is_some_and(|all| {
                all.iter()
                    .any(|a| a["name"] == activity && a.get("state").is_some_and(|s| !s.is_null()))
            })
        });
        if keeps_state {
            vec!["--state".into(), wd.path(&format!("{activity}.state.json"))]
        } else {
            Vec::new()
        }
    }

    /// The source fixtures; none needed when the connector has no source.
    pub(super) fn need_sources(&self) -> Result<&[SourceFixture], String> {
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

    pub(super) fn records_match(&self) -> Result<Vec<String>, String> {
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
            // State lines (`{"$state": …}`) are checked against the state schema;
            // the rest are records.
            let (states, lines): (Vec<&str>, Vec<&str>) = out
                .stdout
                .lines()
                .partition(|l| l.starts_with("{\"$state\""));
            if !states.is_empty() {
                let schema = self.activity_schema(&s.activity, "state")?;
                let state_validator = jsonschema::validator_for(&schema)
                    .map_err(|e| format!("state schema of `{}`: {e}", s.activity))?;
                for line in &states {
                    let state = serde_json::from_str::<Value>(line)
                        .map(|v| v["$state"].clone())
                        .unwrap_or(Value::Null);
                    if let Some(e) = state_validator.iter_errors(&state).next() {
                        problems.push(format!(
                            "a state line of `{}` breaks its state schema at {}: {e}",
                            s.activity,
                            e.instance_path()
                        ));
                    }
                }
            }
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

    /// The identity (at `pointer`) of each record a run printed; state lines are not
    /// records.
    pub(super) fn keys(stdout: &str, pointer: &str) -> Vec<String> {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r.get("$state").is_none())
            .map(|r| r.pointer(pointer).map(Value::to_string).unwrap_or_default())
            .collect()
    }

    pub(super) fn acknowledged(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        for s in self.need_sources()? {
            let case = (s.setup)();
            let wd = Workdir::new();
            let first = self.run_source(&wd, &case, &s.activity, "first");
            let delivered = Self::keys(&first.stdout, &s.key);
            if first.code != Some(0) || delivered.len() != case.records {
                problems.push(format!("the first run of `{}` should deliver {} records and exit 0; it delivered {} and exited {:?}: {}", s.activity, case.records, delivered.len(), first.code, first.last_line()));
                continue;
            }
            let again = Self::keys(
                &self.run_source(&wd, &case, &s.activity, "second").stdout,
                &s.key,
            );
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

    pub(super) fn closed_output(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        for s in self.need_sources()? {
            let case = (s.setup)();
            let wd = Workdir::new();
            let conn = wd.json("closed-conn.json", &case.connection);
            let cfg = wd.json("closed-config.json", &case.config);
            // stdout is a pipe whose reader is already gone: every write fails.
            let out = Run::new(&self.binary)
                .args(["run", &s.activity, "--connection", &conn, "--config", &cfg])
                .args(self.state_args(&wd, &s.activity))
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
            let got = Self::keys(&next.stdout, &s.key).len();
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
}
