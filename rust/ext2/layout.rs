// SPDX-License-Identifier: GPL-2.0
//! The ext2 on-disk format: superblock, group descriptors and inodes.
//!
//! Pure logic with no kernel dependency: compiled into the module and
//! unit-tested on the host. Every byte handed in here came from a disk and is
//! treated as hostile; parsing never panics and validation says what is wrong.

/// Byte offset of the primary superblock from the start of the device.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// Size of the superblock record.
pub const SUPERBLOCK_SIZE: usize = 1024;
pub const EXT2_MAGIC: u16 = 0xEF53;
pub const ROOT_INO: u32 = 2;
pub const GOOD_OLD_REV: u32 = 0;
pub const DYNAMIC_REV: u32 = 1;
pub const GOOD_OLD_INODE_SIZE: u16 = 128;
pub const GOOD_OLD_FIRST_INO: u32 = 11;
pub const NAME_LEN: usize = 255;
pub const GROUP_DESC_SIZE: usize = 32;
/// Number of block pointers in an inode: 12 direct, then single, double and
/// triple indirect.
pub const N_BLOCKS: usize = 15;
pub const MIN_BLOCK_LOG: u32 = 10;
/// Largest block size rext2 mounts: buffer_heads need block size <= page size.
pub const MAX_BLOCK_SIZE: u32 = 4096;

pub const STATE_VALID: u16 = 0x0001;
pub const STATE_ERROR: u16 = 0x0002;

pub const FEATURE_COMPAT_DIR_PREALLOC: u32 = 0x0001;
pub const FEATURE_COMPAT_IMAGIC_INODES: u32 = 0x0002;
pub const FEATURE_COMPAT_HAS_JOURNAL: u32 = 0x0004;
pub const FEATURE_COMPAT_EXT_ATTR: u32 = 0x0008;
pub const FEATURE_COMPAT_RESIZE_INODE: u32 = 0x0010;
pub const FEATURE_COMPAT_DIR_INDEX: u32 = 0x0020;

pub const FEATURE_RO_COMPAT_SPARSE_SUPER: u32 = 0x0001;
pub const FEATURE_RO_COMPAT_LARGE_FILE: u32 = 0x0002;
pub const FEATURE_RO_COMPAT_BTREE_DIR: u32 = 0x0004;

pub const FEATURE_INCOMPAT_COMPRESSION: u32 = 0x0001;
pub const FEATURE_INCOMPAT_FILETYPE: u32 = 0x0002;
pub const FEATURE_INCOMPAT_RECOVER: u32 = 0x0004;
pub const FEATURE_INCOMPAT_JOURNAL_DEV: u32 = 0x0008;
pub const FEATURE_INCOMPAT_META_BG: u32 = 0x0010;

/// Incompatible features rext2 understands; any other bit refuses the mount.
pub const SUPPORTED_INCOMPAT: u32 = FEATURE_INCOMPAT_FILETYPE;
/// Read-only-compatible features rext2 understands; any other bit refuses a
/// read-write mount (a read-only one is still allowed, as in ext2).
pub const SUPPORTED_RO_COMPAT: u32 =
    FEATURE_RO_COMPAT_SPARSE_SUPER | FEATURE_RO_COMPAT_LARGE_FILE | FEATURE_RO_COMPAT_BTREE_DIR;

/// Reads a little-endian u16 at `off`; `None` when out of range.
pub fn le16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

/// Reads a little-endian u32 at `off`; `None` when out of range.
pub fn le32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Writes a little-endian u16 at `off`; false when out of range.
pub fn put_le16(b: &mut [u8], off: usize, v: u16) -> bool {
    match off.checked_add(2).and_then(|end| b.get_mut(off..end)) {
        Some(s) => {
            s.copy_from_slice(&v.to_le_bytes());
            true
        }
        None => false,
    }
}

