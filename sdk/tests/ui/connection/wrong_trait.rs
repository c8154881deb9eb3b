use connector_sdk::prelude::*;

#[connector_sdk::settings]
/// Nothing to set.
pub struct Empty {}

/// A connection.
#[derive(Debug)]
pub struct Conn;

#[connector_sdk::connection]
impl Connection for Conn {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }
}

/// A connector, given the wrong attribute.
#[derive(Debug)]
pub struct Nothing;

#[connector_sdk::connection]
impl Connector for Nothing {
    type Settings = Empty;
    type Connection = Conn;

    fn info(&self) -> Info {
        Info { name: "nothing", version: "0.1.0", description: "Nothing." }
    }

    fn activities(&self) -> Activities<Conn> {
        Activities::new()
    }

    async fn connect(&self, _: Empty) -> Result<Conn> {
        Ok(Conn)
    }
}

fn main() {}
