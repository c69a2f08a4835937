#!/usr/bin/env python3
"""Mount corrupted ext2 images with the filesystem under test and with C ext2,
in one process (no exec per case: each costs a lot under TCG).

  corrupt_mount.py --fstype rext2 --work DIR --mnt DIR CASEFILE

CASEFILE, one case a line ('#' starts a comment):
  NAME | BASE | EXPECT | POKE; POKE; ...
BASE: 1k (32 MiB, 1K blocks, 8192 blocks a group: 4 groups) or 4k (32 MiB,
4K blocks, 4096 blocks a group: 2 groups); each holds /file ("content-BS\\n")
and /dir/seq (seq 1 3000).
EXPECT: refuse:ERRNO,ERRNO  the mount must fail with one of these errnos and
                            a kernel log line must name the fstype
        mount               the mount must succeed and /file read correctly
        like-ext2           refused exactly when C ext2 refuses it
        either              anything but a kernel bug or a modified image
POKE: an ext2poke.py command (sb-set F V, gd-set G F V, ino-set I F V, poke
OFF FMT V, fill OFF LEN BYTE), or "sbor FIELD MASK" (OR bits into a
superblock field), "truncate BYTES", "random OFF LEN".

Per case: copy the base image, apply the pokes, attach a loop device, mount
(MS_RDONLY) with --fstype, read /file, walk the tree (bounded), unmount; then
the same with ext2 for the reference column. Checked: the expectation, no
kernel bug report in the log, and the image bytes unchanged by the mount
under test. Prints a table; exit 1 if any case failed.
"""

import ctypes
import errno
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ext2poke  # noqa: E402

libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY = 1
LOOP_SET_FD, LOOP_CLR_FD, LOOP_CTL_GET_FREE, BLKFLSBUF = 0x4C00, 0x4C01, 0x4C82, 0x1261
BUG_RE = re.compile(r"BUG:|WARNING:|Oops|general protection|Call Trace|kernel BUG|UBSAN|"
                    r"rust_panic|panicked|possible circular|INFO: task .* blocked|soft lockup|"
                    r"hung_task|lockdep")


def ename(e):
    return errno.errorcode.get(e, str(e))


class Kmsg:
    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def new(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten records: go on
                    continue
                raise
            txt = rec.decode("utf-8", "replace")
            msg = txt.split(";", 1)[1] if ";" in txt else txt
            out.append(msg.split("\n", 1)[0])


def loop_attach(path):
    ctl = os.open("/dev/loop-control", os.O_RDWR)
    try:
        n = fcntl.ioctl(ctl, LOOP_CTL_GET_FREE)
    finally:
        os.close(ctl)
    dev = "/dev/loop%d" % n
    for _ in range(50):
        if os.path.exists(dev):
            break
        time.sleep(0.1)
    lfd = os.open(dev, os.O_RDWR)
    ffd = os.open(path, os.O_RDWR)
    try:
        fcntl.ioctl(lfd, LOOP_SET_FD, ffd)
        fcntl.ioctl(lfd, BLKFLSBUF, 0)
    finally:
        os.close(ffd)
        os.close(lfd)
    return dev


def loop_detach(dev):
    for _ in range(50):
        lfd = os.open(dev, os.O_RDWR)
        try:
            fcntl.ioctl(lfd, LOOP_CLR_FD, 0)
            return
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
        finally:
            os.close(lfd)
        time.sleep(0.1)
    raise SystemExit("corrupt_mount: cannot detach %s (busy)" % dev)


def mount(src, target, fstype, flags=MS_RDONLY):
    r = libc.mount(src.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags), None)
    return 0 if r == 0 else ctypes.get_errno()


def umount(target):
    if libc.umount(target.encode()) != 0:
        raise SystemExit("corrupt_mount: umount %s: %s" % (target, ename(ctypes.get_errno())))


def walk(root, budget=60.0):
    """Touch everything (errors allowed); returns a short note."""
    t0 = time.time()
    n = errs = 0
    stack = [root]
    while stack and time.time() - t0 < budget:
        d = stack.pop()
        try:
            names = os.listdir(d)
        except OSError:
            errs += 1
            continue
        for name in names:
            p = os.path.join(d, name)
            n += 1
            try:
                st = os.lstat(p)
                if os.path.stat.S_ISDIR(st.st_mode):
                    stack.append(p)
                elif os.path.stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        while f.read(1 << 20):
                            pass
                elif os.path.stat.S_ISLNK(st.st_mode):
                    os.readlink(p)
            except OSError:
                errs += 1
    return "walk:%d/%derr%s" % (n, errs, "/TIMEOUT" if stack else "")


def try_mount(fstype, dev, mnt):
    e = mount(dev, mnt, fstype)
    if e:
        return ename(e), ""
    try:
        try:
            with open(os.path.join(mnt, "file")) as f:
                c = f.read().strip()
        except OSError as ex:
            c = ename(ex.errno)
        note = walk(mnt)
    finally:
        umount(mnt)
    return "OK(%s)" % c, note


