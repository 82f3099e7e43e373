"""End-to-end tests of Python frames in refsan's stacks.

    test_pyframes.py SHIM CASE

Runs a small Python program (written to a temporary directory) that calls
refsan's C API through ctypes or cffi, with SHIM preloaded, under every
CPython found: /usr/bin/python3 (Debian's, libpython linked into the
executable), the python3 on PATH when it is another one (pyenv's, with
libpython3.X.so), python3.11 to python3.13 on PATH, every version pyenv has
installed, and those listed in $REFSAN_TEST_PYTHONS (colon-separated).  The
case "unsupported" wants one older than 3.11 (python3.10 or python3.9 on
PATH, pyenv's, or $REFSAN_TEST_OLD_PYTHONS).  Checks the JSON report and
the text report.  Exit status 0, 1 on a failure, 77 (skip) when no
interpreter could run the case.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

SHIM, CASE = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)
SKIP = 77

# The program under test.  Lines that a check names carry a "# L:name"
# marker; line_of() finds them.
PROGRAM = textwrap.dedent('''\
    import ctypes
    import sys
    import threading

    MODE = sys.argv[1]
    if MODE == "cffi":
        import cffi
        ffi = cffi.FFI()
        # Handles as integers (the same registers as pointers), so that
        # the functions are called straight, with no wrapper frame.
        ffi.cdef("void refsan_handle_created(intptr_t, const char *);"
                 "void refsan_handle_released(intptr_t);")
        _c = ffi.dlopen(None)
        created = _c.refsan_handle_created
        released = _c.refsan_handle_released
    else:
        _lib = ctypes.CDLL(None)
        _lib.refsan_handle_created.argtypes = [ctypes.c_void_p,
                                               ctypes.c_char_p]
        _lib.refsan_handle_released.argtypes = [ctypes.c_void_p]
        created = _lib.refsan_handle_created
        released = _lib.refsan_handle_released


    class Kennel:
        def fill(self, h):
            created(h, b"dog")  # L:fill


    def basic():
        Kennel().fill(0x1000)  # L:basic_call


    class Worker:
        def run(self):
            created(0x2000, b"thread")  # L:worker


    def in_thread():
        t = threading.Thread(target=Worker().run)
        t.start()
        t.join()  # L:join


    class Maker:
        def __del__(self):
            created(0x3000, b"shutdown")  # L:del_create


    class Releaser:
        def __init__(self):
            created(0x4000, b"released")

        def __del__(self):
            released(0x4000)


    def deep(n):
        if n == 0:
            created(0x5000, b"deep")  # L:deep_leaf
            return
        deep(n - 1)  # L:deep_call


    def gen():
        created(0x6000, b"gen")  # L:gen
        yield 1


    CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    calls = []


    def compare(a, b):
        if not calls:
            calls.append(1)
            created(0x7000, b"callback")  # L:callback
        return 0


    def sort_with_callback():
        arr = (ctypes.c_int * 2)(1, 2)
        libc = ctypes.CDLL("libc.so.6")
        libc.qsort(arr, 2, ctypes.sizeof(ctypes.c_int), CMP(compare))  # L:qsort


    def nonascii_\u00e9t\u00e9():
        created(0x8000, b"unicode")  # L:unicode


    what = sys.argv[2]
    if what == "basic":
        basic()
    elif what == "thread":
        in_thread()
    elif what == "shutdown":
        maker = Maker()
        releaser = Releaser()
    elif what == "deep":
        deep(40)
    elif what == "gen":
        list(gen())
    elif what == "callback":
        sort_with_callback()
    elif what == "unicode":
        nonascii_\u00e9t\u00e9()
    elif what == "many":
        for i in range(1, 2001):
            created(0x10000 + i, b"many")  # L:many
''')


def line_of(marker):
    for n, text in enumerate(PROGRAM.splitlines(), 1):
        if text.rstrip().endswith("# L:" + marker):
            return n
    raise AssertionError(marker)


class Failure(Exception):
    pass


def check(cond, what, p=None):
    if not cond:
        msg = what
        if p is not None:
            msg += "\n--- status %d\n--- stderr\n%s" % (p.returncode, p.stderr)
        raise Failure(msg)


def real_python(cmd):
    """(path, (major, minor)) of the interpreter CMD runs, or None."""
    try:
        out = subprocess.run(
            [cmd, "-c", "import sys; print(sys.executable); "
             "print(*sys.version_info[:2]); "
             "print(getattr(sys, '_is_gil_enabled', lambda: True)())"],
            capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) < 4 or lines[3] != "True":
        return None
    return os.path.realpath(lines[0]), (int(lines[1]), int(lines[2]))


def pyenv_pythons(name="python3"):
    """The CPythons that pyenv has installed (all of them, not only the
    selected one), so that every supported layout is tested."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    return sorted(glob.glob(os.path.join(root, "versions", "*", "bin", name)))


