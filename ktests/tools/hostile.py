"""Hostile images for rext2 (ktests/tests/190-hostile.sh): valid ext2 images
written by the C ext2, corrupted by a seeded generator, then mounted and
walked by rext2. Never an oops, a hang or a lockdep report (the harness scans
the kernel log); every image is either refused at mount or mounted, with
EIO/EUCLEAN on the bad objects.

  hostile.py WORKDIR COUNT SEED [SEED...]   COUNT images from the first SEED,
                                           then exactly the extra SEEDs
                                           (regressions, tried first);
                                           HOSTILE_DEADLINE (epoch seconds)
                                           stops the generated ones early

Corruptions, 1 to 3 per image, chosen by the seed: superblock fields, group
descriptor bytes, block and inode bitmap bits, inode fields (mode, size,
link count, block pointers: out of range, onto metadata, onto themselves,
shared with another file; flags, EA block), directory entries (rec_len,
name_len, inode numbers, file types), indirect blocks (random pointers,
loops, pointers to the superblock), and random byte flips in any metadata
block. The walk: readdir and stat of everything, read every file (its first
and last 16 MiB), readlink;
where the mount is read-write also create, append, truncate, rename and
unlink. Prints one line per image and a table of outcomes.
"""

import os
import random
import re
import struct
import subprocess
import sys
import time

TIMEOUT = 60


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True).stdout


class Base:
    """A populated image and where its metadata lives."""

    def __init__(self, work, bs):
        self.bs = bs
        self.path = os.path.join(work, "base-%d.img" % bs)
        self.size = 8 << 20
        with open(self.path, "wb") as f:
            f.truncate(self.size)
        sh("mke2fs -q -F -t ext2 -b %d -N 256 %s" % (bs, self.path))
        mnt = os.path.join(work, "populate")
        os.makedirs(mnt, exist_ok=True)
        sh("mount -t ext2 -o loop %s %s" % (self.path, mnt))
        rnd = random.Random(bs)
        os.makedirs(os.path.join(mnt, "a/b/c"))
        for i, size in enumerate((0, 1, 100, bs, 12 * bs + 1, 300 * 1024, 2 << 20)):
            with open(os.path.join(mnt, "a", "f%d" % i), "wb") as f:
                f.write(rnd.randbytes(size))
        for i in range(120):
            with open(os.path.join(mnt, "a/b", "name-%03d-%s" % (i, "x" * (i % 40))), "wb") as f:
                f.write(b"y" * (i * 7))
        os.symlink("short", os.path.join(mnt, "a/fast"))
        os.symlink("t" * 300, os.path.join(mnt, "a/slow"))
        os.link(os.path.join(mnt, "a/f3"), os.path.join(mnt, "a/b/c/hard"))
        with open(os.path.join(mnt, "a/b/c/sparse"), "wb") as f:
            f.seek(3 << 20)
            f.write(b"end")
        sh("umount %s" % mnt)
        self.meta = self.metadata_blocks()

    def debugfs(self, req):
        return sh("debugfs -R '%s' %s 2>/dev/null" % (req, self.path), check=False)

    def metadata_blocks(self):
        """Kinds of metadata blocks: {kind: [block, ...]} plus inode records."""
        meta = {"sb": [], "gdt": [], "bbitmap": [], "ibitmap": [], "itable": [],
                "dir": [], "ind": []}
        dump = sh("dumpe2fs %s 2>/dev/null" % self.path)
        self.inode_size = int(re.search(r"Inode size:\s+(\d+)", dump).group(1))
        self.ipg = int(re.search(r"Inodes per group:\s+(\d+)", dump).group(1))
        self.itables = [int(x) for x in re.findall(r"Inode table at (\d+)-", dump)]
        meta["bbitmap"] = [int(x) for x in re.findall(r"Block bitmap at (\d+)", dump)]
        meta["ibitmap"] = [int(x) for x in re.findall(r"Inode bitmap at (\d+)", dump)]
        for a, b in re.findall(r"Primary superblock at (\d+), Group descriptors at (\d+)-", dump):
            meta["sb"].append(int(a))
            meta["gdt"].append(int(b))
        for t in self.itables:
            meta["itable"].append(t)
        self.inodes = []
        # Inodes in use and their kinds, from a recursive walk.
        for ino, path, kind in self.walk_inodes():
            self.inodes.append((ino, kind))
            st = self.debugfs("stat <%d>" % ino)
            for tag, blk in re.findall(r"\((IND|DIND|TIND)\):(\d+)", st):
                meta["ind"].append(int(blk))
            if kind == "d":
                for b in self.debugfs("blocks <%d>" % ino).split():
                    meta["dir"].append(int(b))
        return meta

    def walk_inodes(self):
        out = []
        todo = [("/", 2)]
        seen = set()
        while todo:
            path, ino = todo.pop()
            if ino in seen:
                continue
            seen.add(ino)
            out.append((ino, path, "d"))
            for line in self.debugfs("ls -p %s" % path).splitlines():
                parts = line.strip().strip("/").split("/")
                if len(parts) < 5 or not parts[0].isdigit():
                    continue
                cino, mode, name = int(parts[0]), int(parts[1], 8), parts[4]
                if name in (".", "..") or cino == 0:
                    continue
                child = path.rstrip("/") + "/" + name
                if mode & 0o170000 == 0o040000:
                    todo.append((child, cino))
                elif cino not in seen:
                    seen.add(cino)
                    out.append((cino, child, "f"))
        return out

    def inode_offset(self, ino):
        g, i = divmod(ino - 1, self.ipg)
        return self.itables[g] * self.bs + i * self.inode_size


