#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_pba_det.sh - deterministic NAT (RFC 7422, port-block-allocation with
# deterministic = { subscriber-range }) through a running natsyncd on one
# box (topo_single_box), and the offline lookup of natsyncctl (issue 12).
#
#   Pool p1: 203.0.113.16/30 (4 addresses), ports 1024..65535 cut into
#   blocks of 1008 (64 per address), 2 blocks per subscriber, subscribers
#   100.64.0.0/26: subscriber number i owns global blocks 2i and 2i+1,
#   global block g being block g % 64 of address number g / 64.
#
# Checks:
#  a  10 UDP flows of 100.64.0.10 (number 10) and of 100.64.0.20 (20) take
#     pool address and ports inside the blocks computed here from the
#     formula (not from natsync's code)
#  b  natsyncctl -c CFG lookup SUBSCRIBER: its address and port ranges (the
#     same blocks); lookup ADDR:PORT of every session's NAT endpoint: its
#     subscriber
#  c  bad input: malformed addresses and ports, a subscriber outside the
#     range, a port in no block: exit 3 with the reason; no argument or
#     no -c: exit 1 (usage)
#  d  show subscriber lists the computed blocks (deterministic) with their
#     last activity
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

P=nopd
PIN=/sys/fs/bpf/$P-box
SOCK=/run/$P-box.sock
CFG=
SUB_A=100.64.0.10
SUB_B=100.64.0.20
NFLOWS=10

nst_init $P
nst_need_natsync
nst_need_tools python3 socat
CFG=$NST_TMP/box.cfg

# want_blocks SUB: "ADDR LO HI" of its two blocks, from RFC 7422's layout
# as doc/config.md states it (independent of common/pba.h)
want_blocks()
{
	python3 - "$1" <<'EOF'
import ipaddress, sys
i = int(ipaddress.ip_address(sys.argv[1])) - int(ipaddress.ip_address("100.64.0.0"))
for k in range(2):
    g = 2 * i + k
    addr = ipaddress.ip_address("203.0.113.16") + g // 64
    lo = 1024 + (g % 64) * 1008
    print(addr, lo, lo + 1007)
EOF
}

# nat_of SUB: "NATADDR NATPORT" of each UDP session of SUB
nat_of()
{
	nsd_json "$SOCK" show sessions src="$1" proto=udp | python3 -c '
import json, sys
for s in json.load(sys.stdin)["sessions"]:
    print(s["nat"]["addr"], s["nat"]["port"])'
}

has_flows() { [ "$(nat_of "$1" | wc -l)" = "$NFLOWS" ]; }

# chk_in_blocks SUB: every session of SUB is inside one of its blocks
chk_in_blocks()
{
	local want got
	want=$(want_blocks "$1")
	got=$(nat_of "$1")
	echo "blocks: $want"
	echo "sessions: $got"
	python3 - "$want" "$got" <<'EOF'
import sys
blocks = [l.split() for l in sys.argv[1].splitlines()]
rows = [l.split() for l in sys.argv[2].splitlines()]
ok = len(rows) > 0 and len({tuple(r) for r in rows}) == len(rows)
for a, p in rows:
    ok &= any(a == b[0] and int(b[1]) <= int(p) <= int(b[2]) for b in blocks)
sys.exit(0 if ok else 1)
EOF
}

ctl_c() { "$NATSYNCCTL" -c "$CFG" "$@"; }

# chk_forward SUB: lookup SUB prints exactly its two blocks
chk_forward()
{
	local out want
	out=$(ctl_c lookup "$1") || return 1
	want=$(want_blocks "$1" | while read -r a lo hi; do
		echo "$1 -> $a:$lo-$hi (pool p1, block $(((lo - 1024) / 1008)))"
	done)
	equals "$out" "$want"
}

# chk_backward SUB: lookup of each NAT endpoint of SUB's sessions names SUB
chk_backward()
{
	local a p out n=0
	while read -r a p; do
		out=$(ctl_c lookup "$a:$p") || return 1
		[ "$out" = "$a:$p <- $1 (pool p1)" ] || { echo "lookup $a:$p: '$out'"; return 1; }
		n=$((n + 1))
	done < <(nat_of "$1")
	echo "$n endpoints looked up"
	[ "$n" = "$NFLOWS" ]
}

# refused WANT_RC PATTERN ARGS...: natsyncctl ARGS exits WANT_RC and its
# stderr matches PATTERN
refused()
{
	local want=$1 pat=$2 rc

	shift 2
	"$NATSYNCCTL" "$@" >"$NST_TMP/r.out" 2>"$NST_TMP/r.err"
	rc=$?
	cat "$NST_TMP/r.err"
	[ "$rc" = "$want" ] && grep -q -- "$pat" "$NST_TMP/r.err" && [ ! -s "$NST_TMP/r.out" ]
}

