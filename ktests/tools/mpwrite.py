"""Checks of the multipage write path (ktests/tests/170-multipage.sh), one
subcommand per concern, each run in one python process:

  mpwrite.py faults DIR          short writes from partly unmapped buffers
                                 (pwrite, writev); a source that is an mmap
                                 of the very file pages being written
  mpwrite.py edges DIR BS        writes across holes, EOF and partial
                                 blocks, checked against a model
  mpwrite.py enospc DIR BS SYS   exact ENOSPC boundary, a write larger than
                                 the free space (SYS: the sysfs dir)
  mpwrite.py race DIR N          N processes racing for the last blocks
  mpwrite.py concurrent DIR N    N writers on one file (disjoint ranges), N
                                 on their own files, N appending O_APPEND
  mpwrite.py exercise DIR SEED OPS   random write/truncate/mmap write/read/
                                 fsync on a few files against a model
  mpwrite.py syncstorm DIR N SECS   N appenders allocating blocks next to
                                 the indirect blocks they fill in, while
                                 others keep writing the block device back
                                 (sync, truncate + fsync): no deadlock
Each prints its checks and exits 1 on any failure.
"""

import ctypes
import mmap
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwlib import Checks, det_bytes, drop_caches, errname, max_dense_blocks  # noqa: E402

libc = ctypes.CDLL(None, use_errno=True)
libc.pwrite.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long]
libc.pwrite.restype = ctypes.c_ssize_t
libc.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
libc.write.restype = ctypes.c_ssize_t
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.mmap.restype = ctypes.c_void_p
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


libc.pwritev.argtypes = [ctypes.c_int, ctypes.POINTER(IoVec), ctypes.c_int, ctypes.c_long]
libc.pwritev.restype = ctypes.c_ssize_t

PAGE = mmap.PAGESIZE


def raw_pwrite(fd, addr, n, off):
    r = libc.pwrite(fd, addr, n, off)
    return r if r >= 0 else -ctypes.get_errno()


def anon(npages):
    """npages of anonymous memory: (address, ctypes char array view)."""
    addr = libc.mmap(None, npages * PAGE, mmap.PROT_READ | mmap.PROT_WRITE,
                     mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    assert addr not in (None, ctypes.c_void_p(-1).value)
    return addr


def fill(addr, data):
    ctypes.memmove(addr, data, len(data))


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


# --- faults -------------------------------------------------------------------

def faults(d):
    c = Checks("faults")
    path = os.path.join(d, "short")
    base = det_bytes(1, 5 * PAGE)
    with open(path, "wb") as f:
        f.write(base)
    fd = os.open(path, os.O_RDWR)
    model = bytearray(base)
    # A buffer of 3 pages whose last two are unmapped, starting 100 bytes in.
    for start, off in ((100, 0), (100, 1000), (0, PAGE), (PAGE - 1, 3 * PAGE + 5)):
        addr = anon(3)
        data = det_bytes(start + off, 3 * PAGE)
        fill(addr, data[:PAGE])
        libc.munmap(addr + PAGE, 2 * PAGE)
        want = PAGE - start
        got = raw_pwrite(fd, addr + start, 2 * PAGE, off)
        c.eq(got, want, "pwrite of a half-unmapped buffer at %d (start %d)" % (off, start))
        if got > 0:
            model[off:off + got] = data[start:start + got]
        # Nothing can be written: EFAULT.
        c.eq(raw_pwrite(fd, addr + PAGE, 100, off), -14, "pwrite from unmapped memory")
        libc.munmap(addr, PAGE)
    # writev: a mapped vector, then an unmapped one.
    addr = anon(2)
    data = det_bytes(7, PAGE)
    fill(addr, data)
    libc.munmap(addr + PAGE, PAGE)
    iov = (IoVec * 2)(IoVec(addr, 3000), IoVec(addr + PAGE, 4096))
    got = libc.pwritev(fd, iov, 2, 2 * PAGE + 7)
    c.eq(got, 3000, "pwritev with an unmapped second vector")
    model[2 * PAGE + 7:2 * PAGE + 3007] = data[:3000]
    libc.munmap(addr, PAGE)
    os.fsync(fd)
    c.eq(os.fstat(fd).st_size, len(model), "size after short writes")
    c.true(read_file(path) == bytes(model), "content after short writes (cached)")
    os.close(fd)
    drop_caches()
    c.true(read_file(path) == bytes(model), "content after short writes (from disk)")

    # The source is an mmap of the same file: the page being written, a
    # neighbour, an overlapping range, and a hole not yet read.
    path = os.path.join(d, "self")
    base = det_bytes(2, 8 * PAGE)
    with open(path, "wb") as f:
        f.write(base)
        f.truncate(12 * PAGE)
    model = bytearray(base) + bytearray(4 * PAGE)
    drop_caches()
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, 12 * PAGE)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    cases = [(0, PAGE, 0), (0, PAGE, PAGE), (PAGE + 10, 2 * PAGE, 5 * PAGE + 3),
             (9 * PAGE, PAGE, 9 * PAGE), (10 * PAGE, 2 * PAGE, 10 * PAGE + 100),
             (100, 3 * PAGE, 200)]
    for src, n, dst in cases:
        expect = bytes(model[src:src + n])
        end = min(dst + n, 12 * PAGE)
        n = end - dst
        got = raw_pwrite(fd, addr + src, n, dst)
        c.eq(got, n, "pwrite from a mapping of the same file (src %d dst %d)" % (src, dst))
        # Overlapping ranges may see their own output (no memmove promise);
        # disjoint ones must be exact.
        if src + n <= dst or dst + n <= src or src == dst:
            model[dst:dst + n] = expect[:n]
        else:
            model[dst:dst + n] = read_file(path)[dst:dst + n]
    del m
    os.fsync(fd)
    os.close(fd)
    c.true(read_file(path) == bytes(model), "content after self-sourced writes")
    drop_caches()
    c.true(read_file(path) == bytes(model), "content after self-sourced writes (from disk)")
    c.done()


