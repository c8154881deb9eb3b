//! The list of checks (one test each), how a failure reads, and the macro that turns
//! a [`Suite`](super::Suite) into tests.

use std::fmt;

/// Every check, by the name of the test it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// Every schema in the manifest is valid JSON Schema 2020-12.
    SchemasAreValid,
    /// Activities have unique names, a role, and the schemas their role needs.
    ActivitiesAreWellFormed,
    /// Every property has a description.
    PropertiesAreDescribed,
    /// `spec` prints the same bytes every time.
    ManifestIsDeterministic,
    /// The manifest matches the committed insta snapshot.
    ManifestMatchesSnapshot,
    /// No breaking change from the published manifest (`<name>_manifest.published.json`
    /// beside the snapshot) without a breaking version bump, or an allowed break.
    BackwardCompatible,
    /// Every property whose name suggests a secret is a `Secret`.
    SecretsAreMarked,
    /// The canary secret never appears in any output, log or error.
    CanaryNeverLeaks,
    /// Valid settings and configs are accepted.
    ValidSettingsAreAccepted,
    /// Invalid settings exit 2 with the expected JSON path.
    InvalidSettingsAreRejected,
    /// Unknown fields are refused, in the connection and every activity config.
    UnknownFieldsAreRejected,
    /// Every default in the schemas deserializes (schema and serde agree).
    DefaultsDeserialize,
    /// `check` against an unreachable endpoint fails as connect or timeout, in time.
    CheckOfUnreachableFailsInTime,
    /// `check` against the live endpoint succeeds.
    CheckOfLiveEndpointSucceeds,
    /// Every source record validates against the record schema.
    RecordsMatchSchema,
    /// Acknowledged records do not come again.
    AcknowledgedRecordsDoNotComeAgain,
    /// A closed output commits nothing, and what was not acknowledged comes again.
    ClosedOutputCommitsNothing,
    /// Every target response validates against the response schema.
    ResponsesMatchSchema,
    /// A request that breaks the schema exits 2 with its path.
    InvalidRequestsAreRejected,
    /// Exit codes and the JSON error line follow the host protocol.
    ExitCodesAndErrorLine,
    /// stdout carries nothing but data, even at trace level.
    StdoutCarriesOnlyData,
    /// A value just outside each constraint of the schemas exits 2 with its path.
    GeneratedInvalidInputIsRejected,
    /// A config only the connector's own validation refuses exits 2, for `validate`
    /// and `run` alike.
    InvalidConfigIsRejected,
    /// `check` against a server that never answers is a retryable timeout, in time.
    SilentServerTimesOut,
    /// `check` with refused credentials is `auth`, not retryable.
    WrongCredentialsAreAuth,
    /// SIGTERM mid-run: what was written is what was committed.
    SignalMidRunCommitsWhatWasWritten,
    /// Two inputs on stdin are refused.
    TwoStdinInputsAreRefused,
}

impl Check {
    /// Every check, in the order the suite runs them.
    pub const ALL: [Check; 27] = [
        Check::SchemasAreValid,
        Check::ActivitiesAreWellFormed,
        Check::PropertiesAreDescribed,
        Check::ManifestIsDeterministic,
        Check::ManifestMatchesSnapshot,
        Check::BackwardCompatible,
        Check::SecretsAreMarked,
        Check::CanaryNeverLeaks,
        Check::ValidSettingsAreAccepted,
        Check::InvalidSettingsAreRejected,
        Check::UnknownFieldsAreRejected,
        Check::DefaultsDeserialize,
        Check::CheckOfUnreachableFailsInTime,
        Check::CheckOfLiveEndpointSucceeds,
        Check::RecordsMatchSchema,
        Check::AcknowledgedRecordsDoNotComeAgain,
        Check::ClosedOutputCommitsNothing,
        Check::ResponsesMatchSchema,
        Check::InvalidRequestsAreRejected,
        Check::ExitCodesAndErrorLine,
        Check::StdoutCarriesOnlyData,
        Check::GeneratedInvalidInputIsRejected,
        Check::InvalidConfigIsRejected,
        Check::SilentServerTimesOut,
        Check::WrongCredentialsAreAuth,
        Check::SignalMidRunCommitsWhatWasWritten,
        Check::TwoStdinInputsAreRefused,
    ];
}

/// Why a check failed: every problem found, each saying what, where and how to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check.
    pub check: Check,
    /// The problems.
    pub problems: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance check {:?} failed:", self.check)?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Generates one `#[test]` per conformance check for the suite `$suite` (an
/// expression building a [`Suite`](crate::conformance::Suite), evaluated once per test binary).
#[macro_export]
macro_rules! conformance_tests {
    ($suite:expr) => {
        fn __conformance_suite() -> &'static $crate::conformance::Suite {
            static SUITE: ::std::sync::OnceLock<$crate::conformance::Suite> = ::std::sync::OnceLock::new();
            SUITE.get_or_init(|| $suite)
        }
        $crate::conformance_tests!(@tests
            manifest_schemas_are_valid_json_schema_2020_12 => SchemasAreValid,
            activities_are_well_formed => ActivitiesAreWellFormed,
            every_property_has_a_description => PropertiesAreDescribed,
            manifest_is_deterministic => ManifestIsDeterministic,
            manifest_matches_snapshot => ManifestMatchesSnapshot,
            manifest_is_backward_compatible => BackwardCompatible,
            secret_looking_properties_are_secrets => SecretsAreMarked,
            canary_secret_never_leaks => CanaryNeverLeaks,
            valid_settings_are_accepted => ValidSettingsAreAccepted,
            invalid_settings_exit_2_with_their_path => InvalidSettingsAreRejected,
            unknown_fields_are_rejected => UnknownFieldsAreRejected,
            schema_defaults_deserialize => DefaultsDeserialize,
            check_of_unreachable_endpoint_fails_in_time => CheckOfUnreachableFailsInTime,
            check_of_live_endpoint_succeeds => CheckOfLiveEndpointSucceeds,
            records_match_their_schema => RecordsMatchSchema,
            acknowledged_records_do_not_come_again => AcknowledgedRecordsDoNotComeAgain,
            closed_output_commits_nothing => ClosedOutputCommitsNothing,
            responses_match_their_schema => ResponsesMatchSchema,
            invalid_requests_exit_2_with_their_path => InvalidRequestsAreRejected,
            exit_codes_and_error_line => ExitCodesAndErrorLine,
            stdout_carries_only_data => StdoutCarriesOnlyData,
            generated_invalid_input_exits_2_with_its_path => GeneratedInvalidInputIsRejected,
            invalid_activity_config_exits_2_before_anything_runs => InvalidConfigIsRejected,
            check_of_a_silent_server_is_a_retryable_timeout => SilentServerTimesOut,
            wrong_credentials_are_auth_not_retryable => WrongCredentialsAreAuth,
            sigterm_mid_run_commits_exactly_what_was_written => SignalMidRunCommitsWhatWasWritten,
            two_inputs_on_stdin_are_refused => TwoStdinInputsAreRefused,
        );
    };
    (@tests $($name:ident => $check:ident,)*) => {
        $(
            #[test]
            fn $name() {
                __conformance_suite().assert($crate::conformance::Check::$check);
            }
        )*
    };
}
