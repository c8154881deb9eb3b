//! A message every recipient refused is worth retrying only if every refusal was
//! transient: one permanent `550` among `451`s means retrying cannot deliver it to
//! everyone, so the result is not retryable (and it is not retried).

mod common;

use common::{Fixture, code, results};
use email_testsupport::mail::BUSY;
use serde_json::json;

#[test]
fn one_permanent_refusal_makes_an_all_refused_message_not_retryable() {
    let fx = Fixture::new();
    let out = fx.send(
        json!({"max_retries": 2, "retry_backoff_ms": 50}),
        json!({"from": fx.peer.address, "to": [BUSY, "nobody@example.test"], "subject": "both", "text": "x"}),
    );
    assert_eq!(code(&out), 1);
    let r = &results(&out)[0];
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["error"]["retryable"], false, "{r}");
    assert_eq!(r["attempts"], 1, "not retried: {r}");

    // Only transient refusals: retryable, and retried.
    let out = fx.send(
        json!({"max_retries": 1, "retry_backoff_ms": 50}),
        json!({"from": fx.peer.address, "to": [BUSY], "subject": "busy", "text": "x"}),
    );
    let r = &results(&out)[0];
    assert_eq!(r["error"]["retryable"], true, "{r}");
    assert_eq!(r["attempts"], 2, "{r}");
}
