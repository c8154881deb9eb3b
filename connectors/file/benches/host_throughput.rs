//! Host throughput: how fast the SDK host streams a source's records, against the cost
//! of the same work without the host.
//!
//! `cargo bench -p file-connector --bench host_throughput` (set `BENCH_RECORDS` to
//! change the default 1,000,000 records and `BENCH_RUNS` the default 5 runs).
//!
//! - **host**: the release `file-connector run read` over a JSON Lines file, stdout to
//!   `/dev/null`: read, parse, emit through the channel, serialize, write, flush,
//!   commit.
//! - **baseline**: the same file read, parsed and serialized into the same records in
//!   one loop in this process, written to `/dev/null`: the work any program must do.
//!
//! The host runs twice: with the default commit batches (500 records: the example
//! source fsyncs its state file 2,000 times) and with commits every 100,000 records,
//! which isolates the host. The difference between the latter and the baseline,
//! divided by the record count, is the host's per-record overhead.
//! It also times `spec`, the program's start-up. Contenders alternate run by run and
//! medians are reported.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_file-connector");

fn main() {
    let records: u64 = env_or("BENCH_RECORDS", 1_000_000);
    let runs: usize = env_or("BENCH_RUNS", 5);
    let dir = std::env::temp_dir().join(format!("host-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("in.jsonl");
    write_input(&input, records);
    let size = std::fs::metadata(&input).expect("input").len();
    std::fs::write(
        dir.join("conn.json"),
        serde_json::json!({"root": dir}).to_string(),
    )
    .expect("conn");
    std::fs::write(dir.join("read.json"), r#"{"path": "in.jsonl"}"#).expect("config");

    let (mut host, mut host_lazy, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        host.push(run_host(&dir, 500));
        host_lazy.push(run_host(&dir, 100_000));
        baseline.push(run_baseline(&input));
    }
    let mut spec = (0..50).map(|_| run_spec()).collect::<Vec<_>>();

    let (h, hl, b) = (
        median(&mut host),
        median(&mut host_lazy),
        median(&mut baseline),
    );
    let n = records as f64;
    let overhead_ns = (hl.as_secs_f64() - b.as_secs_f64()) * 1e9 / n;
    println!(
        "host throughput: {records} records, {:.1} MB, median of {runs} runs",
        size as f64 / 1e6
    );
    println!("| contender | time | records/s | ratio to baseline |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| host, commit every 500 (default; 2,000 fsyncs) | {:.3} s | {:.0} | {:.2} |",
        h.as_secs_f64(),
        n / h.as_secs_f64(),
        b.as_secs_f64() / h.as_secs_f64()
    );
    println!(
        "| host, commit every 100,000 | {:.3} s | {:.0} | {:.2} |",
        hl.as_secs_f64(),
        n / hl.as_secs_f64(),
        b.as_secs_f64() / hl.as_secs_f64()
    );
    println!(
        "| baseline (parse + serialize, one loop) | {:.3} s | {:.0} | 1.00 |",
        b.as_secs_f64(),
        n / b.as_secs_f64()
    );
    println!(
        "host overhead beyond parsing and serialization (commit every 100,000): {overhead_ns:.0} ns per record"
    );
    println!(
        "spec start-up: median {:.2} ms over 50 runs",
        median(&mut spec).as_secs_f64() * 1e3
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write_input(path: &std::path::Path, records: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create"));
    for i in 0..records {
        writeln!(
            out,
            r#"{{"id":{i},"name":"record-{i}","tags":["alpha","beta"],"value":{}.5,"ok":true}}"#,
            i % 1000
        )
        .expect("write");
    }
    out.flush().expect("flush");
}

fn run_host(dir: &std::path::Path, commit_every: u32) -> Duration {
    let _ = std::fs::remove_file(dir.join("in.jsonl.offset"));
    let started = Instant::now();
    let status = Command::new(BIN)
        .args(["--log-level", "warn", "run", "read", "--connection"])
        .arg(dir.join("conn.json"))
        .arg("--config")
        .arg(dir.join("read.json"))
        .args(["--commit-every", &commit_every.to_string()])
        .stdout(std::fs::File::create("/dev/null").expect("/dev/null"))
        .stderr(Stdio::inherit())
        .status()
        .expect("run");
    let elapsed = started.elapsed();
    assert!(status.success(), "host run failed");
    elapsed
}

#[derive(serde::Serialize)]
struct Record {
    line: u64,
    offset: u64,
    data: serde_json::Value,
}

fn run_baseline(input: &std::path::Path) -> Duration {
    let started = Instant::now();
    let mut reader =
        BufReader::with_capacity(256 * 1024, std::fs::File::open(input).expect("open"));
    let mut out = BufWriter::with_capacity(
        64 * 1024,
        std::fs::File::create("/dev/null").expect("/dev/null"),
    );
    let (mut buf, mut line, mut offset) = (String::new(), 0_u64, 0_u64);
    while reader.read_line(&mut buf).expect("read") > 0 {
        line += 1;
        let data: serde_json::Value = serde_json::from_str(buf.trim_end()).expect("json");
        serde_json::to_writer(&mut out, &Record { line, offset, data }).expect("serialize");
        out.write_all(b"\n").expect("write");
        offset += buf.len() as u64;
        buf.clear();
    }
    out.flush().expect("flush");
    started.elapsed()
}

fn run_spec() -> Duration {
    let started = Instant::now();
    let out = Command::new(BIN).arg("spec").output().expect("spec");
    assert!(out.status.success());
    started.elapsed()
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}
