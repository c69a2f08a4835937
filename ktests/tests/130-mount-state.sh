#!/bin/bash
# timeout: 400
# Mount state of a read-write rext2, as the superblock (dumpe2fs -h) and
# /proc/mounts show it:
#   - a ro mount of a clean fs changes nothing (image byte-identical, mount
#     count unchanged) and refuses writes with EROFS
#   - a rw mount: /proc/mounts says rw, state "not clean", mount count +1,
#     last write time now; sync/syncfs keep it "not clean"
#   - remount,ro with dirty data: the data is on the disk (debugfs -D, with
#     the flusher off), state clean, every modifying call EROFS, reads work
#   - remount,ro is refused (EBUSY) while a file is open for writing, and the
#     mount stays rw; remount,rw: not clean again, mount count +1, writable
#   - umount: clean; mount count rises by exactly one per rw mount (3 more
#     cycles), not for ro mounts
#   - errors=continue|remount-ro|panic: /proc/mounts shows errors= exactly
#     when it differs from the superblock default (tune2fs -e changes that
#     default), also after a remount that changes it; errors=bogus refused
#   - errors= in action on a corrupted directory entry: remount-ro turns the
#     mount ro and writes fail with EROFS; continue keeps it rw; both log a
#     line naming rext2 and leave "with errors" in the superblock state; the
#     next mount warns about it
#   - an unchecked fs (state 0 via debugfs ssv) and one past its maximal
#     mount count mount with a warning naming rext2, and stay not clean
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"
. "$REXT2_ROOT/ktests/tools/rwtest.sh"

load_rext2
DEV=$(disk 2)
M=$(mnt_dir m)
start=$SECONDS
SIZE=32M
SIZE_BYTES=$((32 << 20))
flusher_off # remount,ro must write the dirty data itself
mnt_opts() { awk -v m="$M" '$2 == m { print $3 " " $4 }' /proc/mounts; }
assert_mounted() { # assert_mounted ro|rw
	local o
	o=$(mnt_opts)
	[[ $o == "$RFS $1,"* || $o == "$RFS $1" ]] || fail "expected a $1 $RFS mount on $M, /proc/mounts says '$o'"
}
mount_kmsg() { # mount_kmsg LABEL OPTS: mount, print the kernel lines it logged
	local mk
	mk=$(kmsg_mark "$1")
	mount_fs "$RFS" "$DEV" "$M" "$2"
	KLOG=$(kmsg_since "$mk")
}
modify_ops() {
	op EROFS creat "$M/new"
	op EROFS open-wronly "$M/file"
	op EROFS open-trunc "$M/file"
	op EROFS append "$M/file"
	op EROFS truncate "$M/file" 0
	op EROFS unlink "$M/file"
	op EROFS mkdir "$M/newdir"
	op EROFS rmdir "$M/dir"
	op EROFS rename "$M/file" "$M/renamed"
	op EROFS link "$M/file" "$M/hard"
	op EROFS symlink "$M/sym" target
	op EROFS mknod-fifo "$M/fifo"
	op EROFS chmod "$M/file" 600
	op EROFS chown "$M/file" 1 1
	op EROFS utime "$M/file"
	op "OK 6" read "$M/file"
	op "OK 1" listdir "$M/dir"
}

mke2fs -q -F -t ext2 -b 1024 "$DEV" $SIZE || fail "mke2fs failed"
assert_eq "$(sbf "$DEV" 'Filesystem state')" clean "state after mke2fs"
assert_eq "$(sbf "$DEV" 'Mount count')" 0 "mount count after mke2fs"
mark=$(kmsg_mark 130)

t_log "ro mount of a clean fs"
mount_fs ext2 "$DEV" "$M"
echo hello >"$M/file"
mkdir "$M/dir"
touch "$M/dir/inside"
umount_fs "$M"
before=$(dev_hash "$DEV" $SIZE_BYTES)
mc0=$(sbf "$DEV" 'Mount count')
mount_fs "$RFS" "$DEV" "$M" ro
assert_mounted ro
assert_eq "$(sbf "$DEV" 'Filesystem state')" clean "state during a ro mount"
modify_ops
ops_run "ro mount" 1
[ "$OPS_NFAIL" = 0 ] || fail "calls on a ro mount gave wrong results (above)"
umount_fs "$M"
assert_eq "$(dev_hash "$DEV" $SIZE_BYTES)" "$before" "image changed by a ro mount"
assert_eq "$(sbf "$DEV" 'Mount count')" "$mc0" "mount count after a ro mount"

