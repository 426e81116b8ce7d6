#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh - `sudo make demo`: one natsync box in a veth lab, real traffic,
# and a look at what natsyncd and the fast path know about it; then the HA
# pair: two boxes, long-lived flows through the primary, a hard failure of
# the primary, and the same flows continuing through the backup.
#
#   nsd-cli (subscriber 100.64.0.10) -- nsd-in [nsd-box: natsyncd] nsd-out -- nsd-srv (198.51.100.10)
#
# The box runs natsyncd with configs/single-box.cfg (its interfaces are
# "nsd-in" and "nsd-out"); the demo only changes the pin path and the
# control socket, so it never touches a natsyncd already running on this
# machine. Everything is removed at the end, also on Ctrl-C or an error.
#
# The steps are functions (lab_*, traffic_*, show_*) so the HA pair demo can
# reuse them with a second box.
#
# The HA part is tests/netns/test_failover.sh (on tests/netns/pair.sh, the
# one definition of the pair's topology, configs and flow generator) in its narrated
# hard-failure-only mode, with namespaces nsdha-* and pins
# /sys/fs/bpf/nsdha-*; it tears its lab down itself on every exit path, and
# this script stops it (SIGTERM, its trap cleans up) if interrupted.
#
# Environment: NATSYNC_BUILD (default "build"), DEMO_CONFIG (default
# configs/single-box.cfg), DEMO_PAUSE=1 waits for Enter between steps,
# DEMO_HA=0 skips the HA part.
set -u
set -o pipefail
. "$(dirname "$0")/../tests/netns/lib.sh"

DEMO_CONFIG=${DEMO_CONFIG:-$NST_REPO/configs/single-box.cfg}
DEMO_PIN=/sys/fs/bpf/nsd-demo
DEMO_SOCK=/run/nsd-demo.sock

# step TEXT: say what comes next (and wait when DEMO_PAUSE=1).
step()
{
	if [ -t 1 ]; then
		printf '\n\033[1m==> %s\033[0m\n' "$*"
	else
		printf '\n==> %s\n' "$*"
	fi
	if [ "${DEMO_PAUSE:-0}" = 1 ]; then
		read -r -p "    (Enter to continue) " _
	fi
}

# run CMD...: show a command, then run it.
run()
{
	printf '$ %s\n' "$*"
	"$@"
}

# demo_config SRC DST: SRC with our pin path and control socket (the
# file's own pin-path/control-socket lines are dropped, ours go right after
# "natsync: {").
demo_config()
{
	awk -v pin="$DEMO_PIN" -v sock="$DEMO_SOCK" '
		/^[[:space:]]*(pin-path|control-socket)[[:space:]]*=/ { next }
		{ print }
		!done && /natsync[[:space:]]*:[[:space:]]*\{/ {
			print "  pin-path = \"" pin "\";"
			print "  control-socket = \"" sock "\";"
			done = 1
		}' "$1" >"$2"
}

# lab_build: the three namespaces, addresses and routes (tests/netns/lib.sh).
lab_build()
{
	step "Building the lab: nsd-cli -- nsd-box -- nsd-srv (veth pairs, namespaces)"
	topo_single_box nsd
	echo "subscriber $LAB_CLI_ADDR/24 (gw $LAB_BOX_IN_ADDR), server $LAB_SRV_ADDR/24;"
	echo "the server routes the pool 203.0.113.0/24 to the box and has no route to 100.64.0.0/10:"
	run ip -n nsd-srv route
	nst_check_no_leak nsd-box nsd-srv || nst_die "the lab is not isolated from the host"
}

# lab_start_box NS CFG SOCK PIN LOG: natsyncd in NS (a second box of the HA
# demo passes its own socket and pin path).
lab_start_box()
{
	local ns=$1 cfg=$2 sock=$3 pin=$4 log=$5

	step "Starting natsyncd in $ns (config $(basename "$DEMO_CONFIG"), pins in $pin)"
	run "$NATSYNCD" -c "$cfg" --check || nst_die "the config does not validate"
	echo "\$ nsenter --net=/var/run/netns/$ns $NATSYNCD -f -c $cfg &"
	nsd_start "$ns" "$cfg" "$sock" "$pin" "$log" ||
		nst_die "natsyncd did not start"
	echo "XDP/TC programs on the box's interfaces:"
	ip -n "$ns" -br link show dev nsd-in
	ip -n "$ns" -d link show dev nsd-in | grep -E 'xdp|prog' || true
	ip netns exec "$ns" tc filter show dev nsd-in ingress 2>/dev/null || true
	run "$NATSYNCCTL" -s "$sock" show status
}

traffic_ping()
{
	step "ICMP: the subscriber pings the server (echo id translated)"
	run ip netns exec nsd-cli ping -c 3 -i 0.3 "$LAB_SRV_ADDR" || nst_die "ping failed"
}

traffic_udp()
{
	step "UDP: a request to an echo server that answers with the source address it saw"
	udp_echo_start nsd-srv 5003 || nst_die "UDP echo server did not start"
	printf '$ echo hello | socat - UDP:%s:5003,sourceport=40001\n' "$LAB_SRV_ADDR"
	local out

	out=$(udp_request nsd-cli "$LAB_SRV_ADDR" 5003 40001 hello)
	echo "$out"
	case "$out" in
	from=203.0.113.*) echo "(the server saw a pool address, never $LAB_CLI_ADDR)" ;;
	*) nst_die "no UDP answer through the NAT" ;;
	esac
}

