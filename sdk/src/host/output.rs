//! Where a run's lines go: standard output, written straight to its file descriptor.
//!
//! `std::io::stdout()` is line-buffered: each block the host writes is split at its
//! last line break and the tail kept aside, and a pipe holds 64 KiB by default, so a
//! 64 KiB block filled it at once and the host and whatever reads its output took
//! turns, a context switch per block. A profile of Read Email writing 200 MB of
//! records through a pipe had most of the host thread's switches there. The host now
//! writes to a duplicate of the descriptor, and when it is a pipe asks for it to be
//! widened to [`PIPE_BYTES`] (at most the system's per-pipe limit,
//! `/proc/sys/fs/pipe-max-size`, 1 MiB by default), so that a consumer on another
//! core reads while the next block is made. What "written and flushed" means before a
//! record is committed does not change: the bytes are in the pipe either way.

use std::io::Write;

/// The capacity asked for when standard output is a pipe.
pub(crate) const PIPE_BYTES: usize = 1 << 20;

/// A writer on a duplicate of standard output's descriptor, the pipe widened when it
/// is one; `std::io::stdout()` where the descriptor cannot be duplicated.
pub(crate) fn stdout() -> Box<dyn Write + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        if let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() {
            #[cfg(target_os = "linux")]
            if let Some(got) = widen_pipe(&fd) {
                tracing::debug!(target: "connector_sdk::host", bytes = got, "standard output is a pipe of this capacity");
            }
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(std::io::stdout())
}

/// When `fd` is a pipe, asks for it to hold [`PIPE_BYTES`] (or the system's limit, if
/// lower) and returns its capacity then; `None` when it is not a pipe. A refusal
/// leaves the pipe as it was.
#[cfg(target_os = "linux")]
fn widen_pipe(fd: impl std::os::fd::AsFd) -> Option<usize> {
    let st = rustix::fs::fstat(&fd).ok()?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Fifo {
        return None;
    }
    let limit = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(PIPE_BYTES);
    let _ = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_BYTES.min(limit));
    rustix::pipe::fcntl_getpipe_size(&fd).ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_is_widened_to_the_systems_limit_at_most() {
        let (read, write) = rustix::pipe::pipe().expect("a pipe");
        let before = rustix::pipe::fcntl_getpipe_size(&write).expect("its size");
        let got = widen_pipe(&write).expect("a pipe is widened");
        let limit: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .expect("the limit")
            .trim()
            .parse()
            .expect("a number");
        assert!(got >= before, "{got} < {before}");
        assert!(got >= PIPE_BYTES.min(limit), "{got} for a limit of {limit}");
        // It holds that much without a reader.
        let mut out = std::fs::File::from(write);
        out.write_all(&vec![b'x'; got]).expect("fits in the pipe");
        drop(out);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut std::fs::File::from(read), &mut back).expect("read");
        assert_eq!(back.len(), got);
    }

    #[test]
    fn a_file_is_left_alone() {
        let file = tempfile::tempfile().expect("a file");
        assert_eq!(widen_pipe(&file), None);
    }
}
