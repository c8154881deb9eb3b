//! The suite has teeth: for every check, a deliberately broken connector fails it with
//! the expected message, and the intact one passes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use connector_testkit::conformance::{Check, SourceCase, Suite};
use serde_json::json;

const CANARY: &str = "canary-teeth-5f1e";

fn fixture_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        connector_testkit::workspace::example("connector-testkit", "broken_connector")
    })
}

/// A program that runs the fixture connector with `BROKEN=<what>`.
fn broken(what: &str, dir: &Path) -> PathBuf {
    let path = dir.join(format!("broken-{what}"));
    let script = format!(
        "#!/bin/sh\nBROKEN={what} exec {} \"$@\"\n",
        fixture_binary().display()
    );
    std::fs::write(&path, script).expect("write wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// What `spec` prints, run through the wrapper (waiting out "Text file busy": the
/// wrapper was just written, and another test may be forking).
fn spec_of(program: PathBuf) -> std::process::Output {
    connector_testkit::cli::output_within(
        std::process::Command::new(program).arg("spec"),
        None,
        std::time::Duration::from_secs(30),
    )
}

fn numbers_case() -> SourceCase {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("numbers.txt"), "10\n20\n30\n40\n").expect("write");
    SourceCase {
        connection: json!({"root": dir.path(), "password": CANARY}),
        config: json!({"delay_ms": 150}),
        records: 4,
        guard: Box::new(dir),
    }
}

/// The suite over the fixture with `what` broken ("" for intact), snapshots in `snaps`.
fn suite(what: &str, work: &Path, snaps: &Path) -> Suite {
    let root = work.join("root");
    std::fs::create_dir_all(&root).expect("root");
    let conn = json!({"root": root, "password": CANARY});
    let live = conn.clone();
    let target_conn = conn.clone();
    Suite::new(broken(what, work), "fixture")
        .snapshots(snaps)
        .connection(conn)
        .canary(CANARY)
        .invalid_connection(json!({"root": "relative/dir", "password": "x"}), "/root")
        .config("numbers", json!({}))
        .invalid_config("numbers", json!({"limit": 0}), "/limit")
        .wrong_credentials({
            let root = root.clone();
            move || json!({"root": root, "password": "wrong"})
        })
        .not_applicable(
            Check::SilentServerTimesOut,
            "it reads a local directory: there is no server to go silent",
        )
        .config("echo", json!({"prefix": "> "}))
        .unreachable(
            json!({"root": "/nonexistent/teeth", "password": "x"}),
            Duration::from_secs(1),
        )
        .live(move || live.clone())
        .source("numbers", "/line", numbers_case)
        .target(
            "echo",
            json!({}),
            json!([{"text": "a"}, {"text": "b"}]),
            move || target_conn.clone(),
        )
        .invalid_request(json!({"text": "a", "txt": "b"}), "/txt")
}

/// Runs `check` on the fixture broken by `what`; returns the failure's problems.
fn fails(what: &str, check: Check) -> Vec<String> {
    let work = tempfile::tempdir().expect("dir");
    let snaps = work.path().join("snaps");
    match suite(what, work.path(), &snaps).check(check) {
        Ok(()) => panic!("BROKEN={what} passed {check:?}: the check has no teeth"),
        Err(f) => f.problems,
    }
}

fn assert_mentions(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:#?}"
    );
}

#[test]
fn the_intact_fixture_passes_every_check() {
    let work = tempfile::tempdir().expect("dir");
    let snaps = work.path().join("snaps");
    // First record the snapshot, as a developer accepting it would.
    let s = suite("", work.path(), &snaps);
    std::fs::create_dir_all(&snaps).expect("snaps");
    let spec = spec_of(broken("", work.path()));
    std::fs::write(
        snaps.join("fixture_manifest.snap"),
        format!(
            "---\nsource: testkit/src/conformance/mod.rs\n---\n{}",
            String::from_utf8_lossy(&spec.stdout).trim_end()
        ),
    )
    .expect("write snapshot");
    // And the manifest users have: this one.
    std::fs::write(snaps.join("fixture_manifest.published.json"), &spec.stdout)
        .expect("write published manifest");
    for check in Check::ALL {
        if let Err(f) = s.check(check) {
            panic!("the intact fixture fails: {f}");
        }
    }
}

#[test]
fn invalid_schema_fails_schemas_are_valid() {
    assert_mentions(
        &fails("invalid_schema", Check::SchemasAreValid),
        "activities/echo/request",
    );
}

