#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_restart.sh - operating natsyncd under traffic never loses a flow:
# restart (kill -9), reload (valid and invalid), session map full, pool
# exhausted. The single-box lab (topo_single_box), namespaces nso-cli,
# nso-box, nso-srv; pins /sys/fs/bpf/nso-restart; socket /run/nso-restart.sock.
#
# Long-lived flows (tests/netns/nso_stream.py: TCP with a verified byte
# pattern, UDP with sequence numbers, a chunk every 10 ms each way) run
# through the box for the whole scenario. Each phase marks a window in the
# stream client (SIGUSR1) and afterwards requires: no reset, EOF or data
# mismatch, no gap longer than MAX_GAP seconds between two chunks received
# on any flow, and every flow still moving.
#
#  1  kill -9 natsyncd: flows keep going through the attached program and
#     the pinned maps; the restart adopts the maps: the same sessions with
#     the same pool bindings; one XDP program per interface, the old one
#     replaced; the longest gap is measured and printed
#  2  reload with a changed valid config (SIGHUP adds a firewall term,
#     natsyncctl reload changes a timeout): applied (show config, the new
#     term discards), flows and sessions unaffected
#  3  reload with an invalid config (natsyncctl reload and SIGHUP): refused
#     with FILE:LINE: key: reason in the log, reload_failures counted, the
#     old config still in force; a reload that changes max-sessions too
#  4  session map full (max-sessions 16): new flows refused, drop_session_full
#     counted, SESSION_FULL and the 90 % warning logged, existing flows
#     unaffected
#  5  pool exhausted (one address, port-range of 4 ports): new flows refused,
#     drop_pool_exhausted counted, POOL_EXHAUSTED logged, show pools at
#     100 %, existing flows unaffected
#  6  ring buffer full (natsyncd stopped with SIGSTOP while 50000 new sessions
#     open, two events each, more than the 4 MB ring holds): the sessions are
#     created all the same, the lost events are counted (event_lost) and
#     warned about once natsyncd runs again, every event is either logged or
#     counted lost, existing flows unaffected
#  7  one subscriber floods 5000 new flows past max-sessions-per-subscriber
#     (100): it keeps exactly 100 sessions, the rest are refused, counted
#     (drop_subscriber_limit) and logged (SUBSCRIBER_LIMIT, sampled and
#     rate-limited); another subscriber's flows and new flows are unaffected
#
#   NATSYNC_BUILD=build tests/netns/test_restart.sh
#   NSO_MODE=tc tests/netns/test_restart.sh      # attach mode (default auto)
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

MODE=${NSO_MODE:-auto}
MAX_GAP=${NSO_MAX_GAP:-1.0}   # seconds: the longest tolerated silence on a flow
STREAM=$(dirname "$0")/nso_stream.py
P=nso
BOX=$P-box
CLI=$P-cli
SRV=$P-srv
PIN=/sys/fs/bpf/$P-restart
SOCK=/run/$P-restart.sock
TCP_PORT=5001
UDP_PORT=5002
DISCARD_PORT=5009             # UDP, answered until a reload adds a discard term

nst_init "$P"
nst_need_natsync
nst_need_tools tc python3 ss

CFG=$NST_TMP/box.cfg

# write_config FILE [KEY=VALUE...]: the box's config. Keys: maxs (max-sessions),
# udp (udp timeout), pool (address list), port (pool port settings),
# term (extra firewall term ahead of the accept-all), syslog, extra (more
# top-level keys), pooling (address-pooling setting of the NAT term).
write_config()
{
	local f=$1 maxs=1024 udp=60 pool="\"203.0.113.0/28\"" port='port = "automatic";'
	local term="" syslog='syslog = [ "session-logs", "nat-logs" ];' extra="" kv
	local pooling='address-pooling = "paired";'

	shift
	for kv in "$@"; do
		case "$kv" in
		maxs=*) maxs=${kv#*=} ;;
		udp=*) udp=${kv#*=} ;;
		pool=*) pool=${kv#*=} ;;
		port=*) port=${kv#*=} ;;
		term=*) term=${kv#*=} ;;
		syslog=*) syslog=${kv#*=} ;;
		extra=*) extra=${kv#*=} ;;
		pooling=*) pooling=${kv#*=} ;;
		*) nst_die "write_config: bad key $kv" ;;
		esac
	done
	nsd_cfg_open nso-box "$PIN" "$SOCK" log=info max-sessions="$maxs" aging-interval-ms=200 \
		attach-mode="$MODE" timeouts="tcp-syn=10 tcp-established=300 tcp-closing=5
		tcp-time-wait=2 tcp-rst=2 udp=$udp icmp=5 other=5 port-hold=0 binding=0" >"$f"
	cat >>"$f" <<EOF
  $extra
  services: {
    nat: {
      pools = ( { name = "p1"; address = [ $pool ]; $port
                  port-allocation = "random"; address-allocation = "round-robin"; } );
      rules = ( { name = "r1"; match-direction = "input";
                  terms = ( { name = "t1";
                              from = { source-address = [ "100.64.0.0/10" ]; };
                              then = { translation-type = "napt-44"; source-pool = "p1";
                                       $pooling }; } ); } );
    };
    stateful-firewall: {
      rules = ( { name = "fw1"; match-direction = "input";
                  terms = ( $term
                            { name = "inside-out";
                              from = { source-address = [ "100.64.0.0/10" ]; };
                              then = "accept"; } ); } );
    };
    service-sets = ( { name = "ss1"; nat-rules = [ "r1" ]; stateful-firewall-rules = [ "fw1" ];
                       $syslog
                       next-hop-service = { inside-service-interface = "$P-in";
                                            outside-service-interface = "$P-out"; }; } );
  };
};
EOF
}

