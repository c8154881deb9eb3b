//! Building a binary of another package of the workspace from a test, where Cargo does
//! not set `CARGO_BIN_EXE_*` (it does only for the package's own binaries).

use std::path::PathBuf;
use std::process::Command;

/// Builds `bin` of `package` with the Cargo running the tests and returns its path.
///
/// # Panics
/// When the build fails, with Cargo's output.
pub fn binary(package: &str, bin: &str) -> PathBuf {
    build(package, "--bin", bin)
}

/// Builds the example `name` of `package` and returns its path.
///
/// # Panics
/// When the build fails, with Cargo's output.
pub fn example(package: &str, name: &str) -> PathBuf {
    build(package, "--example", name)
}

fn build(package: &str, kind: &str, name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            package,
            kind,
            name,
            "--message-format=json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
    assert!(
        out.status.success(),
        "building {package} {kind} {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no executable named {name}"))
}
