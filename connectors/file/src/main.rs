//! The `file-connector` program: the host protocol over [`file_connector::FileConnector`].

fn main() -> std::process::ExitCode {
    connector_sdk::host::main(file_connector::FileConnector)
}
