#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_nat64.sh - stateful NAT64 end to end, through a running natsyncd.
#
#   ns6-cli 2001:db8:64::10/64 --- ns6-in [ns6-box] ns6-out --- ns6-srv 198.51.100.10/24
#           (IPv6 only)          2001:db8:64::1  198.51.100.1   (IPv4 only)
#   stateful-nat64 2001:db8:64::/48 -> 64:ff9b::/96, pool 203.0.113.16/30
#   (automatic random ports); the server routes 203.0.113.0/24 back to the
#   box and knows nothing of IPv6. The client reaches the server as
#   64:ff9b::198.51.100.10.
#
# Runs once per attach mode (NST_MODES, default "native tc"). Checks:
#  a  ping6 to 64:ff9b::198.51.100.10 is answered
#  b  UDP request/response, the server saw a pool address
#  c  TCP transfer of a few MB both ways, sha256 compared at both ends
#  d  the server only ever sees pool addresses as sources (tcpdump)
#  e  natsyncctl -j show sessions lists the NAT64 sessions with the
#     client's IPv6 address inside and a pool address as NAT
#  f  unsolicited IPv4 to the pool address is dropped (drop_no_session)
#  g  the sessions expire and the pool's ports are released
#  h  rx == sum of the verdict counters; nat64_out/nat64_in counted
#  i  an ICMP error from the IPv4 server reaches the client as ICMPv6
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat64_lab.sh"

MODES=${NST_MODES:-native tc}
AGING_MS=200
XFER_BYTES=$((4 * 1024 * 1024))
CLI6=$NAT64_CLI6
SRV=$NAT64_SRV
SRV6=64:ff9b::198.51.100.10
POOL64=$NAT64_POOL

nst_init ns6
nst_need_natsync
nst_need_tools socat ss tcpdump sha256sum ping tc

write_config()
{
	# port-hold off: check g waits for the ports to be free right after the
	# sessions expire; holding (shared with napt-44 in ns_ports) is tested
	# in test_repl.sh and tests/unit/test_aging.c
	{
		nsd_cfg_open ns6-box "$3" "$4" max-sessions=4096 aging-interval-ms="$AGING_MS" \
			attach-mode="$2" timeouts="tcp-syn=6 tcp-established=12 tcp-closing=3
			tcp-time-wait=2 tcp-rst=2 udp=3 icmp=3 other=3 port-hold=0 binding=0"
		nat64_services ns6-in ns6-out
		echo "};"
	} >"$1"
}

# topo: the lab of test_single_box.sh with an IPv6-only client.
topo_nat64()
{
	nat64_lab ns6-cli ns6-box ns6-srv ns6-in ns6-out
}

SOCK=""

# udp6_request SPORT TEXT: TEXT to the server's UDP echo over NAT64.
udp6_request()
{
	echo "$2" | ip netns exec ns6-cli timeout 5 \
		socat -T3 - "UDP6:[$SRV6]:5003,sourceport=$1,reuseaddr"
}

chk_udp_answer()
{
	local out a

	out=$(udp6_request 40001 hello)
	echo "answer: $out"
	case "$out" in
	from=*:*" data=hello") ;;
	*) return 1 ;;
	esac
	a=${out#from=}
	a=${a%%:*}
	in_net "$a" "$POOL64"
}

chk_sessions_listed()
{
	# fresh UDP and ICMP flows: the earlier ones may have timed out (3 s)
	# while the transfers ran on a busy machine
	udp6_request 40002 again >/dev/null
	ns_exec ns6-cli ping -6 -c 1 -W 2 "$SRV6" >/dev/null
	nsd_json "$SOCK" show sessions | python3 -c '
import ipaddress, json, sys
j = json.load(sys.stdin)
pool = ipaddress.ip_network(sys.argv[1])
seen = {}
for s in j["sessions"]:
    if s["nat_type"] != "stateful-nat64":
        sys.exit("not a NAT64 session: %r" % s)
    if s["inside"]["addr"] != sys.argv[2]:
        sys.exit("inside is not the IPv6 client: %r" % s)
    if ipaddress.ip_address(s["nat"]["addr"]) not in pool:
        sys.exit("nat address not in the pool: %r" % s)
    if s["remote"]["addr"] != sys.argv[3] or not s["remote6"]["addr"].startswith("64:ff9b::"):
        sys.exit("remote is not the server: %r" % s)
    seen.setdefault(s["proto"], 0)
    seen[s["proto"]] += 1
print("NAT64 sessions per proto:", seen)
for p in ("tcp", "udp", "icmp"):
    if p not in seen:
        sys.exit("no %s session" % p)
' "$POOL64" "$CLI6" "$SRV"
}

