// SPDX-License-Identifier: GPL-2.0
//! Safe wrappers for the multipage write path: locked page-cache folios,
//! their buffer_heads, the caller's `iov_iter` and the write's `kiocb`.

use super::{Inode, SuperBlock};
use crate::ffi;
use core::cell::Cell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

/// A page-cache folio that this task holds locked and referenced.
///
/// # Invariants
///
/// `folio` was returned locked and referenced by `__filemap_get_folio`
/// and stays so until drop, which unlocks it and drops the reference.
/// `pos` and `size` are its file offset and size, which cannot change
/// while it is locked (kept here: the write path asks for them often).
pub(crate) struct LockedFolio {
    folio: NonNull<ffi::folio>,
    pos: u64,
    size: usize,
    /// Its buffer ring once [`LockedFolio::buffers`] has seen or attached
    /// it (null before): buffers are not detached from a locked folio.
    head: Cell<*mut ffi::buffer_head>,
    /// The buffers were attached by us: none of them is mapped yet.
    fresh: Cell<bool>,
}

impl LockedFolio {
    /// Finds or creates the folio at page `index` of `inode`'s mapping,
    /// locked and stable for writing (`FGP_WRITEBEGIN`).
    pub(crate) fn grab(inode: Inode, index: u64) -> Result<LockedFolio> {
        let mut err = 0;
        // SAFETY: the inode is live, so is its mapping; the helper returns
        // NULL (with `err` set) or a locked, referenced folio.
        let folio =
            unsafe { ffi::rext2_h_grab_folio((*inode.as_ptr()).i_mapping, index as _, &mut err) };
        NonNull::new(folio).map(LockedFolio::new).ok_or_else(|| {
            if err < 0 {
                Error::from_errno(err)
            } else {
                ENOMEM
            }
        })
    }

    /// The folio at page `index` of `inode`'s mapping, locked, if it is
    /// cached; `None` if it is not (nothing is read or created).
    pub(crate) fn lock_cached(inode: Inode, index: u64) -> Option<LockedFolio> {
        // SAFETY: the inode is live, so is its mapping; the helper returns
        // NULL or a locked, referenced folio.
        let folio =
            unsafe { ffi::rext2_h_lock_cached_folio((*inode.as_ptr()).i_mapping, index as _) };
        NonNull::new(folio).map(LockedFolio::new)
    }

    /// Takes over a folio this task holds locked and referenced.
    fn new(folio: NonNull<ffi::folio>) -> LockedFolio {
        // SAFETY: the folio is referenced (the caller's).
        let (pos, size) = unsafe {
            (
                ffi::rext2_h_folio_pos(folio.as_ptr()) as u64,
                ffi::rext2_h_folio_size(folio.as_ptr()),
            )
        };
        // INVARIANT: locked and referenced (the caller's), pos and size read.
        LockedFolio {
            folio,
            pos,
            size,
            head: Cell::new(ptr::null_mut()),
            fresh: Cell::new(false),
        }
    }

    fn as_ptr(&self) -> *mut ffi::folio {
        self.folio.as_ptr()
    }

    /// File offset of the folio's first byte.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn is_uptodate(&self) -> bool {
        // SAFETY: the folio is referenced (type invariant); `flags` is an
        // aligned word changed only by atomic bit operations. An acquire
        // load is folio_test_uptodate's read and its smp_rmb().
        let flags = unsafe {
            AtomicU64::from_ptr(ptr::addr_of_mut!(
                (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.flags
            ))
        };
        flags.load(Ordering::Acquire) & (1 << ffi::pageflags_PG_uptodate) != 0
    }

    /// Zeroes `len` bytes from `start` (folio-relative).
    pub(crate) fn zero(&self, start: usize, len: usize) {
        if start + len <= self.size() {
            // SAFETY: the folio is locked by us and the range lies inside it.
            unsafe { ffi::rext2_h_folio_zero(self.as_ptr(), start, len) }
        }
    }

    /// Copies up to `len` bytes from `src` to folio offset `offset` without
    /// taking page faults; returns how many were copied.
    pub(crate) fn copy_from(&self, offset: usize, len: usize, src: &mut IovIter) -> usize {
        if offset + len > self.size() {
            return 0;
        }
        // SAFETY: the folio is locked by us and the range lies inside it;
        // the iterator is the caller's, live for the write.
        unsafe { ffi::rext2_h_copy_to_folio(self.as_ptr(), offset, len, src.as_ptr()) }
    }

