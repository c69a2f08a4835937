// SPDX-License-Identifier: GPL-2.0
//! Regular files: file and inode operations (reads go through the page
//! cache; see `inode::AOPS`).

use crate::ffi;
use crate::vfs::{self, Inode, OpsTable};

static FILE_FOPS: OpsTable<ffi::file_operations> = OpsTable(ffi::file_operations {
    llseek: Some(ffi::generic_file_llseek),
    read_iter: Some(ffi::generic_file_read_iter),
    mmap: Some(ffi::generic_file_readonly_mmap),
    open: Some(ffi::generic_file_open),
    splice_read: Some(ffi::filemap_splice_read),
    ..vfs::zeroed()
});

static FILE_IOPS: OpsTable<ffi::inode_operations> = OpsTable(vfs::zeroed());

pub(crate) fn set_file_ops(inode: Inode) {
    // SAFETY: I_NEW inode, ours alone.
    unsafe {
        (*inode.as_ptr()).i_op = FILE_IOPS.as_ptr();
        (*inode.as_ptr()).__bindgen_anon_3.i_fop = FILE_FOPS.as_ptr();
    }
}
