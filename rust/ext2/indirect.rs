// SPDX-License-Identifier: GPL-2.0
//! The kernel side of the block map: allocating the blocks (data and
//! indirect) behind a range of a file, and freeing them on truncate.
//! The arithmetic lives in `blockmap` (pure, host-tested).

use super::balloc;
use super::blockmap::{self, BlockPath, TruncatePlan, DIRECT_BLOCKS};
use super::inode::{self, corrupt, info_mut, map_block, Extent, MapLock};
use super::layout;
use super::superblock::Ext2Sb;
use crate::ffi;
use crate::vfs::folio::mark_inode_dirty;
use crate::vfs::smallvec::SmallVec;
use crate::vfs::{BufferHead, Inode, SuperBlock};
use kernel::prelude::*;

fn slot(inode: Inode, i: usize) -> u32 {
    inode::info(inode)
        .i_data
        .get(i)
        .map_or(0, |w| u32::from_le(*w))
}

fn set_slot(inode: Inode, i: usize, v: u32) {
    if let Some(w) = info_mut(inode).i_data.get_mut(i) {
        *w = v.to_le();
    }
}

fn entry(bh: &BufferHead, i: usize) -> u32 {
    layout::le32(bh.data(), i * 4).unwrap_or(0)
}

fn add_blocks(inode: Inode, n: u32, bits: u32) {
    // SAFETY: the inode is live; inode_add_bytes takes i_lock.
    unsafe { ffi::inode_add_bytes(inode.as_ptr(), (n as i64) << bits) };
}

fn sub_blocks(inode: Inode, n: u64, bits: u32) {
    // SAFETY: as in `add_blocks`.
    unsafe { ffi::inode_sub_bytes(inode.as_ptr(), (n as i64) << bits) };
}

/// Where to look for free blocks for logical block `lblk`: right after the
/// previous allocation when the file grows sequentially, else after the
/// nearest mapped block before it in the same leaf, else after the leaf's
/// indirect block, else in the inode's group.
fn goal(inode: Inode, lblk: u64, prev_in_leaf: impl FnOnce() -> Option<u32>, parent: u32) -> u32 {
    let ei = inode::info(inode);
    if ei.i_last_pblk != 0 && lblk == ei.i_last_lblk as u64 + 1 {
        return ei.i_last_pblk.wrapping_add(1);
    }
    if let Some(p) = prev_in_leaf() {
        return p.wrapping_add(1);
    }
    if parent != 0 {
        return parent.wrapping_add(1);
    }
    let geo = &Ext2Sb::of(inode.sb()).geo;
    geo.group_first_block(ei.i_block_group.min(geo.groups.saturating_sub(1)))
}

/// Allocates one zeroed indirect block near `goal` (from `held`, a write's
/// reservation, when given).
fn alloc_indirect(inode: Inode, goal: u32, held: Option<&mut u64>) -> Result<u32> {
    let sb = inode.sb();
    let ext = match held {
        Some(h) => balloc::alloc_reserved(sb, goal, 1, h)?,
        None => balloc::alloc_blocks(sb, goal, 1)?,
    };
    let bh = sb.getblk_zeroed(ext.pblk as u64)?;
    bh.modify_for(inode, |_| {});
    add_blocks(inode, 1, Ext2Sb::of(sb).geo.block_bits);
    Ok(ext.pblk)
}

/// Checks a pointer read from disk before following it.
fn checked(inode: Inode, p: u32) -> Result<u32> {
    if p != 0 && !Ext2Sb::of(inode.sb()).geo.data_block_ok(p) {
        return Err(corrupt(
            inode.sb(),
            "block pointer out of range in inode",
            inode.ino(),
        ));
    }
    Ok(p)
}

