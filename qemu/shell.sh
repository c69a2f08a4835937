#!/usr/bin/env bash
# `make shell`: an interactive root shell in the test VM, rext2.ko loaded and
# a disk attached as /dev/vda: a fresh 1 GiB one formatted with mke2fs -t ext2,
# or DISK=path.img to use an existing raw image (used in place, not copied).
# Extra disks: DISKS="2G other.img" (become /dev/vdb, /dev/vdc, ...).
# Quit with `exit` (or Ctrl-A X).
#
# Run with --guest (by vm.sh, inside the VM) it does the guest-side setup and
# then becomes the shell.
set -euo pipefail

if [ "${1:-}" = --guest ]; then
	fresh=$2
	cd /tmp
	if [ -f "$REXT2_ROOT/rext2.ko" ]; then
		insmod "$REXT2_ROOT/rext2.ko" && echo "rext2.ko loaded" || echo "insmod rext2.ko failed; see dmesg"
	else
		echo "note: $REXT2_ROOT/rext2.ko is not built"
	fi
	if [ "$fresh" = 1 ]; then
		mke2fs -q -F -t ext2 /dev/vda && echo "/dev/vda: fresh 1 GiB ext2 filesystem"
	fi
	cat <<-'EOF'

		Try:
		  mount -t rext2 -o ro /dev/vda /mnt && ls -la /mnt
		  umount /mnt && e2fsck -fn /dev/vda
		  mount -t ext2 /dev/vda /mnt      # the kernel's own ext2, to compare
		  dmesg | tail
		/ and the repo are read-only (mounting on /mnt still works); /tmp is
		writable. `exit` powers the VM off.

	EOF
	export PS1='rext2-vm:\w# '
	exec bash --norc -i
fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
args=()
if [ -n "${DISK:-}" ]; then
	[ -f "$DISK" ] || { echo "shell.sh: DISK=$DISK does not exist" >&2; exit 2; }
	args+=(--disk "$DISK")
	fresh=0
else
	args+=(--disk 1G)
	fresh=1
fi
for d in ${DISKS:-}; do args+=(--disk "$d"); done
exec bash "$here/vm.sh" --interactive "${args[@]}" -- bash "$REXT2_ROOT/qemu/shell.sh" --guest "$fresh"
