/*
 * SPDX-FileCopyrightText: 2020 Stalwart Labs LLC <hello@stalw.art>
 *
 * SPDX-License-Identifier: Apache-2.0 OR MIT
 */

use std::borrow::Cow;

use super::MessageStream;

impl<'x> MessageStream<'x> {
    pub fn seek_next_part(&mut self, boundary: &[u8]) -> bool {
        if !boundary.is_empty() {
            // The scan starts at the start of a line (after a header section).
            let mut last_ch = b'\n';
            let mut before_last_ch = b'\n';

            self.checkpoint();

            while let Some(&ch) = self.next() {
                if ch == b'-'
                    && last_ch == b'-'
                    && before_last_ch == b'\n'
                    && self.try_skip_boundary(boundary)
                {
                    return true;
                }

                before_last_ch = last_ch;
                last_ch = ch;
            }

            self.restore();
        }

        false
    }

    pub fn seek_next_part_offset(&mut self, boundary: &[u8]) -> Option<usize> {
        let mut last_ch = b'\n';
        let mut before_last_ch = b'\n';
        let mut offset_pos = self.offset();
        self.checkpoint();

        while let Some(&ch) = self.next() {
            if ch == b'\n' {
                offset_pos = if last_ch == b'\r' {
                    self.offset() - 2
                } else {
                    self.offset() - 1
                };
            } else if ch == b'-'
                && last_ch == b'-'
                && before_last_ch == b'\n'
                && self.try_skip_boundary(boundary)
            {
                return offset_pos.into();
            }

            before_last_ch = last_ch;
            last_ch = ch;
        }

        self.restore();

        None
    }

    pub fn mime_part(&mut self, boundary: &[u8]) -> (usize, Cow<'x, [u8]>) {
        // A delimiter can only start a line (the part's own start counts as one), so
        // the scan jumps from line break to line break (memchr) instead of looking
        // at every byte: the same results, a fraction of the time on long parts.
        let data = self.data;
        let start_pos = self.offset();
        let mut end_pos = start_pos;
        let mut line = start_pos;

        self.checkpoint();

        loop {
            if data.get(line..line + 2) == Some(b"--") {
                self.skip_bytes(line + 2 - self.pos);
                if self.try_skip_boundary(boundary) {
                    return (end_pos, self.bytes(start_pos..end_pos).into());
                }
                if self.at_enclosing_boundary() {
                    let end_pos = end_pos.max(start_pos);
                    return (end_pos, self.bytes(start_pos..end_pos).into());
                }
            }
            match memchr::memchr(b'\n', data.get(line..).unwrap_or_default()) {
                Some(i) => {
                    let nl = line + i;
                    end_pos = if nl > start_pos && data[nl - 1] == b'\r' {
                        nl - 1
                    } else {
                        nl
                    };
                    line = nl + 1;
                }
                None => break,
            }
        }

        // Where reading every byte would have left the stream.
        self.seek_end();
        self.pos = data.len() + 1;
        (
            // No delimiter before the end: a truncated message (its close
            // delimiter lost). The part runs to the end and is decoded, as readers
            // do, rather than handed back undecoded as an "encoding problem".
            self.offset(),
            self.bytes(start_pos..self.len()).into(),
        )
    }

    pub fn seek_part_end(&mut self, boundary: Option<&[u8]>) -> (usize, bool) {
        let mut last_ch = b'\n';
        let mut before_last_ch = b'\n';
        let mut end_pos = self.offset();

        if let Some(boundary) = boundary {
            while let Some(&ch) = self.next() {
                if ch == b'\n' {
                    end_pos = if last_ch == b'\r' {
                        self.offset() - 2
                    } else {
                        self.offset() - 1
                    };
                } else if ch == b'-'
                    && last_ch == b'-'
                    && before_last_ch == b'\n'
                    && self.try_skip_boundary(boundary)
                {
                    if before_last_ch != b'\n' {
                        end_pos = self.offset() - boundary.len() - 2;
                    }
                    return (end_pos, true);
                }

                before_last_ch = last_ch;
                last_ch = ch;
            }

            (self.offset(), false)
        } else {
            self.seek_end();
            (self.offset(), true)
        }
    }

    pub fn is_multipart_end(&mut self) -> bool {
        self.checkpoint();

        match (self.next(), self.peek()) {
            (Some(b'\r'), Some(b'\n')) => {
                self.next();
                false
            }
            (Some(b'-'), Some(b'-')) => {
                self.next();
                true
            }
            (Some(b'\n'), _) => false,
            (Some(&a), _) if a.is_ascii_whitespace() => {
                // White space after the boundary: the rest of the line is ignored
                // (RFC 2046 section 5.1.1), whatever it holds.
                while let Some(&ch) = self.next() {
                    if ch == b'\n' {
                        break;
                    }
                }
                false
            }
            _ => {
                self.restore();
                false
            }
        }
    }

    #[inline(always)]
    pub fn skip_crlf(&mut self) {
        while let Some(ch) = self.peek() {
            match ch {
                b'\r' | b' ' | b'\t' => {
                    self.next();
                }
                b'\n' => {
                    self.next();
                    break;
                }
                _ => break,
            }
        }
    }
}
