// SPDX-License-Identifier: GPL-2.0
//! ext2 allocation bitmaps: searching, setting and clearing runs of bits in
//! one bitmap block. Pure logic, host-tested.
//!
//! Bit `i` is bit `i % 8` of byte `i / 8` (least significant bit first), as
//! ext2 stores its block and inode bitmaps. Only the first `nbits` bits of a
//! bitmap are meaningful: the last group usually has fewer blocks than a
//! bitmap block can describe, and the inode bitmap of every group covers only
//! `inodes_per_group` bits. Nothing here looks at bits past `nbits` or past
//! the end of the slice, and nothing panics whatever the bitmap holds: a
//! range that does not fit is an error, and a search in it finds nothing.

/// What is wrong with a bitmap operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitmapError {
    /// The range `start..start + len` reaches past `nbits` or the slice.
    OutOfRange {
        /// First bit of the range.
        start: u32,
        /// Number of bits in the range.
        len: u32,
    },
    /// Allocating a bit that is already in use.
    AlreadySet {
        /// The first such bit.
        bit: u32,
    },
    /// Freeing a bit that is already free (a double free).
    AlreadyClear {
        /// The first such bit.
        bit: u32,
    },
}

impl BitmapError {
    /// A short English reason for the kernel log.
    pub fn reason(&self) -> &'static str {
        match self {
            BitmapError::OutOfRange { .. } => "bit range outside the bitmap",
            BitmapError::AlreadySet { .. } => "allocating a bit already marked in use",
            BitmapError::AlreadyClear { .. } => "freeing a bit already marked free",
        }
    }

    /// The first bit concerned, for the log.
    pub fn bit(&self) -> u32 {
        match *self {
            BitmapError::OutOfRange { start, .. } => start,
            BitmapError::AlreadySet { bit } | BitmapError::AlreadyClear { bit } => bit,
        }
    }
}

/// Number of usable bits: `nbits`, but never more than the slice holds.
fn limit(bitmap: &[u8], nbits: u32) -> u32 {
    let in_slice = u32::try_from(bitmap.len())
        .unwrap_or(u32::MAX)
        .saturating_mul(8);
    nbits.min(in_slice)
}

/// The end of `start..start + len` when it lies within the usable bits.
fn range_end(bitmap: &[u8], nbits: u32, start: u32, len: u32) -> Result<u32, BitmapError> {
    match start.checked_add(len) {
        Some(end) if end <= limit(bitmap, nbits) => Ok(end),
        _ => Err(BitmapError::OutOfRange { start, len }),
    }
}

/// First bit in `from..to` whose value is `value`. The caller keeps `to`
/// within the slice; a byte that is missing anyway ends the search.
///
/// Whole 64-bit words and whole bytes that cannot match are skipped at once.
fn find_in(bitmap: &[u8], from: u32, to: u32, value: bool) -> Option<u32> {
    // XOR with `flip` turns the bits we look for into ones.
    let flip: u8 = if value { 0 } else { 0xff };
    let mut i = from;
    while i < to {
        let byte = (i / 8) as usize;
        if i & 63 == 0 && to - i >= 64 {
            let word = bitmap
                .get(byte..byte.saturating_add(8))
                .and_then(|s| <[u8; 8]>::try_from(s).ok())?;
            let hits = u64::from_le_bytes(word) ^ u64::from_le_bytes([flip; 8]);
            if hits != 0 {
                return Some(i + hits.trailing_zeros());
            }
            i += 64;
            continue;
        }
        let lo = i % 8;
        let hits = (bitmap.get(byte)? ^ flip) >> lo;
        let avail = (8 - lo).min(to - i);
        let tz = hits.trailing_zeros();
        if tz < avail {
            return Some(i + tz);
        }
        i += avail;
    }
    None
}

/// Sets (`value`) or clears every bit in `from..to`, which the caller has
/// checked to be within the slice.
fn fill(bitmap: &mut [u8], from: u32, to: u32, value: bool) {
    let mut i = from;
    while i < to {
        let lo = i % 8;
        let n = (8 - lo).min(to - i);
        // `n` bits starting at bit `lo`; n == 8 only when lo == 0.
        let mask = (((1u16 << n) - 1) << lo) as u8;
        if let Some(b) = bitmap.get_mut((i / 8) as usize) {
            if value {
                *b |= mask;
            } else {
                *b &= !mask;
            }
        }
        i += n;
    }
}

