//! Which messages Read Email returns: unseen only, each filter (sender, recipient,
//! subject, dates, header fields, size, flag, raw IMAP search), max_messages, oldest
//! first.

mod common;

use common::{Fixture, code, raw_message, records, stderr};
use serde_json::json;

fn subjects(out: &std::process::Output) -> Vec<String> {
    records(out)
        .iter()
        .map(|r| r["subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn unseen_only_skips_read_messages_and_can_be_turned_off() {
    let fx = Fixture::new();
    fx.plant(&raw_message("a@x", "first", "alice@example.test"));
    fx.plant(&raw_message("b@x", "second", "bob@example.test"));
    // Mark the first one read on the server.
    fx.flag(1, "\\Seen");
    assert_eq!(
        subjects(&fx.read(json!({"after_read": "none"}))),
        ["second"]
    );
    assert_eq!(
        subjects(&fx.read(json!({"after_read": "none", "unseen_only": false}))),
        ["first", "second"]
    );
}

#[test]
fn each_filter_is_applied_by_the_server() {
    let fx = Fixture::new();
    let dated = |id: &str, subject: &str, from: &str, date: &str| {
        raw_message(id, subject, from).replace("Mon, 02 Mar 2026 10:00:00 +0000", date)
    };
    fx.plant(&dated(
        "1@x",
        "Invoice 1001",
        "billing@shop.test",
        "Thu, 01 Jan 2026 09:00:00 +0000",
    ));
    fx.plant(&dated(
        "2@x",
        "Newsletter",
        "news@shop.test",
        "Sun, 15 Feb 2026 09:00:00 +0000",
    ));
    fx.plant(&dated(
        "3@x",
        "Invoice 1002",
        "billing@shop.test",
        "Sun, 15 Mar 2026 09:00:00 +0000",
    ));
    fx.plant(&dated(
        "4@x",
        "Grüße aus Köln",
        "friend@home.test",
        "Wed, 01 Apr 2026 09:00:00 +0000",
    ));
    let read = |filter: serde_json::Value| {
        subjects(&fx.read(json!({"after_read": "none", "filter": filter})))
    };
    assert_eq!(
        read(json!({"from": "billing@shop.test"})),
        ["Invoice 1001", "Invoice 1002"]
    );
    assert_eq!(
        read(json!({"subject": "invoice"})),
        ["Invoice 1001", "Invoice 1002"],
        "case-insensitive substring"
    );
    assert_eq!(
        read(json!({"subject": "Grüße"})),
        ["Grüße aus Köln"],
        "non-ASCII search terms"
    );
    assert_eq!(
        read(json!({"since": "2026-02-01"})),
        ["Newsletter", "Invoice 1002", "Grüße aus Köln"]
    );
    assert_eq!(
        read(json!({"before": "2026-03-01"})),
        ["Invoice 1001", "Newsletter"]
    );
    assert_eq!(
        read(json!({"since": "2026-02-01", "before": "2026-04-01", "from": "shop.test"})),
        ["Newsletter", "Invoice 1002"]
    );
}

#[test]
fn max_messages_takes_the_oldest_first_and_the_rest_come_next_run() {
    let fx = Fixture::new();
    for i in 1..=5 {
        fx.plant(&raw_message(
            &format!("{i}@x"),
            &format!("message {i}"),
            "a@example.test",
        ));
    }
    let out = fx.read(json!({"max_messages": 2, "batch_size": 1}));
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    assert_eq!(subjects(&out), ["message 1", "message 2"]);
    assert!(
        common::stderr(&out)
            .contains("3 more matching messages wait for the next run (max_messages is 2)"),
        "the log says more are waiting: {}",
        common::stderr(&out)
    );
    assert_eq!(
        subjects(&fx.read(json!({"max_messages": 2}))),
        ["message 3", "message 4"]
    );
    assert_eq!(subjects(&fx.read(json!({}))), ["message 5"]);
    assert!(records(&fx.read(json!({}))).is_empty());
}

#[test]
fn a_folder_other_than_inbox_and_a_missing_folder() {
    let fx = Fixture::new();
    let s = common::servers();
    s.create_folder(&fx.user, "Orders/2026").expect("create");
    s.deliver(
        &fx.user,
        "Orders/2026",
        raw_message("o@x", "order", "shop@example.test").as_bytes(),
    )
    .expect("save");
    let out = fx.read(json!({"folder": "Orders/2026"}));
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["folder"], "Orders/2026");

    let out = fx.read(json!({"folder": "Nope"}));
    assert_eq!(code(&out), 2);
    let err = common::last_error(&out);
    assert_eq!(err["path"], "/folder");
}

#[test]
fn recipient_header_size_flag_and_raw_search_filters() {
    let fx = Fixture::new();
    let message = |id: &str, subject: &str, to: &str, extra: &str, body: usize| {
        format!(
            "From: sender@shop.test\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
            "x".repeat(body)
        )
    };
    fx.plant(&message("1@x", "small to sales", "sales@corp.test", "", 10));
    fx.plant(&message(
        "2@x",
        "list post",
        "team@corp.test",
        "List-Id: <announce.corp.test>\r\n",
        10,
    ));
    fx.plant(&message(
        "3@x",
        "big to sales",
        "sales@corp.test",
        "",
        20_000,
    ));
    fx.plant(&message(
        "4@x",
        "starred",
        "boss@corp.test",
        "X-Priority: 1\r\n",
        10,
    ));
    // UID 4 gets \Flagged, as a user starring it would.
    fx.flag(4, "\\Flagged");
    let read = |filter: serde_json::Value| {
        subjects(&fx.read(json!({"after_read": "none", "filter": filter})))
    };
    assert_eq!(
        read(json!({"to": "sales@"})),
        ["small to sales", "big to sales"]
    );
    assert_eq!(
        read(json!({"header": {"List-Id": "announce"}})),
        ["list post"]
    );
    assert_eq!(
        read(json!({"header": {"X-Priority": ""}})),
        ["starred"],
        "an empty text: the field is present"
    );
    assert_eq!(read(json!({"larger": 10_000})), ["big to sales"]);
    assert_eq!(
        read(json!({"smaller": 10_000, "to": "sales@"})),
        ["small to sales"]
    );
    assert_eq!(read(json!({"flagged": true})), ["starred"]);
    assert_eq!(
        read(json!({"flagged": false, "to": "corp.test"})),
        ["small to sales", "list post", "big to sales"]
    );
    assert_eq!(
        read(json!({"search": "OR SUBJECT \"list\" SUBJECT \"starred\""})),
        ["list post", "starred"]
    );
    assert_eq!(
        read(json!({"search": "NOT TO \"sales@\"", "smaller": 10_000})),
        ["list post", "starred"]
    );
    // A raw search that would unbalance the command is refused before connecting.
    let out = fx.read(json!({"filter": {"search": "ALL) (SEEN"}}));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn messages_over_max_message_bytes_are_reported_and_left_while_the_rest_is_read() {
    // Two messages over the limit among five, on Dovecot: the first fetch meets the
    // first one's announcement and refuses it before its bytes; one size search then
    // finds both, and the rest is read on a new connection. Only what was read is
    // marked; the large ones stay unread for a run with a higher limit.
    let fx = Fixture::new();
    // 20,000 lines of 78 bytes: 1.5 MB.
    let large = |id: &str| {
        raw_message(id, id, "big@x").replace(
            &format!("Body of {id}\r\n"),
            &format!("{}\r\n", "y".repeat(76)).repeat(20_000),
        )
    };
    assert!(large("2@x").len() > 1_048_576);
    for raw in [
        raw_message("1@x", "one", "a@x"),
        large("2@x"),
        raw_message("3@x", "three", "a@x"),
        large("4@x"),
        raw_message("5@x", "five", "a@x"),
    ] {
        fx.plant(&raw);
    }
    let out = fx.read(json!({"max_message_bytes": 1_048_576}));
    assert_eq!(subjects(&out), ["one", "three", "five"], "{}", stderr(&out));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let log = stderr(&out);
    assert!(
        log.contains("over max_message_bytes was announced"),
        "{log}"
    );
    for uid in ["uid 2 ", "uid 4 "] {
        assert!(
            log.lines()
                .any(|l| l.contains(uid) && l.contains("larger than max_message_bytes")),
            "{uid}: {log}"
        );
    }
    let seen: Vec<(u32, bool)> = fx
        .stored("INBOX")
        .iter()
        .map(|m| (m.uid, m.seen()))
        .collect();
    assert_eq!(
        seen,
        [(1, true), (2, false), (3, true), (4, false), (5, true)]
    );
}
