"""W5 of the benchmarks (bench/run.py): the W1 loop from Python,
N x (p = create(); release(p)) over libbenchobj, through ctypes or cffi
(ABI mode, ffi.dlopen).  Prints "BENCH key=value" lines: the loop's wall
and CPU time in nanoseconds.

    python3 bench/w5_loop.py ctypes|cffi LIBBENCHOBJ N
"""
import sys
import time


def main():
    how, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if how == "ctypes":
        import ctypes
        lib = ctypes.CDLL(path)
        create, release = lib.bo_create, lib.bo_release
        create.argtypes, create.restype = [], ctypes.c_void_p
        release.argtypes, release.restype = [ctypes.c_void_p], None
    elif how == "cffi":
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("void *bo_create(void); void bo_release(void *);")
        lib = ffi.dlopen(path)
        create, release = lib.bo_create, lib.bo_release
    else:
        sys.exit("usage: w5_loop.py ctypes|cffi LIB N")

    def loop():
        for _ in range(n):
            p = create()
            release(p)

    t0, c0 = time.perf_counter_ns(), time.process_time_ns()
    loop()
    c1, t1 = time.process_time_ns(), time.perf_counter_ns()
    print("BENCH loop_ns=%d" % (t1 - t0))
    print("BENCH loop_cpu_ns=%d" % (c1 - c0))
    print("BENCH ops=%d" % n)


main()
