"""Workload for the crash tests (qemu/crash.sh): runs until the VM is
killed. Phase "write" writes files on a rext2 mount; every file that is
complete and fsync'd (file and directory) is recorded in LOG (on the host's
results share, written with O_SYNC) as "name size sha256" before the next
one starts; other files are rewritten again and again without fsync, and a
syncfs now and then covers a batch of files recorded as "syncfs". Phase
"check" verifies the recorded files on a mount after the crash.

  crashload.py write MNT LOG SEED [frees]
  crashload.py check MNT LOG     exit 1 on a lost or changed file

Without "frees" nothing is ever freed (unique names, scratch files only
grow). With it, scratch files are also truncated and old names rewritten:
ext2 has no ordering between the inode that frees a block and the file that
reuses it, so after a crash e2fsck may read a reused block through the old
owner's stale pointers (as an indirect block) and "repair" it: the known
ext2 hazard. rext2 orders it (fsync writes the metadata of earlier frees
first); qemu/crash.sh runs with frees unless CRASH_FREES=0.
"""

import hashlib
import os
import random
import sys


def write(mnt, log, seed, frees):
    rnd = random.Random(seed)
    fd_log = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_SYNC, 0o644)
    dirs = [os.path.join(mnt, "d%d" % i) for i in range(4)]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    dfd = {d: os.open(d, os.O_RDONLY) for d in dirs}
    os.fsync(os.open(mnt, os.O_RDONLY))
    n = 0
    pending = []
    while True:
        n += 1
        d = rnd.choice(dirs)
        name = os.path.join(d, ("f%05d" if frees else "r%d-f%%05d" % seed) % n)
        size = rnd.choice([0, 1, 4095, 4096, 70000, 300000, rnd.randrange(1 << 21)])
        data = rnd.randbytes(size)
        with open(name, "wb") as f:
            for off in range(0, size, 1 << 20):
                f.write(data[off:off + (1 << 20)])
            how = rnd.random()
            if how < 0.5:
                f.flush()
                os.fsync(f.fileno())
                os.fsync(dfd[d])
                os.write(fd_log, ("%s %d %s\n" % (os.path.relpath(name, mnt), size,
                                                  hashlib.sha256(data).hexdigest())).encode())
                continue
        pending.append((name, size, hashlib.sha256(data).hexdigest()))
        if how < 0.6:
            os.sync()
            for p in pending:
                os.write(fd_log, ("%s %d %s\n" % (os.path.relpath(p[0], mnt), p[1], p[2])).encode())
            pending = []
        # Noise: rewrite and truncate an unrecorded scratch file.
        scratch = os.path.join(rnd.choice(dirs), "scratch%d" % rnd.randrange(4))
        with open(scratch, "ab") as f:
            f.write(rnd.randbytes(rnd.randrange(1 << 18)))
        if frees and rnd.random() < 0.3:
            os.truncate(scratch, rnd.randrange(1 << 16))


def check(mnt, log):
    bad = 0
    n = 0
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue  # a line cut by the crash was never acknowledged
            n += 1
            rel, size, sha = parts[0], int(parts[1]), parts[2]
            p = os.path.join(mnt, rel)
            try:
                with open(p, "rb") as g:
                    data = g.read()
            except OSError as e:
                print("LOST %s: %s" % (rel, e))
                bad += 1
                continue
            if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
                print("CHANGED %s: %d bytes, expected %d (content hash differs)" % (rel, len(data), size))
                bad += 1
    print("crash check: %d durable files, %d lost or changed" % (n, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:] == ["frees"])
    else:
        check(sys.argv[2], sys.argv[3])
