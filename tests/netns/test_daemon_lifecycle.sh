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
# Operator foot-guns, with traffic (nsdt-f-*): a second natsyncd on the
# same config, pin path or control socket exits 3 and changes nothing
# while the first forwards; --purge is refused while it runs, --force
# lists what it drops; a start with a bad key file or --check-start's
# failures (key file, interface) touch nothing; a daemonized natsyncd
# started with a relative path from its directory reloads after chdir
# and logs to a file or, without one, to syslog.
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
	# port-hold and binding at their defaults (120 s, 0): nothing here
	# waits for a port to be released
	{
		nsd_cfg_open nsdt-box "$PIN" "$SOCK" max-sessions=1024 aging-interval-ms=200 \
			attach-mode="$2" timeouts="udp=2 icmp=2"
		nsd_cfg_napt44_services 203.0.113.0/28 "${3:-nsdt-in}" nsdt-out \
			ss='syslog = [ "session-logs", "nat-logs" ];'
		echo "};"
	} >"$1"
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

# ---- operator foot-guns (issue 10) ----------------------------------------
# A lab with traffic: client -- box -- server (nsdt-f-*), its own pins and
# socket. The running natsyncd must stay untouched by a second one, by a
# --purge without --force and by a start that would fail.
F=nsdt-f
topo_single_box "$F"
FBOX=$F-box
FPIN=/sys/fs/bpf/nsdt-foot
FPINV=$FPIN/$NS_PIN_SUBDIR
FSOCK=$NST_TMP/foot.sock
NST_PINS+=("$FPIN" "/sys/fs/bpf/nsdt-foot2")
NST_SOCKS+=("$FSOCK" "$NST_TMP/foot2.sock")
FDIR=$NST_TMP/cfgdir # configs here, named relatively from it
mkdir -p "$FDIR"

# write_foot FILE PIN SOCK [EXTRA]: the lab's config; EXTRA goes into the
# natsync group (a log group, redundancy-options, other interfaces).
write_foot()
{
	{
		nsd_cfg_open nsdt-foot "$2" "$3" log= max-sessions=1024 aging-interval-ms=500 \
			timeouts="udp=60"
		echo "  ${4:-}"
		nsd_cfg_napt44_services "$LAB_POOL" "${5:-$F-in}" "$F-out"
		echo "};"
	} >"$1"
}

# flow_ok SPORT: a UDP exchange through the box, seen translated (from a
# pool address) by the server.
flow_ok()
{
	local out

	out=$(udp_request "$F-cli" "$LAB_SRV_ADDR" 5003 "$1" "hi$1")
	echo "answer: $out"
	case "$out" in
	"from=203.0.113."*" data=hi$1") return 0 ;;
	esac
	return 1
}

# fast_path_state: what a second instance must not change: the XDP
# programs, the pinned maps (ids, names) and ns_config's contents (a
# config write flips its bank), the control socket's inode.
fast_path_state()
{
	local m

	echo "xdp in $(ip -n "$FBOX" -d link show "$F-in" | grep -o 'prog/xdp id [0-9]*')"
	echo "xdp out $(ip -n "$FBOX" -d link show "$F-out" | grep -o 'prog/xdp id [0-9]*')"
	ls "$FPINV"
	for m in ns_sessions ns_config ns_ports ns_svc; do
		bpftool map show pinned "$FPINV/$m" | head -1 | cut -d: -f1
	done
	bpftool map dump pinned "$FPINV/ns_config" | sha256sum
	stat -c 'socket inode %i' "$FSOCK"
}

in_box() { nsenter --net="/var/run/netns/$FBOX" "$@"; }

FCFG=$FDIR/foot.conf
write_foot "$FCFG" "$FPIN" "$FSOCK"
udp_echo_start "$F-srv" 5003
check "foot-guns: natsyncd starts in the traffic lab" \
	nsd_start "$FBOX" "$FCFG" "$FSOCK" "$FPIN" "$NST_TMP/foot1.log" || nst_finish
FPID=$NSD_PID
check "a flow passes through it" flow_ok 41001
BEFORE=$(fast_path_state)
echo "$BEFORE" | sed 's/^/    state: /'

