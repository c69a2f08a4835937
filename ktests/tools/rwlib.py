"""Helpers for the rext2 read-write tests (ktests/tests/1NN-*.sh), imported by
their inline Python:

    import sys, os; sys.path.insert(0, os.environ["TOOLS"]); from rwlib import *

Under TCG every exec of python costs more than a second, so a test does many
checks in one process and collects the failures in a Checks object instead
of stopping at the first.

  Checks()                 c.eq(got, want, what); c.true(cond, what);
                           c.err(WANT, fn, *args) runs fn and compares the
                           outcome (OK or errno names, comma-separated);
                           c.done(label) prints a summary, exits 1 on failure
  errname(exc)             "ENOENT", ... for an OSError
  outcome(fn, *args)       ("OK", value) or (errno name, None)
  renameat2(old, new, flags)  the system call (RENAME_NOREPLACE/EXCHANGE)
  dotdot(dir)              d_ino of the ".." entry readdir returns (read from
                           the directory block, unlike stat("dir/.."), which
                           the dcache answers)
  entries(dir)             {name: (d_ino, d_type)} without . and ..
  drop_caches()            sync, then drop dentries, inodes and page cache
  mount(src, target, fstype, opts) / umount(target)   mount(2)/umount(2)
  meta_blocks(nblocks, bs) indirect blocks a dense file of nblocks needs
  index_blocks(lblks, bs)  indirect blocks mapping a set of logical blocks
  max_dense_blocks(free, bs)  most data blocks a dense file can get from
                           `free` free blocks (data + indirect)
  ext2_max_bytes(bs)       s_maxbytes of ext2 for a block size
  det_bytes(seed, n)       n deterministic pseudo-random bytes
"""

import ctypes
import errno
import os
import random
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from manifest import read_dir  # noqa: E402

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
SYS_renameat2 = 316  # x86_64
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4


def errname(e):
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def outcome(fn, *args, **kw):
    try:
        return "OK", fn(*args, **kw)
    except OSError as e:
        return errname(e), None


def _oserror():
    e = ctypes.get_errno()
    return OSError(e, os.strerror(e))


def renameat2(old, new, flags=0):
    r = _libc.syscall(ctypes.c_long(SYS_renameat2), ctypes.c_int(AT_FDCWD), os.fsencode(old),
                      ctypes.c_int(AT_FDCWD), os.fsencode(new), ctypes.c_uint(flags))
    if r != 0:
        raise _oserror()


def mount(src, target, fstype, opts=None, flags=0):
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                            ctypes.c_char_p]
    r = _libc.mount(os.fsencode(src), os.fsencode(target), fstype.encode(), flags,
                    opts.encode() if opts else None)
    if r != 0:
        raise _oserror()


def umount(target):
    if _libc.umount(os.fsencode(target)) != 0:
        raise _oserror()


def dotdot(d):
    for name, ino, _t, _o in read_dir(os.fsencode(d)):
        if name == b"..":
            return ino
    return None


def entries(d):
    return {n: (i, t) for n, i, t, _o in read_dir(os.fsencode(d)) if n not in (b".", b"..")}


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def det_bytes(seed, n):
    return random.Random(seed).randbytes(n)


# --- ext2 block-map arithmetic -------------------------------------------------

def _ranges(bs):
    a = bs // 4
    return a, 12, 12 + a, 12 + a + a * a, 12 + a + a * a + a * a * a


