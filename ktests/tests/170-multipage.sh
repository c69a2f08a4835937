#!/bin/bash
# timeout: 900
# The multipage write path (write=multipage, the default) on its own terms
# (ktests/tools/mpwrite.py does the I/O and the checks):
#   options  write= shown in /proc/mounts, classic/multipage via remount,
#            bad values refused; an 8 MiB write goes in batches of at least
#            8 pages (up to 256, as the dirty-throttle allowance permits),
#            the counters under /sys/fs/rext2/<dev>/ move, appends reserve
#            exactly (nothing given back), a classic mount leaves them alone
#   faults   pwrite/pwritev from a buffer whose tail is unmapped: the short
#            count and exact content, EFAULT when nothing can be copied; a
#            source that is an mmap of the pages being written (the classic
#            self-deadlock), incl. a hole not yet read
#   edges    at 1K, 2K and 4K blocks: writes across holes, EOF and partial
#            blocks, compared with a model, in cache and from disk
#   enospc   (1K and 4K) a write that fills the disk to the last block, one
#            byte more gets ENOSPC before any copy; one write larger than
#            the free space writes what fits and the next gets ENOSPC;
#            4 processes racing for the last blocks; free counts come back
#   concurrent  4 writers on disjoint ranges of one file, 4 on their own
#            files, 4 O_APPEND writers of 3000-byte records
#   syncstorm  (1K blocks) 4 appenders whose blocks land beside the
#            indirect blocks they fill in, while sync and truncate+fsync
#            write the block device back: every process finishes (this
#            deadlocked when the leaf's buffer stayed locked while the
#            new blocks' block-device aliases were cleaned)
#   exercise random write/truncate/mmap write/read/fsync on three files
#            against a model, the same seed with write=multipage and
#            write=classic; both images e2fsck-clean and identical in
#            content
# After each part: e2fsck -fn clean and reserved_now back to 0.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"