#[test]
fn a_removed_activity_fails_backward_compatibility() {
    let work = tempfile::tempdir().expect("dir");
    let snaps = work.path().join("snaps");
    std::fs::create_dir_all(&snaps).expect("snaps");
    let spec = spec_of(broken("", work.path()));
    std::fs::write(snaps.join("fixture_manifest.published.json"), &spec.stdout).expect("published");
    for (what, needle) in [
        (
            "removed_activity",
            "activities/echo: the activity was removed",
        ),
        ("narrowed", "no longer accepts null"),
    ] {
        let problems = suite(what, work.path(), &snaps)
            .check(Check::BackwardCompatible)
            .expect_err("must fail")
            .problems;
        assert_mentions(&problems, needle);
        assert_mentions(
            &problems,
            "raise the version so Cargo sees a breaking change",
        );
    }
}

#[test]
fn accepting_the_snapshot_does_not_silence_a_break() {
    // The intact manifest is what users have; the narrowed one is in the snapshot, as
    // after `cargo insta accept`: the break is still a failure.
    let work = tempfile::tempdir().expect("dir");
    let snaps = work.path().join("snaps");
    std::fs::create_dir_all(&snaps).expect("snaps");
    let spec = |what: &str| spec_of(broken(what, work.path())).stdout;
    std::fs::write(snaps.join("fixture_manifest.published.json"), spec("")).expect("published");
    std::fs::write(
        snaps.join("fixture_manifest.snap"),
        format!(
            "---\nsource: x\n---\n{}",
            String::from_utf8_lossy(&spec("narrowed")).trim_end()
        ),
    )
    .expect("snap");
    let narrowed = suite("narrowed", work.path(), &snaps);
    assert!(
        narrowed.check(Check::ManifestMatchesSnapshot).is_ok(),
        "the snapshot was accepted"
    );
    let problems = narrowed
        .check(Check::BackwardCompatible)
        .expect_err("a break against the published manifest")
        .problems;
    assert_mentions(&problems, "no longer accepts null");
    // Allowed on purpose, with a reason: it passes.
    let allowed = suite("narrowed", work.path(), &snaps)
        .allow_break("activities/echo/config", "every user agreed to it");
    assert!(allowed.check(Check::BackwardCompatible).is_ok());
}

#[test]
fn a_first_run_without_a_published_manifest_says_how_to_make_one() {
    let problems = fails("", Check::BackwardCompatible);
    assert_mentions(&problems, "no published manifest");
    assert_mentions(&problems, "INSTA_UPDATE=always");
}

#[test]
fn a_changed_manifest_fails_the_snapshot() {
    let work = tempfile::tempdir().expect("dir");
    let snaps = work.path().join("snaps");
    std::fs::create_dir_all(&snaps).expect("snaps");
    std::fs::write(
        snaps.join("fixture_manifest.snap"),
        "---\nsource: x\n---\n{\"name\": \"old\"}\n",
    )
    .expect("snap");
    let problems = suite("", work.path(), &snaps)
        .check(Check::ManifestMatchesSnapshot)
        .expect_err("must fail")
        .problems;
    assert_mentions(&problems, "cargo insta review");
}

#[test]
fn a_removed_activity_list_entry_fails_well_formedness_via_fake() {
    // A fake connector (a shell script) whose manifest repeats a name and lacks a role.
    let work = tempfile::tempdir().expect("dir");
    let path = work.path().join("fake");
    let manifest = r#"{"name":"fake","version":"1.0.0","description":"d","connection":{},"activities":[{"name":"a","role":"source","description":"x","config":{},"record":{},"discovery":false},{"name":"a","description":"y","config":{},"discovery":false}]}"#;
    std::fs::write(&path, format!("#!/bin/sh\necho '{manifest}'\n")).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let problems = Suite::new(&path, "fake")
        .check(Check::ActivitiesAreWellFormed)
        .expect_err("must fail")
        .problems;
    assert_mentions(&problems, "`a` is used twice");
    assert_mentions(&problems, "neither \"source\" nor \"target\"");
}

#[test]
fn an_undocumented_property_fails_descriptions() {
    assert_mentions(
        &fails("no_docs", Check::PropertiesAreDescribed),
        "`text` has no description",
    );
}

#[test]
fn a_clock_in_the_manifest_fails_determinism() {
    assert_mentions(
        &fails("nondeterministic", Check::ManifestIsDeterministic),
        "different bytes",
    );
}

#[test]
fn a_plain_string_password_fails_secrets_and_leaks_the_canary() {
    assert_mentions(
        &fails("plain_password", Check::SecretsAreMarked),
        "`password` looks like a secret",
    );
    assert_mentions(
        &fails("plain_password", Check::CanaryNeverLeaks),
        "printed the canary secret",
    );
}

#[test]
fn refusing_valid_settings_fails_acceptance() {
    assert_mentions(
        &fails("refuse_valid", Check::ValidSettingsAreAccepted),
        "valid connection settings were refused",
    );
}

#[test]
fn accepting_invalid_settings_fails_rejection() {
    assert_mentions(
        &fails("accept_relative", Check::InvalidSettingsAreRejected),
        "expected exit 2",
    );
}

