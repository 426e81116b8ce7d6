#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_pba.sh - port-block-allocation (issue 12) on a replicated pair: a
# subscriber's sessions take ports from its blocks, one log line per block,
# the backup holds the same blocks, and after a switchover the subscriber's
# new sessions take ports from the same blocks, no port twice; blocks whose
# sessions ended are released (one line each).
#
#                      npb-sw (bridges)
#   npb-cli 100.64.0.10 --- br-in ---+--- in0 [npb-a] out0 ---+--- br-out --- npb-srv 198.51.100.10
#     gw 100.64.0.1 (VIP)            |    .2      ha 192.0.2.1 |   .2           pool 203.0.113.16/30
#                                    +--- in0 [npb-b] out0 ---+                via 198.51.100.1 (VIP)
#                                         .3      ha 192.0.2.2    .3
#
#   Pool p1: 4 addresses, port-range 1024..1279 cut into 16 blocks of 16 per
#   address, max-blocks-per-address 2. nat-logs on. replication-threshold 0.
#
# Checks:
#  a  pair up: A primary, B backup and ready; ns_pba_blk and ns_pba sized
#     from the pool (4 addresses x 16 blocks = 64 entries), not 262,144; a
#     reload whose pool needs more blocks (a /29: 128) is refused (exit 3,
#     the reason in the log) and changes nothing; the same file back reloads
#  b  20 UDP flows of the subscriber: 2 blocks on one address, 16 + 4 ports
#  c  A logged exactly 2 PORT_BLOCK_ALLOC lines for it and no per-session
#     NAT_ALLOC line
#  d  B's blocks (ns_pba_blk, ns_pba) equal A's; show subscriber (JSON on
#     A and B, text on A) lists the subscriber's 2 blocks as in ns_pba_blk:
#     pool address, port range, allocation time, last activity
#  e  switchover A -> B; 8 new flows through B take ports of the same
#     second block, no new block, no port used twice, no PORT_BLOCK_ALLOC
#     logged again on B
#  f  the flows end (udp timeout, then the port-hold): B releases both
#     blocks, 2 PORT_BLOCK_RELEASE lines, ns_pba empty
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/pair.sh"

P=npb
pair_paths
PBA_POOL=203.0.113.16/30
# long enough for a to e on a loaded machine (the flows must still be there
# at e); f waits for it
UDP_TIMEOUT=90
# a block is released after its last port's hold: short, so f does not wait
# pair.sh's 120 s
PORT_HOLD=3

nst_init $P
nst_need_natsync
nst_need_tools python3 bridge socat bpftool

# write_config FILE NODE LOCAL PEER PIN SOCK PRIORITY: pair.sh's box with
# the pool cut into blocks, nat-logs on and a short UDP timeout.
write_config()
{
	pair_config "$@" ""
	sed -i -e "s|address = \[ \"$POOL\" \]; port = \"automatic\";|address = [ \"$PBA_POOL\" ]; port-range = [ 1024, 1279 ];|" \
		-e 's|port-allocation = "random"; address-allocation = "round-robin";|port-allocation = "sequential"; port-block-allocation = { block-size = 16; max-blocks-per-address = 2; };|' \
		-e "s|udp = 300;|udp = $UDP_TIMEOUT;|" \
		-e "s|port-hold = [0-9]*;|port-hold = $PORT_HOLD;|" \
		-e 's|nat-rules = \[ "r1" \];|nat-rules = [ "r1" ]; syslog = [ "nat-logs" ];|' "$1"
	grep -q "port-block-allocation" "$1" && grep -q "$PBA_POOL" "$1" && grep -q "nat-logs" "$1" &&
		grep -q "port-hold = $PORT_HOLD;" "$1" ||
		nst_die "pair.sh's config changed: $1 has no port blocks"
}

