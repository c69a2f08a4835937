#!/bin/bash
# timeout: 900
# Large directories and deep trees, read by rext2, compared with C ext2:
#   - big/: 3000 files with names of 1..255 bytes (multi-block directory,
#     dir_index present but rext2 reads it as a linear directory, as ext2
#     does), plus holes left in it by unlinking every 7th name and a few
#     names re-created into those holes
#   - deep/: a chain 60 directories deep and a wide-and-deep tree
#   - nohtree/: a multi-block directory whose first block has free space
# Checks: manifest and raw readdir order equal to ext2's; `ls -f` count;
# readdir self-consistency on big/ (tiny getdents buffers, lseek to each
# d_off); every name in big/ is found by lookup (stat) with the right inode;
# unlinked and never-existing names give ENOENT; a path through the deep
# chain resolves. Image unchanged and e2fsck-clean at the end.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
DEV=$(disk 1)
M=$(mnt_dir m)
BS=1024 # small blocks: more directory blocks for the same names
SIZE_BYTES=$((96 << 20))
mke2fs -q -F -t ext2 -b $BS -N 20000 "$DEV" 96M || fail "mke2fs failed"

t_log "populate with ext2"
mount_fs ext2 "$DEV" "$M"
"$PY" - "$M" <<'EOF' || fail "populate failed"
import os, random, sys
root = sys.argv[1]
rng = random.Random(20)
big = os.path.join(root, "big")
os.mkdir(big)
names = []
for i in range(3000):
    ln = 1 + (i * 37) % 255
    base = "%d-" % i
    name = (base + "abcdefghijklmnopqrstuvwxyz0123456789_.-" * 7)[:max(ln, len(base))]
    names.append(name)
    with open(os.path.join(big, name), "wb") as f:
        f.write(name.encode() * (i % 5))
# Holes in the directory blocks, then a few short names into them.
for i, n in enumerate(names):
    if i % 7 == 3:
        os.unlink(os.path.join(big, n))
for i in range(50):
    open(os.path.join(big, "re%d" % i), "w").close()
os.mkdir(os.path.join(big, "subdir"))
os.symlink("0-", os.path.join(big, "link"))
# A deep chain.
p = os.path.join(root, "deep")
os.mkdir(p)
for i in range(60):
    p = os.path.join(p, "d%02d" % i)
    os.mkdir(p)
open(os.path.join(p, "bottom"), "w").write("bottom\n")
# Wide and deep: 4 levels of 6 directories, a file in each.
def tree(d, lvl):
    open(os.path.join(d, "f"), "w").write(d)
    if lvl == 0:
        return
    for j in range(6):
        c = os.path.join(d, "n%d" % j)
        os.mkdir(c)
        tree(c, lvl - 1)
os.mkdir(os.path.join(root, "wide"))
tree(os.path.join(root, "wide"), 4)
# A directory grown to several blocks, then mostly emptied.
nh = os.path.join(root, "nohtree")
os.mkdir(nh)
for i in range(200):
    open(os.path.join(nh, "x" * 50 + str(i)), "w").close()
for i in range(0, 200, 2):
    os.unlink(os.path.join(nh, "x" * 50 + str(i)))
EOF
umount_fs "$M"
fsck_clean "$DEV"
before=$(dev_hash "$DEV" $SIZE_BYTES)

snapshot() {
	# .manifest and .order (raw readdir order of every directory).
	$MANIFEST snapshot "$M" "$1" --no-preads --atime || fail "manifest failed"
	ls -f "$M/big" | wc -l >"$1.count"
	stat -f -c '%b %f %a %c %d' "$M" >"$1.statfs"
}

t_log "reference: ext2 -o ro"
mount_fs ext2 "$DEV" "$M" ro
snapshot "$WORK/ext2"
umount_fs "$M"

t_log "under test: $RFS -o ro"
mark=$(kmsg_mark 020)
rmount "$DEV" "$M"
start=$(date +%s)
snapshot "$WORK/rext2"
t_log "snapshot took $(($(date +%s) - start)) s"
$MANIFEST readdir-check "$M/big" "$M/nohtree" "$M/wide" || fail "readdir is inconsistent"

# Lookup of every name (fresh dentries: drop caches first), with the inode
# readdir reported; and names that must not be there.
sync
echo 2 >/proc/sys/vm/drop_caches
"$PY" - "$M/big" <<'EOF' || fail "lookup check failed"
import os, sys, errno
sys.path.insert(0, os.path.join(os.environ["REXT2_ROOT"], "ktests/tools"))
from manifest import read_dir
d = sys.argv[1]
ents = [e for e in read_dir(os.fsencode(d)) if e[0] not in (b".", b"..")]
bad = 0
for name, ino, typ, _ in ents:
    try:
        st = os.lstat(os.path.join(os.fsencode(d), name))
    except OSError as e:
        print("lookup of %r failed: %s" % (name, e)); bad += 1; continue
    if st.st_ino != ino:
        print("lookup of %r gave inode %d, readdir said %d" % (name, st.st_ino, ino)); bad += 1
present = {e[0] for e in ents}
for i in range(3000):
    if i % 7 != 3:
        continue
    ln = 1 + (i * 37) % 255
    base = "%d-" % i
    name = (base + "abcdefghijklmnopqrstuvwxyz0123456789_.-" * 7)[:max(ln, len(base))].encode()
    if name in present:
        print("unlinked name %r is listed" % name); bad += 1
    try:
        os.lstat(os.path.join(os.fsencode(d), name))
        print("unlinked name %r is found by lookup" % name); bad += 1
    except OSError as e:
        if e.errno != errno.ENOENT:
            print("unlinked name %r: %s, expected ENOENT" % (name, e)); bad += 1
# Prefixes and extensions of real names, a 255-byte name that is not there.
for probe in [b"0", b"1-abc", b"2-abcdefghijklmnopqrstuvwxyz0123456789_.-abcX", b"Z" * 255, b"re", b"re50", b"subdi", b"subdirr"]:
    if probe in present:
        continue
    try:
        os.lstat(os.path.join(os.fsencode(d), probe))
        print("name %r that does not exist was found" % probe); bad += 1
    except OSError as e:
        if e.errno != errno.ENOENT:
            print("missing name %r: %s, expected ENOENT" % (probe, e)); bad += 1
print("lookup: %d names checked, %d problems" % (len(ents), bad))
sys.exit(1 if bad else 0)
EOF
p=$M/deep
for i in $(seq -w 0 59); do p=$p/d$i; done
[ "$(cat "$p/bottom")" = bottom ] || fail "deep path did not resolve"
umount_fs "$M"
assert_no_kernel_bugs "$mark"
assert_no_fs_errors "$mark"

same_file "$WORK/ext2.manifest" "$WORK/rext2.manifest" "manifest"
same_file "$WORK/ext2.order" "$WORK/rext2.order" "readdir order"
same_file "$WORK/ext2.count" "$WORK/rext2.count" "ls -f count of big/"
same_file "$WORK/ext2.statfs" "$WORK/rext2.statfs" "statfs"
n=$(cat "$WORK/rext2.count")
[ "$n" -gt 2600 ] || fail "big/ lists only $n names"

after=$(dev_hash "$DEV" $SIZE_BYTES)
assert_eq "$before" "$after" "image changed by read-only mounts"
fsck_clean "$DEV"
echo "020-many-files: ok"
