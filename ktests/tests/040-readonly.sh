#!/bin/bash
# timeout: 600
# A read-only rext2 mount (-o ro) changes nothing:
#   - remount,ro of a ro mount keeps it ro and readable (remount,rw is
#     130-mount-state's business)
#   - on the ro mount every modifying call fails with EROFS: create, open for
#     write/trunc/append, write, truncate, unlink, mkdir, rmdir, rename, link,
#     symlink, mkfifo, chmod, chown, utime, setxattr, fallocate, shared
#     writable mmap (EACCES there: the fd is read-only, as on ext2)
#   - the same calls give the same errors on C ext2 -o ro (the reference)
#   - a block device opened by a mounted rext2 can still be read
#   - the image is byte-identical after all of it, and e2fsck-clean
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
DEV=$(disk 2)
M=$(mnt_dir m)
SIZE_BYTES=$((64 << 20))
mke2fs -q -F -t ext2 -b 4096 "$DEV" 64M || fail "mke2fs failed"
mount_fs ext2 "$DEV" "$M"
echo hello >"$M/file"
mkdir "$M/dir" "$M/emptydir"
echo inner >"$M/dir/inner"
ln -s file "$M/link"
umount_fs "$M"
fsck_clean "$DEV"
before=$(dev_hash "$DEV" $SIZE_BYTES)

# 1. A remount that stays ro keeps the mount read-only.
t_log "1. remount,ro; 2. modifying calls"
mark=$(kmsg_mark 040-remount)
rmount "$DEV" "$M"
mount -o remount,ro "$M" || fail "remount,ro of a ro mount failed"
grep -q " $M $RFS ro[ ,]" /proc/mounts || fail "not ro after remount,ro"
[ "$(cat "$M/file")" = hello ] || fail "file unreadable after remount"

# 2. Modifying calls: EROFS, as on ext2 -o ro.
modify_checks() {
	local m=$1 label=$2
	op EROFS creat "$m/newfile"
	op EROFS open-creat-excl "$m/newfile"
	op EROFS creat "$m/dir/newfile"
	op EROFS open-wronly "$m/file"
	op EROFS open-rdwr "$m/file"
	op EROFS open-trunc "$m/file"
	op EROFS write "$m/file"
	op EROFS append "$m/file"
	op EROFS truncate "$m/file" 0
	op EROFS truncate "$m/file" 100000
	op EROFS unlink "$m/file"
	op EROFS unlink "$m/link"
	op EROFS unlink "$m/dir/inner"
	op EROFS mkdir "$m/newdir"
	op EROFS rmdir "$m/emptydir"
	op EROFS rename "$m/file" "$m/renamed"
	op EROFS rename "$m/dir" "$m/emptydir"
	op EROFS link "$m/file" "$m/hardlink"
	op EROFS symlink "$m/newlink" file
	op EROFS mknod-fifo "$m/fifo"
	op EROFS chmod "$m/file" 600
	op EROFS chmod "$m/dir" 700
	op EROFS chown "$m/file" 1 1
	op EROFS utime "$m/file"
	op EROFS utime "$m/link"
	op EROFS,EOPNOTSUPP setxattr "$m/file" user.test
	op EROFS,ENODATA,EOPNOTSUPP removexattr "$m/file" user.test
	op EBADF,EROFS fallocate "$m/file"
	op EACCES mmap-write "$m/file"
	op "OK 6" read "$m/file"
	op "OK file" readlink "$m/link"
	op "OK 1" listdir "$m/dir"
	ops_run "$label"
	[ "$OPS_NFAIL" = 0 ] || fail "$label: modifying calls on the ro mount gave wrong results (above)"
	# Shell-level, for good measure.
	if touch "$m/dir/new" 2>/dev/null; then fail "touch created a file on the ro mount"; fi
	if rm -f "$m/dir/inner" 2>/dev/null && [ ! -e "$m/dir/inner" ]; then fail "rm removed a file on the ro mount"; fi
	if { echo x >>"$m/file"; } 2>/dev/null; then fail "append to a file succeeded on the ro mount"; fi
	if cp /etc/hostname "$m/" 2>/dev/null; then fail "cp into the ro mount succeeded"; fi
	[ "$(cat "$m/file")" = hello ] || fail "file content changed"
	[ "$(cat "$m/dir/inner")" = inner ] || fail "dir/inner content changed"
}
modify_checks "$M" "$RFS"
# sync and drop caches: nothing may have been dirtied.
sync
echo 3 >/proc/sys/vm/drop_caches
[ "$(cat "$M/file")" = hello ] || fail "file content changed after drop_caches"
# The device stays readable while mounted (rext2 holds it, does not lock it out).
mid=$(dev_hash "$DEV" $SIZE_BYTES)
assert_eq "$before" "$mid" "image changed while mounted read-only"
umount_fs "$M"
assert_no_kernel_bugs "$mark"

# Mount options, for the record (not enforced): does mount(8) succeed with
# rext2 and with ext2? (mount(8) turns noatime etc. into MS_ flags.)
for o in bogus_option noatime nodev,nosuid,noexec errors=continue sb=8193 nouid32 user_xattr; do
	r=refused e=refused
	if mount -t "$RFS" -o "ro,$o" "$DEV" "$M" 2>/dev/null; then r=mounted; umount "$M"; fi
	if mount -t ext2 -o "ro,$o" "$DEV" "$M" 2>/dev/null; then e=mounted; umount "$M"; fi
	printf 'mount -o ro,%-22s %s: %-8s ext2: %s\n' "$o" "$RFS" "$r" "$e"
done

t_log "4. the same calls on ext2 -o ro"
# 4. The reference gives the same answers (guards the expectations above).
mount_fs ext2 "$DEV" "$M" ro
modify_checks "$M" "ext2 (reference)"
umount_fs "$M"

t_log "5. mount cycles, two mounts of one device"
# 5. A second ro mount of the same device at another place, and mount/umount
# cycles, leave it unchanged too.
M2=$(mnt_dir m2)
mark=$(kmsg_mark 040-cycle)
for i in 1 2 3 4 5; do
	rmount "$DEV" "$M"
	[ "$(cat "$M/dir/inner")" = inner ] || fail "cycle $i: content wrong"
	umount_fs "$M"
done
rmount "$DEV" "$M"
rmount "$DEV" "$M2"
[ "$(cat "$M2/file")" = hello ] || fail "second mount of the same device: content wrong"
umount_fs "$M2"
umount_fs "$M"
assert_no_kernel_bugs "$mark"

after=$(dev_hash "$DEV" $SIZE_BYTES)
assert_eq "$before" "$after" "image changed"
fsck_clean "$DEV"
echo "040-readonly: ok"
