#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_ipfix.sh - NAT event logging through a running natsyncd: IPFIX
# (RFC 7011/8158) to a real collector (nfdump's nfcapd), and syslog to a
# socket the test binds.
#
#   nix-cli 100.64.0.10/24         --- nix-in [nix-box] nix-out --- nix-srv 198.51.100.10/24
#           2001:db8:64::10/64           |  192.0.2.1
#                                    nix-mgmt --- nix-col 192.0.2.9 (nfcapd, UDP 4739)
#   napt-44 100.64.0.0/10 -> 203.0.113.0/28, stateful-nat64 2001:db8:64::/48
#   -> 203.0.113.16/30 (64:ff9b::/96), one service set, max 6 sessions per
#   subscriber. The collector sits on a link of its own, as a management
#   network would: natsync's programs never see the export.
#
# Checks:
#  a  traffic: NAT44 UDP and TCP, NAT64 UDP, answered through the box
#  b  nfcapd decoded a NAT44 session create and delete (natEvent 4/5) and a
#     BIB create and delete (8/9) whose addresses, ports and protocol are
#     the UDP flow's, translated to what the server saw
#  c  the same for the TCP flow (protocol 6, destination port)
#  d  NAT64: session create/delete (6/7) with the client's IPv6 source,
#     64:ff9b::198.51.100.10 as destination, the pool address the server
#     saw; BIB create/delete (10/11)
#  e  a subscriber over max-sessions-per-subscriber: quota exceeded (13)
#  i  port blocks: a subscriber (100.64.0.30) whose term takes pool pb44
#     (port-block-allocation, blocks of 512): nfcapd decoded the block's
#     allocation and release (natEvent 16/17, RFC 8158) with the subscriber
#     and the pool address its flow went out from; natsyncd's block lines
#     give the block that holds the flow's port. nfdump 1.7.1 decodes
#     natEvent 16/17 but not the IPFIX port-range elements (361-364): those
#     are decoded field by field with libfixbuf in the unit test
#     ipfix/every_event_decodes_field_by_field.
#  f  templates resent on schedule (template-refresh = 2): the counter
#     grows; records, messages counted; no drop, no send error
#  g  syslog: the NAT lines of the UDP flow reach the test's socket as
#     "<PRI>Mmm dd hh:mm:ss natsyncd[PID]: NAT_ALLOC ..." lines; the NAT64
#     flow's lines (open, allocation, close, release) name the IPv6
#     subscriber "[2001:db8:64::10]:40002", never the 32-bit stand-in
#  h  a syslog socket that is missing (reload pointing elsewhere) is said
#     once in natsyncd's own log, not once per line
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

CLI=100.64.0.10
SRV=198.51.100.10
CLI6=2001:db8:64::10
BOX6=2001:db8:64::1
SRV6=64:ff9b::198.51.100.10
COL=192.0.2.9
COL_PORT=4739
POOL44=203.0.113.0/28
POOL64=203.0.113.16/30
POOLPB=203.0.113.32/30
CLI_PB=100.64.0.30
PB_SIZE=512

nst_init nix
nst_need_natsync
nst_need_tools socat ss nfcapd nfdump

PIN=/sys/fs/bpf/nix-ipfix
SOCK=/run/nix-ipfix.sock
SYSLOG=/run/nix-syslog.sock
NOLOG=/run/nix-nolog.sock
CFG=$NST_TMP/box.cfg
COLDIR=$NST_TMP/flows
NST_SOCKS+=("$SYSLOG" "$NOLOG")

