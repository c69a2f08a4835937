// SPDX-License-Identifier: GPL-2.0
//! Raw FFI: the bindings generated from `rext2_ffi.h` and the C helpers.
//! Nothing above the `vfs` layer should need this module directly for
//! anything but plain data types and operation tables.

#[allow(
    dead_code,
    clippy::all,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    clippy::undocumented_unsafe_blocks
)]
pub(crate) mod bindings {
    // bindgen is told to leave these out so they map to Rust's own sizes.
    pub type __kernel_size_t = usize;
    pub type __kernel_ssize_t = isize;
    pub type __kernel_ptrdiff_t = isize;
    include!("bindings_generated.rs");
}

pub(crate) use bindings::*;

/// `SB_RDONLY`: a `BIT()` macro, which bindgen cannot evaluate.
pub(crate) const SB_RDONLY: u32 = 1 << 0;
