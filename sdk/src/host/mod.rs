//! The host: turns any [`Connector`] into the command-line program of the host
//! protocol (`spec`, `check`, `discover`, `run`).
//!
//! A connector's `main` is one call:
//!
//! ```no_run
//! # use connector_sdk::prelude::*;
//! # #[connector_sdk::settings]
//! # /// Nothing.
//! # pub struct S {}
//! # #[derive(Debug)] pub struct N;
//! # #[connector_sdk::connection]
//! # impl Connection for N { async fn check(&self) -> CheckReport { CheckReport::new() } }
//! # #[derive(Debug)] pub struct MyConnector;
//! # /// Mine.
//! # #[connector_sdk::connector(name = "mine", activities())]
//! # impl Connector for MyConnector {
//! #     type Settings = S; type Connection = N;
//! #     async fn connect(&self, _: S) -> Result<N> { Ok(N) }
//! # }
//! fn main() -> std::process::ExitCode {
//!     connector_sdk::host::main(MyConnector)
//! }
//! ```
//!
//! Exit status: `0` success, `1` the check or activity failed at run time, `2` usage
//! or invalid settings or input. On failure the last line on stderr is one JSON object
//! `{"error": {"kind", "message", "retryable", "path"}}`. Logs go to stderr only.
//!
//! The top layer of the SDK: it parses the command line, reads the JSON files, asks
//! the [`Connector`] for its activities and connection, and hands the run to the run
//! loop. Nothing below it knows about processes, files or signals.

mod cli;
mod logging;
mod output;

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::connection::Connection;
use crate::connector::Connector;
use crate::error::{Error, ErrorKind, Result};
use crate::input::RequestDocs;
use crate::manifest::Manifest;
use crate::run::RunIo;
use crate::schema::{from_value, parse_json};

pub use cli::{CommitMode, LogFormat};

/// Runs the connector as a command-line program with the process's arguments.
pub fn main<C: Connector>(connector: C) -> ExitCode {
    main_with_args(connector, std::env::args_os())
}

/// Runs the connector as a command-line program with the given arguments (the first
/// one is the program name).
pub fn main_with_args<C, I, T>(connector: C, args: I) -> ExitCode
where
    C: Connector,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let help: Vec<cli::ActivityHelp> = connector
        .activities()
        .infos()
        .into_iter()
        .map(|(info, role)| cli::ActivityHelp {
            name: info.name,
            role,
            description: info.description,
        })
        .collect();
    let cli = match cli::parse(&connector.info(), &help, args) {
        Ok(cli) => cli,
        Err(exit) => return exit,
    };
    logging::init(cli.log_level.as_deref(), cli.log_format);

    let result = match cli.command {
        // No runtime for `spec`: it should take milliseconds.
        cli::Command::Spec => print_json(&Manifest::of(&connector).to_value()),
        command => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("connector")
            .build()
        {
            Ok(runtime) => {
                let result = runtime.block_on(execute(&connector, command));
                // Stop stray tasks before the last stderr line, so it stays last; briefly,
                // since a signal's 2-second promise includes this.
                runtime.shutdown_timeout(Duration::from_millis(200));
                result
            }
            Err(e) => Err(Error::internal(format!(
                "cannot start the async runtime: {e}"
            ))),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Prints the error line and returns the exit status for `err`.
fn fail(err: &Error) -> ExitCode {
    tracing::error!(target: "connector_sdk::host", kind = %err.kind(), retryable = err.is_retryable(), "{err}");
    let line = serde_json::json!({ "error": err.body() });
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
    let _ = stderr.flush();
    ExitCode::from(exit_status(err))
}

/// The exit status for an error: 2 for config errors, 128 plus the signal's number
/// for a run a signal stopped (130 for SIGINT, 143 for SIGTERM, as shells report it),
/// 1 for every other kind.
pub fn exit_status(err: &Error) -> u8 {
    match err.kind() {
        ErrorKind::Config => 2,
        ErrorKind::Interrupted => match crate::run::stop_cause() {
            Some(crate::run::StopCause::Signal(n)) => 128 + n,
            _ => 130,
        },
        _ => 1,
    }
}

fn print_json(value: &Value) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(stdout))
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::internal(format!("cannot write to stdout: {e}")))
}

/// Reads a file, or stdin for `-`.
fn read_text(source: &str, what: &str) -> Result<String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::config("", format!("cannot read {what} from stdin: {e}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| Error::config("", format!("cannot read {what} file `{source}`: {e}")))
    }
}

