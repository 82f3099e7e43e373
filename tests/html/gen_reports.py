#!/usr/bin/python3
"""gen_reports.py: JSON reports (docs/json-schema.md, schema 1) for the
tests of `refsan report --format html`, written without running anything:

    gen_reports.py hostile DIR   two processes whose names are attacks
    gen_reports.py big DIR [SITES HANDLES]
                                 one process with SITES leak sites
                                 (10,000) holding HANDLES handles (100,000)

The hostile reports hold every kind of error, and in every string a
report can carry (argv, spec, functions, files, modules, Python
qualnames, families, suppression rules) markup, script, quotes and line
separators that must reach the page as text.  HOSTILE lists them for the
checks.
"""
import json
import os
import sys

HOSTILE_FN = "<img src=x onerror=alert(1)>"
HOSTILE_SCRIPT = "</script><script>alert(2)</script>"
HOSTILE_FILE = '"><svg onload=alert(3)>.py'
HOSTILE_QUAL = "Evil.<lambda>.<!--<script>alert(4)//"
HOSTILE_FAMILY = "<b>fam</b>&amp;"
HOSTILE_ARG = "</title><script>alert(5)</script>'\"&"
HOSTILE_MOD = "lib<iframe src=javascript:alert(6)>.so"
HOSTILE_LS = "line\u2028sep\u2029arator"
HOSTILE_CTRL = "bell\u0007tab\tnl\n"
HOSTILE = [HOSTILE_FN, HOSTILE_SCRIPT, HOSTILE_FILE, HOSTILE_QUAL,
           HOSTILE_FAMILY, HOSTILE_ARG, HOSTILE_MOD, HOSTILE_LS]


def native(pc, fn, file, line, module="libzoo.so.1"):
    return {"pc": "0x%x" % pc, "module": module, "offset": "0x%x" %
            (pc & 0xffff), "function": fn, "file": file, "line": line}


def py(fn, file, line):
    return {"python": True, "function": fn, "file": file, "line": line}


def report(pid, argv, errors, stacks, suppressed=(), suppressions=(),
           counters=None):
    return {
        "schema": 1, "tool": "refsan", "version": "0.1.0",
        "pid": pid, "ppid": 1, "final": True, "exit_status": 23,
        "argv": argv, "specs": ["zoo<script>.spec"],
        "counters": counters or {"created": 10, "acquired": 3,
                                 "released": 7, "live": 4,
                                 "peak_live": 6},
        "incomplete": False, "incomplete_reason": None,
        "errors": list(errors), "suppressed": list(suppressed),
        "suppressions": list(suppressions),
        "stacks": {str(k): v for k, v in stacks.items()},
    }


def hostile(d):
    stacks = {
        1: [native(0x7f0000001190, HOSTILE_FN, "zoo.c", 43),
            py(HOSTILE_QUAL, HOSTILE_FILE, 41),
            py("<module>", "app.py", 9)],
        2: [native(0x7f0000001200, "release", "zoo.c", 79),
            py(HOSTILE_SCRIPT, "wrap.py", 53),
            py("<module>", "app.py", 12)],
        3: [native(0x7f0000001200, "release", "zoo.c", 79),
            py("Dog.__del__", "wrap.py", 60),
            py("<module>", "app.py", 10)],
        4: [native(0x7f0000001300, "add_ref", "zoo.c", 90),
            py(HOSTILE_LS, "app.py", 11)],
        5: [native(0x7f0000001400, "say_walk", "zoo.c", 99, HOSTILE_MOD),
            py("walk", HOSTILE_CTRL, 20)],
        6: [native(0x7f0000001500, None, None, None, HOSTILE_MOD)],
        7: [native(0x7f0000001190, "create_owner", "zoo.c", 50),
            py("Owner.__init__", "wrap.py", 70),
            py("<module>", "app.py", 14)],
    }
    errors = [
        {"kind": "double_release", "family": HOSTILE_FAMILY,
         "function": "release", "count": 1, "handle": "0x1000",
         "stack": 2, "last_release_stack": 3, "created_stack": 1,
         "expected_family": None},
        {"kind": "use_after_release", "family": "dog",
         "function": "say_walk", "count": 2, "handle": "0x2000",
         "stack": 5, "last_release_stack": 3, "created_stack": 1,
         "expected_family": None},
        {"kind": "invalid_release", "family": None, "function": "release",
         "count": 1, "handle": "0x3000", "stack": 6,
         "last_release_stack": None, "created_stack": None,
         "expected_family": None},
        {"kind": "family_mismatch", "family": "owner",
         "function": "say_walk", "count": 1, "handle": "0x4000",
         "stack": 5, "last_release_stack": None, "created_stack": 7,
         "expected_family": HOSTILE_FAMILY + ",dog"},
        {"kind": "leak", "family": HOSTILE_FAMILY, "function": HOSTILE_FN,
         "count": 3, "refcount": 2, "handles": ["0x5000", "0x5100"],
         "indirect": False, "stack": 1, "acquire_stacks": [4]},
        {"kind": "leak", "family": "owner", "function": "create_owner",
         "count": 1, "refcount": 1, "handles": ["0x6000"],
         "indirect": False, "stack": 7, "acquire_stacks": []},
    ]
    suppressed = [
        {"kind": "leak", "family": "dog", "function": "create_owner",
         "count": 5, "refcount": 1, "handles": ["0x7000"],
         "indirect": False, "stack": 7, "acquire_stacks": [],
         "suppressed_by": "leak:" + HOSTILE_FN},
    ]
    supps = [{"rule": "leak:" + HOSTILE_FN, "hits": 1, "handles": 5}]
    argv = ["/usr/bin/python3", "app.py", HOSTILE_ARG, HOSTILE_LS, None]
    r1 = report(4242, argv, errors, stacks, suppressed, supps)
    r2 = report(4243, ["python3", HOSTILE_SCRIPT], errors[4:], stacks)
    for r in (r1, r2):
        with open(os.path.join(d, "h.%d.json" % r["pid"]), "w") as f:
            json.dump(r, f)


