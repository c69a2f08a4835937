#!/usr/bin/env bash
# Run the rext2 in-VM tests (inside the VM: qemu/vm.sh -- ktests/run-suite.sh).
#
#   ktests/run-suite.sh [NAME...]
#
# Runs ktests/tests/*.sh in name order, or only the NAMEs given (010-foo.sh,
# 010-foo, foo or 010 all name ktests/tests/010-foo.sh). Each test runs as
# `bash TEST` in a fresh empty working dir under /tmp (tmpfs), stdin
# /dev/null, with a timeout: 600 s, or N from a `# timeout: N` line in the
# test, times KTEST_TIMEOUT_SCALE (default 1).
#
# A test passes by exiting 0, is skipped by exiting 77 (lib.sh's `skip`), and
# fails otherwise, on timeout, or if the kernel logged a report (oops, BUG,
# WARNING, lockdep, hung task...: see qemu/kreport.sh) while it ran. After
# each test its leftover processes are killed and leftover mounts, loop and
# dm devices removed, so the next test starts clean.
#
# Output: RUN/PASS/FAIL/SKIP lines, and for a failure the tail of its output
# and any kernel report; the last line is "N passed, N failed[, N skipped]".
# In $REXT2_OUT: tests/NAME.log (full output), tests/NAME.dmesg (kernel log
# during the test), dmesg.log (whole kernel log), results.txt (one
# "PASS|FAIL|SKIP NAME SECONDS" line per test, written as it goes) and
# summary.txt ("passed=N failed=N skipped=N", written at the end), running
# (the test in progress, if the VM dies) and kreports-seen (see qemu/vm.sh).
# KTEST_VERBOSE=1 also streams each test's output live.
# Exit status: 0 iff nothing failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REXT2_ROOT=${REXT2_ROOT:-$(cd "$here/.." && pwd)}
export REXT2_ROOT
. "$REXT2_ROOT/qemu/kreport.sh"

# This script unmounts things and clears the kernel log: not on a real host.
if ! grep -qw 'root=rext2root' /proc/cmdline || [ -z "${REXT2_OUT:-}" ]; then
	echo "run-suite.sh: runs inside the test VM only (qemu/vm.sh -- ktests/run-suite.sh)" >&2
	exit 2
fi
export REXT2_OUT
testdir=${KTEST_TESTS_DIR:-$here/tests}
export PATH=$PATH:/usr/sbin:/sbin

# --- which tests ---------------------------------------------------------
all=()
while IFS= read -r t; do all+=("$t"); done < <(find "$testdir" -maxdepth 1 -name '*.sh' -type f 2>/dev/null | LC_ALL=C sort)

