"""The bad-input table (cases.tsv) run end to end: for each row, the
tiny program prog.c runs with the shim preloaded and the malformed spec,
options or suppressions file of the row; its exit status and its whole
stderr must be exactly what the row says, and a process stopped by a bad
configuration must never reach main.

    run_badinput.py SHIM PROG CASES.tsv

cases.tsv: KIND <tab> INPUT <tab> STATUS <tab> STDERR, '#' comments.
INPUT and STDERR take the escapes \\n \\t \\r \\\\ \\0 and \\xNN.  KIND:
  spec           INPUT is the text of bad.spec, run with spec=bad.spec
  spec-ignore    the same with on_bad_spec=ignore
  spec-list      INPUT is the value of spec= (files in the directory:
                 ok.spec, a valid spec; adir, a directory)
  spec-env       INPUT is REFSAN_SPEC (REFSAN_OPTIONS unset)
  options        INPUT is REFSAN_OPTIONS
  suppressions   INPUT is the text of supp.txt, run with suppressions=supp.txt
  suppressions-path  INPUT is the value of suppressions=
Every process runs in a fresh temporary directory, so paths are relative.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SHIM, PROG, CASES = sys.argv[1:4]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import preload as sanitizer_env  # noqa: E402  (tests/preload.py)

OK_SPEC = "library libzoo.so*\ncreate create_dog ret family=dog\n"


def unescape(s):
    out = bytearray()
    i = 0
    b = s.encode()
    while i < len(b):
        c = b[i:i + 1]
        if c == b"\\" and i + 1 < len(b):
            n = b[i + 1:i + 2]
            if n == b"x":
                out += bytes([int(b[i + 2:i + 4], 16)])
                i += 4
                continue
            out += {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"\\": b"\\",
                    b"0": b"\0"}[n]
            i += 2
            continue
        out += c
        i += 1
    return bytes(out)


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 4:
                sys.exit("%s:%d: expected 4 tab-separated fields, got %d" %
                         (path, n, len(parts)))
            rows.append((n, parts[0], unescape(parts[1]), int(parts[2]),
                         unescape(parts[3])))
    return rows


def run_row(kind, inp, tmp):
    env = sanitizer_env.environ(SHIM)
    for k in ("REFSAN_OPTIONS", "REFSAN_SPEC", "REFSAN_PROFILE_PATH"):
        env.pop(k, None)
    with open(os.path.join(tmp, "ok.spec"), "w") as f:
        f.write(OK_SPEC)
    os.mkdir(os.path.join(tmp, "adir"))
    if kind in ("spec", "spec-ignore"):
        with open(os.path.join(tmp, "bad.spec"), "wb") as f:
            f.write(inp)
        env["REFSAN_OPTIONS"] = "spec=bad.spec" + (
            ":on_bad_spec=ignore" if kind == "spec-ignore" else "")
    elif kind == "spec-list":
        env["REFSAN_OPTIONS"] = "spec=" + os.fsdecode(inp)
    elif kind == "spec-env":
        env["REFSAN_SPEC"] = os.fsdecode(inp)
    elif kind == "options":
        env["REFSAN_OPTIONS"] = os.fsdecode(inp)
    elif kind == "suppressions":
        with open(os.path.join(tmp, "supp.txt"), "wb") as f:
            f.write(inp)
        env["REFSAN_OPTIONS"] = "suppressions=supp.txt"
    elif kind == "suppressions-path":
        env["REFSAN_OPTIONS"] = "suppressions=" + os.fsdecode(inp)
    else:
        raise SystemExit("unknown kind " + kind)
    return subprocess.run([PROG], env=env, cwd=tmp, capture_output=True,
                          timeout=60)


def main():
    rows = load(CASES)
    failures = []
    for n, kind, inp, status, want in rows:
        tmp = tempfile.mkdtemp(prefix="refsan-bad-")
        try:
            p = run_row(kind, inp, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        problems = []
        if p.returncode != status:
            problems.append("status %d, expected %d" % (p.returncode, status))
        if p.stderr != want:
            problems.append("stderr %r\n      expected %r" % (p.stderr, want))
        ran = p.stdout == b"ran\n"
        if status == 2 and ran:
            problems.append("the program ran despite the bad input")
        if status == 0 and not ran:
            problems.append("the program did not run: %r" % p.stdout)
        if problems:
            failures.append("%s:%d: %s %r: %s" % (
                os.path.basename(CASES), n, kind, inp, "; ".join(problems)))
    kinds = {}
    for r in rows:
        kinds[r[1]] = kinds.get(r[1], 0) + 1
    print("%d bad inputs (%s), %d failed" % (
        len(rows), ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
        len(failures)))
    for f in failures:
        print("FAIL: " + f)
    sys.exit(1 if failures else 0)


main()
