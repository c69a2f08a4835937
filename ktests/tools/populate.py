#!/usr/bin/env python3
"""populate.py DIR BLOCKSIZE [--small]: fill DIR (a fresh, writable ext2
mount) with every kind of object the read-only slice must show, in one
process (each exec costs a lot under TCG). --small leaves out the large
sparse files (tind, past4g).

Layout:
  sizes/    regular files of sizes 0, 1, 2, bs-1, bs, bs+1, 2bs+3, around the
            end of the direct blocks, 4095..8192, 65537; "dense" fills direct,
            indirect and 40 double-indirect blocks; seq.txt is text
  sparse/   all-hole, hole-at-end, holes among direct blocks; dind: single
            blocks at the edges of the indirect and double-indirect ranges;
            tind: blocks at the start of the triple-indirect range and of its
            second indirect and second double-indirect block, ending in a
            hole mid-block; past4g: data just below and above 2^32
  tree/     nested dirs (8 deep), empty dirs, hard links (nlink 3 and 2),
            odd names (spaces, newline, backslash, bytes 0x01 0x7f 0xff,
            UTF-8, 254 and 255 bytes, .hidden, ...)
  links/    relative, absolute, dangling, to-dir, loop, 59 (fast), 60, 61
            (slow), 200, bs-1 and (bs 4096) 4000-byte targets, odd bytes
  special/  fifo, char/block devices with old (8-bit) and new (i_block[1])
            encodings, 0:0, a socket
  perms/    modes 0000..7777 incl. suid/sgid/sticky, uids/gids 1000, 65534,
            123456/654321, 4294967294, owned dir and symlink, mtimes in
            1960, 1970, 2001, 2038, a separate atime, a dated directory
"""

import os
import random
import socket
import sys


