//! The traits a connector implements: [`Connector`], [`Connection`], [`Source`] and
//! [`Target`].

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::CheckReport;
use crate::emit::Emitter;
use crate::error::{Error, Result};
use crate::settings::{Output, Settings};

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
/// use connector_sdk::{CheckReport, Connection, Connector, Result};
///
/// #[connector_sdk::settings]
/// /// Nothing to set.
/// pub struct NoSettings {}
///
/// /// A connection that holds nothing.
/// #[derive(Debug)]
/// pub struct Nothing;
///
/// #[connector_sdk::async_trait]
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
    type Settings: Settings;
    /// What [`Connector::connect`] opens and every activity uses.
    type Connection: Connection;

    /// Name, version and description.
    fn info(&self) -> Info;

    /// The activities, in manifest order.
    fn activities(&self) -> Activities<Self::Connection>;

    /// Checks the settings beyond what serde can (two fields that exclude each other),
    /// without connecting. The host runs it before `connect` and for `validate`; an
    /// error exits 2. The default accepts everything.
    ///
    /// # Errors
    /// Why the settings are invalid, usually [`Error::config`] with a path.
    fn validate(&self, settings: &Self::Settings) -> Result<()> {
        let _ = settings;
        Ok(())
    }

    /// Opens a connection from validated settings. Connectors that talk to several
    /// services may connect lazily so that [`Connection::check`] can report each step.
    async fn connect(&self, settings: Self::Settings) -> Result<Self::Connection>;
}

/// An open connection: the *Test* button and the end of its life.
#[async_trait]
pub trait Connection: Send + Sync + 'static {
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

/// Whether an activity provides data (source) or consumes it (target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Emits records, and commits them once the host has delivered them.
    Source,
    /// Takes requests and returns a response.
    Target,
}

/// An activity's name, description and whether it supports discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityInfo {
    /// Machine name, unique within the connector (`send`, `read`).
    pub name: &'static str,
    /// What the activity does, for a person.
    pub description: &'static str,
    /// Whether `discover` lists objects for this activity.
    pub discovery: bool,
}

/// One object found by discovery, such as a mail folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// The name to put in the activity's settings (`INBOX`, `Archive/2026`).
    pub name: String,
    /// What the object is, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Flags the remote side reports (`\Sent`, `\Noselect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

impl Object {
    /// An object with a name and nothing else.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            attributes: Vec::new(),
        }
    }
}

/// The error returned by activities that have no discovery.
pub(crate) fn no_discovery(name: &str) -> Error {
    Error::config("", format!("activity `{name}` has no discovery"))
}

/// A target activity: typed requests in, one typed response out.
///
/// The host reads one request or a JSON array of them, validates *every* request
/// first (a bad one exits 2 with its path, and nothing is called), then calls
/// [`Target::call`] once with the whole batch so the target can share connections.
#[async_trait]
pub trait Target: Send + Sync + 'static {
    /// The connection this activity runs on.
    type Connection: Connection;
    /// Activity settings (`--config FILE`).
    type Config: Settings;
    /// One request.
    type Request: Settings;
    /// The response to a batch.
    type Response: Output;

    /// Name, description and discovery flag; written by `#[activity]`.
    fn info(&self) -> ActivityInfo;

    /// Checks what serde cannot (a request with no recipient, two options that exclude
    /// each other). The host calls it for every request, with the activity settings,
    /// before connecting; an error (usually [`Error::config`] with a path inside the
    /// request) exits 2 and nothing is called. The default accepts everything.
    ///
    /// # Errors
    /// Why the request is invalid.
    fn validate(&self, config: &Self::Config, request: &Self::Request) -> Result<()> {
        let _ = (config, request);
        Ok(())
    }

    /// Handles a batch of one or more requests.
    async fn call(
        &self,
        conn: &Self::Connection,
        config: &Self::Config,
        requests: Vec<Self::Request>,
    ) -> Result<Self::Response>;

    /// The error to report when the response says part of the batch failed. The host
    /// still prints the response, then exits 1 with this error. The default: none.
    fn failure(&self, response: &Self::Response) -> Option<Error> {
        let _ = response;
        None
    }

    /// Lists objects (such as folders) to choose from while filling in the settings,
    /// so `config` is given only when `discover` was called with `--config`. Define it
    /// and `#[activity]` sets the discovery flag.
    async fn discover(
        &self,
        conn: &Self::Connection,
        config: Option<&Self::Config>,
    ) -> Result<Vec<Object>> {
        let _ = (conn, config);
        Err(no_discovery(self.info().name))
    }
}

