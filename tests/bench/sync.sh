# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/sync.sh - section 4 of `make bench`: inter-chassis sync
# (issues 3 and 5) measured through two real natsyncd processes. Sourced by
# run.sh, which provides BUILD, BP, QUICK, TMP, emit, emit_na, stats3, log
# and calls sync_cleanup from its EXIT trap.
#
#   nsbs-a: natsyncd "a", primary   ha 192.0.2.1 ---- veth ---- ha 192.0.2.2   nsbs-b: natsyncd "b", backup
#           (in0 <-> out0: a veth pair inside each namespace, no traffic:
#            the service set needs its two interfaces)
#
# The sync channel (TCP 7788, HMAC-authenticated with a key-file, as a
# deployed pair runs it) crosses one veth pair between the two namespaces:
# no wire, both ends on this machine, the loopback case of the issue.
# Sessions are written into the primary's pinned maps by `bench_pkt
# syncfill` (TCP established NAPT44, with their reverse entries and port
# bindings, as the fast path creates them), with created_ns set in the past
# so that the primary's sync walk finds them at a known moment:
#
#  * bulk: N sessions already past the replication threshold on the
#    primary; a fresh backup (empty maps, pins removed) starts; figure =
#    time from starting the backup's natsyncd until its `natsyncctl -j show
#    sync` reports ready (bulk complete) with N installed; also channel up
#    -> installed (the connection's up_ms at that moment).
#  * replication: the backup is connected and ready; M new sessions are
#    written exactly THR seconds younger than the threshold, so they all
#    become eligible THR seconds after the write started (the write takes
#    less); figure = M / (time from that moment until the backup reports
#    M more installed).
#  * the same bulk at conntrackd's entry count first (nf_conntrack_max bounds
#    conntrackd's), so that the two are compared at one count and from one
#    event, the backup process starting, to the entries being in the
#    kernel (natsync installs as it receives; conntrackd's commit is added);
#  * bytes per session: the primary's sync counters, bytes_tx / adds_tx over
#    the same windows (frame headers, HMAC tags, heartbeats included).
#
# Pins: /sys/fs/bpf/nsbs-a, /sys/fs/bpf/nsbs-b; control sockets and logs in
# $TMP. Everything is removed by sync_cleanup on every exit path.

SB_NS="nsbs-a nsbs-b nsbs-ca nsbs-cb"
SB_PIN_A=/sys/fs/bpf/nsbs-a
SB_PIN_B=/sys/fs/bpf/nsbs-b
SB_PID_A=
SB_PID_B=
SB_CT_A=
SB_CT_B=
SB_POLL=0.05 # seconds between two natsyncctl polls
SB_LOCK=/run/nsbs-bench.lock # held while this run owns the nsbs-* names
SB_OWN=

# sync_cleanup: stop our daemons (by pid), delete our namespaces and pins.
# Only while this run holds SB_LOCK: run.sh calls it from its EXIT trap,
# also in runs that never reached (or skipped) this section, and another
# `make bench` may be inside its own sync section at that moment.
sync_cleanup() {
	local p
	[ -n "$SB_OWN" ] || return 0
	for p in $SB_PID_A $SB_PID_B $SB_CT_A $SB_CT_B; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	SB_PID_A=
	SB_PID_B=
	SB_CT_A=
	SB_CT_B=
	for p in $SB_NS; do
		ip netns del "$p" 2>/dev/null
	done
	rm -rf "$SB_PIN_A" "$SB_PIN_B"
}

sb_topo() {
	local n
	for n in nsbs-a nsbs-b; do
		ip netns add "$n" || return 1
		ip -n "$n" link set lo up
		ip -n "$n" link add in0 type veth peer name out0 || return 1
		ip -n "$n" link set in0 up
		ip -n "$n" link set out0 up
	done
	ip -n nsbs-a link add ha type veth peer name ha netns nsbs-b || return 1
	ip -n nsbs-a link set ha up
	ip -n nsbs-b link set ha up
	ip -n nsbs-a addr add 192.0.2.1/24 dev ha || return 1
	ip -n nsbs-b addr add 192.0.2.2/24 dev ha || return 1
}

