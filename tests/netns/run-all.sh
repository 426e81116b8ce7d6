#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run-all.sh - run every tests/netns/test_*.sh in turn (they share nothing
# but each creates and removes its own namespaces, so never in parallel).
# The last line of output is exactly "N passed, M failed" (CI reads it);
# the exit status is non-zero when any script failed.
#
#   NATSYNC_BUILD=build tests/netns/run-all.sh [PATTERN]
#
# PATTERN (optional) keeps only the scripts whose name contains it.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
pattern=${1:-}
# The scripts find natsyncd/natsyncctl there (relative to the repo root).
export NATSYNC_BUILD=${NATSYNC_BUILD:-build}
passed=0
failed=0
failed_names=""

if [ "$(id -u)" -ne 0 ]; then
	echo "run-all.sh: must run as root (try: sudo make netns)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

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
	bash "$t"
	rc=$?
	secs=$(($(date +%s) - start))
	if [ $rc -eq 0 ]; then
		echo "=== $name: PASS (${secs}s)"
		passed=$((passed + 1))
	else
		echo "=== $name: FAIL (exit $rc, ${secs}s)"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
