#!/usr/bin/env python3
"""bench_report.py - summarise benchmark results (run by tools/bench.sh).

Reads <dir>/results.jsonl (one {"bench","impl","metric","value","run"}
object per line), writes <dir>/machine.json (CPU model, cores, kernel, Go
version), prints the machine and a side-by-side table of medians per
(bench, impl, metric) with the goro/Go and goro/pthread ratios, writes the
medians to <dir>/summary.json and draws <dir>/chart.png with gnuplot when
it is installed: (a) goro's cost relative to Go per benchmark, (b) memory
per parked goroutine against N for goro, Go and threads.

Design notes: medians, not means, because the machine is shared and a
single disturbed run should not move the figure; the spread (min..max over
runs) is kept in summary.json.  Ratios are plain value ratios; for
throughput metrics (higher is better, e.g. rtt_per_s) the table marks them
with "(higher is better)" and the chart plots Go/goro instead, so that in
the chart below 1 always means goro is better.  Only the standard library is
used.
"""
import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

IMPLS = ("goro", "go", "pthread")
HIGHER_IS_BETTER = {"rtt_per_s", "rtt_per_s_own_stacks"}
ORDER = ["spawn", "yield", "parked_mem_1e3", "parked_mem_1e4", "parked_mem_1e5",
         "parked_mem_1e6", "pingpong_1p", "pingpong_2p", "bufchan_1x1", "bufchan_4x4",
         "select4", "mutex_contended", "skynet", "sleep_100k", "echo_1000",
         "syscall_handoff"]


