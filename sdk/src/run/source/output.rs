//! The run's output buffer: lines gathered and written together, without copying the
//! large ones.
//!
//! A `BufWriter` copies every line into its buffer before it writes. A source that
//! serializes its records on its own threads ([`Serialized`](crate::Serialized))
//! hands over lines of several kilobytes each, and that copy was 3% of a read's CPU on
//! the one task that also reads the socket. Here a line of [`OWN_LINE`] bytes or more
//! is kept as the buffer it came in and written with the others in one vectored
//! write; shorter lines are copied into a shared buffer as before. Either way, at most
//! [`WRITE_AT`] bytes wait before they are written, and the buffers go back to the
//! SDK's pool ([`recycle`](crate::recycle)) once written.

use std::io::{IoSlice, Write};

use crate::recycle::LINES;

/// Bytes gathered before they are written.
const WRITE_AT: usize = 64 * 1024;

/// A line at least this long is written from its own buffer, not copied.
const OWN_LINE: usize = 1024;

/// Room made in a buffer that gathers short lines.
const GATHER: usize = 16 * 1024;

/// At most this many buffers per vectored write (below every system's `IOV_MAX`).
const MOST_SLICES: usize = 512;

/// Lines gathered for `out`, in order.
pub(super) struct Output<W: Write> {
    out: W,
    buffers: Vec<Vec<u8>>,
    /// Whether the last buffer gathers short lines (and may take more).
    gathering: bool,
    bytes: usize,
}

impl<W: Write> Output<W> {
    pub(super) fn new(out: W) -> Self {
        Self {
            out,
            buffers: Vec::new(),
            gathering: false,
            bytes: 0,
        }
    }

    /// Adds a copy of `line`.
    pub(super) fn copy(&mut self, line: &[u8]) -> std::io::Result<()> {
        let room = match self.buffers.last() {
            Some(last) if self.gathering => last.capacity() - last.len(),
            _ => 0,
        };
        if room < line.len() {
            self.buffers.push(LINES.take(GATHER.max(line.len())));
            self.gathering = true;
        }
        if let Some(last) = self.buffers.last_mut() {
            last.extend_from_slice(line);
        }
        self.added(line.len())
    }

    /// Adds `line`, keeping its buffer if it is long enough to be worth it.
    pub(super) fn own(&mut self, line: Vec<u8>) -> std::io::Result<()> {
        if line.len() < OWN_LINE {
            let written = self.copy(&line);
            LINES.give(line);
            return written;
        }
        self.keep(line)
    }

    /// Adds `line` as its own buffer.
    fn keep(&mut self, line: Vec<u8>) -> std::io::Result<()> {
        let len = line.len();
        self.buffers.push(line);
        self.gathering = false;
        self.added(len)
    }

    /// Adds the line in `scratch` (a buffer the caller writes each line into): copied
    /// if short; if long, the buffer itself is kept and `scratch` gets another, so a
    /// large record is never copied.
    pub(super) fn scratch(&mut self, scratch: &mut Vec<u8>) -> std::io::Result<()> {
        if scratch.len() < OWN_LINE {
            return self.copy(scratch);
        }
        let line = std::mem::replace(scratch, LINES.take(OWN_LINE));
        self.keep(line)
    }

    fn added(&mut self, len: usize) -> std::io::Result<()> {
        self.bytes += len;
        if self.bytes >= WRITE_AT {
            self.write_out()?;
        }
        Ok(())
    }