# flows FIRST COUNT: one UDP datagram from each client port FIRST.. to the server
flows()
{
	ip netns exec "$P-cli" python3 - "$CLI" "$SRV" "$1" "$2" <<'EOF'
import socket, sys
cli, srv, first, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for p in range(first, first + n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((cli, p))
    s.sendto(b"pba", (srv, 6000))
    s.close()
EOF
}

# nat_ports SOCK: "sport nataddr natport" of every UDP session of the client
nat_ports()
{
	nsd_json "$1" show sessions | python3 -c '
import json, sys
for s in json.load(sys.stdin)["sessions"]:
    if s["proto"] == "udp" and s["inside"]["addr"] == sys.argv[1]:
        print(s["inside"]["port"], s["nat"]["addr"], s["nat"]["port"])
' "$CLI"
}

count_sessions()
{
	[ "$(nat_ports "$1" | wc -l)" -ge "$2" ]
}

# blocks PIN: "addr block owner" of every block, sorted (raw map values)
blocks()
{
	bpftool -j map dump pinned "$1/$NS_PIN_SUBDIR/ns_pba_blk" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    k = e.get("formatted", e)["key"]; v = e.get("formatted", e)["value"]
    print(k["addr"], k["block"], v["in_addr"])
' | sort
}

sub_blocks()
{
	bpftool -j map dump pinned "$1/$NS_PIN_SUBDIR/ns_pba" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    k = e.get("formatted", e)["key"]; v = e.get("formatted", e)["value"]
    print(k["in_addr"], v["out_addr"], sorted(v["blocks"][:v["n_blocks"]]))
' | sort
}

# block_of PORT (port-range 1024.., block-size 16)
block_of() { echo $((($1 - 1024) / 16)); }

chk_two_blocks()
{
	wait_for 10 count_sessions "$SOCK_A" 20 || { echo "20 sessions not on A"; nat_ports "$SOCK_A"; return 1; }
	nat_ports "$SOCK_A" | python3 -c '
import sys, collections
rows = [l.split() for l in sys.stdin if l.strip()]
addrs = {r[1] for r in rows}
ports = [int(r[2]) for r in rows]
blocks = collections.Counter((p - 1024) // 16 for p in ports)
print("addresses", sorted(addrs), "ports per block", dict(blocks))
ok = len(rows) == 20 and len(addrs) == 1 and len(set(ports)) == 20 and \
     sorted(blocks.values()) == [4, 16]
sys.exit(0 if ok else 1)
'
}

alloc_lines() { grep -c "PORT_BLOCK_ALLOC pool=p1 $CLI -> " "$1"; }
release_lines() { grep -c "PORT_BLOCK_RELEASE pool=p1 $CLI -> " "$1"; }
has_lines() { [ "$("$1" "$2")" -ge "$3" ]; }

chk_logs_a()
{
	wait_for 5 has_lines alloc_lines "$NST_TMP/a.log" 2 || true
	grep "PORT_BLOCK_" "$NST_TMP/a.log"
	[ "$(alloc_lines "$NST_TMP/a.log")" = 2 ] || { echo "expected 2 block lines"; return 1; }
	if grep -q "NAT_ALLOC" "$NST_TMP/a.log"; then
		echo "a per-session NAT_ALLOC line was logged"
		return 1
	fi
}

same_blocks()
{
	[ "$(blocks "$PIN_A")" = "$(blocks "$PIN_B")" ] && [ "$(blocks "$PIN_A" | wc -l)" = 2 ] &&
		[ "$(sub_blocks "$PIN_A")" = "$(sub_blocks "$PIN_B")" ]
}

chk_backup_blocks()
{
	wait_for 10 same_blocks
	echo "A blocks:"; blocks "$PIN_A"; sub_blocks "$PIN_A"
	echo "B blocks:"; blocks "$PIN_B"; sub_blocks "$PIN_B"
	same_blocks
}

chk_after_switchover()
{
	local before
	before=$(nat_ports "$SOCK_A")
	flows 41020 8
	wait_for 10 count_sessions "$SOCK_B" 28 || { echo "new sessions not on B"; nat_ports "$SOCK_B"; return 1; }
	{ echo "$before" | sed 's/^/old /'; nat_ports "$SOCK_B" | sed 's/^/b /'; } | python3 -c '
import sys, collections
old = {}; b = {}
for l in sys.stdin:
    f = l.split()
    if len(f) != 4: continue
    (old if f[0] == "old" else b)[int(f[1])] = (f[2], int(f[3]))
new = {sp: v for sp, v in b.items() if sp >= 41020}
old_blocks = collections.Counter((p - 1024) // 16 for _, p in old.values())
second = min(old_blocks, key=old_blocks.get)      # the block with 4 ports used
print("old blocks", dict(old_blocks), "new", sorted(new.items()))
ok = len(new) == 8
ok &= all(a == next(iter(old.values()))[0] for a, _ in new.values())
ok &= all((p - 1024) // 16 == second for _, p in new.values())
ports = [v for v in b.values()]
ok &= len(ports) == len(set(ports)) == 28
sys.exit(0 if ok else 1)
'
	local rc=$?
	[ "$(blocks "$PIN_B" | wc -l)" = 2 ] || { echo "B has $(blocks "$PIN_B" | wc -l) blocks"; return 1; }
	if grep -q "PORT_BLOCK_ALLOC" "$NST_TMP/b.log"; then
		echo "B logged an allocation for a replicated block"
		return 1
	fi
	return $rc
}

# chk_show_subscriber SOCK PIN: show subscriber $CLI's port blocks (JSON)
# are the subscriber's entries of ns_pba_blk, each with its port range,
# when it was allocated and when a session on it last saw a packet.
chk_show_subscriber()
{
	local j

	j=$(nsd_json "$1" show subscriber "$CLI") || return 1
	echo "$j" | json_get 'j["port_blocks"]'
	bpftool -j map dump pinned "$2/$NS_PIN_SUBDIR/ns_pba_blk" | python3 -c '
import json, re, socket, struct, sys
want = set()
for e in json.load(sys.stdin):
    k = e.get("formatted", e)["key"]; v = e.get("formatted", e)["value"]
    if socket.inet_ntoa(struct.pack("<I", v["in_addr"])) == sys.argv[2]:
        want.add((socket.inet_ntoa(struct.pack("<I", k["addr"])), k["block"]))
pb = json.loads(sys.argv[1])["port_blocks"]
got = set()
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ok = pb["total"] == len(pb["list"]) == len(want) == 2
for b in pb["list"]:
    got.add((b["addr"], b["block"]))
    ok &= b["pool"] == "p1" and not b["deterministic"]
    ok &= b["first_port"] == 1024 + 16 * b["block"] and b["last_port"] == b["first_port"] + 15
    ok &= bool(iso.match(b["allocated_at"])) and b["age_s"] < 600
    ok &= b["last_active_at"] is not None and bool(iso.match(b["last_active_at"]))
print("map", sorted(want), "shown", sorted(got))
sys.exit(0 if ok and got == want else 1)
' "$j" "$CLI"
}

# chk_show_subscriber_text: the same two blocks in the text form on A.
chk_show_subscriber_text()
{
	local t
	t=$(nsd_ctl "$SOCK_A" show subscriber "$CLI") || return 1
	echo "$t"
	grep -q '^port blocks    2$' <<<"$t" &&
		[ "$(grep -cE '^  203\.0\.113\.(1[6-9]) +ports +[0-9]+-[0-9]+ +pool p1 +allocated 20[0-9-]+T[0-9:]+Z last active (20[0-9-]+T[0-9:]+Z|-)$' <<<"$t")" = 2 ]
}

# map_size PIN MAP: max_entries of a pinned map
map_size() { bpftool -j map show pinned "$1/$NS_PIN_SUBDIR/$2" | json_get 'j["max_entries"]'; }

chk_map_sizes()
{
	equals "$(map_size "$PIN_A" ns_pba_blk) $(map_size "$PIN_A" ns_pba) $(map_size "$PIN_B" ns_pba_blk)" \
		"64 64 64"
}

# pool_addrs SOCK: show pools' address count of p1
pool_addrs() { nsd_json "$1" show pools | json_get '[p["addresses"] for p in j["pools"] if p["name"] == "p1"][0]'; }

chk_reload_refused()
{
	local rc

	cp "$CFG_A" "$NST_TMP/a-good.cfg"
	sed -i "s|$PBA_POOL|203.0.113.16/29|" "$CFG_A"
	grep -q "203.0.113.16/29" "$CFG_A" || { echo "pool not changed"; return 1; }
	nsd_ctl "$SOCK_A" reload
	rc=$?
	cp "$NST_TMP/a-good.cfg" "$CFG_A"
	[ "$rc" = 3 ] || { echo "reload exit $rc, want 3"; return 1; }
	grep "reload: the port blocks of the new pools need 128 entries in ns_pba_blk, the running map has 64" \
		"$NST_TMP/a.log" || { echo "no reason in the log"; return 1; }
	equals "$(pool_addrs "$SOCK_A") $(map_size "$PIN_A" ns_pba_blk)" "4 64" || return 1
	nsd_ctl "$SOCK_A" reload
}

no_blocks() { [ -z "$(blocks "$PIN_B")" ] && [ -z "$(sub_blocks "$PIN_B")" ]; }

chk_release()
{
	wait_for $((UDP_TIMEOUT + PORT_HOLD + 20)) no_blocks || { echo "blocks left:"; blocks "$PIN_B"; return 1; }
	wait_for 5 has_lines release_lines "$NST_TMP/b.log" 2
	grep "PORT_BLOCK_RELEASE" "$NST_TMP/b.log"
	[ "$(release_lines "$NST_TMP/b.log")" = 2 ]
}

pair_topo
CFG_A=$NST_TMP/a.cfg
CFG_B=$NST_TMP/b.cfg
write_config "$CFG_A" "$P-a" 192.0.2.1 192.0.2.2 "$PIN_A" "$SOCK_A" 200
write_config "$CFG_B" "$P-b" 192.0.2.2 192.0.2.1 "$PIN_B" "$SOCK_B" 100
nsd_start "$P-a" "$CFG_A" "$SOCK_A" "$PIN_A" "$NST_TMP/a.log" || nst_die "A did not start"
PID_A=$NSD_PID
wait_for 10 role_is "$SOCK_A" primary
nsd_start "$P-b" "$CFG_B" "$SOCK_B" "$PIN_B" "$NST_TMP/b.log" || nst_die "B did not start"
PID_B=$NSD_PID
check "a: A primary, B backup and ready" wait_for 20 backup_ready "$SOCK_B"
check "a: port-block maps sized from the pool (64 entries)" chk_map_sizes
check "a: a reload needing bigger port-block maps is refused, nothing changes" chk_reload_refused
udp_echo_start "$P-srv" 6000 || nst_die "udp echo server"

flows 41000 20
check "b: 20 flows of one subscriber: one address, two blocks (16 + 4 ports)" chk_two_blocks
check "c: A logs one PORT_BLOCK_ALLOC per block, no per-session NAT line" chk_logs_a
check "d: B's blocks equal A's" chk_backup_blocks
check "d: show subscriber on A lists its 2 port blocks (JSON)" chk_show_subscriber "$SOCK_A" "$PIN_A"
check "d: show subscriber on B lists the same 2 blocks (JSON)" chk_show_subscriber "$SOCK_B" "$PIN_B"
check "d: show subscriber on A lists them in text" chk_show_subscriber_text
check "e: switchover A -> B" nsd_ctl "$SOCK_A" switchover
check "e: B primary" wait_for 10 role_is "$SOCK_B" primary
check "e: new flows through B take the same second block, no port twice" chk_after_switchover
check "f: the flows end: B releases both blocks, one line each" chk_release
nsd_stop "$PID_A"
nsd_stop "$PID_B"
nst_finish
