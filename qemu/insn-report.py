#!/usr/bin/env python3
"""Report of qemu/insn-profile.sh: instructions per write, per kernel
function, for each write mode, and the difference to the first mode.

  insn-report.py --per N [--top K] MODE KALLSYMS0 COUNTS0 KALLSYMS COUNTS [MODE ...]

COUNTS holds "ADDRESS INSTRUCTIONS" lines (qemu/insn-count.c); each address
is charged to the text symbol at or below it in KALLSYMS (the same boot's).
A mode's figures are COUNTS minus COUNTS0 (a boot without the workload),
divided by N.
Names are demangled with c++filt.

Boot-time timer calibration runs a number of loop iterations that depends
on the host's speed at that moment, so the two boots of a mode differ there
by millions of instructions that have nothing to do with the workload:
those functions (BOOT_NOISE) are left out of the figures and reported
apart."""
import argparse
import bisect
import re
import subprocess


def demangle(names):
    """Rust (v0) and C++ names through binutils' c++filt, crate hashes and
    the crate name left out."""
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return {n: re.sub(r"\[[0-9a-f]+\]", "", d).replace("rext2::", "")
            for n, d in zip(names, out)}


BOOT_NOISE = re.compile(r"calibrat|^delay_tsc$|^e820__mapped_any$|^setup_boot_APIC_clock$")


def load(kallsyms, counts):
    syms = []  # (address, symbol, " [module]" or "")
    with open(kallsyms) as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] in "tTwW":
                syms.append((int(p[0], 16), p[2], " " + p[3] if len(p) > 3 else ""))
    syms.sort()
    names = demangle([s for _, s, _ in syms])
    addrs = [a for a, _, _ in syms]
    syms = [names[s] + mod for _, s, mod in syms]
    per_sym = {}
    with open(counts) as f:
        for line in f:
            a, n = line.split()
            i = bisect.bisect_right(addrs, int(a, 16)) - 1
            name = syms[i] if i >= 0 else "?"
            per_sym[name] = per_sym.get(name, 0) + int(n)
    return per_sym


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per", type=int, required=True)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    if len(a.runs) % 5:
        ap.error("runs come as MODE KALLSYMS0 COUNTS0 KALLSYMS COUNTS")
    modes = a.runs[0::5]
    data = []
    for i in range(0, len(a.runs), 5):
        empty = load(a.runs[i + 1], a.runs[i + 2])
        work = load(a.runs[i + 3], a.runs[i + 4])
        data.append({k: work.get(k, 0) - empty.get(k, 0) for k in set(work) | set(empty)})
    per = a.per
    noise = [sum(v for k, v in d.items() if BOOT_NOISE.search(k)) for d in data]
    data = [{k: v for k, v in d.items() if not BOOT_NOISE.search(k)} for d in data]
    print("Kernel instructions per write (%d writes; a boot without them subtracted)" % per)
    print("(left out, boot-time timer calibration: %s)" % ", ".join(
        "%s %+.0f" % (m, n / per) for m, n in zip(modes, noise)))
    print("  ".join("%s %.0f" % (m, sum(d.values()) / per) for m, d in zip(modes, data)))
    if len(data) > 1:
        base = sum(data[0].values())
        for m, d in zip(modes[1:], data[1:]):
            other = sum(d.values())
            print("%s - %s: %+.0f instructions per write (%+.1f%%)" % (
                modes[0], m, (base - other) / per, 100.0 * (base - other) / other))
    keys = set().union(*data)
    if len(data) > 1:
        order = sorted(keys, key=lambda k: -max(abs(d.get(k, 0) - data[0].get(k, 0)) for d in data[1:]))
        print("\nFunctions by largest difference, instructions per write:")
    else:
        order = sorted(keys, key=lambda k: -data[0].get(k, 0))
        print("\nFunctions by instructions per write:")
    head = "".join("%12s" % m[:12] for m in modes)
    if len(data) > 1:
        head += "".join("%16s" % (modes[0][:6] + "-" + m[:7]) for m in modes[1:])
    print(head + "  function")
    for k in order[:a.top]:
        row = "".join("%12.1f" % (d.get(k, 0) / per) for d in data)
        if len(data) > 1:
            row += "".join("%+16.1f" % ((data[0].get(k, 0) - d.get(k, 0)) / per) for d in data[1:])
        print(row + "  " + (k if len(k) <= 100 else k[:97] + "..."))


if __name__ == "__main__":
    main()
