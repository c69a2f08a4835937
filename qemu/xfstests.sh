#!/usr/bin/env bash
# What `make xfstests` runs: xfstests (fstests) with FSTYP=rext2 in the VM,
# resumable across VM boots.
#
#   XFSTESTS_DIR=/path/to/built/xfstests-dev qemu/xfstests.sh
#
# Which tests: TESTS="generic/001 013 ..." (generic/ is implied), or
# GROUP=quick (every generic test in that group), else the curated list
# ktests/xfstests/curated.list.
#
# Every test's result is kept on the host in target/xfstests/<config>/
# (status.txt: "TEST pass|fail|notrun SECONDS REASON", and for failed and
# not-run tests their .out.bad/.full/.dmesg/.notrun files under tests/), and a
# test that already has a result is not run again: an interrupted or long run
# (GROUP=quick takes hours under TCG) continues where it stopped. The VM is
# booted again until every selected test has a result (XFSTESTS_BOOT_TIMEOUT
# seconds per boot); a test running when the guest died (oops) is recorded
# as failed, one running when a boot timed out is retried once in a fresh
# boot, and recorded as failed (hang) if it times out again. Ctrl-C or a
# SIGTERM stops the VM and keeps what finished; the running test has no
# result and runs first next time.
#
# Environment:
#   XFSTESTS_DIR          a built xfstests tree (required); the guest must see
#                         it, so not under /tmp or /var/tmp (tmpfs in the VM)
#   TESTS / GROUP         see above
#   XFSTESTS_WRITE        multipage (default) | classic: rext2's write= option
#   XFSTESTS_MKFS_OPTIONS mke2fs options for every mkfs (MKFS_OPTIONS), e.g. "-b 1024"
#   XFSTESTS_AS_EXT2=0    do not handle rext2 as ext2 in xfstests' common/rc
#                         (see ktests/xfstests/guest.sh)
#   XFSTESTS_FRESH=1      forget this config's earlier results first
#   XFSTESTS_RETRY=1      run again the selected tests that failed earlier
#   XFSTESTS_BOOT_TIMEOUT seconds per VM boot (default 3600)
#   XFSTESTS_DISK         size of each test disk (default 4G)
#   XFSTESTS_RESULTS      where results are kept (default target/xfstests)
#
# Prints pass/fail/notrun counts over the selected tests and the failing
# ones; exits non-zero if a test failed that is not in
# ktests/xfstests/expected-failures.txt, or if some test got no result.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$REXT2_ROOT"
xt=$REXT2_ROOT/ktests/xfstests
die() { echo "xfstests.sh: $*" >&2; exit 2; }

# --- the xfstests tree -------------------------------------------------------
xdir=${XFSTESTS_DIR:-}
[ -n "$xdir" ] || die "set XFSTESTS_DIR to a built xfstests tree (see README, xfstests)"
[ -d "$xdir" ] || die "XFSTESTS_DIR=$xdir is not a directory"
xdir=$(cd "$xdir" && pwd -P)
[ -x "$xdir/check" ] && [ -f "$xdir/common/rc" ] || die "$xdir is not an xfstests tree (no check, common/rc)"
[ -x "$xdir/ltp/fsstress" ] && [ -x "$xdir/ltp/fsx" ] || die "$xdir is not built (no ltp/fsstress, ltp/fsx): run make there"
[ -f "$xdir/tests/generic/group.list" ] || die "$xdir has no tests/generic/group.list: run make there"
case $xdir/ in
/tmp/* | /var/tmp/*) die "$xdir is under /tmp or /var/tmp, which are tmpfs in the VM: put the tree elsewhere (e.g. /opt)" ;;
esac
[ -f rext2.ko ] || die "rext2.ko is not built (make)"

# --- the selection -----------------------------------------------------------
sel=()
if [ -n "${TESTS:-}" ]; then
	for t in $TESTS; do
		[[ $t == */* ]] || t=generic/$t
		[ -f "$xdir/tests/$t" ] || die "no test $t in $xdir/tests"
		sel+=("$t")
	done
	what="TESTS=$TESTS"