    /// Marks the buffers covering `[from, to)` uptodate and dirty (and the
    /// folio dirty, and uptodate when every buffer is).
    pub(crate) fn commit(&self, from: usize, to: usize) {
        if from < to && to <= self.size() {
            // SAFETY: the folio is locked by us and has buffers (attached by
            // `buffers`); the range lies inside it.
            unsafe { ffi::rext2_h_commit_write(self.as_ptr(), from, to) }
        }
    }

    /// Whether `buffers` attached the folio's buffers (so none is mapped).
    pub(crate) fn has_fresh_buffers(&self) -> bool {
        self.fresh.get()
    }

    /// Some of the buffers were mapped since they were attached.
    pub(crate) fn clear_fresh(&self) {
        self.fresh.set(false);
    }

    /// The folio's buffer_heads of `block_size` bytes, attached if absent.
    pub(crate) fn buffers(&self, block_size: usize) -> Buffers<'_> {
        let mut head = self.head.get();
        if head.is_null() {
            let mut created = false;
            // SAFETY: the folio is locked by us, which is what attaching
            // buffers requires; create_empty_buffers cannot fail
            // (__GFP_NOFAIL).
            head =
                unsafe { ffi::rext2_h_folio_buffers(self.as_ptr(), block_size as _, &mut created) };
            self.head.set(head);
            self.fresh.set(created);
        }
        Buffers {
            head,
            next: head,
            done: head.is_null(),
            offset: 0,
            block_size,
            _folio: self,
        }
    }
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we hold the lock and a reference.
        unsafe { ffi::rext2_h_folio_release(self.as_ptr()) }
    }
}

/// Iterator over the buffer_heads of a locked folio, with each buffer's
/// offset in the folio.
pub(crate) struct Buffers<'a> {
    head: *mut ffi::buffer_head,
    next: *mut ffi::buffer_head,
    done: bool,
    offset: usize,
    block_size: usize,
    _folio: &'a LockedFolio,
}

impl<'a> Iterator for Buffers<'a> {
    type Item = (usize, Buffer<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let bh = self.next;
        let off = self.offset;
        // SAFETY: the ring of buffers stays attached while the folio is
        // locked, which the borrow of the LockedFolio guarantees.
        self.next = unsafe { (*bh).b_this_page };
        self.offset += self.block_size;
        self.done = self.next == self.head || self.next.is_null();
        Some((
            off,
            Buffer {
                bh,
                _folio: core::marker::PhantomData,
            },
        ))
    }
}

/// One buffer_head of a locked folio.
pub(crate) struct Buffer<'a> {
    bh: *mut ffi::buffer_head,
    _folio: core::marker::PhantomData<&'a LockedFolio>,
}

impl Buffer<'_> {
    /// Tests a `BH_*` state bit as `buffer_uptodate()` and its kin do (an
    /// acquire load, as `test_bit_acquire`), without a call into C: the
    /// write path asks per buffer, per batch.
    fn test(&self, bit: ffi::bh_state_bits) -> bool {
        // SAFETY: the buffer lives while its folio is locked (lifetime);
        // `b_state` is an aligned word changed only by atomic bit
        // operations, so an atomic load of it is sound.
        let state = unsafe { AtomicU64::from_ptr(ptr::addr_of_mut!((*self.bh).b_state)) };
        state.load(Ordering::Acquire) & (1 << bit) != 0
    }

    pub(crate) fn is_uptodate(&self) -> bool {
        self.test(ffi::bh_state_bits_BH_Uptodate)
    }

    pub(crate) fn is_mapped(&self) -> bool {
        self.test(ffi::bh_state_bits_BH_Mapped)
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.test(ffi::bh_state_bits_BH_Dirty)
    }

    pub(crate) fn clear_uptodate(&self) {
        // SAFETY: as in `is_uptodate`; the folio lock serialises this.
        unsafe { ffi::rext2_h_clear_buffer_uptodate(self.bh) }
    }

    pub(crate) fn set_uptodate(&self) {
        // SAFETY: as in `is_uptodate`; the folio lock serialises this.
        unsafe { ffi::rext2_h_set_buffer_uptodate(self.bh) }
    }

    /// Maps the buffer to device block `block` of `sb`.
    pub(crate) fn map(&self, sb: SuperBlock, block: u64) {
        // SAFETY: as in `is_uptodate`; `sb` is the mapping's super_block.
        unsafe { ffi::rext2_h_map_bh(self.bh, sb.as_ptr(), block) }
    }

    /// Reads the mapped buffer from disk and waits.
    pub(crate) fn read(&self) -> Result {
        // SAFETY: as in `is_uptodate`; bh_read locks the buffer itself.
        let r = unsafe { ffi::rext2_h_bh_read(self.bh) };
        if r < 0 {
            return Err(EIO);
        }
        Ok(())
    }
}