/// Writes a little-endian u32 at `off`; false when out of range.
pub fn put_le32(b: &mut [u8], off: usize, v: u32) -> bool {
    match off.checked_add(4).and_then(|end| b.get_mut(off..end)) {
        Some(s) => {
            s.copy_from_slice(&v.to_le_bytes());
            true
        }
        None => false,
    }
}

/// `a / b` where validation made `b` non-zero: 0 instead of a panic if not.
pub const fn div_nz(a: u64, b: u64) -> u64 {
    match a.checked_div(b) {
        Some(q) => q,
        None => 0,
    }
}

/// `a % b` where validation made `b` non-zero: 0 instead of a panic if not.
pub const fn rem_nz(a: u64, b: u64) -> u64 {
    match a.checked_rem(b) {
        Some(r) => r,
        None => 0,
    }
}

/// `a.div_ceil(b)` where validation made `b` non-zero.
pub const fn div_ceil_nz(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        a.div_ceil(b)
    }
}

/// Why a superblock or group descriptor cannot be mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbError {
    ShortBuffer,
    BadMagic(u16),
    BadRevision(u32),
    BadBlockSize(u32),
    FragSizeDiffers(u32),
    UnsupportedIncompat(u32),
    UnsupportedRoCompat(u32),
    BadBlocksPerGroup(u32),
    BadInodesPerGroup(u32),
    BadInodeSize(u16),
    BadFirstIno(u32),
    BadFirstDataBlock(u32),
    BadInodesCount(u32),
    TooBigForDevice { blocks: u32, device_blocks: u64 },
    NoGroups,
    BadGroupDesc { group: u32, what: &'static str },
}

impl SbError {
    /// A short English reason for the kernel log.
    pub fn reason(&self) -> &'static str {
        match self {
            SbError::ShortBuffer => "superblock buffer too short",
            SbError::BadMagic(_) => "bad magic number (not an ext2 filesystem)",
            SbError::BadRevision(_) => "unsupported revision level",
            SbError::BadBlockSize(_) => "unsupported block size",
            SbError::FragSizeDiffers(_) => "fragment size differs from block size (not supported)",
            SbError::UnsupportedIncompat(_) => "unsupported incompatible features",
            SbError::UnsupportedRoCompat(_) => {
                "unsupported ro-compat features (read-only mount only)"
            }
            SbError::BadBlocksPerGroup(_) => "bad blocks per group",
            SbError::BadInodesPerGroup(_) => "bad inodes per group",
            SbError::BadInodeSize(_) => "unsupported inode size",
            SbError::BadFirstIno(_) => "bad first inode number",
            SbError::BadFirstDataBlock(_) => "bad first data block",
            SbError::BadInodesCount(_) => "inode count does not match the groups",
            SbError::TooBigForDevice { .. } => "filesystem is larger than the device",
            SbError::NoGroups => "no block groups",
            SbError::BadGroupDesc { what, .. } => what,
        }
    }

    /// The number that made it wrong, for the log (0 when there is none).
    pub fn value(&self) -> u64 {
        match *self {
            SbError::BadMagic(v) => v as u64,
            SbError::BadInodeSize(v) => v as u64,
            SbError::BadRevision(v)
            | SbError::BadBlockSize(v)
            | SbError::FragSizeDiffers(v)
            | SbError::UnsupportedIncompat(v)
            | SbError::UnsupportedRoCompat(v)
            | SbError::BadBlocksPerGroup(v)
            | SbError::BadInodesPerGroup(v)
            | SbError::BadFirstIno(v)
            | SbError::BadFirstDataBlock(v)
            | SbError::BadInodesCount(v) => v as u64,
            SbError::TooBigForDevice { blocks, .. } => blocks as u64,
            SbError::BadGroupDesc { group, .. } => group as u64,
            SbError::ShortBuffer | SbError::NoGroups => 0,
        }
    }
}

