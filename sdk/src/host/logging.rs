//! Logs to stderr through `tracing`, never to stdout.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::cli::LogFormat;

/// Installs the stderr subscriber. `level` wins over `RUST_LOG`; the default is `info`.
pub(crate) fn init(level: Option<&str>, format: LogFormat) {
    let filter = level
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests calling the host twice in one process) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