# sb_config NODE LOCAL PEER ROLE: one box's config on stdout. Identical
# NAT config on both (the fingerprint must match); aging every 60 s (the
# 1 s default would walk millions of sessions every second on the 2 cores
# the two daemons share: section 3 measures aging on its own).
sb_config() {
	cat <<-EOF
	natsync: {
		node-name = "$1";
		pin-path = "/sys/fs/bpf/nsbs-$1";
		control-socket = "$TMP/sb-$1.sock";
		log: { level = "info"; };
		max-sessions = $SB_MAX;
		aging-interval-ms = 60000;
		attach-mode = "tc";
		redundancy-options: {
			redundancy-local = { data-address = "$2"; };
			redundancy-peer = { ipaddress = "$3"; };
			port = 7788;
			replication-threshold = $SB_THR;
			initial-role = "$4";
			key-file = "$TMP/sb.key";
		};
		services: {
			nat: {
				pools = ( { name = "p1"; address = [ "203.0.113.0/24" ]; port = "automatic"; } );
				rules = ( { name = "r1"; match-direction = "input";
					terms = ( { name = "t1"; from = { source-address = [ "100.64.0.0/10" ]; };
						then = { translation-type = "napt-44"; source-pool = "p1"; }; } ); } );
			};
			service-sets = ( { name = "ss1"; nat-rules = [ "r1" ];
				next-hop-service = { inside-service-interface = "in0";
					outside-service-interface = "out0"; }; } );
		};
	};
	EOF
}

