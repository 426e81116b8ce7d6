# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/failover.sh - section 5 of `make bench`: traffic gap and time
# to take over at a hard failure of the primary, with 1,000 and 1,000,000
# replicated sessions (issue 5: "takeover gap independent of table size").
# Sourced by run.sh, which provides BUILD, QUICK, TMP, emit, emit_na, log
# and calls failover_cleanup from its EXIT trap.
#
# The scenario is tests/netns/test_failover.sh itself (one topology, one
# flow generator), run in its hard-failure-only mode: two natsyncd in
# namespaces nsbh-*, 100 long-lived TCP connections and 10 UDP flows through
# the primary, N other sessions injected into the primary's maps and
# replicated; once the backup holds them all and is ready (bulk installed),
# kill -9 of the primary's natsyncd and its links down. Figures per N:
#  * longest gap of any TCP connection / any UDP flow during the phase (ms,
#    the flow client's receive clock; the flows send every 50 ms, so 50 ms
#    is the floor);
#  * time to take over: from the kill to the backup's transition to
#    primary in its `show redundancy` history;
#  * the new primary's takeover actions (its takeover_actions_us): how
#    long its own work took after the transition (with 1M sessions this
#    grows, but the traffic gap does not: the addresses move first).
# Each size runs FO_REPS times (quick 2, full 3), median/min/max reported:
# a TCP segment lost in the gap waits for its retransmission timeout, so
# one run's TCP gap varies by an RTO step.
# The script removes its namespaces, daemons and pins itself on every exit
# path (its own trap); failover_cleanup stops it if run.sh is interrupted.
# /run/nsbh-bench.lock (flock) is held while the section runs.

FO_PID=
# Heartbeat and dead interval of the measured pair: the traffic gap of a
# hard failure is at least the dead interval, so the issue's target (gap
# <= 300 ms) needs a dead interval well below it; 50/250 ms is what a pair
# whose loops never stall can run (test_ha_load.sh holds 100/500 under a
# CPU hog).
FO_HB_MS=50
FO_DEAD_MS=250
FO_LOCK=/run/nsbh-bench.lock # held while this run owns the nsbh-* names

# failover_cleanup: stop a running scenario (its EXIT trap tears down).
failover_cleanup() {
	[ -n "$FO_PID" ] || return 0
	kill -TERM "$FO_PID" 2>/dev/null
	wait "$FO_PID" 2>/dev/null
	FO_PID=
}

# fo_run N I: run I of the hard failure with N injected sessions; sets
# FO_RC and leaves the figures in $TMP/fo-N-I.json, the log in .log.
fo_run() {
	local n=$1 f=$TMP/fo-$1-$2
	rm -f "$f.json"
	NSR_PREFIX=nsbh NSR_PHASES=hard NSR_EXTRA=$n NSR_SETTLE=2 \
		NSR_HB_MS=$FO_HB_MS NSR_DEAD_MS=$FO_DEAD_MS \
		NSR_MAX_SESSIONS=$((n * 2 + 65536)) NSR_RESULT="$f.json" \
		NATSYNC_BUILD=$BUILD bash "$ROOT/tests/netns/test_failover.sh" \
		>"$f.log" 2>&1 &
	FO_PID=$!
	wait "$FO_PID"
	FO_RC=$?
	FO_PID=
}

fo_get() { # N-I KEY: one figure of one run (null if missing)
	python3 -c 'import json,sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print("null" if v is None else v)' \
		"$TMP/fo-$1.json" "$2" 2>/dev/null || echo null
}

# fo_emit N NAME KEY HOW NOTE: one figure over the runs of size N.
fo_emit() {
	local v="" i x st
	for i in $(seq "$FO_REPS"); do
		x=$(fo_get "$1-$i" "$3")
		[ "$x" = null ] || v="$v $x"
	done
	if [ -z "$v" ]; then
		emit_na failover "$2" "$1" "error: no figures (see test_failover.sh's log)" ""
		return
	fi
	# shellcheck disable=SC2086 # one argument per run
	read -r -a st <<<"$(stats3 $v)"
	emit failover "$2" "$1" ms "${st[0]}" "${st[1]}" "${st[2]}" "${st[3]}" "$4" "$5" ""
}

