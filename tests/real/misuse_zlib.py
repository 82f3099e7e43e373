"""Misuse of zlib streams through ctypes (run_misuse.py, spec=zlib).

The handle is the address of the caller's z_stream: here a ctypes buffer
that outlives every call, so even the misuse below only meets zlib's own
checks (deflateEnd sets strm->state to NULL; deflate then answers
Z_STREAM_ERROR)."""
import ctypes
from ctypes import c_char_p, c_int, c_void_p

from misuse_common import fn, load, run

lib = load("libz.so.1")
version = fn(lib, "zlibVersion", c_char_p)
deflate_init = fn(lib, "deflateInit_", c_int, c_void_p, c_int, c_char_p,
                  c_int)
deflate = fn(lib, "deflate", c_int, c_void_p, c_int)
deflate_end = fn(lib, "deflateEnd", c_int, c_void_p)
Z_STREAM_SIZE = 112  # sizeof(z_stream) on LP64


def stream():
    return ctypes.create_string_buffer(Z_STREAM_SIZE)


def init(z):
    assert deflate_init(z, 6, version(), Z_STREAM_SIZE) == 0


def leak():
    z = stream()
    init(z)  # CREATE
    print("left open")


def double():
    z = stream()
    init(z)  # CREATE
    assert deflate_end(z) == 0  # RELEASE
    deflate_end(z)  # AGAIN


def uaf():
    z = stream()
    init(z)  # CREATE
    assert deflate_end(z) == 0  # RELEASE
    rc = deflate(z, 4)  # USE
    print("deflate after deflateEnd returned %d" % rc)


run({"leak": leak, "double": double, "uaf": uaf})