# sb_start a|b: start that box's natsyncd (nsenter keeps /sys/fs/bpf) and
# wait for its control socket. Sets SB_PID_A/SB_PID_B.
sb_start() {
	local box=$1 pid
	rm -f "$TMP/sb-$box.sock"
	nsenter --net="/var/run/netns/nsbs-$box" "$BUILD/natsyncd" -c "$TMP/sb-$box.cfg" -f \
		>>"$TMP/sb-$box.log" 2>&1 &
	pid=$!
	if [ "$box" = a ]; then SB_PID_A=$pid; else SB_PID_B=$pid; fi
	for _ in $(seq 400); do
		[ -S "$TMP/sb-$box.sock" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# sb_stop_backup: SIGTERM the backup, then forget its maps: the next start
# is a fresh backup with empty maps.
sb_stop_backup() {
	if [ -n "$SB_PID_B" ]; then
		kill "$SB_PID_B" 2>/dev/null
		wait "$SB_PID_B" 2>/dev/null
	fi
	SB_PID_B=
	rm -rf "$SB_PIN_B"
}

# sb_json a|b: the box's `natsyncctl -j show sync` (one line). A daemon
# busy installing, on a loaded machine, may miss a short timeout: retry a
# few times rather than read an empty answer as zero.
sb_json() {
	local j
	for _ in 1 2 3 4 5; do
		j=$("$BUILD/natsyncctl" -s "$TMP/sb-$1.sock" -t 10 -j show sync 2>/dev/null)
		case $j in *'"counters"'*) echo "$j"; return 0 ;; esac
		sleep 0.2
	done
	return 1
}

# sb_num JSON KEY: the first numeric field KEY of a show sync JSON.
sb_num() {
	local v
	v=$(grep -o "\"$2\":[0-9]*" <<<"$1" | head -1 | cut -d: -f2)
	echo "${v:-0}"
}

# sb_wait_installed TARGET DEADLINE_S [ready]: poll the backup until it
# holds TARGET sessions installed from the peer (tracked_sessions: distinct
# sessions, so a re-sent bulk after a reconnect does not count twice) and,
# with "ready", a complete bulk. Sets SB_T (date +%s%N when seen) and SB_J
# (that JSON). 1 on timeout.
sb_wait_installed() {
	local end=$(($(date +%s) + $2)) j
	while [ "$(date +%s)" -lt "$end" ]; do
		j=$(sb_json b)
		if [ "$(sb_num "$j" tracked_sessions)" -ge "$1" ]; then
			if [ "${3:-}" != ready ] || grep -q '"ready":true' <<<"$j"; then
				SB_T=$(date +%s%N)
				SB_J=$j
				return 0
			fi
		fi
		kill -0 "$SB_PID_B" 2>/dev/null || return 1
		sleep "$SB_POLL"
	done
	return 1
}

# sb_fill FIRST N AGE_MS: sessions into the primary's maps; sets SB_REAL
# (wall clock of the sessions' "now") and SB_FILL_MS.
sb_fill() {
	local out
	out=$("$BP" syncfill "$SB_PIN_A" "$1" "$2" "$3" 2>>"$TMP/sb-fill.log") || return 1
	read -r SB_REAL SB_FILL_MS <<<"$out"
}

# sb_frames JSON ADDS0 FRAMES0: "A adds in F frames" since the two counts.
sb_frames() {
	echo "$(($(sb_num "$1" adds_tx) - $2)) adds in $(($(sb_num "$1" frames_tx) - $3)) frames (last run)"
}

# sb_drops JSON D0 WHAT: count and log channel drops on the primary since
# D0 (each one costs a new bulk, which the figure then includes).
sb_drops() {
	local d=$(($(sb_num "$1" disconnects) - $2))
	[ "$d" -gt 0 ] || return 0
	SB_DROPS=$((SB_DROPS + d))
	log "sync: $3: the channel dropped $d time(s): $(grep -i 'closed\|dead' "$TMP/sb-a.log" | tail -1)"
}

# sb_load: the load average, for the notes (other jobs skew every figure).
sb_load() {
	echo "load average at the start of the section: $SB_LOAD${SB_DROPS:+; the sync channel dropped $SB_DROPS time(s) during the runs (each costs a new bulk; see the log)}"
}

# Bulk: N sessions on the primary, a fresh backup started SB_REPS times.
sb_bulk() {
	local n=$1 r t0 a0 b0 f0 d0 j secs="" chan="" bps=""
	for r in $(seq "$SB_REPS"); do
		sb_stop_backup
		sleep 0.2 # the primary sees the old connection close before d0
		j=$(sb_json a)
		a0=$(sb_num "$j" adds_tx)
		b0=$(sb_num "$j" bytes_tx)
		f0=$(sb_num "$j" frames_tx)
		d0=$(sb_num "$j" disconnects)
		t0=$(date +%s%N)
		if ! sb_start b || ! sb_wait_installed "$n" "$SB_TIMEOUT" ready; then
			log "sync: bulk $r: backup not complete within ${SB_TIMEOUT}s: $(tail -1 "$TMP/sb-b.log")"
			SB_WHY="error: bulk of $n sessions not installed within ${SB_TIMEOUT} s (run $r)"
			return 1
		fi
		secs="$secs $(python3 -c "print(($SB_T - $t0) / 1e9)")"
		chan="$chan $(python3 -c "print($(sb_num "$SB_J" up_ms) / 1e3)")"
		# Let the primary count the whole bulk (BULK_END, last acks).
		sleep 0.3
		j=$(sb_json a)
		bps="$bps $(python3 -c "print(($(sb_num "$j" bytes_tx) - $b0) / max(1, $(sb_num "$j" adds_tx) - $a0))")"
		SB_BULK_FRAMES="$(sb_frames "$j" "$a0" "$f0")"
		sb_drops "$j" "$d0" "bulk run $r"
		log "  bulk $r: $n sessions installed $(echo "$secs" | awk '{print $NF}') s after the backup started"
	done
	SB_BULK_S=$secs
	SB_BULK_CHAN=$chan
	SB_BULK_BPS=$bps
}

# Replication: M sessions becoming eligible at one known moment, SB_REPS
# times, on a connected and ready pair. FIRST is the first free index.
sb_repl() {
	local m=$1 first=$2 r a0 b0 f0 d0 el j rate="" bps="" adds
	for r in $(seq "$SB_REPS"); do
		j=$(sb_json a)
		a0=$(sb_num "$j" adds_tx)
		b0=$(sb_num "$j" bytes_tx)
		f0=$(sb_num "$j" frames_tx)
		d0=$(sb_num "$j" disconnects)
		# Age 0: eligible exactly SB_THR s after the write began.
		if ! sb_fill "$first" "$m" 0; then
			SB_WHY="error: syncfill failed: $(tail -1 "$TMP/sb-fill.log")"
			log "sync: $SB_WHY"
			return 1
		fi
		el=$((SB_REAL + SB_THR * 1000000000))
		if [ "$(date +%s%N)" -ge "$el" ]; then
			SB_WHY="error: writing $m sessions took ${SB_FILL_MS} ms, longer than the ${SB_THR} s threshold"
			log "sync: $SB_WHY"
			return 1
		fi
		# Sessions 0 .. first-1 are on the backup already: wait for all.
		if ! sb_wait_installed $((first + m)) $((SB_THR + SB_TIMEOUT)); then
			SB_WHY="error: $m sessions not replicated within ${SB_TIMEOUT} s (run $r)"
			log "sync: $SB_WHY"
			return 1
		fi
		if [ "$SB_T" -le "$el" ]; then
			SB_WHY="error: the backup reported the sessions before they were eligible (run $r)"
			log "sync: $SB_WHY"
			return 1
		fi
		rate="$rate $(python3 -c "print($m / (($SB_T - $el) / 1e9))")"
		sleep 0.3
		j=$(sb_json a)
		adds=$(($(sb_num "$j" adds_tx) - a0))
		bps="$bps $(python3 -c "print(($(sb_num "$j" bytes_tx) - $b0) / max(1, $adds))")"
		SB_REPL_FRAMES="$(sb_frames "$j" "$a0" "$f0")"
		sb_drops "$j" "$d0" "replication run $r"
		[ "$adds" -eq "$m" ] || log "sync: run $r: $adds adds sent for $m new sessions"
		log "  replication $r: $m sessions, $(echo "$rate" | awk '{printf "%.0f", $NF}') sessions/s (write ${SB_FILL_MS} ms)"
		first=$((first + m))
	done
	SB_REPL_RATE=$rate
	SB_REPL_BPS=$bps
}

sb_emit_stat() { # NAME SESSIONS UNIT VALUES HOW NOTE TARGET
	local st
	# shellcheck disable=SC2086 # the values are words
	read -r -a st <<<"$(stats3 $4)"
	emit sync "$1" "$2" "$3" "${st[0]}" "${st[1]}" "${st[2]}" "${st[3]}" "$5" "$6" "$7"
}

# sb_na_all WHY: every natsync sync row as n/a.
sb_na_all() {
	emit_na sync "natsync replication throughput" null "$1" ">= 1000000"
	emit_na sync "natsync bytes per session on the wire" null "$1" "<= 48"
	emit_na sync "natsync bulk sync to a fresh backup" "$SB_BULK_N" "$1" ""
}

run_sync_natsync() {
	local how_pair note filled
	SB_WHY=
	SB_DROPS=
	SB_BULK_BPS=
	SB_REPL_BPS=
	SB_BULK_FRAMES=
	SB_REPL_FRAMES=
	printf '0123456789abcdef-natsync-bench-pair-key\n' >"$TMP/sb.key"
	chmod 600 "$TMP/sb.key"
	sb_config a 192.0.2.1 192.0.2.2 primary >"$TMP/sb-a.cfg"
	sb_config b 192.0.2.2 192.0.2.1 backup >"$TMP/sb-b.cfg"
	if ! sb_topo; then
		sb_na_all "error: namespace setup failed"
		return
	fi
	if ! sb_start a; then
		sb_na_all "error: natsyncd (primary) did not start: $(tail -1 "$TMP/sb-a.log")"
		return
	fi
	how_pair="two natsyncd (primary nsbs-a, backup nsbs-b), sync channel over one veth pair between the namespaces, HMAC key-file, TCP established NAPT44 sessions written into the primary's pinned maps by bench_pkt syncfill; state read with natsyncctl -j show sync every ${SB_POLL} s"
	# First the bulk at conntrackd's count (nf_conntrack_max bounds that
	# one), timed from the same event as conntrackd's: the backup process
	# starting. Then the rest of the table, and the bulk at full size.
	SB_SAME_S=
	filled=0
	if [ "$SB_CT_N" -lt "$SB_BULK_N" ]; then
		log "  writing $SB_CT_N sessions into the primary's maps (conntrackd's count)"
		sb_fill 0 "$SB_CT_N" $((SB_THR * 1000 + 600000)) && filled=$SB_CT_N
		if [ "$filled" -gt 0 ] && sb_bulk "$SB_CT_N"; then
			SB_SAME_S=$SB_BULK_S
			sb_emit_stat "natsync bulk sync to a fresh backup" "$SB_CT_N" s "$SB_BULK_S" \
				"$how_pair; backup started with empty maps; from starting its natsyncd (map load, pin, attach included) until it reports ready with all installed in its maps; median of $SB_REPS" \
				"$(sb_load); the same count and the same start event as the conntrackd resync row" ""
		else
			emit_na sync "natsync bulk sync to a fresh backup" "$SB_CT_N" \
				"${SB_WHY:-error: syncfill failed: $(tail -1 "$TMP/sb-fill.log")}" ""
		fi
		SB_WHY=
	fi
	log "  writing $SB_BULK_N sessions into the primary's maps"
	if ! sb_fill "$filled" $((SB_BULK_N - filled)) $((SB_THR * 1000 + 600000)); then
		sb_na_all "error: syncfill failed: $(tail -1 "$TMP/sb-fill.log")"
		return
	fi
	if sb_bulk "$SB_BULK_N"; then
		sb_emit_stat "natsync bulk sync to a fresh backup" "$SB_BULK_N" s "$SB_BULK_S" \
			"$how_pair; backup started with empty maps; from starting its natsyncd (map load, pin, attach included) until it reports ready (bulk complete) with all installed; median of $SB_REPS" \
			"$(sb_load)" ""
		sb_emit_stat "natsync bulk sync, channel up to all installed" "$SB_BULK_N" s "$SB_BULK_CHAN" \
			"the backup's connection up_ms when the bulk row saw it complete (TCP connect, HELLO, bulk walk, transfer, install); median of $SB_REPS" \
			"primary: $SB_BULK_FRAMES" ""
		sb_emit_stat "natsync bulk sync rate" "$SB_BULK_N" sessions/s \
			"$(for s in $SB_BULK_CHAN; do python3 -c "print($SB_BULK_N / $s)"; done)" \
			"sessions / seconds of the channel-up row" "" ""
	else
		emit_na sync "natsync bulk sync to a fresh backup" "$SB_BULK_N" "$SB_WHY" ""
		SB_BULK_BPS=
	fi
	SB_WHY=
	if sb_repl "$SB_REPL_N" "$SB_BULK_N"; then
		note="$(sb_load); primary: $SB_REPL_FRAMES; a walk pass starts at most every 250 ms and walks the whole table ($SB_BULK_N + new sessions), so the figure includes finding the sessions"
		sb_emit_stat "natsync replication throughput" "$SB_REPL_N" sessions/s "$SB_REPL_RATE" \
			"$how_pair; $SB_REPL_N sessions written (age 0, threshold $SB_THR s) into a primary already holding $SB_BULK_N+ replicated ones, all eligible at the same moment; sessions / (time from that moment until the backup reports them installed); median of $SB_REPS" \
			"$note" ">= 1000000"
	else
		emit_na sync "natsync replication throughput" "$SB_REPL_N" "$SB_WHY" ">= 1000000"
	fi
	if [ -n "$SB_REPL_BPS$SB_BULK_BPS" ]; then
		sb_emit_stat "natsync bytes per session on the wire" null B/session \
			"${SB_REPL_BPS:-} ${SB_BULK_BPS:-}" \
			"primary's sync counters over each bulk and replication run: bytes_tx delta / adds_tx delta (16-byte frame headers, 16-byte HMAC tags, batch counts, heartbeats and bulk markers included; TCP/IP headers not)" \
			"records are 39..47 bytes (37 fixed + two LEB128 ages)" "<= 48"
	else
		emit_na sync "natsync bytes per session on the wire" null "n/a (no run completed)" "<= 48"
	fi
	log "  natsync sync done"
}

# ---- conntrackd, side by side ---------------------------------------------
#
#   nsbs-ca: kernel conntrack table (N entries, conntrack -R), conntrackd A
#   nsbs-cb: conntrackd B, fresh at every run
#   ha 192.0.2.1 ---- veth ---- ha 192.0.2.2, FTFW over UDP port 3780
#
# B starts with "StartupResync on" (it asks A for a complete resync, the
# counterpart of natsync's bulk to a fresh backup); figure = time from
# starting B's conntrackd until `conntrackd -s` shows N entries in its
# external cache. conntrackd keeps them in user space until a takeover
# commits them (`conntrackd -c`), timed as a row of its own. N stays below
# the kernel's nf_conntrack_max (a global sysctl this benchmark does not
# change): 1M entries are not possible here without it.

# sb_ct_conf NODE LOCAL PEER: conntrackd.conf for one node on stdout.
sb_ct_conf() {
	cat <<-EOF
	Sync {
		Mode FTFW {
			StartupResync on
		}
		UDP {
			IPv4_address $2
			IPv4_Destination_Address $3
			Port 3780
			Interface ha
			SndSocketBuffer 24985600
			RcvSocketBuffer 24985600
			Checksum on
		}
	}
	General {
		HashSize 262144
		HashLimit 1048576
		LogFile $TMP/ctd-$1.log
		Syslog off
		LockFile $TMP/ctd-$1.lock
		UNIX {
			Path $TMP/ctd-$1.ctl
		}
		NetlinkBufferSize 2097152
		NetlinkBufferSizeMaxGrowth 134217728
		Filter From Userspace {
			Address Ignore {
				IPv4_address 127.0.0.1
				IPv4_address 192.0.2.1
				IPv4_address 192.0.2.2
			}
		}
	}
	EOF
}

sb_ct_topo() {
	local n
	for n in nsbs-ca nsbs-cb; do
		ip netns add "$n" || return 1
		ip -n "$n" link set lo up
	done
	ip -n nsbs-ca link add ha type veth peer name ha netns nsbs-cb || return 1
	ip -n nsbs-ca link set ha up
	ip -n nsbs-cb link set ha up
	ip -n nsbs-ca addr add 192.0.2.1/24 dev ha || return 1
	ip -n nsbs-cb addr add 192.0.2.2/24 dev ha || return 1
}

# sb_ct_stat a|b SECTION-REGEX FIELD-REGEX: a number from conntrackd -s
# (first match of FIELD after the SECTION line), 0 if none.
sb_ct_stat() {
	local v
	v=$(ip netns exec "nsbs-c$1" conntrackd -C "$TMP/ctd-$1.conf" -s 2>/dev/null |
		awk -v s="$2" -v f="$3" '$0 ~ s {on = 1} on && $0 ~ f {print $1; exit}')
	echo "${v:-0}"
}
sb_ct_cache() { # a|b internal|external: current active entries
	local v
	v=$(ip netns exec "nsbs-c$1" conntrackd -C "$TMP/ctd-$1.conf" -s 2>/dev/null |
		awk -v s="^cache $2" '$0 ~ s {on = 1} on && /current active/ {print $NF; exit}')
	echo "${v:-0}"
}

# sb_ct_start a|b: conntrackd in the foreground of a background job
# (ip netns exec execs it: $! is conntrackd's pid).
sb_ct_start() {
	rm -f "$TMP/ctd-$1.lock" "$TMP/ctd-$1.ctl"
	ip netns exec "nsbs-c$1" conntrackd -C "$TMP/ctd-$1.conf" >>"$TMP/ctd-$1.out" 2>&1 &
	if [ "$1" = a ]; then SB_CT_A=$!; else SB_CT_B=$!; fi
}

sb_ct_stop_b() {
	if [ -n "$SB_CT_B" ]; then
		kill "$SB_CT_B" 2>/dev/null
		wait "$SB_CT_B" 2>/dev/null
	fi
	SB_CT_B=
	ip netns exec nsbs-cb conntrack -F >/dev/null 2>&1
}

# sb_ct_wait a|b internal|external N DEADLINE_S: poll until the cache
# holds N entries; SB_T set when seen.
sb_ct_wait() {
	local end=$(($(date +%s) + $4))
	while [ "$(date +%s)" -lt "$end" ]; do
		if [ "$(sb_ct_cache "$1" "$2")" -ge "$3" ]; then
			SB_T=$(date +%s%N)
			return 0
		fi
		sleep "$SB_POLL"
	done
	return 1
}

# The same tuples as natsync's sessions (bench_pkt syncfill), TCP
# established and assured, one hour timeout, for conntrack -R.
sb_ct_entries() { # N
	python3 - "$1" <<-'PY'
	import sys
	for i in range(int(sys.argv[1])):
	    j = i >> 6
	    print(f"-I -s 100.{64 + (j >> 16)}.{(j >> 8) & 255}.{j & 255} "
	          f"-d 198.51.100.{10 + i % 200} -p tcp --sport {10000 + (i & 63)} --dport 443 "
	          "--state ESTABLISHED -t 3600 -u ASSURED,SEEN_REPLY")
	PY
}

sb_ct_na() { # WHY
	emit_na sync "conntrackd bulk resync to a fresh backup" "$SB_CT_N" "$1" ""
}

run_sync_conntrackd() {
	local n=$SB_CT_N r t0 b0 secs="" rate="" bps="" commit="" t1 how
	if ! command -v conntrackd >/dev/null || ! command -v conntrack >/dev/null; then
		sb_ct_na "n/a (conntrackd or conntrack not installed: apt-get install conntrackd conntrack)"
		return
	fi
	if [ "$n" -ge "$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo 0)" ]; then
		sb_ct_na "n/a (nf_conntrack_max below $n entries; a global sysctl)"
		return
	fi
	log "  conntrackd: $n conntrack entries, FTFW over UDP"
	sb_ct_conf a 192.0.2.1 192.0.2.2 >"$TMP/ctd-a.conf"
	sb_ct_conf b 192.0.2.2 192.0.2.1 >"$TMP/ctd-b.conf"
	sb_ct_entries "$n" >"$TMP/ct-entries.txt"
	if ! sb_ct_topo || ! ip netns exec nsbs-ca conntrack -R "$TMP/ct-entries.txt" >/dev/null 2>"$TMP/ct-load.log"; then
		sb_ct_na "error: conntrack table fill failed: $(tail -1 "$TMP/ct-load.log" 2>/dev/null)"
		return
	fi
	sb_ct_start a
	if ! sb_ct_wait a internal "$n" 60; then
		sb_ct_na "error: conntrackd A did not load the $n entries: $(tail -1 "$TMP/ctd-a.log" 2>/dev/null)"
		return
	fi
	for r in $(seq "$SB_REPS"); do
		sb_ct_stop_b
		b0=$(sb_ct_stat a '^UDP traffic' 'Bytes sent')
		t0=$(date +%s%N)
		sb_ct_start b
		if ! sb_ct_wait b external "$n" "$SB_TIMEOUT"; then
			sb_ct_na "error: conntrackd B did not receive $n entries within ${SB_TIMEOUT} s (run $r)"
			return
		fi
		secs="$secs $(python3 -c "print(($SB_T - $t0) / 1e9)")"
		rate="$rate $(python3 -c "print($n / (($SB_T - $t0) / 1e9))")"
		sleep 0.3
		bps="$bps $(python3 -c "print(($(sb_ct_stat a '^UDP traffic' 'Bytes sent') - $b0) / $n)")"
		t0=$(date +%s%N)
		ip netns exec nsbs-cb conntrackd -C "$TMP/ctd-b.conf" -c >/dev/null 2>&1
		t1=$(date +%s%N)
		commit="$commit $(python3 -c "print(($t1 - $t0) / 1e9)")"
		log "  conntrackd run $r: resync $(echo "$secs" | awk '{print $NF}') s, commit $(echo "$commit" | awk '{print $NF}') s, kernel table on B: $(ip netns exec nsbs-cb conntrack -C 2>/dev/null)"
	done
	how="conntrackd $(conntrackd -v 2>/dev/null | grep -o 'v[0-9.]*' | head -1) FTFW over UDP on a veth pair between two namespaces; $n TCP established conntrack entries loaded into A's kernel table with conntrack -R (the natsync rows' tuples, no NAT); B started fresh with StartupResync on; state read with conntrackd -s every ${SB_POLL} s; median of $SB_REPS"
	sb_emit_stat "conntrackd bulk resync to a fresh backup" "$n" s "$secs" \
		"$how; from starting B's conntrackd until its external cache (user space) holds all entries" \
		"$(sb_load); $n, not 1M: nf_conntrack_max is $(cat /proc/sys/net/netfilter/nf_conntrack_max) and is not raised" ""
	sb_emit_stat "conntrackd bulk resync rate" "$n" sessions/s "$rate" \
		"entries / seconds of the resync row" "" ""
	sb_emit_stat "conntrackd bytes per entry on the wire" "$n" B/session "$bps" \
		"A's UDP bytes sent during the resync (conntrackd -s) / entries (FTFW headers, acks and alive messages included; UDP/IP headers not)" "" ""
	sb_emit_stat "conntrackd commit of the resynced entries into the kernel" "$n" s "$commit" \
		"$how; conntrackd -c on B (external cache into B's kernel conntrack table, what a conntrackd backup does at takeover), wall clock" \
		"natsync's backup installs into its maps as it receives: its bulk row already includes this step" ""
	sb_ct_stop_b
	if [ -n "${SB_SAME_S:-}" ]; then
		# Both end with the entries in the kernel: natsync's backup
		# installs as it receives; conntrackd's commits at takeover.
		emit sync "natsync / conntrackd bulk to a fresh backup, same count, same start event" \
			"$n" x "$(python3 - "$SB_SAME_S" "$secs" "$commit" <<'EOF'
import statistics, sys
ns = statistics.median(float(x) for x in sys.argv[1].split())
ct = statistics.median(float(x) for x in sys.argv[2].split())
cm = statistics.median(float(x) for x in sys.argv[3].split())
print(round(ns / (ct + cm), 3))
EOF
)" null null 1 \
			"median natsync bulk (backup process start -> all installed in its maps) / median conntrackd (backup process start -> external cache full, + commit into the kernel table), both at $n entries in this run" \
			"below 1: natsync faster" ""
	fi
	log "  conntrackd done"
}

