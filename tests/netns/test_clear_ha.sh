#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_clear_ha.sh - "natsyncctl clear sessions" on a primary/backup pair
# (pair.sh; issue 12): the primary drops the matching sessions and its
# backup drops its copies at once (SESSION_DEL sent by the clear itself,
# counted in show sync's clear_dels, not left to the next replication
# pass), the other sessions stay on both; clear on the backup drops only
# the backup's copies, says so, and sends the primary nothing.
#
# Sessions: NUDP UDP flows from the subscriber (source ports 4000 ...) to
# the server's ports 5002 ("doomed", cleared on the primary) and 5003
# ("kept", later cleared on the backup only), udp timeout 300 s.
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pair.sh"

P=nopc
NTCP=0
NUDP=${NOPC_UDP:-10}
pair_paths
DOOMED=5002
KEPT=5003

nst_init $P
nst_need_natsync
nst_need_tools python3 bridge bpftool

# count SOCK PORT: the sessions to the server's PORT on one box.
count() { nsd_sessions_py "$1" 'len(S)' proto=udp dport="$2"; }
# counts_are SOCK PORT N
counts_are() { equals "$(count "$1" "$2")" "$3"; }

# The server's two ports take the datagrams (no ICMP port unreachable);
# the subscriber sends one datagram per flow and port.
sink_py='
import socket, sys, time
ss = []
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(p)))
    ss.append(s)
while True:
    time.sleep(3600)
'
send_py='
import socket, sys
srv, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 4000 + i))
    for p in sys.argv[3:]:
        u.sendto(b"flow %d" % i, (srv, int(p)))
    u.close()
'

pair_topo
pair_config "$NST_TMP/a.cfg" box-a 192.0.2.1 192.0.2.2 "$PIN_A" "$SOCK_A" 200 ""
pair_config "$NST_TMP/b.cfg" box-b 192.0.2.2 192.0.2.1 "$PIN_B" "$SOCK_B" 100 ""
start_box a
start_box b
check "A (priority 200) becomes primary" wait_for 15 role_is "$SOCK_A" primary
check "B is backup and ready (bulk complete)" wait_for 15 backup_ready "$SOCK_B"
# map_size PIN MAP: max_entries of a pinned map
map_size() { bpftool -j map show pinned "$1/$NS_PIN_SUBDIR/$2" | json_get 'j["max_entries"]'; }
check "no pool has port blocks: ns_pba_blk and ns_pba hold 1 entry (not 262,144)" \
	equals "$(map_size "$PIN_A" ns_pba_blk) $(map_size "$PIN_A" ns_pba)" "1 1"

bg_start "$NST_TMP/sink.log" "$P-srv" python3 -c "$sink_py" $DOOMED $KEPT
wait_for 5 udp_listening "$P-srv" $KEPT || nst_die "UDP sink did not start"
ns_exec "$P-cli" python3 -c "$send_py" "$SRV" "$NUDP" $DOOMED $KEPT ||
	nst_die "the subscriber could not send"
check "A has the $NUDP+$NUDP UDP sessions" \
	wait_for 10 eval 'counts_are $SOCK_A $DOOMED $NUDP && counts_are $SOCK_A $KEPT $NUDP'
check "B has their copies (replication threshold 0)" \
	wait_for 10 eval 'counts_are $SOCK_B $DOOMED $NUDP && counts_are $SOCK_B $KEPT $NUDP'

# ---- clear on the primary -------------------------------------------------------
out=$(nsd_ctl "$SOCK_A" clear sessions proto=udp dport=$DOOMED)
rc=$?
nst_log "A: $out"
check "clear on the primary: exit 0, all $NUDP cleared, the backup follows" \
	equals "$rc $out" "0 $NUDP sessions cleared ($NUDP matched); the backup drops them too"
check "the backup drops the cleared sessions" wait_for 10 counts_are "$SOCK_B" $DOOMED 0
check "the primary keeps none of them" counts_are "$SOCK_A" $DOOMED 0
check "the other sessions stay on the primary" counts_are "$SOCK_A" $KEPT "$NUDP"
check "the other sessions stay on the backup" counts_are "$SOCK_B" $KEPT "$NUDP"
check "the deletes were sent by the clear, not found by a later pass (clear_dels)" \
	equals "$(nsd_sync_counter "$SOCK_A" clear_dels)" "$NUDP"
check "the backup applied $NUDP deletes" \
	equals "$(nsd_sync_counter "$SOCK_B" dels_applied)" "$NUDP"

# ---- clear on the backup --------------------------------------------------------
dels_a=$(nsd_sync_counter "$SOCK_A" dels_applied)
j=$(nsd_json "$SOCK_B" clear sessions proto=udp dport=$KEPT sport=4000)
check "clear on the backup (JSON): 1 cleared, role backup, the peer does not follow" \
	equals "$(json_get '[j["cleared"], j["role"], j["peer_follows"]]' <<<"$j")" \
	'[1, "backup", false]'
out=$(nsd_ctl "$SOCK_B" clear sessions proto=udp dport=$KEPT)
rc=$?
nst_log "B: $out"
check "clear on the backup (text): exit 0, says it is this backup's copy only" \
	equals "$rc ${out%%:*}" "0 $((NUDP - 1)) sessions cleared ($((NUDP - 1)) matched) on this backup only"
check "the backup's copies are gone" counts_are "$SOCK_B" $KEPT 0
check "the backup sent no delete" equals "$(nsd_sync_counter "$SOCK_B" dels_tx)" 0
check "the primary still has its $NUDP sessions" counts_are "$SOCK_A" $KEPT "$NUDP"
check "the primary applied no delete" equals "$(nsd_sync_counter "$SOCK_A" dels_applied)" "$dels_a"

nst_finish
