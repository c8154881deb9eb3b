//! Type-erased activities: what the host holds for each source and target.

use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::watch;

use crate::connector::{ActivityInfo, Object, Role, Source, Target};
use crate::error::{Error, Result};
use crate::manifest::ActivityManifest;
use crate::settings::{from_value, schema_of};

/// Where a run writes and what stops it.
pub(crate) struct RunIo {
    pub(crate) output: Box<dyn Write + Send>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) commit_every: usize,
}

/// An activity whose types the host no longer knows.
pub(crate) trait Erased<C>: Send + Sync {
    fn info(&self) -> ActivityInfo;
    fn role(&self) -> Role;
    fn manifest(&self) -> ActivityManifest;
    /// Validates settings and input before anything connects.
    fn prepare(&self, config: &Value, input: Option<&Value>) -> Result<Box<dyn Prepared<C>>>;
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

/// Resolves once the stop flag is set (never, if its sender is gone unset).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        if stop.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
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
    }
    fn prepare(
        &self,
        config: &Value,
        _input: Option<&Value>,
    ) -> Result<Box<dyn Prepared<S::Connection>>> {
        let config: S::Config = from_value(config)?;
        self.0.validate(&config)?;
        Ok(Box::new(PreparedSource {
            source: Arc::clone(&self.0),
            config: Arc::new(config),
        }))
    }
}

struct PreparedSource<S: Source> {
    source: Arc<S>,
    config: Arc<S::Config>,
}

#[async_trait]
impl<S: Source> Prepared<S::Connection> for PreparedSource<S> {
    async fn run(self: Box<Self>, conn: Arc<S::Connection>, io: RunIo) -> Result<()> {
        super::source::run(self.source, conn, self.config, io).await
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
        input: Option<&Value>,
    ) -> Result<Box<dyn Prepared<T::Connection>>> {
        let config: T::Config = from_value(config)?;
        let requests = match input {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    return Err(Error::config(
                        "",
                        "expected a request or a non-empty array of requests, got []",
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| from_value(item).map_err(|e| e.under(&format!("/{i}"))))
                    .collect::<Result<Vec<_>>>()?
            }
            Some(single) => vec![from_value(single)?],
        };
        let batch = requests.len() > 1 || matches!(input, Some(Value::Array(_)));
        for (i, request) in requests.iter().enumerate() {
            self.0
                .validate(&config, request)
                .map_err(|e| if batch { e.under(&format!("/{i}")) } else { e })?;
        }
        Ok(Box::new(PreparedTarget {
            target: Arc::clone(&self.0),
            config,
            requests,
        }))
    }
}

struct PreparedTarget<T: Target> {
    target: Arc<T>,
    config: T::Config,
    requests: Vec<T::Request>,
}

#[async_trait]
impl<T: Target> Prepared<T::Connection> for PreparedTarget<T> {
    async fn run(self: Box<Self>, conn: Arc<T::Connection>, mut io: RunIo) -> Result<()> {
        let count = self.requests.len();
        tracing::debug!(target: "connector_sdk::host", activity = self.target.info().name, count, "calling target");
        // A signal stops the call: the handlers `run` installs replace the default exit.
        let mut stop = io.stop.clone();
        let response = tokio::select! {
            response = self.target.call(&conn, &self.config, self.requests) => response?,
            () = stopped(&mut stop) => {
                return Err(Error::internal(format!(
                    "interrupted by a signal before the response of {count} request(s); some may have been handled already"
                )));
            }
        };
        let failure = self.target.failure(&response);
        let value = serde_json::to_value(&response)
            .map_err(|e| Error::internal(format!("cannot serialize the response: {e}")))?;
        let value = crate::json::canonical(&value);
        serde_json::to_writer_pretty(&mut io.output, &value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(io.output))
            .and_then(|()| io.output.flush())
            .map_err(|e| Error::internal(format!("cannot write the response: {e}")))?;
        match failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}
