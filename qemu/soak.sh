#!/usr/bin/env bash
# `make soak`: the long versions of the reliability tests, on the debug
# kernel, and a table of what they did and what went wrong.
#   SOAK_MINUTES (60) is split: stress 30%, hostile images 30%, crashes 30%,
#   I/O errors the rest. Each part stops on its own; the table is printed at
#   the end (and written to target/soak/table.md).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$REXT2_ROOT"
min=${SOAK_MINUTES:-60}
out=$REXT2_ROOT/target/soak
mkdir -p "$out"
seed=$(date +%s)
# Each part is bounded by time (how many images, crashes or rounds fit
# depends on the machine); I/O errors run whole rounds (about 3 minutes).
stress_s=$((min * 60 * 30 / 100 / 2))
part_s=$((min * 60 * 30 / 100))
io_rounds=$((min / 20 + 1))

vm() { # vm NAME ENV... : one ktest in the VM with ENV
	local name=$1
	shift
	bash "$here/vm.sh" --disk 2G --disk 2G --disk 8G --timeout $((min * 60)) --out "$out/$name" -- \
		env KTEST_TIMEOUT_SCALE=20 "$@" ktests/run-suite.sh "$name" >"$out/$name.log" 2>&1
	echo $?
}
echo "soak: $min minutes, seed $seed (logs in $out)"
s_rc=$(vm 180 SEED=$seed SECONDS_PER_PATH=$stress_s)
h_rc=$(vm 190 SEED=$seed COUNT=100000 HOSTILE_SECONDS=$part_s)
i_rc=$(vm 185 ROUNDS=$io_rounds)
CRASH_SECONDS=$part_s bash "$here/crash.sh" 100000 "$seed" >"$out/crash.log" 2>&1
c_rc=$?

ops=$(grep -ho 'stress: [0-9]* operations' "$out"/180/tests/180*.log | awk '{s += $2} END {print s + 0}')
s_bad=$(grep -hc 'content differs\|left over\|unexpected' "$out"/180/tests/180*.log | awk '{s += $1} END {print s + 0}')
tried=$(grep -ho 'hostile images: [0-9]* tried' "$out"/190/tests/190*.log | awk '{print $3}')
h_bad=$(grep -ho '[0-9]* hung or crashed' "$out"/190/tests/190*.log | awk '{print $1}')
faults=$(grep -ho 'faults injected: [0-9]*' "$out"/185/tests/185*.log | awk '{print $3}')
rounds=$(grep -c '^round ' "$out/crash.log")
c_bad=$(grep -c 'FAILED\|before it was killed' "$out/crash.log")
kr() { grep -l 'kernel report' "$out/$1/"*.log 2>/dev/null | wc -l; }
{
	echo "| part | done | lost data or failed | kernel reports | exit |"
	echo "|---|---|---|---|---|"
	echo "| stress (8 workers x 2 write paths, ENOSPC, memory pinned) | ${ops:-0} operations | ${s_bad:-?} | $(cat "$out/180/vm-result" 2>/dev/null) | $s_rc |"
	echo "| hostile images | ${tried:-0} images | ${h_bad:-?} | $(cat "$out/190/vm-result" 2>/dev/null) | $h_rc |"
	echo "| I/O errors (dm-flakey, dm-error) | ${faults:-0} faults injected | - | $(cat "$out/185/vm-result" 2>/dev/null) | $i_rc |"
	echo "| crashes (VM killed mid-write) | $rounds crashes | $c_bad | - | $c_rc |"
} | tee "$out/table.md"
[ "$s_rc$h_rc$i_rc$c_rc" = 0000 ]
