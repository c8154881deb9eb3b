#[connector_sdk::settings]
/// A port.
pub struct Port(u16);

fn main() {}
