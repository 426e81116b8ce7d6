#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_sync.sh - inter-chassis session sync (issue 3) through two running
# natsyncd instances: a primary that forwards and a backup that only holds
# replicated sessions.
#
#   nss-cli1 100.64.0.10 --- in1 [nss-a] out1 --- eth0 198.51.100.10/25 [nss-srv]
#   nss-cli2 100.64.1.10 --- in2 [nss-a] out2 --- eth1 198.51.100.130/25
#                                  ha 192.0.2.1
#                                   |  sync channel, TCP 7788, bound to "ha"
#                                  ha 192.0.2.2
#                    in1,out1,in2,out2 [nss-b] --- nss-stub (no traffic)
#
#   service set ss1 (in1/out1): NAPT44 pool 203.0.113.0/28, replicated
#   service set ss2 (in2/out2): NAPT44 pool 203.0.113.16/28,
#                               replicate-services = false (opt-out)
#   replication-threshold 4 s on both boxes: long enough that check b fits
#   into a young session's life on a loaded machine, short enough to wait for.
#
# The backup box has the same interface names in its own namespace (the
# service sets name interfaces, and both configs must be identical apart
# from node name, addresses, paths); they lead to a stub namespace.
#
# Checks (each prints PASS/FAIL; any FAIL makes the script exit 1):
#  a  the channel comes up: primary/backup roles, same fingerprint, backup ready
#  b  a session younger than the threshold is not on the backup, looked at
#     after the primary's replication walk has passed over it twice and the
#     backup has acknowledged every frame sent (so an implementation that
#     ignored the threshold would have replicated it by then), and while
#     the session is still younger than the threshold
#  c  sessions older than the threshold are on the backup: natsyncctl -j
#     show sessions (flag "replicated", same pool address and port as on
#     the primary) and bpftool map dump of the pinned ns_sessions, with the
#     pool port reserved in the backup's pinned ns_ports
#  d  a service set with replicate-services = false is never replicated
#  e  a TCP session closed on the primary disappears from the backup
#  f  a restarted backup with empty maps gets every session back by bulk
#     sync (show sync: bulk complete, ready)
#  g  a backup whose NAT/firewall config differs is refused by the primary
#     (log, counter, last_error in show sync) and installs nothing
#  h  the channel is authenticated (key-file on both boxes): a backup with
#     another key is refused and installs nothing
#  i  slow peer: the backup is frozen (SIGSTOP) while the primary forwards
#     new flows and gets SLOW_N more sessions (written into its pinned maps,
#     as test_failover.sh does): the primary keeps forwarding and answering
#     natsyncctl (each answer timed, bound 5 s), its queues stay within
#     their caps (show sync: queued bytes, most queued, window waits,
#     backpressure, a "not acknowledged" log line) and its memory does not
#     grow with the backlog; after the dead interval it logs the silent peer
#     and drops the connection; after SIGCONT the pair reconnects and the
#     backup holds every session again (bulk), checked key by key in its
#     pinned ns_sessions. NSS_SLOW_N (default 80000) sets SLOW_N.
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

P=nss
THRESHOLD=4
PIN_A=/sys/fs/bpf/$P-a
PIN_B=/sys/fs/bpf/$P-b
SOCK_A=/run/$P-a.sock
SOCK_B=/run/$P-b.sock
SRV1=198.51.100.10
SRV2=198.51.100.130
CLI1=100.64.0.10
CLI2=100.64.1.10
POOL1=203.0.113.0/28
POOL2=203.0.113.16/28

SLOW_N=${NSS_SLOW_N:-80000}

nst_init $P
nst_need_natsync
nst_need_tools socat ss bpftool python3
# A frozen daemon ignores SIGTERM: thaw it before the cleanup stops it.
trap 'rc=$?; [ -n "${PID_B:-}" ] && kill -CONT "$PID_B" 2>/dev/null; (exit $rc); nst_cleanup' EXIT

# ---- topology -------------------------------------------------------------

