#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_topology.sh - checks the test plumbing itself (tests/netns/lib.sh),
# without natsync: the single-box lab with plain kernel forwarding (no NAT)
# must carry TCP, UDP and ping, must not leak into the host, and the cleanup
# trap must remove every namespace on a normal exit, an error exit and
# SIGTERM. If this fails, no natsync scenario result means anything.
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

nst_init nst
nst_need_tools socat ss sha256sum ping

topo_single_box nst
# Plain routing for this test only: the server may reach the subscribers.
route_add nst-srv 100.64.0.0/10 "$LAB_BOX_OUT_ADDR"

check "no leak: every veth peer is in a test namespace, default routes stay inside" \
	nst_check_no_leak nst-box nst-srv
# A default route towards an address no test host has must be noticed
# (the address is on-link for the server, so the kernel accepts the route).
leak_default_route()
{
	local rc

	ip -n nst-srv route add default via 198.51.100.99 || return 1
	nst_check_no_leak nst-srv
	rc=$?
	ip -n nst-srv route del default
	[ $rc -ne 0 ]
}
check "leak check notices a default route to a non-test address" leak_default_route
check "ping client -> server (kernel forwarding)" \
	ns_exec nst-cli ping -c 2 -i 0.2 -W 2 "$LAB_SRV_ADDR"
check "tcp upload 2 MB, sha256 equal" \
	tcp_upload nst-cli nst-srv "$LAB_SRV_ADDR" 5001 $((2 * 1024 * 1024))
check "tcp download 2 MB, sha256 equal" \
	tcp_download nst-cli nst-srv "$LAB_SRV_ADDR" 5002 $((2 * 1024 * 1024))
check "udp echo server up" udp_echo_start nst-srv 5003
check "udp request/response sees the subscriber address (no NAT here)" \
	bash -c "out=\$(cd '$NST_REPO' && . tests/netns/lib.sh && udp_request nst-cli $LAB_SRV_ADDR 5003 40001 hello); echo \"\$out\"; [ \"\$out\" = 'from=$LAB_CLI_ADDR:40001 data=hello' ]"

# A LAN of three hosts through a bridge in a "switch" namespace (as the HA
# tests join two boxes and a router), on the HA link range 192.0.2.0/24.
lan_of_three()
{
	local i

	ns_add nst-sw
	bridge_add nst-sw br0
	for i in 1 2 3; do
		ns_add "nst-h$i"
		link_pair "nst-h$i" eth0 nst-sw "p$i"
		bridge_attach nst-sw br0 "p$i"
		addr_add "nst-h$i" eth0 "192.0.2.$i/24"
	done
	for i in 2 3; do
		ns_exec nst-h1 ping -c 1 -W 2 "192.0.2.$i" || return 1
	done
	nst_check_no_leak nst-sw nst-h1 nst-h2 nst-h3
}
check "bridge in a switch namespace joins three hosts" lan_of_three

# The cleanup trap: a child run with its own prefix must leave nothing
# behind however it ends.
cleanup_case()
{
	local how=$1 rc

	bash -c '
		. "$1/tests/netns/lib.sh"
		nst_init nstx
		topo_single_box nstx
		case "$2" in
		exit) exit 3 ;;
		die) nst_die "on purpose" ;;
		term) sleep 30 & wait $! ;;
		esac' cleanup "$NST_REPO" "$how" >/dev/null 2>&1 &
	local pid=$!
	if [ "$how" = term ]; then
		wait_for 10 ip netns pids nstx-box || true
		wait_for 10 ip -n nstx-srv link show eth0 || true
		sleep 0.5
		kill -TERM "$pid"
	fi
	wait "$pid"
	rc=$?
	echo "child exit status $rc"
	if [ -n "$(ip netns list | grep '^nstx-')" ]; then
		echo "left behind: $(ip netns list | grep '^nstx-' | tr '\n' ' ')"
		return 1
	fi
	[ "$rc" -ne 0 ]
}
check "cleanup trap on exit 3 removes every namespace" cleanup_case exit
check "cleanup trap on nst_die removes every namespace" cleanup_case die
check "cleanup trap on SIGTERM removes every namespace" cleanup_case term

nst_finish
