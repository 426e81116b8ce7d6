#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/run.sh - `make bench` (issue 5). Run as root from the repo
# root; BUILD names the build directory (the Makefile passes it).
#
#   1. per-packet cost with BPF_PROG_TEST_RUN     (bench_pkt testrun)
#   2. forwarding through a veth box              (this script: sgen,
#                                                  xdp-gen, trafgen)
#   3. scale: map memory, load time, aging        (bench_pkt scale), and a
#      natsyncd holding 1M and 10M sessions        (daemon_scale.sh)
#   4. sync: two natsyncd, conntrackd side by side (sync.sh)
#   5. failover: gap and takeover time, 1k vs 1M     (failover.sh)
#
# Every figure is one JSON line in $BUILD/bench.jsonl; report.py prints the
# table and writes $BUILD/bench.json. BENCH_QUICK=1 runs a short smoke
# version. Benchmarks never fail on a time: a missed target is printed.
#
# Isolation: 1 and 3 run in a private network namespace (unshare -n) that
# vanishes with the process; 2 uses the namespaces nsb-gen, nsb-box and
# nsb-sink, 3 also nsb-scale. Pins live under /sys/fs/bpf/nsb-*. All of it is removed on every
# exit path (trap). No route leads out of the namespaces.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# Every natsyncd of the benchmarks ages with the in-kernel sweep or does not
# start (its rows then say why): a figure of the batch walk fallback would
# be a figure of the wrong engine.
export NATSYNC_AGING_ENGINE=${NATSYNC_AGING_ENGINE:-in-kernel}
BUILD=${BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BP=$BUILD/bench_pkt
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
# BENCH_ONLY=testrun,forward,scale,sync,failover picks sections (default: all).
ONLY=${BENCH_ONLY:-testrun,forward,scale,sync,failover}
OUT=$BUILD/bench.jsonl
JSON=$BUILD/bench.json
PIN_SCALE=/sys/fs/bpf/nsb-bench
PIN_FWD=/sys/fs/bpf/nsb-fwd
# <pin-path>/<this>/<map>: the ABI subdirectory, from the contract itself
PIN_SUB=$(sed -n 's/^#define NS_PIN_SUBDIR "\(.*\)"$/\1/p' "$ROOT/common/natsync.h")
NSS="nsb-gen nsb-box nsb-sink"
TMP=$(mktemp -d /tmp/nsb-bench.XXXXXX)
DAEMON_PID=
NS_PINS=
NS_HOW=

log() { echo "bench: $*" >&2; }

cleanup() {
	local n
	if [ -n "$DAEMON_PID" ]; then
		kill "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	for n in $NSS; do
		ip netns del "$n" 2>/dev/null
	done
	sync_cleanup
	failover_cleanup
	ds_cleanup
	rm -rf "$PIN_SCALE" "$PIN_FWD" "$TMP"
}
# shellcheck source=tests/bench/sync.sh
. "$ROOT/tests/bench/sync.sh"
# shellcheck source=tests/bench/failover.sh
. "$ROOT/tests/bench/failover.sh"
# shellcheck source=tests/bench/daemon_scale.sh
. "$ROOT/tests/bench/daemon_scale.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root (network namespaces, BPF)" >&2
	exit 1
fi
if [ ! -x "$BP" ]; then
	echo "bench: $BP missing: run 'make bench'" >&2
	exit 1
fi
for n in $NSS; do
	if ip netns list | grep -qw "$n"; then
		log "namespace $n exists (an earlier run?): deleting it"
		ip netns del "$n"
	fi
done
: >"$OUT"

# A JSON line from the shell: emit SECTION NAME SESSIONS UNIT MEDIAN MIN MAX N HOW NOTE TARGET
# (numbers may be "null"; strings must not contain double quotes).
emit() {
	local s
	s=$(printf '{"section":"%s","name":"%s","sessions":%s,"unit":"%s","median":%s,"min":%s,"max":%s,"n":%s,"how":"%s","note":%s,"target":%s}' \
		"$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" \
		"$([ -n "${10}" ] && echo "\"${10}\"" || echo null)" \
		"$([ -n "${11}" ] && echo "\"${11}\"" || echo null)")
	echo "$s" >>"$OUT"
}

emit_na() { # SECTION NAME SESSIONS NOTE TARGET
	emit "$1" "$2" "$3" "" null null null 0 "" "$4" "$5"
}

# ---- 1 and 3: test_run and scale, in a private netns ---------------------

# Two veths for the ingress ifindexes; static neighbours so bpf_fib_lookup
# succeeds (the ping-pong sessions alternate between the subscriber and
# the pool address as destination, both resolvable).
private_ns_setup() {
	set -e
	ip link set lo up
	ip link add nsbi type veth peer name nsbi-p
	ip link add nsbo type veth peer name nsbo-p
	for d in nsbi nsbi-p nsbo nsbo-p; do ip link set "$d" up; done
	ip addr add 100.64.0.1/10 dev nsbi
	ip addr add 198.51.100.1/24 dev nsbo
	sysctl -qw net.ipv4.ip_forward=1
	ip neigh replace 100.64.0.10 lladdr 02:00:00:00:b1:0a dev nsbi nud permanent
	ip neigh replace 100.64.0.2 lladdr 02:00:00:00:b1:02 dev nsbi nud permanent
	ip route add 203.0.113.0/24 via 100.64.0.2 dev nsbi
	ip neigh replace 198.51.100.2 lladdr 02:00:00:00:b2:02 dev nsbo nud permanent
	# NAT64 rows: the IPv6 client is a resolved neighbour on nsbi
	sysctl -qw net.ipv6.conf.all.forwarding=1
	ip -6 addr add 2001:db8:64::1/64 dev nsbi nodad
	ip -6 neigh replace 2001:db8:64::a lladdr 02:00:00:00:b1:0a dev nsbi nud permanent
	set +e
}

run_private() {
	local q=${QUICK:+-q}
	case ",$ONLY," in *,testrun,*)
		log "1. BPF_PROG_TEST_RUN per-packet cost${QUICK:+ (quick)}"
		unshare -n bash -c "$(declare -f private_ns_setup); private_ns_setup && \
			'$BP' $q testrun" >>"$OUT" || log "testrun failed (exit $?)"
		run_profile
	esac
	case ",$ONLY," in *,scale,*)
		log "3. scale: map memory, load+pin+attach, aging${QUICK:+ (quick)}"
		unshare -n bash -c "$(declare -f private_ns_setup); private_ns_setup && \
			'$BP' $q scale '$PIN_SCALE'" >>"$OUT" || log "scale failed (exit $?)"
		run_daemon_scale
	esac
}

