"""The call-site memo (src/call_site.c) gives exactly the fresh stacks.

call_sites_prog.c calls create_dog and release from one instruction with
one return-address slot, under via_a or via_b in a pseudo-random order, and
through recursion of depths 1 to 4.  Every leak site and every double
release must be counted under its true stack: a memo that answered for
the wrong stack would move counts between sites.  Run with the default
stack_depth (all frames kept) and with stack_depth=4 (the recursion's
sites merge, via_a's and via_b's stay apart).  verbosity=2 shows the memo
was used.

    test_call_sites.py SHIM PROG SPEC
"""
import collections
import os
import re
import sys
import tempfile

SHIM, PROG, SPEC = sys.argv[1:4]
HERE = os.path.dirname(os.path.abspath(__file__))
import capture_run  # noqa: E402  (beside this file)
N = 4000


fail = capture_run.fail


def expected(depth):
    """(leak sites, double-release sites): Counter of function chains."""
    leaks, doubles = collections.Counter(), collections.Counter()
    x = 12345
    for i in range(N):
        x = (x * 1103515245 + 12345) & 0xffffffff
        via = "via_b" if (x >> 16) % 3 != 0 else "via_a"
        if i % 2:
            doubles[("release", "make", via, "main")[:depth]] += 1
        else:
            leaks[("create_dog", "make", via, "main")[:depth]] += 1
    for i in range(N):
        d = 1 + i % 4
        leaks[(("create_dog", "make") + ("rec",) * (d + 1) +
               ("main",))[:depth]] += 1
    return leaks, doubles


def run(tmp, options):
    return capture_run.run(SHIM, SPEC, [PROG, str(N)], tmp,
                           "verbosity=2:" + options)


def chain(report, stack):
    """The functions of a stack, up to main (libc's start frames after it
    are the same for every stack)."""
    fs = [f.get("function") for f in report["stacks"][str(stack)]]
    return tuple(fs[:fs.index("main") + 1] if "main" in fs else fs)


def check(depth, options):
    with tempfile.TemporaryDirectory(prefix="refsan-sites-") as tmp:
        r, p = run(tmp, options)
    want_leaks, want_doubles = expected(depth)
    leaks, doubles = collections.Counter(), collections.Counter()
    for e in r["errors"]:
        if e["kind"] == "leak":
            leaks[chain(r, e["stack"])] += e["count"]
        elif e["kind"] == "double_release":
            bad = chain(r, e["stack"])
            doubles[bad] += e["count"]
            # the creation and the first release went through the same via
            if depth >= 3 and not (chain(r, e["created_stack"])[2] ==
                                   chain(r, e["last_release_stack"])[2] ==
                                   bad[2]):
                fail("a double release whose stacks disagree: %r" % e, p)
        else:
            fail("unexpected error %r" % e, p)
    if leaks != want_leaks:
        fail("leak sites (%s):\n got  %r\n want %r" %
             (options or "default", sorted(leaks.items()),
              sorted(want_leaks.items())), p)
    if doubles != want_doubles:
        fail("double-release sites (%s):\n got  %r\n want %r" %
             (options or "default", sorted(doubles.items()),
              sorted(want_doubles.items())), p)
    m = re.search(r"refsan: stacks: (\d+) call-site memo hits", p.stderr)
    # 3N captures (2N creates, N releases): all but the first of each
    # site's stacks come from the memo (two ways: via_a and via_b alternate)
    if not m or int(m.group(1)) < 3 * N * 9 // 10:
        fail("the call-site memo served 90% of the captures: %r" %
             (m.group(0) if m else None), p)
    print("ok: %s: %d leak sites, %d double-release sites, %s" %
          (options or "default", len(leaks), len(doubles), m.group(0)))


check(64, "")
check(4, "stack_depth=4")
