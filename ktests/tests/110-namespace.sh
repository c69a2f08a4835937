#!/bin/bash
# timeout: 400
# Namespace operations on a read-write rext2 mount (1K blocks, so directories
# span many blocks quickly), each with its error cases:
#   create (O_EXCL: EEXIST; ENOENT, ENOTDIR), mkdir (EEXIST over a dir and a
#   file), rmdir (ENOTEMPTY, ENOTDIR, ENOENT), unlink (EISDIR, ENOENT),
#   link (EPERM for a directory, EEXIST, counts up and down), symlink (fast
#   < 60 bytes with st_blocks 0, slow up to block size - 1, ENAMETOOLONG at
#   block size, EEXIST), mknod (fifo, char and block devices with old and
#   new device numbers, socket), names of 255 bytes and ENAMETOOLONG at 256
#   for every call that makes or finds a name;
#   rename: within and across directories, over a file (the victim's nlink
#   drops to 0 while an fd holds it, a second link keeps it), over an empty
#   directory, ENOTEMPTY/EISDIR/ENOTDIR/EINVAL/ENOENT, same-inode no-op;
#   a directory moved to another parent: both parents' st_nlink and its ".."
#   entry as readdir reads it from the directory block (stat("d/..") would
#   only ask the dcache); RENAME_NOREPLACE (EEXIST) and RENAME_EXCHANGE
#   (a file and a directory in different parents: types, nlinks, ".."),
#   EINVAL for both flags together;
#   an open unlinked file is readable and writable until its last close, its
#   blocks and inode stay allocated until then and come back exactly after
#   (statfs free counts); an rmdir'ed cwd refuses new entries;
#   deleting a device node or fast symlink whose i_block words equal a
#   block in use frees nothing;
#   directory growth past many blocks, and reuse: deleting and re-adding names
#   of the same length does not grow the directory; a many-block directory
#   emptied and removed gives back every block.
# Then a link-count/".." audit of the whole tree; after umount + e2fsck the
# tree is mounted again and must have the same manifest (inode numbers,
# st_blocks, nlink, times...) and pass the audit again from disk.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"
export TOOLS RFS

load_rext2
DEV=$(disk 1)
M=$(mnt_dir m)
start=$SECONDS
mke2fs -q -F -t ext2 -b 1024 -N 4096 "$DEV" 64M || fail "mke2fs failed"
mark=$(kmsg_mark 110)
mount_fs "$RFS" "$DEV" "$M"

t_log "namespace operations"
"$PY" - "$M" <<'EOF' || fail "namespace checks failed (FAIL lines above)"
import os, sys, stat, errno
sys.path.insert(0, os.environ["TOOLS"])
from rwlib import *
from manifest import readdir_check

M = sys.argv[1]
B = os.statvfs(M).f_bsize
os.umask(0)
c = Checks("110")
T = M + "/ns"
os.mkdir(T, 0o755)
W = os.O_WRONLY | os.O_CREAT
def nl(p): return os.lstat(p).st_nlink
def ino(p): return os.lstat(p).st_ino
def mk(p, data=b""):
    fd = os.open(p, W | os.O_TRUNC, 0o644)
    os.write(fd, data)
    os.close(fd)
def creat_excl(p): os.close(os.open(p, W | os.O_EXCL, 0o640))
def creat(p): os.close(os.open(p, W, 0o640))
N255 = "n" * 250 + "12345"
N256 = "N" * 256

# --- create ---------------------------------------------------------------
c.err("OK", creat_excl, T + "/f")
c.eq(stat.S_IMODE(os.lstat(T + "/f").st_mode), 0o640, "mode of a created file")
c.eq(os.lstat(T + "/f").st_size, 0, "size of a created file")
c.eq(nl(T + "/f"), 1, "nlink of a created file")
c.err("EEXIST", creat_excl, T + "/f")
c.err("OK", creat, T + "/f")               # O_CREAT without O_EXCL opens it
c.err("ENOENT", creat, T + "/nodir/f")
c.err("ENOTDIR", creat, T + "/f/x")
c.err("ENOENT", os.open, T + "/absent", os.O_RDONLY)
c.err("OK", creat_excl, T + "/" + N255)
c.eq(os.lstat(T + "/" + N255).st_size, 0, "255-byte name stat")
c.true(N255.encode() in entries(T), "255-byte name listed")
c.err("ENAMETOOLONG", creat, T + "/" + N256)
c.err("ENAMETOOLONG", creat_excl, T + "/" + N256)
c.err("ENAMETOOLONG", os.lstat, T + "/" + N256)

