"""End-to-end tests of interception: libzoo's callers (C linked directly,
dlopen+dlsym/dlvsym, a library loaded after start, Python through ctypes and
cffi) run with the built shim preloaded and demo/zoo.spec; exit status,
stderr, stdout (what reached the library) and the JSON report checked.

    run_e2e.py SHIM LIBZOO SPEC E2E_BUILD_DIR CASE

Run by Debian's /usr/bin/python3 (python3-cffi).  Every case can fail: each
check names what it expected and prints the run.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SHIM, LIBZOO, SPEC, BUILD, CASE = sys.argv[1:6]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)
PY = "/usr/bin/python3"


def line_of(fname, marker):
    with open(os.path.join(HERE, fname)) as f:
        for n, text in enumerate(f, 1):
            if marker in text:
                return n
    raise AssertionError(marker)


def run(argv, options="", preload=True, spec=SPEC, tmp=None, env_extra=None):
    env = dict(os.environ)
    env.pop("REFSAN_SPEC", None)
    env.pop("REFSAN_OPTIONS", None)
    env.pop("LD_PRELOAD", None)
    if preload:
        sanitizer_env.apply(env, SHIM)
        opts = ["spec=" + spec] if spec else []
        if tmp:
            opts.append("json_path=%s/r" % tmp)
        if options:
            opts.append(options)
        env["REFSAN_OPTIONS"] = ":".join(opts)
    if env_extra:
        env.update(env_extra)
    return subprocess.run(argv, env=env, cwd=tmp, capture_output=True,
                          text=True, timeout=280)


def check(cond, what, p=None):
    if not cond:
        msg = "FAIL: " + what
        if p is not None:
            msg += "\n--- status %d\n--- stdout\n%s\n--- stderr\n%s" % (
                p.returncode, p.stdout, p.stderr[-6000:])
        print(msg)
        sys.exit(1)


def reports(tmp):
    out = []
    for f in sorted(glob.glob(os.path.join(tmp, "r.*.json"))):
        with open(f) as fh:
            out.append(json.load(fh))
    return out


def one_report(tmp, p):
    rs = reports(tmp)
    check(len(rs) == 1, "one JSON report (got %d)" % len(rs), p)
    return rs[0]


def balanced(r, p, created=None):
    c = r["counters"]
    check(c["live"] == 0, "no handle live at exit: %r" % c, p)
    check(c["created"] + c["acquired"] == c["released"],
          "created + acquired == released: %r" % c, p)
    if created is not None:
        check(c["created"] == created, "created == %d: %r" % (created, c), p)
    check(r["errors"] == [], "no errors in JSON: %r" % r["errors"], p)


def clean(p, tmp, created=None):
    check(p.returncode == 0, "a correct run exits 0", p)
    check(p.stderr == "", "a correct run is silent", p)
    balanced(one_report(tmp, p), p, created)


def errors_of(r, kind):
    return [e for e in r["errors"] if e["kind"] == kind]


def leak(p, tmp, function="create_dog", where=None, count=1):
    check(p.returncode == 23, "a leak exits 23", p)
    check("ERROR: refsan: detected handle leaks" in p.stderr, "leak report", p)
    check("in " + function + " " in p.stderr,
          "the report names the creating function " + function, p)
    if where:
        check(where in p.stderr, "the report names " + where, p)
    r = one_report(tmp, p)
    leaks = errors_of(r, "leak")
    check(len(leaks) == 1, "one leak site: %r" % r["errors"], p)
    check(leaks[0]["function"] == function and leaks[0]["count"] == count,
          "leak of %d from %s: %r" % (count, function, leaks[0]), p)
    return r


def misuse(p, tmp, kind, function, text, where=None):
    check(p.returncode == 23, "%s exits 23" % kind, p)
    check("ERROR: refsan: " + text in p.stderr, "report: " + text, p)
    if where:
        check(where in p.stderr, "the report names " + where, p)
    r = one_report(tmp, p)
    errs = errors_of(r, kind)
    check(len(errs) == 1 and errs[0]["function"] == function,
          "one %s in %s: %r" % (kind, function, r["errors"]), p)
    # frame #0 is the hooked function itself, then the real callers
    st = r["stacks"][str(errs[0]["stack"])]
    check(st and st[0].get("function") == function,
          "frame #0 is %s: %r" % (function, st[:3]), p)
    check(not any("refsan" in (f.get("module") or "") for f in st),
          "no refsan frame in the stack: %r" % st, p)
    return r


# ---- C callers -------------------------------------------------------------

def c_prog(kind):
    if kind == "c":
        return [os.path.join(BUILD, "zoo_direct")], []
    if kind == "dlsym":
        return [os.path.join(BUILD, "zoo_dlsym")], [LIBZOO]
    return [os.path.join(BUILD, "zoo_dlsym")], [LIBZOO]


def c_case(kind, mode, tmp):
    prog, extra = c_prog(kind)
    m = ("v:" + mode) if kind == "dlvsym" else mode
    options = ""
    if mode == "double-forward":
        m = m.replace("double-forward", "double")
        options = "forward_double_release=1"
    p = run(prog + [m] + extra, options, tmp=tmp)
    if mode == "clean":
        clean(p, tmp, created=3)
        check("live=0 release_calls=4" in p.stdout, "library state", p)
    elif mode == "leak":
        leak(p, tmp, where="zoo_prog.c:%d" % line_of("zoo_prog.c",
                                                      "LEAK_LINE"))
    elif mode == "double":
        misuse(p, tmp, "double_release", "release", "double release",
               "zoo_prog.c:%d" % line_of("zoo_prog.c", "DOUBLE_LINE"))
        check("reached=1" in p.stdout,
              "the double release is not passed on to the library", p)
    elif mode == "double-forward":
        misuse(p, tmp, "double_release", "release", "double release")
        check("reached=2" in p.stdout,
              "forward_double_release=1 passes it on", p)
    elif mode == "uaf":
        misuse(p, tmp, "use_after_release", "say_walk", "use after release",
               "zoo_prog.c:%d" % line_of("zoo_prog.c", "UAF_LINE"))
        check("walk=1" in p.stdout, "a use is passed on", p)
    elif mode == "nested":
        pass  # see nested_case
    elif mode == "uaf8":
        misuse(p, tmp, "use_after_release", "zoo_pick8", "use after release",
               "zoo_prog.c:%d" % line_of("zoo_prog.c", "UAF8_LINE"))
    elif mode == "cage":
        check("fail1=-1" in p.stdout and "fail2=-1" in p.stdout and
              "ok=0" in p.stdout, "open_cage results", p)
        r = leak(p, tmp, function="open_cage",
                 where="zoo_prog.c:%d" % line_of("zoo_prog.c",
                                                 "CAGE_LEAK_LINE"))
        check(r["counters"]["created"] == 2,
              "failed open_cage calls are not tracked: %r" % r["counters"], p)
        check(leaks_family(r) == "cage", "the leak is a cage", p)
    elif mode == "family":
        misuse(p, tmp, "family_mismatch", "close_cage", "",
               "zoo_prog.c:%d" % line_of("zoo_prog.c", "FAMILY_LINE"))
    elif mode == "threads":
        check(p.returncode == 0 and p.stderr == "", "threads run clean", p)
        r = one_report(tmp, p)
        balanced(r, p, created=800000)
        check(r["counters"]["released"] == 800000,
              "exact counters: %r" % r["counters"], p)
    else:
        check(False, "unknown mode " + mode)


def nested_case(kind, tmp):
    """A stack captured in a hook while an outer hooked call's return
    address is hijacked walks through it to the real callers."""
    spec = os.path.join(tmp, "nested.spec")
    with open(SPEC) as f:
        text = f.read()
    with open(spec, "w") as f:
        f.write(text + "acquire  zoo_call          arg1    ret==77777\n")
    prog, extra = c_prog(kind)
    p = run(prog + ["v:nested" if kind == "dlvsym" else "nested"] + extra,
            spec=spec, tmp=tmp)
    r = misuse(p, tmp, "double_release", "release", "double release",
               "zoo_prog.c:%d" % line_of("zoo_prog.c", "CB_LINE"))
    check("zoo_prog.c:%d" % line_of("zoo_prog.c", "NESTED_LINE") in p.stderr,
          "the stack goes on past the hijacked zoo_call to main", p)
    st = r["stacks"][str(errors_of(r, "double_release")[0]["stack"])]
    funcs = [f.get("function") for f in st]
    check(funcs[:4] == ["release", "release_twice", "zoo_call", "main"],
          "frames: %r" % funcs, p)


def leaks_family(r):
    return errors_of(r, "leak")[0].get("family")


# ---- other callers ---------------------------------------------------------

def plugin_case(mode, tmp):
    prog = os.path.join(BUILD, "zoo_plugin")
    if mode == "other":
        other = os.path.join(BUILD, "libother.so")
        p = run([prog, "other", other, LIBZOO], tmp=tmp)
        clean(p, tmp, created=1)
        check("other_module=libother.so other_calls=5" in p.stdout,
              "libother's release is its own and reached every time", p)
        return
    user = os.path.join(BUILD, "libzoo_user.so")
    p = run([prog, mode, user], tmp=tmp)
    check("walk=1" in p.stdout, "plugin ran", p)
    if mode == "clean":
        clean(p, tmp, created=1)
    else:
        leak(p, tmp, where="zoo_user.c:%d" % line_of("zoo_user.c",
                                                      "create_dog(\"plugged\")"))


def group_case(mode, tmp):
    """libzoo_user.so calls libzoo through its own GOT.  With both libraries
    in one spec file they are one unit, like libssl and libcrypto in the
    openssl profile: those calls are internal (no handle is created, the
    dog it leaks is the library's business).  With libzoo_user in a file of
    its own it is a client like the program: its leak is reported."""
    user = os.path.join(BUILD, "libzoo_user.so")
    with open(SPEC) as f:
        zoo = f.read()
    if mode == "same-file":
        spec = os.path.join(tmp, "zoo_and_user.spec")
        with open(spec, "w") as f:
            f.write(zoo + "\nlibrary  libzoo_user.so*\n")
    else:
        spec = os.path.join(tmp, "user.spec")
        with open(spec, "w") as f:
            f.write("library  libzoo_user.so*\n")
        spec = SPEC + "," + spec
    p = run([os.path.join(BUILD, "zoo_plugin"), "leak", user], spec=spec,
            tmp=tmp)
    check("walk=1" in p.stdout, "plugin ran", p)
    if mode == "same-file":
        check(p.returncode == 0, "calls between one file's libraries are "
              "internal: nothing to report", p)
        check("ERROR" not in p.stderr, "no error", p)
        r = one_report(tmp, p)
        c = r["counters"]
        check(c["created"] == 0 and c["live"] == 0 and r["errors"] == [],
              "libzoo_user's create_dog created nothing: %r" % c, p)
    else:
        leak(p, tmp, where="zoo_user.c:%d" % line_of("zoo_user.c",
                                                      "create_dog(\"plugged\")"))


def abi_case(which, tmp):
    prog = [os.path.join(BUILD, "zoo_abi")]
    bare = run(prog, preload=False)
    check(bare.returncode == 0, "abi runs bare", bare)
    spec = os.path.join(HERE, "abi-%s.spec" % which)
    p = run(prog, "verbosity=2", spec=spec, tmp=tmp)
    check(p.returncode == 0, "abi runs under refsan", p)
    m = re.findall(r"refsan: scan: \d+ objects, (\d+) hooks", p.stderr)
    check(m and int(m[-1]) >= 9, "the ABI functions are hooked", p)
    check(p.stdout == bare.stdout,
          "identical results with and without refsan:\n--- bare\n%s" %
          bare.stdout, p)
    check("errno kept" in p.stdout, "errno survives the hooks", p)
    if which == "tracked":
        # the engine ran inside the calls (the first round's warnings)
        for f in ("zoo_mix", "zoo_pair", "zoo_dpair", "zoo_big",
                  "zoo_ldouble", "zoo_varsum", "zoo_pick8", "zoo_recurse"):
            check(re.search(r"warning: %s of handle 0x[0-9a-f]+ that refsan "
                            r"never saw created" % f, p.stderr),
                  "%s reached the engine" % f, p)


def py_case(backend, mode, tmp):
    if backend == "cffi":
        try:
            subprocess.run([PY, "-c", "import cffi"], check=True)
        except subprocess.CalledProcessError:
            print("SKIP: python3-cffi is not installed")
            sys.exit(77)
    argv = [PY, os.path.join(HERE, "zoo_py.py"), backend,
            mode.replace("-", "_"), LIBZOO]
    p = run(argv, tmp=tmp)
    if mode == "clean":
        clean(p, tmp, created=3)
        check("live=0" in p.stdout, "library state", p)
    elif mode == "leak":
        leak(p, tmp)
    elif mode == "double":
        misuse(p, tmp, "double_release", "release", "double release")
        check("reached=1" in p.stdout, "not passed on to the library", p)
    elif mode == "uaf":
        misuse(p, tmp, "use_after_release", "say_walk", "use after release")
    elif mode == "cage":
        check("fail=-1" in p.stdout and "ok=0" in p.stdout, "cage results", p)
        clean(p, tmp, created=1)
    elif mode == "threads":
        check(p.returncode == 0 and p.stderr == "", "threads run clean", p)
        balanced(one_report(tmp, p), p, created=80000)
    elif mode == "fork":
        check(p.returncode == 0, "the parent is clean", p)
        check("child_status=23" in p.stdout, "the child leaks: 23", p)
        rs = reports(tmp)
        check(len(rs) == 2, "one report per process (%d)" % len(rs), p)
        parent = [r for r in rs if r["exit_status"] == 0]
        child = [r for r in rs if r["exit_status"] == 23]
        check(len(parent) == 1 and len(child) == 1, "parent and child", p)
        check(parent[0]["errors"] == [], "parent: no errors", p)
        leaks = errors_of(child[0], "leak")
        check(len(leaks) == 1 and leaks[0]["count"] == 1,
              "the child reports only its own handle: %r" % leaks, p)
    elif mode == "os-exit":
        leak(p, tmp)
    elif mode == "signal":
        check(p.returncode == -11, "the signal goes on (SIGSEGV)", p)
        check("refsan" in p.stderr, "something is written", p)
    else:
        check(False, "unknown mode " + mode)


def rtld_next(tmp):
    """Another preload's dlsym(RTLD_NEXT) still resolves from its caller."""
    wrap = os.path.join(BUILD, "libwrap.so")
    prog = os.path.join(BUILD, "zoo_plugin")
    for order in ([SHIM, wrap], [wrap, SHIM]):
        p = run([prog, "puts"], tmp=tmp,
                env_extra={"LD_PRELOAD": sanitizer_env.preload_value(SHIM, order)})
        check(p.returncode == 0 and p.stdout == "wrapped:\nhello\n",
              "RTLD_NEXT from libwrap with LD_PRELOAD=%s" % " ".join(order),
              p)


def spec_typo(tmp):
    spec = os.path.join(tmp, "typo.spec")
    with open(SPEC) as f:
        text = f.read()
    with open(spec, "w") as f:
        f.write(text + "use      say_wlak          arg0\n")
    nline = len((text + "x").splitlines())
    p = run([os.path.join(BUILD, "zoo_direct"), "clean"], spec=spec, tmp=tmp)
    want = ("refsan: warning: %s:%d: function 'say_wlak' not exported by "
            "libzoo.so.1 (typo?)" % (spec, nline))
    check(want in p.stderr, "warning: " + want, p)
    check(p.stderr.count("say_wlak") == 1, "warned once", p)
    check(p.returncode == 0, "still runs", p)


def spec_env_colon(tmp):
    """REFSAN_SPEC is one spec= value taken whole: a path may hold ':'."""
    d = os.path.join(tmp, "a:b")
    os.mkdir(d)
    spec = os.path.join(d, "zoo.spec")
    with open(SPEC) as f, open(spec, "w") as g:
        g.write(f.read())
    p = run([os.path.join(BUILD, "zoo_direct"), "leak"], spec=None, tmp=tmp,
            env_extra={"REFSAN_SPEC": spec})
    check(p.returncode == 23, "exit status 23 for the leak", p)
    check("leaked handle" in p.stderr, "the leak is reported", p)


def untouched(tmp):
    p = run(["/bin/echo", "hello"], tmp=tmp)
    check(p.returncode == 0 and p.stdout == "hello\n" and p.stderr == "",
          "a process without the spec's libraries is left alone", p)
    check(os.listdir(tmp) == [], "no files: %r" % os.listdir(tmp), p)
    p = run([PY, "-c", "import ctypes, json; print(1)"], tmp=tmp)
    check(p.returncode == 0 and p.stderr == "" and os.listdir(tmp) == [],
          "python without libzoo is left alone", p)
    untouched_snapshot()


def untouched_snapshot():
    """The modules' snapshot for symbolizing (readlink of /proc/self/exe,
    a stat per module) waits for activation: a process that never loads
    the spec's libraries pays for none of it.  Seen through strace, when
    it can trace here; libzoo's program is the control that it can see
    the snapshot at all."""
    strace = shutil.which("strace")
    if not strace:
        print("strace not found: the snapshot check is skipped")
        return
    if sanitizer_env.runtimes(SHIM):
        # ASan's and TSan's runtimes read /proc/self/exe themselves.
        print("sanitized shim: the snapshot check is skipped")
        return
    with tempfile.TemporaryDirectory(prefix="refsan-e2e-strace-") as d:
        def traced(argv):
            log = os.path.join(d, "log")
            p = run([strace, "-f", "-qq", "-e", "trace=readlink", "-o", log]
                    + argv)
            try:
                with open(log) as f:
                    return p, f.read()
            except OSError:
                return p, ""
        p, log = traced([os.path.join(BUILD, "zoo_direct"), "clean"])
        if p.returncode != 0 or "/proc/self/exe" not in log:
            print("strace cannot trace here: the snapshot check is skipped")
            return
        p, log = traced(["/bin/true"])
        check(p.returncode == 0, "/bin/true runs under strace", p)
        check("/proc/self/exe" not in log,
              "no snapshot of the modules without libzoo:\n" + log, p)


def main():
    with tempfile.TemporaryDirectory(prefix="refsan-e2e-") as tmp:
        kind, _, mode = CASE.partition("-")
        if kind in ("c", "dlsym", "dlvsym") and mode == "nested":
            nested_case(kind, tmp)
        elif kind in ("c", "dlsym", "dlvsym"):
            c_case(kind, mode, tmp)
        elif kind == "plugin":
            plugin_case(mode, tmp)
        elif CASE == "other-release":
            plugin_case("other", tmp)
        elif kind == "group":
            group_case(mode, tmp)
        elif kind == "abi":
            abi_case(mode, tmp)
        elif kind in ("ctypes", "cffi"):
            py_case(kind, mode, tmp)
        elif CASE == "rtld-next":
            rtld_next(tmp)
        elif CASE == "spec-typo":
            spec_typo(tmp)
        elif CASE == "spec-env-colon":
            spec_env_colon(tmp)
        elif CASE == "untouched-process":
            untouched(tmp)
        else:
            check(False, "unknown case " + CASE)
    print("ok: " + CASE)


main()
