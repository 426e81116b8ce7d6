#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_hairpin.sh - hairpinning through a running natsyncd (RFC 4787 REQ-9,
# RFC 5382 REQ-8; issue 11, item 4): two subscribers behind one box reach
# each other, and a dnat-44 service of the same box, through public
# addresses only.
#
#   nhp-sub1 100.64.0.10 --+
#                          +-- br0 [nhp-sw] --- nhp-in [nhp-box] nhp-out --- nhp-srv 198.51.100.10
#   nhp-sub2 100.64.0.11 --+                    100.64.0.1     198.51.100.1
#
#   napt-44 into 203.0.113.0/28: sub2 with endpoint-independent mapping and
#   filtering (EIM+EIF), sub1 with EIM only (address-and-port-dependent
#   filtering); dnat-44: 203.0.113.100:8080 (TCP and UDP) -> sub2:80.
#   203.0.113.0/24 is blackholed on the box (routes nowhere).
#
# Per attach mode (NST_MODES, default "native tc"):
#  a  each subscriber learns its public UDP endpoint from the server
#     (an echo that reports the source it saw)
#  b  sub1 -> sub2's EIM+EIF binding (UDP): sub2 receives it from sub1's
#     public endpoint, and sub2's answer reaches sub1 from sub2's public
#     endpoint (no private address on either side)
#  c  sub1 -> the dnat-44 service 203.0.113.100:8080, UDP: sub2's server
#     saw sub1's public address, the answer came back to sub1
#  d  the same over TCP: the server reports the peer it accepted (a public
#     address), and a 256 KiB upload through the loop arrives intact
#  e  filtered: sub2 -> sub1's EIM-only binding, which never sent to sub2,
#     is dropped (sub1's socket hears nothing, drop_no_session grows);
#     after sub1 sends to sub2's public endpoint, sub2's next datagram to
#     sub1's binding passes (address-and-port-dependent filtering)
#  f  natsyncctl shows the hairpinned sessions with the flag "hairpin";
#     rx == sum of the verdict counters
#  g  RFC 5508 REQ-7: sub1 -> sub2's binding while nothing listens there:
#     sub2's kernel answers port unreachable, which reaches sub1's connected
#     socket (ECONNREFUSED) through the loop
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

MODES=${NST_MODES:-native tc}
P=nhp
SUB1=100.64.0.10
SUB2=100.64.0.11
SRV=198.51.100.10
PUB=203.0.113.100
PUB_PORT=8080

nst_init "$P"
nst_need_natsync
nst_need_tools socat ss sha256sum

write_config()
{
	nsd_cfg_head "$P-box" "$2" "$3" "$4" >"$1"
	cat >>"$1" <<EOF
  services: {
    nat: {
      pools = ( { name = "p1"; address = [ "$LAB_POOL" ]; port = "automatic"; },
                { name = "web"; address = "$SUB2"; port = 80; } );
      rules = ( { name = "pub"; match-direction = "output";
                  terms = ( { name = "web-tcp";
                              from = { destination-address = "$PUB/32"; protocol = "tcp"; destination-port = $PUB_PORT; };
                              then = { translation-type = "dnat-44"; destination-pool = "web"; }; },
                            { name = "web-udp";
                              from = { destination-address = "$PUB/32"; protocol = "udp"; destination-port = $PUB_PORT; };
                              then = { translation-type = "dnat-44"; destination-pool = "web"; }; } ); },
                { name = "subs"; match-direction = "input";
                  terms = ( { name = "sub2-eif";
                              from = { source-address = [ "$SUB2/32" ]; };
                              then = { translation-type = "napt-44"; source-pool = "p1";
                                       mapping-type = "endpoint-independent";
                                       filtering-type = "endpoint-independent"; }; },
                            { name = "eim";
                              from = { source-address = [ "100.64.0.0/10" ]; };
                              then = { translation-type = "napt-44"; source-pool = "p1";
                                       mapping-type = "endpoint-independent"; }; } ); } );
    };
    service-sets = ( { name = "ss1"; nat-rules = [ "pub", "subs" ];
                       next-hop-service = { inside-service-interface = "$P-in";
                                            outside-service-interface = "$P-out"; }; } );
  };
};
EOF
}