# --- mkdir / rmdir --------------------------------------------------------------
n0 = nl(T)
c.eq(n0, 2, "nlink of a new directory")
c.eq(os.lstat(T).st_size, B, "size of a new directory")
c.eq(os.lstat(T).st_blocks, B // 512, "st_blocks of a new directory")
c.err("OK", os.mkdir, T + "/d1", 0o750)
c.eq(nl(T), n0 + 1, "parent nlink after mkdir")
c.eq(nl(T + "/d1"), 2, "nlink of the new dir")
c.eq(stat.S_IMODE(os.lstat(T + "/d1").st_mode), 0o750, "mode of the new dir")
c.eq(sorted(entries(T + "/d1")), [], "new dir is empty")
c.eq(dotdot(T + "/d1"), ino(T), "'..' of the new dir")
c.err("EEXIST", os.mkdir, T + "/d1")
c.err("EEXIST", os.mkdir, T + "/f")
c.err("ENOENT", os.mkdir, T + "/no/d")
c.err("ENOTDIR", os.mkdir, T + "/f/d")
c.err("ENAMETOOLONG", os.mkdir, T + "/" + N256)
c.err("OK", os.mkdir, T + "/d1/" + N255)
c.eq(nl(T + "/d1"), 3, "nlink with a 255-byte-named subdir")
c.err("OK", os.mkdir, T + "/d2")
mk(T + "/d2/x", b"x")
c.err("ENOTEMPTY", os.rmdir, T + "/d2")
c.err("ENOTDIR", os.rmdir, T + "/f")
c.err("ENOENT", os.rmdir, T + "/absent")
c.err("ENOTEMPTY", os.rmdir, T + "/d1")
c.err("OK", os.rmdir, T + "/d1/" + N255)
c.eq(nl(T + "/d1"), 2, "nlink after rmdir of the subdir")
c.err("OK", os.unlink, T + "/d2/x")
c.err("OK", os.rmdir, T + "/d2")
c.eq(nl(T), n0 + 1, "parent nlink after rmdir")
c.err("ENOENT", os.lstat, T + "/d2")

# --- unlink / link ----------------------------------------------------------
c.err("EISDIR", os.unlink, T + "/d1")
c.err("ENOENT", os.unlink, T + "/absent")
c.err("ENOTDIR", os.unlink, T + "/f/x")
mk(T + "/L", b"link me\n")
c.err("OK", os.link, T + "/L", T + "/L2")
c.err("OK", os.link, T + "/L", T + "/d1/L3")
c.eq(nl(T + "/L"), 3, "nlink after two links")
c.eq(ino(T + "/d1/L3"), ino(T + "/L"), "link shares the inode")
c.err("EEXIST", os.link, T + "/L", T + "/L2")
c.err("EEXIST", os.link, T + "/L", T + "/f")
c.err("EEXIST", os.link, T + "/L", T + "/d1")
c.err("ENOENT", os.link, T + "/absent", T + "/x")
c.err("EPERM", os.link, T + "/d1", T + "/d1-link")
c.err("ENAMETOOLONG", os.link, T + "/L", T + "/" + N256)
c.err("ENAMETOOLONG", os.link, T + "/L", T + "/" + N255 + "-")
c.err("OK", os.unlink, T + "/L2")
c.eq(nl(T + "/L"), 2, "nlink after unlinking a link")
with open(T + "/d1/L3", "rb") as f:
    c.eq(f.read(), b"link me\n", "content through the other link")
# 20 links, all removed but one.
for i in range(20):
    os.link(T + "/L", T + "/d1/many%02d" % i)
c.eq(nl(T + "/L"), 22, "nlink with 20 more links")
for i in range(20):
    os.unlink(T + "/d1/many%02d" % i)
c.eq(nl(T + "/L"), 2, "nlink after removing them")

# --- symlinks -----------------------------------------------------------------
for ln in (1, 59, 60, 61, 200, B - 1):
    tgt = ("t%d/" % ln + "x" * ln)[:ln]
    p = T + "/sl%d" % ln
    c.err("OK", os.symlink, tgt, p)
    st = os.lstat(p)
    c.eq(stat.S_ISLNK(st.st_mode), True, "symlink %d is a symlink" % ln)
    c.eq(os.readlink(p), tgt, "target of a %d-byte symlink" % ln)
    c.eq(st.st_size, ln, "st_size of a %d-byte symlink" % ln)
    c.eq(st.st_blocks, 0 if ln < 60 else B // 512, "st_blocks of a %d-byte symlink" % ln)
c.err("ENAMETOOLONG", os.symlink, "y" * B, T + "/sl-too-long")
c.err("ENOENT", os.lstat, T + "/sl-too-long")
c.err("EEXIST", os.symlink, "x", T + "/f")
c.err("EEXIST", os.symlink, "x", T + "/d1")
c.err("ENAMETOOLONG", os.symlink, "x", T + "/" + N256)
c.err("OK", os.symlink, "L", T + "/to-L")
with open(T + "/to-L", "rb") as f:
    c.eq(f.read(), b"link me\n", "read through a symlink")
c.err("OK", os.symlink, "d1/../L", T + "/to-L-rel")
c.eq(open(T + "/to-L-rel", "rb").read(), b"link me\n", "read through a symlink with ..")
c.err("OK", os.symlink, "nowhere", T + "/dangling")
c.err("ENOENT", os.open, T + "/dangling", os.O_RDONLY)
c.eq(nl(T + "/sl60"), 1, "symlink nlink")

# --- mknod --------------------------------------------------------------------
c.err("OK", os.mkfifo, T + "/fifo", 0o600)
c.err("OK", os.mknod, T + "/chr", stat.S_IFCHR | 0o644, os.makedev(1, 3))
c.err("OK", os.mknod, T + "/blk", stat.S_IFBLK | 0o600, os.makedev(8, 17))
c.err("OK", os.mknod, T + "/chr-big", stat.S_IFCHR | 0o644, os.makedev(300, 70000))
c.err("OK", os.mknod, T + "/sock", stat.S_IFSOCK | 0o755)
c.err("OK", os.mknod, T + "/reg", stat.S_IFREG | 0o600)
c.err("EEXIST", os.mknod, T + "/fifo", stat.S_IFIFO | 0o600)
c.err("ENAMETOOLONG", os.mknod, T + "/" + N256, stat.S_IFIFO | 0o600)
for name, kind, dev in (("fifo", "p", None), ("chr", "c", (1, 3)), ("blk", "b", (8, 17)),
                        ("chr-big", "c", (300, 70000)), ("sock", "s", None), ("reg", "f", None)):
    st = os.lstat(T + "/" + name)
    c.eq(ftype(st.st_mode), kind, "type of " + name)
    c.eq(st.st_size, 0, "size of " + name)
    c.eq(st.st_blocks, 0, "st_blocks of " + name)
    if dev:
        c.eq((os.major(st.st_rdev), os.minor(st.st_rdev)), dev, "rdev of " + name)
c.eq(entries(T)[b"fifo"][1], 1, "d_type of the fifo")
c.eq(entries(T)[b"sock"][1], 12, "d_type of the socket")
c.eq(entries(T)[b"blk"][1], 6, "d_type of the block device")

# --- rename: files ------------------------------------------------------------------
os.mkdir(T + "/A")
os.mkdir(T + "/B")
mk(T + "/A/x", b"xxx")
ix = ino(T + "/A/x")
c.err("OK", os.rename, T + "/A/x", T + "/A/y")
c.eq(ino(T + "/A/y"), ix, "inode kept by rename")
c.err("ENOENT", os.lstat, T + "/A/x")
c.err("OK", os.rename, T + "/A/y", T + "/B/y")
c.eq((nl(T + "/A"), nl(T + "/B")), (2, 2), "parents' nlink after a file moves")
c.eq(sorted(entries(T + "/A")), [], "A empty after the move")
c.eq(open(T + "/B/y", "rb").read(), b"xxx", "moved file content")
# Over an existing file: the victim loses its name; an fd sees nlink 0.
mk(T + "/A/victim", b"victim")
iv = ino(T + "/A/victim")
fdv = os.open(T + "/A/victim", os.O_RDONLY)
c.err("OK", os.rename, T + "/B/y", T + "/A/victim")
c.eq(ino(T + "/A/victim"), ix, "rename over a file: the name has the new inode")
c.eq(os.fstat(fdv).st_nlink, 0, "the replaced file's nlink (through an fd)")
c.eq(os.pread(fdv, 100, 0), b"victim", "the replaced file still readable through the fd")
os.close(fdv)
# Over a file with two links: the other link keeps it, nlink 1.
mk(T + "/A/v2", b"v2")
os.link(T + "/A/v2", T + "/B/v2-other")
mk(T + "/A/z", b"zz")
c.err("OK", os.rename, T + "/A/z", T + "/A/v2")
c.eq(nl(T + "/B/v2-other"), 1, "nlink of a replaced file that had two links")
c.eq(open(T + "/B/v2-other", "rb").read(), b"v2", "other link content")
# Same inode: a no-op that leaves both names.
os.link(T + "/A/v2", T + "/A/v2-same")
c.err("OK", os.rename, T + "/A/v2", T + "/A/v2-same")
c.eq((os.path.lexists(T + "/A/v2"), os.path.lexists(T + "/A/v2-same"), nl(T + "/A/v2")),
     (True, True, 2), "rename between two links of one inode is a no-op")
c.err("OK", os.rename, T + "/A/v2", T + "/A/v2")
c.err("ENOENT", os.rename, T + "/A/absent", T + "/A/q")
c.err("ENOENT", os.rename, T + "/A/v2", T + "/nodir/q")
c.err("ENAMETOOLONG", os.rename, T + "/A/v2", T + "/A/" + N256)
c.err("OK", os.rename, T + "/A/v2", T + "/B/" + N255)
c.err("OK", os.rename, T + "/B/" + N255, T + "/A/v2")
# Type clashes.
os.mkdir(T + "/A/dir")
os.mkdir(T + "/B/full")
mk(T + "/B/full/inside")
c.err("EISDIR", os.rename, T + "/A/v2", T + "/A/dir")
c.err("ENOTDIR", os.rename, T + "/A/dir", T + "/A/v2")
c.err("ENOTEMPTY,EEXIST", os.rename, T + "/A/dir", T + "/B/full")
c.err("EINVAL", os.rename, T + "/A", T + "/A/dir/sub")
c.err("EINVAL", os.rename, T + "/A", T + "/A/dir")

# --- rename: directories --------------------------------------------------------
# A directory with content moves from A to B: nlinks and its ".." on disk.
mk(T + "/A/dir/file", b"in dir")
os.mkdir(T + "/A/dir/sub")
ia, ib, idir = ino(T + "/A"), ino(T + "/B"), ino(T + "/A/dir")
na, nb = nl(T + "/A"), nl(T + "/B")
c.err("OK", os.rename, T + "/A/dir", T + "/B/moved")
c.eq((nl(T + "/A"), nl(T + "/B")), (na - 1, nb + 1), "parents' nlink after a directory moves")
c.eq(nl(T + "/B/moved"), 3, "nlink of the moved directory")
c.eq(dotdot(T + "/B/moved"), ib, "'..' of the moved directory (on disk)")
c.eq(dotdot(T + "/B/moved/sub"), idir, "'..' of its subdirectory")
c.eq(open(T + "/B/moved/file", "rb").read(), b"in dir", "file in the moved directory")
# Within the same parent: nlink unchanged.
c.err("OK", os.rename, T + "/B/moved", T + "/B/moved2")
c.eq(nl(T + "/B"), nb + 1, "parent nlink after a rename in place")
c.eq(dotdot(T + "/B/moved2"), ib, "'..' after a rename in place")
# Over an empty directory in another parent.
os.mkdir(T + "/A/empty")
fde = os.open(T + "/A/empty", os.O_RDONLY | os.O_DIRECTORY)
na, nb = nl(T + "/A"), nl(T + "/B")
c.err("OK", os.rename, T + "/B/moved2", T + "/A/empty")
c.eq((nl(T + "/A"), nl(T + "/B")), (na, nb - 1), "nlinks after a dir replaces an empty dir")
c.eq(dotdot(T + "/A/empty"), ia, "'..' after replacing an empty dir")
c.eq(ino(T + "/A/empty"), idir, "the replacing dir's inode")
c.eq(os.fstat(fde).st_nlink, 0, "nlink of the replaced empty dir (through an fd)")
os.close(fde)
c.eq(sorted(entries(T + "/A/empty")), [b"file", b"sub"], "content of the dir that replaced the empty one")

# --- renameat2 ------------------------------------------------------------------
mk(T + "/A/nr1", b"1")
mk(T + "/A/nr2", b"2")
c.err("EEXIST", renameat2, T + "/A/nr1", T + "/A/nr2", RENAME_NOREPLACE)
c.eq(open(T + "/A/nr2", "rb").read(), b"2", "NOREPLACE left the target")
c.err("OK", renameat2, T + "/A/nr1", T + "/B/nr1", RENAME_NOREPLACE)
c.err("ENOENT", os.lstat, T + "/A/nr1")
c.err("EINVAL", renameat2, T + "/B/nr1", T + "/A/nr2", RENAME_NOREPLACE | RENAME_EXCHANGE)
# C ext2 has no RENAME_EXCHANGE (EINVAL): only checked for the filesystem under
# test (the script also runs against ext2 to check its other expectations).
if os.environ.get("RFS", "rext2") == "ext2":
    c.err("EINVAL", renameat2, T + "/B/nr1", T + "/A/nr2", RENAME_EXCHANGE)
else:
    c.err("ENOENT", renameat2, T + "/B/nr1", T + "/A/nothing", RENAME_EXCHANGE)
    # EXCHANGE a file in B with a directory in A.
    os.mkdir(T + "/A/xd")
    mk(T + "/A/xd/inner", b"inner")
    os.mkdir(T + "/A/xd/deeper")
    ixd, ixf = ino(T + "/A/xd"), ino(T + "/B/nr1")
    na, nb = nl(T + "/A"), nl(T + "/B")
    c.err("OK", renameat2, T + "/B/nr1", T + "/A/xd", RENAME_EXCHANGE)
    c.eq((ino(T + "/A/xd"), ino(T + "/B/nr1")), (ixf, ixd), "inodes after EXCHANGE")
    c.eq((ftype(os.lstat(T + "/A/xd").st_mode), ftype(os.lstat(T + "/B/nr1").st_mode)), ("f", "d"),
         "types after EXCHANGE")
    c.eq((nl(T + "/A"), nl(T + "/B")), (na - 1, nb + 1), "parents' nlink after a file/dir EXCHANGE")
    c.eq(dotdot(T + "/B/nr1"), ib, "'..' of the exchanged directory (on disk)")
    c.eq(dotdot(T + "/B/nr1/deeper"), ixd, "'..' below the exchanged directory")
    c.eq(entries(T + "/A")[b"xd"][1], 8, "d_type of the file that took a dir's name")
    c.eq(entries(T + "/B")[b"nr1"][1], 4, "d_type of the dir that took a file's name")
    c.eq(open(T + "/B/nr1/inner", "rb").read(), b"inner", "content below the exchanged dir")
    c.eq(open(T + "/A/xd", "rb").read(), b"1", "content of the exchanged file")
    # EXCHANGE two directories in different parents: nlinks unchanged, ".." swap.
    os.mkdir(T + "/A/da")
    os.mkdir(T + "/B/db")
    ida, idb = ino(T + "/A/da"), ino(T + "/B/db")
    na, nb = nl(T + "/A"), nl(T + "/B")
    c.err("OK", renameat2, T + "/A/da", T + "/B/db", RENAME_EXCHANGE)
    c.eq((nl(T + "/A"), nl(T + "/B")), (na, nb), "parents' nlink after a dir/dir EXCHANGE")
    c.eq((ino(T + "/A/da"), ino(T + "/B/db")), (idb, ida), "inodes after a dir/dir EXCHANGE")
    c.eq((dotdot(T + "/A/da"), dotdot(T + "/B/db")), (ia, ib), "'..' after a dir/dir EXCHANGE")
    # EXCHANGE two files in one directory.
    c.err("OK", renameat2, T + "/A/nr2", T + "/A/xd", RENAME_EXCHANGE)
    c.eq((open(T + "/A/nr2", "rb").read(), open(T + "/A/xd", "rb").read()), (b"1", b"2"),
         "contents after a file/file EXCHANGE")
    c.err("EINVAL", renameat2, T + "/A", T + "/A/da", RENAME_EXCHANGE)

# --- open unlinked file ------------------------------------------------------------
os.sync()
s0 = os.statvfs(M)
data = det_bytes(110, 3 << 20)
mk(T + "/orphan", data)
fdo = os.open(T + "/orphan", os.O_RDWR)
os.fsync(fdo)
s1 = os.statvfs(M)
used = s0.f_bfree - s1.f_bfree
c.true(used >= (3 << 20) // B, "3 MiB file used %d blocks" % used)
c.eq(s0.f_ffree - s1.f_ffree, 1, "inodes used by the file")
fdr = os.open(T + "/orphan", os.O_RDONLY)
c.err("OK", os.unlink, T + "/orphan")
c.true(b"orphan" not in entries(T), "unlinked name gone from readdir")
c.err("ENOENT", os.lstat, T + "/orphan")
c.eq(os.fstat(fdr).st_nlink, 0, "nlink of the open unlinked file")
os.sync()
s2 = os.statvfs(M)
c.eq((s2.f_bfree, s2.f_ffree), (s1.f_bfree, s1.f_ffree), "free counts while the unlinked file is open")
c.eq(os.pread(fdr, len(data) + 10, 0), data, "unlinked file content through an fd")
more = det_bytes(111, 100000)
c.eq(os.pwrite(fdo, more, len(data)), len(more), "write to the unlinked file")
os.fsync(fdo)
c.eq(os.pread(fdr, len(more), len(data)), more, "data written to the unlinked file")
c.eq(os.fstat(fdr).st_size, len(data) + len(more), "size of the unlinked file after the write")
os.close(fdo)
c.eq(os.pread(fdr, 4096, 1 << 20), data[1 << 20:(1 << 20) + 4096], "readable after one of two closes")
os.sync()
c.eq(os.statvfs(M).f_ffree, s1.f_ffree, "inode kept while one fd is open")
os.close(fdr)
os.sync()
s3 = os.statvfs(M)
c.eq((s3.f_bfree, s3.f_ffree), (s0.f_bfree, s0.f_ffree), "free counts after the last close (exactly as before)")
print("orphan: %d blocks used, free before %d, after close %d" % (used, s0.f_bfree, s3.f_bfree))

# rmdir of the cwd: no new entries, nlink 0, empty listing.
os.mkdir(T + "/cwd")
old = os.getcwd()
os.chdir(T + "/cwd")
c.err("OK", os.rmdir, T + "/cwd")
c.err("ENOENT", creat, "new-in-removed-dir")
c.err("ENOENT", os.mkdir, "dir-in-removed-dir")
c.eq(os.stat(".").st_nlink, 0, "nlink of a removed cwd")
c.eq(os.listdir("."), [], "listing of a removed cwd")
os.chdir(old)

# --- directory growth and reuse ----------------------------------------------------
G = T + "/grow"
os.mkdir(G)
names = ["g%04d-%s" % (i, "x" * 35) for i in range(400)]   # 40 bytes: rec_len 48
for n in names:
    creat_excl(G + "/" + n)
s_full = os.lstat(G).st_size
c.true(s_full >= 10 * B, "directory grew past 10 blocks (size %d)" % s_full)
c.eq(s_full % B, 0, "directory size a multiple of the block size")
c.eq(os.lstat(G).st_blocks, (s_full // B + index_blocks(range(s_full // B), B)) * (B // 512),
     "st_blocks of the grown directory")
c.eq(sorted(entries(G)), sorted(n.encode() for n in names), "listing of the grown directory")
readdir_check(G) and c.fail("readdir-check of the grown directory")
for n in names:
    os.unlink(G + "/" + n)
c.eq(sorted(entries(G)), [], "grown directory emptied")
c.eq(os.lstat(G).st_size, s_full, "size of the emptied directory (ext2 does not shrink)")
for n in names:
    creat_excl(G + "/" + n)
c.eq(os.lstat(G).st_size, s_full, "size after re-adding the same names")
for n in names[::3]:
    os.unlink(G + "/" + n)
renamed = ["h%04d-%s" % (i, "y" * 35) for i in range(0, 400, 3)]
for n in renamed:
    creat_excl(G + "/" + n)
c.eq(os.lstat(G).st_size, s_full, "size after replacing a third of the names by others as long")
want = set(n.encode() for n in names) - set(n.encode() for n in names[::3]) | set(n.encode() for n in renamed)
c.eq(set(entries(G)), want, "listing after the replacement")
# Names in every dir block are found by lookup.
missing = [n for n in want if not os.path.lexists(os.fsencode(G) + b"/" + n)]
c.eq(missing, [], "lookup of every name")
# Long names: 3 entries a 1K block.
G2 = T + "/grow255"
os.mkdir(G2)
long_names = ["%03d" % i + "L" * 252 for i in range(60)]
for n in long_names:
    os.mkdir(G2 + "/" + n)
s2_full = os.lstat(G2).st_size
c.true(s2_full >= 15 * B, "directory of 255-byte names grew (size %d)" % s2_full)
c.eq(nl(G2), 62, "nlink of a directory with 60 subdirectories")
for n in long_names[::2]:
    os.rmdir(G2 + "/" + n)
c.eq(nl(G2), 32, "nlink after removing 30 of them")
for n in long_names[::2]:
    os.mkdir(G2 + "/" + n)
c.eq(os.lstat(G2).st_size, s2_full, "size after re-adding 255-byte names")
# An emptied many-block directory is removed and gives its blocks back.
os.sync()
f_before = os.statvfs(M)
G3 = T + "/grow-and-remove"
os.mkdir(G3)
for i in range(300):
    creat_excl(G3 + "/" + "r%04d" % i + "z" * 60)
c.true(os.lstat(G3).st_size >= 20 * B, "third directory grew")
for i in range(300):
    os.unlink(G3 + "/" + "r%04d" % i + "z" * 60)
c.err("OK", os.rmdir, G3)
os.sync()
f_after = os.statvfs(M)
c.eq((f_after.f_bfree, f_after.f_ffree), (f_before.f_bfree, f_before.f_ffree),
     "free counts after a many-block directory is emptied and removed")

# --- whole-tree audit ---------------------------------------------------------------
n = link_count_audit(M, c)
print("audit: %d paths" % n)
c.done("110 namespace")
EOF

t_log "audit again after drop_caches, then remount"
"$PY" - "$M" <<'EOF' || fail "audit after drop_caches failed"
import os, sys
sys.path.insert(0, os.environ["TOOLS"])
from rwlib import *
drop_caches()
c = Checks("110 after drop_caches")
link_count_audit(sys.argv[1], c)
c.done()
EOF
$MANIFEST "$M" >"$WORK/before.manifest" || fail "manifest failed"
umount_fs "$M"
fsck_clean "$DEV"
mount_fs "$RFS" "$DEV" "$M"
$MANIFEST "$M" >"$WORK/after.manifest" || fail "manifest failed"
same_file "$WORK/before.manifest" "$WORK/after.manifest" "manifest before umount vs after mount"
n=$(wc -l <"$WORK/after.manifest")
[ "$n" -gt 450 ] || fail "manifest has only $n lines"
"$PY" - "$M" <<'EOF' || fail "checks after remount failed"
import os, sys, stat
sys.path.insert(0, os.environ["TOOLS"])
from rwlib import *
M = sys.argv[1]
T = M + "/ns"
c = Checks("110 after remount")
link_count_audit(M, c)
# Spot checks of what must have reached the disk.
if os.environ.get("RFS", "rext2") != "ext2":
    c.eq(dotdot(T + "/B/nr1"), os.lstat(T + "/B").st_ino, "'..' of the exchanged dir")
    c.eq(ftype(os.lstat(T + "/A/xd").st_mode), "f", "exchanged file type")
c.eq(os.readlink(T + "/sl%d" % (os.statvfs(M).f_bsize - 1)), ("t1023/" + "x" * 1023)[:1023], "slow symlink target")
st = os.lstat(T + "/chr-big")
c.eq((os.major(st.st_rdev), os.minor(st.st_rdev)), (300, 70000), "new-style device number")
c.eq(len(os.listdir(T + "/grow")), 400, "names in grow/")
# The tree can still change: remove everything under ns/.
import shutil
shutil.rmtree(T)
c.eq(os.listdir(M), ["lost+found"], "root after rm -r")
c.eq(os.lstat(M).st_nlink, 3, "root nlink after rm -r")
c.done()
EOF
umount_fs "$M"
fsck_clean "$DEV"
# Everything removed: back to a fresh filesystem's counts.
used=$(dumpe2fs -h "$DEV" 2>/dev/null | sed -n 's/^Free inodes: *//p')
assert_eq "$used" "$((4096 - 11))" "free inodes after removing everything"

# A device node keeps its number and a fast symlink its target in i_block:
# deleting them must not free those words as blocks. Make both point at a
# block that a file uses, delete them, and check the file and the bitmaps.
t_log "deleting device nodes and fast symlinks frees no blocks"
mount_fs "$RFS" "$DEV" "$M"
"$PY" - "$M" <<'EOF' || fail "deleting special inodes changed a file's blocks"
import fcntl, os, stat, struct, sys
M = sys.argv[1]
data = os.urandom(2 << 20)
with open(M + "/data", "wb") as f:
    f.write(data)
os.sync()
fd = os.open(M + "/data", os.O_RDONLY)
bs = os.fstatvfs(fd).f_bsize
blocks = [struct.unpack("i", fcntl.ioctl(fd, 1, struct.pack("i", i)))[0] for i in range(len(data) // bs)]
os.close(fd)
# Two non-zero low bytes: a symlink target of two bytes reads as that block.
blk = next(b for b in blocks if b < 65536 and b & 0xff and b >> 8)
dev = os.makedev(blk >> 8, blk & 0xff)  # old-style encoding: i_block[0] = blk
os.mknod(M + "/blk", 0o600 | stat.S_IFBLK, dev)
os.mknod(M + "/chr", 0o600 | stat.S_IFCHR, dev)
os.symlink(bytes([blk & 0xff, blk >> 8]), M + "/sl")
for name in ("blk", "chr", "sl"):
    os.unlink(M + "/" + name)
os.sync()
# A block freed by mistake would be handed out again: take some.
with open(M + "/more", "wb") as f:
    f.write(b"m" * (1 << 20))
os.sync()
with open(M + "/data", "rb") as f:
    same = f.read() == data
print("block %d pointed at by a device number and a symlink target; data %s" % (
    blk, "intact" if same else "CHANGED"))
sys.exit(0 if same else 1)
EOF
umount_fs "$M"
fsck_clean "$DEV"
assert_no_kreports "$mark"
t_log "110-namespace: ok ($((SECONDS - start)) s)"
