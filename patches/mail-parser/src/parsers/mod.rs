/*
 * SPDX-FileCopyrightText: 2020 Stalwart Labs LLC <hello@stalw.art>
 *
 * SPDX-License-Identifier: Apache-2.0 OR MIT
 */

use std::{iter::Peekable, ops::Range, slice::Iter};

pub mod fields;
pub mod header;
pub mod message;
pub mod mime;
pub mod preview;

pub struct MessageStream<'x> {
    data: &'x [u8],
    iter: Peekable<Iter<'x, u8>>,
    pos: usize,
    restore_pos: usize,
    /// The boundary of the multipart enclosing the one whose part is being read, if
    /// any: its delimiter also ends the part (a nested multipart whose own close
    /// delimiter is missing ends where its parent goes on).
    pub(crate) enclosing: Option<Vec<u8>>,
    /// Set when a part ended at the enclosing multipart's delimiter (not consumed).
    pub(crate) hit_enclosing: bool,
}

impl<'x> MessageStream<'x> {
    pub fn new(data: &'x [u8]) -> MessageStream<'x> {
        MessageStream {
            data,
            iter: data.iter().peekable(),
            pos: 0,
            restore_pos: 0,
            enclosing: None,
            hit_enclosing: false,
        }
    }

    /// Called after a `--` that starts a line and is not this part's delimiter: whether
    /// the enclosing multipart's delimiter follows. If so, goes back to the start of
    /// the line (the delimiter is left for the enclosing multipart) and says so.
    pub fn at_enclosing_boundary(&mut self) -> bool {
        let Some(outer) = self.enclosing.take() else {
            return false;
        };
        let found = self.try_skip_boundary(&outer);
        if found {
            let line_start = self.offset() - outer.len() - 2;
            self.pos = line_start;
            self.iter = self.data[line_start..].iter().peekable();
            self.hit_enclosing = true;
        }
        self.enclosing = Some(outer);
        found
    }

    #[inline(always)]
    pub fn peek(&mut self) -> Option<&&u8> {
        self.iter.peek()
    }

    #[inline(always)]
    pub fn offset(&self) -> usize {
        std::cmp::min(self.pos, self.data.len())
    }

    #[inline(always)]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.offset()
    }

    #[inline(always)]
    pub fn checkpoint(&mut self) {
        self.restore_pos = self.offset();
    }

    #[inline(always)]
    pub fn restore(&mut self) {
        self.iter = self.data[self.restore_pos..].iter().peekable();
        self.pos = self.restore_pos;
        self.restore_pos = 0;
    }

    #[inline(always)]
    pub fn reset(&mut self) {
        self.restore_pos = 0;
    }

    #[inline(always)]
    pub fn peek_bytes(&self, len: usize) -> Option<&[u8]> {
        let pos = self.offset();
        self.data.get(pos..pos + len)
    }

    #[inline(always)]
    pub fn peek_char(&mut self, ch: u8) -> bool {
        matches!(self.peek(), Some(&&ch_) if ch_ == ch)
    }

    #[inline(always)]
    pub fn skip_bytes(&mut self, len: usize) {
        self.pos += len;
        self.iter = self.data[self.pos..].iter().peekable();
    }

    #[inline(always)]
    pub fn try_skip(&mut self, bytes: &[u8]) -> bool {
        if self.peek_bytes(bytes.len()) == Some(bytes) {
            self.skip_bytes(bytes.len());
            true
        } else {
            false
        }
    }

    /// Called after a `--` that starts a line: whether `boundary` follows it as a
    /// delimiter, and if so skips it. RFC 2046 section 5.1.1: the boundary must be
    /// followed by `--` (the close delimiter), white space or the end of the line
    /// (its note to implementors lets text follow after white space, which is
    /// ignored); a line that merely starts with the boundary and goes on with more
    /// boundary characters (`--abc-inner` for the boundary `abc`: a nested part's
    /// longer boundary) is content, not a delimiter.
    pub fn try_skip_boundary(&mut self, boundary: &[u8]) -> bool {
        if boundary.is_empty() || self.peek_bytes(boundary.len()) != Some(boundary) {
            return false;
        }
        let after = self.bytes(self.offset() + boundary.len()..self.len());
        let delimiter = after.starts_with(b"--")
            || matches!(
                after.first(),
                None | Some(b' ') | Some(b'\t') | Some(b'\r') | Some(b'\n')
            );
        if delimiter {
            self.skip_bytes(boundary.len());
        }
        delimiter
    }

    #[inline(always)]
    pub fn try_skip_char(&mut self, ch: u8) -> bool {
        if self.peek_char(ch) {
            self.next();
            true
        } else {
            false
        }
    }

    #[inline(always)]
    pub fn bytes(&self, range: Range<usize>) -> &'x [u8] {
        self.data.get(range).unwrap_or_default()
    }

    #[inline(always)]
    pub fn seek_end(&mut self) {
        self.pos = self.data.len();
        self.iter = [][..].iter().peekable();
    }

    #[inline(always)]
    pub fn next_is_space(&mut self) -> bool {
        matches!(self.next(), Some(b' ' | b'\t'))
    }

    #[inline(always)]
    pub fn peek_next_is_space(&mut self) -> bool {
        matches!(self.peek(), Some(b' ' | b'\t'))
    }

    #[inline(always)]
    pub fn try_next_is_space(&mut self) -> bool {
        if self.peek_next_is_space() {
            self.next();
            true
        } else {
            false
        }
    }

    #[allow(clippy::len_without_is_empty)]
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.data.len()
    }

    #[inline(always)]
    pub fn is_eof(&mut self) -> bool {
        self.iter.peek().is_none()
    }
}

impl<'x> Iterator for MessageStream<'x> {
    type Item = &'x u8;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        self.pos += 1;
        self.iter.next()
    }
}
