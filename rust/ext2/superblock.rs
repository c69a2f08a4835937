// SPDX-License-Identifier: GPL-2.0
//! Mounting: filesystem type registration, the superblock and group
//! descriptors, statfs and unmount.

use super::inode;
use super::layout::{
    self, Geometry, GroupDesc, SbError, EXT2_MAGIC, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE,
};
use crate::ffi;
use crate::vfs::{self, CMsg, Level, OpsTable, SuperBlock};
use core::ffi::c_int;
use core::ptr::addr_of_mut;
use kernel::prelude::*;

/// What rext2 keeps per mounted filesystem (`s_fs_info`).
pub(crate) struct Ext2Sb {
    pub(crate) geo: Geometry,
    pub(crate) disk: layout::SuperBlock,
    pub(crate) descs: KVec<GroupDesc>,
    pub(crate) free_blocks: u64,
    pub(crate) free_inodes: u64,
}

impl Ext2Sb {
    /// The rext2 data of a mounted super_block.
    pub(crate) fn of<'a>(sb: SuperBlock) -> &'a Ext2Sb {
        // SAFETY: every super_block handed to rext2's callbacks after
        // fill_super succeeded carries an `Ext2Sb` (set in fill_super, taken
        // back only in kill_sb, after the last callback).
        unsafe { sb.fs_info::<Ext2Sb>() }
    }

    /// The descriptor of group `g`, which exists (geometry invariant).
    pub(crate) fn desc(&self, g: u32) -> Result<&GroupDesc> {
        self.descs.get(g as usize).ok_or(EINVAL)
    }
}

static mut FS_TYPE: ffi::file_system_type = vfs::zeroed();

static SUPER_OPS: OpsTable<ffi::super_operations> = OpsTable(ffi::super_operations {
    alloc_inode: Some(inode::alloc_inode),
    free_inode: Some(inode::free_inode),
    statfs: Some(statfs),
    ..vfs::zeroed()
});

static CONTEXT_OPS: OpsTable<ffi::fs_context_operations> = OpsTable(ffi::fs_context_operations {
    get_tree: Some(get_tree),
    reconfigure: Some(reconfigure),
    ..vfs::zeroed()
});

/// Registers the `rext2` filesystem type.
pub(crate) fn register(owner: *mut ffi::module) -> Result {
    inode::create_cache()?;
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
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

pub(crate) fn unregister() {
    // SAFETY: registered in `register`; module exit runs once.
    unsafe { ffi::unregister_filesystem(addr_of_mut!(FS_TYPE)) };
    inode::destroy_cache();
}

/// `file_system_type::init_fs_context`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn init_fs_context(fc: *mut ffi::fs_context) -> c_int {
    // SAFETY: the VFS passes a live fs_context being set up.
    unsafe { (*fc).ops = CONTEXT_OPS.as_ptr() };
    0
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

const RW_REFUSED: &str = "read-write mounts are not supported yet; mount with -o ro";

/// `fs_context_operations::get_tree`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn get_tree(fc: *mut ffi::fs_context) -> c_int {
    if wants_rw(fc) {
        return fc_error(fc, RW_REFUSED).to_errno();
    }
    // SAFETY: `fc` is live; fill_super matches get_tree_bdev's contract.
    unsafe { ffi::get_tree_bdev(fc, Some(fill_super)) }
}

/// `fs_context_operations::reconfigure` (remount).
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn reconfigure(fc: *mut ffi::fs_context) -> c_int {
    if wants_rw(fc) {
        return fc_error(fc, RW_REFUSED).to_errno();
    }
    0
}

/// `file_system_type::kill_sb`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn kill_sb(sb: *mut ffi::super_block) {
    // SAFETY: the VFS passes the super_block being torn down; it stays live
    // until kill_block_super returns.
    let sbr = unsafe { SuperBlock::from_raw(sb) };
    // SAFETY: as above.
    unsafe { ffi::kill_block_super(sb) };
    // SAFETY: s_fs_info is null or our Ext2Sb; kill_block_super has run
    // every callback that could use it. The struct itself is not freed yet.
    drop(unsafe { sbr.take_fs_info::<Ext2Sb>() });
}

/// Reads and validates the superblock at the current block size. Returns
/// the decoded record and geometry.
fn read_super(sb: SuperBlock, bs: u32) -> Result<(layout::SuperBlock, Result<Geometry, SbError>)> {
    let block = layout::div_nz(SUPERBLOCK_OFFSET, bs as u64);
    let off = layout::rem_nz(SUPERBLOCK_OFFSET, bs as u64) as usize;
    let bh = sb
        .bread(block)
        .inspect_err(|_| sb.msg(Level::Err, "unable to read superblock", block))?;
    let raw = bh.data().get(off..off + SUPERBLOCK_SIZE).ok_or(EINVAL)?;
    let disk = layout::SuperBlock::parse(raw).map_err(|_| EINVAL)?;
    let geo = disk.validate(sb.device_bytes(), sb.is_rdonly());
    Ok((disk, geo))
}

