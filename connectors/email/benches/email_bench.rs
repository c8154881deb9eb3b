//! Speed and memory of the Email connector against what users would otherwise run, in
//! one run on the same local Postfix and Dovecot, contenders alternating. One file on
//! purpose: every figure of the table must come from the same run and servers (a
//! bench target is one binary); the helpers below it (latency proxy, socket ceiling,
//! Python peers) exist only for it.
//!
//! Run with `scripts/bench.sh` (installs what it needs, then `cargo bench -p
//! email-connector --bench email_bench`). `BENCH_RUNS` sets the runs per contender
//! (default 5; medians are reported). The table is printed and written into
//! `docs/src/performance.md`. `BENCH_ONLY=read` runs only the two reads against the
//! ceiling and prints them with the CPU each used, the reader's and Dovecot's (to try
//! a change to the reader; nothing is written);
//! `BENCH_WRAP` puts a command before the reader (`perf record -g -o read.data --`).
//!
//! - send: 1,000 messages as one batch over implicit TLS + AUTH on one session, with
//!   PIPELINING and CHUNKING (the default) and without (how 0.1 sent), against Python's
//!   `smtplib` over one connection; the same on three sessions (the default); each on
//!   loopback and through a proxy that delays every byte by 1 ms each way (2 ms round
//!   trips, a server in the same region: on loopback a round trip costs microseconds
//!   and the server's own work decides); and on the plain port without login against
//!   Postfix's `smtp-source` with the same concurrency (the practical ceiling);
//! - read: 10,000 and 50,000 messages of about 4 KB to JSON Lines, against Python's
//!   `imaplib` + `email` producing the same fields, and against the ceiling: one `UID
//!   FETCH 1:* (BODY.PEEK[])` on a plain socket, read to the end without parsing or
//!   output, in this process (no process start, no login beyond LOGIN); the reader's
//!   own commands on such a socket and `run read` on an empty folder, and from them
//!   the most a reader that starts and searches can reach were its parsing free; and
//!   the CPU of the 50,000-message reads: the reader's, Dovecot's serving it and
//!   serving the ceiling;
//! - memory: peak RSS reading 10,000 and 50,000 messages (the median of three runs each),
//!   sending 1,000 and 10,000
//!   messages in one batch, and sending one message with a 25 MB attachment.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use email_testsupport::mail::{MailServers, Transport, User};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_email-connector");
/// Sessions on the plain port, the same for smtp-source.
const CONCURRENCY: usize = 4;
/// Sessions over TLS against smtplib's one: the connector's default (what Microsoft
/// 365 allows per mailbox).
const TLS_CONCURRENCY: usize = 3;
const SEND: usize = 1000;
/// The batch whose peak memory must stay flat.
const BIG_SEND: usize = 10_000;
const READ: usize = 10_000;
const BIG_READ: usize = 50_000;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let servers =
        MailServers::start().unwrap_or_else(|e| panic!("the mail servers must start: {e}"));
    let work = tempfile::tempdir().expect("dir");
    let w = work.path();
    if std::env::var("BENCH_ONLY").as_deref() == Ok("read") {
        read_only(&servers, w, runs);
        return;
    }

    // ---- send
    let sink = servers.new_user();
    let sender = servers.new_user();
    let batch: Vec<Value> = (0..SEND)
        .map(|i| message_request(i, &sender, &sink))
        .collect();
    write(w, "batch.json", &json!(batch));
    let tls = servers.connection(&sender, Transport::Tls);
    write(w, "tls.json", &tls);
    let far_port = delay_proxy(servers.ports.smtps, ONE_WAY);
    let mut far = tls.clone();
    far["smtp"]["port"] = json!(far_port);
    write(w, "far.json", &far);
    let mut plain = servers.connection(&sender, Transport::Plain);
    plain["imap"] = Value::Null;
    write(w, "plain.json", &plain);
    write(
        w,
        "send.json",
        &json!({"concurrency": CONCURRENCY, "max_retries": 0}),
    );
    write(
        w,
        "send-tls.json",
        &json!({"concurrency": TLS_CONCURRENCY, "max_retries": 0}),
    );
    write(
        w,
        "send-one.json",
        &json!({"concurrency": 1, "max_retries": 0}),
    );
    write(
        w,
        "send-one-unpipelined.json",
        &json!({"concurrency": 1, "max_retries": 0, "pipelining": false}),
    );
    write_python(w);

    let (mut ours_tls, mut smtplib, mut ours_plain, mut source) = (vec![], vec![], vec![], vec![]);
    let (mut ours_one, mut ours_one_unpipelined) = (vec![], vec![]);
    let (mut far_one, mut far_unpipelined, mut far_three, mut far_smtplib) =
        (vec![], vec![], vec![], vec![]);
    let smtplib_via = |port: u16| {
        time_ok(Command::new("python3").arg(w.join("bench.py")).args([
            "smtplib",
            "127.0.0.1",
            &port.to_string(),
            &sender.address,
            &sender.password,
            &sink.address,
            &SEND.to_string(),
        ]))
    };
    let send = |conn: &str, config: &str| time_ok(&mut send_command(w, conn, config, "batch.json"));
    // Each contender starts with Postfix's queue empty: the previous one's messages are
    // all stored before the clock starts, so nobody pays for someone else's delivery.
    let mut sent = 0;
    let settle = |sent: &mut usize| {
        *sent += SEND;
        servers
            .wait_for(&sink, "INBOX", *sent, Duration::from_secs(120))
            .expect("all delivered");
    };
    for _ in 0..runs {
        ours_one.push(send("tls.json", "send-one.json"));
        settle(&mut sent);
        ours_one_unpipelined.push(send("tls.json", "send-one-unpipelined.json"));
        settle(&mut sent);
        ours_tls.push(send("tls.json", "send-tls.json"));
        settle(&mut sent);
        smtplib.push(smtplib_via(servers.ports.smtps));
        settle(&mut sent);
        far_one.push(send("far.json", "send-one.json"));
        settle(&mut sent);
        far_unpipelined.push(send("far.json", "send-one-unpipelined.json"));
        settle(&mut sent);
        far_three.push(send("far.json", "send-tls.json"));
        settle(&mut sent);
        far_smtplib.push(smtplib_via(far_port));
        settle(&mut sent);
        ours_plain.push(send("plain.json", "send.json"));
        settle(&mut sent);
        source.push(time_ok(Command::new("/usr/sbin/smtp-source").args([
            "-d",
            "-s",
            &CONCURRENCY.to_string(),
            "-m",
            &SEND.to_string(),
            "-l",
            "1000",
            "-f",
            &sender.address,
            "-t",
            &sink.address,
            &format!("127.0.0.1:{}", servers.ports.smtp_plain),
        ])));
        settle(&mut sent);
    }

    // ---- read
    let reader = servers.new_user();
    servers
        .fill_inbox(&reader, (0..READ).map(stored_message))
        .expect("fill");
    write(w, "read-conn.json", &plain_imap(&servers, &reader));
    write(
        w,
        "read.json",
        &json!({"max_messages": BIG_READ, "after_read": "none"}),
    );
    let empty = fixed_cost(&servers, w, runs);
    let (empty_connector, empty_socket) = empty;
    let mut small = read_contest(&servers, w, "read-conn.json", &reader, READ, runs, true);
    // ---- memory
    let rss_5k = peak_rss_median(&mut read_command(w, "read-conn.json"));
    let big = servers.new_user();
    servers
        .fill_inbox(&big, (0..BIG_READ).map(stored_message))
        .expect("fill");
    write(w, "big-conn.json", &plain_imap(&servers, &big));
    let mut large = read_contest(&servers, w, "big-conn.json", &big, BIG_READ, runs, false);
    let rss_20k = peak_rss_median(&mut read_command(w, "big-conn.json"));
    // Sending: the host hands requests out and prints results as they come, so a
    // batch ten times larger must not take more memory.
    let rss_send = peak_rss(&mut send_command(
        w,
        "tls.json",
        "send-tls.json",
        "batch.json",
    ));
    settle(&mut sent);
    let big_batch: Vec<Value> = (0..BIG_SEND)
        .map(|i| message_request(i, &sender, &sink))
        .collect();
    write(w, "big-batch.json", &json!(big_batch));
    let rss_big_send = peak_rss(&mut send_command(
        w,
        "tls.json",
        "send-tls.json",
        "big-batch.json",
    ));
    let attachment = w.join("big.bin");
    std::fs::write(
        &attachment,
        (0..25 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    )
    .expect("write");
    write(
        w,
        "big-send.json",
        &json!({"from": sender.address, "to": [sink.address], "subject": "25 MB", "text": "see attached", "attachments": [{"path": attachment}]}),
    );
    write(w, "big-config.json", &json!({"attachment_dir": w}));
    let rss_25mb = peak_rss(&mut send_command(
        w,
        "tls.json",
        "big-config.json",
        "big-send.json",
    ));

    // ---- report
    let rate = |n: usize, v: &mut Vec<Duration>| n as f64 / median(v).as_secs_f64();
    let (s_one, s_one_unpipelined) = (
        rate(SEND, &mut ours_one),
        rate(SEND, &mut ours_one_unpipelined),
    );
    let (f_one, f_unpipelined, f_three, f_smtplib) = (
        rate(SEND, &mut far_one),
        rate(SEND, &mut far_unpipelined),
        rate(SEND, &mut far_three),
        rate(SEND, &mut far_smtplib),
    );
    let (s_ours_tls, s_smtplib, s_ours_plain, s_source) = (
        rate(SEND, &mut ours_tls),
        rate(SEND, &mut smtplib),
        rate(SEND, &mut ours_plain),
        rate(SEND, &mut source),
    );
    let per_second = |n: usize, t: Duration| n as f64 / t.as_secs_f64();
    let r_python = rate(READ, &mut small.peer);
    let (ours, raw, own) = small.medians();
    let (r_ours, r_raw, r_own) = (
        per_second(READ, ours),
        per_second(READ, raw),
        per_second(READ, own),
    );
    let (ours_big, raw_big, own_big) = large.medians();
    let (r_ours_big, r_raw_big, r_own_big) = (
        per_second(BIG_READ, ours_big),
        per_second(BIG_READ, raw_big),
        per_second(BIG_READ, own_big),
    );
    let (bound, bound_big) = (
        fixed_cost_bound(raw, own, empty),
        fixed_cost_bound(raw_big, own_big, empty),
    );
    let (c_reader, c_server, c_ceiling) = large.cpu.medians();
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let table = format!(
        "| measurement | email-connector | peer | ratio | target |\n\
         | --- | --- | --- | --- | --- |\n\
         | send {SEND} messages, implicit TLS + AUTH, one session, 2 ms round trips | {f_one:.0} msg/s | the same without PIPELINING and CHUNKING (as 0.1 sent): {f_unpipelined:.0} msg/s | {:.2}× | ≥ 1.2× ({}) |\n\
         | send {SEND} messages, implicit TLS + AUTH, one session, 2 ms round trips | {f_one:.0} msg/s | Python smtplib, one connection: {f_smtplib:.0} msg/s | {:.2}× | |\n\
         | send {SEND} messages, implicit TLS + AUTH, {TLS_CONCURRENCY} sessions, 2 ms round trips | {f_three:.0} msg/s | Python smtplib, one connection: {f_smtplib:.0} msg/s | {:.2}× | ≥ 3× ({}) |\n\
         | send {SEND} messages, implicit TLS + AUTH, one session, loopback | {s_one:.0} msg/s | the same without PIPELINING and CHUNKING: {s_one_unpipelined:.0} msg/s | {:.2}× | (the server's work decides) |\n\
         | send {SEND} messages, implicit TLS + AUTH, {TLS_CONCURRENCY} sessions, loopback | {s_ours_tls:.0} msg/s | Python smtplib, one connection: {s_smtplib:.0} msg/s | {:.2}× | (the server's work decides) |\n\
         | send {SEND} messages, plain port, {CONCURRENCY} sessions | {s_ours_plain:.0} msg/s | smtp-source, {CONCURRENCY} sessions: {s_source:.0} msg/s | {:.2}× | ≥ 0.8× ({}) |\n\
         | read {READ} messages of ~4 KB to JSON Lines | {r_ours:.0} msg/s | Python imaplib + email: {r_python:.0} msg/s | {:.2}× | ≥ 10× ({}) |\n\
         | read {READ} messages | {r_ours:.0} msg/s | the ceiling: one `UID FETCH 1:*` on a socket, no parsing, no output: {r_raw:.0} msg/s | {:.2}× | ≥ 0.9× ({}) |\n\
         | read {BIG_READ} messages | {r_ours_big:.0} msg/s | the same ceiling: {r_raw_big:.0} msg/s | {:.2}× | ≥ 0.9× ({}) |\n\
         | the reader's own commands on a socket (`UID SEARCH UNSEEN UNDELETED`, then `UID FETCH 1:* (UID FLAGS BODY.PEEK[])`), no parsing, no output: {READ} / {BIG_READ} messages | {r_own:.0} / {r_own_big:.0} msg/s | the ceiling | {:.2}× / {:.2}× | (the most any reader sending them reaches) |\n\
         | `run read` on an empty folder (process start, login, select; an empty folder is not searched) | {:.1} ms | the ceiling's exchange on it: {:.1} ms | | |\n\
         | the most a reader that starts as a process and searches reaches, its parsing free: {READ} / {BIG_READ} messages (the two rows above) | | the ceiling | {:.2}× / {:.2}× | (a 0.9× target needs this above 0.9) |\n\
         | CPU reading {BIG_READ} messages (user + system) | reader {:.2} s (Dovecot serving it: {:.2} s) | Dovecot serving the ceiling: {:.2} s | {:.2}× | (the two share 2 CPUs) |\n\
         | peak RSS reading {READ} / {BIG_READ} messages | {:.1} MB / {:.1} MB | | | ≤ 48 MB, flat ({}) |\n\
         | peak RSS sending {SEND} / {BIG_SEND} messages | {:.1} MB / {:.1} MB | | | ≤ 20 MB, flat ({}) |\n\
         | peak RSS sending one 25 MB attachment | {:.1} MB | | | ≤ 150 MB ({}) |\n",
        f_one / f_unpipelined,
        verdict(f_one >= 1.2 * f_unpipelined),
        f_one / f_smtplib,
        f_three / f_smtplib,
        verdict(f_three >= 3.0 * f_smtplib),
        s_one / s_one_unpipelined,
        s_ours_tls / s_smtplib,
        s_ours_plain / s_source,
        verdict(s_ours_plain >= 0.8 * s_source),
        r_ours / r_python,
        verdict(r_ours >= 10.0 * r_python),
        r_ours / r_raw,
        verdict(r_ours >= 0.9 * r_raw),
        r_ours_big / r_raw_big,
        verdict(r_ours_big >= 0.9 * r_raw_big),
        r_own / r_raw,
        r_own_big / r_raw_big,
        empty_connector.as_secs_f64() * 1000.0,
        empty_socket.as_secs_f64() * 1000.0,
        bound,
        bound_big,
        c_reader.as_secs_f64(),
        c_server.as_secs_f64(),
        c_ceiling.as_secs_f64(),
        c_reader.as_secs_f64() / c_ceiling.as_secs_f64(),
        rss_5k,
        rss_20k,
        verdict(rss_20k <= 48.0 && rss_20k <= rss_5k * 1.25 + 2.0),
        rss_send,
        rss_big_send,
        verdict(rss_big_send <= 20.0 && rss_big_send <= rss_send * 1.25 + 1.0),
        rss_25mb,
        verdict(rss_25mb <= 150.0),
    );
    let header = format!(
        "Medians of {runs} runs, contenders alternating, on the same local Postfix and Dovecot ({} cores). Generated by `scripts/bench.sh`.\n\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("{header}{table}");
    update_docs(&format!("{header}{table}"));
}

/// `BENCH_ONLY=read`: the two reads against the ceiling, printed, nothing written
/// (for trying a change to the reader quickly; the table needs the whole run).
fn read_only(servers: &MailServers, w: &Path, runs: usize) {
    write(
        w,
        "read.json",
        &json!({"max_messages": BIG_READ, "after_read": "none"}),
    );
    let empty = fixed_cost(servers, w, runs);
    let (connector, socket) = empty;
    println!(
        "an empty folder: email-connector {connector:.3?} (its start, login, select), the ceiling's exchange {socket:.3?}"
    );
    for count in [READ, BIG_READ] {
        let user = servers.new_user();
        servers
            .fill_inbox(&user, (0..count).map(stored_message))
            .expect("fill");
        let conn = format!("conn-{count}.json");
        write(w, &conn, &plain_imap(servers, &user));
        let mut contest = read_contest(servers, w, &conn, &user, count, runs, false);
        let (ours, raw, own) = contest.medians();
        let (reader, server, ceiling_server) = contest.cpu.medians();
        println!(
            "read {count}: email-connector {:.0} msg/s ({ours:.3?}), ceiling {:.0} msg/s ({raw:.3?}): {:.2}x",
            count as f64 / ours.as_secs_f64(),
            count as f64 / raw.as_secs_f64(),
            raw.as_secs_f64() / ours.as_secs_f64()
        );
        println!(
            "  the reader's commands on a socket (search, UID and FLAGS; no parsing, no output): {own:.3?}, {:.2}x of the ceiling's time at most for any reader sending them",
            raw.as_secs_f64() / own.as_secs_f64()
        );
        println!(
            "  its start and its search alone leave at most {:.2}x for a reader whose parsing cost nothing",
            fixed_cost_bound(raw, own, empty)
        );
        println!(
            "  CPU: reader {reader:.2?} and Dovecot {server:.2?} for the read, Dovecot {ceiling_server:.2?} for the ceiling; the reader needs {:.2}x the server's CPU",
            reader.as_secs_f64() / ceiling_server.as_secs_f64()
        );
    }
}

/// What a read costs before its first message: `run read` on an empty folder (the
/// process's start, login and select; an empty folder is not searched) and the
/// ceiling's exchange on it, medians of `runs` each, alternating.
fn fixed_cost(servers: &MailServers, w: &Path, runs: usize) -> (Duration, Duration) {
    let user = servers.new_user();
    write(w, "empty-conn.json", &plain_imap(servers, &user));
    let _ = run_read(w, "empty-conn.json");
    let (mut connector, mut socket) = (vec![], vec![]);
    for _ in 0..runs {
        let (t, lines) = run_read(w, "empty-conn.json");
        assert_eq!(lines, 0, "an empty folder has no records");
        connector.push(t);
        socket.push(socket_fetch(
            servers.ports.imap,
            &user,
            0,
            Commands::Ceiling,
        ));
    }
    (median(&mut connector), median(&mut socket))
}

/// The most a reader that starts as a process and searches for unread mail can reach
/// against the ceiling, were its parsing free and wholly overlapped with the transfer:
/// the ceiling's time over itself plus what the reader's start costs more than the
/// ceiling's exchange (`empty`: the connector's and the socket's, on an empty folder)
/// and what its commands cost more than the ceiling's (`own` against `raw`).
fn fixed_cost_bound(raw: Duration, own: Duration, empty: (Duration, Duration)) -> f64 {
    let more = empty.0.saturating_sub(empty.1) + own.saturating_sub(raw);
    raw.as_secs_f64() / (raw + more).as_secs_f64()
}

/// Reads `user`'s `count` messages `runs` times with the connector, alternating with
/// the socket ceiling and the reader's commands on a socket (and Python's `imaplib` +
/// `email` when `python`); the times of each and the CPU each read cost. One untimed
/// read first lets Dovecot index the messages.
fn read_contest(
    servers: &MailServers,
    w: &Path,
    conn: &str,
    user: &User,
    count: usize,
    runs: usize,
    python: bool,
) -> Contest {
    let _ = run_read(w, conn);
    let (mut ours, mut raw, mut own, mut peer) = (vec![], vec![], vec![], vec![]);
    let mut cpu = ReadCpu::default();
    let port = servers.ports.imap.to_string();
    let dovecot = servers.dovecot_pid().expect("Dovecot's pid");
    for run in 0..runs {
        let (server, reader) = (Spent::of(dovecot), Spent::of(std::process::id()));
        let (t, lines) = run_read(w, conn);
        assert_eq!(lines, count, "our reader must return every message");
        ours.push(t);
        cpu.server.push(server.since());
        cpu.reader.push(reader.since());
        // The two socket reads in turn, the first of them alternating (whichever
        // follows the connector's read runs on a different machine state).
        let ceiling = |raw: &mut Vec<Duration>, cpu: &mut ReadCpu| {
            let server = Spent::of(dovecot);
            raw.push(socket_fetch(
                servers.ports.imap,
                user,
                count,
                Commands::Ceiling,
            ));
            cpu.ceiling_server.push(server.since());
        };
        let commands = |own: &mut Vec<Duration>| {
            let server = Spent::of(dovecot);
            own.push(socket_fetch(
                servers.ports.imap,
                user,
                count,
                Commands::Reader,
            ));
            // Its session's process reaped before the next read is measured.
            let _ = server.since();
        };
        if run % 2 == 0 {
            ceiling(&mut raw, &mut cpu);
            commands(&mut own);
        } else {
            commands(&mut own);
            ceiling(&mut raw, &mut cpu);
        }
        if python {
            peer.push(time_ok(
                Command::new("python3").arg(w.join("bench.py")).args([
                    "parse",
                    "127.0.0.1",
                    &port,
                    &user.address,
                    &user.password,
                ]),
            ));
        }
    }
    Contest {
        ours,
        raw,
        own,
        peer,
        cpu,
    }
}

/// The times of a read contest, run by run, and the CPU each read cost.
struct Contest {
    /// The connector.
    ours: Vec<Duration>,
    /// The ceiling.
    raw: Vec<Duration>,
    /// The reader's own commands on a socket ([`Commands::Reader`]).
    own: Vec<Duration>,
    /// Python's `imaplib` + `email` (empty unless asked for).
    peer: Vec<Duration>,
    cpu: ReadCpu,
}

impl Contest {
    /// The medians of the connector's, the ceiling's and the reader's commands' times.
    fn medians(&mut self) -> (Duration, Duration, Duration) {
        (
            median(&mut self.ours),
            median(&mut self.raw),
            median(&mut self.own),
        )
    }
}

/// What a socket read asks Dovecot for.
#[derive(Clone, Copy)]
enum Commands {
    /// The ceiling: `UID FETCH 1:* (BODY.PEEK[])`.
    Ceiling,
    /// What the connector asks for in a read of unread messages: `UID SEARCH UNSEEN
    /// UNDELETED`, then `UID FETCH 1:* (UID FLAGS BODY.PEEK[])`, read to the end with
    /// no parsing and no output. The ceiling's time over this one's is the most any
    /// reader sending these commands can reach, before its process start and its
    /// work on the messages.
    Reader,
}

/// What the reads of a contest cost in CPU (user and system time), run by run: the
/// connector's process, and Dovecot's processes serving it and serving the ceiling.
/// Wall time on a shared two-vCPU machine moves with whatever else runs; CPU time
/// says what each side needs, and on two CPUs the reader and the server share them.
#[derive(Default)]
struct ReadCpu {
    reader: Vec<Duration>,
    server: Vec<Duration>,
    ceiling_server: Vec<Duration>,
}

impl ReadCpu {
    /// The medians, in the order of the fields.
    fn medians(&mut self) -> (Duration, Duration, Duration) {
        (
            median(&mut self.reader),
            median(&mut self.server),
            median(&mut self.ceiling_server),
        )
    }
}

/// The CPU time of a process's ended (and reaped) children so far, from
/// `/proc/PID/stat`: the bench's own for the reader it ran, Dovecot's master's for the
/// IMAP session processes it started (each ends with its session).
struct Spent {
    pid: u32,
    before: Duration,
}

impl Spent {
    fn of(pid: u32) -> Self {
        Self {
            pid,
            before: children_cpu(pid),
        }
    }

    /// The CPU spent by children that ended since `of`. Dovecot reaps a session's
    /// process a moment after it logs out: wait for that first.
    fn since(&self) -> Duration {
        std::thread::sleep(Duration::from_millis(150));
        children_cpu(self.pid).saturating_sub(self.before)
    }
}

fn children_cpu(pid: u32) -> Duration {
    static TICK: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
        let out = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .expect("getconf");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("clock ticks per second")
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("a process's stat");
    // pid (comm) state ppid ... utime stime cutime cstime: after the state, the
    // children's times are the 14th and 15th fields.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .expect("the stat form")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[13].parse::<u64>().expect("cutime") + fields[14].parse::<u64>().expect("cstime");
    Duration::from_millis(ticks * 1000 / *TICK)
}

/// The reading ceiling: a process's worth of work without the process, the parsing or
/// the output: log in on a plain socket, select, `UID FETCH 1:* (BODY.PEEK[])` (or the
/// reader's own commands, [`Commands`]), and read every literal to the end. Times the
/// whole exchange; checks `count` messages came.
fn socket_fetch(port: u16, user: &User, count: usize, commands: Commands) -> Duration {
    use std::io::BufRead as _;
    let started = Instant::now();
    let mut out = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut input = std::io::BufReader::with_capacity(256 * 1024, out.try_clone().expect("clone"));
    let mut line = Vec::new();
    let mut until = |input: &mut std::io::BufReader<TcpStream>, tag: &[u8]| -> usize {
        let mut messages = 0;
        loop {
            line.clear();
            assert!(
                input.read_until(b'\n', &mut line).expect("read") > 0,
                "closed"
            );
            if line.starts_with(tag) {
                assert!(
                    line[tag.len()..].starts_with(b"OK"),
                    "{}",
                    String::from_utf8_lossy(&line)
                );
                return messages;
            }
            let text = line.trim_ascii_end();
            if let Some(open) = text.iter().rposition(|b| *b == b'{')
                && text.ends_with(b"}")
            {
                let n: usize = std::str::from_utf8(&text[open + 1..text.len() - 1])
                    .expect("ascii")
                    .parse()
                    .expect("a literal size");
                std::io::copy(&mut (&mut *input).take(n as u64), &mut std::io::sink())
                    .expect("literal");
                messages += 1;
            }
        }
    };
    until(&mut input, b"* ");
    write!(
        out,
        "a LOGIN \"{}\" \"{}\"\r\n",
        user.address, user.password
    )
    .expect("write");
    until(&mut input, b"a ");
    out.write_all(b"b SELECT INBOX\r\n").expect("write");
    until(&mut input, b"b ");
    let fetch: &[u8] = match commands {
        Commands::Ceiling => b"c UID FETCH 1:* (BODY.PEEK[])\r\n",
        Commands::Reader => {
            out.write_all(b"s UID SEARCH UNSEEN UNDELETED\r\n")
                .expect("write");
            until(&mut input, b"s ");
            b"c UID FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n"
        }
    };
    out.write_all(fetch).expect("write");
    let messages = until(&mut input, b"c ");
    out.write_all(b"d LOGOUT\r\n").expect("write");
    assert_eq!(messages, count, "the ceiling must fetch every message");
    started.elapsed()
}

/// The delay the proxy adds each way.
const ONE_WAY: Duration = Duration::from_millis(1);

/// A TCP proxy on loopback to `port` that delivers every byte `one_way` after it
/// arrived, in both directions (latency without a bandwidth limit, order kept): what a
/// server some distance away costs per round trip. Returns its port.
fn delay_proxy(port: u16, one_way: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let local = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            for (from, to) in [
                (client.try_clone(), server.try_clone()),
                (server.try_clone(), client.try_clone()),
            ] {
                if let (Ok(from), Ok(to)) = (from, to) {
                    delayed_pump(from, to, one_way);
                }
            }
        }
    });
    local
}

