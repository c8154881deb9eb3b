//! Checks of the manifest as a whole: deterministic output, the committed snapshot,
//! and backward compatibility with the published manifest.

use std::path::PathBuf;

use serde_json::Value;

use super::runner::Run;
use super::{Suite, compat, sort_keys};

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

    /// Where the manifest users have is kept: the one of the last published version,
    /// beside the snapshot. Unlike the snapshot it is never rewritten to match the
    /// code (only when the version is raised past a break), so accepting a snapshot
    /// cannot silence a break.
    pub(super) fn published_path(&self) -> Result<PathBuf, String> {
        let dir = self.need(&self.snapshots, "snapshots")?;
        Ok(dir.join(format!("{}_manifest.published.json", self.name)))
    }

    pub(super) fn compatible(&self) -> Result<Vec<String>, String> {
        let path = self.published_path()?;
        let new = self.spec()?;
        let update = std::env::var("INSTA_UPDATE").ok();
        let write = |why: &str| -> Result<(), String> {
            let text = serde_json::to_string_pretty(&new).map_err(|e| e.to_string())? + "\n";
            std::fs::write(&path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!("{}: {why}; review and commit it", path.display());
            Ok(())
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            if matches!(update.as_deref(), Some("always" | "new")) {
                write("written: the manifest users have from now on")?;
                return Ok(Vec::new());
            }
            return Ok(vec![format!(
                "no published manifest at {}: the manifest users have, which every change is checked against. Create it from this version with `INSTA_UPDATE=always cargo test --test <this test file> manifest_is_backward_compatible` and commit it; it changes only when the version is raised past a breaking change",
                path.display()
            )]);
        };
        let old: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a manifest: {e}", path.display()))?;
        let (ov, nv) = (
            old["version"].as_str().unwrap_or("0"),
            new["version"].as_str().unwrap_or("0"),
        );
        if compat::compat_level(nv) > compat::compat_level(ov) {
            // A breaking release: what users had no longer binds it.
            if update.as_deref() == Some("always") {
                write(&format!("replaced: version {nv} is the one users have now"))?;
            } else {
                eprintln!(
                    "version {nv} may break users of {ov}; once it is published, refresh {} with INSTA_UPDATE=always",
                    path.display()
                );
            }
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