# Where natsync's time goes, by perf (established in->out, then session
# setup): bench_pkt profile runs the case in a loop (test_run calls of
# repeat 1) under perf record with the software cpu-clock event (no PMU in
# this VM), a fixed period of 50 us, call chains; profile.py keeps the
# samples inside the program and sorts them by kernel helper (perf records
# the BPF programs' symbols, so the profile is read after they are gone).
run_profile() {
	local q=${QUICK:+-q} secs=${QUICK:+2} mode
	secs=${secs:-6}
	if ! command -v perf >/dev/null; then
		emit_na profile "profile: natsync" null "n/a (perf not installed)" ""
		return
	fi
	for mode in est setup; do
		log "1b. perf profile of natsync, $mode (${secs} s)"
		if ! unshare -n bash -c "$(declare -f private_ns_setup); private_ns_setup && \
			perf record -q -e cpu-clock -c 50000 -g -o '$TMP/perf.data' -- \
			'$BP' $q profile $secs $mode" >"$TMP/profile.json" 2>"$TMP/perf.log"; then
			emit_na profile "profile: natsync $mode" null \
				"error: perf record failed: $(tail -1 "$TMP/perf.log")" ""
			continue
		fi
		perf script -i "$TMP/perf.data" 2>/dev/null |
			python3 "$ROOT/tests/bench/profile.py" "$(tail -1 "$TMP/profile.json")" 50000 \
			>>"$OUT" || emit_na profile "profile: natsync $mode" null "error: profile.py failed" ""
		rm -f "$TMP/perf.data"
	done
}

