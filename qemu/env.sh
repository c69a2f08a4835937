# Shared settings for the rext2 scripts; sourced, not run.
REXT2_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REXT2_CACHE=${REXT2_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rext2}
REXT2_TOOLS=${REXT2_TOOLS:-$REXT2_CACHE/tools}
# Debian's rustc has rust-src; the rustup one on PATH does not.
KRUSTC=${KRUSTC:-/usr/bin/rustc}
BINDGEN=${BINDGEN:-$REXT2_TOOLS/bin/bindgen}
KVER=${KVER:-6.12}
export REXT2_ROOT REXT2_CACHE REXT2_TOOLS KRUSTC BINDGEN KVER
