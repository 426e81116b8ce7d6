#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_nat64_syn.sh - NAT64 TCP set-up through a running natsyncd, in the
# lab of nat64_lab.sh: MSS clamping seen on the wire, and the 6-second hold
# of IPv4-initiated SYNs (RFC 6146 3.5.2.2, doc/nat64.md).
#
#   n6s-cli 2001:db8:64::10 --- [n6s-box] --- n6s-srv 198.51.100.10, .11
#
# One run per attach mode (native XDP, tc). Term: EIM, address-dependent
# filtering (the default), pool 203.0.113.16/30. Checks:
#  a  MSS clamping: the client announces 1460 (its route's advmss), the
#     server's capture (scapy, in its namespace) shows the SYN with 1440;
#     the server announces 1460, the client's capture shows the SYN-ACK
#     with 1440 (NS64_MSS_MAX); the connection keeps the client's port
#     bound (EIM) for b and c
#  b  simultaneous open: 198.51.100.11 connects to the client's binding
#     (filtered: held, not answered), and within 6 s the client connects to
#     198.51.100.11 from the bound port: both connects succeed, a line goes
#     through, the client's capture shows the held SYN delivered translated
#     (from 64:ff9b::c633:640b), natsyncd counts syn_held and released
#  c  a held SYN that no outbound SYN matches: the IPv4 host's connect
#     fails with ECONNREFUSED (ICMP port unreachable) no earlier than 6 s
#     after it started; natsyncd counts it expired
#  d  rx == sum of the verdicts
# scapy runs under /usr/bin/python3 (Debian's python3-scapy; NST_SCAPY_PYTHON
# names another interpreter).
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat64_lab.sh"

P=n6s
SRV2=198.51.100.11
PY=$NST_REPO/tests/netns/nat64_syn.py

nst_init $P
nst_need_natsync
nst_need_tools python3
nst_need_scapy

SOCK=""
BIND=""   # the client's binding "addr:port" (check a)

# write_config FILE PIN SOCK MODE
write_config()
{
	{
		nsd_cfg_open "$P-box" "$2" "$3" max-sessions=4096 aging-interval-ms=200 \
			attach-mode="$4" timeouts="tcp-syn=20 tcp-established=120 tcp-closing=3
			tcp-time-wait=2 tcp-rst=2 udp=60 icmp=10 other=10 port-hold=0 binding=0"
		nat64_services "$P-in" "$P-out" 'mapping-type = "endpoint-independent";'
		echo "};"
	} >"$1"
}

# sniff_start NS LOG: the scapy capture of SYNs on NS's eth0, ready.
sniff_start()
{
	bg_start "$2.err" "$1" "$SCAPY_PY" "$PY" sniff eth0 "$2"
	wait_for 10 grep -qx ready "$2" || { echo "capture in $1 did not start"; return 1; }
}

# syn_seen LOG FLAGS SRC SPORT DST DPORT: the MSS of a captured segment.
syn_seen()
{
	awk -v f="$2" -v s="$3" -v sp="$4" -v d="$5" -v dp="$6" \
		'$1 == f && $2 == s && $3 == sp && $4 == d && $5 == dp { print $6; exit }' "$1"
}

syn_captured() { [ -n "$(syn_seen "$@")" ]; }

# the client's TCP session from port 43000: "addr port" of its binding
binding_of()
{
	nsd_json "$SOCK" show sessions | python3 -c '
import json, sys
for s in json.load(sys.stdin)["sessions"]:
    if s["proto"] == "tcp" and s["inside"]["port"] == 43000 and s["origin"] == "inside":
        print("%s:%d" % (s["nat"]["addr"], s["nat"]["port"])); break'
}

chk_mss()
{
	local scap=$NST_TMP/srv-syn-$1.txt ccap=$NST_TMP/cli-syn-$1.txt pool s c

	sniff_start "$P-srv" "$scap" || return 1
	sniff_start "$P-cli" "$ccap" || return 1
	bg_start "$NST_TMP/mss-srv.log" "$P-srv" timeout 60 \
		socat -u "TCP-LISTEN:5010,bind=$NAT64_SRV,reuseaddr" OPEN:/dev/null
	wait_for 5 tcp_listening "$P-srv" 5010 || { echo "server did not listen"; return 1; }
	# the client keeps this connection open: its binding stays (b, c)
	bg_start "$NST_TMP/hold.log" "$P-cli" python3 "$PY" hold "$NAT64_CLI6" 43000 \
		"64:ff9b::$NAT64_SRV" 5010 50
	wait_for 5 grep -q connected "$NST_TMP/hold.log" || { cat "$NST_TMP/hold.log"; return 1; }
	BIND=$(binding_of)
	pool=${BIND%:*}
	echo "client [$NAT64_CLI6]:43000 bound to $BIND"
	[ -n "$BIND" ] || return 1
	wait_for 5 syn_captured "$scap" S "$pool" "${BIND##*:}" "$NAT64_SRV" 5010
	wait_for 5 syn_captured "$ccap" SA 64:ff9b::c633:640a 5010 "$NAT64_CLI6" 43000
	sed 's/^/    server capture: /' "$scap"
	sed 's/^/    client capture: /' "$ccap"
	s=$(syn_seen "$scap" S "$pool" "${BIND##*:}" "$NAT64_SRV" 5010)
	c=$(syn_seen "$ccap" SA 64:ff9b::c633:640a 5010 "$NAT64_CLI6" 43000)
	echo "the server saw the SYN with MSS $s, the client the SYN-ACK with MSS $c"
	[ "$s" = 1440 ] && [ "$c" = 1440 ]
}

