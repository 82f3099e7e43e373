"""Misuse of OpenSSL 3 handles through ctypes (run_misuse.py,
spec=openssl).

Before libcrypto allocates anything, CRYPTO_set_mem_functions installs
libc's malloc and realloc and a free that does nothing, so the use after
EVP_MD_CTX_free below reads memory that is still intact: refsan's report is
what the test checks, not a crash.  The free is libc's getpid, which ignores
its arguments: a Python callback would be called by libcrypto's atexit
cleanup after the interpreter is gone."""
import ctypes
from ctypes import c_char_p, c_int, c_size_t, c_void_p

from misuse_common import SKIP, fn, load, run
import sys

lib = load("libcrypto.so.3")
libc = ctypes.CDLL(None)
set_mem = fn(lib, "CRYPTO_set_mem_functions", c_int, c_void_p, c_void_p,
             c_void_p)
if not set_mem(ctypes.cast(libc.malloc, c_void_p),
               ctypes.cast(libc.realloc, c_void_p),
               ctypes.cast(libc.getpid, c_void_p)):
    print("skip: libcrypto allocated before CRYPTO_set_mem_functions")
    sys.exit(SKIP)
md_ctx_new = fn(lib, "EVP_MD_CTX_new", c_void_p)
md_ctx_free = fn(lib, "EVP_MD_CTX_free", None, c_void_p)
get_digestbyname = fn(lib, "EVP_get_digestbyname", c_void_p, c_char_p)
digest_init = fn(lib, "EVP_DigestInit_ex", c_int, c_void_p, c_void_p,
                 c_void_p)
digest_update = fn(lib, "EVP_DigestUpdate", c_int, c_void_p, c_char_p,
                   c_size_t)
bio_s_mem = fn(lib, "BIO_s_mem", c_void_p)
bio_new = fn(lib, "BIO_new", c_void_p, c_void_p)
bio_free = fn(lib, "BIO_free", c_int, c_void_p)
x509_new = fn(lib, "X509_new", c_void_p)
x509_up_ref = fn(lib, "X509_up_ref", c_int, c_void_p)
x509_free = fn(lib, "X509_free", None, c_void_p)


def leak():
    b = bio_new(bio_s_mem())  # CREATE
    assert b
    x = x509_new()
    assert x509_up_ref(x) == 1
    x509_free(x)
    x509_free(x)
    print("left open")


def double():
    ctx = md_ctx_new()  # CREATE
    assert digest_init(ctx, get_digestbyname(b"sha256"), None) == 1
    md_ctx_free(ctx)  # RELEASE
    md_ctx_free(ctx)  # AGAIN


def uaf():
    ctx = md_ctx_new()  # CREATE
    md_ctx_free(ctx)  # RELEASE
    rc = digest_update(ctx, b"abc", 3)  # USE
    print("EVP_DigestUpdate after EVP_MD_CTX_free returned %d" % rc)


run({"leak": leak, "double": double, "uaf": uaf})
