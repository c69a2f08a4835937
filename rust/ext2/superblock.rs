// SPDX-License-Identifier: GPL-2.0
//! Mounting: filesystem type registration, mount options, the superblock
//! and group descriptors, statfs, sync, remount and unmount.

use super::inode;
use super::layout::{
    self, put_le16, put_le32, Geometry, GroupDesc, SbError, EXT2_MAGIC, SUPERBLOCK_OFFSET,
    SUPERBLOCK_SIZE,
};
use crate::ffi;
use crate::vfs::folio::StatsDir;
use crate::vfs::{self, BufferHead, CMsg, Level, OpsTable, SuperBlock};
use crate::write::WriteStats;
use core::ffi::{c_char, c_int};
use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

/// What to do when corruption is found (`errors=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum OnError {
    Continue = 1,
    RemountRo = 2,
    Panic = 3,
}

impl OnError {
    fn from_disk(v: u16) -> OnError {
        match v {
            2 => OnError::RemountRo,
            3 => OnError::Panic,
            _ => OnError::Continue,
        }
    }

    fn from_u32(v: u32) -> OnError {
        OnError::from_disk(v as u16)
    }

    fn name(self) -> &'static str {
        match self {
            OnError::Continue => "continue",
            OnError::RemountRo => "remount-ro",
            OnError::Panic => "panic",
        }
    }
}

/// Which buffered write path a mount uses (`write=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WriteMode {
    /// The multipage path over the `allocate` hook (`crate::write`).
    Multipage = 0,
    /// The page-at-a-time `write_begin`/`write_end` + `get_block` path.
    Classic = 1,
}

impl WriteMode {
    fn from_u32(v: u32) -> WriteMode {
        if v == WriteMode::Classic as u32 {
            WriteMode::Classic
        } else {
            WriteMode::Multipage
        }
    }

    fn name(self) -> &'static str {
        match self {
            WriteMode::Multipage => "multipage",
            WriteMode::Classic => "classic",
        }
    }
}

/// Options given at mount or remount; `None` means "not given".
#[derive(Default)]
struct MountOpts {
    errors: Option<OnError>,
    write: Option<WriteMode>,
}

/// Free counts of one group, kept in memory and written through to its
/// descriptor.
#[derive(Clone, Copy, Default)]
pub(crate) struct GroupCounts {
    pub(crate) free_blocks: u32,
    pub(crate) free_inodes: u32,
    pub(crate) used_dirs: u32,
}

/// Everything allocation changes, under one mutex.
pub(crate) struct AllocState {
    pub(crate) groups: KVec<GroupCounts>,
    pub(crate) free_blocks: u64,
    pub(crate) free_inodes: u64,
    /// Blocks promised to writes in flight (the multipage write path's
    /// RESERVE); allocation and statfs leave them alone.
    pub(crate) reserved: u64,
    /// `s_state` as found at mount (restored at a clean unmount).
    mount_state: u16,
}

/// What rext2 keeps per mounted filesystem (`s_fs_info`).
#[pin_data]
pub(crate) struct Ext2Sb {
    pub(crate) geo: Geometry,
    /// The superblock as read at mount.
    pub(crate) disk: layout::SuperBlock,
    /// Group descriptors: where each group's bitmaps and inode table are.
    pub(crate) descs: KVec<GroupDesc>,
    desc_bhs: KVec<BufferHead>,
    sb_bh: BufferHead,
    sb_off: usize,
    on_error: AtomicU32,
    /// Whether the superblock has the large_file ro-compat feature.
    large_file: AtomicBool,
    /// A [`WriteMode`] (`write=`).
    write_mode: AtomicU32,
    /// Counters of the multipage write path, shown in sysfs.
    pub(crate) write_stats: WriteStats,
    /// The sysfs directory of `write_stats`; set once mounted.
    stats_dir: AtomicPtr<StatsDir>,
    #[pin]
    pub(crate) state: Mutex<AllocState>,
    /// Held while blocks are freed and the freeing inode's new state is
    /// put into its on-disk record (see [`Ext2Sb::free_section`]).
    #[pin]
    free_order: Mutex<()>,
    /// Blocks were freed since an fsync last wrote the metadata out.
    frees_unflushed: AtomicBool,
}