# run_sync: section 4 (the failover figures are section 5, failover.sh).
run_sync() {
	log "4. sync: two natsyncd over a veth pair${QUICK:+ (quick)}"
	exec {SB_LOCK_FD}>"$SB_LOCK"
	if ! flock -n "$SB_LOCK_FD"; then
		SB_BULK_N=1000000
		SB_CT_N=null
		sb_na_all "n/a (another make bench holds $SB_LOCK: its sync section is running)"
		sb_ct_na "n/a (another make bench holds $SB_LOCK: its sync section is running)"
		exec {SB_LOCK_FD}>&-
		return
	fi
	SB_OWN=1
	sync_cleanup # leftovers of an interrupted run: the lock says none is running
	if [ -n "$QUICK" ]; then
		SB_BULK_N=100000; SB_REPL_N=50000; SB_REPS=1; SB_THR=3; SB_MAX=262144
		SB_CT_N=20000
	else
		SB_BULK_N=1000000; SB_REPL_N=500000; SB_REPS=3; SB_THR=15; SB_MAX=3000000
		SB_CT_N=200000
	fi
	SB_TIMEOUT=180
	SB_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
	if [ ! -x "$BUILD/natsyncd" ] || [ ! -x "$BUILD/natsyncctl" ]; then
		sb_na_all "n/a (natsyncd/natsyncctl not built)"
	else
		run_sync_natsync
	fi
	sync_cleanup
	run_sync_conntrackd
	sync_cleanup
	SB_OWN=
	exec {SB_LOCK_FD}>&-
}
