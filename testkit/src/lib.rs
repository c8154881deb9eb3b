//! Test support for connectors built on `connector-sdk`.
//!
//! - [`cli`]: reading what a connector program printed (exit code, JSON error line,
//!   JSON or JSON Lines on stdout).
//! - [`conformance`]: the checks every connector must pass, run against its real
//!   binary; `conformance_tests!` turns them into one named test each.
//! - [`service`]: a local server a connector's tests need, as a process: started,
//!   waited for, logged, stopped.
//! - [`workspace`]: build another package's binary from a test.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.88.

pub mod cli;
pub mod conformance;
pub mod service;
pub mod workspace;
