//! The `rest-connector` program: the host protocol over [`rest_connector::RestConnector`].

fn main() -> std::process::ExitCode {
    connector_sdk::host::main(rest_connector::RestConnector)
}
