"""End-to-end tests of what a report tells its reader: indirect leaks
after direct ones, acquires no release matched, invalid releases,
suppressions with their counts, halt_on_error and report_signal.

    run_report_tests.py SHIM SPEC PROG CASE
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

SHIM, SPEC, PROG, CASE = sys.argv[1:5]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report_prog.c")


def line_of(marker):
    with open(SRC) as f:
        for n, text in enumerate(f, 1):
            if marker in text:
                return n
    raise AssertionError(marker)


def run(mode, options="", tmp=None):
    env = sanitizer_env.environ(SHIM)
    opts = ["spec=" + SPEC]
    if tmp:
        opts.append("json_path=%s/r" % tmp)
    if options:
        opts.append(options)
    env["REFSAN_OPTIONS"] = ":".join(opts)
    return subprocess.run([PROG, mode], env=env, cwd=tmp, capture_output=True,
                          text=True, timeout=60)


def check(cond, what, p=None):
    if not cond:
        msg = "FAIL: " + what
        if p is not None:
            msg += "\n--- status %d\n--- stdout\n%s\n--- stderr\n%s" % (
                p.returncode, p.stdout, p.stderr)
        print(msg)
        sys.exit(1)


def report(tmp):
    [f] = glob.glob(os.path.join(tmp, "r.*.json"))
    return json.load(open(f))


def case_indirect(tmp):
    p = run("indirect", tmp=tmp)
    check(p.returncode == 23, "leaks fail", p)
    err = p.stderr
    direct = err.find("Leak of 1 handle(s) of family owner")
    indirect = err.find("Indirect leak of 1 handle(s) of family dog")
    check(direct >= 0 and indirect > direct,
          "the owner's leak first, then the dog it holds, as indirect", p)
    check("report_prog.c:%d" % line_of("OWNER_CREATE") in err, "owner site", p)
    r = report(tmp)
    kinds = [(e["family"], e["indirect"]) for e in r["errors"]]
    check(kinds == [("owner", False), ("dog", True)], "JSON order %r" % kinds)
    check("2 leaked handle(s)" in err, "summary counts both", p)


def case_unmatched(tmp):
    p = run("unmatched", tmp=tmp)
    err = p.stderr
    check("(reference count 2)" in err, "count 2 after 3 refs, 1 release", p)
    check("acquired here (no matching release):" in err, "unmatched acquire", p)
    check("report_prog.c:%d" % line_of("SHARE_ACQUIRE") in err,
          "the add_ref line", p)
    [e] = report(tmp)["errors"]
    check(e["refcount"] == 2 and len(e["acquire_stacks"]) >= 1,
          "JSON acquire stacks %r" % e)


def case_invalid(tmp):
    p = run("invalid", tmp=tmp)
    check(p.returncode == 0, "an unknown release is a warning by default", p)
    check("refsan: warning:" in p.stderr and "never saw created" in p.stderr,
          "warning text", p)
    p = run("invalid", "strict=1", tmp=tmp)
    check(p.returncode == 23, "strict=1 makes it an error", p)
    check("invalid release of handle" in p.stderr, "invalid release text", p)
    check("report_prog.c:%d" % line_of("INVALID_RELEASE") in p.stderr,
          "names the line", p)


def case_clone(tmp):
    p = run("clone", tmp=tmp)
    check(p.returncode == 0, "a warning only", p)
    check(re.search(r"hint: .*libzoo\.so\.1 exports functions the spec does "
                    r"not name that may have made it: .*clone_dog", p.stderr),
          "the hint names clone_dog", p)


def case_term(tmp):
    p = run("term", tmp=tmp)
    check(p.returncode == -15, "still dies of SIGTERM: %d" % p.returncode, p)
    check("Leak of 1 handle(s)" in p.stderr and
          "report_prog.c:%d" % line_of("TERM_CREATE") in p.stderr,
          "the exit report, with the leak's line", p)
    check(report(tmp)["exit_status"] == 143, "JSON: 128 + SIGTERM")


def case_halt(tmp):
    p = run("halt", "halt_on_error=1")
    check(p.returncode == -6, "abort at the first error: %d" % p.returncode, p)
    check("double release" in p.stderr, "reported first", p)
    check("not reached" not in p.stdout, "stopped at the bug", p)


def case_signal(tmp):
    p = run("signal", "report_signal=10")
    check(p.returncode == 0, "the process goes on", p)
    check("still running after the signal" in p.stdout, "goes on", p)
    check("report of live handles" in p.stderr, "a report of live handles", p)
    check("report_prog.c:%d" % line_of("SIGNAL_CREATE") in p.stderr,
          "with the creating line", p)


def case_suppressed(tmp):
    supp = os.path.join(tmp, "supp.txt")
    with open(supp, "w") as f:
        f.write("# known bugs\ndouble_release:main\nleak:create_dog\n")
    p = run("suppressed", "suppressions=" + supp, tmp=tmp)
    check(p.returncode == 0, "suppressed errors do not fail", p)
    check("Suppressions used:" in p.stderr, "suppressions block", p)
    check(re.search(r"\s1\s+1 double_release:main", p.stderr), "double count", p)
    check(re.search(r"\s1\s+1 leak:create_dog", p.stderr), "leak count", p)
    r = report(tmp)
    check(r["errors"] == [] and len(r["suppressed"]) == 2, "JSON suppressed")
    with open(supp, "w") as f:
        f.write("lek:create_dog\n")
    p = run("suppressed", "suppressions=" + supp, tmp=tmp)
    check(p.returncode == 2 and ("%s:1:1:" % supp) in p.stderr,
          "a bad suppressions file names its line", p)


with tempfile.TemporaryDirectory() as tmp:
    globals()["case_" + CASE](tmp)
print("ok:", CASE)
