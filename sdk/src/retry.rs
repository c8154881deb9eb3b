//! Retrying in one place: a [`Backoff`] policy (exponential, with jitter, a number of
//! attempts and a deadline) that honours what the remote side asked for
//! ([`Error::retry_after`]), and only retries errors marked retryable. Connectors call
//! it instead of writing their own loop.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use connector_sdk::{Error, retry::Backoff};
//!
//! let policy = Backoff::new(Duration::from_millis(1)).attempts(4);
//! let mut calls = 0;
//! let answer = policy
//!     .retry(|| {
//!         calls += 1;
//!         let n = calls;
//!         async move {
//!             if n < 3 { Err(Error::rate_limited("slow down")) } else { Ok(n) }
//!         }
//!     })
//!     .await;
//! assert_eq!(answer.unwrap(), 3);
//!
//! // Not retryable: the first error is the answer.
//! let mut tries = 0;
//! let refused = policy
//!     .retry(|| {
//!         tries += 1;
//!         async { Err::<(), _>(Error::auth("bad token")) }
//!     })
//!     .await;
//! assert!(refused.is_err());
//! assert_eq!(tries, 1);
//! # }
//! ```

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

pub use crate::error::parse_retry_after;
use crate::error::{Error, Result};

/// Exponential backoff with jitter: the first wait is `initial`, each next one doubles
/// up to `max`, each is spread by up to a quarter either way, and a wait the remote side
/// asked for (`Retry-After`) is taken instead when it is longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempts: u32,
    deadline: Option<Duration>,
}

impl Backoff {
    /// A policy whose first wait is `initial`: at most 5 attempts, waits of at most 60
    /// seconds, no overall deadline.
    pub fn new(initial: Duration) -> Self {
        Self {
            initial,
            max: Duration::from_secs(60),
            attempts: 5,
            deadline: None,
        }
    }

    /// At most `n` attempts in all (the first one included; at least 1).
    #[must_use]
    pub fn attempts(mut self, n: u32) -> Self {
        self.attempts = n.max(1);
        self
    }

    /// No wait longer than `max`, whatever the remote side asks.
    #[must_use]
    pub fn max_wait(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// Give up once `deadline` has passed since the first attempt (no wait runs past it).
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The wait before attempt `attempt + 1` (`attempt` counts from 1), given the error
    /// of the last one.
    pub fn wait(&self, attempt: u32, error: &Error) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let base = self.initial.saturating_mul(1 << exponent).min(self.max);
        let jittered = jitter(base);
        match error.retry_after() {
            Some(asked) => asked.max(jittered).min(self.max),
            None => jittered,
        }
    }

    /// Runs `op` until it succeeds, fails with an error that is not retryable, or the
    /// attempts or the deadline run out; returns the last result.
    ///
    /// # Errors
    /// The last error `op` returned.
    pub async fn retry<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !error.is_retryable() || attempt >= self.attempts {
                return Err(error);
            }
            let wait = self.wait(attempt, &error);
            if let Some(deadline) = self.deadline
                && started.elapsed() + wait > deadline
            {
                return Err(error);
            }
            tracing::debug!(target: "connector_sdk::retry", attempt, wait_ms = wait.as_millis() as u64, "retrying after: {error}");
            tokio::time::sleep(wait).await;
        }
    }
}

/// `base` spread by up to a quarter either way, so clients that failed together do not
/// retry together.
fn jitter(base: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let unit = (h.finish() % 1001) as f64 / 1000.0; // 0.0 ..= 1.0
    base.mul_f64(0.75 + unit * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_up_to_the_maximum_and_honour_retry_after() {
        let p = Backoff::new(Duration::from_millis(100)).max_wait(Duration::from_secs(1));
        let e = Error::connect("down");
        for (attempt, base) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)] {
            let w = p.wait(attempt, &e).as_millis() as u64;
            assert!(
                w >= base * 3 / 4 && w <= base * 5 / 4,
                "attempt {attempt}: {w} ms"
            );
        }
        let asked = Error::rate_limited("429").after(Duration::from_millis(900));
        assert!(p.wait(1, &asked) >= Duration::from_millis(900));
        let too_long = Error::rate_limited("429").after(Duration::from_secs(3600));
        assert_eq!(
            p.wait(1, &too_long),
            Duration::from_secs(1),
            "capped at max_wait"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_deadline_stops_retrying_before_a_wait_would_pass_it() {
        let p = Backoff::new(Duration::from_millis(50))
            .attempts(100)
            .deadline(Duration::from_millis(120));
        let mut calls = 0;
        let r: Result<()> = p
            .retry(|| {
                calls += 1;
                async { Err(Error::timeout("slow")) }
            })
            .await;
        assert!(r.is_err());
        assert!((2..=4).contains(&calls), "{calls} calls");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn attempts_are_counted_and_an_error_that_is_not_retryable_ends_at_once() {
        let p = Backoff::new(Duration::from_millis(1)).attempts(3);
        let mut calls = 0;
        let r: Result<()> = p
            .retry(|| {
                calls += 1;
                async { Err(Error::connect("down")) }
            })
            .await;
        assert_eq!(r.expect_err("fails").kind(), crate::ErrorKind::Connect);
        assert_eq!(calls, 3, "three attempts in all");

        let mut calls = 0;
        let r: Result<()> = p
            .retry(|| {
                calls += 1;
                async { Err(Error::auth("wrong password")) }
            })
            .await;
        assert_eq!(r.expect_err("fails").kind(), crate::ErrorKind::Auth);
        assert_eq!(calls, 1, "an auth error is not retried");

        let mut calls = 0;
        let r = p
            .retry(|| {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(Error::timeout("slow"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r.expect("third attempt succeeds"), 3);
    }

    #[test]
    fn http_statuses_map_to_kinds_and_retry_after_is_kept_in_the_body() {
        let e = Error::from_http(503, Some("7"), "busy");
        assert_eq!(e.kind(), crate::ErrorKind::Connect);
        assert_eq!(e.body().retry_after_secs, Some(7));
        let back = Error::from(e.body());
        assert_eq!(back.retry_after(), Some(Duration::from_secs(7)));
        let json = serde_json::to_value(Error::auth("no").body()).expect("json");
        assert!(
            json.get("retry_after_secs").is_none(),
            "absent unless known"
        );
    }
}