DISCARD_TERM="{ name = \"no-$DISCARD_PORT\"; from = { protocol = [ \"udp\" ]; destination-port = [ \"$DISCARD_PORT\" ]; }; then = \"discard\"; },"

# ---- helpers ---------------------------------------------------------------

fingerprint() { nsd_json "$SOCK" show config | json_get "j['fingerprint']"; }

# xdp_ids IF: the XDP program ids attached to IF in the box (one per line).
xdp_ids() { ip -n "$BOX" -d link show "$1" | grep -o 'prog/xdp id [0-9]*' | awk '{print $3}'; }
tc_ours() { ip netns exec "$BOX" tc filter show dev "$1" ingress | grep -c 'handle 0x4e53'; }

# attach_snapshot: "IF:xdp-ids:tc-filters" for both box interfaces.
attach_snapshot()
{
	local i

	for i in "$P-in" "$P-out"; do
		printf '%s:%s:%s\n' "$i" "$(xdp_ids "$i" | tr '\n' ',')" "$(tc_ours "$i")"
	done
}

# one_program_each: exactly one natsync program on each interface: one XDP
# program (XDP modes) or one TC filter of ours (tc), never both.
one_program_each()
{
	local i nx nt

	for i in "$P-in" "$P-out"; do
		nx=$(xdp_ids "$i" | grep -c .)
		nt=$(tc_ours "$i")
		echo "$i: $nx XDP program(s), $nt natsync TC filter(s)"
		[ $((nx + nt)) -eq 1 ] || return 1
	done
}

# sessions_key: the stream's sessions (to the stream server's ports) as
# sorted "proto in:port -> remote:port nat addr:port" lines: what must survive
# a restart or reload unchanged.
sessions_key()
{
	nsd_json "$SOCK" show sessions src="$LAB_CLI_ADDR" | python3 -c '
import json, sys
j = json.load(sys.stdin)
for s in sorted(j["sessions"], key=lambda s: (s["proto"], s["inside"]["port"])):
    if s["remote"]["port"] not in (int(sys.argv[1]), int(sys.argv[2])):
        continue
    print("%s %s:%s -> %s:%s nat %s:%s" % (s["proto"], s["inside"]["addr"], s["inside"]["port"],
          s["remote"]["addr"], s["remote"]["port"], s["nat"]["addr"], s["nat"]["port"]))' \
		$TCP_PORT $UDP_PORT
}

# ---- the stream -------------------------------------------------------------

STATS=""
CLIENT_PID=""

# stream_start NTCP NUDP SPORT_BASE: start the long-lived flows; wait until
# every flow has received something.
stream_start()
{
	STATS=$NST_TMP/stream-$3.json
	rm -f "$STATS"
	bg_start "$NST_TMP/stream-$3.log" "$CLI" python3 "$STREAM" client \
		--host "$LAB_SRV_ADDR" --tcp-port $TCP_PORT --udp-port $UDP_PORT \
		--tcp "$1" --udp "$2" --sport-base "$3" --stats "$STATS"
	CLIENT_PID=$NST_LAST_PID
	wait_for 10 stream_all_moving 0
}