/// The superblock fields rext2 uses, decoded. Offsets follow the ext2 spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SuperBlock {
    pub inodes_count: u32,
    pub blocks_count: u32,
    pub r_blocks_count: u32,
    pub free_blocks_count: u32,
    pub free_inodes_count: u32,
    pub first_data_block: u32,
    pub log_block_size: u32,
    pub log_frag_size: u32,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    pub mtime: u32,
    pub wtime: u32,
    pub mnt_count: u16,
    pub max_mnt_count: u16,
    pub magic: u16,
    pub state: u16,
    pub errors: u16,
    pub lastcheck: u32,
    pub checkinterval: u32,
    pub rev_level: u32,
    pub def_resuid: u16,
    pub def_resgid: u16,
    pub first_ino: u32,
    pub inode_size: u16,
    pub feature_compat: u32,
    pub feature_incompat: u32,
    pub feature_ro_compat: u32,
    pub uuid: [u8; 16],
    pub reserved_gdt_blocks: u16,
    pub def_mount_opts: u32,
}

impl SuperBlock {
    /// Decodes the 1024-byte superblock record (no validation).
    pub fn parse(b: &[u8]) -> Result<SuperBlock, SbError> {
        if b.len() < SUPERBLOCK_SIZE {
            return Err(SbError::ShortBuffer);
        }
        let r32 = |o| le32(b, o).unwrap_or(0);
        let r16 = |o| le16(b, o).unwrap_or(0);
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&b[104..120]);
        let rev_level = r32(76);
        let (first_ino, inode_size) = if rev_level == GOOD_OLD_REV {
            (GOOD_OLD_FIRST_INO, GOOD_OLD_INODE_SIZE)
        } else {
            (r32(84), r16(88))
        };
        Ok(SuperBlock {
            inodes_count: r32(0),
            blocks_count: r32(4),
            r_blocks_count: r32(8),
            free_blocks_count: r32(12),
            free_inodes_count: r32(16),
            first_data_block: r32(20),
            log_block_size: r32(24),
            log_frag_size: r32(28),
            blocks_per_group: r32(32),
            inodes_per_group: r32(40),
            mtime: r32(44),
            wtime: r32(48),
            mnt_count: r16(52),
            max_mnt_count: r16(54),
            magic: r16(56),
            state: r16(58),
            errors: r16(60),
            lastcheck: r32(64),
            checkinterval: r32(68),
            rev_level,
            def_resuid: r16(80),
            def_resgid: r16(82),
            first_ino,
            inode_size,
            feature_compat: if rev_level == GOOD_OLD_REV {
                0
            } else {
                r32(92)
            },
            feature_incompat: if rev_level == GOOD_OLD_REV {
                0
            } else {
                r32(96)
            },
            feature_ro_compat: if rev_level == GOOD_OLD_REV {
                0
            } else {
                r32(100)
            },
            uuid,
            reserved_gdt_blocks: r16(206),
            def_mount_opts: r32(256),
        })
    }

    /// Block size in bytes, if the log is sane (checked by `validate`).
    pub fn block_size(&self) -> Option<u32> {
        if self.log_block_size > 6 {
            return None;
        }
        Some(1024u32 << self.log_block_size)
    }

    /// Checks everything that can be checked without the group descriptors.
    /// `device_bytes` is the size of the block device; `read_only` says
    /// whether unknown ro-compat features may be tolerated.
    pub fn validate(&self, device_bytes: u64, read_only: bool) -> Result<Geometry, SbError> {
        if self.magic != EXT2_MAGIC {
            return Err(SbError::BadMagic(self.magic));
        }
        if self.rev_level > DYNAMIC_REV {
            return Err(SbError::BadRevision(self.rev_level));
        }
        let bs = match self.block_size() {
            Some(bs) if bs <= MAX_BLOCK_SIZE => bs,
            _ => return Err(SbError::BadBlockSize(self.log_block_size)),
        };
        // ext2 never implemented fragments: their size must be the block size.
        if self.log_frag_size != self.log_block_size {
            return Err(SbError::FragSizeDiffers(self.log_frag_size));
        }
        let unknown = self.feature_incompat & !SUPPORTED_INCOMPAT;
        if unknown != 0 {
            return Err(SbError::UnsupportedIncompat(unknown));
        }
        let unknown_ro = self.feature_ro_compat & !SUPPORTED_RO_COMPAT;
        if unknown_ro != 0 && !read_only {
            return Err(SbError::UnsupportedRoCompat(unknown_ro));
        }
        let isz = self.inode_size as u32;
        if isz < GOOD_OLD_INODE_SIZE as u32 || !isz.is_power_of_two() || isz > bs {
            return Err(SbError::BadInodeSize(self.inode_size));
        }
        if self.first_ino < GOOD_OLD_FIRST_INO || self.first_ino > self.inodes_count {
            return Err(SbError::BadFirstIno(self.first_ino));
        }
        // With 1K blocks the superblock is block 1 and data starts there;
        // with larger blocks block 0 holds it.
        let expected_first = if bs == 1024 { 1 } else { 0 };
        if self.first_data_block != expected_first {
            return Err(SbError::BadFirstDataBlock(self.first_data_block));
        }
        if self.blocks_per_group < 8
            || self.blocks_per_group > bs * 8
            || self.blocks_per_group % 8 != 0
        {
            return Err(SbError::BadBlocksPerGroup(self.blocks_per_group));
        }
        let inodes_per_block = div_nz(bs as u64, isz as u64) as u32;
        if self.inodes_per_group == 0
            || self.inodes_per_group > bs * 8
            || rem_nz(self.inodes_per_group as u64, inodes_per_block as u64) != 0
        {
            return Err(SbError::BadInodesPerGroup(self.inodes_per_group));
        }
        if self.blocks_count <= self.first_data_block {
            return Err(SbError::NoGroups);
        }
        let device_blocks = div_nz(device_bytes, bs as u64);
        if self.blocks_count as u64 > device_blocks {
            return Err(SbError::TooBigForDevice {
                blocks: self.blocks_count,
                device_blocks,
            });
        }
        let data_blocks = self.blocks_count - self.first_data_block;
        let groups = div_ceil_nz(data_blocks as u64, self.blocks_per_group as u64) as u32;
        if groups as u64 * self.inodes_per_group as u64 != self.inodes_count as u64 {
            return Err(SbError::BadInodesCount(self.inodes_count));
        }
        let descs_per_block = bs / GROUP_DESC_SIZE as u32;
        let desc_blocks = div_ceil_nz(groups as u64, descs_per_block as u64) as u32;
        let itb_per_group = div_nz(self.inodes_per_group as u64, inodes_per_block as u64) as u32;
        // The first group must hold the superblock, the descriptor table and
        // its own metadata.
        if self.first_data_block as u64 + 1 + desc_blocks as u64 + 2 + itb_per_group as u64
            > self.blocks_count as u64
        {
            return Err(SbError::NoGroups);
        }
        Ok(Geometry {
            block_size: bs,
            block_bits: 10 + self.log_block_size,
            groups,
            blocks_per_group: self.blocks_per_group,
            inodes_per_group: self.inodes_per_group,
            inode_size: isz,
            inodes_per_block,
            itb_per_group,
            desc_blocks,
            first_data_block: self.first_data_block,
            blocks_count: self.blocks_count,
            inodes_count: self.inodes_count,
            first_ino: self.first_ino,
            sparse_super: self.feature_ro_compat & FEATURE_RO_COMPAT_SPARSE_SUPER != 0,
            large_file: self.feature_ro_compat & FEATURE_RO_COMPAT_LARGE_FILE != 0,
            filetype: self.feature_incompat & FEATURE_INCOMPAT_FILETYPE != 0,
        })
    }
}