/// The value of bit `bit`; an error when it is past `nbits` or the slice.
pub fn test_bit(bitmap: &[u8], nbits: u32, bit: u32) -> Result<bool, BitmapError> {
    range_end(bitmap, nbits, bit, 1)?;
    let byte = bitmap
        .get((bit / 8) as usize)
        .ok_or(BitmapError::OutOfRange { start: bit, len: 1 })?;
    Ok(byte & (1 << (bit % 8)) != 0)
}

/// Number of clear bits among the first `nbits` (or as many as the slice
/// holds, if fewer).
pub fn count_zeros(bitmap: &[u8], nbits: u32) -> u32 {
    let n = limit(bitmap, nbits);
    let full = (n / 8) as usize;
    let mut ones: u32 = bitmap
        .get(..full)
        .unwrap_or(&[])
        .iter()
        .map(|b| b.count_ones())
        .sum();
    let tail = n % 8;
    if tail != 0 {
        if let Some(b) = bitmap.get(full) {
            ones += (b & ((1u8 << tail) - 1)).count_ones();
        }
    }
    n - ones
}

/// First clear bit at or after `goal`, wrapping around to bit 0; `None` when
/// all usable bits are set. A `goal` past the usable bits counts as 0.
pub fn find_zero(bitmap: &[u8], nbits: u32, goal: u32) -> Option<u32> {
    let n = limit(bitmap, nbits);
    let goal = if goal < n { goal } else { 0 };
    find_in(bitmap, goal, n, false).or_else(|| find_in(bitmap, 0, goal, false))
}

/// Length of the run of clear bits starting at `start`, stopping at `to` or
/// after `max_len` bits.
fn zero_run_len(bitmap: &[u8], start: u32, to: u32, max_len: u32) -> u32 {
    let end = start.saturating_add(max_len).min(to);
    find_in(bitmap, start, end, true)
        .unwrap_or(end)
        .saturating_sub(start)
}

/// Start of the first run of at least `want` clear bits within `from..to`
/// (the run itself may go on up to `run_to`).
fn find_zero_run_start(bitmap: &[u8], from: u32, to: u32, run_to: u32, want: u32) -> Option<u32> {
    let mut i = from;
    while i < to {
        let start = find_in(bitmap, i, to, false)?;
        let len = zero_run_len(bitmap, start, run_to, want);
        if len >= want {
            return Some(start);
        }
        // The run is too short: go on after the set bit that ended it.
        i = start.saturating_add(len).saturating_add(1);
    }
    None
}

/// Length of a free run that [`find_zero_run`] prefers to a lone free bit.
pub const PREFERRED_RUN: u32 = 8;

/// Chooses where to allocate up to `max_len` consecutive bits, near `goal`,
/// and returns `(start, len)` with `1 <= len <= max_len`: the run of clear
/// bits starting at the chosen bit. `None` when every usable bit is set or
/// `max_len` is 0. A `goal` past the usable bits counts as 0.
///
/// The choice follows the spirit of ext2's "find next usable block", in
/// order of preference:
/// 1. `goal` itself, if it is clear (a file grows in place);
/// 2. the first clear bit after `goal` within the same 64-bit word (close
///    enough that the file stays nearly contiguous);
/// 3. the start of the first run of at least `min(max_len, 8)` clear bits
///    after `goal` (rather than filling a one-bit hole, which would split a
///    new file's blocks);
/// 4. the first clear bit after `goal`;
/// 5. the same two searches again from bit 0 up to `goal` (wrapping).
pub fn find_zero_run(bitmap: &[u8], nbits: u32, goal: u32, max_len: u32) -> Option<(u32, u32)> {
    if max_len == 0 {
        return None;
    }
    let n = limit(bitmap, nbits);
    let goal = if goal < n { goal } else { 0 };
    let want = max_len.min(PREFERRED_RUN);
    let near_end = (goal | 63).saturating_add(1).min(n);
    let start = find_in(bitmap, goal, near_end, false)
        .or_else(|| find_zero_run_start(bitmap, goal, n, n, want))
        .or_else(|| find_in(bitmap, goal, n, false))
        .or_else(|| find_zero_run_start(bitmap, 0, goal, n, want))
        .or_else(|| find_in(bitmap, 0, goal, false))?;
    Some((start, zero_run_len(bitmap, start, n, max_len)))
}

/// Marks bits `start..start + len` in use. Fails, changing nothing, when the
/// range is out of bounds or any bit in it is already set.
pub fn set_run(bitmap: &mut [u8], nbits: u32, start: u32, len: u32) -> Result<(), BitmapError> {
    let end = range_end(bitmap, nbits, start, len)?;
    if let Some(bit) = find_in(bitmap, start, end, true) {
        return Err(BitmapError::AlreadySet { bit });
    }
    fill(bitmap, start, end, true);
    Ok(())
}

