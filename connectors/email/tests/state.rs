//! Read Email keeps its position as state: checkpoints after each batch, printed as
//! `{"$state": …}` lines after the records they cover (only for a caller that asked for
//! state) and kept in `--state FILE`. `mode: cursor` reads on from it and changes no
//! flag; `--commit deferred` marks nothing during a run and commits, at the start of
//! the next run, exactly what the state the platform kept covers: at-least-once end to
//! end, even through a pipe whose reader stops early.

mod common;

use std::process::Command;

use common::{BIN, Fixture, code, raw_message, stderr};
use serde_json::{Value, json};

fn plant(fx: &Fixture, from: usize, to: usize) {
    for i in from..to {
        fx.plant(&raw_message(
            &format!("{i}@state"),
            &format!("m{i}"),
            "a@example.test",
        ));
    }
}

/// Runs `read` with `config` and extra arguments; returns records and state lines.
fn read(
    fx: &Fixture,
    config: Value,
    extra: &[&str],
) -> (Vec<Value>, Vec<Value>, std::process::Output) {
    fx.read_with(config, extra)
}

#[test]
fn cursor_mode_reads_on_from_the_state_and_changes_no_flag() {
    let fx = Fixture::new();
    plant(&fx, 0, 3);
    let state = fx.dir.path().join("state.json");
    let state = state.to_str().expect("utf-8");
    let config =
        json!({"mode": "cursor", "after_read": "none", "unseen_only": false, "batch_size": 2});
    let (records, states, out) = read(&fx, config.clone(), &["--state", state]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(records.len(), 3);
    assert_eq!(states.len(), 2, "one checkpoint per batch of 2");
    let last = &states[1]["$state"];
    assert_eq!(last["last_uid"], 3);
    assert_eq!(last["folder"], "INBOX");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(state).expect("state file")).expect("JSON");
    assert_eq!(&saved, last, "the file holds the last state line");

    plant(&fx, 3, 5);
    let (records, _, out) = read(&fx, config.clone(), &["--state", state]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let subjects: Vec<&str> = records
        .iter()
        .filter_map(|r| r["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["m3", "m4"], "only what came after the cursor");
    let (records, _, _) = read(&fx, config, &["--state", state]);
    assert!(records.is_empty(), "nothing new");
    assert!(
        fx.stored("INBOX").iter().all(|m| !m.seen()),
        "no flag was changed"
    );
}

#[test]
fn deferred_commit_marks_only_what_the_platform_kept() {
    let fx = Fixture::new();
    plant(&fx, 0, 30);
    let config = json!({"batch_size": 5});
    let (conn, cfg) = (fx.conn(), fx.file("read.json", &config));
    // The platform reads 12 lines (records and state lines) and stops, like `| head`.
    let (lines, out) = connector_testkit::cli::close_after(
        Command::new(BIN).args([
            "run",
            "read",
            "--connection",
            &conn,
            "--config",
            &cfg,
            "--commit",
            "deferred",
        ]),
        12,
    );
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    let kept = lines
        .iter()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|l| l.get("$state").cloned())
        .expect("a state line among the first 12 lines");
    let covered = kept["last_uid"].as_u64().expect("last_uid") as usize;
    assert!((5..30).contains(&covered), "{kept}");
    assert!(
        fx.stored("INBOX").iter().all(|m| !m.seen()),
        "deferred: nothing is marked during the run, even what was written to the pipe"
    );

    // The next run is given the state the platform kept: it first commits exactly that.
    let state = fx.file("kept.json", &kept);
    let (records, _, out) = read(&fx, config, &["--commit", "deferred", "--state", &state]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stored = fx.stored("INBOX");
    for m in &stored {
        assert_eq!(
            m.seen(),
            (m.uid as usize) <= covered,
            "uid {} (covered: {covered})",
            m.uid
        );
    }
    assert_eq!(
        records.len(),
        30 - covered,
        "the rest is read again, none lost"
    );
    let kept_again: Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("file")).expect("JSON");
    assert_eq!(
        kept_again, kept,
        "deferred: the host leaves the platform's state file alone"
    );
}

#[test]
fn a_state_from_elsewhere_is_refused_before_connecting() {
    let fx = Fixture::new();
    let state = fx.file("bad.json", &json!({"cursor": 5}));
    let (_, _, out) = read(&fx, json!({}), &["--state", &state]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let message = common::last_error(&out)["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("the state is not one this source wrote"),
        "{message}"
    );

    let (_, _, out) = read(&fx, json!({"mode": "cursor"}), &[]);
    assert_eq!(code(&out), 2, "cursor mode needs after_read none");
    assert_eq!(common::last_error(&out)["path"], "/after_read");
}

#[test]
fn without_asking_for_state_the_output_is_records_alone() {
    let fx = Fixture::new();
    plant(&fx, 0, 4);
    let (records, states, out) = read(&fx, json!({"batch_size": 2}), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!((records.len(), states.len()), (4, 0));
}

/// Gives INBOX of `fx`'s user a new UIDVALIDITY, as a server that renumbers a folder
/// would (Dovecot: `doveadm mailbox update --uid-validity`).
fn renumber(fx: &Fixture, validity: u32) {
    let out = common::servers()
        .doveadm(&[
            "mailbox",
            "update",
            "-u",
            &fx.user.address,
            "--uid-validity",
            &validity.to_string(),
            "INBOX",
        ])
        .output()
        .expect("doveadm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_renumbered_folder_is_read_again_from_now_or_stops_the_run_as_configured() {
    let fx = Fixture::new();
    plant(&fx, 0, 2);
    let state = fx.dir.path().join("state.json");
    let state = state.to_str().expect("utf-8");
    let cursor = |policy: &str| json!({"mode": "cursor", "after_read": "none", "unseen_only": false, "on_uidvalidity_change": policy});
    let (records, _, out) = read(&fx, cursor("reread"), &["--state", state]);
    assert_eq!((code(&out), records.len()), (0, 2), "{}", stderr(&out));

    renumber(&fx, 4_000_000_001);
    // fail: the run stops and says why; the state is left as it was.
    let before = std::fs::read_to_string(state).expect("state");
    let (records, _, out) = read(&fx, cursor("fail"), &["--state", state]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(records.is_empty());
    assert!(
        stderr(&out).contains("UIDVALIDITY of INBOX changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(state).expect("state"), before);

    // from_now: what is there is not read again; what comes next is.
    let (records, _, out) = read(&fx, cursor("from_now"), &["--state", state]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(records.is_empty(), "{records:?}");
    plant(&fx, 2, 3);
    let (records, _, _) = read(&fx, cursor("from_now"), &["--state", state]);
    let subjects: Vec<&str> = records
        .iter()
        .filter_map(|r| r["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["m2"]);

    // reread (the default): a renumbering reads the folder from its start.
    renumber(&fx, 4_000_000_002);
    let (records, _, _) = read(&fx, cursor("reread"), &["--state", state]);
    assert_eq!(records.len(), 3);
}
