# SPDX-License-Identifier: GPL-2.0
#
# pair.sh - the primary/backup pair of the redundancy scenarios
# (test_failover.sh, test_srd.sh), sourced after lib.sh: the topology,
# the flow generator (pair_flows.py) and the checks on the two boxes.
#
#                      $P-sw (bridges)
#   $P-cli 100.64.0.10 --- br-in ---+--- in0 [$P-a] out0 ---+--- br-out --- $P-srv 198.51.100.10
#     gw 100.64.0.1 (VIP)           |    .2      ha 192.0.2.1 |   .2           pool 203.0.113.0/24
#                                   |               |         |                via 198.51.100.1 (VIP)
#                                   +--- in0 [$P-b] out0 ---+
#                                        .3      ha 192.0.2.2    .3
#
# The caller sets P (namespace prefix) and NTCP (the TCP connections
# flowing() expects) before calling these, then pair_paths for the boxes'
# pin paths and sockets; the addresses are set here.

PAIR_FLOWS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pair_flows.py
CLI=100.64.0.10
SRV=198.51.100.10
VIP_IN=100.64.0.1
VIP_OUT=198.51.100.1
POOL=203.0.113.0/24
TCP_PORT=5001
UDP_PORT=5002

# pair_paths: PIN_A, PIN_B, SOCK_A, SOCK_B, the pin paths and control
# sockets of $P-a and $P-b, under the test's prefix (start_box uses them).
pair_paths()
{
	PIN_A=/sys/fs/bpf/$P-a
	PIN_B=/sys/fs/bpf/$P-b
	SOCK_A=/run/$P-a.sock
	SOCK_B=/run/$P-b.sock
}

# pair_topo: the namespaces, bridges, links, addresses and routes above.
pair_topo()
{
	local b

	for b in cli sw a b srv; do
		ns_add "$P-$b"
	done
	bridge_add "$P-sw" br-in
	bridge_add "$P-sw" br-out
	link_pair "$P-cli" eth0 "$P-sw" cli
	link_pair "$P-srv" eth0 "$P-sw" srv
	for b in a b; do
		link_pair "$P-$b" in0 "$P-sw" "$b-in"
		link_pair "$P-$b" out0 "$P-sw" "$b-out"
		bridge_attach "$P-sw" br-in "$b-in"
		bridge_attach "$P-sw" br-out "$b-out"
		# Frames the box redirects into in0/out0 arrive on these.
		gro_on "$P-sw" "$b-in"
		gro_on "$P-sw" "$b-out"
	done
	bridge_attach "$P-sw" br-in cli
	bridge_attach "$P-sw" br-out srv
	gro_on "$P-sw" cli
	gro_on "$P-sw" srv
	link_pair "$P-a" ha "$P-b" ha
	addr_add "$P-cli" eth0 "$CLI/24"
	addr_add "$P-srv" eth0 "$SRV/24"
	addr_add "$P-a" in0 100.64.0.2/24
	addr_add "$P-b" in0 100.64.0.3/24
	addr_add "$P-a" out0 198.51.100.2/24
	addr_add "$P-b" out0 198.51.100.3/24
	addr_add "$P-a" ha 192.0.2.1/24
	addr_add "$P-b" ha 192.0.2.2/24
	# Traffic follows the virtual addresses, never a box's own address.
	route_add "$P-cli" default "$VIP_IN"
	route_add "$P-srv" "$POOL" "$VIP_OUT"
	for b in a b; do
		route_add "$P-$b" default "$SRV"
		box_sysctls "$P-$b"
		iface_rp_filter_off "$P-$b" in0
		iface_rp_filter_off "$P-$b" out0
		gro_on "$P-$b" in0
		gro_on "$P-$b" out0
	done
	host_prepare "$P-cli" eth0
	host_prepare "$P-srv" eth0
}

# pair_config FILE NODE LOCAL PEER PIN SOCK PRIORITY EXTRA: one box's
# configuration: NAPT44 of the subscribers into $POOL on in0/out0, the sync
# channel on the ha link, both virtual addresses; EXTRA (lines) goes into
# redundancy-options. MAX_SESSIONS (default 65536), THRESHOLD (0), HB_MS
# (100) and DEAD_MS (500) as the caller sets them.
pair_config()
{
	{
		nsd_cfg_open "$2" "$5" "$6" log=info max-sessions="${MAX_SESSIONS:-65536}" \
			aging-interval-ms=500 attach-mode=tc \
			timeouts="tcp-syn=20 tcp-established=300 tcp-closing=10 tcp-time-wait=5 tcp-rst=5
			udp=300 icmp=10 other=10 port-hold=120 binding=0"
		nsd_cfg_redundancy "$3" "$4" replication-threshold="${THRESHOLD:-0}" \
			heartbeat-interval-ms="${HB_MS:-100}" dead-interval-ms="${DEAD_MS:-500}" \
			priority="$7" preempt=false virtual-addresses="$(pair_vips)" \
			garp-count=5 garp-interval-ms=100 -- "$8"
		nsd_cfg_napt44_services "$POOL" in0 out0 \
			pool='port-allocation = "random"; address-allocation = "round-robin";'
		echo "};"
	} >"$1"
}

