// SPDX-License-Identifier: GPL-2.0
//! Inodes: the inode slab, reading inodes from disk (`iget`), the block map
//! and the read side of the address space (`read_folio`, `readahead`).

use super::blockmap::{self, BlockPath};
use super::layout::{self, DiskInode};
use super::superblock::{read_meta, Ext2Sb};
use super::{dir, file, ialloc, indirect, namei, superblock};
use crate::ffi;
use crate::vfs::{self, Inode, OpsTable, SuperBlock};
use core::ffi::c_int;
use core::mem::offset_of;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;

static INODE_CACHE: AtomicPtr<ffi::kmem_cache> = AtomicPtr::new(ptr::null_mut());

/// Creates the slab of rext2 inodes.
pub(crate) fn create_cache() -> Result {
    // SAFETY: plain cache creation (the constructor is in C: it initialises
    // the inode and the block-map mutex).
    let cache = unsafe { ffi::rext2_h_inode_cache_create() };
    if cache.is_null() {
        return Err(ENOMEM);
    }
    INODE_CACHE.store(cache, Ordering::Release);
    Ok(())
}

pub(crate) fn destroy_cache() {
    let cache = INODE_CACHE.swap(ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: RCU-freed inodes must be gone before the cache is destroyed;
    // no rext2 super_block exists any more.
    unsafe {
        ffi::rcu_barrier();
        ffi::kmem_cache_destroy(cache);
    }
}

/// `super_operations::alloc_inode`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
pub(crate) unsafe extern "C" fn alloc_inode(sb: *mut ffi::super_block) -> *mut ffi::inode {
    // SAFETY: the cache exists while any super_block does.
    unsafe { ffi::rext2_h_alloc_inode(sb, INODE_CACHE.load(Ordering::Acquire)) }
}

/// `super_operations::free_inode`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
pub(crate) unsafe extern "C" fn free_inode(inode: *mut ffi::inode) {
    // SAFETY: every rext2 inode is embedded in a rext2_inode_info from our
    // cache (alloc_inode).
    unsafe { ffi::kmem_cache_free(INODE_CACHE.load(Ordering::Acquire), info_ptr(inode).cast()) }
}

/// The rext2_inode_info around a VFS inode.
fn info_ptr(inode: *mut ffi::inode) -> *mut ffi::rext2_inode_info {
    // container_of: every rext2 inode comes from `alloc_inode`.
    inode
        .wrapping_byte_sub(offset_of!(ffi::rext2_inode_info, vfs_inode))
        .cast()
}

/// The logical block the inode's last allocation ended at, when known: a
/// mapped block, so the indirect blocks on its path exist. Read without the
/// map lock: the caller holds i_rwsem, which keeps out truncate (the only
/// thing that unmaps blocks and forgets this); an allocation racing from a
/// page fault only moves it to another mapped block.
pub(crate) fn last_mapped_block(inode: Inode) -> Option<u64> {
    let ei = info_ptr(inode.as_ptr());
    // SAFETY: the inode is live; READ_ONCE of two u32 fields that the map
    // lock's holder may store concurrently (either value is valid).
    let (lblk, pblk) = unsafe {
        (
            core::ptr::read_volatile(core::ptr::addr_of!((*ei).i_last_lblk)),
            core::ptr::read_volatile(core::ptr::addr_of!((*ei).i_last_pblk)),
        )
    };
    (pblk != 0).then_some(lblk as u64)
}

/// rext2's per-inode data, read-only view.
pub(crate) fn info<'a>(inode: Inode) -> &'a ffi::rext2_inode_info {
    // SAFETY: `inode` is live and embedded in a rext2_inode_info.
    unsafe { &*info_ptr(inode.as_ptr()) }
}

/// Holds an inode's block-map mutex; released on drop.
pub(crate) struct MapLock {
    m: *mut ffi::mutex,
}

impl MapLock {
    pub(crate) fn lock(inode: Inode) -> MapLock {
        // SAFETY: the mutex lives in the inode, which the caller keeps alive
        // for the guard's lifetime; it was initialised by the slab ctor.
        let m = unsafe { ptr::addr_of_mut!((*info_ptr(inode.as_ptr())).i_map_lock) };
        // SAFETY: as above.
        unsafe { ffi::rext2_h_mutex_lock(m) };
        MapLock { m }
    }
}

impl Drop for MapLock {
    fn drop(&mut self) {
        // SAFETY: locked in `lock` by this task.
        unsafe { ffi::mutex_unlock(self.m) };
    }
}

/// rext2's per-inode data for changing, under the rules of the field
/// (block map under [`MapLock`], the rest while the inode is I_NEW or
/// under `i_rwsem`).
pub(crate) fn info_mut<'a>(inode: Inode) -> &'a mut ffi::rext2_inode_info {
    // SAFETY: `inode` is live and embedded in a rext2_inode_info; callers
    // follow the locking rules above.
    unsafe { &mut *info_ptr(inode.as_ptr()) }
}

/// Block pointer `slot` of `i_block`.
fn i_block(inode: Inode, slot: usize) -> u32 {
    u32::from_le(info(inode).i_data[slot])
}

/// Reports a corrupt object (logged, recorded, `errors=` applied) and
/// returns the error to give the caller.
pub(crate) fn corrupt(sb: SuperBlock, what: &str, ino: u32) -> Error {
    superblock::fs_error(sb, what, ino as u64)
}

/// A mapped run of blocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Extent {
    pub(crate) pblk: u32,
    pub(crate) len: u32,
}

