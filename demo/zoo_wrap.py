"""Python bindings for libzoo (demo/zoo.c) through ctypes, in the style of
the `refcount` package: Dog() creates a native dog, DogOwner(dog) holds a
reference on it, and each wrapper releases its reference in __del__.

The library is looked up in $ZOO_LIB, then next to the build of this
checkout (build/demo/libzoo.so.1), then on the system.
"""
import ctypes
import ctypes.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _find():
    cands = [os.environ.get("ZOO_LIB"),
             os.path.join(_HERE, "..", "build", "demo", "libzoo.so.1"),
             os.path.join(os.getcwd(), "build", "demo", "libzoo.so.1"),
             ctypes.util.find_library("zoo")]
    for c in cands:
        if c and (os.path.exists(c) or "/" not in c):
            return c
    raise OSError("libzoo not found: build it (meson compile -C build) "
                  "or set ZOO_LIB")


_lib = ctypes.CDLL(_find())
_P = ctypes.c_void_p
for _name, _res, _args in [("create_dog", _P, [ctypes.c_char_p]),
                           ("create_owner", _P, [_P]),
                           ("add_ref", None, [_P]),
                           ("release", None, [_P]),
                           ("say_walk", ctypes.c_int, [_P])]:
    _f = getattr(_lib, _name)
    _f.restype = _res
    _f.argtypes = _args


class Dog:
    def __init__(self, name="rex"):
        self._h = _lib.create_dog(name.encode())

    def walk(self):
        return bool(_lib.say_walk(self._h))

    def add_ref(self):
        _lib.add_ref(self._h)

    def release(self):
        _lib.release(self._h)

    def __del__(self):
        _lib.release(self._h)


class DogOwner:
    def __init__(self, dog):
        self.dog = dog
        self._h = _lib.create_owner(dog._h)

    def __del__(self):
        _lib.release(self._h)
