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
}
