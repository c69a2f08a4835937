// SPDX-License-Identifier: GPL-2.0
//! A vector that keeps its first `N` items inline and only allocates past
//! them: the write path's per-call lists (folios of a batch, leaves and runs
//! of an allocation) are short for small writes, where a heap allocation
//! per call shows in profiles. Only the items present are ever visited
//! (creating, iterating or dropping one does not touch all `N` slots), and
//! the overflow vector exists only once used: even dropping an empty `KVec`
//! calls into the allocator.

use core::mem::MaybeUninit;
use kernel::prelude::*;

/// # Invariants
///
/// `inline[..len]` are initialised, `inline[len..]` are not; `len <= N`.
/// `more` holds items only when `len == N`.
pub(crate) struct SmallVec<T, const N: usize> {
    inline: [MaybeUninit<T>; N],
    len: usize,
    more: Option<KVec<T>>,
}

impl<T, const N: usize> SmallVec<T, N> {
    pub(crate) fn new() -> Self {
        // INVARIANT: nothing is initialised and `len` is 0.
        SmallVec {
            inline: [const { MaybeUninit::uninit() }; N],
            len: 0,
            more: None,
        }
    }

    fn inline(&self) -> &[T] {
        // SAFETY: by the type invariant the first `len` slots are
        // initialised; `MaybeUninit<T>` has the layout of `T`.
        unsafe { core::slice::from_raw_parts(self.inline.as_ptr().cast::<T>(), self.len) }
    }

    fn inline_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `inline`, and `self` is borrowed mutably.
        unsafe { core::slice::from_raw_parts_mut(self.inline.as_mut_ptr().cast::<T>(), self.len) }
    }

    fn more(&self) -> &[T] {
        self.more.as_deref().unwrap_or(&[])
    }

    pub(crate) fn len(&self) -> usize {
        self.len + self.more().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn push(&mut self, v: T) -> Result {
        if let Some(slot) = self.inline.get_mut(self.len) {
            slot.write(v);
            // INVARIANT: the slot at the old `len` is now initialised.
            self.len += 1;
            return Ok(());
        }
        self.more
            .get_or_insert_with(KVec::new)
            .push(v, GFP_KERNEL)?;
        Ok(())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        Iterator::chain(self.inline().iter(), self.more().iter())
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let more = self.more.as_deref_mut().unwrap_or(&mut []);
        // SAFETY: as in `inline`; `more` borrows a different field.
        let inline = unsafe {
            core::slice::from_raw_parts_mut(self.inline.as_mut_ptr().cast::<T>(), self.len)
        };
        Iterator::chain(inline.iter_mut(), more.iter_mut())
    }

    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        match self.inline().get(i) {
            Some(v) => Some(v),
            None => self.more().get(i - self.len),
        }
    }

    pub(crate) fn first(&self) -> Option<&T> {
        self.inline().first()
    }

    pub(crate) fn last_mut(&mut self) -> Option<&mut T> {
        if self.more().is_empty() {
            return self.inline_mut().last_mut();
        }
        self.more.as_mut().and_then(|v| v.last_mut())
    }

    /// Drops every item, in order, keeping the storage.
    pub(crate) fn clear(&mut self) {
        let inline: *mut [T] = self.inline_mut();
        // INVARIANT: `len` goes to 0 before the items are dropped in place,
        // so they are never reached again.
        self.len = 0;
        // SAFETY: the slice was the initialised prefix and is no longer
        // counted as such.
        unsafe { core::ptr::drop_in_place(inline) };
        let Some(more) = self.more.as_mut() else {
            return;
        };
        let n = more.len();
        let base = more.as_mut_ptr();
        // SAFETY: the length goes to 0 first, so the `n` items dropped in
        // place are never reached again.
        unsafe {
            more.set_len(0);
            core::ptr::drop_in_place(core::ptr::slice_from_raw_parts_mut(base, n));
        }
    }
}

impl<T, const N: usize> Drop for SmallVec<T, N> {
    fn drop(&mut self) {
        self.clear();
    }
}
