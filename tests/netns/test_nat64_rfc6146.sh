#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_nat64_rfc6146.sh - the RFC 6146 behaviours of stateful NAT64 end to
# end, through a running natsyncd (XDP native), in the lab of nat64_lab.sh:
#
#   n6x-cli 2001:db8:64::10 and ::11 --- [n6x-box] --- n6x-srv 198.51.100.10, .11
#
# Run 1: mapping and filtering endpoint-independent, pref64 64:ff9b::/96,
#        max-sessions-per-subscriber 12. Checks:
#  a  EIM (RFC 6146 3.5.1.1): one client port reaches both server
#     addresses from the same pool address and port
#  b  EIF (RFC 6146 3.5.2): a server port the client never talked to
#     reaches the client through the binding, from 64:ff9b::198.51.100.10
#  c  hairpinning (RFC 6146 3.8): ::11 reaches ::10's binding through the
#     pool address in the pref64 form and ::10 sees ::11's own binding
#  d  the per-subscriber limit: ::10 and ::11 (one /64) together open no
#     more than 12 sessions, the rest is drop_subscriber_limit
#  f  rx == sum of the verdicts
# (MSS clamping: tests/bpf/test_nat64_rfc6146.c, mss_clamping_*, and on the
# wire test_nat64_syn.sh, check a.)
# Run 2: pref64 2001:db8:100::/40 (RFC 6052 2.2, u-octet): UDP and ping to
#     2001:db8:1c6:3364:a:: (198.51.100.10), answered from that address.
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat64_lab.sh"

P=n6x
CLI2=2001:db8:64::11
SRV2=198.51.100.11
LIMIT=12

nst_init $P
nst_need_natsync
nst_need_tools socat python3 ping

SOCK=""

# write_config FILE PIN SOCK THEN_EXTRA PREF64 MAX_PER_SUB
write_config()
{
	{
		nsd_cfg_open "$P-box" "$2" "$3" max-sessions=4096 max-sessions-per-subscriber="$6" \
			aging-interval-ms=200 attach-mode=native timeouts="tcp-syn=10 tcp-established=60
			tcp-closing=3 tcp-time-wait=2 tcp-rst=2 udp=60 icmp=10 other=10 port-hold=0 binding=0"
		nat64_services "$P-in" "$P-out" "$4" "$5"
		echo "};"
	} >"$1"
}

# udp6_listen PORT LOG: a UDP socket on the client's [::]:PORT writing
# "from=[ADDR]:PORT data=TEXT" per datagram. Sets NST_LAST_PID.
udp6_listen()
{
	bg_start "$2" "$P-cli" python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(2048)
    print("from=[%s]:%d data=%s" % (a[0], a[1], d.decode().strip()), flush=True)
' "$1"
}

# udp6_send SRC SPORT DST DPORT TEXT: one datagram from the client.
udp6_send()
{
	ns_exec "$P-cli" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4])))
' "$1" "$2" "$3" "$4" "$5"
}

# udp6_ask SRC SPORT DST DPORT TEXT: the server's echo answer ("from=...").
udp6_ask()
{
	echo "$5" | ip netns exec "$P-cli" timeout 5 \
		socat -T3 - "UDP6:[$3]:$4,bind=[$1]:$2,reuseaddr"
}

