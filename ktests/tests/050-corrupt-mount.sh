#!/bin/bash
# timeout: 600
# Superblock and group-descriptor corruptions: rext2 must refuse the mount
# (mount(2) fails with the expected errno, a kernel log line naming rext2
# says why), never oops, hang or modify the image. Some changes are not
# corruptions for a read-only mount (unknown compat/ro_compat bits, the error
# state flag); there rext2 must mount and read like C ext2 does.
#
# Each case: a pristine small image (1K blocks, 4 groups, or 4K blocks, 2
# groups) in the test's tmpfs dir, fields poked with ext2poke.py, attached
# to a loop device, mounted with mount(2) -t rext2 MS_RDONLY (then read and
# walked if it mounted), then -t ext2 MS_RDONLY for the reference column.
# tools/corrupt_mount.py runs all cases in one process and prints the table.
#
# Expectations: refuse:ERRNOS  must fail with one of ERRNOS and a kernel log
#                              line naming rext2
#               mount          must mount and read the test file
#               like-ext2      refused iff C ext2 refuses it
#               either         no requirement but health (and if it mounts,
#                              a full walk terminates)
# C ext2 (6.12) differs on purpose in rev-7 and rev-0xffffffff: it mounts a
# too-new revision read-only with a warning; rext2 is to refuse it.
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
M=$(mnt_dir m)
START_MARK=$(kmsg_mark 050-start)
REF="refuse:EINVAL,EUCLEAN" # geometry/corruption: EINVAL, or EFSCORRUPTED
REFI="refuse:EINVAL"        # not an ext2 filesystem / unsupported layout
cat >"$WORK/cases" <<CASES
# name                          | base | expect | pokes
pristine-1k                     | 1k | mount
pristine-4k                     | 4k | mount
# Not ext2 at all.
magic-zero                      | 1k | $REFI  | sb-set magic 0
magic-ef52                      | 4k | $REFI  | sb-set magic 0xEF52
superblock-zeroed               | 1k | $REFI  | fill 1024 1024 0
superblock-random               | 4k | $REFI  | random 1024 1024; sb-set magic 0
image-1k-only                   | 1k | refuse:EINVAL,EIO | truncate 1024
# Revision.
rev-7                           | 1k | $REFI  | sb-set rev_level 7
rev-0xffffffff                  | 4k | $REFI  | sb-set rev_level 0xffffffff
# Features: unknown/unsupported incompat refused; compat and ro_compat
# (read-only mount) accepted, as C ext2 does.
incompat-compression            | 1k | $REFI  | sbor feature_incompat 0x0001
incompat-recover                | 1k | $REFI  | sbor feature_incompat 0x0004
incompat-journal-dev            | 1k | $REFI  | sbor feature_incompat 0x0008
incompat-extents                | 4k | $REFI  | sbor feature_incompat 0x0040
incompat-64bit                  | 4k | $REFI  | sbor feature_incompat 0x0080
incompat-flex-bg                | 4k | $REFI  | sbor feature_incompat 0x0200
incompat-inline-data            | 4k | $REFI  | sbor feature_incompat 0x8000
incompat-unknown-bit            | 1k | $REFI  | sbor feature_incompat 0x80000000
ro-compat-unknown-bit           | 1k | mount  | sbor feature_ro_compat 0x80000000
ro-compat-huge-file             | 4k | mount  | sbor feature_ro_compat 0x0008
ro-compat-metadata-csum         | 4k | mount  | sbor feature_ro_compat 0x0400
compat-unknown-bit              | 1k | mount  | sbor feature_compat 0x80000000
compat-has-journal              | 4k | mount  | sbor feature_compat 0x0004
state-error-flag                | 1k | mount  | sb-set state 3
state-not-clean                 | 4k | mount  | sb-set state 0
errors-panic                    | 1k | mount  | sb-set errors 3
mount-count-over-max            | 4k | mount  | sb-set mnt_count 500; sb-set max_mnt_count 20
# Block size.
log-block-size-20               | 1k | $REFI  | sb-set log_block_size 20
log-block-size-3-8k             | 1k | $REFI  | sb-set log_block_size 3; sb-set log_frag_size 3
log-block-size-max              | 4k | $REFI  | sb-set log_block_size 0xffffffff
log-block-size-4k-as-1k         | 4k | $REF   | sb-set log_block_size 0; sb-set log_frag_size 0
log-block-size-1k-as-4k         | 1k | $REF   | sb-set log_block_size 2; sb-set log_frag_size 2
log-frag-size-differs           | 1k | like-ext2 | sb-set log_frag_size 2
# Group geometry.
blocks-per-group-0              | 1k | $REF   | sb-set blocks_per_group 0
blocks-per-group-1              | 4k | $REF   | sb-set blocks_per_group 1
blocks-per-group-too-big        | 1k | $REF   | sb-set blocks_per_group 8193
blocks-per-group-max            | 4k | $REF   | sb-set blocks_per_group 0xffffffff
inodes-per-group-0              | 1k | $REF   | sb-set inodes_per_group 0
inodes-per-group-huge           | 4k | $REF   | sb-set inodes_per_group 0xffffffff
inodes-per-group-too-big        | 1k | $REF   | sb-set inodes_per_group 8193
inodes-count-mismatch           | 1k | $REF   | sb-set inodes_count 1
inodes-count-0                  | 4k | $REF   | sb-set inodes_count 0
first-data-block-0-on-1k        | 1k | $REF   | sb-set first_data_block 0
first-data-block-1-on-4k        | 4k | $REF   | sb-set first_data_block 1
first-data-block-huge           | 1k | $REF   | sb-set first_data_block 0x7fffffff
inode-size-0                    | 4k | $REF   | sb-set inode_size 0
inode-size-100                  | 1k | $REF   | sb-set inode_size 100
inode-size-384                  | 4k | $REF   | sb-set inode_size 384
inode-size-8192                 | 4k | $REF   | sb-set inode_size 8192
inode-size-2048-on-1k           | 1k | $REF   | sb-set inode_size 2048
# Size against the device.
blocks-count-past-device        | 1k | $REF   | sb-set blocks_count 40000
blocks-count-huge               | 4k | $REF   | sb-set blocks_count 0xfffffff0
blocks-count-0                  | 1k | $REF   | sb-set blocks_count 0
blocks-count-1                  | 4k | $REF   | sb-set blocks_count 1
image-truncated                 | 1k | $REF   | truncate 20971520
# Group descriptors.
gd0-inode-table-past-device     | 1k | $REF   | gd-set 0 inode_table 99999999
gd1-inode-table-past-device     | 4k | $REF   | gd-set 1 inode_table 0xfffffff0
gd3-inode-table-past-device     | 1k | $REF   | gd-set 3 inode_table 0x7fffffff
gd0-inode-table-0               | 1k | $REF   | gd-set 0 inode_table 0
gd1-inode-table-runs-off-end    | 4k | $REF   | gd-set 1 inode_table 8190
gd0-inode-table-in-group1       | 1k | like-ext2 | gd-set 0 inode_table 9000
gd0-block-bitmap-past-device    | 1k | like-ext2 | gd-set 0 block_bitmap 99999999
gd1-inode-bitmap-past-device    | 4k | like-ext2 | gd-set 1 inode_bitmap 0xfffffff0
gdt-zeroed                      | 1k | $REF   | fill 2048 1024 0
gdt-random                      | 4k | $REF   | random 4096 64
# Root inode.
root-not-dir                    | 1k | $REF   | ino-set 2 mode 0x81ed
root-mode-0                     | 4k | $REF   | ino-set 2 mode 0
root-links-0                    | 1k | $REF   | ino-set 2 links_count 0
root-size-0                     | 4k | $REF   | ino-set 2 size 0
root-block-past-device          | 1k | either | ino-set 2 block[0] 99999999
CASES
rc=0
timeout 500 "$PY" "$TOOLS/corrupt_mount.py" --fstype "$RFS" --work "$WORK" --mnt "$M" "$WORK/cases" || rc=$?
[ $rc != 124 ] || fail "the cases did not finish in 500 s (a hang? the last 'case' line above is the one before it)"
# The kernel is still healthy: a good image mounts and reads.
attach_loop "$WORK/base4k.img"
l=$LOOP
rmount "$l" "$M"
[ "$(cat "$M/file")" = content-4096 ] || fail "pristine image unreadable after the corrupt ones"
seq 1 3000 | cmp -s - "$M/dir/seq" || fail "pristine image: dir/seq content wrong"
umount_fs "$M"
assert_no_kernel_bugs "$START_MARK"
[ $rc = 0 ] || fail "corrupt-mount cases failed (FAIL lines above)"
echo "050-corrupt-mount: ok"
