#[connector_sdk::settings]
#[serde(rename_all = "snake_case")]
/// Transport security.
pub enum Security {
    /// Implicit TLS.
    Tls,
    Starttls,
}

fn main() {}