    /// Writes every line gathered, and flushes the writer.
    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        self.write_out()?;
        self.out.flush()
    }

    /// Writes every line gathered; the buffers go back to the pool.
    fn write_out(&mut self) -> std::io::Result<()> {
        let mut done = 0;
        while done < self.buffers.len() {
            let upto = self.buffers.len().min(done + MOST_SLICES);
            let mut slices: Vec<IoSlice<'_>> = self.buffers[done..upto]
                .iter()
                .map(|b| IoSlice::new(b))
                .collect();
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                match self.out.write_vectored(rest) {
                    Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) => IoSlice::advance_slices(&mut rest, n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            done = upto;
        }
        for buffer in self.buffers.drain(..) {
            LINES.give(buffer);
        }
        self.gathering = false;
        self.bytes = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Lines;

    /// A writer that takes at most `most` bytes a call and counts its calls.
    struct Trickle {
        got: Vec<u8>,
        most: usize,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.calls += 1;
            let n = buf.len().min(self.most);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn line(n: usize, fill: u8) -> Vec<u8> {
        let mut l = vec![fill; n];
        l.push(b'\n');
        l
    }

    #[test]
    fn lines_short_and_long_come_out_in_order_whatever_the_writer_takes() {
        let mut expected = Vec::new();
        let mut out = Output::new(Trickle {
            got: Vec::new(),
            most: 777,
            calls: 0,
        });
        for i in 0..300usize {
            let l = line(
                [3, 900, 1023, 1024, 5000, 70_000][i % 6],
                b'a' + (i % 26) as u8,
            );
            expected.extend_from_slice(&l);
            if i % 2 == 0 {
                out.copy(&l).unwrap();
            } else {
                out.own(l).unwrap();
            }
        }
        out.flush().unwrap();
        assert!(out.buffers.is_empty() && out.bytes == 0);
        assert_eq!(out.out.got.len(), expected.len());
        assert!(out.out.got == expected, "the bytes differ");
    }

    #[test]
    fn nothing_is_written_before_enough_waits_and_then_all_of_it() {
        let lines = Lines::default();
        let mut out = Output::new(lines.clone());
        for _ in 0..10 {
            out.own(line(5000, b'x')).unwrap();
        }
        assert!(lines.bytes().is_empty(), "50 KB wait");
        for _ in 0..4 {
            out.own(line(5000, b'y')).unwrap();
        }
        assert_eq!(
            lines.bytes().len(),
            14 * 5001,
            "64 KiB reached: all written"
        );
        out.copy(b"short\n").unwrap();
        assert_eq!(lines.bytes().len(), 14 * 5001);
        out.flush().unwrap();
        assert!(lines.text().ends_with("yyy\nshort\n"));
    }

    #[test]
    fn a_long_line_is_written_from_its_own_buffer_and_short_ones_are_gathered() {
        let mut out = Output::new(std::io::sink());
        let long = line(4000, b'l');
        let at = long.as_ptr();
        out.copy(b"a\n").unwrap();
        out.copy(b"b\n").unwrap();
        out.own(long).unwrap();
        out.own(b"c\n".to_vec()).unwrap();
        assert_eq!(
            out.buffers.len(),
            3,
            "a and b gathered, the long line, then c"
        );
        assert_eq!(out.buffers[0], b"a\nb\n");
        assert_eq!(out.buffers[1].as_ptr(), at, "not copied");
        assert_eq!(out.buffers[2], b"c\n");
    }

    #[test]
    fn a_long_line_in_the_scratch_buffer_is_taken_and_a_short_one_copied() {
        let mut out = Output::new(std::io::sink());
        let mut scratch = line(5000, b's');
        let at = scratch.as_ptr();
        out.scratch(&mut scratch).unwrap();
        assert_eq!(out.buffers[0].as_ptr(), at, "not copied");
        assert!(scratch.is_empty() && scratch.as_ptr() != at);
        scratch.extend_from_slice(b"short\n");
        let kept = scratch.as_ptr();
        out.scratch(&mut scratch).unwrap();
        assert_eq!(out.buffers[1], b"short\n");
        assert_eq!(
            scratch.as_ptr(),
            kept,
            "a short line leaves the scratch buffer"
        );
    }

    #[test]
    fn a_writer_that_takes_nothing_is_an_error_not_a_loop() {
        let mut out = Output::new(Trickle {
            got: Vec::new(),
            most: 0,
            calls: 0,
        });
        out.copy(b"line\n").unwrap();
        let err = out.flush().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WriteZero);
        assert_eq!(out.out.calls, 1);
    }
}