/// Forgets any cached block-device buffers for `[block, block+len)`, blocks
/// just given to file data: a stale dirty alias must not overwrite them.
pub(crate) fn clean_bdev_aliases(sb: SuperBlock, block: u64, len: u64) {
    // SAFETY: `sb` is live and a block filesystem's.
    unsafe { ffi::rext2_h_clean_bdev_aliases(sb.as_ptr(), block, len) }
}

/// The source of a write.
pub(crate) struct IovIter {
    iter: NonNull<ffi::iov_iter>,
}

impl IovIter {
    /// # Safety
    ///
    /// `iter` must be live and used by this task alone while the value is.
    pub(crate) unsafe fn from_raw(iter: *mut ffi::iov_iter) -> IovIter {
        IovIter {
            // SAFETY: the caller passes a valid, hence non-null, pointer.
            iter: unsafe { NonNull::new_unchecked(iter) },
        }
    }

    fn as_ptr(&mut self) -> *mut ffi::iov_iter {
        self.iter.as_ptr()
    }

    /// The bytes left (`iov_iter_count`, read in place: the write path
    /// asks per batch).
    pub(crate) fn count(&self) -> usize {
        // SAFETY: live (constructor contract); `count` is the field
        // iov_iter_count() reads, for every kind of iterator.
        unsafe {
            (*self.iter.as_ptr())
                .__bindgen_anon_1
                .__bindgen_anon_1
                .as_ref()
                .count
        }
    }

    /// Faults in up to `len` bytes of the source; returns how many could
    /// be (a prefix).
    pub(crate) fn fault_in(&mut self, len: usize) -> usize {
        // SAFETY: live; this takes page faults, so no folio may be locked
        // (the callers fault in before grabbing folios).
        let missed = unsafe { ffi::fault_in_iov_iter_readable(self.as_ptr(), len) };
        len - missed.min(len)
    }

    /// Steps the iterator back by `n` bytes (for copied data not committed).
    pub(crate) fn revert(&mut self, n: usize) {
        if n > 0 {
            // SAFETY: live; `n` bytes were consumed by copies.
            unsafe { ffi::iov_iter_revert(self.as_ptr(), n) }
        }
    }
}

/// A scope in which the task's memory allocations do not recurse into
/// filesystem reclaim (`memalloc_nofs_save`): for code that allocates
/// while holding filesystem locks.
pub(crate) struct NoFs {
    flags: u32,
    _task_local: core::marker::PhantomData<*mut ()>,
}

impl NoFs {
    pub(crate) fn enter() -> NoFs {
        NoFs {
            // SAFETY: changes the current task's allocation scope; restored
            // on drop, in the same task (the guard is not Send).
            flags: unsafe { ffi::rext2_h_nofs_save() },
            _task_local: core::marker::PhantomData,
        }
    }
}

impl Drop for NoFs {
    fn drop(&mut self) {
        // SAFETY: restores what `enter` saved, in the same task.
        unsafe { ffi::rext2_h_nofs_restore(self.flags) }
    }
}

/// Whether the task has a fatal signal pending (a write then stops).
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: reads the current task's signal state.
    unsafe { ffi::rext2_h_fatal_signal_pending() }
}

/// Pages the task may still dirty before `balance_dirty_pages` throttles it.
pub(crate) fn dirty_allowance() -> usize {
    // SAFETY: reads the current task's dirty counters.
    unsafe { ffi::rext2_h_dirty_allowance() as usize }
}

