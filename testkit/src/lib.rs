//! Test support for connectors built on `connector-sdk`.
//!
//! - [`cli`]: reading what a connector program printed (exit code, JSON error line,
//!   JSON or JSON Lines on stdout).
//! - [`conformance`]: the checks every connector must pass, run against its real
//!   binary; `conformance_tests!` turns them into one named test each.
//! - [`mail`]: real Postfix and Dovecot on loopback, for connectors that speak SMTP
//!   and IMAP (started by the test itself; no mail account needed).
//! - [`oauth`]: an OAuth 2.0 token endpoint on loopback whose tokens the harness's Dovecot
//!   accepts, for the client credentials, password and refresh token grants.
//! - [`workspace`]: build another package's binary from a test.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.88.

pub mod cli;
pub mod conformance;
pub mod mail;
pub mod oauth;
pub mod workspace;
