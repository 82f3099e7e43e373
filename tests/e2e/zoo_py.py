"""Python callers of libzoo for the e2e tests, through ctypes or cffi (ABI
mode, ffi.dlopen), with wrappers in the style of the `refcount` package:
Dog() creates, DogOwner(dog) holds a reference, __del__ releases.

    zoo_py.py ctypes|cffi MODE /path/to/libzoo.so.1

Prints what reached the library; the runner checks refsan's verdict.
"""
import os
import signal
import sys
import threading

BACKEND, MODE, LIBPATH = sys.argv[1], sys.argv[2], sys.argv[3]

if BACKEND == "ctypes":
    import ctypes

    _lib = ctypes.CDLL(LIBPATH)
    P = ctypes.c_void_p
    for name, res, args in [
            ("create_dog", P, [ctypes.c_char_p]),
            ("create_owner", P, [P]),
            ("add_ref", None, [P]),
            ("release", None, [P]),
            ("say_walk", ctypes.c_int, [P]),
            ("open_cage", ctypes.c_int, [ctypes.POINTER(P)]),
            ("close_cage", ctypes.c_int, [P]),
            ("zoo_set_fail", None, [ctypes.c_int]),
            ("zoo_bump", None, [P]),
            ("zoo_live_count", ctypes.c_long, []),
            ("zoo_release_calls", ctypes.c_long, []),
            ("zoo_mix", ctypes.c_double, [ctypes.c_long] * 8 +
             [ctypes.c_double] * 2 + [ctypes.c_char_p])]:
        f = getattr(_lib, name)
        f.restype = res
        f.argtypes = args

    class lib:
        create_dog = _lib.create_dog
        create_owner = _lib.create_owner
        add_ref = _lib.add_ref
        release = _lib.release
        say_walk = _lib.say_walk
        close_cage = _lib.close_cage
        zoo_set_fail = _lib.zoo_set_fail
        zoo_bump = _lib.zoo_bump
        zoo_live_count = _lib.zoo_live_count
        zoo_release_calls = _lib.zoo_release_calls
        zoo_mix = _lib.zoo_mix

        @staticmethod
        def open_cage():
            out = P()
            r = _lib.open_cage(ctypes.byref(out))
            return r, out.value
else:
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("""
        void *create_dog(const char *name);
        void *create_owner(void *d);
        void add_ref(void *o);
        void release(void *o);
        int say_walk(void *d);
        int open_cage(void **out);
        int close_cage(void *c);
        void zoo_set_fail(int n);
        void zoo_bump(void *o);
        long zoo_live_count(void);
        long zoo_release_calls(void);
        double zoo_mix(long, long, long, long, long, long, long, long,
                       double, double, const char *);
    """)
    _lib = ffi.dlopen(LIBPATH)

    class lib:
        create_dog = _lib.create_dog
        create_owner = _lib.create_owner
        add_ref = _lib.add_ref
        release = _lib.release
        say_walk = _lib.say_walk
        close_cage = _lib.close_cage
        zoo_set_fail = _lib.zoo_set_fail
        zoo_bump = _lib.zoo_bump
        zoo_live_count = _lib.zoo_live_count
        zoo_release_calls = _lib.zoo_release_calls
        zoo_mix = _lib.zoo_mix

        @staticmethod
        def open_cage():
            out = ffi.new("void **")
            r = _lib.open_cage(out)
            return r, out[0]


class Dog:
    def __init__(self, name=b"rex"):
        self.h = lib.create_dog(name)

    def walk(self):
        return lib.say_walk(self.h)

    def add_ref(self):
        lib.add_ref(self.h)

    def release(self):
        lib.release(self.h)

    def __del__(self):
        lib.release(self.h)


class DogOwner:
    def __init__(self, dog):
        self.h = lib.create_owner(dog.h)

    def __del__(self):
        lib.release(self.h)


def state():
    print("live=%d release_calls=%d" % (lib.zoo_live_count(),
                                        lib.zoo_release_calls()))
    sys.stdout.flush()


def pairs(n):
    for _ in range(n):
        d = Dog(b"t")
        d.walk()
        del d


if MODE == "clean":
    dog = Dog()
    owner = DogOwner(dog)
    dog.add_ref()
    dog.release()
    assert dog.walk() == 1
    r, cage = lib.open_cage()
    assert r == 0
    lib.close_cage(cage)
    print("mix=%r" % lib.zoo_mix(0, 2, -3, 4, 5, 6, 7, 8, 1.5, -2.25, b"abcdef"))
    del owner, dog
elif MODE == "leak":
    leaked = lib.create_dog(b"leaky")  # never released  # LEAK_LINE
elif MODE == "double":
    dog = Dog(b"twice")
    lib.zoo_bump(dog.h)  # the library keeps it: no real use after free
    before = lib.zoo_release_calls()
    dog.release()  # and __del__ releases it again  # DOUBLE_LINE
    del dog
    print("reached=%d" % (lib.zoo_release_calls() - before))
elif MODE == "uaf":
    h = lib.create_dog(b"gone")
    lib.zoo_bump(h)  # the library keeps it: no real use after free
    lib.release(h)
    print("walk=%d" % lib.say_walk(h))  # UAF_LINE
elif MODE == "cage":
    lib.zoo_set_fail(1)
    r, _ = lib.open_cage()
    print("fail=%d" % r)
    r, cage = lib.open_cage()
    print("ok=%d" % r)
    lib.close_cage(cage)
elif MODE == "threads":
    ts = [threading.Thread(target=pairs, args=(20000,)) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
elif MODE == "fork":
    parent_dog = Dog(b"parent")  # live in the parent, released there
    pid = os.fork()
    if pid == 0:
        child = lib.create_dog(b"child")  # leaked  # CHILD_LEAK_LINE
        sys.stdout.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print("child_status=%d" % os.waitstatus_to_exitcode(status))
    del parent_dog
elif MODE == "os_exit":
    d = lib.create_dog(b"exit")  # EXIT_LEAK_LINE
    state()
    os._exit(0)
elif MODE == "signal":
    d = lib.create_dog(b"crash")  # SIGNAL_LEAK_LINE
    state()
    os.kill(os.getpid(), signal.SIGSEGV)
else:
    sys.exit("unknown mode " + MODE)
state()
