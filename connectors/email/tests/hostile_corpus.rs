//! The generated hostile MIME corpus (`email_testsupport::corpus`), each message
//! delivered to real Dovecot and read by the real binary on its own: every one becomes
//! a record or a reported error with its UID, the run goes on, nothing crashes, and
//! time and memory stay bounded. Prints each case's time and peak memory.

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, code, records, run, servers, stderr, summary};
use email_testsupport::corpus::hostile;
use serde_json::json;

#[test]
fn every_hostile_message_is_read_or_reported_within_bounds() {
    let fx = Fixture::new();
    let conn = fx.conn();
    let config = fx.file(
        "read.json",
        &json!({"mode": "cursor", "after_read": "none", "max_messages": 10}),
    );
    let state = fx.dir.path().join("state.json");
    let state = state.to_str().expect("utf-8");
    let (mut worst_time, mut worst_rss) = (Duration::ZERO, 0_u64);
    let mut table = Vec::new();
    let cases = hostile();
    for (i, case) in cases.iter().enumerate() {
        servers()
            .deliver(&fx.user, "INBOX", &case.raw)
            .unwrap_or_else(|e| panic!("{}: Dovecot would not store it: {e}", case.name));
        let started = Instant::now();
        let out = run(&[
            "run",
            "read",
            "--connection",
            &conn,
            "--config",
            &config,
            "--state",
            state,
        ]);
        let took = started.elapsed();
        let text = stderr(&out);
        let status = out.status.code();
        assert!(
            matches!(status, Some(0 | 1)),
            "{}: exit {status:?} (a crash?)\n{text}",
            case.name
        );
        let read = records(&out)
            .iter()
            .filter(|r| r.get("uid").is_some())
            .count();
        let skipped = summary(&text, "skipped");
        assert_eq!(
            (read as u64) + skipped,
            1,
            "{}: the message must be read or reported, once\n{text}",
            case.name
        );
        if skipped == 1 {
            assert_eq!(code(&out), 1, "{}", case.name);
            assert!(
                text.contains(&format!("uid {}", i + 1)),
                "{}: the error names the UID\n{text}",
                case.name
            );
        }
        let rss = summary(&text, "peak_rss_bytes");
        assert!(took < Duration::from_secs(20), "{}: {took:?}", case.name);
        assert!(rss < 512 * 1024 * 1024, "{}: {rss} bytes", case.name);
        worst_time = worst_time.max(took);
        worst_rss = worst_rss.max(rss);
        table.push(format!(
            "{:>3} {:<52} {:>9} bytes  {:>7} {:>6.2} s  {:>4} MB",
            i + 1,
            case.name,
            case.raw.len(),
            if skipped == 1 { "error" } else { "record" },
            took.as_secs_f64(),
            rss >> 20
        ));
    }
    println!("{}", table.join("\n"));
    println!(
        "{} cases, worst time {:.2} s, worst peak RSS {} MB",
        cases.len(),
        worst_time.as_secs_f64(),
        worst_rss >> 20
    );
}