topo()
{
	local i

	for i in cli1 cli2 a b srv stub; do
		ns_add "$P-$i"
	done
	link_pair "$P-cli1" eth0 "$P-a" in1
	link_pair "$P-cli2" eth0 "$P-a" in2
	link_pair "$P-a" out1 "$P-srv" eth0
	link_pair "$P-a" out2 "$P-srv" eth1
	link_pair "$P-a" ha "$P-b" ha
	for i in in1 out1 in2 out2; do
		link_pair "$P-b" "$i" "$P-stub" "b-$i"
	done
	addr_add "$P-cli1" eth0 "$CLI1/24"
	addr_add "$P-cli2" eth0 "$CLI2/24"
	addr_add "$P-a" in1 100.64.0.1/24
	addr_add "$P-a" in2 100.64.1.1/24
	addr_add "$P-a" out1 198.51.100.1/25
	addr_add "$P-a" out2 198.51.100.129/25
	addr_add "$P-srv" eth0 "$SRV1/25"
	addr_add "$P-srv" eth1 "$SRV2/25"
	addr_add "$P-a" ha 192.0.2.1/24
	addr_add "$P-b" ha 192.0.2.2/24
	addr_add "$P-b" in1 100.64.0.2/24
	addr_add "$P-b" in2 100.64.1.2/24
	addr_add "$P-b" out1 198.51.100.2/25
	addr_add "$P-b" out2 198.51.100.131/25
	route_add "$P-cli1" 198.51.100.0/24 100.64.0.1
	route_add "$P-cli2" 198.51.100.0/24 100.64.1.1
	route_add "$P-srv" "$POOL1" 198.51.100.1
	route_add "$P-srv" "$POOL2" 198.51.100.129
	for i in a b; do
		box_sysctls "$P-$i"
		for ifc in in1 out1 in2 out2; do
			iface_rp_filter_off "$P-$i" "$ifc"
			gro_on "$P-$i" "$ifc"
		done
	done
	host_prepare "$P-cli1" eth0
	host_prepare "$P-cli2" eth0
	host_prepare "$P-srv" eth0
	host_prepare "$P-srv" eth1
}

# write_config FILE NODE LOCAL PEER PIN SOCK ROLE UDP_TIMEOUT [KEYFILE]: one box's
# config; only NODE, addresses, paths, the role and the priority differ
# between the two boxes (UDP_TIMEOUT differs only in the mismatch check).
# The primary also gets the higher priority, so a redundancy election
# (issue 4) picks the same box as initial-role does.
write_config()
{
	{
		nsd_cfg_open "$2" "$5" "$6" max-sessions=131072 aging-interval-ms=200 attach-mode=tc \
			timeouts="tcp-syn=10 tcp-established=600 tcp-closing=2 tcp-time-wait=1 tcp-rst=1
			udp=$8 icmp=10 other=10 port-hold=0 binding=0"
		nsd_cfg_redundancy "$3" "$4" replication-threshold="$THRESHOLD" port=7788 \
			initial-role="$7" key-file="${9:-$KEY}" \
			priority="$([ "$7" = primary ] && echo 200 || echo 100)"
	} >"$1"
	cat >>"$1" <<EOF
  services: {
    nat: {
      pools = ( { name = "p1"; address = [ "$POOL1" ]; port = "automatic";
                  port-allocation = "random"; address-allocation = "round-robin"; },
                { name = "p2"; address = [ "$POOL2" ]; port = "automatic";
                  port-allocation = "random"; address-allocation = "round-robin"; } );
      rules = ( { name = "r1"; match-direction = "input";
                  terms = ( { name = "t1"; from = { source-address = [ "100.64.0.0/24" ]; };
                              then = { translation-type = "napt-44"; source-pool = "p1";
                                       address-pooling = "paired"; }; } ); },
                { name = "r2"; match-direction = "input";
                  terms = ( { name = "t1"; from = { source-address = [ "100.64.1.0/24" ]; };
                              then = { translation-type = "napt-44"; source-pool = "p2"; }; } ); } );
    };
    service-sets = (
      { name = "ss1"; nat-rules = [ "r1" ];
        next-hop-service = { inside-service-interface = "in1"; outside-service-interface = "out1"; };
        replicate-services = true; },
      { name = "ss2"; nat-rules = [ "r2" ];
        next-hop-service = { inside-service-interface = "in2"; outside-service-interface = "out2"; };
        replicate-services = false; } );
  };
};
EOF
}

# ---- helpers ----------------------------------------------------------------

# sync_json SOCK: natsyncctl -j show sync.
sync_json()
{
	nsd_json "$1" show sync
}

# session_of SOCK PROTO INSIDE_ADDR INSIDE_PORT: print "natip natport flags"
# of that session, nothing when absent. Filtered by the daemon: the table
# may hold more sessions than one listing shows (limit).
session_of()
{
	nsd_json "$1" show sessions src="$3" sport="$4" proto="$2" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["sessions"]:
    if s["proto"] == sys.argv[1] and s["inside"]["addr"] == sys.argv[2] and \
       s["inside"]["port"] == int(sys.argv[3]):
        print(s["nat"]["addr"], s["nat"]["port"], ",".join(s["flags"]) or "-")
' "$2" "$3" "$4"
}

