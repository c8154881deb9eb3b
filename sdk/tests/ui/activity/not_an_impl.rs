/// Reads lines.
#[connector_sdk::activity(name = "read")]
pub struct Lines;

fn main() {}
