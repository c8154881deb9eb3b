//! Checks of targets: each result line matches its schema and every request is
//! answered once, by index; invalid requests exit 2 with their path.

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
            let requests = match &t.request {
                Value::Array(items) => items.len(),
                _ => 1,
            };
            let mut answered = vec![0_usize; requests];
            for (n, line) in out.stdout.lines().enumerate() {
                let result = match serde_json::from_str::<Value>(line) {
                    Ok(result) => result,
                    Err(e) => {
                        problems.push(format!(
                            "line {} of `{}`'s output is not one JSON result: {e}",
                            n + 1,
                            t.activity
                        ));
                        continue;
                    }
                };
                for e in validator.iter_errors(&result) {
                    problems.push(format!(
                        "a result of `{}` breaks its schema at {}: {e}",
                        t.activity,
                        e.instance_path()
                    ));
                }
                match result["index"]
                    .as_u64()
                    .and_then(|i| answered.get_mut(i as usize))
                {
                    Some(count) => *count += 1,
                    None => problems.push(format!(
                        "a result of `{}` has no `index` of a request in the input: {}",
                        t.activity, result["index"]
                    )),
                }
            }
            for (i, count) in answered.iter().enumerate() {
                if *count != 1 {
                    problems.push(format!(
                        "request {i} of `{}` got {count} result lines; each request gets exactly one",
                        t.activity
                    ));
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
