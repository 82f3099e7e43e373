"""End-to-end tests of the C API under LD_PRELOAD: a real C program
(api_prog.c) run with the built shim, its exit status, stderr and JSON
report checked.  One case per invocation: run_api_tests.py SHIM PROG CASE.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

SHIM, PROG, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api_prog.c")


def line_of(marker):
    with open(SRC) as f:
        for n, text in enumerate(f, 1):
            if marker in text:
                return n
    raise AssertionError(marker)


def run(mode, options="", extra_args=(), env_extra=None, tmp=None):
    env = sanitizer_env.environ(SHIM)
    env["REFSAN_OPTIONS"] = options
    env.pop("REFSAN_SPEC", None)
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([PROG, mode, *extra_args], env=env, cwd=tmp,
                       capture_output=True, text=True, timeout=120)
    return p


def check(cond, what, p=None):
    if not cond:
        msg = "FAIL: " + what
        if p is not None:
            msg += "\n--- status %d\n--- stdout\n%s\n--- stderr\n%s" % (
                p.returncode, p.stdout, p.stderr)
        print(msg)
        sys.exit(1)


def reports(tmp, pid=None):
    files = sorted(glob.glob(os.path.join(tmp, "r.*.json")))
    out = []
    for f in files:
        with open(f) as fh:
            out.append(json.load(fh))
    return out


def case_clean(tmp):
    p = run("clean", "json_path=%s/r" % tmp)
    check(p.returncode == 0, "clean run exits 0", p)
    check(p.stderr == "", "clean run is silent", p)
    [r] = reports(tmp)
    c = r["counters"]
    check(c["created"] == 1 and c["released"] == 1 and c["live"] == 0,
          "clean counters %r" % c)
    check(r["errors"] == [], "no errors")


def case_leak(tmp):
    p = run("leak", "json_path=%s/r" % tmp)
    check(p.returncode == 23, "a leak exits 23", p)
    want = "api_prog.c:%d" % line_of("LEAK_LINE")
    check("ERROR: refsan: detected handle leaks" in p.stderr, "leak header", p)
    check(re.search(r"Leak of 2 handle\(s\) of family dog \(reference count 1\)",
                    p.stderr), "leak group line", p)
    check(want in p.stderr, "names the file:line " + want, p)
    check("in make_dog" in p.stderr, "names the function", p)
    check("SUMMARY: refsan: 2 leaked handle(s) from 1 site(s)" in p.stderr,
          "summary", p)
    [r] = reports(tmp)
    check(r["exit_status"] == 23, "JSON exit status")
    [e] = r["errors"]
    check(e["kind"] == "leak" and e["count"] == 2 and e["family"] == "dog",
          "JSON leak %r" % e)
    frames = r["stacks"][str(e["stack"])]
    check(frames[0]["function"] == "make_dog" and
          frames[0]["file"].endswith("api_prog.c") and
          frames[0]["line"] == line_of("LEAK_LINE"), "JSON frame %r" % frames[0])


def case_fail_keeps_status(tmp):
    p = run("fail")
    check(p.returncode == 3, "a failing program keeps its status", p)
    check("Leak of 1 handle(s)" in p.stderr, "still reports", p)


def case_exitcode_option(tmp):
    p = run("leak", "exitcode=0")
    check(p.returncode == 0, "exitcode=0 disables", p)
    p = run("leak", "exitcode=42")
    check(p.returncode == 42, "exitcode=42", p)


def case_double(tmp):
    p = run("double", "json_path=%s/r" % tmp)
    check(p.returncode == 23, "a double release exits 23", p)
    err = p.stderr
    check(re.search(r"==\d+==ERROR: refsan: double release of handle 0x[0-9a-f]+ \(family dog\)", err),
          "double release header", p)
    rel = "api_prog.c:%d" % line_of("RELEASE_LINE")
    check(err.count(rel) >= 2, "bad release and last release stacks", p)
    check("its last release (reference count 1 -> 0) was here:" in err,
          "last release stack", p)
    check("it was created here:" in err and
          "api_prog.c:%d" % line_of("LEAK_LINE") in err, "creation stack", p)
    # The three stacks name main's lines too: the two drop_dog calls differ.
    [r] = reports(tmp)
    [e] = r["errors"]
    check(e["kind"] == "double_release" and e["stack"] and
          e["last_release_stack"] and e["created_stack"] and
          e["stack"] != e["last_release_stack"], "JSON double %r" % e)


def case_quick_exit(tmp):
    p = run("quick_exit", "json_path=%s/r" % tmp)
    check(p.returncode == 23, "_exit still reports and fails", p)
    check("Leak of 1 handle(s)" in p.stderr, "_exit report", p)
    check(len(reports(tmp)) == 1, "_exit JSON")


def case_exit_call(tmp):
    p = run("exit_call")
    check(p.returncode == 23, "exit(0) becomes 23", p)


def case_threads(tmp):
    p = run("threads", "json_path=%s/r" % tmp)
    check(p.returncode == 0 and p.stderr == "", "threads clean", p)
    [r] = reports(tmp)
    c = r["counters"]
    check(c["created"] == 400000 and c["acquired"] == 400000 and
          c["released"] == 800000 and c["live"] == 0, "exact counters %r" % c)


def case_since(tmp):
    path = os.path.join(tmp, "live.txt")
    p = run("since", "exitcode=0", [path])
    check(p.returncode == 0, "since runs", p)
    check("live=3 since=2" in p.stdout and "since_after=1" in p.stdout,
          "live counts", p)
    text = open(path).read()
    check("report of live handles" in text and "1 handle(s)" in text,
          "report_since text: " + text)
    jpath = os.path.join(tmp, "live.json")
    p = run("since", "exitcode=0", [jpath])
    r = json.load(open(jpath))
    check(sum(e["count"] for e in r["errors"]) == 1, "report_since JSON")


def case_fork(tmp):
    p = run("fork", "json_path=%s/r" % tmp)
    check(p.returncode == 23, "parent fails", p)
    m = re.search(r"child=(\d+) status=(\d+)", p.stdout)
    check(m and m.group(2) == "23", "child fails with its own leaks", p)
    rs = reports(tmp)
    check(len(rs) == 2, "one report per process: %d" % len(rs), p)
    by_pid = {r["pid"]: r for r in rs}
    child = by_pid[int(m.group(1))]
    check(sum(e["count"] for e in child["errors"]) == 2,
          "the child reports only its own handles: %r" % child["errors"])
    parent = [r for r in rs if r["pid"] != int(m.group(1))][0]
    check(sum(e["count"] for e in parent["errors"]) == 1, "parent's leak")


def case_segv(tmp):
    p = run("segv")
    check(p.returncode == -11, "dies of SIGSEGV as before: %d" % p.returncode, p)
    check("fatal SIGSEGV" in p.stderr and "1 live handle(s)" in p.stderr,
          "fatal signal report", p)


def case_exec(tmp):
    p = run("exec", "json_path=%s/r" % tmp)
    check("Leak of 1 handle(s)" in p.stderr, "exec reports first", p)
    check(len(reports(tmp)) == 1, "the report of the image before exec")


def case_bad_options(tmp):
    for opts, msg in [
        ("stak_depth=3", "refsan: error: REFSAN_OPTIONS: unknown option 'stak_depth'"),
        ("stack_depth=x", "refsan: error: REFSAN_OPTIONS: option 'stack_depth'"),
        ("exitcode", "refsan: error: REFSAN_OPTIONS: expected key=value"),
    ]:
        p = run("clean", opts)
        check(p.returncode == 2, "bad option %s exits 2" % opts, p)
        check(p.stderr.startswith(msg), "message for %s" % opts, p)


def case_bad_spec(tmp):
    spec = os.path.join(tmp, "bad.spec")
    with open(spec, "w") as f:
        f.write("library libzoo.so*\ncreate create_dog rett\n")
    p = run("clean", "spec=" + spec)
    check(p.returncode == 2, "bad spec exits 2", p)
    check(p.stderr.startswith("refsan: error: %s:2:19: " % spec),
          "spec error names FILE:LINE:COL", p)
    p = run("clean", "spec=%s:on_bad_spec=ignore" % spec)
    check(p.returncode == 0 and "refsan: warning:" in p.stderr,
          "on_bad_spec=ignore warns and runs", p)
    p = run("clean", "spec=/nonexistent/zoo.spec")
    check(p.returncode == 2 and "/nonexistent/zoo.spec" in p.stderr,
          "missing spec file named", p)


def case_help(tmp):
    p = run("clean", "help=1")
    check(p.returncode == 0, "help runs on", p)
    for key in ["spec", "log_path", "json_path", "exitcode", "stack_depth",
                "quarantine", "report_signal", "verbosity"]:
        check(key in p.stderr, "help lists " + key, p)


def case_log_path(tmp):
    p = run("leak", "log_path=%s/log" % tmp)
    check(p.returncode == 23 and p.stderr == "", "log_path: nothing on stderr", p)
    logs = glob.glob(os.path.join(tmp, "log.*"))
    check(len(logs) == 1 and "Leak of 2" in open(logs[0]).read(),
          "log_path.PID holds the report")


def case_verbosity(tmp):
    p = run("clean", "verbosity=1")
    check(p.returncode == 0 and "1 handle(s) created" in p.stderr,
          "verbosity=1 summary line", p)


with tempfile.TemporaryDirectory() as tmp:
    globals()["case_" + CASE](tmp)
print("ok:", CASE)
