// SPDX-License-Identifier: GPL-2.0
//! Fuzzes the superblock, group descriptor and inode parsers: no panic on
//! any input, and whatever `validate` accepts describes a sane geometry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rext2_pure::ext2::layout::{
    max_file_size, DiskInode, GroupDesc, SuperBlock, GOOD_OLD_INODE_SIZE, GROUP_DESC_SIZE,
    SUPERBLOCK_SIZE,
};

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let (ctl, rest) = data.split_at(9);
    let read_only = ctl[0] & 1 != 0;
    let device_bytes = u64::from_le_bytes([
        ctl[1], ctl[2], ctl[3], ctl[4], ctl[5], ctl[6], ctl[7], ctl[8],
    ]);

    // Inodes: any 128+ byte record parses.
    let rec = rest.get(..256.min(rest.len())).unwrap_or(&[]);
    match DiskInode::parse(rec) {
        Some(ino) => {
            assert_eq!(ino.block[0].to_le_bytes(), rec[40..44]);
            assert_eq!(
                ino.size as u32,
                u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]])
            );
            let _ = ino.inline_bytes();
            let _ = ino.device();
            let _ = ino.is_fast_symlink(1024);
            let _ = ino.is_fast_symlink(4096);
        }
        None => assert!(rec.len() < GOOD_OLD_INODE_SIZE as usize),
    }

    let Ok(sb) = SuperBlock::parse(rest) else {
        assert!(rest.len() < SUPERBLOCK_SIZE);
        return;
    };
    let Ok(geo) = sb.validate(device_bytes, read_only) else {
        return;
    };
    assert!(matches!(geo.block_size, 1024 | 2048 | 4096));
    assert_eq!(geo.block_size, 1 << geo.block_bits);
    assert!(geo.groups >= 1);
    assert!(geo.blocks_count as u64 <= device_bytes / geo.block_size as u64);
    assert!(geo.inode_size >= 128 && geo.inode_size <= geo.block_size);
    assert!(geo.itb_per_group >= 1);
    let _ = max_file_size(geo.block_bits);

    // Every inode number maps inside its group's inode table.
    let inos = [
        1,
        2,
        geo.first_ino,
        geo.inodes_count,
        geo.inodes_count / 2 + 1,
    ];
    for ino in inos {
        let loc = geo.inode_loc(ino).expect("valid inode number");
        assert!(loc.group < geo.groups);
        assert!(loc.table_block < geo.itb_per_group);
        assert!(loc.offset + geo.inode_size as usize <= geo.block_size as usize);
    }
    assert!(geo.inode_loc(0).is_none());
    assert!(
        geo.inode_loc(geo.inodes_count.wrapping_add(1)).is_none() || geo.inodes_count == u32::MAX
    );

    // Groups: the first and last, and descriptors taken from the input.
    for g in [0, geo.groups - 1, geo.groups / 2] {
        let first = geo.group_first_block(g);
        let last = geo.group_last_block(g);
        assert!(first <= last && last < geo.blocks_count);
        let _ = geo.group_has_super(g);
        let (blk, off) = geo.group_desc_loc(g);
        assert!(off + GROUP_DESC_SIZE <= geo.block_size as usize);
        assert!(blk > geo.first_data_block);
        let at = (g as usize * GROUP_DESC_SIZE) % rest.len().max(1);
        if let Some(gd) = rest.get(at..).and_then(GroupDesc::parse) {
            if gd.validate(&geo, g).is_ok() {
                assert!(gd.block_bitmap >= first && gd.block_bitmap <= last);
                assert!(gd.inode_bitmap >= first && gd.inode_bitmap <= last);
                assert!(gd.inode_table as u64 + geo.itb_per_group as u64 - 1 <= last as u64);
            }
        }
    }
    // Counting overhead walks every group: keep it to sizes a fuzz run can
    // afford.
    if geo.groups <= 4096 {
        let _ = geo.overhead_blocks();
    }
});
