// SPDX-License-Identifier: GPL-2.0
//! Regular files: file and inode operations. Data goes through the page
//! cache (see `inode::AOPS`).

use super::inode;
use crate::ffi;
use crate::vfs::{self, Inode, OpsTable};
use core::ffi::c_int;

/// `file_operations::fsync`: data, then the metadata buffers and inode,
/// then a cache flush of the device.
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
    write_iter: Some(ffi::generic_file_write_iter),
    mmap: Some(mmap),
    open: Some(ffi::generic_file_open),
    fsync: Some(fsync),
    splice_read: Some(ffi::filemap_splice_read),
    splice_write: Some(ffi::iter_file_splice_write),
    ..vfs::zeroed()
});

static FILE_IOPS: OpsTable<ffi::inode_operations> = OpsTable(ffi::inode_operations {
    setattr: Some(inode::setattr),
    ..vfs::zeroed()
});

pub(crate) fn set_file_ops(inode: Inode) {
    // SAFETY: I_NEW inode, ours alone.
    unsafe {
        (*inode.as_ptr()).i_op = FILE_IOPS.as_ptr();
        (*inode.as_ptr()).__bindgen_anon_3.i_fop = FILE_FOPS.as_ptr();
    }
}
