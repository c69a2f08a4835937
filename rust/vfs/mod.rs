// SPDX-License-Identifier: GPL-2.0
//! Thin safe layer over the C VFS, page-cache and buffer-head APIs.
//!
//! Raw pointers from the C side are wrapped here into types that own what
//! they point at (a buffer_head reference released on drop) or that borrow
//! it for as long as the VFS guarantees it lives. The filesystem code above
//! uses these types and keeps `unsafe` to the callback entry points.

use crate::ffi;
use core::ffi::{c_char, c_int};
use core::ptr::NonNull;
use kernel::prelude::*;

pub(crate) mod folio;
pub(crate) mod smallvec;

/// Error codes the kernel crate of 6.12 does not name.
pub(crate) mod errno {
    use kernel::error::Error;
    /// Structure needs cleaning: the kernel's EFSCORRUPTED.
    pub(crate) fn euclean() -> Error {
        Error::from_errno(-117)
    }
    pub(crate) fn enametoolong() -> Error {
        Error::from_errno(-36)
    }
}

/// Converts a callback's result into the C convention (0 or -errno).
pub(crate) fn to_c(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `ERR_PTR(e)`.
pub(crate) fn err_ptr<T>(e: Error) -> *mut T {
    e.to_errno() as isize as *mut T
}

/// A table of C operations in a `static`: the pointers inside are to other
/// statics and functions, so sharing it between threads is sound.
#[repr(transparent)]
pub(crate) struct OpsTable<T>(pub(crate) T);

// SAFETY: the tables are never written after construction and only hold
// pointers to functions and other immutable statics.
unsafe impl<T> Sync for OpsTable<T> {}

impl<T> OpsTable<T> {
    pub(crate) const fn as_ptr(&self) -> *const T {
        &self.0
    }
}

/// An all-zero C struct, for `..zeroed()` in operation tables.
pub(crate) const fn zeroed<T>() -> T {
    // SAFETY: only used for bindgen-generated C structs of pointers and
    // integers, for which all-zero is a valid (empty) value.
    unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
}

/// A NUL-terminated copy of a short message, for passing to C.
pub(crate) struct CMsg {
    buf: [u8; 160],
}

impl CMsg {
    pub(crate) fn new(parts: &[&str]) -> CMsg {
        let mut buf = [0u8; 160];
        let mut n = 0;
        for p in parts {
            for &b in p.as_bytes() {
                if n + 1 >= buf.len() {
                    break;
                }
                buf[n] = b;
                n += 1;
            }
        }
        CMsg { buf }
    }

    pub(crate) fn as_ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast()
    }
}

/// Log levels for [`SuperBlock::msg`].
#[derive(Clone, Copy)]
pub(crate) enum Level {
    Err = 3,
    Warn = 4,
}

/// An owned reference to a buffer_head holding one uptodate block.
pub(crate) struct BufferHead {
    bh: NonNull<ffi::buffer_head>,
}