/// What a logical block of a file is.
pub(crate) enum Mapping {
    /// The start of a run of mapped blocks.
    Mapped(Extent),
    /// The start of a hole of this many blocks (at least 1; it may end
    /// earlier than the map's next data when the walk stops at a leaf, and
    /// is `u64::MAX` past the addressable range).
    Hole(u64),
}

/// Maps logical block `lblk` of `inode` to a run of at most `max` physical
/// blocks. `Ok(None)` is a hole. Any pointer outside the filesystem is
/// corruption (EUCLEAN), never followed.
pub(crate) fn map_block(inode: Inode, lblk: u64, max: u32) -> Result<Option<Extent>> {
    Ok(match map_range(inode, lblk, max)? {
        Mapping::Mapped(ext) => Some(ext),
        Mapping::Hole(_) => None,
    })
}

/// [`map_block`], and for a hole how far it reaches: to the end of the
/// subtree of a missing indirect block, or across the zero entries of the
/// leaf (up to `max`).
pub(crate) fn map_range(inode: Inode, lblk: u64, max: u32) -> Result<Mapping> {
    let sb = inode.sb();
    let geo = &Ext2Sb::of(sb).geo;
    let Some(path) = blockmap::block_path(lblk, geo.block_bits) else {
        // Past what the map can address (a hostile i_size): all hole.
        return Ok(Mapping::Hole(u64::MAX));
    };
    let apb = blockmap::addr_per_block(geo.block_bits);
    let want = (max.max(1) as u64).min(path.leaf_remaining(apb) + 1) as usize;
    let offs = path.as_slice();
    if path.depth == 1 {
        let leaf: [u32; blockmap::DIRECT_BLOCKS as usize] =
            core::array::from_fn(|i| i_block(inode, i));
        return run_in_leaf(inode, &path, |i| leaf.get(i).copied(), want);
    }
    let mut ptr = i_block(inode, offs[0]);
    let mut bh = None;
    for (level, &idx) in offs.iter().enumerate().skip(1) {
        if ptr == 0 {
            return Ok(Mapping::Hole(path.subtree_remaining(level - 1, apb)));
        }
        if !geo.data_block_ok(ptr) {
            return Err(corrupt(
                sb,
                "indirect block pointer out of range in inode",
                inode.ino(),
            ));
        }
        let b = sb.bread(ptr as u64)?;
        ptr = layout::le32(b.data(), idx * 4).ok_or(EIO)?;
        bh = Some(b);
    }
    let b = bh.ok_or(EIO)?;
    run_in_leaf(inode, &path, |i| layout::le32(b.data(), i * 4), want)
}

