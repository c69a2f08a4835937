#!/bin/bash
# timeout: 900
# Stress (ktests/tools/stress.py): 8 processes creating, writing (small,
# large, O_APPEND), truncating, renaming, unlinking, mmap-writing and
# fsyncing in shared directories of a 48 MiB rext2 that keeps hitting
# ENOSPC, while a hog pins all but ~320 MiB of the guest's memory (no swap:
# the page cache gets what is left), so that reclaim and writeback run
# under the load; then stress-ng's hdd and fio's verified random writes on
# the same mount. Every file left holds exactly what its writer last wrote
# (checked after the caches are dropped), e2fsck -fn is clean, and the
# reservation counter is back to 0. Both write= paths. SECONDS= sets the
# exerciser's run time (default 25 per path).
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"

load_rext2
D=$(disk 2)
M=$(mnt_dir a)
SYS=/sys/fs/rext2/${D#/dev/}
SEED=${SEED:-${KTEST_SEED:-$(date +%s%N | cut -c1-9)}}
RUNTIME=${SECONDS_PER_PATH:-25}
echo "seed=$SEED"
mark=$(kmsg_mark 180)

# Memory pressure: pin anonymous memory (there is no swap) until only
# ~320 MiB are available for everything else, page cache included.
avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
hog=$((avail - 320))
[ "$hog" -gt 0 ] || fail "only $avail MiB available"
"$PY" -c "
import mmap, sys, time
m = mmap.mmap(-1, $hog << 20)
for i in range(0, len(m), 4096):
    m[i] = 1
sys.stdout.write('ready\n'); sys.stdout.flush()
time.sleep(3600)
" >"$WORK/hog.out" &
HOG=$!
trap 'kill $HOG 2>/dev/null; t_cleanup' EXIT
for _ in $(seq 100); do grep -q ready "$WORK/hog.out" && break; sleep 0.5; done
grep -q ready "$WORK/hog.out" || fail "the memory hog did not start"
echo "memory hog: $hog MiB pinned; $(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo) MiB left available"

for mode in multipage classic; do
	t_log "write=$mode: exerciser, $RUNTIME s, 8 workers"
	mke2fs -q -F -t ext2 -b 1024 -N 2048 "$D" 48M
	mount_fs "$RFS" "$D" "$M" "write=$mode"
	"$PY" "$TOOLS/stress.py" "$M" 8 "$RUNTIME" "$SEED" || fail "stress exerciser (write=$mode, seed $SEED)"
	t_log "write=$mode: stress-ng hdd and fio verify"
	rm -rf "${M:?}"/d*
	stress-ng --hdd 4 --hdd-bytes 6M --hdd-opts wr-seq,rd-rnd --timeout 15s --temp-path "$M" -q ||
		fail "stress-ng --hdd (write=$mode)"
	fio --name=verify --directory="$M" --rw=randwrite --bs=4k --size=16M --numjobs=2 \
		--ioengine=psync --fallocate=none --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$WORK/fio-$mode.txt" || { cat "$WORK/fio-$mode.txt"; fail "fio verify (write=$mode)"; }
	sync
	assert_eq "$(cat "$SYS/reserved_now")" 0 "reserved_now after the stress (write=$mode)"
	umount_fs "$M"
	fsck_clean "$D"
done
kill $HOG
assert_no_kreports "$mark"
t_log "180-stress: ok (seed $SEED)"
