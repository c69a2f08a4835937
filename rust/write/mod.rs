// SPDX-License-Identifier: GPL-2.0
//! The multipage buffered write path, for any filesystem that implements
//! one hook, [`Allocate::allocate`] (after Dave Chinner's 2010 proposal of
//! `->allocate(mapping, pages, off, len, cmd)`). It knows nothing of ext2.
//!
//! Per batch of up to [`plan::MAX_BATCH_PAGES`] pages:
//!
//! ```text
//! fault in the source             (no folio locked yet: may sleep, may fault)
//! RESERVE [pos, end)              -> ENOSPC here, before any copy; may shrink end
//! grab + lock folios, buffers     (FGP_WRITEBEGIN)
//! MAP the partial edge blocks, read them (or zero holes)
//! copy, page faults disabled      -> short copy: commit what is valid
//! ALLOC [pos, pos+committed)      -> every buffer of the range mapped at once
//! commit: buffers uptodate+dirty, i_size, unlock
//! UNRESERVE what was not used     (the Reservation guard, on drop)
//! ```
//!
//! Nothing is allocated before the copy, so nothing allocated ever has to be
//! undone: a failed or short batch only gives back a reservation and drops
//! page-cache state past EOF.

#[allow(dead_code, unreachable_pub)]
pub(crate) mod plan;

use crate::ffi;
use crate::vfs::folio::{self, IovIter, LockedFolio};
use crate::vfs::smallvec::SmallVec;
use crate::vfs::{Inode, SuperBlock};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

/// The commands of the hook.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Command {
    /// Reserve the space a write of the range needs (no pages). Returns the
    /// bytes of the range, from its start, that the reservation covers:
    /// all of it, or a shorter prefix when space runs low; `ENOSPC` when
    /// not even the first block fits.
    Reserve,
    /// Map the buffers of the range to blocks that already exist, without
    /// allocating: the generic code must read the partial blocks at the
    /// edges of a write before copying, and learn whether an overwrite
    /// needs any space, and only the filesystem knows where the blocks
    /// are. (Chinner's `get_blocks(create=0)` as a command.) Returns `len`
    /// when every block of the range exists (every buffer of it is then
    /// mapped), 0 otherwise.
    Map,
    /// Turn (part of) the reservation into blocks and map every buffer of
    /// the range, after the data was copied.
    Alloc,
    /// Give back what the write still holds (no pages).
    Unreserve,
}

/// What one write holds between `Reserve` and `Unreserve`, in units the
/// filesystem chooses (rext2: blocks).
#[derive(Default, Debug)]
pub(crate) struct Held(pub(crate) u64);

/// The filesystem's side of the multipage write path.
pub(crate) trait Allocate {
    /// The hook: carries out `cmd` for the bytes `[off, off+len)` of
    /// `inode`. `pages` holds the batch's locked folios for `Map` and
    /// `Alloc`, and is `None` for `Reserve` and `Unreserve`. `held` is the
    /// calling write's reservation. Returns what `Command` says (bytes
    /// covered for `Reserve`, whether all blocks exist for `Map`, 0
    /// otherwise).
    fn allocate(
        &self,
        inode: Inode,
        pages: Option<&Pages>,
        off: u64,
        len: u64,
        cmd: Command,
        held: &mut Held,
    ) -> Result<u64>;

    /// The per-mount counters of the write path.
    fn stats(&self) -> &WriteStats;
}

/// Counters of the write path, indexed by `ffi::rext2_stat_*` (the order
/// the sysfs files are listed in `rext2_ffi.h`).
pub(crate) struct WriteStats {
    v: [AtomicU64; ffi::rext2_stat_REXT2_NR_STATS as usize],
}

/// A counter of [`WriteStats`].
pub(crate) type Stat = ffi::rext2_stat;

