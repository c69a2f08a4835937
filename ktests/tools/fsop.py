#!/usr/bin/env python3
"""Run one file-system operation and print OK or the errno name (EIO, ...).

Usage: fsop.py OP PATH [ARG...]
       fsop.py batch [--repeat N] < lines of OP<TAB>PATH<TAB>ARG...
  stat lstat readlink listdir read(whole file) readat OFF LEN (prints OK and
  the count read) open-rdonly open-wronly open-rdwr open-trunc creat
  open-creat-excl unlink mkdir rmdir rename NEW link NEW symlink TARGET
  mknod-fifo chmod MODE chown UID GID utime truncate LEN setxattr NAME
  removexattr NAME write (open O_WRONLY and write one byte) append
  mmap-write (MAP_SHARED PROT_WRITE on an O_RDONLY fd) statfs
  fallocate (one block at offset 0 via posix_fallocate)
  cmpread PATH ORIG OFF LEN  pread both; OK if equal, MISMATCH if the read
                            succeeded with other bytes, else the errno
  mmap-read  map the whole file read-only and touch every page in a child
             process; OK, SIGBUS, or the errno of mmap
  mount TARGET SRC FSTYPE [ro] [DATA]   mount(2) itself, for its errno
  umount TARGET
Prints a second token for some operations (e.g. "OK 4096" for readat).
Exits 0 whatever the outcome; callers compare the printed name.
"""

import errno
import mmap
import os
import sys


def run(op, p, args):
    if op == "stat":
        os.stat(p)
    elif op == "lstat":
        os.lstat(p)
    elif op == "readlink":
        return os.readlink(p)
    elif op == "listdir":
        return str(len(os.listdir(p)))
    elif op == "read":
        with open(p, "rb") as f:
            n = 0
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                n += len(b)
        return str(n)
    elif op == "readat":
        fd = os.open(p, os.O_RDONLY)
        try:
            return str(len(os.pread(fd, int(args[1]), int(args[0]))))
        finally:
            os.close(fd)
    elif op == "open-rdonly":
        os.close(os.open(p, os.O_RDONLY))
    elif op == "open-wronly":
        os.close(os.open(p, os.O_WRONLY))
    elif op == "open-rdwr":
        os.close(os.open(p, os.O_RDWR))
    elif op == "open-trunc":
        os.close(os.open(p, os.O_WRONLY | os.O_TRUNC))
    elif op == "creat":
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    elif op == "open-creat-excl":
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    elif op == "write":
        fd = os.open(p, os.O_WRONLY)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
    elif op == "append":
        fd = os.open(p, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
    elif op == "mmap-write":
        fd = os.open(p, os.O_RDONLY)
        try:
            m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            m.close()
        finally:
            os.close(fd)
    elif op == "unlink":
        os.unlink(p)
    elif op == "mkdir":
        os.mkdir(p, 0o755)
    elif op == "rmdir":
        os.rmdir(p)
    elif op == "rename":
        os.rename(p, args[0])
    elif op == "link":
        os.link(p, args[0])
    elif op == "symlink":
        os.symlink(args[0], p)
    elif op == "mknod-fifo":
        os.mkfifo(p, 0o644)
    elif op == "chmod":
        os.chmod(p, int(args[0], 8), follow_symlinks=False)
    elif op == "chown":
        os.chown(p, int(args[0]), int(args[1]), follow_symlinks=False)
    elif op == "utime":
        os.utime(p, (1, 1), follow_symlinks=False)
    elif op == "truncate":
        os.truncate(p, int(args[0]))
    elif op == "setxattr":
        os.setxattr(p, args[0], b"v", follow_symlinks=False)
    elif op == "removexattr":
        os.removexattr(p, args[0], follow_symlinks=False)
    elif op == "statfs":
        os.statvfs(p)
    elif op == "fallocate":
        fd = os.open(p, os.O_WRONLY)
        try:
            os.posix_fallocate(fd, 0, 4096)
        finally:
            os.close(fd)
    elif op == "cmpread":
        off, ln = int(args[1]), int(args[2])
        with open(args[0], "rb") as f:
            f.seek(off)
            want = f.read(ln)
        fd = os.open(p, os.O_RDONLY)
        try:
            got = os.pread(fd, ln, off)
        finally:
            os.close(fd)
        if got != want:
            return "MISMATCH(%d bytes read, %d expected)" % (len(got), len(want))
    elif op == "mmap-read":
        fd = os.open(p, os.O_RDONLY)
        size = os.fstat(fd).st_size
        if size == 0:
            os.close(fd)
            return None
        m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        pid = os.fork()
        if pid == 0:
            total = 0
            for off in range(0, size, 4096):
                total += m[off]
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        m.close()
        os.close(fd)
        if os.WIFSIGNALED(status):
            import signal
            return signal.Signals(os.WTERMSIG(status)).name
        if os.WEXITSTATUS(status) != 0:
            return "EXIT%d" % os.WEXITSTATUS(status)
    elif op in ("mount", "umount"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if op == "mount":
            src, fstype = args[0], args[1]
            flags = 1 if len(args) > 2 and args[2] == "ro" else 0
            data = args[3].encode() if len(args) > 3 else None
            r = libc.mount(src.encode(), p.encode(), fstype.encode(), ctypes.c_ulong(flags),
                           ctypes.c_char_p(data))
        else:
            r = libc.umount(p.encode())
        if r != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    else:
        raise SystemExit("fsop.py: unknown op %s" % op)
    return None


def result(op, p, args):
    try:
        extra = run(op, p, args)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    if extra is not None and (extra.startswith("MISMATCH") or extra.startswith("SIG") or extra.startswith("EXIT")):
        return extra
    return "OK" if extra is None else "OK " + extra


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "batch":
        # batch [--repeat N]: one operation a line on stdin, fields separated
        # by tabs (OP PATH ARGS...); prints one line per operation: the
        # results of its N runs joined by " then " when they differ.
        n = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--repeat" else 1
        for line in sys.stdin:
            line = line.rstrip("\n")
            if not line:
                continue
            f = line.split("\t")
            rs = [result(f[0], f[1], f[2:]) for _ in range(n)]
            out = rs[0] if all(r == rs[0] for r in rs) else " then ".join(rs)
            print(out, flush=True)
        return 0
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    print(result(sys.argv[1], sys.argv[2], sys.argv[3:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