impl Ext2Sb {
    /// The rext2 data of a mounted super_block.
    pub(crate) fn of<'a>(sb: SuperBlock) -> &'a Ext2Sb {
        // SAFETY: every super_block handed to rext2's callbacks after
        // fill_super succeeded carries an `Ext2Sb` (set in fill_super, taken
        // back only in kill_sb, after the last callback).
        unsafe { sb.fs_info::<Ext2Sb>() }
    }

    /// The descriptor of group `g`.
    pub(crate) fn desc(&self, g: u32) -> Result<&GroupDesc> {
        self.descs.get(g as usize).ok_or(EINVAL)
    }

    /// Writes group `g`'s counts into its on-disk descriptor.
    pub(crate) fn store_counts(&self, g: u32, c: &GroupCounts) {
        let (blk, off) = self.geo.group_desc_loc(g);
        let idx = (blk - self.geo.first_data_block - 1) as usize;
        if let Some(bh) = self.desc_bhs.get(idx) {
            bh.modify(|d| {
                put_le16(d, off + 12, c.free_blocks as u16);
                put_le16(d, off + 14, c.free_inodes as u16);
                put_le16(d, off + 16, c.used_dirs as u16);
            });
        }
    }

    /// Records in the superblock that a file is over 2 GiB (the large_file
    /// feature), as ext2 does the first time one is written.
    pub(crate) fn note_large_file(&self) {
        if self.large_file.load(Ordering::Relaxed) {
            return;
        }
        let _st = self.state.lock();
        if self.large_file.swap(true, Ordering::Relaxed) {
            return;
        }
        let off = self.sb_off + 100;
        self.sb_bh.modify(|b| {
            let v = layout::le32(b, off).unwrap_or(0);
            put_le32(b, off, v | layout::FEATURE_RO_COMPAT_LARGE_FILE);
        });
    }

    pub(crate) fn write_mode(&self) -> WriteMode {
        WriteMode::from_u32(self.write_mode.load(Ordering::Relaxed))
    }

    /// Runs `free`, which frees blocks of an inode and puts the inode's new
    /// state into its on-disk record, as one section that
    /// [`Ext2Sb::flush_frees`] waits for.
    ///
    /// ext2 has no ordering between the inode that frees a block and a file
    /// that reuses it. If the reuser is fsync'd while the freeing inode's
    /// new state is still only in memory and the machine then crashes, the
    /// disk has two owners for the block; when the old owner held it as an
    /// indirect block, e2fsck reads the new owner's data as block pointers
    /// and "repairs" it. So the sections mark that frees are unflushed, and
    /// fsync writes the metadata out first when they are.
    pub(crate) fn free_section<T>(&self, free: impl FnOnce() -> T) -> T {
        let _nofs = crate::vfs::folio::NoFs::enter();
        let _section = self.free_order.lock();
        self.frees_unflushed.store(true, Ordering::Release);
        free()
    }