/// Maps logical block `lblk` of `inode`, allocating it (and up to `max`
/// following blocks of the same leaf, and any missing indirect block) if it
/// is a hole. Returns the run and whether it was newly allocated.
pub(crate) fn map_or_alloc(inode: Inode, lblk: u64, max: u32) -> Result<(Extent, bool)> {
    let _lock = MapLock::lock(inode);
    if let Some(ext) = map_block(inode, lblk, max)? {
        return Ok((ext, false));
    }
    let sb = inode.sb();
    let geo = Ext2Sb::of(sb).geo;
    let path = blockmap::block_path(lblk, geo.block_bits).ok_or(EFBIG)?;
    let offs = path.as_slice();
    let apb = blockmap::addr_per_block(geo.block_bits) as usize;
    let want = (max.max(1) as u64).min(path.leaf_remaining(apb as u64) + 1) as u32;
    let bits = geo.block_bits - 9;

    if path.depth == 1 {
        let leaf: [u32; DIRECT_BLOCKS as usize] = core::array::from_fn(|i| slot(inode, i));
        let first = offs[0];
        let holes = leaf[first..]
            .iter()
            .take(want as usize)
            .take_while(|&&p| p == 0)
            .count() as u32;
        let prev = leaf[..first].iter().rev().copied().find(|&p| p != 0);
        let ext = balloc::alloc_blocks(sb, goal(inode, lblk, || prev, 0), holes.max(1))?;
        for k in 0..ext.len {
            set_slot(inode, first + k as usize, ext.pblk + k);
        }
        return Ok(finish(inode, lblk, ext, bits));
    }

    // Walk down, creating missing indirect blocks.
    let mut ptr = checked(inode, slot(inode, offs[0]))?;
    if ptr == 0 {
        ptr = alloc_indirect(inode, goal(inode, lblk, || None, 0), None)?;
        set_slot(inode, offs[0], ptr);
        mark_inode_dirty(inode);
    }
    for &idx in &offs[1..path.depth - 1] {
        let bh = sb.bread(ptr as u64)?;
        let mut child = checked(inode, entry(&bh, idx))?;
        if child == 0 {
            child = alloc_indirect(inode, ptr.wrapping_add(1), None)?;
            bh.modify_for(inode, |b| {
                layout::put_le32(b, idx * 4, child);
            });
        }
        ptr = child;
    }
    let bh = sb.bread(ptr as u64)?;
    let first = offs[path.depth - 1];
    let mut holes = 0u32;
    while holes < want && first + (holes as usize) < apb && entry(&bh, first + holes as usize) == 0
    {
        holes += 1;
    }
    let prev = (0..first).rev().map(|i| entry(&bh, i)).find(|&p| p != 0);
    let ext = balloc::alloc_blocks(sb, goal(inode, lblk, || prev, ptr), holes.max(1))?;
    bh.modify_for(inode, |b| {
        for k in 0..ext.len as usize {
            layout::put_le32(b, (first + k) * 4, ext.pblk + k as u32);
        }
    });
    Ok(finish(inode, lblk, ext, bits))
}

fn finish(inode: Inode, lblk: u64, ext: Extent, sector_bits: u32) -> (Extent, bool) {
    let ei = info_mut(inode);
    ei.i_last_lblk = (lblk + ext.len as u64 - 1) as u32;
    ei.i_last_pblk = ext.pblk + ext.len - 1;
    add_blocks(inode, ext.len, sector_bits + 9);
    mark_inode_dirty(inode);
    (ext, true)
}

/// Frees blocks in runs, so that a long contiguous file costs a few bitmap
/// updates rather than one per block.
struct Freer {
    sb: SuperBlock,
    start: u32,
    len: u32,
    freed: u64,
}

impl Freer {
    fn add(&mut self, b: u32) {
        if self.len > 0 && b == self.start.wrapping_add(self.len) {
            self.len += 1;
            return;
        }
        self.flush();
        self.start = b;
        self.len = 1;
    }

    fn flush(&mut self) {
        if self.len > 0 {
            // Corruption is reported by free_blocks; truncate goes on.
            if balloc::free_blocks(self.sb, self.start, self.len).is_ok() {
                self.freed += self.len as u64;
            }
            self.len = 0;
        }
    }
}

