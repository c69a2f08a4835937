#!/usr/bin/env python3
"""The benchmark run inside the VM (qemu/bench.sh starts it).

Filesystems, all on the same virtio-blk disk (made anew for every run):
rext2 write=multipage, rext2 write=classic, the kernel's ext2, ext4 and XFS,
and tmpfs as the memory-copy ceiling. Workloads (fio, buffered, psync, no
fallocate, so every filesystem allocates in its write path or writeback):

  seq4k seq64k seq1m   sequential writes of one file with that write size
  randover             random 4 KiB overwrites of a file written before
  append4              4 writers appending 1 MiB writes to their own files
  smallfiles           many 16 KiB files, each created, written, closed
  fsync4k              4 KiB writes, fsync after each

plus two scaling curves (write size 4 KiB..8 MiB; 1..4 writers). The runs
are interleaved (filesystem is the inner loop, repetition the outer one),
and the filesystems' order rotates from one workload and repetition to the
next. BENCH_WORKLOADS (e.g. seq4k,randover,seq) picks some workloads.
Per run: throughput (fio), system CPU seconds per GiB written (/proc/stat,
all CPUs: includes writeback), and for the filesystems with a block map the
extents per file afterwards (FIBMAP after sync; for the ext2 format the
indirect blocks its layout puts between data blocks do not count as breaks).

Writes one CSV row per run to OUT (the results share):
  kind,workload,param,fs,rep,mib_s,sys_s_per_gib,extents_per_file
"""

import fcntl
import json
import os
import struct
import subprocess
import sys
import time

DEV = "/dev/vda"
MNT = "/tmp/bench"
FS = ["rext2-mp", "rext2-classic", "ext2", "ext4", "xfs", "tmpfs"]
CURVE_FS = ["rext2-mp", "rext2-classic", "ext2", "xfs"]
MIB = 1 << 20


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw).stdout


def mkfs_mount(fs):
    if os.path.ismount(MNT):
        sh("umount %s" % MNT)
    os.makedirs(MNT, exist_ok=True)
    if fs == "tmpfs":
        sh("mount -t tmpfs -o size=1536M tmpfs %s" % MNT)
        return
    if fs.startswith("rext2") or fs == "ext2":
        sh("mke2fs -q -F -t ext2 -b 4096 %s" % DEV)
    elif fs == "ext4":
        sh("mke2fs -q -F -t ext4 %s" % DEV)
    elif fs == "xfs":
        sh("mkfs.xfs -q -f %s" % DEV)
    opts = {"rext2-mp": "-t rext2 -o write=multipage", "rext2-classic": "-t rext2 -o write=classic"}
    sh("mount %s %s %s" % (opts.get(fs, "-t " + fs), DEV, MNT))


def sys_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[2] + v[5] + v[6]  # system + irq + softirq


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def fio(args):
    out = sh("fio --output-format=json --ioengine=psync --fallocate=none "
             "--group_reporting --directory=%s %s" % (MNT, args))
    j = json.loads(out[out.index("{"):])
    w = j["jobs"][0]["write"]
    return w["io_bytes"], w["bw_bytes"]


def ext2_gap(i, bs):
    """Indirect blocks ext2's layout puts right before logical block i."""
    a = bs // 4
    gap = 0
    if i >= 12 and (i - 12) % a == 0:
        gap += 1
    if i >= 12 + a and (i - 12 - a) % (a * a) == 0:
        gap += 1
    if i >= 12 + a + a * a and (i - 12 - a - a * a) % (a * a * a) == 0:
        gap += 1
    return gap


def file_extents(path, ext2_layout):
    """Runs of physically consecutive blocks (FIBMAP, one ioctl a block).
    For the ext2 format the indirect blocks that its layout puts between
    data blocks do not break a run (as filefrag counts for ext2)."""
    bs = os.statvfs(path).f_bsize
    n = (os.stat(path).st_size + bs - 1) // bs
    fd = os.open(path, os.O_RDONLY)
    runs, prev = 0, None
    try:
        for i in range(n):
            b = fcntl.ioctl(fd, 1, struct.pack("i", i))  # FIBMAP
            phys = struct.unpack("i", b)[0]
            if phys == 0:
                prev = None
                continue
            want = None if prev is None else prev + 1 + (ext2_gap(i, bs) if ext2_layout else 0)
            if phys != want:
                runs += 1
            prev = phys
    finally:
        os.close(fd)
    return runs


def extents(fs, files):
    """Mean extents per file, after the data reached its blocks."""
    if fs == "tmpfs" or not files:
        return ""
    os.sync()
    total = sum(file_extents(p, fs.startswith("rext2") or fs == "ext2") for p in files)
    return "%.1f" % (total / len(files))


