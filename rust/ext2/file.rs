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

static FILE_FOPS: OpsTable<ffi::file_operations> = OpsTable(ffi::file_operations {
    llseek: Some(ffi::generic_file_llseek),
    read_iter: Some(ffi::generic_file_read_iter),
    write_iter: Some(ffi::generic_file_write_iter),
    mmap: Some(ffi::generic_file_mmap),
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
