#!/bin/bash
# timeout: 600
# Bad objects in an image whose superblock is fine: rext2 mounts it, returns
# errors (EIO or EUCLEAN = EFSCORRUPTED; ESTALE where ext2 uses it) for the
# bad objects, never garbage, and serves the good files unchanged. The
# kernel log must show no oops/WARN/lockdep, every walk must terminate, and
# the image must not be modified.
#
# Image: 32 MiB ext2, 1K blocks, in a 48 MiB file; the 16 MiB after the
# filesystem are filled with 0xAB, so a block pointer past the filesystem but
# inside the device would read 0xAB if the driver did not check it.
# Each bad object lives in its own directory under /bad; /good holds files
# that must read exactly as before the corruption.
#
# Every check runs twice (a second read must not succeed from a page left in
# the cache by the first; "A then B" in the table when they differ), then
# again after drop_caches. The same checks run
# on C ext2 -o ro afterwards, for the table only (ext2 does not validate
# block pointers, so it returns 0xAB/zeros in some cases: rext2 must not).
set -u
. "$REXT2_ROOT/ktests/lib.sh"
. "$REXT2_ROOT/ktests/tools/testlib.sh"

load_rext2
M=$(mnt_dir m)
IMG=$WORK/obj.img
ORIG=$WORK/orig
SLOW=$(printf 't%.0s' {1..100})      # the slow symlinks' target
GOODLINK=$(printf 's%.0s' {1..300})  # good/slowlink's target
mkdir -p "$ORIG"
truncate -s 48M "$IMG"
mke2fs -q -F -t ext2 -b 1024 -N 2048 "$IMG" 32M || fail "mke2fs failed"
"$PY" -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(32<<20); f.write(b"\xab"*(16<<20))' "$IMG"

t_log "populate with ext2"
attach_loop "$IMG"
l=$LOOP
mount_fs ext2 "$l" "$M"
# One python process creates the objects and writes the ext2poke commands
# that corrupt them (with their inode numbers) to $WORK/pokes.
"$PY" - "$M" "$ORIG" "$WORK/pokes" "$SLOW" "$GOODLINK" <<'PYEOF' || fail "populate failed"
import os, shutil, sys
m, orig, pokefile, slow, goodlink = sys.argv[1:6]
P = []
def path(*a): return os.path.join(m, *a)
def put(p, data):
    with open(p, "wb") as f: f.write(data)
def ino(*a): return os.lstat(path(*a)).st_ino
os.makedirs(path("good", "sub")); os.makedirs(path("bad"))
put(path("good", "big"), os.urandom(300000))          # direct+indirect+dind blocks
put(path("good", "sub", "seq"), "".join("%d\n" % i for i in range(1, 1001)).encode())
os.symlink("../good/big", path("good", "link"))
os.symlink(goodlink, path("good", "slowlink"))
def mkd(d): os.makedirs(path("bad", d)); return d
# Regular files with bad block pointers (1K blocks: ind from logical 12,
# dind from 268, tind from 65804).
for d in ("ptr-past-device", "ptr-past-fs", "ind-ptr-past-device", "ind-entry-past-device",
          "dind-ptr-past-fs", "size-negative", "xattr-block-past-fs"):
    mkd(d)
    put(path("bad", d, "f"), os.urandom(300000))
    shutil.copyfile(path("bad", d, "f"), os.path.join(orig, d))
mkd("tind-ptr-past-fs")
with open(path("bad", "tind-ptr-past-fs", "f"), "wb") as f:
    f.write(os.urandom(4096)); f.seek(65804 * 1024); f.write(os.urandom(4096))
