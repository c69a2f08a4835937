# A PROFILE_WORKLOAD for `make insn-profile` (run in the guest, the
# filesystem mounted at /tmp/p): random 4 KiB overwrites as `make bench`'s
# randover, 8,192 of them (PROFILE_WRITES=8192). The file is laid out under
# write=multipage whatever mode is profiled, so that only the overwrites
# differ between the modes.
m=$(grep " /tmp/p " /proc/mounts | grep -o "write=[a-z]*")
mount -o remount,write=multipage /tmp/p
fio --output-format=terse --ioengine=psync --fallocate=none --directory=/tmp/p --name=r --rw=write --bs=1M --size=64M >/dev/null
sync
mount -o remount,$m /tmp/p
fio --output-format=terse --ioengine=psync --fallocate=none --directory=/tmp/p --name=r --rw=randwrite --bs=4k --size=64M --io_size=32M --randrepeat=1 >/dev/null
