use connector_sdk::prelude::*;

/// A connection whose impl forgot `#[connector_sdk::connection]`.
#[derive(Debug)]
pub struct Conn;

impl Connection for Conn {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }
}

fn main() {}