shutil.copyfile(path("bad", "tind-ptr-past-fs", "f"), os.path.join(orig, "tind-ptr-past-fs"))
f = lambda d: ino("bad", d, "f")
P.append("ino-set %d block[0] 99999999" % f("ptr-past-device"))
P.append("ino-set %d block[1] 40000" % f("ptr-past-fs"))                 # in the 0xAB area
P.append("ino-set %d block[12] 99999999" % f("ind-ptr-past-device"))
P.append("bmap-set %d 15 99999999" % f("ind-entry-past-device"))         # entry 3 of the IND block
P.append("ino-set %d block[13] 45000" % f("dind-ptr-past-fs"))
P.append("ino-set %d block[14] 46000" % f("tind-ptr-past-fs"))
P.append("ino-set %d size_high 0x80000000" % f("size-negative"))
P.append("ino-set %d file_acl 99999999" % f("xattr-block-past-fs"))
# Directories with a bad entry "b" between good "a" and "c".
for d, cmd in (("rl-zero", "b rec_len 0"), ("rl-unaligned", "b rec_len 13"),
               ("rl-past-block", "b rec_len 2000"), ("namelen-too-big", "b name_len 200"),
               ("ino-past-count", "b inode 99999999"), ("dot-rl-zero", ". rec_len 0"),
               ("ino-1", "b inode 1"), ("ino-unused", "b inode 2000")):
    mkd(d)
    for n in "abc":
        put(path("bad", d, n), n.encode() + b"\n")
    P.append("dirent-set %d %s" % (ino("bad", d), cmd))
for d, cmds in (("links0-dtime", ["links_count 0", "dtime 1000000000"]),
                ("links0-nodtime", ["links_count 0"])):
    mkd(d)
    put(path("bad", d, "z"), b"z\n")
    for c in cmds:
        P.append("ino-set %d %s" % (ino("bad", d, "z"), c))
mkd("dir-as-file"); os.mkdir(path("bad", "dir-as-file", "d")); put(path("bad", "dir-as-file", "d", "in"), b"in\n")
P.append("ino-set %d mode 0x81a4" % ino("bad", "dir-as-file", "d"))       # S_IFREG|0644
mkd("file-as-dir"); put(path("bad", "file-as-dir", "f"), b"\xff" * 4096)
P.append("ino-set %d mode 0x41ed" % ino("bad", "file-as-dir", "f"))       # S_IFDIR|0755
mkd("symlinks")
for name, target, cmd in (("fast-size-1000", "short-target", "size 1000"),
                          ("fast-size-huge", "short-target", "size 0x7fffffff"),
                          ("slow-size-5000", slow, "size 5000"),
                          ("slow-size-huge", slow, "size 0x40000000"),
                          ("slow-block-past-device", slow, "block[0] 99999999")):
    os.symlink(target, path("bad", "symlinks", name))
    P.append("ino-set %d %s" % (ino("bad", "symlinks", name), cmd))
mkd("dir-size-unaligned"); put(path("bad", "dir-size-unaligned", "x"), b"x\n")
P.append("ino-set %d size 1000" % ino("bad", "dir-size-unaligned"))
mkd("dir-size-huge"); put(path("bad", "dir-size-huge", "x"), b"x\n")
P.append("ino-set %d size %d" % (ino("bad", "dir-size-huge"), 64 << 20))  # 1 block, the rest holes
mkd("bad-mode"); put(path("bad", "bad-mode", "f"), b"x\n")
P.append("ino-set %d mode 0xf1a4" % ino("bad", "bad-mode", "f"))         # file type 0xF
mkd("dir-loop"); os.mkdir(path("bad", "dir-loop", "sub"))
P.append("dirent-set %d sub inode 2" % ino("bad", "dir-loop"))            # "sub" -> the root
mkd("dir-block-past-device"); put(path("bad", "dir-block-past-device", "x"), b"x\n")
P.append("ino-set %d block[0] 99999999" % ino("bad", "dir-block-past-device"))
with open(pokefile, "w") as f:
    f.write("\n".join(P) + "\n")
PYEOF
umount_fs "$M"
mount_fs ext2 "$l" "$M" ro
$MANIFEST --atime "$M/good" >"$WORK/good.ref" || fail "reference manifest failed"
umount_fs "$M"
detach_loop "$l"
e2fsck -fn "$IMG" >/dev/null 2>&1 || fail "image not clean before corruption"

t_log "corrupt ($(wc -l <"$WORK/pokes") pokes)"
$POKE "$IMG" batch <"$WORK/pokes" || fail "pokes failed"
cp --sparse=always "$IMG" "$WORK/corrupt.img"
CORRUPT_HASH=$(sha256sum <"$IMG")

