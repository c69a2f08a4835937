#!/usr/bin/env python3
"""Read and corrupt fields of an ext2 image (a file or an unmounted device).

Usage: ext2poke.py IMG COMMAND ARGS...
  sb-get FIELD | sb-set FIELD VALUE          primary superblock fields
  gd-get GROUP FIELD | gd-set GROUP FIELD VALUE   group descriptor fields
  ino-get INO FIELD | ino-set INO FIELD VALUE     inode fields; FIELD may be
                                             block[N] for i_block[N]
  bmap INO LBLK                              physical block of a logical one
                                             (0 for a hole)
  bmap-set INO LBLK VALUE                    set the last-level pointer that
                                             maps logical block LBLK (in
                                             i_block or in an indirect block)
  batch                                      run the commands on stdin, one a
                                             line (blank and # lines skipped)
  blocks INO                                 all mapped physical data blocks
                                             of an inode, in logical order
  dirents DIRINO                             entries of a directory, one a
                                             line: lblk pblk off inode
                                             rec_len name_len type name
  dirent-set DIRINO NAME FIELD VALUE         change inode|rec_len|name_len|
                                             file_type of the entry NAME
  poke OFFSET FMT VALUE                      raw little-endian write, FMT one
                                             of B H I Q (struct codes)
  peek OFFSET FMT
  fill OFFSET LEN BYTE                       LEN copies of BYTE at OFFSET
  info                                       block size, groups, counts
VALUE is an integer (0x... allowed). Only the primary superblock and group
descriptor table are touched; the backups stay intact, as a real corruption
of the primary copy would leave them.
"""

import struct
import sys

SB_FIELDS = {
    # name: (offset in superblock, struct code)
    "inodes_count": (0, "I"), "blocks_count": (4, "I"), "r_blocks_count": (8, "I"),
    "free_blocks_count": (12, "I"), "free_inodes_count": (16, "I"),
    "first_data_block": (20, "I"), "log_block_size": (24, "I"),
    "log_frag_size": (28, "I"), "blocks_per_group": (32, "I"),
    "frags_per_group": (36, "I"), "inodes_per_group": (40, "I"), "mtime": (44, "I"),
    "wtime": (48, "I"), "mnt_count": (52, "H"), "max_mnt_count": (54, "H"),
    "magic": (56, "H"), "state": (58, "H"), "errors": (60, "H"),
    "minor_rev_level": (62, "H"), "lastcheck": (64, "I"), "checkinterval": (68, "I"),
    "creator_os": (72, "I"), "rev_level": (76, "I"), "def_resuid": (80, "H"),
    "def_resgid": (82, "H"), "first_ino": (84, "I"), "inode_size": (88, "H"),
    "block_group_nr": (90, "H"), "feature_compat": (92, "I"),
    "feature_incompat": (96, "I"), "feature_ro_compat": (100, "I"),
    "first_meta_bg": (260, "I"),
}
GD_FIELDS = {
    "block_bitmap": (0, "I"), "inode_bitmap": (4, "I"), "inode_table": (8, "I"),
    "free_blocks_count": (12, "H"), "free_inodes_count": (14, "H"),
    "used_dirs_count": (16, "H"),
}
INO_FIELDS = {
    "mode": (0, "H"), "uid": (2, "H"), "size": (4, "I"), "atime": (8, "I"),
    "ctime": (12, "I"), "mtime": (16, "I"), "dtime": (20, "I"), "gid": (24, "H"),
    "links_count": (26, "H"), "blocks": (28, "I"), "flags": (32, "I"),
    "generation": (100, "I"), "file_acl": (104, "I"), "size_high": (108, "I"),
    "uid_high": (120, "H"), "gid_high": (122, "H"),
}
for _i in range(15):
    INO_FIELDS["block[%d]" % _i] = (40 + 4 * _i, "I")
DIRENT_FIELDS = {"inode": (0, "I"), "rec_len": (4, "H"), "name_len": (6, "B"), "file_type": (7, "B")}


