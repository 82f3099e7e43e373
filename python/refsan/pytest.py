"""refsan.pytest: a pytest plugin that gives each test its own verdict on
the native handles it leaves behind.

Load it with ``-p refsan.pytest`` (``refsan run`` loads it for you when the
command runs pytest, through PYTEST_PLUGINS).  It works when librefsan.so
is loaded in the pytest process (``refsan run -- python3 -m pytest``, or
LD_PRELOAD); otherwise it does nothing and says so once in the header.

What a test is charged with: the handles created from the start of its
call phase (after every fixture it uses was set up) to the end of its
teardown, and still live after the teardown and a ``gc.collect()``.  So:

- handles made by fixtures during setup, whatever their scope (a session
  database, a module-wide context), are never charged to a test;
- handles a test makes and a function-scoped fixture releases at teardown
  (a fixture that owns a container the test fills) are not charged;
- handles a test makes and leaves in a wider-scope fixture's object (a
  cache the test fills) are charged to that test: create them in the
  fixture's setup, or mark the test ``@pytest.mark.refsan_allow_leaks``.

Modes (``--refsan=MODE`` or the ini option ``refsan``): ``fail`` (the
default) fails the test with refsan's report of the live handles and their
creation stacks, ``warn`` turns that into a warning, ``off`` disables the
checks.  ``@pytest.mark.refsan_allow_leaks(reason=...)`` exempts a test.

The verdict needs the teardown, which pytest runs after it has reported
the call phase; so, while active, the plugin runs each test's protocol
itself and reports its phases after the teardown (the order of reports and
all other hooks stay as pytest's).  If another plugin runs the protocol
instead (pytest-rerunfailures, for one), the leak is reported as an error
at the teardown of the test.
"""
import gc

import pytest

import refsan

_MODES = ("fail", "warn", "off")


class RefsanLeakWarning(pytest.PytestWarning):
    """A test left native handles live (mode warn)."""


def pytest_addoption(parser):
    group = parser.getgroup("refsan", "refsan: native handle leaks per test")
    group.addoption("--refsan", action="store", dest="refsan_mode",
                    default=None, choices=_MODES,
                    help="what a test that leaves handles live does: "
                         "fail (default), warn or off")
    parser.addini("refsan", "refsan mode: fail, warn or off",
                  default="fail")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "refsan_allow_leaks(reason=None): do not check this test for "
        "native handles left live (refsan)")
    if config.pluginmanager.has_plugin("refsan-checker"):
        return
    config.pluginmanager.register(_Checker(config), "refsan-checker")


def _trim_pytest_frames(text):
    """Cut each stack at its first frame of pytest's or pluggy's own code:
    what lies below the test function is the same for every test."""
    out, cut = [], False
    for line in text.splitlines():
        frame = line.startswith("    #")
        if not frame:
            cut = False
        elif cut:
            continue
        elif "/_pytest/" in line or "/pluggy/" in line:
            out.append("    ... (pytest's own frames)")
            cut = True
            continue
        out.append(line)
    return "\n".join(out) + "\n"


class _Checker:
    def __init__(self, config):
        mode = config.getoption("refsan_mode") or config.getini("refsan")
        mode = (mode or "fail").strip().lower()
        if mode not in _MODES:
            raise pytest.UsageError(
                "refsan: ini option refsan=%r: expected one of %s"
                % (mode, ", ".join(_MODES)))
        self.mode = mode
        self.available = refsan.available()
        self.active = self.available and mode != "off"
        self.leaky = []   # nodeids of tests charged with live handles

    # ---- reporting ----

    def pytest_report_header(self, config):
        if not self.available:
            return ("refsan: librefsan.so is not loaded in this process: "
                    "per-test handle checks are off (run under "
                    "`refsan run`)")
        return "refsan: per-test handle checks: %s" % self.mode

    def pytest_terminal_summary(self, terminalreporter):
        if self.leaky:
            terminalreporter.write_line(
                "refsan: %d test(s) left native handles live: %s"
                % (len(self.leaky), ", ".join(self.leaky[:10])
                   + (" ..." if len(self.leaky) > 10 else "")))

    # ---- the protocol ----

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if not self.active:
            return None
        from _pytest.runner import runtestprotocol

        ihook = item.ihook
        item.__dict__["_refsan_owned"] = True
        ihook.pytest_runtest_logstart(nodeid=item.nodeid,
                                      location=item.location)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        leak = item.__dict__.pop("_refsan_leak", None)
        if leak is not None:
            self._charge_call(item, reports, leak)
        for rep in reports:
            ihook.pytest_runtest_logreport(report=rep)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid,
                                       location=item.location)
        return True

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        if self.active and item.get_closest_marker(
                "refsan_allow_leaks") is None:
            # After setup: what fixtures made is not the test's.
            item.__dict__["_refsan_mark"] = refsan.checkpoint()
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield
        mark = item.__dict__.pop("_refsan_mark", None)
        if mark is None:
            return
        gc.collect()
        n = refsan.live_since(mark)
        if not n:
            return
        try:
            text = refsan.report_since(mark)
        except OSError as e:
            text = "(refsan could not write its report: %s)\n" % e
        msg = ("refsan: %d native handle(s) created during this test are "
               "still live after its teardown and gc.collect():\n\n%s"
               % (n, _trim_pytest_frames(text)))
        self.leaky.append(item.nodeid)
        if self.mode == "warn":
            item.warn(RefsanLeakWarning(msg))
            return
        item.__dict__["_refsan_leak"] = msg

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.when != "teardown" or item.__dict__.get("_refsan_owned"):
            return
        # Someone else runs the protocol: report at the teardown.
        msg = item.__dict__.pop("_refsan_leak", None)
        if msg is None:
            return
        rep = outcome.get_result()
        if rep.passed:
            rep.outcome = "failed"
            rep.longrepr = msg
        else:
            rep.sections.append(("refsan", msg))

    def _charge_call(self, item, reports, msg):
        call = [r for r in reports if r.when == "call"]
        if not call:
            return
        rep = call[0]
        if rep.passed:
            rep.outcome = "failed"
            rep.longrepr = msg
        else:
            # Failed already (or xfail): the leak goes with it.
            rep.sections.append(("refsan: native handles left live", msg))