/// The run starting at the path's last index in a leaf array read through
/// `get`: consecutive blocks, or zero entries.
fn run_in_leaf(
    inode: Inode,
    path: &BlockPath,
    get: impl Fn(usize) -> Option<u32>,
    want: usize,
) -> Result<Mapping> {
    let sb = inode.sb();
    let geo = &Ext2Sb::of(sb).geo;
    let first = path.offsets[path.depth - 1];
    let pblk = get(first).ok_or(EIO)?;
    if pblk == 0 {
        let mut len = 1usize;
        while len < want && get(first + len) == Some(0) {
            len += 1;
        }
        return Ok(Mapping::Hole(len as u64));
    }
    if !geo.data_block_ok(pblk) {
        return Err(corrupt(
            sb,
            "data block pointer out of range in inode",
            inode.ino(),
        ));
    }
    let mut len = 1u32;
    while (len as usize) < want {
        match get(first + len as usize) {
            Some(next) if next == pblk.wrapping_add(len) && geo.data_block_ok(next) => len += 1,
            _ => break,
        }
    }
    Ok(Mapping::Mapped(Extent { pblk, len }))
}

/// `get_block_t` for reads: maps as many blocks as the buffer_head asks for.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
pub(crate) unsafe extern "C" fn get_block(
    inode: *mut ffi::inode,
    iblock: ffi::sector_t,
    bh: *mut ffi::buffer_head,
    create: c_int,
) -> c_int {
    // SAFETY: the VFS holds the inode for the duration of the call.
    let inode = unsafe { Inode::from_raw(inode) };
    let sb = inode.sb();
    let bits = Ext2Sb::of(sb).geo.block_bits;
    // SAFETY: `bh` is the caller's scratch buffer_head.
    let want = unsafe { (*bh).b_size } >> bits;
    let want = want.min(u32::MAX as usize) as u32;
    let mapped = if create != 0 {
        indirect::map_or_alloc(inode, iblock, want).map(Some)
    } else {
        map_block(inode, iblock, want).map(|e| e.map(|e| (e, false)))
    };
    match mapped {
        Ok(Some((ext, new))) => {
            // SAFETY: `bh` is the caller's; map_bh sets the mapping fields.
            unsafe {
                ffi::rext2_h_map_bh(bh, sb.as_ptr(), ext.pblk as u64);
                (*bh).b_size = (ext.len as usize) << bits;
                if new {
                    ffi::rext2_h_set_buffer_new(bh);
                }
            }
            0
        }
        Ok(None) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `address_space_operations::read_folio`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn read_folio(_file: *mut ffi::file, folio: *mut ffi::folio) -> c_int {
    // SAFETY: the VFS passes a locked folio of a rext2 mapping.
    unsafe { ffi::mpage_read_folio(folio, Some(get_block)) }
}

/// `address_space_operations::readahead`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn readahead(rac: *mut ffi::readahead_control) {
    // SAFETY: the VFS passes a live readahead request of a rext2 mapping.
    unsafe { ffi::mpage_readahead(rac, Some(get_block)) }
}

/// Undoes what a failed or short write allocated past EOF.
/// Frees the blocks of `inode` past `size` and puts its new state into its
/// on-disk record, in one free section (see [`Ext2Sb::free_section`]).
fn free_blocks_past(inode: Inode, size: u64) {
    Ext2Sb::of(inode.sb()).free_section(|| {
        indirect::truncate_blocks(inode, size);
        // A failure was reported (errors=); the inode stays dirty.
        let _ = write_inode_now(inode, false);
    })
}

fn write_failed(inode: Inode, to: i64) {
    let size = inode.size() as i64;
    if to > size {
        // SAFETY: the inode is live and its i_rwsem is held by the writer.
        unsafe { ffi::truncate_pagecache(inode.as_ptr(), size) };
        free_blocks_past(inode, size as u64);
    }
}

/// `address_space_operations::write_begin` (the classic path).
///
/// # Safety
///
/// Called by the VFS with the arguments its prototype documents.
unsafe extern "C" fn write_begin(
    _file: *mut ffi::file,
    mapping: *mut ffi::address_space,
    pos: ffi::loff_t,
    len: u32,
    foliop: *mut *mut ffi::folio,
    _fsdata: *mut *mut core::ffi::c_void,
) -> c_int {
    // SAFETY: live for the call.
    let ret = unsafe { ffi::block_write_begin(mapping, pos, len, foliop, Some(get_block)) };
    if ret < 0 {
        // SAFETY: a file mapping's host is its inode, live for the call.
        write_failed(
            unsafe { Inode::from_raw((*mapping).host) },
            pos + len as i64,
        );
    }
    ret
}

/// `address_space_operations::write_end` (the classic path).
///
/// # Safety
///
/// Called by the VFS with the folio `write_begin` returned.
unsafe extern "C" fn write_end(
    file: *mut ffi::file,
    mapping: *mut ffi::address_space,
    pos: ffi::loff_t,
    len: u32,
    copied: u32,
    folio: *mut ffi::folio,
    fsdata: *mut core::ffi::c_void,
) -> c_int {
    // SAFETY: live for the call.
    let ret = unsafe { ffi::generic_write_end(file, mapping, pos, len, copied, folio, fsdata) };
    if ret < len as c_int {
        // SAFETY: as in write_begin.
        write_failed(
            unsafe { Inode::from_raw((*mapping).host) },
            pos + len as i64,
        );
    }
    ret
}

/// `address_space_operations::writepages`.
///
/// # Safety
///
/// Called by writeback with a live mapping and control.
unsafe extern "C" fn writepages(
    mapping: *mut ffi::address_space,
    wbc: *mut ffi::writeback_control,
) -> c_int {
    // SAFETY: live for the call.
    unsafe { ffi::mpage_writepages(mapping, wbc, Some(get_block)) }
}

/// `address_space_operations::bmap` (FIBMAP).
///
/// # Safety
///
/// Called by the VFS with a live mapping.
unsafe extern "C" fn bmap(mapping: *mut ffi::address_space, block: ffi::sector_t) -> ffi::sector_t {
    // SAFETY: live for the call.
    unsafe { ffi::generic_block_bmap(mapping, block, Some(get_block)) }
}

pub(crate) static AOPS: OpsTable<ffi::address_space_operations> =
    OpsTable(ffi::address_space_operations {
        dirty_folio: Some(ffi::block_dirty_folio),
        invalidate_folio: Some(ffi::block_invalidate_folio),
        read_folio: Some(read_folio),
        readahead: Some(readahead),
        write_begin: Some(write_begin),
        write_end: Some(write_end),
        writepages: Some(writepages),
        bmap: Some(bmap),
        migrate_folio: Some(ffi::buffer_migrate_folio),
        is_partially_uptodate: Some(ffi::block_is_partially_uptodate),
        error_remove_folio: Some(ffi::generic_error_remove_folio),
        ..vfs::zeroed()
    });

/// Whether `i_block` of `inode` holds block pointers: a regular file, a
/// directory or a slow symlink. A fast symlink keeps its target there and
/// a device node its number; neither owns a data block (an extended
/// attribute block, counted in `i_blocks`, is not one).
fn owns_data_blocks(inode: Inode) -> bool {
    let raw = inode.as_ptr();
    // SAFETY: the inode is live; mode and block count are stable while its
    // caller (setattr under i_rwsem, or eviction) holds it.
    let (mode, sectors) = unsafe { ((*raw).i_mode, (*raw).i_blocks) };
    match mode & layout::S_IFMT {
        layout::S_IFREG | layout::S_IFDIR => true,
        layout::S_IFLNK => {
            let ea = if info_mut(inode).i_file_acl != 0 {
                (Ext2Sb::of(inode.sb()).geo.block_size >> 9) as u64
            } else {
                0
            };
            sectors > ea
        }
        _ => false,
    }
}

/// Changes the size of a regular file, directory or slow symlink: zeroes
/// the tail of the new last block, drops the page cache past it and frees
/// the blocks past it.
pub(crate) fn set_size(inode: Inode, new_size: u64) -> Result {
    // SAFETY: the caller holds i_rwsem (setattr).
    let mode = unsafe { (*inode.as_ptr()).i_mode };
    let ft = mode & layout::S_IFMT;
    if !(ft == layout::S_IFREG || ft == layout::S_IFDIR || ft == layout::S_IFLNK) {
        return Err(EINVAL);
    }
    // A fast symlink has no blocks to truncate.
    if !owns_data_blocks(inode) {
        return Err(EINVAL);
    }
    // SAFETY: as above.
    unsafe {
        let raw = inode.as_ptr();
        ffi::inode_dio_wait(raw);
        let r = ffi::block_truncate_page((*raw).i_mapping, new_size as i64, Some(get_block));
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        // Excludes page faults (page_mkwrite) while pages and blocks go.
        ffi::rext2_h_invalidate_lock((*raw).i_mapping, true);
    }
    vfs::folio::zero_past_eof(inode, inode.size(), new_size);
    // SAFETY: as above.
    unsafe {
        let raw = inode.as_ptr();
        ffi::truncate_setsize(raw, new_size as i64);
    }
    free_blocks_past(inode, new_size);
    // SAFETY: taken above.
    unsafe { ffi::rext2_h_invalidate_lock((*inode.as_ptr()).i_mapping, false) };
    // SAFETY: as above.
    unsafe {
        ffi::rext2_h_touch_mc(inode.as_ptr());
        ffi::rext2_h_mark_inode_dirty(inode.as_ptr());
    }
    Ok(())
}

/// `inode_operations::setattr` for every rext2 inode.
///
/// # Safety
///
/// Called by the VFS with i_rwsem held and live arguments.
pub(crate) unsafe extern "C" fn setattr(
    idmap: *mut ffi::mnt_idmap,
    dentry: *mut ffi::dentry,
    attr: *mut ffi::iattr,
) -> c_int {
    // SAFETY: live for the call; a positive dentry.
    let inode = unsafe { Inode::from_raw((*dentry).d_inode) };
    // SAFETY: as above.
    let r = unsafe { ffi::setattr_prepare(idmap, dentry, attr) };
    if r != 0 {
        return r;
    }
    // SAFETY: as above.
    let (valid, size) = unsafe { ((*attr).ia_valid, (*attr).ia_size) };
    if valid & ffi::ATTR_SIZE != 0 && size as u64 != inode.size() {
        if let Err(e) = set_size(inode, size as u64) {
            return e.to_errno();
        }
    }
    // SAFETY: as above.
    unsafe {
        ffi::setattr_copy(idmap, inode.as_ptr(), attr);
        ffi::rext2_h_mark_inode_dirty(inode.as_ptr());
    }
    0
}

static SPECIAL_IOPS: OpsTable<ffi::inode_operations> = OpsTable(ffi::inode_operations {
    setattr: Some(setattr),
    ..vfs::zeroed()
});

/// Inode operations of device nodes, fifos and sockets.
pub(crate) fn special_iops() -> *const ffi::inode_operations {
    SPECIAL_IOPS.as_ptr()
}

/// ext2 inode flags that map to VFS inode flags.
const EXT2_SYNC_FL: u32 = 0x0000_0008;
const EXT2_IMMUTABLE_FL: u32 = 0x0000_0010;
const EXT2_APPEND_FL: u32 = 0x0000_0020;
const EXT2_NOATIME_FL: u32 = 0x0000_0080;
const EXT2_DIRSYNC_FL: u32 = 0x0001_0000;

pub(crate) fn vfs_flags(ext2: u32) -> u32 {
    let map = [
        (EXT2_SYNC_FL, ffi::S_SYNC),
        (EXT2_APPEND_FL, ffi::S_APPEND),
        (EXT2_IMMUTABLE_FL, ffi::S_IMMUTABLE),
        (EXT2_NOATIME_FL, ffi::S_NOATIME),
        (EXT2_DIRSYNC_FL, ffi::S_DIRSYNC),
    ];
    map.iter()
        .filter(|(e, _)| ext2 & e != 0)
        .fold(0, |acc, (_, v)| acc | v)
}

/// Returns a referenced inode `ino`, reading it from disk if not cached.
pub(crate) fn iget(sb: SuperBlock, ino: u32) -> Result<Inode> {
    let geo = &Ext2Sb::of(sb).geo;
    if !geo.ino_is_valid(ino) {
        return Err(corrupt(sb, "inode number out of range", ino));
    }
    // SAFETY: `sb` is live; iget_locked returns NULL or a referenced inode.
    let raw = unsafe { ffi::iget_locked(sb.as_ptr(), ino as _) };
    if raw.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: iget_locked returned a referenced inode.
    let inode = unsafe { Inode::from_raw(raw) };
    // SAFETY: the inode is referenced; I_NEW is stable while we own it.
    if unsafe { (*raw).i_state } & ffi::I_NEW == 0 {
        return Ok(inode);
    }
    match fill_inode(sb, inode) {
        // SAFETY: the new inode is fully set up; publish it.
        Ok(()) => unsafe { ffi::unlock_new_inode(raw) },
        Err(e) => {
            // SAFETY: the new inode failed set-up; iget_failed drops it.
            unsafe { ffi::iget_failed(raw) };
            return Err(e);
        }
    }
    Ok(inode)
}

fn read_disk_inode(sb: SuperBlock, ino: u32) -> Result<DiskInode> {
    let info = Ext2Sb::of(sb);
    let loc = info.geo.inode_loc(ino).ok_or(EINVAL)?;
    let desc = info.desc(loc.group)?;
    let bh = read_meta(
        sb,
        desc.inode_table as u64 + loc.table_block as u64,
        "unable to read inode block",
    )?;
    bh.data()
        .get(loc.offset..loc.offset + info.geo.inode_size as usize)
        .and_then(DiskInode::parse)
        .ok_or(EIO)
}

/// Sets up a new (I_NEW) inode from its on-disk record, checking everything
/// a hostile image could get wrong.
fn fill_inode(sb: SuperBlock, inode: Inode) -> Result {
    let ino = inode.ino();
    let geo = Ext2Sb::of(sb).geo;
    let d = read_disk_inode(sb, ino)?;
    // A name never leads to an inode without links: deleted, or corrupt.
    if d.links_count == 0 {
        return Err(corrupt(sb, "inode has no links (deleted or corrupt)", ino));
    }
    if d.file_acl != 0 && !geo.data_block_ok(d.file_acl) {
        return Err(corrupt(sb, "bad extended attribute block in inode", ino));
    }
    let raw = inode.as_ptr();
    let ei = info_ptr(raw);
    // SAFETY: the inode is I_NEW and ours alone until unlock_new_inode.
    unsafe {
        (*raw).i_mode = d.mode;
        ffi::rext2_h_i_uid_write(raw, d.uid);
        ffi::rext2_h_i_gid_write(raw, d.gid);
        ffi::set_nlink(raw, d.links_count as u32);
        ffi::rext2_h_i_size_write(raw, d.size as i64);
        ffi::rext2_h_set_times(raw, d.atime, d.mtime, d.ctime);
        (*raw).i_blocks = d.blocks as u64;
        (*raw).i_generation = d.generation;
        (*raw).i_flags |= vfs_flags(d.flags);
        for (slot, w) in (*ei).i_data.iter_mut().zip(d.block.iter()) {
            *slot = w.to_le();
        }
        (*ei).i_data_nul = 0;
        (*ei).i_flags = d.flags;
        (*ei).i_dtime = d.dtime;
        (*ei).i_file_acl = d.file_acl;
        (*ei).i_block_group = layout::div_nz(ino as u64 - 1, geo.inodes_per_group as u64) as u32;
        (*ei).i_generation = d.generation;
        // The slab object may have held another inode: its last allocation
        // is no hint for this one (Reserve trusts it to be mapped).
        (*ei).i_last_lblk = 0;
        (*ei).i_last_pblk = 0;
        (*raw).i_mapping.as_mut().ok_or(EINVAL)?.a_ops = AOPS.as_ptr();
    }
    let max_bytes = layout::max_file_size(geo.block_bits);
    match d.file_type() {
        layout::S_IFREG => {
            if d.size > max_bytes {
                return Err(corrupt(
                    sb,
                    "file size beyond the format's limit in inode",
                    ino,
                ));
            }
            file::set_file_ops(inode);
        }
        layout::S_IFDIR => {
            if d.size == 0
                || layout::rem_nz(d.size, geo.block_size as u64) != 0
                || d.size > max_bytes
            {
                return Err(corrupt(
                    sb,
                    "directory size not a multiple of the block size in inode",
                    ino,
                ));
            }
            dir::set_dir_ops(inode);
        }
        layout::S_IFLNK => {
            if d.is_fast_symlink(geo.block_size) {
                if d.size == 0 || d.size >= layout::INLINE_DATA_BYTES as u64 {
                    return Err(corrupt(sb, "bad fast symlink size in inode", ino));
                }
                // SAFETY: I_NEW inode; i_link points into its own i_data,
                // which is NUL-terminated at `size` (i_data_nul backs the
                // last byte), and lives as long as the inode.
                unsafe {
                    let bytes = (*ei).i_data.as_mut_ptr() as *mut u8;
                    *bytes.add(d.size as usize) = 0;
                    (*raw).__bindgen_anon_4.i_link = bytes.cast();
                }
                namei::set_fast_symlink_ops(inode);
            } else {
                if d.size == 0 || d.size >= geo.block_size as u64 {
                    return Err(corrupt(sb, "bad symlink size in inode", ino));
                }
                namei::set_slow_symlink_ops(inode);
            }
        }
        layout::S_IFCHR | layout::S_IFBLK | layout::S_IFIFO | layout::S_IFSOCK => {
            let (major, minor) = d.device();
            // SAFETY: I_NEW inode; init_special_inode sets its fops and rdev.
            unsafe {
                (*raw).i_op = SPECIAL_IOPS.as_ptr();
                ffi::init_special_inode(raw, d.mode, ffi::rext2_h_mkdev(major, minor));
            }
        }
        _ => return Err(corrupt(sb, "bad file type in inode", ino)),
    }
    Ok(())
}

/// `super_operations::write_inode`.
///
/// # Safety
///
/// Called by the VFS with a live inode and writeback control.
pub(crate) unsafe extern "C" fn write_inode(
    inode: *mut ffi::inode,
    wbc: *mut ffi::writeback_control,
) -> c_int {
    // SAFETY: live for the call.
    let inode = unsafe { Inode::from_raw(inode) };
    // SAFETY: as above.
    let sync = unsafe { (*wbc).sync_mode } == ffi::writeback_sync_modes_WB_SYNC_ALL;
    vfs::to_c(write_inode_now(inode, sync))
}

/// Copies the in-memory inode into its on-disk record.
pub(crate) fn write_inode_now(inode: Inode, sync: bool) -> Result {
    let sb = inode.sb();
    let info = Ext2Sb::of(sb);
    let loc = info.geo.inode_loc(inode.ino()).ok_or(EINVAL)?;
    let desc = info.desc(loc.group)?;
    let bh = read_meta(
        sb,
        desc.inode_table as u64 + loc.table_block as u64,
        "unable to read inode block",
    )?;
    let d = disk_inode_of(inode);
    if d.file_type() == layout::S_IFREG && d.size > i32::MAX as u64 {
        info.note_large_file();
    }
    let end = loc.offset + info.geo.inode_size as usize;
    bh.modify(|b| {
        if let Some(rec) = b.get_mut(loc.offset..end) {
            d.store(rec);
        }
    });
    if sync {
        bh.sync()?;
    }
    Ok(())
}

/// The on-disk form of a VFS inode.
fn disk_inode_of(inode: Inode) -> DiskInode {
    let raw = inode.as_ptr();
    let ei = info(inode);
    // SAFETY: the inode is live; the VFS serialises write_inode with
    // changes that matter (racy timestamps are tolerated as in C).
    unsafe {
        DiskInode {
            mode: (*raw).i_mode,
            uid: ffi::rext2_h_i_uid_read(raw),
            gid: ffi::rext2_h_i_gid_read(raw),
            size: inode.size(),
            atime: ffi::rext2_h_inode_get_atime_sec(raw),
            ctime: ffi::rext2_h_inode_get_ctime_sec(raw),
            mtime: ffi::rext2_h_inode_get_mtime_sec(raw),
            dtime: ei.i_dtime,
            links_count: (*raw).__bindgen_anon_1.i_nlink.min(u16::MAX as u32) as u16,
            blocks: (*raw).i_blocks.min(u32::MAX as u64) as u32,
            flags: ei.i_flags,
            block: core::array::from_fn(|i| u32::from_le(ei.i_data[i])),
            generation: ei.i_generation,
            file_acl: ei.i_file_acl,
            size_high: 0,
        }
    }
}

/// `super_operations::evict_inode`.
///
/// # Safety
///
/// Called by the VFS once, when the last reference to the inode is gone.
pub(crate) unsafe extern "C" fn evict_inode(raw: *mut ffi::inode) {
    // SAFETY: the inode is live until clear_inode and ours alone now.
    let inode = unsafe { Inode::from_raw(raw) };
    // SAFETY: as above.
    let (delete, is_dir) = unsafe {
        let delete = (*raw).__bindgen_anon_1.i_nlink == 0 && !ffi::is_bad_inode(raw);
        (delete, (*raw).i_mode & layout::S_IFMT == layout::S_IFDIR)
    };
    // SAFETY: as above.
    unsafe { ffi::truncate_inode_pages_final(ptr::addr_of_mut!((*raw).i_data)) };
    if delete {
        // The record keeps its deletion time, as e2fsck expects; then the
        // blocks and the inode go back to the free pool.
        info_mut(inode).i_dtime = superblock::now_secs();
        // SAFETY: as above.
        unsafe { ffi::rext2_h_i_size_write(raw, 0) };
        // Only block pointers are freed: a fast symlink's target or a
        // device number in i_block would free someone else's blocks.
        if owns_data_blocks(inode) {
            free_blocks_past(inode, 0);
        } else {
            let _ = write_inode_now(inode, false);
        }
    }
    // SAFETY: as above.
    unsafe {
        ffi::invalidate_inode_buffers(raw);
        ffi::clear_inode(raw);
    }
    if delete {
        let _ = ialloc::free_ino(inode.sb(), inode.ino(), is_dir);
    }
}