/// Geometry derived from a validated superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Geometry {
    pub block_size: u32,
    pub block_bits: u32,
    pub groups: u32,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    pub inode_size: u32,
    pub inodes_per_block: u32,
    pub itb_per_group: u32,
    pub desc_blocks: u32,
    pub first_data_block: u32,
    pub blocks_count: u32,
    pub inodes_count: u32,
    pub first_ino: u32,
    pub sparse_super: bool,
    pub large_file: bool,
    pub filetype: bool,
}

/// Where an inode lives on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InodeLoc {
    pub group: u32,
    /// Block number relative to the group's inode table.
    pub table_block: u32,
    /// Byte offset within that block.
    pub offset: usize,
}

impl Geometry {
    /// First block of group `g`.
    pub fn group_first_block(&self, g: u32) -> u32 {
        self.first_data_block + g * self.blocks_per_group
    }

    /// Last block of group `g` (inclusive).
    pub fn group_last_block(&self, g: u32) -> u32 {
        if g + 1 == self.groups {
            self.blocks_count - 1
        } else {
            self.group_first_block(g) + self.blocks_per_group - 1
        }
    }

    /// Whether group `g` carries a superblock backup (sparse_super: groups
    /// 0, 1 and powers of 3, 5 and 7).
    pub fn group_has_super(&self, g: u32) -> bool {
        if !self.sparse_super || g <= 1 {
            return true;
        }
        if g % 2 == 0 {
            return false;
        }
        [3u32, 5, 7].iter().any(|&base| {
            let mut p = base;
            while p < g {
                match p.checked_mul(base) {
                    Some(n) => p = n,
                    None => return false,
                }
            }
            p == g
        })
    }