# pinned_has PIN MAP PYTHON-PREDICATE: some entry of the pinned map (bpftool
# -j, BTF-formatted) satisfies the predicate over "k" (key) and "v" (value).
# be16/be32 helpers convert the host-order numbers bpftool prints.
pinned_has()
{
	bpftool -j map dump pinned "$1/$NS_PIN_SUBDIR/$2" | python3 -c '
import json, socket, struct, sys
def ip(x): return socket.inet_ntoa(struct.pack("<I", x))
def port(x): return struct.unpack(">H", struct.pack("<H", x))[0]
ok = False
for e in json.load(sys.stdin):
    f = e.get("formatted", {})
    k, v = f.get("key"), f.get("value")
    if k is None or v is None:
        sys.exit("no BTF-formatted entry: %r" % e)
    if eval(sys.argv[1]):
        ok = True
sys.exit(0 if ok else 1)
' "$3"
}

# udp_session CLI_NS SRV SPORT: one UDP request/response from SPORT.
udp_session()
{
	local out

	out=$(udp_request "$1" "$2" 6000 "$3" "hello-$3")
	case "$out" in
	from=203.0.113.*) echo "$out" ;;
	*) echo "no answer through the primary (got '$out')"; return 1 ;;
	esac
}

# tcp_hold_start CLI_NS SRV PORT: an idle TCP connection that stays open
# (the server and the client both sleep); sets TCP_PID (the client).
tcp_hold_start()
{
	bg_start "$NST_TMP/tcp-srv-$3.log" "$P-srv" timeout 120 \
		socat "TCP-LISTEN:$3,reuseaddr" SYSTEM:"sleep 100"
	wait_for 5 tcp_listening "$P-srv" "$3" || { echo "server did not listen"; return 1; }
	bg_start "$NST_TMP/tcp-cli-$3.log" "$1" timeout 120 \
		socat "SYSTEM:sleep 100" "TCP:$2:$3,sourceport=$4"
	TCP_PID=$NST_LAST_PID
	wait_for 5 tcp_established "$1" "$3"
}

tcp_established()
{
	# no "| grep -q" under pipefail: an early exit of grep fails the pipeline
	[ -n "$(ip netns exec "$1" ss -Htn state established "dport = :$2")" ]
}

# ---- checks -----------------------------------------------------------------

chk_channel_up()
{
	local a b

	a=$(sync_json "$SOCK_A") || { echo "show sync failed on the primary: $a"; return 1; }
	b=$(sync_json "$SOCK_B") || { echo "show sync failed on the backup: $b"; return 1; }
	echo "primary: $a"
	echo "backup:  $b"
	python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["role"] == "primary" and b["role"] == "backup", "roles"
assert a["authenticated"] and b["authenticated"], "key-file not in use"
assert a["state"] == "established" and b["state"] == "established", "state"
assert a["fingerprint"] == b["fingerprint"], "fingerprints differ"
assert a["connection"]["peer_node"] == "'$P'-b", "peer name"
assert b["ready"] and b["bulk"]["state"] == "complete", "backup not ready"
' "$a" "$b"
}

