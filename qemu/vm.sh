#!/usr/bin/env bash
# Boot the rext2 test kernel in QEMU and run one command in it.
#
#   qemu/vm.sh [--disk SIZE|FILE]... [--mem MiB] [--cpus N] [--timeout SECONDS]
#              [--kernel BZIMAGE] [--out DIR] [--interactive] -- CMD [ARGS...]
#
# The guest's root filesystem is the host's /, shared read-only over 9p; init is
# qemu/guest-init.sh. CMD runs as root in the repo directory (same path as on
# the host, read-only) with stdin from /dev/null; its stdout+stderr is streamed
# here live. A second, writable 9p share holds the results; the guest sees it
# as $REXT2_OUT. Each --disk becomes a virtio-blk disk, /dev/vda, /dev/vdb, ...
# in order: SIZE (512M, 2G, ...) is a fresh sparse image deleted afterwards,
# anything else is an existing raw image used in place.
#
# Options:
#   --mem MiB (2048)  --cpus N (2)  --timeout SECONDS (1800, wall clock)
#   --kernel BZIMAGE  default: the debug kernel from qemu/build-kernel.sh
#   --out DIR         keep the results share in DIR (emptied first) instead of
#                     a temp dir; console.log, output.log and exit-status stay
#                     there, plus whatever CMD wrote to $REXT2_OUT
#   --interactive     CMD (default: bash) gets the serial console as its
#                     terminal; quit QEMU with Ctrl-A X. No --timeout applies.
#   --plugin SO[,ARG=V...]  load a QEMU TCG plugin (qemu/insn-profile.sh)
# Environment: REXT2_ACCEL=kvm|tcg skips the KVM probe (icount: TCG whose
# clock counts guest instructions, 1 ns each, for timings that measure CPU
# work whatever the host's load; use it with --cpus 1); REXT2_TMPDIR is where
# temp dirs and fresh disk images go (default /var/tmp).
#
# Exit status: CMD's, unless the kernel logged a report (oops, BUG, WARNING,
# lockdep, hung task, ...: the report is printed and the status is 1 if CMD
# succeeded), the guest ran past --timeout (124), or the guest died before CMD
# finished (125). With --out, DIR/vm-result says which: ok, cmd-failed,
# kernel-report, timeout or no-status. If CMD already printed the reports,
# it writes how many report lines it saw to $REXT2_OUT/kreports-seen and
# vm.sh only points at them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
. "$here/kreport.sh"

orig_args=("$@")
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
die() { echo "vm.sh: $*" >&2; exit 2; }

disks=() mem=2048 cpus=2 timeout=1800 kernel=${REXT2_KERNEL:-} outdir='' interactive=0 plugin=()
while [ $# -gt 0 ]; do
	case $1 in
	--disk) disks+=("${2:?--disk needs SIZE or FILE}"); shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--cpus) cpus=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--kernel) kernel=${2:?}; shift 2 ;;
	--out) outdir=${2:?}; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--plugin) plugin=(-plugin "${2:?--plugin needs a .so}"); shift 2 ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