    /// Blocks taken by filesystem structures, counted the way ext2's statfs
    /// does (superblock copies, descriptor tables, bitmaps, inode tables).
    pub fn overhead_blocks(&self) -> u64 {
        let mut overhead = self.first_data_block as u64;
        for g in 0..self.groups {
            if self.group_has_super(g) {
                overhead += 1 + self.desc_blocks as u64;
            }
        }
        overhead + self.groups as u64 * (2 + self.itb_per_group as u64)
    }

    /// Where inode `ino` is stored, or `None` for a number out of range.
    pub fn inode_loc(&self, ino: u32) -> Option<InodeLoc> {
        if ino == 0 || ino > self.inodes_count {
            return None;
        }
        let idx = ino - 1;
        let group = div_nz(idx as u64, self.inodes_per_group as u64) as u32;
        let in_group = rem_nz(idx as u64, self.inodes_per_group as u64) as u32;
        let byte = in_group as u64 * self.inode_size as u64;
        Some(InodeLoc {
            group,
            table_block: (byte >> self.block_bits) as u32,
            offset: (byte & (self.block_size as u64 - 1)) as usize,
        })
    }

    /// Whether an inode number may be used by a file (root, or past the
    /// reserved range).
    pub fn ino_is_valid(&self, ino: u32) -> bool {
        (ino == ROOT_INO || ino >= self.first_ino) && ino <= self.inodes_count
    }

    /// Whether `blk` is a block a file may point at.
    pub fn data_block_ok(&self, blk: u32) -> bool {
        blk >= self.first_data_block && blk < self.blocks_count
    }

    /// Block holding descriptor `g` and its byte offset there.
    pub fn group_desc_loc(&self, g: u32) -> (u32, usize) {
        let per_block = (self.block_size as usize / GROUP_DESC_SIZE) as u64;
        (
            self.first_data_block + 1 + div_nz(g as u64, per_block) as u32,
            rem_nz(g as u64, per_block) as usize * GROUP_DESC_SIZE,
        )
    }
}

/// One block group descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupDesc {
    pub block_bitmap: u32,
    pub inode_bitmap: u32,
    pub inode_table: u32,
    pub free_blocks_count: u16,
    pub free_inodes_count: u16,
    pub used_dirs_count: u16,
}

impl GroupDesc {
    pub fn parse(b: &[u8]) -> Option<GroupDesc> {
        Some(GroupDesc {
            block_bitmap: le32(b, 0)?,
            inode_bitmap: le32(b, 4)?,
            inode_table: le32(b, 8)?,
            free_blocks_count: le16(b, 12)?,
            free_inodes_count: le16(b, 14)?,
            used_dirs_count: le16(b, 16)?,
        })
    }

