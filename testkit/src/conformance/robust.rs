//! Checks of what a platform relies on when things go wrong: retry classes (a silent
//! server is a retryable `timeout`, wrong credentials a non-retryable `auth`), a
//! SIGTERM in the middle of a source run (committed is exactly what was written), the
//! refusal of two inputs on stdin, and an activity config only the connector's own
//! validation refuses.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Suite;
use super::runner::{Run, Workdir};

impl Suite {
    /// `check` against a server that accepts and never answers: `timeout` (or
    /// `connect`), retryable, within the connector's own timeout plus 2 s.
    pub(super) fn silent_check(&self) -> Result<Vec<String>, String> {
        let (settings, timeout) = self.need(&self.silent, "silent")?;
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().take(16).flatten() {
                held.push(stream); // accepted, never answered
            }
            std::thread::sleep(Duration::from_secs(120));
        });
        let mut problems = Vec::new();
        let out = self.timed_check(&settings(port), *timeout, "a silent server", &mut problems);
        match out.error() {
            Some(e)
                if (e["kind"] == "timeout" || e["kind"] == "connect") && e["retryable"] == true => {
            }
            Some(e) => problems.push(format!(
                "a silent server must fail as a retryable timeout (or connect), got {e}"
            )),
            None => problems.push(format!(
                "no JSON error line after `check` against a silent server: {}",
                out.last_line()
            )),
        }
        Ok(problems)
    }

    /// `check` with credentials the server refuses: `auth`, not retryable (retrying
    /// refused credentials locks accounts).
    pub(super) fn wrong_credentials_check(&self) -> Result<Vec<String>, String> {
        let settings = self.need(&self.wrong_credentials, "wrong_credentials")?;
        let wd = Workdir::new();
        let f = wd.json("wrong.json", &settings());
        let out = Run::new(&self.binary)
            .args(["check", "--connection", &f])
            .timeout(Duration::from_secs(60))
            .output();
        let mut problems = Vec::new();
        if out.code != Some(1) {
            problems.push(format!(
                "`check` with wrong credentials must exit 1, got {:?}",
                out.code
            ));
        }
        match out.error() {
            Some(e) if e["kind"] == "auth" && e["retryable"] == false => {}
            Some(e) => problems.push(format!(
                "wrong credentials must fail as `auth`, not retryable; got {e}"
            )),
            None => problems.push(format!(
                "no JSON error line after `check` with wrong credentials: {}",
                out.last_line()
            )),
        }
        Ok(problems)
    }

    /// An activity config that only the connector's own validation refuses: `validate`
    /// and `run` both exit 2 with its path, and `run` does nothing.
    pub(super) fn invalid_config_check(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        if self.invalid_configs.is_empty() {
            return Err("this check needs an `invalid_config` fixture: a config only the connector's `validate` refuses (add .invalid_config(activity, config, path))".into());
        }
        let wd = Workdir::new();
        let conn_file = wd.json("conn.json", conn);
        let mut problems = Vec::new();
        for (activity, config, path) in &self.invalid_configs {
            let out = self.validate(&wd, conn, Some((activity, config)));
            if let Some(p) = Self::expect_config_error(
                &out,
                path,
                &format!("`validate {activity}` with {config}"),
            ) {
                problems.push(p);
            }
            let cfg = wd.json("bad-config.json", config);
            let out = Run::new(&self.binary)
                .args([
                    "run",
                    activity,
                    "--connection",
                    &conn_file,
                    "--config",
                    &cfg,
                    "--input",
                    "-",
                ])
                .output();
            let out = if out.stderr.contains("--input is for targets") {
                Run::new(&self.binary)
                    .args([
                        "run",
                        activity,
                        "--connection",
                        &conn_file,
                        "--config",
                        &cfg,
                    ])
                    .output()
            } else {
                out
            };
            if let Some(p) =
                Self::expect_config_error(&out, path, &format!("`run {activity}` with {config}"))
            {
                problems.push(format!(
                    "{p}; the host must call the activity's `validate` before running it"
                ));
            }
            if !out.stdout.trim().is_empty() {
                problems.push(format!(
                    "`run {activity}` with an invalid config printed data: {}",
                    out.stdout.trim()
                ));
            }
        }
        Ok(problems)
    }

    /// Two inputs on stdin (`--connection - --config -`) are refused with exit 2.
    pub(super) fn two_stdin(&self) -> Result<Vec<String>, String> {
        let spec = self.spec()?;
        let Some(activity) = spec["activities"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|a| a["name"].as_str())
        else {
            return Ok(Vec::new());
        };
        let out = Run::new(&self.binary)
            .args(["run", activity, "--connection", "-", "--config", "-"])
            .output();
        let mut problems: Vec<String> =
            Self::expect_config_error(&out, "", "two inputs from stdin")
                .into_iter()
                .collect();
        // Refused for what it is, before anything is read (not as an empty document).
        if problems.is_empty()
            && !out
                .error()
                .and_then(|e| e["message"].as_str().map(|m| m.contains("stdin")))
                .unwrap_or(false)
        {
            problems.push(format!(
                "two inputs from stdin must be refused as such (the message should say only one can be `-`), got: {}",
                out.last_line()
            ));
        }
        Ok(problems)
    }

    /// SIGTERM after the first record: the run exits 143 (or 0 if it was done), and
    /// what it wrote is exactly what it committed: the next run brings every other
    /// record, none twice, none lost.
    pub(super) fn signal_mid_run(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        for s in self.need_sources()? {
            let case = (s.setup)();
            let wd = Workdir::new();
            let conn = wd.json("signal-conn.json", &case.connection);
            let cfg = wd.json("signal-config.json", &case.config);
            let mut child = crate::cli::spawn(
                Command::new(&self.binary)
                    .args(["run", &s.activity, "--connection", &conn, "--config", &cfg])
                    .args(self.state_args(&wd, &s.activity))
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
            .map_err(|e| format!("cannot start the connector: {e}"))?;
            let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
            let mut first = String::new();
            let _ = stdout.read_line(&mut first);
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
            let deadline = Instant::now() + Duration::from_secs(10);
            let (code, hung) = loop {
                match child.try_wait() {
                    Ok(Some(status)) => break (status.code(), false),
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    _ => {
                        let _ = child.kill();
                        break (None, true);
                    }
                }
            };
            let wrong = if hung {
                Some(
                    "was still running 10 s after SIGTERM (the host must end within 2 s)"
                        .to_owned(),
                )
            } else if code.is_none() {
                Some("was killed by SIGTERM instead of stopping: the signal came before the host listened for it, and nothing was reported".to_owned())
            } else if !matches!(code, Some(0 | 143)) {
                Some(format!(
                    "must exit 143 after SIGTERM (or 0 if it had finished), got {code:?}"
                ))
            } else {
                None
            };
            if let Some(wrong) = wrong {
                problems.push(format!("`run {}` {wrong}", s.activity));
                continue;
            }
            let written: Vec<String> = Self::keys(&format!("{first}{rest}"), &s.key);
            let next = self.run_source(&wd, &case, &s.activity, "after-signal");
            let later = Self::keys(&next.stdout, &s.key);
            let twice: Vec<&String> = later.iter().filter(|k| written.contains(k)).collect();
            if !twice.is_empty() {
                problems.push(format!("`{}`: {} records written before SIGTERM came again (first: {}): written records must be committed", s.activity, twice.len(), twice[0]));
            }
            let total = written.len() + later.len() - twice.len();
            if total != case.records {
                problems.push(format!("`{}`: {} records before SIGTERM and {} after make {total} of {}: {} lost (committed without being written)", s.activity, written.len(), later.len(), case.records, case.records.saturating_sub(total)));
            }
        }
        Ok(problems)
    }
}
