//! The registry: [`Activities`], a connector's sources and targets with their types
//! erased, so the host can hold them in one list, describe them in the manifest, and
//! validate and run one by name.
//!
//! Above the run loop ([`crate::run`]), which it calls with the types restored; below
//! [`crate::connector`], which returns an `Activities`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::activity::{ActivityInfo, Object, Role, Source, Target};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::input::RequestDocs;
use crate::manifest::ActivityManifest;
use crate::run::RunIo;
use crate::schema::{from_value, schema_of};

/// An activity whose types the host no longer knows.
pub(crate) trait Erased<C>: Send + Sync {
    fn info(&self) -> ActivityInfo;
    fn role(&self) -> Role;
    fn manifest(&self) -> ActivityManifest;
    /// Validates settings and input before anything connects.
    fn prepare(
        &self,
        config: &Value,
        input: Option<Arc<RequestDocs>>,
        state: Option<&Value>,
    ) -> Result<Box<dyn Prepared<C>>>;
    /// Validates the optional settings of a discovery, then discovers.
    fn prepare_discover(&self, config: Option<&Value>) -> Result<Box<dyn Discover<C>>>;
}

/// A discovery with validated (optional) settings.
#[async_trait]
pub(crate) trait Discover<C>: Send {
    async fn discover(self: Box<Self>, conn: &C) -> Result<Vec<Object>>;
}

struct Discovery<A, Cfg> {
    activity: Arc<A>,
    config: Option<Cfg>,
}

#[async_trait]
impl<S: Source> Discover<S::Connection> for Discovery<SourceActivity<S>, S::Config> {
    async fn discover(self: Box<Self>, conn: &S::Connection) -> Result<Vec<Object>> {
        self.activity.0.discover(conn, self.config.as_ref()).await
    }
}

#[async_trait]
impl<T: Target> Discover<T::Connection> for Discovery<TargetActivity<T>, T::Config> {
    async fn discover(self: Box<Self>, conn: &T::Connection) -> Result<Vec<Object>> {
        self.activity.0.discover(conn, self.config.as_ref()).await
    }
}

/// An activity with validated settings (and requests), ready to run.
#[async_trait]
pub(crate) trait Prepared<C>: Send {
    async fn run(self: Box<Self>, conn: Arc<C>, io: RunIo) -> Result<()>;
}

pub(crate) struct SourceActivity<S>(pub(crate) Arc<S>);
pub(crate) struct TargetActivity<T>(pub(crate) Arc<T>);

impl<S: Source> Erased<S::Connection> for SourceActivity<S> {
    fn prepare_discover(&self, config: Option<&Value>) -> Result<Box<dyn Discover<S::Connection>>> {
        Ok(Box::new(Discovery {
            activity: Arc::new(SourceActivity(Arc::clone(&self.0))),
            config: config.map(from_value::<S::Config>).transpose()?,
        }))
    }
    fn info(&self) -> ActivityInfo {
        self.0.info()
    }
    fn role(&self) -> Role {
        Role::Source
    }
    fn manifest(&self) -> ActivityManifest {
        ActivityManifest::new(self.0.info(), Role::Source, schema_of::<S::Config>())
            .with_record::<S::Record>()
            .with_state::<S::State>()
    }
    fn prepare(
        &self,
        config: &Value,
        _input: Option<Arc<RequestDocs>>,
        state: Option<&Value>,
    ) -> Result<Box<dyn Prepared<S::Connection>>> {
        let config: S::Config = from_value(config)?;
        self.0.validate(&config)?;
        let previous = state
            .map(|v| {
                from_value::<S::State>(v).map_err(|e| {
                    Error::config(
                        "",
                        format!(
                            "the state is not one this source wrote ({}: {}); give the last state line of a run of this activity",
                            e.path().filter(|p| !p.is_empty()).unwrap_or("/"),
                            e.message()
                        ),
                    )
                })
            })
            .transpose()?;
        Ok(Box::new(PreparedSource {
            source: Arc::clone(&self.0),
            config: Arc::new(config),
            previous,
        }))
    }
}

struct PreparedSource<S: Source> {
    source: Arc<S>,
    config: Arc<S::Config>,
    previous: Option<S::State>,
}

#[async_trait]
impl<S: Source> Prepared<S::Connection> for PreparedSource<S> {
    async fn run(self: Box<Self>, conn: Arc<S::Connection>, io: RunIo) -> Result<()> {
        crate::run::source::run(self.source, conn, self.config, self.previous, io).await
    }
}

