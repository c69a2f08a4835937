#!/bin/bash
# timeout: 600
# I/O errors under rext2, injected with device-mapper between rext2 and the
# virtio disk (dm-flakey error_writes / error_reads, dm-error), for both
# write= paths:
#   - writeback of file data fails: fsync reports EIO (once, errseq), the
#     writer is not told success for data that did not reach the disk;
#   - writes of new files and metadata fail at sync/umount: no oops, no hang;
#   - reads fail (data, directories, inodes not cached): EIO to the caller,
#     a log line, no oops; the filesystem works again once the device does;
#   - the device goes away entirely (dm-error) under a running writer;
#   - an inode table block cannot be read: EIO, a log line, and errors=
#     (continue, remount-ro) applied;
# then e2fsck -fy repairs what the lost writes left and e2fsck -fn is clean.
# ext2 has no journal: lost metadata writes are expected damage; what must
# never happen is an oops, a hang, or success reported for lost data.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"

load_rext2
D=$(disk 2)
M=$(mnt_dir a)
SECT=$((64 * 2048))
NAME=rext2-io
DEV=/dev/mapper/$NAME
mark=$(kmsg_mark 185)
cleanup_dm() { dmsetup remove --noudevsync "$NAME" 2>/dev/null || true; }
trap 'flusher_restore; t_cleanup; cleanup_dm' EXIT

FAULTS=0
dm_table() { # dm_table TABLE: swap the live table
	[ "$1" = "$LINEAR" ] || FAULTS=$((FAULTS + 1))
	dmsetup suspend --noudevsync --nolockfs --noflush "$NAME" || fail "dmsetup suspend"
	echo "$1" | dmsetup load "$NAME" || fail "dmsetup load $1"
	dmsetup resume --noudevsync "$NAME" || fail "dmsetup resume"
}
LINEAR="0 $SECT linear $D 0"
WERR="0 $SECT flakey $D 0 0 3600 1 error_writes"
RERR="0 $SECT flakey $D 0 0 3600 1 error_reads"
DEAD="0 $SECT error"

py() { "$PY" - "$@"; }

ROUNDS=${ROUNDS:-1}
for ((round = 0; round < ROUNDS; round++)); do
for mode in multipage classic; do
	t_log "write=$mode (round $round)"
	cleanup_dm
	# No udev in the guest: make the /dev/mapper node ourselves.
	echo "$LINEAR" | dmsetup create --noudevsync "$NAME" || fail "dmsetup create"
	dmsetup mknodes "$NAME"
	[ -b "$DEV" ] || fail "$DEV missing after dmsetup create"
	mke2fs -q -F -t ext2 -b 1024 "$DEV" || fail "mke2fs"
	mount_fs "$RFS" "$DEV" "$M" "write=$mode"
	py "$M" <<'PYEOF' || fail "setup ($mode)"
import os, sys
d = sys.argv[1]
for i in range(4):
    with open(os.path.join(d, "keep%d" % i), "wb") as f:
        f.write(bytes([65 + i]) * 300000)
        os.fsync(f.fileno())
os.mkdir(os.path.join(d, "dir"))
for i in range(50):
    open(os.path.join(d, "dir", "f%d" % i), "w").write("x" * i)
os.sync()
PYEOF

	t_log "writeback errors reach fsync"
	dm_table "$WERR"
	py "$M" <<'PYEOF' || fail "fsync did not report the lost write ($mode)"
import errno, os, sys
d = sys.argv[1]
bad = []
def expect_eio(what, fn):
    try:
        fn()
        bad.append(what + ": succeeded")
    except OSError as e:
        if e.errno != errno.EIO:
            bad.append("%s: %s" % (what, e))
fd = os.open(os.path.join(d, "keep0"), os.O_WRONLY)
os.pwrite(fd, b"z" * 200000, 5000)
expect_eio("fsync after a failed overwrite", lambda: os.fsync(fd))
os.close(fd)
fd = os.open(os.path.join(d, "new"), os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"n" * 1000000)
expect_eio("fsync of a new file", lambda: os.fsync(fd))
os.close(fd)
fd = os.open(os.path.join(d, "sync"), os.O_WRONLY | os.O_CREAT | os.O_SYNC, 0o644)
expect_eio("O_SYNC write", lambda: os.write(fd, b"s" * 70000))
os.close(fd)
print("\n".join(bad) or "fsync/O_SYNC reported EIO")
sys.exit(1 if bad else 0)
PYEOF
	# Metadata writes fail too: creating, renaming, deleting, then syncfs.
	mkdir "$M/meta" && touch "$M/meta/a" && mv "$M/dir/f1" "$M/meta/" && rm -f "$M/dir/f2" ||
		fail "namespace operations in the page cache"
	if sync -f "$M" 2>/dev/null; then echo "note: syncfs returned success with failing writes"; fi
	dm_table "$LINEAR"

	t_log "read errors"
	echo 3 >/proc/sys/vm/drop_caches
	dm_table "$RERR"
	py "$M" <<'PYEOF' || fail "reads on a failing device ($mode)"
