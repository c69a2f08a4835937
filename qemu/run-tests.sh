#!/usr/bin/env bash
# What `make test` runs: the host unit tests (cargo test) and then the in-VM
# suite (ktests/run-suite.sh) in a single VM boot, with one combined verdict.
#
#   qemu/run-tests.sh [NAME...]
#
# NAMEs select ktests (as ktests/run-suite.sh takes them); cargo test runs
# regardless. Two special names: `host` alone runs only the host unit tests
# (no VM); `nohost` skips them.
# The last line is "N passed, N failed[, N skipped]" over both; the status is
# non-zero on any failure, including a VM-level one (a kernel report outside
# any test, a guest that died or ran past its time), which counts as one
# failure and says why.
#
# Environment: KTEST_VM_TIMEOUT (seconds for the whole VM run, default 3600),
# KTEST_VERBOSE=1 (stream each test's output), KTEST_TIMEOUT_SCALE (multiply
# per-test timeouts), REXT2_RESULTS (where the guest's results are kept,
# default target/ktests: tests/NAME.log, console.log, dmesg.log, ...).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$REXT2_ROOT"

# The disks every ktest can rely on, in order: /dev/vda, /dev/vdb, /dev/vdc
# (sparse; ktests/lib.sh documents them for test writers).
KTEST_DISKS=(2G 2G 8G)

results=${REXT2_RESULTS:-$REXT2_ROOT/target/ktests}
run_host=1 run_vm=1 names=() host_only=0 crash_named=0
for n in "$@"; do
	case $n in
	host) host_only=1 ;;
	nohost) run_host=0 ;;
	crash) crash_named=1 ;;
	*) names+=("$n") ;;
	esac
done
[ $host_only = 1 ] && [ ${#names[@]} = 0 ] && run_vm=0
# The crash test (host-driven, see below) runs with the whole suite or
# when named.
run_crash=$crash_named
[ $run_vm = 1 ] && [ ${#names[@]} = 0 ] && [ $host_only = 0 ] && run_crash=1
[ $crash_named = 1 ] && [ ${#names[@]} = 0 ] && run_vm=0

passed=0 failed=0 skipped=0
why=()

# --- host unit tests -------------------------------------------------------
if [ $run_host = 1 ]; then
	if [ ! -f Cargo.toml ]; then
		echo "host tests: no Cargo.toml at the repo root; none run"
	elif ! command -v cargo >/dev/null; then
		echo "host tests: cargo not found"
		failed=$((failed + 1)) why+=("cargo missing")
	else
		echo "=== host unit tests: cargo test --no-fail-fast ==="
		log=$(mktemp)
		rc=0
		cargo test --no-fail-fast 2>&1 | tee "$log" || rc=$?
		# "test result: ok. 5 passed; 0 failed; 1 ignored; ..." per test binary.
		read -r hp hf hi < <(sed -nE 's/^test result: .* ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \2 \3/p' "$log" |
			awk '{ p += $1; f += $2; i += $3 } END { print p + 0, f + 0, i + 0 }')
		rm -f "$log"
		if [ "$rc" != 0 ] && [ "$hf" = 0 ]; then
			hf=1 why+=("cargo test failed before running tests (exit $rc; build error?)")
		fi
		[ "$hf" = 0 ] || why+=("$hf host unit test(s) failed")
		echo "host tests: $hp passed, $hf failed$([ "$hi" = 0 ] || echo ", $hi ignored (counted as skipped)")"
		passed=$((passed + hp)) failed=$((failed + hf)) skipped=$((skipped + hi))
	fi
fi

# --- in-VM suite -------------------------------------------------------------
if [ $run_vm = 1 ]; then
	echo "=== ktests in the VM (results in $results) ==="
	[ -f rext2.ko ] || echo "note: rext2.ko is not built; tests that need it will fail"
	vmargs=(--out "$results" --timeout "${KTEST_VM_TIMEOUT:-3600}")
	for d in "${KTEST_DISKS[@]}"; do vmargs+=(--disk "$d"); done
	# The guest does not inherit our environment: pass the KTEST_* knobs.
	kenv=()
	for v in KTEST_VERBOSE KTEST_TIMEOUT_SCALE KTEST_TESTS_DIR KTEST_SEED; do
		[ -z "${!v:-}" ] || kenv+=("$v=${!v}")
	done
	vmrc=0
	bash "$here/vm.sh" "${vmargs[@]}" -- env "${kenv[@]}" ktests/run-suite.sh "${names[@]}" || vmrc=$?

	vmres=$(cat "$results/vm-result" 2>/dev/null || echo "did-not-run")
	running=$(cat "$results/running" 2>/dev/null || true)
	if [ -f "$results/summary.txt" ]; then
		kp=$(sed -n 's/^passed=//p' "$results/summary.txt")
		kf=$(sed -n 's/^failed=//p' "$results/summary.txt")
		ks=$(sed -n 's/^skipped=//p' "$results/summary.txt")
	else
		# The suite did not finish: count what it recorded so far.
		kp=$(grep -c '^PASS ' "$results/results.txt" 2>/dev/null || true)
		kf=$(grep -c '^FAIL ' "$results/results.txt" 2>/dev/null || true)
		ks=$(grep -c '^SKIP ' "$results/results.txt" 2>/dev/null || true)
	fi
	kp=${kp:-0} kf=${kf:-0} ks=${ks:-0}
	[ "$kf" = 0 ] || why+=("$kf ktest(s) failed")
	# One extra failure for whatever went wrong at the VM level.
	case $vmres in
	ok | cmd-failed)
		if [ "$vmrc" != 0 ] && [ "$kf" = 0 ]; then
			kf=1 why+=("ktests/run-suite.sh exited with $vmrc without a failed test")
		fi
		;;
	kernel-report)
		if [ "$kf" = 0 ]; then kf=1 why+=("the kernel logged a report outside the tests (printed above)"); fi
		;;
	timeout) kf=$((kf + 1)) why+=("the VM ran past ${KTEST_VM_TIMEOUT:-3600}s${running:+ while running $running} and was killed") ;;
	no-status) kf=$((kf + 1)) why+=("the guest died (kernel panic?)${running:+ while running $running}; see $results/console.log") ;;
	*) kf=$((kf + 1)) why+=("the VM did not run (vm.sh exit $vmrc)") ;;
	esac
	passed=$((passed + kp)) failed=$((failed + kf)) skipped=$((skipped + ks))
fi

# Crash consistency needs the VM killed, so the host drives it.
if [ $run_crash = 1 ]; then
	echo "=== crash consistency (qemu/crash.sh ${CRASH_ROUNDS:-2}) ==="
	if bash "$here/crash.sh" "${CRASH_ROUNDS:-2}"; then
		echo "PASS crash"
		passed=$((passed + 1))
	else
		echo "FAIL crash"
		failed=$((failed + 1)) why+=("crash consistency (qemu/crash.sh, above)")
	fi
fi

echo "==="
for w in "${why[@]}"; do echo "FAILED: $w"; done
line="$passed passed, $failed failed"
[ $skipped = 0 ] || line+=", $skipped skipped"
echo "$line"
[ $failed = 0 ]