fn refuse(sb: SuperBlock, e: SbError) -> Error {
    sb.msg(Level::Err, e.reason(), e.value());
    EINVAL
}

fn load(sb: SuperBlock) -> Result<Ext2Sb> {
    let bs = sb.min_blocksize(1024);
    if bs == 0 {
        sb.msg(Level::Err, "unable to set block size", 1024);
        return Err(EINVAL);
    }
    let (disk, geo) = read_super(sb, bs)?;
    let mut geo = geo.map_err(|e| refuse(sb, e))?;
    if geo.block_size != bs {
        if !sb.set_blocksize(geo.block_size) {
            sb.msg(
                Level::Err,
                "device does not support block size",
                geo.block_size as u64,
            );
            return Err(EINVAL);
        }
        let (disk2, geo2) = read_super(sb, geo.block_size)?;
        geo = geo2.map_err(|e| refuse(sb, e))?;
        if disk2 != disk {
            sb.msg(
                Level::Err,
                "superblock changed while switching block size",
                0,
            );
            return Err(EINVAL);
        }
    }

    let mut descs = KVec::with_capacity(geo.groups as usize, GFP_KERNEL)?;
    let (mut free_blocks, mut free_inodes) = (0u64, 0u64);
    let mut cur: Option<(u32, vfs::BufferHead)> = None;
    for g in 0..geo.groups {
        let (blk, off) = geo.group_desc_loc(g);
        if cur.as_ref().map(|(b, _)| *b) != Some(blk) {
            let bh = sb.bread(blk as u64).inspect_err(|_| {
                sb.msg(Level::Err, "unable to read group descriptors", blk as u64)
            })?;
            cur = Some((blk, bh));
        }
        let bh = &cur.as_ref().ok_or(EIO)?.1;
        let desc = bh
            .data()
            .get(off..off + layout::GROUP_DESC_SIZE)
            .and_then(GroupDesc::parse)
            .ok_or(EINVAL)?;
        desc.validate(&geo, g).map_err(|e| refuse(sb, e))?;
        free_blocks += desc.free_blocks_count as u64;
        free_inodes += desc.free_inodes_count as u64;
        descs.push(desc, GFP_KERNEL)?;
    }
    if disk.state & layout::STATE_VALID == 0 || disk.state & layout::STATE_ERROR != 0 {
        sb.msg(
            Level::Warn,
            "warning: mounting unchecked fs, running e2fsck is recommended",
            0,
        );
    }
    Ok(Ext2Sb {
        geo,
        disk,
        descs,
        free_blocks,
        free_inodes,
    })
}

/// The fill_super callback of `get_tree_bdev`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn fill_super(sb: *mut ffi::super_block, _fc: *mut ffi::fs_context) -> c_int {
    // SAFETY: the VFS passes the new super_block, live during the call.
    let sbr = unsafe { SuperBlock::from_raw(sb) };
    vfs::to_c(fill_super_inner(sbr))
}

fn fill_super_inner(sb: SuperBlock) -> Result {
    let info = load(sb)?;
    let max_bytes = layout::max_file_size(info.geo.block_bits);
    sb.set_fs_info(KBox::new(info, GFP_KERNEL)?);
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
    let (mode, size) = unsafe { ((*root.as_ptr()).i_mode as u16, root.size()) };
    if mode & layout::S_IFMT != layout::S_IFDIR || size == 0 {
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
    Ok(())
}

/// `super_operations::statfs`.
///
/// # Safety
///
/// Called by the VFS only, with arguments that are live for the call as
/// the C prototype documents.
unsafe extern "C" fn statfs(dentry: *mut ffi::dentry, buf: *mut ffi::kstatfs) -> c_int {
    // SAFETY: the VFS passes a live dentry of this filesystem.
    let sb = unsafe { SuperBlock::from_raw((*dentry).d_sb) };
    let info = Ext2Sb::of(sb);
    let geo = &info.geo;
    let reserved = info.disk.r_blocks_count as u64;
    // SAFETY: `buf` is the caller's kstatfs to fill in.
    unsafe {
        (*buf).f_type = EXT2_MAGIC as _;
        (*buf).f_bsize = geo.block_size as _;
        (*buf).f_blocks = geo.blocks_count as u64 - geo.overhead_blocks();
        (*buf).f_bfree = info.free_blocks;
        (*buf).f_bavail = info.free_blocks.saturating_sub(reserved);
        (*buf).f_files = geo.inodes_count as u64;
        (*buf).f_ffree = info.free_inodes;
        (*buf).f_namelen = layout::NAME_LEN as _;
        (*buf).f_fsid = ffi::rext2_h_uuid_to_fsid(info.disk.uuid.as_ptr());
    }
    0
}
