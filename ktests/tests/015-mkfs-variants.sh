#!/bin/bash
# timeout: 900
# rext2 against C ext2 on images made with other mke2fs layouts (the tree of
# populate.py --small in each):
#   rev0            revision 0: 128-byte inodes, first_ino 11, no features,
#                   so no filetype (readdir d_type must be what ext2 says)
#   nofiletype-i128 4K blocks, 128-byte inodes, no filetype feature
#   inode1024       1K blocks, 1024-byte inodes
#   nosparse        2K blocks, superblock backups in every group, no resize
#   manygroups      1K blocks, 256 blocks a group: 128 groups, a group
#                   descriptor table of 4 blocks
#   meta-bg         1K blocks, meta_bg (descriptor blocks spread over the
#                   groups): not supported by rext2 yet, so the mount must be
#                   refused with a log line naming the feature, image unchanged
#   sparse-super2   2 backup superblocks only (a compat feature)
#   reserved-0/50   -m 0 and -m 50: statfs f_bavail
#   root-owner      root directory owned by 1234:5678, -N small
# Each: manifest, readdir order and statfs equal to ext2's;
# image unchanged; e2fsck clean.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
DEV=$(disk 2)
M=$(mnt_dir m)
SIZE_BYTES=$((32 << 20))

snapshot() {
	# No preads: 010 covers file reading; here the layouts matter.
	$MANIFEST snapshot "$M" "$1" --no-preads --atime || fail "manifest snapshot failed"
	stat -f -c 'type=%t bsize=%S blocks=%b bfree=%f bavail=%a files=%c ffree=%d namelen=%l fsid=%i' "$M" >"$1.statfs"
}

variant() {
	local name=$1 bs=$2
	shift 2
	t_log "$name: mke2fs -b $bs $*"
	mke2fs -q -F -t ext2 -b "$bs" "$@" "$DEV" 32M >"$WORK/mkfs.out" 2>&1 || { cat "$WORK/mkfs.out"; fail "$name: mke2fs failed"; }
	dumpe2fs -h "$DEV" 2>/dev/null | grep -E '^(Filesystem revision|Filesystem features|Inode size|Blocks per group|Reserved block count)' | sed 's/^/    /' || true
	mount_fs ext2 "$DEV" "$M"
	"$PY" "$TOOLS/populate.py" "$M" "$bs" --small || fail "$name: populate failed"
	umount_fs "$M"
	fsck_clean "$DEV"
	local before after
	before=$(dev_hash "$DEV" $SIZE_BYTES)
	mount_fs ext2 "$DEV" "$M" ro
	snapshot "$WORK/ext2-$name"
	umount_fs "$M"
	local mark
	mark=$(kmsg_mark "015-$name")
	rmount "$DEV" "$M"
	snapshot "$WORK/rext2-$name"
	$MANIFEST readdir-check "$M/tree" >/dev/null || fail "$name: readdir is inconsistent"
	umount_fs "$M"
	assert_no_kernel_bugs "$mark"
	assert_no_fs_errors "$mark"
	same_file "$WORK/ext2-$name.manifest" "$WORK/rext2-$name.manifest" "$name: manifest"
	same_file "$WORK/ext2-$name.order" "$WORK/rext2-$name.order" "$name: readdir order"
	same_file "$WORK/ext2-$name.statfs" "$WORK/rext2-$name.statfs" "$name: statfs"
	if grep -E '=ERR' "$WORK/rext2-$name.manifest"; then fail "$name: errors in the manifest (above)"; fi
	after=$(dev_hash "$DEV" $SIZE_BYTES)
	assert_eq "$after" "$before" "$name: image changed by read-only mounts"
	fsck_clean "$DEV"
}

# Each variant in a subshell (set -e still applies there), so that one
# failing variant does not hide the others.
failed=()
run_variant() {
	local rc=0
	set +e
	(
		set -e
		if [ "${2:-}" = meta_bg_refused ]; then meta_bg_refused; else variant "$@"; fi
	)
	rc=$?
	set -e
	if [ $rc != 0 ]; then
		failed+=("$1")
		umount "$M" 2>/dev/null || true
		echo "=== variant $1 FAILED ==="
	fi
}
run_variant rev0 1024 -r 0
run_variant nofiletype-i128 4096 -I 128 -O ^filetype
run_variant inode1024 1024 -I 1024
run_variant nosparse 2048 -O ^sparse_super,^resize_inode
run_variant manygroups 1024 -g 256 -N 1024 -O ^resize_inode
run_variant sparse-super2 1024 -O sparse_super2
run_variant reserved-0 4096 -m 0
run_variant reserved-50 1024 -m 50
run_variant root-owner 4096 -N 256 -E root_owner=1234:5678
# meta_bg (INCOMPAT 0x10) is part of the ext2 format C ext2 reads; rext2
# does not place descriptors that way yet and must refuse it cleanly.
meta_bg_refused() {
	t_log "meta-bg: mke2fs -b 1024 -g 512 -O meta_bg,^resize_inode (must be refused)"
	mke2fs -q -F -t ext2 -b 1024 -g 512 -O meta_bg,^resize_inode "$DEV" 32M >"$WORK/mkfs.out" 2>&1 || { cat "$WORK/mkfs.out"; fail "meta-bg: mke2fs failed"; }
	local before after mark
	before=$(dev_hash "$DEV" $SIZE_BYTES)
	mark=$(kmsg_mark "015-meta-bg")
	if mount -t "$RFS" -o ro "$DEV" "$M" 2>/dev/null; then
		umount "$M" || true
		fail "meta-bg: rext2 mounted a meta_bg filesystem it cannot read"
	fi
	kmsg_since "$mark" | grep -q 'rext2.*unsupported incompatible features (16)' ||
		fail "meta-bg: no kernel log line naming the unsupported feature"
	assert_no_kernel_bugs "$mark"
	after=$(dev_hash "$DEV" $SIZE_BYTES)
	assert_eq "$after" "$before" "meta-bg: image changed by a refused mount"
	fsck_clean "$DEV"
}
run_variant meta-bg meta_bg_refused
[ ${#failed[@]} = 0 ] || fail "variants failed: ${failed[*]}"
echo "015-mkfs-variants: ok"
