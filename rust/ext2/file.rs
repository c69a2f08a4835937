// SPDX-License-Identifier: GPL-2.0
//! Regular files: file and inode operations. Data goes through the page
//! cache (see `inode::AOPS`).

use super::inode;
use super::superblock::{Ext2Sb, WriteMode};
use super::{balloc, blockmap, indirect};
use crate::ffi;
use crate::vfs::folio::{self, IovIter};
use crate::vfs::{self, Inode, OpsTable};
use crate::write::{self, Allocate, Command, Held, Pages, WriteStats};
use core::ffi::c_int;
use kernel::prelude::*;

/// rext2's side of the multipage write path: reservations are counted in
/// blocks (data plus the indirect blocks the range lacks) against the
/// filesystem's free count; allocation fills every hole of a range at once.
impl Allocate for Ext2Sb {
    fn allocate(
        &self,
        inode: Inode,
        pages: Option<&Pages>,
        off: u64,
        len: u64,
        cmd: Command,
        held: &mut Held,
    ) -> Result<u64> {
        let bits = self.geo.block_bits;
        let first = off >> bits;
        let n = if len == 0 {
            0
        } else {
            ((off + len - 1) >> bits) - first + 1
        };
        match cmd {
            Command::Reserve => self.reserve(inode, off, len, first, n, held),
            Command::Map => {
                let all = self.map(inode, pages.ok_or(EINVAL)?, first, n)?;
                Ok(if all { len } else { 0 })
            }
            Command::Alloc => self.alloc(inode, pages.ok_or(EINVAL)?, first, n, held),
            Command::Unreserve => {
                if held.0 == 0 {
                    return Ok(0);
                }
                let mut st = self.state.lock();
                balloc::unreserve(self, &mut st, held.0);
                held.0 = 0;
                Ok(0)
            }
        }
    }

    fn stats(&self) -> &WriteStats {
        &self.write_stats
    }
}

impl Ext2Sb {
    /// `Command::Map` of blocks `[first, first+n)`: whether every block of
    /// the range exists. Out of line, as `alloc`.
    #[inline(never)]
    fn map(&self, inode: Inode, pages: &Pages, first: u64, n: u64) -> Result<bool> {
        let mut all = true;
        let mut l = first;
        while l < first + n {
            let want = (first + n - l).min(u32::MAX as u64) as u32;
            match inode::map_range(inode, l, want)? {
                inode::Mapping::Mapped(ext) => {
                    pages.map_blocks(l, ext.pblk as u64, ext.len as u64, false);
                    l += ext.len as u64;
                }
                // A hole: skip as far as it reaches.
                inode::Mapping::Hole(k) => {
                    all = false;
                    l = l.saturating_add(k.max(1));
                }
            }
        }
        Ok(all)
    }

    /// `Command::Alloc` of blocks `[first, first+n)`. Out of line: inlined,
    /// its large frame made every `Reserve` and `Unreserve` call pay for it.
    #[inline(never)]
    fn alloc(
        &self,
        inode: Inode,
        pages: &Pages,
        first: u64,
        n: u64,
        held: &mut Held,
    ) -> Result<u64> {
        let before = held.0;
        let runs = indirect::alloc_range(inode, first, n, &mut held.0, |l, p, k, new| {
            pages.map_blocks(l, p, k, new)
        })?;
        let s = &self.write_stats;
        s.add(ffi::rext2_stat_REXT2_STAT_ALLOCS, 1);
        s.add(ffi::rext2_stat_REXT2_STAT_ALLOC_RUNS, runs);
        s.add(
            ffi::rext2_stat_REXT2_STAT_ALLOC_BLOCKS,
            before.saturating_sub(held.0),
        );
        Ok(0)
    }