[ $# -gt 0 ] || [ $interactive = 1 ] || die "no command given (… -- CMD [ARGS...])"
[ $# -gt 0 ] || set -- bash -l
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds"
case $REXT2_ROOT in *[[:space:]]*) die "the repo path must not contain spaces (it goes on the kernel command line)" ;; esac
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing; run qemu/setup.sh"

if [ -z "$kernel" ]; then
	kdir=$(bash "$here/build-kernel.sh" debug) || die "no test kernel (qemu/build-kernel.sh failed)"
	kernel=$kdir/arch/x86/boot/bzImage
fi
[ -f "$kernel" ] || die "kernel image $kernel not found"

tmp=$(mktemp -d "${REXT2_TMPDIR:-/var/tmp}/rext2-vm.XXXXXX")
qpid='' tpid=''
cleanup() {
	set +e # best effort, and always reach the rm
	# Kill QEMU itself; its parent subshell then exits and reaps it.
	[ -f "$tmp/qemu.pid" ] && kill -9 "$(cat "$tmp/qemu.pid" 2>/dev/null)" 2>/dev/null
	# tail stops by itself once QEMU's subshell is gone.
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ -n "$outdir" ]; then
	mkdir -p "$outdir"
	out=$(cd "$outdir" && pwd)
	# Only ever empty a directory that is ours (or empty) — never e.g. $HOME.
	if [ -n "$(ls -A "$out")" ] && [ ! -f "$out/vm-result" ] && [ ! -f "$out/cmd.sh" ]; then
		die "--out $out is not empty and not a previous vm.sh results dir"
	fi
	find "$out" -mindepth 1 -delete
else
	out=$tmp/out
	mkdir "$out"
fi
result() { [ -n "$outdir" ] && echo "$1" >"$out/vm-result"; return 0; }

# The command, as a script in the results share (not on the kernel cmdline).
{
	echo "# written by qemu/vm.sh"
	printf '%q ' "$@"
	echo
} >"$out/cmd.sh"
# Settings for guest-init.sh; sourced there.
cols=80 rows=24
if [ $interactive = 1 ] && [ -t 0 ]; then read -r rows cols < <(stty size) || true; fi
cat >"$out/vm.env" <<EOF
REXT2_ROOT=$(printf %q "$REXT2_ROOT")
VM_INTERACTIVE=$interactive
VM_TIMEOUT=$timeout
VM_TERM=$(printf %q "${TERM:-vt100}")
VM_ROWS=$rows
VM_COLS=$cols
EOF
: >"$out/output.log"

# Disks. cache=none (O_DIRECT) keeps the host page cache out of the guest's
# I/O timings, but not every host filesystem supports O_DIRECT (tmpfs, some
# overlays), so fall back to writeback there.
drives=()
i=0
for d in "${disks[@]}"; do
	if [[ $d =~ ^[0-9]+[KMGT]?$ ]]; then
		img=$tmp/disk$i.img
		truncate -s "$d" "$img"
	else
		[ -f "$d" ] || [ -b "$d" ] || die "--disk $d: neither a size (512M, 2G) nor an existing file"
		img=$(cd "$(dirname "$d")" && pwd)/$(basename "$d")
	fi
	cache=none
	dd if="$img" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null || cache=writeback
	drives+=(-drive "file=$img,if=virtio,format=raw,cache=$cache,discard=unmap")
	i=$((i + 1))
done

# KVM if it works here, TCG otherwise. KVM can fail late (QEMU aborts setting
# MSRs, or the guest hangs while decompressing), so the only reliable test is
# booting once; the answer is cached per machine, QEMU and host kernel.
pick_accel() {
	if [ -n "${REXT2_ACCEL:-}" ]; then echo "$REXT2_ACCEL"; return; fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then echo tcg; return; fi
	local key cachef
	key=$({ hostname; cat /etc/machine-id 2>/dev/null; grep -m1 'model name' /proc/cpuinfo; uname -r
		qemu-system-x86_64 --version | head -1; } | sha256sum | cut -c1-12)
	cachef=$REXT2_CACHE/accel/$key
	if [ ! -f "$cachef" ]; then
		echo "vm.sh: probing KVM (once per machine; up to 30 s)" >&2
		mkdir -p "$REXT2_CACHE/accel"
		if REXT2_ACCEL=kvm bash "$0" --kernel "$kernel" --mem 256 --cpus 1 --timeout 30 -- true >/dev/null 2>&1; then
			echo kvm >"$cachef.$$"
		else
			echo tcg >"$cachef.$$"
		fi
		mv "$cachef.$$" "$cachef"
		echo "vm.sh: using $(cat "$cachef") (cached in $cachef)" >&2
	fi
	cat "$cachef"
}
accel=$(pick_accel)
case $accel in
kvm) accel_opts=(-accel kvm -cpu host) ;;
tcg) accel_opts=(-accel tcg,thread=multi) ;;
icount) accel_opts=(-accel tcg -icount shift=0,sleep=on) ;;
*) die "REXT2_ACCEL must be kvm, tcg or icount" ;;
esac

# Kernel command line. root=<9p tag> with rootfstype=9p mounts the share as /
# without an initramfs. oops=panic + panic=-1 + -no-reboot: an oops ends
# the VM at once instead of hanging until the timeout. A WARN does not panic:
# the scanner below turns it into a failure and the run continues.
p9='trans=virtio,version=9p2000.L,msize=512000'
cmdline="root=rext2root rootfstype=9p rootflags=$p9,cache=loose ro"
cmdline+=" init=/bin/bash console=ttyS0 8250.nr_uarts=1"
cmdline+=" panic=-1 oops=panic softlockup_panic=0 nmi_watchdog=0 mitigations=off"
cmdline+=" random.trust_cpu=on tsc=reliable no_timer_check raid=noautodetect i8042.noaux log_buf_len=4M"
[ $interactive = 1 ] && cmdline+=" quiet"
# After "--": init's arguments. bash runs the script, so its exec bit does not matter.
cmdline+=" -- $REXT2_ROOT/qemu/guest-init.sh"

