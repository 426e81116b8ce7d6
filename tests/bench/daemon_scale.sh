# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/daemon_scale.sh - part of section 3 (scale) of `make bench`:
# a real natsyncd holding 1M and 10M sessions (issue 5: "the daemon's
# resident memory with 1M and 10M sessions; aging pass time over 1M and
# 10M sessions"). Sourced by run.sh, which provides BUILD, BP, QUICK, TMP,
# emit, emit_na, log and calls ds_cleanup from its EXIT trap.
#
# natsyncd runs in the namespace nsb-scale (a veth pair nsbd0/nsbd1 as its
# inside/outside interfaces, no traffic), max-sessions 12M (quick: 1M),
# pins under /sys/fs/bpf/nsb-scale, UDP timeout 7 days so that no session
# expires while it is measured (a 10M cycle lasts many minutes). It is
# started once on empty maps (VmRSS of an empty natsyncd), then stopped;
# N established NAPT44 sessions (with their reverse entries, port and
# paired bindings) are batch-written into its pinned maps by `bench_pkt
# attach prefill` (as its fast path would have created them), and natsyncd
# is started again: it adopts the pinned maps (as after a restart or an
# upgrade) and its first aging cycle covers the whole table. That cycle is
# watched through `natsyncctl -j show status` every DS_POLL s:
#
#  * its wall time, from natsyncd answering to the end of the cycle, is
#    "aging full cycle" (how late a session may expire after its timeout);
#    its own work time (aging.last_pass_us, summed over its slices) / N is
#    the aging CPU per session;
#  * natsyncd's CPU time (utime + stime, /proc/PID/stat) over that window /
#    its wall time is the daemon's CPU share (target: <= 5 % of one core at
#    10M sessions);
#  * VmRSS of natsyncd after that cycle and VmHWM since its start.
# N = 1M, then 10M (the first 1M rewritten, 9M added); quick: 100k only.
# (Waiting for a cycle that begins after a write into a running natsyncd
# would cost up to two cycles: 20-30 minutes at 10M here.)

DS_NS=nsb-scale
DS_PIN=/sys/fs/bpf/nsb-scale
DS_PID=
DS_POLL=0.5

ds_cleanup() {
	if [ -n "$DS_PID" ]; then
		kill "$DS_PID" 2>/dev/null
		wait "$DS_PID" 2>/dev/null
		DS_PID=
	fi
	ip netns del "$DS_NS" 2>/dev/null
	rm -rf "$DS_PIN"
}

ds_config() { # MAX_SESSIONS
	cat <<-EOF
	natsync: {
		node-name = "nsb-scale";
		pin-path = "$DS_PIN";
		control-socket = "$TMP/ds.sock";
		log: { level = "info"; };
		attach-mode = "native";
		max-sessions = $1;
		timeouts: { udp = 604800; };
		services: {
			nat: {
				pools = ( { name = "p1"; address = [ "203.0.113.0/24" ]; port = "automatic"; } );
				rules = ( { name = "r1"; match-direction = "input";
					terms = ( { name = "t1"; from = { source-address = [ "100.64.0.0/10" ]; };
						then = { translation-type = "napt-44"; source-pool = "p1"; }; } ); } );
			};
			stateful-firewall: {
				rules = ( { name = "fw1"; match-direction = "input";
					terms = ( { name = "t1"; from = { source-address = [ "100.64.0.0/10" ]; };
						then = "accept"; } ); } );
			};
			service-sets = ( { name = "ss1"; stateful-firewall-rules = [ "fw1" ]; nat-rules = [ "r1" ];
				next-hop-service = { inside-service-interface = "nsbd0";
					outside-service-interface = "nsbd1"; }; } );
		};
	};
	EOF
}

# ds_status FIELD: a number from `natsyncctl -j show status` (aging.passes,
# aging.last_pass_us, sessions), empty if the daemon does not answer.
ds_status() {
	"$BUILD/natsyncctl" -s "$TMP/ds.sock" -t 10 -j show status 2>/dev/null |
		python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[k]
print(d)' "$1" 2>/dev/null
}

# CPU time (ns) natsyncd has used so far: utime + stime of /proc/PID/stat.
ds_cpu_ns() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1e9 / hz }' "/proc/$DS_PID/stat"
}

ds_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DS_PID/status"; }