impl<T: Target> Erased<T::Connection> for TargetActivity<T> {
    fn prepare_discover(&self, config: Option<&Value>) -> Result<Box<dyn Discover<T::Connection>>> {
        Ok(Box::new(Discovery {
            activity: Arc::new(TargetActivity(Arc::clone(&self.0))),
            config: config.map(from_value::<T::Config>).transpose()?,
        }))
    }
    fn info(&self) -> ActivityInfo {
        self.0.info()
    }
    fn role(&self) -> Role {
        Role::Target
    }
    fn manifest(&self) -> ActivityManifest {
        ActivityManifest::new(self.0.info(), Role::Target, schema_of::<T::Config>())
            .with_target::<T::Request, T::Response>()
    }
    fn prepare(
        &self,
        config: &Value,
        input: Option<Arc<RequestDocs>>,
        _state: Option<&Value>,
    ) -> Result<Box<dyn Prepared<T::Connection>>> {
        let config: T::Config = from_value(config)?;
        self.0.validate_config(&config)?;
        if let Some(docs) = &input {
            let at = |i: usize, e: Error| {
                if docs.batch {
                    e.under(&format!("/{i}"))
                } else {
                    e
                }
            };
            // Every request is checked before anything is sent, one at a time.
            for (i, item) in docs.each().enumerate() {
                let request: T::Request =
                    from_value(&item.map_err(|e| at(i, e))?).map_err(|e| at(i, e))?;
                self.0.validate(&config, &request).map_err(|e| at(i, e))?;
            }
        }
        Ok(Box::new(PreparedTarget {
            target: Arc::clone(&self.0),
            config,
            input,
        }))
    }
}

struct PreparedTarget<T: Target> {
    target: Arc<T>,
    config: T::Config,
    input: Option<Arc<RequestDocs>>,
}

#[async_trait]
impl<T: Target> Prepared<T::Connection> for PreparedTarget<T> {
    async fn run(self: Box<Self>, conn: Arc<T::Connection>, io: RunIo) -> Result<()> {
        let count = self.input.as_ref().map_or(0, |d| d.len());
        // Validated in `prepare`: read again, one at a time, in order (a file changed
        // since then leaves what no longer reads unreported, and the run fails).
        let mut each = self.input.as_ref().map(RequestDocs::each);
        let fetch = Box::new(move |i: usize| -> Option<T::Request> {
            match each.as_mut()?.next()? {
                Ok(item) => from_value(&item)
                    .inspect_err(
                        |e| tracing::error!(target: "connector_sdk::host", index = i, "{e}"),
                    )
                    .ok(),
                Err(e) => {
                    tracing::error!(target: "connector_sdk::host", index = i, "{e}");
                    None
                }
            }
        });
        crate::run::target::run(self.target, conn, self.config, count, fetch, io).await
    }
}

/// The activities of a connector, in manifest order.
///
/// `#[connector(activities(A, B))]` builds this; by hand it is
/// `Activities::new().source(A).target(B)`.
pub struct Activities<C> {
    list: Vec<Arc<dyn Erased<C>>>,
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
        self.push(Arc::new(SourceActivity(Arc::new(source))))
    }

    /// Adds a target.
    ///
    /// # Panics
    /// When another activity already has the same name.
    #[must_use]
    pub fn target<T: Target<Connection = C>>(self, target: T) -> Self {
        self.push(Arc::new(TargetActivity(Arc::new(target))))
    }

    /// Adds a source or target declared with `#[activity]`.
    #[must_use]
    pub fn with<A: Register<Connection = C>>(self, activity: A) -> Self {
        activity.register(self)
    }

    /// Each activity's info and role, in order.
    pub(crate) fn infos(&self) -> Vec<(ActivityInfo, Role)> {
        self.list.iter().map(|a| (a.info(), a.role())).collect()
    }

    /// The activity names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|a| a.info().name).collect()
    }

    fn push(mut self, activity: Arc<dyn Erased<C>>) -> Self {
        let name = activity.info().name;
        assert!(
            !self.names().contains(&name),
            "two activities are named `{name}`; activity names must be unique"
        );
        self.list.push(activity);
        self
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<dyn Erased<C>>> {
        self.list.iter().find(|a| a.info().name == name)
    }

    /// Each activity's part of the manifest, in order.
    pub(crate) fn manifests(&self) -> Vec<ActivityManifest> {
        self.list.iter().map(|a| a.manifest()).collect()
    }
}

