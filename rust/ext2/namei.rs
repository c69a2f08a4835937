// SPDX-License-Identifier: GPL-2.0
//! Name operations: lookup, and the symlink inode operations.

use super::layout::{INLINE_DATA_BYTES, NAME_LEN, S_IFDIR, S_IFLNK, S_IFMT};
use super::superblock::Ext2Sb;
use super::{dir, file, ialloc, inode};
use crate::ffi;
use crate::vfs::{self, errno, Inode};
use core::ffi::c_int;
use core::ptr;
use kernel::prelude::*;

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

/// The inode of a positive dentry.
fn d_inode(dentry: *mut ffi::dentry) -> Option<Inode> {
    // SAFETY: the VFS holds the dentry for the call.
    let raw = unsafe { (*dentry).d_inode };
    // SAFETY: a positive dentry pins its inode.
    (!raw.is_null()).then(|| unsafe { Inode::from_raw(raw) })
}

fn mode_of(inode: Inode) -> u16 {
    // SAFETY: the inode is live.
    unsafe { (*inode.as_ptr()).i_mode }
}

fn is_dir(inode: Inode) -> bool {
    mode_of(inode) & S_IFMT == S_IFDIR
}

fn inc_link(inode: Inode) {
    // SAFETY: the inode is live and the caller holds the needed i_rwsem.
    unsafe { ffi::rext2_h_inode_inc_link_count(inode.as_ptr()) };
}

fn dec_link(inode: Inode) {
    // SAFETY: as in `inc_link`.
    unsafe { ffi::rext2_h_inode_dec_link_count(inode.as_ptr()) };
}

fn touch_c(inode: Inode) {
    // SAFETY: as in `inc_link`.
    unsafe {
        ffi::inode_set_ctime_current(inode.as_ptr());
        ffi::rext2_h_mark_inode_dirty(inode.as_ptr());
    }
}

/// Names `new` (an I_NEW inode) in `dir` and hands it to the dentry; on
/// failure drops the inode again.
fn add_nondir(dir: Inode, dentry: *mut ffi::dentry, new: Inode) -> Result {
    let name = dentry_name(dentry);
    if let Err(e) = dir::add_entry(dir, name, new.ino(), mode_of(new)) {
        dec_link(new);
        ialloc::discard_new(new);
        return Err(e);
    }
    // SAFETY: the dentry is negative and ours; the inode is I_NEW.
    unsafe { ffi::d_instantiate_new(dentry, new.as_ptr()) };
    Ok(())
}

fn check_name(dentry: *mut ffi::dentry) -> Result {
    if dentry_name(dentry).len() > NAME_LEN {
        return Err(errno::enametoolong());
    }
    Ok(())
}

/// `inode_operations::create`.
///
/// # Safety
///
/// Called by the VFS with the directory's i_rwsem held.
pub(crate) unsafe extern "C" fn create(
    idmap: *mut ffi::mnt_idmap,
    dir: *mut ffi::inode,
    dentry: *mut ffi::dentry,
    mode: ffi::umode_t,
    _excl: bool,
) -> c_int {
    // SAFETY: live for the call.
    let dir = unsafe { Inode::from_raw(dir) };
    vfs::to_c((|| {
        check_name(dentry)?;
        let new = ialloc::new_inode(idmap, dir, mode)?;
        file::set_file_ops(new);
        add_nondir(dir, dentry, new)
    })())
}

/// `inode_operations::mknod`.
///
/// # Safety
///
/// Called by the VFS with the directory's i_rwsem held.
pub(crate) unsafe extern "C" fn mknod(
    idmap: *mut ffi::mnt_idmap,
    dir: *mut ffi::inode,
    dentry: *mut ffi::dentry,
    mode: ffi::umode_t,
    rdev: ffi::dev_t,
) -> c_int {
    // SAFETY: live for the call.
    let dir = unsafe { Inode::from_raw(dir) };
    vfs::to_c((|| {
        check_name(dentry)?;
        let new = ialloc::new_inode(idmap, dir, mode)?;
        let (major, minor) = (rdev >> 20, rdev & 0xfffff);
        let ei = inode::info_mut(new);
        if major < 256 && minor < 256 {
            ei.i_data[0] = ((major << 8) | minor).to_le();
        } else {
            ei.i_data[1] = ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)).to_le();
        }
        // SAFETY: I_NEW inode, ours alone.
        unsafe {
            (*new.as_ptr()).i_op = inode::special_iops();
            ffi::init_special_inode(new.as_ptr(), mode, rdev);
        }
        add_nondir(dir, dentry, new)
    })())
}

