#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_daemon_lifecycle.sh - natsyncd's own life, without traffic: a bad
# config loads and attaches nothing; a good one pins BTF-typed maps and
# attaches XDP on both interfaces; a session written into the pinned map
# survives kill -9 + restart (maps adopted, the stale XDP program replaced,
# not stacked) and a stale one is aged out; SIGHUP with a broken file keeps
# the running config; SIGTERM detaches and keeps the pins; --purge removes
# them; attach mode tc creates (and removes) only the clsact it needs.
#
#   NATSYNC_BUILD=build tests/netns/test_daemon_lifecycle.sh
#
# Namespaces: nsdt-box (the box: interfaces nsdt-in, nsdt-out) and
# nsdt-peer (the other ends). Pins: /sys/fs/bpf/nsdt-lifecycle.
. "$(dirname "$0")/lib.sh"

[ -x "$NATSYNCD" ] || nst_die "$NATSYNCD not built (run: make BUILD=$NATSYNC_BUILD)"
nst_init nsdt
nst_need_tools bpftool tc python3

BOX=nsdt-box
PEER=nsdt-peer
PIN=/sys/fs/bpf/nsdt-lifecycle
PINV=$PIN/$NS_PIN_SUBDIR
SOCK=$NST_TMP/ctl.sock
NST_PINS+=("$PIN")   # removed by the lib on every exit path
NST_SOCKS+=("$SOCK")
NSD_PID=""

# write_config FILE MODE [INSIDE_IF]: a small NAPT box config.
write_config()
{
	cat >"$1" <<EOC
natsync: {
  node-name = "nsdt-box";
  pin-path = "$PIN";
  control-socket = "$SOCK";
  log: { level = "debug"; };
  max-sessions = 1024;
  aging-interval-ms = 200;
  attach-mode = "$2";
  timeouts: { udp = 2; icmp = 2; port-hold = 0; binding = 0; };
  services: {
    nat: {
      pools = ( { name = "p1"; address = [ "203.0.113.0/28" ]; port = "automatic"; } );
      rules = ( { name = "r1"; match-direction = "input";
                  terms = ( { name = "t1";
                              from = { source-address = [ "100.64.0.0/10" ]; };
                              then = { translation-type = "napt-44"; source-pool = "p1"; }; } ); } );
    };
    service-sets = ( { name = "ss1"; nat-rules = [ "r1" ];
                       syslog = [ "session-logs", "nat-logs" ];
                       next-hop-service = { inside-service-interface = "${3:-nsdt-in}";
                                            outside-service-interface = "nsdt-out"; }; } );
  };
};
EOC
}

# start CFG LOG: natsyncd -f in the box (nsenter: keep the host's bpffs),
# wait until it logs that it runs. Sets NSD_PID.
start()
{
	nsenter --net="/var/run/netns/$BOX" "$NATSYNCD" -f -c "$1" >"$2" 2>&1 &
	NSD_PID=$!
	NST_DAEMONS+=("$NSD_PID:$BOX:$1")
	wait_for 15 grep -q "natsyncd running" "$2"
}

# alive PID: running (a daemonized process is reparented to PID 1, which in
# some containers never reaps it: a zombie counts as gone).
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
xdp_attached() { ip -n "$BOX" link show "$1" | grep -qw xdp; }
no_xdp() { ! ip -n "$BOX" link show "$1" | grep -qw xdp; }
xdp_id() { ip -n "$BOX" -d link show "$1" | grep -o 'prog/xdp id [0-9]*' | awk '{print $3}'; }
xdp_count() { ip -n "$BOX" -d link show "$1" | grep -c 'prog/xdp id'; }
no_pins() { [ ! -e "$PINV" ]; }
all_pins()
{
	local m

	for m in ns_sessions ns_session_rev ns_ports ns_eim ns_paired ns_pools ns_svc \
		ns_fw_terms ns_nat_terms ns_ifaces ns_config ns_counters ns_events; do
		[ -e "$PINV/$m" ] || { echo "missing pin $m"; return 1; }
	done
}
# The pinned maps carry BTF: bpftool prints the struct's field names.
config_typed()
{
	bpftool map dump pinned "$PINV/ns_config" | grep -q '"n_svc"' &&
		bpftool map dump pinned "$PINV/ns_sessions" >/dev/null
}

