# shellcheck shell=bash disable=SC2034
# Helpers shared by the rext2 read-only tests; sourced after ktests/lib.sh
# (which turns on set -Eeuo pipefail: everything here copes with that).
#   . "$REXT2_ROOT/ktests/lib.sh"; . "$REXT2_ROOT/ktests/tools/testlib.sh"
# Functions here never skip: a missing tool the tests need is a failure.
# Names differ from lib.sh's (rmount, not mount_rext2) so both can be used.

TOOLS=$REXT2_ROOT/ktests/tools
# The Debian python3 first: the guest shares the host's root, but not a
# per-user pyenv shim that may be first on the host's PATH.
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
MANIFEST="$PY $TOOLS/manifest.py"
FSOP="$PY $TOOLS/fsop.py"
POKE="$PY $TOOLS/ext2poke.py"
# The filesystem type under test. Only for developing the tests on a machine
# without the module (REXT2_TEST_FSTYPE=ext2); the harness never sets it.
RFS=${REXT2_TEST_FSTYPE:-rext2}
# Scratch space: run-suite.sh gives each test a fresh tmpfs dir as KTEST_DIR.
WORK=${WORK:-${KTEST_DIR:-$(mktemp -d /tmp/rext2-test.XXXXXX)}}
mkdir -p "$WORK"
_T_MOUNTS=()
_T_LOOPS=()

t_log() { echo "[$(date +%T)] $*"; }