E="EIO,EUCLEAN"
# chk WANT OP PATH [ARGS]: queue one check (testlib's op) on $M/PATH.
chk() {
	local want=$1 o=$2 path=$3
	shift 3
	op "$want" "$o" "$M/$path" "$@"
}

checks() {
	# Data block pointers.
	chk "$E" read bad/ptr-past-device/f
	chk "$E" readat bad/ptr-past-device/f 0 1024
	chk "OK,$E" cmpread bad/ptr-past-device/f "$ORIG/ptr-past-device" 2048 1024
	chk "SIGBUS,$E" mmap-read bad/ptr-past-device/f
	chk "$E" read bad/ptr-past-fs/f
	chk "$E" readat bad/ptr-past-fs/f 1024 1024
	chk "OK,$E" cmpread bad/ptr-past-fs/f "$ORIG/ptr-past-fs" 0 1024
	chk "$E" read bad/ind-ptr-past-device/f
	chk "$E" readat bad/ind-ptr-past-device/f $((12 * 1024)) 1024
	chk "OK,$E" cmpread bad/ind-ptr-past-device/f "$ORIG/ind-ptr-past-device" 0 4096
	chk "$E" read bad/ind-entry-past-device/f
	chk "$E" readat bad/ind-entry-past-device/f $((15 * 1024)) 1024
	chk "OK,$E" cmpread bad/ind-entry-past-device/f "$ORIG/ind-entry-past-device" $((14 * 1024)) 1024
	chk "OK,$E" cmpread bad/ind-entry-past-device/f "$ORIG/ind-entry-past-device" $((16 * 1024)) 1024
	chk "$E" read bad/dind-ptr-past-fs/f
	chk "$E" readat bad/dind-ptr-past-fs/f $((270 * 1024)) 1024
	chk "OK,$E" cmpread bad/dind-ptr-past-fs/f "$ORIG/dind-ptr-past-fs" $((200 * 1024)) 1024
	chk "$E" readat bad/tind-ptr-past-fs/f $((65804 * 1024)) 4096
	chk "OK,$E" cmpread bad/tind-ptr-past-fs/f "$ORIG/tind-ptr-past-fs" 0 4096
	chk "$E" stat bad/size-negative/f
	chk "$E" read bad/size-negative/f
	# An xattr block rext2 does not read yet: serving the file or refusing
	# the inode (as ext2 does) are both fine; garbage is not.
	chk "OK,$E" stat bad/xattr-block-past-fs/f
	chk "OK 300000,$E" read bad/xattr-block-past-fs/f
	chk "OK,$E" cmpread bad/xattr-block-past-fs/f "$ORIG/xattr-block-past-fs" 0 300000
	# Directory entries.
	local d
	for d in rl-zero rl-unaligned rl-past-block namelen-too-big dot-rl-zero; do
		chk "$E" listdir bad/$d
		chk "OK,$E" stat bad/$d/a
		chk "$E" stat bad/$d/c
		chk "$E" stat bad/$d/not-there
	done
	# Only b's inode number is bad: b must fail; a and c may be served.
	chk "OK 3,$E" listdir bad/ino-past-count
	chk "$E" stat bad/ino-past-count/b
	chk "OK,$E" stat bad/ino-past-count/c
	chk "ENOENT,$E" stat bad/ino-past-count/not-there
	chk "ESTALE,$E" stat bad/ino-1/b
	chk "OK 3" listdir bad/ino-1
	chk "OK" stat bad/ino-1/c
	chk "ESTALE,$E" stat bad/ino-unused/b
	chk "OK" stat bad/ino-unused/a
	# Inodes.
	chk "ESTALE,$E" stat bad/links0-dtime/z
	chk "ESTALE,$E" read bad/links0-dtime/z
	chk "ESTALE,$E" stat bad/links0-nodtime/z
	chk any stat bad/dir-as-file/d
	chk any read bad/dir-as-file/d
	chk "ENOTDIR,$E" stat bad/dir-as-file/d/in
	chk "$E" listdir bad/file-as-dir/f
	chk "$E" stat bad/file-as-dir/f/x
	chk any listdir bad/dir-size-unaligned
	chk any stat bad/dir-size-unaligned/x
	chk "OK 1,$E" listdir bad/dir-size-huge
	chk "OK,$E" stat bad/dir-size-huge/x
	chk "ENOENT,$E" stat bad/dir-size-huge/not-there
	chk any stat bad/bad-mode/f
	chk any read bad/bad-mode/f
	chk any stat bad/dir-loop/sub
	chk any listdir bad/dir-loop/sub
	chk "$E" listdir bad/dir-block-past-device
	chk "$E" stat bad/dir-block-past-device/x
	# Symlinks: the real target or an error, never more bytes.
	chk "OK short-target,$E" readlink bad/symlinks/fast-size-1000
	chk "OK short-target,$E" readlink bad/symlinks/fast-size-huge
	chk "OK $SLOW,$E" readlink bad/symlinks/slow-size-5000
	chk "OK $SLOW,$E" readlink bad/symlinks/slow-size-huge
	chk "$E" readlink bad/symlinks/slow-block-past-device
	chk "ENOENT,$E" stat bad/symlinks/slow-block-past-device
	# The good files.
	chk OK read good/big
	chk "OK 1" listdir good/sub
	chk "OK $GOODLINK" readlink good/slowlink
	ops_run "$1"
}

