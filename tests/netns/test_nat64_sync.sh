#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_nat64_sync.sh - NAT64 sessions replicated to the backup box.
#
#   ns6-cli 2001:db8:64::10 --- in [ns6-a] out --- ns6-srv 198.51.100.10
#                                    ha 192.0.2.1
#                                     |  sync channel (key-file), TCP 7788
#                                    ha 192.0.2.2
#                             in, out [ns6-b] --- ns6-stub (no traffic)
#
#   stateful-nat64 2001:db8:64::/48 -> 64:ff9b::/96, pool 203.0.113.16/30,
#   replication-threshold 1 s, attach mode tc, same config on both boxes.
#
# Checks:
#  a  the channel comes up, both sides take NAT64 records (capability)
#  b  a NAT64 UDP session and a long-lived TCP one reach the backup: same
#     IPv6 inside endpoint, same pool address and port, flag "replicated";
#     the backup's pool shows the port reserved
#     and its pinned maps equal the primary's key by key (repl_compare.py:
#     sessions, reverse entries, ports, the subscriber's paired address)
#  c  the TCP session closed on the primary disappears from the backup
#  d  a restarted backup (maps purged) gets the NAT64 sessions back by bulk
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat64_lab.sh"

P=ns6
PIN_A=/sys/fs/bpf/$P-sync-a
PIN_B=/sys/fs/bpf/$P-sync-b
SOCK_A=/run/$P-sync-a.sock
SOCK_B=/run/$P-sync-b.sock
CLI6=$NAT64_CLI6
SRV=$NAT64_SRV
SRV6=64:ff9b::198.51.100.10
POOL64=$NAT64_POOL

nst_init $P
nst_need_natsync
nst_need_tools socat ss python3

topo()
{
	local i

	nat64_lab "$P-cli" "$P-a" "$P-srv" in out
	for i in b stub; do
		ns_add "$P-$i"
	done
	link_pair "$P-a" ha "$P-b" ha
	link_pair "$P-b" in "$P-stub" b-in
	link_pair "$P-b" out "$P-stub" b-out
	addr_add "$P-a" ha 192.0.2.1/24
	addr_add "$P-b" ha 192.0.2.2/24
	addr_add "$P-b" out 198.51.100.2/24
	box_sysctls "$P-b"
	iface_rp_filter_off "$P-b" in
	iface_rp_filter_off "$P-b" out
	gro_on "$P-b" in
	gro_on "$P-b" out
}

# write_config FILE NODE LOCAL PEER PIN SOCK ROLE
write_config()
{
	{
		nsd_cfg_open "$2" "$5" "$6" max-sessions=4096 aging-interval-ms=200 attach-mode=tc \
			timeouts="tcp-syn=10 tcp-established=60 tcp-closing=2 tcp-time-wait=1 tcp-rst=1
			udp=30 icmp=10 other=10 port-hold=0 binding=0"
		nsd_cfg_redundancy "$3" "$4" replication-threshold=1 port=7788 initial-role="$7" \
			key-file="$KEY" priority="$([ "$7" = primary ] && echo 200 || echo 100)"
		nat64_services in out
		echo "};"
	} >"$1"
}

backup_ready()
{
	[ "$(nsd_json "$SOCK_B" show sync | json_get 'j["ready"]')" = true ]
}

chk_channel_up()
{
	nsd_json "$SOCK_A" show sync | python3 -c '
import json, sys
a = json.load(sys.stdin)
print(a["role"], a["state"])
sys.exit(0 if a["role"] == "primary" and a["state"] == "established" else 1)
' && backup_ready
}

# nat64_of SOCK PROTO PORT: "natip natport flags" of the NAT64 session from
# the client's PORT, nothing when absent.
nat64_of()
{
	nsd_json "$1" show sessions | python3 -c '
import json, sys
for s in json.load(sys.stdin)["sessions"]:
    if s["nat_type"] == "stateful-nat64" and s["proto"] == sys.argv[1] and \
       s["inside"]["addr"] == sys.argv[3] and s["inside"]["port"] == int(sys.argv[2]):
        print(s["nat"]["addr"], s["nat"]["port"], ",".join(s["flags"]) or "-")
' "$2" "$3" "$CLI6"
}

on_backup()
{
	[ -n "$(nat64_of "$SOCK_B" "$1" "$2")" ]
}