def corrupt(base, img, rnd):
    """Applies 1-3 corruptions to the image file; returns their names."""
    bs = base.bs
    done = []
    with open(img, "r+b") as f:
        def put(off, data):
            f.seek(off)
            f.write(data)

        def u32():
            return rnd.choice([0, 1, 2, 0xFFFFFFFF, 0x7FFFFFFF, rnd.randrange(1 << 32),
                               rnd.randrange(base.size // bs + 50)])

        for _ in range(rnd.randrange(1, 4)):
            kind = rnd.choice(["sb", "gdt", "bitmap", "inode", "inode", "inode", "dirent",
                               "dirent", "ind", "ind", "flip", "flip"])
            if kind == "sb":
                off = 1024 + rnd.choice([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 56, 58, 60,
                                         76, 84, 88, 92, 96, 100, 204, rnd.randrange(264)])
                put(off, struct.pack("<I", u32())[:rnd.choice([1, 2, 4])])
            elif kind == "gdt":
                blk = base.meta["gdt"][0]
                put(blk * bs + rnd.randrange(64), bytes([rnd.randrange(256)]))
            elif kind == "bitmap":
                blk = rnd.choice(base.meta["bbitmap"] + base.meta["ibitmap"])
                put(blk * bs + rnd.randrange(bs // 8), bytes([rnd.randrange(256)]))
            elif kind == "inode":
                ino, _ = rnd.choice(base.inodes)
                off = base.inode_offset(ino)
                field = rnd.choice(["mode", "size", "links", "block", "block", "blockself",
                                    "blockshare", "flags", "acl", "blocks"])
                if field == "mode":
                    put(off, struct.pack("<H", rnd.choice([0, 0xF000, 0x1000, 0x4000, 0x8000,
                                                          0xA000, rnd.randrange(65536)])))
                elif field == "size":
                    put(off + 4, struct.pack("<I", u32()))
                elif field == "links":
                    put(off + 26, struct.pack("<H", rnd.choice([0, 1, 65535])))
                elif field == "block":
                    put(off + 40 + 4 * rnd.randrange(15), struct.pack("<I", u32()))
                elif field == "blockself":
                    # A pointer to the inode table or to an indirect block:
                    # metadata as data, or a loop.
                    tgt = rnd.choice(base.itables + base.meta["ind"][:3] + [0, 1])
                    put(off + 40 + 4 * rnd.choice([0, 12, 13, 14]), struct.pack("<I", tgt))
                elif field == "blockshare":
                    other, _ = rnd.choice(base.inodes)
                    f.seek(base.inode_offset(other) + 40)
                    put(off + 40, f.read(60))
                elif field == "flags":
                    put(off + 32, struct.pack("<I", rnd.randrange(1 << 32)))
                elif field == "acl":
                    put(off + 104, struct.pack("<I", u32()))
                else:
                    put(off + 28, struct.pack("<I", u32()))
                kind += ":" + field
            elif kind == "dirent" and base.meta["dir"]:
                blk = rnd.choice(base.meta["dir"])
                f.seek(blk * bs)
                data = bytearray(f.read(bs))
                # Walk to a random entry and break one of its fields.
                pos, entries = 0, []
                while pos + 8 <= bs:
                    rec = struct.unpack_from("<H", data, pos + 4)[0]
                    entries.append(pos)
                    if rec < 8:
                        break
                    pos += rec
                e = rnd.choice(entries)
                field = rnd.randrange(4)
                if field == 0:
                    struct.pack_into("<H", data, e + 4, rnd.choice([0, 1, 7, 9, 12, bs, bs + 4, 65535]))
                elif field == 1:
                    data[e + 6] = rnd.randrange(256)
                elif field == 2:
                    struct.pack_into("<I", data, e, rnd.choice([0, 1, 3, 11, 255, 256, 257, 100000]))
                else:
                    data[e + 7] = rnd.randrange(256)
                put(blk * bs, bytes(data))
                kind += ":" + ["rec_len", "name_len", "inode", "type"][field]
            elif kind == "ind" and base.meta["ind"]:
                blk = rnd.choice(base.meta["ind"])
                how = rnd.randrange(3)
                for _ in range(rnd.randrange(1, 6)):
                    tgt = [u32(), blk, base.meta["sb"][0]][how]
                    put(blk * bs + 4 * rnd.randrange(bs // 4), struct.pack("<I", tgt))
                kind += ":" + ["random", "loop", "super"][how]
            else:
                kind = "flip"
                group = rnd.choice([k for k, v in base.meta.items() if v])
                blk = rnd.choice(base.meta[group])
                for _ in range(rnd.randrange(1, 9)):
                    put(blk * bs + rnd.randrange(bs), bytes([rnd.randrange(256)]))
                kind += ":" + group
            done.append(kind)
    return done


WALK = r'''
import os, sys, errno
root, rw = sys.argv[1], sys.argv[2] == "rw"
errs = {}
def note(e):
    n = errno.errorcode.get(e.errno, str(e.errno))
    errs[n] = errs.get(n, 0) + 1
for dirpath, dirs, files in os.walk(root, onerror=note):
    for name in dirs + files:
        p = os.path.join(dirpath, name)
        try:
            st = os.lstat(p)
            if os.path.islink(p):
                os.readlink(p)
            elif os.path.isfile(p):
                # A corrupted size can make a file of holes gigabytes long:
                # read its first and last 16 MiB, not all of it.
                with open(p, "rb") as f:
                    for _ in range(16):
                        if not f.read(1 << 20):
                            break
                    if st.st_size > 32 << 20:
                        f.seek(st.st_size - (16 << 20))
                        while f.read(1 << 20):
                            pass
        except OSError as e:
            note(e)
if rw:
    for fn in (lambda: open(os.path.join(root, "new"), "wb").write(b"n" * 70000),
               lambda: open(os.path.join(root, "a/f4"), "ab").write(b"m" * 5000),
               lambda: os.truncate(os.path.join(root, "a/f5"), 1000),
               lambda: os.rename(os.path.join(root, "a/f1"), os.path.join(root, "a/b/moved")),
               lambda: os.unlink(os.path.join(root, "a/f2")),
               lambda: os.mkdir(os.path.join(root, "a/newdir")),
               lambda: os.sync()):
        try:
            fn()
        except OSError as e:
            note(e)
print(" ".join("%s=%d" % kv for kv in sorted(errs.items())) or "no errors")
'''


def main(argv):
    work, count, seeds = argv[1], int(argv[2]), [int(s) for s in argv[3:]]
    os.makedirs(work, exist_ok=True)
    bases = {bs: Base(work, bs) for bs in (1024, 4096)}
    mnt = os.path.join(work, "m")
    os.makedirs(mnt, exist_ok=True)
    walk = os.path.join(work, "walk.py")
    with open(walk, "w") as f:
        f.write(WALK)
    # The regressions first: a deadline (HOSTILE_DEADLINE, seconds since
    # the epoch) only cuts the generated images short.
    todo = seeds[1:] + list(range(seeds[0], seeds[0] + count))
    deadline = float(os.environ.get("HOSTILE_DEADLINE", "0"))
    outcomes = {}
    bad = 0
    tried = 0
    for seed in todo:
        # At least one generated image, whatever the deadline.
        if deadline and tried > len(seeds) - 1 and time.time() > deadline:
            break
        tried += 1
        rnd = random.Random(seed)
        base = bases[rnd.choice([1024, 4096])]
        img = os.path.join(work, "img")
        sh("cp --sparse=always %s %s" % (base.path, img))
        what = corrupt(base, img, rnd)
        rw = rnd.random() < 0.6
        loop = sh("losetup -f --show %s" % img).strip()
        r = subprocess.run("timeout %d mount -t rext2 %s %s %s" % (
            TIMEOUT, "" if rw else "-o ro", loop, mnt), shell=True, capture_output=True, text=True)
        if r.returncode == 124:
            outcome, detail = "HANG-mount", ""
        elif r.returncode != 0:
            outcome, detail = "refused", ""
        else:
            w = subprocess.run("timeout %d %s %s %s %s" % (TIMEOUT, sys.executable, walk, mnt,
                                                        "rw" if rw else "ro"),
                               shell=True, capture_output=True, text=True)
            detail = w.stdout.strip()
            if w.returncode == 124:
                outcome = "HANG-walk"
            elif w.returncode != 0:
                outcome, detail = "walk-crashed", w.stderr.strip()[-200:]
            else:
                outcome = "mounted-errors" if detail != "no errors" else "mounted-clean"
            u = subprocess.run("timeout %d umount %s" % (TIMEOUT, mnt), shell=True)
            if u.returncode != 0:
                outcome = "HANG-umount"
        sh("losetup -d %s" % loop, check=False)
        if outcome.startswith("HANG") or outcome == "walk-crashed":
            bad += 1
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        print("seed %d bs %d %s [%s]: %s %s" % (seed, base.bs, "rw" if rw else "ro",
                                                ", ".join(what), outcome, detail), flush=True)
    print("hostile images: %d tried; %s; %d hung or crashed the walk" % (
        tried, ", ".join("%s %d" % kv for kv in sorted(outcomes.items())), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(sys.argv)