impl BufferHead {
    /// The block's bytes.
    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: we hold a reference, so the buffer_head and its page stay
        // alive; `b_data` points at `b_size` bytes of that page.
        unsafe {
            let bh = self.bh.as_ref();
            core::slice::from_raw_parts(bh.b_data as *const u8, bh.b_size)
        }
    }

    /// Changes the block under the buffer lock and marks it dirty. Callers
    /// serialise changes to the same bytes (allocator mutex, inode state).
    pub(crate) fn modify<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let bh = self.bh.as_ptr();
        // SAFETY: we hold a reference; the buffer lock keeps writeback from
        // reading the block while it changes; `b_data` has `b_size` bytes.
        unsafe {
            ffi::rext2_h_lock_buffer(bh);
            if ffi::rext2_h_buffer_write_io_error(bh) {
                // An earlier write of this block failed, which left it not
                // uptodate; the bytes in memory are still the newest, so
                // write them again (as ext2 does for its superblock).
                ffi::rext2_h_clear_buffer_write_io_error(bh);
                ffi::rext2_h_set_buffer_uptodate(bh);
            }
            let data = core::slice::from_raw_parts_mut((*bh).b_data as *mut u8, (*bh).b_size);
            let r = f(data);
            ffi::unlock_buffer(bh);
            ffi::mark_buffer_dirty(bh);
            r
        }
    }

    /// Like [`BufferHead::modify`], and ties the buffer to `inode` so that
    /// fsync of the inode writes it.
    pub(crate) fn modify_for(&self, inode: Inode, f: impl FnOnce(&mut [u8])) {
        self.modify(f);
        // SAFETY: both are live; this only links the buffer to the mapping.
        unsafe { ffi::mark_buffer_dirty_inode(self.bh.as_ptr(), inode.as_ptr()) };
    }

    /// Writes the buffer now and waits for it.
    pub(crate) fn sync(&self) -> Result {
        // SAFETY: we hold a reference.
        let r = unsafe { ffi::sync_dirty_buffer(self.bh.as_ptr()) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// Drops the buffer and any pending write of it: for a metadata block
    /// being freed, whose old contents must not reach the disk later.
    pub(crate) fn forget(self) {
        let bh = self.bh.as_ptr();
        core::mem::forget(self);
        // SAFETY: we owned one reference; __bforget consumes it.
        unsafe { ffi::__bforget(bh) };
    }

    /// The device block number.
    #[allow(dead_code)]
    pub(crate) fn blocknr(&self) -> u64 {
        // SAFETY: as in `data`.
        unsafe { self.bh.as_ref().b_blocknr }
    }
}

impl Drop for BufferHead {
    fn drop(&mut self) {
        // SAFETY: we own one reference, taken by `sb_bread`.
        unsafe { ffi::rext2_h_brelse(self.bh.as_ptr()) }
    }
}

/// A mounted (or mounting) super_block. The VFS keeps it alive for as long
/// as any of its inodes, files or dentries is in use, which bounds every
/// callback that hands one out.
#[derive(Clone, Copy)]
pub(crate) struct SuperBlock {
    sb: NonNull<ffi::super_block>,
}

impl SuperBlock {
    /// # Safety
    ///
    /// `sb` must point at a live super_block for as long as the returned
    /// value is used.
    pub(crate) unsafe fn from_raw(sb: *mut ffi::super_block) -> SuperBlock {
        SuperBlock {
            // SAFETY: the caller passes a valid, hence non-null, pointer.
            sb: unsafe { NonNull::new_unchecked(sb) },
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::super_block {
        self.sb.as_ptr()
    }

    /// Reads device block `block` (in units of the current block size).
    pub(crate) fn bread(&self, block: u64) -> Result<BufferHead> {
        // SAFETY: `sb` is live (type invariant); sb_bread returns NULL or a
        // referenced, uptodate buffer_head.
        let bh = unsafe { ffi::rext2_h_sb_bread(self.as_ptr(), block) };
        NonNull::new(bh).map(|bh| BufferHead { bh }).ok_or(EIO)
    }

    /// log2 of the block size in force.
    pub(crate) fn block_bits(&self) -> u32 {
        // SAFETY: `sb` is live; the block size is fixed once mounted.
        unsafe { (*self.as_ptr()).s_blocksize_bits as u32 }
    }

    pub(crate) fn is_rdonly(&self) -> bool {
        // SAFETY: `sb` is live.
        unsafe { (*self.as_ptr()).s_flags & ffi::SB_RDONLY as core::ffi::c_ulong != 0 }
    }

    /// A buffer for device block `block` filled with zeros, for a new
    /// metadata block (nothing is read from disk).
    pub(crate) fn getblk_zeroed(&self, block: u64) -> Result<BufferHead> {
        // SAFETY: `sb` is live; sb_getblk returns NULL or a referenced bh.
        let bh = unsafe { ffi::rext2_h_sb_getblk(self.as_ptr(), block) };
        let bh = NonNull::new(bh).map(|bh| BufferHead { bh }).ok_or(ENOMEM)?;
        let raw = bh.bh.as_ptr();
        // SAFETY: we hold a reference; the buffer lock excludes I/O while
        // the contents are replaced and marked uptodate.
        unsafe {
            ffi::rext2_h_lock_buffer(raw);
            core::ptr::write_bytes((*raw).b_data as *mut u8, 0, (*raw).b_size);
            ffi::rext2_h_set_buffer_uptodate(raw);
            ffi::unlock_buffer(raw);
        }
        Ok(bh)
    }

    pub(crate) fn set_rdonly(&self) {
        // SAFETY: `sb` is live; the VFS allows a filesystem to turn itself
        // read-only on errors, as ext2 does.
        unsafe { (*self.as_ptr()).s_flags |= ffi::SB_RDONLY as core::ffi::c_ulong };
    }

    /// Writes every dirty buffer of the underlying block device (the
    /// filesystem's metadata) and waits for it.
    pub(crate) fn sync_device(&self) -> Result {
        // SAFETY: a block filesystem's `s_bdev` is set before fill_super
        // and stays until kill_sb.
        kernel::error::to_result(unsafe { ffi::sync_blockdev((*self.as_ptr()).s_bdev) })
    }

    /// Size of the underlying block device in bytes.
    pub(crate) fn device_bytes(&self) -> u64 {
        // SAFETY: a block filesystem's `s_bdev` is set before fill_super.
        unsafe { ffi::rext2_h_bdev_nr_bytes(self.as_ptr()) as u64 }
    }

    /// Sets the block size to the smallest of `size` and the device's
    /// logical block size; returns the size in force, or 0 on failure.
    pub(crate) fn min_blocksize(&self, size: u32) -> u32 {
        // SAFETY: `sb` is live and being set up.
        unsafe { ffi::sb_min_blocksize(self.as_ptr(), size as c_int) as u32 }
    }

    /// Switches to block size `size`; false if the device cannot.
    pub(crate) fn set_blocksize(&self, size: u32) -> bool {
        // SAFETY: `sb` is live and being set up.
        unsafe { ffi::sb_set_blocksize(self.as_ptr(), size as c_int) != 0 }
    }

    /// Logs a message naming this filesystem's device (rate-limited for
    /// errors and warnings).
    pub(crate) fn msg(&self, level: Level, what: &str, value: u64) {
        let m = CMsg::new(&[what]);
        // SAFETY: `sb` is live; `m` is NUL-terminated.
        unsafe { ffi::rext2_h_sb_msg(self.as_ptr(), level as c_int, m.as_ptr(), value) }
    }

    /// The filesystem's private data set by fill_super.
    ///
    /// # Safety
    ///
    /// `s_fs_info` must hold a `T` placed there with [`SuperBlock::set_fs_info`].
    pub(crate) unsafe fn fs_info<'a, T>(&self) -> &'a T {
        // SAFETY: by the caller's contract the pointer is a live `T`, owned
        // by the super_block until kill_sb.
        unsafe { &*((*self.as_ptr()).s_fs_info as *const T) }
    }

    pub(crate) fn set_fs_info<T>(&self, info: KBox<T>) {
        // SAFETY: `sb` is live; ownership moves to the super_block and is
        // taken back by `take_fs_info` in kill_sb.
        unsafe { (*self.as_ptr()).s_fs_info = KBox::into_raw(info).cast() }
    }

    /// Takes back what `set_fs_info` stored, if anything.
    ///
    /// # Safety
    ///
    /// `s_fs_info` must be null or hold a `T` from [`SuperBlock::set_fs_info`].
    pub(crate) unsafe fn take_fs_info<T>(&self) -> Option<KBox<T>> {
        // SAFETY: `sb` is live.
        let p = unsafe { (*self.as_ptr()).s_fs_info } as *mut T;
        if p.is_null() {
            return None;
        }
        // SAFETY: `sb` is live; the pointer came from `KBox::into_raw`.
        unsafe {
            (*self.as_ptr()).s_fs_info = core::ptr::null_mut();
            Some(KBox::from_raw(p))
        }
    }
}

/// A VFS inode the caller holds a reference to (or that the VFS pins for
/// the duration of a callback).
#[derive(Clone, Copy)]
pub(crate) struct Inode {
    inode: NonNull<ffi::inode>,
}

impl Inode {
    /// # Safety
    ///
    /// `inode` must point at a live inode for as long as the value is used.
    pub(crate) unsafe fn from_raw(inode: *mut ffi::inode) -> Inode {
        Inode {
            // SAFETY: the caller passes a valid, hence non-null, pointer.
            inode: unsafe { NonNull::new_unchecked(inode) },
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::inode {
        self.inode.as_ptr()
    }

    pub(crate) fn sb(&self) -> SuperBlock {
        // SAFETY: a live inode's super_block outlives it.
        unsafe { SuperBlock::from_raw((*self.as_ptr()).i_sb) }
    }

    pub(crate) fn ino(&self) -> u32 {
        // SAFETY: `i_ino` is constant for a live inode; rext2 numbers fit 32 bits.
        unsafe { (*self.as_ptr()).i_ino as u32 }
    }

    pub(crate) fn size(&self) -> u64 {
        // SAFETY: the inode is live; a racy read of i_size is what
        // i_size_read does on 64-bit.
        unsafe { core::ptr::read_volatile(&(*self.as_ptr()).i_size) as u64 }
    }
}
