//! [`Connector`]: the top of what an author implements. It names itself, declares its
//! connection settings and activities, and opens connections; the [`Manifest`] is
//! assembled here from those types.
//!
//! Layers below: the activity traits ([`crate::activity`]), the run loop
//! ([`crate::run`]) and the registry of type-erased activities ([`crate::registry`]).
//! The host ([`crate::host`]) sits above and is the only thing that calls this.

use async_trait::async_trait;

use crate::connection::Connection;
use crate::error::Result;
use crate::manifest::Manifest;
use crate::registry::Activities;
use crate::schema::{Input, schema_of};

/// A connector's name, version and description, as the manifest shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Machine name: lower-case letters, digits, `-` and `_` (`email`).
    pub name: &'static str,
    /// The connector's semantic version; a major bump allows incompatible settings.
    pub version: &'static str,
    /// One paragraph for a person choosing a connector.
    pub description: &'static str,
}

/// A connector: names itself, declares its settings and activities, and opens
/// connections.
///
/// `#[connector_sdk::connector]` on the impl block writes [`Connector::info`] and
/// [`Connector::activities`] from its arguments and doc comment, so the impl holds only
/// what is particular to the connector: its types and `connect`.
///
/// ```
/// use connector_sdk::prelude::*;
///
/// #[connector_sdk::settings]
/// /// Nothing to set.
/// pub struct NoSettings {}
///
/// /// A connection that holds nothing.
/// #[derive(Debug)]
/// pub struct Nothing;
///
/// #[connector_sdk::connection]
/// impl Connection for Nothing {
///     async fn check(&self) -> CheckReport {
///         CheckReport::new()
///     }
/// }
///
/// /// Does nothing, to show the shape of a connector.
/// #[derive(Debug)]
/// pub struct Noop;
///
/// /// Does nothing at all.
/// #[connector_sdk::connector(name = "noop", activities())]
/// impl Connector for Noop {
///     type Settings = NoSettings;
///     type Connection = Nothing;
///
///     async fn connect(&self, _settings: NoSettings) -> Result<Nothing> {
///         Ok(Nothing)
///     }
/// }
///
/// assert_eq!(Noop.info().name, "noop");
/// assert_eq!(Noop.info().description, "Does nothing at all.");
/// ```
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The connection settings (`--connection FILE`).
    type Settings: Input;
    /// What [`Connector::connect`] opens and every activity uses.
    type Connection: Connection;

    /// Name, version and description.
    fn info(&self) -> Info;

    /// The activities, in manifest order.
    fn activities(&self) -> Activities<Self::Connection>;

    /// Checks the settings beyond what serde can (two fields that exclude each other),
    /// without connecting. The host runs it for `validate`, and (through the default
    /// [`open`](Connector::open)) before `connect`; an error exits 2. The default
    /// accepts everything.
    ///
    /// # Errors
    /// Why the settings are invalid, usually [`Error::config`](crate::Error::config) with a path.
    fn validate(&self, settings: &Self::Settings) -> Result<()> {
        let _ = settings;
        Ok(())
    }

    /// Opens a connection from validated settings. Connectors that talk to several
    /// services may connect lazily so that [`Connection::check`] can report each step.
    async fn connect(&self, settings: Self::Settings) -> Result<Self::Connection>;

    /// Validates and connects: what `check`, `discover` and `run` call. The default
    /// runs [`validate`](Connector::validate), then [`connect`](Connector::connect).
    ///
    /// Override it when validating builds something `connect` needs (loaded
    /// certificates, a token plan), so the settings are checked once: then `validate`
    /// serves the `validate` command alone and this method does both in one pass.
    ///
    /// # Errors
    /// What `validate` or `connect` returns.
    async fn open(&self, settings: Self::Settings) -> Result<Self::Connection> {
        self.validate(&settings)?;
        self.connect(settings).await
    }
}

impl Manifest {
    /// The manifest of `connector`: its info, the schema of its connection settings,
    /// and each activity's schemas, in declaration order.
    pub fn of<C: Connector>(connector: &C) -> Self {
        let info = connector.info();
        Self {
            name: info.name.to_owned(),
            version: info.version.to_owned(),
            description: info.description.to_owned(),
            connection: schema_of::<C::Settings>(),
            activities: connector.activities().manifests(),
        }
    }
}
