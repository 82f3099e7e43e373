"""Misuse of libcurl handles through ctypes (run_misuse.py, spec=curl).

curl_easy_cleanup clears the handle's magic number before freeing it, so
the use after cleanup below is refused by libcurl's own check
(CURLE_BAD_FUNCTION_ARGUMENT) after refsan has reported it, provided the
memory is still there: curl_easy_perform reads set.errorbuffer from the
handle before it checks the magic, and with MALLOC_PERTURB_ (which meson
sets at random) freed memory holds a wild pointer that it writes through.
So, for the use after cleanup, curl_global_init_mem installs libc's
allocators and a free that does nothing (libc's getpid, which ignores its
argument, as misuse_openssl.py does): refsan's report is what the test
checks, not a crash."""
import ctypes
from ctypes import c_int, c_long, c_void_p
import sys

from misuse_common import fn, load, run

lib = load("libcurl.so.4", "libcurl-gnutls.so.4")
if sys.argv[1] == "uaf":
    libc = ctypes.CDLL(None)
    global_init_mem = fn(lib, "curl_global_init_mem", c_int, c_long,
                         c_void_p, c_void_p, c_void_p, c_void_p, c_void_p)
    CURL_GLOBAL_ALL = 3
    assert global_init_mem(CURL_GLOBAL_ALL,
                           ctypes.cast(libc.malloc, c_void_p),
                           ctypes.cast(libc.getpid, c_void_p),
                           ctypes.cast(libc.realloc, c_void_p),
                           ctypes.cast(libc.strdup, c_void_p),
                           ctypes.cast(libc.calloc, c_void_p)) == 0
easy_init = fn(lib, "curl_easy_init", c_void_p)
easy_cleanup = fn(lib, "curl_easy_cleanup", None, c_void_p)
easy_perform = fn(lib, "curl_easy_perform", c_int, c_void_p)
multi_init = fn(lib, "curl_multi_init", c_void_p)
multi_cleanup = fn(lib, "curl_multi_cleanup", c_int, c_void_p)


def leak():
    h = easy_init()  # CREATE
    assert h
    m = multi_init()
    assert multi_cleanup(m) == 0
    print("left open")


def double():
    h = easy_init()  # CREATE
    easy_cleanup(h)  # RELEASE
    easy_cleanup(h)  # AGAIN


def uaf():
    h = easy_init()  # CREATE
    easy_cleanup(h)  # RELEASE
    rc = easy_perform(h)  # USE
    print("curl_easy_perform after cleanup returned %d" % rc)


run({"leak": leak, "double": double, "uaf": uaf})
