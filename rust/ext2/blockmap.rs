// SPDX-License-Identifier: GPL-2.0
//! Block-map arithmetic: where a file's logical block is recorded in the
//! ext2 tree of direct and indirect blocks. Pure logic, host-tested.

use super::layout::N_BLOCKS;

pub const DIRECT_BLOCKS: u64 = 12;
pub const IND_SLOT: usize = 12;
pub const DIND_SLOT: usize = 13;
pub const TIND_SLOT: usize = 14;

/// The path to a logical block: the slot in `i_block`, then one index per
/// level of indirect block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPath {
    /// Number of valid entries in `offsets` (1 to 4).
    pub depth: usize,
    /// `offsets[0]` indexes `i_block`; the rest index indirect blocks.
    pub offsets: [usize; 4],
}

impl BlockPath {
    pub fn as_slice(&self) -> &[usize] {
        &self.offsets[..self.depth]
    }

    /// How many logical blocks after this one share its leaf array (the
    /// same indirect block, or `i_block` for direct blocks), so that a run
    /// can be mapped from one read.
    pub fn leaf_remaining(&self, addr_per_block: u64) -> u64 {
        let last = self.offsets[self.depth - 1] as u64;
        let leaf_len = if self.depth == 1 {
            DIRECT_BLOCKS
        } else {
            addr_per_block
        };
        leaf_len - last - 1
    }

    /// Logical blocks from this path's block to the end of the subtree
    /// under its entry at `level` (0: the `i_block` slot), itself included:
    /// how far a hole reaches when that entry is 0.
    pub fn subtree_remaining(&self, level: usize, addr_per_block: u64) -> u64 {
        let mut rem = 1u64;
        let mut scale = 1u64;
        for j in (level + 1..self.depth).rev() {
            rem += (addr_per_block - 1 - self.offsets[j] as u64) * scale;
            scale *= addr_per_block;
        }
        rem
    }
}

/// Addresses per indirect block for a block size of `1 << block_bits`.
pub fn addr_per_block(block_bits: u32) -> u64 {
    1u64 << (block_bits - 2)
}

/// Maps logical block `lblk` to its path, or `None` past the triple-indirect
/// range.
pub fn block_path(lblk: u64, block_bits: u32) -> Option<BlockPath> {
    let apb = addr_per_block(block_bits);
    let shift = (block_bits - 2) as u64;
    let mut off = [0usize; 4];
    if lblk < DIRECT_BLOCKS {
        off[0] = lblk as usize;
        return Some(BlockPath {
            depth: 1,
            offsets: off,
        });
    }
    let mut rest = lblk - DIRECT_BLOCKS;
    if rest < apb {
        off[0] = IND_SLOT;
        off[1] = rest as usize;
        return Some(BlockPath {
            depth: 2,
            offsets: off,
        });
    }
    rest -= apb;
    if rest < apb * apb {
        off[0] = DIND_SLOT;
        off[1] = (rest >> shift) as usize;
        off[2] = (rest & (apb - 1)) as usize;
        return Some(BlockPath {
            depth: 3,
            offsets: off,
        });
    }
    rest -= apb * apb;
    if rest < apb * apb * apb {
        off[0] = TIND_SLOT;
        off[1] = (rest >> (2 * shift)) as usize;
        off[2] = ((rest >> shift) & (apb - 1)) as usize;
        off[3] = (rest & (apb - 1)) as usize;
        return Some(BlockPath {
            depth: 4,
            offsets: off,
        });
    }
    None
}

/// Number of logical blocks the tree can address.
pub fn addressable_blocks(block_bits: u32) -> u64 {
    let apb = addr_per_block(block_bits);
    DIRECT_BLOCKS + apb + apb * apb + apb * apb * apb
}

const _: () = assert!(N_BLOCKS == 15);

/// Number of blocks a file of `size` bytes covers (its first logical block
/// past the end): what truncating to `size` keeps. Blocks from this one on
/// are freed.
pub fn first_block_to_free(size: u64, block_bits: u32) -> u64 {
    let whole = size.checked_shr(block_bits).unwrap_or(0);
    let mask = 1u64.checked_shl(block_bits).map_or(u64::MAX, |b| b - 1);
    whole + u64::from(size & mask != 0)
}

/// Levels of indirection below `i_block[slot]`: 0 for a direct block (it is
/// data), 1 for the indirect block, 2 for the double and 3 for the triple.
pub fn slot_height(slot: usize) -> u32 {
    match slot {
        IND_SLOT => 1,
        DIND_SLOT => 2,
        TIND_SLOT => 3,
        _ => 0,
    }
}

