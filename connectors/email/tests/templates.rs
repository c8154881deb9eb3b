//! Mail merge: the activity holds the template, each request its variables; the
//! messages Dovecot stores carry the rendered subject and bodies, HTML-escaped in the
//! HTML part. A request whose variables lack one the template uses is refused with
//! `/variables` before anything is sent.

mod common;

use std::time::Duration;

use common::{Fixture, code, last_error, records, results, servers, stderr};
use serde_json::json;

#[test]
fn the_activitys_template_is_rendered_with_each_requests_variables() {
    let fx = Fixture::new();
    let config = json!({"template": {
        "subject": "Invoice {{ number }}",
        "text": "Dear {{ name }}, you owe {{ amount }}.",
        "html": "<p>Dear {{ name }}, you owe <b>{{ amount }}</b>.</p>"
    }});
    let out = fx.send(
        config.clone(),
        json!([
            {"from": fx.peer.address, "to": fx.user.address, "variables": {"number": 1, "name": "Ann", "amount": "10 €"}},
            {"from": fx.peer.address, "to": fx.user.address, "variables": {"number": 2, "name": "<script>", "amount": "20 €"}}
        ]),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(results(&out).len(), 2);
    servers()
        .wait_for(&fx.user, "INBOX", 2, Duration::from_secs(15))
        .expect("delivered");
    let read = records(&fx.read(json!({"after_read": "none"})));
    let mut subjects: Vec<&str> = read.iter().filter_map(|r| r["subject"].as_str()).collect();
    subjects.sort_unstable();
    assert_eq!(subjects, ["Invoice 1", "Invoice 2"]);
    let second = read
        .iter()
        .find(|r| r["subject"] == "Invoice 2")
        .expect("invoice 2");
    assert_eq!(
        second["text"].as_str().map(str::trim),
        Some("Dear <script>, you owe 20 €.")
    );
    let html = second["html"].as_str().expect("html");
    assert!(html.contains("Dear &lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");

    // A variable missing from one request: the batch is refused before anything goes.
    let before = fx.stored("INBOX").len();
    let out = fx.send(
        config,
        json!([
            {"from": fx.peer.address, "to": fx.user.address, "variables": {"number": 3, "name": "C", "amount": "1"}},
            {"from": fx.peer.address, "to": fx.user.address, "variables": {"number": 4, "name": "D"}}
        ]),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = last_error(&out);
    assert_eq!(err["path"], "/1/variables", "{err}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fx.stored("INBOX").len(), before, "nothing was sent");
}
