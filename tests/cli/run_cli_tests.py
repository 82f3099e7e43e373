#!/usr/bin/python3
"""run_cli_tests.py: end-to-end tests of the `refsan` command and of the
pytest plugin, one case per invocation (tests/cli/meson.build):

    run_cli_tests.py REFSAN LIBREFSAN LIBZOO ZOO_SPEC SRCDIR BUILDDIR CASE

Every case runs real processes: Python programs over libzoo (demo/zoo.c,
through demo/zoo_wrap.py) under `refsan run`, then checks exit statuses,
what was printed and the reports (`refsan report` in every format, parsed
with Python's json and xml modules).  Exit status 0: pass, 77: skipped
(pytest missing), else fail with a message.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

PY = "/usr/bin/python3"
REFSAN, LIBREFSAN, LIBZOO, ZOO_SPEC, SRC, BUILD, CASE = sys.argv[1:8]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)
DEMO = os.path.join(SRC, "demo")
TMP = tempfile.mkdtemp(prefix="refsan-cli-%s-" % CASE)


class Fail(Exception):
    pass


def check(cond, what, *context):
    if not cond:
        msg = "FAIL: " + what
        for c in context:
            msg += "\n--- context ---\n" + str(c)
        raise Fail(msg)


def env(**extra):
    e = {k: v for k, v in os.environ.items()
         if k not in ("LD_PRELOAD", "REFSAN_OPTIONS", "REFSAN_SPEC",
                      "PYTEST_PLUGINS", "PYTHONPATH", "PYTEST_ADDOPTS")}
    e["ZOO_LIB"] = LIBZOO
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    e["TMPDIR"] = TMP
    if sanitizer_env.sanitized(LIBREFSAN):
        # `refsan run` keeps a sanitizer runtime first in LD_PRELOAD.
        sanitizer_env.apply(e, LIBREFSAN)
        e["LD_PRELOAD"] = " ".join(sanitizer_env.prefix(LIBREFSAN))
    e.update(extra)
    return e


def run(args, cwd=None, timeout=90, **kw):
    p = subprocess.run(args, cwd=cwd or TMP, env=kw.pop("env", env()),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout, **kw)
    return p


def out(p):
    return "rc=%d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout,
                                               p.stderr)


def write(name, text):
    path = os.path.join(TMP, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def report(*args, **kw):
    return run([REFSAN, "report"] + list(args), **kw)


# A program whose leak sites are chosen by its arguments: "leak" leaks a
# dog from leak_here(), "other" one from leak_elsewhere(), "clean" none.
LEAKER = '''
import sys
sys.path.insert(0, %r)
from zoo_wrap import Dog

def leak_here():
    d = Dog("here")
    d.add_ref()

def leak_elsewhere():
    d = Dog("elsewhere")
    d.add_ref()

for what in sys.argv[1:]:
    if what == "leak":
        leak_here()
    elif what == "other":
        leak_elsewhere()
    elif what == "double":
        d = Dog("twice")
        d.release()
        del d
Dog("clean").walk()
''' % DEMO


def leaker():
    return write("leaker.py", LEAKER)


def run_leaker(json_dir, *what):
    return run([REFSAN, "run", "--spec", ZOO_SPEC, "--json-dir", json_dir,
                "--", PY, leaker()] + list(what))


def golden_report(pid=None):
    """tests/golden/report-basic.json as a report, optionally re-pidded."""
    with open(os.path.join(SRC, "tests", "golden", "report-basic.json")) as f:
        text = f.read().replace("@VERSION@", "0.1.0")
    if pid is not None:
        text = text.replace('"pid": 4242', '"pid": %d' % pid)
    return text


# ---- cases ----

def case_multiprocess():
    prog = write("mp.py", '''
import multiprocessing as mp, os, sys
sys.path.insert(0, %r)

def work(i, q):
    from zoo_wrap import Dog
    d = Dog("worker%%d" %% i)
    assert d.walk()
    if i == 1:
        d.add_ref()  # the one leak: a reference never given back
    q.put((i, os.getpid()))

if __name__ == "__main__":
    mp.set_start_method("fork")
    q = mp.Queue()
    ps = [mp.Process(target=work, args=(i, q)) for i in range(3)]
    for p in ps:
        p.start()
    pids = dict(q.get() for _ in ps)
    for p in ps:
        p.join()
    print(pids[1])
''' % DEMO)
    jd = os.path.join(TMP, "reports")
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--json-dir", jd, "--",
             PY, prog])
    check(p.returncode == 23, "refsan run exits 23 when a worker leaked",
          out(p))
    leaker_pid = int(p.stdout.split()[-1])
    check("refsan: 3 process(es) reported; 1 had errors." in p.stderr,
          "one merged summary over the 3 workers", out(p))
    check(re.search(r"leak of 1 handle\(s\) of family dog .*from work "
                    r"mp\.py:\d+; pid %d\n" % leaker_pid, p.stderr),
          "the summary names the leaking worker's site and pid", out(p))
    check("SUMMARY: refsan: 1 leaked handle(s) from 1 site(s) in 1 of 3 "
          "process(es)." in p.stderr, "merged SUMMARY line", out(p))
    files = sorted(os.listdir(jd))
    check(len(files) == 3 and all(f.endswith(".json") for f in files),
          "one JSON report per worker", files)
    r = report("--format", "json", jd)
    check(r.returncode == 23, "refsan report exits 23", out(r))
    doc = json.loads(r.stdout)
    check(len(doc["errors"]) == 1, "one merged error", r.stdout)
    e = doc["errors"][0]
    check(e["kind"] == "leak" and e["pids"] == [leaker_pid],
          "the error is the worker's leak", e)
    funcs = [f["function"] for f in doc["stacks"][str(e["stack"])]]
    check("create_dog" in funcs and "work" in funcs,
          "its stack names create_dog and the worker function", funcs)
    check(sorted(doc["pids"]) == sorted(pr["pid"] for pr in doc["processes"])
          and len(doc["pids"]) == 3, "pids and processes", doc["pids"])


def case_report_text():
    # A single report renders exactly as the shim renders it (the shim's
    # golden file with misuse errors included), paths relative to /usr.
    path = write("basic.json", golden_report())
    p = report(path, cwd="/usr")
    with open(os.path.join(SRC, "tests", "golden",
                           "report-basic-all.txt")) as f:
        want = f.read()
    check(p.returncode == 23, "errors: exit 23", out(p))
    check(p.stdout == want, "text of one report is the shim's text",
          "want:\n" + want, "got:\n" + p.stdout)
    p = report("--exitcode", "5", path)
    check(p.returncode == 5, "--exitcode", out(p))


def case_report_merge():
    a = write("a/refsan.100.json", golden_report(100))
    b = write("b/refsan.200.json", golden_report(200))
    p = report("--format", "json", a, b)
    doc = json.loads(p.stdout)
    one = json.loads(report("--format", "json", a).stdout)
    check(len(doc["errors"]) == len(one["errors"]),
          "the same sites in two processes merge into the same groups",
          p.stdout)
    for m, s in zip(doc["errors"], one["errors"]):
        check(m["site"] == s["site"] and m["count"] == 2 * s["count"],
              "counts are summed per site", m, s)
        check(m["pids"] == [100, 200], "both pids listed", m)
    check(doc["counters"]["created"] == 2 * one["counters"]["created"],
          "counters summed", doc["counters"])
    check(doc["suppressions"][0]["hits"] == 2 * one["suppressions"][0]["hits"],
          "suppression hits summed", doc["suppressions"])
    t = report(a, b)
    check("  in 2 process(es): 100, 200\n" in t.stdout,
          "text names the processes of each group", t.stdout)
    check("in 2 of 2 process(es)." in t.stdout, "summary over processes",
          t.stdout)
    # Merged reports merge again (CI shards): pids kept per error.
    m1 = write("m1.json", p.stdout)
    c = write("c/refsan.300.json", golden_report(300))
    p2 = report("--format", "json", m1, c)
    doc2 = json.loads(p2.stdout)
    check(doc2["errors"][0]["pids"] == [100, 200, 300]
          and doc2["errors"][0]["count"] == 3 * one["errors"][0]["count"],
          "a merged report merged with a third keeps every pid",
          doc2["errors"][0])
    check(sorted(doc2["pids"]) == [100, 200, 300], "top-level pids",
          doc2["pids"])


def case_report_json():
    jd = os.path.join(TMP, "r")
    p = run_leaker(jd, "leak", "double")
    check(p.returncode == 23, "leak and double release: 23", out(p))
    r = report("--format", "json", "--output", os.path.join(TMP, "m.json"),
               jd)
    check(r.returncode == 23 and r.stdout == "",
          "--output writes the file, not stdout", out(r))
    check("SUMMARY: refsan:" in r.stderr, "the SUMMARY on stderr", out(r))
    with open(os.path.join(TMP, "m.json")) as f:
        doc = json.load(f)
    for k in ("schema", "tool", "version", "pid", "final", "exit_status",
              "argv", "specs", "counters", "errors", "suppressed", "stacks",
              "pids", "merged_from", "processes"):
        check(k in doc, "merged JSON has " + k, doc.keys())
    check(doc["schema"] == 1 and doc["tool"] == "refsan", "schema 1", doc)
    kinds = sorted(e["kind"] for e in doc["errors"])
    check(kinds == ["double_release", "leak"], "both errors", kinds)
    for e in doc["errors"]:
        check(re.fullmatch(r"[0-9a-f]{16}", e["site"]) and e["pids"],
              "site and pids on every error", e)
        for key in ("stack", "created_stack", "last_release_stack"):
            if e.get(key) is not None:
                check(str(e[key]) in doc["stacks"], "stack ids resolve", e)
    # Round trip: the merged report read back gives the same errors.
    r2 = report("--format", "json", os.path.join(TMP, "m.json"))
    doc2 = json.loads(r2.stdout)
    check([(e["site"], e["count"], e["pids"]) for e in doc2["errors"]]
          == [(e["site"], e["count"], e["pids"]) for e in doc["errors"]],
          "a merged report reads back to itself", r2.stdout)


def junit_of(*args):
    p = report("--format", "junit", *args)
    try:
        root = ET.fromstring(p.stdout)
    except ET.ParseError as e:
        raise Fail("JUnit output does not parse: %s\n%s" % (e, p.stdout))
    return p, root


def case_junit():
    jd = os.path.join(TMP, "r")
    run_leaker(jd, "leak", "other", "double")
    p, root = junit_of(jd)
    check(p.returncode == 23, "errors: 23", out(p))
    check(root.tag == "testsuites", "root element", root.tag)
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    fails = [c for c in cases if c.find("failure") is not None]
    check(len(cases) == 3 and len(fails) == 3,
          "one failing testcase per error group", p.stdout)
    check(suite.get("tests") == "3" and suite.get("failures") == "3",
          "counts on the suite", suite.attrib)
    names = [c.get("name") for c in cases]
    check(len(set(names)) == 3, "testcase names are unique", names)
    leak = [c for c in fails if c.get("classname") == "refsan.leak"]
    check(len(leak) == 2, "two leak sites", names)
    f = leak[0].find("failure")
    check(f.get("message", "").startswith("leak of 1 handle(s)")
          and "created from:" in f.text and "create_dog" in f.text
          and "leaker.py" in f.text,
          "failure message and stacks", ET.tostring(leak[0]).decode())
    check(leak[0].get("file") == "leaker.py" and leak[0].get("line"),
          "file and line of the creating call", leak[0].attrib)
    # A clean run is one passing testcase.
    jd2 = os.path.join(TMP, "clean")
    p2 = run_leaker(jd2)
    check(p2.returncode == 0, "clean run exits 0", out(p2))
    p, root = junit_of(jd2)
    cases = root.find("testsuite").findall("testcase")
    check(p.returncode == 0 and len(cases) == 1
          and cases[0].find("failure") is None,
          "a clean report is one passing testcase", p.stdout)
    # Known errors are skipped test cases.
    base = os.path.join(TMP, "base.json")
    report("--format", "json", "-o", base, jd)
    p, root = junit_of("--baseline", base, jd)
    cases = root.find("testsuite").findall("testcase")
    check(p.returncode == 0 and all(c.find("skipped") is not None
                                    for c in cases[:3]),
          "baseline errors are skipped testcases", p.stdout)


def case_sarif():
    jd = os.path.join(TMP, "r")
    run_leaker(jd, "leak", "double")
    p = report("--format", "sarif", jd)
    check(p.returncode == 23, "errors: 23", out(p))
    s = json.loads(p.stdout)
    check(s["version"] == "2.1.0" and "sarif" in s["$schema"],
          "version and $schema", p.stdout[:300])
    run0 = s["runs"][0]
    driver = run0["tool"]["driver"]
    check(driver["name"] == "refsan", "driver name", driver)
    rule_ids = [r["id"] for r in driver["rules"]]
    for k in ("leak", "double_release", "invalid_release",
              "use_after_release", "family_mismatch"):
        check(k in rule_ids, "a rule per kind: " + k, rule_ids)
    res = run0["results"]
    check(len(res) == 2, "one result per error group", res)
    for r in res:
        check(r["ruleId"] in rule_ids and r["level"] == "error"
              and r["message"]["text"], "ruleId, level, message", r)
        check(driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"],
              "ruleIndex", r)
        loc = r["locations"][0]["physicalLocation"]
        check(loc["artifactLocation"]["uri"] == "leaker.py"
              and loc["region"]["startLine"] >= 1,
              "location: the creating call in leaker.py, relative", loc)
        check(re.fullmatch(r"[0-9a-f]{16}",
                           r["partialFingerprints"]["refsanSite/v1"]),
              "fingerprint", r)
        check(r["codeFlows"][0]["threadFlows"][0]["locations"],
              "the stack as a code flow", r)
    dbl = [r for r in res if r["ruleId"] == "double_release"][0]
    check(dbl.get("relatedLocations"),
          "a double release points at its last release and creation", dbl)
    with open(os.path.join(TMP, "leaker.py")) as f:
        lines = f.read().split("\n")
    leak = [r for r in res if r["ruleId"] == "leak"][0]
    line = leak["locations"][0]["physicalLocation"]["region"]["startLine"]
    check("Dog(" in lines[line - 1],
          "the leak's line is the Dog(...) call", lines[line - 1])


def case_baseline():
    jd1, jd2, jd3 = (os.path.join(TMP, d) for d in ("one", "two", "three"))
    base = os.path.join(TMP, "baseline.json")
    p = run_leaker(jd1, "leak")
    check(p.returncode == 23, "the leak fails", out(p))
    r = report("--format", "json", "-o", base, jd1)
    check(r.returncode == 23 and os.path.exists(base), "baseline written",
          out(r))
    # The same leak again: known, passes.
    run_leaker(jd2, "leak")
    r = report("--baseline", base, jd2)
    check(r.returncode == 0, "a known leak does not count", out(r))
    check("Known errors" in r.stdout and "known: leak of 1 handle(s)"
          in r.stdout and "1 known error(s) in the baseline" in r.stdout,
          "known errors are listed", out(r))
    check("==ERROR" not in r.stdout and "Leak of" not in r.stdout,
          "no new error printed", out(r))
    j = json.loads(report("--format", "json", "--baseline", base,
                          jd2).stdout)
    check(not j["errors"] and len(j["known"]) == 1
          and j["baseline"] == base, "JSON: known, not errors", j)
    # A new leak fails, the old one stays known.
    run_leaker(jd3, "leak", "other")
    r = report("--baseline", base, jd3)
    check(r.returncode == 23, "a new leak fails", out(r))
    check("leak_elsewhere" in r.stdout and "Known errors" in r.stdout,
          "the new leak in full, the old one known", out(r))
    # refsan run --baseline: the same verdicts, in one step.
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--baseline", base, "--",
             PY, leaker(), "leak"])
    check(p.returncode == 0 and "1 known error(s) in the baseline"
          in p.stderr, "run --baseline: a known leak passes", out(p))
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--baseline", base, "--",
             PY, leaker(), "leak", "other"])
    check(p.returncode == 23 and "leak_elsewhere" in p.stderr,
          "run --baseline: a new leak fails", out(p))
    sarif = json.loads(report("--format", "sarif", "--baseline", base,
                              jd3).stdout)
    states = sorted(x["baselineState"] for x in sarif["runs"][0]["results"])
    check(states == ["new", "unchanged"], "SARIF baselineState", states)


def case_bad_reports():
    cases = {
        "truncated.json": (golden_report()[:500], r":\d+:\d+: "),
        "notjson.json": ("hello\n", r":1:1: expected a value, got 'h'"),
        "empty.json": ("", r":1:1: empty input"),
        "trailing.json": ('{"schema": 1, "errors": []} x',
                          r":1:29: expected the end of input"),
        "comma.json": ('{"schema": 1, "errors": [],}',
                       r":1:28: expected a member name"),
        "deep.json": ("[" * 100 + "]" * 100,
                      r":1:65: nesting deeper than 64 levels"),
        "utf8.json": ('{"schema": 1, "errors": [], "x": "\xff"}',
                      r":1:35: invalid UTF-8 byte 0xff in a string"),
        "schema.json": ('{"schema": 2, "errors": []}',
                        r":1:12: report schema 2 is not one this refsan reads"),
        "tool.json": ('{"schema": 1, "tool": "asan", "errors": []}',
                      r":1:23: not a refsan report"),
        "type.json": ('{"schema": 1, "errors": [{"kind": "leak",\n'
                      ' "count": "3"}]}',
                      r":2:11: errors.count: expected a non-negative "
                      r"integer, got a string"),
        "frame.json": ('{"schema": 1, "errors": [], "stacks": {"1": '
                       '[{"line": -4}]}}',
                       r":1:55: frame.line: expected a non-negative"),
    }
    for name, (text, pattern) in cases.items():
        path = os.path.join(TMP, name)
        with open(path, "w", encoding="utf-8",
                  errors="surrogateescape") as f:
            f.write(text)
        if name == "utf8.json":
            with open(path, "wb") as f:
                f.write(b'{"schema": 1, "errors": [], "x": "\xff"}')
        p = report(path)
        check(p.returncode == 2, name + ": exit 2", out(p))
        check(re.search(r"^refsan: error: " + re.escape(path) + pattern,
                        p.stderr, re.M),
              name + ": a clear FILE:LINE:COL error", out(p))
    # A kind this refsan does not know still counts.
    new = write("newkind.json", json.dumps({
        "schema": 1, "pid": 7, "errors": [
            {"kind": "future_kind", "family": "dog", "function": "f",
             "handle": "0x10", "stack": None}],
        "stacks": {}, "future_field": {"nested": [1, 2.5e3, None]}}))
    p = report(new)
    check(p.returncode == 23 and "future_kind of handle 0x10" in p.stdout
          and "1 other error(s)" in p.stdout,
          "unknown kinds count, unknown fields are ignored", out(p))
    p = report("--format", "xml", new)
    check(p.returncode == 2 and "--format" in p.stderr, "bad format",
          out(p))
    p = report(os.path.join(TMP, "missing.json"))
    check(p.returncode == 2 and "cannot read the report" in p.stderr,
          "missing file", out(p))


PYTEST_CONFTEST = '''
import sys
sys.path.insert(0, %r)
import pytest
from zoo_wrap import Dog

@pytest.fixture(scope="session")
def shared_dog():
    # Lives for the whole session: charged to the fixture, not to a test.
    return Dog("session")

@pytest.fixture(scope="module")
def module_dogs():
    return [Dog("m1"), Dog("m2")]

@pytest.fixture
def kennel():
    # Releases at teardown what the test put in it.
    k = []
    yield k
    k.clear()
'''

PYTEST_TESTS = '''
from zoo_wrap import Dog

def test_session_fixture(shared_dog):
    assert shared_dog.walk()

def test_module_fixture(module_dogs, shared_dog):
    assert all(d.walk() for d in module_dogs)

def test_clean():
    assert Dog("clean").walk()

def test_leaky():
    d = Dog("leaky")
    d.add_ref()  # never released

def test_kennel(kennel):
    kennel.append(Dog("k"))
'''


def case_pytest():
    if subprocess.run([PY, "-c", "import pytest"]).returncode:
        print("SKIP: /usr/bin/python3 has no pytest")
        sys.exit(77)
    write("pt/conftest.py", PYTEST_CONFTEST % DEMO)
    write("pt/test_zoo.py", PYTEST_TESTS)
    xml_path = os.path.join(TMP, "pytest.xml")
    jd = os.path.join(TMP, "reports")
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--json-dir", jd, "--",
             PY, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             "--junitxml", xml_path, "test_zoo.py"],
            cwd=os.path.join(TMP, "pt"))
    check(p.returncode == 1, "pytest fails (exit 1): a test failed", out(p))
    check("1 failed, 4 passed" in p.stdout, "exactly one test failed",
          out(p))
    check("FAILED test_zoo.py::test_leaky" in p.stdout,
          "the leaky test failed", out(p))
    root = ET.parse(xml_path).getroot()
    failed = [c.get("name") for c in root.iter("testcase")
              if c.find("failure") is not None]
    check(failed == ["test_leaky"], "junit: only test_leaky failed", failed)
    text = [c for c in root.iter("testcase")
            if c.get("name") == "test_leaky"][0].find("failure").text
    check("1 native handle(s) created during this test are still live"
          in text and "Live: 1 handle(s) of family dog (reference count 1)"
          in text and re.search(r"in test_leaky test_zoo\.py:\d+", text),
          "the failure holds the leak and its creation stack", text)
    # Warn mode: passes, with a warning.
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--", PY, "-m", "pytest",
             "-p", "no:cacheprovider", "--refsan=warn", "test_zoo.py"],
            cwd=os.path.join(TMP, "pt"))
    check("5 passed" in p.stdout and "RefsanLeakWarning" in p.stdout,
          "--refsan=warn warns", out(p))
    check("refsan: per-test handle checks: warn" in p.stdout,
          "the header says what the plugin does", out(p))
    # The marker exempts a test.
    write("pt/test_allow.py", '''
import pytest
from zoo_wrap import Dog

@pytest.mark.refsan_allow_leaks
def test_allowed():
    Dog("x").add_ref()
''')
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--", PY, "-m", "pytest",
             "-p", "no:cacheprovider", "-q", "test_allow.py"],
            cwd=os.path.join(TMP, "pt"))
    check("1 passed" in p.stdout, "refsan_allow_leaks", out(p))
    # Without refsan: inert, one note.
    p = run([PY, "-m", "pytest", "-p", "refsan.pytest", "-p",
             "no:cacheprovider", "-q", "test_zoo.py"],
            cwd=os.path.join(TMP, "pt"),
            env=env(PYTHONPATH=os.path.join(SRC, "python")))
    check(p.returncode == 0 and "5 passed" in p.stdout,
          "without refsan the plugin does nothing", out(p))
    p = run([PY, "-m", "pytest", "-p", "refsan.pytest", "-p",
             "no:cacheprovider", "test_zoo.py"],
            cwd=os.path.join(TMP, "pt"),
            env=env(PYTHONPATH=os.path.join(SRC, "python")))
    check("refsan: librefsan.so is not loaded in this process" in p.stdout,
          "... and says so once", out(p))


def case_spec_check():
    p = run([REFSAN, "spec", "check", ZOO_SPEC, "--lib", LIBZOO])
    check(p.returncode == 0, "zoo.spec against libzoo: all exported", out(p))
    check(re.search(r"create +create_dog +exported", p.stdout)
          and "all 9 rule(s) name functions" in p.stdout,
          "lists each function", out(p))
    typo = write("typo.spec", "library libzoo.so*\n"
                 "create create_dgo ret family=dog\n"
                 "release *_free arg0\n"
                 "release release arg0\n")
    p = run([REFSAN, "spec", "check", typo, "--lib", LIBZOO])
    check(p.returncode == 1, "missing functions: exit 1", out(p))
    check("create_dgo" in p.stdout and "MISSING" in p.stdout
          and "did you mean create_dog?" in p.stdout,
          "a typo is named, with a suggestion", out(p))
    check("the glob matches nothing" in p.stdout, "an empty glob", out(p))
    bad = write("bad.spec", "library libzoo.so*\ncreate create_dog rett\n")
    p = run([REFSAN, "spec", "check", bad])
    check(p.returncode == 2 and p.stderr.startswith(
        "refsan: error: %s:2:19: expected ret, argN or *argN" % bad),
        "a bad spec: the shim's error, exit 2", out(p))
    p = run([REFSAN, "spec", "check", ZOO_SPEC, "--lib", "libnothere.so.9"])
    check(p.returncode == 2 and "library not found" in p.stderr,
          "a missing library", out(p))


def case_spec_gen():
    p = run([REFSAN, "spec", "gen", os.path.join(DEMO, "zoo.h")])
    check(p.returncode == 0, "spec gen runs", out(p))
    s = p.stdout
    for pat in (r"^library +libzoo\.so\*",
                r"^# from zoo\.h:\d+: struct dog \*create_dog\(const char "
                r"\*name\)\ncreate +create_dog +ret +family=dog$",
                r"^create +create_owner +ret +family=owner$",
                r"^create +open_cage +\*arg0 +ret==0 +family=cage$",
                r"^# release +close_cage +arg0 +family=cage$",
                r"^# acquire +add_ref +arg0$",
                r"^# review: returns a handle of family dog, but its name "
                r"does not say"):
        check(re.search(pat, s, re.M), "spec gen output has " + pat, s)
    path = write("gen.spec", s)
    p = run([REFSAN, "spec", "check", path, "--lib", LIBZOO])
    check(p.returncode == 0, "the generated spec checks out", out(p))
    for h in ("/usr/include/sqlite3.h", "/usr/include/zlib.h"):
        if os.path.exists(h):
            p = run([REFSAN, "spec", "gen", h])
            path = write("h.spec", p.stdout)
            c = run([REFSAN, "spec", "check", path])
            check(p.returncode == 0 and c.returncode == 0,
                  "a spec from %s parses" % h, out(p), out(c))
    if os.path.exists("/usr/include/sqlite3.h"):
        p = run([REFSAN, "spec", "gen", "/usr/include/sqlite3.h"])
        for pat in (r"^create +sqlite3_open_v2 +\*arg1 +ret==0 +"
                    r"family=sqlite3$",
                    r"^create +sqlite3_prepare_v2 +\*arg3 +ret==0 +"
                    r"family=sqlite3_stmt$",
                    r"^release +sqlite3_finalize +arg0 +family=sqlite3_stmt$",
                    r"^release +sqlite3_close +arg0 +family=sqlite3$"):
            check(re.search(pat, p.stdout, re.M), "sqlite3: " + pat,
                  p.stdout[:3000])
    p = run([REFSAN, "spec", "gen", os.path.join(TMP, "nope.h")])
    check(p.returncode == 2 and "cannot read" in p.stderr, "missing header",
          out(p))


def case_errors():
    p = run([REFSAN, "run", "--spec", os.path.join(TMP, "nope.spec"), "--",
             PY, "-c", "print('ran')"])
    check(p.returncode == 2 and "ran" not in p.stdout
          and "nope.spec: cannot read spec file" in p.stderr,
          "a missing spec stops before running", out(p))
    bad = write("bad.spec", "library libzoo.so*\nfrobnicate x ret\n")
    p = run([REFSAN, "run", "--spec", bad, "--", PY, "-c", "print('ran')"])
    check(p.returncode == 2 and "ran" not in p.stdout
          and re.search(r"refsan: error: .*bad\.spec:2:1: ", p.stderr),
          "a bad spec stops before running", out(p))
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--", "no-such-command-x"])
    check(p.returncode == 127
          and "refsan: error: no-such-command-x: command not found"
          in p.stderr, "a missing command: 127", out(p))
    notexec = write("notexec.sh", "echo hi\n")
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--", notexec])
    check(p.returncode == 126 and "cannot execute" in p.stderr,
          "a command that cannot run: 126", out(p))
    afile = write("afile", "x")
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--json-dir",
             os.path.join(afile, "sub"), "--", PY, "-c", "print('ran')"])
    check(p.returncode == 2 and "ran" not in p.stdout
          and "cannot create the directory" in p.stderr,
          "a json dir that cannot be created", out(p))
    ro = os.path.join(TMP, "ro")
    os.mkdir(ro, 0o555)
    if os.geteuid() != 0:
        p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--json-dir", ro, "--",
                 PY, "-c", "print('ran')"])
        check(p.returncode == 2 and "cannot write reports there"
              in p.stderr, "a json dir that cannot be written", out(p))
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--option", "nosuch=1",
             "--", PY, "-c", "print('ran')"])
    check(p.returncode == 2 and "unknown option 'nosuch'" in p.stderr,
          "an unknown option stops before running", out(p))
    p = run([REFSAN, "run"])
    check(p.returncode == 2 and "expected a command" in p.stderr,
          "no command", out(p))
    p = run([REFSAN, "frobnicate"])
    check(p.returncode == 2 and "unknown command" in p.stderr,
          "unknown subcommand", out(p))
    p = run([REFSAN, "--version"])
    check(p.returncode == 0 and re.match(r"refsan \d+\.\d+\.\d+", p.stdout),
          "--version", out(p))
    p = run([REFSAN, "--help"])
    check(p.returncode == 0 and "refsan run" in p.stdout
          and "refsan report" in p.stdout, "--help", out(p))


def case_exit_status():
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--", PY, "-c",
             "import sys; sys.exit(3)"])
    check(p.returncode == 3, "CMD's own status", out(p))
    p = run_leaker(os.path.join(TMP, "a"))
    check(p.returncode == 0, "a clean run exits 0", out(p))
    check("SUMMARY: refsan: no errors;" in p.stderr, "clean summary",
          out(p))
    # Errors in a child of a CMD that exits 0.
    prog = write("parent.py", '''
import subprocess, sys
sys.exit(subprocess.call([sys.executable, %r, "leak"]) and 0)
''' % leaker())
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--", PY, prog])
    check(p.returncode == 23, "a child's leak makes refsan exit 23", out(p))
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--option", "exitcode=0",
             "--", PY, prog])
    check(p.returncode == 0, "exitcode=0 disables it", out(p))
    # The user's REFSAN_OPTIONS and LD_PRELOAD are kept; the shim goes
    # first, after the sanitizer runtime of a sanitized build.
    rt = sanitizer_env.prefix(LIBREFSAN)
    p = run([REFSAN, "run", "--spec", ZOO_SPEC, "--", PY, "-c",
             "import os; print(os.environ['REFSAN_OPTIONS']); "
             "print(os.environ['LD_PRELOAD'])"],
            env=env(REFSAN_OPTIONS="verbosity=1",
                    LD_PRELOAD=" ".join(rt + ["libm.so.6"])))
    lines = p.stdout.splitlines() + ["", ""]
    words = lines[1].split()
    check(lines[0].startswith("verbosity=1:spec=") and "json_path=" in lines[0]
          and len(words) == len(rt) + 2 and words[:len(rt)] == rt
          and words[len(rt)].endswith("librefsan.so")
          and words[-1] == "libm.so.6",
          "REFSAN_OPTIONS and LD_PRELOAD merged", out(p))
    leftovers = [d for d in os.listdir(TMP) if d.startswith("refsan-run.")]
    check(not leftovers, "the temporary report directory is removed",
          leftovers)


def case_signals():
    prog = write("sleeper.py", '''
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
print("ready", flush=True)
time.sleep(60)
''')
    p = subprocess.Popen([REFSAN, "run", "--spec", ZOO_SPEC, "--", PY, prog],
                         env=env(), cwd=TMP, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True)
    check(p.stdout.readline().strip() == "ready", "the child started")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    check(rc == 42, "SIGTERM is forwarded to CMD, whose status is kept",
          rc, p.stderr.read())
    p = subprocess.Popen([REFSAN, "run", "--spec", ZOO_SPEC, "--", PY, "-c",
                          "import time; print('ready', flush=True); "
                          "time.sleep(60)"],
                         env=env(), cwd=TMP, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True)
    p.stdout.readline()
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=30)
    check(rc == 130, "SIGINT: CMD dies of it, refsan exits 128+2", rc,
          p.stderr.read())


def case_installed_layout():
    # The installed tree: bin/refsan finds LIBDIR/librefsan.so relative to
    # itself (as after meson install --destdir), not the build tree's.
    paths = open(os.path.join(BUILD, "tools", "refsan_paths.h")).read()
    rel_lib = re.search(r'REFSAN_BIN_TO_LIB "([^"]*)"', paths).group(1)
    rel_py = re.search(r'REFSAN_BIN_TO_PYTHON "([^"]*)"', paths).group(1)
    prefix = os.path.join(TMP, "stage", "usr", "local")
    bindir = os.path.join(prefix, "bin")
    os.makedirs(bindir)
    shutil.copy2(REFSAN, bindir)
    libdir = os.path.normpath(os.path.join(bindir, rel_lib))
    os.makedirs(libdir)
    shutil.copy2(LIBREFSAN, libdir)
    if not rel_py.startswith("/"):
        pydir = os.path.normpath(os.path.join(bindir, rel_py, "refsan"))
        shutil.copytree(os.path.join(SRC, "python", "refsan"), pydir)
    staged = os.path.join(bindir, "refsan")
    p = run([staged, "run", "--spec", ZOO_SPEC, "--", PY, "-c",
             "import os, refsan; print(os.environ['LD_PRELOAD']); "
             "print(refsan.__file__)"])
    check(p.returncode == 0, "the staged refsan runs", out(p))
    lines = p.stdout.splitlines()
    # (After the sanitizer runtime env() puts first, in a sanitized build.)
    check(lines[0].split() == sanitizer_env.prefix(LIBREFSAN)
          + [os.path.join(libdir, "librefsan.so")],
          "it preloads the staged librefsan.so", out(p))
    if not rel_py.startswith("/"):
        check(lines[1].startswith(prefix), "and the staged plugin", out(p))
    jd = os.path.join(TMP, "r")
    p = run([staged, "run", "--spec", ZOO_SPEC, "--json-dir", jd, "--",
             PY, leaker(), "leak"])
    check(p.returncode == 23 and "leak of 1 handle(s)" in p.stderr,
          "the staged refsan catches a leak", out(p))


def main():
    fn = globals().get("case_" + CASE.replace("-", "_"))
    if not fn:
        print("unknown case %s" % CASE)
        return 2
    try:
        fn()
    except Fail as e:
        print(e)
        return 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("ok: " + CASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
