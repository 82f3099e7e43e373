"""refsan's demo: a program with two bugs in its use of libzoo's handles.

    LD_PRELOAD=build/src/librefsan.so REFSAN_OPTIONS=spec=demo/zoo.spec \
        python3 demo/app.py

reports a double release (a Dog released by hand and again by __del__)
and a leak (a reference taken and never given back), exits with status 23.
"""
from zoo_wrap import Dog, DogOwner


def walk_twice():
    dog = Dog("rex")
    owner = DogOwner(dog)
    dog.walk()
    dog.release()  # bug: __del__ releases it again
    del owner


def fill_kennel():
    kennel = [Dog("fido"), Dog("lassie")]
    kennel[0].add_ref()  # bug: this reference is never released
    return len(kennel)


walk_twice()
fill_kennel()
print("done")