# ---- 2: forwarding through a veth box -------------------------------------
#
#   nsb-gen [nsbg0] ---- [nsbb0] nsb-box [nsbb1] ---- [nsbs0] nsb-sink
#   100.64.0.2/10     100.64.0.1/10   198.51.100.1/24     198.51.100.2/24
#
# A generator in nsb-gen on CPU 1 sends 64-byte UDP frames. The box's receive
# work runs in the threaded NAPI kthread of nsbb0, pinned to CPU 0: its
# run time (/proc/PID/schedstat) divided by the packets nsbb0 received is
# the box's CPU cost per packet, whatever the generator manages. The sink
# counts and drops with XDP (bench_sink), the same cost for every case.
#
# Generators (issue 14): sgen (bench_pkt sgen: sendmmsg on an AF_PACKET
# socket, no TX ring, no BPF), xdp-gen (XDP live frames) and trafgen. Each is
# probed once before the cases; one that cannot send here gets rows saying
# "not measured, because" with its own error, and priming uses sgen.

NS_GEN="nsenter --net=/var/run/netns/nsb-gen"
NS_BOX="nsenter --net=/var/run/netns/nsb-box"
NS_SINK="nsenter --net=/var/run/netns/nsb-sink"

mac_of() { ip -n "$1" -j link show "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'; }
rx_of() { ip -n "$1" -j -s link show "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }

topo_setup() {
	local n
	for n in $NSS; do
		ip netns add "$n" && ip -n "$n" link set lo up || return 1
	done
	ip link add nsbg0 netns nsb-gen type veth peer name nsbb0 netns nsb-box || return 1
	ip link add nsbb1 netns nsb-box type veth peer name nsbs0 netns nsb-sink || return 1
	ip -n nsb-gen addr add 100.64.0.2/10 dev nsbg0
	ip -n nsb-box addr add 100.64.0.1/10 dev nsbb0
	ip -n nsb-box addr add 198.51.100.1/24 dev nsbb1
	ip -n nsb-sink addr add 198.51.100.2/24 dev nsbs0
	ip -n nsb-gen link set nsbg0 up
	ip -n nsb-box link set nsbb0 up
	ip -n nsb-box link set nsbb1 up
	ip -n nsb-sink link set nsbs0 up
	ip netns exec nsb-box sysctl -qw net.ipv4.ip_forward=1
	ip -n nsb-gen route add 198.51.100.0/24 via 100.64.0.1
	ip -n nsb-sink route add 100.64.0.0/10 via 198.51.100.1
	ip -n nsb-sink route add 203.0.113.0/24 via 198.51.100.1
	MAC_GEN=$(mac_of nsb-gen nsbg0)
	MAC_BIN=$(mac_of nsb-box nsbb0)
	MAC_BOUT=$(mac_of nsb-box nsbb1)
	MAC_SINK=$(mac_of nsb-sink nsbs0)
	# Static neighbours: no ARP in the measurement, and XDP's fib lookup
	# finds a resolved neighbour from the first packet.
	ip -n nsb-box neigh replace 198.51.100.2 lladdr "$MAC_SINK" dev nsbb1 nud permanent
	ip -n nsb-box neigh replace 100.64.0.2 lladdr "$MAC_GEN" dev nsbb0 nud permanent
	ip -n nsb-gen neigh replace 100.64.0.1 lladdr "$MAC_BIN" dev nsbg0 nud permanent
	ip -n nsb-sink neigh replace 198.51.100.1 lladdr "$MAC_BOUT" dev nsbs0 nud permanent
	# NAPI on every receiving veth (GRO on, or an XDP program), TSO off on
	# the senders: otherwise veth bypasses NAPI (and XDP) altogether.
	ip netns exec nsb-gen ethtool -K nsbg0 tso off gso off >/dev/null 2>&1
	ip netns exec nsb-sink ethtool -K nsbs0 tso off gso off >/dev/null 2>&1
	ip netns exec nsb-box ethtool -K nsbb0 gro on tso off gso off >/dev/null 2>&1
	ip netns exec nsb-box ethtool -K nsbb1 gro on tso off gso off >/dev/null 2>&1
	$NS_SINK "$BP" attach sink nsbs0 || return 1
	$NS_GEN "$BP" attach sink nsbg0 || return 1
	ip netns exec nsb-box sh -c 'echo 1 > /sys/class/net/nsbb0/threaded && echo 1 > /sys/class/net/nsbb1/threaded' || return 1
	ip netns exec nsb-sink sh -c 'echo 1 > /sys/class/net/nsbs0/threaded' || return 1
}

# PID of the NAPI kthread of an interface (named napi/IFNAME-ID).
napi_pid() { ps -eo pid=,comm= | awk -v p="napi/$1-" 'index($2, p) == 1 { print $1; exit }'; }

pin_threads() {
	local p
	BOX_PID=$(napi_pid nsbb0)
	[ -n "$BOX_PID" ] || return 1
	taskset -pc 0 "$BOX_PID" >/dev/null
	p=$(napi_pid nsbb1) && [ -n "$p" ] && taskset -pc 0 "$p" >/dev/null
	# The sink's thread shares CPU 1 with trafgen but preempts it
	# (SCHED_FIFO): a starved sink would overflow its ring and lose frames
	# the box already paid for.
	p=$(napi_pid nsbs0) && [ -n "$p" ] && taskset -pc 1 "$p" >/dev/null && chrt -f -p 10 "$p"
	return 0
}

# trafgen configs. cpu(1): only the process on CPU 1 sends. The small TX
# ring (-S 128KiB, 64 frames) keeps the frames in flight below the socket's
# send buffer: with a full veth ring trafgen would otherwise die on EAGAIN.
tg_flows() { # FLOWS -> config on stdout (FLOWS source ports from 1024)
	local sp
	if [ "$1" = 1 ]; then sp=1024; else sp="dinc(1024, $((1023 + $1)))"; fi
	cat <<-EOF
	cpu($GEN_CPU): {
	  eth(da=$MAC_BIN, sa=$MAC_GEN),
	  ipv4(sa=100.64.0.2, da=198.51.100.2, ttl=64),
	  udp(sp=$sp, dp=9),
	  fill(0xa5, 18)
	}
	EOF
}

# Every frame a new 5-tuple: source 100.64.X.Y and source port from byte
# counters of coprime periods (251, 256, 252, 253): ~1e9 frames before a
# tuple repeats.
tg_new() {
	local m1 m2
	m1=$(echo "$MAC_BIN" | sed 's/^/0x/; s/:/, 0x/g')
	m2=$(echo "$MAC_GEN" | sed 's/^/0x/; s/:/, 0x/g')
	cat <<-EOF
	cpu($GEN_CPU): {
	  $m1, $m2, c16(0x0800),
	  0x45, 0x00, c16(46), c16(0), c16(0), 64, 17, csumip(14, 33),
	  100, 64, dinc(0, 250), dinc(0, 255), 198, 51, 100, 2,
	  dinc(4, 255), dinc(0, 252), c16(9), c16(26), csumudp(14, 34),
	  fill(0xa5, 18)
	}
	EOF
}

trafgen_run() { # NS DEV CFG COUNT
	ip netns exec "$1" trafgen -i "$3" -o "$2" -n "$4" -P 2 --no-sock-mem -Q -S 128KiB \
		-C >"$TMP/trafgen.log" 2>&1
}

# Send COUNT frames of PATTERN with generator GEN from nsb-gen; on failure
# GEN_ERR is the generator's last message.
gen_run() { # GEN CFG PATTERN COUNT
	GEN_ERR=
	case $1 in
	trafgen)
		trafgen_run nsb-gen nsbg0 "$2" "$4" && return 0
		GEN_ERR=$(tail -1 "$TMP/trafgen.log")
		;;
	xdp-gen | sgen) # bench_pkt gen / sgen
		$NS_GEN taskset -c "$GEN_CPU" "$BP" "${1#xdp-}" nsbg0 "$MAC_BIN" "$3" "$4" \
			>"$TMP/gen.log" 2>&1 && return 0
		GEN_ERR=$(tail -1 "$TMP/gen.log")
		;;
	esac
	# The reason goes into a JSON string: no quotes, no backslashes.
	GEN_ERR=$(printf '%s' "${GEN_ERR:-exit status without a message}" | tr -d '"\\')
	log "$1 failed: $GEN_ERR"
	return 1
}