# 1. the same config, in the foreground
in_box "$NATSYNCD" -f -c "$FCFG" >"$NST_TMP/second.log" 2>&1
rc=$?
check "a second natsyncd on the same config exits 3 (rc $rc)" test $rc -eq 3
check "it names the running one and its pid" \
	grep -q "natsyncd (pid $FPID) already runs on .*nothing was changed" "$NST_TMP/second.log"
check "it loaded, attached and logged nothing else" \
	bash -c "[ \$(wc -l <'$NST_TMP/second.log') -eq 1 ]"
# 2. daemonized, the same pin path under another control socket: refused
#    before daemonizing (the exit status reaches the caller)
write_foot "$NST_TMP/foot-samepin.conf" "$FPIN" "$NST_TMP/foot2.sock"
in_box "$NATSYNCD" -c "$NST_TMP/foot-samepin.conf" >"$NST_TMP/second2.log" 2>&1
rc=$?
check "daemonized, the same pin path, another socket: exit 3 (rc $rc)" test $rc -eq 3
check "it names the pin path" grep -q "pid $FPID) already runs on $FPIN" "$NST_TMP/second2.log"
check "no second control socket appeared" test ! -e "$NST_TMP/foot2.sock"
# 3. the same control socket, other pins
write_foot "$NST_TMP/foot-samesock.conf" /sys/fs/bpf/nsdt-foot2 "$FSOCK"
in_box "$NATSYNCD" -f -c "$NST_TMP/foot-samesock.conf" >"$NST_TMP/second3.log" 2>&1
rc=$?
check "the same control socket, other pins: exit 3 (rc $rc)" test $rc -eq 3
check "it names the socket" grep -q "pid $FPID) already runs on $FSOCK" "$NST_TMP/second3.log"
check "and pinned nothing under its own pin path" test ! -e /sys/fs/bpf/nsdt-foot2/$NS_PIN_SUBDIR
check "programs, map ids, ns_config and the socket unchanged" \
	bash -c "diff <(echo '$BEFORE') <($(declare -f fast_path_state); F=$F FBOX=$FBOX FPINV=$FPINV FSOCK=$FSOCK fast_path_state)"
check "the first one still forwards" flow_ok 41002
check "and still answers natsyncctl" nsd_ctl "$FSOCK" show status

# --check-start sees the owner; --check says what it skipped
in_box "$NATSYNCD" -c "$FCFG" --check-start >"$NST_TMP/cs-running.out" 2>&1
rc=$?
check "--check-start while it runs: exit 1 (rc $rc), the owner named" \
	bash -c "[ $rc -eq 1 ] && grep -Eq '^FAIL +instance +pid $FPID \(natsyncd\) owns $FPINV' '$NST_TMP/cs-running.out'"
check "--check says which start checks it did not do" \
	bash -c "'$NATSYNCD' -c '$FCFG' --check | grep -q 'not checked'"

# --purge: refused while it runs, changes nothing
in_box "$NATSYNCD" -c "$FCFG" --purge >"$NST_TMP/purge1.log" 2>&1
rc=$?
check "--purge while natsyncd runs: exit 3 (rc $rc)" test $rc -eq 3
check "--purge names the owner and says nothing changed" \
	grep -q "refused: natsyncd (pid $FPID) owns .*Nothing was changed" "$NST_TMP/purge1.log"
check "after the refused --purge: programs, maps, socket unchanged" \
	bash -c "diff <(echo '$BEFORE') <($(declare -f fast_path_state); F=$F FBOX=$FBOX FPINV=$FPINV FSOCK=$FSOCK fast_path_state)"
check "it still forwards" flow_ok 41003