# Wait until aging.passes reaches $1 (timeout $2 s); 0 when it did.
ds_wait_pass() {
	local until=$(($(date +%s) + $2)) p
	while [ "$(date +%s)" -lt "$until" ]; do
		p=$(ds_status aging.passes)
		[ -n "$p" ] && [ "$p" -ge "$1" ] && return 0
		kill -0 "$DS_PID" 2>/dev/null || return 1
		sleep "$DS_POLL"
	done
	return 1
}

ds_na_all() { # SESSIONS WHY
	local r
	for r in "natsyncd resident memory (VmRSS)" "natsyncd peak resident memory (VmHWM)" \
		"aging full cycle in natsyncd (at its CPU cap)" "aging CPU per session in natsyncd" \
		"aging work of one full cycle in natsyncd (wall time of its slices)" \
		"event loop longest stall in natsyncd, start and first aging cycle"; do
		emit_na scale "$r" "$1" "$2" ""
	done
	emit_na scale "natsyncd CPU share during an aging cycle" "$1" "$2" "<= 5"
}

ds_topo() {
	ip netns add "$DS_NS" || return 1
	ip -n "$DS_NS" link set lo up
	ip -n "$DS_NS" link add nsbd0 type veth peer name nsbd1 || return 1
	ip -n "$DS_NS" link set nsbd0 up
	ip -n "$DS_NS" link set nsbd1 up
}

ds_stop() {
	[ -n "$DS_PID" ] || return 0
	kill "$DS_PID" 2>/dev/null
	wait "$DS_PID" 2>/dev/null
	DS_PID=
}

