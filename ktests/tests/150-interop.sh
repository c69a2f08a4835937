#!/bin/bash
# timeout: 500
# Interoperability with the kernel's C ext2, in both directions, for block
# sizes 1024 and 4096. One image goes through four hands:
#   1. rext2 writes a tree: populate.py --small (every file type, sizes around
#      block and indirect edges, holes, hard links, odd names, devices, a
#      socket, modes/owners/times) plus a 300-name directory, a sparse file
#      reaching the triple-indirect range, a 2 MB file
#   2. C ext2 mounts it and must see exactly what rext2 saw before unmounting;
#      then C ext2 modifies it (deletes, truncates into indirect ranges,
#      appends, writes into holes, renames directories across parents, new
#      names in freed directory slots, links, symlinks, chmod/chown/utime)
#   3. rext2 mounts it and must see exactly what C ext2 saw; then rext2
#      modifies it the same way (other names and sizes), reusing the inodes
#      and blocks C ext2 freed
#   4. C ext2 mounts it read-only and must see exactly what rext2 saw
# "Exactly": manifest.py snapshot (type, mode, uid, gid, size, nlink, inode
# number, st_blocks, mtime, ctime, rdev, symlink target, content hash, d_type),
# raw readdir order of every directory, small preads and mmap hashes, and
# statfs (blocks, free, avail, inodes, free inodes). e2fsck -fn must pass
# after every unmount.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"
export TOOLS

load_rext2
DEV=$(disk 2)
M=$(mnt_dir m)
start=$SECONDS

cat >"$WORK/extra.py" <<'EOF'
# extra.py ROOT BS: what populate.py --small leaves out.
import os, random, sys
root, bs = sys.argv[1], int(sys.argv[2])
rng = random.Random(bs + 150)
a = bs // 4
tind = 12 + a + a * a
os.mkdir(root + "/bigdir")
for i in range(300):
    with open(root + "/bigdir/entry-%03d-%s" % (i, "q" * (i % 40)), "wb") as f:
        f.write(rng.randbytes(i * 7))
with open(root + "/sparse-tind", "wb") as f:
    for lb in (0, 12, 12 + a, tind, tind + a + 1):
        f.seek(lb * bs)
        f.write(rng.randbytes(bs))
    f.truncate((tind + a + 3) * bs + 17)
with open(root + "/two-mb", "wb") as f:
    f.write(rng.randbytes(2 << 20))
EOF

cat >"$WORK/modify.py" <<'EOF'
# modify.py ROOT BS WHO: the same kinds of changes, different details per WHO.
import os, random, stat, sys
root, bs, who = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random("%s-%d" % (who, bs))
a = bs // 4
def p(*x): return os.path.join(root, *x)
big = sorted(os.listdir(p("bigdir")))
# Delete a third of the big directory and create other names in the holes.
for n in big[rng.randrange(3)::3]:
    os.unlink(p("bigdir", n))
for i in range(60):
    with open(p("bigdir", "%s-new-%02d" % (who, i)), "wb") as f:
        f.write(rng.randbytes(rng.randrange(0, 3 * bs)))
# Truncate the dense file into the indirect range, extend another.
if os.path.exists(p("sizes", "dense")):
    os.truncate(p("sizes", "dense"), (12 + rng.randrange(1, a)) * bs + rng.randrange(bs))
with open(p("two-mb"), "r+b") as f:
    f.seek(0, 2)
    f.write(rng.randbytes(5 * bs + 3))
    f.seek(rng.randrange(1 << 20))
    f.write(rng.randbytes(10000))
# Fill holes and cut the triple-indirect file.
with open(p("sparse-tind"), "r+b") as f:
    for lb in (3, 12 + 7, 12 + a + a + 1):
        f.seek(lb * bs + 11)
        f.write(rng.randbytes(bs))
os.truncate(p("sparse-tind"), os.stat(p("sparse-tind")).st_size - rng.randrange(1, 4) * a * bs)
# Appends to small files.
for n in sorted(os.listdir(p("sizes")))[:6]:
    with open(p("sizes", n), "ab") as f:
        f.write(rng.randbytes(rng.randrange(1, 2 * bs)))
# Move a directory with content to another parent, rename within one.
# (The second pass works on what the first one left.)
first = who == "ext2"
os.rename(p("tree", "a", "b") if first else p("ext2-moved-b", "c"), p("%s-moved-b" % who))
os.rename(p("tree", "empty"), p("tree", "%s-empty" % who))
os.mkdir(p("tree", "empty"))
os.makedirs(p("%s-new" % who, "x", "y"))
# Links, symlinks, special files.
with open(p("%s-new" % who, "file"), "wb") as f:
    f.write(rng.randbytes(4 * bs + 1))