class Img:
    def __init__(self, path, write=False):
        self.f = open(path, "r+b" if write else "rb")
        self.sb = self.read(1024, 1024)
        self.magic = self.sbget("magic")
        self.bs = 1024 << self.sbget("log_block_size") if self.sbget("log_block_size") < 8 else 0
        self.ipg = self.sbget("inodes_per_group")
        self.isz = self.sbget("inode_size") if self.sbget("rev_level") >= 1 else 128
        self.first = self.sbget("first_data_block")
        self.apb = self.bs // 4 if self.bs else 0

    def read(self, off, n):
        self.f.seek(off)
        d = self.f.read(n)
        if len(d) != n:
            raise SystemExit("ext2poke: short read at %d" % off)
        return d

    def write(self, off, data):
        self.f.seek(off)
        self.f.write(data)
        self.f.flush()

    def sbget(self, name):
        o, c = SB_FIELDS[name]
        return struct.unpack_from("<" + c, self.sb, o)[0]

    def gd_off(self, g):
        return (self.first + 1) * self.bs + 32 * g

    def inode_off(self, ino):
        g, idx = divmod(ino - 1, self.ipg)
        table = struct.unpack("<I", self.read(self.gd_off(g) + 8, 4))[0]
        return table * self.bs + idx * self.isz

    def iget(self, ino, name):
        o, c = INO_FIELDS[name]
        return struct.unpack("<" + c, self.read(self.inode_off(ino) + o, struct.calcsize(c)))[0]

    def block(self, b):
        return self.read(b * self.bs, self.bs)

    def ptr(self, blk, idx):
        return struct.unpack_from("<I", self.block(blk), 4 * idx)[0] if blk else 0

    def ptr_loc(self, ino, l):
        """Byte offset of the last-level pointer for logical block l."""
        a = self.apb
        if l < 12:
            return self.inode_off(ino) + 40 + 4 * l
        l -= 12
        if l < a:
            return self.iget(ino, "block[12]") * self.bs + 4 * l
        l -= a
        if l < a * a:
            b = self.ptr(self.iget(ino, "block[13]"), l // a)
            return b * self.bs + 4 * (l % a)
        l -= a * a
        b = self.ptr(self.iget(ino, "block[14]"), l // (a * a))
        b = self.ptr(b, (l // a) % a)
        return b * self.bs + 4 * (l % a)

    def bmap(self, ino, l):
        a = self.apb
        if l < 12:
            return self.iget(ino, "block[%d]" % l)
        l -= 12
        if l < a:
            return self.ptr(self.iget(ino, "block[12]"), l)
        l -= a
        if l < a * a:
            b = self.ptr(self.iget(ino, "block[13]"), l // a)
            return self.ptr(b, l % a)
        l -= a * a
        b = self.ptr(self.iget(ino, "block[14]"), l // (a * a))
        b = self.ptr(b, (l // a) % a)
        return self.ptr(b, l % a)

    def size(self, ino):
        s = self.iget(ino, "size")
        mode = self.iget(ino, "mode")
        if mode & 0o170000 == 0o100000:
            s |= self.iget(ino, "size_high") << 32
        return s

    def dirents(self, ino):
        nblk = (self.size(ino) + self.bs - 1) // self.bs
        for l in range(nblk):
            p = self.bmap(ino, l)
            if not p:
                continue
            data = self.block(p)
            off = 0
            while off + 8 <= self.bs:
                inum, rl, nl, ft = struct.unpack_from("<IHBB", data, off)
                name = data[off + 8:off + 8 + nl]
                yield l, p, off, inum, rl, nl, ft, name
                if rl < 8:
                    break
                off += rl


def num(s):
    return int(s, 0)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    path, cmd, a = argv[0], argv[1], argv[2:]
    if cmd == "batch":
        for line in sys.stdin:
            line = line.strip()
            if line and not line.startswith("#"):
                main([path] + line.split())
        return 0
    writes = cmd.endswith("-set") or cmd in ("poke", "fill")
    im = Img(path, write=writes)
    if cmd == "sb-get":
        print(im.sbget(a[0]))
    elif cmd == "sb-set":
        o, c = SB_FIELDS[a[0]]
        im.write(1024 + o, struct.pack("<" + c, num(a[1])))
    elif cmd == "gd-get":
        o, c = GD_FIELDS[a[1]]
        print(struct.unpack("<" + c, im.read(im.gd_off(num(a[0])) + o, struct.calcsize(c)))[0])
    elif cmd == "gd-set":
        o, c = GD_FIELDS[a[1]]
        im.write(im.gd_off(num(a[0])) + o, struct.pack("<" + c, num(a[2])))
    elif cmd == "ino-get":
        print(im.iget(num(a[0]), a[1]))
    elif cmd == "ino-set":
        o, c = INO_FIELDS[a[1]]
        im.write(im.inode_off(num(a[0])) + o, struct.pack("<" + c, num(a[2])))
    elif cmd == "bmap-set":
        im.write(im.ptr_loc(num(a[0]), num(a[1])), struct.pack("<I", num(a[2])))
    elif cmd == "bmap":
        print(im.bmap(num(a[0]), num(a[1])))
    elif cmd == "blocks":
        ino = num(a[0])
        n = (im.size(ino) + im.bs - 1) // im.bs
        print(" ".join(str(b) for b in (im.bmap(ino, l) for l in range(n)) if b))
    elif cmd == "dirents":
        for l, p, off, inum, rl, nl, ft, name in im.dirents(num(a[0])):
            print(l, p, off, inum, rl, nl, ft, name.decode("latin-1"))
    elif cmd == "dirent-set":
        want = a[1].encode()
        o, c = DIRENT_FIELDS[a[2]]
        for l, p, off, inum, rl, nl, ft, name in im.dirents(num(a[0])):
            if name == want:
                im.write(p * im.bs + off + o, struct.pack("<" + c, num(a[3])))
                break
        else:
            raise SystemExit("ext2poke: no entry %r in directory %s" % (a[1], a[0]))
    elif cmd == "poke":
        im.write(num(a[0]), struct.pack("<" + a[1], num(a[2])))
    elif cmd == "peek":
        c = a[1]
        print(struct.unpack("<" + c, im.read(num(a[0]), struct.calcsize(c)))[0])
    elif cmd == "fill":
        im.write(num(a[0]), bytes([num(a[2])]) * num(a[1]))
    elif cmd == "info":
        print("magic=%#x block_size=%d blocks=%d inodes=%d ipg=%d bpg=%d first_data_block=%d inode_size=%d" % (
            im.magic, im.bs, im.sbget("blocks_count"), im.sbget("inodes_count"), im.ipg,
            im.sbget("blocks_per_group"), im.first, im.isz))
    else:
        raise SystemExit("ext2poke: unknown command %s" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