/// `inode_operations::symlink`: short targets live in the inode ("fast"),
/// longer ones in a data block.
///
/// # Safety
///
/// Called by the VFS with the directory's i_rwsem held.
pub(crate) unsafe extern "C" fn symlink(
    idmap: *mut ffi::mnt_idmap,
    dir: *mut ffi::inode,
    dentry: *mut ffi::dentry,
    target: *const core::ffi::c_char,
) -> c_int {
    // SAFETY: live for the call.
    let dir = unsafe { Inode::from_raw(dir) };
    // SAFETY: the VFS passes a NUL-terminated target.
    let target = unsafe { core::ffi::CStr::from_ptr(target) }.to_bytes();
    vfs::to_c((|| {
        check_name(dentry)?;
        let bs = Ext2Sb::of(dir.sb()).geo.block_size as usize;
        if target.len() + 1 > bs {
            return Err(errno::enametoolong());
        }
        let new = ialloc::new_inode(idmap, dir, S_IFLNK | 0o777)?;
        if target.len() < INLINE_DATA_BYTES {
            let ei = inode::info_mut(new);
            // SAFETY: i_data is INLINE_DATA_BYTES long plus a NUL byte;
            // the target fits with its NUL.
            unsafe {
                let bytes = ei.i_data.as_mut_ptr() as *mut u8;
                ptr::copy_nonoverlapping(target.as_ptr(), bytes, target.len());
                *bytes.add(target.len()) = 0;
                (*new.as_ptr()).__bindgen_anon_4.i_link = bytes.cast();
                ffi::rext2_h_i_size_write(new.as_ptr(), target.len() as i64);
            }
            set_fast_symlink_ops(new);
        } else {
            set_slow_symlink_ops(new);
            // SAFETY: I_NEW inode with its address space set up; the target
            // buffer lives for the call.
            let r = unsafe {
                ffi::page_symlink(
                    new.as_ptr(),
                    target.as_ptr().cast(),
                    target.len() as i32 + 1,
                )
            };
            if r != 0 {
                dec_link(new);
                ialloc::discard_new(new);
                return Err(Error::from_errno(r));
            }
        }
        add_nondir(dir, dentry, new)
    })())
}

/// `inode_operations::link`.
///
/// # Safety
///
/// Called by the VFS with the directory's i_rwsem held.
pub(crate) unsafe extern "C" fn link(
    old: *mut ffi::dentry,
    dir: *mut ffi::inode,
    dentry: *mut ffi::dentry,
) -> c_int {
    // SAFETY: live for the call.
    let dir = unsafe { Inode::from_raw(dir) };
    let Some(inode) = d_inode(old) else {
        return ENOENT.to_errno();
    };
    vfs::to_c((|| {
        check_name(dentry)?;
        touch_c(inode);
        inc_link(inode);
        // SAFETY: we take the reference d_instantiate will own.
        unsafe { ffi::ihold(inode.as_ptr()) };
        if let Err(e) = dir::add_entry(dir, dentry_name(dentry), inode.ino(), mode_of(inode)) {
            dec_link(inode);
            // SAFETY: drops the reference taken above.
            unsafe { ffi::iput(inode.as_ptr()) };
            return Err(e);
        }
        // SAFETY: negative dentry, referenced inode.
        unsafe { ffi::d_instantiate(dentry, inode.as_ptr()) };
        Ok(())
    })())
}

