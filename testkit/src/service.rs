//! [`Service`]: a local server a connector's tests need (a test API, a database, a
//! mock of a vendor's endpoint), run as a process: started, waited for until it
//! listens, its output kept in a log, stopped when dropped, and its log printed when a
//! test fails while it runs. So third-party authors do not write their own.
//!
//! ```no_run
//! use std::time::Duration;
//! use connector_testkit::service::Service;
//!
//! let port = Service::free_port();
//! let api = Service::command("python3")
//!     .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
//!     .port(port)
//!     .ready_within(Duration::from_secs(10))
//!     .start()
//!     .expect("the test API must start");
//! let base_url = format!("http://127.0.0.1:{}", api.port());
//! # let _ = base_url;
//! ```

use std::ffi::OsString;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a service did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The program could not be run at all.
    #[error("cannot run {program}: {source} (is it installed?)")]
    Spawn {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// It exited before it listened.
    #[error("{program} exited ({status}) before listening on port {port}; its output:\n{log}")]
    Exited {
        /// The program.
        program: String,
        /// How it exited.
        status: String,
        /// The port it should have listened on.
        port: u16,
        /// The end of its output.
        log: String,
    },
    /// It did not listen in time.
    #[error("{program} did not listen on port {port} within {waited:?}; its output:\n{log}")]
    NotListening {
        /// The program.
        program: String,
        /// The port.
        port: u16,
        /// How long it was given.
        waited: Duration,
        /// The end of its output.
        log: String,
    },
    /// The log file could not be made.
    #[error("cannot create a log file: {0}")]
    Log(std::io::Error),
}

/// How to start a [`Service`].
#[derive(Debug)]
pub struct ServiceBuilder {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    port: Option<u16>,
    ready: Duration,
}

impl ServiceBuilder {
    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The TCP port on 127.0.0.1 it listens on once ready.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How long it may take to listen (default 10 s).
    #[must_use]
    pub fn ready_within(mut self, limit: Duration) -> Self {
        self.ready = limit;
        self
    }

    /// Starts it and waits until it listens (without a port: until it runs).
    ///
    /// # Errors
    /// When it cannot run, exits first, or does not listen in time; the error holds
    /// the end of its output.
    pub fn start(self) -> Result<Service, ServiceError> {
        let program = self.program.to_string_lossy().into_owned();
        let log = tempfile::NamedTempFile::new().map_err(ServiceError::Log)?;
        let out = log.reopen().map_err(ServiceError::Log)?;
        let err = log.reopen().map_err(ServiceError::Log)?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = crate::cli::spawn(&mut cmd).map_err(|source| ServiceError::Spawn {
            program: program.clone(),
            source,
        })?;
        let mut service = Service {
            child,
            program,
            port: self.port.unwrap_or(0),
            log: log.into_temp_path().keep().unwrap_or_default(),
        };
        let Some(port) = self.port else {
            return Ok(service);
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = service.child.try_wait() {
                return Err(ServiceError::Exited {
                    program: service.program.clone(),
                    status: status.to_string(),
                    port,
                    log: service.tail(40),
                });
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(service);
            }
            if started.elapsed() > self.ready {
                return Err(ServiceError::NotListening {
                    program: service.program.clone(),
                    port,
                    waited: self.ready,
                    log: service.tail(40),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A running local server; stopped (killed) when dropped.
#[derive(Debug)]
pub struct Service {
    child: Child,
    program: String,
    port: u16,
    log: PathBuf,
}

impl Service {
    /// A service run by `program`.
    pub fn command(program: impl Into<OsString>) -> ServiceBuilder {
        ServiceBuilder {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            port: None,
            ready: Duration::from_secs(10),
        }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    ///
    /// # Panics
    /// When no port can be bound at all.
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1")
    }

    /// The port it listens on (0 when none was given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything it printed so far (stdout and stderr).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines it printed.
    pub fn tail(&self, n: usize) -> String {
        let all = self.logs();
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} (port {}) printed, last 40 lines ---\n{}\n---",
                self.program,
                self.port,
                self.tail(40)
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