    /// `Command::Reserve`: the blocks a write of `n` blocks from `first`
    /// needs. With plenty of free space, the worst case (every block a
    /// hole, every indirect block missing but those the last allocation
    /// used), known without reading the map;
    /// near full, the exact count read from the map, or the longest prefix
    /// of the range that the free space covers. `Alloc` uses what it needs
    /// and `Unreserve` returns the rest.
    fn reserve(
        &self,
        inode: Inode,
        off: u64,
        len: u64,
        first: u64,
        n: u64,
        held: &mut Held,
    ) -> Result<u64> {
        let bits = self.geo.block_bits;
        // The block the last allocation ended at is mapped: an append
        // right after it reserves exactly its data blocks.
        let hint = inode::last_mapped_block(inode);
        let worst = blockmap::worst_case_need(first, n, bits, hint).total();
        {
            let mut st = self.state.lock();
            if balloc::reserve_with_room(self, &mut st, worst, FAST_RESERVE_FACTOR) {
                held.0 += worst;
                return Ok(len);
            }
        }
        // The map only gains blocks while the writer holds i_rwsem (page
        // faults allocate; nothing frees), so the count stays an upper
        // bound until Alloc. The free count may shrink meanwhile: retry.
        for _ in 0..4 {
            let budget = balloc::available(self, &self.state.lock());
            let need = indirect::alloc_need(inode, first, n, budget)?;
            if need.blocks == 0 {
                return Err(ENOSPC);
            }
            if balloc::reserve(self, &mut self.state.lock(), need.total()) {
                held.0 += need.total();
                let end = (first + need.blocks) << bits;
                return Ok(len.min(end - off));
            }
        }
        Err(ENOSPC)
    }
}

/// Reserve the worst case without reading the block map when the free
/// space is at least this many times it: over-reserving then cannot make
/// another writer see ENOSPC early.
const FAST_RESERVE_FACTOR: u64 = 4;

/// `file_operations::write_iter`: what `generic_file_write_iter` does
/// around the copy (i_rwsem, checks, privileges, times, O_SYNC), plus the
/// zeroing past EOF a write that starts beyond it needs; the copy itself
/// is the multipage path, or with `write=classic` `generic_perform_write`
/// over write_begin/write_end (page at a time).
///
/// # Safety
///
/// Called by the VFS with a live kiocb and iterator.
unsafe extern "C" fn write_iter(iocb: *mut ffi::kiocb, from: *mut ffi::iov_iter) -> isize {
    // SAFETY: live for the call; a regular file's mapping host is its inode.
    let inode = unsafe { Inode::from_raw((*(*(*iocb).ki_filp).f_mapping).host) };
    let info = Ext2Sb::of(inode.sb());
    // SAFETY: live for the call; i_rwsem serialises writers as in
    // generic_file_write_iter.
    let mut ret = unsafe {
        ffi::rext2_h_inode_lock(inode.as_ptr(), true);
        ffi::generic_write_checks(iocb, from)
    };
    if ret > 0 {
        // SAFETY: live for the call, i_rwsem held.
        let r = unsafe {
            let file = (*iocb).ki_filp;
            match ffi::file_remove_privs(file) {
                0 => ffi::file_update_time(file),
                e => e,
            }
        };
        ret = if r != 0 {
            r as isize
        } else {
            // SAFETY: live for the call; i_rwsem held.
            let start = unsafe { (*iocb).ki_pos } as u64;
            // A write that starts past EOF leaves [EOF, start) inside the
            // file: what a store through mmap left there must read as zeros.
            folio::zero_past_eof(inode, inode.size(), start);
            if info.write_mode() == WriteMode::Classic {
                // SAFETY: live for the call, i_rwsem held; advances ki_pos.
                unsafe { ffi::generic_perform_write(iocb, from) }
            } else {
                // SAFETY: the iterator is the caller's, used by this task alone.
                let mut src = unsafe { IovIter::from_raw(from) };
                let mut pos = start;
                let r = write::perform_write(info, inode, &mut pos, &mut src);
                // SAFETY: as above.
                unsafe { (*iocb).ki_pos = pos as i64 };
                match r {
                    Ok(n) => n as isize,
                    Err(e) => e.to_errno() as isize,
                }
            }
        };
    }
    // SAFETY: locked above.
    unsafe { ffi::rext2_h_inode_lock(inode.as_ptr(), false) };
    if ret > 0 {
        // SAFETY: live for the call; O_SYNC/O_DSYNC write-out as in C.
        ret = unsafe { ffi::rext2_h_write_sync(iocb, ret) };
    }
    ret
}

