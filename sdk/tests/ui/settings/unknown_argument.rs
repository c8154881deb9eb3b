#[connector_sdk::settings(deny_unknown)]
/// Where to connect.
pub struct Imap {
    /// Host name.
    pub host: String,
}

fn main() {}