t_log "rw mount"
t0=$(date +%s)
mount_fs "$RFS" "$DEV" "$M"
assert_mounted rw
assert_eq "$(sbf "$DEV" 'Filesystem state')" "not clean" "state while mounted rw"
assert_eq "$(sbf "$DEV" 'Mount count')" $((mc0 + 1)) "mount count after a rw mount"
lw=$(date -d "$(sbf "$DEV" 'Last write time')" +%s) || fail "cannot parse Last write time"
[ "$lw" -ge $((t0 - 2)) ] || fail "Last write time $lw is older than the mount ($t0)"
echo more >>"$M/file"
sync
assert_eq "$(sbf "$DEV" 'Filesystem state')" "not clean" "state after sync"
sync -f "$M"
assert_eq "$(sbf "$DEV" 'Filesystem state')" "not clean" "state after syncfs"

t_log "remount,ro with dirty data"
head -c 200000 /dev/urandom >"$WORK/dirty"
cp "$WORK/dirty" "$M/dirty"
printf 'hello\n' >"$M/file"
mount -o remount,ro "$M" || fail "remount,ro failed"
assert_mounted ro
assert_eq "$(sbf "$DEV" 'Filesystem state')" clean "state after remount,ro"
assert_eq "$(sbf "$DEV" 'Mount count')" $((mc0 + 1)) "mount count after remount,ro"
debugfs -D -R "cat /dirty" "$DEV" 2>/dev/null >"$WORK/dirty.disk"
cmp "$WORK/dirty" "$WORK/dirty.disk" || fail "data written before remount,ro is not on the disk"
modify_ops
ops_run "after remount,ro" 1
[ "$OPS_NFAIL" = 0 ] || fail "calls after remount,ro gave wrong results (above)"
cmp "$WORK/dirty" "$M/dirty" || fail "file unreadable after remount,ro"

t_log "remount,rw; remount,ro refused while a file is open for writing"
mount -o remount,rw "$M" || fail "remount,rw failed"
assert_mounted rw
assert_eq "$(sbf "$DEV" 'Filesystem state')" "not clean" "state after remount,rw"
assert_eq "$(sbf "$DEV" 'Mount count')" $((mc0 + 2)) "mount count after remount,rw"
echo written-after-remount >"$M/after"
exec 3>>"$M/after"
expect_fail mount -o remount,ro "$M"
assert_mounted rw
echo still >&3
exec 3>&-
mount -o remount,ro "$M" || fail "remount,ro failed after the file was closed"
assert_mounted ro
mount -o remount,rw "$M" || fail "remount,rw failed"
assert_eq "$(sbf "$DEV" 'Mount count')" $((mc0 + 3)) "mount count after a second remount,rw"
assert_eq "$(cat "$M/after")" "written-after-remount"$'\n'"still" "file written across remounts"
umount_fs "$M"
assert_eq "$(sbf "$DEV" 'Filesystem state')" clean "state after umount"
fsck_clean "$DEV"

t_log "mount count: +1 per rw mount, +0 per ro mount"
mc=$(sbf "$DEV" 'Mount count')
for i in 1 2 3; do
	mount_fs "$RFS" "$DEV" "$M"
	assert_eq "$(sbf "$DEV" 'Mount count')" $((mc + i)) "mount count during rw mount $i"
	umount_fs "$M"
	mount_fs "$RFS" "$DEV" "$M" ro
	umount_fs "$M"
done
assert_eq "$(sbf "$DEV" 'Mount count')" $((mc + 3)) "mount count after 3 rw and 3 ro mounts"
assert_eq "$(sbf "$DEV" 'Filesystem state')" clean "state after the cycles"

t_log "errors= in /proc/mounts"
assert_eq "$(sbf "$DEV" 'Errors behavior')" Continue "default errors behaviour from mke2fs"
shows() { # shows OPTS WANT: mount with OPTS; errors= shown must be WANT ('' = none)
	local o got
	mount_fs "$RFS" "$DEV" "$M" "$1"
	o=$(mnt_opts)
	got=$(grep -o 'errors=[a-z-]*' <<<"$o" || true)
	umount_fs "$M"
	# (C ext2, when this test is pointed at it, always shows continue and
	# panic: the rule checked here is rext2's.)
	[ "$RFS" = ext2 ] && return
	assert_eq "$got" "$2" "errors= shown for mount -o $1 (superblock default $(sbf "$DEV" 'Errors behavior'))"
}
shows rw ""
shows errors=continue ""
shows errors=remount-ro errors=remount-ro
shows errors=panic errors=panic
tune2fs -e remount-ro "$DEV" >/dev/null || fail "tune2fs -e failed"
assert_eq "$(sbf "$DEV" 'Errors behavior')" "Remount read-only" "errors behaviour after tune2fs -e"
shows rw ""
shows errors=remount-ro ""
shows errors=continue errors=continue
mount_fs "$RFS" "$DEV" "$M" errors=continue
mount -o remount,errors=panic "$M" || fail "remount,errors=panic failed"
grep -q 'errors=panic' <<<"$(mnt_opts)" || fail "errors=panic not shown after remount: $(mnt_opts)"
mount -o remount,errors=remount-ro "$M" || fail "remount,errors=remount-ro failed"
[ "$RFS" != ext2 ] && grep -q 'errors=' <<<"$(mnt_opts)" && fail "errors= shown after a remount back to the default: $(mnt_opts)"
umount_fs "$M"
expect_fail mount -t "$RFS" -o errors=bogus "$DEV" "$M"
mountpoint -q "$M" && fail "mount with errors=bogus left something mounted"
tune2fs -e continue "$DEV" >/dev/null || fail "tune2fs -e failed"

