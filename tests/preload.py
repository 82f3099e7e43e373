"""preload.py: the environment the end-to-end runners give a program that
runs with the shim preloaded.

In a build with -Db_sanitize=address (and undefined), librefsan.so needs
the AddressSanitizer runtime: it must come first in LD_PRELOAD, ahead of
the shim, or an uninstrumented program such as /usr/bin/python3 uses libc's
malloc for some calls and ASan's for others.  The runtime is found from the
shim's own dependencies (ldd); REFSAN_TEST_PRELOAD_PREFIX, when set (even
to ""), is used instead.  In a sanitized build the sanitizers are also told
to stay out of the behaviour under test: no leak check (the interpreter and
the test programs leak on purpose), no fatal-signal handlers of their own
(refsan's crash report is what some tests check), and UBSan stops at the
first finding so that a finding fails the test.

    import preload
    env = preload.environ(SHIM)                 # LD_PRELOAD=[asan] SHIM
    env = preload.environ(SHIM, order=[A, SHIM])  # several preloads
"""
import functools
import os
import re
import subprocess

ASAN_DEFAULTS = ("detect_leaks=0:handle_segv=0:handle_sigbus=0:"
                 "handle_sigfpe=0:handle_sigill=0:handle_abort=0:"
                 "allow_user_segv_handler=1:detect_odr_violation=0")
UBSAN_DEFAULTS = "print_stacktrace=1:halt_on_error=1"
TSAN_DEFAULTS = "halt_on_error=1:report_signal_unsafe=0"


@functools.lru_cache(maxsize=None)
def runtimes(shim):
    """Paths of the sanitizer runtimes SHIM links, by name (asan, ubsan,
    tsan)."""
    found = {}
    try:
        out = subprocess.run(["ldd", shim], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return found
    for line in out.splitlines():
        m = re.match(r"\s*lib(asan|ubsan|tsan)\.so\S* => (\S+)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def prefix(shim):
    """What goes before the shim in LD_PRELOAD."""
    env = os.environ.get("REFSAN_TEST_PRELOAD_PREFIX")
    if env is not None:
        return env.split()
    rt = runtimes(shim)
    return [rt[k] for k in ("asan", "tsan") if k in rt]


def sanitized(shim):
    return bool(runtimes(shim)) or bool(
        os.environ.get("REFSAN_TEST_PRELOAD_PREFIX"))


def _add_defaults(env, key, defaults):
    have = env.get(key, "")
    keys = {kv.split("=", 1)[0] for kv in have.split(":") if kv}
    extra = [kv for kv in defaults.split(":") if kv.split("=", 1)[0] not in keys]
    env[key] = ":".join(([have] if have else []) + extra)


def preload_value(shim, order=None):
    """The LD_PRELOAD value: the sanitizer runtimes, then ORDER (default:
    just the shim)."""
    return " ".join(prefix(shim) + list(order if order else [shim]))


def apply(env, shim, order=None):
    """Set LD_PRELOAD (and the sanitizers' options) in ENV, in place."""
    env["LD_PRELOAD"] = preload_value(shim, order)
    rt = runtimes(shim)
    if "asan" in rt or os.environ.get("REFSAN_TEST_PRELOAD_PREFIX"):
        _add_defaults(env, "ASAN_OPTIONS", ASAN_DEFAULTS)
    if "ubsan" in rt or "asan" in rt:
        _add_defaults(env, "UBSAN_OPTIONS", UBSAN_DEFAULTS)
    if "tsan" in rt:
        _add_defaults(env, "TSAN_OPTIONS", TSAN_DEFAULTS)
    return env


def environ(shim, order=None, base=None):
    """A copy of BASE (default os.environ) with the shim preloaded."""
    return apply(dict(os.environ if base is None else base), shim, order)
