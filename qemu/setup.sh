#!/usr/bin/env bash
# Install everything rext2 needs on a Debian 12 machine. Idempotent: a second
# run only checks. Run as root (or with sudo available).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
	SUDO=sudo
fi

debs=(
	linux-source-6.12 rustc-web rust-web-src rust-web-clippy libclang-dev clang llvm lld
	flex bison bc libelf-dev libssl-dev cpio build-essential kmod rsync
	python3-venv python3-pip
	qemu-system-x86 e2fsprogs xfsprogs fio stress-ng dmsetup attr acl
	gnuplot-nox xz-utils
)
missing=()
for p in "${debs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing Debian packages: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# bindgen: Debian's is older than the kernel's minimum (0.65.1).
if ! "$BINDGEN" --version 2>/dev/null | grep -qE 'bindgen 0\.(6[5-9]|[7-9][0-9])'; then
	echo "setup: installing bindgen-cli from crates.io into $REXT2_TOOLS"
	mkdir -p "$REXT2_TOOLS"
	cargo install --locked --root "$REXT2_TOOLS" bindgen-cli
fi

# virtme-ng for interactive shells, in its own venv.
if [ ! -x "$REXT2_TOOLS/venv/bin/vng" ]; then
	echo "setup: installing virtme-ng from PyPI into $REXT2_TOOLS/venv"
	python3 -m venv "$REXT2_TOOLS/venv"
	"$REXT2_TOOLS/venv/bin/pip" install -q virtme-ng
fi

# Final check: name whatever is still missing.
fail=0
need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: missing $1 ($2)" >&2; fail=1; }; }
need "$KRUSTC" "apt-get install rustc-web rust-web-src"
need "$BINDGEN" "cargo install --locked --root $REXT2_TOOLS bindgen-cli"
need qemu-system-x86_64 "apt-get install qemu-system-x86"
need mke2fs "apt-get install e2fsprogs"
need e2fsck "apt-get install e2fsprogs"
need debugfs "apt-get install e2fsprogs"
need cargo "install Rust's cargo (rustup)"
[ -f /usr/src/linux-source-6.12.tar.xz ] || { echo "setup: missing /usr/src/linux-source-6.12.tar.xz (apt-get install linux-source-6.12)" >&2; fail=1; }
[ -d /usr/lib/rustlib/src/rust/library/core ] || { echo "setup: missing rust-src for $KRUSTC (apt-get install rust-web-src)" >&2; fail=1; }
[ $fail = 0 ] || exit 1
echo "setup: all tools present"
