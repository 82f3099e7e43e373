"""The program of test_python_sites.py: libzoo's create_dog called from one
Python line of a callback that native code (py_via, tests/capture/py_via.c)
calls through via_a or via_b in a fixed pseudo-random order, so that a
Python caller's call site sees the same return-address slot, the same
Python frames and two native stacks.  Every dog leaks.

    python_sites_prog.py ctypes|cffi LIBZOO LIBPYVIA N
"""
import sys

BACKEND, LIBZOO, LIBVIA, N = sys.argv[1], sys.argv[2], sys.argv[3], \
    int(sys.argv[4])
keep = []

if BACKEND == "ctypes":
    import ctypes

    zoo = ctypes.CDLL(LIBZOO)
    zoo.create_dog.restype = ctypes.c_void_p
    zoo.create_dog.argtypes = [ctypes.c_char_p]
    create_dog = zoo.create_dog
    via = ctypes.CDLL(LIBVIA)
    CB = ctypes.CFUNCTYPE(None)
    via.py_via.argtypes = [ctypes.c_int, CB]
    via.py_via.restype = None

    def callback():
        keep.append(create_dog(b"v"))  # L:callback

    cb = CB(callback)
else:
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("void *create_dog(const char *);"
             "void py_via(int, void (*)(void));")
    zoo = ffi.dlopen(LIBZOO)
    create_dog = zoo.create_dog
    via = ffi.dlopen(LIBVIA)

    @ffi.callback("void(void)")
    def cb():
        keep.append(create_dog(b"v"))  # L:callback

x = 12345
for i in range(N):
    x = (x * 1103515245 + 12345) & 0xffffffff
    via.py_via(1 if (x >> 16) % 3 else 0, cb)  # L:loop
print("made=%d" % len(keep))