matches() { # matches NAME TESTPATH
	local n=${1%.sh} b=${2##*/}
	b=${b%.sh}
	[ "$n" = "$b" ] || { [[ $b =~ ^[0-9]+[-_](.*)$ ]] && [ "$n" = "${BASH_REMATCH[1]}" ]; } ||
		{ [[ $n =~ ^[0-9]+$ ]] && [[ $b =~ ^${n}[-_] ]]; }
}

unknown=()
selected=()
if [ $# -eq 0 ]; then
	selected=("${all[@]}")
else
	declare -A want=()
	for n in "$@"; do
		found=0
		for t in "${all[@]}"; do
			if matches "$n" "$t"; then want[$t]=1; found=1; fi
		done
		[ $found = 1 ] || unknown+=("$n")
	done
	for t in "${all[@]}"; do [ -n "${want[$t]:-}" ] && selected+=("$t"); done
fi

# --- helpers ---------------------------------------------------------------
mkdir -p "$REXT2_OUT/tests"
: >"$REXT2_OUT/results.txt"
passed=0 failed=0 skipped=0 seen=0

record() { # record PASS|FAIL|SKIP NAME SECONDS
	echo "$1 $2 $3" >>"$REXT2_OUT/results.txt"
	case $1 in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; SKIP) skipped=$((skipped + 1)) ;; esac
}

# Undo what a test left behind: mounts on test devices or under /tmp and
# /mnt (deepest first; lazily if busy), loop devices, dm devices.
cleanup_after() {
	local name=$1 src mp left=()
	while read -r src mp _; do
		[ "$mp" = "$REXT2_ROOT" ] && continue
		case $src:$mp in
		/dev/vd*:* | /dev/loop*:* | /dev/mapper/*:* | /dev/dm-*:* | *:/tmp/* | *:/mnt | *:/mnt/*) left+=("$mp") ;;
		esac
	done </proc/self/mounts
	local i
	for ((i = ${#left[@]} - 1; i >= 0; i--)); do
		mp=$(printf '%b' "${left[i]}") # /proc/mounts escapes spaces as \040
		echo "  note: $name left $mp mounted; unmounting"
		umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || echo "  note: cannot unmount $mp"
	done
	# Globs, not losetup/dmsetup queries: every exec costs ~0.2 s under TCG.
	local f
	for f in /sys/block/loop*/loop/backing_file; do
		[ -e "$f" ] || continue
		echo "  note: $name left loop devices; detaching"
		losetup -D || true
		break
	done
	for f in /sys/block/dm-*; do
		[ -e "$f" ] || continue
		echo "  note: $name left dm devices; removing"
		dmsetup remove_all --force >/dev/null 2>&1 || true
		break
	done
}

# --- run -----------------------------------------------------------------
echo "ktests: ${#selected[@]} test(s); kernel $(uname -r); $(nproc) CPUs; $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
[ -f "$REXT2_ROOT/rext2.ko" ] || echo "ktests: note: $REXT2_ROOT/rext2.ko is not built"
for n in "${unknown[@]}"; do
	echo "FAIL $n (0s): no such test in $testdir"
	record FAIL "$n" 0
done

dmesg -c >>"$REXT2_OUT/dmesg.log" 2>/dev/null || true
rm -rf /run/ktest
mkdir -p /run/ktest
for t in "${selected[@]}"; do
	name=${t##*/}
	name=${name%.sh}
	tmo=600
	while IFS= read -r l; do
		if [[ $l =~ ^#[[:space:]]*timeout:[[:space:]]*([0-9]+) ]]; then tmo=${BASH_REMATCH[1]}; break; fi
	done <"$t"
	scale=${KTEST_TIMEOUT_SCALE:-1}
	[ "$scale" = 1 ] || tmo=$(awk -v t="$tmo" -v s="$scale" 'BEGIN { printf "%d", t * s }')
	wd=/tmp/ktest/$name # removed after each test, so fresh
	mkdir -p "$wd"
	log=$REXT2_OUT/tests/$name.log
	skipf=/run/ktest/$name.skip
	echo "$name" >"$REXT2_OUT/running"
	echo "RUN  $name (timeout ${tmo}s)"
	echo "ktest: start $name" >/dev/kmsg

	start=$EPOCHSECONDS
	# timeout(1) makes itself a process group leader: killing that group
	# afterwards gets rid of whatever the test left running in the background.
	(
		cd "$wd"
		export KTEST_NAME=$name KTEST_DIR=$wd KTEST_SKIP_FILE=$skipf
		exec timeout -k 10 "$tmo" bash "$t"
	) </dev/null >"$log" 2>&1 &
	pid=$!
	tailpid=
	if [ "${KTEST_VERBOSE:-0}" = 1 ]; then
		tail -n +1 -f --pid="$pid" "$log" | sed 's/^/    /' &
		tailpid=$!
	fi
	rc=0
	wait "$pid" || rc=$?
	[ -z "$tailpid" ] || wait "$tailpid" || true
	kill -KILL -- "-$pid" 2>/dev/null || true
	secs=$((EPOCHSECONDS - start))

	echo "ktest: end $name (exit $rc)" >/dev/kmsg
	cleanup_after "$name"
	dmesg -c 2>/dev/null | tee -a "$REXT2_OUT/dmesg.log" >"$REXT2_OUT/tests/$name.dmesg" || true
	report=
	if kreport_scan "$REXT2_OUT/tests/$name.dmesg" >/run/ktest/report; then
		report=$(</run/ktest/report)
		# Tell vm.sh these are accounted for, so it does not print them again.
		seen=$((seen + $(kreport_count <<<"$report")))
		echo $seen >"$REXT2_OUT/kreports-seen"
	fi
	rm -rf --one-file-system "$wd"

	if [ -n "$report" ]; then
		echo "FAIL $name (${secs}s): the kernel logged a report (test exit status $rc)"
		record FAIL "$name" "$secs"
		tail -n 30 "$log" | sed 's/^/    /'
		echo "$report"
	elif [ $rc = 0 ]; then
		echo "PASS $name (${secs}s)"
		record PASS "$name" "$secs"
	elif [ $rc = 77 ]; then
		reason=$(cat "$skipf" 2>/dev/null || tail -n 1 "$log")
		echo "SKIP $name: ${reason:-no reason given}"
		record SKIP "$name" "$secs"
	else
		case $rc in
		124 | 137) why="timed out after ${tmo}s" ;;
		*) why="exit status $rc" ;;
		esac
		echo "FAIL $name (${secs}s): $why; last lines of tests/$name.log:"
		record FAIL "$name" "$secs"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
done
rm -f "$REXT2_OUT/running"

printf 'passed=%d\nfailed=%d\nskipped=%d\n' $passed $failed $skipped >"$REXT2_OUT/summary.txt"
[ ${#all[@]} -gt 0 ] || echo "ktests: no tests in $testdir"
line="$passed passed, $failed failed"
[ $skipped = 0 ] || line+=", $skipped skipped"
echo "$line"
[ $failed = 0 ]
