#!/usr/bin/env python3
"""Differential random file-system operations: apply one seeded random
sequence to two mounted trees (the filesystem under test and a reference)
in lockstep and require the same outcome from both.

Usage: diffops.py --seed N --ops N [--remount-at K --remount SPEC] ROOT_A ROOT_B

  SPEC = DEV_A:FSTYPE_A:DEV_B:FSTYPE_B  (after operation K both trees are
         unmounted and mounted again, to compare what reached the disks)

Operations: create (with and without O_EXCL), pwrite at random offsets and
sizes (near 0, near EOF, around the indirect-block edges, far past EOF),
O_APPEND writes, truncate up and down, rename (files and directories, across
directories, over files and empty directories, into their own subtree),
renameat2 RENAME_NOREPLACE, link, unlink, mkdir, rmdir, symlink (short and
long targets), mkfifo, chmod, fsync and fdatasync, reads compared between
the trees, open file descriptors kept across unlink and written through,
drop_caches. RENAME_EXCHANGE is not used: C ext2 does not have it. Names
are sometimes 255 or 256 bytes long; targets sometimes do not exist or have
the wrong type, so error paths are compared too.

After every operation the outcome (OK with its value, or the errno name) must
be equal for both trees, and so must lstat (type, mode, size except for
directories, nlink) of every path the operation touched. The first mismatch
stops the run: the log shows the operations up to it. Exit status 0 if the
trees never disagreed, 1 otherwise.
"""

import errno
import hashlib
import os
import random
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwlib import RENAME_NOREPLACE, drop_caches, errname, renameat2  # noqa: E402

NB = os.O_NONBLOCK  # a fifo must never block an open


class Side:
    def __init__(self, root):
        self.root = root
        self.fds = {}

    def p(self, rel):
        return os.path.join(self.root, rel) if rel else self.root


def run_on(side, op, args):
    """Run one operation on one tree. Returns a comparable outcome."""
    P = side.p
    try:
        if op == "create":
            rel, excl = args
            fd = os.open(P(rel), os.O_WRONLY | os.O_CREAT | NB | (os.O_EXCL if excl else 0), 0o644)
            os.close(fd)
            return "OK"
        if op == "write":
            rel, off, data = args
            fd = os.open(P(rel), os.O_WRONLY | NB)
            try:
                return "OK %d" % os.pwrite(fd, data, off)
            finally:
                os.close(fd)
        if op == "append":
            rel, data = args
            fd = os.open(P(rel), os.O_WRONLY | os.O_APPEND | NB)
            try:
                n = os.write(fd, data)
                return "OK %d at %d" % (n, os.lseek(fd, 0, os.SEEK_CUR))
            finally:
                os.close(fd)
        if op == "truncate":
            rel, size = args
            os.truncate(P(rel), size)
            return "OK"
        if op == "rename":
            a, b = args
            os.rename(P(a), P(b))
            return "OK"
        if op == "rename-noreplace":
            a, b = args
            renameat2(P(a), P(b), RENAME_NOREPLACE)
            return "OK"
        if op == "link":
            a, b = args
            os.link(P(a), P(b), follow_symlinks=False)
            return "OK"
        if op == "unlink":
            os.unlink(P(args[0]))
            return "OK"
        if op == "mkdir":
            os.mkdir(P(args[0]), 0o755)
            return "OK"
        if op == "rmdir":
            os.rmdir(P(args[0]))
            return "OK"
        if op == "symlink":
            rel, target = args
            os.symlink(target, P(rel))
            return "OK"
        if op == "mkfifo":
            os.mkfifo(P(args[0]), 0o640)
            return "OK"
        if op == "chmod":
            rel, mode = args
            os.chmod(P(rel), mode)
            return "OK"
        if op == "fsync":
            rel, data_only = args
            fd = os.open(P(rel), os.O_RDONLY | NB)
            try:
                (os.fdatasync if data_only else os.fsync)(fd)
            finally:
                os.close(fd)
            return "OK"
        if op == "read":
            rel, off, n = args
            fd = os.open(P(rel), os.O_RDONLY | NB)
            try:
                d = os.pread(fd, n, off)
            finally:
                os.close(fd)
            return "OK %d %s" % (len(d), hashlib.sha256(d).hexdigest()[:16])
        if op == "hold":
            key, rel = args
            side.fds[key] = os.open(P(rel), os.O_RDWR | NB)
            return "OK"
        if op == "fdwrite":
            key, off, data = args
            fd = side.fds[key]
            n = os.pwrite(fd, data, off)
            st = os.fstat(fd)
            return "OK %d size %d nlink %d" % (n, st.st_size, st.st_nlink)
        if op == "fdtruncate":
            key, size = args
            os.ftruncate(side.fds[key], size)
            return "OK"
        if op == "fdread":
            key, off, n = args
            d = os.pread(side.fds[key], n, off)
            return "OK %d %s" % (len(d), hashlib.sha256(d).hexdigest()[:16])
        if op == "close":
            os.close(side.fds.pop(args[0]))
            return "OK"
        raise SystemExit("diffops: unknown op " + op)
    except OSError as e:
        return errname(e)