# session_hex LAST_SEEN_NS SPORT: key and value (hex bytes) of a UDP NAPT
# session 100.64.0.10:SPORT -> 198.51.100.10:53 via 203.0.113.1:SPORT.
session_hex()
{
	python3 - "$1" "$2" <<'EOP'
import socket, struct, sys
last, sport = int(sys.argv[1]), int(sys.argv[2])
def tup(s, sp, d, dp):
    return socket.inet_aton(s) + socket.inet_aton(d) + struct.pack("!HHB3x", sp, dp, 17)
ink = tup("100.64.0.10", sport, "198.51.100.10", 53)
outk = tup("198.51.100.10", 53, "203.0.113.1", sport)
val = ink + outk + struct.pack("<QQQQQQIHHHBBBB2x", 1, last, 1, 1, 60, 60, 0, 0, 0,
                                0xffff, 3, 0, 0, 0)
assert len(val) == 96
h = lambda b: " ".join("%02x" % c for c in b)
print("key hex %s value hex %s" % (h(ink), h(val)))
EOP
}
put_session() { eval bpftool map update pinned "$PINV/ns_sessions" "$(session_hex "$1" "$2")"; }
has_session()
{
	local key

	key=$(session_hex 1 "$1" | sed 's/ value.*//')
	eval bpftool map lookup pinned "$PINV/ns_sessions" "$key" >/dev/null 2>&1
}
no_session() { ! has_session "$1"; }

# ---- topology ---------------------------------------------------------
ns_add "$BOX"
ns_add "$PEER"
link_pair "$PEER" eth0 "$BOX" nsdt-in
link_pair "$BOX" nsdt-out "$PEER" eth1

GOOD=$NST_TMP/good.conf
write_config "$GOOD" auto

# ---- a bad config changes nothing ------------------------------------
BAD=$NST_TMP/bad.conf
sed 's/max-sessions = 1024;/max-sessions = "many";/' "$GOOD" >"$BAD"
check "--check accepts the good config" \
	bash -c "'$NATSYNCD' -c '$GOOD' --check | grep -qx OK"
check "--check rejects a bad config with file:line: key: reason" \
	bash -c "'$NATSYNCD' -c '$BAD' --check 2>&1 | grep -Eq '^$BAD:[0-9]+: .*max-sessions'"
check "--check exits 1 on a bad config" bash -c "! '$NATSYNCD' -c '$BAD' --check"
nsenter --net="/var/run/netns/$BOX" "$NATSYNCD" -f -c "$BAD" >"$NST_TMP/bad.log" 2>&1
rc=$?
check "natsyncd exits non-zero on a bad config" test $rc -ne 0
check "a bad config pins nothing" no_pins
check "a bad config attaches nothing (nsdt-in)" no_xdp nsdt-in
check "a bad config attaches nothing (nsdt-out)" no_xdp nsdt-out

NOIF=$NST_TMP/noif.conf
write_config "$NOIF" auto nsdt-nosuch
nsenter --net="/var/run/netns/$BOX" "$NATSYNCD" -f -c "$NOIF" >"$NST_TMP/noif.log" 2>&1
rc=$?
check "a missing interface: non-zero exit" test $rc -ne 0
check "a missing interface is named in the error" grep -q "nsdt-nosuch.*does not exist" \
	"$NST_TMP/noif.log"
check "a missing interface pins and attaches nothing" \
	bash -c "[ ! -e '$PINV' ] && ! ip -n $BOX link show nsdt-out | grep -qw xdp"

# ---- start, pins, attach -------------------------------------------------
LOG1=$NST_TMP/run1.log
check "natsyncd starts (XDP, mode auto)" start "$GOOD" "$LOG1" || {
	sed 's/^/    | /' "$LOG1"
	nst_finish
}
check "every map is pinned under <pin-path>/$NS_PIN_SUBDIR" all_pins
check "pinned maps are BTF-typed (bpftool shows ns_cfg field names)" config_typed
check "XDP attached on nsdt-in" xdp_attached nsdt-in
check "XDP attached on nsdt-out" xdp_attached nsdt-out

# A stale session (last seen at boot + 1 ns) is aged out by the running
# daemon; one seen "in the future" stays.
put_two() { put_session 1 1111 && put_session 18446744073709551000 2222; }
check "write a stale and a live session into the pinned map" put_two
check "aging removes the stale session" wait_for 5 no_session 1111
check "aging logs SESSION_CLOSE for it" grep -q \
	"SESSION_CLOSE svc=ss1 udp 100.64.0.10:1111 -> 198.51.100.10:53 nat 203.0.113.1:1111" "$LOG1"
check "aging keeps the live session" has_session 2222

# ---- kill -9, restart: adopt, replace ---------------------------------
old_id=$(xdp_id nsdt-in)
{ kill -KILL "$NSD_PID"; wait "$NSD_PID"; } 2>/dev/null # no "Killed" job notice
check "after kill -9 the XDP program stays attached (traffic keeps flowing)" \
	xdp_attached nsdt-in
LOG2=$NST_TMP/run2.log
check "natsyncd restarts over the leftovers" start "$GOOD" "$LOG2"
check "the restart adopted the pinned sessions" has_session 2222
check "the stale XDP program was replaced, not stacked" \
	bash -c "[ \"\$(ip -n $BOX -d link show nsdt-in | grep -c 'prog/xdp id')\" = 1 ] &&
		 [ \"\$(ip -n $BOX -d link show nsdt-in | grep -o 'prog/xdp id [0-9]*' |
			awk '{print \$3}')\" != '$old_id' ]"
