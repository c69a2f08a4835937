// SPDX-License-Identifier: GPL-2.0
//! ext2 directory entries: parsing, validation and modification of one
//! directory block. Pure logic, host-tested and fuzzed: directory blocks come
//! from disk.
//!
//! An entry is `inode` (u32), `rec_len` (u16), `name_len` and the name. With
//! the FILETYPE feature `name_len` is one byte and the next byte is the file
//! type; without it `name_len` is a u16 and no type is stored. Entries tile
//! the block exactly: each `rec_len` leads to the next and the last one ends
//! at the end of the block. An entry with inode 0 is unused.

use super::layout::{
    le16, le32, put_le16, put_le32, NAME_LEN, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT,
    S_IFREG, S_IFSOCK,
};

/// Fixed part of an entry: inode (4), rec_len (2), name_len (1), file_type (1).
pub const DIRENT_HEADER: usize = 8;

/// Space an entry with a name of `name_len` bytes needs (4-byte aligned).
pub const fn rec_len_for(name_len: usize) -> usize {
    (DIRENT_HEADER + name_len + 3) & !3
}

/// ext2's file type codes in directory entries.
pub mod ftype {
    pub const UNKNOWN: u8 = 0;
    pub const REG: u8 = 1;
    pub const DIR: u8 = 2;
    pub const CHRDEV: u8 = 3;
    pub const BLKDEV: u8 = 4;
    pub const FIFO: u8 = 5;
    pub const SOCK: u8 = 6;
    pub const SYMLINK: u8 = 7;
}

/// The `DT_*` value readdir reports for an ext2 file type code.
pub fn ftype_to_dtype(ft: u8) -> u8 {
    match ft {
        ftype::REG => 8,
        ftype::DIR => 4,
        ftype::CHRDEV => 2,
        ftype::BLKDEV => 6,
        ftype::FIFO => 1,
        ftype::SOCK => 12,
        ftype::SYMLINK => 10,
        _ => 0,
    }
}

/// One entry as found in a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dirent<'a> {
    /// Byte offset of the entry in its block.
    pub offset: usize,
    pub inode: u32,
    pub rec_len: usize,
    pub name: &'a [u8],
    pub file_type: u8,
}

/// What is wrong with a directory block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirentError {
    RecLenTooSmall {
        offset: usize,
    },
    RecLenUnaligned {
        offset: usize,
    },
    RecLenTooSmallForName {
        offset: usize,
    },
    CrossesBlock {
        offset: usize,
    },
    BadInode {
        offset: usize,
        inode: u32,
    },
    /// The block cannot hold entries: its length is not a multiple of 4,
    /// is too short, or is too long for a 16-bit `rec_len`.
    BadBlockSize {
        len: usize,
    },
    /// A name to store is empty or longer than 255 bytes.
    BadNameLen {
        len: usize,
    },
    /// No live entry starts at this offset.
    NotAnEntry {
        offset: usize,
    },
    /// The entry a [`Slot`] names has no room for the new name (any more).
    NoRoom {
        offset: usize,
    },
}

impl DirentError {
    pub fn reason(&self) -> &'static str {
        match self {
            DirentError::RecLenTooSmall { .. } => "rec_len is smaller than minimal",
            DirentError::RecLenUnaligned { .. } => "unaligned directory entry",
            DirentError::RecLenTooSmallForName { .. } => "rec_len is too small for name_len",
            DirentError::CrossesBlock { .. } => "directory entry across blocks",
            DirentError::BadInode { .. } => "inode number out of bounds",
            DirentError::BadBlockSize { .. } => "bad directory block size",
            DirentError::BadNameLen { .. } => "bad name length",
            DirentError::NotAnEntry { .. } => "no live directory entry at this offset",
            DirentError::NoRoom { .. } => "no room for the name in this directory entry",
        }
    }

    pub fn offset(&self) -> usize {
        match *self {
            DirentError::RecLenTooSmall { offset }
            | DirentError::RecLenUnaligned { offset }
            | DirentError::RecLenTooSmallForName { offset }
            | DirentError::CrossesBlock { offset }
            | DirentError::BadInode { offset, .. }
            | DirentError::NotAnEntry { offset }
            | DirentError::NoRoom { offset } => offset,
            DirentError::BadBlockSize { .. } | DirentError::BadNameLen { .. } => 0,
        }
    }
}

/// Iterates the entries of one directory block, validating each before it
/// is returned. After an error the iterator yields nothing more.
pub struct DirentIter<'a> {
    block: &'a [u8],
    pos: usize,
    max_inode: u32,
    filetype: bool,
    failed: bool,
}

impl<'a> DirentIter<'a> {
    /// `filetype` says whether byte 7 is a file type (the FILETYPE feature) or
    /// the high byte of a 16-bit name length.
    pub fn new(block: &'a [u8], max_inode: u32, filetype: bool) -> Self {
        DirentIter {
            block,
            pos: 0,
            max_inode,
            filetype,
            failed: false,
        }
    }

    /// Starts at byte `pos` of the block (a known entry boundary).
    pub fn starting_at(mut self, pos: usize) -> Self {
        self.pos = pos;
        self
    }
}

impl<'a> Iterator for DirentIter<'a> {
    type Item = Result<Dirent<'a>, DirentError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.block.len() {
            return None;
        }
        let offset = self.pos;
        let res = parse_at(self.block, offset, self.max_inode, self.filetype);
        match res {
            Ok(d) => self.pos += d.rec_len,
            Err(_) => self.failed = true,
        }
        Some(res)
    }
}

