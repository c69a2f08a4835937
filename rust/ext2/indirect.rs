// SPDX-License-Identifier: GPL-2.0
//! The kernel side of the block map: allocating the blocks (data and
//! indirect) behind a range of a file, and freeing them on truncate.
//! The arithmetic lives in `blockmap` (pure, host-tested).

use super::balloc;
use super::blockmap::{self, TruncatePlan, DIRECT_BLOCKS};
use super::inode::{self, corrupt, info_mut, map_block, Extent, MapLock};
use super::layout;
use super::superblock::Ext2Sb;
use crate::ffi;
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

fn mark_dirty(inode: Inode) {
    // SAFETY: the inode is live.
    unsafe { ffi::rext2_h_mark_inode_dirty(inode.as_ptr()) };
}

/// Where to look for free blocks for logical block `lblk`: right after the
/// previous allocation when the file grows sequentially, else after the
/// nearest mapped block before it in the same leaf, else after the leaf's
/// indirect block, else in the inode's group.
fn goal(inode: Inode, lblk: u64, prev_in_leaf: Option<u32>, parent: u32) -> u32 {
    let ei = inode::info(inode);
    if ei.i_last_pblk != 0 && lblk == ei.i_last_lblk as u64 + 1 {
        return ei.i_last_pblk.wrapping_add(1);
    }
    if let Some(p) = prev_in_leaf {
        return p.wrapping_add(1);
    }
    if parent != 0 {
        return parent.wrapping_add(1);
    }
    let geo = &Ext2Sb::of(inode.sb()).geo;
    geo.group_first_block(ei.i_block_group.min(geo.groups.saturating_sub(1)))
}

/// Allocates one zeroed indirect block near `goal`.
fn alloc_indirect(inode: Inode, goal: u32) -> Result<u32> {
    let sb = inode.sb();
    let ext = balloc::alloc_blocks(sb, goal, 1)?;
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
        let ext = balloc::alloc_blocks(sb, goal(inode, lblk, prev, 0), holes.max(1))?;
        for k in 0..ext.len {
            set_slot(inode, first + k as usize, ext.pblk + k);
        }
        return Ok(finish(inode, lblk, ext, bits));
    }

    // Walk down, creating missing indirect blocks.
    let mut ptr = checked(inode, slot(inode, offs[0]))?;
    if ptr == 0 {
        ptr = alloc_indirect(inode, goal(inode, lblk, None, 0))?;
        set_slot(inode, offs[0], ptr);
        mark_dirty(inode);
    }
    for &idx in &offs[1..path.depth - 1] {
        let bh = sb.bread(ptr as u64)?;
        let mut child = checked(inode, entry(&bh, idx))?;
        if child == 0 {
            child = alloc_indirect(inode, ptr.wrapping_add(1))?;
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
    let ext = balloc::alloc_blocks(sb, goal(inode, lblk, prev, ptr), holes.max(1))?;
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
    mark_dirty(inode);
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
    mark_dirty(inode);
}
