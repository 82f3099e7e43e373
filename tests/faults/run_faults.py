"""Faults (issue 8): what refsan does when its memory, its output paths,
stderr, signals or the target library itself misbehave.  Each case runs
fault_prog.c (or prog.c of the bad-input table) with the shim preloaded
and checks the behaviour docs/reliability.md promises.  Exit 77 (skipped)
when a case needs what this machine lacks (root for a tmpfs, a build
without ASan for an address-space limit).

    run_faults.py SHIM SPEC PROG LIBZOO FILLER CASE
"""
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile

SHIM, SPEC, PROG, LIBZOO, FILLER, CASE = sys.argv[1:7]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)

SKIP = 77
SUMMARY = "SUMMARY: refsan: 1 leaked handle(s) from 1 site(s)."


def fail(what, p=None):
    msg = "FAIL: %s: %s" % (CASE, what)
    if p is not None:
        msg += "\n--- status %s\n--- stdout\n%s\n--- stderr\n%s" % (
            p.returncode, p.stdout, p.stderr[-6000:])
    print(msg)
    sys.exit(1)


def check(cond, what, p=None):
    if not cond:
        fail(what, p)


def skip(why):
    print("SKIP: %s: %s" % (CASE, why))
    sys.exit(SKIP)


def run(tmp, args, options=(), json=True, preexec=None, timeout=120):
    env = sanitizer_env.environ(SHIM)
    env.pop("REFSAN_SPEC", None)
    opts = ["spec=" + SPEC]
    if json:
        opts.append("json_path=%s/r" % tmp)
    opts += list(options)
    env["REFSAN_OPTIONS"] = ":".join(opts)
    try:
        return subprocess.run([PROG] + list(args), env=env, cwd=tmp,
                              capture_output=True, text=True,
                              timeout=timeout, preexec_fn=preexec)
    except subprocess.TimeoutExpired as e:
        fail("no answer after %d s (hang?): %s" % (timeout, e))


def reports(tmp):
    return sorted(glob.glob(os.path.join(tmp, "r.*.json")))


def load_report(tmp, p):
    files = reports(tmp)
    check(len(files) == 1, "one JSON report, got %r" % files, p)
    with open(files[0]) as f:
        return json.load(f)


def complete_leak_report(text, p, what="stderr"):
    check("==ERROR: refsan: detected handle leaks" in text and
          SUMMARY in text, "the whole text report in %s" % what, p)


def no_crash(p):
    check(p.returncode >= 0, "no signal (status %d)" % p.returncode, p)
    for bad in ("AddressSanitizer", "runtime error:", "got a fatal"):
        check(bad not in p.stderr, "nothing like %r on stderr" % bad, p)


def leftovers(d):
    return [f for f in os.listdir(d) if ".tmp." in f or f.startswith("r.")]


# ---- memory ----

def arena_init(tmp):
    """The engine's memory cannot be mapped at all (address space capped
    below its 1 GiB reservation): one error line, the program runs on
    untracked, exits 2 where it would have exited 0 (a run that checked
    nothing must not pass CI), no report file."""
    if sanitizer_env.sanitized(SHIM):
        skip("an address-space limit and ASan's shadow memory do not mix")

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))
    p = run(tmp, ["leak", LIBZOO], preexec=cap)
    no_crash(p)
    check(p.returncode == 2, "exit status 2: nothing was checked", p)
    check(p.stderr == "refsan: error: cannot map memory for the handle "
          "table (1 GiB of address space is reserved: is `ulimit -v` set?); "
          "the program runs untracked and exits with status 2\n",
          "exactly one line on stderr", p)
    check(reports(tmp) == [], "no report file", p)


def arena_grow(tmp):
    """The handle table cannot grow (the program caps its address space
    after start, then creates 300000 handles): no crash, and a report
    that is exact or says it is incomplete."""
    if sanitizer_env.sanitized(SHIM):
        skip("an address-space limit and ASan's shadow memory do not mix")
    p = run(tmp, ["grow", LIBZOO, "300000", "40"])
    no_crash(p)
    # 94: the program's own malloc gave up first, also fine.
    check(p.returncode in (23, 94), "status 23 (leaks) or 94", p)
    r = load_report(tmp, p)
    c = r["counters"]
    exact = c["live"] == c["created"] - c["released"]
    check(exact or r["incomplete"],
          "a report that is not exact says so: %r" % c, p)
    if not exact:
        check("this report is incomplete" in p.stderr,
              "the text report says it is incomplete", p)
    print("counters %r, incomplete %r" % (c, r["incomplete"]))


# ---- output paths ----

