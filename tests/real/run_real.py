"""Real suites under refsan: other people's test suites and programs run
with a bundled profile, and the report judged.

    run_real.py SHIM CASE

Each case runs a real program (CPython's own regression tests for the
module that wraps the library, pycurl on file:// URLs, the sqlite3 shell on
a script) with LD_PRELOAD=SHIM, spec=PROFILE, exitcode=0 (the program's
status stays its own) and json_path, then checks:

  - the program itself succeeded (refsan broke nothing);
  - every process's report balances: created + acquired == released + live,
    nothing live at exit, and the profile tracked handles at all;
  - every error is one this file expects, with its reason: a real bug of
    the code under test (`bug`, which must show up: it proves refsan still
    catches it) or a known limit of refsan or of the spec language
    (`limit`, which may show up).  Anything else fails the case.

It prints one verdict line: CASE: clean | known findings | FAIL, the
counters summed over every process, the errors by kind, the run time.
Exit 77 (skipped) when the interpreter, test module or library the case
needs is not installed.  REFSAN_REAL_KEEP=DIR keeps the reports in DIR.
Cases run for minutes (test_ssl: about 80 s): they are the opt-in suite
`real` (meson test -C build --suite real).
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

SHIM, CASE = sys.argv[1:3]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)
HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

# A finding: (kind, function, frames): an error matches when its kind and
# function are these and one of its stack's frames (native or Python) has
# one of these function names.
ZLIB_FLUSH_AFTER_END = dict(
    kind="use_after_release", function="deflate",
    frames=["zlib_Compress_flush", "CompressObjectTestCase.test_pair"],
    what="bug", why=(
        "CPython: zlib.Compress.flush() after a flush(Z_FINISH) calls "
        "deflate() on the z_stream it already ended with deflateEnd(); "
        "zlib answers Z_STREAM_ERROR only because deflateEnd set "
        "strm->state to NULL (test_zlib's test_pair checks that the second "
        "flush raises)."))

CASES = {
    "cpython-sqlite3": dict(spec="sqlite3", tests=["test_sqlite3"],
                            module="sqlite3", lib="libsqlite3.so"),
    "cpython-zlib": dict(spec="zlib", tests=["test_zlib"], module="zlib",
                         lib="libz.so", known=[ZLIB_FLUSH_AFTER_END]),
    "cpython-bz2": dict(spec="bz2", tests=["test_bz2"], module="bz2",
                        lib="libbz2.so"),
    "cpython-lzma": dict(spec="lzma", tests=["test_lzma"], module="lzma",
                         lib="liblzma.so"),
    "cpython-pyexpat": dict(spec="expat", tests=["test_pyexpat"],
                            module="pyexpat", lib="libexpat.so"),
    "cpython-xml-etree": dict(spec="expat",
                              tests=["test_xml_etree", "test_xml_etree_c"],
                              module="xml.etree.ElementTree",
                              lib="libexpat.so"),
    "cpython-hashlib": dict(spec="openssl", tests=["test_hashlib"],
                            module="_hashlib", lib="libcrypto.so"),
    "cpython-ssl": dict(spec="openssl", tests=["test_ssl"], module="_ssl",
                        lib="libssl.so"),
    "pycurl": dict(spec="curl", module="pycurl", lib="libcurl",
                   python=["/usr/bin/python3"],
                   argv=[os.path.join(HERE, "pycurl_file_urls.py")]),
    "sqlite3-shell": dict(spec="sqlite3"),
}


def fail(msg, p=None):
    print("FAIL: %s: %s" % (CASE, msg))
    if p is not None:
        print("--- status %d\n--- output (end)\n%s"
              % (p.returncode, p.stdout[-6000:]))
    sys.exit(1)


def skip(msg):
    print("skip: %s: %s" % (CASE, msg))
    sys.exit(SKIP)


def clean_env():
    return {k: v for k, v in os.environ.items()
            if k not in ("LD_PRELOAD", "REFSAN_OPTIONS", "REFSAN_SPEC")}


def interpreters(c):
    """Candidate interpreters, resolved to real executables (the pyenv
    shim is a shell script: it must not run under the preload)."""
    out = []
    for cand in c.get("python", ["python3", "/usr/bin/python3"]):
        exe = shutil.which(cand)
        if not exe:
            continue
        p = subprocess.run([exe, "-c", "import sys; print(sys.executable)"],
                           capture_output=True, text=True, env=clean_env())
        real = p.stdout.strip()
        if p.returncode == 0 and real and real not in out:
            out.append(real)
    return out


PROBE = r"""
import importlib, importlib.util, sys
for t in sys.argv[3:]:
    if importlib.util.find_spec("test." + t) is None:
        print("no test." + t); sys.exit(1)
importlib.import_module(sys.argv[1])
with open("/proc/self/maps") as f:
    if not any(("/" + sys.argv[2]) in line for line in f):
        print("module does not link " + sys.argv[2]); sys.exit(1)
