//! Line buffers kept for reuse: a [`Serialized`](crate::Serialized) record's buffer
//! goes back here when the host has written it, and the next record written ahead of
//! time takes it again.
//!
//! A source that writes its lines on a pool of threads allocates each buffer there
//! while the host frees it on its own thread. The allocator (glibc's, with one arena
//! per thread) then sees a batch's worth of memory freed at the top of a parsing
//! thread's arena, gives it back to the system, and faults it in page by page for the
//! next batch: a profile of reading 50,000 messages showed 7% of the reader's CPU in
//! page faults, nearly all under the line buffer's allocation. Buffers kept here are
//! never given back between batches. What is kept is bounded ([`KEPT_BYTES`] in all,
//! none over [`LARGEST`]), so a run's memory stays flat.
//!
//! [`BufferPool`] is public for the same pattern inside a connector: buffers filled on
//! one thread and emptied on another (the Email connector's fetched messages).

use std::sync::{Mutex, PoisonError};

/// The most capacity kept, in bytes, over every buffer.
const KEPT_BYTES: usize = 8 << 20;

/// A buffer with more capacity than this (a record of a large message) is freed.
const LARGEST: usize = 1 << 20;

/// The pool of line buffers every [`Serialized`](crate::Serialized) takes from and
/// gives back to.
pub(crate) static LINES: BufferPool = BufferPool::new(KEPT_BYTES, LARGEST);

/// Byte buffers kept for reuse between the thread that fills them and the one that is
/// done with them, at most `kept_bytes` of capacity in all and none larger than
/// `largest`: memory stays bounded whatever passes through.
///
/// With glibc's allocator a buffer allocated on one thread and freed on another goes
/// back to the first thread's arena under its lock, and a batch freed at once can be
/// given back to the system and faulted in again page by page for the next one. A
/// buffer given back here is taken again instead.
///
/// ```
/// use connector_sdk::BufferPool;
///
/// static BODIES: BufferPool = BufferPool::new(1 << 20, 64 << 10);
///
/// let mut body = BODIES.take(4096);
/// body.extend_from_slice(b"Subject: hello\r\n\r\nhi\r\n");
/// let handle = std::thread::spawn(move || {
///     assert!(body.starts_with(b"Subject"));
///     BODIES.give(body);
/// });
/// handle.join().unwrap();
/// let again = BODIES.take(100);
/// assert!(again.is_empty() && again.capacity() >= 4096, "the same buffer, emptied");
/// ```
pub struct BufferPool {
    /// The buffers kept, and the sum of their capacities.
    kept: Mutex<(Vec<Vec<u8>>, usize)>,
    kept_bytes: usize,
    largest: usize,
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("BufferPool")
            .field("kept", &kept.0.len())
            .field("kept_bytes", &kept.1)
            .field("most_bytes", &self.kept_bytes)
            .field("largest", &self.largest)
            .finish()
    }
}

impl BufferPool {
    /// A pool that keeps at most `kept_bytes` of capacity, in buffers of at most
    /// `largest` bytes each (a larger one given back is freed).
    pub const fn new(kept_bytes: usize, largest: usize) -> Self {
        Self {
            kept: Mutex::new((Vec::new(), 0)),
            kept_bytes,
            largest,
        }
    }

    /// An empty buffer with room for at least `capacity` bytes: a kept one if any.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let kept = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            let buffer = kept.0.pop();
            if let Some(b) = &buffer {
                kept.1 -= b.capacity();
            }
            buffer
        };
        match kept {
            Some(mut buffer) => {
                buffer.reserve(capacity);
                buffer
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Keeps `buffer` for a later [`take`](Self::take), emptied, unless it is larger
    /// than the largest kept or would take the pool over its total.
    pub fn give(&self, mut buffer: Vec<u8>) {
        let size = buffer.capacity();
        if size == 0 || size > self.largest {
            return;
        }
        buffer.clear();
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.1 + size <= self.kept_bytes {
            kept.1 += size;
            kept.0.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_empty_and_large_enough() {
        let pool = BufferPool::new(1 << 20, 1 << 16);
        let mut b = pool.take(4096);
        b.extend_from_slice(b"a record's line\n");
        let at = b.as_ptr();
        pool.give(b);
        let again = pool.take(100);
        assert_eq!(again.as_ptr(), at, "the kept buffer is the one taken");
        assert!(again.is_empty());
        assert!(again.capacity() >= 4096);
        let fresh = pool.take(100);
        assert!(fresh.is_empty() && fresh.capacity() >= 100);
        assert_eq!(*pool.kept.lock().unwrap(), (vec![], 0));
    }

    #[test]
    fn a_kept_buffer_too_small_grows_to_what_is_asked() {
        let pool = BufferPool::new(1 << 20, 1 << 16);
        pool.give(Vec::with_capacity(64));
        assert!(pool.take(10_000).capacity() >= 10_000);
    }

    #[test]
    fn what_is_kept_is_bounded_in_all_and_per_buffer() {
        let pool = BufferPool::new(1 << 20, 1 << 16);
        pool.give(Vec::with_capacity((1 << 16) + 1));
        pool.give(Vec::new());
        assert_eq!(
            pool.kept.lock().unwrap().0.len(),
            0,
            "too large or empty: freed"
        );
        for _ in 0..40 {
            pool.give(Vec::with_capacity(1 << 15));
        }
        let kept = pool.kept.lock().unwrap();
        assert_eq!(kept.0.len(), 32, "a MiB of 32 KiB buffers");
        assert_eq!(kept.1, 1 << 20);
        assert_eq!(kept.0.iter().map(Vec::capacity).sum::<usize>(), kept.1);
    }
}
