#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/fuzz/run.sh - run natsync's libFuzzer targets (tests/fuzz/fuzz_*.c).
#
#   FUZZ_BUILD=build/fuzz tests/fuzz/run.sh regress [SECONDS]
#	Replay every kept input of tests/fuzz/corpus/<target>/ once (the
#	regression test: every crash ever found stays fixed), then, when
#	SECONDS > 0, fuzz each target for SECONDS from that corpus.
#	Used by "make test" (make fuzz-regress).
#   FUZZ_BUILD=build/fuzz tests/fuzz/run.sh fuzz SECONDS [TARGET...]
#	Fuzz each target (default: all) for SECONDS ("make fuzz").
#
# New interesting inputs go to $FUZZ_BUILD/corpus/<target>/ (scratch, not
# the repository: the kept corpus stays small); crashes, timeouts and leaks
# to $FUZZ_BUILD/artifacts/. A failure prints the input's path: fix the bug,
# then copy the input into tests/fuzz/corpus/<target>/ as crash-<what>.
# The last line is "fuzz: N targets, E executions, S s, F failed".
#
# Environment: FUZZ_JOBS (parallel fuzzer processes per target, default 1),
# FUZZ_ARGS (extra libFuzzer flags).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath -m "${FUZZ_BUILD:-$here/../../build/fuzz}")
mode=${1:-}
secs=${2:-0}
shift 2 2>/dev/null || shift $#
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_sync_wire fuzz_config fuzz_ctl)

case "$mode" in
regress | fuzz) ;;
*)
	sed -n '4,19p' "$0" >&2
	exit 2
	;;
esac
case "$secs" in
'' | *[!0-9]*) echo "run.sh: SECONDS must be a number, not '$secs'" >&2; exit 2 ;;
esac

# Leaks are errors; libFuzzer reports them itself (-detect_leaks=1), the
# suppressions only cover third-party libraries (see the file).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp}

# Per-target libFuzzer options: a dictionary when there is one, an input
# size bound (a config file or a sync stream larger than this tests only
# the time it takes to read it).
target_args()
{
	local t=$1 dict=$here/${1#fuzz_}.dict

	case "$t" in
	fuzz_sync_wire) echo -max_len=65536 ;;
	fuzz_config) echo -max_len=16384 ;;
	fuzz_ctl) echo -max_len=1200 ;;
	esac
	[ -f "$dict" ] && echo "-dict=$dict"
}

failed=0
total_execs=0
start_all=$(date +%s)

# replay TARGET: every kept input once; libFuzzer exits non-zero on the
# first crash, leak or check failure.
replay()
{
	local t=$1 bin=$build/$1 dir=$here/corpus/$1 log args files

	mapfile -t args < <(target_args "$t")
	mapfile -t files < <(find "$dir" -type f | sort)
	log=$build/logs/$t.regress.log
	if "$bin" -timeout=10 -rss_limit_mb=2048 "${args[@]}" "${files[@]}" >"$log" 2>&1; then
		echo "fuzz: $t: replayed ${#files[@]} kept inputs: OK"
		total_execs=$((total_execs + ${#files[@]}))
	else
		echo "fuzz: $t: replay of the kept corpus FAILED (log: $log)"
		grep -E "ERROR|SUMMARY|check failed|Running:" "$log" | tail -8 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

# fuzz TARGET SECONDS: bounded fuzzing from the kept corpus plus the
# scratch corpus of earlier runs.
fuzz()
{
	local t=$1 s=$2 bin=$build/$1 work=$build/corpus/$1 log execs jobs args extra

	mkdir -p "$work" "$build/artifacts"
	mapfile -t args < <(target_args "$t")
	read -r -a extra <<<"${FUZZ_ARGS:-}"
	log=$build/logs/$t.fuzz.log
	jobs=()
	# Parallel jobs write fuzz-N.log into the current directory: the logs dir.
	[ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
	if (cd "$build/logs" && "$bin" -max_total_time="$s" -timeout=10 -rss_limit_mb=2048 \
		"${jobs[@]}" -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 \
		"${args[@]}" "${extra[@]}" "$work" "$here/corpus/$t") >"$log" 2>&1; then
		:
	else
		echo "fuzz: $t: FAILED after fuzzing (log: $log)"
		grep -E "ERROR|SUMMARY|check failed|Test unit written" "$log" | tail -8 |
			sed 's/^/    /'
		failed=$((failed + 1))
	fi
	# -jobs writes fuzz-N.log per job; count the executions of all.
	execs=$(cat "$log" "$build"/logs/fuzz-[0-9]*.log 2>/dev/null |
		awk '/stat::number_of_executed_units/ {n += $2} END {print n + 0}')
	rm -f "$build"/logs/fuzz-[0-9]*.log
	echo "fuzz: $t: ${s}s, $execs executions, corpus $(find "$work" -type f | wc -l) inputs"
	total_execs=$((total_execs + execs))
}

mkdir -p "$build/logs"
for t in "${targets[@]}"; do
	if [ ! -x "$build/$t" ]; then
		echo "fuzz: $build/$t not built (make BUILD=... fuzz)" >&2
		failed=$((failed + 1))
		continue
	fi
	[ "$mode" = regress ] && replay "$t"
	[ "$secs" -gt 0 ] && fuzz "$t" "$secs"
done
echo "fuzz: ${#targets[@]} targets, $total_execs executions," \
	"$(($(date +%s) - start_all)) s, $failed failed"
[ "$failed" -eq 0 ]
