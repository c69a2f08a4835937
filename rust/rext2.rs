// SPDX-License-Identifier: GPL-2.0
//! rext2: the ext2 on-disk format in Rust, built around a multipage buffered
//! write path (see README.md).
//!
//! Layout of the crate:
//! - `ffi`: bindgen output for `ffi/rext2_ffi.h` plus C helpers (raw FFI);
//! - `vfs`: safe wrappers over the VFS, page cache and buffer heads;
//! - `write`: the multipage buffered write path over one `allocate` hook,
//!   for any filesystem (knows nothing of ext2);
//! - `ext2`: the filesystem; its `layout`, `blockmap` and `dirent` modules
//!   are pure logic shared with the host unit tests (`rust/pure.rs`).

use kernel::prelude::*;

mod ext2;
mod ffi;
mod vfs;
mod write;

module! {
    type: Rext2Module,
    name: "rext2",
    author: "rext2 developers",
    description: "ext2 filesystem in Rust with a multipage write path",
    license: "GPL",
}

struct Rext2Module;

impl kernel::Module for Rext2Module {
    fn init(module: &'static ThisModule) -> Result<Self> {
        ext2::superblock::register(module.as_ptr().cast())?;
        Ok(Rext2Module)
    }
}

impl Drop for Rext2Module {
    fn drop(&mut self) {
        ext2::superblock::unregister();
    }
}
