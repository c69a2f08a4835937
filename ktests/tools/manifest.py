#!/usr/bin/env python3
"""Canonical manifests of a mounted tree, for comparing two mounts of one image.

Usage:
  manifest.py [options] ROOT            one line per path under ROOT, sorted
  manifest.py ls [--bufsize N] DIR      raw getdents64 listing of DIR, in
                                        readdir order: name, d_ino, d_type
  manifest.py snapshot ROOT PREFIX [--no-preads] [options]
                                        PREFIX.manifest, .order (raw listing
                                        of every dir) and .preads
  manifest.py preads ROOT               small preads at telling offsets and
                                        an mmap hash of every regular file
  manifest.py readdir-check DIR...      readdir consistency: small and large
                                        getdents buffers give the same
                                        sequence, lseek(d_off) resumes it

Manifest line: "<path> key=value ...", path relative to ROOT ("." is ROOT),
bytes outside printable ASCII (and space, backslash, '=') escaped as \\xHH.
Fields (all on unless turned off; atime is off unless --atime):
  type   f d l c b p s        mode   permission bits incl. suid/sgid/sticky
  uid gid size nlink ino blocks (st_blocks, 512-byte units)
  mtime ctime atime           nanoseconds since the epoch
  rdev   major:minor (c and b only)
  target readlink() result (l only)
  sha256 of the whole content (f only), or "sampled:<hash>" with
         --max-hash-bytes for files larger than that (see sample_ranges)
  dtype  d_type the parent's readdir reported for the name (DT_UNKNOWN -> u)
  dino   d_ino the parent's readdir reported, when it differs from st_ino
  entries number of names in a directory (without . and ..)
  dirsize  size of a directory (as "size"; --no-dirsize drops it only for
           directories, whose size depends on the filesystem)
Also, when something is off: dupnames=N (a name listed twice), dots=...
(. or .. missing or repeated), revisit=1 (a directory reached twice).
Any failing system call is recorded in the line instead of aborting, e.g.
"sha256=ERR:EIO" or "stat=ERR:EUCLEAN", so a tree with bad objects can be
walked and the errors compared or grepped.

Options: --no-FIELD for each field, --atime, --time-seconds (a/c/mtime in
whole seconds), --max-hash-bytes N,
--block-size N (for the sampled hash of files over --max-hash-bytes),
--exclude-name NAME (skip that name wherever it occurs, e.g. lost+found).
"""

import ctypes
import errno
import hashlib
import os
import stat
import struct
import sys

SYS_getdents64 = 217  # x86_64
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

DT_NAMES = {0: "u", 1: "p", 2: "c", 4: "d", 6: "b", 8: "f", 10: "l", 12: "s", 14: "w"}

ALL_FIELDS = ["type", "mode", "uid", "gid", "size", "nlink", "ino", "blocks",
              "mtime", "ctime", "atime", "rdev", "target", "sha256", "dtype",
              "dino", "entries", "dirsize"]
# Options, not fields: --time-seconds (times in whole seconds, for comparing
# with a tree on a filesystem with finer timestamps).
OPTION_FLAGS = ["time-seconds"]


def esc(b):
    out = []
    for c in b:
        if 0x21 <= c <= 0x7e and c not in (0x5c, 0x3d):
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def ename(e):
    return "ERR:" + errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) and e.errno else "ERR:" + type(e).__name__


def getdents(fd, bufsize=32768):
    """One getdents64 call. Returns a list of (name, d_ino, d_type, d_off)."""
    buf = ctypes.create_string_buffer(bufsize)
    n = _libc.syscall(SYS_getdents64, fd, buf, bufsize)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    raw = buf.raw[:n]
    res = []
    pos = 0
    while pos < n:
        d_ino, d_off, reclen, d_type = struct.unpack_from("<QqHB", raw, pos)
        if reclen == 0:
            raise RuntimeError("getdents64 returned a zero d_reclen")
        name = raw[pos + 19:pos + reclen].split(b"\0", 1)[0]
        res.append((name, d_ino, d_type, d_off))
        pos += reclen
    return res