# write_config SYSLOG_SOCKET
write_config()
{
	nsd_cfg_open nix-box "$PIN" "$SOCK" \
		log="{ level = \"info\"; syslog = true; syslog-socket = \"$1\"; }" \
		max-sessions=4096 max-sessions-per-subscriber=6 aging-interval-ms=200 attach-mode=native \
		timeouts="tcp-syn=6 tcp-established=30 tcp-closing=2 tcp-time-wait=2 tcp-rst=2
		udp=3 icmp=3 other=3 port-hold=0 binding=0" >"$CFG"
	cat >>"$CFG" <<EOF
  ipfix: {
    collectors = [ "$COL:$COL_PORT" ];
    template-refresh = 2;
    observation-domain = 4242;
  };
  services: {
    nat: {
      pools = ( { name = "p44"; address = [ "$POOL44" ]; port = "automatic"; },
                { name = "p64"; address = [ "$POOL64" ]; port = "automatic"; },
                { name = "pb44"; address = [ "$POOLPB" ]; port = "automatic";
                  port-block-allocation = { block-size = $PB_SIZE; }; } );
      rules = ( { name = "r44"; match-direction = "input";
                  terms = ( { name = "tpb"; from = { source-address = [ "$CLI_PB/32" ]; };
                              then = { translation-type = "napt-44"; source-pool = "pb44"; }; },
                            { name = "t1"; from = { source-address = [ "100.64.0.0/10" ]; };
                              then = { translation-type = "napt-44"; source-pool = "p44"; }; } ); },
                { name = "r64"; match-direction = "input";
                  terms = ( { name = "t1";
                              from = { source-address = [ "2001:db8:64::/48" ];
                                       destination-address = [ "64:ff9b::/96" ]; };
                              then = { translation-type = "stateful-nat64"; source-pool = "p64";
                                       destination-prefix = "64:ff9b::/96"; }; } ); } );
    };
    service-sets = ( { name = "ssx"; nat-rules = [ "r44", "r64" ];
                       syslog = [ "session-logs", "nat-logs" ];
                       next-hop-service = { inside-service-interface = "nix-in";
                                            outside-service-interface = "nix-out"; }; } );
  };
};
EOF
}

topo()
{
	local ns

	topo_single_box nix
	for ns in nix-cli nix-box; do
		ns_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=0
		ns_sysctl "$ns" net.ipv6.conf.default.disable_ipv6=0
	done
	ns_sysctl nix-cli net.ipv6.conf.eth0.disable_ipv6=0
	ns_sysctl nix-box net.ipv6.conf.nix-in.disable_ipv6=0
	ns_sysctl nix-box net.ipv6.conf.all.forwarding=1
	ip -n nix-cli -6 addr add "$CLI6/64" dev eth0 nodad || nst_die "client IPv6 address"
	ip -n nix-box -6 addr add "$BOX6/64" dev nix-in nodad || nst_die "box IPv6 address"
	ip -n nix-cli -6 route add 64:ff9b::/96 via "$BOX6" || nst_die "client NAT64 route"
	addr_add nix-cli eth0 "$CLI_PB/24"
	ns_add nix-col
	link_pair nix-box nix-mgmt nix-col eth0
	addr_add nix-box nix-mgmt 192.0.2.1/24
	addr_add nix-col eth0 "$COL/24"
}