traffic_tcp()
{
	step "TCP: 4 MB from the subscriber to the server and 4 MB back, sha256 compared"
	tcp_upload nsd-cli nsd-srv "$LAB_SRV_ADDR" 5001 $((4 << 20)) || nst_die "TCP upload failed"
	tcp_download nsd-cli nsd-srv "$LAB_SRV_ADDR" 5002 $((4 << 20)) || nst_die "TCP download failed"
}

traffic_unsolicited()
{
	step "Unsolicited: the server knocks on the pool address (no session -> dropped)"
	local out

	out=$(udp_request nsd-srv 203.0.113.1 7777 41001 knock)
	if [ -n "$out" ]; then
		echo "unexpected answer: $out"
	else
		echo "no answer, as it should be"
	fi
	printf '$ natsyncctl show counters | grep -E "rx|drop_no_session"\n'
	"$NATSYNCCTL" -s "$DEMO_SOCK" show counters | grep -E '^ *(rx|drop_no_session) '
	true
}

# show_state SOCK PIN: what one box knows.
show_state()
{
	local sock=$1 pin=$2

	step "natsyncctl show sessions (subscriber -> remote, pool endpoint, state, timers)"
	run "$NATSYNCCTL" -s "$sock" show sessions
	step "natsyncctl show pools (bindings in use, held, subscribers)"
	run "$NATSYNCCTL" -s "$sock" show pools
	step "natsyncctl show counters (every packet ends in exactly one verdict)"
	run "$NATSYNCCTL" -s "$sock" show counters
	step "The same sessions straight from the pinned, BTF-typed BPF map"
	printf '$ bpftool map dump pinned %s/'"$NS_PIN_SUBDIR"'/ns_sessions | head -40\n' "$pin"
	bpftool map dump pinned "$pin/$NS_PIN_SUBDIR/ns_sessions" | head -40
	echo "(addresses are __be32, shown as host-order integers by bpftool)"
}

# lab_stop_box NS PID CFG PIN: SIGTERM, show the pins survive, purge them.
lab_stop_box()
{
	local ns=$1 pid=$2 cfg=$3 pin=$4

	step "Stopping natsyncd in $ns (SIGTERM): programs detached, pinned maps kept for a restart"
	nsd_stop "$pid" 10
	echo "natsyncd exited with status $NSD_RC"
	run ls "$pin/$NS_PIN_SUBDIR"
	step "natsyncd --purge removes the pins"
	run nsenter --net="/var/run/netns/$ns" "$NATSYNCD" -c "$cfg" --purge
}

HA_PID=

# ha_stop: stop a running HA part and let its own trap tear its lab down
# (SIGTERM, up to 30 s; the next run with the prefix removes anything a
# KILL left behind).
ha_stop()
{
	local _

	[ -n "$HA_PID" ] || return 0
	kill -TERM "$HA_PID" 2>/dev/null
	for _ in $(seq 1 300); do
		kill -0 "$HA_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$HA_PID" 2>/dev/null
	wait "$HA_PID" 2>/dev/null
	HA_PID=
}

# ha_demo: the HA pair (see the header).
ha_demo()
{
	local rc

	step "HA pair: boxes A (primary) and B (backup) between the subscriber and the server;" \
		"20 long-lived TCP connections and 5 UDP flows through A, 10,000 more replicated" \
		"sessions; then kill -9 of natsyncd on A and A's links down"
	echo "$ NSR_PREFIX=nsdha NSR_PHASES=hard NSR_DEMO=1 NSR_TCP=20 NSR_UDP=5 NSR_EXTRA=10000 tests/netns/test_failover.sh"
	NSR_PREFIX=nsdha NSR_PHASES=hard NSR_DEMO=1 NSR_TCP=20 NSR_UDP=5 NSR_EXTRA=10000 \
		NSR_SETTLE=3 NATSYNC_BUILD=$NST_BUILD bash "$NST_REPO/tests/netns/test_failover.sh" &
	HA_PID=$!
	wait "$HA_PID"
	rc=$?
	HA_PID=
	[ "$rc" = 0 ] || nst_die "the HA part failed (exit $rc)"
	echo "(every TCP byte came back in order, no reset, no UDP flow changed its pool address:port)"
}

main()
{
	nst_init nsd
	# The HA part runs in the background (so that a SIGTERM to this script
	# reaches this trap): stop it before the lab's own cleanup.
	trap 'rc=$?; ha_stop; (exit $rc); nst_cleanup' EXIT
	nst_need_natsync
	nst_need_tools socat ss bpftool ping tc
	[ -r "$DEMO_CONFIG" ] || nst_die "no config $DEMO_CONFIG"
	DEMO_CFG=$NST_TMP/single-box.cfg
	demo_config "$DEMO_CONFIG" "$DEMO_CFG"

	lab_build
	lab_start_box nsd-box "$DEMO_CFG" "$DEMO_SOCK" "$DEMO_PIN" "$NST_TMP/natsyncd.log"
	local box_pid=$NSD_PID
	traffic_ping
	traffic_udp
	traffic_tcp
	traffic_unsolicited
	show_state "$DEMO_SOCK" "$DEMO_PIN"
	lab_stop_box nsd-box "$box_pid" "$DEMO_CFG" "$DEMO_PIN"
	step "Tearing the single-box lab down"
	nst_remove_namespaces
	if [ "${DEMO_HA:-1}" != 0 ]; then
		ha_demo
		step "Tearing the HA lab down (done by test_failover.sh itself)"
	fi
	NST_PASS=1
}

main "$@"
