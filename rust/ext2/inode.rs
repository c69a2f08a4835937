// SPDX-License-Identifier: GPL-2.0
//! Inodes: the inode slab, reading inodes from disk (`iget`), the block map
//! and the read side of the address space (`read_folio`, `readahead`).

use super::blockmap::{self, BlockPath};
use super::layout::{self, DiskInode};
use super::superblock::Ext2Sb;
use super::{dir, file, namei};
use crate::ffi;
use crate::vfs::{self, errno, Inode, Level, OpsTable, SuperBlock};
use core::ffi::{c_int, c_void};
use core::mem::offset_of;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;

static INODE_CACHE: AtomicPtr<ffi::kmem_cache> = AtomicPtr::new(ptr::null_mut());

/// Slab constructor for the inode cache.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn init_once(obj: *mut c_void) {
    let ei = obj as *mut ffi::rext2_inode_info;
    // SAFETY: the slab passes a new object of our cache's size.
    unsafe { ffi::inode_init_once(ptr::addr_of_mut!((*ei).vfs_inode)) };
}

pub(crate) fn create_cache() -> Result {
    // SAFETY: plain cache creation with a constructor that matches the type.
    let cache = unsafe { ffi::rext2_h_inode_cache_create(Some(init_once)) };
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

/// rext2's per-inode data, read-only view.
pub(crate) fn info<'a>(inode: Inode) -> &'a ffi::rext2_inode_info {
    // SAFETY: `inode` is live and embedded in a rext2_inode_info.
    unsafe { &*info_ptr(inode.as_ptr()) }
}

/// Block pointer `slot` of `i_block`.
fn i_block(inode: Inode, slot: usize) -> u32 {
    u32::from_le(info(inode).i_data[slot])
}

/// Logs a corrupt object and returns the error to give the caller.
pub(crate) fn corrupt(sb: SuperBlock, what: &str, ino: u32) -> Error {
    sb.msg(Level::Err, what, ino as u64);
    errno::euclean()
}

/// A mapped run of blocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Extent {
    pub(crate) pblk: u32,
    pub(crate) len: u32,
}

/// Maps logical block `lblk` of `inode` to a run of at most `max` physical
/// blocks. `Ok(None)` is a hole. Any pointer outside the filesystem is
/// corruption (EUCLEAN), never followed.
pub(crate) fn map_block(inode: Inode, lblk: u64, max: u32) -> Result<Option<Extent>> {
    let sb = inode.sb();
    let geo = &Ext2Sb::of(sb).geo;
    let Some(path) = blockmap::block_path(lblk, geo.block_bits) else {
        return Ok(None);
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
    for &idx in &offs[1..] {
        if ptr == 0 {
            return Ok(None);
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

/// Counts the run of consecutive blocks starting at the path's last index
/// in a leaf array read through `get`.
fn run_in_leaf(
    inode: Inode,
    path: &BlockPath,
    get: impl Fn(usize) -> Option<u32>,
    want: usize,
) -> Result<Option<Extent>> {
    let sb = inode.sb();
    let geo = &Ext2Sb::of(sb).geo;
    let first = path.offsets[path.depth - 1];
    let pblk = get(first).ok_or(EIO)?;
    if pblk == 0 {
        return Ok(None);
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
    Ok(Some(Extent { pblk, len }))
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
    match map_block(inode, iblock, want.min(u32::MAX as usize) as u32) {
        Ok(Some(ext)) => {
            // SAFETY: `bh` is the caller's; map_bh sets the mapping fields.
            unsafe {
                ffi::rext2_h_map_bh(bh, sb.as_ptr(), ext.pblk as u64);
                (*bh).b_size = (ext.len as usize) << bits;
            }
            0
        }
        Ok(None) if create != 0 => EROFS.to_errno(),
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

pub(crate) static AOPS: OpsTable<ffi::address_space_operations> =
    OpsTable(ffi::address_space_operations {
        read_folio: Some(read_folio),
        readahead: Some(readahead),
        ..vfs::zeroed()
    });

static SPECIAL_IOPS: OpsTable<ffi::inode_operations> = OpsTable(vfs::zeroed());

/// ext2 inode flags that map to VFS inode flags.
const EXT2_SYNC_FL: u32 = 0x0000_0008;
const EXT2_IMMUTABLE_FL: u32 = 0x0000_0010;
const EXT2_APPEND_FL: u32 = 0x0000_0020;
const EXT2_NOATIME_FL: u32 = 0x0000_0080;
const EXT2_DIRSYNC_FL: u32 = 0x0001_0000;

fn vfs_flags(ext2: u32) -> u32 {
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
    let bh = sb.bread(desc.inode_table as u64 + loc.table_block as u64)?;
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
