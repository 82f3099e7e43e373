"""Misuse of SQLite handles through ctypes (run_misuse.py, spec=sqlite3)."""
import ctypes
from ctypes import POINTER, byref, c_char_p, c_int, c_void_p

from misuse_common import fn, load, run

lib = load("libsqlite3.so.0")
open_v2 = fn(lib, "sqlite3_open_v2", c_int, c_char_p, POINTER(c_void_p),
             c_int, c_char_p)
close = fn(lib, "sqlite3_close", c_int, c_void_p)
close_v2 = fn(lib, "sqlite3_close_v2", c_int, c_void_p)
prepare_v2 = fn(lib, "sqlite3_prepare_v2", c_int, c_void_p, c_char_p, c_int,
                POINTER(c_void_p), POINTER(c_char_p))
finalize = fn(lib, "sqlite3_finalize", c_int, c_void_p)
exec_ = fn(lib, "sqlite3_exec", c_int, c_void_p, c_char_p, c_void_p,
           c_void_p, c_void_p)
OPEN_RW_CREATE = 0x2 | 0x4


def connect():
    db = c_void_p()
    assert open_v2(b":memory:", byref(db), OPEN_RW_CREATE, None) == 0
    return db


def leak():
    db = connect()  # CREATE
    stmt = c_void_p()
    assert prepare_v2(db, b"select 1", -1, byref(stmt), None) == 0
    assert finalize(stmt) == 0
    print("left open")


def double():
    db = connect()  # CREATE
    assert close(db) == 0  # RELEASE
    close(db)  # AGAIN


def uaf():
    # sqlite3_close_v2 with a statement still open leaves a "zombie"
    # connection: its memory stays valid until the statement is finalized,
    # so the use after close below is reported and then refused by SQLite
    # (SQLITE_MISUSE) without touching freed memory.
    db = connect()  # CREATE
    stmt = c_void_p()
    assert prepare_v2(db, b"select 1", -1, byref(stmt), None) == 0
    assert close_v2(db) == 0  # RELEASE
    rc = exec_(db, b"select 2", None, None, None)  # USE
    print("exec after close_v2 returned %d" % rc)
    finalize(stmt)


run({"leak": leak, "double": double, "uaf": uaf})
