#!/bin/bash
# timeout: 900
# rext2 reads what the kernel's C ext2 wrote, for block sizes 1024, 2048 and
# 4096: every file type, sizes around block and mapping-range edges, sparse
# files into the triple-indirect range and past 4 GiB, hard links, fast and
# slow symlinks, devices, owners above 65535, old and new timestamps.
# Reference: the same image mounted -t ext2 -o ro. Compared:
#   - manifest (type, mode, uid, gid, size, nlink, ino, st_blocks, a/c/mtime,
#     rdev, readlink, sha256 of content, readdir d_type and d_ino)
#   - raw readdir order of every directory (. and .. included)
#   - small preads at block/EOF edges and an mmap hash of every file
#   - readdir self-consistency (small buffers, lseek to d_off) of three dirs;
#     lookups that must fail (ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP) and
#     symlink following
#   - statfs: type, block size, blocks, free, avail, files, ffree, namelen, fsid
# The image must be byte-identical before and after the read-only mounts and
# e2fsck-clean at the end.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
DEV=$(disk 1)
SIZE=64M
SIZE_BYTES=$((64 << 20))
M=$(mnt_dir m)

# snapshot OUTPREFIX BS: everything compared, for the tree mounted at $M.
snapshot() {
	local out=$1 bs=$2
	$MANIFEST snapshot "$M" "$out" --atime --max-hash-bytes $((1 << 30)) --block-size "$bs" ||
		fail "manifest snapshot of $M failed"
	# %T (type name) is left out: it names the driver.
	stat -f -c 'type=%t bsize=%S blocks=%b bfree=%f bavail=%a files=%c ffree=%d namelen=%l fsid=%i' "$M" >"$out.statfs"
	df -P "$M" | tail -1 | awk '{print "df", $2, $3, $4}' >>"$out.statfs"
	df -Pi "$M" | tail -1 | awk '{print "df -i", $2, $3, $4}' >>"$out.statfs"
}

for bs in 1024 2048 4096; do
	t_log "block size $bs: mkfs and populate with ext2"
	mke2fs -q -F -t ext2 -b "$bs" "$DEV" "$SIZE" || fail "mke2fs -b $bs failed"
	mount_fs ext2 "$DEV" "$M"
	"$PY" "$TOOLS/populate.py" "$M" "$bs" || fail "populate failed"
	umount_fs "$M"
	fsck_clean "$DEV"
	before=$(dev_hash "$DEV" $SIZE_BYTES)

	t_log "bs $bs: reference (ext2 -o ro)"
	mount_fs ext2 "$DEV" "$M" ro
	snapshot "$WORK/ext2-$bs" "$bs"
	umount_fs "$M"

	t_log "bs $bs: under test ($RFS -o ro)"
	mark=$(kmsg_mark "010-bs$bs")
	rmount "$DEV" "$M"
	grep -q " $M $RFS ro[ ,]" /proc/mounts || { grep " $M " /proc/mounts; fail "$M is not a read-only $RFS mount"; }
	snapshot "$WORK/rext2-$bs" "$bs"
	$MANIFEST readdir-check "$M/tree" "$M/sizes" "$M/links" || fail "bs $bs: readdir is inconsistent"
	# Lookups that must fail, and following symlinks.
	op ENOENT stat "$M/tree/no-such-name"
	op ENOENT stat "$M/tree/a/b/nothing/deeper"
	op ENOENT stat "$M/tree/LLLL"
	op ENOTDIR stat "$M/sizes/f1/child"
	op ENAMETOOLONG stat "$M/tree/$(printf 'L%.0s' {1..256})"
	op ENOENT stat "$M/links/dangling"
	op ELOOP stat "$M/links/loop"
	op "OK 1" read "$M/links/rel"
	op "OK 3" listdir "$M/links/to-dir"
	op "OK 5" read "$M/links/to-dir/b/c/d/e/f/g/h/leaf"
	op "OK 3" listdir "$M/tree/a/b/c/d/e/f/g/h/../../../../../../.."
	op OK stat "$M/special/null"
	ops_run "bs $bs" 1
	[ "$OPS_NFAIL" = 0 ] || fail "bs $bs: lookups gave wrong results (above)"
	umount_fs "$M"
	assert_no_kernel_bugs "$mark"
	assert_no_fs_errors "$mark"

	t_log "bs $bs: compare"
	same_file "$WORK/ext2-$bs.manifest" "$WORK/rext2-$bs.manifest" "bs $bs: manifest"
	same_file "$WORK/ext2-$bs.order" "$WORK/rext2-$bs.order" "bs $bs: readdir order"
	same_file "$WORK/ext2-$bs.preads" "$WORK/rext2-$bs.preads" "bs $bs: preads/mmap"
	same_file "$WORK/ext2-$bs.statfs" "$WORK/rext2-$bs.statfs" "bs $bs: statfs"
	# The manifest really covers what was populated (guards the test itself).
	n=$(wc -l <"$WORK/rext2-$bs.manifest")
	[ "$n" -ge 100 ] || fail "bs $bs: manifest has only $n lines"
	grep -q '^sparse/tind .*sha256=sampled:' "$WORK/rext2-$bs.manifest" ||
		grep -q '^sparse/tind .*sha256=[0-9a-f]' "$WORK/rext2-$bs.manifest" || fail "bs $bs: no tind hash"
	if grep -E 'ERR:|=ERR' "$WORK/rext2-$bs.manifest"; then fail "bs $bs: errors in the manifest (above)"; fi

	after=$(dev_hash "$DEV" $SIZE_BYTES)
	assert_eq "$before" "$after" "bs $bs: image changed by read-only mounts"
	fsck_clean "$DEV"
	t_log "bs $bs: ok ($n paths)"
done
echo "010-mount-basic: ok"