elif [ -n "${GROUP:-}" ]; then
	mapfile -t sel < <(awk -v g="$GROUP" '!/^#/ { for (i = 2; i <= NF; i++) if ($i == g) { print "generic/" $1; break } }' \
		"$xdir/tests/generic/group.list")
	[ ${#sel[@]} -gt 0 ] || die "no generic test is in group $GROUP"
	what="GROUP=$GROUP"
else
	mapfile -t sel < <(sed 's/#.*//' "$xt/curated.list" | awk 'NF { print $1 }')
	what="the curated list (ktests/xfstests/curated.list)"
fi

write=${XFSTESTS_WRITE:-multipage}
case $write in multipage | classic) ;; *) die "XFSTESTS_WRITE must be multipage or classic" ;; esac
mkfs_opts=${XFSTESTS_MKFS_OPTIONS:-}
as_ext2=${XFSTESTS_AS_EXT2:-1}
case $as_ext2 in 0 | 1) ;; *) die "XFSTESTS_AS_EXT2 must be 0 or 1" ;; esac
config=$write
[ "$as_ext2" = 1 ] || config+=-not-as-ext2
[ -z "$mkfs_opts" ] || config+=-$(echo "$mkfs_opts" | tr -c 'A-Za-z0-9=\n' '_' | tr -s _)
state=${XFSTESTS_RESULTS:-$REXT2_ROOT/target/xfstests}/$config
status=$state/status.txt
boot_timeout=${XFSTESTS_BOOT_TIMEOUT:-3600}
disk=${XFSTESTS_DISK:-4G}
[ "${XFSTESTS_FRESH:-0}" = 1 ] && rm -rf "$state"
mkdir -p "$state/tests"
touch "$status"

# status.txt keeps one line per test, the latest result.
get_status() { awk -v t="$1" '$1 == t { s = $2 } END { print s }' "$status"; }
set_status() { # TEST STATUS SECONDS REASON...
	local t=$1
	shift
	awk -v t="$t" '$1 != t' "$status" >"$status.new"
	echo "$t $*" >>"$status.new"
	mv "$status.new" "$status"
}
if [ "${XFSTESTS_RETRY:-0}" = 1 ]; then
	for t in "${sel[@]}"; do [ "$(get_status "$t")" != fail ] || set_status "$t" retry - -; done
fi

# Parse check's output: one record per test, "TEST STATUS SECONDS REASON".
# check prints the test name, then on the same line "NNs" (pass),
# "[not run] REASON", or a failure ("[failed, exit status N]", "- output
# mismatch", "_check_generic_filesystem: ...", "_check_dmesg: ..."), with
# diff lines after it. A name with nothing after it is the test that was
# running when the output stopped: "TEST running".
parse_check() {
	awk '
	function flush() {
		if (cur == "") return
		if (txt ~ /^\[not run\]/) { sub(/^\[not run\] */, "", txt); print cur, "notrun", "-", txt }
		else if (txt ~ /^\[expunged\]/) print cur, "notrun", "-", "expunged"
		else if (txt ~ /^([0-9]+s \.\.\. *)?[0-9]+s$/) { n = split(txt, a, " "); sub(/s$/, "", a[n]); print cur, "pass", a[n], "-" }
		else if (txt == "" && !done) print cur, "running", "-", "-"
		else print cur, "fail", "-", (txt == "" ? "(no result printed)" : txt)
		cur = ""
	}
	/^(generic|shared|rext2)\/[0-9]+/ {
		flush(); cur = $1; txt = $0; sub(/^[^ ]+ */, "", txt); done = 0; next
	}
	/^(Ran|Not run|Failures|Passed all|Failed [0-9]+ of|Interrupted)/ { done = 1; flush(); next }
	cur != "" && txt == "" && NF { txt = $0; sub(/^ +/, "", txt) }
	END { flush() }
	' "$@"
}

expected() { sed 's/#.*//' "$xt/expected-failures.txt" | awk -v t="$1" '$1 == t { f = 1 } END { exit !f }'; }