# seen_of ANSWER TEXT: the UDP echo's answer "from=ADDR:PORT data=TEXT"
# into SEEN="ADDR PORT", what the server saw (the translated source).
SEEN=""
seen_of()
{
	local a

	echo "answer: $1"
	case "$1" in
	from=*:*" data=$2") ;;
	*) return 1 ;;
	esac
	a=${1#from=}
	SEEN="${a%%:*} $(echo "${a#*:}" | cut -d' ' -f1)"
}

udp_flow()
{
	seen_of "$(udp_request nix-cli "$1" 5003 "$2" "hello-$2")" "hello-$2"
}

# udp_flow_from SRC SPORT: a UDP request from SRC:SPORT (the port-block
# subscriber), answered
udp_flow_from()
{
	seen_of "$(echo "hello-$2" | ip netns exec nix-cli timeout 5 \
		socat -T3 - "UDP:$SRV:5003,bind=$1,sourceport=$2,reuseaddr")" "hello-$2"
}

udp6_flow()
{
	seen_of "$(echo hello6 | ip netns exec nix-cli timeout 5 \
		socat -T3 - "UDP6:[$SRV6]:5003,sourceport=$1,reuseaddr")" hello6
}

tcp_flow()
{
	tcp_upload nix-cli nix-srv "$SRV" 5001 65536
}

sessions_empty()
{
	[ "$(nsd_json "$SOCK" show sessions | json_get "len(j['sessions'])")" = 0 ]
}

# The records nfcapd wrote (every finished file), as JSON lines.
RECORDS=$NST_TMP/records.json
collect()
{
	nfdump -R "$COLDIR" -o json 2>/dev/null | python3 -c '
import json, sys
t = sys.stdin.read()
i = t.find("[")
recs = json.loads(t[i:t.rindex("]") + 1]) if i >= 0 else []
with open(sys.argv[1], "w") as f:
    for r in recs:
        f.write(json.dumps(r) + "\n")
print(len(recs), "records decoded by nfdump")
' "$RECORDS"
}

# find_rec EVENT KEY=VALUE...: a decoded record with nat_event_id EVENT
# and every KEY equal to VALUE (VALUE "pool44"/"pool64": in that pool).
find_rec()
{
	python3 - "$RECORDS" "$POOL44" "$POOL64" "$@" <<'EOF'
import ipaddress, json, sys
path, pool44, pool64, ev = sys.argv[1:5]
want = dict(a.split("=", 1) for a in sys.argv[5:])
pools = {"pool44": ipaddress.ip_network(pool44), "pool64": ipaddress.ip_network(pool64)}
recs = [json.loads(l) for l in open(path)]
def ok(r):
    if str(r.get("nat_event_id")) != ev:
        return False
    for k, v in want.items():
        if v in pools:
            if k not in r or ipaddress.ip_address(r[k]) not in pools[v]:
                return False
        elif str(r.get(k)) != v:
            return False
    return True
hits = [r for r in recs if ok(r)]
if not hits:
    same = [r for r in recs if str(r.get("nat_event_id")) == ev]
    print("no natEvent %s record with %s; %d records of that event:" % (ev, want, len(same)))
    for r in same[:6]:
        print("   ", {k: v for k, v in r.items() if k.endswith(("addr", "port", "xlt_ip")) or k in ("proto", "nat_event")})
    sys.exit(1)
print("natEvent %s (%s): %s" % (ev, hits[0].get("nat_event"), want))
EOF
}

has_records()
{
	collect >/dev/null && find_rec "$@" >/dev/null
}

sublimit_dropped()
{
	[ "$(nsd_counter "$SOCK" drop_subscriber_limit)" -gt 0 ]
}

chk_tcp_records()
{
	find_rec 4 proto=6 src4_addr=$CLI src4_xlt_ip=pool44 dst4_addr=$SRV dst_port=5001 &&
		find_rec 5 proto=6 src4_addr=$CLI src4_xlt_ip=pool44 dst4_addr=$SRV dst_port=5001
}

templates_after()
{
	[ "$(nsd_dcounter "$SOCK" ipfix_templates)" -gt "$1" ]
}

chk_export_counters()
{
	nsd_json "$SOCK" show counters | python3 -c 'import json, sys
d = json.load(sys.stdin)["daemon"]
print({k: v for k, v in d.items() if k.startswith("ipfix")})
assert d["ipfix_records"] >= 12 and d["ipfix_messages"] >= 2
assert d["ipfix_drops"] == 0 and d["ipfix_send_errors"] == 0 and d["ipfix_unresolved"] == 0'
}

syslog_has()
{
	grep -E "$1" "$NST_TMP/syslog.out"
}

# ---- the lab --------------------------------------------------------------

topo
check "no leak: veth peers and default routes stay inside the test" \
	nst_check_no_leak nix-box nix-srv nix-col
mkdir -p "$COLDIR"
bg_start "$NST_TMP/nfcapd.log" nix-col nfcapd -b "$COL" -p "$COL_PORT" -w "$COLDIR" -t 2 -I nix
NFCAPD=$NST_LAST_PID
check "nfcapd listens on $COL:$COL_PORT" wait_for 5 udp_listening nix-col "$COL_PORT"
bg_start "$NST_TMP/syslogd.log" nix-col python3 -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    os.unlink(sys.argv[1])
except FileNotFoundError:
    pass
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace") + "\n")
        f.flush()
' "$SYSLOG" "$NST_TMP/syslog.out"
check "the test's syslog socket is bound" wait_for 5 test -S "$SYSLOG"
write_config "$SYSLOG"
nsd_start nix-box "$CFG" "$SOCK" "$PIN" "$NST_TMP/natsyncd.log" ||
	nst_die "natsyncd did not start"
NSD=$NSD_PID
check "natsyncd says where it exports" \
	grep -q "ipfix: exporting NAT events to $COL:$COL_PORT (observation domain 4242" \
	"$NST_TMP/natsyncd.log"
udp_echo_start nix-srv 5003

check "(a) NAT44 UDP request answered" udp_flow "$SRV" 40001
read -r UDP_XIP UDP_XPORT <<<"$SEEN"
check "(a) NAT44 TCP upload" tcp_flow
check "(a) NAT64 UDP request answered" udp6_flow 40002
read -r U6_XIP U6_XPORT <<<"$SEEN"
check "(a) UDP request of the port-block subscriber answered" udp_flow_from "$CLI_PB" 40005
read -r PB_XIP PB_XPORT <<<"$SEEN"
PB_FIRST=$((1024 + (PB_XPORT - 1024) / PB_SIZE * PB_SIZE))
nst_log "the port-block subscriber's flow went out as $PB_XIP:$PB_XPORT (block $PB_FIRST-$((PB_FIRST + PB_SIZE - 1)))"
nst_log "the server saw NAT44 UDP from $UDP_XIP:$UDP_XPORT, NAT64 UDP from $U6_XIP:$U6_XPORT"

# The sessions and their bindings expire (udp 3 s, tcp-time-wait 2 s,
# port-hold 0): the deletes follow.
check "the sessions expire" wait_for 30 sessions_empty
# one subscriber, more flows than max-sessions-per-subscriber (6)
# (at once: each request waits 3 s for more answers, the sessions' lifetime)
BURST=()
for p in $(seq 41001 41009); do
	udp_request nix-cli "$SRV" 5003 "$p" x >/dev/null &
	BURST+=($!)
done
wait "${BURST[@]}"
check "the fast path refused the subscriber's 7th flow" sublimit_dropped

U=(proto=17 src4_addr=$CLI src_port=40001 src4_xlt_ip=$UDP_XIP src_xlt_port=$UDP_XPORT)
check "(b) nfcapd: NAT44 session create of the UDP flow" \
	wait_for 20 has_records 4 "${U[@]}" dst4_addr=$SRV dst_port=5003 dst4_xlt_ip=$SRV dst_xlt_port=5003
collect
check "(b) nfcapd: NAT44 session create of the UDP flow, field by field" \
	find_rec 4 "${U[@]}" dst4_addr=$SRV dst_port=5003 dst4_xlt_ip=$SRV dst_xlt_port=5003
check "(b) nfcapd: NAT44 session delete of the UDP flow" \
	wait_for 20 has_records 5 "${U[@]}" dst4_addr=$SRV dst_port=5003
check "(b) nfcapd: NAT44 BIB create of the UDP flow (no destination)" \
	find_rec 8 "${U[@]}" dst4_addr=0.0.0.0 dst_port=0
check "(b) nfcapd: NAT44 BIB delete of the UDP flow" \
	wait_for 20 has_records 9 "${U[@]}"
check "(c) nfcapd: NAT44 session create and delete of the TCP flow" chk_tcp_records
V6=(proto=17 src6_addr=$CLI6 src_port=40002 src4_xlt_ip=$U6_XIP src_xlt_port=$U6_XPORT)
check "(d) nfcapd: NAT64 session create: IPv6 source, 64:ff9b:: destination, pool address" \
	find_rec 6 "${V6[@]}" dst6_addr=64:ff9b::c633:640a dst_port=5003 dst4_xlt_ip=$SRV
check "(d) nfcapd: NAT64 session delete" \
	wait_for 20 has_records 7 "${V6[@]}" dst6_addr=64:ff9b::c633:640a
check "(d) nfcapd: NAT64 BIB create" find_rec 10 "${V6[@]}"
check "(d) nfcapd: NAT64 BIB delete" wait_for 20 has_records 11 "${V6[@]}"
check "(e) nfcapd: quota exceeded (max entries per user)" wait_for 20 has_records 13
PB=(src4_addr=$CLI_PB src4_xlt_ip=$PB_XIP)
# chk_pb SECONDS EVENT: wait for the port-block record; on failure say what
# natsyncd logged and which records nfdump decoded
chk_pb()
{
	wait_for "$1" has_records "$2" "${PB[@]}" && return 0
	grep "PORT_BLOCK_" "$NST_TMP/natsyncd.log"
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if str(r.get("nat_event_id")) in ("16", "17"):
        print(r)' "$RECORDS"
	find_rec "$2" "${PB[@]}"
}
check "(i) nfcapd: port block allocation (natEvent 16): subscriber, pool address, block" \
	chk_pb 20 16
check "(i) nfcapd: port block release (natEvent 17) of the same block" chk_pb 30 17
check "(i) natsyncd logged the allocation and release of the block holding the flow's port" \
	eval 'grep -q "PORT_BLOCK_ALLOC pool=pb44 $CLI_PB -> $PB_XIP:$PB_FIRST-$((PB_FIRST + PB_SIZE - 1)) " "$NST_TMP/natsyncd.log" &&
		grep -q "PORT_BLOCK_RELEASE pool=pb44 $CLI_PB -> $PB_XIP:$PB_FIRST-$((PB_FIRST + PB_SIZE - 1)) " "$NST_TMP/natsyncd.log"'

T0=$(nsd_dcounter "$SOCK" ipfix_templates)
check "(f) templates resent on schedule (every 2 s)" wait_for 10 templates_after "$T0"
check "(f) records and messages counted, no drop, no send error, nothing unresolved" \
	chk_export_counters
bg_stop "$NFCAPD"
check "(f) nfcapd counted no sequence error (its summary at exit)" \
	grep -E "Ident: 'nix' Flows: [1-9][0-9]*, .*Sequence Errors: 0," "$NST_TMP/nfcapd.log"

PRI_TAG="^<(30|28)>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]{8} natsyncd\\[$NSD\\]: "
check "(g) syslog: SESSION_OPEN of the UDP flow" \
	syslog_has "${PRI_TAG}SESSION_OPEN svc=ssx udp $CLI:40001 -> $SRV:5003 nat $UDP_XIP:$UDP_XPORT napt-44$"
check "(g) syslog: NAT_ALLOC of the UDP flow" \
	syslog_has "${PRI_TAG}NAT_ALLOC svc=ssx pool=p44 udp $CLI:40001 -> $UDP_XIP:$UDP_XPORT napt-44$"
check "(g) syslog: SESSION_CLOSE and NAT_RELEASE of the UDP flow" \
	bash -c "grep -E '${PRI_TAG}SESSION_CLOSE svc=ssx udp $CLI:40001 -> $SRV:5003 nat $UDP_XIP:$UDP_XPORT' '$NST_TMP/syslog.out' &&
		grep -E '${PRI_TAG}NAT_RELEASE svc=ssx pool=p44 udp $CLI:40001 -> $UDP_XIP:$UDP_XPORT$' '$NST_TMP/syslog.out'"
V6SUB="\\[$CLI6\\]:40002"
check "(g) syslog: SESSION_OPEN of the NAT64 flow names the IPv6 subscriber" \
	syslog_has "${PRI_TAG}SESSION_OPEN svc=ssx udp $V6SUB -> \\[64:ff9b::c633:640a\\]:5003 nat $U6_XIP:$U6_XPORT stateful-nat64$"
check "(g) syslog: NAT_ALLOC of the NAT64 flow names the IPv6 subscriber" \
	syslog_has "${PRI_TAG}NAT_ALLOC svc=ssx pool=p64 udp $V6SUB -> $U6_XIP:$U6_XPORT stateful-nat64$"
check "(g) syslog: SESSION_CLOSE of the NAT64 flow names the IPv6 subscriber" \
	syslog_has "${PRI_TAG}SESSION_CLOSE svc=ssx udp $V6SUB -> \\[64:ff9b::c633:640a\\]:5003 nat $U6_XIP:$U6_XPORT"
check "(g) syslog: NAT_RELEASE of the NAT64 binding names the IPv6 subscriber" \
	syslog_has "${PRI_TAG}NAT_RELEASE svc=ssx pool=p64 udp $V6SUB -> $U6_XIP:$U6_XPORT$"
check "(g) syslog: no NAT64 line shows the 32-bit stand-in" \
	bash -c "! grep -E 'pool=p64 udp [0-9]|udp [0-9.]+:40002 ' '$NST_TMP/syslog.out'"
check "(g) natsyncd said nothing about syslog being unreachable" \
	bash -c "! grep -q 'syslog: cannot send' '$NST_TMP/natsyncd.log'"

# (h) the syslog socket goes missing: reload with a path nobody bound
write_config "$NOLOG"
check "(h) reload onto a missing syslog socket" nsd_ctl "$SOCK" reload
for p in 42001 42002 42003; do
	udp_request nix-cli "$SRV" 5003 "$p" x >/dev/null
done
check "(h) the new flows are logged (stderr)" \
	wait_for 10 grep -q "NAT_ALLOC svc=ssx pool=p44 udp $CLI:42003 " "$NST_TMP/natsyncd.log"
check "(h) the missing socket is said exactly once" \
	bash -c "[ \"\$(grep -c 'syslog: cannot send to $NOLOG: No such file or directory' '$NST_TMP/natsyncd.log')\" = 1 ]"
check "(h) and none of those lines reached the old socket" \
	bash -c "! grep -q ':42003 ' '$NST_TMP/syslog.out'"

nsd_stop "$NSD"
check "natsyncd stops cleanly" test "$NSD_RC" = 0
nst_finish