fn parse_at(
    block: &[u8],
    offset: usize,
    max_inode: u32,
    filetype: bool,
) -> Result<Dirent<'_>, DirentError> {
    if block.len() - offset < DIRENT_HEADER {
        return Err(DirentError::CrossesBlock { offset });
    }
    let inode = le32(block, offset).unwrap_or(0);
    let rec_len = le16(block, offset + 4).unwrap_or(0) as usize;
    let (name_len, file_type) = if filetype {
        (block[offset + 6] as usize, block[offset + 7])
    } else {
        (le16(block, offset + 6).unwrap_or(0) as usize, 0)
    };
    if rec_len < rec_len_for(1) {
        return Err(DirentError::RecLenTooSmall { offset });
    }
    if rec_len & 3 != 0 {
        return Err(DirentError::RecLenUnaligned { offset });
    }
    if rec_len < rec_len_for(name_len) {
        return Err(DirentError::RecLenTooSmallForName { offset });
    }
    if offset + rec_len > block.len() {
        return Err(DirentError::CrossesBlock { offset });
    }
    if inode > max_inode {
        return Err(DirentError::BadInode { offset, inode });
    }
    let name = &block[offset + DIRENT_HEADER..offset + DIRENT_HEADER + name_len];
    Ok(Dirent {
        offset,
        inode,
        rec_len,
        name,
        file_type,
    })
}

/// Validates a whole block; returns the first problem.
pub fn check_block(block: &[u8], max_inode: u32, filetype: bool) -> Result<(), DirentError> {
    for d in DirentIter::new(block, max_inode, filetype) {
        d?;
    }
    Ok(())
}

/// Smallest `rec_len` a live entry with a name of `name_len` bytes can
/// shrink to: its own size, but never under the 12 bytes every entry needs
/// (a live entry with an empty name is odd, but passes validation).
fn min_rec_len(name_len: usize) -> usize {
    rec_len_for(name_len.max(1))
}

/// Largest block the modifying functions accept: `rec_len` is 16 bits.
pub const MAX_DIR_BLOCK: usize = 65532;

/// The file type code for an inode mode (`ftype::UNKNOWN` for a bad mode).
pub fn file_type_of_mode(mode: u16) -> u8 {
    match mode & S_IFMT {
        S_IFREG => ftype::REG,
        S_IFDIR => ftype::DIR,
        S_IFCHR => ftype::CHRDEV,
        S_IFBLK => ftype::BLKDEV,
        S_IFIFO => ftype::FIFO,
        S_IFSOCK => ftype::SOCK,
        S_IFLNK => ftype::SYMLINK,
        _ => ftype::UNKNOWN,
    }
}

/// Checks that a block can be modified: whole 4-byte units, room for one
/// entry, and every `rec_len` up to its whole length fits 16 bits.
fn check_len(block: &[u8]) -> Result<(), DirentError> {
    let len = block.len();
    if len & 3 != 0 || len < rec_len_for(1) || len > MAX_DIR_BLOCK {
        return Err(DirentError::BadBlockSize { len });
    }
    Ok(())
}

/// Checks the length of a name to store.
fn check_name_len(len: usize) -> Result<(), DirentError> {
    if len == 0 || len > NAME_LEN {
        return Err(DirentError::BadNameLen { len });
    }
    Ok(())
}

/// Writes the entry header and name at `off`, zero-filling the padding up
/// to the 4-byte boundary; the rest of `rec_len` is left as it is. The
/// caller has checked that `rec_len_for(name.len()) <= rec_len` and that the
/// entry fits the block.
fn write_entry(
    block: &mut [u8],
    off: usize,
    ino: u32,
    rec_len: usize,
    name: &[u8],
    file_type: u8,
    filetype: bool,
) -> Result<(), DirentError> {
    let too_big = DirentError::BadBlockSize { len: block.len() };
    let rec = u16::try_from(rec_len).map_err(|_| too_big)?;
    let name_len =
        u8::try_from(name.len()).map_err(|_| DirentError::BadNameLen { len: name.len() })?;
    let name_start = off.checked_add(DIRENT_HEADER).ok_or(too_big)?;
    let name_end = off.checked_add(rec_len_for(name.len())).ok_or(too_big)?;
    match off.checked_add(rec_len) {
        Some(end) if end <= block.len() && name_end <= end => {}
        _ => return Err(too_big),
    }
    // Without FILETYPE, bytes 6..8 are a 16-bit name length.
    let type_byte = if filetype { file_type } else { 0 };
    put_le32(block, off, ino);
    put_le16(block, off + 4, rec);
    put_le16(block, off + 6, u16::from_le_bytes([name_len, type_byte]));
    if let Some(area) = block.get_mut(name_start..name_end) {
        for (i, b) in area.iter_mut().enumerate() {
            *b = name.get(i).copied().unwrap_or(0);
        }
    }
    Ok(())
}

/// Formats the first block of a new directory: "." for `self_ino` (12 bytes)
/// and ".." for `parent_ino`, which takes the rest of the block. The whole
/// block is rewritten.
pub fn init_dir_block(
    block: &mut [u8],
    self_ino: u32,
    parent_ino: u32,
    filetype: bool,
) -> Result<(), DirentError> {
    check_len(block)?;
    let dot = rec_len_for(1);
    if block.len() < dot + rec_len_for(2) {
        return Err(DirentError::BadBlockSize { len: block.len() });
    }
    if self_ino == 0 || parent_ino == 0 {
        let (offset, inode) = if self_ino == 0 {
            (0, self_ino)
        } else {
            (dot, parent_ino)
        };
        return Err(DirentError::BadInode { offset, inode });
    }
    block.fill(0);
    write_entry(block, 0, self_ino, dot, b".", ftype::DIR, filetype)?;
    write_entry(
        block,
        dot,
        parent_ino,
        block.len() - dot,
        b"..",
        ftype::DIR,
        filetype,
    )
}