/// Reads a JSON document from a file, or stdin for `-`.
fn read_json(source: &str, what: &str) -> Result<Value> {
    let text = read_text(source, what)?;
    parse_json(&text).map_err(|e| Error::config("", format!("{what} `{source}`: {}", e.message())))
}

fn connection_settings<C: Connector>(source: &str) -> Result<C::Settings> {
    let value = read_json(source, "connection")?;
    let settings: C::Settings = from_value(&value)?;
    // Through `Debug`, so a secret kept outside `Secret` shows up here (the conformance
    // suite's canary check looks for it) rather than somewhere worse.
    tracing::debug!(target: "connector_sdk::host", ?settings, "connection settings");
    Ok(settings)
}

/// Reads, validates and opens the connection (`Connector::open`: validated once).
async fn open<C: Connector>(connector: &C, source: &str) -> Result<C::Connection> {
    connector.open(connection_settings::<C>(source)?).await
}

/// At most one of the files may be `-`: stdin can be read only once.
fn one_stdin(files: &[(&str, Option<&str>)]) -> Result<()> {
    if files.iter().filter(|(_, f)| *f == Some("-")).count() > 1 {
        let names: Vec<String> = files.iter().map(|(n, _)| format!("--{n}")).collect();
        let (last, rest) = names.split_last().unwrap_or((&names[0], &[]));
        return Err(Error::config(
            "",
            format!(
                "only one of {} and {last} can be `-` (stdin)",
                rest.join(", ")
            ),
        ));
    }
    Ok(())
}

async fn execute<C: Connector>(connector: &C, command: cli::Command) -> Result<()> {
    let activities = connector.activities();
    let find = |name: &str| {
        activities.get(name).cloned().ok_or_else(|| {
            Error::config(
                "",
                format!(
                    "unknown activity `{name}`, expected one of: {}",
                    activities.names().join(", ")
                ),
            )
        })
    };
    match command {
        cli::Command::Spec | cli::Command::Completions { .. } => {
            unreachable!("handled before the runtime starts")
        }
        cli::Command::Validate {
            connection,
            activity,
            config,
            input,
        } => {
            one_stdin(&[
                ("connection", Some(&connection)),
                ("config", config.as_deref()),
                ("input", input.as_deref()),
            ])?;
            connector.validate(&connection_settings::<C>(&connection)?)?;
            if let Some(activity) = activity {
                let activity = find(&activity)?;
                let stdin_free = connection != "-" && config.as_deref() != Some("-");
                let config = config_value(config.as_deref())?.unwrap_or_else(empty);
                // A target's requests come from stdin when it is piped, as for `run`;
                // from a terminal, only with `--input -`.
                let input = match input {
                    None if activity.role() == crate::Role::Target
                        && stdin_free
                        && !std::io::stdin().is_terminal() =>
                    {
                        Some("-".to_owned())
                    }
                    input => input,
                };
                let input = input.as_deref().map(RequestDocs::read).transpose()?;
                activity.prepare(&config, input.map(std::sync::Arc::new), None)?;
            }
            print_json(&serde_json::json!({ "valid": true }))
        }
        cli::Command::Check { connection } => {
            let conn = open(connector, &connection).await?;
            let report = conn.check().await;
            let printed = print_json(&crate::json::canonical(
                &serde_json::json!({ "ok": report.ok(), "steps": report.steps }),
            ));
            close(conn).await;
            printed?;
            match report.first_error() {
                Some(err) if !report.ok() => Err(err),
                _ => Ok(()),
            }
        }
        cli::Command::Discover {
            activity,
            connection,
            config,
        } => {
            let activity = find(&activity)?;
            if !activity.info().discovery {
                return Err(crate::activity::no_discovery(activity.info().name));
            }
            one_stdin(&[
                ("connection", Some(&connection)),
                ("config", config.as_deref()),
            ])?;
            let config = config_value(config.as_deref())?;
            let prepared = activity.prepare_discover(config.as_ref())?;
            let conn = open(connector, &connection).await?;
            let objects = prepared.discover(&conn).await;
            close(conn).await;
            let objects = objects?;
            print_json(&crate::json::canonical(
                &serde_json::json!({ "objects": objects }),
            ))
        }
        cli::Command::Run {
            activity,
            connection,
            config,
            input,
            commit_every,
            state,
            commit,
            deadline,
            progress_every,
        } => {
            let activity = find(&activity)?;
            one_stdin(&[
                ("connection", Some(&connection)),
                ("config", config.as_deref()),
                ("input", input.as_deref()),
            ])?;
            let config = config_value(config.as_deref())?.unwrap_or_else(empty);
            if activity.role() == crate::Role::Target
                && (state.is_some() || commit == cli::CommitMode::Deferred)
            {
                return Err(Error::config(
                    "",
                    "--state and --commit are for sources; a target keeps no state",
                ));
            }
            let previous = match &state {
                Some(file) if std::path::Path::new(file).exists() => {
                    Some(read_json(file, "state")?)
                }
                _ => None,
            };
            let input = match activity.role() {
                crate::Role::Target => Some(RequestDocs::read(input.as_deref().unwrap_or("-"))?),
                crate::Role::Source => {
                    if input.is_some() {
                        return Err(Error::config(
                            "",
                            "--input is for targets; a source reads no input",
                        ));
                    }
                    None
                }
            };
            let empty_input = input.as_ref().is_some_and(RequestDocs::is_empty);
            let prepared =
                activity.prepare(&config, input.map(std::sync::Arc::new), previous.as_ref())?;
            if empty_input {
                // Validated, and nothing to do: no connection is opened.
                tracing::info!(target: "connector_sdk::host", "the input holds no request: nothing to do");
                return Ok(());
            }
            // Signals are caught from here on (connecting included): a SIGTERM ends the
            // run within 2 s with an error line that says what was done, whenever it comes.
            let stop = signals(deadline.map(Duration::from_secs));
            let mut waiting = stop.clone();
            let conn = tokio::select! {
                conn = open(connector, &connection) => Arc::new(conn?),
                () = crate::run::stopped(&mut waiting) => {
                    return Err(crate::run::stopped_error("stopped while connecting: nothing was done"));
                }
            };
            let io = RunIo {
                output: output::stdout(),
                stop,
                commit_every: commit_every.max(1),
                state_lines: state.is_some() || commit == cli::CommitMode::Deferred,
                state_file: state.map(std::path::PathBuf::from),
                deferred: commit == cli::CommitMode::Deferred,
                progress_every: Duration::from_secs(progress_every),
            };
            let result = prepared.run(Arc::clone(&conn), io).await;
            match Arc::try_unwrap(conn) {
                // After a signal, goodbyes get little time: the exit is promised in 2 s.
                Ok(conn) if crate::run::stop_cause().is_some() => {
                    let _ = tokio::time::timeout(Duration::from_millis(200), close(conn)).await;
                }
                Ok(conn) => close(conn).await,
                Err(_) => {
                    tracing::debug!(target: "connector_sdk::host", "connection still shared at exit; dropped without close")
                }
            }
            result
        }
    }
}

