"""Many processes at once on one rext2 mount (ktests/tests/180-stress.sh):
creates, writes (small and large, at random offsets, O_APPEND), truncates,
renames and unlinks in shared directories, mmap writes and fsyncs, on a disk
small enough to keep hitting ENOSPC. Each worker owns its file names (so it
knows what each of its files must hold) but works in the shared
directories, racing the others for blocks, inodes and directory slots.

  stress.py DIR WORKERS SECONDS SEED

At the end every worker checks every file it left (after the others have
stopped and the caches were dropped): its exact content, and that no other
file of its own is left over. Prints operation counts; exit 1 on a
mismatch or an unexpected error (only ENOSPC is expected).
"""

import errno
import mmap
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwlib import drop_caches  # noqa: E402

DIRS = ["d0", "d1", "d2/sub", "d3"]


def worker(root, wid, seconds, seed):
    rnd = random.Random(seed * 1000 + wid)
    files = {}  # path -> bytearray (expected content)
    # Files without holes: an mmap write into them allocates nothing, so it
    # cannot die of SIGBUS on a full disk.
    dense = set()
    ops = {}
    stop = time.time() + seconds
    n = 0

    def name():
        return os.path.join(root, rnd.choice(DIRS), "w%d-%d" % (wid, rnd.randrange(12)))

    def count(op, ok=True):
        key = op if ok else op + "-enospc"
        ops[key] = ops.get(key, 0) + 1

    while time.time() < stop:
        n += 1
        op = rnd.choice(["create", "write", "write", "bigwrite", "append", "truncate",
                         "rename", "unlink", "mmap", "fsync"])
        try:
            if op == "create":
                p = name()
                if p in files:
                    continue
                open(p, "wb").close()
                files[p] = bytearray()
                dense.add(p)
            elif not files:
                continue
            else:
                p = rnd.choice(sorted(files))
                model = files[p]
                if op in ("write", "bigwrite", "append"):
                    size = rnd.randrange(1, 20000) if op != "bigwrite" else rnd.randrange(100000, 600000)
                    data = rnd.randbytes(size)
                    flags = os.O_WRONLY | (os.O_APPEND if op == "append" else 0)
                    fd = os.open(p, flags)
                    off = len(model) if op == "append" else rnd.randrange(0, len(model) + 30000)
                    if off > len(model):
                        dense.discard(p)
                    try:
                        done = 0
                        while done < size:
                            k = (os.write(fd, data[done:]) if op == "append"
                                 else os.pwrite(fd, data[done:], off + done))
                            if k <= 0:
                                break
                            if off + done > len(model):
                                model.extend(bytes(off + done - len(model)))
                            model[off + done:off + done + k] = data[done:done + k]
                            done += k
                    finally:
                        os.close(fd)
                elif op == "truncate":
                    size = rnd.randrange(0, len(model) + 100000)
                    if size > len(model):
                        dense.discard(p)
                    os.truncate(p, size)
                    if size < len(model):
                        del model[size:]
                    else:
                        model.extend(bytes(size - len(model)))
                elif op == "rename":
                    q = name()
                    if q in files:
                        continue
                    os.rename(p, q)
                    files[q] = files.pop(p)
                    if p in dense:
                        dense.discard(p)
                        dense.add(q)
                elif op == "unlink":
                    os.unlink(p)
                    del files[p]
                    dense.discard(p)
                elif op == "mmap" and model and p in dense:
                    with open(p, "r+b") as f:
                        m = mmap.mmap(f.fileno(), len(model))
                        off = rnd.randrange(len(model))
                        k = min(rnd.randrange(1, 5000), len(model) - off)
                        data = rnd.randbytes(k)
                        try:
                            m[off:off + k] = data
                            model[off:off + k] = data
                        finally:
                            m.close()
                elif op == "fsync":
                    fd = os.open(p, os.O_RDONLY)
                    os.fsync(fd)
                    os.close(fd)
            count(op)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                print("worker %d: %s: unexpected %s" % (wid, op, e), flush=True)
                return files, ops, False
            count(op, False)
    return files, ops, True


def main(argv):
    root, nworkers, seconds, seed = argv[1], int(argv[2]), float(argv[3]), int(argv[4])
    for d in DIRS:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    pipes = []
    for wid in range(nworkers):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            files, ops, ok = worker(root, wid, seconds, seed)
            # Wait for the go to check: all workers stopped, caches dropped.
            with os.fdopen(w, "w") as out:
                out.write("%d %s\n" % (ok, " ".join("%s=%d" % kv for kv in sorted(ops.items()))))
                out.flush()
                while not os.path.exists(os.path.join(root, "d0", ".check")):
                    time.sleep(0.2)
                bad = 0
                for p, model in files.items():
                    with open(p, "rb") as f:
                        if f.read() != bytes(model):
                            print("worker %d: %s content differs (%d bytes expected)" % (wid, p, len(model)), flush=True)
                            bad += 1
                for d in DIRS:
                    for fn in os.listdir(os.path.join(root, d)):
                        p = os.path.join(root, d, fn)
                        if fn.startswith("w%d-" % wid) and p not in files:
                            print("worker %d: %s left over" % (wid, p), flush=True)
                            bad += 1
                out.write("%d\n" % bad)
            os._exit(0)
        os.close(w)
        pipes.append((pid, os.fdopen(r)))
    total = {}
    ok = True
    for pid, r in pipes:
        line = r.readline().split()
        ok = ok and line and line[0] == "1"
        for kv in line[1:]:
            k, v = kv.split("=")
            total[k] = total.get(k, 0) + int(v)
    drop_caches()
    open(os.path.join(root, "d0", ".check"), "w").close()
    bad = 0
    for pid, r in pipes:
        v = r.readline().strip()
        bad += int(v) if v.isdigit() else 1
        os.waitpid(pid, 0)
    os.unlink(os.path.join(root, "d0", ".check"))
    print("stress: %d operations (%s); %d content mismatches" % (
        sum(total.values()), ", ".join("%s %d" % kv for kv in sorted(total.items())), bad), flush=True)
    sys.exit(0 if ok and bad == 0 else 1)


if __name__ == "__main__":
    main(sys.argv)