def fingerprint(side, rel):
    try:
        st = os.lstat(side.p(rel))
    except OSError as e:
        return errname(e)
    t = stat.S_IFMT(st.st_mode)
    size = None if stat.S_ISDIR(st.st_mode) else st.st_size
    extra = os.readlink(side.p(rel)) if stat.S_ISLNK(st.st_mode) else None
    return (t, stat.S_IMODE(st.st_mode), size, st.st_nlink, extra)


class Gen:
    """Chooses operations; keeps a model of the tree (path -> type) that is
    updated from the outcome of each operation."""

    def __init__(self, rng, bs):
        self.r = rng
        self.bs = bs
        self.nodes = {}          # relative path -> "f" | "d" | "l" | "p"
        self.sizes = {}          # relative path -> size (regular files, approximate)
        self.held = {}           # fd key -> path it was opened by (may be gone)
        self.nextkey = 0
        self.counter = 0
        a = bs // 4
        self.edges = [12, 12 + a, 12 + a + a * a]

    # --- choosing ------------------------------------------------------------
    def of_type(self, *types):
        return [p for p, t in self.nodes.items() if t in types]

    def dirs(self):
        return [""] + self.of_type("d")

    def new_name(self):
        self.counter += 1
        k = self.r.random()
        if k < 0.03:
            return "L%d-" % self.counter + "l" * 300   # cut to 256 below
        if k < 0.08:
            base = "N%d-" % self.counter
            return base + "n" * (255 - len(base))
        return "%s%d" % (self.r.choice("abcdefgh"), self.counter)

    def new_path(self):
        d = self.r.choice(self.dirs())
        if self.r.random() < 0.04:
            d = os.path.join(d, "missing-dir") if d else "missing-dir"
        name = self.new_name()
        if name.startswith("L"):
            name = name[:256]
        return os.path.join(d, name) if d else name

    def any_path(self, *types):
        """An existing path of one of the types, or sometimes anything."""
        cand = self.of_type(*types) if types else list(self.nodes)
        if cand and self.r.random() < 0.85:
            return self.r.choice(cand)
        if self.nodes and self.r.random() < 0.6:
            return self.r.choice(list(self.nodes))
        return self.new_path()

    def offset(self, size):
        k = self.r.random()
        bs = self.bs
        if k < 0.35:
            return self.r.randrange(0, 65536)
        if k < 0.6:
            return max(0, size + self.r.randrange(-2 * bs, 2 * bs))
        if k < 0.85:
            return max(0, self.r.choice(self.edges[:2]) * bs + self.r.randrange(-2 * bs, 2 * bs))
        if k < 0.97 or bs > 1024:
            return self.r.randrange(0, 4 << 20)
        # Into the triple-indirect range (64 MiB on with 1K blocks; kept out
        # with larger blocks, where it starts at 513 MiB or 4 GiB: hashing
        # such files at the end would take long under TCG).
        return self.edges[2] * bs + self.r.randrange(0, 1 << 20)

    def data(self):
        n = self.r.choice([1, 7, self.bs - 1, self.bs, self.bs + 1, 3000, 4096, 5000, 20000, 65536])
        return self.r.randbytes(n)

    # --- one operation ----------------------------------------------------------
    def next(self):
        r = self.r
        ops = [("create", 11), ("write", 20), ("append", 4), ("truncate", 6), ("rename", 10),
               ("rename-noreplace", 2), ("link", 5), ("unlink", 5), ("mkdir", 6), ("rmdir", 3),
               ("symlink", 4), ("mkfifo", 1), ("chmod", 2), ("fsync", 3), ("read", 5),
               ("hold", 2), ("fdwrite", 3), ("fdtruncate", 1), ("fdread", 1), ("close", 2)]
        op = r.choices([o for o, _ in ops], [w for _, w in ops])[0]
        if op == "create":
            p = self.new_path() if r.random() < 0.8 else self.any_path()
            return op, (p, r.random() < 0.5), [p]
        if op == "write":
            p = self.any_path("f")
            return op, (p, self.offset(self.sizes.get(p, 0)), self.data()), [p]
        if op == "append":
            p = self.any_path("f")
            return op, (p, self.data()), [p]
        if op == "truncate":
            p = self.any_path("f")
            s = self.sizes.get(p, 0)
            k = r.random()
            size = r.randrange(0, s + 1) if k < 0.5 else (r.randrange(s, s + 3 * self.bs + 1) if k < 0.85
                                                            else self.offset(s))
            return op, (p, size), [p]
        if op in ("rename", "rename-noreplace"):
            a = self.any_path("f", "d", "l", "p")
            k = r.random()
            if k < 0.45:
                b = self.new_path()
            elif k < 0.65 and a in self.nodes:
                # Over something of the same type (empty directories mostly).
                b = self.any_path(self.nodes[a])
            elif k < 0.8 and self.nodes.get(a) == "d":
                b = os.path.join(a, "inside%d" % self.counter)   # into itself: EINVAL
            else:
                b = self.any_path()
            return op, (a, b), [a, b, os.path.dirname(a), os.path.dirname(b)]
        if op == "link":
            a = self.any_path("f", "l", "p")
            b = self.new_path() if r.random() < 0.85 else self.any_path()
            return op, (a, b), [a, b]
        if op == "unlink":
            p = self.any_path("f", "l", "p")
            return op, (p,), [p, os.path.dirname(p)]
        if op == "mkdir":
            p = self.new_path() if r.random() < 0.9 else self.any_path()
            return op, (p,), [p, os.path.dirname(p)]
        if op == "rmdir":
            empty = [d for d in self.of_type("d") if not any(q.startswith(d + "/") for q in self.nodes)]
            p = r.choice(empty) if empty and r.random() < 0.6 else self.any_path("d")
            return op, (p,), [p, os.path.dirname(p)]
        if op == "symlink":
            n = r.choice([1, 5, 20, 59, 60, 61, 200, 1000, self.bs - 1, self.bs])
            # Relative, downward only: never leads out of the tree.
            if self.nodes and r.random() < 0.5:
                t = r.choice(list(self.nodes))
            else:
                t = ("t/" * 2100)[:n].rstrip("/") or "t"
            p = self.new_path()
            return op, (p, t), [p]
        if op == "mkfifo":
            p = self.new_path()
            return op, (p,), [p]
        if op == "chmod":
            p = self.any_path("f", "d")
            return op, (p, r.choice([0o600, 0o644, 0o755, 0o4755, 0o1777, 0o2750])), [p]
        if op == "fsync":
            p = self.any_path("f", "d")
            return op, (p, r.random() < 0.5), [p]
        if op == "read":
            p = self.any_path("f")
            s = self.sizes.get(p, 0)
            return op, (p, r.choice([0, max(0, s - 5000), r.randrange(0, s + 1)]), 1 << 20), [p]
        if op == "hold":
            if len(self.held) >= 3:
                return self.next()
            p = self.any_path("f")
            self.nextkey += 1
            return op, (self.nextkey, p), [p]
        if op in ("fdwrite", "fdtruncate", "fdread", "close"):
            if not self.held:
                return self.next()
            key = r.choice(sorted(self.held))
            if op == "fdwrite":
                return op, (key, self.offset(self.sizes.get(self.held[key], 0)), self.data()), [self.held[key]]
            if op == "fdtruncate":
                return op, (key, r.randrange(0, 3 * 65536)), [self.held[key]]
            if op == "fdread":
                return op, (key, r.randrange(0, 65536), 65536), []
            return op, (key,), []
        raise AssertionError(op)

    # --- model update from a successful operation ---------------------------------
    def moved(self, a, b):
        out = {}
        for p, t in self.nodes.items():
            if p == a:
                out[b] = t
            elif p.startswith(a + "/"):
                out[b + p[len(a):]] = t
            else:
                out[p] = t
        self.nodes = out
        sizes = {}
        for p, s in self.sizes.items():
            if p == a:
                sizes[b] = s
            elif p.startswith(a + "/"):
                sizes[b + p[len(a):]] = s
            else:
                sizes[p] = s
        self.sizes = sizes

    def update(self, op, args, res, side):
        if not res.startswith("OK"):
            return
        if op == "create":
            self.nodes.setdefault(args[0], "f")
        elif op in ("write", "append", "truncate", "fdwrite", "fdtruncate"):
            pass
        elif op in ("rename", "rename-noreplace"):
            a, b = args
            if a != b and a in self.nodes:
                for p in [q for q in self.nodes if q == b or q.startswith(b + "/")]:
                    del self.nodes[p]
                    self.sizes.pop(p, None)
                self.moved(a, b)
        elif op == "link":
            self.nodes[args[1]] = self.nodes.get(args[0], "f")
        elif op in ("unlink", "rmdir"):
            self.nodes.pop(args[0], None)
            self.sizes.pop(args[0], None)
        elif op == "mkdir":
            self.nodes[args[0]] = "d"
        elif op == "symlink":
            self.nodes[args[0]] = "l"
        elif op == "mkfifo":
            self.nodes[args[0]] = "p"
        elif op == "hold":
            self.held[args[0]] = args[1]
        elif op == "close":
            self.held.pop(args[0], None)
        # Sizes of regular files written (from tree A: B agrees).
        for p in args[:1] if op in ("write", "append", "truncate", "create") else []:
            try:
                self.sizes[p] = os.stat(side.p(p)).st_size
            except OSError:
                pass


