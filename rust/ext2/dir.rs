// SPDX-License-Identifier: GPL-2.0
//! Directories: reading directory blocks, readdir and name lookup.

use super::dirent::{self, Dirent, DirentIter};
use super::indirect;
use super::inode::{self, corrupt};
use super::superblock::Ext2Sb;
use crate::ffi;
use crate::vfs::{self, BufferHead, Inode, OpsTable};
use core::ffi::c_int;
use kernel::prelude::*;

pub(crate) static DIR_FOPS: OpsTable<ffi::file_operations> = OpsTable(ffi::file_operations {
    llseek: Some(ffi::generic_file_llseek),
    read: Some(ffi::generic_read_dir),
    iterate_shared: Some(readdir),
    fsync: Some(super::file::fsync),
    ..vfs::zeroed()
});

pub(crate) static DIR_IOPS: OpsTable<ffi::inode_operations> = OpsTable(ffi::inode_operations {
    lookup: Some(super::namei::lookup),
    create: Some(super::namei::create),
    link: Some(super::namei::link),
    unlink: Some(super::namei::unlink),
    symlink: Some(super::namei::symlink),
    mkdir: Some(super::namei::mkdir),
    rmdir: Some(super::namei::rmdir),
    mknod: Some(super::namei::mknod),
    rename: Some(super::namei::rename),
    setattr: Some(super::inode::setattr),
    ..vfs::zeroed()
});

pub(crate) fn set_dir_ops(inode: Inode) {
    // SAFETY: called on an I_NEW inode, ours alone.
    unsafe {
        (*inode.as_ptr()).i_op = DIR_IOPS.as_ptr();
        (*inode.as_ptr()).__bindgen_anon_3.i_fop = DIR_FOPS.as_ptr();
    }
}

/// Reads directory block `n` and checks every entry in it.
pub(crate) fn dir_block(dir: Inode, n: u64) -> Result<BufferHead> {
    let sb = dir.sb();
    let info = Ext2Sb::of(sb);
    let ext =
        inode::map_block(dir, n, 1)?.ok_or_else(|| corrupt(sb, "hole in directory", dir.ino()))?;
    let bh = sb.bread(ext.pblk as u64)?;
    if let Err(e) = dirent::check_block(bh.data(), info.geo.inodes_count, info.geo.filetype) {
        return Err(corrupt(sb, e.reason(), dir.ino()));
    }
    Ok(bh)
}

/// Number of blocks in a directory.
fn dir_blocks(dir: Inode) -> u64 {
    dir.size() >> Ext2Sb::of(dir.sb()).geo.block_bits
}

/// Calls `f` on each live entry until it returns `Some`.
pub(crate) fn find_map<T>(
    dir: Inode,
    mut f: impl FnMut(&Dirent<'_>) -> Option<T>,
) -> Result<Option<T>> {
    let geo = &Ext2Sb::of(dir.sb()).geo;
    for n in 0..dir_blocks(dir) {
        let bh = dir_block(dir, n)?;
        for d in DirentIter::new(bh.data(), geo.inodes_count, geo.filetype) {
            let d = d.map_err(|_| EIO)?;
            if d.inode != 0 {
                if let Some(v) = f(&d) {
                    return Ok(Some(v));
                }
            }
        }
    }
    Ok(None)
}

/// The inode number `name` has in `dir`, if any.
pub(crate) fn find_entry(dir: Inode, name: &[u8]) -> Result<Option<u32>> {
    find_map(dir, |d| (d.name == name).then_some(d.inode))
}

/// `file_operations::iterate_shared` for directories.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn readdir(file: *mut ffi::file, ctx: *mut ffi::dir_context) -> c_int {
    // SAFETY: the VFS passes an open directory file and its live context.
    let dir = unsafe { Inode::from_raw((*file).f_inode) };
    // SAFETY: as above; the context outlives the call.
    vfs::to_c(readdir_inner(dir, unsafe { &mut *ctx }))
}