load_rext2
DA=$(disk 1)
DB=$(disk 2)
M=$(mnt_dir a)
MB=$(mnt_dir b)
MP="$PY $TOOLS/mpwrite.py"
SYS=/sys/fs/rext2/${DA#/dev/}
SEED=${SEED:-${KTEST_SEED:-$(date +%s%N | cut -c1-12)}}
echo "seed=$SEED"
mark=$(kmsg_mark 170)

stat_of() { cat "$SYS/$1"; }
# settled: after sync nothing may stay reserved.
settled() {
	sync
	assert_eq "$(stat_of reserved_now)" 0 "reserved_now after $1"
}
finish() { # finish DEV DIR LABEL
	settled "$3"
	umount_fs "$2"
	fsck_clean "$1"
}

t_log "options and counters"
mke2fs -q -F -t ext2 -b 4096 "$DA" 256M
mount_fs "$RFS" "$DA" "$M"
grep -q " $M $RFS rw,.*write=multipage" /proc/mounts || fail "write=multipage not shown: $(grep " $M " /proc/mounts)"
[ -d "$SYS" ] || fail "$SYS missing"
b0=$(stat_of batches)
p0=$(stat_of batch_pages)
dd if=/dev/zero of="$M/one" bs=8M count=1 status=none
nb=$(($(stat_of batches) - b0))
np=$(($(stat_of batch_pages) - p0))
echo "one 8 MiB write: $nb batches, $np pages, largest batch $(stat_of batch_pages_max) pages"
assert_eq "$np" 2048 "pages locked in batches for one 8 MiB write"
# Batches take at least 8 pages (more as the dirty allowance allows).
[ "$nb" -ge 1 ] && [ $((nb * 8)) -le 2048 ] || fail "$nb batches for 2048 pages"
[ "$(stat_of batch_pages_max)" -ge 8 ] || fail "largest batch $(stat_of batch_pages_max) pages"
[ "$(stat_of alloc_runs)" -ge 1 ] || fail "no allocation run counted"
[ "$(stat_of reserved_blocks)" -ge 256 ] || fail "reserved_blocks $(stat_of reserved_blocks) < 256"
# Appends right after the last allocated block reserve exactly what they
# allocate (data, and the new leaf when they cross into one): nothing to
# give back.
r0=$(stat_of returns)
dd if=/dev/zero of="$M/one" bs=4k count=300 oflag=append conv=notrunc status=none
assert_eq "$(stat_of returns)" "$r0" "reservations given back by 300 appends of 4 KiB"
# Overwrites of blocks that exist need no space: no reservation at all,
# whether the page cache still maps their buffers or (after the cache is
# dropped) `Map` finds them on disk. A hole inside EOF does need a block.
o0=$(stat_of mapped_overwrites)
v0=$(stat_of reservations)
dd if=/dev/urandom of="$M/one" bs=4k count=100 conv=notrunc status=none
assert_eq "$(($(stat_of mapped_overwrites) - o0))" 100 "overwrites of cached blocks"
sync
echo 3 >/proc/sys/vm/drop_caches
dd if=/dev/urandom of="$M/one" bs=4k count=10 seek=50 conv=notrunc status=none
assert_eq "$(($(stat_of mapped_overwrites) - o0))" 110 "overwrites of cached and uncached blocks"
assert_eq "$(stat_of reservations)" "$v0" "reservations made by overwrites of existing blocks"
truncate -s 1M "$M/holes"
b0=$(stat -c %b "$M/holes")
dd if=/dev/urandom of="$M/holes" bs=4k count=2 seek=100 conv=notrunc status=none
assert_eq "$(($(stat_of reservations) - v0))" 2 "reservations made by two writes into a hole inside EOF"
assert_eq "$(($(stat_of mapped_overwrites) - o0))" 110 "a hole counted as a mapped overwrite"
assert_eq "$(stat -c %s "$M/holes")" 1048576 "size after writing into a hole"
[ "$(stat -c %b "$M/holes")" -gt "$b0" ] || fail "no block allocated for a write into a hole"
mount -o remount,write=classic "$M" || fail "remount write=classic"
grep -q " $M .*write=classic" /proc/mounts || fail "write=classic not shown after remount"
w0=$(stat_of writes)
dd if=/dev/zero of="$M/two" bs=64k count=4 status=none
assert_eq "$(stat_of writes)" "$w0" "classic writes counted by the multipage path"
mount -o remount,write=multipage "$M" || fail "remount write=multipage"
expect_fail mount -o remount,write=bogus "$M"
finish "$DA" "$M" options
expect_fail mount -t "$RFS" -o write=fast "$DA" "$M"

t_log "faults"
mke2fs -q -F -t ext2 -b 1024 "$DA" 64M
mount_fs "$RFS" "$DA" "$M"
$MP faults "$M" || fail "faults"
finish "$DA" "$M" faults

for bs in 1024 2048 4096; do
	t_log "edges at $bs"
	mke2fs -q -F -t ext2 -b "$bs" "$DA" 64M
	mount_fs "$RFS" "$DA" "$M"
	$MP edges "$M" "$bs" || fail "edges at $bs"
	finish "$DA" "$M" "edges at $bs"
done

for bs in 1024 4096; do
	t_log "enospc at $bs"
	mke2fs -q -F -t ext2 -b "$bs" -m 0 "$DA" 24M
	mount_fs "$RFS" "$DA" "$M"
	$MP enospc "$M" "$bs" "$SYS" || fail "enospc at $bs"
	$MP race "$M" 4 || fail "race at $bs"
	finish "$DA" "$M" "enospc at $bs"
done

t_log "concurrent writers"
mke2fs -q -F -t ext2 -b 2048 "$DA" 128M
mount_fs "$RFS" "$DA" "$M"
$MP concurrent "$M" 4 || fail "concurrent"
finish "$DA" "$M" concurrent

t_log "sync storm: allocation against block-device writeback"
mke2fs -q -F -t ext2 -b 1024 "$DA" 64M
mount_fs "$RFS" "$DA" "$M"
$MP syncstorm "$M" 4 "${STORM_SECONDS:-30}" || fail "syncstorm"
finish "$DA" "$M" syncstorm

t_log "exerciser, seed $SEED, both write paths"
ops=${OPS:-300}
for d in "$DA" "$DB"; do mke2fs -q -F -t ext2 -b 1024 "$d" 128M; done
mount_fs "$RFS" "$DA" "$M" write=multipage
mount_fs "$RFS" "$DB" "$MB" write=classic
$MP exercise "$M" "$SEED" "$ops" || fail "exerciser on write=multipage (seed $SEED)"
$MP exercise "$MB" "$SEED" "$ops" || fail "exerciser on write=classic (seed $SEED)"
for f in x0 x1 x2; do
	cmp "$M/$f" "$MB/$f" || fail "$f differs between write=multipage and write=classic (seed $SEED)"
done
finish "$DA" "$M" "exerciser (multipage)"
umount_fs "$MB"
fsck_clean "$DB"
assert_no_kreports "$mark"
t_log "170-multipage: ok (seed $SEED)"
