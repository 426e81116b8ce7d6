#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_srd.sh - the Service Redundancy Daemon model (issue 10) through two
# running natsyncd on the pair of pair.sh, with long-lived TCP and UDP flows
# through whichever box is primary: each phase's event, held for its hold
# time, triggers its redundancy policy, the role moves, and no flow is
# reset, loses a byte or changes its NAT binding.
#
# Each box also has an "uplink" up0 (a veth to $P-sw) that carries no
# traffic, a route 198.51.100.128/25 via the server in table 100, and pings
# an address of the server (A 198.51.100.20, B .21). Events and policies
# (the same on both boxes but for the ping target):
#   uplink   monitor-link-down up0, hold 200 ms down / 1000 ms up
#              -> uplink-down: release-mastership
#   route    monitor-route 198.51.100.128/25 table 100, hold 0 / 500 ms
#              -> route-gone (down): release-mastership, add-static-route
#                 blackhole 203.0.113.0/24 table 101, hook
#              -> route-back (up): delete-static-route of that route, hook
#   gw-ping  monitor-ping every 100 ms, 3 lost, hold 0 / 1000 ms
#              -> ping-lost (down): release-mastership, hook
#              -> ping-back (up): acquire-mastership, hook
#
# Phases:
#   link    A's up0 loses its carrier (peer end down): A releases, B takes
#           over; up0 back: A healthy again, stays backup
#   route   the route leaves B's table 100: B releases (A takes over), adds
#           the blackhole route, runs its hook; the route back: the static
#           route is deleted again, hook
#   ping    the server stops answering A's ping: A releases, B takes over;
#           it answers again: A acquires the role back (B steps down)
#   split   (with heartbeat-paths, see below) the sync link is cut with the
#           data links up: the second heartbeat path keeps the peer alive,
#           no takeover, no dual primary, "sync link down, peer alive via
#           inside"; healed: the bulk runs again
# Environment: NSD_TCP (default 40) TCP connections, NSD_UDP (default 8).
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pair.sh"

P=nsd
NTCP=${NSD_TCP:-40}
NUDP=${NSD_UDP:-8}
pair_paths
MON_ROUTE=198.51.100.128/25
HOOKS=

nst_init $P
nst_need_natsync
nst_need_tools python3 bridge
HOOKS=$NST_TMP/srd-hooks.log

# write_config FILE NODE LOCAL PEER PIN SOCK PRIORITY PING_TARGET PING_SOURCE
#              IN_LOCAL IN_PEER OUT_LOCAL OUT_PEER: one box (pair_config) with
# the events and policies above and heartbeat paths on both LANs.
write_config()
{
	local extra hook

	# every hook logs the same line: node, policy, event, state
	hook='echo \"$NATSYNC_NODE $NATSYNC_POLICY $NATSYNC_EVENT $NATSYNC_EVENT_STATE\" >> '"$HOOKS"
	extra=$(cat <<EOF
    key-file = "$NST_TMP/psk";
    monitor-interfaces = [ "in0", "out0" ];
    heartbeat-paths = (
      { name = "inside"; local-address = "${10}"; peer-address = "${11}"; interface = "in0"; },
      { name = "outside"; local-address = "${12}"; peer-address = "${13}"; interface = "out0"; } );
    redundancy-events = (
      { name = "uplink"; monitor-link-down = [ "up0" ];
        hold-time-down-ms = 200; hold-time-up-ms = 1000; },
      { name = "route"; monitor-route = { prefix = "$MON_ROUTE"; table = 100; };
        hold-time-up-ms = 500; },
      { name = "gw-ping"; monitor-ping = { address = "$8"; source = "$9"; interval-ms = 100; count = 3; };
        hold-time-up-ms = 1000; } );
    redundancy-policies = (
      { name = "uplink-down"; redundancy-events = [ "uplink" ];
        then = { release-mastership = true; }; },
      { name = "route-gone"; redundancy-events = [ "route" ];
        then = { release-mastership = true;
                 add-static-route = ( { destination = "$POOL"; table = 101; } );
                 hook = "$hook"; }; },
      { name = "route-back"; redundancy-events = [ "route" ]; when = "up";
        then = { delete-static-route = ( { destination = "$POOL"; table = 101; } );
                 hook = "$hook"; }; },
      { name = "ping-lost"; redundancy-events = [ "gw-ping" ];
        then = { release-mastership = true;
                 hook = "$hook"; }; },
      { name = "ping-back"; redundancy-events = [ "gw-ping" ]; when = "up";
        then = { acquire-mastership = true;
                 hook = "$hook"; }; } );
EOF
)
	pair_config "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$extra"
}

# event_is SOCK EVENT STATE: the box reports the event in that state.
event_is()
{
	[ "$(red_json "$1" | json_get "[e['state'] for e in j['events'] if e['name'] == '$2'][0]")" = "$3" ]
}

# policy_field SOCK POLICY FIELD: one field of a policy in show redundancy.
policy_field()
{
	red_json "$1" | json_get "[p['$3'] for p in j['policies'] if p['name'] == '$2'][0]"
}

