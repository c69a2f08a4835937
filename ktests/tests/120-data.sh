#!/bin/bash
# timeout: 600
# File data on a read-write rext2 mount, for block sizes 1024, 2048, 4096:
#   rand     ~250 random writes (offsets near 0, near EOF, around the
#            indirect/double-indirect edges; sizes 1 byte to 150 KB), writes
#            past EOF leaving holes, truncates up and down, fsyncs; content
#            compared with a model (kept as a reference copy in the test's
#            tmpfs dir) every 50 operations; st_blocks equal to the blocks
#            the model says are mapped (data + indirect), and statfs free
#            blocks used by the file equal to st_blocks (nothing leaks)
#   trunc    a sparse file with blocks in the direct, indirect, double- and
#            triple-indirect ranges (past 4 GiB with 4K blocks), truncated
#            down into each level (mid-block and on edges) and back up: the
#            kept part unchanged, everything past the cut (including the
#            tail of the cut block) reads as zeros, st_blocks and statfs
#            shrink exactly; rewrites behind a cut read no stale blocks;
#            cuts into holes inside indirect blocks free the indirect blocks
#            that then map nothing (C ext2 does)
#   append   4 processes x 120 O_APPEND writes of different sizes: size is
#            the sum, every record whole and each writer's records in order
#   mmap     MAP_SHARED writes into a hole-only file (blocks allocated at
#            fault time) and into a written file, msync; bytes written
#            through the mapping past EOF (msynced, or only cached) do not
#            appear when the file grows afterwards (truncate up, a write
#            past EOF in a later page or in the same page)
#   big      data straddling 2^32 and past 4 GiB in a 5 GiB sparse file
#   efbig    at ext2's size limit for the block size (~16 GiB for 1K): a
#            write of the last byte works, a write straddling it is short,
#            at it EFBIG; truncate past it EFBIG
#   attrs    chmod (suid/sgid/sticky), chown (ids > 65535, chown clearing
#            suid/sgid), utimes (1969, 2038), lchown of a symlink
#   durable  while mounted, with the flusher thread off: file data and size
#            read from the disk with `debugfs -D` (O_DIRECT, not the page
#            cache) after fsync, fdatasync (overwrite and extension), syncfs
#            (sync -f), O_SYNC (dd oflag=sync) and O_DSYNC writes, msync,
#            truncate + fsync, and fsync of a new file plus its directory
#            (found by path); a truncate or unlink, then an fsync of
#            another file: the freeing inode's record is on disk by then
# Everything is checked again after umount, e2fsck and a fresh mount; the
# manifest must not change across the remount (attrs/ is left out of it:
# reading would change the atimes it checks). With 4K blocks also: a file
# larger than 2 GiB on a filesystem made without large_file turns the
# feature on (e2fsck requires it).
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"
export TOOLS RFS

load_rext2
DEV=$(disk 1)
M=$(mnt_dir m)
start=$SECONDS

# The periodic flusher would write dirty data behind the durability checks'
# back and make them pass whatever fsync does: off for the test.
flusher_off

cat >"$WORK/data.py" <<'EOF'
import hashlib, json, mmap, os, random, re, stat, subprocess, sys, time
sys.path.insert(0, os.environ["TOOLS"])
from rwlib import *

mode, M, BS, DEV, STATE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
WORK = os.path.dirname(STATE)
SPB = BS // 512
A = BS // 4
IND, DIND, TIND = 12, 12 + A, 12 + A + A * A
PAGE = mmap.PAGESIZE
c = Checks("120 bs %d %s" % (BS, mode))
rng = random.Random(120000 + BS)

def sha(b): return hashlib.sha256(b).hexdigest()

def bfree():
    os.sync()
    return os.statvfs(M).f_bfree

def read_all(p):
    with open(p, "rb") as f:
        return f.read()