topo()
{
	local h

	ns_add "$P-sw"
	ns_add "$P-sub1"
	ns_add "$P-sub2"
	ns_add "$P-box"
	ns_add "$P-srv"
	bridge_add "$P-sw" br0
	link_pair "$P-sw" p1 "$P-sub1" eth0
	link_pair "$P-sw" p2 "$P-sub2" eth0
	link_pair "$P-sw" pbox "$P-box" "$P-in"
	for h in p1 p2 pbox; do
		bridge_attach "$P-sw" br0 "$h"
		# NAPI for the box's XDP_REDIRECTs into nhp-in (its peer)
		gro_on "$P-sw" "$h"
	done
	link_pair "$P-box" "$P-out" "$P-srv" eth0
	addr_add "$P-sub1" eth0 "$SUB1/24"
	addr_add "$P-sub2" eth0 "$SUB2/24"
	addr_add "$P-box" "$P-in" "$LAB_BOX_IN_ADDR/24"
	addr_add "$P-box" "$P-out" "$LAB_BOX_OUT_ADDR/24"
	addr_add "$P-srv" eth0 "$SRV/24"
	route_add "$P-sub1" default "$LAB_BOX_IN_ADDR"
	route_add "$P-sub2" default "$LAB_BOX_IN_ADDR"
	route_add "$P-box" default "$SRV"
	ip -n "$P-box" route add blackhole 203.0.113.0/24 || nst_die "blackhole route"
	route_add "$P-srv" 203.0.113.0/24 "$LAB_BOX_OUT_ADDR"
	box_sysctls "$P-box"
	iface_rp_filter_off "$P-box" "$P-in"
	iface_rp_filter_off "$P-box" "$P-out"
	host_prepare "$P-sub1" eth0
	host_prepare "$P-sub2" eth0
	host_prepare "$P-srv" eth0
	gro_on "$P-box" "$P-in"
	gro_on "$P-box" "$P-out"
}

SOCK=""

# udp_public NS SPORT: the public endpoint the server saw for NS's UDP
# source port SPORT ("ADDR:PORT").
udp_public()
{
	local out

	out=$(udp_request "$1" "$SRV" 5003 "$2" whoami) || return 1
	case "$out" in
	from=*" data=whoami") ;;
	*) return 1 ;;
	esac
	out=${out#from=}
	echo "${out%% *}"
}

PUB1=""
PUB2=""
chk_learn_public()
{
	PUB1=$(udp_public "$P-sub1" 5000) || { echo "sub1: no answer"; return 1; }
	PUB2=$(udp_public "$P-sub2" 6000) || { echo "sub2: no answer"; return 1; }
	echo "sub1 100.64.0.10:5000 is $PUB1, sub2 100.64.0.11:6000 is $PUB2"
	lab_in_pool "${PUB1%:*}" && lab_in_pool "${PUB2%:*}"
}

