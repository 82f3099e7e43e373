"""Misuse of stdio FILE streams through ctypes (run_misuse.py, spec=stdio).

The stdio profile has no use rules (fread, fprintf... are far too hot, and
every program uses them on stdin/stdout, which refsan never saw opened), so
there is no use-after-close case; `family` closes a popen stream with
fclose instead of pclose."""
from ctypes import c_char_p, c_int, c_void_p

from misuse_common import fn, load, run

libc = load("libc.so.6")
fopen = fn(libc, "fopen", c_void_p, c_char_p, c_char_p)
fclose = fn(libc, "fclose", c_int, c_void_p)
popen = fn(libc, "popen", c_void_p, c_char_p, c_char_p)
pclose = fn(libc, "pclose", c_int, c_void_p)


def leak():
    f = fopen(b"/dev/null", b"r")  # CREATE
    assert f
    g = fopen(b"/dev/null", b"r")
    assert fclose(g) == 0
    print("left open")


def double():
    f = fopen(b"/dev/null", b"r")  # CREATE
    assert fclose(f) == 0  # RELEASE
    fclose(f)  # AGAIN


def family():
    p = popen(b"true", b"r")  # CREATE
    fclose(p)  # USE
    print("fclose on a popen stream")


run({"leak": leak, "double": double, "family": family})