def describe(op, args):
    out = []
    for a in args:
        if isinstance(a, bytes):
            out.append("<%d bytes>" % len(a))
        elif isinstance(a, str) and len(a) > 40:
            out.append(repr(a[:20] + "...(%d)" % len(a)))
        else:
            out.append(repr(a))
    return "%s(%s)" % (op, ", ".join(out))


def remount(spec, a, b):
    da, ta, db, tb = spec.split(":")
    for side in (a, b):
        for fd in side.fds.values():
            os.close(fd)
        side.fds.clear()
    for dev, t, side in ((da, ta, a), (db, tb, b)):
        subprocess.run(["umount", side.root], check=True)
        subprocess.run(["mount", "-t", t, dev, side.root], check=True)


def main(argv):
    seed = nops = None
    remount_at, spec = None, None
    roots = []
    i = 0
    while i < len(argv):
        if argv[i] == "--seed":
            seed = int(argv[i + 1]); i += 2
        elif argv[i] == "--ops":
            nops = int(argv[i + 1]); i += 2
        elif argv[i] == "--remount-at":
            remount_at = int(argv[i + 1]); i += 2
        elif argv[i] == "--remount":
            spec = argv[i + 1]; i += 2
        else:
            roots.append(argv[i]); i += 1
    if seed is None or nops is None or len(roots) != 2:
        raise SystemExit(__doc__)
    a, b = Side(roots[0]), Side(roots[1])
    bs = os.statvfs(a.root).f_bsize
    if os.statvfs(b.root).f_bsize != bs:
        raise SystemExit("diffops: the two trees have different block sizes")
    g = Gen(random.Random(seed), bs)
    counts = {}
    history = []
    t0 = time.time()
    for n in range(1, nops + 1):
        if remount_at and n == remount_at + 1 and spec:
            print("diffops: remount of both trees after op %d" % remount_at, flush=True)
            remount(spec, a, b)
            g.held.clear()
        if n % 97 == 0:
            drop_caches()
        if n % 100 == 0:
            print("diffops: op %d, %d paths, %.0f s" % (n, len(g.nodes), time.time() - t0), flush=True)
        op, args, touched = g.next()
        ra = run_on(a, op, args)
        rb = run_on(b, op, args)
        history.append("%4d %s -> %s" % (n, describe(op, args), ra))
        key = (op, ra.split()[0])
        counts[key] = counts.get(key, 0) + 1
        if ra != rb:
            print("\n".join(history[-40:]))
            print("MISMATCH at op %d: %s\n  tree A (%s): %s\n  tree B (%s): %s" % (
                n, describe(op, args), a.root, ra, b.root, rb))
            return 1
        for p in dict.fromkeys(touched):
            if p is None:
                continue
            fa, fb = fingerprint(a, p), fingerprint(b, p)
            if fa != fb:
                print("\n".join(history[-40:]))
                print("MISMATCH after op %d: %s\n  lstat %r on A: %s\n  lstat %r on B: %s" % (
                    n, describe(op, args), p, fa, p, fb))
                return 1
        g.update(op, args, ra, a)
    for side in (a, b):
        for fd in side.fds.values():
            os.close(fd)
    print("diffops: %d operations, the trees agreed on all; %d paths now" % (nops, len(g.nodes)))
    summary = {}
    for (op, res), k in sorted(counts.items()):
        summary.setdefault(op, []).append("%s=%d" % (res, k))
    for op in sorted(summary):
        print("  %-17s %s" % (op, " ".join(summary[op])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
