# Kernel report scanner, sourced by qemu/vm.sh (host, console log) and
# ktests/run-suite.sh (guest, dmesg after each test), so that both sides agree
# on what counts as a kernel bug report.
#
#   kreport_scan [FILE...]   (stdin if no FILE)
# Prints every report with a little context, between a header line saying how
# many lines started a report and an end line; returns 0 if there was at
# least one, 1 if the log is clean.
#   kreport_count < OUTPUT_OF_KREPORT_SCAN   prints that number (0 if none)

# One line of any of these starts a report. Anchored to kernel wording so that
# ordinary filesystem errors ("EXT2-fs error", "I/O error") do not match:
# tests provoke those on purpose.
KREPORT_PATTERN='BUG:|WARNING:|Oops: |kernel BUG at|general protection fault|Kernel panic|'\
'Unable to handle kernel|double fault|stack-protector|stack guard page|'\
'UBSAN:|KASAN:|KFENCE:|KCSAN:|unreferenced object|'\
'possible circular locking|inconsistent lock state|possible recursive locking|'\
'lock held when returning|suspicious RCU usage|bad unlock balance|held lock freed|'\
'INFO: task .* blocked for more than|soft lockup|hard LOCKUP|'\
'rcu: INFO: |detected stalls? on CPU|self-detected stall|'\
'-+\[ cut here \]-+'

# Lines that match the pattern but are not reports. Extend with care.
KREPORT_IGNORE=${KREPORT_IGNORE:-'^$'}

kreport_scan() {
	# Patterns go through the environment: awk -v would eat the backslashes.
	KREPORT_PATTERN=$KREPORT_PATTERN KREPORT_IGNORE=$KREPORT_IGNORE awk '
	BEGIN { pat = ENVIRON["KREPORT_PATTERN"]; ign = ENVIRON["KREPORT_IGNORE"] }
	{
		sub(/\r$/, "")
		line[NR] = $0
		if ($0 ~ pat && $0 !~ ign) hit[NR] = 1
	}
	END {
		# Mark a window around each hit: a few lines before, and after it
		# until the end-of-trace marker (at most 60 lines).
		n = 0
		for (i = 1; i <= NR; i++) {
			if (!(i in hit)) continue
			n++
			for (j = i - 3; j < i; j++) if (j >= 1) show[j] = 1
			for (j = i; j <= NR && j <= i + 60; j++) {
				show[j] = 1
				if (j > i && line[j] ~ /---\[ end (trace|Kernel panic)/) break
			}
		}
		if (n == 0) exit 1
		printf "=== %d kernel report line(s) found ===\n", n
		printed = 0; last = 0
		for (i = 1; i <= NR; i++) {
			if (!(i in show)) continue
			if (printed >= 400) { print "... (more reports cut)"; break }
			if (last && i != last + 1) print "..."
			print line[i]; printed++; last = i
		}
		print "=== end of kernel reports ==="
		exit 0
	}' "$@"
}

kreport_count() {
	sed -n 's/^=== \([0-9]*\) kernel report line(s) found ===$/\1/p' | grep . || echo 0
}