# Probe every generator once (1,000 frames of one flow, kernel forwarding):
# GEN_WHY_<gen> is set to why it cannot be measured here, or stays empty.
probe_generators() {
	local g b0 why
	for g in $GENS; do
		why=
		b0=$(rx_of nsb-box nsbb0)
		tg_flows 1 >"$TMP/tg.cfg"
		if ! gen_run "$g" "$TMP/tg.cfg" 1 1000; then
			case $g in
			xdp-gen) why="the XDP live-frames BPF_PROG_RUN of xdp-gen is refused here ($GEN_ERR)" ;;
			trafgen) why="trafgen cannot send here ($GEN_ERR)" ;;
			*) why="$g cannot send here ($GEN_ERR)" ;;
			esac
		elif [ "$(rx_of nsb-box nsbb0)" = "$b0" ]; then
			why="none of the 1,000 frames of the probe run of $g reached the box"
		fi
		printf -v "GEN_WHY_${g//-/_}" '%s' "$why"
		log "  generator $g: ${why:-works}"
	done
}

gen_why() { local v="GEN_WHY_${1//-/_}"; echo "${!v}"; }

# One measured run: sets R_COST (ns/pkt), R_PPS (at the sink), R_DROP
# (received by the box, not delivered), R_BUSY (box thread busy, %).
measure_once() { # GEN CFG PATTERN COUNT
	local r0 r1 b0 b1 s0 s1 t0 t1 win
	rm -f "$TMP/gen.log"
	r0=$(awk '{print $1}' "/proc/$BOX_PID/schedstat")
	b0=$(rx_of nsb-box nsbb0)
	s0=$(rx_of nsb-sink nsbs0)
	t0=$(date +%s%N)
	gen_run "$@" || return 1
	sleep 0.2 # let the box drain its ring
	t1=$(date +%s%N)
	r1=$(awk '{print $1}' "/proc/$BOX_PID/schedstat")
	b1=$(rx_of nsb-box nsbb0)
	s1=$(rx_of nsb-sink nsbs0)
	[ $((b1 - b0)) -gt 0 ] || return 1
	# The window: the generator's own run time when it reports it (xdp-gen,
	# sgen: without process start-up and program load), else the wall clock.
	win=$(awk '/^sent/ {print $4}' "$TMP/gen.log" 2>/dev/null)
	[ "$1" != trafgen ] && [ -n "$win" ] || win=$((t1 - t0 - 200000000))
	R_COST=$(python3 -c "print(($r1 - $r0) / ($b1 - $b0))")
	R_PPS=$(python3 -c "print(($s1 - $s0) / ($win / 1e9))")
	R_BUSY=$(python3 -c "print(min(100, round(100 * ($r1 - $r0) / $win)))")
	R_DROP=$((b1 - b0 - (s1 - s0)))
}