def machine_info():
    info = {"cpu_model": "unknown", "cpus": os.cpu_count(), "kernel": platform.release(),
            "go_version": None}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_total_kib"] = int(line.split()[1])
    except OSError:
        pass
    if shutil.which("go"):
        try:
            out = subprocess.run(["go", "version"], capture_output=True, text=True, timeout=20)
            info["go_version"] = out.stdout.strip().split(" ")[2]
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    try:
        info["loadavg"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    return info


def load(path):
    samples = {}
    bad = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
                key = (r["bench"], r["impl"], r["metric"])
                v = float(r["value"])
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            if math.isfinite(v):
                samples.setdefault(key, []).append(v)
    return samples, bad


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e9:
        return "%.3gG" % (v / 1e9)
    if a >= 1e6:
        return "%.3gM" % (v / 1e6)
    if a >= 1e4:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    return "%.3g" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def bench_key(name):
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def draw_chart(outdir, rows, med):
    gp = shutil.which("gnuplot")
    if not gp:
        print("bench: gnuplot not found: chart skipped", file=sys.stderr)
        return None
    tmp = tempfile.mkdtemp(prefix="goro-chart-")
    rat_path = os.path.join(tmp, "ratio.dat")
    n_bars = 0
    with open(rat_path, "w") as f:
        for bench, metric in rows:
            g, o = med.get((bench, "goro", metric)), med.get((bench, "go", metric))
            r = ratio(o, g) if metric in HIGHER_IS_BETTER else ratio(g, o)
            if r is None or r <= 0:
                continue
            label = bench if metric in ("ns_per_op", "bytes_per_g", "ms", "us") else \
                "%s:%s" % (bench, metric)
            f.write('"%s" %.6g\n' % (label, r))
            n_bars += 1
    mem_path = os.path.join(tmp, "mem.dat")
    n_mem = 0
    with open(mem_path, "w") as f:
        for k in range(3, 7):
            vals = [med.get(("parked_mem_1e%d" % k, impl, "bytes_per_g")) for impl in IMPLS]
            if all(v is None for v in vals):
                continue
            n_mem += 1
            f.write("%d %s\n" % (10 ** k, " ".join(
                "NaN" if v is None else "%.6g" % (v / 1024) for v in vals)))
    png = os.path.join(outdir, "chart.png")
    script = ["set terminal pngcairo size 1500,620 font 'sans,10'",
              "set output '%s'" % png,
              "set multiplot layout 1,2",
              "set datafile missing 'NaN'"]
    if n_bars:
        script += ["set title 'goro cost relative to Go (median; below 1 = goro better)'",
                   "set style fill solid 0.6 border -1",
                   "set boxwidth 0.7",
                   "set logscale y 2",
                   "set xtics rotate by -40 noenhanced",
                   "set bmargin 9",
                   "set grid ytics",
                   "set yrange [*:*]",
                   "unset key",
                   "plot '%s' using 0:2:xtic(1) with boxes lc rgb '#3070b0', 1 with lines lc rgb 'black' dt 2" % rat_path,
                   "unset logscale y", "set xtics norotate", "unset grid"]
    else:
        script += ["set title 'goro vs Go: no pairs yet'", "unset key", "plot [0:1] NaN"]
    if n_mem:
        script += ["set title 'memory per parked goroutine / thread'",
                   "set logscale x 10", "set logscale y 2", "set xtics ('1e3' 1000, '1e4' 10000, '1e5' 100000, '1e6' 1000000)",
                   "set xlabel 'N parked'", "set ylabel 'KiB per parked (VmRSS + VmPTE)'",
                   "set key top right", "set grid",
                   "set xrange [500:2000000]",
                   "plot '%s' using 1:2 with linespoints lw 2 pt 7 title 'goro', "
                   "'' using 1:3 with linespoints lw 2 pt 5 title 'Go', "
                   "'' using 1:4 with linespoints lw 2 pt 9 title 'pthread (8 MiB stacks)'" % mem_path]
    else:
        script += ["set title 'memory: no data'", "plot [0:1] NaN"]
    script.append("unset multiplot")
    try:
        r = subprocess.run([gp], input="\n".join(script) + "\n", capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            print("bench: gnuplot failed: %s" % r.stderr.strip()[:400], file=sys.stderr)
            return None
    except (OSError, subprocess.SubprocessError) as e:
        print("bench: gnuplot failed: %s" % e, file=sys.stderr)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return png


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", default="?")
    ap.add_argument("--quick", default="0")
    ap.add_argument("--seconds", default=None)
    args = ap.parse_args()

    info = machine_info()
    info["runs"] = args.runs
    info["quick"] = args.quick == "1"
    if args.seconds is not None:
        info["wall_seconds"] = int(args.seconds)
    with open(os.path.join(args.dir, "machine.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")

    samples, bad = load(os.path.join(args.dir, "results.jsonl"))
    med = {k: statistics.median(v) for k, v in samples.items()}
    rows = sorted({(b, m) for (b, _, m) in samples}, key=lambda r: (bench_key(r[0]), r[1]))

    print()
    print("machine: %s, %s CPUs%s, Linux %s, Go %s" % (
        info["cpu_model"], info["cpus"],
        " (%d usable)" % info["cpus_usable"] if info.get("cpus_usable") not in (None, info["cpus"]) else "",
        info["kernel"], info["go_version"] or "not installed"))
    print("runs: %s per program%s; load average at the end: %s" % (
        args.runs, " (quick sizes)" if info["quick"] else "", " ".join(info.get("loadavg", []))))
    print()
    header = ["bench", "metric", "goro", "go", "pthread", "goro/go", "goro/pthread"]
    table = []
    for bench, metric in rows:
        g, o, p = (med.get((bench, i, metric)) for i in IMPLS)
        rg, rp = ratio(g, o), ratio(g, p)
        hib = metric in HIGHER_IS_BETTER
        table.append([bench, metric + (" (higher is better)" if hib else ""), fmt(g), fmt(o),
                      fmt(p), "-" if rg is None else "%.2f" % rg,
                      "-" if rp is None else "%.3g" % rp])
    widths = [max(len(str(r[i])) for r in table + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i])
                               for i, c in enumerate(r))
    print(line(header))
    print(line(["-" * w for w in widths]))
    for r in table:
        print(line(r))
    print()
    print("medians of %s runs (echo_1000: three per run); ratios are goro's value divided"
          " by the other's" % args.runs)
    if bad:
        print("(%d malformed result lines ignored)" % bad)

    summary = [{"bench": b, "metric": m,
                **{i: med.get((b, i, m)) for i in IMPLS},
                "spread": {i: [min(samples[(b, i, m)]), max(samples[(b, i, m)])]
                           for i in IMPLS if (b, i, m) in samples},
                "samples": {i: len(samples[(b, i, m)]) for i in IMPLS if (b, i, m) in samples}}
               for b, m in rows]
    with open(os.path.join(args.dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    png = draw_chart(args.dir, rows, med)
    print("results: %s" % os.path.join(args.dir, "results.jsonl"))
    if png:
        print("chart:   %s" % png)


if __name__ == "__main__":
    main()
