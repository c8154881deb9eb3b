//! With the SMTP server down, a batch fails fast: once a message could not reach the
//! server after its retries, every message left is reported at once as `connect`,
//! retryable, "not tried", instead of each dialing and waiting again (before: about
//! 1.2 s per message, so a batch of 1,000 took 20 minutes to fail).

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, code, results, stderr};
use serde_json::json;

#[test]
fn a_batch_to_a_server_that_is_down_fails_once_and_fast() {
    let fx = Fixture::new();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let mut settings = fx.settings();
    settings["smtp"] =
        json!({"host": "127.0.0.1", "port": port, "security": "none", "auth": {"type": "none"}});
    settings["allow_insecure_auth"] = json!(true);
    let requests: Vec<_> = (0..200)
        .map(|i| json!({"from": fx.peer.address, "to": fx.user.address, "subject": format!("m{i}"), "text": "x"}))
        .collect();
    let started = Instant::now();
    let out = fx.send_via(
        &settings,
        json!({"retry_backoff_ms": 50, "max_retries": 2}),
        json!(requests),
    );
    let took = started.elapsed();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let results = results(&out);
    assert_eq!(results.len(), 200, "every request has its result");
    for r in &results {
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["error"]["kind"], "connect", "{r}");
        assert_eq!(r["error"]["retryable"], true, "{r}");
    }
    let tried = results.iter().filter(|r| r["attempts"] != 0).count();
    assert!(
        tried <= 3,
        "{tried} messages dialed; the rest should not have"
    );
    assert!(
        results
            .iter()
            .filter(|r| r["attempts"] == 0)
            .all(|r| r["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("not tried"))),
        "{results:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
