#!/usr/bin/env bash
# The demo `make run` shows, run inside the VM: each step is printed before
# it runs so the output reads as a transcript.
set -euo pipefail
dev=/dev/vda
ref=/tmp/ref
mnt=/tmp/rext2
step() { printf '\n$ %s\n' "$*"; "$@"; }
quiet() { printf '\n$ %s\n' "$*"; "$@" >/dev/null; }

echo "== rext2 demo: $(uname -r), $(nproc) CPUs, disk $dev ($(($(blockdev --getsize64 $dev) >> 20)) MiB, virtio-blk)"
step insmod "$REXT2_ROOT/rext2.ko"
step grep rext2 /proc/filesystems
quiet mke2fs -q -F -t ext2 -b 4096 $dev

echo
echo "== 1. the kernel's C ext2 writes a reference tree"
mkdir -p $ref $mnt
step mount -t ext2 $dev $ref
mkdir -p $ref/docs/deep/er/still $ref/bin
seq 1 100000 >$ref/docs/numbers.txt
head -c 3000000 /dev/urandom >$ref/bin/random.bin
printf 'hello from ext2\n' >$ref/docs/deep/er/still/hello.txt
truncate -s 3G $ref/sparse.img
printf 'data at 2 GiB\n' | dd of=$ref/sparse.img bs=1 seek=$((2 << 30)) conv=notrunc status=none
ln -s docs/deep/er/still/hello.txt $ref/short-link
ln -s "$(printf 'x%.0s' $(seq 1 200))" $ref/long-link
ln $ref/docs/numbers.txt $ref/docs/numbers-hardlink.txt
mkfifo $ref/fifo
for i in $(seq 1 500); do echo "$i" >$ref/docs/file-$i; done
step umount $ref

echo
echo "== 2. rext2 mounts it read-only and reads it back"
step mount -t rext2 -o ro $dev $mnt
step grep " $mnt " /proc/mounts
step ls -la $mnt $mnt/docs/deep/er/still
step cat $mnt/short-link
step stat -c '%n: %F, %s bytes, %b blocks, %h links, mode %a' $mnt/docs/numbers.txt $mnt/sparse.img $mnt/long-link $mnt/fifo
step dd if=$mnt/sparse.img bs=1 skip=$((2 << 30)) count=14 status=none
step df -h $mnt
echo
echo "== 3. every file compared with what the C ext2 reads"
python3 "$REXT2_ROOT/ktests/tools/manifest.py" --max-hash-bytes 67108864 $mnt >/tmp/rext2.manifest
step umount $mnt
step mount -t ext2 -o ro $dev $ref
python3 "$REXT2_ROOT/ktests/tools/manifest.py" --max-hash-bytes 67108864 $ref >/tmp/ext2.manifest
step umount $ref
if diff -u /tmp/ext2.manifest /tmp/rext2.manifest; then
	echo "identical: $(wc -l </tmp/rext2.manifest) entries (content hashes, modes, owners, sizes, links, times, symlink targets)"
else
	echo "DIFFERENT (see above)"
	exit 1
fi

echo
echo "== 4. rext2 mounted read-write: it writes, the C ext2 reads"
step mount -t rext2 $dev $mnt
step grep " $mnt " /proc/mounts
step mkdir -p $mnt/written/by/rext2
step cp $mnt/docs/numbers.txt $mnt/written/by/rext2/copy.txt
step dd if=/dev/urandom of=$mnt/written/blob bs=1M count=16 status=none
# The multipage write path (write=multipage, the default) at work: its
# counters under /sys/fs/rext2/<device>/.
stats=/sys/fs/rext2/${dev#/dev/}
echo "   write path: $(cat $stats/writes) writes in $(cat $stats/batches) batches of up to $(cat $stats/batch_pages_max) pages" \
	"($(cat $stats/batch_pages) pages), $(cat $stats/allocs) allocations in $(cat $stats/alloc_runs) contiguous runs," \
	"$(cat $stats/reserved_now) blocks still reserved"
step ln -s by/rext2/copy.txt $mnt/written/link
step mv $mnt/docs/file-1 $mnt/written/moved
step rm -r $mnt/docs/deep
step truncate -s 1000 $mnt/bin/random.bin
sum_rext2=$(cd $mnt && md5sum written/blob written/link written/moved bin/random.bin)
step df -h $mnt
step umount $mnt
step e2fsck -fn $dev
step mount -t ext2 -o ro $dev $ref
sum_ext2=$(cd $ref && md5sum written/blob written/link written/moved bin/random.bin)
step ls -la $ref/written $ref/written/by/rext2
step umount $ref
if [ "$sum_rext2" = "$sum_ext2" ]; then
	echo "the C ext2 reads back what rext2 wrote:"
	echo "$sum_ext2"
else
	echo "DIFFERENT: rext2 wrote"; echo "$sum_rext2"; echo "ext2 reads"; echo "$sum_ext2"
	exit 1
fi

echo "== 5. the image is clean"
step e2fsck -fn $dev
echo
echo "demo done"