def interpreters():
    """Every distinct CPython to test: [(path, (major, minor))]."""
    cands = ["/usr/bin/python3"]
    for name in ("python3", "python3.11", "python3.12", "python3.13"):
        w = shutil.which(name)
        if w:
            cands.append(w)
    cands += [p for p in os.environ.get("REFSAN_TEST_PYTHONS", "").split(":")
              if p]
    cands += pyenv_pythons()
    seen, out = set(), []
    for c in cands:
        r = real_python(c) if os.path.exists(c) else None
        if r and r[0] not in seen:
            seen.add(r[0])
            out.append(r)
    return out


def has_module(py, mod):
    p = subprocess.run([py, "-c", "import " + mod], capture_output=True,
                       env={k: v for k, v in os.environ.items()
                            if k != "LD_PRELOAD"})
    return p.returncode == 0


def run(py, tmp, mode, what, options=""):
    env = sanitizer_env.environ(SHIM)  # LD_PRELOAD, [sanitizer first]
    env["REFSAN_OPTIONS"] = "json_path=%s/r" % tmp + (
        ":" + options if options else "")
    env.pop("REFSAN_SPEC", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for f in glob.glob(os.path.join(tmp, "r.*.json")):
        os.unlink(f)
    p = subprocess.run([py, "script.py", mode, what], env=env, cwd=tmp,
                       capture_output=True, text=True, timeout=120)
    files = glob.glob(os.path.join(tmp, "r.*.json"))
    check(len(files) == 1, "one JSON report, got %r" % files, p)
    with open(files[0]) as f:
        return p, json.load(f)


def leak_stack(report, family):
    """The frames of the creation stack of the leak of FAMILY."""
    errs = [e for e in report["errors"]
            if e["kind"] == "leak" and e.get("family") == family]
    if not errs:
        raise Failure("no leak of family %s in %r" % (family, report["errors"]))
    return report["stacks"][str(errs[0]["stack"])]


def py_frames(frames):
    return [(f["function"], os.path.basename(f["file"]), f["line"])
            for f in frames if f.get("python")]


def text_block(stderr, family):
    """The text report's frame lines for the leak of FAMILY."""
    m = re.search(r"^Leak of \d+ handle\(s\) of family %s .*?\n((?:    #.*\n)+)"
                  % re.escape(family), stderr, re.M)
    if not m:
        raise Failure("no text leak block for %s in:\n%s" % (family, stderr))
    return m.group(1)


# ---- cases -----------------------------------------------------------------

def case_basic(py, ver, tmp, mode="ctypes"):
    p, r = run(py, tmp, mode, "basic")
    check(p.returncode == 23, "a leak exits 23", p)
    frames = leak_stack(r, "dog")
    pf = py_frames(frames)
    check(pf[:2] == [("Kennel.fill", "script.py", line_of("fill")),
                     ("basic", "script.py", line_of("basic_call"))],
          "python frames innermost first: %r" % pf, p)
    first = [f for f in frames if f.get("python")][0]
    check(first["python"] is True and first["file"].endswith("script.py"),
          "JSON python frame %r" % first)
    check(set(first) >= {"python", "function", "file", "line"},
          "python frame keys %r" % first)
    block = text_block(p.stderr, "dog")
    check(re.search(r"#\d+ in Kennel\.fill \S*script\.py:%d\n"
                    % line_of("fill"), block), "text frame line", p)
    lines = block.splitlines()
    check(re.match(r"\s+#0 in Kennel\.fill ", lines[0]),
          "Kennel.fill is the first frame shown (interpreter, %s and "
          "libffi frames hidden)" % mode, p)
    for bad in ("_PyEval_EvalFrameDefault", "libffi", "_ctypes",
                "_cffi_backend", "_PyObject_MakeTpCall", "libpython"):
        check(bad not in block, "%s hidden below verbosity=2" % bad, p)

    p, r = run(py, tmp, mode, "basic", "verbosity=2")
    block = text_block(p.stderr, "dog")
    check("_PyEval_EvalFrameDefault" in block,
          "verbosity=2 shows the interpreter's frames", p)
    check(re.search(r"in Kennel\.fill \S*script\.py:%d" % line_of("fill"),
                    block), "verbosity=2 keeps the python frames", p)


def case_cffi(py, ver, tmp):
    if not has_module(py, "cffi"):
        return "no cffi"
    case_basic(py, ver, tmp, "cffi")


def case_thread(py, ver, tmp):
    p, r = run(py, tmp, "ctypes", "thread")
    pf = py_frames(leak_stack(r, "thread"))
    check(pf and pf[0] == ("Worker.run", "script.py", line_of("worker")),
          "the thread's own frames: %r" % pf, p)
    check(all(fn != "<module>" and fn != "in_thread" for fn, _, _ in pf),
          "no frame of the main thread in a thread's stack: %r" % pf, p)
    check(any(fn.endswith("_bootstrap_inner") for fn, _, _ in pf),
          "threading's frames below: %r" % pf, p)
    block = text_block(p.stderr, "thread")
    check(re.match(r"\s+#0 in Worker\.run ", block), "text", p)
    check("start_thread" not in block and "clone" not in block,
          "thread start frames hidden", p)


def case_shutdown(py, ver, tmp):
    p, r = run(py, tmp, "ctypes", "shutdown")
    check(p.returncode == 23, "the leak made in __del__ is reported", p)
    pf = py_frames(leak_stack(r, "shutdown"))
    check(pf[:1] == [("Maker.__del__", "script.py", line_of("del_create"))],
          "__del__ at interpreter shutdown: %r" % pf, p)
    fams = [e.get("family") for e in r["errors"]]
    check("released" not in fams,
          "a release from __del__ at shutdown counts: %r" % fams, p)
    c = r["counters"]
    check(c["created"] == 2 and c["released"] == 1, "counters %r" % c, p)


def case_off(py, ver, tmp):
    p, r = run(py, tmp, "ctypes", "basic", "python_frames=0")
    check(p.returncode == 23, "the leak is still reported", p)
    frames = leak_stack(r, "dog")
    check(not any(f.get("python") for f in frames),
          "python_frames=0: no python frame", p)
    block = text_block(p.stderr, "dog")
    check("Kennel.fill" not in block and "_PyEval_EvalFrameDefault" in block,
          "python_frames=0: native frames only, none hidden", p)


def case_deep(py, ver, tmp):
    p, r = run(py, tmp, "ctypes", "deep", "stack_depth=12")
    frames = leak_stack(r, "deep")
    check(len(frames) <= 12, "stack_depth respected: %d" % len(frames), p)
    pf = py_frames(frames)
    check(pf[0] == ("deep", "script.py", line_of("deep_leaf")),
          "innermost frame %r" % pf, p)
    check(len(pf) >= 6 and all(
        f == ("deep", "script.py", line_of("deep_call")) for f in pf[1:]),
        "recursive frames %r" % pf, p)


def case_gen(py, ver, tmp):
    p, r = run(py, tmp, "ctypes", "gen")
    pf = py_frames(leak_stack(r, "gen"))
    check(pf[:1] == [("gen", "script.py", line_of("gen"))],
          "generator frame %r" % pf, p)
    check(any(fn == "<module>" for fn, _, _ in pf), "its consumer %r" % pf, p)


def case_callback(py, ver, tmp):
    """Python called back from C (qsort) called from Python: two
    activations of the evaluation loop, native frames between them."""
    p, r = run(py, tmp, "ctypes", "callback")
    frames = leak_stack(r, "callback")
    names = [f.get("function") or "" for f in frames]
    check(frames[0].get("python") and names[0] == "compare"
          and frames[0]["line"] == line_of("callback"),
          "the callback first: %r" % names, p)
    i_sort = next((i for i, n in enumerate(names)
                   if n == "sort_with_callback"), None)
    i_qsort = next((i for i, n in enumerate(names)
                    if "qsort" in n or "msort" in n), None)
    check(i_sort is not None and frames[i_sort]["line"] == line_of("qsort"),
          "the caller of qsort: %r" % names, p)
    check(i_qsort is not None and 0 < i_qsort < i_sort,
          "libc's qsort between the two python groups: %r" % names, p)


def case_unicode(py, ver, tmp):
    p, r = run(py, tmp, "ctypes", "unicode")
    pf = py_frames(leak_stack(r, "unicode"))
    check(pf[0] == ("nonascii_\u00e9t\u00e9", "script.py",
                    line_of("unicode")), "non-ASCII name %r" % pf, p)


def case_many(py, ver, tmp):
    """2000 handles from one line: one site, one stack (the frame cache)."""
    p, r = run(py, tmp, "ctypes", "many")
    [e] = [e for e in r["errors"] if e["kind"] == "leak"]
    check(e["count"] == 2000, "one group of 2000 leaks: %r" % e, p)
    pf = py_frames(r["stacks"][str(e["stack"])])
    check(pf[0] == ("<module>", "script.py", line_of("many")), "%r" % pf, p)


CASES = {
    "basic": case_basic,
    "cffi": case_cffi,
    "thread": case_thread,
    "shutdown": case_shutdown,
    "off": case_off,
    "deep": case_deep,
    "gen": case_gen,
    "callback": case_callback,
    "unicode": case_unicode,
    "many": case_many,
}


def case_unsupported(tmp):
    """An interpreter older than 3.11: native frames and one warning."""
    olds = [c for c in ("python3.10", "python3.9") if shutil.which(c)]
    olds += pyenv_pythons()
    olds += [p for p in os.environ.get("REFSAN_TEST_OLD_PYTHONS", "")
             .split(":") if p]
    for c in olds:
        rp = real_python(c) if shutil.which(c) or os.path.exists(c) else None
        if not rp or rp[1] >= (3, 11):
            continue
        p, r = run(rp[0], tmp, "ctypes", "many")
        warn = [ln for ln in p.stderr.splitlines()
                if "Python frames are not supported" in ln]
        check(len(warn) == 1, "one warning, got %r" % warn, p)
        check("CPython %d.%d" % rp[1] in warn[0], "names the version", p)
        frames = r["stacks"][str(r["errors"][0]["stack"])]
        check(not any(f.get("python") for f in frames), "no python frame", p)
        check(any(f.get("function") == "_PyEval_EvalFrameDefault"
                  for f in frames), "native frames, not hidden", p)
        print("ok unsupported on %s (%d.%d)" % (rp[0], *rp[1]))
        return 0
    print("SKIP unsupported: no CPython older than 3.11 found")
    return SKIP


def main():
    with tempfile.TemporaryDirectory(prefix="refsan-pyframes-") as tmp:
        with open(os.path.join(tmp, "script.py"), "w",
                  encoding="utf-8") as f:
            f.write(PROGRAM)
        if CASE == "unsupported":
            try:
                return case_unsupported(tmp)
            except Failure as e:
                print("FAIL unsupported: %s" % e)
                return 1
        ran = failed = 0
        for py, ver in interpreters():
            if ver < (3, 11) or ver > (3, 13):
                print("SKIP %s on %s: CPython %d.%d" % (CASE, py, *ver))
                continue
            try:
                why = CASES[CASE](py, ver, tmp)
            except Failure as e:
                print("FAIL %s on %s (%d.%d): %s" % (CASE, py, *ver, e))
                failed += 1
                continue
            if why:
                print("SKIP %s on %s: %s" % (CASE, py, why))
                continue
            print("ok %s on %s (%d.%d)" % (CASE, py, *ver))
            ran += 1
        if failed:
            return 1
        return 0 if ran else SKIP


if __name__ == "__main__":
    sys.exit(main())
