#!/usr/bin/env bash
# Crash consistency: kill the VM (no umount, no sync) at a random moment of a
# write-heavy workload on rext2, many times, and check what survived.
#   qemu/crash.sh [ROUNDS] [SEED]      (make test runs 2 rounds; make soak more)
# Per round, on one 256 MiB disk image kept across the round:
#   1. boot, mkfs (first round) or reuse, mount rext2 (write= alternates),
#      run ktests/tools/crashload.py write; QEMU is killed 4-16 s in;
#   2. boot again: e2fsck -fy (what it repaired is recorded: ext2 has no
#      journal, so a crash leaves work for it), then e2fsck -fn must be
#      clean, and every file crashload.py recorded as fsync'd or synced
#      must read back byte-exact under rext2 and under the C ext2.
# Prints one line per round and "crash: N rounds, N lost data"; exit 1 if
# any round lost data, left e2fsck unable to repair, or logged a kernel
# report.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$REXT2_ROOT"
rounds=${1:-2}
seed=${2:-$(date +%s)}
work=$(mktemp -d "${REXT2_TMPDIR:-/var/tmp}/rext2-crash.XXXXXX")
trap 'rm -rf "$work"' EXIT
img=$work/disk.img
truncate -s 256M "$img"
bad=0
repaired_total=0
echo "crash: $rounds rounds, seed $seed"
for ((r = 0; r < rounds; r++)); do
	rs=$((seed + r))
	mode=$([ $((r % 2)) = 0 ] && echo multipage || echo classic)
	kill_after=$((14 + rs % 13))
	mkfs=""
	[ "$r" = 0 ] && mkfs="mke2fs -q -F -t ext2 -b $([ $((rs % 2)) = 0 ] && echo 1024 || echo 4096) /dev/vda &&"
	log=$work/out1/durable.log
	rm -rf "$work/out1" "$work/out2"
	mkdir -p "$work/out1" "$work/out2"
	# The log of durable files must outlive the VM: it is on the results share.
	rc=0
	bash "$here/vm.sh" --disk "$img" --timeout "$kill_after" --out "$work/out1" -- bash -c "
		$mkfs insmod rext2.ko && mkdir -p /tmp/m && mount -t rext2 -o write=$mode /dev/vda /tmp/m &&
		touch \$REXT2_OUT/durable.log && python3 ktests/tools/crashload.py write /tmp/m \$REXT2_OUT/durable.log $rs
	" >"$work/run1.log" 2>&1 || rc=$?
	if [ "$rc" != 124 ]; then
		echo "round $r: the workload VM ended with status $rc before it was killed"; tail -20 "$work/run1.log"
		bad=$((bad + 1)); continue
	fi
	cp "$log" "$work/durable.log" 2>/dev/null || : >"$work/durable.log"
	rc=0
	bash "$here/vm.sh" --disk "$img" --timeout 600 --out "$work/out2" -- bash -c "
		e2fsck -fy /dev/vda >\$REXT2_OUT/fsck.log 2>&1; echo \"fsck-exit=\$?\" >>\$REXT2_OUT/fsck.log
		e2fsck -fn /dev/vda >/dev/null 2>&1 || { echo 'e2fsck -fn not clean after -fy'; exit 1; }
		insmod rext2.ko && mkdir -p /tmp/m || exit 1
		mount -t rext2 -o ro /dev/vda /tmp/m && python3 ktests/tools/crashload.py check /tmp/m $work/durable.log; a=\$?
		umount /tmp/m
		mount -t ext2 -o ro /dev/vda /tmp/m && python3 ktests/tools/crashload.py check /tmp/m $work/durable.log; b=\$?
		umount /tmp/m
		[ \$a = 0 ] && [ \$b = 0 ]
	" >"$work/run2.log" 2>&1 || rc=$?
	fixes=$(grep -cE '^(Pass|Fix|Clear|Inode|Block|Free|Unattached|Entry|Salvage|Relocate|Deleted|Padding|i_size|Directory)' "$work/out2/fsck.log" 2>/dev/null || true)
	kinds=$(grep -E '(\?|has)' "$work/out2/fsck.log" 2>/dev/null | sed -E 's/[0-9]+/N/g; s/ *(Fix|Clear|Salvage)\?.*//' | sort | uniq -c | sort -rn | head -4 | awk '{$1=$1; print}' | paste -sd ';' || true)
	durable=$(wc -l <"$work/durable.log")
	if [ "$rc" = 0 ]; then
		echo "round $r (write=$mode, killed at ${kill_after}s): $durable durable files intact under rext2 and ext2; e2fsck repaired: ${kinds:-nothing}"
	else
		echo "round $r (write=$mode, killed at ${kill_after}s): FAILED (status $rc)"; tail -30 "$work/run2.log"
		bad=$((bad + 1))
	fi
	repaired_total=$((repaired_total + ${fixes:-0}))
done
echo "crash: $rounds rounds, $bad lost data or failed"
[ "$bad" = 0 ]
