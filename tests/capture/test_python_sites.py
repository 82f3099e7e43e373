"""A Python caller's call site (call_site.c, with pyframes.c's memo) gives
exactly the fresh stacks when only a native frame between two Python
frames differs: python_sites_prog.py reaches create_dog from one callback
line, through via_a or via_b (tests/capture/py_via.c), at one
return-address slot with the same Python frames.  The leaks must be
counted per via exactly as the program made them: a memo that skipped the
native frames of a Python caller's site (or the Python frames of a site
keyed by its native frames) would move counts between the two stacks.
Run with the default stack_depth (the memo answers: verbosity=2 shows
it) and with stack_depth=64 (more native frames than a site holds: the
full path).

    test_python_sites.py SHIM LIBZOO LIBPYVIA SPEC BACKEND
"""
import collections
import os
import re
import sys
import tempfile

SHIM, LIBZOO, LIBVIA, SPEC, BACKEND = sys.argv[1:6]
HERE = os.path.dirname(os.path.abspath(__file__))
import capture_run  # noqa: E402  (beside this file)
PROG = os.path.join(HERE, "python_sites_prog.py")
N = 3000


fail = capture_run.fail


def expected():
    want = collections.Counter()
    x = 12345
    for _ in range(N):
        x = (x * 1103515245 + 12345) & 0xffffffff
        want["via_b" if (x >> 16) % 3 else "via_a"] += 1
    return want


def run(tmp, options):
    return capture_run.run(SHIM, SPEC, ["/usr/bin/python3", PROG, BACKEND,
                                        LIBZOO, LIBVIA, str(N)], tmp,
                           "verbosity=2:" + options)


def check(options, memo=True):
    with tempfile.TemporaryDirectory(prefix="refsan-pysites-") as tmp:
        r, p = run(tmp, options)
    got = collections.Counter()
    for e in r["errors"]:
        if e["kind"] != "leak":
            fail("unexpected error %r" % e, p)
        frames = r["stacks"][str(e["stack"])]
        fns = [f.get("function") for f in frames]
        vias = [f for f in ("via_a", "via_b") if f in fns]
        py = [f["line"] for f in frames if f.get("python") and
              f.get("file", "").endswith("python_sites_prog.py")]
        if len(vias) != 1 or len(py) != 2:
            fail("a stack with one via and two Python frames: %r" % frames,
                 p)
        got[vias[0]] += e["count"]
    if got != expected():
        fail("leaks by via (%s):\n got  %r\n want %r" %
             (options or "default", sorted(got.items()),
              sorted(expected().items())), p)
    m = re.search(r"refsan: stacks: (\d+) call-site memo hits", p.stderr)
    # All but the first few captures of each stack from the memo (not
    # learned past the 32 native frames a site holds).
    if not m or (memo and int(m.group(1)) < N * 9 // 10):
        fail("the call-site memo served 90%% of the captures: %r" %
             (m.group(0) if m else None), p)
    print("ok: %s %s: %r, %s" % (BACKEND, options or "default",
                                sorted(got.items()), m.group(0)))


def main():
    capture_run.require_backend(BACKEND)
    check("")
    check("stack_depth=64", memo=False)


main()
