#!/usr/bin/env bash
# `make insn-profile`: exact guest instruction counts of one write workload,
# per kernel function, in each write mode, and their difference. Where
# `make bench` gives throughput (noisy under TCG), this gives the CPU work
# of the write path to the instruction, whatever the host's load: a QEMU
# TCG plugin (qemu/insn-count.c, built here with gcc) counts every kernel
# instruction the guest runs, one vCPU, non-debug kernel.
#
#   PROFILE_WRITES (30000)  number of writes, each PROFILE_BS (4k) bytes, by
#                           dd to one new file (appends)
#   PROFILE_WORKLOAD        a shell command instead of dd (in the guest; the
#                           filesystem is at /tmp/p); then PROFILE_WRITES only
#                           divides the counts
#   PROFILE_MODES (multipage classic)  what to profile, two VM boots each:
#                           multipage and classic are rext2's write= modes;
#                           ext2, ext4 and xfs the kernel's C filesystems on
#                           the same workload (the first one listed is what
#                           the others are compared with)
#   PROFILE_MKFS ("-b 4096")           mke2fs options (rext2, ext2, ext4)
#   PROFILE_TOP (40)                   rows printed
#
# Output: target/insn-profile/report.txt, and the raw counts beside it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$REXT2_ROOT"

writes=${PROFILE_WRITES:-30000}
bs=${PROFILE_BS:-4k}
modes=${PROFILE_MODES:-multipage classic}
mkfs=${PROFILE_MKFS:--b 4096}
wl=${PROFILE_WORKLOAD:-dd if=/dev/zero of=/tmp/p/f bs=$bs count=$writes status=none}
out=$REXT2_ROOT/target/insn-profile
mkdir -p "$out"

gcc -O2 -Wall -shared -fPIC -o "$out/insn-count.so" "$here/insn-count.c"
build_bench_module

# Each mode boots twice, without and with the workload: the difference is
# the workload's alone (boot, mkfs, mount and umount cancel out).
args=()
for mode in $modes; do
	case $mode in
	multipage | classic) mkcmd="mke2fs -q -F -t ext2 $mkfs /dev/vda" mnt="-t rext2 -o write=$mode" ;;
	ext2 | ext4) mkcmd="mke2fs -q -F -t $mode $mkfs /dev/vda" mnt="-t $mode" ;;
	xfs) mkcmd="mkfs.xfs -q -f /dev/vda" mnt="-t xfs" ;;
	*) echo "insn-profile: unknown mode '$mode' (multipage, classic, ext2, ext4, xfs)" >&2; exit 2 ;;
	esac
	args+=("$mode")
	for run in empty work; do
		cmd=$wl
		[ $run = work ] || cmd=true
		echo "insn-profile: $mode, $run run: $cmd"
		rm -f "$out/count-$mode-$run.txt"
		REXT2_ACCEL=tcg bash "$here/vm.sh" --kernel "$kdir/arch/x86/boot/bzImage" --cpus 1 --mem 2048 \
			--disk 2G --timeout 1800 --out "$out/vm-$mode-$run" \
			--plugin "$out/insn-count.so,out=$out/count-$mode-$run.txt" -- \
			bash -c "set -e; insmod $bdir/rext2.ko
				cat /proc/kallsyms >\$REXT2_OUT/kallsyms.txt
				$mkcmd; mkdir -p /tmp/p
				mount $mnt /dev/vda /tmp/p
				sync; echo 3 >/proc/sys/vm/drop_caches
				$cmd
				umount /tmp/p"
		[ -s "$out/count-$mode-$run.txt" ] || { echo "insn-profile: no counts from $mode, $run run" >&2; exit 1; }
		args+=("$out/vm-$mode-$run/kallsyms.txt" "$out/count-$mode-$run.txt")
	done
done
python3 "$here/insn-report.py" --per "$writes" --top "${PROFILE_TOP:-40}" "${args[@]}" | tee "$out/report.txt"