fn unlink_inner(dir: Inode, dentry: *mut ffi::dentry) -> Result<Inode> {
    let inode = d_inode(dentry).ok_or(ENOENT)?;
    let loc = dir::find_entry_loc(dir, dentry_name(dentry))?.ok_or(ENOENT)?;
    if loc.ino != inode.ino() {
        return Err(inode::corrupt(
            dir.sb(),
            "directory entry changed under unlink in directory",
            dir.ino(),
        ));
    }
    dir::delete_entry(dir, loc)?;
    // SAFETY: the inode is live; the ctime follows the directory's.
    unsafe { ffi::inode_set_ctime_current(inode.as_ptr()) };
    dec_link(inode);
    Ok(inode)
}

/// `inode_operations::unlink`.
///
/// # Safety
///
/// Called by the VFS with the directory's and the victim's i_rwsem held.
pub(crate) unsafe extern "C" fn unlink(dir: *mut ffi::inode, dentry: *mut ffi::dentry) -> c_int {
    // SAFETY: live for the call.
    let dir = unsafe { Inode::from_raw(dir) };
    vfs::to_c(unlink_inner(dir, dentry).map(|_| ()))
}

/// `inode_operations::mkdir`.
///
/// # Safety
///
/// Called by the VFS with the directory's i_rwsem held.
pub(crate) unsafe extern "C" fn mkdir(
    idmap: *mut ffi::mnt_idmap,
    dir: *mut ffi::inode,
    dentry: *mut ffi::dentry,
    mode: ffi::umode_t,
) -> c_int {
    // SAFETY: live for the call.
    let dir = unsafe { Inode::from_raw(dir) };
    vfs::to_c((|| {
        check_name(dentry)?;
        inc_link(dir);
        let new = match ialloc::new_inode(idmap, dir, S_IFDIR | mode) {
            Ok(n) => n,
            Err(e) => {
                dec_link(dir);
                return Err(e);
            }
        };
        dir::set_dir_ops(new);
        inc_link(new);
        let made = dir::make_empty(new, dir.ino())
            .and_then(|()| dir::add_entry(dir, dentry_name(dentry), new.ino(), mode_of(new)));
        if let Err(e) = made {
            dec_link(new);
            dec_link(new);
            ialloc::discard_new(new);
            dec_link(dir);
            return Err(e);
        }
        // SAFETY: negative dentry; I_NEW inode.
        unsafe { ffi::d_instantiate_new(dentry, new.as_ptr()) };
        Ok(())
    })())
}

/// `inode_operations::rmdir`.
///
/// # Safety
///
/// Called by the VFS with the directory's and the victim's i_rwsem held.
pub(crate) unsafe extern "C" fn rmdir(dir: *mut ffi::inode, dentry: *mut ffi::dentry) -> c_int {
    // SAFETY: live for the call.
    let dir = unsafe { Inode::from_raw(dir) };
    vfs::to_c((|| {
        let victim = d_inode(dentry).ok_or(ENOENT)?;
        if !dir::is_empty(victim)? {
            return Err(Error::from_errno(-39)); // ENOTEMPTY
        }
        unlink_inner(dir, dentry)?;
        // SAFETY: the victim is live and locked by the VFS.
        unsafe { ffi::rext2_h_i_size_write(victim.as_ptr(), 0) };
        dec_link(victim);
        dec_link(dir);
        Ok(())
    })())
}

const RENAME_NOREPLACE: u32 = 1 << 0;
const RENAME_EXCHANGE: u32 = 1 << 1;

/// `inode_operations::rename`, with `RENAME_NOREPLACE` and
/// `RENAME_EXCHANGE`.
///
/// # Safety
///
/// Called by the VFS with the rename locks held.
pub(crate) unsafe extern "C" fn rename(
    _idmap: *mut ffi::mnt_idmap,
    old_dir: *mut ffi::inode,
    old_dentry: *mut ffi::dentry,
    new_dir: *mut ffi::inode,
    new_dentry: *mut ffi::dentry,
    flags: u32,
) -> c_int {
    // SAFETY: live for the call.
    let (old_dir, new_dir) = unsafe { (Inode::from_raw(old_dir), Inode::from_raw(new_dir)) };
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0 {
        return EINVAL.to_errno();
    }
    let r = if flags & RENAME_EXCHANGE != 0 {
        exchange(old_dir, old_dentry, new_dir, new_dentry)
    } else {
        rename_inner(old_dir, old_dentry, new_dir, new_dentry)
    };
    vfs::to_c(r)
}