/// A source activity: emits records, each with an acknowledgement, and commits only
/// what the host has delivered.
///
/// [`Source::read`] must not change anything remotely (no "mark read"); the host
/// writes and flushes records, then calls [`Source::commit`] with the acknowledgements
/// of delivered records, in batches and possibly while `read` is still running. A
/// record whose delivery failed is never committed, so it comes again next run.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    /// The connection this activity runs on.
    type Connection: Connection;
    /// Activity settings (`--config FILE`).
    type Config: Settings;
    /// One record.
    type Record: Output;
    /// What [`Source::commit`] needs to mark a record done (an offset, a UID).
    type Ack: Send + 'static;

    /// Name, description and discovery flag; written by `#[activity]`.
    fn info(&self) -> ActivityInfo;

    /// Checks the activity settings beyond what serde can, before connecting; an error
    /// exits 2. The default accepts everything.
    ///
    /// # Errors
    /// Why the settings are invalid.
    fn validate(&self, config: &Self::Config) -> Result<()> {
        let _ = config;
        Ok(())
    }

    /// Emits records without side effects. Stop early when [`Emitter::emit`] fails:
    /// the host has stopped the run.
    async fn read(
        &self,
        conn: &Self::Connection,
        config: &Self::Config,
        out: &Emitter<Self::Record, Self::Ack>,
    ) -> Result<()>;

    /// Marks delivered records done. Called with acknowledgements in the order the
    /// records were emitted, never for a record that was not delivered.
    async fn commit(
        &self,
        conn: &Self::Connection,
        config: &Self::Config,
        acks: Vec<Self::Ack>,
    ) -> Result<()>;

    /// Lists objects (such as folders) to choose from while filling in the settings,
    /// so `config` is given only when `discover` was called with `--config`. Define it
    /// and `#[activity]` sets the discovery flag.
    async fn discover(
        &self,
        conn: &Self::Connection,
        config: Option<&Self::Config>,
    ) -> Result<Vec<Object>> {
        let _ = (conn, config);
        Err(no_discovery(self.info().name))
    }
}

/// The activities of a connector, in manifest order.
///
/// `#[connector(activities(A, B))]` builds this; by hand it is
/// `Activities::new().source(A).target(B)`.
pub struct Activities<C> {
    pub(crate) list: Vec<std::sync::Arc<dyn crate::host::activity::Erased<C>>>,
}

impl<C> std::fmt::Debug for Activities<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|a| a.info().name))
            .finish()
    }
}

impl<C: Connection> Default for Activities<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Connection> Activities<C> {
    /// No activities yet.
    pub fn new() -> Self {
        Self { list: Vec::new() }
    }

    /// Adds a source.
    ///
    /// # Panics
    /// When another activity already has the same name.
    #[must_use]
    pub fn source<S: Source<Connection = C>>(self, source: S) -> Self {
        self.push(std::sync::Arc::new(crate::host::activity::SourceActivity(
            std::sync::Arc::new(source),
        )))
    }

    /// Adds a target.
    ///
    /// # Panics
    /// When another activity already has the same name.
    #[must_use]
    pub fn target<T: Target<Connection = C>>(self, target: T) -> Self {
        self.push(std::sync::Arc::new(crate::host::activity::TargetActivity(
            std::sync::Arc::new(target),
        )))
    }

    /// Adds a source or target declared with `#[activity]`.
    #[must_use]
    pub fn with<A: Register<Connection = C>>(self, activity: A) -> Self {
        activity.register(self)
    }

    /// The activity names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|a| a.info().name).collect()
    }

    fn push(mut self, activity: std::sync::Arc<dyn crate::host::activity::Erased<C>>) -> Self {
        let name = activity.info().name;
        assert!(
            !self.names().contains(&name),
            "two activities are named `{name}`; activity names must be unique"
        );
        self.list.push(activity);
        self
    }

    pub(crate) fn get(
        &self,
        name: &str,
    ) -> Option<&std::sync::Arc<dyn crate::host::activity::Erased<C>>> {
        self.list.iter().find(|a| a.info().name == name)
    }
}

/// Lets [`Activities::with`] take sources and targets alike; `#[activity]` implements
/// it by calling [`Activities::source`] or [`Activities::target`].
pub trait Register {
    /// The connection the activity runs on.
    type Connection: Connection;
    /// Adds `self` to `activities`.
    fn register(self, activities: Activities<Self::Connection>) -> Activities<Self::Connection>;
}

#[cfg(test)]
mod tests {
    // The host boxes activities and connections: keep the traits dyn-compatible where
    // they are meant to be.
    fn _obj_safe(_: Box<dyn crate::host::activity::Erased<()>>) {}
}
