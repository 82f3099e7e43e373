"""The README's options table is exactly what options.inc generates
(tools/options-table); run by meson test with the generator and README."""
import subprocess
import sys

gen, readme = sys.argv[1], sys.argv[2]
want = subprocess.run([gen], capture_output=True, text=True, check=True).stdout
text = open(readme).read()
begin, end = "<!-- options:begin -->\n", "<!-- options:end -->"
if begin not in text or end not in text:
    sys.exit("README.md lacks the options markers")
have = text.split(begin, 1)[1].split(end, 1)[0]
if have.strip() != want.strip():
    print("README.md's options table differs from options.inc; regenerate with:")
    print("  build/tools/options-table  (and paste between the markers)")
    print("--- generated\n" + want + "--- README\n" + have)
    sys.exit(1)
print("ok: README options table matches options.inc")
