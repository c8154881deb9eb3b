//! `to`, `cc` and `bcc` take one address or a list, and a recipient named more than
//! once (twice in `to`, in `to` and `cc`, in another case) gets the message once.

mod common;

use std::time::Duration;

use common::{Fixture, code, results, servers, stderr};
use serde_json::json;

#[test]
fn one_address_or_a_list_and_each_recipient_once() {
    let fx = Fixture::new();
    let upper = fx.user.address.to_ascii_uppercase();
    let out = fx.send(
        json!({}),
        json!({"from": fx.peer.address, "to": fx.user.address, "cc": [upper, fx.user.address],
               "bcc": {"name": "Self", "address": fx.user.address}, "subject": "once", "text": "x"}),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let result = &results(&out)[0];
    assert_eq!(result["status"], "sent");
    assert_eq!(
        result["accepted"].as_array().expect("accepted").len(),
        1,
        "{result}"
    );
    // A second message shows the first was not delivered twice.
    let out = fx.send(
        json!({}),
        json!({"from": fx.peer.address, "to": [fx.user.address], "subject": "after", "text": "x"}),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stored = servers()
        .wait_for(&fx.user, "INBOX", 2, Duration::from_secs(15))
        .expect("delivered");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fx.stored("INBOX").len(), 2, "{stored:?}");
}