/// Lets [`Activities::with`] take sources and targets alike; `#[activity]` implements
/// it by calling [`Activities::source`] or [`Activities::target`]. Authors never write
/// or name it; it is public because `#[activity]` expands to an impl of it.
pub trait Register {
    /// The connection the activity runs on.
    type Connection: Connection;
    /// Adds `self` to `activities`.
    fn register(self, activities: Activities<Self::Connection>) -> Activities<Self::Connection>;
}

#[cfg(test)]
mod tests {
    use super::Activities;
    use crate::activity::{Object, Target};
    use crate::batch::{Requests, Results};
    use crate::check::CheckReport;
    use crate::connection::Connection;
    use crate::error::Result;
    use serde_json::Value;

    // The host boxes activities: keep the erased trait dyn-compatible.
    fn _obj_safe(_: Box<dyn super::Erased<()>>) {}

    #[derive(Debug)]
    struct Conn;

    #[crate::connection]
    impl Connection for Conn {
        async fn check(&self) -> CheckReport {
            CheckReport::new()
        }
    }

    #[crate::settings]
    /// Where to send.
    struct Cfg {
        /// A prefix for discovered names.
        prefix: String,
    }

    /// Sends nothing; discovers two queues.
    #[derive(Debug)]
    struct Queues;

    /// Discovers queues.
    #[crate::activity(name = "queues")]
    impl Target for Queues {
        type Connection = Conn;
        type Config = Cfg;
        type Request = Value;
        type Response = Value;

        async fn call(
            &self,
            _: &Conn,
            _: &Cfg,
            _: &Requests<Value>,
            _: &Results<Value>,
        ) -> Result<()> {
            Ok(())
        }

        async fn discover(&self, _: &Conn, config: Option<&Cfg>) -> Result<Vec<Object>> {
            let prefix = config.map_or("", |c| c.prefix.as_str());
            Ok(["a", "b"]
                .iter()
                .map(|n| Object {
                    name: format!("{prefix}{n}"),
                    description: None,
                    attributes: Vec::new(),
                })
                .collect())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_targets_discovery_reaches_the_target_with_its_settings() {
        let activities = Activities::new().with(Queues);
        let activity = activities.get("queues").expect("registered");
        let config = serde_json::json!({"prefix": "q-"});
        let found = activity
            .prepare_discover(Some(&config))
            .expect("valid settings")
            .discover(&Conn)
            .await
            .expect("discovered");
        let names: Vec<&str> = found.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["q-a", "q-b"]);
        // Settings of the wrong shape are refused before discovery runs.
        assert!(
            activity
                .prepare_discover(Some(&serde_json::json!({"prefix": 1})))
                .is_err()
        );
    }

    /// Sends nothing; has no discovery.
    #[derive(Debug)]
    struct Plain;

    /// Discovers nothing.
    #[crate::activity(name = "plain")]
    impl Target for Plain {
        type Connection = Conn;
        type Config = Cfg;
        type Request = Value;
        type Response = Value;

        async fn call(
            &self,
            _: &Conn,
            _: &Cfg,
            _: &Requests<Value>,
            _: &Results<Value>,
        ) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_target_without_discovery_says_so_when_asked() {
        let activities = Activities::new().with(Plain);
        let activity = activities.get("plain").expect("registered");
        assert!(!activity.info().discovery);
        let err = activity
            .prepare_discover(None)
            .expect("no settings to check")
            .discover(&Conn)
            .await
            .expect_err("no discovery");
        assert!(err.message().contains("has no discovery"), "{err}");
    }

    /// Reads nothing; has no discovery.
    #[derive(Debug)]
    struct Silent;

    /// Reads nothing.
    #[crate::activity(name = "silent")]
    impl crate::Source for Silent {
        type Connection = Conn;
        type Config = Cfg;
        type Record = Value;
        type Ack = ();
        type State = ();

        async fn read(&self, _: &Conn, _: &Cfg, _: &crate::Emitter<Value, (), ()>) -> Result<()> {
            Ok(())
        }

        async fn commit(&self, _: &Conn, _: &Cfg, _: Vec<()>) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_source_without_discovery_says_so_when_asked() {
        // The host never asks (the manifest says there is none); a caller that does
        // hears so, not an empty list.
        let activities = Activities::new().with(Silent);
        let activity = activities.get("silent").expect("registered");
        assert!(!activity.info().discovery);
        let err = activity
            .prepare_discover(None)
            .expect("no settings to check")
            .discover(&Conn)
            .await
            .expect_err("no discovery");
        assert!(err.message().contains("has no discovery"), "{err}");
    }

    #[test]
    fn activities_print_their_names_in_order() {
        let activities = Activities::new().with(Queues);
        assert_eq!(format!("{activities:?}"), r#"["queues"]"#);
    }
}