/// Marks bits `start..start + len` free. Fails, changing nothing, when the
/// range is out of bounds or any bit in it is already clear: freeing a free
/// block or inode means the filesystem is corrupt.
pub fn clear_run(bitmap: &mut [u8], nbits: u32, start: u32, len: u32) -> Result<(), BitmapError> {
    let end = range_end(bitmap, nbits, start, len)?;
    if let Some(bit) = find_in(bitmap, start, end, false) {
        return Err(BitmapError::AlreadyClear { bit });
    }
    fill(bitmap, start, end, false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simple deterministic generator for the randomized tests.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    fn bit(b: &[u8], i: u32) -> bool {
        b[(i / 8) as usize] & (1 << (i % 8)) != 0
    }

    /// Reference: first clear bit at or after goal, wrapping.
    fn model_find_zero(b: &[u8], n: u32, goal: u32) -> Option<u32> {
        let goal = if goal < n { goal } else { 0 };
        (goal..n).chain(0..goal).find(|&i| !bit(b, i))
    }

    fn random_bitmap(rng: &mut XorShift, len: usize) -> Vec<u8> {
        // Mix densities: mostly full, mostly empty, and random.
        let density = rng.below(4);
        (0..len)
            .map(|_| match density {
                0 => 0xff,
                1 => {
                    if rng.below(16) == 0 {
                        rng.next() as u8
                    } else {
                        0xff
                    }
                }
                2 => {
                    if rng.below(16) == 0 {
                        rng.next() as u8
                    } else {
                        0
                    }
                }
                _ => rng.next() as u8,
            })
            .collect()
    }

    #[test]
    fn bit_order_is_lsb_first() {
        let b = [0b0000_0101u8, 0x80];
        assert_eq!(test_bit(&b, 16, 0), Ok(true));
        assert_eq!(test_bit(&b, 16, 1), Ok(false));
        assert_eq!(test_bit(&b, 16, 2), Ok(true));
        assert_eq!(test_bit(&b, 16, 15), Ok(true));
        assert_eq!(test_bit(&b, 16, 14), Ok(false));
        assert_eq!(
            test_bit(&b, 15, 15),
            Err(BitmapError::OutOfRange { start: 15, len: 1 })
        );
        assert!(test_bit(&b, 100, 16).is_err());
        assert!(test_bit(&b, u32::MAX, u32::MAX).is_err());
    }

    #[test]
    fn count_zeros_respects_nbits_and_slice() {
        let b = [0xffu8, 0x0f, 0x00];
        assert_eq!(count_zeros(&b, 24), 12);
        assert_eq!(count_zeros(&b, 12), 0);
        assert_eq!(count_zeros(&b, 13), 1);
        assert_eq!(count_zeros(&b, 0), 0);
        // More bits asked for than the slice has: only the slice counts.
        assert_eq!(count_zeros(&b, 1000), 12);
        assert_eq!(count_zeros(&[], 8), 0);
    }

    #[test]
    fn find_zero_wraps_and_skips_full_words() {
        let mut b = [0xffu8; 32];
        assert_eq!(find_zero(&b, 256, 0), None);
        b[3] = 0xfe; // bit 24
        assert_eq!(find_zero(&b, 256, 0), Some(24));
        assert_eq!(find_zero(&b, 256, 24), Some(24));
        assert_eq!(find_zero(&b, 256, 25), Some(24)); // wrapped
        assert_eq!(find_zero(&b, 256, 1000), Some(24)); // goal past the end
        b[31] = 0x7f; // bit 255
        assert_eq!(find_zero(&b, 256, 25), Some(255));
        // Bit 255 is beyond nbits = 255.
        assert_eq!(find_zero(&b, 255, 25), Some(24));
        // Bits beyond nbits are never found, even if clear.
        let b = [0xffu8, 0x00];
        assert_eq!(find_zero(&b, 8, 0), None);
        assert_eq!(find_zero(&b, 9, 3), Some(8));
        assert_eq!(find_zero(&[], 100, 0), None);
    }

    #[test]
    fn find_zero_matches_model() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        for _ in 0..3000 {
            let len = rng.below(80) as usize;
            let b = random_bitmap(&mut rng, len);
            let n = rng.below(len as u64 * 8 + 20) as u32;
            let goal = rng.below(n as u64 + 10) as u32;
            let n_eff = n.min(len as u32 * 8);
            assert_eq!(
                find_zero(&b, n, goal),
                model_find_zero(&b, n_eff, goal),
                "len {len} n {n} goal {goal} {b:02x?}"
            );
        }
    }

    #[test]
    fn count_zeros_matches_model() {
        let mut rng = XorShift(77);
        for _ in 0..2000 {
            let len = rng.below(70) as usize;
            let b = random_bitmap(&mut rng, len);
            let n = rng.below(len as u64 * 8 + 20) as u32;
            let n_eff = n.min(len as u32 * 8);
            let model = (0..n_eff).filter(|&i| !bit(&b, i)).count() as u32;
            assert_eq!(count_zeros(&b, n), model);
        }
    }

    #[test]
    fn run_prefers_goal_then_nearby_then_free_runs() {
        // Goal free: take it and extend.
        let mut b = [0u8; 16];
        b[0] = 0b1110_0000; // bits 5..8 used
        assert_eq!(find_zero_run(&b, 128, 2, 10), Some((2, 3)));
        assert_eq!(find_zero_run(&b, 128, 2, 2), Some((2, 2)));
        // Goal used: a free bit in the same 64-bit word wins.
        assert_eq!(find_zero_run(&b, 128, 5, 4), Some((8, 4)));
        // Goal used and its word full: skip one-bit holes for a real run.
        let mut b = [0xffu8; 32];
        b[9] = 0xfe; // bit 72 alone
        b[12] = 0x00; // bits 96..104
        b[13] = 0x03; // bits 106..112 free as well
        assert_eq!(find_zero_run(&b, 256, 60, 16), Some((96, 8)));
        // A run long enough for a short request is taken at the lone hole.
        assert_eq!(find_zero_run(&b, 256, 60, 1), Some((72, 1)));
        // ... and so is a nearby hole, in the goal's own 64-bit word.
        assert_eq!(find_zero_run(&b, 256, 64, 16), Some((72, 1)));
        // No run of 8 anywhere: the first free bit after the goal.
        b[12] = 0xf0; // bits 96..100 free
        assert_eq!(find_zero_run(&b, 256, 60, 16), Some((72, 1)));
        // Wrapping: everything after the goal is used.
        let mut b = [0xffu8; 32];
        b[1] = 0x00;
        assert_eq!(find_zero_run(&b, 256, 200, 4), Some((8, 4)));
        assert_eq!(find_zero_run(&b, 256, 200, 100), Some((8, 8)));
        // Nothing free, or nothing asked for.
        assert_eq!(find_zero_run(&[0xff; 8], 64, 0, 3), None);
        assert_eq!(find_zero_run(&[0; 8], 64, 0, 0), None);
        assert_eq!(find_zero_run(&[], 64, 0, 3), None);
        // Runs stop at nbits.
        assert_eq!(find_zero_run(&[0; 8], 10, 7, 100), Some((7, 3)));
    }

    #[test]
    fn run_results_are_valid_and_near_goal() {
        let mut rng = XorShift(0xfeed_beef);
        for _ in 0..3000 {
            let len = rng.below(64) as usize;
            let b = random_bitmap(&mut rng, len);
            let n = rng.below(len as u64 * 8 + 16) as u32;
            let n_eff = n.min(len as u32 * 8);
            let goal = rng.below(n as u64 + 4) as u32;
            let max_len = rng.below(40) as u32;
            let res = find_zero_run(&b, n, goal, max_len);
            let any_free = model_find_zero(&b, n_eff, 0).is_some();
            match res {
                None => assert!(!any_free || max_len == 0),
                Some((s, l)) => {
                    assert!(l >= 1 && l <= max_len);
                    assert!(s + l <= n_eff);
                    assert!((s..s + l).all(|i| !bit(&b, i)));
                    // The run is maximal up to max_len.
                    if l < max_len && s + l < n_eff {
                        assert!(bit(&b, s + l));
                    }
                    let g = if goal < n_eff { goal } else { 0 };
                    if !bit(&b, g) {
                        assert_eq!(s, g);
                    }
                    // After the goal whenever something is free there.
                    if model_find_zero(&b, n_eff, g).is_some_and(|f| f >= g) {
                        assert!(s >= g, "s {s} goal {g}");
                    }
                }
            }
        }
    }

    #[test]
    fn set_and_clear_runs() {
        let mut b = [0u8; 8];
        assert_eq!(set_run(&mut b, 64, 3, 10), Ok(()));
        assert_eq!(b[..2], [0b1111_1000, 0b0001_1111]);
        // Overlap with set bits fails and changes nothing.
        assert_eq!(
            set_run(&mut b, 64, 0, 5),
            Err(BitmapError::AlreadySet { bit: 3 })
        );
        assert_eq!(b[..2], [0b1111_1000, 0b0001_1111]);
        assert_eq!(
            clear_run(&mut b, 64, 10, 5),
            Err(BitmapError::AlreadyClear { bit: 13 })
        );
        assert_eq!(b[..2], [0b1111_1000, 0b0001_1111]);
        assert_eq!(clear_run(&mut b, 64, 5, 4), Ok(()));
        assert_eq!(b[..2], [0b0001_1000, 0b0001_1110]);
        // A whole aligned word.
        let mut b = [0u8; 16];
        assert_eq!(set_run(&mut b, 128, 0, 128), Ok(()));
        assert_eq!(b, [0xff; 16]);
        assert_eq!(clear_run(&mut b, 128, 64, 64), Ok(()));
        assert_eq!(count_zeros(&b, 128), 64);
        // Empty runs are fine anywhere within bounds.
        assert_eq!(set_run(&mut b, 128, 128, 0), Ok(()));
        assert_eq!(clear_run(&mut b, 128, 0, 0), Ok(()));
    }

    #[test]
    fn out_of_range_runs_are_rejected() {
        let mut b = [0u8; 4];
        let before = b;
        for (nbits, start, len) in [
            (32, 30, 3),
            (20, 19, 2),
            (100, 30, 3),
            (32, 33, 0),
            (32, u32::MAX, 2),
            (u32::MAX, u32::MAX - 1, 2),
        ] {
            assert_eq!(
                set_run(&mut b, nbits, start, len),
                Err(BitmapError::OutOfRange { start, len })
            );
            assert_eq!(
                clear_run(&mut b, nbits, start, len),
                Err(BitmapError::OutOfRange { start, len })
            );
            assert_eq!(b, before);
        }
        assert_eq!(set_run(&mut [], 0, 0, 0), Ok(()));
        assert!(set_run(&mut [], 8, 0, 1).is_err());
    }

    #[test]
    fn set_clear_match_model() {
        let mut rng = XorShift(0x5eed);
        for _ in 0..3000 {
            let len = rng.below(40) as usize;
            let mut b = random_bitmap(&mut rng, len);
            let n = rng.below(len as u64 * 8 + 16) as u32;
            let n_eff = n.min(len as u32 * 8);
            let start = rng.below(n as u64 + 8) as u32;
            let rl = rng.below(80) as u32;
            let before = b.clone();
            let set = rng.below(2) == 0;
            let res = if set {
                set_run(&mut b, n, start, rl)
            } else {
                clear_run(&mut b, n, start, rl)
            };
            if start as u64 + rl as u64 > n_eff as u64 {
                assert_eq!(res, Err(BitmapError::OutOfRange { start, len: rl }));
                assert_eq!(b, before);
                continue;
            }
            let conflict = (start..start + rl).find(|&i| bit(&before, i) == set);
            match conflict {
                Some(c) => {
                    let e = if set {
                        BitmapError::AlreadySet { bit: c }
                    } else {
                        BitmapError::AlreadyClear { bit: c }
                    };
                    assert_eq!(res, Err(e));
                    assert_eq!(b, before);
                }
                None => {
                    assert_eq!(res, Ok(()));
                    for i in 0..len as u32 * 8 {
                        let inside = i >= start && i < start + rl;
                        let want = if inside { set } else { bit(&before, i) };
                        assert_eq!(bit(&b, i), want, "bit {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn allocate_everything_then_free_it() {
        // Allocate with find_zero_run until full, then free it all.
        let mut b = vec![0u8; 128];
        let n = 1000;
        let mut rng = XorShift(99);
        let mut runs = Vec::new();
        while let Some((s, l)) =
            find_zero_run(&b, n, rng.below(1100) as u32, 1 + rng.below(20) as u32)
        {
            set_run(&mut b, n, s, l).unwrap();
            runs.push((s, l));
        }
        assert_eq!(count_zeros(&b, n), 0);
        assert_eq!(runs.iter().map(|r| r.1).sum::<u32>(), n);
        for &(s, l) in runs.iter().rev() {
            clear_run(&mut b, n, s, l).unwrap();
            assert_eq!(
                clear_run(&mut b, n, s, l),
                Err(BitmapError::AlreadyClear { bit: s })
            );
        }
        assert_eq!(count_zeros(&b, n), n);
        // Bits past nbits were never touched.
        assert_eq!(b[125..], [0, 0, 0]);
    }
}