def files_in(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if os.path.isfile(os.path.join(d, f)))


def run(fs, workload, param, size_mib):
    """One run on a fresh filesystem. Returns (MiB/s, sys s per GiB, extents)."""
    mkfs_mount(fs)
    frag_files = None
    if workload == "seq":
        job = "--name=seq --rw=write --bs=%s --size=%dM" % (param, size_mib)
        frag_files = True
    elif workload == "randover":
        sh("fio --output-format=terse --ioengine=psync --fallocate=none --directory=%s "
           "--name=r --rw=write --bs=1M --size=%dM" % (MNT, size_mib))
        os.sync()
        job = "--name=r --rw=randwrite --bs=4k --size=%dM --io_size=%dM --randrepeat=1" % (
            size_mib, size_mib // 2)
    elif workload == "writers":
        job = "--name=app --rw=write --bs=1M --size=%dM --numjobs=%s" % (size_mib // int(param), param)
        frag_files = True
    elif workload == "smallfiles":
        job = ("--name=small --rw=write --bs=16k --filesize=16k --nrfiles=%d --openfiles=1 "
               "--file_service_type=sequential --create_on_open=1" % (size_mib * 64))
    elif workload == "fsync":
        job = "--name=fs --rw=write --bs=4k --size=%dM --fsync=1" % size_mib
    else:
        raise ValueError(workload)
    drop_caches()
    j0 = sys_jiffies()
    io_bytes, bw = fio(job)
    sys_s = (sys_jiffies() - j0) / os.sysconf("SC_CLK_TCK")
    frag = extents(fs, files_in(MNT)) if frag_files else ""
    sh("umount %s" % MNT)
    return bw / MIB, sys_s / (io_bytes / (1 << 30)), frag


def main():
    out_path = sys.argv[1]
    reps = int(os.environ.get("BENCH_REPS", "3"))
    size = int(os.environ.get("BENCH_MIB", "128"))
    only = os.environ.get("BENCH_FS")
    fss = only.split(",") if only else FS
    only_w = os.environ.get("BENCH_WORKLOADS", "").split(",") if os.environ.get("BENCH_WORKLOADS") else None
    table = [("seq", "4k", size), ("seq", "64k", size), ("seq", "1m", size),
             ("randover", "4k", size), ("writers", "4", size), ("smallfiles", "16k", size // 4),
             ("fsync", "4k", max(size // 32, 2))]
    curve = [("seq", bs, size) for bs in ("4k", "16k", "64k", "256k", "1m", "4m", "8m")] + \
            [("writers", str(n), size) for n in (1, 2, 3, 4)]
    names = {"seq": None, "randover": "randover", "writers": "append", "smallfiles": "smallfiles",
             "fsync": "fsync4k"}
    # One discarded run per filesystem first: the first runs after boot
    # paid for warming up (slab caches, fio and its libraries read over
    # 9p), and the rotation below always puts the same filesystem first.
    for fs in fss:
        run(fs, "seq", "4k", 16)
    with open(out_path, "w") as out:
        out.write("kind,workload,param,fs,rep,mib_s,sys_s_per_gib,extents_per_file\n")
        for rep in range(reps):
            for kind, runs, fs_list in (("table", table, fss), ("curve", curve, [f for f in CURVE_FS if f in fss])):
                if kind == "curve" and rep > 0:
                    continue
                for wi, (workload, param, mib) in enumerate(runs):
                    name = names[workload] or "seq" + param
                    if workload == "writers" and kind == "table":
                        name = "append4"
                    label = name if kind == "table" else workload
                    if only_w and label not in only_w:
                        continue
                    # Rotate who goes first, so no filesystem always runs
                    # right after a fresh mkfs of another's leftovers.
                    k = (rep + wi) % len(fs_list) if fs_list else 0
                    for fs in fs_list[k:] + fs_list[:k]:
                        t = time.time()
                        mib_s, sys_gib, frag = run(fs, workload, param, mib)
                        out.write("%s,%s,%s,%s,%d,%.1f,%.3f,%s\n" % (
                            kind, label, param, fs, rep, mib_s, sys_gib, frag))
                        out.flush()
                        print("%-5s %-10s %-5s %-14s rep %d: %8.1f MiB/s  %6.2f sys s/GiB  %s  (%.0f s)" % (
                            kind, workload, param, fs, rep, mib_s, sys_gib,
                            frag and "extents/file " + frag, time.time() - t), flush=True)


if __name__ == "__main__":
    main()
