//! A message to more recipients than the server takes in one transaction reaches all
//! of them: the harness's Postfix takes 50 (`smtpd_recipient_limit`) and answers the
//! 51st RCPT with `452 4.5.3 Error: too many recipients`; RFC 5321 section 4.5.3.1.10
//! says to send to the rest in another transaction. Before, all 120 failed.

mod common;

use std::time::Duration;

use common::{Fixture, code, results, servers, stderr};
use serde_json::json;

#[test]
fn a_message_to_more_recipients_than_one_transaction_takes_reaches_them_all() {
    let fx = Fixture::new();
    let (local, domain) = fx.user.address.split_once('@').expect("an address");
    let to: Vec<String> = (1..=120).map(|n| format!("{local}+{n}@{domain}")).collect();
    let out = fx.send(
        json!({}),
        json!({"from": fx.peer.address, "bcc": to, "subject": "many", "text": "to many"}),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let result = &results(&out)[0];
    assert_eq!(result["status"], "sent", "{result}");
    assert_eq!(result["attempts"], 1, "{result}");
    let accepted = result["accepted"].as_array().expect("accepted");
    assert_eq!(accepted.len(), 120, "{result}");
    assert_eq!(result["rejected"], json!([]), "{result}");
    // Three transactions, one message each time: one queue id per transaction.
    assert_eq!(
        result["server_reply"]
            .as_str()
            .map(|r| r.matches("queued").count()),
        Some(3),
        "{result}"
    );
    let stored = servers()
        .wait_for(&fx.user, "INBOX", 120, Duration::from_secs(30))
        .expect("every recipient's copy delivered");
    assert_eq!(stored.len(), 120);
}
