#!/usr/bin/env bash
# `make run`: boot the test kernel in QEMU with a fresh virtio disk, load
# rext2, and show it at work (qemu/demo-guest.sh is what runs in the VM).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$REXT2_ROOT"
[ -f rext2.ko ] || { echo "demo: rext2.ko is not built (run make)" >&2; exit 1; }
echo "demo: booting the test kernel with a fresh 512 MiB virtio-blk disk (/dev/vda)"
exec bash "$here/vm.sh" --disk 512M --timeout 900 -- bash qemu/demo-guest.sh