    /// Checks that the descriptor of group `g` points inside its group and
    /// that its free counts are possible.
    pub fn validate(&self, geo: &Geometry, g: u32) -> Result<(), SbError> {
        let first = geo.group_first_block(g);
        let last = geo.group_last_block(g);
        let inside = |b: u32| b >= first && b <= last;
        let bad = |what| Err(SbError::BadGroupDesc { group: g, what });
        if !inside(self.block_bitmap) {
            return bad("block bitmap outside its group");
        }
        if !inside(self.inode_bitmap) {
            return bad("inode bitmap outside its group");
        }
        let table_end = self.inode_table as u64 + geo.itb_per_group as u64 - 1;
        if !inside(self.inode_table) || table_end > last as u64 {
            return bad("inode table outside its group");
        }
        if self.free_blocks_count as u32 > last - first + 1 {
            return bad("free block count larger than the group");
        }
        if self.free_inodes_count as u32 > geo.inodes_per_group {
            return bad("free inode count larger than the group");
        }
        Ok(())
    }
}

pub const S_IFMT: u16 = 0o170000;
pub const S_IFSOCK: u16 = 0o140000;
pub const S_IFLNK: u16 = 0o120000;
pub const S_IFREG: u16 = 0o100000;
pub const S_IFBLK: u16 = 0o060000;
pub const S_IFDIR: u16 = 0o040000;
pub const S_IFCHR: u16 = 0o020000;
pub const S_IFIFO: u16 = 0o010000;

/// Size of the inline block array, which holds a fast symlink's target.
pub const INLINE_DATA_BYTES: usize = N_BLOCKS * 4;

/// An on-disk inode, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskInode {
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub dtime: u32,
    pub links_count: u16,
    /// In 512-byte units.
    pub blocks: u32,
    pub flags: u32,
    pub block: [u32; N_BLOCKS],
    pub generation: u32,
    pub file_acl: u32,
    pub size_high: u32,
}

impl DiskInode {
    /// Decodes an inode record (at least 128 bytes). `large_file` says
    /// whether `i_size_high` extends regular files' sizes.
    pub fn parse(b: &[u8]) -> Option<DiskInode> {
        if b.len() < GOOD_OLD_INODE_SIZE as usize {
            return None;
        }
        let mut block = [0u32; N_BLOCKS];
        for (i, slot) in block.iter_mut().enumerate() {
            *slot = le32(b, 40 + 4 * i)?;
        }
        let mode = le16(b, 0)?;
        let size_lo = le32(b, 4)? as u64;
        let size_high = le32(b, 108)?;
        let size = if mode & S_IFMT == S_IFREG {
            size_lo | (size_high as u64) << 32
        } else {
            size_lo
        };
        Some(DiskInode {
            mode,
            uid: le16(b, 2)? as u32 | (le16(b, 120)? as u32) << 16,
            gid: le16(b, 24)? as u32 | (le16(b, 122)? as u32) << 16,
            size,
            atime: le32(b, 8)? as i32 as i64,
            ctime: le32(b, 12)? as i32 as i64,
            mtime: le32(b, 16)? as i32 as i64,
            dtime: le32(b, 20)?,
            links_count: le16(b, 26)?,
            blocks: le32(b, 28)?,
            flags: le32(b, 32)?,
            block,
            generation: le32(b, 100)?,
            file_acl: le32(b, 104)?,
            size_high,
        })
    }

    pub fn file_type(&self) -> u16 {
        self.mode & S_IFMT
    }

