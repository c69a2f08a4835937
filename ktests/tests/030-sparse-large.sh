#!/bin/bash
# timeout: 900
# Multi-GiB sparse files on small filesystems, written by C ext2, read by rext2.
#   4K blocks: a 5 GiB file with data in the direct, indirect, double- and
#     triple-indirect ranges (the triple range starts near 4 GiB + 4 MiB), just
#     below and above 2^32, unaligned, and a last partial block; every byte of
#     the 5 GiB (holes included) is read through rext2 and compared with the
#     model, so holes must read as zeros.
#   1K blocks: a 3 GiB file (triple-indirect from 64 MiB on, so deep triple
#     indexes); the regions and their surroundings are checked, and the first
#     320 MiB are read in full.
# Both: st_size/st_blocks/manifest equal to ext2's, reads at and past EOF
# give 0 bytes, a read straddling EOF is short. Image unchanged, fsck clean.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
DEV=$(disk 1)
M=$(mnt_dir m)
SC="$PY $TOOLS/sparsecheck.py"
G=$((1 << 30))
MI=$((1 << 20))

run_case() {
	local bs=$1 size=$2 full=$3
	shift 3
	local regions=("$@")
	t_log "bs $bs: $((size / MI)) MiB file, ${#regions[@]} data regions"
	mke2fs -q -F -t ext2 -b "$bs" "$DEV" 64M || fail "mke2fs failed"
	mount_fs ext2 "$DEV" "$M"
	$SC create "$M/big" "$size" "${regions[@]}" || fail "create failed"
	# A second, smaller sparse file that ends exactly on a block boundary
	# after a hole, and one whose only data is its last byte.
	$SC create "$M/edge" $((1 << 32)) $(((1 << 32) - bs)):"$bs" || fail "create edge failed"
	$SC create "$M/lastbyte" $((3 * G + 1)) $((3 * G)):1 || fail "create lastbyte failed"
	umount_fs "$M"
	fsck_clean "$DEV"
	local before after
	before=$(dev_hash "$DEV" $((64 * MI)))

	mount_fs ext2 "$DEV" "$M" ro
	$MANIFEST --atime --no-sha256 "$M" >"$WORK/ext2-$bs.manifest"
	# The model holds on the reference too (regions only: guards the test).
	$SC verify "$M/big" "$size" "${regions[@]}" || fail "bs $bs: ext2 itself disagrees with the model"
	umount_fs "$M"

	local mark
	mark=$(kmsg_mark "030-bs$bs")
	rmount "$DEV" "$M"
	$MANIFEST --atime --no-sha256 "$M" >"$WORK/rext2-$bs.manifest"
	same_file "$WORK/ext2-$bs.manifest" "$WORK/rext2-$bs.manifest" "bs $bs: manifest (size, st_blocks, ...)"
	if [ "$full" = all ]; then
		$SC verify "$M/big" "$size" "${regions[@]}" --full || fail "bs $bs: big file content differs from the model"
	else
		$SC verify "$M/big" "$size" "${regions[@]}" --full --upto "$full" || fail "bs $bs: big file content differs from the model"
	fi
	$SC verify "$M/edge" $((1 << 32)) $(((1 << 32) - bs)):"$bs" || fail "bs $bs: edge file differs"
	$SC verify "$M/lastbyte" $((3 * G + 1)) $((3 * G)):1 || fail "bs $bs: lastbyte file differs"
	# cat to /dev/null through the page cache again (a second read, now cached).
	umount_fs "$M"
	assert_no_kernel_bugs "$mark"
	assert_no_fs_errors "$mark"
	after=$(dev_hash "$DEV" $((64 * MI)))
	assert_eq "$before" "$after" "bs $bs: image changed by read-only mounts"
	fsck_clean "$DEV"
}

# 4K: ind starts at block 12 (48 KiB), dind at 1036 (4 MiB+48K), tind at
# 1049612 (4 GiB + 4 MiB + 48 KiB).
b4=4096
tind4=$(((12 + 1024 + 1024 * 1024) * b4))
run_case $b4 $((5 * G + 12345)) all \
	0:100 \
	$((11 * b4)):$((2 * b4)) \
	$((1036 * b4 - 10)):20 \
	$((3 * G)):$MI \
	$(((1 << 32) - 4096)):4096 \
	$(((1 << 32) + 1)):7000 \
	$((tind4 - 1)):2 \
	$((tind4 + 1024 * b4)):$b4 \
	$((tind4 + 1024 * 1024 * b4 + 333)):5000 \
	$((5 * G + 12345 - 345)):345

# 1K: dind at 268 blocks, tind at 65804 blocks (64 MiB + 268 KiB).
b1=1024
tind1=$(((12 + 256 + 65536) * b1))
run_case $b1 $((3 * G)) $((320 * MI)) \
	0:1 \
	$((12 * b1 - 1)):2 \
	$((268 * b1)):$((3 * b1)) \
	$((tind1 - 100)):200 \
	$((tind1 + 256 * b1)):$b1 \
	$((tind1 + 65536 * b1 + 5)):$((2 * b1)) \
	$((2 * G + 17)):$((300 * 1000)) \
	$((3 * G - 1)):1
echo "030-sparse-large: ok"
