#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/test-all.sh - what "make test" runs: every suite, in order, even
# after one has failed, then totals computed from what ran.
#
#   BUILD=build scripts/test-all.sh [SUITE...]
#
# SUITE: unit asan-unit fuzz-regress install-test bpftest netns (default:
# all of them).
# Each suite is "make BUILD=$BUILD SUITE"; its output goes to the terminal
# and to $BUILD/test-logs/SUITE.log. What is counted:
#   unit, asan-unit, bpftest  Criterion tests: passed and failed from the
#		"[====] Synthesis:" line (failed = Tested - Passing, crashes
#		included), skipped tests (cr_skip_test) and their reasons from
#		the TAP report ($BUILD/test-logs/SUITE.tap, CRITERION_ARGS);
#		Criterion leaves skipped tests out of "Tested".
#   fuzz-regress  per target, the replay of the kept corpus and the short
#		fuzzing run (tests/fuzz/run.sh; failed from its last line).
#   install-test  checks of tests/install/test_install.sh, from its last
#		line "install-test: N passed, M failed, K skipped", its
#		"FAIL: ..." and "SKIP: reason" lines.
#   netns	scripts, from the last line of tests/netns/run-all.sh,
#		"N passed, M failed, K skipped", and its "skipped: ..." lines.
# A suite passes when its counts were found, something passed, nothing
# failed, its make exited 0 (or 77 when netns or install-test only
# skipped), and every skip has a reason listed in README.md under
# "### Accepted skips" (a reason is accepted when it begins with a listed
# text). A suite with no failure
# but a skip that is not accepted, or in which nothing passed, is
# "skipped". The last line is "suites: N passed, M failed, K skipped";
# the exit status is 0 only when every suite passed.
#
# Environment: BUILD (default build), MAKE (default make).
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
all_suites=(unit asan-unit fuzz-regress install-test bpftest netns)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=("${all_suites[@]}")
for s in "${suites[@]}"; do
	case " ${all_suites[*]} " in
	*" $s "*) ;;
	*) echo "test-all.sh: unknown suite '$s' (one of: ${all_suites[*]})" >&2; exit 2 ;;
	esac
done
logdir=$BUILD/test-logs
mkdir -p "$logdir" || exit 1

# The accepted skip reasons: "- `REASON`..." lines of README.md's
# "### Accepted skips" section.
accepted=()
in_section=0
# shellcheck disable=SC2016 # backquotes, not an expansion
re='^- `([^`]+)`'
while IFS= read -r line; do
	case "$line" in
	"### Accepted skips"*) in_section=1; continue ;;
	"#"*) [ $in_section = 1 ] && break ;;
	esac
	[ $in_section = 1 ] && [[ $line =~ $re ]] && accepted+=("${BASH_REMATCH[1]}")
done <README.md

# is_accepted REASON
is_accepted()
{
	local a

	for a in "${accepted[@]}"; do
		[[ $1 == "$a"* ]] && return 0
	done
	return 1
}

# Output shown while it is written, without a pipe: a stray process that
# keeps the suite's stdout open cannot hang the run, and ^C reaches make.
sentinel=""
tailer=""
stop_tail()
{
	[ -n "$sentinel" ] && kill "$sentinel" 2>/dev/null
	# tail prints what is left in the log, then exits (--pid).
	[ -n "$tailer" ] && wait "$tailer" 2>/dev/null
	[ -n "$sentinel" ] && wait "$sentinel" 2>/dev/null
	sentinel=""
	tailer=""
}
trap stop_tail EXIT
trap 'stop_tail; echo "test-all.sh: interrupted" >&2; exit 130' INT TERM

declare -A R_PASS R_FAIL R_SKIP R_VERDICT R_SECS
notes=()
n_pass=0
n_fail=0
n_skip=0