/// Lets writeback throttle the task after it dirtied pages of `inode`.
pub(crate) fn balance_dirty_pages(inode: Inode) {
    // SAFETY: the inode and its mapping are live.
    unsafe { ffi::balance_dirty_pages_ratelimited((*inode.as_ptr()).i_mapping) }
}

/// Drops the page cache of `inode` in `[start, end]` (zeroing the part of a
/// partial folio inside it): pages a failed write left past EOF.
pub(crate) fn truncate_pagecache_range(inode: Inode, start: u64, end: u64) {
    // SAFETY: the inode is live; the writer holds i_rwsem.
    unsafe { ffi::truncate_pagecache_range(inode.as_ptr(), start as i64, end as i64) }
}

/// Sets `i_size` (the writer holds i_rwsem and the folio at the new EOF).
pub(crate) fn set_i_size(inode: Inode, size: u64) {
    // SAFETY: the inode is live; i_size_write needs i_rwsem, held.
    unsafe { ffi::rext2_h_i_size_write(inode.as_ptr(), size as i64) }
}

const PAGE_SIZE: u64 = kernel::page::PAGE_SIZE as u64;

/// Before `i_size` grows from `old` to `new`: zeroes the bytes past `old`
/// (up to `new`) in the cached folio that straddles `old`. A store through
/// mmap may write the whole EOF page, and writeback zeroes its tail only when
/// it runs; once the size covers those bytes they would read back as data.
pub(crate) fn zero_past_eof(inode: Inode, old: u64, new: u64) {
    if new <= old || old % PAGE_SIZE == 0 {
        return;
    }
    let Some(folio) = LockedFolio::lock_cached(inode, old / PAGE_SIZE) else {
        return;
    };
    let (pos, size) = (folio.pos(), folio.size() as u64);
    if (pos..pos + size).contains(&old) {
        let end = new.min(pos + size);
        folio.zero((old - pos) as usize, (end - old) as usize);
    }
}

/// After `i_size` grew from `old` to `new`: lets page faults re-check the
/// folio that straddled the old EOF, as generic_write_end does.
pub(crate) fn isize_extended(inode: Inode, old: u64, new: u64) {
    // SAFETY: the inode is live; called with no folio locked.
    unsafe { ffi::pagecache_isize_extended(inode.as_ptr(), old as i64, new as i64) }
}

pub(crate) fn mark_inode_dirty(inode: Inode) {
    // SAFETY: the inode is live.
    unsafe { ffi::rext2_h_mark_inode_dirty(inode.as_ptr()) }
}

/// `/sys/fs/rext2/<device>/`: one read-only file per counter of a
/// [`crate::write::WriteStats`]. Removed on drop; the counters must
/// outlive it (the directory's readers are drained by then).
pub(crate) struct StatsDir {
    dir: NonNull<ffi::rext2_sysfs>,
}

impl StatsDir {
    /// Creates `/sys/fs/rext2` (module init).
    pub(crate) fn init() -> Result {
        // SAFETY: called once at module init.
        let r = unsafe { ffi::rext2_h_sysfs_init() };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// Removes `/sys/fs/rext2` (module exit, after every super_block).
    pub(crate) fn exit() {
        // SAFETY: called once at module exit; no directory is left below.
        unsafe { ffi::rext2_h_sysfs_exit() }
    }

    /// # Safety
    ///
    /// `values` must point at `REXT2_NR_STATS` u64 counters that stay live
    /// until the returned value is dropped.
    pub(crate) unsafe fn add(sb: SuperBlock, values: *const u64) -> Result<StatsDir> {
        // SAFETY: `sb` is live with its s_id set; `values` per the contract.
        let dir = unsafe { ffi::rext2_h_sysfs_add(sb.as_ptr(), values) };
        if (dir as isize) < 0 && (dir as isize) >= -4095 {
            return Err(Error::from_errno(dir as isize as i32));
        }
        NonNull::new(dir).map(|dir| StatsDir { dir }).ok_or(ENOMEM)
    }
}

impl Drop for StatsDir {
    fn drop(&mut self) {
        // SAFETY: created by `add`, removed once.
        unsafe { ffi::rext2_h_sysfs_del(self.dir.as_ptr()) }
    }
}

// SAFETY: the directory is only created and removed, from any task.
unsafe impl Send for StatsDir {}
// SAFETY: no method takes `&self`.
unsafe impl Sync for StatsDir {}
