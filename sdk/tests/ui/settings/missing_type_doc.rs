#[connector_sdk::settings]
pub struct Imap {
    /// Host name.
    pub host: String,
}

fn main() {}