# stream_t: the stream client's clock (CLOCK_MONOTONIC, seconds) at its
# last stats write ("t" in the stats file).
stream_t()
{
	local doc

	doc=$(cat "$STATS" 2>/dev/null) || return 1
	[[ $doc =~ \"t\":\ ([0-9.]+) ]] && echo "${BASH_REMATCH[1]}"
}

# stream_written_after T: the client wrote its stats after T (its clock).
stream_written_after()
{
	local t

	t=$(stream_t) || return 1
	awk -v t="$t" -v T="$1" 'BEGIN { exit !(t > T) }'
}

# stream_observe SECONDS: wait until the stream client has written stats
# that cover SECONDS of its own time from now (CLOCK_MONOTONIC, as its "t"):
# whatever happened before now has shown in its gaps by then, even when a
# loaded machine let it run late.
stream_observe()
{
	local now

	now=$(python3 -c 'import time; print(time.monotonic())') || return 1
	wait_for $((${1%.*} + 20)) stream_written_after "$(awk -v a="$now" -v b="$1" 'BEGIN { printf "%.3f", a + b }')" ||
		nst_err "the stream client wrote no stats for ${1}s"
}

# stream_py EXPR: evaluate EXPR with F = the list of flows in the stats.
stream_py()
{
	[ -s "$STATS" ] || { echo "no stats yet"; return 1; }
	python3 -c '
import json, sys
F = json.load(open(sys.argv[1]))["flows"]
r = eval(sys.argv[2])
print(r if not isinstance(r, bool) else "")
sys.exit(0 if r is not False else 1)' "$STATS" "$1"
}

# stream_all_moving [MIN_RECV]: every flow alive, received more than MIN_RECV
# units, and the last chunk arrived less than MAX_GAP ago.
stream_all_moving()
{
	stream_py "len(F) > 0 and all(f['alive'] and f['recv'] > $1 and f['since_last_rx'] is not None and f['since_last_rx'] < $MAX_GAP for f in F)"
}

# stream_mark: start a new window (the client resets its window maxima),
# and wait for the first stats write that follows the reset: one whose
# clock reading came 50 ms after the signal was sent.
stream_mark()
{
	local t

	t=$(python3 -c 'import os, signal, sys, time
os.kill(int(sys.argv[1]), signal.SIGUSR1)
print(time.monotonic() + 0.05)' "$CLIENT_PID") || return 1
	wait_for 20 stream_written_after "$t" || nst_err "the stream client wrote no stats after the mark"
}

# stream_total_recv: the sum of what every flow received so far.
stream_total_recv() { stream_py "sum(f['recv'] for f in F)"; }

# stream_window_gap: the longest gap since the last mark, over all flows.
stream_window_gap() { stream_py "max(max(f['win_max_gap'], f['since_last_rx'] or 0) for f in F)"; }

# stream_ok: the window's verdict: no errors, every flow alive and moving,
# longest gap below MAX_GAP. Prints the numbers either way.
stream_ok()
{
	stream_py "print('\n'.join('%s %s: sent %d recv %d gap %.3fs (window %.3fs, last rx %ss ago) errors %s' % (f['kind'], f['sport'], f['sent'], f['recv'], f['max_gap'], f['win_max_gap'], f['since_last_rx'], f['errors']) for f in F)) or True" &&
		stream_py "all(not f['errors'] and f['alive'] for f in F)" >/dev/null &&
		stream_all_moving 0 >/dev/null &&
		stream_py "max(f['win_max_gap'] for f in F) < $MAX_GAP" >/dev/null
}

# stream_report WHAT: log the longest gap of the current window.
stream_report()
{
	nst_log "longest gap on any flow during $1: $(stream_window_gap)s"
}

stream_stop()
{
	bg_stop "$CLIENT_PID"
	CLIENT_PID=""
}

# ---- probes (new flows) -------------------------------------------------------

# probe PROTO PORT COUNT SPORT_BASE: try COUNT new flows, in the background:
# the successful ones stay open (for PROBE_HOLD seconds, default 30: a TCP
# probe that closed would release its binding). Sets PROBE_OK and PROBE_FAIL.
probe()
{
	local out=$NST_TMP/probe-$4.json

	rm -f "$out"
	bg_start "$out" "$CLI" python3 "$STREAM" probe --host "$LAB_SRV_ADDR" --port "$2" \
		--proto "$1" --count "$3" --sport-base "$4" --timeout 1 --hold "${PROBE_HOLD:-30}"
	wait_for $(($3 * 2 + 5)) grep -q '"ok"' "$out"
	echo "probe $1/$2 x$3: $(cat "$out")"
	PROBE_OK=$(head -n1 "$out" | json_get 'j["ok"]')
	PROBE_FAIL=$(head -n1 "$out" | json_get 'j["fail"]')
}

# udp_answered SPORT: one new UDP flow to DISCARD_PORT gets its echo.
udp_answered()
{
	local out

	out=$(ip netns exec "$CLI" python3 "$STREAM" probe --host "$LAB_SRV_ADDR" \
		--port $DISCARD_PORT --proto udp --count 1 --sport-base "$1" --timeout 1)
	[ "$(json_get 'j["ok"]' <<<"$out")" = 1 ]
}
udp_unanswered() { ! udp_answered "$1"; }

# greater A B: A > B (integers)
greater() { echo "$1 > $2"; [ "$1" -gt "$2" ]; }
log_has() { grep -E -- "$2" "$1"; }

# restart_daemon LOG: SIGTERM the daemon, purge its pins (a new
# max-sessions needs fresh maps), start it again with $CFG, logging to LOG.
restart_daemon()
{
	nsd_stop "$NSD_PID" 10
	nsd_purge "$BOX" "$CFG" >/dev/null 2>&1
	nsd_start "$BOX" "$CFG" "$SOCK" "$PIN" "$1"
}

# ---- named checks ---------------------------------------------------------------

# six_on_one_addr: the stream's 6 sessions, all on one pool address (paired).
six_on_one_addr()
{
	local s

	s=$(sessions_key) || return 1
	echo "$s"
	[ "$(grep -c . <<<"$s")" = 6 ] &&
		[ "$(awk '{print $5}' <<<"$s" | cut -d: -f1 | sort -u | grep -c .)" = 1 ]
}

# same_text A B: A and B are equal and not empty (both printed).
same_text()
{
	printf 'expected:\n%s\ngot:\n%s\n' "$1" "$2"
	[ -n "$1" ] && [ "$1" = "$2" ]
}

# differ A B: A and B differ.
differ()
{
	printf 'before: %s\nafter:  %s\n' "$1" "$2"
	[ "$1" != "$2" ]
}

# config_is FP_OLD NTERMS: a fingerprint other than FP_OLD and NTERMS
# firewall terms.
config_is()
{
	local fp n

	fp=$(fingerprint) && n=$(nsd_json "$SOCK" show config | json_get "j['firewall_terms']") || return 1
	echo "fingerprint $1 -> $fp, firewall terms $n (want $2)"
	[ "$fp" != "$1" ] && [ "$n" = "$2" ]
}

# equals A B: A = B (printed).

# udp_remaining_above SECONDS: every UDP session of the subscriber has more
# than SECONDS left (the timeout computed from the running config).
udp_remaining_above()
{
	nsd_json "$SOCK" show sessions proto=udp src="$LAB_CLI_ADDR" | python3 -c '
import json, sys
S = json.load(sys.stdin)["sessions"]
print([(s["inside"]["port"], s["remaining_s"]) for s in S])
sys.exit(0 if S and all(s["remaining_s"] > int(sys.argv[1]) for s in S) else 1)' "$1"
}

# reload_fails: natsyncctl reload exits 3 (refused, not unreachable).
reload_fails()
{
	local rc

	nsd_ctl "$SOCK" reload
	rc=$?
	echo "natsyncctl reload: exit $rc"
	[ $rc -eq 3 ]
}

# probe_result OK FAIL: the last probe had OK successes and FAIL failures
# ("-" = any).
probe_result()
{
	echo "ok $PROBE_OK (want $1), fail $PROBE_FAIL (want $2)"
	{ [ "$1" = - ] || [ "$PROBE_OK" = "$1" ]; } && { [ "$2" = - ] || [ "$PROBE_FAIL" = "$2" ]; }
}

# session_count: sessions in the table (every service set).
session_count() { nsd_json "$SOCK" show sessions | json_get 'len(j["sessions"])'; }

# pool_full NPROTO: show pools reports tcp and udp bindings = 4 and 100 %.
pool_full()
{
	local out

	out=$(nsd_ctl "$SOCK" show pools) || return 1
	echo "$out"
	grep -Eq 'in use +tcp 4, udp 4' <<<"$out" && grep -Eq 'usage +100' <<<"$out"
}

# sessions_in_range ADDR LO HI COUNT: COUNT sessions, every one on ADDR:LO..HI.
sessions_in_range()
{
	nsd_json "$SOCK" show sessions | python3 -c '
import json, sys
a, lo, hi, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
S = json.load(sys.stdin)["sessions"]
bad = [s for s in S if s["nat"]["addr"] != a or not lo <= s["nat"]["port"] <= hi]
print(len(S), "sessions; outside the range:", bad)
sys.exit(1 if bad or len(S) != n else 0)' "$@"
}

# srv_udp_noports: UDP datagrams the server got for a port nobody has open
# (Udp NoPorts of its namespace).
srv_udp_noports()
{
	ip netns exec "$SRV" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "NoPorts") f = i; h = 1 } else print $f }' /proc/net/snmp
}
srv_udp_noports_ge() { [ "$(srv_udp_noports)" -ge "$1" ]; }

