//! [`CheckReport`]: what the *Test* button verified, step by step.

use std::future::Future;
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorBody, Result};

/// The result of [`Connection::check`](crate::Connection::check): one step per thing
/// verified, in order, each timed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use connector_sdk::{CheckReport, Error};
///
/// let mut report = CheckReport::new();
/// let greeting = report.step("smtp.connect", async { Ok::<_, Error>("220 ready") }).await;
/// assert_eq!(greeting.unwrap(), "220 ready");
/// let _ = report
///     .step("smtp.auth", async { Err::<(), _>(Error::auth("535 5.7.8 bad credentials")) })
///     .await;
/// report.skip("imap.login", "not tried: an earlier step failed");
///
/// assert!(!report.ok());
/// assert_eq!(report.first_error().unwrap().kind(), connector_sdk::ErrorKind::Auth);
/// assert_eq!(report.steps.len(), 3);
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    /// The steps, in the order they ran.
    pub steps: Vec<CheckStep>,
}

/// One verified thing: `smtp.connect`, `imap.login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckStep {
    /// Dotted name: service, then step (`imap.tls`).
    pub name: String,
    /// `ok`, `failed` or `skipped`.
    pub status: StepStatus,
    /// How long the step took, in milliseconds.
    pub duration_ms: u64,
    /// What was found (a server greeting, a capability list) or why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why the step failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// The outcome of a check step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Verified.
    Ok,
    /// Tried and failed.
    Failed,
    /// Not tried, usually because an earlier step failed.
    Skipped,
}

/// What a step's future may return to describe its success.
pub trait StepDetail {
    /// A short description for the report, if any.
    fn detail(&self) -> Option<String>;
}

impl StepDetail for () {
    fn detail(&self) -> Option<String> {
        None
    }
}

impl StepDetail for String {
    fn detail(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl StepDetail for &str {
    fn detail(&self) -> Option<String> {
        Some((*self).to_owned())
    }
}

impl<T> StepDetail for (T, String) {
    fn detail(&self) -> Option<String> {
        Some(self.1.clone())
    }
}

impl CheckReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `fut` as the step `name`, recording its duration and outcome, and returns
    /// its result so later steps can use it.
    ///
    /// # Errors
    /// The step's own error, after recording it.
    pub async fn step<T, F>(&mut self, name: impl Into<String>, fut: F) -> Result<T>
    where
        T: StepDetail,
        F: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let result = fut.await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status, detail, error) = match &result {
            Ok(v) => (StepStatus::Ok, v.detail(), None),
            Err(e) => (StepStatus::Failed, None, Some(e.body())),
        };
        self.steps.push(CheckStep {
            name: name.into(),
            status,
            duration_ms,
            detail,
            error,
        });
        result
    }

    /// Records a step that was not tried.
    pub fn skip(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        self.steps.push(CheckStep {
            name: name.into(),
            status: StepStatus::Skipped,
            duration_ms: 0,
            detail: Some(reason.into()),
            error: None,
        });
    }

    /// Whether no step failed.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.status != StepStatus::Failed)
    }

    /// The error of the first failed step.
    pub fn first_error(&self) -> Option<Error> {
        self.steps
            .iter()
            .find_map(|s| s.error.clone())
            .map(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_step_value_gives_its_detail() {
        assert_eq!(().detail(), None);
        assert_eq!(
            String::from("220 ready").detail().as_deref(),
            Some("220 ready")
        );
        assert_eq!("IMAP4rev1".detail().as_deref(), Some("IMAP4rev1"));
        assert_eq!(
            (42_u8, String::from("3 folders")).detail().as_deref(),
            Some("3 folders")
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_steps_detail_is_what_its_future_returned() {
        let mut report = CheckReport::new();
        let _ = report.step("a", async { Ok::<_, Error>("greeting") }).await;
        let _ = report.step("b", async { Ok::<_, Error>(()) }).await;
        assert_eq!(report.steps[0].detail.as_deref(), Some("greeting"));
        assert_eq!(report.steps[1].detail, None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_report_is_ok_until_a_step_fails_and_keeps_the_first_error() {
        let mut report = CheckReport::new();
        assert!(report.ok() && report.first_error().is_none());
        report.skip("smtp", "no SMTP settings");
        assert!(report.ok(), "a skipped step is no failure");
        assert_eq!(report.steps[0].status, StepStatus::Skipped);
        assert_eq!(report.steps[0].detail.as_deref(), Some("no SMTP settings"));
        let _ = report.step("tcp", async { Ok::<_, Error>(()) }).await;
        assert!(report.ok());
        let _ = report
            .step("login", async { Err::<(), _>(Error::auth("refused")) })
            .await;
        let _ = report
            .step("select", async { Err::<(), _>(Error::protocol("later")) })
            .await;
        assert!(!report.ok());
        let first = report.first_error().expect("an error");
        assert_eq!(
            (first.kind(), first.message()),
            (crate::ErrorKind::Auth, "refused")
        );
        assert_eq!(report.steps.len(), 4);
    }
}
