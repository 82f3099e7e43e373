"""Misuse of expat parsers through ctypes (run_misuse.py, spec=expat).

The parsers come from XML_ParserCreate_MM with a memory suite whose free
does nothing, so the use after XML_ParserFree below reads memory that is
still intact: refsan's report is what the test checks, not a crash."""
import ctypes
from ctypes import CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_size_t, \
    c_void_p

from misuse_common import fn, load, run

lib = load("libexpat.so.1")
libc = ctypes.CDLL(None)
MALLOC = CFUNCTYPE(c_void_p, c_size_t)
REALLOC = CFUNCTYPE(c_void_p, c_void_p, c_size_t)
FREE = CFUNCTYPE(None, c_void_p)


class MemSuite(Structure):
    _fields_ = [("malloc_fcn", MALLOC), ("realloc_fcn", REALLOC),
                ("free_fcn", FREE)]


c_malloc = ctypes.cast(libc.malloc, MALLOC)
c_realloc = ctypes.cast(libc.realloc, REALLOC)


@FREE
def never_free(p):
    pass


SUITE = MemSuite(c_malloc, c_realloc, never_free)
create_mm = fn(lib, "XML_ParserCreate_MM", c_void_p, c_char_p,
               POINTER(MemSuite), c_char_p)
create = fn(lib, "XML_ParserCreate", c_void_p, c_char_p)
parse = fn(lib, "XML_Parse", c_int, c_void_p, c_char_p, c_int, c_int)
free = fn(lib, "XML_ParserFree", None, c_void_p)


def new():
    p = create_mm(None, ctypes.byref(SUITE), None)
    assert p
    return p


def leak():
    p = create(None)  # CREATE
    assert parse(p, b"<a/>", 4, 1) == 1
    print("left open")


def double():
    p = new()  # CREATE
    free(p)  # RELEASE
    free(p)  # AGAIN


def uaf():
    p = new()  # CREATE
    free(p)  # RELEASE
    rc = parse(p, b"<a/>", 4, 1)  # USE
    print("XML_Parse after XML_ParserFree returned %d" % rc)


run({"leak": leak, "double": double, "uaf": uaf})
