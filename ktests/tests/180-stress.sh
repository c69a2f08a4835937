#!/bin/bash
# timeout: 900
# Stress (ktests/tools/stress.py): 8 processes creating, writing (small,
# large, O_APPEND), truncating, renaming, unlinking, mmap-writing and
# fsyncing in shared directories of a 48 MiB rext2 that keeps hitting
# ENOSPC, inside a memory cgroup of 96 MiB so that reclaim and writeback run
# under the load; then stress-ng's hdd and fio's verified random writes on
# the same mount. Every file left holds exactly what its writer last wrote
# (checked after the caches are dropped), e2fsck -fn is clean, and the
# reservation counter is back to 0. Both write= paths. SECONDS= sets the
# exerciser's run time (default 40 per path).
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"

load_rext2
D=$(disk 2)
M=$(mnt_dir a)
SYS=/sys/fs/rext2/${D#/dev/}
SEED=${SEED:-${KTEST_SEED:-$(date +%s%N | cut -c1-9)}}
RUNTIME=${SECONDS_PER_PATH:-40}
echo "seed=$SEED"
mark=$(kmsg_mark 180)

# A memory cgroup for the load.
CG=/sys/fs/cgroup
grep -q cgroup2 /proc/mounts || mount -t cgroup2 none "$CG" || fail "mount cgroup2"
grep -qw memory "$CG/cgroup.controllers" || fail "no memory controller in cgroup2"
echo +memory >"$CG/cgroup.subtree_control" 2>/dev/null || true
mkdir -p "$CG/rext2-stress"
echo $((96 << 20)) >"$CG/rext2-stress/memory.max"
in_cg() { (echo "$BASHPID" >"$CG/rext2-stress/cgroup.procs" && exec "$@"); }

for mode in multipage classic; do
	t_log "write=$mode: exerciser, $RUNTIME s, 8 workers"
	mke2fs -q -F -t ext2 -b 1024 -N 2048 "$D" 48M
	mount_fs "$RFS" "$D" "$M" "write=$mode"
	in_cg "$PY" "$TOOLS/stress.py" "$M" 8 "$RUNTIME" "$SEED" || fail "stress exerciser (write=$mode, seed $SEED)"
	t_log "write=$mode: stress-ng hdd and fio verify"
	rm -rf "${M:?}"/d*
	in_cg stress-ng --hdd 4 --hdd-bytes 6M --hdd-opts wr-seq,rd-rnd --timeout 15s --temp-path "$M" -q ||
		fail "stress-ng --hdd (write=$mode)"
	in_cg fio --name=verify --directory="$M" --rw=randwrite --bs=4k --size=16M --numjobs=2 \
		--ioengine=psync --fallocate=none --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$WORK/fio-$mode.txt" || { cat "$WORK/fio-$mode.txt"; fail "fio verify (write=$mode)"; }
	sync
	assert_eq "$(cat "$SYS/reserved_now")" 0 "reserved_now after the stress (write=$mode)"
	umount_fs "$M"
	fsck_clean "$D"
done
grep -E '^(oom_kill|oom) ' "$CG/rext2-stress/memory.events" || true
assert_no_kreports "$mark"
t_log "180-stress: ok (seed $SEED)"
