// SPDX-License-Identifier: GPL-2.0
//! Directories: reading directory blocks, readdir and name lookup.

use super::dirent::{self, Dirent, DirentIter};
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
    ..vfs::zeroed()
});

pub(crate) static DIR_IOPS: OpsTable<ffi::inode_operations> = OpsTable(ffi::inode_operations {
    lookup: Some(super::namei::lookup),
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