stats3() { # values... -> "median min max n"
	python3 -c 'import sys, statistics as s; v = [float(x) for x in sys.argv[1:]]; print(s.median(v), min(v), max(v), len(v))' "$@"
}

# Prime PATTERN's flows with sgen, paced to PRIME_PPS so every flow gets
# through: each flow seen by the box before timing, and for nftables
# answered by the sink (sgen -r: to the pool address conntrack chose, the
# ports kept) so conntrack sees both directions.
prime() { # CASE PATTERN
	local addr
	ct() { ip netns exec nsb-box conntrack -L -p udp 2>/dev/null; }
	$NS_GEN taskset -c "$GEN_CPU" "$BP" sgen nsbg0 "$MAC_BIN" "$2" $(($2 * 4)) "$PRIME_PPS" \
		>/dev/null 2>&1 || log "priming $1, $2 flows: sgen failed"
	PRIME=
	[ "$1" = nftables ] || return 0
	addr=$(ct | grep -o 'dst=203\.0\.113\.[0-9]*' | head -1 | cut -d= -f2)
	$NS_SINK taskset -c "$GEN_CPU" "$BP" sgen -r "${addr:-203.0.113.1}" nsbs0 "$MAC_BOUT" "$2" \
		$(($2 * 4)) "$PRIME_PPS" >/dev/null 2>&1 || log "priming nftables replies: sgen failed"
	PRIME="conntrack primed both ways: $(ct | grep -vc UNREPLIED) of $(ct | wc -l) entries replied"
}

