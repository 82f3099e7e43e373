"""refsan: Python access to the reference-count sanitizer's C API.

refsan (librefsan.so, preloaded with LD_PRELOAD or by `refsan run`) tracks
the handles of native libraries.  This package reaches its C API
(include/refsan.h) through ctypes, so that Python test harnesses can ask
what was created since a point in time and still lives:

    import refsan
    if refsan.available():
        mark = refsan.checkpoint()
        run_something()
        if refsan.live_since(mark):
            print(refsan.report_since(mark))

When librefsan.so is not loaded, available() is False and the other
functions raise RuntimeError.  The pytest plugin is refsan.pytest.
"""
import ctypes
import os
import tempfile

__all__ = ["available", "checkpoint", "live_count", "live_since",
           "report_since", "RefsanMissing"]

__version__ = "0.1.0"


class RefsanMissing(RuntimeError):
    """librefsan.so is not loaded in this process."""


class _API:
    """The C API's functions, looked up once in the process's global
    namespace (ctypes.CDLL(None): dlopen(NULL)), where a preloaded
    librefsan.so puts them."""

    def __init__(self):
        self.error = None
        self.checkpoint = self.live_count = None
        self.live_since = self.report_since = None
        try:
            lib = ctypes.CDLL(None)
            checkpoint = lib.refsan_checkpoint
            live_count = lib.refsan_live_count
            live_since = lib.refsan_live_since
            report_since = lib.refsan_report_since
        except (OSError, AttributeError) as e:
            self.error = str(e)
            return
        checkpoint.restype = ctypes.c_uint64
        checkpoint.argtypes = []
        live_count.restype = ctypes.c_size_t
        live_count.argtypes = []
        live_since.restype = ctypes.c_size_t
        live_since.argtypes = [ctypes.c_uint64]
        report_since.restype = ctypes.c_int
        report_since.argtypes = [ctypes.c_uint64, ctypes.c_char_p]
        self.checkpoint, self.live_count = checkpoint, live_count
        self.live_since, self.report_since = live_since, report_since


_api = None


def _get():
    global _api
    if _api is None:
        _api = _API()
    if _api.checkpoint is None:
        raise RefsanMissing("librefsan.so is not loaded (run under "
                            "`refsan run` or LD_PRELOAD it)")
    return _api


def available():
    """Whether librefsan.so is loaded in this process."""
    try:
        _get()
        return True
    except RefsanMissing:
        return False


def preloaded():
    """Whether LD_PRELOAD names librefsan.so (the plugin's cue)."""
    return "librefsan.so" in os.environ.get("LD_PRELOAD", "")


def checkpoint():
    """A mark in refsan's event sequence, for live_since()."""
    return _get().checkpoint()


def live_count():
    """Handles live now."""
    return _get().live_count()


def live_since(mark):
    """Handles created after MARK (by this process) and still live."""
    return _get().live_since(mark)


def report_since(mark, json=False):
    """refsan's report of the handles created after MARK and still live,
    with their creation stacks: text as the shim prints it, or the JSON
    model (docs/json-schema.md, "final": false) when JSON is true."""
    api = _get()
    fd, path = tempfile.mkstemp(prefix="refsan-live-",
                                suffix=".json" if json else ".txt")
    os.close(fd)
    try:
        if api.report_since(mark, os.fsencode(path)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "refsan_report_since failed", path)
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
