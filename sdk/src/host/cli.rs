//! The command line of the host protocol.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::connector::Info;

/// How log lines on stderr are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

/// When a source's records are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CommitMode {
    /// Once written to stdout and flushed.
    #[default]
    Immediate,
    /// At the start of the next run, for what the `--state` it is given covers.
    Deferred,
}

#[derive(Debug, Parser)]
pub(crate) struct Cli {
    /// Log filter: a level (`error`, `warn`, `info`, `debug`, `trace`) or `RUST_LOG`
    /// directives; defaults to `RUST_LOG`, then `info`.
    #[arg(long, global = true, value_name = "FILTER")]
    pub(crate) log_level: Option<String>,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the manifest (JSON Schema 2020-12 of every setting, request and record).
    Spec,
    /// Print a completion script for a shell (`source <(email-connector completions
    /// bash)`).
    Completions {
        /// The shell: bash, elvish, fish, powershell or zsh.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Validate settings (and an activity's config and input) without connecting.
    Validate {
        /// Connection settings file (JSON), or `-` for stdin.
        #[arg(long, value_name = "FILE")]
        connection: String,
        /// An activity whose settings to validate too.
        activity: Option<String>,
        /// Activity settings file (JSON), or `-` for stdin; defaults to `{}`.
        #[arg(long, value_name = "FILE")]
        config: Option<String>,
        /// Requests for a target: one JSON request or an array.
        #[arg(long, value_name = "FILE")]
        input: Option<String>,
    },
    /// Verify a connection step by step and print the report.
    Check {
        /// Connection settings file (JSON), or `-` for stdin.
        #[arg(long, value_name = "FILE")]
        connection: String,
    },
    /// List the objects (such as folders) an activity can work on.
    Discover {
        /// The activity to discover objects for.
        activity: String,
        /// Connection settings file (JSON), or `-` for stdin.
        #[arg(long, value_name = "FILE")]
        connection: String,
        /// Activity settings file (JSON), or `-` for stdin; defaults to `{}`.
        #[arg(long, value_name = "FILE")]
        config: Option<String>,
    },
    /// Run an activity: a target reads requests and prints one result line per request,
    /// a source prints records as JSON Lines.
    Run {
        /// The activity to run.
        activity: String,
        /// Connection settings file (JSON), or `-` for stdin.
        #[arg(long, value_name = "FILE")]
        connection: String,
        /// Activity settings file (JSON), or `-` for stdin; defaults to `{}`.
        #[arg(long, value_name = "FILE")]
        config: Option<String>,
        /// Requests for a target: one JSON request or an array; `-` (the default) for stdin.
        #[arg(long, value_name = "FILE")]
        input: Option<String>,
        /// Sources: commit delivered records in batches of at most this many.
        #[arg(long, value_name = "N", default_value_t = 500)]
        commit_every: usize,
        /// Sources: the state of the previous run (a missing file is a first run). With
        /// `--commit immediate` the file is replaced, atomically, at every checkpoint.
        #[arg(long, value_name = "FILE")]
        state: Option<String>,
        /// Sources: `immediate` commits records (marks them read …) once written to
        /// stdout; `deferred` commits nothing during the run, and commits what a given
        /// `--state` covers at the start of the next run.
        #[arg(long, value_enum, default_value_t = CommitMode::Immediate)]
        commit: CommitMode,
        /// Stop the run after this many seconds, as SIGTERM would (what was done is
        /// reported and committed), and exit 1 with a `timeout` error: bounds a run
        /// that a slow or stalling server would otherwise hold.
        #[arg(long, value_name = "SECS")]
        deadline: Option<u64>,
        /// When stderr is not a terminal, log a `progress` event this often, in seconds
        /// (0: never); on a terminal a progress line is shown instead.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        progress_every: u64,
    },
}

/// What `--help` says about one activity.
pub(crate) struct ActivityHelp {
    pub(crate) name: &'static str,
    pub(crate) role: crate::Role,
    pub(crate) description: &'static str,
}

/// The first sentence of a description, for one line of help.
fn first_sentence(text: &str) -> &str {
    let end = text
        .find(". ")
        .map_or(text.len(), |i| i + 1)
        .min(text.find('\n').unwrap_or(text.len()));
    text[..end].trim()
}

/// The activities and examples `--help` ends with.
fn after_help(bin: &str, activities: &[ActivityHelp]) -> String {
    let width = activities
        .iter()
        .map(|a| a.name.len() + 9)
        .max()
        .unwrap_or(0);
    let mut out = String::from("Activities:\n");
    for a in activities {
        let role = match a.role {
            crate::Role::Source => "source",
            crate::Role::Target => "target",
        };
        let label = format!("{} ({role})", a.name);
        out.push_str(&format!(
            "  {label:<width$}  {}\n",
            first_sentence(a.description)
        ));
    }
    out.push_str(&format!(
        "\nExamples:\n  {bin} spec > manifest.json\n  {bin} check --connection conn.json\n"
    ));
    for a in activities {
        match a.role {
            crate::Role::Target => out.push_str(&format!(
                "  {bin} run {} --connection conn.json --input requests.jsonl\n",
                a.name
            )),
            crate::Role::Source => out.push_str(&format!(
                "  {bin} run {} --connection conn.json --config {}.json --state {}-state.json\n",
                a.name, a.name, a.name
            )),
        }
    }
    out.push_str("\nExit status: 0 done, 1 failed at run time, 2 invalid settings or input, 130/143 stopped by a signal.");
    out
}

/// Parses the arguments; on help or version prints it and exits 0, on a usage error
/// prints it and the JSON error line and exits 2.
pub(crate) fn parse<I, T>(
    info: &Info,
    activities: &[ActivityHelp],
    args: I,
) -> Result<Cli, ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The program's own name, as the user typed it (`email-connector`), not the
    // connector's machine name.
    let bin: String = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map_or_else(
            || info.name.to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
    let version = format!(
        "{} (connector {} {}, connector-sdk {})",
        info.version,
        info.name,
        info.version,
        env!("CARGO_PKG_VERSION")
    );
    let command = Cli::command()
        .name(bin.clone())
        .bin_name(bin.clone())
        .version(version)
        .about(info.description)
        .after_help(after_help(&bin, activities));
    let mut completing = command.clone();
    match command
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(Cli {
            command: Command::Completions { shell },
            ..
        }) => {
            let mut stdout = std::io::stdout().lock();
            clap_complete::generate(shell, &mut completing, bin, &mut stdout);
            Err(ExitCode::SUCCESS)
        }
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return Err(ExitCode::SUCCESS);
            }
            let usage = e.render().to_string();
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "{usage}");
            let first = usage
                .lines()
                .next()
                .unwrap_or("invalid usage")
                .trim_start_matches("error: ")
                .to_owned();
            let body = crate::Error::config("", format!("usage: {first}")).body();
            let _ = writeln!(stderr, "{}", serde_json::json!({ "error": body }));
            Err(ExitCode::from(2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_gives_each_activity_the_first_sentence_of_its_description() {
        assert_eq!(first_sentence("Reads mail. Marks it read."), "Reads mail.");
        assert_eq!(first_sentence("Sends mail\nover SMTP. More."), "Sends mail");
        assert_eq!(first_sentence("No full stop"), "No full stop");
        assert_eq!(
            first_sentence("Version 1.2 is read. Then"),
            "Version 1.2 is read."
        );
        let activities = [
            ActivityHelp {
                name: "read",
                role: crate::Role::Source,
                description: "Reads mail. Marks it read.",
            },
            ActivityHelp {
                name: "send-all",
                role: crate::Role::Target,
                description: "Sends mail.",
            },
        ];
        let help = after_help("mail", &activities);
        assert!(
            help.starts_with(
                "Activities:\n  read (source)      Reads mail.\n  send-all (target)  Sends mail.\n\nExamples:\n"
            ),
            "{help}"
        );
        assert!(help.contains("  mail run read --connection conn.json --config read.json --state read-state.json\n"), "{help}");
        assert!(
            help.contains("  mail run send-all --connection conn.json --input requests.jsonl\n"),
            "{help}"
        );
    }
}