# pair_vips: the virtual addresses of both boxes ($VIP_IN on in0, $VIP_OUT
# on out0), a redundancy-options list.
pair_vips()
{
	echo "( { address = \"$VIP_IN/24\"; interface = \"in0\"; },
                          { address = \"$VIP_OUT/24\"; interface = \"out0\"; } )"
}

# pair_flows_start: the flow server on $P-srv, then NTCP TCP connections and
# NUDP UDP flows from $P-cli (pair_flows.py); phase "steady"; sets CLIENT.
pair_flows_start()
{
	bg_start "$NST_TMP/server.log" "$P-srv" python3 "$PAIR_FLOWS" server $TCP_PORT $UDP_PORT
	wait_for 5 tcp_listening "$P-srv" $TCP_PORT || nst_die "flow server did not start"
	set_phase steady
	bg_start "$NST_TMP/client.log" "$P-cli" python3 "$PAIR_FLOWS" client "$SRV" \
		$TCP_PORT $UDP_PORT "$NTCP" "$NUDP" "$NST_TMP/stop" "$NST_TMP/phase" \
		"$NST_TMP/report.json" "$NST_TMP/status.json"
	CLIENT=$NST_LAST_PID
}

# report: the flows' final report (after pair_flows_verdict).
report() { cat "$NST_TMP/report.json"; }

# pair_flows_verdict: stop the client (it waits for every byte in flight)
# and judge every flow: no reset, no lost byte, no changed binding.
pair_flows_verdict()
{
	touch "$NST_TMP/stop"
	wait "$CLIENT"
	nst_log "flow report: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: r[k] for k in ("tcp","tcp_bytes","tcp_min_bytes","tcp_dead","tcp_gap_ms","udp","udp_sent","udp_rx","udp_binding_changes","udp_gap_ms")}))' "$NST_TMP/report.json")"
	check "no TCP connection reset, closed or corrupted" \
		eval '[ "$(report | json_get "len(j[\"tcp_dead\"])")" = 0 ]'
	check "every TCP byte sent came back (nothing lost)" \
		eval '[ "$(report | json_get "j[\"tcp_unacked\"] == 0 and j[\"tcp_min_bytes\"] > 0")" = true ]'
	check "no UDP flow changed its NAT binding" \
		eval '[ "$(report | json_get "len(j[\"udp_binding_changes\"])")" = 0 ]'
}

red_json()
{
	nsd_json "$1" show redundancy
}

# role_is SOCK ROLE
role_is()
{
	[ "$(red_json "$1" | json_get 'j["role"]')" = "$2" ]
}

# backup_ready SOCK: backup with a complete bulk.
backup_ready()
{
	role_is "$1" backup && [ "$(red_json "$1" | json_get 'j["ready"]')" = "true" ]
}

# flowing: every TCP connection alive and the byte count still growing.
flow_status() { cat "$NST_TMP/status.json" 2>/dev/null; }
flowing()
{
	local a b

	a=$(flow_status | json_get 'j["tcp_bytes"]') || return 1
	sleep 0.5
	b=$(flow_status | json_get 'j["tcp_bytes"]') || return 1
	[ "$(flow_status | json_get 'j["tcp_alive"]')" = "$NTCP" ] && [ "$b" -gt "$a" ]
}

set_phase()
{
	echo "$1" >"$NST_TMP/phase"
	nst_log "phase: $1"
}

# vip_on NS: the box holds both virtual addresses.
vip_on()
{
	ip -n "$1" -4 addr show dev in0 | grep -q " $VIP_IN/" &&
		ip -n "$1" -4 addr show dev out0 | grep -q " $VIP_OUT/"
}
vip_off()
{
	! ip -n "$1" -4 addr show | grep -qE " ($VIP_IN|$VIP_OUT)/"
}

# start_box a|b: natsyncd of box $P-a or $P-b on $NST_TMP/a.cfg or b.cfg,
# with the pin path and socket of pair_paths; sets PID_A or PID_B.
start_box()
{
	local b=$1 pin=PIN_${1^^} sock=SOCK_${1^^}

	nsd_start "$P-$b" "$NST_TMP/$b.cfg" "${!sock}" "${!pin}" \
		"$NST_TMP/$b.log" || nst_die "natsyncd $b did not start"
	eval "PID_${b^^}=$NSD_PID"
}

# last_reason_is SOCK REASON: the newest transition happened for REASON.
last_reason_is()
{
	[ "$(red_json "$1" | json_get 'j["history"][0]["reason"]')" = "$2" ]
}