/// Frees a whole subtree of `depth` levels below pointer `p` (depth 0: `p`
/// is a data block).
fn free_subtree(inode: Inode, f: &mut Freer, p: u32, depth: u32) {
    if p == 0 {
        return;
    }
    if checked(inode, p).is_err() {
        return;
    }
    if depth > 0 {
        let apb = blockmap::addr_per_block(Ext2Sb::of(inode.sb()).geo.block_bits) as usize;
        match inode.sb().bread(p as u64) {
            Ok(bh) => {
                for i in 0..apb {
                    free_subtree(inode, f, entry(&bh, i), depth - 1);
                }
                bh.forget();
            }
            // An unreadable indirect block: its children leak (e2fsck
            // finds them), but the block itself is still ours to free.
            Err(_) => inode.sb().msg(
                crate::vfs::Level::Err,
                "unable to read indirect block",
                p as u64,
            ),
        }
    }
    f.add(p);
}

/// Applies level `level` of a truncate plan to the indirect block `blk`:
/// recurses into the partly kept entry, frees the entries freed entirely.
/// Returns true when no pointer is left in `blk`: then, as in ext2, the
/// block itself has been freed too and the caller must clear its entry.
fn free_in_block(inode: Inode, f: &mut Freer, plan: &TruncatePlan, level: usize, blk: u32) -> bool {
    if blk == 0 || checked(inode, blk).is_err() {
        return false;
    }
    let Ok(bh) = inode.sb().bread(blk as u64) else {
        inode.sb().msg(
            crate::vfs::Level::Err,
            "unable to read indirect block",
            blk as u64,
        );
        return false;
    };
    let lp = plan.level(level);
    let emptied_child = lp
        .partial
        .filter(|&k| free_in_block(inode, f, plan, level + 1, entry(&bh, k)));
    let whole = lp.whole();
    for i in whole.clone() {
        free_subtree(inode, f, entry(&bh, i), plan.entry_height(level, i));
    }
    if !whole.is_empty() || emptied_child.is_some() {
        bh.modify_for(inode, |b| {
            if let Some(run) = b.get_mut(whole.start * 4..whole.end * 4) {
                run.fill(0);
            }
            if let Some(k) = emptied_child {
                layout::put_le32(b, k * 4, 0);
            }
        });
    }
    let apb = blockmap::addr_per_block(Ext2Sb::of(inode.sb()).geo.block_bits) as usize;
    if (0..apb).any(|i| entry(&bh, i) != 0) {
        return false;
    }
    bh.forget();
    f.add(blk);
    true
}

/// Frees every block of `inode` past `new_size` (direct, indirect, double
/// and triple indirect), keeping `i_blocks` exact. What to free comes from
/// the pure `blockmap::truncate_plan`.
pub(crate) fn truncate_blocks(inode: Inode, new_size: u64) {
    let _lock = MapLock::lock(inode);
    let sb = inode.sb();
    let geo = Ext2Sb::of(sb).geo;
    let bits = geo.block_bits;
    let first = blockmap::first_block_to_free(new_size, bits);
    let plan = blockmap::truncate_plan(first, blockmap::addressable_blocks(bits), bits);
    let mut f = Freer {
        sb,
        start: 0,
        len: 0,
        freed: 0,
    };
    if !plan.is_empty() {
        let lp = plan.level(0);
        if let Some(k) = lp.partial {
            if free_in_block(inode, &mut f, &plan, 1, slot(inode, k)) {
                set_slot(inode, k, 0);
            }
        }
        for i in lp.whole() {
            let p = slot(inode, i);
            if p != 0 {
                free_subtree(inode, &mut f, p, plan.entry_height(0, i));
                set_slot(inode, i, 0);
            }
        }
    }
    f.flush();
    sub_blocks(inode, f.freed, bits);
    let ei = info_mut(inode);
    ei.i_last_lblk = 0;
    ei.i_last_pblk = 0;
    mark_inode_dirty(inode);
}

/// Reads the block map for the allocation planner, one logical block at a
/// time in order, keeping the current leaf's buffer.
struct MapReader {
    inode: Inode,
    /// The leaf last read: its path's depth and indirect offsets, what is
    /// missing above it, and its buffer (None when missing).
    key: Option<(usize, [usize; 3])>,
    missing: usize,
    leaf: Option<BufferHead>,
}