def log_missing_dir(tmp):
    p = run(tmp, ["leak", LIBZOO], ["log_path=%s/no/such/dir/log" % tmp])
    no_crash(p)
    check(p.returncode == 23, "status 23", p)
    check(re.search(r"refsan: warning: cannot open log_path \S+/no/such/dir/"
                    r"log\.\d+: No such file or directory; writing the "
                    r"report to stderr\n", p.stderr), "a warning", p)
    complete_leak_report(p.stderr, p)
    load_report(tmp, p)


def json_missing_dir(tmp):
    p = run(tmp, ["leak", LIBZOO], json=False,
            options=["json_path=%s/no/such/r" % tmp])
    no_crash(p)
    check(p.returncode == 23, "status 23", p)
    check(re.search(r"refsan: error: cannot write the JSON report \S+/no/"
                    r"such/r\.\d+\.json: No such file or directory \(the "
                    r"text report is complete\)\n", p.stderr), "an error", p)
    complete_leak_report(p.stderr, p)


def drop_to_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def unwritable(tmp):
    """log_path and json_path in a directory the process may not write."""
    ro = os.path.join(tmp, "ro")
    os.mkdir(ro, 0o555)
    os.chmod(ro, 0o555)
    preexec = None
    if os.geteuid() == 0:
        os.chmod(tmp, 0o777)  # the dropped process runs in it
        preexec = drop_to_nobody
    p = run(tmp, ["leak", LIBZOO], json=False,
            options=["log_path=%s/log" % ro, "json_path=%s/r" % ro],
            preexec=preexec)
    no_crash(p)
    check(p.returncode == 23, "status 23", p)
    check("refsan: warning: cannot open log_path %s/log." % ro in p.stderr
          and "Permission denied; writing the report to stderr" in p.stderr,
          "a warning for log_path", p)
    check(re.search(r"refsan: error: cannot write the JSON report \S+/ro/r\."
                    r"\d+\.json: Permission denied", p.stderr),
          "an error for json_path", p)
    complete_leak_report(p.stderr, p)
    check(os.listdir(ro) == [], "nothing left in the directory", p)


def full_disk(tmp):
    """log_path and json_path on a full tmpfs: the text report reaches
    stderr whole, the JSON report is not left behind half written (no
    final file, no temporary file)."""
    if os.geteuid() != 0:
        skip("mounting a tmpfs needs root")
    full = os.path.join(tmp, "full")
    os.mkdir(full)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                        full], capture_output=True, text=True)
    if m.returncode != 0:
        skip("cannot mount a tmpfs here: " + m.stderr.strip())
    try:
        fd = os.open(os.path.join(full, "filler"), os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 512) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        p = run(tmp, ["leak", LIBZOO], json=False,
                options=["log_path=%s/log" % full, "json_path=%s/r" % full])
        no_crash(p)
        check(p.returncode == 23, "status 23", p)
        check(re.search(r"No space left on device", p.stderr),
              "the failure named on stderr", p)
        check(re.search(r"refsan: error: cannot write the JSON report \S+/"
                        r"full/r\.\d+\.json: No space left on device",
                        p.stderr), "the JSON failure on stderr", p)
        complete_leak_report(p.stderr, p)
        check(leftovers(full) == [], "no JSON report and no temporary file "
              "left: %r" % os.listdir(full), p)
        # A report that fits: a second run with room again.
        os.unlink(os.path.join(full, "filler"))
        p = run(tmp, ["leak", LIBZOO], json=False,
                options=["json_path=%s/r" % full])
        check(len(reports(full)) == 1, "with room, the report is written",
              p)
    finally:
        subprocess.run(["umount", full])


# ---- stderr ----

def close_stderr(tmp):
    """fd 2 closed by the program: the text report is lost (as the
    sanitizers' would be), the JSON report and the status are not."""
    p = run(tmp, ["close-stderr", LIBZOO])
    no_crash(p)
    check(p.returncode == 23, "status 23", p)
    check(p.stderr == "", "nothing on the closed stderr", p)
    r = load_report(tmp, p)
    check(r["counters"]["live"] == 1, "the leak in the JSON report", p)


def dup2_stderr(tmp):
    """fd 2 replaced by a file: the report goes where fd 2 goes."""
    path = os.path.join(tmp, "err.txt")
    p = run(tmp, ["dup2-stderr", LIBZOO, path])
    no_crash(p)
    check(p.returncode == 23, "status 23", p)
    with open(path) as f:
        complete_leak_report(f.read(), p, "the file on fd 2")
    load_report(tmp, p)


# ---- signals ----