HOLD_PORT=5004
HOLD_CLI_PID=""
HOLD_SRV_PID=""
tcp_hold_established()
{
	[ "$(nsd_sessions_py "$SOCK" "len([s for s in S if s['proto'] == 'tcp' and s['remote']['port'] == $HOLD_PORT and s['state'] == 'established'])")" = 1 ]
}

# the long-lived connection of check (c), kept alive by lib.sh's sender
tcp_hold()
{
	tcp_hold_start ns6-srv ns6-cli "[$SRV6]" $HOLD_PORT || return 1
	HOLD_SRV_PID=$NST_HOLD_SRV
	HOLD_CLI_PID=$NST_HOLD_CLI
	wait_for 15 tcp_hold_established
}

chk_capture_sources()
{
	[ -s "$1" ] || { echo "empty capture"; return 1; }
	tcpdump -n -r "$1" ip 2>/dev/null | python3 -c '
import ipaddress, re, sys
pool = ipaddress.ip_network(sys.argv[1])
srcs = {}
for line in sys.stdin:
    m = re.match(r"\S+ IP (\d+\.\d+\.\d+\.\d+)", line)
    if not m:
        sys.exit("cannot parse: " + line.strip())
    srcs[m.group(1)] = srcs.get(m.group(1), 0) + 1
print("sources seen by the server:", srcs)
if not srcs:
    sys.exit("no IPv4 packet captured")
bad = [a for a in srcs if ipaddress.ip_address(a) not in pool]
sys.exit("non-pool sources: %s" % bad if bad else 0)
' "$POOL64"
}

# Unsolicited IPv4 to a pool address: UDP and a TCP SYN, nothing answers,
# drop_no_session grows.
chk_unsolicited()
{
	local pool_addr before after rc=0

	pool_addr=$(nsd_sessions_py "$SOCK" "[s['nat']['addr'] for s in S][0]") ||
		{ echo "no session to learn the pool address from"; return 1; }
	before=$(nsd_counter "$SOCK" drop_no_session) || return 1
	out=$(echo knock | ip netns exec ns6-srv timeout 5 socat -T2 - "UDP:$pool_addr:7777,sourceport=41001")
	[ -z "$out" ] || { echo "answer via pool address: $out"; rc=1; }
	if ns_exec ns6-srv timeout 4 socat -u - "TCP:$pool_addr:7778,connect-timeout=2" </dev/null 2>/dev/null; then
		echo "TCP connect to the pool address succeeded"
		rc=1
	fi
	after=$(nsd_counter "$SOCK" drop_no_session) || return 1
	echo "drop_no_session $before -> $after"
	[ "$after" -ge $((before + 2)) ] || rc=1
	return $rc
}

# show config lists the compiled NAT64 term (text and JSON).
chk_show_config()
{
	nsd_ctl "$SOCK" show config | grep -F 'nat64          2001:db8:64::/48 -> 64:ff9b::/96, pool p64, service set ss64' ||
		{ nsd_ctl "$SOCK" show config; return 1; }
	nsd_json "$SOCK" show config | python3 -c '
import json, sys
t = json.load(sys.stdin)["nat64_terms"]
print(t)
sys.exit(0 if t == [{"rule": "r64", "svc": "ss64", "source": "2001:db8:64::/48",
                     "pref64": "64:ff9b::/96", "pool": "p64",
                     "mapping": "address-and-port-dependent",
                     "filtering": "address-and-port-dependent"}] else 1)
'
}

# UDP to a port nobody listens on: the server's ICMP port unreachable
# reaches the IPv6 client as ICMPv6 (its socket reports the refusal).
chk_icmp_error_translated()
{
	local before after out

	before=$(nsd_counter "$SOCK" icmp_err_xlated) || return 1
	out=$(echo probe | ip netns exec ns6-cli timeout 5 \
		socat -T2 - "UDP6:[$SRV6]:5999,sourceport=40999" 2>&1)
	echo "client: $out"
	after=$(nsd_counter "$SOCK" icmp_err_xlated) || return 1
	echo "icmp_err_xlated $before -> $after"
	grep -q 'Connection refused' <<<"$out" && [ "$after" -ge $((before + 1)) ]
}

no_sessions_left()
{
	[ "$(nsd_sessions_py "$SOCK" 'len(S)')" = 0 ]
}

chk_expired_and_released()
{
	if ! wait_for 30 no_sessions_left; then
		echo "sessions left:"
		nsd_ctl "$SOCK" show sessions
		return 1
	fi
	sleep 0.5
	nsd_json "$SOCK" show pools | python3 -c '
import json, sys
j = json.load(sys.stdin)
p = [p for p in j["pools"] if p["name"] == "p64"][0]
print("p64 in_use", p["in_use"], "held", p["held"])
sys.exit(1 if sum(p["in_use"].values()) + sum(p["held"].values()) else 0)
'
}