# Measure CASE with GEN over one traffic pattern; emits cost and rate.
measure_pattern() { # CASE GEN PATTERN(1|64|4096|new) REF TARGET
	local count reps costs="" pps="" busy="" drops=0 st how note gen
	# Each pattern starts from an empty conntrack table (nftables case).
	ip netns exec nsb-box conntrack -F >/dev/null 2>&1
	PRIME=
	if [ "$3" = new ]; then
		tg_new >"$TMP/tg.cfg"
		reps=1 # the same tuples again would not be new
		count=$NEW_COUNT
		[ "$2" = xdp-gen ] && count=$NEW_COUNT_XDP
		[ "$2" = sgen ] && count=$NEW_COUNT_SGEN
	else
		tg_flows "$3" >"$TMP/tg.cfg"
		reps=$REPS
		count=$COUNT
		[ "$2" = xdp-gen ] && count=$COUNT_XDP
		[ "$2" = sgen ] && count=$COUNT_SGEN
		prime "$1" "$3"
	fi
	[ "${1%%-*}" = natsync ] && $NS_BOX "$BP" attach counters "$NS_PINS" >"$TMP/c0.json" 2>/dev/null
	for _ in $(seq "$reps"); do
		measure_once "$2" "$TMP/tg.cfg" "$3" "$count" || {
			# a generator that passed its probe failing now is an error
			# (report.py lists it and exits 1), not a limit of the machine
			if [ -n "$GEN_ERR" ]; then
				emit_not_measured "$1" "$2" "$3" "$2 failed: $GEN_ERR" "$5" "error: "
			else
				emit_not_measured "$1" "$2" "$3" "the box received no frame" "$5" "error: "
			fi
			return
		}
		costs="$costs $R_COST"
		pps="$pps $R_PPS"
		busy="$busy $R_BUSY"
		drops=$((drops + R_DROP))
	done
	case $2 in
	trafgen) gen="trafgen (paced by its 64-frame TX ring), $count frames per run" ;;
	xdp-gen) gen="xdp-gen (BPF live frames, saturating), $count frames offered per run" ;;
	sgen) gen="sgen (sendmmsg on AF_PACKET, qdisc bypassed, saturating), $count frames offered per run" ;;
	esac
	how="box NAPI thread run time (schedstat) / frames received by the box; $gen; 64 B UDP; median of $reps runs"
	note="${4:+$4; }${PRIME:+$PRIME; }box thread busy:$(echo "$busy" | sed 's/ \([0-9]*\)/ \1%/g')"
	[ "$drops" -gt 0 ] && note="$note; $drops frames received by the box but not delivered to the sink"
	if [ "${1%%-*}" = natsync ] && $NS_BOX "$BP" attach counters "$NS_PINS" >"$TMP/c1.json" 2>/dev/null; then
		note="$note; $NS_HOW; natsync counters over the runs: $(python3 - "$TMP/c0.json" "$TMP/c1.json" <<-'PY'
		import json, sys
		a, b = (json.load(open(f)) for f in sys.argv[1:3])
		d = {k: b[k] - a.get(k, 0) for k in b if b[k] != a.get(k, 0)}
		print(", ".join(f"{k} {v}" for k, v in d.items()))
		PY
		)"
	fi
	read -r -a st <<<"$(stats3 $costs)"
	emit forward "$1: box cost per packet, $3 flows, $2" null ns/pkt "${st[0]}" "${st[1]}" \
		"${st[2]}" "${st[3]}" "$how" "$note" "$5"
	read -r -a st <<<"$(stats3 $pps)"
	emit forward "$1: delivered rate, $3 flows, $2" null pps "${st[0]}" "${st[1]}" "${st[2]}" \
		"${st[3]}" "frames counted at the sink / generator run time (xdp-gen: its test_run call; sgen: its send loop; trafgen: wall clock), median of $reps runs" "" ""
}

# Both rows of CASE/GEN/PATTERN as not measured, with the reason.
emit_not_measured() { # CASE GEN PATTERN WHY TARGET [PREFIX]
	emit_na forward "$1: box cost per packet, $3 flows, $2" null "${6:-}not measured, because $4" "$5"
	emit_na forward "$1: delivered rate, $3 flows, $2" null "${6:-}not measured, because $4" ""
}

