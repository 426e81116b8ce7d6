#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run-all.sh - run every tests/netns/test_*.sh in turn (they share nothing
# but each creates and removes its own namespaces, so never in parallel).
# The last line of output is exactly "N passed, M failed, K skipped" (CI
# reads "N passed, M failed"). A script passes when it exits 0, is skipped
# when it called nst_skip (a "SKIP: reason" line, exit 77; each skip is
# listed as "skipped: SCRIPT: REASON"), and fails otherwise (exit 77
# without a reason included). Exit status: 0 when every script passed,
# 1 when any failed or none matched, 77 when none failed but some skipped (a
# skip is never a pass; "make test" decides whether the reason is an
# accepted one, scripts/test-all.sh).
#
#   NATSYNC_BUILD=build tests/netns/run-all.sh [PATTERN]
#
# PATTERN (optional) keeps only the scripts whose name contains it.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
pattern=${1:-}
# The scripts find natsyncd/natsyncctl there (relative to the repo root).
export NATSYNC_BUILD=${NATSYNC_BUILD:-build}
# Every natsyncd of the scenarios must age with the in-kernel sweep: with
# "in-kernel" natsyncd refuses to start rather than fall back to the batch
# walk, so a machine where the sweep does not load fails the scenarios
# loudly instead of passing them on the loop-blocking engine.
export NATSYNC_AGING_ENGINE=${NATSYNC_AGING_ENGINE:-in-kernel}
passed=0
failed=0
skipped=0
failed_names=""
skip_lines=()

if [ "$(id -u)" -ne 0 ]; then
	echo "run-all.sh: must run as root (try: sudo make netns)" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

# nst_skip (lib.sh) appends its reason here.
skip_file=$(mktemp /tmp/natsync-skip.XXXXXX)
trap 'rm -f "$skip_file"' EXIT

# The plumbing check first: when it fails, no other result means much.
scripts="$dir/test_topology.sh"
for t in "$dir"/test_*.sh; do
	[ "$t" = "$dir/test_topology.sh" ] || scripts="$scripts $t"
done

for t in $scripts; do
	[ -e "$t" ] || continue
	name=$(basename "$t")
	case "$name" in *"$pattern"*) ;; *) continue ;; esac
	echo "=== $name"
	start=$(date +%s)
	: >"$skip_file"
	NST_SKIP_FILE=$skip_file bash "$t"
	rc=$?
	secs=$(($(date +%s) - start))
	reason=$(head -n 1 "$skip_file")
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		echo "=== $name: FAIL (exit $rc, ${secs}s)"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	elif [ -n "$reason" ]; then
		# Exit 77, or a skip inside a subshell the script went past:
		# either way part of the scenario did not run.
		echo "=== $name: SKIP ($reason, ${secs}s)"
		skipped=$((skipped + 1))
		skip_lines+=("skipped: $name: $reason")
	elif [ $rc -eq 0 ]; then
		echo "=== $name: PASS (${secs}s)"
		passed=$((passed + 1))
	else
		echo "=== $name: FAIL (exit 77 without a SKIP reason, ${secs}s)"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
for l in "${skip_lines[@]}"; do
	echo "$l"
done
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ] || [ $((passed + skipped)) -eq 0 ]; then
	exit 1
fi
[ "$skipped" -eq 0 ] || exit 77