fn readdir_inner(dir: Inode, ctx: &mut ffi::dir_context) -> Result {
    let geo = &Ext2Sb::of(dir.sb()).geo;
    let bs = geo.block_size as i64;
    let size = dir.size() as i64;
    while ctx.pos >= 0 && ctx.pos < size {
        let n = (ctx.pos >> geo.block_bits) as u64;
        let start = (n << geo.block_bits) as i64;
        let bh = dir_block(dir, n)?;
        for d in DirentIter::new(bh.data(), geo.inodes_count, geo.filetype) {
            let d = d.map_err(|_| EIO)?;
            let at = start + d.offset as i64;
            // Entries before the position were already returned (or the
            // position was set by seekdir into the middle of one).
            if at < ctx.pos {
                continue;
            }
            ctx.pos = at;
            if d.inode != 0 {
                let dtype = if geo.filetype {
                    dirent::ftype_to_dtype(d.file_type)
                } else {
                    0
                };
                // SAFETY: `ctx` is live; the name lives in `bh` for the call.
                let more = unsafe {
                    ffi::rext2_h_dir_emit(
                        ctx,
                        d.name.as_ptr().cast(),
                        d.name.len() as c_int,
                        d.inode as u64,
                        dtype as u32,
                    )
                };
                if !more {
                    return Ok(());
                }
            }
            ctx.pos = at + d.rec_len as i64;
        }
        ctx.pos = start + bs;
    }
    Ok(())
}

/// Where an entry lives: directory block `n`, byte `offset`, its inode.
#[derive(Clone, Copy)]
pub(crate) struct EntryLoc {
    pub(crate) n: u64,
    pub(crate) offset: usize,
    pub(crate) ino: u32,
}

/// Finds `name` in `dir` with its location.
pub(crate) fn find_entry_loc(dir: Inode, name: &[u8]) -> Result<Option<EntryLoc>> {
    let geo = &Ext2Sb::of(dir.sb()).geo;
    for n in 0..dir_blocks(dir) {
        let bh = dir_block(dir, n)?;
        for d in DirentIter::new(bh.data(), geo.inodes_count, geo.filetype) {
            let d = d.map_err(|_| EIO)?;
            if d.inode != 0 && d.name == name {
                return Ok(Some(EntryLoc {
                    n,
                    offset: d.offset,
                    ino: d.inode,
                }));
            }
        }
    }
    Ok(None)
}

fn touch_dir(dir: Inode) {
    // SAFETY: the caller holds the directory's i_rwsem.
    unsafe {
        ffi::rext2_h_touch_mc(dir.as_ptr());
        ffi::rext2_h_mark_inode_dirty(dir.as_ptr());
    }
}

/// Adds `name` → `ino` (of `mode`) to `dir`, reusing free space in a
/// directory block or growing the directory by one block.
pub(crate) fn add_entry(dir: Inode, name: &[u8], ino: u32, mode: u16) -> Result {
    let sb = dir.sb();
    let geo = Ext2Sb::of(sb).geo;
    let ft = if geo.filetype {
        dirent::file_type_of_mode(mode)
    } else {
        0
    };
    let nblocks = dir_blocks(dir);
    for n in 0..nblocks {
        let bh = dir_block(dir, n)?;
        let slot = dirent::find_slot(bh.data(), name.len(), geo.inodes_count, geo.filetype)
            .map_err(|e| corrupt(sb, e.reason(), dir.ino()))?;
        if let Some(slot) = slot {
            let mut res = Ok(0);
            bh.modify_for(dir, |b| {
                res = dirent::insert_at(b, slot, ino, name, ft, geo.filetype)
            });
            res.map_err(|e| corrupt(sb, e.reason(), dir.ino()))?;
            touch_dir(dir);
            return Ok(());
        }
    }
    // No room: a new block at the end.
    let (ext, _) = indirect::map_or_alloc(dir, nblocks, 1)?;
    let bh = sb.getblk_zeroed(ext.pblk as u64)?;
    let mut res = Ok(0);
    bh.modify_for(dir, |b| {
        res = match dirent::init_empty_block(b)
            .and_then(|()| dirent::find_slot(b, name.len(), geo.inodes_count, geo.filetype))
        {
            Ok(Some(slot)) => dirent::insert_at(b, slot, ino, name, ft, geo.filetype),
            // An empty block always holds a name of at most 255 bytes.
            Ok(None) => Err(dirent::DirentError::BadBlockSize { len: b.len() }),
            Err(e) => Err(e),
        };
    });
    res.map_err(|e| corrupt(sb, e.reason(), dir.ino()))?;
    // SAFETY: the caller holds the directory's i_rwsem.
    unsafe { ffi::rext2_h_i_size_write(dir.as_ptr(), ((nblocks + 1) << geo.block_bits) as i64) };
    touch_dir(dir);
    Ok(())
}

