# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/netns/lib.sh - the one topology helper of natsync's namespace tests.
#
# Every veth-namespace scenario, the demo (scripts/demo.sh) and the HA
# sync/failover tests source this file. It builds hosts as network
# namespaces joined by veth pairs (or by bridges in a "switch" namespace),
# starts natsyncd inside a namespace the right way (nsenter, so the host's
# bpffs stays visible), runs named checks that print PASS/FAIL, and tears
# everything down on every exit path.
#
# Usage:
#	. tests/netns/lib.sh
#	nst_init nst            # prefix: every namespace is named "nst-..."
#	ns_add nst-cli; ns_add nst-box; ...
#	link_pair nst-cli eth0 nst-box nst-in
#	...
#	check "ping works" ns_exec nst-cli ping -c1 -W2 198.51.100.10
#	nst_finish              # prints the summary, exits 0/1
#	nst_skip "REASON"       # instead: cannot run here (SKIP line, exit 77)
#
# Scripts run with "set -o pipefail": never end a pipeline in "grep -q"
# (grep exits at the first match, the writer gets SIGPIPE and the pipeline
# fails at random; "grep >/dev/null" does the same); capture the output
# first: grep -q PATTERN <<<"$(cmd)".
#
# Environment:
#	NATSYNC_BUILD   build dir holding natsyncd/natsyncctl (default "build",
#			relative to the repo root)
#	NST_KEEP=1      on exit, keep namespaces, running daemons, pins and the
#			scratch dir (debugging only; the next run with the same
#			prefix removes them first)
#	NST_VERBOSE=1   trace every lib command
#	NST_SCAPY_PYTHON  the python3 that imports scapy (nst_need_scapy;
#			default /usr/bin/python3, Debian's python3-scapy)

