// SPDX-License-Identifier: GPL-2.0
//! Inode allocation: inode bitmaps and the choice of group for a new
//! inode (directories spread out, files near their directory).

use super::bitmap;
use super::inode;
use super::layout;
use super::superblock::{fs_error, read_failed, read_meta, AllocState, Ext2Sb};
use crate::ffi;
use crate::vfs::{Inode, SuperBlock};
use kernel::prelude::*;

const INODE_BITMAP: &str = "cannot read inode bitmap";

/// Picks a group for a new directory: among groups with at least the
/// average number of free inodes, the one with the most free blocks (as
/// ext2's classic allocator does), so directories spread across the disk.
fn group_for_dir(info: &Ext2Sb, st: &AllocState) -> Option<u32> {
    let groups = info.geo.groups as u64;
    let avg = st.free_inodes / groups.max(1);
    let mut best: Option<(u32, u32)> = None;
    for (g, c) in st.groups.iter().enumerate() {
        if c.free_inodes == 0 || (c.free_inodes as u64) < avg {
            continue;
        }
        if best.map_or(true, |(_, fb)| c.free_blocks > fb) {
            best = Some((g as u32, c.free_blocks));
        }
    }
    best.map(|(g, _)| g).or_else(|| any_group(st, 0))
}

/// Picks a group for a new file: the parent's if it has room, else a
/// quadratic-hash probe from it, else any group with a free inode.
fn group_for_file(info: &Ext2Sb, st: &AllocState, parent_group: u32) -> Option<u32> {
    let n = info.geo.groups;
    let ok = |g: u32| {
        st.groups
            .get(g as usize)
            .is_some_and(|c| c.free_inodes > 0 && c.free_blocks > 0)
    };
    let parent = parent_group % n.max(1);
    if ok(parent) {
        return Some(parent);
    }
    let mut g = parent;
    let mut step = 1u32;
    while step < n {
        g = (g + step) % n;
        if ok(g) {
            return Some(g);
        }
        step <<= 1;
    }
    any_group(st, parent)
}

fn any_group(st: &AllocState, from: u32) -> Option<u32> {
    let n = st.groups.len() as u32;
    (0..n)
        .map(|i| (from + i) % n.max(1))
        .find(|&g| st.groups.get(g as usize).is_some_and(|c| c.free_inodes > 0))
}

/// Allocates an inode number for a new inode in a directory of group
/// `parent_group`. ENOSPC when no inode is free.
pub(crate) fn alloc_ino(sb: SuperBlock, parent_group: u32, is_dir: bool) -> Result<u32> {
    let info = Ext2Sb::of(sb);
    let geo = &info.geo;
    let mut st = info.state.lock();
    if st.free_inodes == 0 {
        return Err(ENOSPC);
    }
    let first = if is_dir {
        group_for_dir(info, &st)
    } else {
        group_for_file(info, &st, parent_group)
    };
    let first = first.ok_or(ENOSPC)?;
    for i in 0..geo.groups {
        let g = (first + i) % geo.groups.max(1);
        if st
            .groups
            .get(g as usize)
            .map_or(true, |c| c.free_inodes == 0)
        {
            continue;
        }
        let desc = info.desc(g)?;
        let bh = match sb.bread(desc.inode_bitmap as u64) {
            Ok(bh) => bh,
            Err(e) => {
                drop(st);
                return Err(read_failed(sb, INODE_BITMAP, desc.inode_bitmap as u64, e));
            }
        };
        // Skip the reserved inodes at the start of group 0.
        let start = if g == 0 { geo.first_ino - 1 } else { 0 };
        let Some(bit) = bitmap::find_zero(bh.data(), geo.inodes_per_group, start) else {
            drop(st);
            return Err(fs_error(sb, "free inodes count wrong for group", g as u64));
        };
        let ino = g * geo.inodes_per_group + bit + 1;
        if !geo.ino_is_valid(ino) {
            drop(st);
            return Err(fs_error(
                sb,
                "inode bitmap marks a reserved inode free in group",
                g as u64,
            ));
        }
        if bh
            .modify(|b| bitmap::set_run(b, geo.inodes_per_group, bit, 1))
            .is_err()
        {
            drop(st);
            return Err(fs_error(
                sb,
                "inode bitmap changed under the allocator in group",
                g as u64,
            ));
        }
        let c = st.groups.get_mut(g as usize).ok_or(EINVAL)?;
        c.free_inodes -= 1;
        if is_dir {
            c.used_dirs += 1;
        }
        let c = *c;
        info.store_counts(g, &c);
        st.free_inodes -= 1;
        return Ok(ino);
    }
    Err(ENOSPC)
}