# run_suite SUITE: run it, count, judge.
run_suite()
{
	local s=$1 log=$logdir/$1.log tap=$logdir/$1.tap rc start secs
	local p="" f="" k=0 t c bad_skips=0 why="" syn line name reason skips=() fails=()

	rm -f "$log" "$tap"
	: >"$log"
	sleep 2147483647 &
	sentinel=$!
	tail -n +1 -f --pid="$sentinel" "$log" &
	tailer=$!
	start=$(date +%s)
	echo "==== $s: $MAKE BUILD=$BUILD $s" >>"$log"
	# The TAP report names skipped tests and their reasons. (Not through
	# CRITERION_OUTPUTS: Criterion leaks that string, and LSan fails
	# asan-unit on it.)
	$MAKE --no-print-directory BUILD="$BUILD" CRITERION_ARGS="--tap=$tap" "$s" >>"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	echo "==== $s: make exit $rc, ${secs}s" >>"$log"
	stop_tail

	case "$s" in
	unit | asan-unit | bpftest)
		syn=$(sed 's/\x1b\[[0-9;]*m//g' "$log" |
			sed -n 's/.*Synthesis: Tested: \([0-9]*\) | Passing: \([0-9]*\) | Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2 \3 \4/p' |
			tail -n 1)
		if [ -n "$syn" ] && [ -f "$tap" ]; then
			read -r t p f c <<<"$syn"
			f=$((t - p))
			[ "$c" -gt 0 ] && notes+=("$s: $c crashed (counted as failed)")
			while IFS= read -r line; do
				name=${line#ok - }
				name=${name%%# SKIP*}
				name=${name%"${name##*[! ]}"}
				reason=${line#*# SKIP}
				reason=${reason# }
				skips+=("$name: $reason")
			done < <(grep -E '^ok .*# SKIP' "$tap")
			while IFS= read -r line; do
				line=${line#not ok - }
				fails+=("${line%%  (*}")
			done < <(grep -E '^not ok' "$tap")
		else
			why="no Criterion summary or TAP report (did it build? crash?)"
		fi
		;;
	fuzz-regress)
		line=$(sed -n 's/^fuzz: \([0-9]*\) targets, [0-9]* executions, [0-9]* s, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1)
		if [ -n "$line" ]; then
			read -r t f <<<"$line"
			p=$(($(grep -cE '^fuzz: [a-z_0-9]+: replayed .*: OK$' "$log") +
				$(grep -cE '^fuzz: [a-z_0-9]+: [0-9]+s, [0-9]+ executions' "$log") -
				$(grep -cE '^fuzz: [a-z_0-9]+: FAILED after fuzzing' "$log")))
			while IFS= read -r line; do
				fails+=("${line#fuzz: }")
			done < <(grep -E '^fuzz: .*(FAILED|not built)' "$log")
		else
			why="no \"fuzz: N targets, ... F failed\" line"
		fi
		;;
	install-test)
		line=$(sed -n 's/^install-test: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$log" | tail -n 1)
		if [ -n "$line" ]; then
			read -r p f k <<<"$line"
			while IFS= read -r line; do
				skips+=("test_install.sh: ${line#SKIP: }")
			done < <(grep -E '^SKIP: ' "$log")
			[ "${#skips[@]}" -eq "$k" ] || why="$k skipped but ${#skips[@]} reasons"
			while IFS= read -r line; do
				fails+=("${line#FAIL: }")
			done < <(grep -E '^FAIL: ' "$log")
		else
			why="no \"install-test: N passed, M failed, K skipped\" line"
		fi
		;;
	netns)
		line=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$log" | tail -n 1)
		if [ -n "$line" ]; then
			read -r p f k <<<"$line"
			while IFS= read -r line; do
				skips+=("${line#skipped: }")
			done < <(grep -E '^skipped: ' "$log")
			[ "${#skips[@]}" -eq "$k" ] || why="$k skipped but ${#skips[@]} reasons"
			line=$(grep -E '^failed: ' "$log" | tail -n 1)
			[ -n "$line" ] && fails+=("${line#failed: }")
			line=$(sed -n 's/^test_[a-z0-9_]*\.sh: \([0-9]*\) checks passed, \([0-9]*\) failed$/\1 \2/p' "$log" |
				awk '{p += $1; f += $2} END {print p + 0, f + 0}')
			notes+=("netns: checks inside the scripts: ${line% *} passed, ${line#* } failed")
		else
			why="no \"N passed, M failed, K skipped\" line"
		fi
		;;
	esac
	k=${#skips[@]}

	for line in "${fails[@]}"; do
		notes+=("$s: FAILED: $line")
	done
	for line in "${skips[@]}"; do
		reason=${line#*: }
		if is_accepted "$reason"; then
			notes+=("$s: skipped (accepted): $line")
		else
			notes+=("$s: skipped, NOT an accepted reason: $line")
			bad_skips=$((bad_skips + 1))
		fi
	done

	if [ -n "$why" ] || [ -z "$p" ]; then
		R_VERDICT[$s]=FAIL
		notes+=("$s: FAILED: ${why:-no counts}, make exit $rc (log: $log)")
		p=${p:-0} f=${f:-0}
	elif [ "$f" -gt 0 ]; then
		R_VERDICT[$s]=FAIL
	elif [ "$rc" -ne 0 ] && ! { { [ "$s" = netns ] || [ "$s" = install-test ]; } && [ "$k" -gt 0 ] &&
		grep -qE '\*\*\* \[.*\] Error 77$' "$log"; }; then
		# Criterion exits 0 with skips; run-all.sh and
		# test_install.sh exit 77 for them.
		R_VERDICT[$s]=FAIL
		notes+=("$s: FAILED: make exit $rc with no failed check counted (log: $log)")
	elif [ "$bad_skips" -gt 0 ] || [ "$p" -eq 0 ]; then
		R_VERDICT[$s]=SKIP
		[ "$p" -eq 0 ] && notes+=("$s: nothing passed")
	else
		R_VERDICT[$s]=PASS
	fi
	R_PASS[$s]=$p
	R_FAIL[$s]=$f
	R_SKIP[$s]=$k
	R_SECS[$s]=$secs
	case ${R_VERDICT[$s]} in
	PASS) n_pass=$((n_pass + 1)) ;;
	FAIL) n_fail=$((n_fail + 1)) ;;
	SKIP) n_skip=$((n_skip + 1)) ;;
	esac
}

for s in "${suites[@]}"; do
	run_suite "$s"
done

tp=0 tf=0 tk=0
echo
echo "==== summary (logs: $logdir/)"
printf '%-13s %-7s %7s %7s %8s %7s  %s\n' suite result passed failed skipped time counted
for s in "${suites[@]}"; do
	case "$s" in
	netns) what="scripts" ;;
	fuzz-regress) what="replays + fuzz runs" ;;
	install-test) what="install checks" ;;
	*) what="Criterion tests" ;;
	esac
	printf '%-13s %-7s %7d %7d %8d %6ds  %s\n' "$s" "${R_VERDICT[$s]}" "${R_PASS[$s]}" \
		"${R_FAIL[$s]}" "${R_SKIP[$s]}" "${R_SECS[$s]}" "$what"
	tp=$((tp + R_PASS[$s])) tf=$((tf + R_FAIL[$s])) tk=$((tk + R_SKIP[$s]))
done
printf '%-13s %-7s %7d %7d %8d\n' total "" "$tp" "$tf" "$tk"
for line in "${notes[@]}"; do
	echo "  $line"
done
[ "$tk" -eq 0 ] || [ ${#accepted[@]} -gt 0 ] ||
	echo "  (README.md lists no accepted skip reason: every skip fails the run)"
echo "suites: $n_pass passed, $n_fail failed, $n_skip skipped"
[ "$n_fail" -eq 0 ] && [ "$n_skip" -eq 0 ]
