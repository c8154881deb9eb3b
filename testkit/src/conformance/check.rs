//! Checks of the `check` command: an unreachable endpoint fails in time, a live one
//! succeeds.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::Suite;
use super::runner::{Run, Workdir};

impl Suite {
    /// Runs `check` with `settings` and the problems of a run that took longer than
    /// `timeout` plus 2 s (`what` names the endpoint in them); returns its output.
    pub(super) fn timed_check(
        &self,
        settings: &Value,
        timeout: Duration,
        what: &str,
        problems: &mut Vec<String>,
    ) -> super::runner::Output {
        let wd = Workdir::new();
        let f = wd.json("endpoint.json", settings);
        let limit = timeout + Duration::from_secs(2);
        let started = Instant::now();
        let out = Run::new(&self.binary)
            .args(["check", "--connection", &f])
            .timeout(limit + Duration::from_secs(10))
            .output();
        let took = started.elapsed();
        if took > limit {
            problems.push(format!("`check` against {what} took {took:?}; it must give up within the configured timeout ({timeout:?}) plus 2 s"));
        }
        out
    }

    pub(super) fn unreachable_check(&self) -> Result<Vec<String>, String> {
        let (settings, timeout) = self.need(&self.unreachable, "unreachable")?;
        let mut problems = Vec::new();
        let out = self.timed_check(settings, *timeout, "an unreachable endpoint", &mut problems);
        if out.code != Some(1) {
            problems.push(format!(
                "`check` against an unreachable endpoint must exit 1, got {:?}",
                out.code
            ));
        }
        match out.error() {
            Some(e) if (e["kind"] == "connect" || e["kind"] == "timeout") && e["retryable"] != true => problems.push(format!("an unreachable endpoint is worth retrying later, but the error says `retryable: false`: {e}")),
            Some(e) if e["kind"] == "connect" || e["kind"] == "timeout" => {}
            Some(e) => problems.push(format!("`check` against an unreachable endpoint failed as {} instead of connect or timeout", e["kind"])),
            None => problems.push(format!("no JSON error line after a failed check: {}", out.last_line())),
        }
        Ok(problems)
    }

    pub(super) fn live_check(&self) -> Result<Vec<String>, String> {
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
        // Every activity with discovery lists its objects on the live endpoint.
        let spec = self.spec()?;
        for activity in spec["activities"].as_array().into_iter().flatten() {
            if activity["discovery"] != true {
                continue;
            }
            let name = activity["name"].as_str().unwrap_or_default();
            let out = Run::new(&self.binary)
                .args(["discover", name, "--connection", &f])
                .timeout(Duration::from_secs(60))
                .output();
            match serde_json::from_str::<Value>(&out.stdout) {
                Ok(v) if out.code == Some(0) && v["objects"].is_array() => {}
                _ => problems.push(format!(
                    "`discover {name}` (discovery in the manifest) must list objects on the live endpoint: exit {:?}, {}",
                    out.code,
                    out.last_line()
                )),
            }
        }
        Ok(problems)
    }
}
