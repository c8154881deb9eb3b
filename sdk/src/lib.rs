//! Build connectors whose settings, requests, responses and records are Rust types.
//!
//! `connector-sdk` is for developers writing a connector (a program that moves data
//! between a platform and a remote system, like an email server) and for the platform
//! that runs connectors. A connector declares:
//!
//! - its **connection settings**, a type whose JSON Schema is derived with `schemars`
//!   ([`settings`] adds every derive in one attribute and requires doc comments, which
//!   become the schema's descriptions);
//! - its **activities**: [`Target`]s take typed requests and report a typed result for
//!   each as soon as it is known;
//!   [`Source`]s emit typed records with an acknowledgement each, and commit only what
//!   the host has delivered (at-least-once, never "marked read" before delivery);
//! - a [`Connection`] with a step-by-step [`check`](Connection::check) (the *Test*
//!   button).
//!
//! From those types the SDK derives the [`Manifest`] (`spec`), and [`host::main`] turns
//! the connector into a command-line program with the host protocol (`spec`, `check`,
//! `discover`, `run`), exit codes `0`/`1`/`2` and a last JSON error line on stderr.
//! Secrets are a type, [`Secret`], that never prints; every failure is one [`Error`]
//! with a kind and a retry class.
//!
//! # Example
//!
//! A target that greets whoever the request names:
//!
//! ```
//! use connector_sdk::prelude::*;
//!
//! #[connector_sdk::settings]
//! /// How to greet.
//! pub struct GreeterSettings {
//!     /// The greeting word.
//!     #[serde(default = "hello")]
//!     pub word: String,
//! }
//! fn hello() -> String { "Hello".into() }
//!
//! /// An open greeter.
//! #[derive(Debug)]
//! pub struct Greeter { word: String }
//!
//! #[connector_sdk::connection]
//! impl Connection for Greeter {
//!     async fn check(&self) -> CheckReport {
//!         let mut report = CheckReport::new();
//!         let _ = report.step("greeter.ready", async { Ok(()) }).await;
//!         report
//!     }
//! }
//!
//! #[connector_sdk::settings]
//! /// Who to greet.
//! pub struct Greet {
//!     /// A name.
//!     pub name: String,
//! }
//!
//! #[connector_sdk::settings]
//! /// One greeting.
//! pub struct Greeting {
//!     /// The line.
//!     pub line: String,
//! }
//!
//! /// The greet activity.
//! #[derive(Debug)]
//! pub struct GreetActivity;
//!
//! /// Greets everyone named in the requests.
//! #[connector_sdk::activity(name = "greet")]
//! impl Target for GreetActivity {
//!     type Connection = Greeter;
//!     type Config = NoConfig;
//!     type Request = Greet;
//!     type Response = Greeting;
//!
//!     async fn call(
//!         &self,
//!         conn: &Greeter,
//!         _: &NoConfig,
//!         requests: &Requests<Greet>,
//!         results: &Results<Greeting>,
//!     ) -> Result<()> {
//!         while let Some((index, request)) = requests.next() {
//!             let line = format!("{}, {}!", conn.word, request.name);
//!             results.send(index, Greeting { line })?; // printed at once
//!         }
//!         Ok(())
//!     }
//! }
//!
//! /// The greeter connector.
//! #[derive(Debug)]
//! pub struct GreeterConnector;
//!
//! /// Greets people.
//! #[connector_sdk::connector(name = "greeter", activities(GreetActivity))]
//! impl Connector for GreeterConnector {
//!     type Settings = GreeterSettings;
//!     type Connection = Greeter;
//!
//!     async fn connect(&self, settings: GreeterSettings) -> Result<Greeter> {
//!         Ok(Greeter { word: settings.word })
//!     }
//! }
//!
//! let manifest = connector_sdk::Manifest::of(&GreeterConnector).to_value();
//! assert_eq!(manifest["activities"][0]["role"], "target");
//! assert_eq!(manifest["connection"]["properties"]["word"]["default"], "Hello");
//!
//! // `fn main() -> ExitCode { connector_sdk::host::main(GreeterConnector) }` makes it a
//! // program; here we run it in-process:
//! # let dir = std::env::temp_dir().join(format!("greeter-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let (conn, input) = (dir.join("conn.json"), dir.join("in.json"));
//! # std::fs::write(&conn, "{}").unwrap();
//! # std::fs::write(&input, r#"[{"name": "Ada"}]"#).unwrap();
//! let status = connector_sdk::host::main_with_args(
//!     GreeterConnector,
//!     ["greeter", "run", "greet", "--connection", conn.to_str().unwrap(), "--input", input.to_str().unwrap()],
//! );
//! assert_eq!(status, std::process::ExitCode::SUCCESS); // prints {"index":0,"line":"Hello, Ada!"}
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! # Where things are
//!
//! [`prelude`] has what an author needs in one import. The modules are layered one
//! way, lowest first: [`Error`], [`Secret`] and the schema helpers ([`Input`],
//! [`Output`], [`schema_of`], [`from_value`]); the activity traits ([`Connection`],
//! [`Source`], [`Target`], [`Emitter`]); the run loop; the registry ([`Activities`]);
//! the [`Connector`] and its [`Manifest`]; the [`host`]. [`testing`] drives a source
//! in-process without the host.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.88.

