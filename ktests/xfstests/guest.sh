#!/bin/bash
# The guest side of `make xfstests` (started by qemu/xfstests.sh through
# qemu/vm.sh): loads rext2.ko, adds xfstests' users, writes local.config,
# formats the TEST device and runs xfstests' ./check on the tests given as
# arguments with FSTYP=rext2.
#
#   guest.sh TEST...        e.g. generic/001 generic/013
#
# Environment (set by qemu/xfstests.sh):
#   XFSTESTS_DIR            a built xfstests tree, visible in the guest (read-only)
#   XFSTESTS_WRITE          multipage (default) | classic: rext2's write= mount option
#   XFSTESTS_MKFS_OPTIONS   extra mke2fs options (MKFS_OPTIONS), e.g. "-b 1024"
#   XFSTESTS_AS_EXT2        1 (default): handle rext2 as ext2 in common/rc
# Disks: /dev/vda is TEST_DEV, /dev/vdb SCRATCH_DEV. Results go to
# $REXT2_OUT/results (RESULT_BASE); check's output (stdout) is what
# qemu/xfstests.sh parses. No xunit report (-R xunit): it costs ~20 s per
# test under TCG.
set -u
say() { echo "xfstests-guest: [$(cut -d" " -f1 /proc/uptime)s] $*"; }
die() { say "$*"; exit 2; }

xdir=${XFSTESTS_DIR:?XFSTESTS_DIR not set}
write=${XFSTESTS_WRITE:-multipage}
test_dev=/dev/vda scratch_dev=/dev/vdb
[ -x "$xdir/check" ] || die "$xdir/check not found"
[ -b $test_dev ] && [ -b $scratch_dev ] || die "need two disks, $test_dev and $scratch_dev"

grep -qw rext2 /proc/filesystems || insmod "$REXT2_ROOT/rext2.ko" || die "insmod rext2.ko failed"
grep -qw rext2 /proc/filesystems || die "rext2.ko registered no rext2 filesystem"

# xfstests' users (its README: fsgqa, fsgqa2, 123456-fsgqa). /etc is the
# host's and read-only: bind-mount extended copies over passwd/group/shadow.
etc=/run/xfstests-etc
mkdir -p $etc
uid=20001
for f in passwd group shadow; do cp /etc/$f $etc/$f 2>/dev/null || : >$etc/$f; done
for u in fsgqa fsgqa2 123456-fsgqa; do
	if ! grep -q "^$u:" /etc/passwd; then
		echo "$u:x:$uid:$uid:xfstests user:/tmp:/bin/bash" >>$etc/passwd
		echo "$u:*:19000:0:99999:7:::" >>$etc/shadow
	fi
	grep -q "^$u:" /etc/group || echo "$u:x:$uid:" >>$etc/group
	uid=$((uid + 1))
done
for f in passwd group shadow; do mount --bind $etc/$f /etc/$f || die "cannot bind-mount /etc/$f"; done

# xfstests' common/rc decides by name what a filesystem supports: sized and
# block-sized mkfs (most ENOSPC tests), metadata journaling, time ranges.
# For a name it does not know it skips the sized mkfs and assumes a journal.
# rext2 is ext2 on disk: unless XFSTESTS_AS_EXT2=0, bind-mount copies of
# common/rc (every ext2 case label also names rext2) and common/config (the
# ext2|ext3 label that loads common/ext4; not the one adding acl,user_xattr
# mount options, which rext2 does not have) over the originals. The tree
# itself is not changed.
if [ "${XFSTESTS_AS_EXT2:-1}" = 1 ]; then
	sed -E 's/^([[:space:]]*)ext2([|)])/\1ext2|rext2\2/' "$xdir/common/rc" >$etc/rc
	sed -E 's/^([[:space:]]*)ext2\|ext3\)/\1ext2|ext3|rext2)/' "$xdir/common/config" >$etc/config
	grep -q '^_scratch_mkfs_sized()' $etc/rc && [ "$(grep -c 'ext2|rext2' $etc/rc)" -ge 5 ] &&
		grep -q 'ext2|ext3|rext2)' $etc/config ||
		die "cannot adapt this xfstests' common/rc and common/config to rext2 (run with XFSTESTS_AS_EXT2=0)"
	mount --bind $etc/rc "$xdir/common/rc" && mount --bind $etc/config "$xdir/common/config" ||
		die "cannot bind-mount the adapted common/rc and common/config"
	say "common/rc and common/config: rext2 handled as ext2 ($(grep -c 'rext2' $etc/rc) case labels)"
fi

# mkfs.rext2 and fsck.rext2, for util-linux mkfs/fsck (they search $PATH).
export PATH=$REXT2_ROOT/ktests/xfstests/bin:$PATH

work=/tmp/xfstests
mkdir -p $work/test $work/scratch
mopts=''
[ "$write" = multipage ] || mopts="-o write=$write"
# FSCK_OPTIONS: util-linux fsck probes the device, finds ext2 and runs
# fsck.ext2 (not fsck.rext2) with xfstests' default "-n", which skips a
# filesystem marked clean. -nf makes every check a full one (as xfstests
# does for ext2). fsck.rext2 (e2fsck -f) is what runs when the probe fails.
cat >$work/local.config <<CONF
export FSTYP=rext2
export TEST_DEV=$test_dev
export TEST_DIR=$work/test
export SCRATCH_DEV=$scratch_dev
export SCRATCH_MNT=$work/scratch
export RESULT_BASE=$REXT2_OUT/results
export MKFS_OPTIONS="${XFSTESTS_MKFS_OPTIONS:-}"
export MOUNT_OPTIONS="$mopts"
export TEST_FS_MOUNT_OPTS="$mopts"
export FSCK_OPTIONS="-nf"
CONF
export HOST_OPTIONS=$work/local.config
. $work/local.config
say "local.config:"
sed 's/^/    /' $work/local.config

# The TEST device is formatted once per boot (xfstests keeps it between tests).
yes | mkfs -t rext2 -- $MKFS_OPTIONS $test_dev >/dev/null || die "mkfs -t rext2 $test_dev failed"

# fsck must really check: break a formatted scratch fs on purpose and expect
# the command xfstests runs to fail on it.
yes | mkfs -t rext2 -- $MKFS_OPTIONS $scratch_dev >/dev/null || die "mkfs -t rext2 $scratch_dev failed"
fsck -t rext2 $FSCK_OPTIONS $scratch_dev >/dev/null 2>&1 || die "fsck -t rext2 $FSCK_OPTIONS fails on a fresh filesystem"
debugfs -w -R "sif <2> links_count 9" $scratch_dev >/dev/null 2>&1
if fsck -t rext2 $FSCK_OPTIONS $scratch_dev >/dev/null 2>&1; then
	die "fsck -t rext2 $FSCK_OPTIONS finds nothing wrong on a corrupted filesystem: it does not check"
fi
say "fsck -t rext2 $FSCK_OPTIONS detects a corrupted filesystem: ok"

cd "$xdir" || die "cannot cd to $xdir"
say "$(uname -r), write=$write, running: $*"
./check "$@"
