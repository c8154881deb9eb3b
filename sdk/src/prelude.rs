//! One import for connector authors: `use connector_sdk::prelude::*;` brings the
//! traits to implement, the attributes that implement them, and the types their
//! signatures use.
//!
//! ```
//! use connector_sdk::prelude::*;
//!
//! #[settings]
//! /// Nothing to set.
//! pub struct Empty {}
//!
//! fn check(config: &NoConfig) -> Result<()> {
//!     let _ = config;
//!     Err(Error::config("/path", "an example"))
//! }
//! assert_eq!(check(&NoConfig {}).unwrap_err().kind(), ErrorKind::Config);
//! ```

pub use crate::activity::{ActivityInfo, NoConfig, Object, Role, Source, Target};
pub use crate::batch::{Requests, Results};
pub use crate::check::{CheckReport, CheckStep, StepStatus};
pub use crate::connection::Connection;
pub use crate::connector::{Connector, Info};
pub use crate::emit::Emitter;
pub use crate::error::{Error, ErrorBody, ErrorKind, Result};
pub use crate::registry::Activities;
pub use crate::schema::{Input, Output};
pub use crate::secret::Secret;
pub use connector_sdk_macros::{activity, connection, connector, settings};
