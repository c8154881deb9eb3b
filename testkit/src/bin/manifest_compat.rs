//! `manifest-compat OLD.json NEW.json`: compares two manifests (`<connector> spec`) by
//! JSON Schema semantics, prints each incompatible change with the rule it breaks, and
//! exits 1 when there is one, 0 when every stored setting and request is still
//! accepted and every consumer of records and results can still parse them. For a
//! platform's own CI, before it rolls out a new connector version.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [old, new] = args.as_slice() else {
        eprintln!("usage: manifest-compat OLD.json NEW.json");
        return ExitCode::from(2);
    };
    let read = |path: &str| -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
    };
    let (old, new) = match (read(old), read(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("manifest-compat: {e}");
            return ExitCode::from(2);
        }
    };
    let changes = connector_testkit::conformance::compat::breaking_changes(&old, &new);
    for c in &changes {
        println!("{c}");
    }
    if changes.is_empty() {
        println!(
            "compatible: {} {} accepts and produces what {} did",
            new["name"].as_str().unwrap_or("?"),
            new["version"].as_str().unwrap_or("?"),
            old["version"].as_str().unwrap_or("?")
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("{} incompatible change(s)", changes.len());
        ExitCode::from(1)
    }
}
