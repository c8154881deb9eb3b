//! Attachments from local files, only where the settings allow: a request may come
//! from anyone upstream, so `{"path": "/proc/self/environ"}` must not mail the
//! process's environment. A `path` is resolved (symlinks followed) and must name a
//! regular file inside the activity's `attachment_dir`, no larger than
//! `max_attachment_bytes`; it is opened without following a last symlink and without
//! blocking (a FIFO swapped in after the check cannot hang the run), checked again on
//! the open handle, and read no further than the limit.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use connector_sdk::{Error, Result};

use super::request::SendConfig;

/// A file a request may attach: resolved, inside `attachment_dir`, a regular file within
/// the size limit. `at` is the JSON path of the request's `path`, for errors.
///
/// # Errors
/// A config error at `at` saying which rule the file breaks.
pub(crate) fn resolve(config: &SendConfig, path: &Path, at: &str) -> Result<PathBuf> {
    let Some(dir) = &config.attachment_dir else {
        return Err(Error::config(
            at,
            "attachments from files are off: set `attachment_dir` in the activity settings to the directory whose files requests may attach, or give the content as `content_base64`",
        ));
    };
    let base = dir.canonicalize().map_err(|e| {
        Error::config(
            at,
            format!("attachment_dir {} cannot be used: {e}", dir.display()),
        )
    })?;
    let wanted = base.join(path); // an absolute `path` replaces `base`
    let real = wanted
        .canonicalize()
        .map_err(|e| Error::config(at, format!("cannot read {}: {e}", path.display())))?;
    if !real.starts_with(&base) {
        return Err(Error::config(
            at,
            format!(
                "{} is outside attachment_dir {}: only files inside it may be attached",
                path.display(),
                dir.display()
            ),
        ));
    }
    let meta = std::fs::metadata(&real)
        .map_err(|e| Error::config(at, format!("cannot read {}: {e}", path.display())))?;
    check(config, &meta, path, at)?;
    Ok(real)
}

/// Reads a file [`resolve`] accepted, checking it again on the open handle.
///
/// # Errors
/// A config error at `at` when the file changed into something not allowed.
pub(crate) fn read(config: &SendConfig, path: &Path, at: &str) -> Result<Vec<u8>> {
    let real = resolve(config, path, at)?;
    let file = open(&real)
        .map_err(|e| Error::config(at, format!("cannot read {}: {e}", path.display())))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::config(at, format!("cannot read {}: {e}", path.display())))?;
    check(config, &meta, path, at)?;
    let limit = config.max_attachment_bytes;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(limit)).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::config(at, format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, at, limit));
    }
    Ok(bytes)
}

fn check(config: &SendConfig, meta: &std::fs::Metadata, path: &Path, at: &str) -> Result<()> {
    if !meta.is_file() {
        return Err(Error::config(
            at,
            format!(
                "{} is not a regular file (a directory, FIFO, socket or device cannot be attached)",
                path.display()
            ),
        ));
    }
    if meta.len() > config.max_attachment_bytes {
        return Err(too_large(path, at, config.max_attachment_bytes));
    }
    Ok(())
}

fn too_large(path: &Path, at: &str, limit: u64) -> Error {
    Error::config(
        at,
        format!(
            "{} is larger than max_attachment_bytes ({limit})",
            path.display()
        ),
    )
}

/// Opens for reading without following a symlink in the last component and without
/// waiting for a writer (a FIFO).
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}
