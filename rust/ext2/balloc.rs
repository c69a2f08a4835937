// SPDX-License-Identifier: GPL-2.0
//! Block allocation: block bitmaps, group and filesystem free counts.

use super::bitmap;
use super::inode::Extent;
use super::superblock::{fs_error, read_failed, read_meta, AllocState, Ext2Sb};
use crate::ffi;
use crate::vfs::SuperBlock;
use kernel::prelude::*;

const BLOCK_BITMAP: &str = "cannot read block bitmap";

/// `CAP_SYS_RESOURCE`: may use the blocks reserved for root (`-m`).
const CAP_SYS_RESOURCE: i32 = 24;

fn may_use_reserved() -> bool {
    // SAFETY: plain capability check of the current task.
    unsafe { ffi::capable(CAP_SYS_RESOURCE) }
}

/// Blocks the current task may still allocate, beyond reservations held
/// by writes in flight.
pub(crate) fn available(info: &Ext2Sb, st: &AllocState) -> u64 {
    let free = st.free_blocks.saturating_sub(st.reserved);
    if may_use_reserved() {
        free
    } else {
        free.saturating_sub(info.disk.r_blocks_count as u64)
    }
}

/// Number of blocks in group `g`.
fn group_blocks(info: &Ext2Sb, g: u32) -> u32 {
    info.geo.group_last_block(g) - info.geo.group_first_block(g) + 1
}

/// Whether `[start, start+len)` touches group `g`'s own metadata (superblock
/// copy, descriptor table, bitmaps, inode table).
fn overlaps_metadata(info: &Ext2Sb, g: u32, start: u32, len: u32) -> bool {
    let geo = &info.geo;
    let end = start as u64 + len as u64;
    let hits = |a: u64, n: u64| (start as u64) < a + n && a < end;
    let first = geo.group_first_block(g) as u64;
    if geo.group_has_super(g) {
        let n = 1 + geo.desc_blocks as u64 + info.disk.reserved_gdt_blocks as u64;
        if hits(first, n) {
            return true;
        }
    }
    let Some(d) = info.descs.get(g as usize) else {
        return true;
    };
    hits(d.block_bitmap as u64, 1)
        || hits(d.inode_bitmap as u64, 1)
        || hits(d.inode_table as u64, geo.itb_per_group as u64)
}

/// Allocates up to `max` contiguous blocks (at least one), as near `goal`
/// as free space allows. `ENOSPC` when the filesystem is full for this
/// caller.
pub(crate) fn alloc_blocks(sb: SuperBlock, goal: u32, max: u32) -> Result<Extent> {
    alloc_from(sb, goal, max, None)
}

/// Like [`alloc_blocks`], but takes the blocks from `held`, a reservation
/// made with [`reserve`] (and only when it is used up from the free pool).
pub(crate) fn alloc_reserved(
    sb: SuperBlock,
    goal: u32,
    max: u32,
    held: &mut u64,
) -> Result<Extent> {
    alloc_from(sb, goal, max, Some(held))
}

/// Takes `n` blocks out of what allocations may use, for a write in
/// flight; false (nothing taken) when they are not available.
pub(crate) fn reserve(info: &Ext2Sb, st: &mut AllocState, n: u64) -> bool {
    reserve_with_room(info, st, n, 1)
}

/// [`reserve`], but only when at least `room` times `n` blocks are
/// [`available`].
pub(crate) fn reserve_with_room(info: &Ext2Sb, st: &mut AllocState, n: u64, room: u64) -> bool {
    let want = n.saturating_mul(room.max(1));
    // As ext2_has_free_blocks: `available` (which asks the capability) only
    // when what is free beyond root's reserved blocks does not suffice.
    let beyond_root = st
        .free_blocks
        .saturating_sub(st.reserved)
        .saturating_sub(info.disk.r_blocks_count as u64);
    if want > beyond_root && want > available(info, st) {
        return false;
    }
    st.reserved += n;
    info.note_reserved(st);
    true
}

/// Puts `n` blocks a write took from its reservation `held` and freed
/// again back into the reservation (they are free: this cannot fail).
pub(crate) fn rereserve(info: &Ext2Sb, n: u64, held: &mut u64) {
    let mut st = info.state.lock();
    st.reserved += n;
    info.note_reserved(&st);
    *held += n;
}

/// Gives back `n` reserved blocks.
pub(crate) fn unreserve(info: &Ext2Sb, st: &mut AllocState, n: u64) {
    st.reserved = st.reserved.saturating_sub(n);
    info.note_reserved(st);
}