/// Formats a block that holds no entry yet (a directory growing by a block):
/// one unused entry spanning the block. The whole block is rewritten.
pub fn init_empty_block(block: &mut [u8]) -> Result<(), DirentError> {
    check_len(block)?;
    block.fill(0);
    let len = block.len();
    write_entry(block, 0, 0, len, b"", 0, false)
}

/// Where a new entry goes in a block, as found by [`find_slot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Offset of the existing entry that gives up its space.
    pub offset: usize,
    /// `true` when that entry is live: it keeps its own name and shrinks to
    /// its minimal size, and the new entry takes the rest of its `rec_len`.
    /// `false` when it is unused: the new entry replaces it, `rec_len` and all.
    pub split: bool,
}

/// Position and sizes of an existing entry, detached from the block so that
/// the block can then be written.
#[derive(Debug, Clone, Copy)]
struct Found {
    /// Offset of the entry before it in the block, if any.
    prev: Option<usize>,
    offset: usize,
    inode: u32,
    rec_len: usize,
    name_len: usize,
}

/// Validates the whole block and finds the entry starting at `offset`.
fn locate(
    block: &[u8],
    offset: usize,
    max_inode: u32,
    filetype: bool,
) -> Result<Found, DirentError> {
    check_len(block)?;
    let mut prev = None;
    let mut found = None;
    for d in DirentIter::new(block, max_inode, filetype) {
        let d = d?;
        if d.offset == offset {
            found = Some(Found {
                prev,
                offset,
                inode: d.inode,
                rec_len: d.rec_len,
                name_len: d.name.len(),
            });
        }
        prev = Some(d.offset);
    }
    found.ok_or(DirentError::NotAnEntry { offset })
}

/// Finds room for a new entry with a name of `name_len` bytes: the first
/// entry that is unused with a `rec_len` big enough, or live with enough
/// space after its own name. `Ok(None)` when the block is full. The whole
/// block is validated first.
pub fn find_slot(
    block: &[u8],
    name_len: usize,
    max_inode: u32,
    filetype: bool,
) -> Result<Option<Slot>, DirentError> {
    check_len(block)?;
    check_name_len(name_len)?;
    let need = rec_len_for(name_len);
    let mut slot = None;
    for d in DirentIter::new(block, max_inode, filetype) {
        let d = d?;
        if slot.is_some() {
            continue;
        }
        if d.inode == 0 && d.rec_len >= need {
            slot = Some(Slot {
                offset: d.offset,
                split: false,
            });
        } else if d.inode != 0 && d.rec_len >= min_rec_len(d.name.len()).saturating_add(need) {
            slot = Some(Slot {
                offset: d.offset,
                split: true,
            });
        }
    }
    Ok(slot)
}

/// Writes a new entry for inode `ino` named `name` where `slot` says,
/// splitting the live entry there if `slot.split`. `file_type` is stored only
/// with the FILETYPE feature. Returns the new entry's offset.
///
/// The block is checked again (structure only, not inode numbers) and the
/// slot must still fit: otherwise nothing is written.
pub fn insert_at(
    block: &mut [u8],
    slot: Slot,
    ino: u32,
    name: &[u8],
    file_type: u8,
    filetype: bool,
) -> Result<usize, DirentError> {
    check_name_len(name.len())?;
    if ino == 0 {
        return Err(DirentError::BadInode {
            offset: slot.offset,
            inode: ino,
        });
    }
    let e = locate(block, slot.offset, u32::MAX, filetype)?;
    let need = rec_len_for(name.len());
    let no_room = DirentError::NoRoom {
        offset: slot.offset,
    };
    if slot.split != (e.inode != 0) {
        return Err(no_room);
    }
    if !slot.split {
        if e.rec_len < need {
            return Err(no_room);
        }
        write_entry(block, e.offset, ino, e.rec_len, name, file_type, filetype)?;
        return Ok(e.offset);
    }
    let keep = min_rec_len(e.name_len);
    let rest = e.rec_len.saturating_sub(keep);
    if rest < need {
        return Err(no_room);
    }
    let new_off = e.offset + keep;
    write_entry(block, new_off, ino, rest, name, file_type, filetype)?;
    // Checked by `write_entry` above: `keep` is smaller than a `rec_len`.
    put_le16(block, e.offset + 4, keep as u16);
    Ok(new_off)
}

/// Deletes the live entry at `offset`, as ext2 does: the entry before it in
/// the block absorbs its `rec_len`; the first entry of a block has no such
/// neighbour and is only marked unused (inode 0). The whole block is
/// validated first, and `offset` must be where a live entry starts.
pub fn remove_entry(
    block: &mut [u8],
    offset: usize,
    max_inode: u32,
    filetype: bool,
) -> Result<(), DirentError> {
    let e = locate(block, offset, max_inode, filetype)?;
    if e.inode == 0 {
        return Err(DirentError::NotAnEntry { offset });
    }
    if let Some(prev) = e.prev {
        // The two entries are adjacent, so this is at most the block length.
        let merged = u16::try_from(e.offset + e.rec_len - prev)
            .map_err(|_| DirentError::BadBlockSize { len: block.len() })?;
        put_le16(block, prev + 4, merged);
    }
    put_le32(block, offset, 0);
    Ok(())
}

