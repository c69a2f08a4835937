# Shared settings for the rext2 scripts; sourced, not run.
REXT2_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REXT2_CACHE=${REXT2_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rext2}
REXT2_TOOLS=${REXT2_TOOLS:-$REXT2_CACHE/tools}
# Debian's rustc has rust-src; the rustup one on PATH does not.
KRUSTC=${KRUSTC:-/usr/bin/rustc}
BINDGEN=${BINDGEN:-$REXT2_TOOLS/bin/bindgen}
KVER=${KVER:-6.12}
export REXT2_ROOT REXT2_CACHE REXT2_TOOLS KRUSTC BINDGEN KVER

# Builds rext2.ko for the non-debug (bench) kernel in a copy of the sources,
# target/bench-module/, so the debug build in the work tree stays as it is.
# Sets kdir (the kernel tree) and bdir (where rext2.ko is).
build_bench_module() {
	kdir=$(bash "$REXT2_ROOT/qemu/build-kernel.sh" bench)
	bdir=$REXT2_ROOT/target/bench-module
	mkdir -p "$bdir"
	rsync -a --delete --exclude bindings_generated.rs --exclude '*.o' --exclude '.*.cmd' \
		"$REXT2_ROOT/Kbuild" "$REXT2_ROOT/rust" "$bdir/"
	make -s -C "$kdir" M="$bdir" RUSTC="$KRUSTC" BINDGEN="$BINDGEN" HOSTRUSTC="$KRUSTC" modules
}