# Start natsyncd (config in $TMP/ds.cfg); 0 when it answers with its pins.
ds_start() {
	nsenter --net=/var/run/netns/$DS_NS "$BUILD/natsyncd" -c "$TMP/ds.cfg" -f \
		>>"$TMP/ds.log" 2>&1 &
	DS_PID=$!
	# Allocating 12M-entry maps takes 10-20 s, much longer while the kernel
	# is still freeing the 10M-entry maps of the scale cases before.
	local until=$(($(date +%s) + 300))
	while [ "$(date +%s)" -lt "$until" ]; do
		[ -e "$DS_PIN/$PIN_SUB/ns_counters" ] && [ -n "$(ds_status aging.passes)" ] && return 0
		kill -0 "$DS_PID" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# One table size: stop natsyncd, fill its pinned maps, start it again and
# watch its first aging cycle.
ds_measure() { # N TIMEOUT_S
	local n=$1 t0 t1 t2 c1 c2 work seen rss hwm how fill_s eng cycle_s share stall
	ds_stop
	t0=$(date +%s%N)
	if ! nsenter --net=/var/run/netns/$DS_NS "$BP" attach prefill "$DS_PIN/$PIN_SUB" "$n" \
		2>>"$TMP/ds.log"; then
		ds_na_all "$n" "error: writing $n sessions into natsyncd's pinned maps failed"
		return 1
	fi
	fill_s=$(python3 -c "print(round(($(date +%s%N) - $t0) / 1e9, 1))")
	log "  natsyncd: $n sessions written in $fill_s s; restarting it, waiting for its first aging cycle"
	if ! ds_start; then
		ds_na_all "$n" "error: natsyncd did not restart on its pins: $(tail -1 "$TMP/ds.log")"
		return 1
	fi
	t1=$(date +%s%N)
	c1=$(ds_cpu_ns)
	if ! ds_wait_pass 1 "$2"; then
		ds_na_all "$n" "n/a (no full aging cycle within $2 s)"
		return 1
	fi
	t2=$(date +%s%N)
	c2=$(ds_cpu_ns)
	work=$(ds_status aging.last_pass_us)
	seen=$(ds_status sessions)
	rss=$(ds_kib VmRSS)
	hwm=$(ds_kib VmHWM)
	eng=$(grep -o 'aging: [^(]*' "$TMP/ds.log" | head -1)
	cycle_s=$(python3 -c "print(($t2 - $t1) / 1e9)")
	share=$(python3 -c "print(100 * ($c2 - $c1) / ($t2 - $t1))")
	how="natsyncd (max-sessions $DS_MAX_CUR, default aging-interval-ms, UDP timeout 7 d) restarted on $n established NAPT44 sessions batch-written into its pinned maps ($fill_s s); its first aging cycle, watched with natsyncctl -j show status every $DS_POLL s"
	emit scale "natsyncd resident memory (VmRSS)" "$n" MiB "$(python3 -c "print($rss / 1024)")" \
		null null 1 "VmRSS of natsyncd after that cycle; $how" \
		"the maps are kernel memory, not in RSS (see kernel map memory per session)" ""
	emit scale "natsyncd peak resident memory (VmHWM)" "$n" MiB \
		"$(python3 -c "print($hwm / 1024)")" null null 1 "VmHWM of natsyncd since its start; $how" "" ""
	emit scale "aging full cycle in natsyncd (at its CPU cap)" "$n" s "$cycle_s" null null 1 \
		"wall time from natsyncd answering to the end of its first cycle (+- ${DS_POLL} s polling, the first aging tick 1 s after start included); $how" \
		"${eng:-engine not logged}; sessions seen by the cycle: $seen; a session expires up to this long after its timeout" ""
	[ "$n" -gt 0 ] && emit scale "aging CPU per session in natsyncd" "$n" ns/session \
		"$(python3 -c "print(($c2 - $c1) / $n)")" null null 1 \
		"natsyncd's CPU time (utime+stime) over its first cycle / $n sessions (aging is almost all it does then); $how" "" ""
	emit scale "aging work of one full cycle in natsyncd (wall time of its slices)" "$n" s \
		"$(python3 -c "print($work / 1e6)")" null null 1 \
		"the cycle's own work time (aging.last_pass_us: the wall time of its slices summed, so preemption by other jobs counts; the 4 % cap is on CPU time); $how" \
		"$([ "$n" = 0 ] && echo "an empty table still costs: the walks visit every bucket of the max-sessions-sized maps")" ""
	emit scale "natsyncd CPU share during an aging cycle" "$n" % "$share" null null 1 \
		"natsyncd's CPU time (utime+stime, /proc/PID/stat, 10 ms ticks) over that window / its wall time, in % of one core (the whole daemon: aging and everything else it did); $how" \
		"natsyncd caps aging at 4 % of a core and lets the cycle last longer instead" \
		"$([ "$n" -ge 10000000 ] && echo "<= 5")"
	stall=$(ds_status event_loop.longest_stall_us)
	if [ -n "$stall" ]; then
		emit scale "event loop longest stall in natsyncd, start and first aging cycle" "$n" ms \
			"$(python3 -c "print($stall / 1e3)")" null null 1 \
			"the longest event-loop callback since start (natsyncctl -j show status: event_loop.longest_stall_us), while aging $n sessions; $how" \
			"${eng:-engine not logged}" "<= 20"
	else
		emit_na scale "event loop longest stall in natsyncd, start and first aging cycle" "$n" \
			"error: show status has no event_loop" "<= 20"
	fi
	log "  natsyncd $n sessions: cycle $cycle_s s, work $work us, CPU $share %, RSS $rss kB, HWM $hwm kB, loop stall ${stall:-?} us"
}

run_daemon_scale() {
	local sizes max why avail need
	log "3b. natsyncd with 1M and 10M sessions: memory and aging${QUICK:+ (quick)}"
	ds_cleanup
	if [ ! -x "$BUILD/natsyncd" ] || [ ! -x "$BUILD/natsyncctl" ]; then
		ds_na_all 1000000 "n/a (natsyncd not built)"
		return
	fi
	if [ -n "$QUICK" ]; then
		sizes=100000
		max=1048576
		why="n/a (quick mode: no 10M table)"
	else
		sizes="1000000 10000000"
		# 10M sessions at 83 % of the maps (natsyncd warns above 90 %)
		max=12000000
		avail=$(awk '/^MemAvailable/ {print $2}' /proc/meminfo)
		# about 650 B of kernel memory per entry (sessions, rev, ports,
		# eim, paired; see kernel map memory per session), 1 KiB counted,
		# and 2 GiB to spare
		need=$((max + 2 * 1024 * 1024))
		if [ "$avail" -lt "$need" ]; then
			why="n/a (not enough memory: $((avail / 1024)) MiB available, $((need / 1024)) MiB needed)"
			sizes=1000000
			max=1048576
		fi
	fi
	DS_MAX_CUR=$max
	ds_config "$max" >"$TMP/ds.cfg"
	# the first start creates the (empty) pinned maps
	if ! ds_topo || ! ds_start; then
		ds_na_all 0 "error: natsyncd did not start: $(tail -1 "$TMP/ds.log")"
		ds_cleanup
		return
	fi
	for n in 0 $sizes; do
		# a cycle over 10M takes minutes at the 4 % cap
		ds_measure "$n" $((n >= 10000000 ? 1800 : 300)) || break
	done
	[ -n "${why:-}" ] && ds_na_all 10000000 "$why"
	ds_cleanup
}
