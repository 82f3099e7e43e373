"""Security (issue 8, docs/reliability.md): in secure-execution mode the
environment chooses no file refsan writes; report files never follow a
symlink planted at their name and get documented modes; names from
binaries and Python code come out escaped in the JSON and text reports
(and in JUnit, SARIF and HTML when the refsan command is built).

    run_security.py SHIM SPEC SECURE_PROG LIBZOO REFSAN_CMD CASE

Exit 77 (skipped) when the case needs what the machine lacks (root for
setgid, a file system honouring the setgid bit).
"""
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SHIM, SPEC, PROG, LIBZOO, REFSAN, CASE = sys.argv[1:7]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)


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
    sys.exit(77)


def base_env():
    env = dict(os.environ)
    for k in ("REFSAN_OPTIONS", "REFSAN_SPEC", "REFSAN_PROFILE_PATH",
              "LD_PRELOAD"):
        env.pop(k, None)
    if sanitizer_env.sanitized(SHIM):
        env = sanitizer_env.environ(SHIM, base=env)
        env.pop("LD_PRELOAD", None)  # secure_prog links the shim itself
    return env


def setgid(tmp):
    """A setgid program: REFSAN_OPTIONS, REFSAN_SPEC and
    REFSAN_PROFILE_PATH are ignored (secure_getenv), so no log_path or
    json_path from the environment, and the report goes to stderr.  A
    control run of the same program without the setgid bit shows that the
    environment would otherwise have been followed."""
    if os.geteuid() != 0:
        skip("making a setgid program of another group needs root")
    evil = os.path.join(tmp, "evil")
    os.mkdir(evil)
    os.chmod(evil, 0o777)
    os.chmod(tmp, 0o755)
    prog = os.path.join(tmp, "secure_prog")
    shutil.copy(PROG, prog)
    env = base_env()
    env["REFSAN_OPTIONS"] = ("log_path=%s/log:json_path=%s/r:exitcode=0"
                             % (evil, evil))
    env["REFSAN_SPEC"] = os.path.join(evil, "x.spec")
    env["REFSAN_PROFILE_PATH"] = evil

    # Control: not setgid, the environment is followed.
    p = subprocess.run([prog], env=env, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 2 and "x.spec: cannot read spec file" in p.stderr,
          "control run: the environment's REFSAN_SPEC is read", p)
    del env["REFSAN_SPEC"]
    p = subprocess.run([prog], env=env, capture_output=True,
                       text=True, timeout=60)
    check("AT_SECURE=0" in p.stdout, "control run not secure", p)
    check(p.returncode == 0, "control run: exitcode=0 followed", p)
    check(sorted(os.listdir(evil)) and
          any(f.startswith("log.") for f in os.listdir(evil)) and
          any(f.endswith(".json") for f in os.listdir(evil)),
          "control run: files written where the environment said: %r"
          % os.listdir(evil), p)
    for f in os.listdir(evil):
        os.unlink(os.path.join(evil, f))

    os.chown(prog, 0, 65534)
    os.chmod(prog, 0o2755)
    env["REFSAN_SPEC"] = os.path.join(evil, "x.spec")
    p = subprocess.run([prog], env=env, capture_output=True,
                       text=True, timeout=60)
    if "AT_SECURE=0" in p.stdout:
        skip("the setgid bit was not honoured (nosuid file system?)")
    check("AT_SECURE=1" in p.stdout, "secure-execution mode", p)
    check(p.returncode == 23, "exitcode=0 from the environment ignored", p)
    check("SUMMARY: refsan: 1 leaked handle(s) from 1 site(s)." in p.stderr,
          "the report on stderr", p)
    check(os.listdir(evil) == [], "no file written where the environment "
          "said: %r" % os.listdir(evil), p)


def start_waiting(tmp, options, umask=None):
    env = base_env()
    env["REFSAN_OPTIONS"] = options
    p = subprocess.Popen([PROG, "wait"], env=env, cwd=tmp,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=(lambda: os.umask(umask))
                         if umask is not None else None)
    line = p.stdout.readline()
    m = re.search(r"pid=(\d+)", line)
    if not m:
        out, err = p.communicate(timeout=60)
        fail("no pid line: %r %r %r" % (line, out, err))
    return p, int(m.group(1))


def finish(p):
    out, err = p.communicate("go\n", timeout=60)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def symlinks(tmp):
    """Symlinks planted at PATH.PID (log_path) and PATH.PID.json
    (json_path) before the report: neither is followed, the files they
    point at keep their content; the text report goes to stderr with a
    warning, the JSON report to the next free name, PATH.PID.1.json."""
    target = os.path.join(tmp, "precious")
    with open(target, "w") as f:
        f.write("precious\n")
    p, pid = start_waiting(tmp, "log_path=%s/log:json_path=%s/r" % (tmp, tmp))
    os.symlink(target, os.path.join(tmp, "log.%d" % pid))
    os.symlink(target, os.path.join(tmp, "r.%d.json" % pid))
    p = finish(p)
    check(p.returncode == 23, "status 23", p)
    with open(target) as f:
        check(f.read() == "precious\n", "the symlinks' target untouched", p)
    check(os.path.islink(os.path.join(tmp, "log.%d" % pid)) and
          os.path.islink(os.path.join(tmp, "r.%d.json" % pid)),
          "the symlinks still symlinks", p)
    check("refsan: warning: cannot open log_path %s/log.%d: Too many levels "
          "of symbolic links; writing the report to stderr" % (tmp, pid)
          in p.stderr, "a warning for log_path", p)
    check("SUMMARY: refsan: 1 leaked handle(s)" in p.stderr,
          "the text report on stderr", p)
    j = os.path.join(tmp, "r.%d.1.json" % pid)
    check(os.path.isfile(j) and not os.path.islink(j),
          "the JSON report at the next free name: %r" % os.listdir(tmp), p)
    with open(j) as f:
        check(json.load(f)["counters"]["live"] == 1, "a whole report", p)
    check(not [f for f in os.listdir(tmp) if ".tmp." in f],
          "no temporary file left", p)


