"""The cost of Python frames: a ctypes loop of create/release pairs through
refsan's C API, timed as a whole process, against the same loop calling
no-op functions of the same names (bare Python).

    python3 bench/bench_pyframes.py [BUILD_DIR] [--n N] [--depth D] [--python P]

Runs, best of 3 each: bare (a stub preloaded in place of refsan), refsan
with python_frames=1 (the default) and refsan with python_frames=0, and
prints the times and the ratios to bare.  DEPTH Python calls stand between
the module and the loop (a test suite's stack is deeper than a script's).
By hand only: not a test.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

LOOP = r'''
import ctypes, sys
lib = ctypes.CDLL(None)
create = lib.refsan_handle_created
release = lib.refsan_handle_released
create.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
create.restype = None
release.argtypes = [ctypes.c_void_p]
release.restype = None
N, DEPTH = int(sys.argv[1]), int(sys.argv[2])

def loop():
    fam = b"dog"
    for i in range(1, N + 1):
        create(i, fam)
        release(i)

def nest(d):
    if d == 0:
        return loop()
    return nest(d - 1)

nest(DEPTH)
'''

STUB = r'''
void refsan_handle_created(const void *h, const char *family) {}
void refsan_handle_released(const void *h) {}
'''


def timed(cmd, env, reps=3):
    best = None
    for _ in range(reps):
        t = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit("failed (%d): %s\n%s" % (p.returncode, cmd, p.stderr))
        best = dt if best is None else min(best, dt)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(HERE, "..",
                                                             "build"))
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--depth", type=int, default=0)
    ap.add_argument("--python", default="/usr/bin/python3")
    a = ap.parse_args()
    shim = os.path.abspath(os.path.join(a.build, "src", "librefsan.so"))
    if not os.path.exists(shim):
        sys.exit("no %s: build first" % shim)
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "loop.py")
        with open(script, "w") as f:
            f.write(LOOP)
        with open(os.path.join(tmp, "stub.c"), "w") as f:
            f.write(STUB)
        stub = os.path.join(tmp, "libstub.so")
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", stub,
                        os.path.join(tmp, "stub.c")], check=True)
        cmd = [a.python, script, str(a.n), str(a.depth)]
        base = dict(os.environ)
        base.pop("REFSAN_OPTIONS", None)
        rows = []
        for name, preload, opts in [
                ("bare (stub)", stub, None),
                ("refsan python_frames=1", shim, "exitcode=0"),
                ("refsan python_frames=0", shim,
                 "exitcode=0:python_frames=0")]:
            env = dict(base, LD_PRELOAD=preload)
            if opts:
                env["REFSAN_OPTIONS"] = opts
            rows.append((name, timed(cmd, env)))
    bare = rows[0][1]
    print("%s, %d create/release pairs, Python depth +%d"
          % (a.python, a.n, a.depth))
    for name, t in rows:
        print("  %-24s %7.3f s  %5.2fx" % (name, t, t / bare))


if __name__ == "__main__":
    main()
