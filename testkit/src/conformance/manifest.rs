//! Checks of the manifest as a whole: deterministic output, the committed snapshot,
//! and backward compatibility with it.

use std::path::PathBuf;

use serde_json::Value;

use super::runner::Run;
use super::{Suite, compat, snapshot_body, sort_keys};

impl Suite {
    pub(super) fn deterministic(&self) -> Vec<String> {
        let a = Run::new(&self.binary).args(["spec"]).output();
        let mut problems = Vec::new();
        // Several runs: two runs of a random order agree half the time.
        for _ in 0..5 {
            let b = Run::new(&self.binary).args(["spec"]).output();
            if a.stdout != b.stdout {
                problems.push("runs of `spec` printed different bytes; derive everything from types, with no clock, randomness or hash-map order".into());
                break;
            }
        }
        // The activities in the order the connector declares them, as `--help` lists them.
        let help = Run::new(&self.binary).args(["--help"]).output().stdout;
        if let (Ok(v), Some(listed)) = (
            serde_json::from_str::<Value>(&a.stdout),
            help.split_once("Activities:").map(|(_, rest)| rest),
        ) {
            let in_spec: Vec<&str> = v["activities"]
                .as_array()
                .map(|all| all.iter().filter_map(|x| x["name"].as_str()).collect())
                .unwrap_or_default();
            let in_help: Vec<&str> = listed
                .lines()
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            if !in_help.is_empty() && in_spec != in_help {
                problems.push(format!("the manifest lists the activities as {in_spec:?}, `--help` as {in_help:?}: both must follow the order the connector declares"));
            }
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

    pub(super) fn snapshot_path(&self) -> Result<PathBuf, String> {
        let dir = self.need(&self.snapshots, "snapshots")?;
        Ok(dir.join(format!("{}_manifest.snap", self.name)))
    }

    pub(super) fn snapshot(&self) -> Result<Vec<String>, String> {
        let spec = self.spec()?;
        let dir = self.need(&self.snapshots, "snapshots")?.clone();
        let text = serde_json::to_string_pretty(&spec).map_err(|e| e.to_string())?;
        let name = format!("{}_manifest", self.name);
        let path = self.snapshot_path()?;
        if !path.exists()
            && !matches!(
                std::env::var("INSTA_UPDATE").as_deref(),
                Ok("always" | "new")
            )
        {
            return Ok(vec![format!(
                "no manifest snapshot yet at {}: this is the connector's first run of the suite. Create it with `INSTA_UPDATE=always cargo test --test <this test file> manifest_matches_snapshot`, read it (it is the public contract: every setting, request and record), and commit it; from then on any change to it fails here until reviewed",
                path.display()
            )]);
        }
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

    pub(super) fn compatible(&self) -> Result<Vec<String>, String> {
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
        if compat::compat_level(nv) > compat::compat_level(ov) {
            return Ok(Vec::new());
        }
        let mut problems = Vec::new();
        for c in compat::breaking_changes(&old, &new) {
            let allowed = self
                .allowed_breaks
                .iter()
                .find(|(path, _)| c.path.starts_with(path.as_str()));
            match allowed {
                // Shown in the test's output, so a reviewer sees what was let through.
                Some((_, reason)) => eprintln!("allowed break: {c} — {reason}"),
                None => problems.push(format!("{c} — breaks users of version {ov}; keep it compatible or raise the version so Cargo sees a breaking change (1.x to 2.0, 0.1 to 0.2; now {nv}), or allow it with Suite::allow_break and a reason")),
            }
        }
        Ok(problems)
    }
}