impl MapReader {
    fn new(inode: Inode) -> MapReader {
        MapReader {
            inode,
            key: None,
            missing: 0,
            leaf: None,
        }
    }

    fn slot(&mut self, path: &BlockPath) -> Result<blockmap::Slot> {
        let inode = self.inode;
        let offs = path.as_slice();
        if path.depth == 1 {
            return Ok(blockmap::Slot {
                missing_indirect: 0,
                entry: slot(inode, offs[0]),
            });
        }
        let mut key = [0usize; 3];
        key[..path.depth - 1].copy_from_slice(&offs[..path.depth - 1]);
        if self.key != Some((path.depth, key)) {
            self.leaf = None;
            self.missing = 0;
            let mut ptr = checked(inode, slot(inode, offs[0]))?;
            for (level, &idx) in offs.iter().enumerate().skip(1) {
                if ptr == 0 {
                    self.missing = path.depth - level;
                    break;
                }
                let bh = inode.sb().bread(ptr as u64)?;
                if level + 1 == path.depth {
                    self.leaf = Some(bh);
                } else {
                    ptr = checked(inode, entry(&bh, idx))?;
                }
            }
            self.key = Some((path.depth, key));
        }
        let e = match &self.leaf {
            Some(bh) => entry(bh, offs[path.depth - 1]),
            None => 0,
        };
        Ok(blockmap::Slot {
            missing_indirect: self.missing,
            entry: e,
        })
    }
}

/// The blocks allocating logical blocks `[first, first+n)` of `inode`
/// takes (data and indirect), for the longest prefix within `budget`.
pub(crate) fn alloc_need(
    inode: Inode,
    first: u64,
    n: u64,
    budget: u64,
) -> Result<blockmap::AllocNeed> {
    let _lock = MapLock::lock(inode);
    let bits = Ext2Sb::of(inode.sb()).geo.block_bits;
    let mut reader = MapReader::new(inode);
    blockmap::alloc_need(first, n, bits, budget, |p| reader.slot(p))
}

/// Where one leaf array of a range lives.
enum Leaf {
    /// `i_block` of the inode (direct blocks).
    Inode,
    /// An indirect block.
    Block(BufferHead, u32),
    /// Not there yet: the path to a block it will map.
    Missing(BlockPath),
}

/// The part of a range that one leaf maps.
struct Segment {
    leaf: Leaf,
    /// Index of the range's first block in the leaf.
    index: usize,
    lblk: u64,
    len: usize,
    /// Holes among the `len` blocks.
    holes: usize,
    /// Where the blocks went when every one was a hole and one piece of a
    /// run filled them: the segment is reported as one new extent without
    /// reading the leaf back.
    filled: Option<u32>,
}

impl Segment {
    /// Entry `k` of the leaf (0 where the leaf is missing).
    fn get_at(&self, inode: Inode, k: usize) -> u32 {
        match &self.leaf {
            Leaf::Inode => slot(inode, k),
            Leaf::Block(bh, _) => entry(bh, k),
            Leaf::Missing(_) => 0,
        }
    }

    /// The entry of the segment's block `i`.
    fn get(&self, inode: Inode, i: usize) -> u32 {
        self.get_at(inode, self.index + i)
    }
}

/// Creates the indirect blocks missing on `path`, from the reservation
/// `held`, at the moving goal `g`; returns the leaf and its block number.
fn create_chain(
    inode: Inode,
    path: &BlockPath,
    g: &mut u32,
    held: &mut u64,
) -> Result<(BufferHead, u32)> {
    let sb = inode.sb();
    let offs = path.as_slice();
    let mut ptr = checked(inode, slot(inode, offs[0]))?;
    let mut parent: Option<BufferHead> = None;
    for (level, &idx) in offs.iter().enumerate().skip(1) {
        if ptr == 0 {
            ptr = alloc_indirect(inode, *g, Some(&mut *held))?;
            *g = ptr.wrapping_add(1);
            match &parent {
                None => {
                    set_slot(inode, offs[0], ptr);
                    mark_inode_dirty(inode);
                }
                Some(p) => p.modify_for(inode, |b| {
                    layout::put_le32(b, offs[level - 1] * 4, ptr);
                }),
            }
        }
        let bh = sb.bread(ptr as u64)?;
        if level + 1 < path.depth {
            ptr = checked(inode, entry(&bh, idx))?;
        }
        parent = Some(bh);
    }
    Ok((parent.ok_or(EIO)?, ptr))
}

