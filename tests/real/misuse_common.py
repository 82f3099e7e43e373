"""Shared by the misuse_*.py programs: load a library with ctypes or skip,
and run the scenario named on the command line.

Each misuse_<profile>.py is run by run_misuse.py under refsan with
spec=<profile>; it defines the scenarios `leak` (a handle left open, then
os._exit), `double` (a double close or free) and, where the profile has use
rules, `uaf` (a use after close).  The lines run_misuse.py checks stacks
against carry a marker comment: CREATE, RELEASE (the first, valid one),
AGAIN (the double release) and USE (the use after release).
"""
import ctypes
import ctypes.util
import os
import sys

SKIP = 77  # meson: test skipped


def load(*names):
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            pass
    print("skip: none of %s can be loaded" % ", ".join(names))
    sys.exit(SKIP)


def fn(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


def run(scenarios):
    name = sys.argv[1]
    scenarios[name]()
    sys.stdout.flush()
    if name == "leak":
        os._exit(0)
