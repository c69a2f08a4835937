# Helpers for rext2 in-VM tests. A test starts with
#     . "$REXT2_ROOT/ktests/lib.sh"
# which also turns on `set -Eeuo pipefail` (any unchecked failing command fails
# the test; the ERR trap names the line).
#
# The environment run-suite.sh gives a test: cwd = $KTEST_DIR, a fresh empty
# tmpfs dir; REXT2_ROOT (repo, read-only), REXT2_OUT (writable results dir,
# kept on the host), KTEST_NAME. Disks: /dev/vda 2 GiB, /dev/vdb 2 GiB,
# /dev/vdc 8 GiB (see qemu/run-tests.sh), contents undefined: mkfs first.
#
#   fail MSG...               print "FAIL: MSG" and exit 1
#   skip MSG...               print "SKIP: MSG" and exit 77 (counted as skipped)
#   need_cmd CMD...           skip unless every CMD is installed
#   load_rext2                insmod $REXT2_ROOT/rext2.ko unless rext2 is registered
#   disk N                    echo the Nth disk (1 -> /dev/vda, 2 -> vdb, 3 -> vdc)
#   mkfs_ext2 DEV [ARGS...]   mke2fs -q -F -t ext2 ARGS DEV
#   mntdir [NAME]             create and echo /tmp/mnt/NAME (default: a)
#   mount_rext2 DEV DIR [mount args...]   load_rext2, then mount -t rext2
#   unmount DIR               umount DIR, failing the test if it is busy
#   fsck_clean DEV            e2fsck -fn DEV; fail with its output unless clean
#   assert_eq A B [MSG]       fail unless A = B (string comparison)
#   expect_fail [-e ERR] CMD...  fail unless CMD fails; with -e, its output
#                             must contain ERR: a strerror text ("Read-only
#                             file system") or an errno name (EROFS)
#   kmsg MSG...               write MSG into the kernel log (marks dmesg)

set -Eeuo pipefail
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/} line $LINENO: \`$BASH_COMMAND\` exited with status $?" >&2' ERR

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*"
	[ -z "${KTEST_SKIP_FILE:-}" ] || echo "$*" >"$KTEST_SKIP_FILE"
	exit 77
}

need_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null || skip "$c is not installed"; done
}

load_rext2() {
	grep -qw rext2 /proc/filesystems && return 0
	[ -f "$REXT2_ROOT/rext2.ko" ] || fail "$REXT2_ROOT/rext2.ko is missing (build it with make)"
	insmod "$REXT2_ROOT/rext2.ko" || fail "insmod rext2.ko failed (see dmesg)"
	grep -qw rext2 /proc/filesystems || fail "rext2.ko loaded but registered no 'rext2' filesystem"
}

disk() {
	local n=$1 letters=abcdefghij
	[[ $n =~ ^[1-9]$ ]] || fail "disk: want a number 1-9, got '$n'"
	local dev=/dev/vd${letters:n-1:1}
	[ -b "$dev" ] || fail "disk $n: $dev does not exist (the VM has fewer disks)"
	echo "$dev"
}

mkfs_ext2() {
	local dev=$1
	shift
	mke2fs -q -F -t ext2 "$@" "$dev" || fail "mke2fs $* $dev failed"
}

mntdir() {
	local d=/tmp/mnt/${1:-a}
	mkdir -p "$d"
	echo "$d"
}

mount_rext2() {
	local dev=$1 dir=$2
	shift 2
	load_rext2
	mkdir -p "$dir"
	mount -t rext2 "$@" "$dev" "$dir" || fail "mount -t rext2 $* $dev $dir failed"
}

unmount() {
	umount "$1" || fail "umount $1 failed (busy?)"
}

fsck_clean() {
	local dev=$1 out rc=0
	if grep -q "^$dev " /proc/mounts; then fail "fsck_clean: $dev is still mounted"; fi
	out=$(e2fsck -fn "$dev" 2>&1) || rc=$?
	if [ $rc != 0 ]; then
		printf '%s\n' "$out" >&2
		fail "e2fsck -fn $dev: exit status $rc (filesystem not clean)"
	fi
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-assert_eq}: expected '$2', got '$1'"
}

expect_fail() {
	local want='' out rc=0
	if [ "${1:-}" = -e ]; then
		want=$2
		shift 2
	fi
	if [[ $want =~ ^E[A-Z0-9]+$ ]]; then
		# Errno name -> the message tools print, e.g. EROFS -> "Read-only file system".
		want=$(perl -MErrno -e '$! = eval "Errno::$ARGV[0]()" or die; print "$!"' "$want") ||
			fail "expect_fail: unknown errno name"
	fi
	out=$("$@" 2>&1) || rc=$?
	[ $rc != 0 ] || fail "expected failure, but succeeded: $*"
	if [ -n "$want" ] && [[ $out != *"$want"* ]]; then
		fail "expected '$want' from: $* (exit $rc); got: $out"
	fi
}

kmsg() {
	echo "ktest ${KTEST_NAME:-?}: $*" >/dev/kmsg
}