def make_base(path, bs, mnt):
    with open(path, "wb") as f:
        f.truncate(32 << 20)
    gpb = {1024: 8192, 4096: 4096}[bs]
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-b", str(bs), "-g", str(gpb), path], check=True)
    dev = loop_attach(path)
    try:
        e = mount(dev, mnt, "ext2", 0)
        if e:
            raise SystemExit("corrupt_mount: mount base %s: %s" % (path, ename(e)))
        with open(os.path.join(mnt, "file"), "w") as f:
            f.write("content-%d\n" % bs)
        os.mkdir(os.path.join(mnt, "dir"))
        with open(os.path.join(mnt, "dir", "seq"), "w") as f:
            f.write("".join("%d\n" % i for i in range(1, 3001)))
        umount(mnt)
    finally:
        loop_detach(dev)
    r = subprocess.run(["e2fsck", "-fn", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        raise SystemExit("corrupt_mount: base image %s is not clean" % path)


def apply_pokes(img, pokes):
    for cmd in pokes:
        a = cmd.split()
        if not a:
            continue
        if a[0] == "sbor":
            im = ext2poke.Img(img)
            v = im.sbget(a[1]) | int(a[2], 0)
            im.f.close()
            ext2poke.main([img, "sb-set", a[1], str(v)])
        elif a[0] == "truncate":
            os.truncate(img, int(a[1], 0))
        elif a[0] == "random":
            with open(img, "r+b") as f:
                f.seek(int(a[1], 0))
                f.write(os.urandom(int(a[2], 0)))
        else:
            ext2poke.main([img] + a)


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def main(argv):
    fstype, work, mnt, casefile = "rext2", None, None, None
    i = 0
    while i < len(argv):
        if argv[i] == "--fstype":
            fstype = argv[i + 1]
            i += 2
        elif argv[i] == "--work":
            work = argv[i + 1]
            i += 2
        elif argv[i] == "--mnt":
            mnt = argv[i + 1]
            i += 2
        else:
            casefile = argv[i]
            i += 1
    if not (work and mnt and casefile):
        raise SystemExit(__doc__)
    os.makedirs(mnt, exist_ok=True)
    bases = {"1k": os.path.join(work, "base1k.img"), "4k": os.path.join(work, "base4k.img")}
    make_base(bases["1k"], 1024, mnt)
    make_base(bases["4k"], 4096, mnt)
    kmsg = Kmsg()
    cases = []
    for line in open(casefile):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = [x.strip() for x in line.split("|")]
        if len(f) < 3:
            raise SystemExit("corrupt_mount: bad case line: %s" % line)
        cases.append((f[0], f[1], f[2], [p.strip() for p in (f[3] if len(f) > 3 else "").split(";")]))
    img = os.path.join(work, "case.img")
    rows, nfail, allbugs = [], 0, []
    for name, base, expect, pokes in cases:
        shutil.copyfile(bases[base], img)
        apply_pokes(img, pokes)
        h0 = sha(img)
        kmsg.new()
        dev = loop_attach(img)
        t0 = time.time()
        try:
            r, note = try_mount(fstype, dev, mnt)
            dt = time.time() - t0
            log = kmsg.new()
            h1 = sha(img)
            e, _ = try_mount("ext2", dev, mnt)
            kmsg.new()
        finally:
            loop_detach(dev)
        why = [l for l in log if fstype in l.lower()]
        bugs = [l for l in log if BUG_RE.search(l)]
        fails = []
        if expect.startswith("refuse:"):
            if r not in expect[7:].split(","):
                fails.append("got %s, expected refusal with %s" % (r, expect[7:]))
            elif not why:
                fails.append("refused, but no kernel log line names %s (log: %s)" % (fstype, " / ".join(log[-4:])))
        elif expect == "mount":
            if not r.startswith("OK(content-"):
                fails.append("got %s, expected a mount that reads /file" % r)
        elif expect == "like-ext2":
            if r.startswith("OK") != e.startswith("OK"):
                fails.append("%s gave %s but ext2 gave %s" % (fstype, r, e))
        elif expect != "either":
            raise SystemExit("corrupt_mount: bad expectation %s" % expect)
        if bugs:
            fails.append("kernel log shows a bug: " + " / ".join(bugs[:5]))
            allbugs += log
        if h0 != h1:
            fails.append("the image was modified by the %s mount" % fstype)
        if dt > 30:
            fails.append("the mount attempt took %.0f s" % dt)
        for fl in fails:
            print("FAIL %s: %s" % (name, fl), flush=True)
        nfail += bool(fails)
        rows.append((name, "FAIL" if fails else "ok", r + (" " + note if note else ""), e, expect,
                     (why[0] if why else "")[:110]))
        print("case %-32s %-4s %s=%s ext2=%s" % (name, rows[-1][1], fstype, r, e), flush=True)
    print("=== results: case | verdict | %s | ext2 | expected | first %s log line ===" % (fstype, fstype))
    for row in rows:
        print("%-32s | %-4s | %-28s | %-18s | %-20s | %s" % row)
    if allbugs:
        print("=== kernel log of the cases with bug reports ===")
        print("\n".join(allbugs[:200]))
    print("%d of %d cases failed" % (nfail, len(rows)))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
