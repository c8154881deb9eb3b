//! Running a target: one call with the whole batch, its response written as JSON.

use std::io::Write;
use std::sync::Arc;

use super::{RunIo, stopped};
use crate::activity::Target;
use crate::error::{Error, Result};

pub(crate) async fn run<T: Target>(
    target: Arc<T>,
    conn: Arc<T::Connection>,
    config: T::Config,
    requests: Vec<T::Request>,
    mut io: RunIo,
) -> Result<()> {
    let count = requests.len();
    tracing::debug!(target: "connector_sdk::host", activity = target.info().name, count, "calling target");
    // A signal stops the call: the handlers `run` installs replace the default exit.
    let mut stop = io.stop.clone();
    let response = tokio::select! {
        response = target.call(&conn, &config, requests) => response?,
        () = stopped(&mut stop) => {
            return Err(Error::internal(format!(
                "interrupted by a signal before the response of {count} request(s); some may have been handled already"
            )));
        }
    };
    let failure = target.failure(&response);
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