/// `file_operations::fsync`: the metadata of earlier frees if any is
/// unflushed (see `Ext2Sb::flush_frees`), the data, then the metadata
/// buffers and inode, then a cache flush of the device.
///
/// # Safety
///
/// Called by the VFS with an open file.
pub(crate) unsafe extern "C" fn fsync(
    file: *mut ffi::file,
    start: ffi::loff_t,
    end: ffi::loff_t,
    datasync: c_int,
) -> c_int {
    // SAFETY: live for the call.
    let inode = unsafe { Inode::from_raw((*file).f_inode) };
    let sb = inode.sb();
    if let Err(e) = Ext2Sb::of(sb).flush_frees(sb) {
        return e.to_errno();
    }
    // SAFETY: live for the call.
    unsafe { ffi::generic_buffers_fsync(file, start, end, datasync != 0) }
}

/// `vm_operations_struct::page_mkwrite`: allocates the blocks under a
/// page about to be written through a mapping, so that ENOSPC is a SIGBUS
/// at the fault rather than lost data at writeback.
///
/// # Safety
///
/// Called by the fault handler with a live fault descriptor.
unsafe extern "C" fn page_mkwrite(vmf: *mut ffi::vm_fault) -> ffi::vm_fault_t {
    // SAFETY: the fault pins the VMA, its file and the inode.
    unsafe {
        let vma = (*vmf).__bindgen_anon_1.vma;
        let file = (*vma).vm_file;
        let inode = (*file).f_inode;
        let sb = (*inode).i_sb;
        let mapping = (*inode).i_mapping;
        ffi::rext2_h_sb_start_pagefault(sb);
        ffi::file_update_time(file);
        ffi::rext2_h_invalidate_lock_shared(mapping, true);
        let err = ffi::block_page_mkwrite(vma, vmf, Some(inode::get_block));
        ffi::rext2_h_invalidate_lock_shared(mapping, false);
        ffi::rext2_h_sb_end_pagefault(sb);
        ffi::rext2_h_vmf_fs_error(err)
    }
}

static VM_OPS: OpsTable<ffi::vm_operations_struct> = OpsTable(ffi::vm_operations_struct {
    fault: Some(ffi::filemap_fault),
    map_pages: Some(ffi::filemap_map_pages),
    page_mkwrite: Some(page_mkwrite),
    ..vfs::zeroed()
});

/// `file_operations::mmap`.
///
/// # Safety
///
/// Called by the VFS with an open file and the new VMA.
unsafe extern "C" fn mmap(file: *mut ffi::file, vma: *mut ffi::vm_area_struct) -> c_int {
    // SAFETY: live for the call; the VMA is being set up.
    unsafe {
        ffi::rext2_h_file_accessed(file);
        (*vma).vm_ops = VM_OPS.as_ptr();
    }
    0
}

static FILE_FOPS: OpsTable<ffi::file_operations> = OpsTable(ffi::file_operations {
    llseek: Some(ffi::generic_file_llseek),
    read_iter: Some(ffi::generic_file_read_iter),
    write_iter: Some(write_iter),
    mmap: Some(mmap),
    open: Some(ffi::generic_file_open),
    fsync: Some(fsync),
    splice_read: Some(ffi::filemap_splice_read),
    splice_write: Some(ffi::iter_file_splice_write),
    ..vfs::zeroed()
});

static FILE_IOPS: OpsTable<ffi::inode_operations> = OpsTable(ffi::inode_operations {
    setattr: Some(inode::setattr),
    fiemap: Some(fiemap),
    ..vfs::zeroed()
});