#[test]
fn accepting_unknown_fields_fails() {
    assert_mentions(
        &fails("allow_unknown", Check::UnknownFieldsAreRejected),
        "unknown field",
    );
}

#[test]
fn a_default_serde_refuses_fails_defaults() {
    assert_mentions(
        &fails("bad_default", Check::DefaultsDeserialize),
        "connection/retries: the schema's default 1 is refused",
    );
}

#[test]
fn a_slow_check_fails_the_unreachable_timing() {
    assert_mentions(
        &fails("slow_check", Check::CheckOfUnreachableFailsInTime),
        "must give up within",
    );
}

#[test]
fn a_failing_check_fails_the_live_check() {
    assert_mentions(
        &fails("failing_check", Check::CheckOfLiveEndpointSucceeds),
        "against the live endpoint failed",
    );
}

#[test]
fn a_record_off_its_schema_fails_records_match() {
    assert_mentions(
        &fails("bad_record", Check::RecordsMatchSchema),
        "breaks its schema at /n",
    );
}

#[test]
fn never_committing_fails_acknowledgement() {
    assert_mentions(
        &fails("never_commit", Check::AcknowledgedRecordsDoNotComeAgain),
        "acknowledged records came again",
    );
}

#[test]
fn committing_before_delivery_fails_the_closed_output_check() {
    assert_mentions(
        &fails("commit_in_read", Check::ClosedOutputCommitsNothing),
        "committed without being delivered",
    );
}

#[test]
fn a_response_off_its_schema_fails_responses_match() {
    assert_mentions(
        &fails("bad_response", Check::ResponsesMatchSchema),
        "breaks its schema at /echoed",
    );
}

#[test]
fn a_request_without_a_result_line_fails_response_checking() {
    assert_mentions(
        &fails("lose_result", Check::ResponsesMatchSchema),
        "request 1 of `echo` got 0 result lines",
    );
}

#[test]
fn accepting_a_bad_request_fails_request_rejection() {
    assert_mentions(
        &fails("accept_anything", Check::InvalidRequestsAreRejected),
        "expected exit 2",
    );
}

#[test]
fn a_log_line_on_stdout_fails_stdout_purity() {
    assert_mentions(
        &fails("stdout_log", Check::StdoutCarriesOnlyData),
        "not a JSON record",
    );
}

#[test]
fn wrong_exit_codes_and_no_error_line_fail_the_protocol_check() {
    let work = tempfile::tempdir().expect("dir");
    let path = work.path().join("fake");
    // Answers everything with a message on stdout and exit 0.
    std::fs::write(&path, "#!/bin/sh\necho \"usage: fake COMMAND\"\nexit 0\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let problems = Suite::new(&path, "fake")
        .check(Check::ExitCodesAndErrorLine)
        .expect_err("must fail")
        .problems;
    assert_mentions(&problems, "must exit 2");
    assert_mentions(&problems, "the last stderr line must be");
    assert_mentions(&problems, "printed on stdout");
}

#[test]
fn a_missing_fixture_is_reported_with_how_to_add_it() {
    let work = tempfile::tempdir().expect("dir");
    let problems = Suite::new(broken("", work.path()), "fixture")
        .check(Check::ValidSettingsAreAccepted)
        .expect_err("must fail")
        .problems;
    assert_mentions(&problems, "add .connection(…) to the suite");
}

#[test]
fn a_source_validation_that_accepts_anything_fails_the_invalid_config_check() {
    assert_mentions(
        &fails("no_validate", Check::InvalidConfigIsRejected),
        "expected exit 2",
    );
}

#[test]
fn a_retryable_auth_refusal_fails_the_wrong_credentials_check() {
    assert_mentions(
        &fails("retry_auth", Check::WrongCredentialsAreAuth),
        "not retryable",
    );
}

#[test]
fn committing_more_than_was_acknowledged_fails_the_signal_check() {
    assert_mentions(
        &fails("commit_all", Check::SignalMidRunCommitsWhatWasWritten),
        "lost",
    );
}

#[test]
fn a_bound_the_schema_shows_but_nothing_enforces_fails_the_generated_input_check() {
    // `unchecked_bound`: the echo settings' schema says `maxLength: 10`, but an invalid
    // regex beside it keeps the schema from compiling, so nothing enforces the bound.
    assert_mentions(
        &fails("unchecked_bound", Check::GeneratedInvalidInputIsRejected),
        "longer than maxLength 10",
    );
}

#[test]
fn a_first_run_without_a_snapshot_says_how_to_make_one() {
    let problems = fails("", Check::ManifestMatchesSnapshot);
    assert_mentions(&problems, "no manifest snapshot yet");
    assert_mentions(&problems, "INSTA_UPDATE=always");
}