# log_count_ge LOG REGEX N: at least N lines of LOG match REGEX.
log_count_ge() { [ "$(grep -Ec -- "$2" "$1")" -ge "$3" ]; }

# ---- the lab -------------------------------------------------------------------

topo_single_box "$P"
bg_start "$NST_TMP/server.log" "$SRV" python3 "$STREAM" server --tcp-port $TCP_PORT \
	--udp-port $UDP_PORT --udp-port $DISCARD_PORT
wait_for 5 tcp_listening "$SRV" $TCP_PORT || nst_die "stream server did not start"

write_config "$CFG"
LOG1=$NST_TMP/natsyncd-1.log
nsd_start "$BOX" "$CFG" "$SOCK" "$PIN" "$LOG1" || nst_die "natsyncd did not start"

check "the long-lived flows start (4 TCP, 2 UDP)" stream_start 4 2 41000
wait_for 10 six_on_one_addr
check "six sessions, all on one pool address (paired)" six_on_one_addr

# ---- 1: kill -9 and restart ---------------------------------------------------

before=$(sessions_key)
before_attach=$(attach_snapshot)
stream_mark
{ kill -KILL "$NSD_PID"; wait "$NSD_PID"; } 2>/dev/null # no "Killed" job notice
rx0=$(stream_total_recv)
# The thing tested: the flows run on without a daemon for 2 s (as the
# stream client counts them).
stream_observe 2
rx1=$(stream_total_recv)
check "1 without natsyncd the flows keep moving (pinned program and maps)" greater "$rx1" "$rx0"
check "1 the programs stay attached while natsyncd is dead" \
	same_text "$before_attach" "$(attach_snapshot)"
