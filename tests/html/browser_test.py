#!/usr/bin/python3
"""browser_test.py: `refsan report --format html` in a real browser
(tests/html/meson.build, suite browser, opt-in):

    browser_test.py REFSAN LIBREFSAN LIBZOO ZOO_SPEC SRCDIR OUTDIR

Headless Chromium, driven through chromedriver by Debian's python3-selenium
(packages chromium, chromium-driver, python3-selenium), loads three pages
from file:// URLs: the demo's (demo/app.py run under refsan), hostile
reports' (gen_reports.py) and 100,000 handles from 10,000 sites'.  On each
it checks that the page's script ran without a console error or a
Content-Security-Policy violation; on the hostile page that no name became
markup or script (no alert, no injected element); it unfolds a row, sorts
columns, filters by kind and text, hovers and zooms the flame graph, and
saves screenshots as OUTDIR/html-*.png.  Exit status 0: pass, 77: skipped
(no Chromium, chromedriver or selenium), else fail with a message.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_reports  # noqa: E402

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoAlertPresentException,
                                            WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("skip: python3-selenium is not installed")
    sys.exit(77)

REFSAN, LIBREFSAN, LIBZOO, ZOO_SPEC, SRC, OUT = sys.argv[1:7]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
TMP = tempfile.mkdtemp(prefix="refsan-browser-")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps",
         "--window-size=1280,1000", "--user-data-dir=" + TMP + "/profile"]
# Runs before the page's own script: records alerts (none may happen),
# CSP violations (none: the script's and stylesheet's hashes must match,
# and nothing else may try to run) and uncaught errors.
HOOK = """
window.__alerts = []; window.__csp = []; window.__errors = [];
window.alert = window.confirm = window.prompt = function (m) {
    window.__alerts.push(String(m));
};
document.addEventListener('securitypolicyviolation', function (e) {
    window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
window.addEventListener('error', function (e) {
    window.__errors.push(String(e.message));
});
"""


class Fail(Exception):
    pass


def check(cond, what, *context):
    if not cond:
        msg = "FAIL: " + what
        for c in context:
            msg += "\n--- context ---\n" + str(c)[:4000]
        raise Fail(msg)


def render(name, files, cwd):
    out = os.path.join(TMP, name)
    p = subprocess.run([REFSAN, "report", "--format", "html", "--output",
                        out] + files, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=60)
    check(p.returncode == 23 and os.path.exists(out),
          "refsan report exited %d" % p.returncode, p.stderr)
    return out


def demo_page():
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "REFSAN_OPTIONS", "REFSAN_SPEC")}
    env.update(LD_PRELOAD=LIBREFSAN, ZOO_LIB=LIBZOO,
               REFSAN_OPTIONS="spec=%s:json_path=%s/demo" % (ZOO_SPEC, TMP),
               PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run(["/usr/bin/python3", "demo/app.py"], cwd=SRC, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=60)
    check(p.returncode == 23, "demo/app.py exited %d" % p.returncode,
          p.stderr)
    files = [os.path.join(TMP, f) for f in os.listdir(TMP)
             if f.startswith("demo.") and f.endswith(".json")]
    check(len(files) == 1, "one demo report", os.listdir(TMP))
    return render("demo.html", files, SRC)


class Browser:
    def __init__(self):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for f in FLAGS:
            opts.add_argument(f)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(executable_path=DRIVER),
                                  options=opts)
        self.d.set_page_load_timeout(60)
        self.d.set_script_timeout(30)
        self.d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                               {"source": HOOK})

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def load(self, path, fragment=""):
        t = time.monotonic()
        self.d.get("file://" + path + fragment)
        WebDriverWait(self.d, 30).until(
            lambda d: d.execute_script("return !!window.refsanReport"))
        took = time.monotonic() - t
        self.clean(path)
        return took

    def clean(self, what):
        """No console error, CSP violation, uncaught error or alert."""
        logs = [e for e in self.d.get_log("browser")
                if e.get("level") == "SEVERE"]
        check(not logs, "console errors on %s" % what, logs)
        seen = self.js("return [window.__alerts, window.__csp, "
                       "window.__errors]")
        check(seen == [[], [], []], "alerts, CSP violations or errors on %s"
              % what, seen)
        try:
            a = self.d.switch_to.alert
            raise Fail("FAIL: an alert is open: " + a.text)
        except NoAlertPresentException:
            pass

    def rows(self):
        return self.js("""return Array.from(document.querySelectorAll(
            '#groups-table tr.row')).map(function (tr) {
              return Array.from(tr.cells).map(function (c) {
                return c.textContent; }); });""")

    def shot(self, name):
        path = os.path.join(OUT, name)
        self.d.save_screenshot(path)
        check(os.path.getsize(path) > 10000, "screenshot %s is empty" % name)

    def quit(self):
        self.d.quit()


def col(rows, name):
    i = ["kind", "family", "function", "count", "rc", "where",
         "procs"].index(name)
    return [r[i] for r in rows]


def ints(cells):
    return [int(c.replace(",", "")) if c else None for c in cells]


def test_demo(b):
    page = demo_page()
    b.load(page, "#open=all")
    rows = b.rows()
    check(len(rows) == 2, "demo: two groups", rows)
    check([r[0].strip("\u25be\u25b8") for r in rows] ==
          ["double release", "leak"], "demo: kinds", rows)
    text = b.js("return document.getElementById('groups').innerText")
    for want in ("Bad release (release)", "Last release",
                 "Dog.__del__ demo/zoo_wrap.py:53",
                 "create_dog demo/zoo.c:", "fill_kennel demo/app.py:21"):
        check(want in text, "demo: %r in the unfolded stacks" % want, text)
    b.shot("html-demo.png")


def test_hostile(b):
    d = os.path.join(TMP, "hostile")
    os.makedirs(d)
    gen_reports.hostile(d)
    page = render("hostile.html", sorted(os.listdir(d)), d)
    b.load(page)
    # No injected element: the page has the two scripts it was written
    # with, one SVG (the flame graph), and no handler attribute anywhere.
    found = b.js("""return {
        bad: document.querySelectorAll(
            'img, iframe, object, embed, b').length,
        scripts: document.scripts.length,
        svgs: document.querySelectorAll('svg').length,
        handlers: Array.from(document.querySelectorAll('*')).filter(
            function (e) { return Array.from(e.attributes).some(
                function (a) { return /^on/i.test(a.name) ||
                    /^(href|src|srcdoc|action|formaction|xlink:href)$/i
                    .test(a.name); }); }).length,
        title: document.title,
        text: document.body.innerText };""")
    check(found["bad"] == 0 and found["scripts"] == 2 and
          found["svgs"] == 1 and found["handlers"] == 0,
          "hostile: injected elements", {k: found[k] for k in
                                         ("bad", "scripts", "svgs",
                                          "handlers")})
    check(gen_reports.HOSTILE_ARG in found["title"], "hostile: title",
          found["title"])
    for s in (gen_reports.HOSTILE_FN, gen_reports.HOSTILE_ARG,
              gen_reports.HOSTILE_FAMILY):
        check(s in found["text"], "hostile: %r not shown as text" % s)
    rows = b.rows()
    check(len(rows) == 6, "hostile: six groups (suppressed hidden)", rows)
    check(gen_reports.HOSTILE_FN in col(rows, "function"),
          "hostile: the function name in its cell", rows)

    # Unfold the first row: its stacks, with file:line, then fold it.
    b.d.find_element(By.CSS_SELECTOR, "#groups-table tr.row").click()
    detail = b.js("""var tr = document.querySelector('#groups-table tr.row');
        var d = tr.nextElementSibling;
        return d && d.className === 'detail' ? {
            heads: Array.from(d.querySelectorAll('h3')).map(
                function (h) { return h.textContent; }),
            frames: Array.from(d.querySelectorAll('ol.stack li')).map(
                function (li) { return li.textContent; }),
            expanded: tr.getAttribute('aria-expanded') } : null;""")
    check(detail and detail["expanded"] == "true", "hostile: row unfolds",
          detail)
    check(detail["heads"] == ["Bad release (release)",
                              "Last release (reference count 1 \u2192 0)",
                              "Created"],
          "hostile: the double release's three stacks", detail)
    check(any("zoo.c:79" in f for f in detail["frames"]) and
          any(gen_reports.HOSTILE_SCRIPT in f and "wrap.py:53" in f
              for f in detail["frames"]),
          "hostile: frames with file:line and hostile names as text",
          detail)
    b.d.find_element(By.CSS_SELECTOR, "#groups-table tr.row").click()
    check(b.js("return document.querySelectorAll('tr.detail').length") == 0,
          "hostile: row folds")

    # Sort by count (largest first, then smallest), then by kind.
    th = b.d.find_element(By.CSS_SELECTOR, "th[data-col=count]")
    th.click()
    counts = ints(col(b.rows(), "count"))
    check(counts == sorted(counts, reverse=True), "sort: count descending",
          counts)
    check(th.get_attribute("aria-sort") == "descending", "aria-sort")
    th.click()
    counts = ints(col(b.rows(), "count"))
    check(counts == sorted(counts), "sort: count ascending", counts)
    b.d.find_element(By.CSS_SELECTOR, "th[data-col=kind]").click()
    kinds = [k.strip("\u25be\u25b8") for k in col(b.rows(), "kind")]
    check(kinds == sorted(kinds, key=lambda k: k.replace(" ", "_")),
          "sort: kind ascending", kinds)

    # Filter: by kind, then by text, then show the suppressed group.
    b.d.find_element(By.CSS_SELECTOR, "input[data-kind=leak]").click()
    kinds = [k for k in col(b.rows(), "kind") if "leak" in k]
    check(not kinds and len(b.rows()) == 4, "filter: no leak rows",
          b.rows())
    b.d.find_element(By.CSS_SELECTOR, "input[data-kind=leak]").click()
    box = b.d.find_element(By.ID, "filter-text")
    box.send_keys("wrap.py:53")
    WebDriverWait(b.d, 5).until(lambda d: len(b.rows()) == 1)
    check("double release" in b.rows()[0][0], "filter: text", b.rows())
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(gen_reports.HOSTILE_FN[:12])
    WebDriverWait(b.d, 5).until(lambda d: len(b.rows()) == 3)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    WebDriverWait(b.d, 5).until(lambda d: len(b.rows()) == 6)
    b.d.find_element(By.CSS_SELECTOR, "input[data-status=suppressed]").click()
    check(len(b.rows()) == 7, "filter: the suppressed group shown",
          b.rows())

    # The flame graph: 8 live handles (the suppressed group is left out);
    # hover a frame for its counts, click to zoom in and out.
    stats = b.js("return window.refsanReport.flame.stats()")
    check(stats["total"] == 8, "flame: 8 handles", stats)
    rects = b.d.find_elements(By.CSS_SELECTOR, "#flame rect")
    check(len(rects) >= 5, "flame: frames drawn", len(rects))
    leaf = rects[-1]
    ActionChains(b.d).move_to_element(leaf).perform()
    tip = b.js("var t = document.getElementById('tip');"
               "return t.hidden ? null : t.innerText")
    check(tip and "live handle" in tip and "site" in tip,
          "flame: tooltip on hover", tip)
    leaf.click()
    crumbs = b.d.find_element(By.ID, "flame-crumbs").text
    check(crumbs.count("\u203a") >= 2, "flame: zoomed in", crumbs)
    check(b.js("return document.querySelectorAll('#flame rect.anc')"
               ".length") >= 2, "flame: ancestors shown when zoomed")
    b.shot("html-hostile-zoomed.png")
    b.d.find_element(By.CSS_SELECTOR, "#flame rect").click()
    crumbs = b.d.find_element(By.ID, "flame-crumbs").text
    check(crumbs.startswith("all:") and "\u203a" not in crumbs,
          "flame: the root zooms out", crumbs)
    b.clean("the hostile page after clicks")
    b.d.find_element(By.CSS_SELECTOR, "#groups-table tr.row").click()
    b.shot("html-hostile.png")


def test_big(b):
    d = os.path.join(TMP, "big")
    os.makedirs(d)
    gen_reports.big(d, 10000, 100000)
    page = render("big.html", ["big.5000.json"], d)
    took = b.load(page)
    stats = b.js("return window.refsanReport.flame.stats()")
    nrect = b.js("return document.querySelectorAll('#flame rect').length")
    check(stats["total"] == 100000, "big: 100,000 handles", stats)
    check(0 < nrect <= 5000, "big: %d rectangles drawn" % nrect)
    check(b.js("return document.querySelectorAll('#groups-table tr.row')"
               ".length") == 1000, "big: the first 1,000 rows")
    t = time.monotonic()
    b.d.find_element(By.CSS_SELECTOR, "th[data-col=count]").click()
    b.d.find_element(By.CSS_SELECTOR, "th[data-col=count]").click()
    counts = ints(b.js("""return Array.from(document.querySelectorAll(
        '#groups-table tr.row td:nth-child(4)')).map(function (td) {
            return td.textContent; });"""))
    check(len(counts) == 1000 and counts == sorted(counts) and
          counts[0] == 1, "big: sort", counts[:5])
    b.js("document.getElementById('more').click()")
    check(b.js("return document.querySelectorAll('#groups-table tr.row')"
               ".length") == 2000, "big: a thousand more")
    sort_took = time.monotonic() - t
    # Zoom into the widest test function (depth 7, under 6 of pytest's).
    b.js("""var r = Array.from(document.querySelectorAll('#flame rect'))
        .filter(function (r) { return r.getAttribute('y') == 140; })
        .sort(function (a, b) { return b.getAttribute('width') -
            a.getAttribute('width'); })[0];
        r.dispatchEvent(new MouseEvent('click', {bubbles: true}));""")
    check(b.js("return window.refsanReport.flame.stats().depth") == 7,
          "big: zoomed to depth 7")
    b.js("document.getElementById('flame-reset').click()")
    b.clean("the big page")
    b.shot("html-big.png")
    print("big: loaded in %.1f s, %d rectangles, sorted and listed 2,000 in "
          "%.1f s" % (took, nrect, sort_took))


def main():
    if not CHROMIUM or not DRIVER:
        print("skip: needs chromium and chromedriver (Debian: chromium "
              "chromium-driver)")
        return 77
    os.makedirs(OUT, exist_ok=True)
    b = None
    try:
        t = time.monotonic()
        try:
            b = Browser()
        except WebDriverException as e:
            # A loaded machine can miss chromedriver's start-up deadline.
            print("chromium did not start (%s), again" % str(e)[:200])
            b = Browser()
        print("chromium started in %.1f s" % (time.monotonic() - t))
        for test in (test_demo, test_hostile, test_big):
            t = time.monotonic()
            test(b)
            print("ok: %s (%.1f s)" % (test.__name__,
                                       time.monotonic() - t))
    except Fail as e:
        print(e)
        return 1
    finally:
        if b:
            b.quit()
        shutil.rmtree(TMP, ignore_errors=True)
    print("screenshots in " + OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
