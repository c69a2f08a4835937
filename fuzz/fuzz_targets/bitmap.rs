// SPDX-License-Identifier: GPL-2.0
//! Fuzzes the bitmap searches and updates against a bit-by-bit model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rext2_pure::ext2::bitmap::{
    clear_run, count_zeros, find_zero, find_zero_run, set_run, test_bit, BitmapError,
};

fn bit(b: &[u8], i: u32) -> bool {
    b[(i / 8) as usize] & (1 << (i % 8)) != 0
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let (ctl, bm) = data.split_at(16);
    let bits_in = (bm.len() as u32).saturating_mul(8);
    let word = |i: usize| u32::from_le_bytes([ctl[i], ctl[i + 1], ctl[i + 2], ctl[i + 3]]);
    // Mostly sizes near the slice, sometimes anything.
    let nbits = if ctl[0] & 1 == 0 {
        word(0) % bits_in.saturating_add(16)
    } else {
        word(0)
    };
    let goal = word(4);
    let start = word(8) % bits_in.saturating_add(64);
    let len = word(12) % 4096;
    let n = nbits.min(bits_in);

    let zeros = count_zeros(bm, nbits);
    assert_eq!(zeros, (0..n).filter(|&i| !bit(bm, i)).count() as u32);
    let g = if goal < n { goal } else { 0 };
    let first = (g..n).chain(0..g).find(|&i| !bit(bm, i));
    assert_eq!(find_zero(bm, nbits, goal), first);
    assert_eq!(
        test_bit(bm, nbits, start).ok(),
        (start < n).then(|| bit(bm, start))
    );

    match find_zero_run(bm, nbits, goal, len) {
        Some((s, l)) => {
            assert!(l >= 1 && l <= len && s + l <= n);
            assert!((s..s + l).all(|i| !bit(bm, i)));
            if !bit(bm, g) {
                assert_eq!(s, g);
            }
        }
        None => assert!(len == 0 || zeros == 0),
    }

    let in_range = start as u64 + len as u64 <= n as u64;
    for set in [true, false] {
        let mut b = bm.to_vec();
        let res = if set {
            set_run(&mut b, nbits, start, len)
        } else {
            clear_run(&mut b, nbits, start, len)
        };
        if !in_range {
            assert_eq!(res, Err(BitmapError::OutOfRange { start, len }));
        }
        match res {
            Ok(()) => {
                for i in 0..bits_in {
                    let inside = i >= start && i < start + len;
                    assert_eq!(bit(&b, i), if inside { set } else { bit(bm, i) });
                }
            }
            Err(_) => assert_eq!(b, bm),
        }
    }
});
