"""libcurl through python3-pycurl on file:// URLs only (no network).

Run by Debian's /usr/bin/python3 under refsan with spec=curl (run_real.py,
case pycurl).  Exercises every handle type the curl profile models: easy
handles (init, duphandle, reset, perform, cleanup), a multi handle with
several easy handles added and removed, and a share handle attached to
easy handles.  Prints one line per part and "pycurl: ok" at the end.
"""
import io
import os
import sys
import tempfile

import pycurl


def fetch(c, url):
    buf = io.BytesIO()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.WRITEDATA, buf)
    c.perform()
    return buf.getvalue()


def main():
    tmp = tempfile.mkdtemp(prefix="refsan-pycurl-")
    urls = []
    for i in range(8):
        path = os.path.join(tmp, "f%d.txt" % i)
        with open(path, "wb") as f:
            f.write(b"file %d\n" % i * (i + 1))
        urls.append("file://" + path)

    # Easy handles: one per fetch, closed explicitly.
    for i, url in enumerate(urls):
        c = pycurl.Curl()
        assert fetch(c, url) == b"file %d\n" % i * (i + 1)
        c.close()
    print("easy: ok")

    # reset and duphandle.
    c = pycurl.Curl()
    fetch(c, urls[0])
    c.reset()
    d = c.duphandle()
    assert fetch(d, urls[1]) == b"file 1\n" * 2
    d.close()
    c.close()
    print("duphandle: ok")

    # A missing file: perform fails, the handle is still closed.
    c = pycurl.Curl()
    try:
        fetch(c, "file://" + os.path.join(tmp, "missing"))
        raise AssertionError("a missing file:// URL should fail")
    except pycurl.error:
        pass
    c.close()
    print("error: ok")

    # Multi: several easy handles at once.
    m = pycurl.CurlMulti()
    handles = []
    for url in urls:
        c = pycurl.Curl()
        c.buf = io.BytesIO()
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.WRITEDATA, c.buf)
        m.add_handle(c)
        handles.append(c)
    running = len(handles)
    while running:
        ret, running = m.perform()
        if running:
            m.select(1.0)
    for c in handles:
        m.remove_handle(c)
        c.close()
    m.close()
    print("multi: ok")

    # Share: cookies and DNS shared between two easy handles.
    s = pycurl.CurlShare()
    s.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_COOKIE)
    s.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_DNS)
    a, b = pycurl.Curl(), pycurl.Curl()
    for c in (a, b):
        c.setopt(pycurl.SHARE, s)
        fetch(c, urls[2])
    a.close()
    b.close()
    s.close()
    print("share: ok")

    # Handles left to the garbage collector (pycurl's dealloc cleans up).
    for url in urls[:3]:
        c = pycurl.Curl()
        fetch(c, url)
        del c
    print("gc: ok")

    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    print("pycurl: ok")


if __name__ == "__main__":
    sys.exit(main())
