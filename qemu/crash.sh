#!/usr/bin/env bash
# Crash consistency: kill the VM (no umount, no sync) at a random moment of a
# write-heavy workload on rext2, many times, and check what survived.
#   qemu/crash.sh [ROUNDS] [SEED]      (make test runs 2 rounds; make soak more)
# CRASH_FS=ext2 runs the workload on the kernel's C ext2 instead (the same
# checks), for comparison. The workload also frees blocks (truncates,
# rewrites): see ktests/tools/crashload.py for why that matters on ext2;
# CRASH_FREES=0 leaves that out. CRASH_SECONDS stops starting new rounds
# after that long (make soak).
# Per round, on one 256 MiB disk image kept across the round:
#   1. boot, mkfs (first round) or reuse, mount rext2 (write= alternates),
#      delete the earlier rounds' files (frees; without it a long run fills
#      the disk: names repeat in other directories from round to round),
#      run ktests/tools/crashload.py write; 4-16 s after its first durable
#      file the guest resets itself at once (sysrq b: no sync, no umount,
#      the page cache is lost); a round with no durable file fails;
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
# Under the repo: the guest sees the host's tree read-only at the same path
# (its /tmp and /var/tmp are its own).
mkdir -p "$REXT2_ROOT/target"
work=$(mktemp -d "$REXT2_ROOT/target/crash.XXXXXX")
trap 'rm -rf "$work"' EXIT
img=$work/disk.img
truncate -s 256M "$img"
bad=0
frees=$([ "${CRASH_FREES:-1}" = 1 ] && echo frees || true)
echo "crash: $rounds rounds, seed $seed${frees:+, with frees}"
stop_at=$((SECONDS + ${CRASH_SECONDS:-1000000}))
for ((r = 0; r < rounds; r++)); do
	if [ $SECONDS -ge $stop_at ]; then
		rounds=$r
		break
	fi
	rs=$((seed + r))
	mode=$([ $((r % 2)) = 0 ] && echo multipage || echo classic)
	wfs="rext2 -o write=$mode"
	[ "${CRASH_FS:-rext2}" = ext2 ] && wfs=ext2 mode="C ext2"
	kill_after=$((4 + rs % 13))
	mkfs=""
	[ "$r" = 0 ] && mkfs="mke2fs -q -F -t ext2 -b $([ $((rs % 2)) = 0 ] && echo 1024 || echo 4096) /dev/vda &&"
	log=$work/out1/durable.log
	rm -rf "$work/out1" "$work/out2"
	mkdir -p "$work/out1" "$work/out2"
	# The log of durable files must outlive the VM: it is on the results share.
	rc=0
	bash "$here/vm.sh" --disk "$img" --timeout 300 --out "$work/out1" -- bash -c "
		$mkfs insmod rext2.ko && mkdir -p /tmp/m && mount -t $wfs /dev/vda /tmp/m &&
		rm -rf /tmp/m/d[0-9]* && touch \$REXT2_OUT/durable.log || exit 1
		# The clock starts at the first durable file (a loaded host can
		# take seconds to get there), so that every round has some.
		( for i in \$(seq 240); do [ -s \$REXT2_OUT/durable.log ] && break; sleep 0.5; done
		  sleep $kill_after; echo b >/proc/sysrq-trigger ) &
		python3 ktests/tools/crashload.py write /tmp/m \$REXT2_OUT/durable.log $rs ${frees}
	" >"$work/run1.log" 2>&1 || rc=$?
	# 125: the guest went away before the command finished, as it should.
	if [ "$rc" != 125 ]; then
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
	# What e2fsck -fy fixed: its questions, numbers left out, counted.
	kinds=$(awk '/\? yes$/ { k = ($0 ~ /^[A-Za-z]+\? yes$/) ? prev : $0; sub(/[:(].*/, "", k); gsub(/[0-9]+/, "N", k); print k }
		NF { prev = $0 }' "$work/out2/fsck.log" 2>/dev/null | sort | uniq -c | sort -rn |
		awk '{n = $1; $1 = ""; printf "%s%s x%d", (NR > 1 ? "; " : ""), substr($0, 2), n}' || true)
	echo "$kinds" >>"$work/../crash-repairs.log"
	durable=$(wc -l <"$work/durable.log")
	if [ "$rc" = 0 ] && [ "$durable" = 0 ]; then
		echo "round $r (write=$mode, killed at ${kill_after}s): FAILED: no file became durable before the crash, nothing was checked"
		bad=$((bad + 1))
	elif [ "$rc" = 0 ]; then
		echo "round $r (write=$mode, killed at ${kill_after}s): $durable durable files intact under rext2 and ext2; e2fsck repaired: ${kinds:-nothing}"
	else
		echo "round $r (write=$mode, killed at ${kill_after}s): FAILED (status $rc); e2fsck repaired: ${kinds:-nothing}"; tail -30 "$work/run2.log"
		bad=$((bad + 1))
	fi
done
echo "crash: $rounds rounds, $bad lost data or failed"
[ "$bad" = 0 ]