# show status counts the live NAT64 sessions (at the last aging pass).
status_nat64_sessions()
{
	[ "$(nsd_json "$SOCK" show status | json_get "j['nat64_sessions']")" -ge 1 ]
}

# While traffic runs, show pools counts the NAT64 flows' ports.
chk_pool_counts_ports()
{
	nsd_json "$SOCK" show pools | python3 -c '
import json, sys
j = json.load(sys.stdin)
p = [p for p in j["pools"] if p["name"] == "p64"][0]
print("p64 in_use", p["in_use"])
sys.exit(0 if p["in_use"].get("tcp", 0) >= 1 else 1)
'
}

chk_counters()
{
	local c n

	nsd_verdicts_balance "$SOCK" || return 1
	for c in nat64_out nat64_in fwd_redirect; do
		n=$(nsd_counter "$SOCK" $c) || return 1
		echo "$c $n"
		[ "$n" -ge 100 ] || return 1
	done
}

run_mode()
{
	local mode=$1 cfg pin pcap t nsd tcpdump_pid

	t="[$mode]"
	cfg=$NST_TMP/box-$mode.cfg
	pin=/sys/fs/bpf/ns6-nat64-$mode
	SOCK=/run/ns6-nat64-$mode.sock
	pcap=$NST_TMP/srv-$mode.pcap
	nst_log "=== attach mode $mode"

	topo_nat64
	check "$t no leak: veth peers and default routes stay inside the test" \
		nst_check_no_leak ns6-box ns6-srv
	write_config "$cfg" "$mode" "$pin" "$SOCK"
	nsd_start ns6-box "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd-$mode.log"
	if ! check "$t natsyncd starts with a stateful-nat64 rule" test $? -eq 0; then
		nst_remove_namespaces
		return
	fi
	nsd=$NSD_PID
	check "$t show config lists the stateful-nat64 term" chk_show_config
	bg_start "$NST_TMP/tcpdump-$mode.log" ns6-srv tcpdump -n -U -i eth0 -Q in -w "$pcap" ip
	tcpdump_pid=$NST_LAST_PID
	wait_for 5 test -s "$NST_TMP/tcpdump-$mode.log" || true

	check "$t (a) ping6 $SRV6 answered" \
		ns_exec ns6-cli ping -6 -c 3 -i 0.2 -W 2 "$SRV6"
	udp_echo_start ns6-srv 5003
	check "$t (b) udp request/response, server saw a pool address" chk_udp_answer
	check "$t (c) tcp upload $((XFER_BYTES >> 20)) MB, sha256 equal" \
		tcp_upload ns6-cli ns6-srv "[$SRV6]" 5001 "$XFER_BYTES"
	check "$t (c) tcp download $((XFER_BYTES >> 20)) MB, sha256 equal" \
		tcp_download ns6-cli ns6-srv "[$SRV6]" 5002 "$XFER_BYTES"
	check "$t (c) long-lived TCP connection established" tcp_hold
	check "$t (a) ping6 again (session hit)" \
		ns_exec ns6-cli ping -6 -c 2 -i 0.2 -W 2 "$SRV6"
	check "$t (e) natsyncctl -j show sessions: IPv6 inside, pool address as NAT" \
		chk_sessions_listed
	check "$t (g) show pools counts the NAT64 ports" chk_pool_counts_ports
	check "$t (e) show status counts NAT64 sessions" wait_for 30 status_nat64_sessions
	check "$t (f) unsolicited IPv4 inbound dropped, drop_no_session counted" chk_unsolicited
	check "$t (i) ICMP port unreachable from the server arrives as ICMPv6" \
		chk_icmp_error_translated
	bg_stop "$HOLD_CLI_PID"
	bg_stop "$HOLD_SRV_PID"
	bg_stop "$tcpdump_pid"
	check "$t (d) server saw only pool addresses as sources" chk_capture_sources "$pcap"
	check "$t (h) rx == sum of verdicts, NAT64 translated both ways in the fast path" \
		chk_counters
	check "$t (g) every NAT64 session expires, pool ports released" chk_expired_and_released
	nsd_stop "$nsd" 10
	check "$t natsyncd exits 0 on SIGTERM" test "$NSD_RC" -eq 0
	nsd_purge ns6-box "$cfg" >/dev/null 2>&1
	nst_remove_namespaces
}

for m in $MODES; do
	run_mode "$m"
done
nst_finish