LOG2=$NST_TMP/natsyncd-2.log
check "1 natsyncd restarts over the leftovers" nsd_start "$BOX" "$CFG" "$SOCK" "$PIN" "$LOG2"
stream_observe 2 # a gap the restart caused shows within this
check "1 flows undisturbed across kill -9 + restart (no reset, no gap > ${MAX_GAP}s)" stream_ok
GAP1=$(stream_window_gap)
nst_log "longest traffic gap during kill -9 + restart: ${GAP1}s (a chunk every 10 ms)"
check "1 the restart lists the same sessions with the same pool bindings" \
	same_text "$before" "$(sessions_key)"
check "1 one program per interface, nothing stacked" one_program_each
if [ "$MODE" != tc ]; then
	check "1 the leftover XDP program was replaced (new id)" \
		differ "$before_attach" "$(attach_snapshot)"
	check "1 the restart says it replaced the program" \
		log_has "$LOG2" "replacing natsync XDP program id"
fi

# ---- 2: reload with a changed, valid config -------------------------------------

check "2 before the reload UDP to port $DISCARD_PORT is answered" udp_answered 42000
fp0=$(fingerprint)
nterms0=$(nsd_json "$SOCK" show config | json_get "j['firewall_terms']")
discard0=$(nsd_counter "$SOCK" drop_fw_discard)
reloads0=$(nsd_dcounter "$SOCK" reloads)
status_of() { nsd_json "$SOCK" show status | json_get "j['$1']"; }
bank0=$(status_of config_bank)
flips0=$(status_of config_flips)
stream_mark
write_config "$CFG" term="$DISCARD_TERM"
kill -HUP "$NSD_PID"
check "2 SIGHUP applies the changed file" wait_for 5 log_has "$LOG2" "reload: .* applied"
check "2 show config: new fingerprint, one more firewall term" \
	config_is "$fp0" $((nterms0 + 1))
check "2 the new term is in force: UDP to port $DISCARD_PORT discarded" udp_unanswered 42001
check "2 ... and counted (drop_fw_discard)" greater "$(nsd_counter "$SOCK" drop_fw_discard)" "$discard0"
write_config "$CFG" term="$DISCARD_TERM" udp=90
check "2 natsyncctl reload applies a changed timeout" nsd_ctl "$SOCK" reload
check "2 show config: udp timeout 90 s" \
	equals "$(nsd_json "$SOCK" show config | json_get "j['timeouts_s']['udp']")" 90
check "2 the sessions' remaining time follows the new timeout (> 60 s)" udp_remaining_above 60
check "2 both reloads counted" equals "$(nsd_dcounter "$SOCK" reloads)" $((reloads0 + 2))
# each reload was put in force by a flip of the config bank (atomic reload):
# two flips, and the bank in force is the one it started from
check "2 show status: two config bank flips" equals "$(status_of config_flips)" $((flips0 + 2))
check "2 show status: back on config bank $bank0 after two flips" \
	equals "$(status_of config_bank)" "$bank0"
stream_observe 1
check "2 flows undisturbed by both reloads" stream_ok
stream_report "the two reloads"
check "2 the sessions survived the reloads" same_text "$before" "$(sessions_key)"