/// Returns inode `ino` to the free pool.
pub(crate) fn free_ino(sb: SuperBlock, ino: u32, is_dir: bool) -> Result {
    let info = Ext2Sb::of(sb);
    let geo = &info.geo;
    if !geo.ino_is_valid(ino) {
        return Err(fs_error(
            sb,
            "freeing reserved or nonexistent inode",
            ino as u64,
        ));
    }
    let g = (ino - 1) / geo.inodes_per_group.max(1);
    let bit = (ino - 1) % geo.inodes_per_group.max(1);
    let desc = info.desc(g)?;
    let bh = read_meta(sb, desc.inode_bitmap as u64, INODE_BITMAP)?;
    let mut st = info.state.lock();
    if bh
        .modify(|b| bitmap::clear_run(b, geo.inodes_per_group, bit, 1))
        .is_err()
    {
        drop(st);
        return Err(fs_error(sb, "bit already cleared for inode", ino as u64));
    }
    let c = st.groups.get_mut(g as usize).ok_or(EINVAL)?;
    c.free_inodes += 1;
    if is_dir {
        c.used_dirs = c.used_dirs.saturating_sub(1);
    }
    let c = *c;
    info.store_counts(g, &c);
    st.free_inodes += 1;
    Ok(())
}

/// ext2 inode flags a new inode inherits from its directory.
const INHERITED_FLAGS: u32 = 0x0000_0008 /* SYNC */ | 0x0000_0040 /* NODUMP */ | 0x0000_0080 /* NOATIME */;
const DIRSYNC_FL: u32 = 0x0001_0000;

/// Creates a new inode of `mode` for directory `dir`: allocates its number,
/// sets owner, times and inherited flags, and hashes it. The inode comes
/// back I_NEW; the caller finishes it with `d_instantiate_new`, or drops it
/// with [`discard_new`] on failure.
pub(crate) fn new_inode(idmap: *mut ffi::mnt_idmap, dir: Inode, mode: u16) -> Result<Inode> {
    let sb = dir.sb();
    let is_dir = mode & layout::S_IFMT == layout::S_IFDIR;
    let dir_info = inode::info(dir);
    let ino = alloc_ino(sb, dir_info.i_block_group, is_dir)?;
    // SAFETY: `sb` is live; new_inode returns NULL or a fresh inode.
    let raw = unsafe { ffi::new_inode(sb.as_ptr()) };
    if raw.is_null() {
        let _ = free_ino(sb, ino, is_dir);
        return Err(ENOMEM);
    }
    // SAFETY: a fresh inode, ours alone.
    let new = unsafe { Inode::from_raw(raw) };
    let mut flags = dir_info.i_flags & INHERITED_FLAGS;
    if is_dir {
        flags |= dir_info.i_flags & DIRSYNC_FL;
    }
    // SAFETY: a fresh inode, ours alone; `dir` is held by the caller.
    unsafe {
        ffi::inode_init_owner(idmap, raw, dir.as_ptr(), mode);
        (*raw).i_ino = ino as _;
        (*raw).i_blocks = 0;
        (*raw).i_generation = ffi::get_random_u32();
        ffi::rext2_h_touch_mc(raw);
        let now = ffi::rext2_h_inode_get_mtime_sec(raw);
        ffi::rext2_h_set_times(raw, now, now, now);
    }
    let ei = inode::info_mut(new);
    ei.i_data = [0; 15];
    ei.i_data_nul = 0;
    ei.i_flags = flags;
    ei.i_dtime = 0;
    ei.i_file_acl = 0;
    ei.i_block_group = (ino - 1) / Ext2Sb::of(sb).geo.inodes_per_group.max(1);
    ei.i_generation = new_generation(new);
    ei.i_last_lblk = 0;
    ei.i_last_pblk = 0;
    // SAFETY: as above.
    unsafe {
        (*raw).i_flags |= inode::vfs_flags(flags);
        (*raw).i_mapping.as_mut().ok_or(EINVAL)?.a_ops = inode::AOPS.as_ptr();
        if ffi::insert_inode_locked(raw) < 0 {
            // The bitmap said free but the inode is in use: corruption.
            ffi::clear_nlink(raw);
            ffi::iput(raw);
            return Err(fs_error(sb, "inode number already in use", ino as u64));
        }
        ffi::rext2_h_mark_inode_dirty(raw);
    }
    Ok(new)
}

fn new_generation(inode: Inode) -> u32 {
    // SAFETY: the inode is live.
    unsafe { (*inode.as_ptr()).i_generation }
}

/// Drops a new inode whose creation failed half way: it has no name, so
/// eviction frees its blocks and number.
pub(crate) fn discard_new(inode: Inode) {
    // SAFETY: an I_NEW inode from `new_inode`, referenced by the caller.
    unsafe {
        ffi::clear_nlink(inode.as_ptr());
        ffi::discard_new_inode(inode.as_ptr());
    }
}