t_log "rext2 -o ro on the corrupt image"
attach_loop "$IMG"
l=$LOOP
mark=$(kmsg_mark 060-rext2)
rmount "$l" "$M"
checks rext2
echo 3 >/proc/sys/vm/drop_caches
checks rext2-after-drop-caches
# Good files intact (after all the errors).
$MANIFEST --atime "$M/good" >"$WORK/good.rext2" 2>&1
same_file "$WORK/good.ref" "$WORK/good.rext2" "good files after hitting the bad ones"
# Walks terminate and do not crash: find, ls -R, cat everything, readlink.
start=$(date +%s)
walk() {
	local rc=0
	timeout 120 "$@" >/dev/null 2>&1 || rc=$?
	[ $rc != 124 ] || fail "'$*' over the corrupt tree did not finish in 120 s"
}
walk find "$M"
walk ls -laR "$M"
walk find "$M" -type f -exec cat {} +
walk find "$M" -type l -exec readlink {} +
walk find "$M" -exec stat {} +
walk $MANIFEST --atime "$M"
t_log "walks took $(($(date +%s) - start)) s"
umount_fs "$M"
log=$(kmsg_since "$mark")
echo "--- kernel log lines from $RFS during the checks (first 25) ---"
{ echo "$log" | grep -i "$RFS" || true; } | head -25
assert_no_kernel_bugs "$mark"
detach_loop "$l"
[ "$(sha256sum <"$IMG")" = "$CORRUPT_HASH" ] || fail "the image was modified by the $RFS mount"

t_log "reference: C ext2 -o ro on the same image (table only)"
cp --sparse=always "$WORK/corrupt.img" "$WORK/ext2.img"
attach_loop "$WORK/ext2.img"
l=$LOOP
mount_fs ext2 "$l" "$M" ro
OPS_ENFORCE=0
checks ext2
umount_fs "$M"
detach_loop "$l"

echo "=== results: operation | rext2 | rext2 after drop_caches | ext2 | accepted ==="
"$PY" - "$OPS_TABLE" "$M/" <<'EOF'
import sys, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    mode, op, res, want = line.rstrip("\n").split("|", 3)
    op = op.replace(sys.argv[2], "")
    rows.setdefault(op, {})[mode] = res
    rows[op]["want"] = want
for op, r in rows.items():
    print("%-62s | %-18s | %-18s | %-18s | %s" % (op[:62], r.get("rext2", "")[:18],
          r.get("rext2-after-drop-caches", "")[:18], r.get("ext2", "")[:18], r.get("want", "")[:40]))
EOF
[ "$OPS_NFAIL" = 0 ] || fail "$OPS_NFAIL checks on bad objects failed (FAIL lines above)"
echo "060-corrupt-objects: ok"
