use connector_sdk::{CheckReport, Connection, Emitter, Result, Source};

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

pub struct Lines;

/// Reads lines.
#[connector_sdk::activity(name = "read", role = "source")]
impl Source for Lines {
    type Connection = Conn;
    type Config = Empty;
    type Record = Empty;
    type Ack = u64;

    async fn read(&self, _: &Conn, _: &Empty, _: &Emitter<Empty, u64>) -> Result<()> {
        Ok(())
    }

    async fn commit(&self, _: &Conn, _: &Empty, _: Vec<u64>) -> Result<()> {
        Ok(())
    }
}

fn main() {}
