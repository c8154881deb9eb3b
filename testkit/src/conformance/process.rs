//! Checks of the program as a process: exit codes and the JSON error line, stdout
//! carrying only data, and the canary secret never printed anywhere.

use std::time::Duration;

use serde_json::Value;

use super::Suite;
use super::runner::{Output, Run, Workdir};

impl Suite {
    pub(super) fn canary_check(&self) -> Result<Vec<String>, String> {
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
        let mut runs: Vec<(String, Output)> = Vec::new();
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

    pub(super) fn exit_codes(&self) -> Result<Vec<String>, String> {
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
        // Source-only flags on a target, and discovery, as the manifest says.
        let activities = self
            .spec()
            .ok()
            .and_then(|spec| spec["activities"].as_array().cloned())
            .unwrap_or_default();
        if let (Some(conn), Some(target)) = (
            &self.connection,
            activities.iter().find(|a| a["role"] == "target"),
        ) {
            let wd = super::runner::Workdir::new();
            let conn = wd.json("conn.json", conn);
            let name = target["name"].as_str().unwrap_or_default();
            let state = wd.path("state.json");
            let out = Run::new(&self.binary)
                .args(["run", name, "--connection", &conn, "--state", &state])
                .output();
            if let Some(p) = Self::expect_config_error(
                &out,
                "",
                &format!("`run {name} --state` (a target keeps no state)"),
            ) {
                problems.push(p);
            }
        }
        for activity in &activities {
            let name = activity["name"].as_str().unwrap_or_default();
            if activity["discovery"] == true {
                continue; // needs a live endpoint: `discover` runs in the live checks
            }
            let out = Run::new(&self.binary)
                .args(["discover", name, "--connection", "/nonexistent.json"])
                .output();
            if let Some(p) = Self::expect_config_error(
                &out,
                "",
                &format!("`discover {name}` (no discovery in the manifest)"),
            ) {
                problems.push(p);
            }
        }
        Ok(problems)
    }

    pub(super) fn stdout_only_data(&self) -> Result<Vec<String>, String> {
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