print("ok")
"""


def pick_python(c):
    why = []
    for exe in interpreters(c):
        p = subprocess.run([exe, "-c", PROBE, c["module"], c["lib"]] +
                           c.get("tests", []), capture_output=True,
                           text=True, env=clean_env())
        if p.returncode == 0:
            return exe
        why.append("%s: %s" % (exe, (p.stdout + p.stderr).strip()[-200:]))
    skip("no interpreter fits (%s)" % "; ".join(why) if why else
         "no python3")


def command(c, tmp):
    if CASE == "sqlite3-shell":
        exe = shutil.which("sqlite3")
        if not exe:
            skip("the sqlite3 shell is not installed (apt-get install "
                 "sqlite3)")
        with open(os.path.join(HERE, "sqlite3_shell.sql")) as f:
            script = f.read().replace("@BACKUP@",
                                      os.path.join(tmp, "backup.db"))
        path = os.path.join(tmp, "script.sql")
        with open(path, "w") as f:
            f.write(script)
        return [exe, "-init", "/dev/null", os.path.join(tmp, "main.db")], \
            path, 1
    py = pick_python(c)
    if "tests" in c:
        # CPython's regression tests; no -u: no network or other resource.
        return [py, "-m", "test"] + c["tests"], \
            None, 0
    return [py] + c["argv"], None, 0


def frames_of(r, sid):
    return r["stacks"].get(str(sid), []) if sid is not None else []


def matches(e, r, k):
    funcs = k["function"] if isinstance(k["function"], list) \
        else [k["function"]]
    if e["kind"] != k["kind"] or e.get("function") not in funcs:
        return False
    return any(f.get("function") in k["frames"]
               for f in frames_of(r, e.get("stack")))


def main():
    if CASE not in CASES:
        fail("unknown case (have %s)" % ", ".join(sorted(CASES)))
    c = CASES[CASE]
    known = c.get("known", [])
    tmp = tempfile.mkdtemp(prefix="refsan-real-")
    try:
        argv, stdin_path, want_status = command(c, tmp)
        env = clean_env()
        sanitizer_env.apply(env, SHIM)  # LD_PRELOAD, [sanitizer first]
        env["REFSAN_OPTIONS"] = "spec=%s:exitcode=0:json_path=%s/r" % (
            c["spec"], tmp)
        t0 = time.time()
        stdin = open(stdin_path) if stdin_path else open(os.devnull)
        with stdin:
            p = subprocess.run(argv, env=env, cwd=tmp, stdin=stdin,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=1800)
        secs = time.time() - t0
        keep = os.environ.get("REFSAN_REAL_KEEP")
        if keep:
            os.makedirs(keep, exist_ok=True)
            for f in glob.glob(os.path.join(tmp, "r.*.json")):
                shutil.copy(f, keep)
            with open(os.path.join(keep, CASE + ".out"), "w") as f:
                f.write(p.stdout)
        reports = []
        for f in sorted(glob.glob(os.path.join(tmp, "r.*.json"))):
            with open(f) as fh:
                reports.append(json.load(fh))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if p.returncode != want_status:
        fail("%s exited %d, expected %d" % (argv[0], p.returncode,
                                             want_status), p)
    if not reports:
        fail("no refsan report was written", p)
    total = dict(created=0, acquired=0, released=0, live=0)
    found, unexpected = {}, []
    for r in reports:
        cn = r["counters"]
        for k in total:
            total[k] += cn[k]
        if cn["created"] + cn["acquired"] != cn["released"] + cn["live"]:
            fail("pid %d: counters do not balance: %r" % (r["pid"], cn), p)
        if r.get("incomplete"):
            fail("pid %d: report incomplete: %s"
                 % (r["pid"], r.get("incomplete_reason")), p)
        for e in r["errors"]:
            for i, k in enumerate(known):
                if matches(e, r, k):
                    found[i] = found.get(i, 0) + (
                        e["count"] if e["kind"] == "leak" else 1)
                    break
            else:
                unexpected.append((r, e))
    if total["created"] == 0:
        fail("no handle was tracked: the profile or the interception is "
             "broken", p)
    for r, e in unexpected[:10]:
        print("unexpected %s in %s (pid %d), stack:" % (
            e["kind"], e.get("function"), r["pid"]))
        for f in frames_of(r, e.get("stack"))[:8]:
            print("    %s %s:%s" % (f.get("function"), f.get("file"),
                                   f.get("line")))
    if unexpected:
        fail("%d unexpected error(s)" % len(unexpected), p)
    for i, k in enumerate(known):
        if k["what"] == "bug" and i not in found:
            fail("the known bug was not reported (%s in %s): %s"
                 % (k["kind"], k["function"], k["why"]), p)
    verdict = "known findings" if found else "clean"
    print("%s: %s; %d process(es) reported; created=%d acquired=%d "
          "released=%d live=%d; %.0f s" % (
              CASE, verdict, len(reports), total["created"],
              total["acquired"], total["released"], total["live"], secs))
    for i, n in sorted(found.items()):
        k = known[i]
        print("  %d x %s in %s (%s): %s" % (n, k["kind"], k["function"],
                                            k["what"], k["why"]))


if __name__ == "__main__":
    main()
