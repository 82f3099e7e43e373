"""capture_run.py: what the capture tests (test_*.py beside it) share: a
program run with the shim preloaded and its one JSON report, and the skip
when the backend is cffi and Debian's python3 has no cffi.

    report, p = capture_run.run(SHIM, SPEC, argv, tmp, "verbosity=2")
    capture_run.require_backend(BACKEND)
"""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)


def fail(what, p=None):
    """The test fails: WHAT, and the process P's output when there is one."""
    print("FAIL: " + what)
    if p is not None:
        print("--- status %d\n--- stdout\n%s\n--- stderr\n%s" %
              (p.returncode, p.stdout, p.stderr[-4000:]))
    sys.exit(1)


def run(shim, spec, argv, tmp, options):
    """ARGV under the shim with OPTIONS, in TMP: (its JSON report, the
    process); the test fails unless it exits 23 with one report."""
    env = dict(os.environ)
    for k in ("REFSAN_SPEC", "REFSAN_OPTIONS", "LD_PRELOAD"):
        env.pop(k, None)
    sanitizer_env.apply(env, shim)
    env["REFSAN_OPTIONS"] = "spec=%s:json_path=%s/r:%s" % (spec, tmp, options)
    p = subprocess.run(argv, env=env, cwd=tmp, capture_output=True,
                       text=True, timeout=280)
    files = glob.glob(os.path.join(tmp, "r.*.json"))
    if p.returncode != 23 or len(files) != 1:
        fail("a leak report (status 23, one JSON report)", p)
    with open(files[0]) as f:
        return json.load(f), p


def require_backend(backend):
    """Exit 77 (meson's skip) for cffi when /usr/bin/python3 lacks it."""
    if backend != "cffi":
        return
    try:
        subprocess.run(["/usr/bin/python3", "-c", "import cffi"], check=True)
    except subprocess.CalledProcessError:
        print("SKIP: python3-cffi is not installed")
        sys.exit(77)
