#!/bin/bash
# timeout: 400
# FIEMAP (filefrag): files written by rext2 at 1K and 4K blocks (contiguous,
# two files grown in turns, sparse across the indirect, double- and
# triple-indirect ranges, one block, empty) report the same extents through
# rext2 as through the kernel's C ext2 on the same image (filefrag -v, byte
# for byte); the extents are there before any sync (blocks are allocated at
# write time); e2fsck clean. FIEMAP of a 1 TiB file that is one hole ends
# at once.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
DEV=$(disk 1)
M=$(mnt_dir m)
mark=$(kmsg_mark 035)
MI=$((1 << 20))

# filefrag -v of every file, paths relative to DIR. Without the
# "Filesystem cylinder groups" line: filefrag prints it for the C ext2 and
# not for rext2, and it is not FIEMAP output.
frag() { # frag DIR OUT
	(cd "$1" && for f in contig turn-a turn-b sparse one empty; do filefrag -v "$f"; done) >"$2.all" ||
		fail "filefrag failed in $1: $(cat "$2.all")"
	grep -v '^Filesystem cylinder groups' "$2.all" >"$2"
}

for bs in 1024 4096; do
	t_log "bs $bs"
	mke2fs -q -F -t ext2 -b "$bs" "$DEV" 128M || fail "mke2fs"
	mount_fs "$RFS" "$DEV" "$M"
	dd if=/dev/urandom of="$M/contig" bs=1M count=3 status=none
	for i in $(seq 40); do
		head -c 20000 /dev/urandom >>"$M/turn-a"
		head -c 13000 /dev/urandom >>"$M/turn-b"
	done
	# Data in the direct range, the indirect, the double-indirect and (1K:
	# from 64 MiB + 268 KiB) the triple-indirect range. Not larger: the C
	# ext2 walks a hole one block at a time.
	for off in 0 $((20 * bs)) $((2 * MI)) $((70 * MI)); do
		dd if=/dev/urandom of="$M/sparse" bs=5000 count=1 seek="$off" oflag=seek_bytes conv=notrunc status=none
	done
	echo x >"$M/one"
	: >"$M/empty"
	# Before any sync: the blocks were allocated by the write.
	n=$(filefrag "$M/contig" | sed -n 's/.*: \([0-9]*\) extents\? found/\1/p')
	[ -n "$n" ] && [ "$n" -ge 1 ] || fail "bs $bs: filefrag on a just-written file: $(filefrag "$M/contig")"
	grep -q FIEMAP <(filefrag -v "$M/contig" 2>&1) && fail "bs $bs: FIEMAP refused: $(filefrag -v "$M/contig" 2>&1)"
	frag "$M" "$WORK/rext2-$bs.frag"
	umount_fs "$M"
	mount_fs ext2 "$DEV" "$M" ro
	frag "$M" "$WORK/ext2-$bs.frag"
	umount_fs "$M"
	same_file "$WORK/ext2-$bs.frag" "$WORK/rext2-$bs.frag" "bs $bs: filefrag -v under C ext2 and rext2"
	# Four data regions; filefrag counts physical discontinuities, and
	# neighbouring regions may be physically contiguous.
	grep -q "^sparse: [2-8] extents found" "$WORK/rext2-$bs.frag" ||
		fail "bs $bs: sparse file extents: $(sed -n '/of sparse/,/^sparse:/p' "$WORK/rext2-$bs.frag")"
	sed -n 's/^\([a-z-]*\): \([0-9]*\) extents\? found/    \1: \2/p' "$WORK/rext2-$bs.frag" | tr '\n' ' '
	echo
	fsck_clean "$DEV"
done
# A 1 TiB file with no blocks (4K blocks, the last image): its holes are
# whole missing indirect subtrees, so FIEMAP takes a few steps where the
# C ext2 takes one per block (2^28 of them).
t_log "1 TiB hole"
debugfs -w -R "sif empty size 1099511627776" "$DEV" >/dev/null 2>&1 || fail "debugfs sif"
mount_fs "$RFS" "$DEV" "$M"
out=$(timeout 120 filefrag -v "$M/empty" 2>&1) || fail "filefrag on a 1 TiB hole (exit $?): $out"
echo "$out" | grep -q ": 0 extents found" || fail "filefrag on a 1 TiB hole: $out"
umount_fs "$M"
fsck_clean "$DEV"
assert_no_kernel_bugs "$mark"
assert_no_fs_errors "$mark"
echo "035-fiemap: ok"