# jnum JSON KEY: the number after "KEY": in natsyncctl's compact JSON. Bash
# only: check b runs against the clock, and starting python3 costs up to
# half a second here on a loaded machine.
jnum()
{
	[[ $1 =~ \"$2\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

# walk_passes: replication passes the primary has finished.
walk_passes()
{
	jnum "$(nsd_ctl "$SOCK_A" -j show sync)" walk_passes
}

walk_passes_ge()
{
	[ "$(walk_passes)" -ge "$1" ]
}

# primary_drained: the primary has nothing queued for the backup and the
# backup has acknowledged (installed) every data frame the primary sent.
primary_drained()
{
	local j

	j=$(nsd_ctl "$SOCK_A" -j show sync) || return 1
	[ "$(jnum "$j" queued_hi_bytes)" = 0 ] && [ "$(jnum "$j" queued_lo_bytes)" = 0 ] &&
		[ "$(jnum "$j" seq_acked)" -ge "$(jnum "$j" seq_data_sent)" ]
}

# udp_matched SOCK PORT: how many UDP sessions from CLI1:PORT the box has
# (filtered by the daemon).
udp_matched()
{
	jnum "$(nsd_ctl "$1" -j show sessions src="$CLI1" sport="$2" proto=udp)" matched
}

# young_try PORT: one attempt of check b with a new UDP session from
# CLI1:PORT. 0: the backup did not have it although a replication that
# ignored the threshold would have reached it; 1: failed (the backup has
# a session younger than the threshold, or the pair is broken); 2:
# inconclusive (the attempt took longer than the threshold: the session
# may rightly be replicated by now).
young_try()
{
	local port=$1 t0 p0 p1 nb ms

	t0=$(date +%s%N) # the session is created after this instant
	udp_session "$P-cli1" "$SRV1" "$port" >/dev/null ||
		{ echo "no answer through the primary from port $port"; return 1; }
	[ "$(udp_matched "$SOCK_A" "$port")" = 1 ] ||
		{ echo "primary has no session for $CLI1:$port"; return 1; }
	# Two passes finished after the session existed: the second one
	# started after it was created and saw it, so a walk that ignored the
	# threshold would have queued it by then ...
	p0=$(walk_passes) || return 1
	wait_for 10 walk_passes_ge $((p0 + 2)) ||
		{ echo "the replication walk does not advance ($p0 -> $(walk_passes) passes)"; return 1; }
	p1=$(walk_passes)
	# ... and the backup would have installed it: nothing left in the
	# queues, every data frame acknowledged.
	wait_for 10 primary_drained ||
		{ echo "the backup does not acknowledge: $(sync_json "$SOCK_A")"; return 1; }
	nb=$(udp_matched "$SOCK_B" "$port") || { echo "show sessions failed on the backup"; return 1; }
	ms=$((($(date +%s%N) - t0) / 1000000))
	YOUNG_NOTE="port $port: passes $p0 -> $p1, queues drained, all acknowledged; backup looked
up less than $ms ms after the session was created (threshold ${THRESHOLD}s): $nb session(s)"
	echo "$YOUNG_NOTE"
	if [ "$ms" -ge $((THRESHOLD * 1000)) ]; then
		echo "inconclusive: the session may be ${THRESHOLD}s old already"
		return 2
	fi
	[ "$nb" = 0 ] || { echo "backup has a session younger than ${THRESHOLD}s:" \
		"$(session_of "$SOCK_B" udp "$CLI1" "$port")"; return 1; }
}

# Check b, with a fresh session per attempt (41001, 41003, 41004) until one
# attempt is conclusive; YOUNG_PORT is the port of the last attempt (checks
# c and f use it).
YOUNG_PORT=41001
YOUNG_NOTE=""
chk_young_absent()
{
	local port rc

	for port in 41001 41003 41004; do
		YOUNG_PORT=$port
		young_try "$port"
		rc=$?
		[ $rc -eq 2 ] || return $rc
	done
	echo "no attempt finished within the ${THRESHOLD}s threshold: nothing shown"
	return 1
}

# replicated PROTO INSIDE_PORT: the backup has the session with the
# primary's pool address and port, flagged replicated, in natsyncctl and in
# the pinned maps (session, reverse entry, reserved pool port).
chk_replicated()
{
	local proto=$1 port=$2 pa pb ip nport

	pa=$(session_of "$SOCK_A" "$proto" "$CLI1" "$port")
	pb=$(session_of "$SOCK_B" "$proto" "$CLI1" "$port")
	echo "primary: $pa"
	echo "backup:  $pb"
	[ -n "$pa" ] || { echo "primary lost the session"; return 1; }
	[ -n "$pb" ] || { echo "backup does not have it"; return 1; }
	[ "${pa% *}" = "${pb% *}" ] || { echo "translation differs"; return 1; }
	case "$pb" in *replicated*) ;; *) echo "not flagged replicated"; return 1 ;; esac
	read -r ip nport _ <<<"$pb"
	pinned_has "$PIN_B" ns_sessions \
		"port(k['sport']) == $port and ip(v['out_key']['daddr']) == '$ip' and v['flags'] & 64" ||
		{ echo "bpftool: not in the backup's pinned ns_sessions"; return 1; }
	pinned_has "$PIN_B" ns_session_rev "port(k['dport']) == $nport and ip(k['daddr']) == '$ip'" ||
		{ echo "bpftool: no reverse entry in ns_session_rev"; return 1; }
	pinned_has "$PIN_B" ns_ports "port(k['port']) == $nport and ip(k['addr']) == '$ip'" ||
		{ echo "bpftool: pool port $ip:$nport not reserved in ns_ports"; return 1; }
	echo "pinned maps: session, reverse entry and pool port $ip:$nport present"
}

chk_optout_absent()
{
	local pa pb

	# Whatever the primary would send has been installed by now.
	wait_for 10 primary_drained || { echo "the backup does not acknowledge"; return 1; }
	pa=$(session_of "$SOCK_A" udp "$CLI2" 42001)
	pb=$(session_of "$SOCK_B" udp "$CLI2" 42001)
	echo "primary: $pa"
	echo "backup:  $pb"
	[ -n "$pa" ] || { echo "primary has no ss2 session"; return 1; }
	[ -z "$pb" ] || { echo "opt-out service set replicated"; return 1; }
	! pinned_has "$PIN_B" ns_sessions "ip(k['saddr']) == '$CLI2'" ||
		{ echo "bpftool: a $CLI2 session is in the backup's ns_sessions"; return 1; }
}

tcp_gone_on()
{
	[ -z "$(session_of "$1" tcp "$CLI1" 43001)" ]
}

chk_closed_removed()
{
	# Only meaningful when the backup has it first.
	[ -n "$(session_of "$SOCK_B" tcp "$CLI1" 43001)" ] ||
		{ echo "backup never had the TCP session"; return 1; }
	bg_stop "$TCP_PID"
	wait_for 15 tcp_gone_on "$SOCK_A" || { echo "primary kept the closed session"; return 1; }
	echo "gone on the primary"
	wait_for 5 tcp_gone_on "$SOCK_B" ||
		{ echo "backup still has it: $(session_of "$SOCK_B" tcp "$CLI1" 43001)"; return 1; }
	echo "gone on the backup"
	nsd_sync_counter "$SOCK_B" dels_applied
}

backup_ready()
{
	[ "$(sync_json "$SOCK_B" | json_get 'j["ready"]')" = true ]
}

chk_bulk_after_restart()
{
	local before

	nsd_stop "$PID_B"
	[ "$NSD_RC" = 0 ] || { echo "backup exited with $NSD_RC"; return 1; }
	nsd_purge "$P-b" "$CFG_B" >/dev/null 2>&1
	[ ! -e "$PIN_B/$NS_PIN_SUBDIR/ns_sessions" ] || { echo "purge left the pins"; return 1; }
	nsd_start "$P-b" "$CFG_B" "$SOCK_B" "$PIN_B" "$NST_TMP/b2.log" || return 1
	PID_B=$NSD_PID
	wait_for 10 backup_ready || { echo "backup not ready after restart"; sync_json "$SOCK_B"; return 1; }
	sync_json "$SOCK_B" | json_get 'j["bulk"]'
	before=$(session_of "$SOCK_B" udp "$CLI1" "$YOUNG_PORT")
	[ -n "$before" ] || { echo "udp session not back"; return 1; }
	chk_replicated udp "$YOUNG_PORT" && chk_replicated udp 41002
}

# auth_failure_counted: one of the boxes counted an authentication failure.
auth_failure_counted()
{
	[ $(($(nsd_sync_counter "$SOCK_A" auth_fail) +
	     $(nsd_sync_counter "$SOCK_B" auth_fail))) -gt 0 ]
}

# mismatch_seen: both boxes show the fingerprint refusal, and it is logged.
mismatch_seen()
{
	grep -q "fingerprint" <<<"$(sync_json "$SOCK_A" | json_get 'j["last_error"]')" &&
		grep -q "fingerprint" <<<"$(sync_json "$SOCK_B" | json_get 'j["last_error"]')" &&
		grep -q "fingerprint mismatch" "$NST_TMP/b3.log"
}

chk_wrong_key_refused()
{
	local b a

	nsd_stop "$PID_B"
	nsd_purge "$P-b" "$CFG_BAD" >/dev/null 2>&1
	printf 'nss-test-some-other-key\n' >"$NST_TMP/other.key"
	write_config "$CFG_BAD" "$P-b" 192.0.2.2 192.0.2.1 "$PIN_B" "$SOCK_B" backup 300 \
		"$NST_TMP/other.key"
	nsd_start "$P-b" "$CFG_BAD" "$SOCK_B" "$PIN_B" "$NST_TMP/b4.log" || return 1
	PID_B=$NSD_PID
	# The first attempt has been made and refused (the next comes 5 s later).
	wait_for 15 auth_failure_counted || { echo "no authentication failure counted"; }
	a=$(sync_json "$SOCK_A")
	b=$(sync_json "$SOCK_B")
	echo "primary: $a"
	echo "backup:  $b"
	python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["authenticated"] and b["authenticated"], "key-file not in use"
assert a["state"] != "established" and b["state"] != "established", "connected anyway"
assert a["counters"]["auth_fail"] + b["counters"]["auth_fail"] > 0, "no auth failure counted"
assert b["counters"]["installed"] == 0 and not b["ready"], "backup installed something"
' "$a" "$b"
}

chk_mismatch_refused()
{
	local b a

	nsd_stop "$PID_B"
	nsd_purge "$P-b" "$CFG_B" >/dev/null 2>&1
	write_config "$CFG_BAD" "$P-b" 192.0.2.2 192.0.2.1 "$PIN_B" "$SOCK_B" backup 301
	nsd_start "$P-b" "$CFG_BAD" "$SOCK_B" "$PIN_B" "$NST_TMP/b3.log" || return 1
	PID_B=$NSD_PID
	# The first attempt has been made and refused, both ends know why
	# (the next attempt comes 5 s later).
	wait_for 15 mismatch_seen || { echo "no fingerprint refusal seen on both boxes"; }
	a=$(sync_json "$SOCK_A")
	b=$(sync_json "$SOCK_B")
	echo "primary: $a"
	echo "backup:  $b"
	python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["state"] != "established" and b["state"] != "established", "connected anyway"
assert "fingerprint" in a["last_error"] and "fingerprint" in b["last_error"], "no error shown"
refused = a["counters"]["refused_sent"] + b["counters"]["refused_sent"]
assert refused > 0, "no refusal counted"
assert b["counters"]["installed"] == 0 and not b["ready"], "backup installed something"
' "$a" "$b" || return 1
	grep -q "fingerprint mismatch" "$NST_TMP/b3.log" || { echo "not logged"; return 1; }
	[ -z "$(nsd_json "$SOCK_B" show sessions | json_get '[s for s in j["sessions"]]' | tr -d '[]')" ] ||
		{ echo "mismatched backup has sessions"; return 1; }
}

# ---- slow peer --------------------------------------------------------------

# maps.py inject|count PIN N (bpf(2) helpers from inject_sessions.py): write N firewall-only TCP sessions
# (100.80.0.0 + i:(10000 + i % 50000) -> 198.51.100.200:80, established,
# 10 s old) into the pinned ns_sessions/ns_session_rev with batch updates,
# or count how many of them the pinned ns_sessions holds (lookups).
write_maps_py()
{
	cat >"$NST_TMP/maps.py" <<'EOF'
import ctypes, socket, struct, sys, time
from inject_sessions import bpf, libc, obj_get, tup, update_batch, SYS_BPF
LOOKUP = 1

def keys(i):
    inside = struct.pack(">I", 0x64500000 + i)
    remote = socket.inet_aton("198.51.100.200")
    sport = 10000 + i % 50000
    return tup(inside, remote, sport, 80, 6), tup(remote, inside, 80, sport, 6)

mode, pin, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sess = obj_get(pin + "/ns_sessions")
if mode == "inject":
    rev = obj_get(pin + "/ns_session_rev")
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    for base in range(0, n, 10000):
        m = min(10000, n - base)
        sk, sv, rk = [], [], []
        for i in range(base, base + m):
            ik, ok = keys(i)
            sk.append(ik)
            rk.append(ok)
            # firewall-only (nat_type 0, no pool), TCP established
            sv.append(ik + ok + struct.pack("<QQQQQQIHHHBBBB2x", now - 10 * 10**9, now,
                                            1, 1, 100, 100, 0, 0, 0xffff, 0xffff, 0, 3, 0, 0xff))
        for fd, k, v in ((rev, rk, sk), (sess, sk, sv)):
            update_batch(fd, b"".join(k), b"".join(v), m)
    print("injected", n)
else:
    val = ctypes.create_string_buffer(256)
    have = 0
    for i in range(n):
        kb = ctypes.create_string_buffer(keys(i)[0])
        attr = ctypes.create_string_buffer(struct.pack("<IIQQQ", sess, 0, ctypes.addressof(kb),
                                                       ctypes.addressof(val), 0), 128)
        if libc.syscall(SYS_BPF, LOOKUP, attr, 128) == 0:
            have += 1
    print(have)
EOF
}

# ctl_ms SOCK: time one "natsyncctl show sync" in ms (fails when it fails).
ctl_ms()
{
	local t0 t1

	t0=$(date +%s%N)
	nsd_ctl "$1" -j show sync >/dev/null || return 1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

rss_kb()
{
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

backup_has_all()
{
	[ "$(PYTHONPATH="$NST_REPO/tests/netns" python3 "$NST_TMP/maps.py" count "$PIN_B/$NS_PIN_SUBDIR" "$SLOW_N")" = "$SLOW_N" ]
}

primary_saw_dead()
{
	[ "$(nsd_sync_counter "$SOCK_A" dead_peer)" -gt "$1" ]
}

chk_backup_back()
{
	nsd_stop "$PID_B"
	nsd_purge "$P-b" "$CFG_B" >/dev/null 2>&1
	nsd_start "$P-b" "$CFG_B" "$SOCK_B" "$PIN_B" "$NST_TMP/b5.log" || return 1
	PID_B=$NSD_PID
	wait_for 20 backup_ready || { echo "backup not ready"; sync_json "$SOCK_B"; return 1; }
}

# held_back: the primary, still connected, has closed its window and
# stopped its walk on the full queue.
held_back()
{
	sync_json "$SOCK_A" | python3 -c '
import json, sys
j = json.load(sys.stdin)
t = j["counters"]
sys.exit(0 if "connection" in j and t["window_waits"] > 0 and t["backpressure"] > 0 else 1)'
}

# The primary while its peer is frozen: forwards, answers, bounded.
chk_slow_peer_bounded()
{
	local rss0 rss1 ms max=0 i j

	rss0=$(rss_kb "$PID_A")
	kill -STOP "$PID_B"
	echo "backup frozen (SIGSTOP)"
	PYTHONPATH="$NST_REPO/tests/netns" python3 "$NST_TMP/maps.py" inject "$PIN_A/$NS_PIN_SUBDIR" "$SLOW_N" || return 1
	# Look at the queues while the connection still exists (the peer is
	# declared dead about 10 s after the freeze).
	wait_for 8 held_back || { echo "replication never held back"; sync_json "$SOCK_A"; return 1; }
	j=$(sync_json "$SOCK_A")
	python3 -c '
import json, sys
j = json.loads(sys.argv[1])
c, t = j["connection"], j["counters"]
cap = (1 << 20) + (4 << 20)   # SYNC_HI_CAP + SYNC_LO_CAP
print("queued hi %d + lo %d bytes, most queued %d, lag %d frames, window waits %d, "
      "backpressure %d, control frames not queued %d" % (c["queued_hi_bytes"],
      c["queued_lo_bytes"], t["queued_max"], c["lag_frames"], t["window_waits"],
      t["backpressure"], t["hi_full"]))
assert c["queued_hi_bytes"] + c["queued_lo_bytes"] <= cap, "queues above their caps"
assert t["queued_max"] <= cap, "queued more than the caps at some point"
assert c["lag_frames"] <= 32, "more than one window unacknowledged"
assert t["window_waits"] > 0, "the window never closed: the peer was not slow?"
assert t["backpressure"] > 0, "the walk never stopped on a full queue"
' "$j" || return 1
	for i in 1 2 3 4 5 6; do
		udp_session "$P-cli1" "$SRV1" $((41100 + i)) >/dev/null ||
			{ echo "primary stopped forwarding (flow $i)"; return 1; }
		ms=$(ctl_ms "$SOCK_A") || { echo "primary does not answer natsyncctl"; return 1; }
		[ "$ms" -gt "$max" ] && max=$ms
		sleep 0.5 # not a wait: spreads the 6 samples over the frozen time
	done
	echo "6 new UDP flows forwarded by the primary; slowest natsyncctl answer ${max} ms"
	[ "$max" -lt 5000 ] || { echo "natsyncctl took ${max} ms (event loop stalled?)"; return 1; }
	rss1=$(rss_kb "$PID_A")
	echo "primary RSS ${rss0} kB -> ${rss1} kB with $SLOW_N sessions held back"
	# The backlog lives in the maps and the bounded queues, not in memory
	# that grows with it: allow the bookkeeping table (~64 B per session)
	# and the queues (5 MiB).
	[ $((rss1 - rss0)) -lt $((SLOW_N * 64 / 1024 + 16384)) ] ||
		{ echo "primary memory grew by $((rss1 - rss0)) kB"; return 1; }
	grep "has not acknowledged" "$NST_TMP/a.log" | tail -1
	grep -q "has not acknowledged" "$NST_TMP/a.log" || { echo "slow peer not logged"; return 1; }
}

chk_slow_peer_dropped()
{
	wait_for 30 primary_saw_dead "$1" || { echo "peer never declared dead"; return 1; }
	grep "silent for" "$NST_TMP/a.log" | tail -1
	grep -q "silent for" "$NST_TMP/a.log" || { echo "not logged"; return 1; }
	sync_json "$SOCK_A" | json_get '(j["state"], j["counters"]["dead_peer"], j["last_error"])'
	[ "$(sync_json "$SOCK_A" | json_get 'j["state"]')" != established ] ||
		{ echo "still established with a frozen peer"; return 1; }
	udp_session "$P-cli1" "$SRV1" 41110 || { echo "primary stopped forwarding"; return 1; }
}

# flow_on_backup PORT: the UDP session from CLI1:PORT is on both boxes,
# same translation, flagged replicated on the backup.
flow_on_backup()
{
	local pa pb

	pa=$(session_of "$SOCK_A" udp "$CLI1" "$1")
	pb=$(session_of "$SOCK_B" udp "$CLI1" "$1")
	[ -n "$pa" ] && [ "${pa% *}" = "${pb% *}" ] && [[ "$pb" == *replicated* ]]
}

chk_slow_peer_recovers()
{
	local a b i

	kill -CONT "$PID_B"
	echo "backup thawed (SIGCONT)"
	wait_for 90 backup_ready || { echo "backup never ready again"; sync_json "$SOCK_B"; return 1; }
	wait_for 60 backup_has_all ||
		{ echo "backup holds $(PYTHONPATH="$NST_REPO/tests/netns" python3 "$NST_TMP/maps.py" count "$PIN_B/$NS_PIN_SUBDIR" "$SLOW_N") of $SLOW_N"; return 1; }
	echo "backup holds all $SLOW_N injected sessions (pinned ns_sessions, key by key)"
	a=$(sync_json "$SOCK_A")
	b=$(sync_json "$SOCK_B")
	python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("primary: role %s, tracked %d, bulk %s; backup: role %s, tracked %d, bulk %s" % (
      a["role"], a["tracked_sessions"], a["bulk"]["state"], b["role"],
      b["tracked_sessions"], b["bulk"]["state"]))
assert a["role"] == "primary" and b["role"] == "backup", "roles"
assert a["state"] == "established" and b["ready"], "not in sync"
' "$a" "$b" || return 1
	# natsyncctl only: a bpftool dump of 80,000 entries takes too long.
	for i in 1 2 3 4 5 6 10; do
		wait_for 10 flow_on_backup $((41100 + i)) ||
			{ echo "flow $((41100 + i)) (created while frozen) missing on the backup:" \
			       "primary $(session_of "$SOCK_A" udp "$CLI1" $((41100 + i)))," \
			       "backup $(session_of "$SOCK_B" udp "$CLI1" $((41100 + i)))"; return 1; }
	done
	echo "the 7 flows created while the backup was frozen or gone are on it too"
}

# ---- scenario ---------------------------------------------------------------

topo
KEY=$NST_TMP/pair.key
printf 'nss-test-pair-key-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$KEY"
chmod 600 "$KEY"
CFG_A=$NST_TMP/a.cfg
CFG_B=$NST_TMP/b.cfg
CFG_BAD=$NST_TMP/b-bad.cfg
write_config "$CFG_A" "$P-a" 192.0.2.1 192.0.2.2 "$PIN_A" "$SOCK_A" primary 300
write_config "$CFG_B" "$P-b" 192.0.2.2 192.0.2.1 "$PIN_B" "$SOCK_B" backup 300
nsd_start "$P-a" "$CFG_A" "$SOCK_A" "$PIN_A" "$NST_TMP/a.log" || nst_die "primary did not start"
PID_A=$NSD_PID
nsd_start "$P-b" "$CFG_B" "$SOCK_B" "$PIN_B" "$NST_TMP/b.log" || nst_die "backup did not start"
PID_B=$NSD_PID

wait_for 20 backup_ready
check "a: sync channel up, roles, fingerprints, backup ready" chk_channel_up

udp_echo_start "$P-srv" 6000 || nst_die "udp echo server"
check "setup: TCP session through the primary" tcp_hold_start "$P-cli1" "$SRV1" 5001 43001
check "setup: UDP sessions (ss1, ss2) through the primary" \
	eval 'udp_session $P-cli1 $SRV1 41002 && udp_session $P-cli2 $SRV2 42001'
# Check b means something only while replication works: the first sessions
# reach the backup once they are older than the threshold.
wait_for $((THRESHOLD + 20)) chk_replicated udp 41002
check "setup: replication runs (an older UDP session is on the backup)" chk_replicated udp 41002
check "b: a session younger than the threshold is not replicated" chk_young_absent
nst_log "b: $YOUNG_NOTE"
wait_for $((THRESHOLD + 20)) chk_replicated udp "$YOUNG_PORT"
check "c: UDP session older than the threshold is on the backup" chk_replicated udp "$YOUNG_PORT"
wait_for 20 chk_replicated tcp 43001
check "c: TCP session older than the threshold is on the backup" chk_replicated tcp 43001
check "d: opt-out service set never replicated" chk_optout_absent
check "e: session closed on the primary disappears on the backup" chk_closed_removed
check "f: restarted backup gets everything back by bulk sync" chk_bulk_after_restart
check "g: config mismatch refused, loudly" chk_mismatch_refused
check "h: a backup with another key is refused" chk_wrong_key_refused
write_maps_py
check "i: setup: backup back with the pair's key, ready" chk_backup_back
DEAD0=$(nsd_sync_counter "$SOCK_A" dead_peer)
check "i: slow (frozen) peer: primary forwards, answers, stays bounded" chk_slow_peer_bounded
check "i: frozen peer declared dead: logged, connection dropped" chk_slow_peer_dropped "$DEAD0"
check "i: after SIGCONT the backup gets every session back" chk_slow_peer_recovers
nst_check_no_leak "$P-cli1" "$P-cli2" "$P-a" "$P-b" "$P-srv" "$P-stub" ||
	check "no veth leaves the test" false
nsd_stop "$PID_A"
check "primary exits cleanly on SIGTERM" test "$NSD_RC" = 0
nst_finish
