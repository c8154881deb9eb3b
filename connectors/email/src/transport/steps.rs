//! [`Steps`]: the steps of opening a session, recorded in a check report when there is
//! one. Opening a session for work and checking it for the *Test* button run the same
//! code; only the report differs.

use std::future::Future;

use connector_sdk::{CheckReport, Result};

/// Runs the named steps of opening one session (`smtp.connect`, `smtp.starttls` …).
/// With a report, each step is timed and recorded, and when one fails the planned
/// steps after it are recorded as skipped; without one, steps just run.
#[derive(Debug)]
pub(crate) struct Steps<'r> {
    proto: &'static str,
    planned: Vec<&'static str>,
    report: Option<&'r mut CheckReport>,
}

impl<'r> Steps<'r> {
    /// Steps that are not reported (a session opened for work).
    pub(crate) fn silent(proto: &'static str) -> Self {
        Self {
            proto,
            planned: Vec::new(),
            report: None,
        }
    }

    /// Steps reported to `report`; `planned` lists every step in order, so those left
    /// after a failure can be marked skipped.
    pub(crate) fn reported(
        proto: &'static str,
        planned: &[&'static str],
        report: &'r mut CheckReport,
    ) -> Self {
        Self {
            proto,
            planned: planned.to_vec(),
            report: Some(report),
        }
    }

    /// Runs the step `step`; `detail` describes its success for the report.
    pub(crate) async fn run<T>(
        &mut self,
        step: &'static str,
        fut: impl Future<Output = Result<T>>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T> {
        let Some(report) = self.report.as_deref_mut() else {
            return fut.await;
        };
        let name = format!("{}.{step}", self.proto);
        let result = report
            .step(name, async {
                fut.await.map(|v| {
                    let d = detail(&v);
                    (v, d)
                })
            })
            .await
            .map(|(v, _)| v);
        if result.is_err() {
            self.skip_after(step);
        }
        result
    }

    /// Records `step` as not tried, for `why`.
    pub(crate) fn skip(&mut self, step: &'static str, why: &str) {
        if let Some(report) = self.report.as_deref_mut() {
            report.skip(format!("{}.{step}", self.proto), why);
        }
    }

    /// Records every planned step after `step` as not tried.
    pub(crate) fn skip_after(&mut self, step: &'static str) {
        let after: Vec<&'static str> = self
            .planned
            .iter()
            .skip_while(|s| **s != step)
            .skip(1)
            .copied()
            .collect();
        for s in after {
            self.skip(s, "not tried: an earlier step failed");
        }
    }
}
