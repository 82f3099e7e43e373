"""Misuse of libcurl handles through ctypes (run_misuse.py, spec=curl).

curl_easy_cleanup clears the handle's magic number before freeing it, so
the use after cleanup below is refused by libcurl's own check
(CURLE_BAD_FUNCTION_ARGUMENT) after refsan has reported it."""
from ctypes import c_int, c_void_p

from misuse_common import fn, load, run

lib = load("libcurl.so.4", "libcurl-gnutls.so.4")
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
