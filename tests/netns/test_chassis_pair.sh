#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_chassis_pair.sh - the seed's two-chassis example, configs/chassis1.cfg
# and configs/chassis2.cfg, run unchanged as an HA pair with traffic: the
# sync channel bound to the routing-instance device "HA", NAPT44 with
# random ports, round-robin addresses and paired pooling, replication of
# sessions older than the seed's 180 s threshold.
#
#   ncp-cli 100.64.0.10 --- ms-in [ncp-c1] ms-out --- eth0 198.51.100.10 [ncp-srv]
#                             HA 192.0.2.1
#                              |  sync channel, TCP 7788, bound to device HA
#                             HA 192.0.2.2
#                      ms-in [ncp-c2] ms-out --- ncp-stub (no traffic)
#
# routing-instance = "HA" binds the sync socket to the device HA
# (SO_BINDTODEVICE). A VRF device cannot be made on this kind of machine
# (its kernel has no VRF support: "Unknown device type"), so HA is the sync
# link itself, and each box also gets a decoy route to its peer's data
# address through ms-out, more specific than HA's: a sync socket that were
# not bound to HA would follow the decoy and never reach the peer.
#
# The configs name their own pin paths (/sys/fs/bpf/natsync-chassisN) and
# control sockets (/run/natsync-chassisN.sock): they are used as they are,
# and removed at the end. Equal priorities: the lower data address
# (chassis1) is elected primary.
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

P=ncp
CFG1=$NST_REPO/configs/chassis1.cfg
CFG2=$NST_REPO/configs/chassis2.cfg
PIN1=/sys/fs/bpf/natsync-chassis1
PIN2=/sys/fs/bpf/natsync-chassis2
SOCK1=/run/natsync-chassis1.sock
SOCK2=/run/natsync-chassis2.sock
CLI=100.64.0.10
SRV=198.51.100.10
UDP_PORT=5300
TCP_PORT=5301
INJECT=1000
AGE=200 # older than the seed's replication-threshold 180 s
POOL=203.0.113.0/24 # the configs' pool p2

nst_init $P
nst_need_natsync
nst_need_tools socat python3
# The pins are not named after our prefix: remove what a crashed run left.
rm -rf "$PIN1" "$PIN2"

# ---- topology ---------------------------------------------------------------

topo()
{
	local b

	for b in cli c1 c2 srv stub; do
		ns_add "$P-$b"
	done
	link_pair "$P-cli" eth0 "$P-c1" ms-in
	link_pair "$P-c1" ms-out "$P-srv" eth0
	link_pair "$P-c2" ms-in "$P-stub" in
	link_pair "$P-c2" ms-out "$P-stub" out
	link_pair "$P-c1" HA "$P-c2" HA
	addr_add "$P-cli" eth0 "$CLI/24"
	addr_add "$P-srv" eth0 "$SRV/24"
	addr_add "$P-c1" ms-in 100.64.0.1/24
	addr_add "$P-c1" ms-out 198.51.100.1/24
	addr_add "$P-c2" ms-in 100.64.0.2/24
	addr_add "$P-c2" ms-out 198.51.100.2/24
	addr_add "$P-c1" HA 192.0.2.1/24
	addr_add "$P-c2" HA 192.0.2.2/24
	route_add "$P-c1" 192.0.2.2/32 198.51.100.10 # the decoys: see above
	route_add "$P-c2" 192.0.2.1/32 198.51.100.10
	route_add "$P-cli" 198.51.100.0/24 100.64.0.1
	route_add "$P-srv" 203.0.113.0/24 198.51.100.1
	for b in c1 c2; do
		box_sysctls "$P-$b"
		iface_rp_filter_off "$P-$b" ms-in
		iface_rp_filter_off "$P-$b" ms-out
		gro_on "$P-$b" ms-in
		gro_on "$P-$b" ms-out
	done
	host_prepare "$P-cli" eth0
	host_prepare "$P-srv" eth0
}

# ---- helpers ----------------------------------------------------------------

red_field() # SOCK PYEXPR
{
	nsd_json "$1" show redundancy | json_get "$2"
}

role_is() { [ "$(red_field "$1" 'j["role"]')" = "$2" ]; }
ready() { [ "$(red_field "$1" 'j["ready"]')" = true ]; }

