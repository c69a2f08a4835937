#!/usr/bin/env bash
# `make bench`: build the non-debug (bench) kernel and rext2 against it,
# boot it once, run qemu/bench-guest.py (every filesystem and workload,
# interleaved and repeated), then write the CSV, a summary table of ratios
# and a PNG chart to target/bench/ (BENCH_SAVE=1 also copies them to bench/,
# which the README shows).
#   BENCH_REPS (3)  BENCH_MIB (128)  BENCH_FS (all: rext2-mp,rext2-classic,
#   ext2,ext4,xfs,tmpfs)  BENCH_WORKLOADS (all; e.g. seq4k,randover)
#   BENCH_ACCEL=icount (instruction-counting TCG, one vCPU; see vm.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$REXT2_ROOT"

build_bench_module

out=$REXT2_ROOT/target/bench
mkdir -p "$out"
echo "bench: booting the bench kernel; $(nproc) host cores; this takes a while under TCG"
benv=()
for v in BENCH_REPS BENCH_MIB BENCH_FS BENCH_WORKLOADS; do [ -z "${!v:-}" ] || benv+=("$v=${!v}"); done
# BENCH_ACCEL=icount: one vCPU whose clock counts instructions, so the
# figures measure CPU work and do not move with the host's load.
cpus=2
[ "${BENCH_ACCEL:-}" != icount ] || { export REXT2_ACCEL=icount; cpus=1; }
bash "$here/vm.sh" --kernel "$kdir/arch/x86/boot/bzImage" --disk 4G --mem 3072 --cpus $cpus \
	--timeout "${BENCH_TIMEOUT:-7200}" --out "$out/vm" -- \
	env "${benv[@]}" bash -c "insmod $bdir/rext2.ko && python3 qemu/bench-guest.py \$REXT2_OUT/bench.csv"
cp "$out/vm/bench.csv" "$out/bench.csv"
python3 "$here/bench-report.py" "$out" "$(cat "$out/vm/accel" 2>/dev/null || echo unknown)"
if [ "${BENCH_SAVE:-0}" = 1 ]; then
	mkdir -p bench
	cp "$out/bench.csv" "$out/summary.md" "$out/bench.png" bench/
	echo "bench: saved to bench/"
fi
