"""List tail calls a library makes to its own spec'd exports.

    tailcalls.py SPEC LIBRARY.so

refsan decides that a call is the library's own (internal: it creates
nothing and raises nothing) by the caller's return address.  A tail call
(`jmp NAME@plt` as the last thing a function does) leaves the outer caller's
return address in place, so the library's own call to NAME looks like the
program's.  This script disassembles LIBRARY with objdump and prints every
`jmp` to the PLT entry of a function the spec names, with the nearest
symbol before it (a stripped library names only its exports, so a static
function shows as the export before it).  A tail call from an export that
programs call is a place where refsan sees an outside call that is really
internal (docs/profiles.md, "Tail calls").
"""
import fnmatch
import re
import subprocess
import sys


def spec_functions(path):
    names = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if len(line) >= 3 and line[0] in ("create", "acquire",
                                              "release", "use"):
                names.append((line[0], line[1]))
    return names


def main():
    spec, lib = sys.argv[1:3]
    rules = spec_functions(spec)
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", lib],
                         capture_output=True, text=True, check=True).stdout
    func = None
    found = 0
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            func = m.group(1)
            continue
        m = re.search(r"\sjmp\s+[0-9a-f]+ <([^@>+]+)@plt>", line)
        if not m or func is None or func.endswith("@plt"):
            continue
        callee = m.group(1)
        for role, pat in rules:
            if fnmatch.fnmatchcase(callee, pat):
                print("%s: in or after %s: jmp %s (%s)" % (lib, func, callee,
                                                            role))
                found += 1
                break
    print("%d tail call(s)" % found)


if __name__ == "__main__":
    main()
