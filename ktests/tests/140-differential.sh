#!/bin/bash
# timeout: 400
# Differential test against the kernel's C ext2: one seeded random sequence
# of operations (ktests/tools/diffops.py: create, pwrite at random offsets
# and sizes, O_APPEND, truncate, rename incl. RENAME_NOREPLACE, link, unlink,
# mkdir, rmdir, symlink, mkfifo, chmod, fsync/fdatasync, reads, writes through
# fds kept open across unlink, drop_caches) applied in lockstep to rext2 on
# /dev/vda and to C ext2 on /dev/vdb, both made by the same mke2fs command.
# Every operation must give the same outcome (same errno when it fails, same
# byte counts when it works) and the same lstat of the paths it touched. Half
# way both are unmounted and mounted again. At the end: manifests equal
# (type, mode, uid/gid, size, nlink, content hash, symlink targets, readdir
# d_type and entry counts; not inode numbers, times, st_blocks or directory
# sizes, which may legitimately differ), the same number of inodes in use,
# and e2fsck clean for both.
#
# The seed is printed. Default: from the clock. To replay a run, give SEED
# (or KTEST_SEED) to the suite inside the VM, e.g.
#   bash qemu/vm.sh --disk 2G --disk 2G --disk 8G -- env SEED=1234 ktests/run-suite.sh 140
# (qemu/run-tests.sh does not pass SEED into the guest). OPS= changes the
# number of operations (default 400).
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"

load_rext2
DA=$(disk 1)
DB=$(disk 2)
MA=$(mnt_dir rext2)
MB=$(mnt_dir ext2)
start=$SECONDS
SEED=${SEED:-${KTEST_SEED:-$(date +%s%N | cut -c1-12)}}
OPS=${OPS:-400}
bss=(1024 2048 4096)
bs=${bss[$((SEED % 3))]}
echo "seed=$SEED ops=$OPS block size $bs (replay: SEED=$SEED)"

for d in "$DA" "$DB"; do
	mke2fs -q -F -t ext2 -b "$bs" -N 4096 "$d" 64M || fail "mke2fs $d failed"
done
mark=$(kmsg_mark 140)
mount_fs "$RFS" "$DA" "$MA"
mount_fs ext2 "$DB" "$MB"

rc=0
"$PY" "$TOOLS/diffops.py" --seed "$SEED" --ops "$OPS" --remount-at $((OPS / 2)) \
	--remount "$DA:$RFS:$DB:ext2" "$MA" "$MB" || rc=$?
[ $rc = 0 ] || fail "rext2 and ext2 disagreed (seed $SEED, block size $bs; above)"

compare() { # compare LABEL
	local opts=(--no-ino --no-mtime --no-ctime --no-atime --no-blocks --no-dirsize --no-dino
		--exclude-name lost+found --max-hash-bytes $((256 << 20)) --block-size "$bs")
	$MANIFEST "${opts[@]}" "$MA" >"$WORK/rext2.manifest" || fail "manifest of rext2 failed"
	$MANIFEST "${opts[@]}" "$MB" >"$WORK/ext2.manifest" || fail "manifest of ext2 failed"
	same_file "$WORK/ext2.manifest" "$WORK/rext2.manifest" "$1: manifest (seed $SEED)"
	echo "$1: $(wc -l <"$WORK/rext2.manifest") paths equal"
}
compare "before umount"
fa=$(stat -f -c %d "$MA")
fb=$(stat -f -c %d "$MB")
assert_eq "$fa" "$fb" "free inodes, rext2 vs ext2 (seed $SEED)"
# Informational: where the two may legitimately differ.
$MANIFEST --no-mtime --no-ctime --no-atime --no-ino --no-dino "$MA" >"$WORK/rext2.full" || true
$MANIFEST --no-mtime --no-ctime --no-atime --no-ino --no-dino "$MB" >"$WORK/ext2.full" || true
nd=$({ diff "$WORK/ext2.full" "$WORK/rext2.full" || true; } | grep -c '^>' || true)
echo "note: $nd paths differ in st_blocks or directory size (not an error); free blocks: rext2 $(stat -f -c %f "$MA"), ext2 $(stat -f -c %f "$MB")"
[ "$nd" = 0 ] || { diff "$WORK/ext2.full" "$WORK/rext2.full" || true; } | grep '^[<>]' | head -20 | sed 's/^/    /'
umount_fs "$MA"
umount_fs "$MB"
fsck_clean "$DA"
fsck_clean "$DB"

# Cross-check: each image read by the other driver.
mount_fs ext2 "$DA" "$MA" ro
mount_fs "$RFS" "$DB" "$MB" ro
compare "after swapping drivers"
umount_fs "$MA"
umount_fs "$MB"
fsck_clean "$DA"
fsck_clean "$DB"
assert_no_kreports "$mark"
t_log "140-differential: ok (seed $SEED, $((SECONDS - start)) s)"
