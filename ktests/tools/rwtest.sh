# Shell helpers for the rext2 read-write tests (ktests/tests/1NN-*.sh);
# sourced after ktests/lib.sh and ktests/tools/testlib.sh.
#
#   assert_no_kreports MARK   fail if the kernel log since MARK (kmsg_mark)
#                             holds a kernel report (oops, WARNING, lockdep,
#                             ...), by the suite's own rules (qemu/kreport.sh).
#                             Unlike testlib's assert_no_kernel_bugs it does
#                             not trip over a mount option error that merely
#                             names errors=panic.
#   flusher_off               stop periodic writeback until the test exits, so
#                             that data reaches the disk only when the code
#                             under test writes it (fsync, sync, umount...)
#   sbf DEV FIELD             a field of `dumpe2fs -h DEV`, e.g.
#                             sbf /dev/vda "Free blocks"

. "$REXT2_ROOT/qemu/kreport.sh"

assert_no_kreports() {
	local r
	if r=$(kmsg_since "$1" | kreport_scan); then
		echo "$r" | head -60
		fail "the kernel logged a report (above)"
	fi
	return 0
}

_RW_WB=
_RW_EX=
flusher_off() {
	_RW_WB=$(cat /proc/sys/vm/dirty_writeback_centisecs)
	_RW_EX=$(cat /proc/sys/vm/dirty_expire_centisecs)
	trap 'flusher_restore; t_cleanup' EXIT
	echo 0 >/proc/sys/vm/dirty_writeback_centisecs
	echo 360000 >/proc/sys/vm/dirty_expire_centisecs
}
flusher_restore() {
	[ -z "$_RW_WB" ] || echo "$_RW_WB" >/proc/sys/vm/dirty_writeback_centisecs
	[ -z "$_RW_EX" ] || echo "$_RW_EX" >/proc/sys/vm/dirty_expire_centisecs
	return 0
}

sbf() {
	dumpe2fs -h "$1" 2>/dev/null | sed -n "s/^$2: *//p"
}
