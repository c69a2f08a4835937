// SPDX-License-Identifier: GPL-2.0
//! Batch arithmetic of the multipage write path. Pure logic, host-tested
//! (`rust/pure.rs`).

/// Pages a batch may lock at most: bounds the memory one write pins.
pub const MAX_BATCH_PAGES: usize = 256;

/// Pages a batch may always take, however little dirty allowance is left
/// (btrfs uses the same floor): below it per-batch costs dominate.
pub const MIN_BATCH_PAGES: usize = 8;

/// The page budget of the next batch: the configured maximum (halved after
/// short copies), bounded by what the task may dirty before it is
/// throttled, but never below `MIN_BATCH_PAGES` (unless the maximum is).
pub fn batch_pages(max_pages: usize, dirty_allowance: usize) -> usize {
    let max = max_pages.clamp(1, MAX_BATCH_PAGES);
    dirty_allowance.clamp(MIN_BATCH_PAGES.min(max), max)
}

/// End (exclusive) of the batch that starts at `pos`, with `remaining`
/// bytes left to write and `pages` pages to use: batches end on page
/// boundaries so that the next one starts with a whole page.
pub fn batch_end(pos: u64, remaining: u64, pages: usize, page_size: u64) -> u64 {
    let first_page = pos - pos % page_size;
    let limit = first_page.saturating_add(pages.max(1) as u64 * page_size);
    pos.saturating_add(remaining).min(limit)
}

/// After a copy of `copied` bytes to `pos` that stopped short, how many
/// can be committed: all of them when the block the copy stopped in held
/// valid data before (read from disk, zeroed, or cached), else only up to
/// that block's start: its other bytes were never initialised.
pub fn committable(pos: u64, copied: u64, block_size: u64, end_block_valid: bool) -> u64 {
    let end = pos + copied;
    if end % block_size == 0 || end_block_valid {
        return copied;
    }
    (end - end % block_size).saturating_sub(pos)
}

/// The blocks a write of `[pos, end)` covers only in part, which must be
/// read (or zeroed) before the copy: the first and the last block, when
/// partial. A block is named by its index; the two may be the same.
pub fn partial_blocks(pos: u64, end: u64, block_bits: u32) -> [Option<u64>; 2] {
    let bs = 1u64 << block_bits;
    if end <= pos {
        return [None, None];
    }
    let head = (pos % bs != 0).then_some(pos >> block_bits);
    let last = (end - 1) >> block_bits;
    let tail = (end % bs != 0 && Some(last) != head).then_some(last);
    [head, tail]
}

/// The part of `[pos, end)` inside the folio at `folio_pos` of
/// `folio_size` bytes, relative to the folio; `None` when they do not meet.
pub fn folio_span(pos: u64, end: u64, folio_pos: u64, folio_size: u64) -> Option<(usize, usize)> {
    let from = pos.max(folio_pos);
    let to = end.min(folio_pos + folio_size);
    (from < to).then(|| ((from - folio_pos) as usize, (to - folio_pos) as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_pages_respects_bounds() {
        assert_eq!(batch_pages(256, 10_000), 256);
        assert_eq!(batch_pages(256, 32), 32);
        assert_eq!(batch_pages(256, 0), MIN_BATCH_PAGES);
        assert_eq!(batch_pages(4, 0), 4);
        assert_eq!(batch_pages(1, 1000), 1);
        assert_eq!(batch_pages(100_000, 100_000), MAX_BATCH_PAGES);
        assert_eq!(batch_pages(0, 0), 1);
    }

    #[test]
    fn batch_end_stops_on_page_boundaries() {
        assert_eq!(batch_end(0, 1 << 20, 256, 4096), 1 << 20);
        assert_eq!(batch_end(0, 10 << 20, 256, 4096), 1 << 20);
        assert_eq!(batch_end(100, 10 << 20, 1, 4096), 4096);
        assert_eq!(batch_end(100, 10, 1, 4096), 110);
        assert_eq!(batch_end(4096 * 3 + 5, 1 << 30, 2, 4096), 4096 * 5);
        assert_eq!(batch_end(u64::MAX - 10, 100, 2, 4096), u64::MAX);
    }

    #[test]
    fn committable_rounds_down_to_valid_data() {
        // Stopped on a block boundary: everything counts.
        assert_eq!(committable(0, 2048, 1024, false), 2048);
        // Stopped inside a block never initialised: back to its start.
        assert_eq!(committable(0, 2500, 1024, false), 2048);
        assert_eq!(committable(1000, 100, 1024, false), 24);
        assert_eq!(committable(1024, 100, 1024, false), 0);
        // ... unless it held valid data.
        assert_eq!(committable(1000, 100, 1024, true), 100);
        assert_eq!(committable(0, 2500, 1024, true), 2500);
        assert_eq!(committable(0, 0, 4096, false), 0);
    }

    #[test]
    fn partial_blocks_finds_edges() {
        assert_eq!(partial_blocks(0, 4096, 10), [None, None]);
        assert_eq!(partial_blocks(100, 4096, 10), [Some(0), None]);
        assert_eq!(partial_blocks(0, 4000, 10), [None, Some(3)]);
        assert_eq!(partial_blocks(100, 200, 10), [Some(0), None]);
        assert_eq!(partial_blocks(1000, 1100, 10), [Some(0), Some(1)]);
        assert_eq!(partial_blocks(1024, 1100, 10), [None, Some(1)]);
        assert_eq!(partial_blocks(5, 5, 10), [None, None]);
    }

    #[test]
    fn folio_span_clips() {
        assert_eq!(folio_span(100, 9000, 4096, 4096), Some((0, 4096)));
        assert_eq!(folio_span(100, 9000, 0, 4096), Some((100, 4096)));
        assert_eq!(folio_span(100, 9000, 8192, 4096), Some((0, 808)));
        assert_eq!(folio_span(100, 9000, 12288, 4096), None);
        assert_eq!(folio_span(4096, 4096, 4096, 4096), None);
    }
}