# policy_did SOCK POLICY TEXT: the policy's last action mentions TEXT.
policy_did()
{
	policy_field "$1" "$2" last_action | grep -qF -- "$3"
}

# hook_ran LINE: a policy hook wrote LINE.
hook_ran()
{
	grep -qxF -- "$1" "$HOOKS"
}

# route_in NS TABLE PREFIX: the route is in the box's table.
route_in()
{
	ip -n "$1" -4 route show table "$2" | grep -q "$3"
}

# transition_detail_has SOCK TEXT: the newest transition's detail has TEXT.
transition_detail_has()
{
	red_json "$1" | json_get 'j["history"][0]["detail"]' | grep -qF -- "$2"
}

# ---- topology -------------------------------------------------------------------

pair_topo
for b in a b; do
	link_pair "$P-$b" up0 "$P-sw" "$b-up"
	ip -n "$P-sw" link set "$b-up" up
	ip -n "$P-$b" route add "$MON_ROUTE" via "$SRV" table 100 || nst_die "route in table 100"
done
addr_add "$P-srv" eth0 198.51.100.20/24
addr_add "$P-srv" eth0 198.51.100.21/24
head -c 32 /dev/urandom | base64 >"$NST_TMP/psk"
write_config "$NST_TMP/a.cfg" box-a 192.0.2.1 192.0.2.2 "$PIN_A" "$SOCK_A" 200 \
	198.51.100.20 198.51.100.2 100.64.0.2 100.64.0.3 198.51.100.2 198.51.100.3
write_config "$NST_TMP/b.cfg" box-b 192.0.2.2 192.0.2.1 "$PIN_B" "$SOCK_B" 100 \
	198.51.100.21 198.51.100.3 100.64.0.3 100.64.0.2 198.51.100.3 198.51.100.2
: >"$HOOKS"

start_box a
start_box b
check "A (priority 200) becomes primary, B backup" wait_for 10 role_is "$SOCK_A" primary
check "B is backup and ready" wait_for 10 backup_ready "$SOCK_B"
check "every event of both boxes is up" wait_for 5 eval \
	'for s in $SOCK_A $SOCK_B; do for e in uplink route gw-ping; do event_is $s $e up || exit 1; done; done'

pair_flows_start
check "$NTCP TCP + $NUDP UDP flows run through A" wait_for 30 flowing
check "B holds every flow" wait_for 15 eval \
	'[ "$(nsd_ctl $SOCK_B -j show sessions limit=1000 | sed "1{/^OK$/d}" | json_get "len(j[\"sessions\"])")" -ge $((NTCP + NUDP)) ]'

# -- link: A's uplink loses its carrier
set_phase link
ip -n "$P-sw" link set a-up down
check "link: A's event uplink goes down (after its 200 ms hold)" wait_for 5 event_is "$SOCK_A" uplink down
check "link: B takes over" wait_for 5 role_is "$SOCK_B" primary
check "link: A backup, released by policy uplink-down" eval \
	'role_is $SOCK_A backup && last_reason_is $SOCK_A policy &&
	 transition_detail_has $SOCK_A "released by policy uplink-down"'
check "link: B holds the virtual addresses, A none" wait_for 5 eval 'vip_on $P-b && vip_off $P-a'
check "link: policy uplink-down engaged on A" eval \
	'[ "$(policy_field $SOCK_A uplink-down engaged)" = true ]'
sleep 2
check "link: every flow continues through B" wait_for 20 flowing
ip -n "$P-sw" link set a-up up
check "link: up0 back, event up after its hold, policy idle" wait_for 5 eval \
	'event_is $SOCK_A uplink up && [ "$(policy_field $SOCK_A uplink-down engaged)" = false ]'
check "link: A stays backup (no preempt), B primary" eval 'role_is $SOCK_A backup && role_is $SOCK_B primary'

# -- route: the monitored route leaves B's table 100
check "route: A ready (bulk from B)" wait_for 30 backup_ready "$SOCK_A"
set_phase route
ip -n "$P-b" route del "$MON_ROUTE" table 100
check "route: B's event route down" wait_for 5 event_is "$SOCK_B" route down
check "route: A takes over" wait_for 5 role_is "$SOCK_A" primary
check "route: B added the static route to table 101" wait_for 5 route_in "$P-b" 101 "$POOL"
check "route: B's hook ran for route-gone" wait_for 5 hook_ran "box-b route-gone route down"
check "route: B's policy says what it did" policy_did "$SOCK_B" route-gone \
	"release-mastership; add-static-route $POOL; hook started"
sleep 2
check "route: every flow continues through A" wait_for 20 flowing
ip -n "$P-b" route add "$MON_ROUTE" via "$SRV" table 100
check "route: back in the table, event up after its hold" wait_for 5 event_is "$SOCK_B" route up
check "route: route-back deleted the static route" wait_for 5 eval '! route_in $P-b 101 "$POOL"'
check "route: B's hook ran for route-back" wait_for 5 hook_ran "box-b route-back route up"
check "route: A still primary" role_is "$SOCK_A" primary