def index_blocks(lblks, bs):
    """Number of indirect blocks (single, double, triple and the blocks they
    hang from) that map the logical blocks in lblks, on a tree that frees
    every indirect block that maps nothing."""
    a, ind, dind, tind, end = _ranges(bs)
    need = set()
    for b in lblks:
        if b < ind:
            continue
        if b < dind:
            need.add(("i",))
        elif b < tind:
            r = b - dind
            need.add(("d",))
            need.add(("d", r // a))
        elif b < end:
            r = b - tind
            need.add(("t",))
            need.add(("t", r // (a * a)))
            need.add(("t", r // (a * a), (r // a) % a))
        else:
            raise ValueError("logical block %d past the ext2 limit" % b)
    return len(need)


def meta_blocks(n, bs):
    """Indirect blocks of a dense file with n data blocks (0..n-1)."""
    a, ind, dind, tind, _end = _ranges(bs)
    m = 0
    if n > ind:
        m += 1
    if n > dind:
        k = n - dind
        m += 1 + min(-(-k // a), a)
    if n > tind:
        k = n - tind
        m += 1 + -(-k // (a * a)) + -(-k // a)
    return m


def max_dense_blocks(free, bs):
    """The largest n with n + meta_blocks(n) <= free."""
    lo, hi = 0, free
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid + meta_blocks(mid, bs) <= free:
            lo = mid
        else:
            hi = mid - 1
    return lo


def ext2_max_bytes(bs):
    """The largest file size ext2 allows for a block size (fs/ext2's
    s_maxbytes rule: what the block tree maps, limited so that i_blocks, in
    512-byte units, fits 32 bits)."""
    bits = bs.bit_length() - 1
    ppb = 1 << (bits - 2)
    res = 12 + ppb + ppb * ppb + ppb ** 3
    upper = ((1 << 32) - 1) >> (bits - 9)
    meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb)
    if res + meta > upper:
        res = upper
        u = upper - 12 - ppb
        meta = 1
        if u < ppb * ppb:
            meta += 1 + -(-u // ppb)
        else:
            meta += 1 + ppb
            u -= ppb * ppb
            meta += 1 + -(-u // ppb) + -(-u // (ppb * ppb))
        res -= meta
    return min(res << bits, (1 << 63) - 1)


# --- collecting results ----------------------------------------------------------

def _difference(got, want):
    """How got differs from want; long byte strings by their first
    differing offset, with a few bytes of each from there."""
    if isinstance(got, (bytes, bytearray)) and isinstance(want, (bytes, bytearray)) \
            and max(len(got), len(want)) > 64:
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        return "%d bytes, want %d; first difference at offset %d: got %r, want %r" % (
            len(got), len(want), at, bytes(got[at:at + 16]), bytes(want[at:at + 16]))
    return "got %r, want %r" % (got, want)


class Checks:
    def __init__(self, label=""):
        self.label = label
        self.bad = []
        self.n = 0

    def fail(self, msg):
        self.bad.append(msg)
        print("FAIL: %s%s" % (self.label + ": " if self.label else "", msg), flush=True)

    def eq(self, got, want, what):
        self.n += 1
        if got != want:
            self.fail("%s: %s" % (what, _difference(got, want)))
            return False
        return True

    def true(self, cond, what):
        self.n += 1
        if not cond:
            self.fail(what)
        return bool(cond)

    def err(self, want, fn, *args, what=None, **kw):
        """Run fn(*args); its outcome (OK or an errno name) must be one of
        the comma-separated names in want. Returns fn's value (None on an
        error)."""
        self.n += 1
        res, val = outcome(fn, *args, **kw)
        if res not in want.split(","):
            if what is None:
                what = "%s(%s)" % (getattr(fn, "__name__", "fn"),
                                   ", ".join(repr(a)[:80] for a in args))
            self.fail("%s: got %s, want %s" % (what, res, want))
        return val

    def done(self, label=None):
        label = label or self.label or "checks"
        print("%s: %d checks, %d failed" % (label, self.n, len(self.bad)), flush=True)
        sys.exit(1 if self.bad else 0)


def ftype(mode):
    for test, c in ((stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"),
                    (stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"), (stat.S_ISFIFO, "p"),
                    (stat.S_ISSOCK, "s")):
        if test(mode):
            return c
    return "?"


def link_count_audit(root, c, skip=(b"lost+found",)):
    """Walk root: every directory's nlink is 2 + its subdirectories, its ".."
    entry (as stored on disk) names its parent, and every other inode's nlink
    is the number of names it has in the tree. Assumes no hard links lead
    outside root. Returns the number of paths visited."""
    root = os.fsencode(root)
    names = {}
    nlinks = {}
    count = 0
    stack = [(root, os.lstat(root).st_ino, None)]
    while stack:
        d, dino, parent = stack.pop()
        count += 1
        st = os.lstat(d)
        ents = read_dir(d)
        subdirs = 0
        for name, ino, _t, _o in ents:
            if name == b".":
                c.eq(ino, dino, "'.' entry of %r" % d)
                continue
            if name == b"..":
                if parent is not None:
                    c.eq(ino, parent, "'..' entry of %r (on disk)" % d)
                continue
            if d == root and name in skip:
                continue
            p = d + b"/" + name
            cst = os.lstat(p)
            c.eq(cst.st_ino, ino, "d_ino of %r" % p)
            if stat.S_ISDIR(cst.st_mode):
                subdirs += 1
                stack.append((p, cst.st_ino, dino))
            else:
                count += 1
                names.setdefault(cst.st_ino, []).append(p)
                nlinks[cst.st_ino] = cst.st_nlink
        if d == root:
            # The root of the walk may hold skipped directories.
            subdirs += sum(1 for n in skip if os.path.isdir(d + b"/" + n) and not os.path.islink(d + b"/" + n))
        c.eq(st.st_nlink, 2 + subdirs, "nlink of directory %r (%d subdirectories)" % (d, subdirs))
    for ino, ps in names.items():
        c.eq(nlinks[ino], len(ps), "nlink of inode %d (names: %r)" % (ino, ps[:4]))
    return count