# Where the repository is: two levels above this file.
NST_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NATSYNC_BUILD=${NATSYNC_BUILD:-build}
case "$NATSYNC_BUILD" in
/*) NST_BUILD=$NATSYNC_BUILD ;;
*) NST_BUILD=$NST_REPO/$NATSYNC_BUILD ;;
esac
NATSYNCD=$NST_BUILD/natsyncd
NATSYNCCTL=$NST_BUILD/natsyncctl
# The pin directory's ABI subdirectory (<pin-path>/<this>/<map>), from the
# contract itself, so a bump of NS_ABI_VERSION needs no test edit.
NS_PIN_SUBDIR=$(sed -n 's/^#define NS_PIN_SUBDIR "\(.*\)"$/\1/p' "$NST_REPO/common/natsync.h")
[ -n "$NS_PIN_SUBDIR" ] || { echo "lib.sh: NS_PIN_SUBDIR not found in common/natsync.h" >&2; exit 1; }

NST_PREFIX=""           # set by nst_init; every namespace name starts with it
NST_TMP=""              # scratch dir of this run (configs, logs, captures)
NST_PASS=0
NST_FAIL=0
NST_FAILED_NAMES=()
NST_BG_PIDS=()          # background helpers we started (kill on exit)
NST_DAEMONS=()          # "pid:namespace:config" of every natsyncd we started
NST_PINS=()             # pin directories we own (removed on exit)
NST_SOCKS=()            # control sockets we own (removed on exit)
NST_CLEANED=0

nst_log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
nst_err() { printf '[%s] ERROR: %s\n' "$(date +%T)" "$*" >&2; }

# nst_die MSG: abort the scenario (the EXIT trap cleans up).
nst_die()
{
	nst_err "$*"
	NST_FAIL=$((NST_FAIL + 1))
	exit 1
}

# nst_skip REASON: this scenario cannot run here. Prints "SKIP: REASON" and
# exits 77 (the EXIT trap cleans up and keeps the status). run-all.sh counts
# it as skipped, never as passed; "make test" fails on it unless README.md
# lists REASON under "Accepted skips". Only for limits of the environment:
# a missing feature or a broken build is a failure (nst_die).
nst_skip()
{
	printf 'SKIP: %s\n' "$*"
	# run-all.sh reads the reason from here (a skip in a subshell, whose
	# exit status the script may not pass on, is still seen).
	[ -n "${NST_SKIP_FILE:-}" ] && printf '%s\n' "$*" >>"$NST_SKIP_FILE"
	exit 77
}

# nst_need_root: the scenarios create namespaces and load BPF programs.
nst_need_root()
{
	[ "$(id -u)" -eq 0 ] || nst_die "must run as root (try: sudo make netns)"
}

# nst_need_tools TOOL...: fail early and clearly when a tool is missing
# (scripts/deps.sh installs them).
nst_need_tools()
{
	local t missing=""

	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	[ -z "$missing" ] || nst_die "missing tools:$missing (run: sudo make deps)"
}

# nst_need_scapy: sets SCAPY_PY, the python3 that imports scapy. Debian's
# python3-scapy is a module of the system's python3, which a python3 found
# first in PATH (a virtualenv, pyenv) may not see, hence /usr/bin/python3
# (NST_SCAPY_PYTHON overrides). Missing, it is a missing dependency like a
# tool (scripts/deps.sh installs it): a failure, never a skip.
nst_need_scapy()
{
	SCAPY_PY=${NST_SCAPY_PYTHON:-/usr/bin/python3}
	"$SCAPY_PY" -c 'import scapy.all' 2>/dev/null ||
		nst_die "scapy not importable by $SCAPY_PY (python3-scapy; run: sudo make deps)"
}

# nst_need_natsync: natsyncd and natsyncctl must have been built.
nst_need_natsync()
{
	[ -x "$NATSYNCD" ] || nst_die "$NATSYNCD not built (run: make BUILD=$NATSYNC_BUILD)"
	[ -x "$NATSYNCCTL" ] || nst_die "$NATSYNCCTL not built (run: make BUILD=$NATSYNC_BUILD)"
}

# nst_init PREFIX: start a test run whose namespaces all start with
# "PREFIX-". Removes leftovers of an earlier run with the same prefix,
# creates the scratch dir and installs the cleanup trap for every exit path.
nst_init()
{
	NST_PREFIX=$1
	case "$NST_PREFIX" in
	"" | *[!a-z0-9]*) nst_die "bad prefix '$NST_PREFIX' (lowercase letters and digits)" ;;
	esac
	[ "${NST_VERBOSE:-0}" = 1 ] && set -x
	nst_need_root
	nst_need_tools ip ethtool nsenter sysctl python3 clang gcc
	# A crashed (or NST_KEEP) earlier run must not make this one fail in a
	# confusing way: its namespaces, daemons and pins go first. Pin dirs
	# named after our prefix are ours by convention.
	nst_remove_namespaces
	rm -rf /sys/fs/bpf/"$NST_PREFIX"-*
	NST_TMP=$(mktemp -d "/tmp/$NST_PREFIX.XXXXXX")
	trap nst_cleanup EXIT
	trap 'nst_err "interrupted"; exit 130' INT TERM
}

# ---- namespaces and links ---------------------------------------------

# nst_own NAME: refuse to touch a namespace that is not ours.
nst_own()
{
	case "$1" in
	"$NST_PREFIX"-*) return 0 ;;
	esac
	nst_die "namespace '$1' does not start with '$NST_PREFIX-'"
}

# ns_add NAME: a new namespace (a "host") with lo up, IPv6 off (it only adds
# router solicitations and other noise to captures and counters) and no
# netfilter rules.
ns_add()
{
	local ns=$1

	nst_own "$ns"
	ip netns add "$ns" || nst_die "ip netns add $ns"
	ip -n "$ns" link set lo up
	ns_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1
	ns_sysctl "$ns" net.ipv6.conf.default.disable_ipv6=1
}

# ns_exec NS CMD...: run CMD in namespace NS (for traffic tools; natsyncd
# is started with nsd_start instead, see there).
ns_exec()
{
	local ns=$1

	shift
	ip netns exec "$ns" "$@"
}

# ns_sysctl NS KEY=VALUE: set a sysctl inside NS.
ns_sysctl()
{
	ip netns exec "$1" sysctl -qw "$2" >/dev/null || nst_die "sysctl $2 in $1"
}

# link_pair NS1 IF1 NS2 IF2: a veth pair from NS1/IF1 to NS2/IF2, both up.
# The pair is created inside NS1 directly so nothing ever appears in the
# host namespace, not even for a moment.
link_pair()
{
	local ns1=$1 if1=$2 ns2=$3 if2=$4

	nst_own "$ns1"
	nst_own "$ns2"
	ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2" ||
		nst_die "veth $ns1/$if1 <-> $ns2/$if2"
	ip -n "$ns1" link set "$if1" up
	ip -n "$ns2" link set "$if2" up
}

# addr_add NS IF CIDR: an IPv4 address on IF.
addr_add()
{
	ip -n "$1" addr add "$3" dev "$2" || nst_die "addr $3 on $1/$2"
}

# route_add NS DEST VIA: a route in NS ("default" allowed; VIA is a gateway).
route_add()
{
	ip -n "$1" route add "$2" via "$3" || nst_die "route $2 via $3 in $1"
}

# bridge_add NS BR: a bridge in a "switch" namespace, up, with STP off and
# no forwarding delay (a LAN of more than two hosts: HA pairs).
bridge_add()
{
	ip -n "$1" link add "$2" type bridge forward_delay 0 stp_state 0 ||
		nst_die "bridge $2 in $1"
	ip -n "$1" link set "$2" up
}

# bridge_attach NS BR IF: enslave IF (already in NS) to bridge BR.
bridge_attach()
{
	ip -n "$1" link set "$3" master "$2" || nst_die "attach $3 to $2 in $1"
}

# offload_off NS IF: turn tx checksum offload off on a test host's veth.
# A local socket's packets otherwise leave with CHECKSUM_PARTIAL (only the
# pseudo-header sum filled in); XDP sees raw frames, not the skb's
# partial-checksum state, so a rewritten packet would arrive with a wrong
# checksum. Turning tx off makes the kernel compute full checksums.
offload_off()
{
	ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 ||
		nst_die "ethtool -K $2 tx off in $1"
}

# gro_on NS IF: give a veth NAPI so that XDP_REDIRECTed frames (sent to its
# peer with ndo_xdp_xmit) are received; without NAPI (GRO off and no XDP
# program) the kernel drops them without counting them anywhere visible.
gro_on()
{
	ip netns exec "$1" ethtool -K "$2" gro on >/dev/null 2>&1 ||
		nst_die "ethtool -K $2 gro on in $1"
}

# nst_xdp_pass_obj: path of a BPF object with one XDP program that passes
# everything (built once per run with clang, which natsync needs anyway).
nst_xdp_pass_obj()
{
	local src=$NST_TMP/xdp_pass.bpf.c obj=$NST_TMP/xdp_pass.bpf.o

	if [ ! -s "$obj" ]; then
		cat >"$src" <<-'EOF'
		#include <linux/bpf.h>
		#define SEC(s) __attribute__((section(s), used))
		SEC("xdp") int nst_xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }
		char _license[] SEC("license") = "GPL";
		EOF
		clang -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
			-c "$src" -o "$obj" || nst_die "cannot build $obj"
	fi
	echo "$obj"
}

# xdp_pass_on NS IF: an XDP program that passes everything on a test host's
# veth. Frames the box sends back with XDP_TX (firewall reject: TCP RST,
# ICMP unreachable) only reach a veth peer that runs an XDP program: with
# GRO alone they are lost without a trace (kernel 6.18), although
# XDP_REDIRECTed frames do arrive.
xdp_pass_on()
{
	local obj

	obj=$(nst_xdp_pass_obj) || return 1
	ip -n "$1" link set dev "$2" xdpdrv obj "$obj" sec xdp ||
		nst_die "XDP pass program on $1/$2"
}

# host_prepare NS IF: the usual treatment of a test host's veth: complete
# checksums on transmit, NAPI on receive (GRO and an XDP pass program).
host_prepare()
{
	offload_off "$1" "$2"
	gro_on "$1" "$2"
	xdp_pass_on "$1" "$2"
}

# box_sysctls NS: a router: forwarding on, reverse-path filtering off (NAT
# return traffic arrives for the pool, which is not on any interface).
box_sysctls()
{
	local ns=$1 k

	ns_sysctl "$ns" net.ipv4.ip_forward=1
	for k in all default; do
		ns_sysctl "$ns" "net.ipv4.conf.$k.rp_filter=0"
	done
}

# iface_rp_filter_off NS IF: per-interface rp_filter (the kernel uses the max
# of "all" and the interface's own value).
iface_rp_filter_off()
{
	ns_sysctl "$1" "net.ipv4.conf.$2.rp_filter=0"
}

# ---- the single-box lab ---------------------------------------------

# Addresses of the single-box lab (DESIGN.md: subscribers 100.64.0.0/10,
# outside hosts 198.51.100.0/24, pools 203.0.113.0/24).
LAB_CLI_ADDR=100.64.0.10
LAB_BOX_IN_ADDR=100.64.0.1
LAB_BOX_OUT_ADDR=198.51.100.1
LAB_SRV_ADDR=198.51.100.10
LAB_POOL=203.0.113.0/28

# topo_single_box P: client -- box -- server, namespaces P-cli, P-box,
# P-srv; the box's interfaces are "P-in" (inside) and "P-out" (outside),
# the hosts' are "eth0". The server reaches only the box's outside subnet
# and the pool (203.0.113.0/24 via the box): it has no route to the
# subscribers, so only a NAT makes the client reachable. Default routes:
# the client's points at the box, the box's at the server (its upstream);
# the server has none.
topo_single_box()
{
	local p=$1

	ns_add "$p-cli"
	ns_add "$p-box"
	ns_add "$p-srv"
	link_pair "$p-cli" eth0 "$p-box" "$p-in"
	link_pair "$p-box" "$p-out" "$p-srv" eth0
	addr_add "$p-cli" eth0 "$LAB_CLI_ADDR/24"
	addr_add "$p-box" "$p-in" "$LAB_BOX_IN_ADDR/24"
	addr_add "$p-box" "$p-out" "$LAB_BOX_OUT_ADDR/24"
	addr_add "$p-srv" eth0 "$LAB_SRV_ADDR/24"
	route_add "$p-cli" 198.51.100.0/24 "$LAB_BOX_IN_ADDR"
	route_add "$p-srv" 203.0.113.0/24 "$LAB_BOX_OUT_ADDR"
	# The server is also the box's upstream router, as on a real edge box
	# (a default route towards the internet). Without any route for the
	# pool, the kernel would treat pool addresses as unroutable and the
	# fast path hands such packets to it (see doc/testing.md).
	route_add "$p-box" default "$LAB_SRV_ADDR"
	box_sysctls "$p-box"
	iface_rp_filter_off "$p-box" "$p-in"
	iface_rp_filter_off "$p-box" "$p-out"
	host_prepare "$p-cli" eth0
	host_prepare "$p-srv" eth0
	# The box's own veths receive redirected frames too (the reply
	# direction is redirected from P-out into P-in, whose peer is the
	# client: that peer needs NAPI, set above). GRO on the box's ends
	# lets native XDP run on them when the peer sends TSO frames.
	gro_on "$p-box" "$p-in"
	gro_on "$p-box" "$p-out"
}

# ---- traffic ----------------------------------------------------------

# tcp_listening NS PORT: something listens on TCP PORT in NS.
tcp_listening()
{
	[ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ]
}

# tcp_hold_start SRV_NS CLI_NS ADDR PORT [SOCAT_OPTS]: a long-lived TCP
# connection from CLI_NS to ADDR:PORT (a server in SRV_NS that discards).
# The client sends a byte a second, so its session outlives short
# established timeouts on a loaded machine: tests that need a live session
# must not depend on how fast their other checks run. ADDR is as socat
# takes it after TCP: or TCP6: ("[2001:db8::1]" for IPv6). Sets
# NST_HOLD_SRV and NST_HOLD_CLI (bg_stop them; bg_stop_all does too).
tcp_hold_start()
{
	local srv_ns=$1 cli_ns=$2 addr=$3 port=$4 opts=${5:+,$5} fam=TCP

	case $addr in \[*) fam=TCP6 ;; esac
	bg_start "$NST_TMP/hold-srv-$port.log" "$srv_ns" timeout 300 \
		socat -u "TCP-LISTEN:$port,reuseaddr" OPEN:/dev/null
	NST_HOLD_SRV=$NST_LAST_PID
	wait_for 15 tcp_listening "$srv_ns" "$port" || { echo "server did not listen"; return 1; }
	bg_start "$NST_TMP/hold-cli-$port.log" "$cli_ns" timeout 300 \
		socat -u SYSTEM:"while sleep 1; do echo; done" \
		"$fam:$addr:$port,connect-timeout=5$opts"
	NST_HOLD_CLI=$NST_LAST_PID
}

# udp_listening NS PORT: something is bound to UDP PORT in NS.
udp_listening()
{
	[ -n "$(ip netns exec "$1" ss -Hlun "sport = :$2")" ]
}

# sha_of FILE: the sha256 of FILE.
sha_of()
{
	sha256sum "$1" | awk '{print $1}'
}

# tcp_transfer up|down CLI_NS SRV_NS SRV_ADDR PORT BYTES [SRV_PORT]: move
# BYTES random bytes over one TCP connection from the client to the server
# (up) or from the server to the client (down), with socat; 0 when the
# receiver got exactly them (sha256 compared both ends). The server listens
# on SRV_PORT (default PORT: another one when a NAT forwards PORT to it).
tcp_transfer()
{
	local dir=$1 cns=$2 sns=$3 addr=$4 port=$5 bytes=$6 lport=${7:-$5} tx rx pid srv cli

	tx=$NST_TMP/$dir-$port.tx
	rx=$NST_TMP/$dir-$port.rx
	head -c "$bytes" /dev/urandom >"$tx"
	rm -f "$rx"
	if [ "$dir" = up ]; then
		srv=("TCP-LISTEN:$lport,reuseaddr" "CREATE:$rx")
		cli=("FILE:$tx" "TCP:$addr:$port,connect-timeout=5")
	else
		srv=("FILE:$tx" "TCP-LISTEN:$lport,reuseaddr")
		cli=("TCP:$addr:$port,connect-timeout=5" "CREATE:$rx")
	fi
	bg_start "$NST_TMP/$dir-$port.srv.log" "$sns" timeout 60 socat -u "${srv[@]}"
	pid=$NST_LAST_PID
	wait_for 5 tcp_listening "$sns" "$lport" || { echo "server did not listen"; return 1; }
	ip netns exec "$cns" timeout 60 socat -u "${cli[@]}" ||
		{ echo "client socat failed"; bg_stop "$pid"; return 1; }
	wait "$pid" || { echo "server socat failed: $(cat "$NST_TMP/$dir-$port.srv.log")"; return 1; }
	[ -f "$rx" ] || { echo "nothing received"; return 1; }
	echo "sent $(stat -c %s "$tx") bytes sha256 $(sha_of "$tx")"
	echo "got  $(stat -c %s "$rx") bytes sha256 $(sha_of "$rx")"
	[ "$(sha_of "$tx")" = "$(sha_of "$rx")" ]
}

# tcp_upload / tcp_download CLI_NS SRV_NS SRV_ADDR PORT BYTES [SRV_PORT]
tcp_upload() { tcp_transfer up "$@"; }
tcp_download() { tcp_transfer down "$@"; }

# udp_echo_start NS PORT: a UDP server in NS answering every datagram with
# "from=PEERADDR:PEERPORT data=LINE", i.e. it reports the source address
# it saw. Sets NST_LAST_PID.
udp_echo_start()
{
	bg_start "$NST_TMP/udp-echo-$2.log" "$1" \
		socat "UDP-RECVFROM:$2,reuseaddr,fork" \
		SYSTEM:'read -r l; echo "from=$SOCAT_PEERADDR:$SOCAT_PEERPORT data=$l"'
	wait_for 5 udp_listening "$1" "$2"
}

# udp_request NS ADDR PORT SPORT TEXT: send TEXT from source port SPORT,
# print the answer (empty on timeout, 3 s).
udp_request()
{
	echo "$5" | ip netns exec "$1" timeout 5 \
		socat -T3 - "UDP:$2:$3,sourceport=$4,reuseaddr"
}

# ---- leak checks ------------------------------------------------------

# nst_addrs: every IPv4 address configured in our namespaces.
nst_addrs()
{
	local ns

	for ns in $(ip netns list | awk '{print $1}' | grep "^$NST_PREFIX-"); do
		ip -n "$ns" -o -4 addr show | awk '{print $4}' | cut -d/ -f1
	done
}

# nst_check_no_leak NS...: every veth in the given namespaces has its peer
# in one of our namespaces (never in the host), every default route points
# at an address of one of our namespaces, and the host namespace has no
# interface with our prefix. Returns 0 when clean.
nst_check_no_leak()
{
	local ns ok=0 ids peer_id peer_name gw g addrs

	addrs=" $(nst_addrs | tr '\n' ' ') "
	for ns in "$@"; do
		gw=$(ip -n "$ns" route show default | awk '{for (i = 1; i < NF; i++) if ($i == "via") print $(i + 1)}')
		if [ -n "$(ip -n "$ns" route show default)" ] && [ -z "$gw" ]; then
			nst_err "$ns has a default route without a gateway: $(ip -n "$ns" route show default)"
			ok=1
		fi
		for g in $gw; do
			case "$addrs" in
			*" $g "*) ;;
			*)
				nst_err "$ns: default route via $g, which is not a test host"
				ok=1
				;;
			esac
		done
		# Map peer netns ids to names, as seen from inside ns.
		ids=$(ip -n "$ns" netns list-id 2>/dev/null)
		while read -r peer_id; do
			[ -n "$peer_id" ] || continue
			peer_name=$(printf '%s\n' "$ids" |
				sed -n "s/^nsid $peer_id (iproute2 netns name: \(.*\))\$/\1/p")
			case "$peer_name" in
			"$NST_PREFIX"-*) ;;
			*)
				nst_err "$ns: a veth peer lives outside the test (netns id $peer_id, '$peer_name')"
				ok=1
				;;
			esac
		done < <(ip -n "$ns" -j -d link show type veth |
			python3 -c 'import json,sys
for l in json.load(sys.stdin):
    print(l.get("link_netnsid", ""))')
	done
	if grep -q ": $NST_PREFIX-" <<<"$(ip -o link show)"; then
		nst_err "an interface named $NST_PREFIX-* exists in the host namespace"
		ok=1
	fi
	return $ok
}

# ---- background helpers -----------------------------------------------

# bg_start LOG NS CMD...: run CMD in NS in the background, output to LOG;
# sets NST_LAST_PID. Stopped by bg_stop or on exit.
bg_start()
{
	local log=$1 ns=$2

	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	NST_LAST_PID=$!
	NST_BG_PIDS+=("$NST_LAST_PID")
}

# bg_stop PID: stop one background helper (TERM, then KILL) and reap it.
bg_stop()
{
	local pid=$1 i

	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 20); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# bg_stop_all: stop every background helper still registered.
bg_stop_all()
{
	local pid

	for pid in "${NST_BG_PIDS[@]}"; do
		bg_stop "$pid"
	done
	NST_BG_PIDS=()
}

# equals GOT WANT: for check; prints both (shown when the check fails).
equals() { echo "got '$1', want '$2'"; [ "$1" = "$2" ]; }

# wait_for SECONDS CMD...: retry CMD every 0.2 s until it succeeds; 1 on
# timeout.
wait_for()
{
	local deadline

	deadline=$(($(date +%s%N) + $1 * 1000000000))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
	return 0
}

# ---- natsyncd ---------------------------------------------------------

# nsd_ctl SOCK ARGS...: natsyncctl against one daemon's control socket.
nsd_ctl()
{
	local sock=$1

	shift
	"$NATSYNCCTL" -s "$sock" "$@"
}

# nsd_start NS CFG SOCK PIN LOG: start natsyncd -f in NS and wait until its
# control socket answers "show status". nsenter --net changes only the
# network namespace: `ip netns exec` would also remount /sys, hiding the
# host's bpffs at /sys/fs/bpf, and the daemon's pins would vanish with that
# private mount. Sets NSD_PID. Registers pin dir and socket for cleanup.
nsd_start()
{
	local ns=$1 cfg=$2 sock=$3 pin=$4 log=$5

	nst_own "$ns"
	NST_PINS+=("$pin")
	NST_SOCKS+=("$sock")
	nsenter --net="/var/run/netns/$ns" "$NATSYNCD" -f -c "$cfg" >"$log" 2>&1 &
	NSD_PID=$!
	NST_DAEMONS+=("$NSD_PID:$ns:$cfg")
	if ! wait_for 15 nsd_ready "$NSD_PID" "$sock"; then
		nst_err "natsyncd in $ns did not answer on $sock; its log ($log):"
		sed 's/^/    | /' "$log" >&2
		return 1
	fi
	nst_log "natsyncd running in $ns (pid $NSD_PID, socket $sock)"
	return 0
}

# nsd_ready PID SOCK: the daemon lives and its control socket answers. A
# daemon that died makes the wait stop early (kill -0 fails -> the status
# query still fails, but we also return 2 to say why).
nsd_ready()
{
	kill -0 "$1" 2>/dev/null || return 2
	"$NATSYNCCTL" -s "$2" show status >/dev/null 2>&1
}

# nsd_stop PID [SECONDS]: SIGTERM, wait up to SECONDS (default 10). Sets
# NSD_RC to the daemon's exit status (124 when it had to be killed).
nsd_stop()
{
	local pid=$1 secs=${2:-10} i

	NSD_RC=0
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		NSD_RC=$?
		return 0
	fi
	kill -TERM "$pid"
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		nst_err "natsyncd $pid ignored SIGTERM for ${secs}s; killing it"
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		NSD_RC=124
		return 0
	fi
	wait "$pid" 2>/dev/null
	NSD_RC=$?
	return 0
}

# ---- box configs ------------------------------------------------------
#
# A scenario's config is these pieces, in this order, inside a heredoc or a
# { ...; } >FILE group: nsd_cfg_open (the natsync group's opening: who the
# box is, where its pins and socket are, its limits and timeouts), its own
# groups (ipfix, metrics, ...), nsd_cfg_redundancy for a pair, the services
# (nsd_cfg_napt44_services, nat64_services in nat64_lab.sh, or its own),
# and the closing "};".

# nsd_cfg_value VALUE: VALUE as libconfig wants it: numbers, true/false,
# groups, lists and arrays as given, anything else a quoted string.
nsd_cfg_value()
{
	if [[ "$1" =~ ^(-?[0-9]+|true|false|[\{\(\[\"].*)$ ]]; then
		printf '%s' "$1"
	else
		printf '"%s"' "$1"
	fi
}

# nsd_cfg_kv INDENT KEY=VALUE...: one setting a line (a group: "KEY: {...};").
nsd_cfg_kv()
{
	local ind=$1 kv k v

	shift
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		case "$kv" in
		*=*) ;;
		*) nst_die "config setting '$kv' is not KEY=VALUE" ;;
		esac
		case "$v" in
		\{*) printf '%s%s: %s;\n' "$ind" "$k" "$v" ;;
		*) printf '%s%s = %s;\n' "$ind" "$k" "$(nsd_cfg_value "$v")" ;;
		esac
	done
}

# nsd_cfg_open NODE PIN SOCK [KEY=VALUE...]: the opening of a box's config:
# a "generated by" comment, "natsync: {" with node-name, pin-path and
# control-socket, the log group (log=LEVEL, default debug, or
# log="{ ... }" the whole group; log= leaves it out), every other
# KEY = VALUE of the natsync group in the order given (max-sessions=4096
# attach-mode=tc ...; nsd_cfg_value quotes), and last the timeouts group
# from timeouts="NAME=SECONDS ..." (none when not given: the daemon's
# defaults). The caller writes the rest and the closing "};".
nsd_cfg_open()
{
	local node=$1 pin=$2 sock=$3 log=debug timeouts="" kv rest=() t n=0

	shift 3
	for kv in "$@"; do
		case "$kv" in
		log=*) log=${kv#log=} ;;
		timeouts=*) timeouts=${kv#timeouts=} ;;
		*) rest+=("$kv") ;;
		esac
	done
	printf '# generated by tests/netns/%s\nnatsync: {\n' "$(basename "$0")"
	nsd_cfg_kv "  " node-name="$node" pin-path="$pin" control-socket="$sock"
	case "$log" in
	"") ;;
	\{*) printf '  log: %s;\n' "$log" ;;
	*) printf '  log: { level = "%s"; };\n' "$log" ;;
	esac
	[ ${#rest[@]} -eq 0 ] || nsd_cfg_kv "  " "${rest[@]}"
	[ -n "$timeouts" ] || return 0
	printf '  timeouts: {'
	for t in $timeouts; do
		case "$t" in
		*=*) ;;
		*) nst_die "timeout '$t' is not NAME=SECONDS" ;;
		esac
		# five a line
		[ $((n % 5)) -eq 0 ] && printf '\n   '
		printf ' %s = %s;' "${t%%=*}" "${t#*=}"
		n=$((n + 1))
	done
	printf '\n  };\n'
}

# nsd_cfg_head NODE MODE PIN SOCK: nsd_cfg_open for scenarios that look at
# live sessions: attach mode MODE, timeouts long enough that nothing
# expires between two steps on a loaded machine.
nsd_cfg_head()
{
	nsd_cfg_open "$1" "$3" "$4" max-sessions=4096 attach-mode="$2" \
		timeouts="tcp-syn=60 tcp-established=600 udp=300 icmp=300"
}

# nsd_cfg_redundancy LOCAL PEER [KEY=VALUE...] [-- LINES]: the
# redundancy-options group of a pair's box: its sync address LOCAL, the
# peer's PEER, the sync link in the routing instance "ha", then every
# KEY = VALUE in the order given (replication-threshold=1
# initial-role=backup ...; nsd_cfg_value quotes), then LINES as they are.
nsd_cfg_redundancy()
{
	local local_addr=$1 peer_addr=$2 kvs=() lines=""

	shift 2
	while [ $# -gt 0 ]; do
		[ "$1" = -- ] && { lines=${2:-}; break; }
		kvs+=("$1")
		shift
	done
	printf '  redundancy-options: {\n'
	nsd_cfg_kv "    " redundancy-local="{ data-address = \"$local_addr\"; }" \
		redundancy-peer="{ ipaddress = \"$peer_addr\"; }" routing-instance=ha "${kvs[@]}"
	[ -z "$lines" ] || printf '%s\n' "$lines"
	printf '  };\n'
}

# nsd_cfg_napt44_services POOL IN OUT [KEY=VALUE...]: the services group of
# a NAPT44 box: pool p1 (POOL, automatic ports), rule r1 with one napt-44
# term t1 for the subscribers, service set ss1 on IN/OUT. KEYs:
#	from=PREFIX	the subscribers (default 100.64.0.0/10)
#	pool=TEXT	more settings of pool p1
#	then=TEXT	more settings of the term's then
#	fw=TERMS	a stateful-firewall rule fw1 (input) with these terms,
#			in the service set after r1
#	ss=TEXT		more settings of the service set
nsd_cfg_napt44_services()
{
	local pool=$1 in=$2 out=$3 from=100.64.0.0/10 px="" tx="" fw="" ssx="" fwref="" kv

	shift 3
	for kv in "$@"; do
		case "$kv" in
		from=*) from=${kv#from=} ;;
		pool=*) px=" ${kv#pool=}" ;;
		then=*) tx=" ${kv#then=}" ;;
		fw=*) fw=${kv#fw=} ;;
		ss=*) ssx=${kv#ss=} ;;
		*) nst_die "nsd_cfg_napt44_services: bad setting '$kv'" ;;
		esac
	done
	cat <<EOT
  services: {
    nat: {
      pools = ( { name = "p1"; address = [ "$pool" ]; port = "automatic";$px } );
      rules = ( { name = "r1"; match-direction = "input";
                  terms = ( { name = "t1";
                              from = { source-address = [ "$from" ]; };
                              then = { translation-type = "napt-44"; source-pool = "p1";$tx }; } ); } );
    };
EOT
	[ -z "$fw" ] || fwref=' stateful-firewall-rules = [ "fw1" ];'
	[ -z "$fw" ] || cat <<EOT
    stateful-firewall: {
      rules = ( { name = "fw1"; match-direction = "input";
                  terms = ( $fw ); } );
    };
EOT
	cat <<EOT
    service-sets = ( { name = "ss1"; nat-rules = [ "r1" ];$fwref
                       $ssx
                       next-hop-service = { inside-service-interface = "$in";
                                            outside-service-interface = "$out"; }; } );
  };
EOT
}

# nsd_json SOCK ARGS...: natsyncctl -j ARGS against one daemon, the JSON
# document only (a leading "OK" status line, if passed through, dropped).
nsd_json()
{
	local sock=$1

	shift
	"$NATSYNCCTL" -s "$sock" -j "$@" | sed '1{/^OK$/d}'
}

# nsd_counter SOCK NAME: one fast-path counter, summed over CPUs.
nsd_counter()
{
	nsd_json "$1" show counters | json_get "j['counters']['$2']"
}

# nsd_dcounter SOCK NAME: one of the daemon's own counters ("daemon" in
# show counters).
nsd_dcounter()
{
	nsd_json "$1" show counters | json_get "j['daemon']['$2']"
}

# nsd_sync_counter SOCK NAME: one counter of the sync channel (show sync).
nsd_sync_counter()
{
	nsd_json "$1" show sync | json_get "j['counters']['$2']"
}

# nsd_sessions_py SOCK EXPR [FILTER...]: the Python expression EXPR
# evaluated over the list "S" of the sessions show sessions [FILTER...]
# lists (e.g. 'len(S)').
nsd_sessions_py()
{
	nsd_json "$1" show sessions "${@:3}" | json_get "(lambda S: $2)(j['sessions'])"
}

# nsd_verdicts_balance SOCK [COUNTER...]: rx equals the sum of the verdict
# counters (every packet ends in exactly one: pass_*, fwd_*, drop_*,
# tx_reject and the COUNTERs, e.g. frag_held), and something was received.
nsd_verdicts_balance()
{
	nsd_json "$1" show counters | python3 -c '
import json, sys
c = json.load(sys.stdin)["counters"]
verdicts = {k: v for k, v in c.items()
            if k.startswith(("pass_", "fwd_", "drop_")) or k in ["tx_reject"] + sys.argv[1:]}
s = sum(verdicts.values())
print("rx", c["rx"], "sum of verdicts", s, {k: v for k, v in verdicts.items() if v})
sys.exit(0 if c["rx"] == s and c["rx"] > 0 else 1)
' "${@:2}"
}

# nsd_purge NS CFG: `natsyncd --purge` (detach leftovers, remove the pins),
# run in the daemon's namespace so it finds the interfaces.
nsd_purge()
{
	nsenter --net="/var/run/netns/$1" "$NATSYNCD" -c "$2" --purge
}

# ---- checks -----------------------------------------------------------

# check NAME CMD...: run one named check; prints PASS/FAIL and counts it.
# CMD's output is shown only when it fails.
check()
{
	local name=$1 out rc

	shift
	# Run in this shell (not a $(...) subshell) so that what the command
	# records for cleanup (pids, pins) is not lost.
	"$@" >"$NST_TMP/check.out" 2>&1
	rc=$?
	out=$(cat "$NST_TMP/check.out")
	if [ $rc -eq 0 ]; then
		NST_PASS=$((NST_PASS + 1))
		printf 'PASS: %s\n' "$name"
	else
		NST_FAIL=$((NST_FAIL + 1))
		NST_FAILED_NAMES+=("$name")
		printf 'FAIL: %s (exit %d)\n' "$name" "$rc"
		[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    | /'
	fi
	return $rc
}

# nst_finish: print the summary; exit 1 when any check failed.
nst_finish()
{
	local n

	printf '%s: %d checks passed, %d failed\n' "$(basename "$0")" "$NST_PASS" "$NST_FAIL"
	for n in "${NST_FAILED_NAMES[@]}"; do
		printf '  failed: %s\n' "$n"
	done
	[ "$NST_FAIL" -eq 0 ] && [ "$NST_PASS" -gt 0 ]
	exit $?
}

# ---- JSON helpers (python3 stdlib only) -------------------------------

# json_get EXPR < JSON: print a Python expression evaluated with "j" bound
# to the parsed document (e.g. json_get 'j["count"]').
json_get()
{
	python3 -c 'import json,sys
j = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1"
}

# in_net ADDR NET: ADDR (IPv4 or IPv6) is inside the prefix NET.
in_net()
{
	python3 -c 'import ipaddress,sys
try:
    a = ipaddress.ip_address(sys.argv[1])
except ValueError:
    sys.exit("not an address: %r" % sys.argv[1])
sys.exit(0 if a in ipaddress.ip_network(sys.argv[2]) else 1)' "$1" "$2"
}

# lab_in_pool ADDR: ADDR is inside the lab's pool ($LAB_POOL).
lab_in_pool()
{
	in_net "$1" "$LAB_POOL"
}

# ---- cleanup ----------------------------------------------------------

# nst_remove_namespaces: delete every namespace with our prefix, after
# killing what still runs inside (a namespace with a live process would
# survive its deletion as an anonymous one).
nst_remove_namespaces()
{
	local ns pid

	[ -n "$NST_PREFIX" ] || return 0
	# Our helpers first, politely (a KILLed job makes bash print noise).
	bg_stop_all
	for ns in $(ip netns list | awk '{print $1}' | grep "^$NST_PREFIX-"); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null || nst_err "could not delete namespace $ns"
	done
}

# nst_cleanup: the EXIT trap. Stops our daemons (then purges their pins),
# our background helpers, deletes our namespaces, pin dirs, sockets and
# the scratch dir. Idempotent; never fails the exit status of the script.
nst_cleanup()
{
	local rc=$? d pid cfg ns pin p

	[ "$NST_CLEANED" = 1 ] && return
	NST_CLEANED=1
	set +x
	trap - INT TERM
	if [ "${NST_KEEP:-0}" = 1 ]; then
		nst_log "NST_KEEP=1: leaving namespaces, pins and $NST_TMP in place"
		exit $rc
	fi
	for d in "${NST_DAEMONS[@]}"; do
		pid=${d%%:*}
		d=${d#*:}
		ns=${d%%:*}
		cfg=${d#*:}
		nsd_stop "$pid" 5 >/dev/null 2>&1
		# --purge detaches leftovers and removes the pins; it needs the
		# daemon's namespace to find the interfaces.
		[ -e "/var/run/netns/$ns" ] && nsd_purge "$ns" "$cfg" >/dev/null 2>&1
	done
	nst_remove_namespaces
	for pin in "${NST_PINS[@]}"; do
		[ -e "$pin" ] || continue # purged with its daemon (above)
		# Only our own pin dirs: /sys/fs/bpf/<prefix>-...
		case "$pin" in
		/sys/fs/bpf/"$NST_PREFIX"-*) [ -e "$pin" ] && rm -rf "$pin" ;;
		*) nst_err "not removing pin dir $pin (not /sys/fs/bpf/$NST_PREFIX-*)" ;;
		esac
	done
	for p in "${NST_SOCKS[@]}"; do
		rm -f "$p"
	done
	[ -n "$NST_TMP" ] && [ -d "$NST_TMP" ] && rm -rf "$NST_TMP"
	exit $rc
}