fn rename_inner(
    old_dir: Inode,
    old_dentry: *mut ffi::dentry,
    new_dir: Inode,
    new_dentry: *mut ffi::dentry,
) -> Result {
    check_name(new_dentry)?;
    let old = d_inode(old_dentry).ok_or(ENOENT)?;
    let old_name = dentry_name(old_dentry);
    let old_loc = dir::find_entry_loc(old_dir, old_name)?.ok_or(ENOENT)?;
    let moving_dir = is_dir(old);
    let dotdot = if moving_dir {
        Some(dir::dotdot(old)?)
    } else {
        None
    };
    match d_inode(new_dentry) {
        Some(target) => {
            if moving_dir && !dir::is_empty(target)? {
                return Err(Error::from_errno(-39)); // ENOTEMPTY
            }
            let loc = dir::find_entry_loc(new_dir, dentry_name(new_dentry))?.ok_or(ENOENT)?;
            dir::set_entry(new_dir, loc, old.ino(), mode_of(old), true)?;
            touch_c(target);
            if moving_dir {
                dec_link(target);
            }
            dec_link(target);
        }
        None => {
            dir::add_entry(new_dir, dentry_name(new_dentry), old.ino(), mode_of(old))?;
            if moving_dir {
                inc_link(new_dir);
            }
        }
    }
    touch_c(old);
    // The insert may have split entries of the same block: find the old
    // name again rather than trust its earlier offset.
    let again = dir::find_entry_loc(old_dir, old_name)?.filter(|l| l.ino == old_loc.ino);
    match again {
        Some(loc) => dir::delete_entry(old_dir, loc)?,
        None => {
            return Err(inode::corrupt(
                old_dir.sb(),
                "renamed entry vanished from directory",
                old_dir.ino(),
            ))
        }
    }
    if let Some(dd) = dotdot {
        if old_dir.ino() != new_dir.ino() {
            dir::set_entry(old, dd, new_dir.ino(), S_IFDIR, false)?;
        }
        dec_link(old_dir);
    }
    Ok(())
}

fn exchange(
    old_dir: Inode,
    old_dentry: *mut ffi::dentry,
    new_dir: Inode,
    new_dentry: *mut ffi::dentry,
) -> Result {
    let a = d_inode(old_dentry).ok_or(ENOENT)?;
    let b = d_inode(new_dentry).ok_or(ENOENT)?;
    let a_loc = dir::find_entry_loc(old_dir, dentry_name(old_dentry))?.ok_or(ENOENT)?;
    let b_loc = dir::find_entry_loc(new_dir, dentry_name(new_dentry))?.ok_or(ENOENT)?;
    let cross = old_dir.ino() != new_dir.ino();
    let a_dotdot = if cross && is_dir(a) {
        Some(dir::dotdot(a)?)
    } else {
        None
    };
    let b_dotdot = if cross && is_dir(b) {
        Some(dir::dotdot(b)?)
    } else {
        None
    };
    dir::set_entry(old_dir, a_loc, b.ino(), mode_of(b), true)?;
    dir::set_entry(new_dir, b_loc, a.ino(), mode_of(a), true)?;
    if let Some(dd) = a_dotdot {
        dir::set_entry(a, dd, new_dir.ino(), S_IFDIR, false)?;
    }
    if let Some(dd) = b_dotdot {
        dir::set_entry(b, dd, old_dir.ino(), S_IFDIR, false)?;
    }
    if cross && is_dir(a) != is_dir(b) {
        let (gains, loses) = if is_dir(a) {
            (new_dir, old_dir)
        } else {
            (old_dir, new_dir)
        };
        inc_link(gains);
        dec_link(loses);
    }
    touch_c(a);
    touch_c(b);
    Ok(())
}