# --- edges ----------------------------------------------------------------------

def edges(d, bs):
    c = Checks("edges bs=%d" % bs)
    rnd = random.Random(bs)
    path = os.path.join(d, "edges-%d" % bs)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    model = bytearray()

    def write(off, n, seed):
        data = det_bytes(seed, n)
        c.eq(os.pwrite(fd, data, off), n, "pwrite(%d, %d)" % (off, n))
        if off > len(model):
            model.extend(bytes(off - len(model)))
        model[off:off + n] = data

    # Sparse layout: data islands with holes between, unaligned edges.
    write(3 * bs + 17, bs, 1)
    write(20 * bs, 3 * bs - 5, 2)
    write(300 * bs + 1, 7, 3)
    # Across hole | data | hole | data, both edges partial.
    write(bs - 3, 25 * bs, 4)
    # Straddling EOF, then far past EOF (a gap), then just at EOF.
    write(len(model) - 10, 2 * bs, 5)
    write(len(model) + 5 * bs + 3, bs // 2, 6)
    write(len(model), 1, 7)
    # Within one block, and single bytes at block boundaries.
    for k in range(8):
        write(rnd.randrange(0, len(model)), rnd.randrange(1, bs), 10 + k)
        write(rnd.randrange(1, 40) * bs - 1 if k else 0, 2, 30 + k)
    # One large write: several batches over holes and data (through the
    # double-indirect range at 1K blocks).
    write(5 * bs + 11, (1 << 20) + 3 * bs + 1, 50)
    # Overwrite inside a cached, uptodate region and extend.
    write(len(model) - bs // 3, 4 * PAGE + 9, 51)
    c.eq(os.fstat(fd).st_size, len(model), "size")
    c.true(os.pread(fd, len(model) + 10, 0) == bytes(model), "content (cached)")
    os.close(fd)
    drop_caches()
    c.true(read_file(path) == bytes(model), "content (from disk)")
    c.done()


# --- ENOSPC ---------------------------------------------------------------------

def statfs_free(d):
    st = os.statvfs(d)
    return st.f_bfree


def sysval(sysdir, name):
    with open(os.path.join(sysdir, name)) as f:
        return int(f.read())


def enospc(d, bs, sysdir):
    c = Checks("enospc bs=%d" % bs)
    free0 = statfs_free(d)
    early0 = sysval(sysdir, "enospc_before_copy")
    # Exactly what fits: a dense file of max_dense_blocks blocks.
    n = max_dense_blocks(free0, bs)
    path = os.path.join(d, "exact")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    data = det_bytes(1, n * bs)
    written = 0
    while written < len(data):
        k = os.write(fd, data[written:written + (1 << 20)])
        written += k
    c.eq(written, n * bs, "bytes written up to the exact boundary")
    c.eq(statfs_free(d), 0, "free blocks at the boundary")
    try:
        os.write(fd, b"x")
        c.fail("one more byte did not fail")
    except OSError as e:
        c.eq(errname(e), "ENOSPC", "one more byte")
    c.true(sysval(sysdir, "enospc_before_copy") > early0, "ENOSPC counted before the copy")
    c.eq(os.fstat(fd).st_size, n * bs, "size unchanged by the failed write")
    # Overwriting in place needs no space.
    c.eq(os.pwrite(fd, b"y" * (3 * bs), bs // 2), 3 * bs, "overwrite on a full fs")
    os.close(fd)
    c.eq(sysval(sysdir, "reserved_now"), 0, "reserved_now after the full write")
    os.unlink(path)
    os.sync()
    c.eq(statfs_free(d), free0, "free blocks back after unlink")

    # One write larger than the free space writes what fits.
    path = os.path.join(d, "big")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    big = det_bytes(2, (free0 + 64) * bs)
    got = os.write(fd, big)
    c.eq(got, n * bs, "short count of a write larger than the free space")
    try:
        os.write(fd, big[:bs])
        c.fail("the next write did not fail")
    except OSError as e:
        c.eq(errname(e), "ENOSPC", "the next write")
    os.close(fd)
    drop_caches()
    c.true(read_file(path) == big[:got], "content of the short write")
    c.eq(sysval(sysdir, "reserved_now"), 0, "reserved_now at the end")
    os.unlink(path)
    c.done()


def race(d, nproc):
    """nproc processes append 64 KiB chunks to their own file until ENOSPC."""
    c = Checks("race")
    free0 = statfs_free(d)
    pids = []
    chunk = 65536
    for i in range(nproc):
        pid = os.fork()
        if pid == 0:
            fd = os.open(os.path.join(d, "r%d" % i), os.O_WRONLY | os.O_CREAT, 0o644)
            data = det_bytes(100 + i, chunk)
            code = 0
            done = 0
            try:
                while True:
                    done = (done + os.write(fd, data[done:])) % chunk
            except OSError as e:
                code = 0 if errname(e) == "ENOSPC" else 3
            os.close(fd)
            os._exit(code)
        pids.append(pid)
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        c.eq(os.waitstatus_to_exitcode(st), 0, "racer exit status (0: stopped by ENOSPC)")
    os.sync()
    c.true(statfs_free(d) < nproc * 8, "the racers used the space (%d free left)" % statfs_free(d))
    for i in range(nproc):
        path = os.path.join(d, "r%d" % i)
        data = det_bytes(100 + i, chunk)
        content = read_file(path)
        whole = data * (len(content) // chunk + 1)
        c.true(content == whole[:len(content)], "racer %d file holds only its own data" % i)
    drop_caches()
    for i in range(nproc):
        os.unlink(os.path.join(d, "r%d" % i))
    os.sync()
    c.eq(statfs_free(d), free0, "free blocks back after the race")
    c.done()


# --- concurrency ----------------------------------------------------------------

def concurrent(d, n):
    c = Checks("concurrent")
    region = 256 * 1024
    # n writers, disjoint regions of one file, odd sizes.
    path = os.path.join(d, "shared")
    open(path, "wb").close()
    pids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            fd = os.open(path, os.O_WRONLY)
            data = det_bytes(200 + i, region)
            off = 0
            step = 1000 + 997 * i
            while off < region:
                k = min(step, region - off)
                os.pwrite(fd, data[off:off + k], i * region + off)
                off += k
            os.close(fd)
            os._exit(0)
        pids.append(pid)
    # n writers on their own files, and n appenders on one O_APPEND file.
    rec = 3000
    nrec = 40
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            with open(os.path.join(d, "own%d" % i), "wb") as f:
                data = det_bytes(300 + i, region)
                for off in range(0, region, 8192 + i):
                    f.write(data[off:off + 8192 + i])
            fd = os.open(os.path.join(d, "appended"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            for r in range(nrec):
                body = bytes([65 + i]) * (rec - 8) + b"%02d:%04d\n" % (i, r)
                os.write(fd, body[:rec])
            os.close(fd)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        c.eq(os.waitstatus_to_exitcode(st), 0, "writer exit status")
    drop_caches()
    content = read_file(path)
    c.eq(len(content), n * region, "size of the shared file")
    for i in range(n):
        c.true(content[i * region:(i + 1) * region] == det_bytes(200 + i, region),
               "region %d of the shared file" % i)
        c.true(read_file(os.path.join(d, "own%d" % i)) == det_bytes(300 + i, region),
               "own file %d" % i)
    app = read_file(os.path.join(d, "appended"))
    c.eq(len(app), n * nrec * rec, "size of the O_APPEND file")
    seen = set()
    for k in range(0, len(app), rec):
        r = app[k:k + rec]
        ok = len(set(r[:rec - 8])) == 1 and r[-1:] == b"\n"
        c.true(ok, "O_APPEND record at %d is whole" % k)
        seen.add(r[-8:])
    c.eq(len(seen), n * nrec, "distinct O_APPEND records")
    c.done()


# --- exerciser ------------------------------------------------------------------

def exercise(d, seed, ops):
    c = Checks("exercise seed=%d" % seed)
    rnd = random.Random(seed)
    nfiles = 3
    maxsize = 3 << 20
    paths = [os.path.join(d, "x%d" % i) for i in range(nfiles)]
    models = [bytearray() for _ in range(nfiles)]
    fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644) for p in paths]
    for step in range(ops):
        i = rnd.randrange(nfiles)
        fd, model = fds[i], models[i]
        op = rnd.choice(["write", "write", "write", "bigwrite", "truncate", "mmap", "read", "fsync"])
        if op in ("write", "bigwrite"):
            n = rnd.randrange(1, 70000) if op == "write" else rnd.randrange(1 << 18, 1 << 20)
            off = rnd.randrange(0, min(len(model) + 50000, maxsize))
            data = det_bytes(seed * 100000 + step, n)
            c.eq(os.pwrite(fd, data, off), n, "step %d: pwrite(%d, %d)" % (step, off, n))
            if off > len(model):
                model.extend(bytes(off - len(model)))
            model[off:off + n] = data
        elif op == "truncate":
            size = rnd.randrange(0, maxsize)
            os.ftruncate(fd, size)
            if size < len(model):
                del model[size:]
            else:
                model.extend(bytes(size - len(model)))
        elif op == "mmap" and len(model) > 0:
            m = mmap.mmap(fd, len(model))
            for _ in range(rnd.randrange(1, 6)):
                off = rnd.randrange(0, len(model))
                n = min(rnd.randrange(1, 9000), len(model) - off)
                data = det_bytes(seed * 100000 + step + 7, n)
                m[off:off + n] = data
                model[off:off + n] = data
            if rnd.random() < 0.5:
                m.flush()
            m.close()
        elif op == "read" and len(model) > 0:
            off = rnd.randrange(0, len(model))
            n = rnd.randrange(1, 200000)
            c.true(os.pread(fd, n, off) == bytes(model[off:off + n]),
                   "step %d: pread(%d, %d)" % (step, off, n))
        elif op == "fsync":
            os.fsync(fd)
        if step % 50 == 49:
            c.eq(os.fstat(fd).st_size, len(model), "step %d: size" % step)
    for fd in fds:
        os.close(fd)
    drop_caches()
    for p, model in zip(paths, models):
        c.true(read_file(p) == bytes(model), "%s content after drop_caches" % os.path.basename(p))
    c.done()


# --- allocation against metadata writeback ------------------------------------

def syncstorm(d, n, secs):
    """n appenders grow files through the indirect range in 1-3 block
    steps (each step links new blocks into an indirect block that shares a
    block-device page with them), while 2 processes sync and 2 truncate a
    file and fsync (which writes back the block device after frees). A
    writer that holds a metadata buffer locked while it waits for a
    block-device folio deadlocks against that writeback; every process must
    finish within a grace period of the deadline."""
    c = Checks("syncstorm")
    deadline = time.monotonic() + secs
    kinds = ["append"] * n + ["sync", "sync", "truncate", "truncate"]
    pids = {}
    for i, kind in enumerate(kinds):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                rounds = 0
                while time.monotonic() < deadline:
                    path = os.path.join(d, "s%d-%d" % (i, rounds % 8))
                    if kind == "append":
                        # 16 blocks of 1 KiB: the 13th creates the
                        # indirect block, the next ones land beside it.
                        with open(path, "wb") as f:
                            data = det_bytes(i * 1000 + rounds, 16 * 1024)
                            off = 0
                            while off < len(data):
                                k = 1024 * (1 + (off // 1024) % 3) - 7
                                f.write(data[off:off + k])
                                off += k
                        if read_file(path) != data:
                            code = 4
                            break
                    elif kind == "sync":
                        os.sync()
                    else:
                        with open(path, "wb") as f:
                            f.write(det_bytes(i, 64 * 1024))
                            f.truncate(1000)
                            os.fsync(f.fileno())
                    rounds += 1
            except OSError:
                code = 3
            os._exit(code)
        pids[pid] = kind
    grace = time.monotonic() + secs + 120
    while pids and time.monotonic() < grace:
        pid, st = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(0.5)
            continue
        c.eq(os.waitstatus_to_exitcode(st), 0, "%s process exit status" % pids.pop(pid))
    c.eq(sorted(pids.values()), [], "processes still running 120 s after the deadline (deadlock)")
    c.done()


def main(argv):
    cmd = argv[1]
    if cmd == "faults":
        faults(argv[2])
    elif cmd == "edges":
        edges(argv[2], int(argv[3]))
    elif cmd == "enospc":
        enospc(argv[2], int(argv[3]), argv[4])
    elif cmd == "race":
        race(argv[2], int(argv[3]))
    elif cmd == "concurrent":
        concurrent(argv[2], int(argv[3]))
    elif cmd == "exercise":
        exercise(argv[2], int(argv[3]), int(argv[4]))
    elif cmd == "syncstorm":
        syncstorm(argv[2], int(argv[3]), int(argv[4]))
    else:
        sys.exit("mpwrite.py: unknown command %s" % cmd)


if __name__ == "__main__":
    main(sys.argv)
