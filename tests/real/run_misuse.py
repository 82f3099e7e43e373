"""Known misuse of each bundled profile's library, caught by refsan.

    run_misuse.py SHIM PROFILE SCENARIO

Runs misuse_PROFILE.py SCENARIO (beside this file) with Debian's
/usr/bin/python3 under LD_PRELOAD=SHIM and spec=PROFILE (the bundled
profile, found through the build's profile directory), then checks the
JSON report: the error's kind and function, its family, and that each of
its stacks reaches the Python line marked in misuse_PROFILE.py (CREATE,
RELEASE, AGAIN, USE).  Scenarios: leak (a handle left open and os._exit),
double (a double close or free), uaf (a use after close), family (a
handle passed to a function of another family), idempotent (releases the
profile marks `idempotent` on a handle that is not live: forwarded to the
library and not reported; the run must be clean).  Exit 77 (skipped) when
the library is not installed.
"""
import json
import os
import subprocess
import sys
import tempfile

SHIM, PROFILE, SCENARIO = sys.argv[1:4]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
PROG = os.path.join(HERE, "misuse_%s.py" % PROFILE)

# scenario -> (error kind, function of the bad call, marker of that call)
EXPECT = {
    "sqlite3": {"double": ("double_release", "sqlite3_close", "sqlite3"),
                "uaf": ("use_after_release", "sqlite3_exec", "sqlite3"),
                "leak": ("leak", "sqlite3_open_v2", "sqlite3")},
    "zlib": {"double": ("double_release", "deflateEnd", "deflate"),
             "uaf": ("use_after_release", "deflate", "deflate"),
             "leak": ("leak", "deflateInit_", "deflate")},
    "bz2": {"double": ("double_release", "BZ2_bzclose", "bzfile"),
            "uaf": ("use_after_release", "BZ2_bzCompress", "bz_compress"),
            "leak": ("leak", "BZ2_bzCompressInit", "bz_compress"),
            "idempotent": (None, None, None)},
    "lzma": {"idempotent": (None, None, None),
             "uaf": ("use_after_release", "lzma_code", "lzma_stream"),
             "leak": ("leak", "lzma_easy_encoder", "lzma_stream")},
    "expat": {"double": ("double_release", "XML_ParserFree", "XML_Parser"),
              "uaf": ("use_after_release", "XML_Parse", "XML_Parser"),
              "leak": ("leak", "XML_ParserCreate", "XML_Parser")},
    "openssl": {"double": ("double_release", "EVP_MD_CTX_free",
                           "EVP_MD_CTX"),
                "uaf": ("use_after_release", "EVP_DigestUpdate",
                        "EVP_MD_CTX"),
                "leak": ("leak", "BIO_new", "BIO")},
    "curl": {"double": ("double_release", "curl_easy_cleanup", "CURL"),
             "uaf": ("use_after_release", "curl_easy_perform", "CURL"),
             "leak": ("leak", "curl_easy_init", "CURL")},
    "stdio": {"double": ("double_release", "fclose", "FILE"),
              "family": ("family_mismatch", "fclose", "pipe"),
              "leak": ("leak", "fopen", "FILE")},
}


def fail(msg, p=None):
    print("FAIL: misuse %s %s: %s" % (PROFILE, SCENARIO, msg))
    if p is not None:
        print("--- status %d\n--- stdout\n%s\n--- stderr\n%s"
              % (p.returncode, p.stdout, p.stderr[-8000:]))
    sys.exit(1)


def marker_line(marker, scenario):
    """The line of `# MARKER` inside def SCENARIO() in PROG."""
    inside = False
    with open(PROG) as f:
        for n, text in enumerate(f, 1):
            if text.startswith("def "):
                inside = text.startswith("def %s(" % scenario)
            elif inside and text.rstrip().endswith("# " + marker):
                return n
    raise AssertionError("no # %s in %s()" % (marker, scenario))


def reaches(r, stack_id, line, p):
    """Stack STACK_ID of report R holds the Python frame PROG:LINE."""
    if stack_id is None:
        fail("a stack is missing", p)
    frames = r["stacks"].get(str(stack_id), [])
    for fr in frames:
        if (fr.get("python") and fr.get("line") == line and
                os.path.basename(fr.get("file") or "") ==
                os.path.basename(PROG)):
            return
    fail("stack %s does not reach %s:%d: %s"
         % (stack_id, os.path.basename(PROG), line, json.dumps(frames)), p)