/// `inode_operations::fiemap` (FIEMAP, `filefrag`): the block map through
/// the kernel's iomap reporting, as the C ext2 does it.
///
/// # Safety
///
/// Called by the VFS with a live inode and fiemap request.
unsafe extern "C" fn fiemap(
    raw: *mut ffi::inode,
    info: *mut ffi::fiemap_extent_info,
    start: u64,
    len: u64,
) -> c_int {
    // SAFETY: the VFS holds the inode for the call.
    let inode = unsafe { Inode::from_raw(raw) };
    // SAFETY: live for the call; i_rwsem keeps truncate away while the map
    // is walked.
    unsafe { ffi::rext2_h_inode_lock(raw, true) };
    // Nothing lies past EOF (iomap_fiemap refuses a length of 0).
    let len = len.min(inode.size().max(1));
    // SAFETY: as above; the ops table is static.
    let r = unsafe { ffi::iomap_fiemap(raw, info, start, len, &FIEMAP_OPS.0) };
    // SAFETY: locked above.
    unsafe { ffi::rext2_h_inode_lock(raw, false) };
    r
}

static FIEMAP_OPS: OpsTable<ffi::iomap_ops> = OpsTable(ffi::iomap_ops {
    iomap_begin: Some(fiemap_begin),
    ..vfs::zeroed()
});

/// `iomap_ops::iomap_begin` for FIEMAP only (`IOMAP_REPORT`): the run of
/// mapped blocks at `pos`, or the hole there (a whole missing indirect
/// subtree at once, so a sparse file's holes cost a few calls).
///
/// # Safety
///
/// Called by `iomap_fiemap` with a live inode and its iomap to fill in.
unsafe extern "C" fn fiemap_begin(
    raw: *mut ffi::inode,
    pos: ffi::loff_t,
    length: ffi::loff_t,
    _flags: core::ffi::c_uint,
    map: *mut ffi::iomap,
    _srcmap: *mut ffi::iomap,
) -> c_int {
    // SAFETY: the caller holds the inode (and its i_rwsem, in `fiemap`).
    let inode = unsafe { Inode::from_raw(raw) };
    let bits = Ext2Sb::of(inode.sb()).geo.block_bits;
    let first = pos.max(0) as u64 >> bits;
    let blocks = (length.max(1) as u64).div_ceil(1 << bits);
    let found = {
        // Page faults allocate under the map lock, not i_rwsem.
        let _lock = inode::MapLock::lock(inode);
        inode::map_range(inode, first, blocks.min(u32::MAX as u64) as u32)
    };
    let found = match found {
        Ok(f) => f,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: `map` is the caller's to fill; the superblock is live.
    unsafe {
        (*map).flags = 0;
        (*map).offset = (first << bits) as ffi::loff_t;
        (*map).bdev = (*inode.sb().as_ptr()).s_bdev;
        match found {
            inode::Mapping::Mapped(ext) => {
                (*map).type_ = ffi::IOMAP_MAPPED as u16;
                (*map).addr = (ext.pblk as u64) << bits;
                (*map).length = (ext.len as u64) << bits;
                (*map).flags |= ffi::IOMAP_F_MERGED as u16;
            }
            inode::Mapping::Hole(n) => {
                (*map).type_ = ffi::IOMAP_HOLE as u16;
                // IOMAP_NULL_ADDR; no further than asked (`fiemap` stops
                // at EOF).
                (*map).addr = u64::MAX;
                (*map).length = n.min(blocks) << bits;
            }
        }
    }
    0
}

pub(crate) fn set_file_ops(inode: Inode) {
    // SAFETY: I_NEW inode, ours alone.
    unsafe {
        (*inode.as_ptr()).i_op = FILE_IOPS.as_ptr();
        (*inode.as_ptr()).__bindgen_anon_3.i_fop = FILE_FOPS.as_ptr();
    }
}