check "the restart said so" grep -q "replacing natsync XDP program id $old_id" "$LOG2"

# ---- SIGHUP -------------------------------------------------------------
cp "$GOOD" "$NST_TMP/good.bak"
cp "$BAD" "$GOOD"
kill -HUP "$NSD_PID"
check "SIGHUP with a broken file keeps the running config" \
	wait_for 5 grep -q "keeping the running config" "$LOG2"
check "the daemon still runs after a failed reload" kill -0 "$NSD_PID"
cp "$NST_TMP/good.bak" "$GOOD"
kill -HUP "$NSD_PID"
check "SIGHUP with a valid file applies it" wait_for 5 grep -q "reload: .* applied" "$LOG2"
if [ -x "$NATSYNCCTL" ]; then
	check "natsyncctl reload applies the file too" nsd_ctl "$SOCK" reload
	cp "$BAD" "$GOOD"
	check "natsyncctl reload of a broken file fails, daemon keeps running" \
		bash -c "! '$NATSYNCCTL' -s '$SOCK' reload && kill -0 $NSD_PID"
	cp "$NST_TMP/good.bak" "$GOOD"
fi

# ---- SIGTERM, purge -------------------------------------------------------
nsd_stop "$NSD_PID" 10
check "SIGTERM: natsyncd exits 0" test "$NSD_RC" -eq 0
check "SIGTERM detaches XDP from nsdt-in" no_xdp nsdt-in
check "SIGTERM detaches XDP from nsdt-out" no_xdp nsdt-out
check "SIGTERM leaves the pinned maps (state outlives the daemon)" all_pins
check "--purge exits 0" nsenter --net="/var/run/netns/$BOX" "$NATSYNCD" -c "$GOOD" --purge
check "--purge removes <pin-path>/$NS_PIN_SUBDIR" no_pins

# ---- without -f: daemonizes, pid file --------------------------------
PIDF=$NST_TMP/natsyncd.pid
check "without -f natsyncd returns 0 once loaded and attached" \
	nsenter --net="/var/run/netns/$BOX" "$NATSYNCD" -c "$GOOD" -p "$PIDF"
check "the daemon wrote its pid file" wait_for 5 test -s "$PIDF"
DPID=$(cat "$PIDF" 2>/dev/null)
[ -n "$DPID" ] && NST_DAEMONS+=("$DPID:$BOX:$GOOD")
check "the daemonized natsyncd runs, XDP attached" \
	bash -c "$(declare -f alive); alive '$DPID' && ip -n $BOX link show nsdt-in | grep -qw xdp"
[ -n "$DPID" ] && kill -TERM "$DPID"
check "SIGTERM stops it and detaches" \
	wait_for 10 bash -c "$(declare -f alive); ! alive '$DPID' && ! ip -n $BOX link show nsdt-in | grep -qw xdp"
check "it removed its pid file" test ! -e "$PIDF"
check "--purge after the daemonized run" \
	nsenter --net="/var/run/netns/$BOX" "$NATSYNCD" -c "$GOOD" --purge

# ---- attach mode tc -----------------------------------------------------
TCCONF=$NST_TMP/tc.conf
write_config "$TCCONF" tc
ip netns exec "$BOX" tc qdisc add dev nsdt-out clsact
# Leave an XDP instance behind (kill -9): the tc start must remove it.
LOG4=$NST_TMP/run4.log
check "an XDP instance starts (to be left behind)" start "$GOOD" "$LOG4"
{ kill -KILL "$NSD_PID"; wait "$NSD_PID"; } 2>/dev/null
LOG3=$NST_TMP/run3.log
check "natsyncd starts in attach mode tc" start "$TCCONF" "$LOG3"
check "it removed the XDP program the killed instance left" \
	grep -q "nsdt-in: detached natsync XDP program id" "$LOG3"
check "TC filter on nsdt-in ingress" \
	bash -c "ip netns exec $BOX tc filter show dev nsdt-in ingress | grep -q 'handle 0x4e53'"
check "TC filter on nsdt-out ingress (existing clsact reused)" \
	bash -c "ip netns exec $BOX tc filter show dev nsdt-out ingress | grep -q 'handle 0x4e53'"
check "no XDP in tc mode" no_xdp nsdt-in
nsd_stop "$NSD_PID" 10
check "SIGTERM in tc mode: exit 0" test "$NSD_RC" -eq 0
check "the clsact natsyncd created is removed" \
	bash -c "! ip netns exec $BOX tc qdisc show dev nsdt-in | grep -q clsact"
check "the clsact it found is kept, without our filter" \
	bash -c "ip netns exec $BOX tc qdisc show dev nsdt-out | grep -q clsact &&
		 ! ip netns exec $BOX tc filter show dev nsdt-out ingress | grep -q 0x4e53"
check "--purge after tc mode" nsenter --net="/var/run/netns/$BOX" "$NATSYNCD" -c "$TCCONF" --purge
check "no pins left" no_pins

nst_finish
