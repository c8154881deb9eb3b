//! The `email-connector` program: the host protocol over [`email_connector::EmailConnector`].

fn main() -> std::process::ExitCode {
    connector_sdk::host::main(email_connector::EmailConnector)
}