fn empty() -> Value {
    Value::Object(serde_json::Map::new())
}

fn config_value(source: Option<&str>) -> Result<Option<Value>> {
    source.map(|s| read_json(s, "config")).transpose()
}

async fn close<C: Connection>(conn: C) {
    if let Err(e) = conn.close().await {
        tracing::warn!(target: "connector_sdk::host", "closing the connection failed: {e}");
    }
}

/// A stop flag set by SIGINT or SIGTERM, or once `deadline` has passed.
fn signals(deadline: Option<Duration>) -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    // Registered now, not when the task below first runs: on a current-thread runtime
    // that can be after the first records were written, and a SIGTERM before it would
    // kill the process with no word (found by the testkit's SIGTERM check).
    let signalled = wait_for_signal();
    tokio::spawn(async move {
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            name = signalled => {
                tracing::warn!(target: "connector_sdk::host", "{name} received: stopping after what was delivered");
            }
            () = timer => {
                let secs = deadline.map_or(0, |d| d.as_secs());
                crate::run::set_stop_cause(crate::run::StopCause::Deadline(secs));
                tracing::warn!(target: "connector_sdk::host", deadline_secs = secs, "the run's deadline passed: stopping after what was delivered");
            }
        }
        let _ = tx.send(true);
        // Keep the sender alive so receivers see `true`, not a closed channel.
        std::future::pending::<()>().await;
    });
    rx
}

/// Registers SIGINT and SIGTERM handlers at once and returns what resolves on the
/// first of them.
#[cfg(unix)]
fn wait_for_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = &'static str> + Send>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return Box::pin(std::future::pending());
    };
    Box::pin(async move {
        tokio::select! {
            _ = int.recv() => {
                crate::run::set_stop_cause(crate::run::StopCause::Signal(2));
                "SIGINT"
            }
            _ = term.recv() => {
                crate::run::set_stop_cause(crate::run::StopCause::Signal(15));
                "SIGTERM"
            }
        }
    })
}

#[cfg(not(unix))]
fn wait_for_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = &'static str> + Send>> {
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    })
}