def main(argv):
    d = argv[0]
    bs = int(argv[1])
    small = "--small" in argv[2:]
    rng = random.Random(bs)
    apb = bs // 4
    ind, dind, tind = 12, 12 + apb, 12 + apb + apb * apb

    def rand(n):
        return rng.randbytes(n)

    def put(path, data, off=0):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, data, off)
        finally:
            os.close(fd)

    def put_block(path, lblk):
        put(path, rand(bs), lblk * bs)

    def p(*parts):
        return os.path.join(d, *parts)

    for sub in ("sizes", "sparse", "tree", "links", "special", "perms"):
        os.makedirs(p(sub), exist_ok=True)

    # --- regular files ---
    for s in sorted({0, 1, 2, bs - 1, bs, bs + 1, 2 * bs + 3, 12 * bs - 1, 12 * bs,
                     12 * bs + 1, 13 * bs + 7, 4095, 4096, 4097, 8191, 8192, 65537}):
        put(p("sizes", "f%d" % s), rand(s))
    put(p("sizes", "dense"), rand((dind + 40) * bs + 123))
    put(p("sizes", "seq.txt"), "".join("%d\n" % i for i in range(1, 20001)).encode())

    # --- sparse files ---
    put(p("sparse", "empty-hole"), b"")
    put(p("sparse", "all-hole"), b"")
    os.truncate(p("sparse", "all-hole"), 50 * bs + 17)
    put(p("sparse", "hole-at-end"), rand(100))
    os.truncate(p("sparse", "hole-at-end"), 40 * bs)
    for b in (0, 5, 11):
        put_block(p("sparse", "direct-hole"), b)
    for b in (11, ind, dind - 1, dind, dind + apb - 1, dind + apb, dind + 3 * apb + 5):
        put_block(p("sparse", "dind"), b)
    if not small:
        f = p("sparse", "tind")
        for b in (0, tind - 1, tind, tind + 1, tind + apb, tind + apb * apb, tind + apb * apb + apb + 1):
            put_block(f, b)
        os.truncate(f, (tind + apb * apb + apb + 3) * bs + 99)
        f = p("sparse", "past4g")
        put_block(f, (1 << 32) // bs - 1)
        put_block(f, (1 << 32) // bs + 2)
        os.truncate(f, (1 << 32) + 5 * bs + 1)

    # --- tree ---
    os.makedirs(p("tree", "a", "b", "c", "d", "e", "f", "g", "h"))
    os.makedirs(p("tree", "empty"))
    os.makedirs(p("tree", "a", "empty2"))
    put(p("tree", "a", "b", "c", "d", "e", "f", "g", "h", "leaf"), b"deep\n")
    put(p("tree", "a", "one"), b"one\n")
    put(p("tree", "a", "b", "two"), rand(5000))
    os.link(p("tree", "a", "one"), p("tree", "hardlink-1"))
    os.link(p("tree", "a", "one"), p("tree", "a", "b", "c", "hardlink-2"))
    os.link(p("sizes", "f1"), p("tree", "hardlink-to-f1"))
    tree = os.fsencode(p("tree"))
    for name in (b"name with spaces", b"-leading-dash", b"new\nline", b"back\\slash=eq",
                 "ünïcödé-名前".encode(), b"\x01\x7f\xff", b"L" * 255, b"M" * 254,
                 b".hidden", b"...", b"%s%d", b"*?[x]"):
        put(os.path.join(tree, name), b"x\n")

    # --- symlinks ---
    links = [("rel", "../sizes/f1"), ("abs", "/etc/hostname"), ("dangling", "does/not/exist"),
             ("to-dir", "../tree/a"), ("len59", "a" * 59), ("len60", "b" * 60),
             ("len61", "c" * 61), ("len200", "/".join(str(i) for i in range(1, 80))[:200]),
             ("len-bs-1", "d" * (bs - 1)), ("odd-bytes", "ünï/\ttab"), ("loop", "loop"),
             ("len1", "x")]
    if bs >= 4096:
        links.append(("len4000", ("x/" * 2000)[:4000]))
    for name, target in links:
        os.symlink(target, p("links", name))

    # --- special files ---
    os.mkfifo(p("special", "fifo"))
    import stat as st
    for name, kind, maj, mnr in (("null", st.S_IFCHR, 1, 3), ("tty-ish", st.S_IFCHR, 4, 64),
                                 ("blk", st.S_IFBLK, 8, 1), ("chr-big", st.S_IFCHR, 511, 1048575),
                                 ("blk-big", st.S_IFBLK, 259, 300000), ("chr-0-0", st.S_IFCHR, 0, 0),
                                 ("chr-255-255", st.S_IFCHR, 255, 255), ("blk-256-0", st.S_IFBLK, 256, 0)):
        os.mknod(p("special", name), kind | 0o644, os.makedev(maj, mnr))
    s = socket.socket(socket.AF_UNIX)
    s.bind(p("special", "sock"))
    s.close()

    # --- permissions, owners, times ---
    for m in (0o000, 0o400, 0o644, 0o755, 0o777, 0o1755, 0o2755, 0o4755, 0o6711, 0o7777):
        f = p("perms", "m%04o" % m)
        put(f, b"%04o\n" % m)
        os.chmod(f, m)
    for name, m in (("sticky-dir", 0o1777), ("dir-0500", 0o500), ("dir-2770", 0o2770)):
        os.mkdir(p("perms", name))
        os.chmod(p("perms", name), m)
    for name, u, g in (("u1000", 1000, 1000), ("u65534", 65534, 65533), ("u-big", 123456, 654321),
                       ("u-max", 4294967294, 4294967294), ("u65536", 65536, 65536)):
        put(p("perms", name), b"u\n")
        os.chown(p("perms", name), u, g)
    os.mkdir(p("perms", "dir-owned"))
    os.chown(p("perms", "dir-owned"), 70000, 80000)
    os.symlink("somewhere", p("perms", "link-owned"))
    os.chown(p("perms", "link-owned"), 4242, 4343, follow_symlinks=False)
    for name, t in (("t2001", 981173106), ("t1960", -301938650), ("t1970", 0), ("t2038", 2147483647),
                    ("t1901", -2147483648)):
        put(p("perms", name), b"t\n")
        os.utime(p("perms", name), (t, t))
    put(p("perms", "t-atime"), b"t\n")
    os.utime(p("perms", "t-atime"), (946684799, 1234567890))
    os.utime(p("perms", "link-owned"), (315532800, 315532800), follow_symlinks=False)
    os.utime(p("perms", "dir-owned"), (641883905, 641883905))
    # Directory times last: creating entries above changed them.
    os.utime(p("tree", "a", "b", "c", "d"), (1286705410, 1286705410))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
