//! `filter.gmail_raw`: Gmail's own search syntax, sent as `X-GM-RAW` (Gmail's IMAP
//! extensions) only where the server offers X-GM-EXT-1; anywhere else the run stops
//! with a config error naming the filter, before any search is sent. Against a
//! scripted server (Gmail itself is not available to the tests; Dovecot has no
//! X-GM-EXT-1, which the second test checks for real).

mod common;

use std::process::{Command, Stdio};

use common::{BIN, Fixture, code, last_error, records, stderr};
use email_testsupport::imap::{Answer, ScriptedImap, message};
use serde_json::{Value, json};

fn read(server: &ScriptedImap, config: &Value) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = dir.path().join("conn.json");
    let cfg = dir.path().join("read.json");
    std::fs::write(&conn, server.connection().to_string()).expect("write");
    std::fs::write(&cfg, config.to_string()).expect("write");
    Command::new(BIN)
        .args(["run", "read", "--connection"])
        .arg(&conn)
        .arg("--config")
        .arg(&cfg)
        .stdin(Stdio::null())
        .output()
        .expect("run")
}

/// A server that says it is Gmail (X-GM-EXT-1), with LITERAL+ as Gmail has.
fn gmail() -> ScriptedImap {
    ScriptedImap::start(vec![message("invoice"), message("receipt")], |c| {
        (c.name == "CAPABILITY").then(|| {
            Answer::Bytes(
                format!(
                    "* CAPABILITY IMAP4rev1 UIDPLUS MOVE X-GM-EXT-1 LITERAL+\r\n{} OK done\r\n",
                    c.tag
                )
                .into_bytes(),
            )
        })
    })
}

#[test]
fn gmail_search_goes_as_x_gm_raw_to_a_server_that_offers_it() {
    let server = gmail();
    let out = read(
        &server,
        &json!({"filter": {"gmail_raw": "has:attachment older_than:7d"}}),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(records(&out).len(), 2);
    let searches: Vec<String> = server
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("UID SEARCH") && !c.contains(" LARGER "))
        .collect();
    assert_eq!(searches.len(), 1, "{searches:?}");
    assert!(
        searches[0].ends_with(r#"UNSEEN UNDELETED X-GM-RAW "has:attachment older_than:7d""#),
        "{searches:?}"
    );
}

#[test]
fn gmail_search_with_text_that_is_not_ascii_goes_as_a_literal() {
    let server = gmail();
    let out = read(&server, &json!({"filter": {"gmail_raw": "subject:Grüße"}}));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = server.commands();
    assert!(
        log.iter()
            .any(|c| c.starts_with("UID SEARCH CHARSET UTF-8") && c.ends_with("X-GM-RAW {15+}")),
        "{log:?}"
    );
}

#[test]
fn gmail_search_elsewhere_is_a_config_error_and_no_search_is_sent() {
    // Dovecot, for real: no X-GM-EXT-1.
    let fx = Fixture::new();
    fx.plant(&common::raw_message("g@x", "hello", "a@example.test"));
    let out = fx.read(json!({"filter": {"gmail_raw": "in:inbox"}}));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let error = last_error(&out);
    assert_eq!(error["path"], "/filter/gmail_raw", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("X-GM-EXT-1")),
        "{error}"
    );
    assert!(records(&out).is_empty());
    assert!(!fx.stored("INBOX")[0].seen(), "nothing marked");
}