# -- ping: the server stops answering A's ping
check "ping: B ready (bulk from A)" wait_for 30 backup_ready "$SOCK_B"
set_phase ping
ip -n "$P-srv" addr del 198.51.100.20/24 dev eth0
check "ping: A's event gw-ping down (3 echoes lost)" wait_for 5 event_is "$SOCK_A" gw-ping down
check "ping: B takes over" wait_for 5 role_is "$SOCK_B" primary
check "ping: A's hook ran for ping-lost" wait_for 5 hook_ran "box-a ping-lost gw-ping down"
check "ping: A ready (bulk from B)" wait_for 30 backup_ready "$SOCK_A"
ip -n "$P-srv" addr add 198.51.100.20/24 dev eth0
check "ping: answers again, after the hold A acquires the role back" \
	wait_for 10 role_is "$SOCK_A" primary
check "ping: B stepped down at A's request" wait_for 5 last_reason_is "$SOCK_B" peer-request
check "ping: A's ping-back did acquire-mastership" policy_did "$SOCK_A" ping-back \
	"acquire-mastership; hook started"
check "ping: A's hook ran for ping-back" wait_for 5 hook_ran "box-a ping-back gw-ping up"
check "ping: A holds the virtual addresses, B none" wait_for 5 eval 'vip_on $P-a && vip_off $P-b'
sleep 2
check "ping: every flow continues through A" wait_for 20 flowing

# -- split: the sync link is cut with both boxes and their LANs up; the
# heartbeat paths on the LANs keep the peer alive: no takeover, no dual
# primary, and the operator is told why
check "split: both heartbeat paths up on both boxes" wait_for 10 eval \
	'for s in $SOCK_A $SOCK_B; do [ "$(red_json $s | json_get "all(p[\"alive\"] for p in j[\"heartbeat_paths\"])")" = true ] || exit 1; done'
check "split: B ready" wait_for 30 backup_ready "$SOCK_B"
TR_A=$(red_json "$SOCK_A" | json_get 'j["transitions"]')
TR_B=$(red_json "$SOCK_B" | json_get 'j["transitions"]')
set_phase split
ip -n "$P-b" link set ha down
check "split: B says sync link down, peer alive via a path" wait_for 20 eval \
	'nsd_ctl $SOCK_B show redundancy | grep -qE "^Sync link: +down, peer alive via (inside|outside)$"'
check "split: A says the same" wait_for 20 eval \
	'[ "$(red_json $SOCK_A | json_get "not j[\"sync_link_up\"] and j[\"alive_via\"] != \"\"")" = true ]'
# Twelve dead intervals with the sync channel down (it was judged dead,
# more than 10 s in): every sample has exactly one primary, A.
split_one_primary()
{
	local i

	for i in $(seq 30); do
		role_is "$SOCK_A" primary && role_is "$SOCK_B" backup || return 1
		sleep 0.2
	done
}
check "split: A stays the only primary, B backup (sampled for 6 s)" split_one_primary
check "split: no role changed on either box" eval \
	'[ "$(red_json $SOCK_A | json_get "j[\"transitions\"]")" = $TR_A ] &&
	 [ "$(red_json $SOCK_B | json_get "j[\"transitions\"]")" = $TR_B ]'
check "split: A holds the virtual addresses, B none" eval 'vip_on $P-a && vip_off $P-b'
check "split: every flow continues through A" wait_for 20 flowing
ip -n "$P-b" link set ha up
check "split healed: sync link up, B ready again (bulk)" wait_for 60 eval \
	'[ "$(red_json $SOCK_B | json_get "j[\"sync_link_up\"]")" = true ] && backup_ready $SOCK_B'
check "split healed: still no role change" eval \
	'[ "$(red_json $SOCK_A | json_get "j[\"transitions\"]")" = $TR_A ] &&
	 [ "$(red_json $SOCK_B | json_get "j[\"transitions\"]")" = $TR_B ]'

# -- the verdict on the flows
set_phase end
pair_flows_verdict
for ph in link route ping split; do
	nst_log "longest gap in phase $ph: TCP $(report | json_get "j['tcp_gap_ms'].get('$ph')") ms, UDP $(report | json_get "j['udp_gap_ms'].get('$ph')") ms"
done
# Reported, not judged: the event loops' longest stall over the whole run
# (route dumps, pings, hooks and policy actions run on them too).
for b in A B; do
	eval "sock=\$SOCK_$b"
	nst_log "$b: event loop longest stall $(nsd_json "$sock" show status | json_get 'j["event_loop"]["longest_stall_us"]') us, heartbeats: longest gap $(red_json "$sock" | json_get 'j["heartbeat_max_gap_ms"]') ms, $(red_json "$sock" | json_get 'j["heartbeats_late"]') late"
done
nsd_ctl "$SOCK_A" show redundancy
nst_finish
