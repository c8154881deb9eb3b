/// Not an impl at all.
#[connector_sdk::connection]
pub struct Nothing;

fn main() {}
