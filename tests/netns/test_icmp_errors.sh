#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_icmp_errors.sh - ICMP errors through the NAT as Linux itself sends
# them (RFC 5508, RFC 4787 REQ-12/13, RFC 5382), and the firewall's own
# port unreachable for short UDP datagrams (issue 11, items 1 and 3).
#
#   nie-sub 100.64.0.10 --- nie-in [nie-box] nie-out 198.51.100.1/25
#                                                   |
#                             198.51.100.2/25 eth0 [nie-rtr] eth1 198.51.100.129/25, MTU 1280
#                                                   |
#                                         nie-srv 198.51.100.130/25 (MTU 1500)
#
#   napt-44 of 100.64.0.0/10 to 203.0.113.0/28; firewall: UDP to port 9 is
#   rejected, the rest accepted. The router sends its errors to the pool
#   address (it routes 203.0.113.0/24 to the box) and the box translates
#   them back. ICMP rate limits are off in the router and the server.
#
# Per attach mode (NST_MODES, default "native tc"), with a capture on the
# subscriber's interface:
#  a  UDP to a closed port of the server: the server's kernel answers port
#     unreachable (3/3); the subscriber's connected socket sees ECONNREFUSED
#  b  a TCP SYN with TTL 2: the box forwards it with TTL 1 and the router
#     answers time exceeded (11/0), quoting the whole SYN
#  c  a TCP transfer whose full-size segments do not fit the router's
#     1280-byte link: the router answers fragmentation needed (3/4), the
#     subscriber's TCP lowers its path MTU and the transfer completes
#     (sha256 compared); the router quotes 548 bytes of a 1500-byte packet
#  d  every ICMP error in the capture, checked with scapy
#     (tests/netns/icmp_err_check.py): outer, ICMP and quoted IPv4
#     checksums right, quoted addresses and ports the subscriber's own
#     (translated back), quoted TCP/UDP checksum right for the segment as
#     sent (recomputed over the quote completed from the sent packet)
#  e  firewall reject of UDP datagrams with 0..30 bytes of payload: each
#     gets its port unreachable (ECONNREFUSED on the socket), tx_reject
#     counts 31, drop_malformed stays 0 (native XDP had to grow the frame
#     for payloads under 28 bytes, and failed for lack of tailroom)
#  f  rx == sum of the verdict counters
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

MODES=${NST_MODES:-native tc}
P=nie
SUB=100.64.0.10
RTR_A=198.51.100.2
RTR_B=198.51.100.129
SRV=198.51.100.130
SMALL_MTU=1280

nst_init "$P"
nst_need_natsync
nst_need_tools socat ss tcpdump sha256sum
nst_need_scapy

write_config()
{
	{
		nsd_cfg_head "$P-box" "$2" "$3" "$4"
		nsd_cfg_napt44_services "$LAB_POOL" "$P-in" "$P-out" \
			fw='{ name = "no-discard"; from = { protocol = [ "udp" ]; destination-port = [ "9" ]; };
			      then = "reject"; },
			    { name = "inside-out"; from = { source-address = [ "100.64.0.0/10" ]; };
			      then = "accept"; }'
		echo "};"
	} >"$1"
}