# --- boots -------------------------------------------------------------------
echo "=== xfstests, FSTYP=rext2, write=$write${mkfs_opts:+, MKFS_OPTIONS=$mkfs_opts}: $what (${#sel[@]} tests)"
echo "    xfstests tree: $xdir ($(git -C "$xdir" describe --always --dirty 2>/dev/null || echo 'not a git tree'))"
echo "    results: $state"
start_all=$(date +%s)
boot=0 retried='' interrupted=0 vmpid=''
# Ctrl-C (SIGINT to the whole process group) or a SIGTERM/SIGHUP to this
# script is an interruption, not a test failure: stop the VM, keep the
# results of the tests that finished, leave the running one for next time.
on_signal() {
	interrupted=1
	[ -z "$vmpid" ] || kill -TERM "$vmpid" 2>/dev/null || true
}
trap on_signal INT TERM HUP
while :; do
	todo=()
	for t in "${sel[@]}"; do
		case $(get_status "$t") in pass | fail | notrun) ;; *) todo+=("$t") ;; esac
	done
	if [ ${#todo[@]} = 0 ]; then break; fi
	boot=$((boot + 1))
	echo "=== boot $boot: ${#todo[@]} test(s) to run (done earlier: $((${#sel[@]} - ${#todo[@]})))"
	out=$state/boot
	# In the background, so that a signal reaches on_signal at once (bash
	# runs traps only between foreground commands).
	bash "$here/vm.sh" --out "$out" --timeout "$boot_timeout" --mem 2048 --cpus 2 --disk "$disk" --disk "$disk" -- \
		env XFSTESTS_DIR="$xdir" XFSTESTS_WRITE="$write" XFSTESTS_MKFS_OPTIONS="$mkfs_opts" XFSTESTS_AS_EXT2="$as_ext2" \
		bash ktests/xfstests/guest.sh "${todo[@]}" &
	vmpid=$!
	while :; do
		vmrc=0
		wait "$vmpid" || vmrc=$?
		kill -0 "$vmpid" 2>/dev/null || break
	done
	vmpid=''
	vmres=$(cat "$out/vm-result" 2>/dev/null || echo did-not-run)
	stamp=$(date +%Y%m%d-%H%M%S)
	cat "$out/output.log" >>"$state/check.log" 2>/dev/null || true
	if ! grep -q '^xfstests-guest: .* running: ' "$out/output.log" 2>/dev/null; then
		[ $interrupted = 0 ] || { echo "xfstests.sh: interrupted"; exit 130; }
		die "the guest did not get to run xfstests (vm.sh: $vmres, exit $vmrc); see $out/output.log and $out/console.log"
	fi
	[ $interrupted = 1 ] || case $vmres in kernel-report | no-status | timeout)
		cp "$out/console.log" "$state/console-$stamp.log"
		echo "xfstests.sh: boot $boot ended with '$vmres'; console log kept as $state/console-$stamp.log" ;;
	esac
	progress=0 first_running='' nrec=0
	while read -r t st secs reason; do
		nrec=$((nrec + 1))
		case $st in
		pass | notrun | fail)
			set_status "$t" "$st" "$secs" "$reason"
			progress=1
			# Keep what xfstests wrote about tests that did not pass.
			if [ "$st" != pass ]; then
				rm -f "$state/tests/$t".*
				mkdir -p "$state/tests/${t%/*}"
				for f in "$out/results/$t".*; do [ -e "$f" ] && cp "$f" "$state/tests/${t%/*}/"; done
			fi
			;;
		running)
			# check runs the tests in sorted order: the first record is the
			# test this boot started with.
			[ $nrec = 1 ] && first_running=1
			if [ $interrupted = 1 ]; then
				: # run it again next time
			elif [ "$vmres" = timeout ] && [ -z "$first_running" ] && [[ " $retried " != *" $t "* ]]; then
				retried+=" $t"
				echo "xfstests.sh: $t was running when the boot timed out; it is run again in a fresh boot"
			else
				why="the guest died while it ran ($vmres; console: $state/console-$stamp.log)"
				[ "$vmres" = timeout ] && why="still running after the ${boot_timeout}s boot timeout (hang?; console: $state/console-$stamp.log)"
				set_status "$t" fail - "$why"
				progress=1
				mkdir -p "$state/tests/${t%/*}"
				for f in "$out/results/$t".*; do [ -e "$f" ] && cp "$f" "$state/tests/${t%/*}/"; done
			fi
			;;
		esac
	done < <(parse_check "$out/output.log")
	if [ $interrupted = 1 ]; then
		echo "xfstests.sh: interrupted; results so far are kept, run again to continue"
		break
	fi
	[ $progress = 1 ] || [ -n "$retried" ] || die "boot $boot recorded no result (vm.sh: $vmres); see $out/output.log"
done

# --- summary -----------------------------------------------------------------
np=0 nf=0 nn=0 nx=0 unexpected=() expfail=() none=()
for t in "${sel[@]}"; do
	case $(get_status "$t") in
	pass) np=$((np + 1)) ;;
	notrun) nn=$((nn + 1)) ;;
	fail)
		nf=$((nf + 1))
		if expected "$t"; then expfail+=("$t"); else unexpected+=("$t"); fi
		;;
	*) nx=$((nx + 1)) none+=("$t") ;;
	esac
done
echo "=== xfstests summary ($what, write=$write; results in $state)"
[ ${#expfail[@]} = 0 ] || echo "expected failures (ktests/xfstests/expected-failures.txt): ${expfail[*]}"
for t in "${unexpected[@]}"; do
	echo "FAILED: $t: $(awk -v t="$t" '$1 == t { $1 = $2 = $3 = ""; r = $0 } END { sub(/^ +/, "", r); print r }' "$status")"
done
[ ${#none[@]} = 0 ] || echo "no result yet: ${none[*]}"
echo "this invocation: $boot boot(s), $(($(date +%s) - start_all)) s"
line="$np passed, $nf failed (${#expfail[@]} expected), $nn not run"
[ $nx = 0 ] || line+=", $nx without a result"
echo "$line"
[ $interrupted = 0 ] || exit 130
[ ${#unexpected[@]} = 0 ] && [ $nx = 0 ]
