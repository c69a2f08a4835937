// SPDX-License-Identifier: GPL-2.0
//! ext2 on top of the `vfs` layer.

// Pure logic shared with the host tests; some items are used only there.
#[allow(dead_code, unreachable_pub)]
pub(crate) mod bitmap;
#[allow(dead_code, unreachable_pub)]
pub(crate) mod blockmap;
#[allow(dead_code, unreachable_pub)]
pub(crate) mod dirent;
#[allow(dead_code, unreachable_pub)]
pub(crate) mod layout;

pub(crate) mod balloc;
pub(crate) mod dir;
pub(crate) mod file;
pub(crate) mod ialloc;
pub(crate) mod indirect;
pub(crate) mod inode;
pub(crate) mod namei;
pub(crate) mod superblock;