# chk_replicated PROTO PORT: the backup holds the session as the primary has it.
chk_replicated()
{
	local a b

	wait_for 20 on_backup "$1" "$2" || { echo "not on the backup"; return 1; }
	a=$(nat64_of "$SOCK_A" "$1" "$2")
	b=$(nat64_of "$SOCK_B" "$1" "$2")
	echo "primary: $a"
	echo "backup:  $b"
	[ -n "$a" ] && [ "${a% *}" = "${b% *}" ] && grep -q replicated <<<"${b##* }"
}

chk_backup_port_reserved()
{
	nsd_json "$SOCK_B" show pools | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["pools"] if p["name"] == "p64"][0]
print("backup p64 in_use", p["in_use"])
sys.exit(0 if p["in_use"].get("tcp", 0) >= 1 and p["in_use"].get("udp", 0) >= 1 else 1)
'
}

HOLD_CLI=""
HOLD_SRV=""
tcp_hold()
{
	tcp_hold_start "$P-srv" "$P-cli" "[$SRV6]" 5001 sourceport=43001 || return 1
	HOLD_SRV=$NST_HOLD_SRV
	HOLD_CLI=$NST_HOLD_CLI
	wait_for 15 on_primary tcp 43001
}

on_primary()
{
	[ -n "$(nat64_of "$SOCK_A" "$1" "$2")" ]
}

udp_session()
{
	echo "hi" | ip netns exec "$P-cli" timeout 5 \
		socat -T2 - "UDP6:[$SRV6]:6000,sourceport=$1,reuseaddr" | grep -q 'data=hi'
}

gone_on_backup()
{
	! on_backup "$1" "$2"
}

chk_closed_removed()
{
	bg_stop "$HOLD_CLI"
	bg_stop "$HOLD_SRV"
	wait_for 15 gone_on_backup tcp 43001 || { echo "backup kept the closed session"; return 1; }
	echo "closed TCP session gone from the backup"
}

chk_bulk_after_restart()
{
	nsd_stop "$PID_B"
	nsd_purge "$P-b" "$CFG_B" >/dev/null 2>&1
	nsd_start "$P-b" "$CFG_B" "$SOCK_B" "$PIN_B" "$NST_TMP/b2.log" || return 1
	PID_B=$NSD_PID
	wait_for 15 backup_ready || { echo "backup not ready"; return 1; }
	wait_for 10 on_backup udp 41001 || { echo "NAT64 UDP session not back"; return 1; }
	nat64_of "$SOCK_B" udp 41001
}

topo
KEY=$NST_TMP/pair.key
printf 'ns6-test-pair-key-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$KEY"
chmod 600 "$KEY"
CFG_A=$NST_TMP/a.cfg
CFG_B=$NST_TMP/b.cfg
write_config "$CFG_A" "$P-a" 192.0.2.1 192.0.2.2 "$PIN_A" "$SOCK_A" primary
write_config "$CFG_B" "$P-b" 192.0.2.2 192.0.2.1 "$PIN_B" "$SOCK_B" backup
nsd_start "$P-a" "$CFG_A" "$SOCK_A" "$PIN_A" "$NST_TMP/a.log" || nst_die "primary did not start"
PID_A=$NSD_PID
nsd_start "$P-b" "$CFG_B" "$SOCK_B" "$PIN_B" "$NST_TMP/b.log" || nst_die "backup did not start"
PID_B=$NSD_PID
wait_for 20 backup_ready
check "a: sync channel up, backup ready" chk_channel_up

udp_echo_start "$P-srv" 6000 || nst_die "udp echo server"
check "setup: NAT64 UDP session through the primary" udp_session 41001
check "setup: NAT64 TCP session through the primary" tcp_hold
# (chk_replicated waits for each session to reach the backup)
check "b: NAT64 UDP session on the backup, same binding" chk_replicated udp 41001
check "b: NAT64 TCP session on the backup, same binding" chk_replicated tcp 43001
check "b: the backup's pool has the ports reserved" chk_backup_port_reserved
check "b: the backup's maps equal the primary's, key by key (paired address included)" \
	wait_for 10 python3 "$NST_REPO/tests/netns/repl_compare.py" "$PIN_A/$NS_PIN_SUBDIR" \
	"$PIN_B/$NS_PIN_SUBDIR" --need-types 6
check "c: NAT64 session closed on the primary disappears on the backup" chk_closed_removed
check "d: restarted backup gets the NAT64 sessions back by bulk sync" chk_bulk_after_restart
nsd_stop "$PID_A"
check "primary exits cleanly on SIGTERM" test "$NSD_RC" = 0
nst_finish
