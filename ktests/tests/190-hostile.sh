#!/bin/bash
# timeout: 900
# Hostile images (ktests/tools/hostile.py): valid ext2 images from the C
# ext2, corrupted by a seeded generator (superblock, descriptors, bitmaps,
# inode fields, block pointers out of range / onto metadata / looping /
# shared, directory entries, indirect blocks, random byte flips), each
# mounted (read-only or read-write) and walked by rext2: readdir, stat,
# read, readlink, and on rw mounts create/append/truncate/rename/unlink.
# Each must be refused at mount or give EIO/EUCLEAN on the bad objects:
# never an oops, a lockdep report, or a hang (60 s per step). COUNT images
# (default 40) from SEED (default: the clock; printed), plus every seed in
# ktests/hostile-regressions.txt (images that once broke something).
# HOSTILE_SECONDS stops starting new generated images after that long.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"

load_rext2
SEED=${SEED:-${KTEST_SEED:-$(date +%s%N | cut -c1-9)}}
COUNT=${COUNT:-40}
regress=$(awk '!/^#/ && NF {print $1}' "$REXT2_ROOT/ktests/hostile-regressions.txt" | tr '\n' ' ')
echo "seed=$SEED count=$COUNT regressions: ${regress:-none}"
[ -z "${HOSTILE_SECONDS:-}" ] || export HOSTILE_DEADLINE=$(($(date +%s) + HOSTILE_SECONDS))
mark=$(kmsg_mark 190)
# shellcheck disable=SC2086
"$PY" "$TOOLS/hostile.py" "$WORK/hostile" "$COUNT" "$SEED" $regress || fail "a hostile image hung or broke the walk (seed $SEED; above)"
assert_no_kreports "$mark"
t_log "190-hostile: ok (seed $SEED)"
