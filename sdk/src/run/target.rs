//! Running a target: requests handed out one by one, each result written as one JSON
//! line the moment the target reports it, and the run's outcome tallied at the end.
//! After a signal no request is handed out, and the call gets [`GRACE`] to finish what
//! it holds.

use std::sync::Arc;
use std::time::Duration;

use super::progress::Progress;
use super::{RunIo, stopped};
use crate::activity::Target;
use crate::batch::{Requests, Results};
use crate::error::{Error, Result};
use crate::meter::Meter;

const TARGET: &str = "connector_sdk::host";

/// How long a call may go on after SIGINT/SIGTERM to finish the requests in hand. The
/// host promises to exit within 2 seconds of a signal.
pub(crate) const GRACE: Duration = Duration::from_millis(1500);

pub(crate) async fn run<T: Target>(
    target: Arc<T>,
    conn: Arc<T::Connection>,
    config: T::Config,
    count: usize,
    fetch: Box<dyn FnMut(usize) -> Option<T::Request> + Send>,
    io: RunIo,
) -> Result<()> {
    let name = target.info().name;
    let signal = io.stop.clone();
    let mut stop = io.stop.clone();
    let batch = Requests::lazy(count, fetch, io.stop);
    let judge = Arc::clone(&target);
    let meter = Arc::new(Meter::default());
    meter.set_total(count as u64);
    let progress = Progress::start(Arc::clone(&meter), name, "requests", io.progress_every);
    let results: Results<T::Response> = Results::metered(
        io.output,
        count,
        Box::new(move |r| judge.failure(r)),
        Arc::clone(&meter),
    );
    tracing::debug!(target: TARGET, activity = name, count, "calling target");
    let outcome = tokio::select! {
        outcome = target.call(&conn, &config, &batch, &results) => Some(outcome),
        () = async {
            stopped(&mut stop).await;
            tokio::time::sleep(GRACE).await;
        } => None,
    };
    progress.finish();
    let tally = results.tally();
    let counts = meter.read();
    tracing::info!(
        target: TARGET,
        event = "summary",
        activity = name,
        requests = count,
        reported = tally.reported,
        failed = tally.failures.len(),
        bytes = counts.bytes,
        duration_ms = u64::try_from(counts.elapsed.as_millis()).unwrap_or(u64::MAX),
        peak_rss_bytes = super::progress::peak_rss_bytes(),
        "summary: {} of {count} requests reported, {} failed, in {:.1} s",
        tally.reported,
        tally.failures.len(),
        counts.elapsed.as_secs_f64()
    );
    if *signal.borrow() {
        let left = count - tally.reported;
        return Err(super::stopped_error(&format!(
            "{} of {count} requests reported ({} failed); the other {left} were not started or were abandoned, so their outcome is unknown",
            tally.reported,
            tally.failures.len()
        )));
    }
    match outcome {
        Some(Err(e)) => return Err(e),
        Some(Ok(())) => {}
        None => return Err(super::stopped_error("no request reported")),
    }
    if let Some(first) = tally.unreported.first() {
        return Err(Error::internal(format!(
            "the target reported no result for {} of {count} requests (first: index {first}); every request taken must be reported",
            tally.unreported.len()
        )));
    }
    if let Some((index, first)) = tally.failures.first() {
        let retryable = tally.failures.iter().all(|(_, e)| e.is_retryable());
        return Err(Error::new(
            first.kind(),
            format!(
                "{} of {count} requests failed; first (index {index}): {}",
                tally.failures.len(),
                first.message()
            ),
        )
        .retryable(retryable));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActivityInfo, CheckReport, Connection};
    use std::time::Duration;
    use tokio::sync::watch;

    #[derive(Debug, Default)]
    struct Nothing;

    #[crate::connection]
    impl Connection for Nothing {
        async fn check(&self) -> CheckReport {
            CheckReport::new()
        }
    }

    /// Reports the first two requests it takes, then hangs on the third.
    struct Stuck;

    impl crate::__private::TargetImpl for Stuck {}

    #[async_trait::async_trait]
    impl Target for Stuck {
        type Connection = Nothing;
        type Config = ();
        type Request = u32;
        type Response = u32;

        fn info(&self) -> ActivityInfo {
            ActivityInfo {
                name: "stuck",
                description: "",
                discovery: false,
            }
        }

        async fn call(
            &self,
            _: &Nothing,
            _: &(),
            requests: &Requests<u32>,
            results: &Results<u32>,
        ) -> Result<()> {
            while let Some((index, request)) = requests.next() {
                if index == 2 {
                    std::future::pending::<()>().await;
                }
                results.send(index, request)?;
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_signal_mid_batch_says_how_many_were_reported_and_how_many_not() {
        let (stop, rx) = watch::channel(false);
        let io = RunIo {
            output: Box::new(std::io::sink()),
            stop: rx,
            commit_every: 100,
            state_file: None,
            deferred: false,
            state_lines: false,
            progress_every: Duration::ZERO,
        };
        let fetch = Box::new(|i: usize| u32::try_from(i).ok());
        let running = tokio::spawn(run(Arc::new(Stuck), Arc::new(Nothing), (), 5, fetch, io));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(true).expect("stop");
        let error = tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("ends within the grace period")
            .expect("joined")
            .expect_err("a stopped run is an error");
        assert_eq!(error.kind(), crate::ErrorKind::Interrupted, "{error}");
        assert!(
            error
                .message()
                .contains("2 of 5 requests reported (0 failed); the other 3 were not started"),
            "{error}"
        );
    }
}