    /// The raw inline bytes of `i_block`, as stored (a fast symlink's target).
    pub fn inline_bytes(&self) -> [u8; INLINE_DATA_BYTES] {
        let mut out = [0u8; INLINE_DATA_BYTES];
        for (i, w) in self.block.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// A symlink is "fast" when its target lives in `i_block`: it owns no data
    /// block (an extended-attribute block does not count).
    pub fn is_fast_symlink(&self, block_size: u32) -> bool {
        let ea_blocks = if self.file_acl != 0 {
            block_size >> 9
        } else {
            0
        };
        self.file_type() == S_IFLNK && self.blocks.saturating_sub(ea_blocks) == 0
    }

    /// Device number stored by a device inode, decoded to (major, minor).
    pub fn device(&self) -> (u32, u32) {
        if self.block[0] != 0 {
            let old = self.block[0];
            ((old >> 8) & 0xff, old & 0xff)
        } else {
            let new = self.block[1];
            ((new & 0xfff00) >> 8, (new & 0xff) | ((new >> 12) & 0xfff00))
        }
    }
}

/// Largest file size for a block size: what the block map can address, capped
/// so that data plus indirect blocks fit the 32-bit count of 512-byte sectors
/// in `i_blocks` (the same limit the C ext2 applies).
pub fn max_file_size(block_bits: u32) -> u64 {
    let ppb = 1u64 << (block_bits - 2);
    let sector_cap = ((1u64 << 32) - 1) >> (block_bits - 9);
    let tree = 12 + ppb + ppb * ppb + ppb * ppb * ppb;
    let tree_meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb);
    let blocks = if tree + tree_meta <= sector_cap {
        tree
    } else {
        // Data blocks d and the indirect blocks they need must fit the cap.
        let mut rest = sector_cap - 12 - ppb;
        let mut meta = 1;
        if rest < ppb * ppb {
            meta += 1 + div_ceil_nz(rest, ppb);
        } else {
            meta += 1 + ppb;
            rest -= ppb * ppb;
            meta += 1 + div_ceil_nz(rest, ppb) + div_ceil_nz(rest, ppb * ppb);
        }
        sector_cap - meta
    };
    let bytes = blocks << block_bits;
    bytes.min(i64::MAX as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_sb() -> [u8; 1024] {
        let mut b = [0u8; 1024];
        put_le32(&mut b, 0, 2048); // inodes
        put_le32(&mut b, 4, 8192); // blocks
        put_le32(&mut b, 20, 1); // first data block
        put_le32(&mut b, 24, 0); // 1K
        put_le32(&mut b, 32, 8192);
        put_le32(&mut b, 40, 2048);
        put_le16(&mut b, 56, EXT2_MAGIC);
        put_le32(&mut b, 76, 1);
        put_le32(&mut b, 84, 11);
        put_le16(&mut b, 88, 128);
        put_le32(&mut b, 96, FEATURE_INCOMPAT_FILETYPE);
        put_le32(
            &mut b,
            100,
            FEATURE_RO_COMPAT_SPARSE_SUPER | FEATURE_RO_COMPAT_LARGE_FILE,
        );
        b
    }

    #[test]
    fn parses_and_validates_a_good_superblock() {
        let sb = SuperBlock::parse(&sample_sb()).unwrap();
        let geo = sb.validate(8 << 20, false).unwrap();
        assert_eq!(geo.block_size, 1024);
        assert_eq!(geo.groups, 1);
        assert_eq!(geo.itb_per_group, 256);
        assert!(geo.filetype);
    }

    #[test]
    fn rejects_each_bad_field() {
        let good = sample_sb();
        let cases: &[(usize, u32, bool)] = &[
            (28, 2, false),
            (24, 20, false),
            (76, 7, false),
            (32, 0, false),
            (40, 0, false),
            (20, 5, false),
        ];
        for &(off, v, _) in cases {
            let mut b = good;
            put_le32(&mut b, off, v);
            assert!(
                SuperBlock::parse(&b)
                    .unwrap()
                    .validate(8 << 20, true)
                    .is_err(),
                "offset {off}"
            );
        }
        let mut b = good;
        put_le16(&mut b, 56, 0x1234);
        assert_eq!(
            SuperBlock::parse(&b).unwrap().validate(8 << 20, true),
            Err(SbError::BadMagic(0x1234))
        );
        let mut b = good;
        put_le32(&mut b, 96, 0x80);
        assert!(matches!(
            SuperBlock::parse(&b).unwrap().validate(8 << 20, true),
            Err(SbError::UnsupportedIncompat(0x80))
        ));
        // Too big for the device.
        assert!(matches!(
            SuperBlock::parse(&good).unwrap().validate(1 << 20, true),
            Err(SbError::TooBigForDevice { .. })
        ));
    }

    #[test]
    fn unknown_ro_compat_only_blocks_rw() {
        let mut b = sample_sb();
        put_le32(&mut b, 100, 0x100 | FEATURE_RO_COMPAT_SPARSE_SUPER);
        let sb = SuperBlock::parse(&b).unwrap();
        assert!(sb.validate(8 << 20, true).is_ok());
        assert_eq!(
            sb.validate(8 << 20, false),
            Err(SbError::UnsupportedRoCompat(0x100))
        );
    }

    #[test]
    fn sparse_super_groups() {
        let geo = Geometry {
            sparse_super: true,
            ..Default::default()
        };
        let with: [u32; 9] = [0, 1, 3, 5, 7, 9, 25, 27, 49];
        for g in 0..60 {
            assert_eq!(geo.group_has_super(g), with.contains(&g), "group {g}");
        }
        assert!(!geo.group_has_super(u32::MAX));
    }

    #[test]
    fn inode_location() {
        let sb = SuperBlock::parse(&sample_sb()).unwrap();
        let geo = sb.validate(8 << 20, false).unwrap();
        assert_eq!(geo.inode_loc(0), None);
        assert_eq!(geo.inode_loc(2049), None);
        assert_eq!(
            geo.inode_loc(1),
            Some(InodeLoc {
                group: 0,
                table_block: 0,
                offset: 0
            })
        );
        assert_eq!(
            geo.inode_loc(9),
            Some(InodeLoc {
                group: 0,
                table_block: 1,
                offset: 0
            })
        );
        assert_eq!(
            geo.inode_loc(10),
            Some(InodeLoc {
                group: 0,
                table_block: 1,
                offset: 128
            })
        );
    }

    #[test]
    fn inode_parse_and_device() {
        let mut b = [0u8; 128];
        put_le16(&mut b, 0, S_IFREG | 0o644);
        put_le32(&mut b, 4, 5);
        put_le32(&mut b, 108, 1);
        put_le16(&mut b, 120, 1);
        put_le16(&mut b, 2, 2);
        let ino = DiskInode::parse(&b).unwrap();
        assert_eq!(ino.size, (1 << 32) + 5);
        assert_eq!(ino.uid, 0x10002);
        let mut d = ino;
        d.block[0] = 0x0801;
        assert_eq!(d.device(), (8, 1));
        d.block[0] = 0;
        d.block[1] = (259 << 8) | 5 | (0x123 << 20);
        assert_eq!(d.device(), (259, 5 | (0x123 << 8)));
        assert!(DiskInode::parse(&b[..100]).is_none());
    }

    #[test]
    fn max_sizes_fit_the_sector_count() {
        for bits in 10..=12u32 {
            let blocks = max_file_size(bits) >> bits;
            let ppb = 1u64 << (bits - 2);
            let ind = blocks.saturating_sub(12).div_ceil(ppb);
            let dind = blocks.saturating_sub(12 + ppb).div_ceil(ppb * ppb);
            let tind = blocks
                .saturating_sub(12 + ppb + ppb * ppb)
                .div_ceil(ppb * ppb * ppb);
            let meta = ind + dind + tind;
            assert!(
                (blocks + meta) << (bits - 9) <= u32::MAX as u64,
                "bits {bits}"
            );
            assert!(
                blocks > 12 + ppb + ppb * ppb,
                "reaches triple indirect at bits {bits}"
            );
        }
        // 1K blocks: the full tree fits, 16 GiB and change.
        assert_eq!(max_file_size(10), (12 + 256 + 65536 + 16777216) << 10);
    }
}
