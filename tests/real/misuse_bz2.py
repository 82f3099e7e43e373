"""Misuse of bzip2 streams through ctypes (run_misuse.py, spec=bz2).

The handle is the address of the caller's bz_stream (a ctypes buffer that
outlives every call; BZ2_bzCompressEnd sets strm->state to NULL, so the
use after end only meets libbz2's own BZ_PARAM_ERROR check)."""
import ctypes
from ctypes import c_int, c_void_p

from misuse_common import fn, load, run

lib = load("libbz2.so.1.0", "libbz2.so.1")
compress_init = fn(lib, "BZ2_bzCompressInit", c_int, c_void_p, c_int, c_int,
                   c_int)
compress = fn(lib, "BZ2_bzCompress", c_int, c_void_p, c_int)
compress_end = fn(lib, "BZ2_bzCompressEnd", c_int, c_void_p)
BZ_STREAM_SIZE = 80  # sizeof(bz_stream) on LP64


def init(s):
    assert compress_init(s, 9, 0, 0) == 0


def leak():
    s = ctypes.create_string_buffer(BZ_STREAM_SIZE)
    init(s)  # CREATE
    print("left open")


def double():
    s = ctypes.create_string_buffer(BZ_STREAM_SIZE)
    init(s)  # CREATE
    assert compress_end(s) == 0  # RELEASE
    compress_end(s)  # AGAIN


def uaf():
    s = ctypes.create_string_buffer(BZ_STREAM_SIZE)
    init(s)  # CREATE
    assert compress_end(s) == 0  # RELEASE
    rc = compress(s, 2)  # USE
    print("BZ2_bzCompress after End returned %d" % rc)


run({"leak": leak, "double": double, "uaf": uaf})