fn alloc_from(sb: SuperBlock, goal: u32, max: u32, mut held: Option<&mut u64>) -> Result<Extent> {
    let info = Ext2Sb::of(sb);
    let geo = &info.geo;
    let mut st = info.state.lock();
    let avail = match held.as_deref() {
        Some(&h) if h > 0 => h.min(st.free_blocks),
        _ => available(info, &st),
    };
    if avail == 0 {
        return Err(ENOSPC);
    }
    let max = (max.max(1) as u64).min(avail) as u32;
    let goal = if geo.data_block_ok(goal) {
        goal
    } else {
        geo.first_data_block
    };
    let start_group = (goal - geo.first_data_block) / geo.blocks_per_group.max(1);
    for i in 0..geo.groups {
        let g = (start_group + i) % geo.groups.max(1);
        let counts = *st.groups.get(g as usize).ok_or(EINVAL)?;
        if counts.free_blocks == 0 {
            continue;
        }
        let first = geo.group_first_block(g);
        let in_group = if i == 0 { goal - first } else { 0 };
        let desc = info.desc(g)?;
        let bh = match sb.bread(desc.block_bitmap as u64) {
            Ok(bh) => bh,
            Err(e) => {
                drop(st);
                return Err(read_failed(sb, BLOCK_BITMAP, desc.block_bitmap as u64, e));
            }
        };
        let nbits = group_blocks(info, g);
        let Some((bit, len)) = bitmap::find_zero_run(bh.data(), nbits, in_group, max) else {
            drop(st);
            return Err(fs_error(sb, "free blocks count wrong for group", g as u64));
        };
        let pblk = first + bit;
        if overlaps_metadata(info, g, pblk, len) {
            drop(st);
            return Err(fs_error(
                sb,
                "block bitmap marks metadata free in group",
                g as u64,
            ));
        }
        if bh.modify(|b| bitmap::set_run(b, nbits, bit, len)).is_err() {
            drop(st);
            return Err(fs_error(
                sb,
                "block bitmap changed under the allocator in group",
                g as u64,
            ));
        }
        let c = st.groups.get_mut(g as usize).ok_or(EINVAL)?;
        c.free_blocks = c.free_blocks.saturating_sub(len);
        let c = *c;
        info.store_counts(g, &c);
        st.free_blocks = st.free_blocks.saturating_sub(len as u64);
        if let Some(h) = held.as_deref_mut() {
            let used = (len as u64).min(*h);
            *h -= used;
            unreserve(info, &mut st, used);
        }
        return Ok(Extent { pblk, len });
    }
    Err(ENOSPC)
}

/// Returns `[start, start+len)` to the free pool. Pointers that fall
/// outside the filesystem or onto metadata are corruption: reported, not
/// freed.
pub(crate) fn free_blocks(sb: SuperBlock, start: u32, len: u32) -> Result {
    let info = Ext2Sb::of(sb);
    let geo = &info.geo;
    if len == 0 {
        return Ok(());
    }
    let end = start as u64 + len as u64;
    if !geo.data_block_ok(start) || end > geo.blocks_count as u64 {
        return Err(fs_error(sb, "freeing blocks not in datazone", start as u64));
    }
    let mut cur = start;
    while (cur as u64) < end {
        let g = (cur - geo.first_data_block) / geo.blocks_per_group.max(1);
        let first = geo.group_first_block(g);
        let last = geo.group_last_block(g);
        let n = ((last as u64 + 1).min(end) - cur as u64) as u32;
        if overlaps_metadata(info, g, cur, n) {
            return Err(fs_error(sb, "freeing blocks in system zones", cur as u64));
        }
        let desc = info.desc(g)?;
        let bh = read_meta(sb, desc.block_bitmap as u64, BLOCK_BITMAP)?;
        let mut st = info.state.lock();
        if bh
            .modify(|b| bitmap::clear_run(b, group_blocks(info, g), cur - first, n))
            .is_err()
        {
            drop(st);
            return Err(fs_error(sb, "bit already cleared for block", cur as u64));
        }
        let c = st.groups.get_mut(g as usize).ok_or(EINVAL)?;
        c.free_blocks = c.free_blocks.saturating_add(n);
        let c = *c;
        info.store_counts(g, &c);
        st.free_blocks += n as u64;
        cur += n;
    }
    Ok(())
}