// Lets the macros' absolute paths (`::connector_sdk::…`) work inside this crate too.
#[allow(unused_extern_crates)]
extern crate self as connector_sdk;

mod activity;
mod batch;
mod check;
mod connection;
mod connector;
mod emit;
mod error;
pub mod host;
#[cfg(feature = "http")]
pub mod http;
mod input;
mod json;
mod line;
mod manifest;
mod meter;
pub mod prelude;
mod recycle;
mod registry;
pub mod retry;
mod run;
mod schema;
mod secret;
pub mod testing;
pub mod types;

pub use activity::{ActivityInfo, NoConfig, Object, Role, Source, Target};
pub use batch::{Requests, Results};
pub use check::{CheckReport, CheckStep, StepDetail, StepStatus};
pub use connection::Connection;
pub use connector::{Connector, Info};
pub use emit::{Emitter, SerializeAs, Serialized};
pub use error::{BoxError, Error, ErrorBody, ErrorKind, Result};
pub use manifest::{ActivityManifest, Manifest};
pub use recycle::BufferPool;
pub use registry::Activities;
pub use schema::{Input, Output, from_str, from_value, schema_of};
pub use secret::{REDACTED, Secret};

/// Re-exported so connectors need not depend on `async-trait` themselves.
pub use async_trait::async_trait;
/// The `schemars` the SDK derives schemas with, for hand-written `JsonSchema` impls.
pub use schemars;
/// The `serde` the SDK uses, for hand-written `Serialize`/`Deserialize` impls.
pub use serde;

pub use connector_sdk_macros::{activity, connection, connector, settings};

/// Paths the macros expand to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::Register;

    /// Written by `#[connection]`: an `impl Connection` without it is told what to add.
    #[diagnostic::on_unimplemented(
        message = "`impl Connection for {Self}` needs `#[connector_sdk::connection]` above it",
        label = "add `#[connector_sdk::connection]` above `impl Connection for {Self}`",
        note = "the attribute makes the impl's `async fn`s match the trait (it applies `async_trait`); without it rustc also reports E0195, \"lifetime parameters or bounds do not match\""
    )]
    pub trait ConnectionImpl {}

    /// Written by `#[activity]` on `impl Source`.
    #[diagnostic::on_unimplemented(
        message = "`impl Source for {Self}` needs `#[connector_sdk::activity(name = \"…\")]` above it",
        label = "add `#[connector_sdk::activity(name = \"…\")]` above `impl Source for {Self}`",
        note = "the attribute names the activity, writes `info()` and makes the impl's `async fn`s match the trait (it applies `async_trait`); without it rustc also reports E0195"
    )]
    pub trait SourceImpl {}

    /// Written by `#[activity]` on `impl Target`.
    #[diagnostic::on_unimplemented(
        message = "`impl Target for {Self}` needs `#[connector_sdk::activity(name = \"…\")]` above it",
        label = "add `#[connector_sdk::activity(name = \"…\")]` above `impl Target for {Self}`",
        note = "the attribute names the activity, writes `info()` and makes the impl's `async fn`s match the trait (it applies `async_trait`); without it rustc also reports E0195"
    )]
    pub trait TargetImpl {}
    pub use async_trait;
    pub use schemars;
    pub use serde;
}