    /// Before an fsync: if blocks were freed since the last flush, writes
    /// out every dirty metadata buffer (the freeing inodes' records and
    /// indirect blocks among them), so that no block the fsync'd file took
    /// over is still claimed on disk by its former owner.
    pub(crate) fn flush_frees(&self, sb: SuperBlock) -> Result {
        // Waits for free sections in progress: their records are then in
        // the buffers written below.
        let unflushed = {
            let _section = self.free_order.lock();
            self.frees_unflushed.swap(false, Ordering::AcqRel)
        };
        if unflushed {
            if let Err(e) = sb.sync_device() {
                self.frees_unflushed.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Publishes the reservation total (called with it changed).
    pub(crate) fn note_reserved(&self, st: &AllocState) {
        self.write_stats
            .set(ffi::rext2_stat_REXT2_STAT_RESERVED_NOW, st.reserved);
    }

    fn on_error(&self) -> OnError {
        OnError::from_u32(self.on_error.load(Ordering::Relaxed))
    }

    /// Writes the free counts and `state` into the superblock; waits for
    /// the write when `wait`.
    fn commit_super(&self, st: &AllocState, state: u16, wait: bool) -> Result {
        let now = now_secs();
        let off = self.sb_off;
        self.sb_bh.modify(|b| {
            put_le32(b, off + 12, st.free_blocks.min(u32::MAX as u64) as u32);
            put_le32(b, off + 16, st.free_inodes.min(u32::MAX as u64) as u32);
            put_le32(b, off + 48, now);
            put_le16(b, off + 58, state);
        });
        if wait {
            self.sb_bh.sync()?;
        }
        Ok(())
    }

    /// Current `s_state` on disk.
    fn disk_state(&self) -> u16 {
        layout::le16(self.sb_bh.data(), self.sb_off + 58).unwrap_or(0)
    }

    /// Marks the filesystem in use: not clean until unmounted, one more
    /// mount counted (what e2fsck looks at).
    fn start_rw(&self, sb: SuperBlock) -> Result {
        let mut st = self.state.lock();
        let state = self.disk_state();
        st.mount_state = state;
        warn_if_unchecked(sb, &self.disk, state);
        let off = self.sb_off;
        let now = now_secs();
        self.sb_bh.modify(|b| {
            let count = layout::le16(b, off + 52).unwrap_or(0);
            put_le16(b, off + 52, count.wrapping_add(1));
            if layout::le16(b, off + 54) == Some(0) {
                put_le16(b, off + 54, DEFAULT_MAX_MNT_COUNT);
            }
            put_le32(b, off + 44, now);
        });
        self.commit_super(&st, state & !layout::STATE_VALID, true)
    }

    /// Marks the filesystem clean again (unless it had errors).
    fn stop_rw(&self) -> Result {
        let st = self.state.lock();
        let state = st.mount_state | (self.disk_state() & layout::STATE_ERROR);
        self.commit_super(&st, state, true)
    }
}

/// The default maximal mount count ext2 sets when the field is 0.
const DEFAULT_MAX_MNT_COUNT: u16 = 20;

pub(crate) fn now_secs() -> u32 {
    // SAFETY: plain clock read.
    unsafe { ffi::ktime_get_real_seconds() as u32 }
}

fn warn_if_unchecked(sb: SuperBlock, disk: &layout::SuperBlock, state: u16) {
    let max = disk.max_mnt_count as i16;
    if state & layout::STATE_VALID == 0 {
        sb.msg(
            Level::Warn,
            "warning: mounting unchecked fs, running e2fsck is recommended",
            0,
        );
    } else if state & layout::STATE_ERROR != 0 {
        sb.msg(
            Level::Warn,
            "warning: mounting fs with errors, running e2fsck is recommended",
            0,
        );
    } else if max >= 0 && disk.mnt_count >= max as u16 {
        sb.msg(
            Level::Warn,
            "warning: maximal mount count reached, running e2fsck is recommended",
            disk.mnt_count as u64,
        );
    } else if disk.checkinterval != 0
        && disk.lastcheck as u64 + disk.checkinterval as u64 <= now_secs() as u64
    {
        sb.msg(
            Level::Warn,
            "warning: checktime reached, running e2fsck is recommended",
            0,
        );
    }
}

/// Reports corruption found in a mounted filesystem: logs it, records the
/// error on disk and applies `errors=`. Returns the error for the caller
/// (EUCLEAN).
pub(crate) fn fs_error(sb: SuperBlock, what: &str, value: u64) -> Error {
    on_error(sb, what, value);
    vfs::errno::euclean()
}

/// Reads a bitmap or inode table block; see [`read_failed`].
pub(crate) fn read_meta(sb: SuperBlock, block: u64, what: &str) -> Result<BufferHead> {
    sb.bread(block).map_err(|e| read_failed(sb, what, block, e))
}

/// A bitmap or inode table block that cannot be read is a filesystem error
/// as in ext2 ("cannot read block bitmap", "unable to read inode block"):
/// logged, recorded and handled as `errors=` says. Returns the read's own
/// error (EIO) for the caller. Must not be called with the allocation
/// state locked (the error path locks it).
pub(crate) fn read_failed(sb: SuperBlock, what: &str, block: u64, e: Error) -> Error {
    if e == EIO {
        on_error(sb, what, block);
    }
    e
}

/// `errors=` for an error already found: log, mark the superblock, then
/// continue, remount read-only or panic.
fn on_error(sb: SuperBlock, what: &str, value: u64) {
    sb.msg(Level::Err, what, value);
    let info = Ext2Sb::of(sb);
    if !sb.is_rdonly() {
        let st = info.state.lock();
        let state = info.disk_state() | layout::STATE_ERROR;
        let _ = info.commit_super(&st, state, true);
    }
    match info.on_error() {
        OnError::Panic => {
            let m = CMsg::new(&["panic from previous error: ", what]);
            // SAFETY: the user asked for errors=panic.
            unsafe { ffi::rext2_h_panic(m.as_ptr()) };
        }
        OnError::RemountRo if !sb.is_rdonly() => {
            sb.msg(Level::Err, "error: remounting filesystem read-only", 0);
            sb.set_rdonly();
        }
        _ => {}
    }
}

static mut FS_TYPE: ffi::file_system_type = vfs::zeroed();

static SUPER_OPS: OpsTable<ffi::super_operations> = OpsTable(ffi::super_operations {
    alloc_inode: Some(inode::alloc_inode),
    free_inode: Some(inode::free_inode),
    write_inode: Some(inode::write_inode),
    evict_inode: Some(inode::evict_inode),
    put_super: Some(put_super),
    sync_fs: Some(sync_fs),
    statfs: Some(statfs),
    show_options: Some(show_options),
    ..vfs::zeroed()
});

static CONTEXT_OPS: OpsTable<ffi::fs_context_operations> = OpsTable(ffi::fs_context_operations {
    free: Some(free_fc),
    parse_param: Some(parse_param),
    get_tree: Some(get_tree),
    reconfigure: Some(reconfigure),
    ..vfs::zeroed()
});

/// Registers the `rext2` filesystem type.
pub(crate) fn register(owner: *mut ffi::module) -> Result {
    StatsDir::init()?;
    if let Err(e) = inode::create_cache() {
        StatsDir::exit();
        return Err(e);
    }
    // SAFETY: module init runs once, before anything can see FS_TYPE; the
    // static lives as long as the module (lockdep keys inside it included).
    let ret = unsafe {
        let fs = addr_of_mut!(FS_TYPE);
        (*fs).name = c"rext2".as_ptr();
        (*fs).fs_flags = ffi::FS_REQUIRES_DEV as c_int;
        (*fs).init_fs_context = Some(init_fs_context);
        (*fs).kill_sb = Some(kill_sb);
        (*fs).owner = owner;
        ffi::register_filesystem(fs)
    };
    if ret != 0 {
        inode::destroy_cache();
        StatsDir::exit();
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

pub(crate) fn unregister() {
    // SAFETY: registered in `register`; module exit runs once.
    unsafe { ffi::unregister_filesystem(addr_of_mut!(FS_TYPE)) };
    inode::destroy_cache();
    StatsDir::exit();
}

/// `file_system_type::init_fs_context`.
///
/// # Safety
///
/// Called by the VFS with a live fs_context being set up.
unsafe extern "C" fn init_fs_context(fc: *mut ffi::fs_context) -> c_int {
    let Ok(opts) = KBox::new(MountOpts::default(), GFP_KERNEL) else {
        return ENOMEM.to_errno();
    };
    // SAFETY: `fc` is live and ours to set up; `free_fc` frees the options.
    unsafe {
        (*fc).fs_private = KBox::into_raw(opts).cast();
        (*fc).ops = CONTEXT_OPS.as_ptr();
    }
    0
}

/// The options of a context set up by `init_fs_context`.
fn opts<'a>(fc: *mut ffi::fs_context) -> &'a mut MountOpts {
    // SAFETY: `fs_private` holds our MountOpts from init_fs_context until
    // free_fc; the VFS serialises calls on one context.
    unsafe { &mut *((*fc).fs_private as *mut MountOpts) }
}

/// `fs_context_operations::free`.
///
/// # Safety
///
/// Called by the VFS once, when the context is destroyed.
unsafe extern "C" fn free_fc(fc: *mut ffi::fs_context) {
    // SAFETY: see `opts`; null if init_fs_context failed.
    unsafe {
        let p = (*fc).fs_private as *mut MountOpts;
        if !p.is_null() {
            drop(KBox::from_raw(p));
            (*fc).fs_private = core::ptr::null_mut();
        }
    }
}

fn c_bytes<'a>(s: *const c_char) -> &'a [u8] {
    if s.is_null() {
        return &[];
    }
    // SAFETY: the VFS passes NUL-terminated parameter strings that live for
    // the call.
    unsafe { core::ffi::CStr::from_ptr(s).to_bytes() }
}

/// `fs_context_operations::parse_param`.
///
/// # Safety
///
/// Called by the VFS with a live context and parameter.
unsafe extern "C" fn parse_param(fc: *mut ffi::fs_context, param: *mut ffi::fs_parameter) -> c_int {
    // SAFETY: `param` is live for the call.
    let key = c_bytes(unsafe { (*param).key });
    // SAFETY: as above.
    let value = c_bytes(unsafe { ffi::rext2_h_param_string(param) });
    match key {
        b"errors" => {
            let e = match value {
                b"continue" => OnError::Continue,
                b"remount-ro" => OnError::RemountRo,
                b"panic" => OnError::Panic,
                _ => return fc_error(fc, "errors= takes continue, remount-ro or panic").to_errno(),
            };
            opts(fc).errors = Some(e);
            0
        }
        b"write" => {
            let w = match value {
                b"multipage" => WriteMode::Multipage,
                b"classic" => WriteMode::Classic,
                _ => return fc_error(fc, "write= takes multipage or classic").to_errno(),
            };
            opts(fc).write = Some(w);
            0
        }
        // Let the VFS handle "source" and report unknown options.
        _ => -(ffi::ENOPARAM as c_int),
    }
}

fn fc_error(fc: *mut ffi::fs_context, what: &str) -> Error {
    let m = CMsg::new(&[what]);
    // SAFETY: `fc` is the live context of this mount; `m` is NUL-terminated.
    unsafe { ffi::rext2_h_fc_error(fc, m.as_ptr()) };
    EINVAL
}

fn wants_rw(fc: *mut ffi::fs_context) -> bool {
    // SAFETY: `fc` is the live context of this mount or remount.
    unsafe { (*fc).sb_flags & ffi::SB_RDONLY == 0 }
}

/// `fs_context_operations::get_tree`.
///
/// # Safety
///
/// Called by the VFS with a live, parsed context.
unsafe extern "C" fn get_tree(fc: *mut ffi::fs_context) -> c_int {
    // SAFETY: `fc` is live; fill_super matches get_tree_bdev's contract.
    unsafe { ffi::get_tree_bdev(fc, Some(fill_super)) }
}

/// `fs_context_operations::reconfigure` (remount).
///
/// # Safety
///
/// Called by the VFS with a live context whose `root` is the mounted tree.
unsafe extern "C" fn reconfigure(fc: *mut ffi::fs_context) -> c_int {
    // SAFETY: for a reconfiguration `fc->root` is the mounted root.
    let sb = unsafe { SuperBlock::from_raw((*(*fc).root).d_sb) };
    vfs::to_c(reconfigure_inner(sb, fc))
}

fn reconfigure_inner(sb: SuperBlock, fc: *mut ffi::fs_context) -> Result {
    let info = Ext2Sb::of(sb);
    // SAFETY: `sb` is live and its s_umount is held by the VFS.
    let r = unsafe { ffi::sync_filesystem(sb.as_ptr()) };
    if r != 0 {
        return Err(Error::from_errno(r));
    }
    let was_ro = sb.is_rdonly();
    let want_rw = wants_rw(fc);
    if was_ro && want_rw {
        let unknown = info.disk.feature_ro_compat & !layout::SUPPORTED_RO_COMPAT;
        if unknown != 0 {
            sb.msg(
                Level::Err,
                "couldn't remount RDWR because of unsupported optional features",
                unknown as u64,
            );
            return Err(EROFS);
        }
        info.start_rw(sb)?;
    } else if !was_ro && !want_rw {
        info.stop_rw()?;
    }
    if let Some(e) = opts(fc).errors {
        info.on_error.store(e as u32, Ordering::Relaxed);
    }
    if let Some(w) = opts(fc).write {
        info.write_mode.store(w as u32, Ordering::Relaxed);
    }
    Ok(())
}

/// `file_system_type::kill_sb`.
///
/// # Safety
///
/// Called by the VFS once per super_block, last.
unsafe extern "C" fn kill_sb(sb: *mut ffi::super_block) {
    // SAFETY: the super_block stays live until kill_block_super returns.
    let sbr = unsafe { SuperBlock::from_raw(sb) };
    // SAFETY: as above.
    unsafe { ffi::kill_block_super(sb) };
    // SAFETY: s_fs_info is null or our Ext2Sb; kill_block_super has run
    // every callback that could use it. The struct itself is not freed yet.
    let info = unsafe { sbr.take_fs_info::<Ext2Sb>() };
    if let Some(info) = info {
        let dir = info.stats_dir.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !dir.is_null() {
            // SAFETY: the pointer came from `KBox::into_raw` in fill_super;
            // dropping it removes the directory before the counters go.
            drop(unsafe { KBox::from_raw(dir) });
        }
    }
}

/// `super_operations::put_super`: the last write of a clean unmount.
///
/// # Safety
///
/// Called by the VFS at unmount, after all inodes are gone.
unsafe extern "C" fn put_super(sb: *mut ffi::super_block) {
    // SAFETY: live for the call.
    let sb = unsafe { SuperBlock::from_raw(sb) };
    let leaked = Ext2Sb::of(sb).state.lock().reserved;
    if leaked != 0 {
        sb.msg(Level::Err, "blocks still reserved at unmount", leaked);
    }
    if !sb.is_rdonly() {
        if let Err(e) = Ext2Sb::of(sb).stop_rw() {
            sb.msg(
                Level::Err,
                "unable to write the superblock at unmount",
                e.to_errno().unsigned_abs() as u64,
            );
        }
    }
}

/// `super_operations::sync_fs`.
///
/// # Safety
///
/// Called by the VFS with a live super_block.
unsafe extern "C" fn sync_fs(sb: *mut ffi::super_block, wait: c_int) -> c_int {
    // SAFETY: live for the call.
    let sb = unsafe { SuperBlock::from_raw(sb) };
    if sb.is_rdonly() {
        return 0;
    }
    let info = Ext2Sb::of(sb);
    let st = info.state.lock();
    let state = info.disk_state() & !layout::STATE_VALID;
    vfs::to_c(info.commit_super(&st, state, wait != 0))
}

/// `super_operations::show_options`.
///
/// # Safety
///
/// Called by the VFS with a live seq_file and root dentry.
unsafe extern "C" fn show_options(m: *mut ffi::seq_file, root: *mut ffi::dentry) -> c_int {
    // SAFETY: live for the call.
    let sb = unsafe { SuperBlock::from_raw((*root).d_sb) };
    let info = Ext2Sb::of(sb);
    let w = CMsg::new(&[",write=", info.write_mode().name()]);
    // SAFETY: `m` is live; `w` is NUL-terminated.
    unsafe { ffi::rext2_h_seq_puts(m, w.as_ptr()) };
    let e = info.on_error();
    if e != OnError::from_disk(info.disk.errors) {
        let s = CMsg::new(&[",errors=", e.name()]);
        // SAFETY: `m` is live; `s` is NUL-terminated.
        unsafe { ffi::rext2_h_seq_puts(m, s.as_ptr()) };
    }
    0
}

/// Reads and validates the superblock at the current block size. Returns
/// the buffer, the record's offset in it, the decoded record and geometry.
fn read_super(
    sb: SuperBlock,
    bs: u32,
) -> Result<(
    BufferHead,
    usize,
    layout::SuperBlock,
    Result<Geometry, SbError>,
)> {
    let block = layout::div_nz(SUPERBLOCK_OFFSET, bs as u64);
    let off = layout::rem_nz(SUPERBLOCK_OFFSET, bs as u64) as usize;
    let bh = sb
        .bread(block)
        .inspect_err(|_| sb.msg(Level::Err, "unable to read superblock", block))?;
    let raw = bh.data().get(off..off + SUPERBLOCK_SIZE).ok_or(EINVAL)?;
    let disk = layout::SuperBlock::parse(raw).map_err(|_| EINVAL)?;
    let geo = disk.validate(sb.device_bytes(), sb.is_rdonly());
    Ok((bh, off, disk, geo))
}

fn refuse(sb: SuperBlock, e: SbError) -> Error {
    sb.msg(Level::Err, e.reason(), e.value());
    EINVAL
}

fn fill_super_inner(sb: SuperBlock, fc: *mut ffi::fs_context) -> Result {
    let bs = sb.min_blocksize(1024);
    if bs == 0 {
        sb.msg(Level::Err, "unable to set block size", 1024);
        return Err(EINVAL);
    }
    let (mut sb_bh, mut sb_off, disk, geo) = read_super(sb, bs)?;
    let mut geo = geo.map_err(|e| refuse(sb, e))?;
    if geo.block_size != bs {
        drop(sb_bh);
        if !sb.set_blocksize(geo.block_size) {
            sb.msg(
                Level::Err,
                "device does not support block size",
                geo.block_size as u64,
            );
            return Err(EINVAL);
        }
        let (bh2, off2, disk2, geo2) = read_super(sb, geo.block_size)?;
        geo = geo2.map_err(|e| refuse(sb, e))?;
        if disk2 != disk {
            sb.msg(
                Level::Err,
                "superblock changed while switching block size",
                0,
            );
            return Err(EINVAL);
        }
        sb_bh = bh2;
        sb_off = off2;
    }

    let mut descs = KVec::with_capacity(geo.groups as usize, GFP_KERNEL)?;
    let mut groups = KVec::with_capacity(geo.groups as usize, GFP_KERNEL)?;
    let mut desc_bhs = KVec::with_capacity(geo.desc_blocks as usize, GFP_KERNEL)?;
    for i in 0..geo.desc_blocks {
        let blk = geo.first_data_block as u64 + 1 + i as u64;
        let bh = sb
            .bread(blk)
            .inspect_err(|_| sb.msg(Level::Err, "unable to read group descriptors", blk))?;
        desc_bhs.push(bh, GFP_KERNEL)?;
    }
    let (mut free_blocks, mut free_inodes) = (0u64, 0u64);
    for g in 0..geo.groups {
        let (blk, off) = geo.group_desc_loc(g);
        let bh = desc_bhs
            .get((blk - geo.first_data_block - 1) as usize)
            .ok_or(EINVAL)?;
        let desc = bh
            .data()
            .get(off..off + layout::GROUP_DESC_SIZE)
            .and_then(GroupDesc::parse)
            .ok_or(EINVAL)?;
        desc.validate(&geo, g).map_err(|e| refuse(sb, e))?;
        free_blocks += desc.free_blocks_count as u64;
        free_inodes += desc.free_inodes_count as u64;
        groups.push(
            GroupCounts {
                free_blocks: desc.free_blocks_count as u32,
                free_inodes: desc.free_inodes_count as u32,
                used_dirs: desc.used_dirs_count as u32,
            },
            GFP_KERNEL,
        )?;
        descs.push(desc, GFP_KERNEL)?;
    }
    let on_error = opts(fc).errors.unwrap_or(OnError::from_disk(disk.errors));
    let mount_state = disk.state;
    let large_file = disk.feature_ro_compat & layout::FEATURE_RO_COMPAT_LARGE_FILE != 0;
    let info = KBox::pin_init(
        try_pin_init!(Ext2Sb {
            geo,
            disk,
            descs,
            desc_bhs,
            sb_bh,
            sb_off,
            on_error: AtomicU32::new(on_error as u32),
            large_file: AtomicBool::new(large_file),
            write_mode: AtomicU32::new(opts(fc).write.unwrap_or(WriteMode::Multipage) as u32),
            write_stats: WriteStats::new(),
            stats_dir: AtomicPtr::new(core::ptr::null_mut()),
            state <- new_mutex!(AllocState { groups, free_blocks, free_inodes, reserved: 0, mount_state }, "rext2_alloc"),
            free_order <- new_mutex!((), "rext2_free_order"),
            frees_unflushed: AtomicBool::new(false),
        }),
        GFP_KERNEL,
    )?;
    // SAFETY: the Ext2Sb is never moved out of its box: the super_block
    // owns it through a raw pointer until kill_sb drops it in place.
    sb.set_fs_info(unsafe { Pin::into_inner_unchecked(info) });
    let max_bytes = layout::max_file_size(geo.block_bits);
    // SAFETY: the super_block is being set up and not yet visible.
    unsafe {
        let s = sb.as_ptr();
        (*s).s_magic = EXT2_MAGIC as _;
        (*s).s_op = SUPER_OPS.as_ptr();
        (*s).s_maxbytes = max_bytes as i64;
        (*s).s_max_links = 32000;
        (*s).s_time_gran = 1_000_000_000;
        (*s).s_time_min = i32::MIN as i64;
        (*s).s_time_max = i32::MAX as i64;
    }
    let root = inode::iget(sb, layout::ROOT_INO)?;
    // SAFETY: `root` is a referenced, fully set up inode.
    let mode = unsafe { (*root.as_ptr()).i_mode };
    if mode & layout::S_IFMT != layout::S_IFDIR {
        sb.msg(Level::Err, "corrupt root inode, run e2fsck", 0);
        // SAFETY: we hold the reference iget returned.
        unsafe { ffi::iput(root.as_ptr()) };
        return Err(EINVAL);
    }
    // SAFETY: d_make_root consumes the inode reference, even on failure.
    let dentry = unsafe { ffi::d_make_root(root.as_ptr()) };
    if dentry.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: as above.
    unsafe { (*sb.as_ptr()).s_root = dentry };
    if !sb.is_rdonly() {
        Ext2Sb::of(sb).start_rw(sb)?;
    }
    let info = Ext2Sb::of(sb);
    // SAFETY: the counters live in the Ext2Sb, which kill_sb drops only
    // after removing the directory.
    let dir = unsafe { StatsDir::add(sb, info.write_stats.as_ptr()) }?;
    info.stats_dir.store(
        KBox::into_raw(KBox::new(dir, GFP_KERNEL)?),
        Ordering::Release,
    );
    Ok(())
}

/// The fill_super callback of `get_tree_bdev`.
///
/// # Safety
///
/// Called by the VFS with the new super_block and the mount's context.
unsafe extern "C" fn fill_super(sb: *mut ffi::super_block, fc: *mut ffi::fs_context) -> c_int {
    // SAFETY: the VFS passes the new super_block, live during the call.
    let sbr = unsafe { SuperBlock::from_raw(sb) };
    vfs::to_c(fill_super_inner(sbr, fc))
}

/// `super_operations::statfs`.
///
/// # Safety
///
/// Called by the VFS with a live dentry of this filesystem.
unsafe extern "C" fn statfs(dentry: *mut ffi::dentry, buf: *mut ffi::kstatfs) -> c_int {
    // SAFETY: the VFS passes a live dentry of this filesystem.
    let sb = unsafe { SuperBlock::from_raw((*dentry).d_sb) };
    let info = Ext2Sb::of(sb);
    let geo = &info.geo;
    let reserved = info.disk.r_blocks_count as u64;
    // Blocks reserved by writes in flight are as good as used.
    let (free_blocks, free_inodes) = {
        let st = info.state.lock();
        (st.free_blocks.saturating_sub(st.reserved), st.free_inodes)
    };
    // SAFETY: `buf` is the caller's kstatfs to fill in.
    unsafe {
        (*buf).f_type = EXT2_MAGIC as _;
        (*buf).f_bsize = geo.block_size as _;
        (*buf).f_blocks = geo.blocks_count as u64 - geo.overhead_blocks();
        (*buf).f_bfree = free_blocks;
        (*buf).f_bavail = free_blocks.saturating_sub(reserved);
        (*buf).f_files = geo.inodes_count as u64;
        (*buf).f_ffree = free_inodes;
        (*buf).f_namelen = layout::NAME_LEN as _;
        (*buf).f_fsid = ffi::rext2_h_uuid_to_fsid(info.disk.uuid.as_ptr());
    }
    0
}
