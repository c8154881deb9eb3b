use connector_sdk::prelude::*;

#[connector_sdk::settings]
/// Nothing to set.
pub struct Empty {}

#[derive(Debug)]
pub struct Conn;

#[connector_sdk::connection]
impl Connection for Conn {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }
}

/// Reads nothing; its impl forgot `#[connector_sdk::activity]`.
pub struct Lines;

impl Source for Lines {
    type Connection = Conn;
    type Config = Empty;
    type Record = Empty;
    type Ack = u64;
    type State = ();

    async fn read(
        &self,
        _: &Conn,
        _: &Empty,
        _: &Emitter<Empty, u64>,
    ) -> Result<()> {
        Ok(())
    }
}

fn main() {}
