#!/usr/bin/env bash
# Build (or find in the cache) the rext2 test kernel and print its build dir.
#   build-kernel.sh [debug|bench]
# debug (default): base.config + debug.config (lockdep, DEBUG_VM, KASAN).
# bench: base.config only, for timings.
# The cache key is the Debian source version + a hash of the config inputs and
# toolchain versions, so a second run is a no-op and a config change rebuilds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

variant=${1:-debug}
case $variant in
debug) frags=("$here/config/base.config" "$here/config/debug.config") ;;
bench) frags=("$here/config/base.config") ;;
*) echo "build-kernel: unknown variant '$variant' (debug|bench)" >&2; exit 2 ;;
esac

tarball=/usr/src/linux-source-$KVER.tar.xz
[ -f "$tarball" ] || { echo "build-kernel: $tarball missing; run qemu/setup.sh" >&2; exit 1; }
[ -x "$BINDGEN" ] || { echo "build-kernel: bindgen missing at $BINDGEN; run qemu/setup.sh" >&2; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' "linux-source-$KVER")
key=$({ echo "$srcver"; cat "${frags[@]}" "$here/build-kernel.sh"; "$KRUSTC" --version; "$BINDGEN" --version; gcc --version | head -1; } | sha256sum | cut -c1-12)

src=$REXT2_CACHE/src/linux-source-$KVER-$srcver
out=$REXT2_CACHE/kernel/$KVER-$variant-$key
if [ -f "$out/.rext2-done" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$REXT2_CACHE/src" "$REXT2_CACHE/kernel"
exec 9>"$REXT2_CACHE/kernel/.lock"
flock 9
if [ -f "$out/.rext2-done" ]; then echo "$out"; exit 0; fi

if [ ! -f "$src/.rext2-unpacked" ]; then
	echo "build-kernel: unpacking $tarball" >&2
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	touch "$src.tmp/.rext2-unpacked"
	mv "$src.tmp" "$src"
fi

kmake() {
	make -C "$src" O="$out" ARCH=x86_64 RUSTC="$KRUSTC" BINDGEN="$BINDGEN" \
		HOSTRUSTC="$KRUSTC" "$@"
}

echo "build-kernel: configuring $variant kernel in $out" >&2
rm -rf "$out"
mkdir -p "$out"
kmake -s x86_64_defconfig kvm_guest.config >&2
KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
	"$out/.config" "${frags[@]}" >/dev/null
kmake -s olddefconfig >&2

# Every fragment line must have stuck (a missing dependency drops it silently).
bad=0
while IFS= read -r line; do
	case $line in CONFIG_*) ;; *) continue ;; esac
	sym=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		grep -qx "$sym=[ym].*" "$out/.config" && { echo "build-kernel: $sym is still set" >&2; bad=1; }
	else
		grep -qx "$line" "$out/.config" || { echo "build-kernel: $line did not stick ($(grep "^$sym=\|# $sym " "$out/.config"))" >&2; bad=1; }
	fi
done < <(cat "${frags[@]}")
if [ $bad != 0 ]; then
	kmake -s rustavailable >&2 || true
	exit 1
fi

echo "build-kernel: building (about 15 minutes on 2 cores; log in $out/build.log)" >&2
start=$(date +%s)
if ! kmake -j"$(($(nproc) + 1))" all >"$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	echo "build-kernel: build failed; full log in $out/build.log" >&2
	exit 1
fi
echo "build-kernel: built in $(($(date +%s) - start)) s" >&2
touch "$out/.rext2-done"
echo "$out"
