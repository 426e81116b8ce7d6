#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_frag64.sh - fragments through stateful NAT64 (bpf/frag64.h,
# daemon/frag64.c; RFC 6146 3.4/3.5, RFC 7915 4.1/5.1.1), real senders.
#
#   n6f-cli 2001:db8:64::10 --- n6f-in [n6f-box] n6f-out --- n6f-srv 198.51.100.10
#   (tests/netns/nat64_lab.sh). The IPv4 link has MTU 1500, the IPv6 link
#   1528: an IPv4 fragment of 1500 bytes becomes 1528 bytes of IPv6 with
#   its Fragment header (doc/nat64.md "Fragments").
#
# Once per attach mode (NST_MODES, default "native tc"):
#  a  a 4000-byte UDP datagram from the IPv6-only client to the IPv4
#     server (fragmented by the client's kernel) and a 4000-byte answer
#     (fragmented by the server's): both whole and intact, the server saw a
#     pool address; frag_first/frag_xlated count them
#  b  a 4000-byte datagram client -> server sent by scapy as IPv6
#     fragments, last first: held (frag_held), natsyncd translates and
#     sends them on once the first is through, the server gets it whole
#  c  the same from the server (IPv4 fragments, last first) to the
#     client's pool address and port: the client gets it whole as IPv6
#  d  nothing dropped, nothing expired; rx == sum of the verdict counters;
#     show status has its fragments line
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat64_lab.sh"
. "$(dirname "$0")/frag_checks.sh"

SRV6=64:ff9b::c633:640a # 198.51.100.10 in the pref64, as Python prints it

nst_init n6f

write_config()
{
	{
		nsd_cfg_open n6f-box "$3" "$4" max-sessions=4096 attach-mode="$2" \
			timeouts="udp=300 icmp=300"
		nat64_services n6f-in n6f-out
		echo "};"
	} >"$1"
}

topo_frag64()
{
	nat64_lab n6f-cli n6f-box n6f-srv n6f-in n6f-out
	ip -n n6f-cli link set dev eth0 mtu 1528 || nst_die "client MTU"
	ip -n n6f-box link set dev n6f-in mtu 1528 || nst_die "box MTU"
}

FR_CLI=n6f-cli
FR_SRV=n6f-srv
FR_CLI_SRC=$NAT64_CLI6
FR_SRV_SRC=$NAT64_SRV
FR_DST=$SRV6
FR_IN_POOL=in_pool64
FR_P=n6f
FR_TOPO=topo_frag64
FR_OUT="IPv6 fragments"
FR_IN="IPv4 fragments"

# the addresses of $NAT64_POOL (203.0.113.16/30)
in_pool64()
{
	case "$1" in
	203.0.113.1[6-9]) return 0 ;;
	esac
	return 1
}

fr_run_modes
