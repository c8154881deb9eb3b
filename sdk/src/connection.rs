//! [`Connection`]: what a connector opens and every activity uses; the *Test* button
//! ([`Connection::check`]) and the end of its life ([`Connection::close`]).
//!
//! A layer of its own, below the activity traits, because sources and targets name
//! their connection type.

use async_trait::async_trait;

use crate::check::CheckReport;
use crate::error::Result;

/// An open connection: the *Test* button and the end of its life.
///
/// Implement it with `#[connector_sdk::connection]` on the impl block (it applies
/// `async_trait` for you):
///
/// ```
/// use connector_sdk::prelude::*;
///
/// /// A connection to nothing.
/// #[derive(Debug)]
/// pub struct Nothing;
///
/// #[connector_sdk::connection]
/// impl Connection for Nothing {
///     async fn check(&self) -> CheckReport {
///         let mut report = CheckReport::new();
///         let _ = report.step("nothing.ready", async { Ok(()) }).await;
///         report
///     }
/// }
/// ```
#[async_trait]
pub trait Connection: Send + Sync + 'static + crate::__private::ConnectionImpl {
    /// Verifies the connection, one [`CheckReport`] step per thing verified (connect,
    /// TLS, login …), each timed and classified.
    async fn check(&self) -> CheckReport;

    /// Closes the connection politely (LOGOUT, QUIT). The default does nothing.
    async fn close(self) -> Result<()>
    where
        Self: Sized,
    {
        Ok(())
    }
}
