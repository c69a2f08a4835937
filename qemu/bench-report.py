#!/usr/bin/env python3
"""Turns target/bench/bench.csv (qemu/bench-guest.py) into summary.md (median
and spread per filesystem and workload, ratios rext2 multipage / each peer)
and bench.png (gnuplot: the workload bars and the two scaling curves).

  bench-report.py OUTDIR ACCEL
"""

import csv
import os
import statistics
import subprocess
import sys

FS = ["rext2-mp", "rext2-classic", "ext2", "ext4", "xfs", "tmpfs"]
WORKLOADS = ["seq4k", "seq64k", "seq1m", "randover", "append4", "smallfiles", "fsync4k"]


def load(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def med(vals):
    return statistics.median(vals) if vals else None


def fmt(v, nd=0):
    return "-" if v is None else ("%.*f" % (nd, v))


# The two scaling curves of the chart (when the run measured them).
CURVES = """set style data linespoints
set title "write size (sequential, one writer)"
set xtics norotate
set xlabel "write size"
plot for [i=2:{ncfs}] '{out}/curve-seq.dat' using 0:i:xtic(1) title columnheader(i)
set title "writers (1 MiB writes, own files)"
set xlabel "writers"
plot for [i=2:{ncfs}] '{out}/curve-writers.dat' using 0:i:xtic(1) title columnheader(i)
"""


def main():
    outdir, accel = sys.argv[1], sys.argv[2]
    rows = load(os.path.join(outdir, "bench.csv"))
    table = [r for r in rows if r["kind"] == "table"]
    fss = [f for f in FS if any(r["fs"] == f for r in rows)]
    reps = len({r["rep"] for r in table})

    def cell(w, fs, key):
        return [float(r[key]) for r in table if r["workload"] == w and r["fs"] == fs and r[key] != ""]

    lines = []
    vcpus = "1 vCPU whose clock counts instructions (1 ns each)" if accel == "icount" else "2 vCPUs"
    lines.append("Machine: %d host cores, QEMU %s, guest %s / 3 GiB, one 4 GiB virtio-blk disk "
                 "(cache=none), non-debug kernel; %d repetitions interleaved; fio psync, "
                 "buffered, no fallocate; %s MiB per sequential run." % (
                     os.cpu_count(), accel.upper(), vcpus, reps,
                     os.environ.get("BENCH_MIB", "128")))

    def section(title, cols, workloads, value):
        """A markdown table: one row a workload, value(workload, fs) a cell."""
        lines.extend(["", title, "", "| workload | " + " | ".join(cols) + " |",
                      "|---" * (len(cols) + 1) + "|"])
        for w in workloads:
            lines.append("| %s | %s |" % (w, " | ".join(value(w, fs) for fs in cols)))

    def spread(w, fs):
        v = cell(w, fs, "mib_s")
        return "-" if not v else "%s (%s-%s)" % (fmt(med(v)), fmt(min(v)), fmt(max(v)))

    def ratio(w, fs):
        mp, p = med(cell(w, "rext2-mp", "mib_s")), med(cell(w, fs, "mib_s"))
        return "-" if not mp or not p else "%.2f" % (mp / p)

    section("Throughput, MiB/s: median (min-max)", fss, WORKLOADS, spread)
    section("Ratios, rext2 write=multipage / peer (median throughput; >1: rext2 multipage faster)",
            [f for f in fss if f != "rext2-mp"], WORKLOADS, ratio)
    section("System CPU seconds per GiB written (whole guest, incl. writeback), median", fss,
            WORKLOADS, lambda w, fs: fmt(med(cell(w, fs, "sys_s_per_gib")), 2))
    section("Extents per file after the run (FIBMAP), median", [f for f in fss if f != "tmpfs"],
            ("seq4k", "seq64k", "seq1m", "append4"),
            lambda w, fs: fmt(med(cell(w, fs, "extents_per_file")), 1))
    summary = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)

    # Chart data: bars, and the two curves.
    curve = [r for r in rows if r["kind"] == "curve"]
    with open(os.path.join(outdir, "bars.dat"), "w") as f:
        f.write("workload " + " ".join(fss) + "\n")
        for w in WORKLOADS:
            f.write(w + " " + " ".join(fmt(med(cell(w, fs, "mib_s")), 1).replace("-", "0") for fs in fss) + "\n")
    cfs = [f for f in FS if any(r["fs"] == f for r in curve)]
    for kind, params in (("seq", ["4k", "16k", "64k", "256k", "1m", "4m", "8m"]), ("writers", ["1", "2", "3", "4"])):
        with open(os.path.join(outdir, "curve-%s.dat" % kind), "w") as f:
            f.write("param " + " ".join(cfs) + "\n")
            for p in params:
                vals = []
                for fs in cfs:
                    v = [float(r["mib_s"]) for r in curve if r["workload"] == kind and r["param"] == p and r["fs"] == fs]
                    vals.append(fmt(med(v), 1).replace("-", "0"))
                f.write(p + " " + " ".join(vals) + "\n")
    gp = """
set terminal pngcairo size 1400,1000 font ",10"
set output '{out}/bench.png'
set multiplot layout 2,2 title "rext2 vs the kernel's filesystems ({accel}, buffered writes, MiB/s, median)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
set xtics rotate by -30
set ylabel "MiB/s"
set title "workloads"
plot for [i=2:{nfs}] '{out}/bars.dat' using i:xtic(1) title columnheader(i)
{curves}unset multiplot
""".format(out=outdir, accel=accel.upper(), nfs=len(fss) + 1,
           curves=CURVES.format(out=outdir, ncfs=len(cfs) + 1) if cfs and curve else "")
    with open(os.path.join(outdir, "bench.gp"), "w") as f:
        f.write(gp)
    subprocess.run(["gnuplot", os.path.join(outdir, "bench.gp")], check=True)
    print("bench: wrote %s/bench.csv, summary.md, bench.png" % outdir)


if __name__ == "__main__":
    main()
