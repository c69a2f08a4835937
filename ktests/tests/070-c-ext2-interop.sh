#!/bin/bash
# timeout: 600
# Images written by e2fsprogs instead of the kernel, read by rext2 and checked
# against the source files themselves (not against C ext2):
#   A. mke2fs -d SRC for block sizes 1024 and 4096: SRC is populate.py's tree
#      (--small) plus a 3 MB file and a sparse file, on tmpfs. The rext2
#      manifest (type, mode, uid, gid, size, nlink, mtime in seconds, rdev,
#      symlink targets, sha256, d_type, entry counts) must equal SRC's.
#   B. debugfs -w: write (a host binary crossing into the double-indirect
#      range with 1K blocks, a text file, a sparse file whose holes debugfs
#      keeps), mkdir, fast and slow symlink, mknod p/c/b, sif mode/uid/gid/
#      mtime, ln + links_count: contents by sha256 against the host files,
#      and every attribute that was set.
# Both: e2fsck clean, image unchanged by the rext2 mount.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
DEV=$(disk 2)
M=$(mnt_dir m)
SRC=$WORK/src
SIZE_BYTES=$((64 << 20))
CMP_OPTS=(--no-ino --no-blocks --no-ctime --no-atime --no-dino --no-dirsize --time-seconds --exclude-name lost+found)

make_sparse() {
	"$PY" - "$1" <<'PYEOF'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(os.urandom(5000))
    f.seek(3 << 20)
    f.write(os.urandom(100))
    f.seek(9 << 20)
    f.write(b"end")
    f.truncate((10 << 20) + 1)
PYEOF
}

# --- A: mke2fs -d ---------------------------------------------------------
for bs in 1024 4096; do
	t_log "A: mke2fs -b $bs -d"
	rm -rf "$SRC"
	mkdir -p "$SRC"
	"$PY" "$TOOLS/populate.py" "$SRC" "$bs" --small || fail "populate failed"
	head -c 3000000 /dev/urandom >"$SRC/sizes/three-mb"
	make_sparse "$SRC/sparse/made-sparse"
	mke2fs -q -F -t ext2 -b "$bs" -d "$SRC" "$DEV" 64M >"$WORK/mkfs.out" 2>&1 || { cat "$WORK/mkfs.out"; fail "mke2fs -d failed"; }
	fsck_clean "$DEV"
	before=$(dev_hash "$DEV" $SIZE_BYTES)
	$MANIFEST "${CMP_OPTS[@]}" "$SRC" | grep -v '^\. ' >"$WORK/src-$bs.manifest"
	mark=$(kmsg_mark "070-A-$bs")
	rmount "$DEV" "$M"
	$MANIFEST "${CMP_OPTS[@]}" "$M" | grep -v '^\. ' >"$WORK/rext2-$bs.manifest"
	umount_fs "$M"
	assert_no_kernel_bugs "$mark"
	assert_no_fs_errors "$mark"
	same_file "$WORK/src-$bs.manifest" "$WORK/rext2-$bs.manifest" "bs $bs: mke2fs -d source vs rext2"
	n=$(wc -l <"$WORK/rext2-$bs.manifest")
	[ "$n" -ge 90 ] || fail "bs $bs: only $n paths compared"
	assert_eq "$(dev_hash "$DEV" $SIZE_BYTES)" "$before" "bs $bs: image changed by the rext2 mount"
	fsck_clean "$DEV"
done