EIM_SRC=""
chk_eim()
{
	local a b

	a=$(udp6_ask "$NAT64_CLI6" 40000 "64:ff9b::$NAT64_SRV" 5003 one) || return 1
	b=$(udp6_ask "$NAT64_CLI6" 40000 "64:ff9b::$SRV2" 5004 two) || return 1
	echo "to $NAT64_SRV: $a"
	echo "to $SRV2: $b"
	a=${a#from=}
	a=${a%% *}
	b=${b#from=}
	b=${b%% *}
	[ -n "$a" ] && [ "$a" = "$b" ] || return 1
	EIM_SRC=$a
	[ "$(nsd_counter "$SOCK" eim_reuse)" -ge 1 ]
}

got_line()
{
	grep -q "$2" "$1"
}

chk_eif()
{
	local log=$NST_TMP/cli-40000.log before

	before=$(nsd_counter "$SOCK" eif_inbound) || return 1
	echo "binding $EIM_SRC"
	[ -n "$EIM_SRC" ] || return 1
	echo eif-hello | ip netns exec "$P-srv" timeout 5 \
		socat -u - "UDP:${EIM_SRC%:*}:${EIM_SRC#*:},sourceport=6001" || return 1
	wait_for 5 got_line "$log" 'data=eif-hello' || { cat "$log"; return 1; }
	grep 'data=eif-hello' "$log"
	grep -q "from=\[64:ff9b::c633:640a\]:6001 data=eif-hello" "$log" &&
		[ "$(nsd_counter "$SOCK" eif_inbound)" -gt "$before" ]
}

chk_hairpin()
{
	local log=$NST_TMP/cli-40000.log line src pool port

	udp6_send "$CLI2" 41000 "64:ff9b::${EIM_SRC%:*}" "${EIM_SRC#*:}" hairpin || return 1
	wait_for 5 got_line "$log" 'data=hairpin' || { cat "$log"; return 1; }
	line=$(grep 'data=hairpin' "$log")
	echo "$line"
	# ::11's own binding, as natsyncctl shows it
	read -r pool port < <(nsd_json "$SOCK" show sessions | python3 -c '
import json, sys
for s in json.load(sys.stdin)["sessions"]:
    if s["inside"]["addr"] == sys.argv[1] and s["inside"]["port"] == 41000:
        print(s["nat"]["addr"], s["nat"]["port"])
' "$CLI2")
	echo "::11 bound to $pool:$port"
	[ -n "$pool" ] || return 1
	src=$(python3 -c 'import ipaddress,sys; print(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) + int(ipaddress.IPv4Address(sys.argv[1]))))' "$pool")
	[ "$line" = "from=[$src]:$port data=hairpin" ]
}

nat64_sessions_of_64()
{
	nsd_json "$SOCK" show sessions | python3 -c '
import json, sys
print(len([s for s in json.load(sys.stdin)["sessions"]
           if s["inside"]["addr"].startswith("2001:db8:64::") and s["origin"] == "inside"]))'
}

chk_limit()
{
	local i n before after

	before=$(nsd_counter "$SOCK" drop_subscriber_limit) || return 1
	for i in $(seq 0 15); do
		udp6_send "$NAT64_CLI6" $((42000 + i)) "64:ff9b::$NAT64_SRV" 5003 "flood $i"
	done
	after=$(nsd_counter "$SOCK" drop_subscriber_limit) || return 1
	n=$(nat64_sessions_of_64) || return 1
	echo "sessions of 2001:db8:64::/64 opened from inside: $n (limit $LIMIT)," \
		"drop_subscriber_limit $before -> $after"
	[ "$n" -eq "$LIMIT" ] && [ "$after" -gt "$before" ]
}

run1()
{
	local cfg=$NST_TMP/box1.cfg pin=/sys/fs/bpf/$P-rfc1 lp

	SOCK=/run/$P-rfc1.sock
	nst_log "=== run 1: EIM/EIF, hairpinning, subscriber limit"
	nat64_lab "$P-cli" "$P-box" "$P-srv" "$P-in" "$P-out"
	ip -n "$P-cli" -6 addr add "$CLI2/64" dev eth0 nodad || nst_die "second client address"
	addr_add "$P-srv" eth0 "$SRV2/24"
	write_config "$cfg" "$pin" "$SOCK" \
		'mapping-type = "endpoint-independent"; filtering-type = "endpoint-independent";' \
		64:ff9b::/96 $LIMIT
	nsd_start "$P-box" "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd1.log"
	check "natsyncd starts with an EIM/EIF stateful-nat64 term" test $? -eq 0 || return
	udp_echo_start "$P-srv" 5003
	# the second server address answers from itself
	bg_start "$NST_TMP/udp-echo-5004.log" "$P-srv" \
		socat "UDP-RECVFROM:5004,bind=$SRV2,reuseaddr,fork" \
		SYSTEM:'read -r l; echo "from=$SOCAT_PEERADDR:$SOCAT_PEERPORT data=$l"'
	wait_for 5 udp_listening "$P-srv" 5004
	udp6_listen 40000 "$NST_TMP/cli-40000.log"
	lp=$NST_LAST_PID
	check "(a) EIM: one client port, two servers, one pool address:port" chk_eim
	check "(b) EIF: an unknown server port reaches the client through the binding" chk_eif
	check "(c) hairpinning: ::11 reaches ::10's binding, seen from its own" chk_hairpin
	check "(d) max-sessions-per-subscriber counts the /64" chk_limit
	check "(f) rx == sum of verdicts" nsd_verdicts_balance "$SOCK"
	bg_stop "$lp"
	nsd_stop "$NSD_PID" 10
	check "natsyncd exits 0 on SIGTERM" test "$NSD_RC" -eq 0
	nsd_purge "$P-box" "$cfg" >/dev/null 2>&1
	nst_remove_namespaces
}

chk_pref40()
{
	local out a

	out=$(echo forty | ip netns exec "$P-cli" timeout 5 \
		socat -T3 - "UDP6:[2001:db8:1c6:3364:a::]:5003,sourceport=40040") || return 1
	echo "answer: $out"
	a=${out#from=}
	a=${a%%:*}
	in_net "$a" "$NAT64_POOL"
}

run2()
{
	local cfg=$NST_TMP/box2.cfg pin=/sys/fs/bpf/$P-rfc2

	SOCK=/run/$P-rfc2.sock
	nst_log "=== run 2: pref64 2001:db8:100::/40"
	nat64_lab "$P-cli" "$P-box" "$P-srv" "$P-in" "$P-out" 2001:db8:100::/40
	write_config "$cfg" "$pin" "$SOCK" "" 2001:db8:100::/40 0
	nsd_start "$P-box" "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd2.log"
	check "natsyncd starts with a /40 pref64" test $? -eq 0 || return
	udp_echo_start "$P-srv" 5003
	check "(g) /40: UDP to 2001:db8:1c6:3364:a:: answered, server saw the pool" chk_pref40
	check "(g) /40: ping to 2001:db8:1c6:3364:a:: answered" \
		ns_exec "$P-cli" ping -6 -c 2 -i 0.2 -W 2 2001:db8:1c6:3364:a::
	check "(g) rx == sum of verdicts" nsd_verdicts_balance "$SOCK"
	nsd_stop "$NSD_PID" 10
	check "natsyncd exits 0 on SIGTERM" test "$NSD_RC" -eq 0
	nsd_purge "$P-box" "$cfg" >/dev/null 2>&1
	nst_remove_namespaces
}

run1
run2
nst_finish
