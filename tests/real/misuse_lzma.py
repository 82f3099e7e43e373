"""Misuse of liblzma streams through ctypes (run_misuse.py, spec=lzma).

The handle is the address of the caller's lzma_stream, a zeroed ctypes
buffer (LZMA_STREAM_INIT).  lzma_end sets strm->internal to NULL, so the
use after end only meets liblzma's LZMA_PROG_ERROR check.  lzma_end is
idempotent in the profile (on a zeroed or ended stream it is a documented
no-op) and the profile has no other release, so there is no double-release
scenario: `idempotent` checks that such lzma_end calls are forwarded and not
reported."""
import ctypes
from ctypes import c_int, c_uint32, c_void_p

from misuse_common import fn, load, run

lib = load("liblzma.so.5")
easy_encoder = fn(lib, "lzma_easy_encoder", c_int, c_void_p, c_uint32, c_int)
code = fn(lib, "lzma_code", c_int, c_void_p, c_int)
end = fn(lib, "lzma_end", None, c_void_p)
LZMA_STREAM_SIZE = 136  # sizeof(lzma_stream) on LP64
LZMA_CHECK_CRC64 = 4


def init(s):
    assert easy_encoder(s, 6, LZMA_CHECK_CRC64) == 0


def leak():
    s = ctypes.create_string_buffer(LZMA_STREAM_SIZE)
    init(s)  # CREATE
    print("left open")


def idempotent():
    s = ctypes.create_string_buffer(LZMA_STREAM_SIZE)
    # lzma_end on LZMA_STREAM_INIT (a constructor that failed before any
    # initializer, as CPython's _lzma does): a no-op, not reported.
    end(s)
    init(s)  # CREATE
    end(s)  # RELEASE
    end(s)  # AGAIN: a no-op again
    init(s)  # the same address, a new stream
    assert code(s, 3) != 11  # not LZMA_PROG_ERROR: it was set up again
    end(s)
    print("idempotent lzma_end calls forwarded")


def uaf():
    s = ctypes.create_string_buffer(LZMA_STREAM_SIZE)
    init(s)  # CREATE
    end(s)  # RELEASE
    rc = code(s, 3)  # USE
    print("lzma_code after lzma_end returned %d" % rc)


run({"leak": leak, "idempotent": idempotent, "uaf": uaf})
