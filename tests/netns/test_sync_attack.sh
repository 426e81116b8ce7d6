#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_sync_attack.sh - the sync channel's defences (issue 6) against a
# hostile peer, on a LIVE connection: a real natsyncd backup and
# tests/netns/sync_inject (the daemon's own encoder, built as
# $NATSYNC_BUILD/sync_inject) playing its primary from the configured peer
# address.
#
#   [nsk-a] ha 192.0.2.1 ---- ha 192.0.2.2 [nsk-b] in1,out1 --- [nsk-stub]
#   sync_inject                          natsyncd (backup, role-control
#                                        external: it stays backup alone)
#
# Each case is its own connection, and each frame carries its own session
# (100.64.7.1:SPORT -> 198.51.100.10:53 UDP, firewall-only):
#  control   a valid SESSION_ADD is acknowledged and installed (the tool
#            works: every negative result below means something)
#  badtag    one tag bit flipped          -> counter auth_fail
#  replay    sequence number used again   -> counter seq_replays
#  reorder   sequence number skips one    -> counter seq_gaps
#  truncated half a frame, then FIN       -> counter truncated
#  badlen    length field over the limit  -> counter proto_errors
#  wrongkey  handshake with another key   -> counter auth_fail
# and, with encrypt = true on the backup (ChaCha20-Poly1305):
#  control, badtag, replay, and
#  plain     a MAC-only frame on the encrypted channel -> auth_fail
#  mismatch  a peer without encryption    -> refused (reason 6), refused_sent
# For every bad case: the tool sees the connection end (EOF or RST), the
# counter in `natsyncctl -j show sync` moves, a new log line names the
# reason, and the session is neither in `natsyncctl -j show sessions` nor
# in the backup's pinned ns_sessions (bpftool map lookup).
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

P=nsk
PIN_B=/sys/fs/bpf/$P-b
SOCK_B=/run/$P-b.sock
INJECT=$NST_BUILD/sync_inject

nst_init $P
nst_need_natsync
nst_need_tools bpftool python3
[ -x "$INJECT" ] || nst_die "$INJECT not built (run: make BUILD=$NATSYNC_BUILD $NATSYNC_BUILD/sync_inject)"

topo()
{
	ns_add "$P-a"
	ns_add "$P-b"
	ns_add "$P-stub"
	link_pair "$P-a" ha "$P-b" ha
	link_pair "$P-b" in1 "$P-stub" b-in1
	link_pair "$P-b" out1 "$P-stub" b-out1
	addr_add "$P-a" ha 192.0.2.1/24
	addr_add "$P-b" ha 192.0.2.2/24
	addr_add "$P-b" in1 100.64.0.2/24
	addr_add "$P-b" out1 198.51.100.2/24
	box_sysctls "$P-b"
}

# write_config FILE ENCRYPT: the backup's config.
write_config()
{
	{
		nsd_cfg_open "$P-b" "$PIN_B" "$SOCK_B" max-sessions=4096 attach-mode=tc \
			timeouts="udp=600"
		nsd_cfg_redundancy 192.0.2.2 192.0.2.1 port=7788 replication-threshold=0 \
			initial-role=backup role-control=external key-file="$KEY" encrypt="$2"
		nsd_cfg_napt44_services 203.0.113.0/28 in1 out1 from=100.64.0.0/24
		echo "};"
	} >"$1"
}

sync_json()
{
	nsd_json "$SOCK_B" show sync
}

# in_sessions SPORT: natsyncctl -j show sessions has 100.64.7.1:SPORT.
in_sessions()
{
	nsd_json "$SOCK_B" show sessions | python3 -c '
import json, sys
for s in json.load(sys.stdin)["sessions"]:
    if s["inside"]["addr"] == "100.64.7.1" and s["inside"]["port"] == int(sys.argv[1]):
        sys.exit(0)
sys.exit(1)
' "$1"
}

# in_map SPORT: the backup's pinned ns_sessions holds the key
# (saddr 100.64.7.1, daddr 198.51.100.10, sport, dport 53, UDP).
in_map()
{
	bpftool map lookup pinned "$PIN_B/$NS_PIN_SUBDIR/ns_sessions" key hex \
		64 40 07 01 c6 33 64 0a "$(printf '%02x' $(($1 >> 8)))" \
		"$(printf '%02x' $(($1 & 255)))" 00 35 11 00 00 00 >/dev/null 2>&1
}

