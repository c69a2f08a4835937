// SPDX-License-Identifier: GPL-2.0
//! Name operations: lookup, and the symlink inode operations.

use super::dir;
use super::inode;
use super::layout::NAME_LEN;
use crate::ffi;
use crate::vfs::{self, errno, Inode};
use core::ptr;

/// The name of a dentry being looked up.
fn dentry_name<'a>(dentry: *mut ffi::dentry) -> &'a [u8] {
    // SAFETY: the VFS holds the dentry and its name stable during lookup.
    unsafe {
        let q = &(*dentry).d_name;
        let len = q.__bindgen_anon_1.__bindgen_anon_1.len as usize;
        core::slice::from_raw_parts(q.name, len)
    }
}

/// `inode_operations::lookup` for directories.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
pub(crate) unsafe extern "C" fn lookup(
    dir: *mut ffi::inode,
    dentry: *mut ffi::dentry,
    _flags: u32,
) -> *mut ffi::dentry {
    // SAFETY: the VFS holds the directory for the call.
    let dir = unsafe { Inode::from_raw(dir) };
    let name = dentry_name(dentry);
    if name.len() > NAME_LEN {
        return vfs::err_ptr(errno::enametoolong());
    }
    let found = match dir::find_entry(dir, name) {
        Ok(v) => v,
        Err(e) => return vfs::err_ptr(e),
    };
    let target = match found {
        None => ptr::null_mut(),
        Some(ino) => match inode::iget(dir.sb(), ino) {
            Ok(i) => i.as_ptr(),
            Err(e) => return vfs::err_ptr(e),
        },
    };
    // SAFETY: d_splice_alias takes over our inode reference (or NULL for a
    // negative dentry).
    unsafe { ffi::d_splice_alias(target, dentry) }
}

pub(crate) fn set_fast_symlink_ops(inode: Inode) {
    // SAFETY: I_NEW inode, ours alone; the table is a kernel static.
    unsafe { (*inode.as_ptr()).i_op = ptr::addr_of!(ffi::simple_symlink_inode_operations) };
}

pub(crate) fn set_slow_symlink_ops(inode: Inode) {
    // SAFETY: I_NEW inode, ours alone; the table is a kernel static. The
    // target is read through the page cache (read_folio), so no highmem.
    unsafe {
        (*inode.as_ptr()).i_op = ptr::addr_of!(ffi::page_symlink_inode_operations);
        ffi::inode_nohighmem(inode.as_ptr());
    }
}
