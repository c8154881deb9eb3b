//! The activity traits: [`Source`] and [`Target`], with what describes an activity
//! ([`ActivityInfo`], [`Role`]), what discovery returns ([`Object`]) and the settings
//! of an activity that has none ([`NoConfig`]).
//!
//! The bottom of the SDK's layers an author implements: it names the connection, the
//! emitter and the schema bounds, and nothing of how the host runs activities.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::batch::{Requests, Results};
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
///
/// ```
/// use connector_sdk::NoConfig;
/// assert!(connector_sdk::from_value::<NoConfig>(&serde_json::json!({})).is_ok());
/// let err = connector_sdk::from_value::<NoConfig>(&serde_json::json!({"path": 1})).unwrap_err();
/// assert_eq!(err.path(), Some("/path"));
/// ```
pub struct NoConfig {}

/// The error returned by activities that have no discovery.
pub(crate) fn no_discovery(name: &str) -> Error {
    Error::config("", format!("activity `{name}` has no discovery"))
}

/// A target activity: typed requests in, one typed result per request out, each
/// reported as soon as it is known.
///
/// The host reads the requests (one JSON object, an array, or JSON Lines), validates
/// *every* one first (a bad one exits 2 with its path, and nothing is called), then
/// calls [`Target::call`] once with the whole batch so the target can share
/// connections. The target pulls requests from [`Requests`] and reports each outcome to
/// [`Results`]; the host writes one JSON line per result at once, flushed, with the
/// request's `index` added, so a run that is stopped or killed has said what it did. On
/// SIGINT/SIGTERM the host stops handing out requests ([`Requests::next`] returns
/// `None`) and gives the call a short grace period to finish what it holds.
#[async_trait]
pub trait Target: Send + Sync + 'static + crate::__private::TargetImpl {
    /// The connection this activity runs on.
    type Connection: Connection;
    /// Activity settings (`--config FILE`).
    type Config: Input;
    /// One request.
    type Request: Input;
    /// The result of one request: one line on stdout, with its `index` added.
    type Response: Output;

    /// Name, description and discovery flag; written by `#[activity]`.
    fn info(&self) -> ActivityInfo;

    /// Checks the activity settings alone, beyond their schema, before any request is
    /// looked at; an error (with a path inside the settings) exits 2. `validate` with
    /// no input runs only this. The default accepts everything.
    ///
    /// # Errors
    /// Why the settings are invalid.
    fn validate_config(&self, config: &Self::Config) -> Result<()> {
        let _ = config;
        Ok(())
    }

    /// Checks what the schema cannot (a request with no recipient, two options that
    /// exclude each other). The host calls it for every request, with the activity
    /// settings, before connecting; an error (usually [`Error::config`] with a path
    /// inside the request) exits 2 and nothing is called. The default accepts
    /// everything.
    ///
    /// # Errors
    /// Why the request is invalid.
    fn validate(&self, config: &Self::Config, request: &Self::Request) -> Result<()> {
        let _ = (config, request);
        Ok(())
    }

    /// Handles the batch: takes requests from `requests` until it returns `None`, and
    /// reports each one's outcome to `results` as soon as it is known, in any order.
    /// Every request taken must be reported; a failed request is a result too (see
    /// [`Target::failure`]). Return an error only when the batch as a whole cannot go
    /// on (the server is gone for good, the output is closed).
    async fn call(
        &self,
        conn: &Self::Connection,
        config: &Self::Config,
        requests: &Requests<Self::Request>,
        results: &Results<Self::Response>,
    ) -> Result<()>;

    /// The error a result stands for, when the request failed. The host prints every
    /// result, then exits 1 with the first failure if there was one. The default: none.
    fn failure(&self, result: &Self::Response) -> Option<Error> {
        let _ = result;
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
pub trait Source: Send + Sync + 'static + crate::__private::SourceImpl {
    /// The connection this activity runs on.
    type Connection: Connection;
    /// Activity settings (`--config FILE`).
    type Config: Input;
    /// One record.
    type Record: Output;
    /// What [`Source::commit`] needs to mark a record done (an offset, a UID).
    type Ack: Send + 'static;
    /// The source's position, kept between runs by the platform (a cursor, an
    /// `updated_since`, a last UID): given back as [`Emitter::previous_state`], recorded
    /// with [`Emitter::checkpoint`], its schema in the manifest. `()` for a source that
    /// keeps none; `#[activity]` writes that when the impl does not name one.
    type State: Input + Output;

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
        out: &Emitter<Self::Record, Self::Ack, Self::State>,
    ) -> Result<()>;

    /// Marks delivered records done. Called with acknowledgements in the order the
    /// records were emitted, never for a record that was not delivered.
    async fn commit(
        &self,
        conn: &Self::Connection,
        config: &Self::Config,
        acks: Vec<Self::Ack>,
    ) -> Result<()>;

    /// Deferred commit (`run --commit deferred`): the platform has durably consumed
    /// every record up to `state` (the last state line it kept), so mark them done
    /// now, before reading on. The host calls it at the start of a run given a
    /// previous state, and calls [`Source::commit`] never in that mode. The default
    /// does nothing, which suits a source whose position lives in the state alone.
    async fn commit_state(
        &self,
        conn: &Self::Connection,
        config: &Self::Config,
        state: &Self::State,
    ) -> Result<()> {
        let _ = (conn, config, state);
        Ok(())
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
