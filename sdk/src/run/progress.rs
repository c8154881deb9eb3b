//! What a run shows while it works, and the summary it ends with, for every connector.
//!
//! On a terminal (stderr), a progress line: items, bytes, rate, elapsed time, errors,
//! and `done/total` once the activity said how many it expects. Off a terminal (a
//! platform's log), a structured `progress` event every `--progress-every` seconds, so
//! a long run is never silent. At the end, one `summary` event with the counts, the
//! duration and the peak memory.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::meter::{Counts, Meter};

const TARGET: &str = "connector_sdk::host";

/// The progress of one run, shown until [`Progress::finish`].
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts showing `meter`'s counts of `unit`s (`records`, `requests`): a progress
    /// line when stderr is a terminal, else a log event every `every` (never if zero).
    pub(crate) fn start(
        meter: Arc<Meter>,
        activity: &'static str,
        unit: &'static str,
        every: Duration,
    ) -> Self {
        Self::start_on(
            meter,
            activity,
            unit,
            every,
            std::io::stderr().is_terminal(),
        )
    }

    fn start_on(
        meter: Arc<Meter>,
        activity: &'static str,
        unit: &'static str,
        every: Duration,
        terminal: bool,
    ) -> Self {
        if terminal {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                bar.set_style(style);
            }
            let shown = bar.clone();
            let ticker = tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                loop {
                    tick.tick().await;
                    shown.set_message(format!("{activity}: {}", line(&meter.read(), unit)));
                    shown.tick();
                }
            });
            return Self {
                bar: Some(bar),
                ticker: Some(ticker),
            };
        }
        if every.is_zero() {
            return Self {
                bar: None,
                ticker: None,
            };
        }
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await; // the first tick is immediate
            loop {
                tick.tick().await;
                let c = meter.read();
                tracing::info!(
                    target: TARGET,
                    event = "progress",
                    activity,
                    done = c.done,
                    bytes = c.bytes,
                    errors = c.errors,
                    total = c.total,
                    rate_per_sec = (c.rate() * 10.0).round() / 10.0,
                    elapsed_secs = c.elapsed.as_secs(),
                    "progress: {}",
                    line(&c, unit)
                );
            }
        });
        Self {
            bar: None,
            ticker: Some(ticker),
        }
    }

    /// Stops showing progress (the line is cleared).
    pub(crate) fn finish(self) {
        if let Some(t) = self.ticker {
            t.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1,234/5,000 records, 2.3 MB, 512/s, 0:12, 3 errors`.
pub(crate) fn line(c: &Counts, unit: &str) -> String {
    let done = match c.total {
        Some(total) => format!("{}/{} {unit}", thousands(c.done), thousands(total)),
        None => format!("{} {unit}", thousands(c.done)),
    };
    let secs = c.elapsed.as_secs();
    let mut out = format!(
        "{done}, {}, {:.0}/s, {}:{:02}",
        bytes(c.bytes),
        c.rate(),
        secs / 60,
        secs % 60
    );
    if c.errors > 0 {
        out.push_str(&format!(", {} errors", thousands(c.errors)));
    }
    out
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A byte count for people: `512 B`, `2.3 MB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The process's peak resident memory so far, in bytes (Linux: `VmHWM`), if known.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many progress events were logged to `logged`.
    fn progress_events(logged: &crate::testing::Lines) -> usize {
        logged
            .text()
            .lines()
            .filter(|l| l.contains("progress: "))
            .count()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn off_a_terminal_progress_is_logged_until_the_run_finishes() {
        let logged = crate::testing::Lines::default();
        let writer = logged.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let meter = Arc::new(Meter::default());
        meter.item(10, false);
        let progress =
            Progress::start_on(meter, "read", "records", Duration::from_millis(20), false);
        tokio::time::sleep(Duration::from_millis(110)).await;
        let before = progress_events(&logged);
        assert!(
            before >= 2,
            "{before} progress events in 110 ms, one every 20 ms"
        );
        progress.finish();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(progress_events(&logged), before, "none after finish");

        // Every zero: never.
        let quiet = Progress::start_on(
            Arc::new(Meter::default()),
            "read",
            "records",
            Duration::ZERO,
            false,
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        quiet.finish();
        assert_eq!(progress_events(&logged), before);
    }

    #[test]
    fn the_progress_line_reads_well() {
        let c = Counts {
            done: 1234,
            bytes: 2_345_678,
            errors: 3,
            total: Some(5000),
            remaining: None,
            elapsed: Duration::from_secs(72),
        };
        assert_eq!(
            line(&c, "records"),
            "1,234/5,000 records, 2.3 MB, 17/s, 1:12, 3 errors"
        );
        assert_eq!(bytes(999), "999 B");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn the_edges_of_the_progress_line() {
        let c = Counts {
            done: 5,
            bytes: 0,
            errors: 0,
            total: None,
            remaining: None,
            elapsed: Duration::ZERO,
        };
        // No time yet: no rate (not "inf/s"); no errors: not ", 0 errors".
        assert_eq!(c.rate(), 0.0);
        assert_eq!(line(&c, "records"), "5 records, 0 B, 0/s, 0:00");
        for (n, written) in [
            (0, "0"),
            (123, "123"),
            (1234, "1,234"),
            (123_456, "123,456"),
        ] {
            assert_eq!(thousands(n), written);
        }
        assert_eq!(bytes(1000), "1.0 kB");
        // Past the largest unit the number grows; the unit does not run off the table.
        assert_eq!(bytes(5_000_000_000_000), "5000.0 GB");
    }

    #[test]
    fn peak_memory_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().is_some_and(|b| b > 1024 * 1024));
        }
    }
}
