use connector_sdk::{CheckReport, Connection, Connector, Result};

#[connector_sdk::settings]
/// Nothing.
pub struct Empty {}

#[derive(Debug)]
pub struct Conn;

#[connector_sdk::connection]
impl Connection for Conn {
    async fn check(&self) -> CheckReport {
        CheckReport::new()
    }
}

pub struct Mine;

/// Mine.
#[connector_sdk::connector(name = "mine", activites())]
impl Connector for Mine {
    type Settings = Empty;
    type Connection = Conn;

    async fn connect(&self, _: Empty) -> Result<Conn> {
        Ok(Conn)
    }
}

fn main() {}