def zipf(sites, handles):
    """SITES counts of at least 1 summing to HANDLES, the Nth about 1/N
    of the first, as leaks are: a few sites hold most handles."""
    lo, hi = 0.0, float(handles)
    for _ in range(60):
        c = (lo + hi) / 2
        if sum(max(1, int(c / (i + 1))) for i in range(sites)) > handles:
            hi = c
        else:
            lo = c
    counts = [max(1, int(lo / (i + 1))) for i in range(sites)]
    counts[0] += handles - sum(counts)
    return counts


def big(d, sites=10000, handles=100000):
    """SITES leak sites under a pytest-like tree of frames: 4 creating
    functions (one family each) under 40 wrappers, called from 1,000 test
    functions in 100 files at 10 lines each, under 6 frames of pytest."""
    outer = [py("<module>", "pytest", 8), py("main", "_pytest/config.py", 90),
             py("pytest_cmdline_main", "_pytest/main.py", 320),
             py("runtestprotocol", "_pytest/runner.py", 119),
             py("_multicall", "pluggy/_callers.py", 102),
             py("pytest_pyfunc_call", "_pytest/python.py", 194)]
    families = ["dog", "owner", "cage", "bowl"]
    stacks, errors = {}, []
    counts = zipf(sites, handles)
    for i in range(sites):
        # Sites spread over the tests, so that big and small ones mix.
        j = (i * 7919) % sites
        test, line = divmod(j, 10)
        fam = (j * 7) % 4
        wrap = (j * 13) % 40
        st = [native(0x7f0000001000 + 0x40 * fam, "create_" + families[fam],
                     "zoo.c", 40 + fam),
              py("Wrap%d.__init__" % wrap, "zoo_wrap.py", 100 + wrap),
              py("helper_%d" % (test % 50), "tests/helpers.py", 10 + test % 50),
              py("test_case_%d" % test, "tests/test_mod_%d.py" % (test % 100),
                 20 + line)] + outer[::-1]
        stacks[i + 1] = st
        errors.append({"kind": "leak", "family": families[fam],
                       "function": "create_" + families[fam],
                       "count": counts[i], "refcount": 1,
                       "handles": ["0x%x" % (0x10000 + i)],
                       "indirect": False, "stack": i + 1,
                       "acquire_stacks": []})
    errors.sort(key=lambda e: -e["count"])
    r = report(5000, ["python3", "-m", "pytest", "tests/"], errors, stacks,
               counters={"created": handles * 2, "acquired": 0,
                         "released": handles, "live": handles,
                         "peak_live": handles})
    with open(os.path.join(d, "big.5000.json"), "w") as f:
        json.dump(r, f, separators=(",", ":"))


def main():
    what, d = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    if what == "hostile":
        hostile(d)
    elif what == "big":
        big(d, *[int(a) for a in sys.argv[3:5]])
    else:
        sys.exit("usage: gen_reports.py hostile|big DIR [SITES HANDLES]")


if __name__ == "__main__":
    main()