# udp_exchange RECV_NS RECV_PORT SEND_NS SEND_PORT DEST_ADDR DEST_PORT
#   WANT_FROM WANT_BACK_FROM: RECV_NS listens on RECV_PORT and answers; SEND_NS
#   sends from SEND_PORT to DEST; the receiver must see WANT_FROM as the
#   sender, the sender WANT_BACK_FROM as the answerer. Empty WANT_FROM: the
#   datagram must not arrive at all.
udp_exchange()
{
	local rns=$1 rport=$2 sns=$3 sport=$4 daddr=$5 dport=$6 want=$7 back=$8 out pid

	bg_start "$NST_TMP/rx-$rport.log" "$rns" timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
s.settimeout(4)
try:
    d, a = s.recvfrom(100)
except socket.timeout:
    print("nothing", flush=True)
    sys.exit(0)
print("from %s:%d" % a, flush=True)
s.sendto(b"back", a)
' "$rport"
	pid=$NST_LAST_PID
	wait_for 5 grep -q ready "$NST_TMP/rx-$rport.log" || { echo "receiver not ready"; return 1; }
	out=$(ip netns exec "$sns" timeout 8 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(5)
s.sendto(b"hairpin", (sys.argv[2], int(sys.argv[3])))
try:
    d, a = s.recvfrom(100)
    print("answer from %s:%d" % a)
except socket.timeout:
    print("no answer")
' "$sport" "$daddr" "$dport")
	wait "$pid" 2>/dev/null
	echo "receiver: $(tr '\n' ' ' <"$NST_TMP/rx-$rport.log")"
	echo "sender: $out"
	if [ -z "$want" ]; then
		grep -q nothing "$NST_TMP/rx-$rport.log" && [ "$out" = "no answer" ]
		return
	fi
	grep -qx "from $want" "$NST_TMP/rx-$rport.log" && [ "$out" = "answer from $back" ]
}

# (b) sub1 -> sub2's EIM+EIF binding and back
chk_udp_to_binding()
{
	udp_exchange "$P-sub2" 6000 "$P-sub1" 5000 "${PUB2%:*}" "${PUB2#*:}" "$PUB1" "$PUB2"
}

# (c) sub1 -> the dnat-44 service over UDP: the service saw sub1's public
# address
chk_udp_to_service()
{
	local out a

	udp_echo_start "$P-sub2" 80 || { echo "no UDP server on sub2:80"; return 1; }
	out=$(udp_request "$P-sub1" "$PUB" "$PUB_PORT" 5100 loop)
	echo "answer: $out"
	case "$out" in
	from=*" data=loop") ;;
	*) return 1 ;;
	esac
	a=${out#from=}
	a=${a%%:*}
	lab_in_pool "$a" || { echo "the service saw $a, not a public address"; return 1; }
	[ "$a" = "${PUB1%:*}" ] || { echo "not sub1's paired address ${PUB1%:*}"; return 1; }
}