/// What truncation frees in one array of block pointers: `i_block` at level
/// 0, then the indirect block reached through the previous level's
/// `partial` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LevelPlan {
    /// First entry freed entirely: the block it points at and, for an
    /// indirect block, everything below it; then the entry is zeroed.
    pub whole_from: usize,
    /// One past the last entry freed entirely (`whole_from..whole_to`;
    /// empty when they are equal).
    pub whole_to: usize,
    /// The entry freed only in part: it still maps blocks the file keeps.
    /// Read the block it points at and apply the next level's plan to it;
    /// the entry itself stays. Always before `whole_from`.
    pub partial: Option<usize>,
}

impl LevelPlan {
    /// The entries freed entirely.
    pub fn whole(&self) -> core::ops::Range<usize> {
        self.whole_from..self.whole_to.max(self.whole_from)
    }
}

/// Which parts of the block tree to free when a file shrinks from
/// `old_blocks` to `new_blocks` logical blocks, made by [`truncate_plan`].
///
/// The plan follows the one branch of the tree that holds both blocks the
/// file keeps and blocks it loses (the path of the first block freed, cut
/// short where the rest of a subtree goes entirely). The kernel side walks it
/// with a small recursive function; per array (`i_block`, then one indirect
/// block per level):
///
/// ```text
/// fn free_level(array, plan, level):
///     lp = plan.level(level)
///     if let Some(k) = lp.partial:            // keep array[k] itself
///         free_level(read(array[k]), plan, level + 1)
///     for i in lp.whole():
///         if array[i] != 0:
///             free_tree(array[i], plan.entry_height(level, i))
///             array[i] = 0                    // then dirty the array
/// ```
///
/// where `free_tree(blk, h)` frees every non-zero pointer in `blk` with
/// height `h - 1` (recursively) and then `blk` itself (a data block when
/// `h == 0`). Zero entries are holes and are skipped.
///
/// An indirect block on the partial branch keeps its other entries even if
/// they are all holes: it is not freed (ext2 frees such a block; doing so
/// needs its contents, so it is left to the walker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TruncatePlan {
    /// Number of valid levels (0 when there is nothing to free).
    depth: usize,
    levels: [LevelPlan; 4],
}

impl TruncatePlan {
    /// Whether nothing at all is to be freed.
    pub fn is_empty(&self) -> bool {
        self.depth == 0
    }

    /// The plans for `i_block` and the indirect blocks along the partial
    /// branch, in order. Every level but the last has a `partial` entry.
    pub fn levels(&self) -> &[LevelPlan] {
        self.levels.get(..self.depth).unwrap_or(&[])
    }

    /// The plan for `level`, or an empty one past the last level.
    pub fn level(&self, level: usize) -> LevelPlan {
        self.levels().get(level).copied().unwrap_or_default()
    }

    /// Levels of indirection below entry `index` of the array at `level`
    /// (0: the entry points at a data block).
    pub fn entry_height(&self, level: usize, index: usize) -> u32 {
        if level == 0 {
            return slot_height(index);
        }
        let top = self.level(0).partial.map_or(0, slot_height);
        top.saturating_sub(level as u32)
    }
}

/// Plans freeing logical blocks `new_blocks..old_blocks` (see
/// [`TruncatePlan`]); `old_blocks` is clamped to what the tree can address.
///
/// `old_blocks` only bounds the entries the plan names: entries past the
/// old last block should be holes anyway. To free whatever may be mapped
/// past the new end, as ext2 does, pass [`addressable_blocks`].
pub fn truncate_plan(new_blocks: u64, old_blocks: u64, block_bits: u32) -> TruncatePlan {
    let old_blocks = old_blocks.min(addressable_blocks(block_bits));
    if new_blocks >= old_blocks {
        return TruncatePlan::default();
    }
    match (
        block_path(new_blocks, block_bits),
        block_path(old_blocks - 1, block_bits),
    ) {
        (Some(first), Some(last)) => plan_between(&first, &last, addr_per_block(block_bits)),
        _ => TruncatePlan::default(),
    }
}