t_log "errors= in action: a corrupted directory entry"
mount_fs ext2 "$DEV" "$M"
mkdir "$M/bad"
for n in a b c; do echo "$n" >"$M/bad/$n"; done
dino=$(stat -c %i "$M/bad")
umount_fs "$M"
$POKE "$DEV" dirent-set "$dino" b rec_len 0 || fail "ext2poke failed"
mount_kmsg 130-remount-ro errors=remount-ro
assert_mounted rw
mk=$(kmsg_mark 130-err-ro)
expect_fail ls "$M/bad"
log=$(kmsg_since "$mk")
grep -i "$RFS" <<<"$log" >/dev/null || { echo "$log"; fail "no kernel log line naming $RFS for the corrupt directory"; }
echo "kernel log: $(grep -i "$RFS" <<<"$log" | head -3)"
assert_mounted ro
expect_fail -e EROFS touch "$M/after-error"
umount_fs "$M"
st=$(sbf "$DEV" 'Filesystem state')
[[ $st == *"with errors"* ]] || fail "state after an error with errors=remount-ro: '$st', want ... with errors"
mount_kmsg 130-continue errors=continue
grep -Eqi "$RFS.*(with errors|unchecked)" <<<"$KLOG" || { echo "$KLOG"; fail "mounting a fs with errors did not warn"; }
echo "kernel log: $(grep -i "$RFS" <<<"$KLOG" | head -3)"
expect_fail ls "$M/bad"
assert_mounted rw
echo ok >"$M/still-writable" || fail "errors=continue: write after the error failed"
umount_fs "$M"
st=$(sbf "$DEV" 'Filesystem state')
[[ $st == *"with errors"* ]] || fail "state after errors=continue: '$st', want ... with errors"
rc=0
e2fsck -fy "$DEV" >"$WORK/fsck.out" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$WORK/fsck.out"; fail "e2fsck -fy repairing the corruption: exit $rc, want 1"; }
fsck_clean "$DEV"

t_log "unchecked fs and maximal mount count"
debugfs -w -R "ssv state 0" "$DEV" >/dev/null 2>&1 || fail "debugfs ssv failed"
assert_eq "$(sbf "$DEV" 'Filesystem state')" "not clean" "state after ssv state 0"
mount_kmsg 130-unchecked rw
echo "kernel log: $(grep -i "$RFS" <<<"$KLOG" | head -3)"
grep -qi "$RFS.*unchecked" <<<"$KLOG" || { echo "$KLOG"; fail "no warning naming $RFS for an unchecked fs"; }
echo x >"$M/unchecked-write" || fail "write on the unchecked fs failed"
umount_fs "$M"
assert_eq "$(sbf "$DEV" 'Filesystem state')" "not clean" "an unchecked fs stays not clean after umount"
e2fsck -fy "$DEV" >/dev/null 2>&1 || true
assert_eq "$(sbf "$DEV" 'Filesystem state')" clean "state after e2fsck -fy"
tune2fs -c 2 -C 2 "$DEV" >/dev/null || fail "tune2fs -c failed"
mount_kmsg 130-maxmount rw
echo "kernel log: $(grep -i "$RFS" <<<"$KLOG" | head -3)"
grep -qi "$RFS.*maximal mount count" <<<"$KLOG" || { echo "$KLOG"; fail "no warning naming $RFS for a maximal mount count"; }
umount_fs "$M"
assert_eq "$(sbf "$DEV" 'Mount count')" 3 "mount count"
tune2fs -c -1 "$DEV" >/dev/null || fail "tune2fs -c -1 failed"
fsck_clean "$DEV"
assert_no_kreports "$mark"
t_log "130-mount-state: ok ($((SECONDS - start)) s)"
