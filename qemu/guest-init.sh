#!/bin/bash
# PID 1 of the rext2 test VM (booted by qemu/vm.sh, which documents the
# contract). The root filesystem is the host's /, read-only over 9p. This
# script makes the few writable places tools need, mounts the results share,
# runs the command vm.sh left in $REXT2_OUT/cmd.sh, records its exit status
# and powers off.
#
# No `set -e`: if PID 1 exits the kernel panics, and then the host cannot
# tell what went wrong. Every step reports its own failure instead.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8
umask 022

say() { echo "guest-init: $*" >/dev/console; }

halt() {
	# Sync in the background: a wedged filesystem under test must not keep the
	# VM from powering off.
	sync &
	local i
	for ((i = 0; i < 50; i++)); do kill -0 $! 2>/dev/null || break; sleep 0.1; done
	echo o >/proc/sysrq-trigger # ACPI power off; QEMU exits
	sleep 10
	echo b >/proc/sysrq-trigger # reboot, which -no-reboot turns into an exit
	sleep 1000
}

mnt() { mount "$@" || say "mount $* failed"; }

mnt -t proc proc /proc
mnt -t sysfs sysfs /sys
# CONFIG_DEVTMPFS_MOUNT usually mounted /dev already. Every exec costs
# ~0.1-0.3 s under TCG, hence builtins where they do.
[[ $(</proc/mounts) == *" /dev devtmpfs "* ]] || mnt -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
# What udev would add: bash's <(...) needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
for f in 0:stdin 1:stdout 2:stderr; do ln -sfn "/proc/self/fd/${f%:*}" "/dev/${f#*:}"; done
mnt -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mnt -t tmpfs -o mode=1777 tmpfs /dev/shm
mnt -t tmpfs -o mode=755 tmpfs /run
mnt -t debugfs debugfs /sys/kernel/debug
[ ! -d /sys/kernel/config ] || mnt -t configfs configfs /sys/kernel/config

export REXT2_OUT=/run/rext2/out
mkdir -p "$REXT2_OUT"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 rext2out "$REXT2_OUT" ||
	[ ! -f "$REXT2_OUT/vm.env" ]; then
	say "cannot mount the results share; powering off"
	halt
fi
. "$REXT2_OUT/vm.env"
export REXT2_ROOT

# Writable scratch space. If the repo lives under one of these directories,
# move it on top of the tmpfs so that it stays visible at the same path.
for d in /tmp /var/tmp; do
	case $REXT2_ROOT/ in
	$d/*)
		mkdir -p /run/rext2/repo
		mount --bind "$REXT2_ROOT" /run/rext2/repo
		mnt -t tmpfs -o mode=1777 tmpfs "$d"
		mkdir -p "$REXT2_ROOT"
		mount --move /run/rext2/repo "$REXT2_ROOT"
		;;
	*) mnt -t tmpfs -o mode=1777 tmpfs "$d" ;;
	esac
done
# /root is the host's, read-only; give tools a writable home instead.
export HOME=/tmp/home
mkdir -p "$HOME"
echo rext2-vm >/proc/sys/kernel/hostname

# A guest that is about to be killed for running too long: dump the blocked
# tasks and the CPUs' backtraces first, so the console log shows where it hung.
if [ "$VM_INTERACTIVE" = 0 ] && [ "$VM_TIMEOUT" -ge 60 ]; then
	(
		sleep $((VM_TIMEOUT - 20))
		echo "guest-init: ${VM_TIMEOUT}s timeout is near; dumping blocked tasks" >/dev/kmsg
		echo w >/proc/sysrq-trigger
		echo l >/proc/sysrq-trigger
	) &
fi

cd "$REXT2_ROOT" || say "cannot cd to $REXT2_ROOT"
# Tells vm.sh the boot is over: a guest that dies before this is booted again.
: >"$REXT2_OUT/started"
if [ "$VM_INTERACTIVE" = 1 ]; then
	# Warnings and worse still reach the terminal; the boot chatter did not.
	dmesg -n 5
	stty -F /dev/ttyS0 sane rows "$VM_ROWS" cols "$VM_COLS" 2>/dev/null
	# setsid -c: the serial line becomes the controlling terminal (job control,
	# Ctrl-C).
	TERM=$VM_TERM setsid -w -c bash "$REXT2_OUT/cmd.sh" </dev/ttyS0 >/dev/ttyS0 2>&1
	status=$?
else
	TERM=dumb bash "$REXT2_OUT/cmd.sh" </dev/null >>"$REXT2_OUT/output.log" 2>&1
	status=$?
fi
echo "$status" >"$REXT2_OUT/exit-status.tmp" && mv "$REXT2_OUT/exit-status.tmp" "$REXT2_OUT/exit-status"
halt