def modes(tmp):
    """Report files: 0644 less the umask (0644 under umask 022, 0600 under
    077), the JSON report as the text one."""
    for umask, want in ((0o022, 0o644), (0o077, 0o600)):
        d = os.path.join(tmp, "u%o" % umask)
        os.mkdir(d)
        p, pid = start_waiting(d, "log_path=%s/log:json_path=%s/r" % (d, d),
                               umask)
        p = finish(p)
        check(p.returncode == 23, "status 23", p)
        for name in ("log.%d" % pid, "r.%d.json" % pid):
            m = stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode)
            check(m == want, "%s: mode %o under umask %03o, expected %o" % (
                name, m, umask, want), p)


PY_NAME = 'evil"\\\n</script><b>\x1b[31m\u2028x'
PY_FILE = '/tmp/we"ird\\\n</script>\u2028\x1b.py'


def names(tmp):
    """Python function and file names with quotes, backslashes, newlines,
    control bytes, U+2028 and </script>: the JSON report is valid and
    holds them exactly, escaped (no raw </script>, U+2028 or control byte
    in its text); the text report shows them on one line, control bytes
    escaped; JUnit and SARIF (refsan report) are well-formed and hold
    them; the HTML report never holds them raw."""
    env = sanitizer_env.environ(SHIM)
    env["REFSAN_OPTIONS"] = "spec=%s:json_path=%s/r" % (SPEC, tmp)
    env.pop("REFSAN_SPEC", None)
    p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "names.py"),
                        LIBZOO], env=env, cwd=tmp, capture_output=True,
                       timeout=120)
    out = subprocess.CompletedProcess(p.args, p.returncode,
                                      p.stdout.decode("utf-8", "replace"),
                                      p.stderr.decode("utf-8", "replace"))
    check(p.returncode == 23, "status 23 (the leak)", out)
    files = glob.glob(os.path.join(tmp, "r.*.json"))
    check(len(files) == 1, "one JSON report", out)
    raw = open(files[0], "rb").read()
    check(b"</script>" not in raw, "no raw </script> in the JSON", out)
    check("\u2028".encode() not in raw, "no raw U+2028 in the JSON", out)
    check(not re.search(rb"[\x00-\x1f\x7f]", raw.replace(b"\n", b"")),
          "no raw control byte in the JSON", out)
    rep = json.loads(raw)
    frames = [f for st in rep["stacks"].values() for f in st
              if f.get("python")]
    check(any(f.get("function") == PY_NAME and f.get("file") == PY_FILE
              for f in frames),
          "the names round-trip exactly: %r" % frames, out)
    # The text report: each frame on its own line, no raw escape byte.
    check(b"\x1b" not in p.stderr, "no raw ESC on stderr", out)
    check(re.search(rb"in evil\"\\\\?\\x0a</script><b>\\x1b\[31m", p.stderr),
          "the name escaped on one line of the text report", out)
    if not os.path.exists(REFSAN):
        print("note: %s not built, JUnit/SARIF/HTML not checked" % REFSAN)
        return
    for fmt in ("junit", "sarif", "html"):
        r = subprocess.run([REFSAN, "report", "--format", fmt, files[0]],
                           capture_output=True, timeout=120)
        if r.returncode not in (0, 23) or not r.stdout:
            print("note: refsan report --format %s: status %d %r" % (
                fmt, r.returncode, r.stderr[-300:]))
            continue
        if fmt == "junit":
            try:
                root = ET.fromstring(r.stdout)
            except ET.ParseError as e:
                fail("the JUnit report is not well-formed XML: %s" % e, out)
            text = " ".join(list(root.itertext()) + [
                v for el in root.iter() for v in el.attrib.values()])
            check("evil" in text and "</script>" in text,
                  "the name in the JUnit report", out)
        elif fmt == "sarif":
            strings = []

            def walk(v):
                if isinstance(v, dict):
                    for x in v.values():
                        walk(x)
                elif isinstance(v, list):
                    for x in v:
                        walk(x)
                elif isinstance(v, str):
                    strings.append(v)
            walk(json.loads(r.stdout))
            check(PY_NAME in strings, "the name exactly in the SARIF report",
                  out)
            check(b"</script>" not in r.stdout,
                  "no raw </script> in the SARIF report", out)
        else:
            check(PY_NAME.encode() not in r.stdout and
                  b"\x1b" not in r.stdout and
                  r.stdout.count(b"</script>") <= r.stdout.count(b"<script"),
                  "no raw name, ESC or extra </script> in the HTML", out)


CASES = {"setgid": setgid, "symlinks": symlinks, "modes": modes,
         "names": names}


def main():
    tmp = tempfile.mkdtemp(prefix="refsan-sec-")
    try:
        CASES[CASE](tmp)
        print("ok: " + CASE)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
