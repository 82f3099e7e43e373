"""zoo_wrap.py: a ctypes wrapper for libzoo in the style of the `refcount`
package: Python objects that own a reference to a native handle and give
it back in release() or when they are collected.

It has two bugs, on purpose, for refsan's demo:
  * DogOwner forgets to release its native owner (a leak);
  * Dog.release() does not forget the handle, so a second release() (or
    the one in __del__) releases the dog twice.
"""
import ctypes
import os

_here = os.path.dirname(os.path.abspath(__file__))
_lib = ctypes.CDLL(os.environ.get("ZOO_LIB", os.path.join(_here, "libzoo.so.1")))
_lib.create_dog.restype = ctypes.c_void_p
_lib.create_dog.argtypes = [ctypes.c_char_p]
_lib.create_owner.restype = ctypes.c_void_p
_lib.create_owner.argtypes = [ctypes.c_void_p]
_lib.add_ref.argtypes = [ctypes.c_void_p]
_lib.release.argtypes = [ctypes.c_void_p]
_lib.say_walk.argtypes = [ctypes.c_void_p]


class Dog:
    def __init__(self, name):
        self._handle = _lib.create_dog(name.encode())
        self._released = False

    def add_ref(self):
        _lib.add_ref(self._handle)

    def walk(self):
        return _lib.say_walk(self._handle)

    def release(self):
        _lib.release(self._handle)  # BUG: the handle is not forgotten

    def __del__(self):
        if not self._released:
            self.release()


class DogOwner:
    def __init__(self, dog):
        self._handle = _lib.create_owner(dog._handle)

    def release(self):
        pass  # BUG: the native owner is never released
