#[connector_sdk::settings]
#[derive(Debug, PartialEq)]
/// Where to connect.
pub struct Imap {
    /// Host name.
    pub host: String,
}

fn main() {}