/// Plans freeing the blocks from the one at `first` to the one at `last`
/// inclusive (`first` no later than `last`), with `apb` entries per
/// indirect block. The paths are those [`block_path`] makes; a malformed
/// one gives an empty plan or indices past the arrays, never a panic.
pub fn plan_between(first: &BlockPath, last: &BlockPath, apb: u64) -> TruncatePlan {
    let (Some(p), Some(q)) = (
        first.offsets.get(..first.depth),
        last.offsets.get(..last.depth),
    ) else {
        return TruncatePlan::default();
    };
    if p > q || p.is_empty() {
        return TruncatePlan::default();
    }
    // Trailing zero offsets mean the subtree they lead into starts with the
    // first freed block and goes entirely: the branch stops above them.
    let mut depth = p.len();
    while depth > 1 && p.get(depth - 1) == Some(&0) {
        depth -= 1;
    }
    let mut plan = TruncatePlan {
        depth,
        levels: [LevelPlan::default(); 4],
    };
    // While `same`, the branch is also the last block's branch, whose
    // offsets bound what exists at this level.
    let mut same = true;
    for (j, lp) in plan.levels.iter_mut().enumerate().take(depth) {
        let pj = p.get(j).copied().unwrap_or(0);
        let len = if j == 0 { N_BLOCKS } else { apb as usize };
        let end = match q.get(j) {
            Some(&qj) if same => qj.saturating_add(1).min(len),
            _ => len,
        };
        same = same && q.get(j) == Some(&pj);
        let (partial, from) = if j + 1 < depth {
            (Some(pj), pj.saturating_add(1))
        } else {
            (None, pj)
        };
        *lp = LevelPlan {
            whole_from: from,
            whole_to: end.max(from),
            partial,
        };
    }
    plan
}

/// What the block map holds for one logical block, as the allocation
/// planner needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// How many indirect blocks on the block's path do not exist: always
    /// the deepest ones (a missing block has no children).
    pub missing_indirect: usize,
    /// The leaf entry: the data block, or 0 for a hole.
    pub entry: u32,
}

/// Number of indirect blocks, from the top, that two paths share.
pub fn shared_indirect(a: &BlockPath, b: &BlockPath) -> usize {
    if a.depth != b.depth {
        return 0;
    }
    (1..a.depth)
        .take_while(|&k| a.offsets[..k] == b.offsets[..k])
        .count()
}

/// What allocating a range of blocks costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllocNeed {
    /// Blocks of the range covered (a prefix).
    pub blocks: u64,
    /// Holes among them: data blocks to allocate.
    pub data: u64,
    /// Indirect blocks to allocate for them.
    pub indirect: u64,
}

impl AllocNeed {
    pub fn total(&self) -> u64 {
        self.data + self.indirect
    }
}

/// Counts the blocks (data plus indirect) that allocating logical blocks
/// `[first, first+n)` takes, stopping before the first block whose cost
/// would take the total past `budget`: the longest prefix that fits.
/// `slot` reads the map; the walk is in block order, so an indirect block
/// is charged once, to the first hole below it.
pub fn alloc_need<E>(
    first: u64,
    n: u64,
    block_bits: u32,
    budget: u64,
    mut slot: impl FnMut(&BlockPath) -> Result<Slot, E>,
) -> Result<AllocNeed, E> {
    let mut need = AllocNeed::default();
    let mut prev: Option<BlockPath> = None;
    for i in 0..n {
        let Some(path) = block_path(first + i, block_bits) else {
            break;
        };
        let s = slot(&path)?;
        let (data, indirect) = if s.entry != 0 {
            (0, 0)
        } else {
            let shared = prev.map_or(0, |p| shared_indirect(&p, &path));
            let missing = s.missing_indirect.min(path.depth - 1);
            let first_missing = (path.depth - missing).max(shared + 1);
            (1, path.depth.saturating_sub(first_missing) as u64)
        };
        if need.total() + data + indirect > budget {
            break;
        }
        need.blocks += 1;
        need.data += data;
        need.indirect += indirect;
        prev = Some(path);
    }
    Ok(need)
}

