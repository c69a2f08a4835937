// SPDX-License-Identifier: GPL-2.0
//! Fuzzes the directory-block code with arbitrary blocks: parsing must
//! never panic or loop, must only return entries that tile the block, and
//! the modifying operations must either refuse (changing nothing) or leave a
//! valid block behind with exactly the intended change.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rext2_pure::ext2::dirent::{
    self, check_block, find_dotdot, find_slot, insert_at, is_empty_dir_block, rec_len_for,
    remove_entry, set_entry_inode, DirentIter, DIRENT_HEADER,
};

/// The live entries of a block: (offset, inode, name).
type Live = Vec<(usize, u32, Vec<u8>)>;

/// Walks the block, checking every entry the iterator yields.
fn walk(block: &[u8], max_inode: u32, filetype: bool) -> (bool, Live) {
    let mut pos = 0;
    let mut live = Vec::new();
    let mut count = 0;
    for d in DirentIter::new(block, max_inode, filetype) {
        count += 1;
        assert!(count <= block.len() / 12 + 1, "iterator does not end");
        let Ok(d) = d else {
            return (false, live);
        };
        assert_eq!(d.offset, pos, "entries tile the block");
        assert!(d.rec_len >= 12 && d.rec_len % 4 == 0);
        assert!(d.rec_len >= rec_len_for(d.name.len()));
        assert!(d.offset + d.rec_len <= block.len());
        assert!(d.inode <= max_inode);
        assert_eq!(
            d.name,
            &block[d.offset + DIRENT_HEADER..d.offset + DIRENT_HEADER + d.name.len()]
        );
        if !filetype {
            assert_eq!(d.file_type, 0);
        }
        pos += d.rec_len;
        if d.inode != 0 {
            live.push((d.offset, d.inode, d.name.to_vec()));
        }
    }
    assert_eq!(pos, block.len(), "a clean walk covers the block");
    (true, live)
}

fn names(live: &Live) -> Vec<(u32, Vec<u8>)> {
    let mut v: Vec<_> = live.iter().map(|e| (e.1, e.2.clone())).collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 || data.len() > 70_000 {
        return;
    }
    let (ctl, block) = data.split_at(8);
    let filetype = ctl[0] & 1 != 0;
    let first_block = ctl[0] & 2 != 0;
    let max_inode = u32::from_le_bytes([ctl[1], ctl[2], ctl[3], ctl[4]]) | 1;
    let name_len = ctl[5] as usize;
    let pick = u16::from_le_bytes([ctl[6], ctl[7]]) as usize;

    let (ok, live) = walk(block, max_inode, filetype);
    assert_eq!(check_block(block, max_inode, filetype).is_ok(), ok);

    // Emptiness agrees with the live entries.
    match is_empty_dir_block(block, max_inode, filetype, first_block) {
        Ok(empty) => {
            assert!(ok);
            let others = live
                .iter()
                .filter(|e| !(first_block && (e.2 == b"." || e.2 == b"..")))
                .count();
            assert_eq!(empty, others == 0);
        }
        Err(_) => assert!(!ok),
    }
    if let Ok(Some(dd)) = find_dotdot(block, max_inode, filetype) {
        assert_eq!(dd.name, b"..");
        assert!(dd.inode != 0);
    }

    // Insert a name where find_slot says, then remove it again.
    if let Ok(Some(slot)) = find_slot(block, name_len, max_inode, filetype) {
        assert!(ok && (1..=255).contains(&name_len));
        let mut b = block.to_vec();
        let name = vec![b'n'; name_len];
        let off = insert_at(&mut b, slot, max_inode, &name, 1, filetype).expect("slot fits");
        let (ok2, live2) = walk(&b, max_inode, filetype);
        assert!(ok2);
        let mut want = names(&live);
        want.push((max_inode, name.clone()));
        want.sort();
        assert_eq!(names(&live2), want);
        assert!(live2.iter().any(|e| e.0 == off && e.2 == name));
        remove_entry(&mut b, off, max_inode, filetype).expect("remove what was added");
        let (ok3, live3) = walk(&b, max_inode, filetype);
        assert!(ok3);
        assert_eq!(names(&live3), names(&live));
    }

    // Remove or retarget an entry: a real one or an arbitrary offset.
    let off = if pick & 1 == 0 && !live.is_empty() {
        live[(pick >> 1) % live.len()].0
    } else {
        pick >> 1
    };
    let mut b = block.to_vec();
    match remove_entry(&mut b, off, max_inode, filetype) {
        Ok(()) => {
            assert!(ok);
            let (ok2, live2) = walk(&b, max_inode, filetype);
            assert!(ok2);
            let mut want = live.clone();
            let gone = want
                .iter()
                .position(|e| e.0 == off)
                .expect("removed a live entry");
            want.remove(gone);
            assert_eq!(names(&live2), names(&want));
        }
        Err(_) => assert_eq!(b, block),
    }
    let mut b = block.to_vec();
    match set_entry_inode(&mut b, off, max_inode, 2, filetype) {
        Ok(()) => {
            // Structure is unchanged; only the inode (and type) moved.
            let (ok2, live2) = walk(&b, u32::MAX, filetype);
            assert!(ok2);
            assert!(live2.iter().any(|e| e.0 == off && e.1 == max_inode));
            assert_eq!(live2.len(), walk(block, u32::MAX, filetype).1.len());
        }
        Err(_) => assert_eq!(b, block),
    }

    // Fresh blocks of the same size are valid.
    let mut b = block.to_vec();
    if dirent::init_dir_block(&mut b, max_inode, max_inode, filetype).is_ok() {
        let (ok2, live2) = walk(&b, max_inode, filetype);
        assert!(ok2 && live2.len() == 2);
        assert!(is_empty_dir_block(&b, max_inode, filetype, true) == Ok(true));
    }
    if dirent::init_empty_block(&mut b).is_ok() {
        let (ok2, live2) = walk(&b, max_inode, filetype);
        assert!(ok2 && live2.is_empty());
    }
});