# Everything a test mounted or attached is undone when it exits, pass or fail.
t_cleanup() {
	local i
	set +e
	for ((i = ${#_T_MOUNTS[@]} - 1; i >= 0; i--)); do
		mountpoint -q "${_T_MOUNTS[$i]}" 2>/dev/null && umount "${_T_MOUNTS[$i]}" 2>/dev/null
	done
	for l in "${_T_LOOPS[@]}"; do [ -z "$l" ] || losetup -d "$l" 2>/dev/null; done
	# Keep KTEST_DIR (run-suite.sh removes it); remove a dir we made.
	[ -n "${KTEST_DIR:-}" ] || rm -rf "$WORK" 2>/dev/null
	return 0
}
trap t_cleanup EXIT

# Write a marker into the kernel log; kmsg_since MARK prints what came after.
kmsg_mark() {
	local m="rext2-test-mark-$$-$RANDOM-$1"
	echo "$m" >/dev/kmsg
	echo "$m"
}
kmsg_since() { dmesg | sed -n "/$1/,\$p" | tail -n +2; }

# Lines in the kernel log since MARK that show a kernel bug.
kmsg_bugs() {
	kmsg_since "$1" | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace|panic|UBSAN|KASAN|rust_panic|kernel BUG|lockdep|possible circular|INFO: task .* blocked|soft lockup|hung_task' || true
}
assert_no_kernel_bugs() {
	local b
	b=$(kmsg_bugs "$1")
	[ -z "$b" ] || { echo "$b" | head -40; fail "kernel log shows a bug (above)"; }
}

# assert_no_fs_errors MARK: on a clean image, the filesystem under test must
# not have complained (a false corruption report is a bug too).
assert_no_fs_errors() {
	local b
	b=$(kmsg_since "$1" | grep -i "$RFS" | grep -iE 'error|corrupt|bad |out of range|invalid|unsupported|fail|beyond|warning' || true)
	[ -z "$b" ] || { echo "$b" | head -20; fail "$RFS logged errors on a clean image (above)"; }
}

mnt_dir() {
	local d=$WORK/mnt-$1
	mkdir -p "$d"
	echo "$d"
}

# mount_fs TYPE DEV DIR [OPTS]: mount or fail with the kernel log. For the
# filesystem under test, REXT2_WRITE=multipage|classic adds write= (unless
# OPTS names one), so a test can be run over either write path.
mount_fs() {
	local type=$1 dev=$2 dir=$3 opts=${4:-}
	local mark
	if [ "$type" = "$RFS" ] && [ -n "${REXT2_WRITE:-}" ] && [[ $opts != *write=* ]]; then
		opts=${opts:+$opts,}write=$REXT2_WRITE
	fi
	mark=$(kmsg_mark mount)
	if ! mount -t "$type" ${opts:+-o "$opts"} "$dev" "$dir"; then
		kmsg_since "$mark" | tail -20
		fail "mount -t $type ${opts:+-o $opts} $dev $dir failed (kernel log above)"
	fi
	_T_MOUNTS+=("$dir")
}
# rmount DEV DIR [OPTS]: the filesystem under test, read-only.
rmount() { mount_fs "$RFS" "$1" "$2" "ro${3:+,$3}"; }
umount_fs() { umount "$1" || fail "umount $1 failed"; }

# dev_hash DEV BYTES: sha256 of the first BYTES bytes of DEV.
dev_hash() {
	head -c "$2" "$1" | sha256sum | cut -d' ' -f1
}

# attach_loop FILE: attach a loop device for an image file and set LOOP to
# it (not echoed: a $(...) subshell would lose the record that detaches it
# at exit).
attach_loop() {
	LOOP=$(losetup -f --show "$1") || fail "losetup $1 failed"
	_T_LOOPS+=("$LOOP")
}
detach_loop() {
	losetup -d "$1" || fail "losetup -d $1 failed"
	local i
	for i in "${!_T_LOOPS[@]}"; do [ "${_T_LOOPS[$i]}" != "$1" ] || unset "_T_LOOPS[$i]"; done
}

# same_file A B WHAT: fail with a unified diff when two text files differ.
same_file() {
	if ! cmp -s "$1" "$2"; then
		echo "--- $3: differences (- reference, + under test) ---"
		{ diff -u "$1" "$2" || true; } | head -${DIFF_LINES:-80}
		local n
		n=$({ diff "$1" "$2" || true; } | grep -c '^[<>]' || true)
		echo "--- $n differing lines in all ---"
		fail "$3 differs"
	fi
}

# expect_errno ERRNAMES OP ARGS...: run one system call via fsop.py; its
# result must be one of the comma-separated names (OK for success).
expect_errno() {
	local want=$1
	shift
	local got
	got=$($FSOP "$@" 2>&1 | tail -1)
	case ",$want," in
	*",$got,"* | *",${got%% *},"*) return 0 ;;
	esac
	fail "$* gave '$got', expected one of: $want"
}

# Batched system calls: one python process for many checks (each exec costs
# a lot under TCG).
#   ops_reset; op WANT OP PATH [ARGS...]; ...; ops_run LABEL [REPEAT]
# WANT: comma-separated results accepted (errno names, OK, "OK <value>"),
# or "any" for anything but a hang or crash. ops_run runs every operation
# REPEAT times (default 2: a second try must not succeed where the first
# failed), prints a FAIL line per mismatch, appends "LABEL|op|result|want"
# lines to $OPS_TABLE and adds the mismatches to OPS_NFAIL. With
# OPS_ENFORCE=0 it only records.
OPS_TABLE=$WORK/ops-table
OPS_NFAIL=0
OPS_ENFORCE=1
ops_reset() { _OPS_WANT=() _OPS_LINE=(); }
ops_reset
op() {
	local want=$1 line
	shift
	line=$(printf '%s\t' "$@")
	_OPS_WANT+=("$want")
	_OPS_LINE+=("${line%$'\t'}")
}
ops_run() {
	local label=$1 rep=${2:-2} i r w ok rc=0
	printf '%s\n' "${_OPS_LINE[@]}" >"$WORK/ops.in"
	timeout 600 $FSOP batch --repeat "$rep" <"$WORK/ops.in" >"$WORK/ops.out" 2>"$WORK/ops.err" || rc=$?
	[ $rc = 0 ] || { echo "ops_run $label: fsop batch exited $rc"; tail -5 "$WORK/ops.err"; }
	local res=()
	mapfile -t res <"$WORK/ops.out"
	for i in "${!_OPS_LINE[@]}"; do
		r=${res[$i]:-"(no result: hung or crashed)"}
		w=${_OPS_WANT[$i]}
		echo "$label|${_OPS_LINE[$i]//$'\t'/ }|$r|$w" >>"$OPS_TABLE"
		[ "$OPS_ENFORCE" = 1 ] || continue
		ok=1
		if [ "$w" = any ]; then
			[[ $r != "(no result"* ]] || ok=0
		else
			# Each of the repeated results ("A then B") must be accepted.
			local part rest=$r
			while [ -n "$rest" ]; do
				part=${rest%% then *}
				[ "$part" != "$rest" ] && rest=${rest#* then } || rest=
				case ",$w," in
				*",$part,"* | *",${part%% *},"*) ;;
				*) ok=0 ;;
				esac
			done
		fi
		if [ $ok = 0 ]; then
			echo "FAIL: ${_OPS_LINE[$i]//$'\t'/ }: got '$r', want one of: $w"
			OPS_NFAIL=$((OPS_NFAIL + 1))
		fi
	done
	ops_reset
}

t_need() { command -v "$1" >/dev/null || fail "required tool $1 is missing"; }
t_need mke2fs
t_need e2fsck
t_need debugfs
t_need losetup
t_need "$PY"
