// SPDX-License-Identifier: GPL-2.0
//! Host build of rext2's pure logic (no kernel dependency), for `cargo test`
//! and fuzzing. The module compiles the very same files.
// The module is `no_std`; the host tests use std's test harness.
#![cfg_attr(not(test), no_std)]

pub mod ext2 {
    pub mod bitmap;
    pub mod blockmap;
    pub mod dirent;
    pub mod layout;
}

pub mod write {
    pub mod plan;
}