def segv(tmp, mode):
    """The program's own SIGSEGV handler (recovering with siglongjmp)
    keeps working whether it came before refsan's or after."""
    p = run(tmp, [mode, LIBZOO])
    no_crash(p)
    check(p.returncode == 23, "status 23", p)
    check("recovered from 2 faults" in p.stdout, "the handler ran", p)
    check("fatal" not in p.stderr, "no crash report", p)
    complete_leak_report(p.stderr, p)


def signal_calls(tmp):
    """libzoo called from a signal handler, 3000 times, interrupting the
    main thread's own calls (and refsan's hooks): no deadlock, no crash, no
    false error."""
    p = run(tmp, ["signal-calls", LIBZOO], timeout=240)
    no_crash(p)
    check(p.returncode == 0, "a clean exit", p)
    m = re.search(r"handler calls (\d+)", p.stdout)
    check(m and int(m.group(1)) >= 3000, "every handler call", p)
    check(p.stderr == "", "nothing on stderr", p)
    r = load_report(tmp, p)
    check(r["errors"] == [] and r["counters"]["live"] == 0, "a clean report",
          p)


# ---- the target library ----

def reload(tmp):
    """libzoo (a copy) unloaded and loaded again at another address: both
    leaks' creation stacks still name create_dog in zoo.c, each at its own
    load's address."""
    copy = os.path.join(tmp, "libzoo.so.99")
    shutil.copy(LIBZOO, copy)
    p = run(tmp, ["reload", LIBZOO, copy, FILLER])
    no_crash(p)
    check(p.returncode == 23, "status 23", p)
    bases = [int(x, 16) for x in re.findall(r"load at (0x[0-9a-f]+)",
                                              p.stdout)]
    check(len(bases) == 2 and bases[0] != bases[1],
          "two loads at two addresses: %r" % bases, p)
    r = load_report(tmp, p)
    leaks = [e for e in r["errors"] if e["kind"] == "leak"]
    check(len(leaks) == 2, "two leaks", p)
    pcs = set()
    for e in leaks:
        top = r["stacks"][str(e["stack"])][0]
        check(top.get("function") == "create_dog" and
              str(top.get("file", "")).endswith("zoo.c") and
              top.get("module") == "libzoo.so.99",
              "symbolized: %r" % top, p)
        pc, off = int(top["pc"], 16), int(top["offset"], 16)
        check(pc - off in bases, "pc %#x - offset %#x is a load address %r"
              % (pc, off, [hex(b) for b in bases]), p)
        pcs.add(pc - off)
    check(pcs == set(bases), "one leak from each load", p)


def reuse(tmp):
    """A dog's address given to a cage after the dog's release: a new
    handle of family cage, then of family dog again; no false error."""
    p = run(tmp, ["reuse", LIBZOO])
    no_crash(p)
    check(p.returncode == 0, "a clean exit", p)
    if "elsewhere" in p.stdout.split("\n")[0] and \
            sanitizer_env.sanitized(SHIM):
        skip("ASan's allocator holds freed addresses back: no reuse to test")
    check("cage" in p.stdout and "at a dog's address" in p.stdout,
          "the cage took a dog's address (else the case proves nothing)", p)
    r = load_report(tmp, p)
    check(r["errors"] == [], "no error", p)


def reuse_mismatch(tmp):
    p = run(tmp, ["reuse-mismatch", LIBZOO])
    no_crash(p)
    check(p.returncode == 23, "status 23", p)
    r = load_report(tmp, p)
    kinds = [e["kind"] for e in r["errors"]]
    check(kinds == ["family_mismatch"], "one family mismatch: %r" % kinds, p)
    check("of family cage passed to say_walk, which accepts dog" in p.stderr,
          "the mismatch named", p)


CASES = {
    "arena-init": arena_init,
    "arena-grow": arena_grow,
    "log-missing-dir": log_missing_dir,
    "json-missing-dir": json_missing_dir,
    "unwritable": unwritable,
    "full-disk": full_disk,
    "close-stderr": close_stderr,
    "dup2-stderr": dup2_stderr,
    "segv-after": lambda t: segv(t, "segv-after"),
    "segv-before": lambda t: segv(t, "segv-before"),
    "signal-calls": signal_calls,
    "reload": reload,
    "reuse": reuse,
    "reuse-mismatch": reuse_mismatch,
}


def main():
    tmp = tempfile.mkdtemp(prefix="refsan-fault-")
    try:
        CASES[CASE](tmp)
        print("ok: " + CASE)
    finally:
        subprocess.run(["umount", os.path.join(tmp, "full")],
                       capture_output=True) if os.path.ismount(
            os.path.join(tmp, "full")) else None
        shutil.rmtree(tmp, ignore_errors=True)


main()
