//! Procedural macros for [`connector-sdk`](https://docs.rs/connector-sdk). Use them
//! through that crate (`connector_sdk::settings`, `connector_sdk::activity`,
//! `connector_sdk::connection`, `connector_sdk::connector`), which documents them with
//! examples.
//!
//! Each macro parses its input, collects every problem it finds (pointing at the
//! user's own tokens), and only then generates code with absolute paths, so the
//! expansion works whatever the user imported.

use proc_macro::TokenStream;

mod attrs;
mod ctxt;
mod impls;
mod settings;

/// Makes a type a settings, request, response or record type: derives `Debug`,
/// `Clone`, `serde::Serialize`, `serde::Deserialize` and `schemars::JsonSchema`,
/// rejects unknown fields (`#[settings(allow_unknown_fields)]` keeps them), and
/// requires a doc comment on the type and on every field and variant, since those
/// become the schema's descriptions.
#[proc_macro_attribute]
pub fn settings(args: TokenStream, input: TokenStream) -> TokenStream {
    settings::expand(args.into(), input.into()).into()
}

/// Declares a source or target: `#[activity(name = "read")]` on `impl Source for T`
/// or `impl Target for T`. Writes `info()` from the name and the impl's doc comment,
/// sets the discovery flag when the impl defines `discover`, writes `type State = ();`
/// for a source that names no state, applies `async_trait`, and implements `Register` so
/// the connector can list the activity.
#[proc_macro_attribute]
pub fn activity(args: TokenStream, input: TokenStream) -> TokenStream {
    impls::expand_activity(args.into(), input.into()).into()
}

/// Declares a connector: `#[connector(name = "email", activities(Send, Read))]` on
/// `impl Connector for T`. Writes `info()` (name, the crate version unless `version`
/// is given, the impl's doc comment) and `activities()`, and applies `async_trait`.
#[proc_macro_attribute]
pub fn connector(args: TokenStream, input: TokenStream) -> TokenStream {
    impls::expand_connector(args.into(), input.into()).into()
}

/// Implements a connection: `#[connection]` on `impl Connection for T` applies
/// `async_trait`, so an author never writes it by hand.
#[proc_macro_attribute]
pub fn connection(args: TokenStream, input: TokenStream) -> TokenStream {
    impls::expand_connection(args.into(), input.into()).into()
}