echo "$accel" >"$out/accel"
console=$out/console.log
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot -display none
	-machine q35 "${accel_opts[@]}" -m "$mem" -smp "$cpus"
	-kernel "$kernel" -append "$cmdline"
	-fsdev "local,id=rootfs,path=/,security_model=none,readonly=on,multidevs=remap"
	-device virtio-9p-pci,fsdev=rootfs,mount_tag=rext2root
	-fsdev "local,id=outfs,path=$out,security_model=none,multidevs=remap"
	-device virtio-9p-pci,fsdev=outfs,mount_tag=rext2out
	-device virtio-rng-pci
	"${drives[@]}" "${plugin[@]}")

start=$(date +%s)
timed_out=0
qstatus=0
if [ $interactive = 1 ]; then
	# Serial console on our terminal (Ctrl-A X quits), also logged for the
	# scan. In the foreground and without a watchdog: a shell has no deadline.
	qemu+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$console" -serial chardev:con -mon chardev=con)
	"${qemu[@]}" || qstatus=$?
else
	qemu+=(-serial "file:$console")
	# QEMU runs in a subshell whose own stderr is muted: otherwise bash reports
	# "Killed"/"Aborted" for it. QEMU's stderr (fd 3) still reaches ours.
	{
		trap '' INT TERM HUP # outlive a Ctrl-C to reap QEMU (QEMU sets its own handlers)
		st=0
		"${qemu[@]}" -pidfile "$tmp/qemu.pid" </dev/null 2>&3 || st=$?
		echo $st >"$tmp/qemu.status"
	} 3>&2 2>/dev/null &
	qpid=$!
	# Stream CMD's output; tail exits by itself shortly after QEMU does.
	tail -n +1 -s 0.2 -f --pid="$qpid" "$out/output.log" &
	tpid=$!
	# Wall-clock watchdog.
	while kill -0 "$qpid" 2>/dev/null; do
		if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
			timed_out=1
			kill -9 "$(cat "$tmp/qemu.pid" 2>/dev/null)" 2>/dev/null || true
			break
		fi
		sleep 0.5
	done
	wait "$qpid" || true
	qstatus=$(cat "$tmp/qemu.status" 2>/dev/null || echo '?')
	qpid=
	wait "$tpid" || true
	tpid=
fi
elapsed=$(($(date +%s) - start))

[ -f "$console" ] || : >"$console"
reports=0
if kreport_scan "$console" >"$tmp/reports"; then reports=1; fi

# A guest that died or hung while booting, before the command started, is
# booted again (twice at most): under TCG an early-boot crash in the kernel's
# own code patching has been seen now and then on a loaded machine, and it
# says nothing about rext2. The end of the failed boot's console is printed.
if [ ! -f "$out/started" ] && [ ! -f "$out/exit-status" ] && [ $interactive = 0 ] &&
	[ "${REXT2_VM_BOOT_TRY:-0}" -lt 2 ]; then
	echo "vm.sh: the guest died while booting (QEMU status $qstatus, ${elapsed}s); booting again. Its last console lines:" >&2
	tail -n 12 "$console" | tr -d '\r' | sed 's/^/    /' >&2
	trap - EXIT
	cleanup
	REXT2_VM_BOOT_TRY=$((${REXT2_VM_BOOT_TRY:-0} + 1)) exec bash "$0" "${orig_args[@]}"
fi

if [ $timed_out = 1 ]; then
	[ $reports = 1 ] && cat "$tmp/reports" >&2
	echo "vm.sh: guest still running after ${timeout}s; killed. Last lines of the console:" >&2
	tail -n 60 "$console" | tr -d '\r' >&2
	result timeout
	exit 124
fi
if [ $reports = 1 ]; then
	where="not kept; use --out DIR"
	[ -z "$outdir" ] || where=$console
	# CMD may have printed these already (run-suite.sh does, per test).
	seen=$(cat "$out/kreports-seen" 2>/dev/null || echo 0)
	if [ "$(kreport_count <"$tmp/reports")" -le "$seen" ]; then
		echo "vm.sh: the kernel logged reports, shown above (console log: $where)" >&2
	else
		echo "vm.sh: the kernel logged a report (console log: $where):" >&2
		cat "$tmp/reports" >&2
	fi
fi
if [ ! -f "$out/exit-status" ]; then
	echo "vm.sh: the guest stopped before the command finished (QEMU status $qstatus, ${elapsed}s). Last lines of the console:" >&2
	tail -n 60 "$console" | tr -d '\r' >&2
	result no-status
	exit 125
fi
status=$(cat "$out/exit-status")
[[ $status =~ ^[0-9]+$ ]] || status=125
if [ $reports = 1 ]; then
	result kernel-report
	[ "$status" = 0 ] && status=1
	exit "$status"
fi
if [ "$status" = 0 ]; then result ok; else result cmd-failed; fi
exit "$status"
