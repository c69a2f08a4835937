#!/usr/bin/env python3
"""Write and verify sparse files against a model: zeros everywhere except
regions of pseudo-random bytes at given offsets.

  sparsecheck.py create FILE SIZE OFF:LEN ...
  sparsecheck.py verify FILE SIZE OFF:LEN ... [--full] [--upto BYTES]

The bytes of a region depend only on its offset and length, so the model is
just the command line. verify always checks: st_size, each region, 64 KiB of
zeros on each side of each region, reads at and past EOF (0 bytes), a read
straddling EOF (short), and lseek+read past EOF. --full also streams the
whole file (or its first BYTES with --upto) and compares every byte with the
model, reporting the first mismatch. Prints timings; exit 1 on a mismatch.
"""

import os
import random
import sys
import time


def region_bytes(off, ln):
    return random.Random(off * 1000003 + ln).randbytes(ln)


def parse(args):
    regions = []
    flags = {"full": False, "upto": None}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--full":
            flags["full"] = True
        elif a == "--upto":
            i += 1
            flags["upto"] = int(args[i], 0)
        else:
            o, l = a.split(":")
            regions.append((int(o, 0), int(l, 0)))
        i += 1
    regions.sort()
    for (o1, l1), (o2, _) in zip(regions, regions[1:]):
        if o1 + l1 > o2:
            raise SystemExit("sparsecheck: regions overlap")
    return regions, flags


def create(path, size, regions):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for o, l in regions:
            os.pwrite(fd, region_bytes(o, l), o)
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def expected(regions, off, ln, size):
    """The model's bytes for [off, off+ln) clipped at size."""
    end = min(off + ln, size)
    if end <= off:
        return b""
    buf = bytearray(end - off)
    for o, l in regions:
        a, b = max(o, off), min(o + l, end)
        if a < b:
            buf[a - off:b - off] = region_bytes(o, l)[a - o:b - o]
    return bytes(buf)


def first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def verify(path, size, regions, flags):
    bad = []
    st = os.stat(path)
    if st.st_size != size:
        bad.append("st_size %d, model %d" % (st.st_size, size))
    fd = os.open(path, os.O_RDONLY)
    try:
        def check(off, ln, what):
            got = os.pread(fd, ln, off)
            want = expected(regions, off, ln, size)
            if got != want:
                i = first_diff(got, want)
                bad.append("%s: read %d@%d: got %d bytes, want %d; first difference at file offset %d "
                           "(got %r, want %r)" % (what, ln, off, len(got), len(want), off + i,
                                                  got[i:i + 8], want[i:i + 8]))
        t0 = time.time()
        for o, l in regions:
            check(o, l, "region %d:%d" % (o, l))
            check(max(0, o - 65536), min(65536, o), "zeros before region %d" % o)
            check(o + l, 65536, "zeros after region %d" % o)
            check(max(0, o + l // 2 - 1), 3, "inside region %d" % o)
        # EOF behaviour.
        for off, ln in ((size, 4096), (size + 1, 1), (size + 123456789, 4096), (1 << 40, 10),
                        (max(0, size - 1), 4096), (max(0, size - 5000), 10000), ((1 << 63) - 4096, 100)):
            try:
                check(off, ln, "EOF")
            except OSError as e:
                bad.append("read %d@%d near EOF: %s" % (ln, off, e))
        os.lseek(fd, size + 10, os.SEEK_SET)
        if os.read(fd, 100) != b"":
            bad.append("read after lseek past EOF returned data")
        print("sparsecheck: regions and EOF checked in %.1f s" % (time.time() - t0))
        if flags["full"]:
            limit = size if flags["upto"] is None else min(size, flags["upto"])
            chunk = 4 << 20
            buf = bytearray(chunk)
            zero = bytes(chunk)
            t0 = time.time()
            off = 0
            os.lseek(fd, 0, os.SEEK_SET)
            # Regions sorted; only chunks that meet one need the model built.
            while off < limit:
                want_len = min(chunk, limit - off)
                mv = memoryview(buf)[:want_len]
                got = 0
                while got < want_len:
                    n = os.readv(fd, [mv[got:]])
                    if n == 0:
                        break
                    got += n
                if got != want_len:
                    bad.append("full read: short read at %d (%d of %d)" % (off, got, want_len))
                    break
                touches = any(o < off + want_len and o + l > off for o, l in regions)
                if touches:
                    want = expected(regions, off, want_len, size)
                else:
                    want = zero if want_len == chunk else zero[:want_len]
                # bytearray == bytes is a memcmp; memoryview == bytes is not.
                ok = (buf if want_len == chunk else buf[:want_len]) == want
                if not ok:
                    i = first_diff(bytes(mv), want)
                    bad.append("full read: first difference at file offset %d (got %r, want %r)" % (
                        off + i, bytes(mv[i:i + 8]), want[i:i + 8]))
                    break
                off += want_len
            dt = time.time() - t0
            print("sparsecheck: full read of %d MiB in %.1f s (%.0f MiB/s)" % (
                off >> 20, dt, (off >> 20) / dt if dt > 0 else 0))
            if flags["upto"] is None and not bad and os.read(fd, 4096) != b"":
                bad.append("full read: data after EOF")
    finally:
        os.close(fd)
    for b in bad:
        print("sparsecheck: MISMATCH " + b)
    return 1 if bad else 0


def main(argv):
    if len(argv) < 3 or argv[0] not in ("create", "verify"):
        raise SystemExit(__doc__)
    cmd, path, size = argv[0], argv[1], int(argv[2], 0)
    regions, flags = parse(argv[3:])
    if cmd == "create":
        create(path, size, regions)
        return 0
    return verify(path, size, regions, flags)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
