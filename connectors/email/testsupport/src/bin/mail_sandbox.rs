//! `mail-sandbox`: starts the local Postfix and Dovecot, writes a ready connection file
//! for the email connector, and either runs a command against them or waits.
//!
//! ```text
//! mail-sandbox [--connection FILE] [--transport starttls|tls|plain] [--oauth2] [-- COMMAND ARGS...]
//! ```
//!
//! With `--oauth2`, a token endpoint runs on loopback too and the connection logs in
//! with the `client_credentials` grant against it (see `email_testsupport::oauth`).
//!
//! With a command, the servers stop when it ends and its exit status is returned;
//! without one, they run until stdin closes (press Ctrl-D) or the process is killed.
//! The environment of the command holds `SANDBOX_CONNECTION` (the file),
//! `SANDBOX_USER` and `SANDBOX_PEER` (a second mailbox).

use std::io::Read;
use std::process::{Command, ExitCode};

use email_testsupport::mail::{MailServers, Transport};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut connection = String::from(".sandbox/connection.json");
    let mut transport = Transport::Starttls;
    let mut command: Vec<String> = Vec::new();
    let mut oauth2 = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--connection" => connection = args.next().unwrap_or_default(),
            "--transport" => {
                transport = match args.next().as_deref() {
                    Some("tls") => Transport::Tls,
                    Some("plain") => Transport::Plain,
                    Some("starttls") => Transport::Starttls,
                    other => return usage(&format!("unknown transport {other:?}")),
                }
            }
            "--oauth2" => oauth2 = true,
            "--" => command = args.by_ref().collect(),
            "-h" | "--help" => return usage(""),
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    let servers = match MailServers::start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mail-sandbox: {e}");
            return ExitCode::from(1);
        }
    };
    let user = servers.new_user();
    let peer = servers.new_user();
    let mut settings = servers.connection(&user, transport);
    let endpoint = if oauth2 {
        match email_testsupport::oauth::TokenEndpoint::start(&servers) {
            Ok(endpoint) => {
                let app = endpoint.app(&user);
                settings["auth"] = serde_json::json!({
                    "type": "oauth2",
                    "username": user.address,
                    "grant": "client_credentials",
                    "token_url": endpoint.url(),
                    "client_id": app.client_id,
                    "client_secret": app.client_secret,
                });
                eprintln!("mail-sandbox: token endpoint {}", endpoint.url());
                Some(endpoint)
            }
            Err(e) => {
                eprintln!("mail-sandbox: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    if let Some(parent) = std::path::Path::new(&connection).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = std::fs::write(
        &connection,
        serde_json::to_string_pretty(&settings).unwrap_or_default(),
    ) {
        eprintln!("mail-sandbox: cannot write {connection}: {e}");
        return ExitCode::from(1);
    }
    eprintln!(
        "mail-sandbox: Postfix and Dovecot are up (SMTP {}, IMAP {}); mailboxes {} and {}; connection file {connection}",
        settings["smtp"]["port"], settings["imap"]["port"], user.address, peer.address
    );
    if command.is_empty() {
        eprintln!("mail-sandbox: press Ctrl-D to stop");
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        return ExitCode::SUCCESS;
    }
    let status = Command::new(&command[0])
        .args(&command[1..])
        .env("SANDBOX_CONNECTION", &connection)
        .env("SANDBOX_USER", &user.address)
        .env("SANDBOX_PEER", &peer.address)
        .status();
    drop(endpoint);
    drop(servers);
    match status {
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("mail-sandbox: cannot run {}: {e}", command[0]);
            ExitCode::from(1)
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("mail-sandbox: {problem}");
    }
    eprintln!(
        "usage: mail-sandbox [--connection FILE] [--transport starttls|tls|plain] [--oauth2] [-- COMMAND ARGS...]"
    );
    ExitCode::from(2)
}
