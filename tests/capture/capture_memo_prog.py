"""The program of test_capture_memo.py: libzoo's create_dog called from
Python through one helper, from several lines, in an order that mixes
them, so that the same native stack is reached with different Python
frames (each line's first capture takes the full path, the later ones the
memo).  Every dog leaks.

    capture_memo_prog.py ctypes|cffi /path/to/libzoo.so.1 N
"""
import sys

BACKEND, LIBPATH, N = sys.argv[1], sys.argv[2], int(sys.argv[3])

if BACKEND == "ctypes":
    import ctypes

    _lib = ctypes.CDLL(LIBPATH)
    _lib.create_dog.restype = ctypes.c_void_p
    _lib.create_dog.argtypes = [ctypes.c_char_p]
    create_dog = _lib.create_dog
else:
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("void *create_dog(const char *);")
    _lib = ffi.dlopen(LIBPATH)
    create_dog = _lib.create_dog


def make(i):
    # Three lines, one code object, one native stack.
    if i % 3 == 0:
        return create_dog(b"a")  # L:line_a
    if i % 3 == 1:
        return create_dog(b"b")  # L:line_b
    return create_dog(b"c")  # L:line_c


def outer_x(i):
    return make(i)  # L:outer_x


def outer_y(i):
    return make(i)  # L:outer_y


def recurse(d, i):
    if d == 0:
        return make(i)  # L:recurse_leaf
    return recurse(d - 1, i)  # L:recurse_step


keep = []
for i in range(N):
    # Sites in a mixed order: i // 7 changes the caller every 7 calls.
    if (i // 7) % 2:
        keep.append(outer_x(i))
    else:
        keep.append(outer_y(i))
for i in range(N):
    keep.append(recurse(i % 4, i))

# Code objects compiled again and again under other file names, and
# dropped at once: a new one often takes a freed one's address, and its
# strings (file name, line table) the freed strings' addresses, so that
# only the count of freed code objects tells them apart.
GEN_SRC = "def gen(i):\n    return create_dog(b'g')\n"
G = {"create_dog": create_dog}
for i in range(N):
    j = i % 5
    exec(compile(GEN_SRC, "<memo-gen%d>" % j, "exec"), G)
    g = G.pop("gen")
    keep.append(g(i))  # L:gen_call
    del g
print("made=%d" % len(keep))
