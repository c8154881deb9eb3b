//! Checks of targets: responses match their schema, invalid requests exit 2 with
//! their path.

use std::time::Duration;

use serde_json::Value;

use super::runner::{Run, Workdir};
use super::{Suite, TargetFixture};

impl Suite {
    /// The target fixtures; none needed when the connector has no target.
    pub(super) fn need_targets(&self) -> Result<&[TargetFixture], String> {
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

    pub(super) fn responses_match(&self) -> Result<Vec<String>, String> {
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

    pub(super) fn invalid_requests(&self) -> Vec<String> {
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
}
