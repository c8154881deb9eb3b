use connector_sdk::{CheckReport, Connection};

pub struct Lines;

/// Reads lines.
#[connector_sdk::activity(name = "read")]
impl Connection for Lines {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }
}

fn main() {}