/// The indirect block holding the leaf array of `path` (depth > 1) and
/// its block number, read through the tree; `None` when a block on the
/// way is missing.
fn read_leaf(inode: Inode, path: &BlockPath) -> Result<Option<(BufferHead, u32)>> {
    let offs = path.as_slice();
    let mut ptr = checked(inode, slot(inode, offs[0]))?;
    for (level, &idx) in offs.iter().enumerate().skip(1) {
        if ptr == 0 {
            return Ok(None);
        }
        let bh = inode.sb().bread(ptr as u64)?;
        if level + 1 == path.depth {
            return Ok(Some((bh, ptr)));
        }
        ptr = checked(inode, entry(&bh, idx))?;
    }
    Ok(None)
}

/// `alloc_range`'s common case, a sequential write: the range lies in one
/// leaf array that exists, every entry of it is a hole, and one run of
/// free blocks at the goal covers it. Returns the runs allocated (1), or
/// `None` with nothing changed when the case does not apply. The caller
/// holds the map lock.
fn alloc_in_leaf(
    inode: Inode,
    first: u64,
    n: u64,
    held: &mut u64,
    map: &mut impl FnMut(u64, u64, u64, bool),
) -> Result<Option<u64>> {
    let sb = inode.sb();
    let bits = Ext2Sb::of(sb).geo.block_bits;
    let Some(path) = blockmap::block_path(first, bits) else {
        return Ok(None);
    };
    let apb = blockmap::addr_per_block(bits);
    let Ok(len) = u32::try_from(n) else {
        return Ok(None);
    };
    if n == 0 || path.leaf_remaining(apb) + 1 < n {
        return Ok(None);
    }
    let offs = path.as_slice();
    let index = offs[path.depth - 1];
    let range = index..index + len as usize;
    let leaf = if path.depth == 1 {
        None
    } else {
        match read_leaf(inode, &path)? {
            Some(leaf) => Some(leaf),
            None => return Ok(None),
        }
    };
    let get = |i: usize| match &leaf {
        None => slot(inode, i),
        Some((bh, _)) => entry(bh, i),
    };
    if range.clone().any(|i| get(i) != 0) {
        return Ok(None);
    }
    let prev = || (0..index).rev().map(get).find(|&p| p != 0);
    let g = goal(inode, first, prev, leaf.as_ref().map_or(0, |(_, b)| *b));
    let ext = balloc::alloc_reserved(sb, g, len, held)?;
    if ext.len < len {
        // Free space is fragmented here: give the run back (to the
        // reservation too) and let the general path gather several.
        balloc::free_blocks(sb, ext.pblk, ext.len)?;
        balloc::rereserve(Ext2Sb::of(sb), ext.len as u64, held);
        return Ok(None);
    }
    let pblks = range.clone().zip(ext.pblk..);
    match &leaf {
        None => pblks.for_each(|(i, p)| set_slot(inode, i, p)),
        Some((bh, _)) => bh.modify_for(inode, |b| {
            for (i, p) in pblks {
                layout::put_le32(b, i * 4, p);
            }
        }),
    }
    let ei = info_mut(inode);
    ei.i_last_lblk = (first + n - 1) as u32;
    ei.i_last_pblk = ext.pblk + len - 1;
    add_blocks(inode, len, bits);
    mark_inode_dirty(inode);
    drop(leaf);
    // As in `alloc_range`: reported with no buffer locked.
    map(first, ext.pblk as u64, n, true);
    Ok(Some(1))
}