/// Removes the entry at `loc` from `dir`.
pub(crate) fn delete_entry(dir: Inode, loc: EntryLoc) -> Result {
    let sb = dir.sb();
    let geo = Ext2Sb::of(sb).geo;
    let bh = dir_block(dir, loc.n)?;
    let mut res = Ok(());
    bh.modify_for(dir, |b| {
        res = dirent::remove_entry(b, loc.offset, geo.inodes_count, geo.filetype)
    });
    res.map_err(|e| corrupt(sb, e.reason(), dir.ino()))?;
    touch_dir(dir);
    Ok(())
}

/// Points the entry at `loc` to `ino` (rename over an existing name, or
/// a moved directory's "..").
pub(crate) fn set_entry(dir: Inode, loc: EntryLoc, ino: u32, mode: u16, touch: bool) -> Result {
    let sb = dir.sb();
    let geo = Ext2Sb::of(sb).geo;
    let ft = if geo.filetype {
        dirent::file_type_of_mode(mode)
    } else {
        0
    };
    let bh = dir_block(dir, loc.n)?;
    let mut res = Ok(());
    bh.modify_for(dir, |b| {
        res = dirent::set_entry_inode(b, loc.offset, ino, ft, geo.filetype)
    });
    res.map_err(|e| corrupt(sb, e.reason(), dir.ino()))?;
    if touch {
        touch_dir(dir);
    }
    Ok(())
}

/// The ".." entry of a directory: the second entry of its first block.
pub(crate) fn dotdot(dir: Inode) -> Result<EntryLoc> {
    let sb = dir.sb();
    let geo = Ext2Sb::of(sb).geo;
    let bh = dir_block(dir, 0)?;
    match dirent::find_dotdot(bh.data(), geo.inodes_count, geo.filetype) {
        Ok(Some(d)) => Ok(EntryLoc {
            n: 0,
            offset: d.offset,
            ino: d.inode,
        }),
        _ => Err(corrupt(sb, "directory has no '..' entry", dir.ino())),
    }
}

/// Writes the first block of a new directory: "." and "..".
pub(crate) fn make_empty(dir: Inode, parent_ino: u32) -> Result {
    let sb = dir.sb();
    let geo = Ext2Sb::of(sb).geo;
    let (ext, _) = indirect::map_or_alloc(dir, 0, 1)?;
    let bh = sb.getblk_zeroed(ext.pblk as u64)?;
    let mut res = Ok(());
    bh.modify_for(dir, |b| {
        res = dirent::init_dir_block(b, dir.ino(), parent_ino, geo.filetype)
    });
    res.map_err(|e| corrupt(sb, e.reason(), dir.ino()))?;
    // SAFETY: the new directory is I_NEW, ours alone.
    unsafe { ffi::rext2_h_i_size_write(dir.as_ptr(), geo.block_size as i64) };
    Ok(())
}

/// Whether `dir` holds nothing but "." and "..".
pub(crate) fn is_empty(dir: Inode) -> Result<bool> {
    let sb = dir.sb();
    let geo = Ext2Sb::of(sb).geo;
    for n in 0..dir_blocks(dir) {
        let bh = dir_block(dir, n)?;
        let empty = dirent::is_empty_dir_block(bh.data(), geo.inodes_count, geo.filetype, n == 0)
            .map_err(|e| corrupt(sb, e.reason(), dir.ino()))?;
        if !empty {
            return Ok(false);
        }
    }
    Ok(true)
}