case_begin() { # CASE
	case $1 in
	kernel) ;;
	nftables)
		ip netns exec nsb-box nft -f - <<-EOF || return 1
		table ip nsbnat {
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "nsbb1" ip saddr 100.64.0.0/10 snat to 203.0.113.0-203.0.113.255
			}
		}
		EOF
		;;
	xdp-min)
		$NS_BOX "$BP" attach fwd nsbb0 nsbb1 || return 1
		;;
	xdp-static)
		$NS_BOX "$BP" attach static nsbb0 nsbb1 "$MAC_SINK" 2>"$TMP/attach.log" || {
			CASE_WHY=$(tail -1 "$TMP/attach.log" | tr -d '"\\')
			return 1
		}
		;;
	natsync)
		rm -rf "$PIN_FWD"
		if start_daemon; then
			NS_PINS=$PIN_FWD/$PIN_SUB
			NS_HOW="natsyncd -c <bench config> (NAPT44, paired, random ports, accept-all firewall)"
		else
			log "natsyncd did not come up ($(tail -1 "$TMP/natsyncd.log")): using bench_pkt's loader"
			NS_PINS=$PIN_FWD
			NS_HOW="natsyncd failed to start; natsync's XDP program attached and its maps filled by bench_pkt (same rules)"
			$NS_BOX "$BP" attach natsync nsbb0 nsbb1 "$PIN_FWD" 2>"$TMP/attach.log" || {
				CASE_WHY=$(tail -1 "$TMP/attach.log")
				return 1
			}
		fi
		;;
	esac
	pin_threads
}

# natsyncd for the box, with the single-box example's rules on our
# interfaces, our pin path and socket, and room for the all-new flows.
bench_config() {
	cat <<-EOF
	natsync: {
		node-name = "nsb-bench";
		pin-path = "$PIN_FWD";
		control-socket = "$TMP/ctl.sock";
		log: { level = "warning"; };
		attach-mode = "native";
		max-sessions = 4194304;
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
				next-hop-service = { inside-service-interface = "nsbb0";
					outside-service-interface = "nsbb1"; }; } );
		};
	};
	EOF
}

# Start natsyncd in the box (nsenter keeps /sys/fs/bpf); wait for its XDP.
start_daemon() {
	[ -x "$BUILD/natsyncd" ] || return 1
	bench_config >"$TMP/natsyncd.cfg"
	$NS_BOX "$BUILD/natsyncd" -c "$TMP/natsyncd.cfg" -f >"$TMP/natsyncd.log" 2>&1 &
	DAEMON_PID=$!
	# 60 s: its maps are sized for 4M sessions (about 12 s to load at
	# 1M-per-3 s on the 2-vCPU VM, more under load).
	for _ in $(seq 300); do
		if ip -n nsb-box link show nsbb1 | grep -q xdp && [ -e "$PIN_FWD/$PIN_SUB/ns_counters" ]; then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.2
	done
	stop_daemon
	return 1
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

case_end() { # CASE
	case $1 in
	nftables)
		ip netns exec nsb-box nft delete table ip nsbnat
		ip netns exec nsb-box conntrack -F >/dev/null 2>&1
		;;
	xdp-min | xdp-static) $NS_BOX "$BP" attach off nsbb0 nsbb1 ;;
	natsync)
		$NS_BOX "$BP" attach counters "$NS_PINS" >"$TMP/ns_counters.json" 2>/dev/null &&
			log "natsync counters: $(cat "$TMP/ns_counters.json")"
		if [ -n "$DAEMON_PID" ]; then
			stop_daemon
			$NS_BOX "$BUILD/natsyncd" -c "$TMP/natsyncd.cfg" --purge >/dev/null 2>&1
		else
			$NS_BOX "$BP" attach off nsbb0 nsbb1
		fi
		rm -rf "$PIN_FWD"
		;;
	esac
}

run_forward() {
	local c g p ref target why
	log "2. forwarding through a veth box${QUICK:+ (quick)}"
	if ! topo_setup || ! pin_threads; then
		emit_na forward "all forwarding cases" null \
			"not measured, because the topology could not be set up (threaded NAPI on veth?)" ""
		return
	fi
	probe_generators
	for c in kernel nftables xdp-static xdp-min natsync; do
		CASE_WHY=
		if ! case_begin "$c"; then
			log "case $c: ${CASE_WHY:-setup failed}"
			for g in $GENS; do
				for p in $PATTERNS; do
					emit_not_measured "$c" "$g" "$p" \
						"the $c case could not be set up: ${CASE_WHY:-setup failed}" ""
				done
			done
			case_end "$c" 2>/dev/null
			continue
		fi
		# Baselines are measured in this run, side by side: no figure
		# copied from elsewhere goes into a row's note.
		ref=
		[ "$c" = natsync ] && ref="target: <= 1.25 x xdp-min established (see ratios)"
		for g in $GENS; do
			why=$(gen_why "$g")
			for p in $PATTERNS; do
				target=""
				[ "$c" = natsync ] && [ "$p" = new ] && target="<= 1000"
				if [ -n "$why" ]; then
					emit_not_measured "$c" "$g" "$p" "$why" "$target"
					continue
				fi
				log "  $c, $g, $p flows"
				measure_pattern "$c" "$g" "$p" "$ref" "$target"
			done
		done
		[ "$c" = natsync ] && forward_big_table
		case_end "$c"
	done
}

