#!/bin/sh
# run.sh [BUILD_DIR]: the Quick start's demo.  Runs demo/app.py (a Python
# program using a ctypes wrapper with two refcount bugs) under refsan with
# the demo's spec, so the leak and the double release are reported with
# the Python lines that made them.  Exits with refsan's status (23).
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
echo "+ LD_PRELOAD=$build/src/librefsan.so REFSAN_OPTIONS=spec=demo/zoo.spec python3 demo/app.py" >&2
ZOO_LIB="$build/demo/libzoo.so.1" \
LD_PRELOAD="$build/src/librefsan.so" \
REFSAN_OPTIONS="spec=$here/zoo.spec" \
	exec /usr/bin/python3 "$here/app.py"