# log_count PATTERN: lines of the backup's log matching PATTERN.
log_count()
{
	grep -c -E -- "$1" "$LOG_B"
}

inject()
{
	ip netns exec "$P-a" "$INJECT" -c "$CFG_B" -l 192.0.2.1 -r 192.0.2.2 -d ha "$@"
}

# chk_valid SPORT [INJECT_OPTS...]: the control case.
chk_valid()
{
	local sport=$1 before out

	shift
	before=$(nsd_sync_counter "$SOCK_B" installed)
	out=$(inject -k "$KEY" "$@" valid "$sport") || { echo "$out"; echo "not acknowledged"; return 1; }
	echo "$out"
	grep -q '^ack:' <<<"$out" || { echo "no ACK"; return 1; }
	[ "$(nsd_sync_counter "$SOCK_B" installed)" -gt "$before" ] || { echo "installed counter did not move"; return 1; }
	in_sessions "$sport" || { echo "not in show sessions"; return 1; }
	in_map "$sport" || { echo "not in the pinned ns_sessions"; return 1; }
	echo "installed: show sessions and pinned ns_sessions have 100.64.7.1:$sport"
}

# chk_bad CASE SPORT COUNTER LOG_REGEX [INJECT_OPTS...]: a bad frame is
# rejected, counted, logged, the connection ends, nothing is installed.
chk_bad()
{
	local cse=$1 sport=$2 ctr=$3 re=$4 key=$KEY c0 c1 l0 l1 i0 i1 out rc

	shift 4
	[ "$cse" = wrongkey ] && key=$OTHER_KEY
	c0=$(nsd_sync_counter "$SOCK_B" "$ctr")
	i0=$(nsd_sync_counter "$SOCK_B" installed)
	l0=$(log_count "$re")
	out=$(inject -k "$key" "$@" "$cse" "$sport")
	rc=$?
	echo "$out"
	[ $rc -eq 0 ] || { echo "sync_inject: exit $rc (the daemon did not end the connection)"; return 1; }
	grep -qE '^closed: (eof|reset)' <<<"$out" || { echo "connection not ended by the daemon"; return 1; }
	# The daemon counts before it closes; the tool saw the close.
	c1=$(nsd_sync_counter "$SOCK_B" "$ctr")
	i1=$(nsd_sync_counter "$SOCK_B" installed)
	l1=$(log_count "$re")
	echo "counter $ctr: $c0 -> $c1, installed: $i0 -> $i1, log lines /$re/: $l0 -> $l1"
	[ "$c1" -gt "$c0" ] || { echo "counter $ctr did not move"; return 1; }
	[ "$l1" -gt "$l0" ] || { echo "no log line names the reason"; return 1; }
	grep -E -- "$re" "$LOG_B" | tail -1
	[ "$i1" = "$i0" ] || { echo "something was installed"; return 1; }
	! in_sessions "$sport" || { echo "session 100.64.7.1:$sport in show sessions"; return 1; }
	! in_map "$sport" || { echo "session 100.64.7.1:$sport in the pinned ns_sessions"; return 1; }
	echo "nothing installed"
}

listening()
{
	[ "$(sync_json | json_get 'j["listening"]')" = true ]
}

start_backup()
{
	write_config "$CFG_B" "$1"
	nsd_start "$P-b" "$CFG_B" "$SOCK_B" "$PIN_B" "$LOG_B" || return 1
	PID_B=$NSD_PID
	wait_for 10 listening
}

chk_show_encrypted()
{
	local j t

	j=$(sync_json) || return 1
	t=$(nsd_ctl "$SOCK_B" show sync) || return 1
	echo "$t" | grep -E '^(Channel|Peer):'
	[ "$(json_get 'j["encrypted"]' <<<"$j")" = "$1" ] || { echo "json encrypted != $1"; return 1; }
	if [ "$1" = true ]; then
		grep -q 'encrypted (ChaCha20-Poly1305)' <<<"$t" || { echo "text does not say encrypted"; return 1; }
	else
		grep -q 'authenticated, not encrypted' <<<"$t" || { echo "text does not say not encrypted"; return 1; }
	fi
}

