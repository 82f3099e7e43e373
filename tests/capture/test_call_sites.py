"""The call-site memo (src/call_site.c) gives exactly the fresh stacks.

call_sites_prog.c calls create_dog and release from one instruction with
one return-address slot, under via_a or via_b in a pseudo-random order, and
through recursion of depths 1 to 4.  Every leak site and every double
release must be counted under its true stack: a memo that answered for
the wrong stack would move counts between sites.  Run with the default
stack_depth (all frames kept) and with stack_depth=4 (the recursion's
sites merge, via_a's and via_b's stay apart).  verbosity=2 shows the memo
was used.  Then with K hop() frames between the via and make() (K from 1
to 8), at the default stack_depth and with the via the last frame kept:
the frame that differs at every place of a turn of the memo's check.

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


def expected(depth, hops=0):
    """(leak sites, double-release sites): Counter of function chains."""
    leaks, doubles = collections.Counter(), collections.Counter()
    x = 12345
    mid = ("hop",) * hops
    for i in range(N):
        x = (x * 1103515245 + 12345) & 0xffffffff
        via = "via_b" if (x >> 16) % 3 != 0 else "via_a"
        if i % 2:
            doubles[(("release", "make") + mid + (via, "main"))[:depth]] += 1
        else:
            leaks[(("create_dog", "make") + mid +
                   (via, "main"))[:depth]] += 1
    for i in range(N if not hops else 0):
        d = 1 + i % 4
        leaks[(("create_dog", "make") + ("rec",) * (d + 1) +
               ("main",))[:depth]] += 1
    return leaks, doubles


def run(tmp, options, hops=0):
    return capture_run.run(SHIM, SPEC, [PROG, str(N)] +
                           ([str(hops)] if hops else []), tmp,
                           "verbosity=2:" + options)


def chain(report, stack):
    """The functions of a stack, up to main (libc's start frames after it
    are the same for every stack)."""
    fs = [f.get("function") for f in report["stacks"][str(stack)]]
    return tuple(fs[:fs.index("main") + 1] if "main" in fs else fs)


def check(depth, options, hops=0):
    with tempfile.TemporaryDirectory(prefix="refsan-sites-") as tmp:
        r, p = run(tmp, options, hops)
    want_leaks, want_doubles = expected(depth, hops)
    leaks, doubles = collections.Counter(), collections.Counter()
    for e in r["errors"]:
        if e["kind"] == "leak":
            leaks[chain(r, e["stack"])] += e["count"]
        elif e["kind"] == "double_release":
            bad = chain(r, e["stack"])
            doubles[bad] += e["count"]
            # the creation and the first release went through the same via
            v = 2 + hops
            if depth > v and not (chain(r, e["created_stack"])[v] ==
                                  chain(r, e["last_release_stack"])[v] ==
                                  bad[v]):
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
    # 3N captures (2N creates, N releases; a create less per loop with
    # hops): all but the first of each site's stacks come from the memo
    # (two ways: via_a and via_b alternate)
    want = (2 if hops else 3) * N
    if not m or int(m.group(1)) < want * 9 // 10:
        fail("the call-site memo served 90% of the captures: %r" %
             (m.group(0) if m else None), p)
    print("ok: %s%s: %d leak sites, %d double-release sites, %s" %
          (options or "default", " hops=%d" % hops if hops else "",
           len(leaks), len(doubles), m.group(0)))


check(64, "")
check(4, "stack_depth=4")
for k in range(1, 9):
    check(64, "", k)
    # entry, make, K hops, the via: the via the last frame kept
    check(k + 3, "stack_depth=%d" % (k + 3), k)