/// Copies `from` to `to`, each chunk held until `delay` after it was read.
fn delayed_pump(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (due, bytes) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

fn message_request(i: usize, from: &User, to: &User) -> Value {
    json!({
        "from": from.address,
        "to": [to.address],
        "subject": format!("Benchmark message {i}"),
        "text": format!("Message {i}.\n{}", "The quick brown fox jumps over the lazy dog. ".repeat(20)),
    })
}

/// A stored message of about 4 KB: headers, a text part and a small attachment.
fn stored_message(i: usize) -> Vec<u8> {
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. "
        .repeat(40);
    format!(
        "From: Sender {i} <sender{i}@example.test>\r\nTo: reader@example.test\r\nSubject: Message number {i}\r\n\
         Message-ID: <{i}.bench@example.test>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
         --b{i}\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"row{i}.csv\"\r\nContent-Transfer-Encoding: base64\r\n\r\nYSxiLGMKMSwyLDMK\r\n--b{i}--\r\n"
    )
    .into_bytes()
}

fn plain_imap(servers: &MailServers, user: &User) -> Value {
    let mut c = servers.connection(user, Transport::Plain);
    c["smtp"] = Value::Null;
    c
}

/// `run send` with the files of `w` named.
fn send_command(w: &Path, conn: &str, config: &str, input: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--log-level", "warn", "run", "send", "--connection"])
        .arg(w.join(conn))
        .arg("--config")
        .arg(w.join(config))
        .arg("--input")
        .arg(w.join(input));
    cmd
}

/// `run read` of the connection file `conn` with `read.json`, as the memory rows run it.
fn read_command(w: &Path, conn: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--log-level", "warn", "run", "read", "--connection"])
        .arg(w.join(conn))
        .arg("--config")
        .arg(w.join("read.json"));
    cmd
}

fn write(dir: &Path, name: &str, value: &Value) {
    std::fs::write(dir.join(name), value.to_string()).expect("write");
}

fn run_read(w: &Path, conn: &str) -> (Duration, usize) {
    use std::io::Read as _;
    let started = Instant::now();
    // BENCH_WRAP="perf record -g -o read.data --" runs the reader under a profiler
    // (or any command prefix), in the bench's exact setting.
    let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace().chain([BIN]);
    let mut child = Command::new(words.next().expect("a program"))
        .args(words)
        .args(["--log-level", "warn", "run", "read", "--connection"])
        .arg(w.join(conn))
        .arg("--config")
        .arg(w.join("read.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run");
    // Read to the end as a consumer would, a buffer at a time, counting lines (the
    // ceiling reads its answer to the end too; collecting 40 MB in one growing
    // buffer cost the bench process copies that were charged to the reader). The
    // lines are counted with `memchr` (a vector at a time): counting them a byte at a
    // time cost the bench about 0.6 ns a byte, 116 ms of CPU for the 205 MB of a
    // 50,000-message read, on the two CPUs the reader and Dovecot share, while the
    // ceiling's client only copies its bytes away.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    loop {
        let n = stdout.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count();
    }
    assert!(child.wait().expect("wait").success(), "read failed");
    (started.elapsed(), lines)
}

fn time_ok(cmd: &mut Command) -> Duration {
    let started = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("run");
    let took = started.elapsed();
    assert!(status.success(), "{cmd:?} failed");
    took
}

/// Peak resident memory of the command, in MB (GNU time's maximum RSS).
/// The median of three peak RSS readings of `cmd`, in MB (one reading varies by a few
/// MB from run to run, enough to make a flatness verdict a coin toss).
fn peak_rss_median(cmd: &mut Command) -> f64 {
    let mut readings = [peak_rss(cmd), peak_rss(cmd), peak_rss(cmd)];
    readings.sort_by(f64::total_cmp);
    readings[1]
}

fn peak_rss(cmd: &mut Command) -> f64 {
    let out = tempfile::NamedTempFile::new().expect("tmp");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(out.path())
        .arg(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("GNU time (Debian package `time`) must be installed");
    assert!(status.success(), "{cmd:?} failed");
    let kb: f64 = std::fs::read_to_string(out.path())
        .expect("read")
        .trim()
        .parse()
        .expect("a number");
    kb / 1024.0
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn write_python(dir: &Path) {
    std::fs::write(dir.join("bench.py"), PYTHON).expect("write");
}

/// Writes the table between the markers in docs/src/performance.md.
fn update_docs(table: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "docs",
        "src",
        "performance.md",
    ]
    .iter()
    .collect();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let (start, end) = ("<!-- email-bench:start -->", "<!-- email-bench:end -->");
    if let (Some(a), Some(b)) = (text.find(start), text.find(end)) {
        let updated = format!("{}{start}\n{table}{}", &text[..a], &text[b..]);
        let _ = std::fs::write(&path, updated);
    }
}

const PYTHON: &str = r#"
import email, imaplib, json, smtplib, ssl, sys
from email import policy
from email.message import EmailMessage

def send(host, port, user, password, to, count):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP_SSL(host, int(port), context=ctx) as s:
        s.login(user, password)
        for i in range(int(count)):
            m = EmailMessage()
            m["From"] = user
            m["To"] = to
            m["Subject"] = "Benchmark message %d" % i
            m.set_content("Message %d.\n" % i + "The quick brown fox jumps over the lazy dog. " * 20)
            s.send_message(m)

def fetch(host, port, user, password):
    M = imaplib.IMAP4(host, int(port))
    M.login(user, password)
    M.select("INBOX", readonly=True)
    typ, data = M.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
    M.logout()
    return [item[1] for item in data if isinstance(item, tuple)]

def addresses(header):
    if header is None:
        return []
    return [{"name": a.display_name or None, "address": a.addr_spec} for a in header.addresses]

def parse(raw):
    m = email.message_from_bytes(raw, policy=policy.default)
    text = m.get_body(preferencelist=("plain",))
    html = m.get_body(preferencelist=("html",))
    attachments = []
    for part in m.iter_attachments():
        data = part.get_payload(decode=True) or b""
        attachments.append({"filename": part.get_filename(), "content_type": part.get_content_type(),
                            "size": len(data), "content_base64": __import__("base64").b64encode(data).decode()})
    return {"message_id": m["Message-ID"], "date": m["Date"].datetime.isoformat() if m["Date"] else None,
            "from": addresses(m["From"]), "to": addresses(m["To"]), "cc": addresses(m["Cc"]),
            "subject": m["Subject"], "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "headers": [{"name": k, "value": str(v)} for k, v in m.items()],
            "size": len(raw), "attachments": attachments}

mode = sys.argv[1]
if mode == "smtplib":
    send(*sys.argv[2:8])
elif mode == "parse":
    out = open("/dev/null", "w")
    for raw in fetch(*sys.argv[2:6]):
        out.write(json.dumps(parse(raw)) + "\n")
"#;
