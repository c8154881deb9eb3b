//! Read Email against mail nobody here wrote: 263 messages from the public test suites of
//! five other MIME libraries (MimeKit, Ruby's mail, Node's mailparser, PHP's
//! php-mime-mail-parser, Apache James mime4j with Perl's MIME-tools messages; sources and
//! licences in `testsupport/corpus/public/SOURCES.md`), stored in a real Dovecot mailbox
//! and read by the binary as a user would. Each record is compared field by field with an
//! independent reading of the same bytes: Python's `email` package with RFC 8621's body
//! selection (`testsupport/corpus/reference.py`).
//!
//! The test fails when agreement falls under 99%, when a difference appears that is not
//! listed with its reason in `testsupport/corpus/known-differences.tsv`, or when a listed
//! one no longer occurs (the list must stay true). The figure and the list are in
//! `docs/src/read-fidelity.md`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Fixture, code, servers, stderr};
use serde_json::{Value, json};

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testsupport/corpus/public");
    let mut files = Vec::new();
    for source in std::fs::read_dir(&root).expect("corpus directory") {
        let source = source.expect("entry").path();
        if source.is_dir() {
            for f in std::fs::read_dir(&source).expect("source directory") {
                files.push(f.expect("entry").path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn public_corpus_agrees_with_an_independent_parser_on_at_least_99_percent_of_fields() {
    let files = corpus();
    assert!(
        files.len() >= 250,
        "corpus incomplete: {} files",
        files.len()
    );
    let fx = Fixture::new();
    // One at a time and in order: UID n is file n.
    for f in &files {
        let raw = std::fs::read(f).expect("read corpus file");
        servers()
            .deliver(&fx.user, "INBOX", &raw)
            .unwrap_or_else(|e| panic!("store {}: {e}", f.display()));
    }
    let out = fx.read(json!({
        "max_messages": 1000,
        "include_raw": true,
        "attachments": "content",
        "after_read": "none",
    }));
    // Exit 1 says some messages could not be read; they count as differences below.
    assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));

    let list = fx.dir.path().join("files.txt");
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    std::fs::write(&list, names.join("\n")).expect("write list");
    let records = fx.dir.path().join("records.jsonl");
    std::fs::write(&records, &out.stdout).expect("write records");
    let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("testsupport/corpus");
    let compared = Command::new("python3")
        .arg(support.join("reference.py"))
        .arg(&list)
        .arg(&records)
        .arg(support.join("known-differences.tsv"))
        .output()
        .expect("python3 runs (installed by scripts/install-deps.sh)");
    assert!(
        compared.status.success(),
        "reference.py failed: {}",
        String::from_utf8_lossy(&compared.stderr)
    );
    let report: Value = serde_json::from_slice(&compared.stdout).expect("report is JSON");
    // The whole report, for whoever looks into a difference.
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("public-corpus-report.json");
    std::fs::write(&kept, &compared.stdout).expect("write report");
    eprintln!("report: {}", kept.display());
    let agreement = report["agreement"].as_f64().expect("agreement");
    let differences = report["differences"].as_array().expect("differences");
    let unknown: Vec<&Value> = differences
        .iter()
        .filter(|d| d["known"].is_null())
        .collect();
    let shown = |ds: &[&Value]| {
        ds.iter()
            .map(|d| serde_json::to_string(d).expect("json"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    eprintln!(
        "public corpus: {} messages, {} read, {} of {} fields equal ({:.2}%), {} differences ({} not listed)",
        report["messages"],
        report["read"],
        report["equal"],
        report["compared"],
        agreement * 100.0,
        differences.len(),
        unknown.len()
    );
    assert!(
        unknown.is_empty(),
        "differences not in known-differences.tsv (fix them, or list each with its reason):\n{}",
        shown(&unknown)
    );
    let stale = report["known_not_seen"].as_array().expect("list");
    assert!(
        stale.is_empty(),
        "listed in known-differences.tsv but no longer different (remove them): {stale:?}"
    );
    assert!(
        agreement >= 0.99,
        "field agreement {:.2}% is under 99%",
        agreement * 100.0
    );
}