/// Allocates every hole in logical blocks `[first, first+n)` of `inode`
/// from the reservation `held` (missing indirect blocks first, then the
/// data as few contiguous runs as free space allows) and reports every
/// block of the range, old and new, to `map(lblk, pblk, len, new)`.
///
/// Everything that can fail (reading leaves, checking old pointers,
/// allocating) happens before the first data block is linked into the
/// map, so a failure links nothing the caller would have to undo: at
/// worst an empty indirect block stays, which is valid ext2.
pub(crate) fn alloc_range(
    inode: Inode,
    first: u64,
    n: u64,
    held: &mut u64,
    mut map: impl FnMut(u64, u64, u64, bool),
) -> Result<u64> {
    let _nofs = crate::vfs::folio::NoFs::enter();
    let _lock = MapLock::lock(inode);
    if let Some(runs) = alloc_in_leaf(inode, first, n, held, &mut map)? {
        return Ok(runs);
    }
    let sb = inode.sb();
    let geo = Ext2Sb::of(sb).geo;
    let bits = geo.block_bits;
    let apb = blockmap::addr_per_block(bits);
    let mut segs: SmallVec<Segment, 8> = SmallVec::new();
    let mut goal_blk: Option<u32> = None;

    // Read the leaves and check the old pointers; allocate nothing yet.
    let mut lblk = first;
    while lblk < first + n {
        let path = blockmap::block_path(lblk, bits).ok_or(EFBIG)?;
        let offs = path.as_slice();
        let len = (path.leaf_remaining(apb) + 1).min(first + n - lblk) as usize;
        let leaf = if path.depth == 1 {
            Leaf::Inode
        } else {
            match read_leaf(inode, &path)? {
                Some((bh, ptr)) => Leaf::Block(bh, ptr),
                None => Leaf::Missing(path),
            }
        };
        let mut seg = Segment {
            leaf,
            index: offs[path.depth - 1],
            lblk,
            len,
            holes: 0,
            filled: None,
        };
        for i in 0..len {
            if checked(inode, seg.get(inode, i))? != 0 {
                continue;
            }
            seg.holes += 1;
            if goal_blk.is_none() {
                let prev = || {
                    (0..seg.index + i)
                        .rev()
                        .map(|k| seg.get_at(inode, k))
                        .find(|&p| p != 0)
                };
                let parent = match &seg.leaf {
                    Leaf::Block(_, b) => *b,
                    _ => 0,
                };
                goal_blk = Some(goal(inode, lblk + i as u64, prev, parent));
            }
        }
        segs.push(seg)?;
        lblk += len as u64;
    }

    // Allocate in file order from one moving goal: a segment's missing
    // indirect blocks, then its data, then the next segment's. With free
    // space that is one contiguous run, laid out as ext2 lays out a file
    // (each indirect block right before the data it maps first).
    let mut runs: SmallVec<Extent, 16> = SmallVec::new();
    let mut g = goal_blk.unwrap_or(0);
    let allocated = (|| -> Result {
        for seg in segs.iter_mut() {
            if let Leaf::Missing(path) = seg.leaf {
                let (bh, blk) = create_chain(inode, &path, &mut g, held)?;
                seg.leaf = Leaf::Block(bh, blk);
            }
            let mut got = 0usize;
            while got < seg.holes {
                let want = (seg.holes - got).min(u32::MAX as usize) as u32;
                runs.push(Extent { pblk: 0, len: 0 })?;
                let ext = balloc::alloc_reserved(sb, g, want, held)?;
                if let Some(last) = runs.last_mut() {
                    *last = ext;
                }
                got += ext.len as usize;
                g = ext.pblk.wrapping_add(ext.len);
            }
        }
        Ok(())
    })();
    if let Err(e) = allocated {
        for ext in runs.iter().filter(|e| e.len > 0) {
            let _ = balloc::free_blocks(sb, ext.pblk, ext.len);
        }
        return Err(e);
    }
    let holes: usize = segs.iter().map(|s| s.holes).sum();

    // Link them: nothing below can fail.
    let mut runs_left = runs.iter().copied().filter(|r| r.len > 0);
    let mut run = runs_left.next();
    let mut last = None;
    for seg in segs.iter_mut() {
        if seg.holes == 0 {
            // An overwrite changes nothing in the leaf: do not dirty it.
            continue;
        }
        let mut contiguous = seg.holes == seg.len;
        let mut fill = |leaf: &mut dyn LeafArray| {
            let mut prev: Option<u32> = None;
            for i in 0..seg.len {
                if leaf.get(seg.index + i) != 0 {
                    continue;
                }
                let Some(r) = run.as_mut() else {
                    contiguous = false;
                    break;
                };
                leaf.set(seg.index + i, r.pblk);
                contiguous &= prev.map_or(true, |p| p.wrapping_add(1) == r.pblk);
                prev = Some(r.pblk);
                last = Some((seg.lblk + i as u64, r.pblk));
                r.pblk += 1;
                r.len -= 1;
                if r.len == 0 {
                    run = runs_left.next();
                }
            }
        };
        match &seg.leaf {
            Leaf::Inode => fill(&mut InodeLeaf(inode)),
            Leaf::Block(bh, _) => bh.modify_for(inode, |b| fill(&mut BlockLeaf(b))),
            // Every missing leaf was created above.
            Leaf::Missing(_) => {}
        }
        if contiguous {
            seg.filled = last.map(|(_, p)| p.wrapping_sub(seg.len as u32 - 1));
        }
    }

    // Report the range's mapping only now, with no buffer locked: `map`
    // may lock block-device folios (stale aliases of the new blocks), and
    // writeback locks a folio before its buffers.
    let is_new = |p: u32| runs.iter().any(|r| p >= r.pblk && p - r.pblk < r.len);
    for seg in segs.iter() {
        if let Some(p) = seg.filled {
            map(seg.lblk, p as u64, seg.len as u64, true);
            continue;
        }
        let mut report = |leaf: &dyn LeafArray| {
            let mut i = 0usize;
            while i < seg.len {
                let p = leaf.get(seg.index + i);
                if p == 0 {
                    // Free space ran out mid-range: the rest stays a hole.
                    break;
                }
                let new = is_new(p);
                let mut k = 1usize;
                while i + k < seg.len
                    && leaf.get(seg.index + i + k) == p.wrapping_add(k as u32)
                    && is_new(p.wrapping_add(k as u32)) == new
                {
                    k += 1;
                }
                map(seg.lblk + i as u64, p as u64, k as u64, new);
                i += k;
            }
        };
        match &seg.leaf {
            Leaf::Inode => report(&InodeLeaf(inode)),
            Leaf::Block(bh, _) => report(&ReadLeaf(bh.data())),
            Leaf::Missing(_) => {}
        }
    }
    if let Some((l, p)) = last {
        let ei = info_mut(inode);
        ei.i_last_lblk = l as u32;
        ei.i_last_pblk = p;
    }
    if holes > 0 {
        add_blocks(inode, holes as u32, bits);
        mark_inode_dirty(inode);
    }
    Ok(runs.len() as u64)
}

/// A leaf array being filled in: `i_block` or an indirect block's bytes.
trait LeafArray {
    fn get(&self, i: usize) -> u32;
    fn set(&mut self, i: usize, v: u32);
}

struct InodeLeaf(Inode);

impl LeafArray for InodeLeaf {
    fn get(&self, i: usize) -> u32 {
        slot(self.0, i)
    }
    fn set(&mut self, i: usize, v: u32) {
        set_slot(self.0, i, v)
    }
}

/// A leaf that is only read (no hole in the segment: `set` is never called).
struct ReadLeaf<'a>(&'a [u8]);

impl LeafArray for ReadLeaf<'_> {
    fn get(&self, i: usize) -> u32 {
        layout::le32(self.0, i * 4).unwrap_or(0)
    }
    fn set(&mut self, _i: usize, _v: u32) {}
}

struct BlockLeaf<'a>(&'a mut [u8]);

impl LeafArray for BlockLeaf<'_> {
    fn get(&self, i: usize) -> u32 {
        layout::le32(self.0, i * 4).unwrap_or(0)
    }
    fn set(&mut self, i: usize, v: u32) {
        layout::put_le32(self.0, i * 4, v);
    }
}
