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

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::connection::Connection;
use crate::connector::Connector;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Manifest;
use crate::run::RunIo;
use crate::schema::{from_value, parse_json};

pub use cli::LogFormat;

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
    let cli = match cli::parse(&connector.info(), args) {
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
                // Stop stray tasks before the last stderr line, so it stays last.
                runtime.shutdown_timeout(Duration::from_secs(2));
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

/// The exit status for an error: 2 for config errors, 1 for every other kind.
pub fn exit_status(err: &Error) -> u8 {
    if err.kind() == ErrorKind::Config {
        2
    } else {
        1
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

/// Reads a JSON document from a file, or stdin for `-`.
fn read_json(source: &str, what: &str) -> Result<Value> {
    let text = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::config("", format!("cannot read {what} from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| Error::config("", format!("cannot read {what} file `{source}`: {e}")))?
    };
    parse_json(&text).map_err(|e| Error::config("", format!("{what} `{source}`: {}", e.message())))
}

/// Reads the connection settings (serde only: the shape and types).
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
        cli::Command::Spec => unreachable!("handled before the runtime starts"),
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
                let config = config_value(config.as_deref())?.unwrap_or_else(empty);
                let input = input
                    .as_deref()
                    .map(|i| read_json(i, "input"))
                    .transpose()?;
                activity.prepare(&config, input.as_ref())?;
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
        } => {
            let activity = find(&activity)?;
            one_stdin(&[
                ("connection", Some(&connection)),
                ("config", config.as_deref()),
                ("input", input.as_deref()),
            ])?;
            let config = config_value(config.as_deref())?.unwrap_or_else(empty);
            let input = match activity.role() {
                crate::Role::Target => Some(read_json(input.as_deref().unwrap_or("-"), "input")?),
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
            let prepared = activity.prepare(&config, input.as_ref())?;
            let conn = Arc::new(open(connector, &connection).await?);
            let io = RunIo {
                output: Box::new(std::io::stdout()),
                stop: signals(),
                commit_every: commit_every.max(1),
            };
            let result = prepared.run(Arc::clone(&conn), io).await;
            match Arc::try_unwrap(conn) {
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

/// A stop flag set by SIGINT or SIGTERM.
fn signals() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let name = wait_for_signal().await;
        tracing::warn!(target: "connector_sdk::host", "{name} received: stopping after what was delivered");
        let _ = tx.send(true);
        // Keep the sender alive so receivers see `true`, not a closed channel.
        std::future::pending::<()>().await;
    });
    rx
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}
