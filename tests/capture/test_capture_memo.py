"""A memoized Python stack is the fresh one: libzoo's create_dog reached
through one native stack from different Python lines, callers, recursion
depths and code objects that take freed ones' addresses
(capture_memo_prog.py) must group its leaks by exactly the
sites the Python code has, with exact counts and lines.  The first capture
of each site takes the full path (splice, depot), the later ones the memo
of capture.c and pyframes.c; a memo that returned another site's stack, or
a stack that differs from the fresh one, would show as a wrong count or an
extra site.

    test_capture_memo.py SHIM LIBZOO SPEC BACKEND
"""
import collections
import os
import sys
import tempfile

SHIM, LIBZOO, SPEC, BACKEND = sys.argv[1:5]
HERE = os.path.dirname(os.path.abspath(__file__))
import capture_run  # noqa: E402  (beside this file)
PROG = os.path.join(HERE, "capture_memo_prog.py")
N = 3000


def line_of(marker):
    with open(PROG) as f:
        for n, text in enumerate(f, 1):
            if "# L:" + marker in text:
                return n
    raise AssertionError(marker)


fail = capture_run.fail


def run(tmp, options):
    return capture_run.run(SHIM, SPEC, ["/usr/bin/python3", PROG, BACKEND,
                                        LIBZOO, str(N)], tmp, options)


def sites(report):
    """(python lines of the creation stack, innermost first) -> count."""
    out = collections.Counter()
    for e in report["errors"]:
        if e["kind"] != "leak":
            continue
        frames = report["stacks"][str(e["stack"])]
        lines = tuple(
            f["line"] if f["file"].endswith("capture_memo_prog.py") else
            "%s:%d" % (f["file"], f["line"])
            for f in frames if f.get("python") and
            (f.get("file", "").endswith("capture_memo_prog.py") or
             f.get("file", "").startswith("<memo-gen")))
        out[lines] += e["count"]
    return out


def expected():
    a, b, c = line_of("line_a"), line_of("line_b"), line_of("line_c")
    ox, oy = line_of("outer_x"), line_of("outer_y")
    leaf, step = line_of("recurse_leaf"), line_of("recurse_step")
    # The module-level loops' lines.
    with open(PROG) as f:
        text = f.read().splitlines()
    call_x = next(n for n, t in enumerate(text, 1)
                  if "keep.append(outer_x(i))" in t)
    call_y = next(n for n, t in enumerate(text, 1)
                  if "keep.append(outer_y(i))" in t)
    call_r = next(n for n, t in enumerate(text, 1)
                  if "keep.append(recurse(i % 4, i))" in t)
    want = collections.Counter()
    for i in range(N):
        inner = (a, b, c)[i % 3]
        if (i // 7) % 2:
            want[(inner, ox, call_x)] += 1
        else:
            want[(inner, oy, call_y)] += 1
    for i in range(N):
        inner = (a, b, c)[i % 3]
        d = i % 4
        want[(inner, leaf) + (step,) * d + (call_r,)] += 1
    call_g = line_of("gen_call")
    for i in range(N):
        j = i % 5
        want[("<memo-gen%d>:2" % j, call_g)] += 1
    return want


def main():
    capture_run.require_backend(BACKEND)
    want = expected()
    with tempfile.TemporaryDirectory() as tmp:
        report, p = run(tmp, "")
        got = sites(report)
        if got != want:
            fail("leak sites by Python lines\n  want %s\n  got  %s" %
                 (sorted(want.items(), key=repr),
                  sorted(got.items(), key=repr)), p)
        if report["counters"]["created"] != 3 * N:
            fail("created %r" % report["counters"], p)
    print("ok: %d sites, %d handles" % (len(want), 3 * N))


main()