def read_dir(path, bufsize=32768, limit=10_000_000):
    """All entries of a directory in readdir order (. and .. included)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        out = []
        while True:
            chunk = getdents(fd, bufsize)
            if not chunk:
                return out
            out.extend(chunk)
            if len(out) > limit:
                raise RuntimeError("readdir of %r did not end after %d entries" % (path, limit))
    finally:
        os.close(fd)


def sample_ranges(size, bs=None):
    """Byte ranges hashed for a file larger than --max-hash-bytes: the first
    and last MiB, one MiB at every 64 MiB boundary and, with --block-size,
    2 MiB around the start of each ext2 mapping range (direct, indirect,
    double, triple) and of the second indirect/double-indirect block inside
    them, where tests put their data. Ranges are merged, so each byte is
    hashed once, in file order."""
    mib = 1 << 20
    want = [(0, mib), (size - mib, size)]
    s = 64 * mib
    while s < size:
        want.append((s, s + mib))
        s += 64 * mib
    if bs:
        a = bs // 4
        ind, dind, tind = 12, 12 + a, 12 + a + a * a
        for b in (ind, dind, tind, ind + a, dind + a, tind + a, tind + a * a, tind + a * a + a):
            want.append((b * bs - mib, b * bs + mib))
    want = sorted((max(0, x), min(size, y)) for x, y in want if min(size, y) > max(0, x))
    merged = []
    for x, y in want:
        if merged and x <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], y))
        else:
            merged.append((x, y))
    return [(x, y - x) for x, y in merged]


def hash_file(path, size, max_bytes, bs=None):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if max_bytes is not None and size > max_bytes:
            for off, ln in sample_ranges(size, bs):
                while ln:
                    n = min(ln, 1 << 20)
                    data = os.pread(fd, n, off)
                    if len(data) != n:
                        return "ERR:short-read@%d(%d/%d)" % (off, len(data), n)
                    h.update(data)
                    off += n
                    ln -= n
            return "sampled:" + h.hexdigest()
        total = 0
        while True:
            data = os.read(fd, 1 << 20)
            if not data:
                break
            total += len(data)
            h.update(data)
        if total != size:
            return "ERR:read-%d-of-%d" % (total, size)
        return h.hexdigest()
    finally:
        os.close(fd)


def ftype(m):
    for test, c in ((stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"),
                    (stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"), (stat.S_ISFIFO, "p"),
                    (stat.S_ISSOCK, "s")):
        if test(m):
            return c
    return "?%o" % stat.S_IFMT(m)


def manifest(root, fields, max_bytes, exclude, bs=None, orders=None):
    tdiv = 10**9 if "time-seconds" in fields else 1
    root = os.fsencode(root)
    lines = []
    seen_dirs = set()

    def want(f):
        return f in fields

    def visit(rel, full, dent):
        kv = []
        try:
            st = os.lstat(full)
        except OSError as e:
            kv.append("stat=" + ename(e))
            if dent is not None:
                if want("dtype"):
                    kv.append("dtype=" + DT_NAMES.get(dent[2], str(dent[2])))
            lines.append((rel, kv))
            return
        t = ftype(st.st_mode)
        if want("type"):
            kv.append("type=" + t)
        if want("mode"):
            kv.append("mode=%04o" % stat.S_IMODE(st.st_mode))
        for f, v in (("uid", st.st_uid), ("gid", st.st_gid), ("size", st.st_size),
                     ("nlink", st.st_nlink), ("ino", st.st_ino), ("blocks", st.st_blocks),
                     ("mtime", st.st_mtime_ns // tdiv), ("ctime", st.st_ctime_ns // tdiv),
                     ("atime", st.st_atime_ns // tdiv)):
            if f == "size" and t == "d" and "dirsize" not in fields:
                continue
            if want(f):
                kv.append("%s=%d" % (f, v))
        if dent is not None:
            if want("dtype"):
                kv.append("dtype=" + DT_NAMES.get(dent[2], str(dent[2])))
            if want("dino") and dent[1] != st.st_ino:
                kv.append("dino=%d" % dent[1])
        if t in "cb" and want("rdev"):
            kv.append("rdev=%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        if t == "l" and want("target"):
            try:
                kv.append("target=" + esc(os.readlink(full)))
            except OSError as e:
                kv.append("target=" + ename(e))
        if t == "f" and want("sha256"):
            try:
                kv.append("sha256=" + hash_file(full, st.st_size, max_bytes, bs))
            except OSError as e:
                kv.append("sha256=" + ename(e))
        children = None
        if t == "d" and (st.st_dev, st.st_ino) in seen_dirs:
            # A directory reached twice (a corrupt image can link a
            # directory into its own subtree): note it, do not descend.
            kv.append("revisit=1")
        elif t == "d":
            seen_dirs.add((st.st_dev, st.st_ino))
            try:
                ents = read_dir(full)
                if orders is not None:
                    orders[rel] = ents
                children = [x for x in ents if x[0] not in (b".", b"..")]
                names = [x[0] for x in children]
                if len(set(names)) != len(names):
                    kv.append("dupnames=%d" % (len(names) - len(set(names))))
                dots = [x[0] for x in ents if x[0] in (b".", b"..")]
                if sorted(dots) != [b".", b".."]:
                    kv.append("dots=" + ",".join(esc(d) for d in dots))
                if want("entries"):
                    kv.append("entries=%d" % len(children))
            except (OSError, RuntimeError) as e:
                kv.append("readdir=" + ename(e))
        lines.append((rel, kv))
        if children:
            for c in children:
                if c[0] in exclude:
                    continue
                crel = c[0] if rel == b"." else rel + b"/" + c[0]
                visit(crel, full + b"/" + c[0], c)

    visit(b".", root, None)
    lines.sort(key=lambda x: x[0])
    return "".join("%s %s\n" % (esc(p), " ".join(kv)) for p, kv in lines)


def cmd_ls(args):
    bufsize = 32768
    if args and args[0] == "--bufsize":
        bufsize = int(args[1])
        args = args[2:]
    if len(args) != 1:
        sys.exit("usage: manifest.py ls [--bufsize N] DIR")
    for name, ino, typ, _off in read_dir(os.fsencode(args[0]), bufsize):
        print("%s %d %s" % (esc(name), ino, DT_NAMES.get(typ, str(typ))))


def cmd_readdir_check(args):
    """Exit 1 with a message if readdir of any DIR is not self-consistent."""
    if not args:
        sys.exit("usage: manifest.py readdir-check DIR...")
    bad = 0
    for a in args:
        bad |= readdir_check(a)
    sys.exit(bad)


def readdir_check(arg):
    d = os.fsencode(arg)
    big = read_dir(d, 1 << 20)
    # A buffer just large enough for one maximal entry (19 + 255 + 1 -> 280).
    small = read_dir(d, 280)
    bad = 0
    key = lambda l: [(n, i, t) for n, i, t, _ in l]
    if key(big) != key(small):
        print("readdir-check: listing with a 280-byte buffer differs from a 1 MiB buffer "
              "(%d vs %d entries)" % (len(small), len(big)))
        bad = 1
    # d_off of entry k is the position of entry k+1: seeking there must resume.
    n = len(big)
    picks = sorted({0, 1, 2, n // 3, n // 2, n - 2, n - 1} & set(range(n)))
    for k in picks:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.lseek(fd, big[k][3], os.SEEK_SET)
            rest = []
            while True:
                c = getdents(fd, 4096)
                if not c:
                    break
                rest.extend(c)
        finally:
            os.close(fd)
        if key(rest) != key(big[k + 1:]):
            print("readdir-check: after lseek to d_off of entry %d (%r, d_off=%d) got %d entries, "
                  "expected %d; first got %r, expected %r" % (
                      k, big[k][0], big[k][3], len(rest), n - k - 1,
                      rest[0][0] if rest else None, big[k + 1][0] if k + 1 < n else None))
            bad = 1
    # Rewind (lseek 0) must restart the listing.
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        first = getdents(fd, 4096)
        os.lseek(fd, 0, os.SEEK_SET)
        again = getdents(fd, 4096)
        if key(first) != key(again):
            print("readdir-check: after lseek(0) the listing did not restart")
            bad = 1
        # Past the end: nothing more.
        while getdents(fd, 4096):
            pass
        if getdents(fd, 4096):
            print("readdir-check: getdents after the end returned entries")
            bad = 1
    finally:
        os.close(fd)
    offs = [x[3] for x in big]
    if len(set(offs)) != len(offs):
        print("readdir-check: d_off values are not unique")
        bad = 1
    if not bad:
        print("readdir-check: %s ok (%d entries)" % (arg, n))
    return bad


def cmd_preads(args):
    if len(args) != 1:
        sys.exit("usage: manifest.py preads ROOT")
    sys.stdout.write(preads(args[0]))
    return 0


def preads(root):
    """Deterministic small reads at telling offsets of every regular file under
    ROOT, and an mmap hash of each, one line per read: the same image read
    through two drivers must print the same lines."""
    import mmap
    import random
    root = os.fsencode(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: out.append(
            "%s walk=%s" % (esc(os.fsencode(e.filename or b"?")), ename(e)))):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            rel = esc(os.path.relpath(full, root))
            try:
                st = os.lstat(full)
            except OSError as e:
                out.append("%s lstat=%s" % (rel, ename(e)))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            size = st.st_size
            rng = random.Random(rel + str(size))
            offs = [0, 1, 511, 1023, 1024, 2047, 2048, 4095, 4096, 12 * 1024 - 1,
                    size - 1, size, size + 1, size + 4096, size + (1 << 20),
                    (1 << 32) - 1, 1 << 32, (1 << 32) + 1, (1 << 40)]
            offs += [rng.randrange(0, size + 8192) for _ in range(24)]
            lens = [1, 3, 511, 1024, 4095, 4096, 4097, 65536, 300000]
            try:
                fd = os.open(full, os.O_RDONLY)
            except OSError as e:
                out.append("%s open=%s" % (rel, ename(e)))
                continue
            try:
                for o in offs:
                    if o < 0:
                        continue
                    ln = rng.choice(lens)
                    try:
                        d = os.pread(fd, ln, o)
                        out.append("%s pread %d %d -> %d %s" % (
                            rel, o, ln, len(d), hashlib.sha256(d).hexdigest()[:16]))
                    except OSError as e:
                        out.append("%s pread %d %d -> %s" % (rel, o, ln, ename(e)))
                # mmap: whole file when small, else a window at each 1 GiB.
                if size:
                    wins = [(0, size)] if size <= (64 << 20) else \
                        [(g, min(1 << 20, size - g)) for g in range(0, size, 1 << 30)]
                    for off, ln in wins:
                        try:
                            m = mmap.mmap(fd, ln, mmap.MAP_SHARED, mmap.PROT_READ, offset=off)
                            try:
                                h = hashlib.sha256(m[:]).hexdigest()[:16]
                            finally:
                                m.close()
                            out.append("%s mmap %d %d -> %s" % (rel, off, ln, h))
                        except (OSError, ValueError) as e:
                            out.append("%s mmap %d %d -> %s" % (rel, off, ln, ename(e)))
            finally:
                os.close(fd)
    return "".join(l + "\n" for l in out)


def cmd_snapshot(args):
    """snapshot ROOT PREFIX [manifest options]: PREFIX.manifest, PREFIX.order
    (raw readdir listing of every directory, directories sorted) and
    PREFIX.preads in one process."""
    root, prefix = args[0], args[1]
    rest = args[2:]
    want_preads = "--no-preads" not in rest
    rest = [a for a in rest if a != "--no-preads"]
    fields, max_bytes, bs, exclude, _ = parse_opts(rest)
    orders = {}
    with open(prefix + ".manifest", "w") as f:
        f.write(manifest(root, fields, max_bytes, exclude, bs, orders))
    with open(prefix + ".order", "w") as f:
        for rel in sorted(orders):
            f.write("== %s\n" % esc(rel))
            for name, ino, typ, _off in orders[rel]:
                f.write("%s %d %s\n" % (esc(name), ino, DT_NAMES.get(typ, str(typ))))
    if want_preads:
        with open(prefix + ".preads", "w") as f:
            f.write(preads(root))
    return 0


def parse_opts(argv):
    fields = set(ALL_FIELDS) - {"atime"}
    max_bytes = None
    bs = None
    exclude = set()
    root = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--atime":
            fields.add("atime")
        elif a.startswith("--") and a[2:] in OPTION_FLAGS:
            fields.add(a[2:])
        elif a.startswith("--no-") and a[5:] in ALL_FIELDS:
            fields.discard(a[5:])
        elif a == "--max-hash-bytes":
            i += 1
            max_bytes = int(argv[i])
        elif a == "--block-size":
            i += 1
            bs = int(argv[i])
        elif a == "--exclude-name":
            i += 1
            exclude.add(os.fsencode(argv[i]))
        elif a in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        elif a.startswith("-"):
            sys.exit("manifest.py: unknown option %s" % a)
        elif root is None:
            root = a
        else:
            sys.exit("manifest.py: one ROOT only")
        i += 1
    return fields, max_bytes, bs, exclude, root


def main(argv):
    if argv and argv[0] == "snapshot":
        return cmd_snapshot(argv[1:])
    if argv and argv[0] == "preads":
        return cmd_preads(argv[1:])
    if argv and argv[0] == "ls":
        return cmd_ls(argv[1:])
    if argv and argv[0] == "readdir-check":
        return cmd_readdir_check(argv[1:])
    fields, max_bytes, bs, exclude, root = parse_opts(argv)
    if root is None:
        sys.exit(__doc__)
    sys.stdout.write(manifest(root, fields, max_bytes, exclude, bs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
