"""Leaks a libzoo dog from Python code whose function name and file name
hold quotes, backslashes, a newline, a NUL-free control byte, U+2028 and
"</script>": refsan copies them into its reports, which must escape them.

    python3 names.py LIBZOO
"""
import ctypes
import sys

NAME = 'evil"\\\n</script><b>\x1b[31m\u2028x'
FILE = '/tmp/we"ird\\\n</script>\u2028\x1b.py'

zoo = ctypes.CDLL(sys.argv[1])
zoo.create_dog.restype = ctypes.c_void_p
zoo.create_dog.argtypes = [ctypes.c_char_p]
KEEP = []

src = "def f(zoo, keep):\n    keep.append(zoo.create_dog(b'x'))\n"
ns = {}
exec(compile(src, FILE, "exec"), ns)
f = ns["f"]
f.__code__ = f.__code__.replace(co_name=NAME, co_qualname=NAME)
f(zoo, KEEP)
print("leaked", hex(KEEP[0]))