# A start that would fail refuses before touching: after kill -9 the
# programs stay and forward; a start with an unreadable key file must
# neither replace nor detach them.
{ kill -KILL "$FPID"; wait "$FPID"; } 2>/dev/null
LEFT=$(fast_path_state | grep '^xdp')
KEYDIR=$NST_TMP/keydir # a directory where the key file should be
mkdir -p "$KEYDIR"
RED="redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; };
  redundancy-peer = { ipaddress = \"192.0.2.2\"; }; key-file = \"$KEYDIR\"; };"
write_foot "$NST_TMP/foot-badkey.conf" "$FPIN" "$FSOCK" "$RED"
in_box "$NATSYNCD" -f -c "$NST_TMP/foot-badkey.conf" >"$NST_TMP/badkey.log" 2>&1
rc=$?
check "a start with an unreadable key file: exit 1 (rc $rc)" test $rc -eq 1
check "it names the key file" grep -q "key-file: $KEYDIR" "$NST_TMP/badkey.log"
check "and left the killed instance's programs in place" \
	bash -c "[ \"\$($(declare -f fast_path_state); F=$F FBOX=$FBOX FPINV=$FPINV FSOCK=$FSOCK fast_path_state | grep '^xdp')\" = '$LEFT' ]"
check "which still forward" flow_ok 41004

# --check-start: the failures a start refuses, each named
in_box "$NATSYNCD" -c "$NST_TMP/foot-badkey.conf" --check-start >"$NST_TMP/cs-key.out" 2>&1
rc=$?
check "--check-start, key file a directory: exit 1 (rc $rc)" \
	bash -c "[ $rc -eq 1 ] && grep -Eq '^FAIL +key-file +$KEYDIR' '$NST_TMP/cs-key.out'"
write_foot "$NST_TMP/foot-nokey.conf" "$FPIN" "$FSOCK" "${RED/$KEYDIR/$NST_TMP/no-such.key}"
in_box "$NATSYNCD" -c "$NST_TMP/foot-nokey.conf" --check-start >"$NST_TMP/cs-nokey.out" 2>&1
rc=$?
check "--check-start, key file missing: exit 1 (rc $rc), reason given" \
	bash -c "[ $rc -eq 1 ] && grep -Eq '^FAIL +key-file +.*no-such.key: No such file' '$NST_TMP/cs-nokey.out'"
write_foot "$NST_TMP/foot-noif.conf" "$FPIN" "$FSOCK" "" nsdt-f-nosuch
in_box "$NATSYNCD" -c "$NST_TMP/foot-noif.conf" --check-start >"$NST_TMP/cs-noif.out" 2>&1
rc=$?
check "--check-start, missing interface: exit 1 (rc $rc), the interface named" \
	bash -c "[ $rc -eq 1 ] && grep -Eq '^FAIL +interfaces +nsdt-f-nosuch \(inside side of ss1\) does not exist in this network namespace' '$NST_TMP/cs-noif.out'"
check "--check (the file only) still passes it, and says so" \
	bash -c "'$NATSYNCD' -c '$NST_TMP/foot-noif.conf' --check | grep -qx OK"
in_box "$NATSYNCD" -c "$FCFG" --check-start >"$NST_TMP/cs-good.out" 2>&1
rc=$?
check "--check-start on the good config, nothing running: exit 0 (rc $rc)" \
	bash -c "[ $rc -eq 0 ] && grep -q '^start checks passed' '$NST_TMP/cs-good.out' &&
		 grep -Eq '^skip +bpf' '$NST_TMP/cs-good.out'"

# Daemonized, started with a relative config path from its directory,
# logging to a file: SIGHUP and natsyncctl reload work after it chdir()ed.
FLOG=$NST_TMP/foot-daemon.log
write_foot "$FCFG" "$FPIN" "$FSOCK" "log: { file = \"$FLOG\"; };"
PIDF=$NST_TMP/foot.pid
check "daemonized start with a relative config path (cd + -c foot.conf)" \
	bash -c "cd '$FDIR' && nsenter --net=/var/run/netns/$FBOX '$NATSYNCD' -c foot.conf -p '$PIDF'"
DPID=$(cat "$PIDF" 2>/dev/null)
[ -n "$DPID" ] && NST_DAEMONS+=("$DPID:$FBOX:$FCFG")
check "it adopted the killed instance's state and forwards" flow_ok 41005
check "its log file says it runs" grep -q "natsyncd running" "$FLOG"
sed -i 's/udp = 60;/udp = 61;/' "$FCFG"
kill -HUP "$DPID"
check "SIGHUP reloads $FCFG (absolute) after the chdir" \
	wait_for 5 grep -q "reload: $FCFG applied" "$FLOG"
check "natsyncctl reload too" nsd_ctl "$FSOCK" reload
check "/proc/locks names the daemon, not the parent that exited" \
	bash -c "in=\$(stat -c %i '$FPINV'); grep -q \"FLOCK .* WRITE $DPID [0-9a-f]*:[0-9a-f]*:\$in \" /proc/locks"
in_box "$NATSYNCD" -f -c "$FCFG" >"$NST_TMP/second4.log" 2>&1
rc=$?
check "a second start names the daemonized one's pid (rc $rc)" \
	bash -c "[ $rc -eq 3 ] && grep -q 'natsyncd (pid $DPID) already runs' '$NST_TMP/second4.log'"

# --purge --force: says what it drops, then drops it under the daemon
in_box "$NATSYNCD" -c "$FCFG" --purge --force >"$NST_TMP/force.log" 2>&1
rc=$?
check "--purge --force while it runs: exit 0 (rc $rc)" test $rc -eq 0
check "--force said whose state it drops" \
	grep -q "natsyncd (pid $DPID) owns .* keeps running without" "$NST_TMP/force.log"
check "--force listed the pins and session count before dropping them" \
	grep -Eq "^  ns_sessions +[1-9][0-9]* of 1024 entries" "$NST_TMP/force.log"
check "--force listed the XDP program it detaches" \
	grep -q "purge: $F-in: XDP program .* detached" "$NST_TMP/force.log"
check "the pins are gone" test ! -e "$FPINV"
check "the programs are detached" \
	bash -c "! ip -n $FBOX link show $F-in | grep -qw xdp && ! ip -n $FBOX link show $F-out | grep -qw xdp"
kill -TERM "$DPID" 2>/dev/null
check "the daemon stops on SIGTERM" wait_for 10 bash -c "! kill -0 $DPID 2>/dev/null || grep -q '^State:.*Z' /proc/$DPID/status"

# Daemonized without log.file: its log goes to syslog, not /dev/null. A
# private mount namespace gives it a /dev whose log socket we read.
FSYS=$NST_TMP/dev
mkdir -p "$FSYS"
for n in null zero random urandom; do touch "$FSYS/$n"; done
write_foot "$FCFG" "$FPIN" "$FSOCK"
bg_start "$NST_TMP/syslog.err" "$F-srv" \
	socat -u "UNIX-RECV:$FSYS/log,unlink-early" "OPEN:$NST_TMP/syslog.out,creat,append"
check "a syslog socket for the daemon" wait_for 5 test -S "$FSYS/log"
rm -f "$PIDF"
check "daemonized start without log.file" \
	unshare -m sh -c "for n in null zero random urandom; do mount --bind /dev/\$n '$FSYS'/\$n || exit 1; done
		mount --bind '$FSYS' /dev &&
		cd '$FDIR' && exec nsenter --net=/var/run/netns/$FBOX '$NATSYNCD' -c foot.conf -p '$PIDF'"
DPID=$(cat "$PIDF" 2>/dev/null)
[ -n "$DPID" ] && NST_DAEMONS+=("$DPID:$FBOX:$FCFG")
check "its log went to syslog" wait_for 5 grep -q "natsyncd running" "$NST_TMP/syslog.out"
check "saying why" grep -q "logging to syslog" "$NST_TMP/syslog.out"
check "it forwards" flow_ok 41006
kill -TERM "$DPID" 2>/dev/null
check "it stops on SIGTERM" wait_for 10 bash -c "! kill -0 $DPID 2>/dev/null || grep -q '^State:.*Z' /proc/$DPID/status"
check "its exit is in syslog too" wait_for 5 grep -q "natsyncd exiting" "$NST_TMP/syslog.out"
check "--purge once it stopped: exit 0" in_box "$NATSYNCD" -c "$FCFG" --purge

nst_finish
