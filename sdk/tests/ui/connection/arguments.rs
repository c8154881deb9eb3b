use connector_sdk::prelude::*;

/// A connection.
#[derive(Debug)]
pub struct Nothing;

#[connector_sdk::connection(name = "nothing")]
impl Connection for Nothing {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }
}

fn main() {}
