#!/usr/bin/python3
"""Two refsan builds side by side (A/B), for before/after figures of one
change on a shared, loaded machine: every repetition runs bare, A, A with
stack_depth=0, B and B with stack_depth=0 in turn on the same workload, and
each ratio is taken against the bare run of the same repetition; the
tables show the median and the min-max over repetitions.

    /usr/bin/python3 bench/ab.py --a OLD/build --b build [--reps 9]

The C workloads come from B's build (bench/workloads); only the shim
differs.  W2 runs with fewer handles (--n2) so that a build whose
acquire/release costs microseconds still finishes; it is reported as ns
per acquire or release, (W2 - W1 at the same N) / (2 K N).
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "bench.spec")


def run(argv, shim, opts, env_extra):
    env = dict(os.environ)
    for k in list(env):
        if k == "LD_PRELOAD" or k.startswith("REFSAN_"):
            del env[k]
    env.update(env_extra)
    if shim:
        env["LD_PRELOAD"] = shim
        env["REFSAN_OPTIONS"] = "spec=" + SPEC + (":" + opts if opts else "")
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        sys.exit("ab.py: %s failed (%d): %s" % (argv, p.returncode,
                                                 p.stderr[-2000:]))
    for line in p.stdout.splitlines():
        if line.startswith("BENCH loop_cpu_ns="):
            return float(line.split("=", 1)[1])
    sys.exit("ab.py: no loop_cpu_ns from %s" % argv)


def fmt(xs, unit="x", prec=2):
    xs = sorted(xs)
    return "%.*f%s (%.*f–%.*f)" % (prec, statistics.median(xs), unit, prec,
                                    xs[0], prec, xs[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="build dir of the old tree")
    ap.add_argument("--b", required=True, help="build dir of the new tree")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--n", type=int, default=2000000)
    ap.add_argument("--n2", type=int, default=20000)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--only", default="W1,W2,W5c,W5f")
    args = ap.parse_args()
    workloads = os.path.join(args.b, "bench", "workloads")
    lib = os.path.join(args.b, "bench", "libbenchobj.so")
    env = {"LD_LIBRARY_PATH": os.path.join(args.b, "bench")}
    configs = [("bare", None, ""),
               ("A", os.path.join(args.a, "src", "librefsan.so"), ""),
               ("A0", os.path.join(args.a, "src", "librefsan.so"),
                "stack_depth=0"),
               ("B", os.path.join(args.b, "src", "librefsan.so"), ""),
               ("B0", os.path.join(args.b, "src", "librefsan.so"),
                "stack_depth=0")]
    work = {
        "W1": [workloads, "loop", "1", str(args.n), "0"],
        "W2": [workloads, "loop", "1", str(args.n2), str(args.k)],
        "W2base": [workloads, "loop", "1", str(args.n2), "0"],
        "W5c": ["/usr/bin/python3", os.path.join(HERE, "w5_loop.py"),
                "ctypes", lib, str(args.n)],
        "W5f": ["/usr/bin/python3", os.path.join(HERE, "w5_loop.py"),
                "cffi", lib, str(args.n)],
    }
    only = args.only.split(",")
    names = []
    for w in only:
        names += ["W2", "W2base"] if w == "W2" else [w]
    res = {(w, c[0]): [] for w in names for c in configs}
    for rep in range(args.reps):
        for w in names:
            for name, shim, opts in configs:
                res[(w, name)].append(run(work[w], shim, opts, env))
        print("ab.py: rep %d/%d done, load %s" %
              (rep + 1, args.reps, os.getloadavg()[0]), file=sys.stderr)
    print("A = %s, B = %s; %d repetitions; load average %.1f at the end"
          % (args.a, args.b, args.reps, os.getloadavg()[0]))
    print()
    print("| workload | bare | A | A stack_depth=0 | B | B stack_depth=0 |")
    print("|---|---|---|---|---|---|")
    for w in [x for x in names if x != "W2base"]:
        if w == "W2":
            per = 2.0 * args.k * args.n2
            cells = ["%.1f ns" % (statistics.median(
                [(a - b) / per for a, b in zip(res[("W2", "bare")],
                                                res[("W2base", "bare")])]))]
            for c in configs[1:]:
                cells.append(fmt([(a - b) / per for a, b in
                                  zip(res[("W2", c[0])],
                                      res[("W2base", c[0])])], " ns", 1))
            print("| W2 ns per acquire or release (N=%d) | %s |" %
                  (args.n2, " | ".join(cells)))
            continue
        bare = res[(w, "bare")]
        cells = ["%.0f ms" % (statistics.median(bare) / 1e6)]
        for c in configs[1:]:
            cells.append(fmt([x / b for x, b in zip(res[(w, c[0])], bare)]))
        print("| %s | %s |" % (w, " | ".join(cells)))


main()