# ---- scenario ---------------------------------------------------------------

topo
KEY=$NST_TMP/pair.key
OTHER_KEY=$NST_TMP/other.key
printf 'nsk-pair-key-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$KEY"
printf 'nsk-some-other-key-0123456789\n' >"$OTHER_KEY"
chmod 600 "$KEY" "$OTHER_KEY"
CFG_B=$NST_TMP/b.cfg
LOG_B=$NST_TMP/b.log

nst_log "phase 1: authenticated channel (HMAC-SHA256)"
start_backup false || nst_die "backup did not start"
check "show sync: authenticated, not encrypted" chk_show_encrypted false
check "control: a valid frame is acknowledged and installed" chk_valid 1001
check "flipped tag bit: rejected, counted, logged, reset, nothing installed" \
	chk_bad badtag 1002 auth_fail 'failed authentication \(tag does not verify\)'
check "replayed sequence number: rejected, counted, logged, reset, nothing installed" \
	chk_bad replay 1003 seq_replays 'replayed SESSION_ADD frame'
check "reordered (sequence gap): rejected, counted, logged, reset, nothing installed" \
	chk_bad reorder 1004 seq_gaps 'out-of-order \(sequence gap\) SESSION_ADD frame'
check "truncated frame then close: counted, logged, nothing installed" \
	chk_bad truncated 1005 truncated 'truncated frame from'
check "wrong length field: rejected, counted, logged, reset, nothing installed" \
	chk_bad badlen 1006 proto_errors 'bad frame from peer: bad frame length'
check "handshake with the wrong key: rejected, counted, logged, reset, nothing installed" \
	chk_bad wrongkey 1007 auth_fail 'failed authentication \(tag does not verify\)'
check "control again: the daemon still takes a valid peer" chk_valid 1008
nsd_stop "$PID_B"
check "backup exits cleanly (phase 1)" test "$NSD_RC" = 0

nst_log "phase 2: encrypted channel (encrypt = true, ChaCha20-Poly1305)"
nsd_purge "$P-b" "$CFG_B" >/dev/null 2>&1
: >"$LOG_B"
start_backup true || nst_die "encrypting backup did not start"
check "show sync: encrypted (text and JSON)" chk_show_encrypted true
check "encrypted control: a sealed frame is acknowledged and installed" chk_valid 2001 -e
check "encrypted: flipped tag bit rejected, counted, logged, nothing installed" \
	chk_bad badtag 2002 auth_fail 'decryption failed: tag does not verify' -e
check "encrypted: replayed sequence number rejected, nothing installed" \
	chk_bad replay 2003 seq_replays 'replayed SESSION_ADD frame' -e
check "encrypted: MAC-only frame (downgrade) rejected, nothing installed" \
	chk_bad plain 2004 auth_fail 'unencrypted frame on an encrypted channel' -e
check "encrypted: wrong key rejected, nothing installed" \
	chk_bad wrongkey 2005 auth_fail 'failed authentication \(decryption failed' -e
chk_mismatch()
{
	local r0 r1 l0 l1 out

	r0=$(nsd_sync_counter "$SOCK_B" refused_sent)
	l0=$(log_count 'has encrypt off but we have encrypt on: refused')
	out=$(inject -k "$KEY" valid 2006)
	echo "$out"
	grep -q '^refuse: 6 ' <<<"$out" || { echo "not refused for encryption"; return 1; }
	r1=$(nsd_sync_counter "$SOCK_B" refused_sent)
	l1=$(log_count 'has encrypt off but we have encrypt on: refused')
	[ "$r1" -gt "$r0" ] || { echo "refused_sent did not move"; return 1; }
	[ "$l1" -gt "$l0" ] || { echo "not logged"; return 1; }
	sync_json | json_get 'j["last_error"]'
	! in_sessions 2006 && ! in_map 2006
}
check "encryption on one side only: refused at handshake, loudly" chk_mismatch
check "encrypted control again" chk_valid 2007 -e
nsd_stop "$PID_B"
check "backup exits cleanly (phase 2)" test "$NSD_RC" = 0
nst_finish