topo()
{
	ns_add "$P-sub"
	ns_add "$P-box"
	ns_add "$P-rtr"
	ns_add "$P-srv"
	link_pair "$P-sub" eth0 "$P-box" "$P-in"
	link_pair "$P-box" "$P-out" "$P-rtr" eth0
	link_pair "$P-rtr" eth1 "$P-srv" eth0
	addr_add "$P-sub" eth0 "$SUB/24"
	addr_add "$P-box" "$P-in" "$LAB_BOX_IN_ADDR/24"
	addr_add "$P-box" "$P-out" "$LAB_BOX_OUT_ADDR/25"
	addr_add "$P-rtr" eth0 "$RTR_A/25"
	addr_add "$P-rtr" eth1 "$RTR_B/25"
	addr_add "$P-srv" eth0 "$SRV/25"
	route_add "$P-sub" 198.51.100.0/24 "$LAB_BOX_IN_ADDR"
	route_add "$P-box" default "$RTR_A"
	ip -n "$P-box" route add blackhole 203.0.113.0/24 || nst_die "pool route"
	route_add "$P-rtr" 203.0.113.0/24 "$LAB_BOX_OUT_ADDR"
	route_add "$P-srv" default "$RTR_B"
	# only the router's way out is narrow: the server still announces
	# MSS 1460, so the subscriber sends full-size segments
	ip -n "$P-rtr" link set eth1 mtu "$SMALL_MTU" || nst_die "mtu"
	box_sysctls "$P-box"
	iface_rp_filter_off "$P-box" "$P-in"
	iface_rp_filter_off "$P-box" "$P-out"
	ns_sysctl "$P-rtr" net.ipv4.ip_forward=1
	ns_sysctl "$P-rtr" net.ipv4.icmp_ratelimit=0
	ns_sysctl "$P-srv" net.ipv4.icmp_ratelimit=0
	host_prepare "$P-sub" eth0
	offload_off "$P-rtr" eth1
	offload_off "$P-srv" eth0
	# No GRO where the subscriber's segments pass (the box's inside, the
	# router's ingress): a GRO-merged packet is forwarded as one GSO
	# packet, and Linux quotes its merged header (total length of all
	# segments, TCP checksum of the pseudo-header only) in the frag
	# needed, which no sender ever sent. The router's veth still needs
	# NAPI for the box's XDP_REDIRECTs: an XDP pass program.
	offload_off "$P-rtr" eth0
	xdp_pass_on "$P-rtr" eth0
	ip netns exec "$P-rtr" ethtool -K eth0 gro off >/dev/null || nst_die "gro off"
	ip netns exec "$P-box" ethtool -K "$P-in" gro off >/dev/null || nst_die "gro off"
	gro_on "$P-box" "$P-out"
}

SOCK=""

chk_attached()
{
	local mode=$1 ifc out

	for ifc in "$P-in" "$P-out"; do
		if [ "$mode" = tc ]; then
			out=$(ip netns exec "$P-box" tc filter show dev "$ifc" ingress)
			grep -q 'bpf.*direct-action' <<<"$out" || { echo "no TC filter on $ifc"; return 1; }
		else
			out=$(ip -n "$P-box" -o link show dev "$ifc")
			grep -q " xdp " <<<"$out" || { echo "no native XDP on $ifc: $out"; return 1; }
		fi
	done
}

# (a) a datagram to a closed port: the server's own port unreachable
chk_udp_port_unreach()
{
	ns_exec "$P-sub" python3 - "$SRV" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("0.0.0.0", 40001))
	s.connect((sys.argv[1], 9999))
	s.settimeout(3)
	s.send(b"u" * 40)
	try:
	    s.recv(100)
	except ConnectionRefusedError:
	    print("ECONNREFUSED: the port unreachable came back translated")
	    sys.exit(0)
	except socket.timeout:
	    sys.exit("no answer")
	sys.exit("an answer, not an error")
	EOF
}

# (b) a SYN that dies at the router: time exceeded
chk_tcp_time_exceeded()
{
	ns_exec "$P-sub" python3 - "$SRV" <<-'EOF'
	import errno, socket, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 2)
	s.bind(("0.0.0.0", 40002))
	s.settimeout(2)
	try:
	    s.connect((sys.argv[1], 5999))
	    sys.exit("connected with TTL 2?")
	except (socket.timeout, OSError) as e:
	    # a TCP connect treats time exceeded as a soft error: it keeps
	    # trying until the timeout; the capture has the errors
	    print("connect: %s" % e)
	EOF
}

# (c) frag needed from the narrow router, and PMTU discovery through it
chk_tcp_frag_needed()
{
	ip -n "$P-sub" route flush cache >/dev/null 2>&1
	tcp_upload "$P-sub" "$P-srv" "$SRV" 5001 $((256 * 1024)) || return 1
	ip -n "$P-sub" route get "$SRV"
	grep -q "mtu $SMALL_MTU" <<<"$(ip -n "$P-sub" route get "$SRV")" ||
		{ echo "the subscriber learnt no path MTU of $SMALL_MTU"; return 1; }
}