synhold() { nsd_json "$SOCK" show status | json_get "j['syn_hold']['$1']"; }
synhold_status() { nsd_json "$SOCK" show status | json_get "j['syn_hold']"; }

chk_simultaneous_open()
{
	local ccap=$NST_TMP/cli-syn-$1.txt held0 rel0 out=$NST_TMP/simopen-srv.log pid

	[ -n "$BIND" ] || return 1
	held0=$(nsd_counter "$SOCK" syn_held)
	rel0=$(synhold released)
	# the IPv4 host opens towards the binding first: filtered, held
	bg_start "$out" "$P-srv" python3 "$PY" connect "$SRV2" 6100 "${BIND%:*}" "${BIND##*:}" 15 recv
	pid=$NST_LAST_PID
	wait_for 5 eval '[ "$(nsd_counter "$SOCK" syn_held)" -gt "$held0" ]' ||
		{ echo "the IPv4 SYN was not held"; return 1; }
	echo "held: syn_held $held0 -> $(nsd_counter "$SOCK" syn_held), nothing answered yet:" \
		"$(cat "$out")"
	# ... then the client, from the bound port, to that host
	ip netns exec "$P-cli" python3 "$PY" connect "$NAT64_CLI6" 43000 "64:ff9b::$SRV2" 6100 10 \
		send simultaneous-open || return 1
	wait "$pid"
	echo "IPv4 host: $(tr '\n' ' ' <"$out")"
	grep -q '^connected' "$out" && grep -qx 'got simultaneous-open' "$out" || return 1
	wait_for 5 syn_captured "$ccap" S 64:ff9b::c633:640b 6100 "$NAT64_CLI6" 43000 || {
		echo "the held SYN never reached the client; natsyncd: $(synhold_status)"
		grep synhold "$NST_TMP/natsyncd-$1.log"
		return 1
	}
	echo "client capture: $(grep '64:ff9b::c633:640b 6100' "$ccap" | tr '\n' ';')"
	echo "released $rel0 -> $(synhold released)"
	[ "$(synhold released)" -gt "$rel0" ]
}

chk_expired()
{
	local exp0 out=$NST_TMP/expired-srv.log t

	[ -n "$BIND" ] || return 1
	exp0=$(synhold expired)
	ip netns exec "$P-srv" python3 "$PY" connect "$SRV2" 6200 "${BIND%:*}" "${BIND##*:}" 30 \
		>"$out" 2>&1
	cat "$out"
	t=$(awk '$1 == "error" && $2 == "ECONNREFUSED" { print $3 }' "$out")
	[ -n "$t" ] || return 1
	echo "expired $exp0 -> $(synhold expired)"
	python3 -c 'import sys; sys.exit(0 if 6.0 <= float(sys.argv[1]) < 20 else 1)' "$t" &&
		[ "$(synhold expired)" -gt "$exp0" ]
}

run()
{
	local mode=$1 cfg=$NST_TMP/box-$1.cfg pin=/sys/fs/bpf/$P-$1

	SOCK=/run/$P-$mode.sock
	BIND=""
	nst_log "=== attach mode $mode"
	nat64_lab "$P-cli" "$P-box" "$P-srv" "$P-in" "$P-out"
	# the client announces the MSS of a 1500-byte IPv4 link
	ip -n "$P-cli" -6 route replace 64:ff9b::/96 via "$NAT64_BOX6" advmss 1460 ||
		nst_die "client route"
	addr_add "$P-srv" eth0 "$SRV2/24"
	write_config "$cfg" "$pin" "$SOCK" "$mode"
	nsd_start "$P-box" "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd-$mode.log"
	check "$mode: natsyncd starts (EIM, address-dependent filtering)" test $? -eq 0 || return
	check "$mode: (a) MSS clamped to 1440 both ways, seen in the server's and client's captures" \
		chk_mss "$mode"
	check "$mode: (b) simultaneous open: the held IPv4 SYN released to the client, connected" \
		chk_simultaneous_open "$mode"
	check "$mode: (c) no outbound SYN: ICMP port unreachable (ECONNREFUSED) after >= 6 s" \
		chk_expired
	check "$mode: (d) rx == sum of verdicts (syn_held is one)" nsd_verdicts_balance "$SOCK" syn_held
	echo "    syn_hold $(synhold_status)"
	bg_stop_all
	nsd_stop "$NSD_PID" 10
	check "$mode: natsyncd exits 0 on SIGTERM" test "$NSD_RC" -eq 0
	nsd_purge "$P-box" "$cfg" >/dev/null 2>&1
	nst_remove_namespaces
}

run native
run tc
nst_finish