/// The most that allocating `[first, first+n)` can take: every block a
/// hole, every indirect block missing except those on the path of
/// `mapped`, a block known to be mapped (its indirect blocks exist).
/// Needs no map reads: the hint is what the filesystem remembers of its
/// last allocation, which makes an append's bound exact.
///
/// The count is closed-form, O(depth) whatever `n`: within one tree (the
/// indirect, double- or triple-indirect one) the indirect blocks at one
/// level are numbered in block order, so a run of blocks meets a
/// contiguous span of them. (`alloc_need` over an all-hole map gives the
/// same answer block by block; the tests hold the two to each other.)
pub fn worst_case_need(first: u64, n: u64, block_bits: u32, mapped: Option<u64>) -> AllocNeed {
    let end = first.saturating_add(n).min(addressable_blocks(block_bits));
    if first >= end {
        return AllocNeed::default();
    }
    let mut need = AllocNeed {
        blocks: end - first,
        data: end - first,
        indirect: 0,
    };
    // An append that stays in the leaf of the block before it (leaves
    // start every apb blocks from the first indirect one, in every tree)
    // needs its data only.
    let shift = block_bits - 2;
    let leaf = |l: u64| l.checked_sub(DIRECT_BLOCKS).map(|l| l >> shift);
    if mapped.is_some_and(|m| m + 1 == first && leaf(m) == leaf(end - 1)) {
        return need;
    }
    // The trees after the direct blocks: depth 2, 3 and 4, each addressing
    // apb^(depth-1) blocks from `base`.
    let mut base = DIRECT_BLOCKS;
    for depth in 2..=4u32 {
        if base >= end {
            break;
        }
        let span = 1u64 << (shift * (depth - 1));
        let (lo, hi) = (first.max(base), end.min(base + span));
        if lo < hi {
            let (a, b) = (lo - base, hi - 1 - base);
            let known = mapped
                .filter(|&m| m >= base && m < base + span)
                .map(|m| m - base);
            // Level k (1: the tree's top block) has one block per
            // apb^(depth-k) data blocks.
            for k in 1..depth {
                let s = shift * (depth - k);
                let (i, j) = (a >> s, b >> s);
                need.indirect += j - i + 1;
                if known.is_some_and(|m| (i..=j).contains(&(m >> s))) {
                    need.indirect -= 1;
                }
            }
        }
        base += span;
    }
    need
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_1k() {
        let p = |l| block_path(l, 10).map(|p| p.as_slice().to_vec());
        assert_eq!(p(0), Some(vec![0]));
        assert_eq!(p(11), Some(vec![11]));
        assert_eq!(p(12), Some(vec![12, 0]));
        assert_eq!(p(12 + 255), Some(vec![12, 255]));
        assert_eq!(p(12 + 256), Some(vec![13, 0, 0]));
        assert_eq!(p(12 + 256 + 257), Some(vec![13, 1, 1]));
        assert_eq!(p(12 + 256 + 65536), Some(vec![14, 0, 0, 0]));
        assert_eq!(p(addressable_blocks(10) - 1), Some(vec![14, 255, 255, 255]));
        assert_eq!(p(addressable_blocks(10)), None);
    }

    #[test]
    fn paths_are_unique_and_ordered() {
        // Walking logical blocks in order walks paths in lexicographic order.
        for bits in [10u32, 11, 12] {
            let apb = addr_per_block(bits);
            let probes = [
                0,
                11,
                12,
                12 + apb - 1,
                12 + apb,
                12 + apb + apb * apb - 1,
                12 + apb + apb * apb,
            ];
            let mut prev: Option<Vec<usize>> = None;
            for l in probes {
                let cur = block_path(l, bits).unwrap().as_slice().to_vec();
                if let Some(pv) = prev {
                    assert!(pv < cur, "{pv:?} !< {cur:?}");
                }
                prev = Some(cur);
            }
        }
    }

    #[test]
    fn leaf_remaining_counts_to_leaf_end() {
        assert_eq!(block_path(0, 10).unwrap().leaf_remaining(256), 11);
        assert_eq!(block_path(11, 10).unwrap().leaf_remaining(256), 0);
        assert_eq!(block_path(12, 10).unwrap().leaf_remaining(256), 255);
        assert_eq!(
            block_path(12 + 256 + 10, 10).unwrap().leaf_remaining(256),
            245
        );
    }

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
            self.next() % n.max(1)
        }
    }

    /// A node of the tree: the slot path leading to it (its length - 1 is
    /// its level), padded with zeros.
    type Node = (usize, [usize; 4]);

    fn node(prefix: &[usize]) -> Node {
        let mut a = [0; 4];
        a[..prefix.len()].copy_from_slice(prefix);
        (prefix.len(), a)
    }

    /// First logical block under a node, computed from the tree's shape
    /// alone (independently of `block_path`).
    fn first_lblk(prefix: &[usize], bits: u32) -> u64 {
        let apb = addr_per_block(bits);
        let slot = prefix[0] as u64;
        let (base, height) = match prefix[0] {
            s if s < 12 => (slot, 0),
            IND_SLOT => (12, 1),
            DIND_SLOT => (12 + apb, 2),
            _ => (12 + apb + apb * apb, 3),
        };
        let mut l = base;
        for (k, &o) in prefix[1..].iter().enumerate() {
            l += o as u64 * apb.pow(height - 1 - k as u32);
        }
        l
    }

    /// Brute force: every node used by a block in new..old and by none
    /// before `new`.
    fn brute(new: u64, old: u64, bits: u32) -> Vec<Node> {
        let mut set = Vec::new();
        for l in new..old {
            let p = block_path(l, bits).unwrap();
            for k in 1..=p.depth {
                let pre = &p.as_slice()[..k];
                if first_lblk(pre, bits) >= new {
                    set.push(node(pre));
                }
            }
        }
        set.sort_unstable();
        set.dedup();
        set
    }

    /// Adds a node and every node below it that maps a block before `old`.
    fn subtree(prefix: &mut Vec<usize>, bits: u32, old: u64, out: &mut Vec<Node>) {
        if first_lblk(prefix, bits) >= old {
            return;
        }
        out.push(node(prefix));
        let height = slot_height(prefix[0]) as usize + 1 - prefix.len();
        if height == 0 {
            return;
        }
        for c in 0..addr_per_block(bits) as usize {
            prefix.push(c);
            let past = first_lblk(prefix, bits) >= old;
            if !past {
                subtree(prefix, bits, old, out);
            }
            prefix.pop();
            if past {
                break;
            }
        }
    }

    /// Walks a plan the way the kernel side will, collecting what it frees.
    fn walk(
        plan: &TruncatePlan,
        level: usize,
        prefix: &mut Vec<usize>,
        bits: u32,
        (new, old): (u64, u64),
        out: &mut Vec<Node>,
    ) {
        let lp = plan.level(level);
        let len = if level == 0 {
            N_BLOCKS
        } else {
            addr_per_block(bits) as usize
        };
        assert!(lp.whole_to <= len);
        if let Some(k) = lp.partial {
            assert!(k < lp.whole_from);
            prefix.push(k);
            assert!(first_lblk(prefix, bits) < new, "partial {prefix:?} is kept");
            assert!(plan.entry_height(level, k) > 0);
            walk(plan, level + 1, prefix, bits, (new, old), out);
            prefix.pop();
        } else {
            assert_eq!(level + 1, plan.levels().len());
        }
        for i in lp.whole() {
            prefix.push(i);
            assert!(first_lblk(prefix, bits) >= new, "whole {prefix:?} is free");
            assert_eq!(
                plan.entry_height(level, i) as usize,
                slot_height(prefix[0]) as usize + 1 - prefix.len()
            );
            subtree(prefix, bits, old, out);
            prefix.pop();
        }
    }

    fn check(new: u64, old: u64, bits: u32) {
        let plan = truncate_plan(new, old, bits);
        let mut got = Vec::new();
        if !plan.is_empty() {
            walk(&plan, 0, &mut Vec::new(), bits, (new, old), &mut got);
        }
        got.sort_unstable();
        let n = got.len();
        got.dedup();
        assert_eq!(n, got.len(), "a node is freed twice");
        let want = brute(new, old, bits);
        assert_eq!(got, want, "new {new} old {old} bits {bits} {plan:?}");
        assert_eq!(plan.is_empty(), want.is_empty());
    }

    /// Logical blocks around every boundary of the tree's shape.
    fn interesting(bits: u32) -> Vec<u64> {
        let apb = addr_per_block(bits);
        let ind = 12;
        let dind = ind + apb;
        let tind = dind + apb * apb;
        let mut v = vec![0, 1, 11, 12, 13, ind + apb / 2, dind, dind + 1];
        for base in [dind - 1, dind + apb, dind + 2 * apb, tind, tind + apb] {
            v.extend([base - 1, base, base + 1]);
        }
        v.extend([tind + apb * apb, tind + apb * apb + 3, tind + 5 * apb + 7]);
        v
    }

    #[test]
    fn first_block_to_free_rounds_up() {
        assert_eq!(first_block_to_free(0, 10), 0);
        assert_eq!(first_block_to_free(1, 10), 1);
        assert_eq!(first_block_to_free(1024, 10), 1);
        assert_eq!(first_block_to_free(1025, 10), 2);
        assert_eq!(first_block_to_free(4096 * 3, 12), 3);
        assert_eq!(first_block_to_free(4096 * 3 + 1, 12), 4);
        assert_eq!(first_block_to_free(u64::MAX, 12), (u64::MAX >> 12) + 1);
        assert_eq!(first_block_to_free(u64::MAX, 64), 1);
        assert_eq!(first_block_to_free(0, 99), 0);
    }

    #[test]
    fn plan_shapes() {
        // Shrinking into the direct blocks: the rest of i_block goes whole.
        let p = truncate_plan(5, addressable_blocks(10), 10);
        assert_eq!(
            p.levels(),
            &[LevelPlan {
                whole_from: 5,
                whole_to: 15,
                partial: None
            }]
        );
        // To 12 blocks: the indirect block goes with everything after it.
        let p = truncate_plan(12, 300, 10);
        assert_eq!(p.levels().len(), 1);
        assert_eq!(p.level(0).whole(), 12..14);
        // Into the middle of the indirect block's range.
        let p = truncate_plan(12 + 10, 12 + 20, 10);
        assert_eq!(p.levels().len(), 2);
        assert_eq!(p.level(0).partial, Some(IND_SLOT));
        assert_eq!(p.level(0).whole(), 13..13);
        assert_eq!(p.level(1).whole(), 10..20);
        assert_eq!(p.entry_height(0, IND_SLOT), 1);
        assert_eq!(p.entry_height(1, 10), 0);
        // Into the double-indirect range, at an indirect block boundary: the
        // branch stops at level 1.
        let p = truncate_plan(12 + 256 + 2 * 256, addressable_blocks(10), 10);
        assert_eq!(p.levels().len(), 2);
        assert_eq!(p.level(0).partial, Some(DIND_SLOT));
        assert_eq!(p.level(0).whole(), 14..15);
        assert_eq!(p.level(1).whole(), 2..256);
        assert_eq!(p.entry_height(1, 2), 1);
        // Nothing to free.
        assert!(truncate_plan(10, 10, 10).is_empty());
        assert!(truncate_plan(10, 3, 10).is_empty());
        assert!(truncate_plan(addressable_blocks(10), u64::MAX, 10).is_empty());
        assert_eq!(truncate_plan(0, 0, 10).level(0), LevelPlan::default());
        // A whole file.
        let p = truncate_plan(0, u64::MAX, 12);
        assert_eq!(p.levels().len(), 1);
        assert_eq!(p.level(0).whole(), 0..15);
        assert_eq!(p.entry_height(0, TIND_SLOT), 3);
    }

    #[test]
    fn plan_between_rejects_reversed_paths() {
        let a = block_path(100, 10).unwrap();
        let b = block_path(50, 10).unwrap();
        assert!(plan_between(&a, &b, 256).is_empty());
        assert!(!plan_between(&b, &a, 256).is_empty());
        assert!(!plan_between(&a, &a, 256).is_empty());
        let bad = BlockPath {
            depth: 9,
            offsets: [0; 4],
        };
        assert!(plan_between(&bad, &a, 256).is_empty());
        assert!(plan_between(&a, &bad, 256).is_empty());
    }

    #[test]
    fn plan_matches_brute_force_at_boundaries() {
        // The brute force costs time per block: spans stay short, except
        // for a few that cross from one kind of branch to another.
        for bits in [10u32, 11, 12] {
            let pts = interesting(bits);
            for &new in &pts {
                for &old in &pts {
                    if old >= new && old - new <= 3000 {
                        check(new, old, bits);
                    }
                }
                check(new, new + 1, bits);
                check(new, new + 2, bits);
            }
            let apb = addr_per_block(bits);
            let dind = 12 + apb;
            let tind = dind + apb * apb;
            check(0, dind + apb + 5, bits);
            check(7, dind + 2 * apb, bits);
            check(tind - 700, tind + 2 * apb + 1, bits);
        }
        // Direct blocks to the triple-indirect range in one go (1K blocks).
        check(5, 12 + 256 + 65536 + 300, 10);
        check(12 + 100, 12 + 256 + 65536 + 256 * 2 + 1, 10);
        // Paths that part at one level and meet again at the next: the
        // last block's offsets must stop bounding the branch once parted.
        let tind = 12 + 256 + 65536;
        check(tind + 3 * 256 + 5, tind + 4 * 256 + 5 + 1, 10);
        check(tind + 3 * 256 + 5, tind + 65536 + 3 * 256 + 7 + 1, 10);
    }

    #[test]
    fn plan_matches_brute_force_at_random() {
        let mut rng = XorShift(0x7243_5a11_0b1e_c7ed);
        for bits in [10u32, 11, 12] {
            let apb = addr_per_block(bits);
            let end = addressable_blocks(bits);
            let pts = interesting(bits);
            for _ in 0..100 {
                let new = match rng.below(3) {
                    0 => pts[rng.below(pts.len() as u64) as usize] + rng.below(3),
                    1 => rng.below(12 + apb + 3 * apb),
                    _ => rng.below(end),
                };
                let span = match rng.below(3) {
                    0 => rng.below(16),
                    1 => rng.below(2 * apb),
                    _ => rng.below(4000),
                };
                check(new.min(end), (new + span).min(end), bits);
            }
        }
    }

    #[test]
    fn plan_to_the_end_of_the_tree() {
        // With the old size unknown, every level runs to its array's end.
        let mut rng = XorShift(5);
        for bits in [10u32, 11, 12] {
            let apb = addr_per_block(bits) as usize;
            for _ in 0..500 {
                let new = rng.below(addressable_blocks(bits));
                let plan = truncate_plan(new, addressable_blocks(bits), bits);
                let p = block_path(new, bits).unwrap();
                for (j, lp) in plan.levels().iter().enumerate() {
                    assert_eq!(lp.whole_to, if j == 0 { N_BLOCKS } else { apb });
                    assert_eq!(lp.partial.is_some(), j + 1 < plan.levels().len());
                    if let Some(k) = lp.partial {
                        assert_eq!(k, p.offsets[j]);
                    } else {
                        assert_eq!(lp.whole_from, p.offsets[j]);
                        assert!(p.offsets[j + 1..p.depth].iter().all(|&o| o == 0));
                    }
                }
            }
        }
    }

    /// A block map as a set of present indirect blocks (by path prefix)
    /// and present data blocks, for checking `alloc_need`.
    struct Model {
        indirect: std::collections::BTreeSet<Vec<usize>>,
        data: std::collections::BTreeSet<u64>,
        bits: u32,
    }

    impl Model {
        fn new(bits: u32) -> Model {
            Model {
                indirect: Default::default(),
                data: Default::default(),
                bits,
            }
        }

        /// Maps `lblk`, creating the indirect blocks above it; returns how
        /// many blocks that took.
        fn add(&mut self, lblk: u64) -> u64 {
            if self.data.contains(&lblk) {
                return 0;
            }
            let p = block_path(lblk, self.bits).unwrap();
            let mut n = 1;
            for k in 1..p.depth {
                if self.indirect.insert(p.offsets[..k].to_vec()) {
                    n += 1;
                }
            }
            self.data.insert(lblk);
            n
        }

        fn slot(&self, p: &BlockPath) -> Result<Slot, ()> {
            let present = (1..p.depth)
                .take_while(|&k| self.indirect.contains(&p.offsets[..k].to_vec()))
                .count();
            let lblk = (0..)
                .find(|&l| block_path(l, self.bits) == Some(*p))
                .unwrap();
            Ok(Slot {
                missing_indirect: p.depth - 1 - present,
                entry: self.data.contains(&lblk) as u32,
            })
        }
    }

    fn model_need(m: &Model, first: u64, n: u64, budget: u64) -> AllocNeed {
        let mut copy = Model {
            indirect: m.indirect.clone(),
            data: m.data.clone(),
            bits: m.bits,
        };
        let mut need = AllocNeed::default();
        for l in first..first + n {
            let before = copy.data.len();
            let mut trial = Model {
                indirect: copy.indirect.clone(),
                data: copy.data.clone(),
                bits: copy.bits,
            };
            let cost = trial.add(l);
            if need.total() + cost > budget {
                break;
            }
            copy = trial;
            need.blocks += 1;
            need.data += (copy.data.len() - before) as u64;
            need.indirect += cost - (copy.data.len() - before) as u64;
        }
        need
    }

    #[test]
    fn alloc_need_matches_a_model() {
        // 1K blocks: 256 per indirect block; exercise direct, indirect,
        // double-indirect ranges and the boundaries between them.
        let bits = 10;
        let mut rng = XorShift(0x5eed);
        for round in 0..40 {
            let mut m = Model::new(bits);
            let mapped = rng.below(40);
            for _ in 0..mapped {
                let l = rng.below(12 + 256 + 3 * 256);
                m.add(l);
            }
            let first = if round % 3 == 0 {
                rng.below(20)
            } else {
                rng.below(12 + 256 + 2 * 256)
            };
            let n = 1 + rng.below(600);
            let budget = if round % 2 == 0 {
                u64::MAX
            } else {
                rng.below(300)
            };
            let got = alloc_need(first, n, bits, budget, |p| m.slot(p)).unwrap();
            assert_eq!(
                got,
                model_need(&m, first, n, budget),
                "first {first} n {n} budget {budget}"
            );
        }
    }

    #[test]
    fn alloc_need_charges_indirect_blocks_once() {
        let bits = 10;
        let m = Model::new(bits);
        // Blocks 0..12 direct, 12..268 under the indirect block, then the
        // double-indirect tree: one dind + one ind per 256.
        let need = alloc_need(0, 12 + 256 + 300, bits, u64::MAX, |p| m.slot(p)).unwrap();
        assert_eq!(need.blocks, 568);
        assert_eq!(need.data, 568);
        assert_eq!(need.indirect, 1 + 1 + 2);
        // A budget that ends right before the block needing the dind.
        let need = alloc_need(0, 600, bits, 12 + 257 + 2, |p| m.slot(p)).unwrap();
        assert_eq!(need.blocks, 268);
        assert_eq!(need.total(), 269);
        // Nothing fits.
        let need = alloc_need(12, 5, bits, 1, |p| m.slot(p)).unwrap();
        assert_eq!(need.blocks, 0);
    }

    /// The block-by-block definition `worst_case_need` must agree with.
    fn worst_case_walk(first: u64, n: u64, bits: u32, mapped: Option<u64>) -> AllocNeed {
        let known = mapped.and_then(|l| block_path(l, bits));
        let empty = |p: &BlockPath| -> Result<Slot, ()> {
            let shared = known.as_ref().map_or(0, |k| shared_indirect(k, p));
            Ok(Slot {
                missing_indirect: (p.depth - 1).saturating_sub(shared),
                entry: 0,
            })
        };
        alloc_need(first, n, bits, u64::MAX, empty).unwrap()
    }

    #[test]
    fn worst_case_closed_form_matches_the_walk() {
        let mut rng = XorShift(4242);
        for bits in [10u32, 11, 12] {
            let apb = addr_per_block(bits);
            let edges = [
                0,
                DIRECT_BLOCKS,
                DIRECT_BLOCKS + apb,
                DIRECT_BLOCKS + apb + apb * apb,
                addressable_blocks(bits),
            ];
            for _ in 0..3000 {
                let edge = edges[rng.below(edges.len() as u64) as usize];
                let first = (edge + rng.below(2 * apb + 40)).saturating_sub(apb + 20);
                let n = 1 + rng.below(3 * apb);
                let hint = match rng.below(3) {
                    0 => None,
                    1 => first.checked_sub(1),
                    _ => Some((first + rng.below(n + 2 * apb)).saturating_sub(apb)),
                };
                assert_eq!(
                    worst_case_need(first, n, bits, hint),
                    worst_case_walk(first, n, bits, hint),
                    "bits {bits} first {first} n {n} hint {hint:?}"
                );
            }
        }
    }

    #[test]
    fn worst_case_bounds_every_map() {
        let bits = 10;
        let mut rng = XorShift(77);
        for _ in 0..30 {
            let mut m = Model::new(bits);
            for _ in 0..rng.below(30) {
                m.add(rng.below(2000));
            }
            let first = rng.below(1500);
            let n = 1 + rng.below(700);
            let worst = worst_case_need(first, n, bits, None);
            let exact = alloc_need(first, n, bits, u64::MAX, |p| m.slot(p)).unwrap();
            assert!(exact.total() <= worst.total());
            assert_eq!(worst, model_need(&Model::new(bits), first, n, u64::MAX));
            // With a mapped block as the hint: still a bound, and exact
            // for a map that holds only that block.
            if let Some(&hint) = m
                .data
                .iter()
                .nth(rng.below(m.data.len() as u64 + 1) as usize)
            {
                let worst = worst_case_need(first, n, bits, Some(hint));
                assert!(
                    exact.total() <= worst.total(),
                    "first {first} n {n} hint {hint}"
                );
                let mut only = Model::new(bits);
                only.add(hint);
                if hint < first || hint >= first + n {
                    assert_eq!(worst, model_need(&only, first, n, u64::MAX));
                }
            }
        }
    }

    #[test]
    fn subtree_remaining_counts_the_blocks_under_an_entry() {
        let bits = 10;
        let apb = addr_per_block(bits);
        let mut rng = XorShift(99);
        for _ in 0..300 {
            let lblk = match rng.below(3) {
                0 => rng.below(300),
                1 => 268 + rng.below(3 * 256),
                _ => 65804 + rng.below(3 * 65536),
            };
            let p = block_path(lblk, bits).unwrap();
            // Paths are ordered: the subtree's blocks are one run, so its
            // last block shares the prefix and the next one does not.
            for level in 0..p.depth {
                let prefix = &p.offsets[..=level];
                let under = |l: u64| {
                    block_path(l, bits)
                        .is_some_and(|q| q.depth == p.depth && &q.offsets[..=level] == prefix)
                };
                let n = p.subtree_remaining(level, apb);
                assert!(n >= 1 && under(lblk + n - 1), "lblk {lblk} level {level}");
                assert!(!under(lblk + n), "lblk {lblk} level {level}");
            }
        }
    }

    #[test]
    fn worst_case_of_an_append_is_its_data() {
        // 1K blocks: an append right after the last mapped block needs only
        // its data while it stays in that block's leaf, and the new leaf
        // (and above) when it crosses into the next.
        let bits = 10;
        let w = |first, n, hint| worst_case_need(first, n, bits, hint).total();
        assert_eq!(w(20, 1, Some(19)), 1);
        assert_eq!(w(20, 1, None), 2);
        assert_eq!(w(12, 1, Some(11)), 2);
        assert_eq!(w(300, 4, Some(299)), 4);
        assert_eq!(w(300, 4, None), 6);
        // 12 + 256 + 256: the first block of the second double-indirect leaf.
        assert_eq!(w(524, 1, Some(523)), 2);
        assert_eq!(w(523, 2, Some(522)), 3);
    }

    #[test]
    fn alloc_need_of_an_overwrite_is_zero() {
        let bits = 12;
        let mut m = Model::new(bits);
        for l in 0..40 {
            m.add(l);
        }
        let need = alloc_need(0, 40, bits, 0, |p| m.slot(p)).unwrap();
        assert_eq!(
            need,
            AllocNeed {
                blocks: 40,
                data: 0,
                indirect: 0
            }
        );
    }
}
