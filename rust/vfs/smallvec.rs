// SPDX-License-Identifier: GPL-2.0
//! A vector that keeps its first `N` items inline and only allocates past
//! them: the write path's per-call lists (folios of a batch, leaves and runs
//! of an allocation) are short for small writes, where a heap allocation
//! per call shows in profiles.

use kernel::prelude::*;

pub(crate) struct SmallVec<T, const N: usize> {
    inline: [Option<T>; N],
    len: usize,
    more: KVec<T>,
}

impl<T, const N: usize> SmallVec<T, N> {
    pub(crate) fn new() -> Self {
        SmallVec {
            inline: core::array::from_fn(|_| None),
            len: 0,
            more: KVec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len + self.more.len()
    }

    pub(crate) fn push(&mut self, v: T) -> Result {
        if self.len < N {
            self.inline[self.len] = Some(v);
            self.len += 1;
            return Ok(());
        }
        self.more.push(v, GFP_KERNEL)?;
        Ok(())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        Iterator::chain(self.inline[..self.len].iter().flatten(), self.more.iter())
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        Iterator::chain(
            self.inline[..self.len].iter_mut().flatten(),
            self.more.iter_mut(),
        )
    }

    pub(crate) fn first(&self) -> Option<&T> {
        self.iter().next()
    }

    pub(crate) fn last_mut(&mut self) -> Option<&mut T> {
        if !self.more.is_empty() {
            return self.more.last_mut();
        }
        self.inline[..self.len].last_mut().and_then(Option::as_mut)
    }

    /// Drops every item, in order, keeping the storage.
    pub(crate) fn clear(&mut self) {
        for slot in self.inline[..self.len].iter_mut() {
            drop(slot.take());
        }
        self.len = 0;
        let n = self.more.len();
        let base = self.more.as_mut_ptr();
        // SAFETY: the length goes to 0 first, so the `n` items dropped in
        // place are never reached again.
        unsafe {
            self.more.set_len(0);
            core::ptr::drop_in_place(core::ptr::slice_from_raw_parts_mut(base, n));
        }
    }
}