chk_show_subscriber()
{
	local j want
	j=$(nsd_json "$SOCK" show subscriber "$SUB_A") || return 1
	want=$(want_blocks "$SUB_A")
	echo "$j" | json_get 'j["port_blocks"]'
	python3 - "$j" "$want" <<'EOF'
import json, sys
pb = json.loads(sys.argv[1])["port_blocks"]
want = sorted(tuple(l.split()) for l in sys.argv[2].splitlines())
got = sorted((b["addr"], str(b["first_port"]), str(b["last_port"])) for b in pb["list"])
ok = got == want and pb["total"] == 2
ok &= all(b["deterministic"] and b["allocated_at"] is None and b["pool"] == "p1"
          for b in pb["list"])
# the sessions are in these blocks: at least one has seen a packet
ok &= any(b["last_active_at"] is not None for b in pb["list"])
sys.exit(0 if ok else 1)
EOF
}

topo_single_box $P
ip -n $P-cli addr add "$SUB_B/24" dev eth0 || nst_die "second subscriber address"
{
	nsd_cfg_head $P-box tc "$PIN" "$SOCK"
	nsd_cfg_napt44_services 203.0.113.16/30 $P-in $P-out \
		pool='port-allocation = "sequential"; port-block-allocation = { block-size = 1008; max-blocks-per-address = 2; deterministic = { subscriber-range = "100.64.0.0/26"; }; };'
	echo "};"
} >"$CFG"
grep -q 'subscriber-range = "100.64.0.0/26"' "$CFG" || nst_die "config has no deterministic pool"
nsd_start $P-box "$CFG" "$SOCK" "$PIN" "$NST_TMP/natsyncd.log" || nst_die "natsyncd did not start"
NSD=$NSD_PID
udp_echo_start $P-srv 5003 || nst_die "udp echo server"

ip netns exec $P-cli python3 - "$SUB_A" "$SUB_B" "$LAB_SRV_ADDR" "$NFLOWS" <<'EOF' ||
import socket, sys
a, b, srv, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for sub in (a, b):
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((sub, 43000 + i))
        s.sendto(b"det", (srv, 5003))
        s.close()
EOF
	nst_die "the subscribers could not send"

check "a: $SUB_A has its $NFLOWS sessions" wait_for 10 has_flows "$SUB_A"
check "a: $SUB_B has its $NFLOWS sessions" wait_for 10 has_flows "$SUB_B"
check "a: $SUB_A's flows take ports of its two computed blocks" chk_in_blocks "$SUB_A"
check "a: $SUB_B's flows take ports of its two computed blocks" chk_in_blocks "$SUB_B"
check "b: lookup $SUB_A: its address and two port ranges" chk_forward "$SUB_A"
check "b: lookup $SUB_B: its address and two port ranges" chk_forward "$SUB_B"
check "b: lookup of each NAT endpoint of $SUB_A names $SUB_A" chk_backward "$SUB_A"
check "b: lookup of each NAT endpoint of $SUB_B names $SUB_B" chk_backward "$SUB_B"
check "c: a malformed address: exit 3" \
	refused 3 "'203.0.113' is not A.B.C.D (a subscriber) or A.B.C.D:PORT" -c "$CFG" lookup 203.0.113
check "c: a port over 65535: exit 3" \
	refused 3 "'203.0.113.16:70000' is not A.B.C.D" -c "$CFG" lookup 203.0.113.16:70000
check "c: an empty port: exit 3" \
	refused 3 "'203.0.113.16:' is not A.B.C.D" -c "$CFG" lookup 203.0.113.16:
check "c: a subscriber outside the range: exit 3" \
	refused 3 "100.64.1.10: in no deterministic pool of $CFG" -c "$CFG" lookup 100.64.1.10
check "c: a port below the blocks: exit 3" \
	refused 3 "203.0.113.16:80: in no deterministic pool" -c "$CFG" lookup 203.0.113.16:80
check "c: an address outside the pool: exit 3" \
	refused 3 "198.51.100.10:2000: in no deterministic pool" -c "$CFG" lookup 198.51.100.10:2000
check "c: no argument: exit 1 (usage)" refused 1 "usage: natsyncctl -c CONFIG lookup" -c "$CFG" lookup
check "c: no -c: exit 1 (usage)" refused 1 "usage: natsyncctl -c CONFIG lookup" lookup "$SUB_A"
check "d: show subscriber $SUB_A lists its two deterministic blocks" chk_show_subscriber
nsd_stop "$NSD"
check "natsyncd stops cleanly" test "$NSD_RC" = 0
nst_finish