# natsync again with PREFILL_FWD established sessions in its table (bench_pkt
# attach prefill: TCP sessions of subscribers 100.96.0.0/11, none of the
# patterns' established tuples), established patterns only: the new-flow
# pattern's source addresses are the prefilled subscribers'.
forward_big_table() {
	local c g p why= t0
	c="natsync-$PREFILL_LABEL"
	t0=$(date +%s%N)
	if ! $NS_BOX "$BP" attach prefill "$NS_PINS" "$PREFILL_FWD" 2>"$TMP/prefill.log"; then
		why="writing $PREFILL_FWD sessions into natsync's maps failed: $(tail -1 "$TMP/prefill.log" | tr -d '"\\')"
	fi
	log "  $c: $PREFILL_FWD sessions written in $(( ($(date +%s%N) - t0) / 1000000 )) ms${why:+ ($why)}"
	for g in $GENS; do
		for p in $PATTERNS; do
			if [ -n "$(gen_why "$g")" ]; then
				emit_not_measured "$c" "$g" "$p" "$(gen_why "$g")" ""
			elif [ -n "$why" ]; then
				emit_not_measured "$c" "$g" "$p" "$why" ""
			elif [ "$p" = new ]; then
				emit_not_measured "$c" "$g" "$p" "the new-flow pattern's source addresses (100.96.0.0/11) are those of the prefilled sessions: its frames would hit them" ""
			else
				log "  $c, $g, $p flows"
				measure_pattern "$c" "$g" "$p" "$PREFILL_FWD sessions prefilled" ""
			fi
		done
	done
}

# ---- daemon and sync rows ---------------------------------------------------

run_rest() {
	case ",$ONLY," in *,sync,*) run_sync ;; esac
	case ",$ONLY," in *,failover,*) run_failover ;; esac
}

# CPU the generators send from (the box's NAPI thread is on CPU 0).
GEN_CPU=${BENCH_GEN_CPU:-1}
# Generators of section 2, in the order of the table; trafgen needs the
# netsniff-ng package (make deps).
GENS="sgen xdp-gen trafgen"
# Flow patterns of every case and generator (quick: without 64 flows).
PATTERNS="new 1 64 4096"
# Priming rate (frames/s): far below what any case forwards, so no flow's
# first frame is dropped before the box.
PRIME_PPS=100000
# Frames per run. New flows stay below nf_conntrack_max (262144 here; the
# xdp-gen offers more than the box takes: only what it receives is new).
if [ -n "$QUICK" ]; then
	COUNT=300000; NEW_COUNT=100000; REPS=1
	COUNT_XDP=2000000; NEW_COUNT_XDP=500000
	COUNT_SGEN=500000; NEW_COUNT_SGEN=100000
	PREFILL_FWD=100000; PREFILL_LABEL=100k
	PATTERNS="new 1 4096"
else
	COUNT=2000000; NEW_COUNT=200000; REPS=3
	COUNT_XDP=10000000; NEW_COUNT_XDP=1000000
	COUNT_SGEN=3000000; NEW_COUNT_SGEN=200000
	PREFILL_FWD=1000000; PREFILL_LABEL=1M
fi

START=$(date +%s)
case ",$ONLY," in *,testrun,*|*,scale,*) run_private ;; esac
case ",$ONLY," in *,forward,*) run_forward ;; esac
run_rest
cleanup
trap - EXIT
python3 "$ROOT/tests/bench/report.py" "$OUT" "$JSON" \
	"$([ -n "$QUICK" ] && echo quick || echo full) run, $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r), $(date -u +%FT%TZ), $(($(date +%s) - START)) s"