class Sparse:
    """Model of a sparse file: size and a dict of allocated logical blocks."""
    def __init__(self):
        self.size = 0
        self.blk = {}
    def write(self, off, data):
        pos = 0
        while pos < len(data):
            o = off + pos
            lb, bo = divmod(o, BS)
            n = min(BS - bo, len(data) - pos)
            b = self.blk.setdefault(lb, bytearray(BS))
            b[bo:bo + n] = data[pos:pos + n]
            pos += n
        self.size = max(self.size, off + len(data))
    def truncate(self, s):
        if s < self.size:
            keep = -(-s // BS)
            for lb in [b for b in self.blk if b >= keep]:
                del self.blk[lb]
            lb, bo = divmod(s, BS)
            if bo and lb in self.blk:
                self.blk[lb][bo:] = bytes(BS - bo)
        self.size = s
    def read(self, off, n):
        end = min(off + n, self.size)
        if end <= off:
            return b""
        out = bytearray(end - off)
        for lb in range(off // BS, (end - 1) // BS + 1):
            if lb in self.blk:
                a, b = max(off, lb * BS), min(end, (lb + 1) * BS)
                out[a - off:b - off] = self.blk[lb][a - lb * BS:b - lb * BS]
        return bytes(out)
    def st_blocks(self):
        return (len(self.blk) + index_blocks(self.blk, BS)) * SPB

def check_sparse(path, model, what, probes=()):
    st = os.stat(path)
    c.eq(st.st_size, model.size, what + ": st_size")
    c.eq(st.st_blocks, model.st_blocks(), what + ": st_blocks (data + indirect blocks)")
    fd = os.open(path, os.O_RDONLY)
    try:
        offs = set(probes)
        for lb in model.blk:
            offs.update((lb * BS, lb * BS - 3, (lb + 1) * BS - 5))
        for o in sorted(offs):
            if o < 0:
                continue
            got = os.pread(fd, 2 * BS, o)
            if got != model.read(o, 2 * BS):
                c.fail("%s: content at %d (%d bytes read) differs from the model" % (what, o, len(got)))
                break
        c.eq(os.pread(fd, 10, model.size), b"", what + ": read at EOF")
    finally:
        os.close(fd)

def disk_cat(ino):
    """The file's bytes as debugfs reads them from the disk with O_DIRECT."""
    r = subprocess.run(["debugfs", "-D", "-R", "cat <%d>" % ino, DEV], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.stdout

def disk_inode(ino):
    """(size, links, block list) of inode `ino` as debugfs reads them from
    the disk with O_DIRECT."""
    r = subprocess.run(["debugfs", "-D", "-R", "stat <%d>" % ino, DEV], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    out = r.stdout.decode(errors="replace")
    size = re.search(r"Size: (\d+)", out)
    links = re.search(r"Links: (\d+)", out)
    blocks = out.split("BLOCKS:", 1)[1].strip() if "BLOCKS:" in out else ""
    return (int(size.group(1)) if size else -1, int(links.group(1)) if links else -1, blocks)

def disk_cat_path(p):
    r = subprocess.run(["debugfs", "-D", "-R", "cat %s" % p, DEV], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.stdout, r.stderr.decode(errors="replace")

state = {}
if mode == "verify":
    with open(STATE) as f:
        state = json.load(f)

# ---------------------------------------------------------------- rand
def rand_write():
    p = M + "/rand"
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
    free0 = bfree()
    model = Sparse()
    edges = [IND, DIND, DIND + A, DIND + 2 * A]
    limit = (DIND + 2 * A + 4) * BS
    sizes = [1, 3, BS - 1, BS, BS + 1, 2 * BS + 5, 4095, 4096, 4097, 12345, 65536, 150000]
    fd = os.open(p, os.O_RDWR)
    nops = 250
    for i in range(1, nops + 1):
        k = rng.random()
        if k < 0.72:
            r = rng.random()
            n = rng.choice(sizes)
            if r < 0.35:
                off = rng.randrange(0, 65536)
            elif r < 0.6:
                off = min(rng.randrange(0, model.size + BS), limit - 1)
            elif r < 0.9:
                off = max(0, rng.choice(edges) * BS + rng.randrange(-2 * BS, 2 * BS))
            else:
                off = rng.randrange(0, limit)
            n = min(n, limit - off) or 1
            data = rng.randbytes(n)
            c.eq(os.pwrite(fd, data, off), n, "rand op %d: pwrite(%d, %d)" % (i, off, n))
            model.write(off, data)
        elif k < 0.85:
            s = min(rng.randrange(0, int(model.size * 1.2) + 3 * BS), limit)
            os.ftruncate(fd, s)
            model.truncate(s)
        elif k < 0.95:
            # Past EOF, leaving a hole of 0..3 blocks.
            off = model.size + rng.randrange(0, 3 * BS)
            n = rng.choice(sizes)
            if off + n > limit:
                continue
            data = rng.randbytes(n)
            c.eq(os.pwrite(fd, data, off), n, "rand op %d: pwrite past EOF" % i)
            model.write(off, data)
        else:
            (os.fsync if rng.random() < 0.5 else os.fdatasync)(fd)
        if i % 50 == 0:
            full = model.read(0, model.size)
            got = read_all(p)
            if not c.eq(len(got), len(full), "rand after op %d: length" % i) or got != full:
                d = next((j for j in range(min(len(got), len(full))) if got[j] != full[j]), None)
                c.fail("rand after op %d: content differs from the model (first at byte %s)" % (i, d))
            c.eq(os.fstat(fd).st_blocks, model.st_blocks(), "rand after op %d: st_blocks" % i)
            c.eq((free0 - bfree()) * SPB, os.fstat(fd).st_blocks,
                 "rand after op %d: blocks taken from statfs = st_blocks" % i)
    os.close(fd)
    full = model.read(0, model.size)
    with open(WORK + "/ref-rand-%d" % BS, "wb") as f:
        f.write(full)
    state["rand"] = [sha(full), model.size, model.st_blocks()]
    print("rand: %d ops, size %d, %d blocks mapped" % (nops, model.size, len(model.blk)))

# ---------------------------------------------------------------- trunc
def trunc_test():
    p = M + "/trunc"
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
    free0 = bfree()
    model = Sparse()
    lbs = [0, 1, 2, 11, 12, IND + 5, DIND - 1, DIND, DIND + 1, DIND + A, DIND + A + 1,
           DIND + 2 * A + 3, TIND, TIND + 1, TIND + A, TIND + A * A, TIND + A * A + A + 2]
    for lb in lbs:
        n = BS // 2 if lb == 2 else (100 if lb == lbs[-1] else BS)
        data = rng.randbytes(n)
        os.pwrite(fd, data, lb * BS)
        model.write(lb * BS, data)
    full = model.size
    check_sparse(p, model, "trunc: written")
    c.eq((free0 - bfree()) * SPB, model.st_blocks(), "trunc: statfs blocks used = st_blocks")
    cuts = [("tind, 2nd indirect", (TIND + A + 1) * BS + 77), ("tind start", TIND * BS),
            ("dind, 2nd indirect", (DIND + A + 1) * BS + 5), ("dind start", DIND * BS),
            ("ind, last byte of a block", (IND + 5) * BS + BS - 1), ("ind start", IND * BS),
            ("direct, mid-block", 2 * BS + 100), ("1 byte", 1), ("0", 0)]
    for name, cut in cuts:
        what = "trunc to %s (%d)" % (name, cut)
        before = os.fstat(fd).st_blocks
        os.ftruncate(fd, cut)
        model.truncate(cut)
        check_sparse(p, model, what, probes=(cut - 1, cut, cut - BS))
        c.true(os.fstat(fd).st_blocks <= before, what + ": st_blocks did not shrink")
        c.eq((free0 - bfree()) * SPB, model.st_blocks(), what + ": statfs blocks used = st_blocks")
        # Back up: nothing allocated, everything past the cut reads zeros.
        os.ftruncate(fd, full)
        model.truncate(full)
        c.eq(os.fstat(fd).st_blocks, model.st_blocks(), what + ", then up: st_blocks")
        c.eq(os.pread(fd, 3 * BS, cut), bytes(3 * BS), what + ", then up: bytes after the cut")
        bad = [lb for lb in lbs if lb * BS >= cut and any(os.pread(fd, BS, lb * BS))]
        c.eq(bad, [], what + ", then up: old blocks past the cut read as zeros")
        if cut in ((TIND + A + 1) * BS + 77, (DIND + A + 1) * BS + 5):
            # A rewrite behind the cut, under a kept indirect block.
            lb = cut // BS + 4
            data = rng.randbytes(BS)
            os.pwrite(fd, data, lb * BS)
            model.write(lb * BS, data)
            check_sparse(p, model, what + ", then a rewrite 4 blocks further")
        os.ftruncate(fd, cut)
        model.truncate(cut)
    c.eq(os.fstat(fd).st_blocks, 0, "trunc: st_blocks at size 0")
    os.close(fd)
    c.eq(bfree(), free0, "trunc: free blocks back to the start")
    # Leave a small file behind for the remount check.
    data = rng.randbytes(5 * BS + 7)
    with open(p, "wb") as f:
        f.write(data)
    os.truncate(p, 2 * BS + 1)
    os.truncate(p, 4 * BS)
    state["trunc"] = sha(data[:2 * BS + 1] + bytes(2 * BS - 1))

def trunc_hole_test():
    """Cuts inside indirect blocks whose entries below the cut are all holes:
    after the truncate those indirect blocks map nothing, and are freed (as
    C ext2 frees them); st_blocks and statfs must show it."""
    cases = [("ind, data only above the cut", [IND + 5], IND + 2),
             ("ind, direct data kept", [3, IND + 5], IND + 2),
             ("dind, data only above the cut", [DIND + A // 2], DIND + A // 4),
             ("dind 2nd indirect", [DIND + A + A // 2], DIND + A + A // 4),
             ("dind, 1st indirect kept", [DIND + 1, DIND + A + A // 2], DIND + A + A // 4),
             ("tind", [TIND + 5], TIND + 2),
             ("tind 2nd double-indirect", [TIND + A * A + 7], TIND + A * A + 3)]
    for name, blocks, cut in cases:
        what = "truncate into a hole (%s)" % name
        p = M + "/trunc-hole"
        fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
        free0 = bfree()
        model = Sparse()
        for lb in blocks:
            d = rng.randbytes(BS)
            os.pwrite(fd, d, lb * BS)
            model.write(lb * BS, d)
        os.ftruncate(fd, cut * BS)
        model.truncate(cut * BS)
        check_sparse(p, model, what)
        c.eq((free0 - bfree()) * SPB, model.st_blocks(), what + ": statfs blocks used = model")
        os.close(fd)
        os.unlink(p)
        c.eq(bfree(), free0, what + ": free blocks after unlink")

# ---------------------------------------------------------------- append
def record(child, seq, n):
    h = b"<%d:%d:%d>" % (child, seq, n)
    return h + bytes([65 + child]) * (n - len(h) - 1) + b"\n"

def sizes_for(child):
    r = random.Random(BS * 10 + child)
    return [r.randrange(30, 3 * BS) for _ in range(120)]

def append_test():
    p = M + "/append"
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644))
    pids = []
    for child in range(4):
        pid = os.fork()
        if pid == 0:
            try:
                fd = os.open(p, os.O_WRONLY | os.O_APPEND)
                for seq, n in enumerate(sizes_for(child)):
                    if os.write(fd, record(child, seq, n)) != n:
                        os._exit(2)
                os.close(fd)
                os._exit(0)
            except BaseException:
                os._exit(3)
        pids.append(pid)
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        c.eq(st, 0, "append writer exit status")
    verify_append(p)

def verify_append(p):
    data = read_all(p)
    total = sum(sum(sizes_for(ch)) for ch in range(4))
    c.eq(len(data), total, "append: size = sum of all appends")
    pos, nxt, bad = 0, [0, 0, 0, 0], 0
    while pos < len(data) and not bad:
        end = data.find(b">", pos)
        try:
            ch, seq, n = (int(x) for x in data[pos + 1:end].split(b":"))
            ok = data[pos:pos + n] == record(ch, seq, n) and seq == nxt[ch]
        except ValueError:
            ok = False
        if not ok:
            c.fail("append: bad record at offset %d: %r" % (pos, data[pos:pos + 40]))
            bad = 1
            break
        nxt[ch] += 1
        pos += n
    c.eq(nxt, [120] * 4, "append: records of each writer")

# ---------------------------------------------------------------- mmap
def store_past_eof(fd, size, msync):
    """Stores b"Z" through a shared mapping into the last page of a file of
    `size` bytes, past EOF (Python's mmap object stops at the length, so
    through ctypes); msync'ed or not."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    tail = (-size) % PAGE
    mlen = size + tail
    addr = libc.mmap(None, mlen, 3, 1, fd, 0)      # PROT_READ|WRITE, MAP_SHARED
    c.true(addr not in (None, ctypes.c_void_p(-1).value), "mmap for a store past EOF")
    if tail:
        ctypes.memset(addr + size, ord("Z"), tail)
    if msync:
        libc.msync(addr, mlen, 4)                    # MS_SYNC
    libc.munmap(addr, mlen)

def mmap_test():
    # A file that is one hole: page_mkwrite has to allocate.
    p1 = M + "/mm-hole"
    s1 = 5 * BS + 123
    fd = os.open(p1, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
    os.ftruncate(fd, s1)
    ref = bytearray(s1)
    m = mmap.mmap(fd, s1, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    for off, n in ((0, 10), (2 * BS - 3, 6), (3 * BS + 1, BS), (s1 - 1, 1)):
        d = rng.randbytes(n)
        m[off:off + n] = d
        ref[off:off + n] = d
    m.flush()
    m.close()
    os.close(fd)
    c.eq(read_all(p1), bytes(ref), "mmap into a hole file: read back")
    # Past EOF but inside the last page (Python's mmap object stops at the
    # length, so through ctypes): must not become file data.
    tail = (-s1) % PAGE
    fd = os.open(p1, os.O_RDWR)
    store_past_eof(fd, s1, msync=True)
    os.ftruncate(fd, s1 + tail + 200)
    ref += bytes(tail + 200)
    c.eq(os.pread(fd, tail + 200, s1), bytes(tail + 200),
         "bytes stored through mmap past EOF, after the file is extended")
    os.close(fd)
    # The same with the stores still only in the page cache (no msync; the
    # flusher is off), so no writeback has zeroed them: the size grows by
    # truncate, by a write in a later page, by a write in the same page.
    for how in ("truncate", "write-far", "write-near"):
        p = M + "/mm-eof-" + how
        s = 2 * PAGE + 1000
        d = rng.randbytes(s)
        fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
        os.pwrite(fd, d, 0)
        store_past_eof(fd, s, msync=False)
        if how == "truncate":
            new, x, at = s + PAGE + 10, b"", s
        else:
            at = s + (PAGE + 5 if how == "write-far" else 100)
            x = b"w" * 7
            os.pwrite(fd, x, at)
            new = at + len(x)
        os.ftruncate(fd, new) if how == "truncate" else None
        want = d + bytes(at - s) + x + bytes(new - at - len(x))
        c.eq(os.pread(fd, new + 10, 0), want,
             "bytes stored through mmap past EOF (not written back), size grown by " + how)
        os.close(fd)
        state.setdefault("mmap-eof", {})[how] = sha(want)
    # A file with data written by write(), then changed through mmap.
    p2 = M + "/mm-data"
    d = rng.randbytes(3 * PAGE + 77)
    ref2 = bytearray(d)
    with open(p2, "wb") as f:
        f.write(d)
    fd = os.open(p2, os.O_RDWR)
    m = mmap.mmap(fd, len(d), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    for off, n in ((5, 100), (PAGE - 1, 2), (3 * PAGE, 77)):
        x = rng.randbytes(n)
        m[off:off + n] = x
        ref2[off:off + n] = x
    m.flush()
    m.close()
    os.close(fd)
    c.eq(read_all(p2), bytes(ref2), "mmap into a written file: read back")
    state["mmap"] = [sha(bytes(ref)), sha(bytes(ref2))]

# ---------------------------------------------------------------- big
G4 = 1 << 32
def big_regions():
    return [(G4 - 100, 200), (G4 + 3 * BS + 5, 1000), (5 << 30, 4096)]

def big_test():
    p = M + "/big"
    model = Sparse()
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
    for off, n in big_regions():
        d = det_bytes(off, n)
        c.eq(os.pwrite(fd, d, off), n, "big: pwrite at %d" % off)
        model.write(off, d)
    os.ftruncate(fd, (5 << 30) + 10000)
    model.truncate((5 << 30) + 10000)
    os.close(fd)
    check_sparse(p, model, "big", probes=[G4 - 1, G4, G4 + 1, (5 << 30) - 1])
    state["big"] = [model.size, model.st_blocks()]

def big_verify():
    model = Sparse()
    for off, n in big_regions():
        model.write(off, det_bytes(off, n))
    model.truncate((5 << 30) + 10000)
    check_sparse(M + "/big", model, "big after remount", probes=[G4 - 1, G4, G4 + 1])

# ---------------------------------------------------------------- efbig
def efbig_test():
    L = ext2_max_bytes(BS)
    p = M + "/efbig"
    free0 = bfree()
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
    c.err("OK", os.pwrite, fd, b"x", L - 1, what="efbig: 1 byte at max-1 (%d)" % (L - 1))
    c.eq(os.fstat(fd).st_size, L, "efbig: size after writing the last byte")
    n = c.err("OK", os.pwrite, fd, b"ab", L - 1, what="efbig: 2 bytes at max-1")
    c.eq(n, 1, "efbig: a write straddling the limit is short")
    c.err("EFBIG", os.pwrite, fd, b"y", L, what="efbig: write at max")
    c.err("EFBIG", os.pwrite, fd, b"y", L + BS, what="efbig: write past max")
    c.err("EFBIG", os.ftruncate, fd, L + 1, what="efbig: truncate to max+1")
    c.eq(os.fstat(fd).st_size, L, "efbig: size unchanged by the failed calls")
    c.eq(os.pread(fd, 10, L - 1), b"a", "efbig: the last byte")
    afd = os.open(p, os.O_WRONLY | os.O_APPEND)
    c.err("EFBIG", os.write, afd, b"z", what="efbig: O_APPEND write at max")
    os.close(afd)
    c.err("OK", os.ftruncate, fd, L, what="efbig: truncate to max")
    c.eq(os.fstat(fd).st_blocks, (1 + index_blocks([(L - 1) // BS], BS)) * SPB, "efbig: st_blocks")
    os.ftruncate(fd, 0)
    os.close(fd)
    c.eq(bfree(), free0, "efbig: free blocks after truncating to 0")
    os.unlink(p)

# ---------------------------------------------------------------- attrs
ATTRS = [  # name, kind, mode, uid, gid, atime, mtime
    ("a-suid", "f", 0o4751, 123456, 654321, 1000000001, -31536000),
    ("a-sgid", "f", 0o2640, 0, 70000, 2 ** 31 - 1, 2 ** 31 - 1),
    ("a-dir", "d", 0o1777, 65534, 65534, 0, 86400),
    ("a-none", "f", 0o000, 4294967294, 4294967294, 1234567890, 1234567890),
]

def attrs_test():
    A_ = M + "/attrs"
    os.mkdir(A_)
    t0 = int(time.time())
    for name, kind, mode_, uid, gid, at, mt in ATTRS:
        p = A_ + "/" + name
        if kind == "d":
            os.mkdir(p)
        else:
            with open(p, "wb") as f:
                f.write(b"attr")
        os.chown(p, uid, gid)
        os.chmod(p, mode_)
        os.utime(p, (at, mt))
        st = os.lstat(p)
        c.eq((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_atime_ns // 10**9, st.st_mtime_ns // 10**9),
             (mode_, uid, gid, at, mt), "attrs of " + name)
        c.true(st.st_ctime >= t0, "ctime of %s updated (%d < %d)" % (name, st.st_ctime, t0))
    # chown clears suid, and sgid when group-executable.
    p = A_ + "/chown-clears"
    with open(p, "wb") as f:
        f.write(b"s")
    os.chmod(p, 0o6755)
    os.chown(p, 1000, 1000)
    c.eq(stat.S_IMODE(os.lstat(p).st_mode), 0o755, "chown of a 6755 file clears suid and sgid")
    os.symlink("target", A_ + "/link")
    os.chown(A_ + "/link", 4242, 4343, follow_symlinks=False)
    os.utime(A_ + "/link", (315532800, 315532800), follow_symlinks=False)
    st = os.lstat(A_ + "/link")
    c.eq((st.st_uid, st.st_gid, int(st.st_mtime)), (4242, 4343, 315532800), "lchown/lutimes of a symlink")

def attrs_verify():
    A_ = M + "/attrs"
    for name, kind, mode_, uid, gid, at, mt in ATTRS:
        st = os.lstat(A_ + "/" + name)
        c.eq((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_atime_ns // 10**9, st.st_mtime_ns // 10**9),
             (mode_, uid, gid, at, mt), "attrs of %s after remount" % name)
    c.eq(stat.S_IMODE(os.lstat(A_ + "/chown-clears").st_mode), 0o755, "chown-clears mode after remount")
    st = os.lstat(A_ + "/link")
    c.eq((st.st_uid, st.st_gid, int(st.st_mtime), os.readlink(A_ + "/link")), (4242, 4343, 315532800, "target"),
         "symlink attrs after remount")

# ---------------------------------------------------------------- durable
def durable_test():
    D = M + "/dur"
    os.mkdir(D)
    os.sync()
    # Control: unsynced data is not yet on disk (the flusher is off), so the
    # checks below really look at what the sync calls wrote.
    p = D + "/control"
    with open(p, "wb") as f:
        f.write(b"not yet")
    ctl = disk_cat(os.stat(p).st_ino)
    if ctl == b"not yet":
        print("note: unsynced data was already on disk; the durability checks prove less")
    # fsync of a new file (indirect blocks with small block sizes).
    p = D + "/fsync"
    data = bytearray(rng.randbytes(300000))
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    ino = os.fstat(fd).st_ino
    c.eq(sha(disk_cat(ino)), sha(bytes(data)), "fsync: a new 300 KB file on disk")
    # fdatasync after overwrites (size unchanged).
    for off, n in ((0, 10), (70000, 5000), (299990, 10)):
        x = rng.randbytes(n)
        os.pwrite(fd, x, off)
        data[off:off + n] = x
    os.fdatasync(fd)
    c.eq(sha(disk_cat(ino)), sha(bytes(data)), "fdatasync: overwrites on disk")
    # fdatasync after an extension: the size must be written too.
    x = rng.randbytes(50000)
    os.pwrite(fd, x, len(data) + 3000)
    data += bytes(3000) + x
    os.fdatasync(fd)
    got = disk_cat(ino)
    c.eq((len(got), sha(got)), (len(data), sha(bytes(data))), "fdatasync: an extension (size and data) on disk")
    # truncate down + fsync.
    os.ftruncate(fd, 100001)
    del data[100001:]
    os.fsync(fd)
    got = disk_cat(ino)
    c.eq((len(got), sha(got)), (len(data), sha(bytes(data))), "truncate + fsync on disk")
    os.close(fd)
    # Blocks freed by one file (truncate, unlink), then another file
    # fsync'd: by then the freeing file's new record must be on disk, so
    # that after a crash no block the fsync'd file may have taken over is
    # still claimed by its former owner (e2fsck would "repair" it).
    for how in ("truncate", "unlink"):
        old = D + "/freer-" + how
        with open(old, "wb") as f:
            f.write(rng.randbytes(200000))
        os.sync()
        ino = os.stat(old).st_ino
        c.true(disk_inode(ino)[0] == 200000, "frees: %s: the record is on disk before" % how)
        # Created first: it must not get the unlinked file's inode number.
        fd = os.open(D + "/taker-" + how, os.O_CREAT | os.O_WRONLY, 0o644)
        if how == "truncate":
            os.truncate(old, 0)
        else:
            os.unlink(old)
        os.write(fd, rng.randbytes(50000))
        os.fsync(fd)
        os.close(fd)
        size, links, blocks = disk_inode(ino)
        c.eq((size, blocks), (0, ""), "frees: %s, then fsync of another file: the freeing "
             "inode's record on disk (size, block list)" % how)
        if how == "unlink":
            c.eq(links, 0, "frees: unlink, then fsync of another file: links on disk")
    # syncfs (sync -f).
    p = D + "/syncfs"
    d2 = rng.randbytes(40000)
    with open(p, "wb") as f:
        f.write(d2)
    r = subprocess.run(["sync", "-f", p])
    c.eq(r.returncode, 0, "sync -f exit status")
    c.eq(sha(disk_cat(os.stat(p).st_ino)), sha(d2), "syncfs: data on disk")
    # O_SYNC through dd.
    src = WORK + "/dd-src"
    d3 = rng.randbytes(3 * 65536 + 1000)
    with open(src, "wb") as f:
        f.write(d3)
    p = D + "/osync"
    r = subprocess.run(["dd", "if=" + src, "of=" + p, "bs=65536", "oflag=sync", "status=none"])
    c.eq(r.returncode, 0, "dd oflag=sync exit status")
    c.eq(sha(disk_cat(os.stat(p).st_ino)), sha(d3), "O_SYNC (dd oflag=sync): data on disk")
    # O_DSYNC pwrite into the middle and past the end.
    fd = os.open(p, os.O_WRONLY | os.O_DSYNC)
    d3 = bytearray(d3)
    for off, n in ((100, 5000), (len(d3) + 10, 3000)):
        x = rng.randbytes(n)
        os.pwrite(fd, x, off)
        if off > len(d3):
            d3 += bytes(off - len(d3))
        d3[off:off + n] = x
    os.close(fd)
    got = disk_cat(os.stat(p).st_ino)
    c.eq((len(got), sha(got)), (len(d3), sha(bytes(d3))), "O_DSYNC pwrite: data and size on disk")
    # msync(MS_SYNC).
    p = D + "/msync"
    d4 = bytearray(rng.randbytes(3 * PAGE))
    with open(p, "wb") as f:
        f.write(d4)
        f.flush()
        os.fsync(f.fileno())
    fd = os.open(p, os.O_RDWR)
    m = mmap.mmap(fd, len(d4), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    x = rng.randbytes(300)
    m[PAGE + 10:PAGE + 310] = x
    d4[PAGE + 10:PAGE + 310] = x
    m.flush()
    m.close()
    os.close(fd)
    c.eq(sha(disk_cat(os.stat(p).st_ino)), sha(bytes(d4)), "msync: data on disk")
    # A new file in a new directory, fsync of both: found by path on disk.
    os.mkdir(D + "/newdir")
    p = D + "/newdir/newfile"
    d5 = rng.randbytes(5000)
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, d5)
    os.fsync(fd)
    os.close(fd)
    for d in (D + "/newdir", D, M):
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
    got, err = disk_cat_path("/dur/newdir/newfile")
    c.eq(sha(got), sha(d5), "fsync of a new file and its directories: found by path on disk (%s)" % err.strip()[-80:])
    state["dur"] = {n: sha(read_all(D + "/" + n)) for n in ("fsync", "syncfs", "osync", "msync", "newdir/newfile")}

def dur_verify():
    for n, h in state["dur"].items():
        c.eq(sha(read_all(M + "/dur/" + n)), h, "dur/%s after remount" % n)

# ---------------------------------------------------------------- main
if mode == "write":
    rand_write()
    trunc_test()
    trunc_hole_test()
    append_test()
    mmap_test()
    big_test()
    efbig_test()
    attrs_test()
    durable_test()
    with open(STATE, "w") as f:
        json.dump(state, f)
else:
    ref = read_all(WORK + "/ref-rand-%d" % BS)
    got = read_all(M + "/rand")
    c.eq((len(got), sha(got)), (state["rand"][1], state["rand"][0]), "rand after remount")
    c.eq(got == ref, True, "rand equals the reference copy")
    c.eq(os.stat(M + "/rand").st_blocks, state["rand"][2], "rand st_blocks after remount")
    c.eq(sha(read_all(M + "/trunc")), state["trunc"], "trunc after remount")
    verify_append(M + "/append")
    c.eq([sha(read_all(M + "/mm-hole")), sha(read_all(M + "/mm-data"))], state["mmap"], "mmap files after remount")
    m = mmap.mmap(os.open(M + "/mm-data", os.O_RDONLY), 0, mmap.MAP_SHARED, mmap.PROT_READ)
    c.eq(sha(m[:]), state["mmap"][1], "mm-data read through mmap after remount")
    m.close()
    for how, h in state["mmap-eof"].items():
        c.eq(sha(read_all(M + "/mm-eof-" + how)), h, "mm-eof-%s after remount" % how)
    big_verify()
    attrs_verify()
    dur_verify()
c.done()
EOF

for bs in 1024 2048 4096; do
	t_log "bs $bs: mkfs, write"
	mke2fs -q -F -t ext2 -b "$bs" "$DEV" 64M || fail "mke2fs failed"
	mark=$(kmsg_mark "120-$bs")
	mount_fs "$RFS" "$DEV" "$M"
	"$PY" "$WORK/data.py" write "$M" "$bs" "$DEV" "$WORK/state-$bs.json" || fail "bs $bs: data checks failed (FAIL lines above)"
	$MANIFEST "$M" --max-hash-bytes $((64 << 20)) --block-size "$bs" --exclude-name attrs >"$WORK/before.manifest" || fail "manifest failed"
	umount_fs "$M"
	fsck_clean "$DEV"
	t_log "bs $bs: remount, verify"
	mount_fs "$RFS" "$DEV" "$M"
	$MANIFEST "$M" --max-hash-bytes $((64 << 20)) --block-size "$bs" --exclude-name attrs >"$WORK/after.manifest" || fail "manifest failed"
	same_file "$WORK/before.manifest" "$WORK/after.manifest" "bs $bs: manifest before umount vs after mount"
	"$PY" "$WORK/data.py" verify "$M" "$bs" "$DEV" "$WORK/state-$bs.json" || fail "bs $bs: checks after remount failed (FAIL lines above)"
	umount_fs "$M"
	fsck_clean "$DEV"
	assert_no_kreports "$mark"
done

t_log "large_file turned on by a > 2 GiB file"
# (mke2fs always sets large_file these days: clear it with debugfs; no
# resize inode, which is a large file itself.)
mke2fs -q -F -t ext2 -b 4096 -O ^resize_inode "$DEV" 16M || fail "mke2fs failed"
debugfs -w -R "feature -large_file" "$DEV" >/dev/null 2>&1 || fail "debugfs feature -large_file failed"
if dumpe2fs -h "$DEV" 2>/dev/null | grep -q '^Filesystem features:.*large_file'; then fail "large_file still set"; fi
fsck_clean "$DEV"
mount_fs "$RFS" "$DEV" "$M"
printf 'past 2 GiB' | dd of="$M/large" bs=1 seek=$((3 << 30)) conv=notrunc status=none || fail "write at 3 GiB failed"
assert_eq "$(stat -c %s "$M/large")" $(((3 << 30) + 10)) "size of the large file"
umount_fs "$M"
lf=0
dumpe2fs -h "$DEV" 2>/dev/null | grep -q '^Filesystem features:.*large_file' || lf=1
# Whether or not the flag is there, the size must survive a remount.
mount_fs "$RFS" "$DEV" "$M"
assert_eq "$(stat -c %s "$M/large")" $(((3 << 30) + 10)) "size of the large file after remount"
assert_eq "$(tail -c 10 "$M/large")" "past 2 GiB" "end of the large file after remount"
umount_fs "$M"
[ $lf = 0 ] || fail "a file larger than 2 GiB did not set the large_file feature"
fsck_clean "$DEV"
assert_no_kreports "$mark"
t_log "120-data: ok ($((SECONDS - start)) s)"
