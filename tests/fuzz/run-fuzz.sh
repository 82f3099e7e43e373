#!/bin/sh
# run-fuzz.sh: build refsan's libFuzzer targets with clang straight from the
# sources and run each for SECONDS.  Exit 0 when no target found anything,
# 1 on a finding (the input is left in WORKDIR/crash-* and printed in
# base64), 77 (meson's "skipped") when clang cannot build fuzzers here.
#
#   tests/fuzz/run-fuzz.sh [-t SECONDS] [-w WORKDIR] [-j JOBS] [TARGET...]
#
# Targets: spec options suppress json_read (the last only when
# tools/json_read.c exists).  New inputs go to WORKDIR/corpus-TARGET, never
# into the repository's seed corpus; copy the interesting ones by hand.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
secs=30
work=
jobs=1
while getopts t:w:j: o; do
	case $o in
	t) secs=$OPTARG ;;
	w) work=$OPTARG ;;
	j) jobs=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS] [-w WORKDIR] [TARGET...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=${*:-spec options suppress json_read}
[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/refsan-fuzz.XXXXXX")
mkdir -p "$work"
CC=${FUZZ_CC:-clang}

# Can this clang build a fuzzer at all?  (Debian: clang + libclang-rt-dev.)
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ return 0; }\n' >"$work/probe.c"
if ! $CC -fsanitize=fuzzer,address "$work/probe.c" -o "$work/probe" 2>/dev/null; then
	echo "run-fuzz: $CC cannot build libFuzzer targets (apt-get install clang libclang-rt-14-dev); skipped"
	exit 77
fi

cat >"$work/config.h" <<CFG
#pragma once
#define REFSAN_VERSION "0.1.0"
#define REFSAN_PROFILE_DIRS "$src/profiles"
#define REFSAN_LIBUNWIND_SONAME "libunwind.so.8"
#define REFSAN_LIBDW_SONAME "libdw.so.1"
CFG
cflags="-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -include $work/config.h -I$src/src -I$src/tools -I$src/include"

status=0
for t in $targets; do
	case $t in
	spec) srcs="$here/fuzz_spec.c $src/src/spec.c $src/src/text_file.c" ;;
	options) srcs="$here/fuzz_options.c" ;;
	suppress) srcs="$here/fuzz_suppress.c $src/src/suppress.c $src/src/text_file.c" ;;
	json_read)
		if [ ! -f "$src/tools/json_read.c" ]; then
			echo "run-fuzz: json_read: tools/json_read.c not there yet; skipped"
			continue
		fi
		srcs="$here/fuzz_json_read.c $src/tools/json_read.c" ;;
	*) echo "run-fuzz: unknown target $t" >&2; exit 2 ;;
	esac
	# shellcheck disable=SC2086
	if ! $CC $cflags $srcs -o "$work/fuzz-$t" 2>"$work/build-$t.log"; then
		cat "$work/build-$t.log" >&2
		echo "run-fuzz: $t: build failed" >&2
		status=1
		continue
	fi
	mkdir -p "$work/corpus-$t"
	dict=
	[ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
	# Bad inputs must fail fast: 5 s per input is already a hang, 1 GiB
	# of memory a blow-up.
	# shellcheck disable=SC2086
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$work/fuzz-$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
		-max_len=4096 -print_final_stats=1 -jobs="$jobs" -workers="$jobs" \
		-artifact_prefix="$work/$t-" $dict \
		"$work/corpus-$t" "$here/corpus/$t" >"$work/fuzz-$t.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz-$t.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/fuzz-$t.log" | tail -1)
	echo "run-fuzz: $t: ${execs:-?} executions in ${secs} s, $cov, corpus $(ls "$work/corpus-$t" | wc -l) inputs, exit $rc"
	if [ $rc -ne 0 ]; then
		status=1
		tail -40 "$work/fuzz-$t.log"
		for a in "$work/$t-"*; do
			[ -f "$a" ] || continue
			echo "run-fuzz: $t: finding $a (base64):"
			base64 "$a" | head -20
		done
	fi
done
exit $status