# (d) the same over TCP: who the server accepted, then a transfer
chk_tcp_to_service()
{
	local out a

	bg_start "$NST_TMP/tcp-peer.log" "$P-sub2" timeout 30 \
		socat TCP-LISTEN:81,reuseaddr SYSTEM:'echo "peer=$SOCAT_PEERADDR"'
	wait_for 5 tcp_listening "$P-sub2" 81 || { echo "no TCP server on sub2:81"; return 1; }
	# 81 is not forwarded: a TCP dnat-44 term names port 8080 -> 80 only
	out=$(ip netns exec "$P-sub1" timeout 5 socat -u "TCP:$PUB:81,connect-timeout=2" - 2>/dev/null)
	[ -z "$out" ] || { echo "an unforwarded port answered: $out"; return 1; }
	bg_stop "$NST_LAST_PID"
	bg_start "$NST_TMP/tcp-peer.log" "$P-sub2" timeout 30 \
		socat TCP-LISTEN:80,reuseaddr SYSTEM:'echo "peer=$SOCAT_PEERADDR"'
	wait_for 5 tcp_listening "$P-sub2" 80 || { echo "no TCP server on sub2:80"; return 1; }
	out=$(ip netns exec "$P-sub1" timeout 10 socat -u "TCP:$PUB:$PUB_PORT,connect-timeout=5" -)
	echo "server says: $out"
	a=${out#peer=}
	lab_in_pool "$a" || { echo "the server accepted $a, not a public address"; return 1; }
	tcp_upload "$P-sub1" "$P-sub2" "$PUB" "$PUB_PORT" $((256 * 1024)) 80
}

# (e) filtered, then allowed once sub1 has sent to sub2's endpoint
chk_filtered()
{
	local before after

	before=$(nsd_counter "$SOCK" drop_no_session) || return 1
	# sub2 from a new port (its EIM+EIF term maps it) to sub1's binding
	udp_exchange "$P-sub1" 5000 "$P-sub2" 6100 "${PUB1%:*}" "${PUB1#*:}" "" "" ||
		{ echo "sub1's EIM-only binding let an unsolicited datagram in"; return 1; }
	after=$(nsd_counter "$SOCK" drop_no_session) || return 1
	echo "drop_no_session $before -> $after"
	[ "$after" -gt "$before" ] || return 1
}

chk_filter_opened()
{
	local pub26

	pub26=$(udp_public "$P-sub2" 6100) || { echo "no public endpoint for sub2:6100"; return 1; }
	# sub1 -> sub2:6100's public endpoint (EIF: passes), which also opens
	# sub1's binding towards it; sub2 answers from there
	udp_exchange "$P-sub2" 6100 "$P-sub1" 5000 "${pub26%:*}" "${pub26#*:}" "$PUB1" "$pub26"
}

chk_sessions_flagged()
{
	nsd_json "$SOCK" show sessions | python3 -c '
import json, sys
S = json.load(sys.stdin)["sessions"]
hp = [s for s in S if "hairpin" in s.get("flags", "")]
for s in hp:
    print(s["proto"], s["inside"], s["nat"], s["remote"], s["flags"])
sys.exit(0 if len(hp) >= 4 else "fewer than 4 hairpinned sessions: %d of %d" % (len(hp), len(S)))
'
}

# (g) an ICMP error about a hairpinned datagram
chk_icmp_error_back()
{
	ip netns exec "$P-sub1" python3 - "${PUB2%:*}" "${PUB2#*:}" <<-'PYEOF'
	import socket, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	s.bind(("0.0.0.0", 5000))
	s.connect((sys.argv[1], int(sys.argv[2])))
	s.settimeout(3)
	s.send(b"anyone?")
	try:
	    s.recv(100)
	    sys.exit("an answer: something listens on sub2's port")
	except ConnectionRefusedError:
	    print("ECONNREFUSED: sub2's port unreachable came back through the loop")
	except socket.timeout:
	    sys.exit("no port unreachable")
	PYEOF
}

run_mode()
{
	local mode=$1 cfg pin t nsd

	t="[$mode]"
	cfg=$NST_TMP/box-$mode.cfg
	pin=/sys/fs/bpf/$P-hairpin-$mode
	SOCK=/run/$P-hairpin-$mode.sock
	nst_log "=== attach mode $mode"
	topo
	check "$t no leak: veth peers and default routes stay inside the test" \
		nst_check_no_leak "$P-box" "$P-srv" "$P-sw" "$P-sub1" "$P-sub2"
	write_config "$cfg" "$mode" "$pin" "$SOCK"
	nsd_start "$P-box" "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd-$mode.log"
	if ! check "$t natsyncd starts" test $? -eq 0; then
		nst_remove_namespaces
		return
	fi
	nsd=$NSD_PID
	udp_echo_start "$P-srv" 5003 || nst_die "no echo server"

	check "$t (a) both subscribers learn their public UDP endpoints" chk_learn_public
	check "$t (b) sub1 -> sub2's EIM+EIF binding and back, public endpoints only" \
		chk_udp_to_binding
	check "$t (c) sub1 -> dnat-44 service $PUB:$PUB_PORT (UDP), the service saw sub1's public address" \
		chk_udp_to_service
	check "$t (d) sub1 -> dnat-44 service (TCP): public peer, unforwarded port closed, 256 KiB intact" \
		chk_tcp_to_service
	check "$t (e) filtered: sub2 -> sub1's EIM-only binding unsolicited is dropped" chk_filtered
	check "$t (e) after sub1 sent to sub2's endpoint, the flow passes both ways" chk_filter_opened
	check "$t (g) sub2's port unreachable about a hairpinned datagram reaches sub1" \
		chk_icmp_error_back
	check "$t (f) natsyncctl shows the hairpinned sessions" chk_sessions_flagged
	check "$t (f) rx == sum of verdict counters" nsd_verdicts_balance "$SOCK"

	nsd_stop "$nsd" 10
	check "$t natsyncd exits 0" test "$NSD_RC" -eq 0
	nsd_purge "$P-box" "$cfg" >/dev/null 2>&1
	nst_remove_namespaces
}

for m in $MODES; do
	run_mode "$m"
done
nst_finish
