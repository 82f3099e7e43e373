#!/usr/bin/python3
"""check_html.py: static checks of `refsan report --format html`, without
a browser (tests/html/meson.build, suite cli):

    check_html.py REFSAN CASE

  hostile  reports whose every string is an attack (gen_reports.py): the
           page parses as HTML with only the elements and attributes the
           renderer writes, holds no attack string unescaped, its data
           block round-trips through JSON with the strings intact, its
           Content-Security-Policy names the hashes of its one script and
           one stylesheet, and the output is the same on stdout and from
           run to run
  big      100,000 live handles from 10,000 sites: rendered in seconds,
           into a page of bounded size whose data block holds them all
  clean    a report without errors: a page that says so

Exit status 0: pass, else fail with a message.
"""
import base64
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_reports  # noqa: E402

REFSAN, CASE = sys.argv[1:3]
TMP = tempfile.mkdtemp(prefix="refsan-html-%s-" % CASE)

# What render_html.c writes: any other element or attribute in the page
# before the script runs came from a report.
TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1",
        "h2", "p", "code", "main", "section", "div", "table", "thead",
        "tbody", "tr", "th", "td", "span", "details", "summary", "script",
        "noscript"}
ATTRS = {"lang", "charset", "http-equiv", "content", "name", "class", "id",
         "scope", "type"}
# Bounds for BIG: the page for 10,000 sites and the time to render it.
BIG_MAX_BYTES = 4 << 20
BIG_MAX_SECONDS = 5.0


class Fail(Exception):
    pass


def check(cond, what, *context):
    if not cond:
        msg = "FAIL: " + what
        for c in context:
            msg += "\n--- context ---\n" + str(c)[:4000]
        raise Fail(msg)


