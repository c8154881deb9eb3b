//! The activity traits: [`Source`] and [`Target`], with what describes an activity
//! ([`ActivityInfo`], [`Role`]), what discovery returns ([`Object`]) and the settings
//! of an activity that has none ([`NoConfig`]).
//!
//! The bottom of the SDK's layers an author implements: it names the connection, the
//! emitter and the schema bounds, and nothing of how the host runs activities.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use crate::emit::Emitter;
use crate::error::{Error, Result};
use crate::schema::{Input, Output};

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

#[crate::settings]
#[derive(Default, PartialEq, Eq)]
/// The settings of an activity that has none: `type Config = NoConfig;`. Accepts
/// `{}` (the default when `--config` is not given) and nothing else.
pub struct NoConfig {}

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
    type Config: Input;
    /// One request.
    type Request: Input;
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
    type Config: Input;
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
