#!/usr/bin/env python3
"""gen_reports.py: synthetic refsan JSON reports, for timing `refsan report`.

    bench/gen_reports.py OUTDIR [--reports 100] [--errors 10000]
                                [--sites 20000] [--frames 10] [--seed 1]
    time build/tools/refsan report --format json -o /dev/null OUTDIR

Each report is one process's (docs/json-schema.md, schema 1): ERRORS
errors (nine leak groups in ten, the rest double releases) drawn from a
pool of SITES error sites shared by all processes, as in a CI run of many
workers over the same code, each with a stack of FRAMES frames (a native
frame in the library, then Python frames from a pool of files and
functions) and addresses that differ per process (ASLR), so that merging
has to go by function, file and line.  Deterministic for a given seed.
"""
import argparse
import json
import os
import random


def site_stack(rng, site, nframes, files, funcs):
    frames = [{"pc": None, "module": "libzoo.so.1", "offset": "0x%x" % (0x1100 + site % 64),
               "function": "create_dog" if site % 10 else "release",
               "file": "/src/zoo/zoo.c", "line": 40 + site % 64}]
    frames.append({"python": True, "function": "Dog.__init__",
                   "file": "/src/zoo/zoo_wrap.py", "line": 41})
    for k in range(nframes - 2):
        r = random.Random(site * 1000 + k)
        frames.append({"python": True,
                       "function": funcs[r.randrange(len(funcs))] if k else "test_%d" % site,
                       "file": files[r.randrange(len(files))],
                       "line": 1 + r.randrange(2000)})
    return frames


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--reports", type=int, default=100)
    ap.add_argument("--errors", type=int, default=10000)
    ap.add_argument("--sites", type=int, default=20000)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    files = ["/src/app/tests/test_mod%d.py" % i for i in range(200)]
    funcs = ["Helper%d.run" % i for i in range(500)]
    stacks = [site_stack(None, s, a.frames, files, funcs) for s in range(a.sites)]
    for r in range(a.reports):
        rng = random.Random(a.seed * 100003 + r)
        pid = 10000 + r
        base = 0x7f0000000000 + rng.randrange(1 << 20) * 4096
        sites = rng.sample(range(a.sites), a.errors)
        errors, out_stacks = [], {}
        for i, s in enumerate(sites):
            sid = i + 1
            st = []
            for f in stacks[s]:
                f = dict(f)
                if not f.get("python"):
                    f["pc"] = "0x%x" % (base + int(f["offset"], 16))
                st.append(f)
            out_stacks[str(sid)] = st
            if s % 10:
                errors.append({"kind": "leak", "family": "dog", "function": "create_dog",
                               "count": 1 + s % 3, "refcount": 1,
                               "handles": ["0x%x" % (0x55d000000000 + i * 32)],
                               "indirect": False, "stack": sid, "acquire_stacks": []})
            else:
                errors.append({"kind": "double_release", "family": "dog", "function": "release",
                               "count": 1, "handle": "0x%x" % (0x55d000000000 + i * 32),
                               "stack": sid, "last_release_stack": None,
                               "created_stack": None, "expected_family": None})
        errors.sort(key=lambda e: e["kind"] == "leak")
        doc = {"schema": 1, "tool": "refsan", "version": "0.1.0", "pid": pid, "ppid": 9999,
               "final": True, "exit_status": 23, "argv": ["python3", "-m", "pytest"],
               "specs": ["zoo.spec"],
               "counters": {"created": a.errors * 3, "acquired": 0, "released": a.errors,
                            "live": a.errors, "peak_live": a.errors},
               "incomplete": False, "incomplete_reason": None,
               "errors": errors, "suppressed": [], "suppressions": [], "stacks": out_stacks}
        with open(os.path.join(a.outdir, "refsan.%d.json" % pid), "w") as f:
            json.dump(doc, f, separators=(", ", ": "))
            f.write("\n")


if __name__ == "__main__":
    main()