/// Points the live entry at `offset` at inode `ino` of type `file_type`
/// (stored only with the FILETYPE feature): rename over an existing name,
/// or ".." of a directory that moved. The block's structure is checked first.
pub fn set_entry_inode(
    block: &mut [u8],
    offset: usize,
    ino: u32,
    file_type: u8,
    filetype: bool,
) -> Result<(), DirentError> {
    if ino == 0 {
        return Err(DirentError::BadInode { offset, inode: ino });
    }
    let e = locate(block, offset, u32::MAX, filetype)?;
    if e.inode == 0 {
        return Err(DirentError::NotAnEntry { offset });
    }
    put_le32(block, offset, ino);
    if filetype {
        if let Some(b) = block.get_mut(offset + 7) {
            *b = file_type;
        }
    }
    Ok(())
}

/// The ".." entry of a directory's first block: the second entry, after
/// ".". `Ok(None)` when the block does not start with "." and "..".
pub fn find_dotdot(
    block: &[u8],
    max_inode: u32,
    filetype: bool,
) -> Result<Option<Dirent<'_>>, DirentError> {
    let mut it = DirentIter::new(block, max_inode, filetype);
    let (Some(dot), Some(dotdot)) = (it.next().transpose()?, it.next().transpose()?) else {
        return Ok(None);
    };
    if dot.name == b"." && dotdot.name == b".." && dot.inode != 0 && dotdot.inode != 0 {
        Ok(Some(dotdot))
    } else {
        Ok(None)
    }
}