# --- B: debugfs -w --------------------------------------------------------
t_log "B: debugfs -w"
HOSTBIN=$(readlink -f /usr/bin/bash)
HOSTTXT=/etc/services
[ -f "$HOSTTXT" ] || HOSTTXT=$(readlink -f /usr/bin/bash) # any host file will do
make_sparse "$WORK/sparse-src"
LONG=/$(printf 'L%.0s' {1..300})
mke2fs -q -F -t ext2 -b 1024 "$DEV" 64M || fail "mke2fs failed"
cat >"$WORK/debugfs.cmd" <<EOF
write $HOSTBIN bin
mkdir d
mkdir d/e
write $HOSTTXT d/e/text
write $WORK/sparse-src sparse
symlink fast /short/target
symlink slow $LONG
mknod fifo p
mknod cdev c 1 3
mknod bdev b 8 17
sif bin mode 0100750
sif bin uid 4321
sif bin gid 8765
sif bin mtime 20200102030405
ln bin d/bin-hardlink
sif bin links_count 2
EOF
debugfs -w -f "$WORK/debugfs.cmd" "$DEV" >"$WORK/debugfs.out" 2>&1 || { cat "$WORK/debugfs.out"; fail "debugfs failed"; }
if grep -iE 'error|not found|could not|invalid' "$WORK/debugfs.out"; then fail "debugfs reported errors (above)"; fi
fsck_clean "$DEV"
before=$(dev_hash "$DEV" $SIZE_BYTES)
mark=$(kmsg_mark 070-B)
rmount "$DEV" "$M"
"$PY" - "$M" "$HOSTBIN" "$HOSTTXT" "$WORK/sparse-src" "$LONG" <<'PYEOF' || fail "debugfs-written objects read wrong (above)"
import hashlib, os, stat, sys
m, hostbin, hosttxt, sparse, long_target = sys.argv[1:6]
bad = []
def h(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
def check(what, got, want):
    if got != want:
        bad.append("%s: got %r, want %r" % (what, got, want))
def st(p):
    return os.lstat(os.path.join(m, p))
check("bin content", h(os.path.join(m, "bin")), h(hostbin))
check("bin size", st("bin").st_size, os.path.getsize(hostbin))
check("bin mode", oct(st("bin").st_mode), oct(0o100750))
check("bin uid/gid", (st("bin").st_uid, st("bin").st_gid), (4321, 8765))
check("bin mtime", st("bin").st_mtime_ns, 1577934245 * 10**9)
check("bin nlink", st("bin").st_nlink, 2)
check("hard link inode", st("d/bin-hardlink").st_ino, st("bin").st_ino)
check("hard link content", h(os.path.join(m, "d/bin-hardlink")), h(hostbin))
check("text content", h(os.path.join(m, "d/e/text")), h(hosttxt))
check("sparse content", h(os.path.join(m, "sparse")), h(sparse))
check("sparse size", st("sparse").st_size, os.path.getsize(sparse))
# debugfs keeps the holes: st_blocks (512-byte units, 1K blocks) stays small.
if st("sparse").st_blocks > 64:
    bad.append("sparse file st_blocks %d: holes not kept?" % st("sparse").st_blocks)
check("fast symlink", os.readlink(os.path.join(m, "fast")), "/short/target")
check("slow symlink", os.readlink(os.path.join(m, "slow")), long_target)
check("fifo type", stat.S_ISFIFO(st("fifo").st_mode), True)
check("cdev", (stat.S_ISCHR(st("cdev").st_mode), os.major(st("cdev").st_rdev), os.minor(st("cdev").st_rdev)), (True, 1, 3))
check("bdev", (stat.S_ISBLK(st("bdev").st_mode), os.major(st("bdev").st_rdev), os.minor(st("bdev").st_rdev)), (True, 8, 17))
check("dir d", sorted(os.listdir(os.path.join(m, "d"))), ["bin-hardlink", "e"])
check("root", sorted(os.listdir(m)), sorted(["bin", "d", "sparse", "fast", "slow", "fifo", "cdev", "bdev", "lost+found"]))
check("d nlink", st("d").st_nlink, 3)
for b in bad:
    print("MISMATCH " + b)
print("debugfs objects: %d mismatches" % len(bad))
sys.exit(1 if bad else 0)
PYEOF
umount_fs "$M"
assert_no_kernel_bugs "$mark"
assert_no_fs_errors "$mark"
assert_eq "$(dev_hash "$DEV" $SIZE_BYTES)" "$before" "debugfs image changed by the rext2 mount"
fsck_clean "$DEV"
echo "070-c-ext2-interop: ok"
