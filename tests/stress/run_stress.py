"""Runs stress.c with the shim preloaded and checks refsan's JSON report
against the program's own reference model: the counters (created,
acquired, released, live) exactly, only the leaks the program left on
purpose, the library's own live count, and no crash, hang or sanitizer
finding.

    run_stress.py SHIM SPEC PROG LIBZOO MODE THREADS OPS [TIMEOUT]
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SHIM, SPEC, PROG, LIBZOO, MODE, THREADS, OPS = sys.argv[1:8]
TIMEOUT = float(sys.argv[8]) if len(sys.argv) > 8 else 600
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)

LEAKS, CHILD_LEAKS = 16, 5
BAD = ("AddressSanitizer", "runtime error:", "ThreadSanitizer",
       "LeakSanitizer", "double release", "invalid release",
       "use after release", "family mismatch", "refsan: error",
       "incomplete", "stress: FAIL")


def fail(what, p=None):
    msg = "FAIL: " + what
    if p is not None:
        msg += "\n--- status %s\n--- stdout\n%s\n--- stderr (tail)\n%s" % (
            p.returncode, p.stdout[-4000:], p.stderr[-8000:])
    print(msg)
    sys.exit(1)


def check(cond, what, p=None):
    if not cond:
        fail(what, p)


def models(out):
    res = {}
    for line in out.splitlines():
        if line.startswith("MODEL "):
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            res[kv["who"]] = {k: (v if k == "who" else int(v))
                              for k, v in kv.items()}
    return res


def check_report(tmp, model, leaks, p):
    path = os.path.join(tmp, "r.%d.json" % model["pid"])
    check(os.path.exists(path), "JSON report %s (have %r)" % (
        path, os.listdir(tmp)), p)
    with open(path) as f:
        rep = json.load(f)
    c = rep["counters"]
    for k in ("created", "acquired", "released", "live"):
        check(c[k] == model[k], "%s %s: refsan counted %d, the model %d" % (
            model["who"], k, c[k], model[k]), p)
    kinds = sorted({e["kind"] for e in rep["errors"]})
    check(kinds == ["leak"], "%s: only leaks, got %r" % (model["who"], kinds),
          p)
    n = sum(e["count"] for e in rep["errors"])
    check(n == leaks, "%s: %d leaked handles reported, %d left" % (
        model["who"], n, leaks), p)
    check(not rep.get("incomplete"), "%s: report complete" % model["who"], p)
    return rep


def main():
    tmp = tempfile.mkdtemp(prefix="refsan-stress-")
    try:
        args = [PROG, MODE, THREADS, OPS, "1"]
        opts = ["spec=" + SPEC, "json_path=%s/r" % tmp]
        if MODE in ("dlopen", "reload"):
            copy = os.path.join(tmp, "libzoo.so.99")
            shutil.copy(LIBZOO, copy)
            args.append(copy)
        if MODE == "signal":
            opts += ["report_signal=SIGUSR1", "log_path=%s/log" % tmp]
        env = sanitizer_env.environ(SHIM)
        env.pop("REFSAN_SPEC", None)
        env["REFSAN_OPTIONS"] = ":".join(opts)
        t0 = time.monotonic()
        try:
            p = subprocess.run(args, env=env, cwd=tmp, capture_output=True,
                               text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as e:
            fail("no answer after %d s (deadlock?): %s" % (TIMEOUT, e))
        dt = time.monotonic() - t0
        m = models(p.stdout)
        check(p.returncode == 23, "status 23 (the leaks left on purpose)", p)
        check("main" in m, "the model of the main process", p)
        for bad in BAD:
            check(bad not in p.stderr, "nothing like %r on stderr" % bad, p)
        main_m = m["main"]
        check(main_m["library_live"] == LEAKS, "libzoo's own live count", p)
        check_report(tmp, main_m, LEAKS, p)
        if MODE == "fork":
            check("child" in m, "the child's model", p)
            check(main_m["child"] == m["child"]["pid"], "child pid", p)
            check_report(tmp, m["child"], CHILD_LEAKS, p)
            reports = glob.glob(os.path.join(tmp, "r.*.json"))
            check(len(reports) == 2, "two reports, got %r" % reports, p)
        if MODE in ("dlopen", "reload"):
            check(main_m["dl_rounds"] > 0 and main_m["copy_rounds"] > 0,
                  "libzoo reopened and its copy reloaded", p)
        if MODE == "reload":
            # More loads than the pool of trampolines lasts without
            # recycling (about 1,300).
            check(main_m["copy_rounds"] >= 2000,
                  "the copy reloaded at least 2000 times", p)
        if MODE == "signal":
            check(main_m["signals"] > 0, "signals sent", p)
            logs = glob.glob(os.path.join(tmp, "log.*"))
            text = "".join(open(f, errors="replace").read() for f in logs)
            check(text.count("live handle") + text.count("Leak of") > 0,
                  "reports of live handles written on the signal: %r" %
                  text[:2000], p)
        print("ok: %s, %s x %s ops (%d with the model's settling), %.1f s, "
              "%d created, %d acquired, %d released, dl_rounds %d "
              "(copy %d), signals %d" % (
                  MODE, THREADS, OPS, main_m["ops"], dt, main_m["created"],
                  main_m["acquired"], main_m["released"],
                  main_m["dl_rounds"], main_m["copy_rounds"],
                  main_m["signals"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
