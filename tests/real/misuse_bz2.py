"""Misuse of bzip2 streams and BZFILEs through ctypes (run_misuse.py,
spec=bz2).

A stream's handle is the address of the caller's bz_stream (a ctypes
buffer that outlives every call; BZ2_bzCompressEnd sets strm->state to
NULL, so the use after end only meets libbz2's own BZ_PARAM_ERROR check).
The Ends are idempotent in the profile (a second End is libbz2's no-op),
so the double release is a BZFILE's: BZ2_bzclose twice (refsan does not
pass the second one on).  `idempotent` checks that Ends on a stream never
initialized or already ended are forwarded and not reported."""
import ctypes
from ctypes import c_char_p, c_int, c_void_p

from misuse_common import fn, load, run

lib = load("libbz2.so.1.0", "libbz2.so.1")
compress_init = fn(lib, "BZ2_bzCompressInit", c_int, c_void_p, c_int, c_int,
                   c_int)
compress = fn(lib, "BZ2_bzCompress", c_int, c_void_p, c_int)
compress_end = fn(lib, "BZ2_bzCompressEnd", c_int, c_void_p)
bzopen = fn(lib, "BZ2_bzopen", c_void_p, c_char_p, c_char_p)
bzwrite = fn(lib, "BZ2_bzwrite", c_int, c_void_p, c_char_p, c_int)
bzclose = fn(lib, "BZ2_bzclose", None, c_void_p)
BZ_STREAM_SIZE = 80  # sizeof(bz_stream) on LP64
BZ_PARAM_ERROR = -2


def init(s):
    assert compress_init(s, 9, 0, 0) == 0


def leak():
    s = ctypes.create_string_buffer(BZ_STREAM_SIZE)
    init(s)  # CREATE
    print("left open")


def double():
    f = bzopen(b"out.bz2", b"wb")  # CREATE
    assert f
    assert bzwrite(f, b"hello", 5) == 5
    bzclose(f)  # RELEASE
    bzclose(f)  # AGAIN


def idempotent():
    s = ctypes.create_string_buffer(BZ_STREAM_SIZE)
    # An End on a zeroed stream (a constructor that failed before the Init,
    # as CPython's _bz2 does): libbz2's no-op, forwarded, not reported.
    assert compress_end(s) == BZ_PARAM_ERROR
    init(s)  # CREATE
    assert compress_end(s) == 0  # RELEASE
    assert compress_end(s) == BZ_PARAM_ERROR  # AGAIN: still forwarded
    init(s)  # the same address, a new stream
    assert compress_end(s) == 0
    print("idempotent Ends forwarded")


def uaf():
    s = ctypes.create_string_buffer(BZ_STREAM_SIZE)
    init(s)  # CREATE
    assert compress_end(s) == 0  # RELEASE
    rc = compress(s, 2)  # USE
    print("BZ2_bzCompress after End returned %d" % rc)


run({"leak": leak, "double": double, "uaf": uaf, "idempotent": idempotent})