os.link(p("%s-new" % who, "file"), p("%s-new" % who, "x", "link"))
os.link(p("tree", "a", "one"), p("%s-new" % who, "link-one"))
os.symlink("../" * 3 + "z" * 70, p("%s-new" % who, "slow"))
os.symlink("file", p("%s-new" % who, "fast"))
os.mkfifo(p("%s-new" % who, "fifo"))
os.mknod(p("%s-new" % who, "chr"), stat.S_IFCHR | 0o600, os.makedev(200, 300000))
# Unlink a hard link and a symlink, remove an empty directory.
os.unlink(p("tree", "hardlink-1" if first else "hardlink-to-f1"))
os.unlink(p("links", "len60" if first else "len61"))
os.rmdir(p("tree", "a", "empty2") if first else p("tree", "ext2-empty"))
# Attributes.
os.chmod(p("two-mb"), 0o4710)
os.chown(p("two-mb"), 98765, 56789)
os.utime(p("two-mb"), (1500000000, 1400000000))
os.utime(p("%s-new" % who), (1600000000, 1600000001))
EOF

snap() { # snap PREFIX: snapshot of $M
	$MANIFEST snapshot "$M" "$1" --max-hash-bytes $((64 << 20)) --block-size "$bs" || fail "snapshot failed"
	stat -f -c 'blocks=%b bfree=%f bavail=%a files=%c ffree=%d' "$M" >"$1.statfs"
}
same_snap() { # same_snap A B WHAT
	same_file "$1.manifest" "$2.manifest" "$3: manifest"
	same_file "$1.order" "$2.order" "$3: readdir order"
	same_file "$1.preads" "$2.preads" "$3: preads/mmap"
	same_file "$1.statfs" "$2.statfs" "$3: statfs"
}

for bs in 1024 4096; do
	t_log "bs $bs: 1. rext2 writes"
	mke2fs -q -F -t ext2 -b "$bs" -N 8192 "$DEV" 96M || fail "mke2fs failed"
	mark=$(kmsg_mark "150-$bs")
	mount_fs "$RFS" "$DEV" "$M"
	"$PY" "$TOOLS/populate.py" "$M" "$bs" --small || fail "populate.py on rext2 failed"
	"$PY" "$WORK/extra.py" "$M" "$bs" || fail "extra.py on rext2 failed"
	snap "$WORK/s1-rext2"
	umount_fs "$M"
	fsck_clean "$DEV"

	t_log "bs $bs: 2. C ext2 reads, then modifies"
	mount_fs ext2 "$DEV" "$M"
	snap "$WORK/s1-ext2"
	same_snap "$WORK/s1-rext2" "$WORK/s1-ext2" "bs $bs: tree written by rext2, read by ext2"
	"$PY" "$WORK/modify.py" "$M" "$bs" ext2 || fail "modify.py on ext2 failed"
	snap "$WORK/s2-ext2"
	umount_fs "$M"
	fsck_clean "$DEV"

	t_log "bs $bs: 3. rext2 reads, then modifies"
	mount_fs "$RFS" "$DEV" "$M"
	snap "$WORK/s2-rext2"
	same_snap "$WORK/s2-ext2" "$WORK/s2-rext2" "bs $bs: tree modified by ext2, read by rext2"
	"$PY" "$WORK/modify.py" "$M" "$bs" rext2 || fail "modify.py on rext2 failed"
	snap "$WORK/s3-rext2"
	umount_fs "$M"
	fsck_clean "$DEV"

	t_log "bs $bs: 4. C ext2 reads"
	mount_fs ext2 "$DEV" "$M" ro
	snap "$WORK/s3-ext2"
	same_snap "$WORK/s3-rext2" "$WORK/s3-ext2" "bs $bs: tree modified by rext2, read by ext2"
	umount_fs "$M"
	fsck_clean "$DEV"
	n=$(wc -l <"$WORK/s3-ext2.manifest")
	[ "$n" -gt 300 ] || fail "bs $bs: only $n paths compared"
	grep -q '^rext2-moved-b ' "$WORK/s3-ext2.manifest" || fail "bs $bs: rext2's changes are missing"
	grep -q '^ext2-moved-b ' "$WORK/s3-ext2.manifest" || fail "bs $bs: ext2's changes are missing"
	assert_no_kreports "$mark"
	t_log "bs $bs: $n paths equal at every step"
done
t_log "150-interop: ok ($((SECONDS - start)) s)"