def clean(r, p):
    """A scenario that must raise nothing: exit 0, no error or warning,
    every handle created released."""
    if p.returncode != 0:
        fail("exit status %d, expected 0 (nothing to report)"
             % p.returncode, p)
    if "refsan:" in p.stderr:
        fail("refsan printed something on a clean run", p)
    if r["errors"] or r.get("suppressed"):
        fail("expected no error, got %s"
             % [(e["kind"], e.get("function")) for e in r["errors"]], p)
    c = r["counters"]
    if c["created"] < 1 or c["live"] != 0 or \
            c["created"] + c["acquired"] != c["released"]:
        fail("counters %r" % c, p)
    print("ok: misuse %s %s: clean, %d created, %d released"
          % (PROFILE, SCENARIO, c["created"], c["released"]))


def main():
    kind, function, family = EXPECT[PROFILE][SCENARIO]
    with tempfile.TemporaryDirectory(prefix="refsan-misuse-") as tmp:
        # Without MALLOC_PERTURB_ (meson sets a random one per test): the
        # uaf scenarios call the library on a freed handle, and
        # curl_easy_perform reads pointers out of the freed struct before
        # its own check: filled with the perturb byte, they crashed it in
        # about 4 runs of 10, before the JSON report was written.
        env = {k: v for k, v in os.environ.items()
               if k not in ("LD_PRELOAD", "REFSAN_OPTIONS", "REFSAN_SPEC",
                            "MALLOC_PERTURB_")}
        sanitizer_env.apply(env, SHIM)  # LD_PRELOAD, [sanitizer first]
        env["REFSAN_OPTIONS"] = "spec=%s:json_path=%s/r" % (PROFILE, tmp)
        env["PYTHONPATH"] = HERE
        child = subprocess.Popen([PY, PROG, SCENARIO], env=env, cwd=tmp,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        out, err = child.communicate(timeout=120)
        p = subprocess.CompletedProcess(child.args, child.returncode, out,
                                        err)
        if p.returncode == 77:
            print(p.stdout.strip())
            sys.exit(77)
        # The program's own report (popen's shell writes its own).
        path = os.path.join(tmp, "r.%d.json" % child.pid)
        if not os.path.exists(path):
            fail("no JSON report %s (have %s)"
                 % (os.path.basename(path),
                    os.listdir(tmp)), p)
        with open(path) as f:
            r = json.load(f)
    if kind is None:
        clean(r, p)
        return
    if p.returncode != 23:
        fail("exit status %d, expected 23 (errors found)" % p.returncode, p)
    if "ERROR: refsan:" not in p.stderr:
        fail("no error report on stderr", p)
    errs = [e for e in r["errors"] if e["kind"] == kind]
    others = [e for e in r["errors"] if e["kind"] != kind]
    if len(errs) != 1 or others:
        fail("expected exactly one %s error, got %s"
             % (kind, [(e["kind"], e["function"]) for e in r["errors"]]), p)
    e = errs[0]
    if e["function"] != function:
        fail("function %r, expected %r" % (e["function"], function), p)
    if e.get("family") != family:
        fail("family %r, expected %r" % (e.get("family"), family), p)
    create = marker_line("CREATE", SCENARIO)
    if kind == "leak":
        if e["count"] != 1 or e["refcount"] != 1:
            fail("one leaked handle of reference count 1: %r" % e, p)
        reaches(r, e["stack"], create, p)
        c = r["counters"]
        if c["live"] != 1 or c["created"] + c["acquired"] != \
                c["released"] + c["live"]:
            fail("counters %r" % c, p)
    elif kind == "double_release":
        reaches(r, e["stack"], marker_line("AGAIN", SCENARIO), p)
        reaches(r, e["last_release_stack"], marker_line("RELEASE", SCENARIO),
                p)
        reaches(r, e["created_stack"], create, p)
    elif kind == "use_after_release":
        reaches(r, e["stack"], marker_line("USE", SCENARIO), p)
        reaches(r, e["last_release_stack"], marker_line("RELEASE", SCENARIO),
                p)
        reaches(r, e["created_stack"], create, p)
    elif kind == "family_mismatch":
        reaches(r, e["stack"], marker_line("USE", SCENARIO), p)
        reaches(r, e["created_stack"], create, p)
    print("ok: misuse %s %s: %s in %s caught with its stacks"
          % (PROFILE, SCENARIO, kind, function))


if __name__ == "__main__":
    main()