class Page(html.parser.HTMLParser):
    """The elements of a page, the text of its title and of each script
    and style element, and its text by element id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.scripts, self.styles = [], [], [], []
        self.stack, self.text, self.title = [], {}, ""
        self.metas = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(a for a, _ in attrs)
        a = dict(attrs)
        if tag == "meta":
            self.metas.append(a)
        if tag == "script":
            self.scripts.append([a, ""])
        if tag == "style":
            self.styles.append("")
        if tag not in ("meta",):
            self.stack.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        tags = [t for t, _ in self.stack]
        if tags and tags[-1] == "script":
            self.scripts[-1][1] += data
        elif tags and tags[-1] == "style":
            self.styles[-1] += data
        elif "title" in tags:
            self.title += data
        for _, i in self.stack:
            if i:
                self.text[i] = self.text.get(i, "") + data


def render(*files, out=None, expect=23):
    args = [REFSAN, "report", "--format", "html"]
    if out:
        args += ["--output", out]
    t = time.monotonic()
    p = subprocess.run(args + list(files), cwd=TMP, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    took = time.monotonic() - t
    check(p.returncode == expect, "refsan report --format html exited %d, "
          "expected %d" % (p.returncode, expect), p.stderr.decode())
    if out:
        with open(out, "rb") as f:
            return f.read(), took
    return p.stdout, took


def parse(raw):
    check(raw.startswith(b"<!DOCTYPE html>\n"), "no doctype", raw[:200])
    text = raw.decode("utf-8")
    page = Page()
    page.feed(text)
    page.close()
    check(set(page.tags) <= TAGS, "elements the renderer does not write: "
          "%s" % sorted(set(page.tags) - TAGS))
    check(set(page.attrs) <= ATTRS, "attributes the renderer does not "
          "write: %s" % sorted(set(page.attrs) - ATTRS))
    check(len(page.scripts) == 2, "expected 2 script elements, got %d" %
          len(page.scripts), [s[0] for s in page.scripts])
    check(page.scripts[0][0] == {"type": "application/json", "id": "data"},
          "first script is not the data block", page.scripts[0][0])
    check(page.scripts[1][0] == {}, "second script has attributes",
          page.scripts[1][0])
    check(len(page.styles) == 1, "expected one style element")
    data = json.loads(page.scripts[0][1])
    return text, page, data


def check_csp(page):
    csp = [m["content"] for m in page.metas
           if m.get("http-equiv") == "Content-Security-Policy"]
    check(len(csp) == 1, "no Content-Security-Policy meta", page.metas)
    rules = {}
    for part in csp[0].split(";"):
        words = part.split()
        if words:
            rules[words[0]] = words[1:]
    check(rules.get("default-src") == ["'none'"], "default-src", csp)
    check("unsafe-inline" not in csp[0] and "unsafe-eval" not in csp[0],
          "unsafe- in the CSP", csp)

    def h(s):
        return "'sha256-%s'" % base64.b64encode(
            hashlib.sha256(s.encode()).digest()).decode()

    check(rules.get("script-src") == [h(page.scripts[1][1])],
          "script-src is not the hash of the script", csp)
    check(rules.get("style-src") == [h(page.styles[0])],
          "style-src is not the hash of the stylesheet", csp)


def case_hostile():
    gen_reports.hostile(TMP)
    files = sorted(f for f in os.listdir(TMP) if f.endswith(".json"))
    out = os.path.join(TMP, "report.html")
    raw, _ = render(*files, out=out)
    text, page, data = parse(raw)
    check_csp(page)
    # Nothing of an attack left as markup: '<' only starts the renderer's
    # own tags, and the data block has none at all.
    markup = re.sub(r"(<(script|style)[^>]*>).*?(</\2>)", r"\1\3", text,
                    flags=re.S)
    for tag in re.findall(r"<\s*/?\s*([a-zA-Z!][a-zA-Z0-9]*)", markup):
        check(tag.lower() in TAGS or tag == "!DOCTYPE",
              "markup <%s in the page" % tag)
    block = page.scripts[0][1]
    for bad in ("<", "\u2028", "\u2029"):
        check(bad not in block, "%r in the data block" % bad)
    for bad in ("<img", "<svg", "<iframe", "<b>", "</title><script",
                "<!--"):
        check(bad not in text, "%r unescaped in the page" % bad)
    # The data block round-trips: every name as it was (control bytes
    # as in the text report).
    strings = set(data["s"])
    for s in gen_reports.HOSTILE:
        if s == gen_reports.HOSTILE_ARG:
            continue  # argv is in the header
        check(s in strings, "%r not in the data block's strings" % s,
              sorted(strings))
    check("bell\\x07tab\\x09nl\\x0a" in strings,
          "control bytes not shown as \\xNN", sorted(strings))
    check(len(data["g"]) == 7, "expected 7 groups (one suppressed), got "
          "%d" % len(data["g"]), data["g"])
    kinds = [data["s"][g["k"]] for g in data["g"]]
    check(kinds[:4] == ["double_release", "use_after_release",
                        "invalid_release", "family_mismatch"] and
          kinds[4:6] == ["leak", "leak"], "kinds in the model's order",
          kinds)
    check([g.get("sup") for g in data["g"]] == [None] * 6 + [1],
          "the suppressed group last", data["g"])
    leak = data["g"][4]
    check(leak["n"] == 6 and sorted(leak["p"]) == [4242, 4243] and
          leak["rc"] == 2 and len(leak["aq"]) == 1,
          "the hostile leak group merged over two processes", leak)
    stack = [data["f"][i] for i in data["k"][leak["st"]]]
    check(data["s"][stack[0][1]] == gen_reports.HOSTILE_FN and
          data["s"][stack[1][2]] == gen_reports.HOSTILE_FILE and
          stack[1][0] == 1 and stack[0][0] == 0,
          "the leak's stack, innermost first, native then Python", stack)
    # The header: HTML-escaped, read back as the text it was.
    check(gen_reports.HOSTILE_ARG in page.title, "argv not in the title",
          page.title)
    check(gen_reports.HOSTILE_ARG in page.text.get("program", ""),
          "argv not in the program card", page.text.get("program"))
    check("zoo<script>.spec" in page.text.get("program", ""),
          "the spec not in the program card", page.text.get("program"))
    check(page.text.get("summary", "").startswith("SUMMARY: refsan: 8 "
                                                  "leaked handle(s)"),
          "summary line", page.text.get("summary"))
    # Deterministic, and the same on stdout.
    again, _ = render(*files)
    check(again == raw, "the page differs between runs or on stdout")


def case_big():
    t = time.monotonic()
    gen_reports.big(TMP, 10000, 100000)
    gen = time.monotonic() - t
    out = os.path.join(TMP, "big.html")
    raw, took = render("big.5000.json", out=out)
    check(took < BIG_MAX_SECONDS, "rendering took %.1f s" % took)
    check(len(raw) < BIG_MAX_BYTES, "the page has %d bytes, more than %d" %
          (len(raw), BIG_MAX_BYTES))
    _, page, data = parse(raw)
    check_csp(page)
    check(len(data["g"]) == 10000, "groups: %d" % len(data["g"]))
    check(sum(g["n"] for g in data["g"]) == 100000, "handles do not add up")
    check(all(len(data["k"][g["st"]]) == 10 for g in data["g"]),
          "every stack has its 10 frames")
    print("big: %d bytes, generated in %.1f s, rendered in %.1f s" %
          (len(raw), gen, took))


def case_clean():
    r = gen_reports.report(77, ["python3", "ok.py"], [], {})
    with open(os.path.join(TMP, "ok.77.json"), "w") as f:
        json.dump(r, f)
    raw, _ = render("ok.77.json", out=os.path.join(TMP, "ok.html"),
                    expect=0)
    _, page, data = parse(raw)
    check_csp(page)
    check(data["g"] == [] and data["final"] is True, "clean data", data)
    check("no errors" in page.text.get("summary", ""), "clean summary",
          page.text.get("summary"))


def main():
    fn = globals().get("case_" + CASE)
    if not fn:
        print("unknown case %s" % CASE)
        return 2
    try:
        fn()
    except Fail as e:
        print(e)
        return 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("ok: " + CASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