run_failover() {
	local n i sizes="1000 1000000" note how fails
	FO_REPS=3
	[ -n "$QUICK" ] && sizes="1000 100000" && FO_REPS=2
	log "5. failover: hard failure of the primary with long-lived flows${QUICK:+ (quick)}"
	if [ ! -x "$BUILD/natsyncd" ] || [ ! -x "$BUILD/natsyncctl" ]; then
		for n in $sizes; do
			emit_na failover "longest TCP gap at failover" "$n" "n/a (natsyncd/natsyncctl not built)" ""
		done
		return
	fi
	# A second `make bench` at the same time would have test_failover.sh
	# remove this one's nsbh-* namespaces as leftovers.
	exec {FO_LOCK_FD}>"$FO_LOCK"
	if ! flock -n "$FO_LOCK_FD"; then
		for n in $sizes; do
			emit_na failover "longest TCP gap at failover" "$n" \
				"n/a (another make bench holds $FO_LOCK: its failover section is running)" ""
		done
		exec {FO_LOCK_FD}>&-
		return
	fi
	how="tests/netns/test_failover.sh NSR_PHASES=hard: 100 TCP + 10 UDP long-lived flows (50 ms send period) through the primary, N other sessions replicated, backup ready; kill -9 of the primary's natsyncd + links down; heartbeat $FO_HB_MS ms, dead interval $FO_DEAD_MS ms"
	for n in $sizes; do
		fails=0
		for i in $(seq "$FO_REPS"); do
			log "  $n replicated sessions, run $i of $FO_REPS"
			fo_run "$n" "$i"
			if [ "$FO_RC" != 0 ]; then
				fails=$((fails + 1))
				log "  test_failover.sh failed (exit $FO_RC): $(grep -E 'FAIL|ERROR' "$TMP/fo-$n-$i.log" | head -3 | tr '\n' ' ')"
			fi
		done
		note="$FO_REPS runs, test_failover.sh checks failed in $fails"
		fo_emit "$n" "longest TCP gap at failover" tcp_gap_ms \
			"$how; longest silence of any TCP connection in the phase (includes the RTO of a segment lost in the gap)" "$note"
		fo_emit "$n" "longest UDP gap at failover" udp_gap_ms \
			"$how; longest silence of any UDP flow in the phase" "$note"
		fo_emit "$n" "time to take over (kill -> backup primary)" takeover_ms \
			"wall clock of the kill to the backup's transition to primary (its show redundancy history, ago_ms)" "$note"
		fo_emit "$n" "takeover actions on the new primary" takeover_actions_ms \
			"the new primary's own time for its takeover actions (show redundancy takeover_actions_us): addresses, GARPs, session table work" "$note"
		fo_emit "$n" "replication latency p99 (threshold 0)" repl_p99_ms \
			"the primary's show sync replication_latency: each new session sent on its open event, from its creation to the backup's ACK of the frame that carried it (installed), upper bound of a 0.5 ms bucket; the 150 flows of the run (100 TCP + 10 UDP + 40 young UDP), before the failure" "$note"
		fo_emit "$n" "replication latency max (threshold 0)" repl_max_ms \
			"as above, the largest" "$note"
		fo_emit "$n" "event loop longest stall, primary (bulk send, replication, aging)" stall_primary_ms \
			"natsyncctl -j show status event_loop.longest_stall_us of the primary just before the kill: its whole life, bulk of N sessions to the backup, their replication, aging every 500 ms (target <= 20 ms)" "$note"
		fo_emit "$n" "event loop longest stall, backup (bulk install, aging, takeover)" stall_backup_ms \
			"the same of the backup right after it took over: the bulk install of N sessions, aging, the role switch (target <= 20 ms)" "$note"
	done
	if [ -z "$QUICK" ]; then
		emit_na failover "event loop longest stall, primary (bulk send, replication, aging)" 10000000 \
			"not measured, because two natsyncd holding 10M sessions each need ~19 GB of kernel memory for their maps (~930 B per session, show status) on this 24 GB machine; the 10M stall of one daemon aging is in section 3" ""
	fi
	exec {FO_LOCK_FD}>&-
}