/// Whether a directory block holds no live entry but "." and ".." (which
/// count only in the directory's first block): rmdir's emptiness check.
pub fn is_empty_dir_block(
    block: &[u8],
    max_inode: u32,
    filetype: bool,
    first_block: bool,
) -> Result<bool, DirentError> {
    let mut empty = true;
    for d in DirentIter::new(block, max_inode, filetype) {
        let d = d?;
        let dot = d.name == b"." || d.name == b"..";
        if d.inode != 0 && !(first_block && dot) {
            empty = false;
        }
    }
    Ok(empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext2::layout::{put_le16, put_le32};

    fn put(block: &mut [u8], off: usize, ino: u32, rec: u16, name: &[u8], ft: u8) {
        put_le32(block, off, ino);
        put_le16(block, off + 4, rec);
        block[off + 6] = name.len() as u8;
        block[off + 7] = ft;
        block[off + 8..off + 8 + name.len()].copy_from_slice(name);
    }

    fn sample() -> [u8; 1024] {
        let mut b = [0u8; 1024];
        put(&mut b, 0, 2, 12, b".", ftype::DIR);
        put(&mut b, 12, 2, 12, b"..", ftype::DIR);
        put(&mut b, 24, 12, 20, b"hello.txt", ftype::REG);
        put(&mut b, 44, 0, 1024 - 44, b"", 0);
        b
    }

    #[test]
    fn walks_a_good_block() {
        let b = sample();
        let names: Vec<_> = DirentIter::new(&b, 100, true).map(|d| d.unwrap()).collect();
        assert_eq!(names.len(), 4);
        assert_eq!(names[2].name, b"hello.txt");
        assert_eq!(names[2].file_type, ftype::REG);
        assert_eq!(names[3].inode, 0);
        assert!(check_block(&b, 100, true).is_ok());
    }

    #[test]
    fn rejects_bad_entries() {
        let mut b = sample();
        put_le16(&mut b, 24 + 4, 6);
        assert_eq!(
            check_block(&b, 100, true),
            Err(DirentError::RecLenTooSmall { offset: 24 })
        );
        let mut b = sample();
        put_le16(&mut b, 24 + 4, 14);
        assert_eq!(
            check_block(&b, 100, true),
            Err(DirentError::RecLenUnaligned { offset: 24 })
        );
        let mut b = sample();
        b[24 + 6] = 200;
        assert_eq!(
            check_block(&b, 100, true),
            Err(DirentError::RecLenTooSmallForName { offset: 24 })
        );
        let mut b = sample();
        put_le16(&mut b, 44 + 4, 1024);
        assert_eq!(
            check_block(&b, 100, true),
            Err(DirentError::CrossesBlock { offset: 44 })
        );
        let b = sample();
        assert_eq!(
            check_block(&b, 5, true),
            Err(DirentError::BadInode {
                offset: 24,
                inode: 12
            })
        );
    }

    #[test]
    fn zero_block_is_rejected_not_looped() {
        let b = [0u8; 1024];
        assert_eq!(DirentIter::new(&b, 100, true).count(), 1);
        assert!(check_block(&b, 100, true).is_err());
    }

    #[test]
    fn rec_len_rounding() {
        assert_eq!(rec_len_for(1), 12);
        assert_eq!(rec_len_for(4), 12);
        assert_eq!(rec_len_for(5), 16);
        assert_eq!(rec_len_for(255), 264);
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

    const MAX_INO: u32 = 1 << 20;

    /// The live entries of a block as (offset, inode, name, type), after
    /// checking the whole block.
    fn live(b: &[u8], filetype: bool) -> Vec<(usize, u32, Vec<u8>, u8)> {
        check_block(b, MAX_INO, filetype).unwrap();
        let mut end = 0;
        let v = DirentIter::new(b, MAX_INO, filetype)
            .map(|d| d.unwrap())
            .inspect(|d| {
                assert_eq!(d.offset, end, "entries tile the block");
                assert!(d.rec_len >= rec_len_for(d.name.len()));
                end = d.offset + d.rec_len;
            })
            .filter(|d| d.inode != 0)
            .map(|d| (d.offset, d.inode, d.name.to_vec(), d.file_type))
            .collect();
        assert_eq!(end, b.len());
        v
    }

    fn names(b: &[u8], filetype: bool) -> Vec<Vec<u8>> {
        let mut v: Vec<_> = live(b, filetype).into_iter().map(|e| e.2).collect();
        v.sort();
        v
    }

    /// Inserts `name` where `find_slot` says; `None` when the block is full.
    fn add(b: &mut [u8], ino: u32, name: &[u8], ft: u8, filetype: bool) -> Option<usize> {
        let slot = find_slot(b, name.len(), MAX_INO, filetype).unwrap()?;
        let off = insert_at(b, slot, ino, name, ft, filetype).unwrap();
        check_block(b, MAX_INO, filetype).unwrap();
        Some(off)
    }

    fn offset_of(b: &[u8], name: &[u8], filetype: bool) -> usize {
        live(b, filetype)
            .into_iter()
            .find(|e| e.2 == name)
            .map(|e| e.0)
            .unwrap()
    }

    fn random_name(rng: &mut XorShift, max: u64) -> Vec<u8> {
        let len = 1 + rng.below(max) as usize;
        (0..len).map(|_| b'a' + rng.below(26) as u8).collect()
    }

    #[test]
    fn file_types_of_modes() {
        use crate::ext2::layout::*;
        assert_eq!(file_type_of_mode(S_IFREG | 0o644), ftype::REG);
        assert_eq!(file_type_of_mode(S_IFDIR | 0o755), ftype::DIR);
        assert_eq!(file_type_of_mode(S_IFCHR), ftype::CHRDEV);
        assert_eq!(file_type_of_mode(S_IFBLK), ftype::BLKDEV);
        assert_eq!(file_type_of_mode(S_IFIFO), ftype::FIFO);
        assert_eq!(file_type_of_mode(S_IFSOCK | 0o777), ftype::SOCK);
        assert_eq!(file_type_of_mode(S_IFLNK | 0o777), ftype::SYMLINK);
        assert_eq!(file_type_of_mode(0o644), ftype::UNKNOWN);
        assert_eq!(file_type_of_mode(0o170000), ftype::UNKNOWN);
    }

    #[test]
    fn new_directory_block() {
        for filetype in [true, false] {
            for bs in [1024usize, 2048, 4096] {
                let mut b = vec![0xa5u8; bs];
                init_dir_block(&mut b, 12, 2, filetype).unwrap();
                let e: Vec<_> = DirentIter::new(&b, MAX_INO, filetype)
                    .map(|d| d.unwrap())
                    .collect();
                assert_eq!(e.len(), 2);
                assert_eq!((e[0].offset, e[0].inode, e[0].rec_len), (0, 12, 12));
                assert_eq!(e[0].name, b".");
                assert_eq!((e[1].offset, e[1].inode, e[1].rec_len), (12, 2, bs - 12));
                assert_eq!(e[1].name, b"..");
                let want_ft = if filetype { ftype::DIR } else { 0 };
                assert_eq!((e[0].file_type, e[1].file_type), (want_ft, want_ft));
                assert!(is_empty_dir_block(&b, MAX_INO, filetype, true).unwrap());
                assert!(!is_empty_dir_block(&b, MAX_INO, filetype, false).unwrap());
                let dd = find_dotdot(&b, MAX_INO, filetype).unwrap().unwrap();
                assert_eq!((dd.offset, dd.inode), (12, 2));
                // The rest of the block is zeroed.
                assert!(b[24..].iter().all(|&x| x == 0));
                // Without FILETYPE the high byte of name_len is zero.
                assert_eq!(b[7], want_ft);
            }
        }
        let mut b = [0u8; 20];
        assert_eq!(
            init_dir_block(&mut b, 12, 2, true),
            Err(DirentError::BadBlockSize { len: 20 })
        );
        let mut b = [0u8; 1024];
        assert!(matches!(
            init_dir_block(&mut b, 0, 2, true),
            Err(DirentError::BadInode { inode: 0, .. })
        ));
        assert!(init_dir_block(&mut b, 5, 0, true).is_err());
    }

    #[test]
    fn empty_block_and_bad_sizes() {
        let mut b = vec![0x5au8; 1024];
        init_empty_block(&mut b).unwrap();
        assert!(live(&b, true).is_empty());
        assert!(is_empty_dir_block(&b, MAX_INO, true, false).unwrap());
        assert_eq!(
            find_slot(&b, 255, MAX_INO, true),
            Ok(Some(Slot {
                offset: 0,
                split: false
            }))
        );
        assert!(find_dotdot(&b, MAX_INO, true).unwrap().is_none());
        for len in [0usize, 4, 8, 1022, 65536, 70000] {
            let mut b = vec![0u8; len];
            assert_eq!(
                init_empty_block(&mut b),
                Err(DirentError::BadBlockSize { len })
            );
            assert_eq!(
                find_slot(&b, 3, MAX_INO, true),
                Err(DirentError::BadBlockSize { len })
            );
        }
        // The smallest and largest blocks accepted.
        let mut b = vec![0u8; 12];
        init_empty_block(&mut b).unwrap();
        assert_eq!(add(&mut b, 7, b"abcd", 1, true), Some(0));
        assert_eq!(add(&mut b, 8, b"e", 1, true), None);
        let mut b = vec![0u8; MAX_DIR_BLOCK];
        init_empty_block(&mut b).unwrap();
        assert_eq!(add(&mut b, 7, b"x", 1, true), Some(0));
        assert_eq!(add(&mut b, 8, b"y", 1, true), Some(12));
        let off = offset_of(&b, b"y", true);
        remove_entry(&mut b, off, MAX_INO, true).unwrap();
        assert_eq!(names(&b, true), vec![b"x".to_vec()]);
    }

    #[test]
    fn fill_until_full_then_reuse() {
        for filetype in [true, false] {
            for bs in [1024usize, 4096] {
                let mut rng = XorShift(bs as u64 + filetype as u64);
                let mut b = vec![0u8; bs];
                init_empty_block(&mut b).unwrap();
                let mut model = Vec::new();
                let mut ino = 100;
                // Random names while they fit, then one-byte names.
                let mut short = false;
                loop {
                    let name = if short {
                        vec![b'a' + rng.below(26) as u8]
                    } else {
                        random_name(&mut rng, 40)
                    };
                    ino += 1;
                    match add(&mut b, ino, &name, ftype::REG, filetype) {
                        Some(_) => model.push(name),
                        None if short => break,
                        None => short = true,
                    }
                }
                model.sort();
                assert_eq!(names(&b, filetype), model);
                // Full: no entry has room for even a one-byte name.
                for d in DirentIter::new(&b, MAX_INO, filetype).map(|d| d.unwrap()) {
                    assert!(d.rec_len < rec_len_for(d.name.len()) + rec_len_for(1));
                }
                // Remove in a random order, checking as we go.
                let mut order = model.clone();
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.below(i as u64 + 1) as usize);
                }
                for (k, name) in order.iter().enumerate() {
                    let off = offset_of(&b, name, filetype);
                    remove_entry(&mut b, off, MAX_INO, filetype).unwrap();
                    let mut rest: Vec<_> = order[k + 1..].to_vec();
                    rest.sort();
                    assert_eq!(names(&b, filetype), rest);
                }
                // All space came back: one unused entry spans the block.
                let all: Vec<_> = DirentIter::new(&b, MAX_INO, filetype)
                    .map(|d| d.unwrap())
                    .collect();
                assert_eq!(all.len(), 1);
                assert_eq!((all[0].inode, all[0].rec_len), (0, bs));
                // And as many minimal entries fit as in a fresh block.
                let mut n = 0;
                while add(&mut b, 5, b"abcd", ftype::REG, filetype).is_some() {
                    n += 1;
                }
                assert_eq!(n, bs / 12);
            }
        }
    }

    #[test]
    fn removal_orders_and_space_reuse() {
        // Remove first, last and middle entries; a freed gap is reused by a
        // name that fits it.
        let mut b = vec![0u8; 1024];
        init_dir_block(&mut b, 20, 2, true).unwrap();
        for (i, n) in [b"aaaa", b"bbbb", b"cccc", b"dddd"].iter().enumerate() {
            add(&mut b, 30 + i as u32, *n, ftype::REG, true).unwrap();
        }
        // Offsets: . 0, .. 12, aaaa 24, bbbb 36, cccc 48, dddd 60.
        assert_eq!(offset_of(&b, b"cccc", true), 48);
        remove_entry(&mut b, 48, MAX_INO, true).unwrap();
        // bbbb absorbed cccc: bbbb now spans 36..60.
        let e: Vec<_> = DirentIter::new(&b, MAX_INO, true)
            .map(|d| d.unwrap())
            .collect();
        assert_eq!((e[3].offset, e[3].rec_len), (36, 24));
        // A 4-byte name goes back into the gap, splitting bbbb.
        assert_eq!(add(&mut b, 40, b"eeee", ftype::REG, true), Some(48));
        // Removing the first entry of a block only clears its inode.
        remove_entry(&mut b, 0, MAX_INO, true).unwrap();
        let first = DirentIter::new(&b, MAX_INO, true).next().unwrap().unwrap();
        assert_eq!((first.offset, first.inode, first.rec_len), (0, 0, 12));
        // ... and the unused first entry is reused for a name that fits it.
        assert_eq!(
            find_slot(&b, 4, MAX_INO, true),
            Ok(Some(Slot {
                offset: 0,
                split: false
            }))
        );
        assert_eq!(add(&mut b, 41, b"ffff", ftype::REG, true), Some(0));
        // A longer name does not fit there and goes to the tail.
        assert_eq!(add(&mut b, 42, b"gggggggg", ftype::REG, true), Some(72));
        // Removing the last entry gives its space to the one before.
        let last = offset_of(&b, b"gggggggg", true);
        remove_entry(&mut b, last, MAX_INO, true).unwrap();
        let tail = DirentIter::new(&b, MAX_INO, true)
            .map(|d| d.unwrap())
            .last()
            .unwrap();
        assert_eq!((tail.offset, tail.rec_len), (60, 1024 - 60));
        assert_eq!(tail.name, b"dddd");
    }

    #[test]
    fn remove_checks_the_offset() {
        let mut b = vec![0u8; 1024];
        init_dir_block(&mut b, 20, 2, true).unwrap();
        add(&mut b, 30, b"file", ftype::REG, true).unwrap();
        let before = b.clone();
        for off in [1usize, 4, 8, 13, 23, 25, 1020, 1024, 5000, usize::MAX] {
            assert_eq!(
                remove_entry(&mut b, off, MAX_INO, true),
                Err(DirentError::NotAnEntry { offset: off })
            );
            assert_eq!(
                set_entry_inode(&mut b, off, 9, ftype::REG, true),
                Err(DirentError::NotAnEntry { offset: off })
            );
        }
        assert_eq!(b, before);
        // An unused entry cannot be removed or retargeted.
        let mut b = vec![0u8; 1024];
        init_empty_block(&mut b).unwrap();
        assert_eq!(
            remove_entry(&mut b, 0, MAX_INO, true),
            Err(DirentError::NotAnEntry { offset: 0 })
        );
        assert_eq!(
            set_entry_inode(&mut b, 0, 5, 1, true),
            Err(DirentError::NotAnEntry { offset: 0 })
        );
        // A corrupt block is refused before anything is written.
        let mut b = sample();
        put_le16(&mut b, 44 + 4, 1024);
        let before = b;
        assert!(remove_entry(&mut b, 24, 100, true).is_err());
        assert!(set_entry_inode(&mut b, 24, 5, 1, true).is_err());
        assert!(find_slot(&b, 3, 100, true).is_err());
        assert_eq!(b, before);
        // Inode numbers past max_inode are refused by the checked calls.
        let mut b = sample();
        assert!(matches!(
            remove_entry(&mut b, 12, 5, true),
            Err(DirentError::BadInode { .. })
        ));
    }

    #[test]
    fn stale_or_bad_slots_write_nothing() {
        let mut b = vec![0u8; 1024];
        init_dir_block(&mut b, 20, 2, true).unwrap();
        let slot = find_slot(&b, 200, MAX_INO, true).unwrap().unwrap();
        assert_eq!(
            slot,
            Slot {
                offset: 12,
                split: true
            }
        );
        add(&mut b, 30, &[b'x'; 255], ftype::REG, true).unwrap();
        add(&mut b, 31, &[b'y'; 255], ftype::REG, true).unwrap();
        add(&mut b, 32, &[b'z'; 255], ftype::REG, true).unwrap();
        let before = b.clone();
        // The slot found earlier no longer has room.
        assert_eq!(
            insert_at(&mut b, slot, 40, &[b'w'; 200], 1, true),
            Err(DirentError::NoRoom { offset: 12 })
        );
        // A slot that does not match the entry's state.
        let wrong = Slot {
            offset: 0,
            split: false,
        };
        assert_eq!(
            insert_at(&mut b, wrong, 40, b"w", 1, true),
            Err(DirentError::NoRoom { offset: 0 })
        );
        let nowhere = Slot {
            offset: 6,
            split: true,
        };
        assert_eq!(
            insert_at(&mut b, nowhere, 40, b"w", 1, true),
            Err(DirentError::NotAnEntry { offset: 6 })
        );
        // Bad names and inode 0.
        assert_eq!(
            insert_at(&mut b, slot, 40, b"", 1, true),
            Err(DirentError::BadNameLen { len: 0 })
        );
        assert_eq!(
            insert_at(&mut b, slot, 40, &[b'q'; 256], 1, true),
            Err(DirentError::BadNameLen { len: 256 })
        );
        assert!(insert_at(&mut b, slot, 0, b"q", 1, true).is_err());
        assert_eq!(b, before);
        assert_eq!(
            find_slot(&b, 0, MAX_INO, true),
            Err(DirentError::BadNameLen { len: 0 })
        );
        assert_eq!(
            find_slot(&b, 256, MAX_INO, true),
            Err(DirentError::BadNameLen { len: 256 })
        );
    }

    #[test]
    fn live_entry_with_empty_name_keeps_twelve_bytes() {
        // Seen by the fuzzer: a live entry with name_len 0 is valid on disk
        // but must not shrink below the 12-byte minimum when split.
        let mut b = vec![0u8; 68];
        put(&mut b, 0, 2, 68, b"", 0);
        check_block(&b, MAX_INO, true).unwrap();
        let slot = find_slot(&b, 5, MAX_INO, true).unwrap().unwrap();
        assert!(slot.split);
        assert_eq!(insert_at(&mut b, slot, 9, b"hello", 1, true), Ok(12));
        let e = live(&b, true);
        assert_eq!(e.len(), 2);
        assert_eq!((e[1].0, e[1].1, &e[1].2[..]), (12, 9, &b"hello"[..]));
        // The 56 bytes after a 12-byte entry fit a 48-byte name, not 49.
        let mut b = vec![0u8; 68];
        put(&mut b, 0, 2, 68, b"", 0);
        assert!(find_slot(&b, 48, MAX_INO, true).unwrap().is_some());
        assert!(find_slot(&b, 49, MAX_INO, true).unwrap().is_none());
    }

    #[test]
    fn every_name_length_round_trips() {
        for filetype in [true, false] {
            for bs in [1024usize, 2048, 4096] {
                let mut b = vec![0u8; bs];
                init_dir_block(&mut b, 11, 2, filetype).unwrap();
                for len in 1..=NAME_LEN {
                    let name: Vec<u8> = (0..len).map(|i| b'!' + (i % 90) as u8).collect();
                    let off =
                        add(&mut b, len as u32 + 100, &name, ftype::SYMLINK, filetype).unwrap();
                    let d = DirentIter::new(&b, MAX_INO, filetype)
                        .starting_at(off)
                        .next()
                        .unwrap()
                        .unwrap();
                    assert_eq!(d.name, &name[..]);
                    assert_eq!(d.inode, len as u32 + 100);
                    assert_eq!(d.file_type, if filetype { ftype::SYMLINK } else { 0 });
                    assert!(!is_empty_dir_block(&b, MAX_INO, filetype, true).unwrap());
                    remove_entry(&mut b, off, MAX_INO, filetype).unwrap();
                    assert!(is_empty_dir_block(&b, MAX_INO, filetype, true).unwrap());
                    assert_eq!(names(&b, filetype), vec![b".".to_vec(), b"..".to_vec()]);
                }
                // The block is back to "." and ".." with ".." spanning it.
                let dd = find_dotdot(&b, MAX_INO, filetype).unwrap().unwrap();
                assert_eq!(dd.rec_len, bs - 12);
            }
        }
    }

    #[test]
    fn retarget_entries() {
        for filetype in [true, false] {
            let mut b = vec![0u8; 1024];
            init_dir_block(&mut b, 20, 2, filetype).unwrap();
            let off = add(&mut b, 30, b"target", ftype::REG, filetype).unwrap();
            set_entry_inode(&mut b, off, 31, ftype::DIR, filetype).unwrap();
            let e = live(&b, filetype);
            assert_eq!(e[2].1, 31);
            assert_eq!(e[2].2, b"target");
            assert_eq!(e[2].3, if filetype { ftype::DIR } else { 0 });
            // ".." of a moved directory.
            let dd = find_dotdot(&b, MAX_INO, filetype).unwrap().unwrap().offset;
            set_entry_inode(&mut b, dd, 77, ftype::DIR, filetype).unwrap();
            assert_eq!(
                find_dotdot(&b, MAX_INO, filetype).unwrap().unwrap().inode,
                77
            );
            assert!(matches!(
                set_entry_inode(&mut b, dd, 0, ftype::DIR, filetype),
                Err(DirentError::BadInode { .. })
            ));
            assert_eq!(live(&b, filetype).len(), 3);
        }
    }

    #[test]
    fn emptiness() {
        let mut b = vec![0u8; 1024];
        init_dir_block(&mut b, 20, 2, true).unwrap();
        let off = add(&mut b, 30, b"x", ftype::REG, true).unwrap();
        assert!(!is_empty_dir_block(&b, MAX_INO, true, true).unwrap());
        remove_entry(&mut b, off, MAX_INO, true).unwrap();
        assert!(is_empty_dir_block(&b, MAX_INO, true, true).unwrap());
        // "." or ".." in a later block is an ordinary (suspicious) name.
        let mut b = vec![0u8; 1024];
        init_empty_block(&mut b).unwrap();
        let off = add(&mut b, 30, b"..", ftype::DIR, true).unwrap();
        assert!(!is_empty_dir_block(&b, MAX_INO, true, false).unwrap());
        assert!(is_empty_dir_block(&b, MAX_INO, true, true).unwrap());
        remove_entry(&mut b, off, MAX_INO, true).unwrap();
        assert!(is_empty_dir_block(&b, MAX_INO, true, false).unwrap());
        // Deleted entries keep their names but do not count.
        let mut b = sample();
        put_le32(&mut b, 24, 0);
        assert!(is_empty_dir_block(&b, 100, true, true).unwrap());
        // Corruption is reported, not guessed at.
        let mut b = sample();
        put_le16(&mut b, 24 + 4, 6);
        assert!(is_empty_dir_block(&b, 100, true, true).is_err());
    }

    /// Runs every block operation on one buffer; none may panic, and on a
    /// block that was valid the changes keep it valid.
    fn exercise(b: &[u8], filetype: bool, rng: &mut XorShift) {
        let max = 1 + rng.below(u32::MAX as u64) as u32;
        let ok = check_block(b, max, filetype).is_ok();
        let _ = DirentIter::new(b, max, filetype)
            .starting_at(rng.below(b.len() as u64 + 8) as usize)
            .count();
        let _ = is_empty_dir_block(b, max, filetype, rng.below(2) == 0);
        let _ = find_dotdot(b, max, filetype);
        let name_len = rng.below(260) as usize;
        let mut m = b.to_vec();
        if let Ok(Some(slot)) = find_slot(&m, name_len, max, filetype) {
            assert!(ok);
            let name = vec![b'n'; name_len];
            let off = insert_at(&mut m, slot, max, &name, 1, filetype).unwrap();
            check_block(&m, max, filetype).unwrap();
            remove_entry(&mut m, off, max, filetype).unwrap();
            check_block(&m, max, filetype).unwrap();
        }
        let offs: Vec<usize> = DirentIter::new(b, max, filetype)
            .filter_map(|d| d.ok())
            .map(|d| d.offset)
            .collect();
        let off = if rng.below(2) == 0 && !offs.is_empty() {
            offs[rng.below(offs.len() as u64) as usize]
        } else {
            rng.below(b.len() as u64 + 4) as usize
        };
        let mut m = b.to_vec();
        if remove_entry(&mut m, off, max, filetype).is_ok() {
            assert!(ok);
            check_block(&m, max, filetype).unwrap();
        } else {
            assert_eq!(m, b);
        }
        let mut m = b.to_vec();
        if set_entry_inode(&mut m, off, max, 2, filetype).is_ok() {
            if ok {
                check_block(&m, max, filetype).unwrap();
            }
        } else {
            assert_eq!(m, b);
        }
    }

    #[test]
    fn random_blocks_never_panic() {
        let mut rng = XorShift(0xd1e7_0123_4567_89ab);
        for round in 0..4000 {
            let filetype = round % 2 == 0;
            let len = match rng.below(4) {
                0 => rng.below(80) as usize,
                1 => 1024,
                _ => 4 * rng.below(300) as usize,
            };
            let mut b: Vec<u8> = match rng.below(3) {
                // Raw noise.
                0 => (0..len).map(|_| rng.next() as u8).collect(),
                // A valid block with a few bytes flipped.
                _ => {
                    let mut b = vec![0u8; len];
                    if init_dir_block(&mut b, 2, 2, filetype).is_ok() {
                        for _ in 0..rng.below(12) {
                            let name = random_name(&mut rng, 30);
                            let _ = add(&mut b, 3, &name, 1, filetype);
                        }
                    }
                    b
                }
            };
            for _ in 0..rng.below(4) {
                if !b.is_empty() {
                    let i = rng.below(b.len() as u64) as usize;
                    b[i] = rng.next() as u8;
                }
            }
            // Small rec_lens make noise parse further.
            if b.len() >= 6 && rng.below(2) == 0 {
                put_le16(&mut b, 4, 4 * rng.below(8) as u16);
            }
            exercise(&b, filetype, &mut rng);
        }
    }
}
