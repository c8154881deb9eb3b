#[connector_sdk::settings]
/// Where to connect.
pub struct Imap {
    /// Host name.
    pub host: String,
    pub port: u16,
}

fn main() {}