impl WriteStats {
    pub(crate) fn new() -> WriteStats {
        WriteStats {
            v: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    pub(crate) fn add(&self, s: Stat, n: u64) {
        if let Some(c) = self.v.get(s as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn set(&self, s: Stat, n: u64) {
        if let Some(c) = self.v.get(s as usize) {
            c.store(n, Ordering::Relaxed);
        }
    }

    fn max(&self, s: Stat, n: u64) {
        if let Some(c) = self.v.get(s as usize) {
            c.fetch_max(n, Ordering::Relaxed);
        }
    }

    /// The counters as the C side reads them (`u64[REXT2_NR_STATS]`).
    pub(crate) fn as_ptr(&self) -> *const u64 {
        self.v.as_ptr().cast()
    }
}

/// A write's reservation: whatever it still holds is given back through
/// `Command::Unreserve` when it goes out of scope, on every path.
struct Reservation<'a, A: Allocate> {
    fs: &'a A,
    inode: Inode,
    held: Held,
}

impl<A: Allocate> Drop for Reservation<'_, A> {
    fn drop(&mut self) {
        if self.held.0 == 0 {
            return;
        }
        let stats = self.fs.stats();
        stats.add(ffi::rext2_stat_REXT2_STAT_RETURNS, 1);
        stats.add(ffi::rext2_stat_REXT2_STAT_RETURNED_BLOCKS, self.held.0);
        // Unreserve is accounting only and cannot fail for rext2; an error
        // from another implementation has nobody left to report to.
        let _ = self
            .fs
            .allocate(self.inode, None, 0, 0, Command::Unreserve, &mut self.held);
    }
}

/// The locked folios of one batch: consecutive pages from `first_index`.
pub(crate) struct Pages {
    folios: SmallVec<LockedFolio, 16>,
    sb: SuperBlock,
    block_bits: u32,
}

const PAGE_SIZE: u64 = kernel::page::PAGE_SIZE as u64;

impl Pages {
    fn new(sb: SuperBlock, block_bits: u32) -> Pages {
        Pages {
            folios: SmallVec::new(),
            sb,
            block_bits,
        }
    }

    /// Grabs the folios covering `[pos, end)`, locked, in order.
    fn grab(&mut self, inode: Inode, pos: u64, end: u64) -> Result {
        let mut index = pos / PAGE_SIZE;
        while index * PAGE_SIZE < end {
            let f = LockedFolio::grab(inode, index)?;
            index = (f.pos() + f.size() as u64) / PAGE_SIZE;
            self.folios.push(f)?;
        }
        Ok(())
    }

    /// Unlocks and drops every folio.
    fn release(&mut self) {
        self.folios.clear();
    }

    fn block_size(&self) -> usize {
        1 << self.block_bits
    }

    /// Calls `f` with each folio meeting `[pos, end)` and the folio-relative
    /// span of the range in it. rext2 mappings never get large folios, so
    /// folio `i` is page `i` of the batch.
    fn for_each_span(&self, pos: u64, end: u64, mut f: impl FnMut(&LockedFolio, usize, usize)) {
        let Some(first) = self.folios.first() else {
            return;
        };
        let mut i = (pos.saturating_sub(first.pos()) / PAGE_SIZE) as usize;
        while let Some(folio) = self.folios.get(i) {
            if folio.pos() >= end {
                break;
            }
            if let Some((from, to)) = plan::folio_span(pos, end, folio.pos(), folio.size() as u64) {
                f(folio, from, to);
            }
            i += 1;
        }
    }

    /// For the filesystem: maps the buffers of logical blocks
    /// `[lblk, lblk+n)` to device blocks `[pblk, pblk+n)`. `new` blocks were
    /// just allocated: stale block-device buffers for them are dropped.
    pub(crate) fn map_blocks(&self, lblk: u64, pblk: u64, n: u64, new: bool) {
        if new {
            folio::clean_bdev_aliases(self.sb, pblk, n);
        }
        let bits = self.block_bits;
        let (pos, end) = (lblk << bits, (lblk + n) << bits);
        let bs = self.block_size();
        self.for_each_span(pos, end, |folio, from, to| {
            for (off, bh) in folio.buffers(bs) {
                if off >= from && off < to {
                    let l = (folio.pos() + off as u64) >> bits;
                    bh.map(self.sb, pblk + (l - lblk));
                }
            }
            folio.clear_fresh();
        });
    }

    /// Whether the block holding byte `pos` holds valid data (its folio or
    /// its buffer is uptodate).
    fn block_valid(&self, pos: u64) -> bool {
        let bs = self.block_size();
        let mut valid = false;
        self.for_each_span(pos, pos + 1, |folio, from, _| {
            valid = folio.is_uptodate()
                || folio
                    .buffers(bs)
                    .any(|(off, bh)| off <= from && from < off + bs && bh.is_uptodate());
        });
        valid
    }

    /// Whether every block of `[pos, end)` already has its buffer mapped to
    /// a device block: an overwrite of data the page cache knows the place
    /// of, which needs no `Alloc` (as `block_write_begin` skips `get_block`
    /// for mapped buffers). The map cannot change under us: the writer
    /// holds i_rwsem and the folios are locked.
    fn all_mapped(&self, pos: u64, end: u64) -> bool {
        // Buffers just attached are unmapped (a folio outside the range
        // makes this a false "no": harmless, `Alloc` of mapped blocks only
        // maps them).
        if self.folios.iter().any(|f| f.has_fresh_buffers()) {
            return false;
        }
        let bs = self.block_size();
        let mut mapped = true;
        self.for_each_span(pos, end, |folio, from, to| {
            for (off, bh) in folio.buffers(bs) {
                if off >= to || !mapped {
                    break;
                }
                mapped = off + bs <= from || bh.is_mapped();
            }
        });
        mapped
    }

    /// Makes the partial block `lblk` of a write covering `[pos, end)`
    /// valid before the copy: read it if it exists on disk (mapped by the
    /// `Map` command), else zero it.
    fn prepare_block(&self, lblk: u64) -> Result {
        let bs = self.block_size();
        let start = lblk << self.block_bits;
        let mut result = Ok(());
        self.for_each_span(start, start + bs as u64, |folio, from, _| {
            if folio.is_uptodate() {
                return;
            }
            for (off, bh) in folio.buffers(bs) {
                if off != from || bh.is_uptodate() {
                    continue;
                }
                if bh.is_mapped() {
                    result = bh.read();
                } else {
                    folio.zero(off, bs);
                    bh.set_uptodate();
                }
            }
        });
        result
    }

    /// Copies `[pos, end)` from `src` into the folios; stops at the first
    /// short copy. Returns the bytes copied.
    fn copy(&self, pos: u64, end: u64, src: &mut IovIter) -> u64 {
        let mut copied = 0u64;
        let mut short = false;
        self.for_each_span(pos, end, |folio, from, to| {
            if short {
                return;
            }
            let n = folio.copy_from(from, to - from, src);
            copied += n as u64;
            short = n < to - from;
        });
        copied
    }

    /// Attaches buffers to every folio of the batch (`Map` and `Alloc`
    /// map through them).
    fn attach_buffers(&self) {
        let bs = self.block_size();
        for folio in self.folios.iter() {
            let _ = folio.buffers(bs);
        }
    }

    /// After a failed `Alloc`: the copied bytes of `[pos, end)` must not
    /// stay visible where the page cache would otherwise be re-read from
    /// disk: clean buffers of folios that are not uptodate are marked not
    /// uptodate again (a cached uptodate folio keeps the bytes in memory,
    /// not dirty: the next read after reclaim sees the disk again).
    fn forget_copy(&self, pos: u64, end: u64) {
        let bs = self.block_size();
        self.for_each_span(pos, end, |folio, from, to| {
            if folio.is_uptodate() {
                return;
            }
            for (off, bh) in folio.buffers(bs) {
                if off + bs > from && off < to && !bh.is_dirty() {
                    bh.clear_uptodate();
                }
            }
        });
    }

    /// Marks `[pos, end)` uptodate and dirty.
    fn commit(&self, pos: u64, end: u64) {
        self.for_each_span(pos, end, |folio, from, to| folio.commit(from, to));
    }
}

/// Writes `src` to `inode` at `*pos` through `fs`'s hook; advances `*pos`.
/// Returns the bytes written, or the error that stopped the write before
/// it wrote anything. The caller holds `i_rwsem` and has run
/// `generic_write_checks`.
pub(crate) fn perform_write<A: Allocate>(
    fs: &A,
    inode: Inode,
    pos: &mut u64,
    src: &mut IovIter,
) -> Result<usize> {
    let stats = fs.stats();
    stats.add(ffi::rext2_stat_REXT2_STAT_WRITES, 1);
    let mut pages = Pages::new(inode.sb(), inode.sb().block_bits());
    let mut max_pages = plan::MAX_BATCH_PAGES;
    let mut written = 0usize;
    let mut status = Ok(());
    while src.count() > 0 {
        let budget = plan::batch_pages(max_pages, folio::dirty_allowance());
        let end = plan::batch_end(*pos, src.count() as u64, budget, PAGE_SIZE);
        // Bring the source in first, with no folio locked: the source may
        // be a mapping of the very pages this batch locks.
        let faulted = src.fault_in((end - *pos) as usize);
        if faulted == 0 {
            status = Err(EFAULT);
            break;
        }
        if folio::fatal_signal_pending() {
            status = Err(EINTR);
            break;
        }
        match write_batch(fs, inode, &mut pages, *pos, *pos + faulted as u64, src) {
            // A short copy committed nothing: retry with less (the source
            // will be faulted in again, or give EFAULT).
            Ok(0) => max_pages = (max_pages / 2).max(1),
            Ok(n) => {
                *pos += n;
                written += n as usize;
            }
            Err(e) => {
                status = Err(e);
                break;
            }
        }
        folio::balance_dirty_pages(inode);
    }
    if written > 0 {
        return Ok(written);
    }
    status.map(|()| 0)
}

/// One batch `[pos, end)`. Returns the bytes committed (possibly fewer
/// than asked for: low space, short copy).
fn write_batch<A: Allocate>(
    fs: &A,
    inode: Inode,
    pages: &mut Pages,
    pos: u64,
    end: u64,
    src: &mut IovIter,
) -> Result<u64> {
    let mut res = Reservation {
        fs,
        inode,
        held: Held::default(),
    };
    let old_size = inode.size();
    let (end, mapped) = match reserve(fs, inode, pages, pos, end, &mut res.held) {
        Ok(r) => r,
        Err(e) => {
            // Any folios locked lie inside EOF (an overwrite): nothing to
            // drop from the cache.
            pages.release();
            return Err(e);
        }
    };
    let result = fill_and_commit(fs, inode, pages, pos, end, mapped, src, &mut res.held);
    let committed = *result.as_ref().unwrap_or(&0);
    pages.release();
    let new_size = inode.size();
    if end > new_size && pos + committed < end {
        // Folios past EOF that got nothing: drop them, zeroing whatever an
        // uncommitted copy left beyond the new EOF.
        folio::truncate_pagecache_range(inode, new_size.max(pos + committed), end - 1);
    }
    if new_size > old_size {
        folio::isize_extended(inode, old_size, new_size);
        folio::mark_inode_dirty(inode);
    }
    result
}

/// `Reserve` for the batch `[pos, end)`; returns the end of what it
/// covers, and whether all of it is mapped already. An overwrite inside
/// EOF first locks its folios and maps their buffers (`Map`): when every
/// block of the range exists (nothing frees blocks while the writer holds
/// i_rwsem), the batch needs no space and skips the reservation, as
/// `block_write_begin` allocates nothing for mapped buffers. Otherwise the
/// folios stay locked through `Reserve`, as they do through `get_block`
/// in the classic path.
fn reserve<A: Allocate>(
    fs: &A,
    inode: Inode,
    pages: &mut Pages,
    pos: u64,
    end: u64,
    held: &mut Held,
) -> Result<(u64, bool)> {
    let stats = fs.stats();
    if end <= inode.size() {
        pages.grab(inode, pos, end)?;
        pages.attach_buffers();
        // Unless the page cache maps every buffer already, look the blocks
        // up, as the classic path's get_block does (the folios were
        // dropped from the cache since the blocks were written, or the
        // range has holes).
        if pages.all_mapped(pos, end)
            || fs.allocate(inode, Some(pages), pos, end - pos, Command::Map, held)? == end - pos
        {
            stats.add(ffi::rext2_stat_REXT2_STAT_MAPPED_OVERWRITES, 1);
            return Ok((end, true));
        }
    }
    let covered = match fs.allocate(inode, None, pos, end - pos, Command::Reserve, held) {
        Ok(n) if n > 0 => n.min(end - pos),
        Ok(_) | Err(ENOSPC) => {
            stats.add(ffi::rext2_stat_REXT2_STAT_ENOSPC_EARLY, 1);
            return Err(ENOSPC);
        }
        Err(e) => return Err(e),
    };
    stats.add(ffi::rext2_stat_REXT2_STAT_RESERVATIONS, 1);
    stats.add(ffi::rext2_stat_REXT2_STAT_RESERVED_BLOCKS, held.0);
    Ok((pos + covered, false))
}

/// The part of a batch done with its folios locked. `mapped`: every
/// buffer of `[pos, end)` is known to be mapped.
#[allow(clippy::too_many_arguments)]
fn fill_and_commit<A: Allocate>(
    fs: &A,
    inode: Inode,
    pages: &mut Pages,
    pos: u64,
    end: u64,
    mapped: bool,
    src: &mut IovIter,
    held: &mut Held,
) -> Result<u64> {
    let stats = fs.stats();
    if pages.folios.is_empty() {
        pages.grab(inode, pos, end)?;
        pages.attach_buffers();
    }
    let n = pages.folios.len() as u64;
    stats.add(ffi::rext2_stat_REXT2_STAT_BATCHES, 1);
    stats.add(ffi::rext2_stat_REXT2_STAT_BATCH_PAGES, n);
    stats.max(ffi::rext2_stat_REXT2_STAT_BATCH_PAGES_MAX, n);
    let bits = pages.block_bits;
    for lblk in plan::partial_blocks(pos, end, bits).into_iter().flatten() {
        if !pages.block_valid(lblk << bits) {
            fs.allocate(
                inode,
                Some(pages),
                lblk << bits,
                1 << bits,
                Command::Map,
                held,
            )?;
            pages.prepare_block(lblk)?;
        }
    }

    let copied = pages.copy(pos, end, src);
    let mut commit = copied;
    if copied < end - pos {
        stats.add(ffi::rext2_stat_REXT2_STAT_SHORT_COPIES, 1);
        let valid = pages.block_valid(pos + copied);
        commit = plan::committable(pos, copied, 1 << bits, valid);
        src.revert((copied - commit) as usize);
    }
    if commit == 0 {
        return Ok(0);
    }
    // A pure overwrite of mapped blocks has nothing to allocate.
    if !mapped && !pages.all_mapped(pos, pos + commit) {
        if let Err(e) = fs.allocate(inode, Some(pages), pos, commit, Command::Alloc, held) {
            pages.forget_copy(pos, pos + commit);
            src.revert(commit as usize);
            return Err(e);
        }
    }
    pages.commit(pos, pos + commit);
    if pos + commit > inode.size() {
        // Before the folios are unlocked, as generic_write_end does.
        folio::set_i_size(inode, pos + commit);
    }
    Ok(commit)
}