# (e) reject of short UDP datagrams, every payload size 0..30
chk_reject_short_udp()
{
	local before malf after
	before=$(nsd_counter "$SOCK" tx_reject) || return 1
	malf=$(nsd_counter "$SOCK" drop_malformed) || return 1
	ns_exec "$P-sub" python3 - "$SRV" <<-'EOF' || return 1
	import socket, sys
	bad = []
	for n in range(31):
	    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	    s.bind(("0.0.0.0", 41000 + n))
	    s.connect((sys.argv[1], 9))
	    s.settimeout(2)
	    s.send(b"r" * n)
	    try:
	        s.recv(100)
	        bad.append("%d: an answer" % n)
	    except ConnectionRefusedError:
	        pass
	    except socket.timeout:
	        bad.append("%d: no port unreachable" % n)
	    s.close()
	print("payload sizes without their port unreachable:", bad or "none")
	sys.exit(1 if bad else 0)
	EOF
	after=$(nsd_counter "$SOCK" tx_reject) || return 1
	echo "tx_reject $before -> $after, drop_malformed $malf -> $(nsd_counter "$SOCK" drop_malformed)"
	[ "$after" -eq $((before + 31)) ] && [ "$(nsd_counter "$SOCK" drop_malformed)" -eq "$malf" ]
}

run_mode()
{
	local mode=$1 cfg pin pcap t nsd dump

	t="[$mode]"
	cfg=$NST_TMP/box-$mode.cfg
	pin=/sys/fs/bpf/$P-icmp-$mode
	SOCK=/run/$P-icmp-$mode.sock
	pcap=$NST_TMP/sub-$mode.pcap
	nst_log "=== attach mode $mode"
	topo
	check "$t no leak: veth peers and default routes stay inside the test" \
		nst_check_no_leak "$P-box" "$P-rtr" "$P-srv"
	write_config "$cfg" "$mode" "$pin" "$SOCK"
	nsd_start "$P-box" "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd-$mode.log"
	if ! check "$t natsyncd starts" test $? -eq 0; then
		nst_remove_namespaces
		return
	fi
	nsd=$NSD_PID
	check "$t programs attached as configured" chk_attached "$mode"

	bg_start "$NST_TMP/tcpdump-$mode.log" "$P-sub" tcpdump -n -U -s 0 -i eth0 -w "$pcap" ip
	dump=$NST_LAST_PID
	wait_for 5 grep -q listening "$NST_TMP/tcpdump-$mode.log" || true

	check "$t (a) UDP to a closed port: the server's port unreachable reaches the subscriber" \
		chk_udp_port_unreach
	check "$t (b) TCP SYN with TTL 2: the router's time exceeded" chk_tcp_time_exceeded
	check "$t (c) TCP through a ${SMALL_MTU}-byte link: frag needed, PMTU learnt, transfer intact" \
		chk_tcp_frag_needed
	check "$t (e) reject of UDP with 0..30 bytes of payload: a port unreachable each" \
		chk_reject_short_udp
	check "$t (f) rx == sum of verdict counters" nsd_verdicts_balance "$SOCK"
	bg_stop "$dump"
	check "$t (d) every ICMP error at the subscriber: checksums (outer, ICMP, quoted IPv4, quoted TCP/UDP) and quote translated back" \
		"$SCAPY_PY" "$NST_REPO/tests/netns/icmp_err_check.py" "$pcap" "$SUB" \
		"3/3/udp/$SRV" "11/0/tcp/$RTR_A" "3/4/tcp/$RTR_A"

	nsd_stop "$nsd" 10
	check "$t natsyncd exits 0" test "$NSD_RC" -eq 0
	nsd_purge "$P-box" "$cfg" >/dev/null 2>&1
	nst_remove_namespaces
}

for m in $MODES; do
	run_mode "$m"
done
nst_finish