sync_field() # SOCK PYEXPR
{
	nsd_json "$1" show sync | json_get "$2"
}

# sessions_at_least SOCK N: the box holds N sessions (its last aging pass).
sessions_at_least()
{
	local n

	n=$(nsd_json "$1" show status | json_get 'j["sessions"]') || return 1
	[ "$n" -ge "$2" ]
}

# pool_endpoint SPORT: the source the server saw for a UDP request from
# the client's port SPORT (empty when no answer).
pool_endpoint()
{
	udp_request "$P-cli" "$SRV" $UDP_PORT "$1" "hello" |
		sed -n 's/^from=\([0-9.]*\):\([0-9]*\) .*/\1:\2/p'
}

# paired: two flows of one subscriber leave from the same pool address.
paired()
{
	local a b

	a=$(pool_endpoint 40001) && b=$(pool_endpoint 40002) || return 1
	in_net "${a%:*}" "$POOL" && in_net "${b%:*}" "$POOL" && [ "${a%:*}" = "${b%:*}" ]
}

# replicated_injected: the backup holds the injected sessions, each with
# the replicated flag, over the channel bound to HA.
replicated_injected()
{
	sessions_at_least "$SOCK2" $INJECT
}

# ---- scenario ---------------------------------------------------------------

check "chassis1.cfg passes --check" "$NATSYNCD" -c "$CFG1" --check
check "chassis2.cfg passes --check" "$NATSYNCD" -c "$CFG2" --check
topo || nst_die "topology"
nsd_start "$P-c1" "$CFG1" "$SOCK1" "$PIN1" "$NST_TMP/c1.log" || nst_die "chassis1 did not start"
PID1=$NSD_PID
nsd_start "$P-c2" "$CFG2" "$SOCK2" "$PIN2" "$NST_TMP/c2.log" || nst_die "chassis2 did not start"
PID2=$NSD_PID

check "chassis1 (lower data address) is elected primary" wait_for 20 role_is "$SOCK1" primary
check "chassis2 is backup and ready (bulk over HA)" \
	wait_for 30 eval 'role_is $SOCK2 backup && ready $SOCK2'
# The decoy: the kernel routes an unbound socket to the peer through
# ms-out; only a socket bound to HA reaches it.
check "without the binding the peer is routed away from HA (the decoy)" \
	eval 'ip -n $P-c1 route get 192.0.2.2 | grep -q " dev ms-out "'
check "the sync channel is up, bound to the routing-instance HA" \
	eval '[ "$(sync_field "$SOCK1" "j[\"state\"]")" = established ] && [ "$(sync_field "$SOCK1" "j[\"device\"]")" = HA ]'

udp_echo_start "$P-srv" $UDP_PORT || nst_die "udp echo server"
check "a subscriber's UDP flow is translated into pool p2 (203.0.113.0/24)" \
	eval 'a=$(pool_endpoint 40000) && in_net "${a%:*}" "$POOL"'
check "address-pooling paired: one subscriber, one pool address" paired
bg_start "$NST_TMP/tcp-srv.log" "$P-srv" socat "TCP-LISTEN:$TCP_PORT,reuseaddr,fork" \
	SYSTEM:'echo "from=$SOCAT_PEERADDR:$SOCAT_PEERPORT"'
wait_for 5 tcp_listening "$P-srv" $TCP_PORT || nst_die "tcp server"
check "a subscriber's TCP connection is translated too" \
	eval 'ip netns exec $P-cli timeout 5 socat -T3 - TCP:$SRV:$TCP_PORT </dev/null | grep -q "^from=203\.0\.113\."'

check "$INJECT sessions older than 180 s injected into chassis1's maps" \
	python3 "$NST_REPO/tests/netns/inject_sessions.py" "$PIN1/$NS_PIN_SUBDIR" $INJECT $AGE
check "chassis2 holds them, replicated over HA" wait_for 30 replicated_injected
check "chassis2 still backup, chassis1 still primary" \
	eval 'role_is $SOCK2 backup && role_is $SOCK1 primary'

nsd_stop "$PID2"
check "chassis2 exits cleanly" test "$NSD_RC" = 0
nsd_stop "$PID1"
check "chassis1 exits cleanly" test "$NSD_RC" = 0
nst_finish
