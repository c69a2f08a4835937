// SPDX-License-Identifier: GPL-2.0
//! ext2 directory entries: parsing and validation of one directory block.
//! Pure logic, host-tested and fuzzed: directory blocks come from disk.

use super::layout::{le16, le32};

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
    RecLenTooSmall { offset: usize },
    RecLenUnaligned { offset: usize },
    RecLenTooSmallForName { offset: usize },
    CrossesBlock { offset: usize },
    BadInode { offset: usize, inode: u32 },
}

impl DirentError {
    pub fn reason(&self) -> &'static str {
        match self {
            DirentError::RecLenTooSmall { .. } => "rec_len is smaller than minimal",
            DirentError::RecLenUnaligned { .. } => "unaligned directory entry",
            DirentError::RecLenTooSmallForName { .. } => "rec_len is too small for name_len",
            DirentError::CrossesBlock { .. } => "directory entry across blocks",
            DirentError::BadInode { .. } => "inode number out of bounds",
        }
    }

    pub fn offset(&self) -> usize {
        match *self {
            DirentError::RecLenTooSmall { offset }
            | DirentError::RecLenUnaligned { offset }
            | DirentError::RecLenTooSmallForName { offset }
            | DirentError::CrossesBlock { offset }
            | DirentError::BadInode { offset, .. } => offset,
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
    if rec_len % 4 != 0 {
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
}
