//! Test support for connectors built on `connector-sdk`.
//!
//! - [`mail`]: real Postfix and Dovecot on loopback, for connectors that speak SMTP
//!   and IMAP (started by the test itself; no mail account needed).
//!
//! # Minimum supported Rust version
//!
//! Rust 1.88.

pub mod mail;