# Two reloads back to back (within a millisecond, one client process): the
# second comes while the bank the first flipped away from may still be read
# by a packet, so it is checked at once, answered "in force in N ms" and put
# in force by the reload timer: the daemon never sleeps in its loop for it.
# ctl_pair: send both requests, print both answers (one line each).
ctl_pair()
{
	ip netns exec "$BOX" python3 - "$SOCK" <<'PY'
import socket, sys
def req(line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(line)
    return s
a = req(b"reload\n"); b = req(b"reload\n")
for s in (a, b):
    out = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        out += c
    print(out.decode().replace("\n", " | ").strip())
PY
}
deferred0=$(nsd_dcounter "$SOCK" reloads_deferred)
reloads1=$(nsd_dcounter "$SOCK" reloads)
write_config "$CFG" term="$DISCARD_TERM" udp=91
pair=$(ctl_pair)
nst_log "two reloads back to back: $pair"
check "2b two reloads back to back: both answered OK, the second deferred" \
	eval 'grep -c "^OK" <<<"$pair" | grep -qx 2 && grep -q "in force in [0-9]* ms" <<<"$pair"'
check "2b ... the deferred one is counted (reloads_deferred)" \
	equals "$(nsd_dcounter "$SOCK" reloads_deferred)" $((deferred0 + 1))
check "2b ... and both are applied (reloads +2, wait)" \
	wait_for 5 eval '[ "$(nsd_dcounter "$SOCK" reloads)" = $((reloads1 + 2)) ]'
check "2b show config: udp timeout 91 s" \
	equals "$(nsd_json "$SOCK" show config | json_get "j['timeouts_s']['udp']")" 91

# ---- 3: reload with an invalid config --------------------------------------------

GOOD=$NST_TMP/good.cfg
cp "$CFG" "$GOOD"
fp1=$(fingerprint)
fail0=$(nsd_dcounter "$SOCK" reload_failures)
flips1=$(status_of config_flips)
stream_mark
# a typo in a key: the loader names file, line, key and reason
sed 's/aging-interval-ms = 200;/aging-intervall-ms = 200;/' "$GOOD" >"$CFG"
check "3 natsyncctl reload of an invalid file is refused (exit 1)" reload_fails
check "3 the log names file:line: key: reason" wait_for 5 log_has "$LOG2" \
	"reload: $CFG:[0-9]+: natsync\.aging-intervall-ms: unknown key.*keeping the running config"
kill -HUP "$NSD_PID"
check "3 SIGHUP with the invalid file is refused too" \
	wait_for 5 log_count_ge "$LOG2" "natsync\.aging-intervall-ms: unknown key" 2
# a valid file that changes what only a restart can apply
write_config "$CFG" term="$DISCARD_TERM" udp=90 maxs=2048
check "3 a reload that changes max-sessions is refused" reload_fails
check "3 ... with the reason in the log" \
	wait_for 5 log_has "$LOG2" "max-sessions.*restart natsyncd to apply"
check "3 reload_failures counted all three" equals "$(nsd_dcounter "$SOCK" reload_failures)" $((fail0 + 3))
check "3 the running config is unchanged (fingerprint)" equals "$(fingerprint)" "$fp1"
check "3 no config bank flip for a refused reload" equals "$(status_of config_flips)" "$flips1"
check "3 the old config is still in force (UDP to $DISCARD_PORT discarded)" udp_unanswered 42002
check "3 the daemon still runs" kill -0 "$NSD_PID"
cp "$GOOD" "$CFG"
stream_observe 1
check "3 flows undisturbed by the refused reloads" stream_ok
stream_report "the refused reloads"
check "3 the sessions survived" same_text "$before" "$(sessions_key)"
stream_stop

# ---- 4: session map full ----------------------------------------------------------

# 16 sessions at most (the smallest max-sessions). The stream takes 6;
# of 14 more UDP flows 10 fit and the rest must be refused.
write_config "$CFG" maxs=16 syslog=""
LOG4=$NST_TMP/natsyncd-4.log
check "4 natsyncd restarts with max-sessions 16 (fresh maps)" restart_daemon "$LOG4"
check "4 the long-lived flows start (4 TCP, 2 UDP)" stream_start 4 2 43000
full0=$(nsd_counter "$SOCK" drop_session_full)
ex0=$(nsd_counter "$SOCK" drop_pool_exhausted)
stream_mark
probe udp $UDP_PORT 14 44000
check "4 new flows beyond max-sessions are refused (10 of 14 fit)" probe_result 10 4
check "4 ... counted as drop_session_full" greater "$(nsd_counter "$SOCK" drop_session_full)" "$full0"
# the binding map (ns_ports) must not run full before the session map:
# that would count a full table as an exhausted pool
check "4 ... and not as drop_pool_exhausted" equals "$(nsd_counter "$SOCK" drop_pool_exhausted)" "$ex0"
check "4 ... and logged (SESSION_FULL warning)" \
	wait_for 3 log_has "$LOG4" "SESSION_FULL svc=ss1 udp $LAB_CLI_ADDR:44"
check "4 the aging pass warns that the table is nearly full" \
	wait_for 3 log_has "$LOG4" "over 90% of max-sessions 16"
check "4 the table holds 16 sessions" equals "$(session_count)" 16
stream_observe 1
check "4 the existing flows are undisturbed" stream_ok
stream_report "the session map full phase"
stream_stop

# ---- 5: pool exhausted --------------------------------------------------------------

# One address, 4 ports per protocol: the stream holds 3 TCP and 2 UDP; one
# more TCP and two more UDP flows fit, the rest must be refused.
write_config "$CFG" pool='"203.0.113.5"' port='port-range = [ 40000, 40003 ];' syslog=""
LOG5=$NST_TMP/natsyncd-5.log
check "5 natsyncd restarts with a 1-address, 4-port pool" restart_daemon "$LOG5"
check "5 the long-lived flows start (3 TCP, 2 UDP)" stream_start 3 2 45000
ex0=$(nsd_counter "$SOCK" drop_pool_exhausted)
stream_mark
probe tcp $TCP_PORT 3 46000
check "5 TCP: one more flow fits, two are refused" probe_result 1 2
probe udp $UDP_PORT 4 46100
check "5 UDP: two more flows fit, two are refused" probe_result 2 2
check "5 refusals counted as drop_pool_exhausted" greater "$(nsd_counter "$SOCK" drop_pool_exhausted)" "$ex0"
check "5 ... and logged (POOL_EXHAUSTED warning)" \
	wait_for 3 log_has "$LOG5" "POOL_EXHAUSTED svc=ss1 pool=p1 (tcp|udp) $LAB_CLI_ADDR:46"
check "5 show pools: 4 tcp and 4 udp bindings, 100 % used" pool_full
check "5 every session uses 203.0.113.5:40000-40003" sessions_in_range 203.0.113.5 40000 40003 8
stream_observe 1
check "5 the existing flows are undisturbed" stream_ok
stream_report "the pool exhausted phase"
stream_stop

# ---- 6: ring buffer full ----------------------------------------------------------

# The 4 MB ring holds about 74900 events of 56 bytes; 50000 new sessions
# with session and NAT logs emit 100000 while natsyncd is stopped. Arbitrary
# pooling spreads the burst over the 16 pool addresses: paired pooling (the
# default) would put it on one address, 77 % full, where 32 random port
# probes fail now and then (about 1 flow in 50000 was refused that way).
FLOOD_N=50000
FLOOD_SPORT=47777
write_config "$CFG" maxs=65536 pooling='address-pooling = "arbitrary";'
LOG6=$NST_TMP/natsyncd-6.log
check "6 natsyncd restarts with max-sessions 65536" restart_daemon "$LOG6"
check "6 the long-lived flows start (2 TCP, 1 UDP)" stream_start 2 1 48000
new0=$(nsd_counter "$SOCK" session_new)
lost0=$(nsd_counter "$SOCK" event_lost)
pex0=$(nsd_counter "$SOCK" drop_pool_exhausted)
sfull0=$(nsd_counter "$SOCK" drop_session_full)
supp0=$(nsd_dcounter "$SOCK" events_suppressed)
stream_mark
noports0=$(srv_udp_noports)
kill -STOP "$NSD_PID"
out=$(ip netns exec "$CLI" python3 "$STREAM" flood --host "$LAB_SRV_ADDR" --sport $FLOOD_SPORT \
	--dport-first 10000 --count $FLOOD_N)
nst_log "flood while natsyncd is stopped: $out"
# The fast path has carried the burst (the server saw it, no port open
# there) while nobody read the events: 90 % is what check 6 requires.
wait_for 30 srv_udp_noports_ge $((noports0 + FLOOD_N * 9 / 10)) ||
	nst_err "the server saw $(($(srv_udp_noports) - noports0)) of the $FLOOD_N flood datagrams"
kill -CONT "$NSD_PID"
check "6 natsyncd answers again after SIGCONT" wait_for 10 nsd_ready "$NSD_PID" "$SOCK"
new1=$(nsd_counter "$SOCK" session_new)
check "6 the sessions were created while nobody read the events" \
	greater $((new1 - new0)) $((FLOOD_N * 9 / 10))
check "6 the events the full ring could not take are counted (event_lost)" \
	greater "$(nsd_counter "$SOCK" event_lost)" "$lost0"
check "6 ... and natsyncd warns about them" \
	wait_for 5 log_has "$LOG6" "events: [0-9]+ events lost, the ring buffer ns_events was full"

# every_event_accounted: the burst emitted two events per new session
# (SESSION_OPEN, NAT_ALLOC) and one per refused flow (POOL_EXHAUSTED,
# SESSION_FULL; normally none); each one was logged, rate-limited
# (events_suppressed) or lost (event_lost).
every_event_accounted()
{
	local lines warns supp lost refused emitted

	lines=$(grep -c "udp $LAB_CLI_ADDR:$FLOOD_SPORT -> " "$LOG6")
	warns=$(grep -Ec "POOL_EXHAUSTED .* udp $LAB_CLI_ADDR:$FLOOD_SPORT\$" "$LOG6")
	supp=$(( $(nsd_dcounter "$SOCK" events_suppressed) - supp0 ))
	lost=$(( $(nsd_counter "$SOCK" event_lost) - lost0 ))
	refused=$(( $(nsd_counter "$SOCK" drop_pool_exhausted) - pex0 + $(nsd_counter "$SOCK" drop_session_full) - sfull0 ))
	emitted=$(( (new1 - new0) * 2 + refused ))
	echo "logged $lines + $warns warnings + suppressed $supp + lost $lost;" \
		"emitted $emitted ($((new1 - new0)) new sessions, $refused refused)"
	[ $((lines + warns + supp + lost)) -eq "$emitted" ]
}
wait_for 20 every_event_accounted # the daemon may still be writing its log
check "6 every event of the burst is either logged or counted lost" every_event_accounted
nst_log "ring buffer burst: $(every_event_accounted)"
check "6 the existing flows are undisturbed" stream_ok
stream_report "the 50000-session burst with the ring buffer full"
stream_stop

# ---- 7: one subscriber floods new flows past its limit ------------------------

# max-sessions-per-subscriber 100. A second subscriber on the client
# (FLOODER) opens 5000 UDP flows; the stream's subscriber (LAB_CLI_ADDR)
# must not notice: its long-lived flows keep moving and it can still open
# new flows. Every refusal is counted; the log names the flooding
# subscriber (SUBSCRIBER_LIMIT, sampled in the fast path, rate-limited).
FLOODER=100.64.0.77
SUB_LIMIT=100
write_config "$CFG" maxs=65536 extra="max-sessions-per-subscriber = $SUB_LIMIT;"
LOG7=$NST_TMP/natsyncd-7.log
check "7 natsyncd restarts with max-sessions-per-subscriber $SUB_LIMIT" restart_daemon "$LOG7"
ip -n "$CLI" addr add "$FLOODER/24" dev eth0
check "7 the long-lived flows start (2 TCP, 1 UDP)" stream_start 2 1 49000

# sessions_of ADDR: live sessions whose inside address is ADDR.
sessions_of()
{
	nsd_json "$SOCK" show sessions | json_get \
		"sum(1 for s in j['sessions'] if s['inside']['addr'] == '$1')"
}
lim0=$(nsd_counter "$SOCK" drop_subscriber_limit)
stream_mark
out=$(ip netns exec "$CLI" python3 "$STREAM" flood --host "$LAB_SRV_ADDR" --src "$FLOODER" \
	--sport 47778 --dport-first 20000 --count 5000)
nst_log "flood of 5000 new flows from $FLOODER: $out"
lim1=$(nsd_counter "$SOCK" drop_subscriber_limit)
check "7 the flooding subscriber holds exactly $SUB_LIMIT sessions" \
	equals "$(sessions_of "$FLOODER")" "$SUB_LIMIT"
check "7 its other flows are refused and counted (drop_subscriber_limit)" \
	greater $((lim1 - lim0)) 4000
check "7 ... and logged, naming the subscriber (SUBSCRIBER_LIMIT)" \
	wait_for 5 log_has "$LOG7" "SUBSCRIBER_LIMIT svc=ss1 udp $FLOODER:47778 -> .*max-sessions-per-subscriber"
check "7 ... rate-limited: far fewer log lines than refusals" \
	greater 200 "$(grep -c SUBSCRIBER_LIMIT "$LOG7")"
probe udp $UDP_PORT 20 49100
check "7 the other subscriber still opens new flows (20 of 20)" probe_result 20 0
check "7 its refusals were not counted against it" \
	equals "$(nsd_counter "$SOCK" drop_subscriber_limit)" "$lim1"
stream_observe 1
check "7 the other subscriber's long-lived flows are undisturbed" stream_ok
stream_report "the flood from one subscriber"
stream_stop

check "no interface or route leaks to the host" nst_check_no_leak "$CLI" "$BOX" "$SRV"
nst_log "longest traffic gap during kill -9 + restart: ${GAP1}s"
nst_finish