import errno, os, sys
d = sys.argv[1]
bad = []
for what, fn in (("read", lambda: open(os.path.join(d, "keep3"), "rb").read()),
                 ("readdir", lambda: os.listdir(os.path.join(d, "dir"))),
                 ("stat", lambda: os.stat(os.path.join(d, "dir", "f40")))):
    try:
        fn()
        print("note: %s succeeded (cached)" % what)
    except OSError as e:
        if e.errno not in (errno.EIO, errno.EUCLEAN):
            bad.append("%s: %s" % (what, e))
print("\n".join(bad) or "reads failed with EIO")
sys.exit(1 if bad else 0)
PYEOF
	dm_table "$LINEAR"
	cmp -n 300000 "$M/keep3" <(head -c 300000 /dev/zero | tr '\0' 'D') || fail "keep3 unreadable after the device came back"

	t_log "the device dies under a writer"
	( dd if=/dev/zero of="$M/dying" bs=64k count=400 conv=fsync status=none 2>/dev/null || true ) &
	sleep 1
	dm_table "$DEAD"
	wait
	ls "$M" >/dev/null 2>&1 || true
	umount "$M" 2>/dev/null || umount -l "$M" || fail "umount after the device died"
	dm_table "$LINEAR"
	e2fsck -fy "$DEV" >"$WORK/fsck-$mode.log" 2>&1 || true
	echo "e2fsck -fy repaired: $(grep -c -E '^(Fix|Clear|Salvage|Relocate|Inode .* has|Block bitmap|Free )' "$WORK/fsck-$mode.log" || true) kinds of damage"
	fsck_clean "$DEV"
	mount_fs "$RFS" "$DEV" "$M" "write=$mode"
	for i in 1 2 3; do
		cmp "$M/keep$i" <(head -c 300000 /dev/zero | tr '\0' "$(printf "\\x$(printf %x $((65 + i)))")") ||
			fail "keep$i (fsync'd before the errors) changed"
	done
	umount_fs "$M"
	fsck_clean "$DEV"
	cleanup_dm
done
done

# errors= on metadata that cannot be read: one inode table block of the
# device fails (dm-error over just its sectors). Looking the inode up gets
# EIO; errors=continue keeps the filesystem writable, errors=remount-ro
# makes it read-only; the error is logged and recorded on disk.
for policy in continue remount-ro; do
	t_log "errors=$policy on an unreadable inode table block"
	cleanup_dm
	echo "$LINEAR" | dmsetup create --noudevsync "$NAME" || fail "dmsetup create"
	dmsetup mknodes "$NAME"
	mke2fs -q -F -t ext2 -b 1024 "$DEV" || fail "mke2fs"
	mount_fs "$RFS" "$DEV" "$M" "errors=$policy"
	for i in $(seq 1 30); do echo "$i" >"$M/f$i"; done
	umount_fs "$M"
	# f30 is far enough from the root inode to sit in another table block.
	ino=$(debugfs -R "stat /f30" "$DEV" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
	blk=$(debugfs -R "imap <$ino>" "$DEV" 2>/dev/null | sed -n 's/.*located at block \([0-9]*\),.*/\1/p')
	[ -n "$blk" ] || fail "no inode table block for /f30"
	root_blk=$(debugfs -R "imap <2>" "$DEV" 2>/dev/null | sed -n 's/.*located at block \([0-9]*\),.*/\1/p')
	[ "$blk" != "$root_blk" ] || fail "/f30 shares the root inode's table block"
	mount_fs "$RFS" "$DEV" "$M" "errors=$policy"
	ls "$M" >/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	s=$((blk * 2))
	dm_table "0 $s linear $D 0
$s 2 error
$((s + 2)) $((SECT - s - 2)) linear $D $((s + 2))"
	emark=$(kmsg_mark "185-$policy")
	if out=$(stat "$M/f30" 2>&1); then fail "stat of an inode in an unreadable block succeeded"; fi
	case $out in *"Input/output error"*) ;; *) fail "stat: want EIO, got: $out" ;; esac
	kmsg_since "$emark" | grep -q "unable to read inode block" || fail "no log line for the unreadable inode block"
	ro=$(awk -v m="$M" '$2 == m {print $4}' /proc/mounts | tr , '\n' | grep -x -c ro || true)
	if [ "$policy" = remount-ro ]; then
		assert_eq "$ro" 1 "read-only after errors=remount-ro"
		if touch "$M/new" 2>/dev/null; then fail "a file was created after errors=remount-ro"; fi
	else
		assert_eq "$ro" 0 "still writable with errors=continue"
		echo ok >"$M/new" || fail "create after errors=continue"
	fi
	dm_table "$LINEAR"
	umount_fs "$M"
	e2fsck -fy "$DEV" >/dev/null 2>&1 || true
	fsck_clean "$DEV"
	cleanup_dm
done

assert_no_kreports "$mark"
echo "faults injected: $FAULTS"
t_log "185-ioerror: ok"
