#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_ops.sh - what an operator runs against a box: the Prometheus endpoint,
# natsyncctl's exit statuses, and natsyncd's refusals.
#
#   nop-cli 100.64.0.10/24 --- nop-in [nop-box] nop-out --- nop-srv 198.51.100.10/24
#                              100.64.0.1   198.51.100.1
#   NAPT44 pool 203.0.113.0/28; metrics: { listen = "100.64.0.1:9477"; }
#
# Checks (each prints PASS/FAIL; any FAIL makes the script exit 1):
#  m1  GET /metrics from another namespace (the client, over the inside
#      link): 200, Content-Type text/plain; version=0.0.4, a valid exposition
#      (HELP and TYPE once per family, before its samples; label values
#      escaped), a natsync_fastpath_NAME_total line per counter of
#      `natsyncctl show counters`
#  m2  traffic (UDP, TCP, ping) moves them: rx, session_new, nat_alloc up;
#      natsync_sessions{proto="udp"} and the pool's in-use bindings >= 1
#  m3  natsyncctl show metrics prints the same families as the endpoint
#      (and -j wraps the same text); the event loop kept serving while
#      scrapes ran (show status answered between them)
#  m4  GET /other: 404; POST /metrics: 405
#  m5  a listen address the box does not have: natsyncd refuses to start
#      (exit 1, "metrics: cannot listen on ..."), nothing is left behind
#  s1  show subscriber ADDR: its sessions (the same as show sessions src=),
#      its NAT ports in the pool, no port block; an unknown address shows
#      nothing; a prefix is refused
#  k1  clear sessions src= proto=udp drops exactly those (TCP kept), counted
#      in sessions_cleared; aging then releases their port (held); a new
#      flow works; clear sessions with no filter empties the table
#  x1  natsyncctl exit statuses for every command: 0 answered, 1 usage error
#      (bad argument, nothing sent), 2 daemon unreachable, 3 refused
#  x2  a bad config on disk does not stop `natsyncctl -s SOCK`; `-c BAD`
#      says why (exit 2), and a reload of it is refused (exit 3)
#  c1  natsyncd without CAP_SYS_ADMIN (capsh --drop): exit 1 with
#      "privileges: ... without CAP_SYS_ADMIN", no crash, nothing attached
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

P=nop
PORT=9477
METRICS_ADDR=$LAB_BOX_IN_ADDR:$PORT
URL=http://$METRICS_ADDR/metrics

nst_init $P
nst_need_natsync
nst_need_tools curl socat ping capsh

# write_config FILE PIN SOCK LISTEN: the box, with the metrics endpoint.
write_config()
{
	{
		nsd_cfg_open "$P-box" "$2" "$3" log= max-sessions=4096 aging-interval-ms=200 \
			timeouts="udp=300 icmp=300 tcp-established=600"
		echo "  metrics: { listen = \"$4\"; };"
		nsd_cfg_napt44_services "$LAB_POOL" "$P-in" "$P-out"
		echo "};"
	} >"$1"
}

topo_single_box $P
PIN=/sys/fs/bpf/$P-box
SOCK=/run/$P-box.sock
CFG=$NST_TMP/box.cfg
write_config "$CFG" "$PIN" "$SOCK" "$METRICS_ADDR"
nsd_start $P-box "$CFG" "$SOCK" "$PIN" "$NST_TMP/natsyncd.log" || nst_die "natsyncd did not start"
BOX_PID=$NSD_PID

# scrape FILE: GET /metrics from the client namespace; headers to FILE.hdr.
scrape()
{
	ip netns exec $P-cli curl -sS --max-time 10 -D "$1.hdr" -o "$1" "$URL"
}

# metric FILE NAME [LABELS-PYTHON-PREDICATE]: the sum of NAME's samples in
# FILE whose labels (dict L) satisfy the predicate.
metric()
{
	python3 - "$@" <<'EOF'
import re, sys
path, name = sys.argv[1], sys.argv[2]
pred = sys.argv[3] if len(sys.argv) > 3 else "True"
total, seen = 0.0, False
for line in open(path):
    if line.startswith("#"):
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line.rstrip("\n"))
    if not m or m.group(1) != name:
        continue
    L = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
    if eval(pred):
        total += float(m.group(4)); seen = True
if not seen:
    sys.exit("no sample of %s matching %s" % (name, pred))
print(int(total) if total == int(total) else total)
EOF
}

# valid_exposition FILE: the text exposition format, line by line.
valid_exposition()
{
	python3 - "$1" <<'EOF'
import re, sys
name_re = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
helps, types, fam, bad, samples = set(), {}, None, [], 0
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        f = line.split(" ")[2]
        if f in helps: bad.append("%d: HELP %s twice" % (n, f))
        helps.add(f); fam = f
        continue
    if line.startswith("# TYPE "):
        _, _, f, t = line.split(" ")
        if f in types or f != fam: bad.append("%d: TYPE %s misplaced" % (n, f))
        if t not in ("counter", "gauge", "histogram", "untyped"): bad.append("%d: type %s" % (n, t))
        types[f] = t
        continue
    m = re.match(r'(%s)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$' % name_re, line)
    if not m:
        bad.append("%d: not a sample: %r" % (n, line)); continue
    s = m.group(1)
    base = re.sub(r'_(bucket|sum|count)$', '', s) if types.get(re.sub(r'_(bucket|sum|count)$', '', s)) == "histogram" else s
    if base != fam: bad.append("%d: %s outside its family %s" % (n, s, fam))
    if types.get(base) == "counter" and not base.endswith("_total"): bad.append("%d: counter %s without _total" % (n, base))
    try: float(m.group(4))
    except ValueError: bad.append("%d: value %r" % (n, m.group(4)))
    samples += 1
print("%d families, %d samples" % (len(types), samples))
if bad or samples == 0:
    print("\n".join(bad[:20])); sys.exit(1)
EOF
}

# families FILE: the sorted family names of an exposition.
families()
{
	sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$1" | sort
}

# ---- m1: the endpoint from another namespace ----------------------------
S1=$NST_TMP/scrape1
check "m1 GET $URL from $P-cli: 200" \
	bash -c "$(declare -f scrape); P=$P URL=$URL; scrape $S1 && grep -q '^HTTP/1.1 200' $S1.hdr"
check "m1 Content-Type text/plain; version=0.0.4" \
	grep -qi '^Content-Type: text/plain; version=0.0.4' "$S1.hdr"
check "m1 a valid text exposition" valid_exposition "$S1"
every_counter()
{
	local names n missing=""

	names=$(nsd_ctl "$SOCK" -j show counters |
		json_get '" ".join(j["counters"].keys())') || return 1
	for n in $names; do
		grep -q "^natsync_fastpath_${n}_total [0-9]" "$S1" || missing="$missing $n"
	done
	echo "$(wc -w <<<"$names") counters"
	[ -z "$missing" ] || { echo "missing:$missing"; return 1; }
}
check "m1 a natsync_fastpath_NAME_total line per counter of show counters" every_counter
check "m1 HELP and TYPE of a counter" \
	bash -c "grep -q '^# HELP natsync_fastpath_rx_total packets' $S1 &&
		 grep -q '^# TYPE natsync_fastpath_rx_total counter' $S1"
check "m1 build info, pool, map memory, aging and event-loop families" \
	bash -c "grep -q '^natsync_build_info{version=\".*\",node=\"$P-box\",abi=\"v[0-9]*\"} 1$' $S1 &&
		 grep -q '^natsync_pool_capacity{pool=\"p1\"} 1040384$' $S1 &&
		 grep -q '^natsync_map_kernel_bytes{map=\"ns_sessions\"} [1-9]' $S1 &&
		 grep -q '^natsync_aging_engine_info{engine=' $S1 &&
		 grep -q '^natsync_event_loop_callback_duration_seconds_bucket{le=\"+Inf\"} [1-9]' $S1 &&
		 grep -q '^natsync_redundancy_info{role=\"standalone\"} 1$' $S1 &&
		 grep -q '^natsync_sync_enabled 0$' $S1 &&
		 grep -q '^natsync_metrics_errors 0$' $S1"

# ---- m2: the counters move with traffic -----------------------------------
udp_echo_start $P-srv 5353
traffic()
{
	udp_request $P-cli "$LAB_SRV_ADDR" 5353 40001 hello | grep -q 'from=203.0.113' &&
		ip netns exec $P-cli ping -c 3 -i 0.2 -W 2 "$LAB_SRV_ADDR" >/dev/null &&
		tcp_upload $P-cli $P-srv "$LAB_SRV_ADDR" 8080 $((256 * 1024)) >/dev/null
}
check "m2 traffic through the box (UDP, ping, TCP)" traffic
S2=$NST_TMP/scrape2
check "m2 second scrape" scrape "$S2"
grew()
{
	local n a b

	for n in natsync_fastpath_rx_total natsync_fastpath_session_new_total \
		natsync_fastpath_nat_alloc_total natsync_fastpath_fwd_redirect_total; do
		a=$(metric "$S1" $n) && b=$(metric "$S2" $n) || return 1
		echo "$n: $a -> $b"
		[ "$b" -gt "$a" ] || return 1
	done
	a=$(metric "$S2" natsync_sessions 'L["proto"]=="udp" and L["family"]=="ipv4"') || return 1
	echo "udp sessions: $a"
	[ "$a" -ge 1 ] || return 1
	a=$(metric "$S2" natsync_sessions 'L["proto"]=="icmp"') || return 1
	echo "icmp sessions: $a"
	[ "$a" -ge 1 ] || return 1
	a=$(metric "$S2" natsync_pool_bindings 'L["pool"]=="p1" and L["status"]=="in_use"') ||
		return 1
	echo "p1 bindings in use: $a"
	[ "$a" -ge 2 ]
}
check "m2 rx, session_new, nat_alloc, fwd_redirect grew; sessions and bindings counted" grew

# ---- m3: natsyncctl show metrics, the same text ---------------------------
ctl_same_families()
{
	nsd_ctl "$SOCK" show metrics >"$NST_TMP/ctl.prom" || return 1
	valid_exposition "$NST_TMP/ctl.prom" || return 1
	diff <(families "$NST_TMP/ctl.prom") <(families "$S2")
}
check "m3 natsyncctl show metrics: a valid exposition with the endpoint's families" \
	ctl_same_families
check "m3 natsyncctl -j show metrics wraps the same text" \
	bash -c "'$NATSYNCCTL' -s $SOCK -j show metrics |
		python3 -c 'import json,sys; j=json.load(sys.stdin);
sys.exit(0 if j[\"content_type\"].startswith(\"text/plain; version=0.0.4\") and
	 \"# TYPE natsync_fastpath_rx_total counter\" in j[\"exposition\"] else 1)'"
scrapes_and_status()
{
	local i pid=""

	# five scrapes in parallel while the control socket is asked: the
	# loop answers both (the scrapes read the maps on their own thread)
	for i in 1 2 3 4 5; do
		ip netns exec $P-cli curl -sS --max-time 10 -o "$NST_TMP/par$i" "$URL" &
		pid="$pid $!"
	done
	nsd_ctl "$SOCK" show status >/dev/null || return 1
	# shellcheck disable=SC2086
	wait $pid || return 1
	for i in 1 2 3 4 5; do
		grep -q '^natsync_metrics_errors 0$' "$NST_TMP/par$i" || return 1
	done
}
check "m3 parallel scrapes while the control socket answers" scrapes_and_status

# ---- m4: what is not served -----------------------------------------------
http_code()
{
	ip netns exec $P-cli curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@"
}
check "m4 GET /other: 404" test "$(http_code "http://$METRICS_ADDR/other")" = 404
check "m4 POST /metrics: 405" test "$(http_code -X POST -d x "$URL")" = 405

# ---- s1/k1: show subscriber, clear sessions ---------------------------------
# sub_py PYTHON-EXPR: evaluate EXPR over show subscriber 100.64.0.10's JSON (j).
sub_py()
{
	nsd_ctl "$SOCK" -j show subscriber "$LAB_CLI_ADDR" | json_get "$1"
}
sessions_of() # sessions_of ARGS...: how many sessions show sessions matches
{
	nsd_ctl "$SOCK" -j show sessions "$@" | json_get 'j["matched"]'
}
subscriber_view()
{
	local total listed

	nsd_ctl "$SOCK" show subscriber "$LAB_CLI_ADDR" || return 1
	total=$(sub_py 'j["sessions"]["total"]') || return 1
	listed=$(sessions_of src="$LAB_CLI_ADDR") || return 1
	echo "subscriber: $total sessions, show sessions src=: $listed"
	[ "$total" -ge 3 ] && [ "$total" -eq "$listed" ] || return 1
	sub_py '(all(p["nat"]["addr"].startswith("203.0.113.") and p["status"] == "in_use"
		     for p in j["ports"]["list"]) and j["ports"]["in_use"] >= 2 and
		 j["subscriber"] == "100.64.0.10" and j["port_blocks"] == {"total": 0, "list": []} and
		 j["sessions"]["udp"] >= 1 and j["sessions"]["tcp"] >= 1)' | grep -qx true
}
check "s1 show subscriber 100.64.0.10: its sessions (as show sessions src=) and NAT ports" \
	subscriber_view
check "s1 show subscriber of an address with nothing: 0 sessions, no port" \
	bash -c "$(declare -f nsd_ctl json_get); NATSYNCCTL=$NATSYNCCTL;
		 nsd_ctl $SOCK -j show subscriber 100.64.0.99 |
		 json_get 'j[\"sessions\"][\"total\"] == 0 and j[\"ports\"][\"list\"] == []' |
		 grep -qx true"
check "s1 show subscriber of a prefix: refused (exit 3)" \
	bash -c "'$NATSYNCCTL' -s $SOCK show subscriber 100.64.0.0/24; [ \$? -eq 3 ]"
clear_udp()
{
	local tcp_before out

	tcp_before=$(sessions_of proto=tcp) || return 1
	out=$(nsd_ctl "$SOCK" clear sessions src="$LAB_CLI_ADDR" proto=udp) || return 1
	echo "$out"
	grep -Eq '^[1-9][0-9]* sessions cleared \([1-9][0-9]* matched\)$' <<<"$out" || return 1
	[ "$(sessions_of proto=udp)" -eq 0 ] || { echo "udp sessions left"; return 1; }
	[ "$(sessions_of proto=tcp)" -eq "$tcp_before" ] || { echo "tcp sessions touched"; return 1; }
	nsd_ctl "$SOCK" -j show counters | json_get 'j["daemon"]["sessions_cleared"] >= 1' |
		grep -qx true
}
check "k1 clear sessions src= proto=udp: those gone, the TCP ones kept, counted" clear_udp
udp_port_held()
{
	sub_py '(any(p["proto"] == "udp" for p in j["ports"]["list"]) and
		 all(p["status"] == "held" for p in j["ports"]["list"] if p["proto"] == "udp"))' |
		grep -qx true
}
check "k1 the cleared session's UDP port is released by aging (held, RFC 6888)" \
	wait_for 20 udp_port_held
check "k1 a new UDP flow after the clear works (a new session)" \
	bash -c "$(declare -f udp_request); udp_request $P-cli $LAB_SRV_ADDR 5353 40002 again |
		 grep -q 'from=203.0.113'"
check "k1 clear sessions svc=nosuch: refused (exit 3)" \
	bash -c "'$NATSYNCCTL' -s $SOCK clear sessions svc=nosuch; [ \$? -eq 3 ]"
check "k1 clear sessions (all): the table is empty" \
	bash -c "$(declare -f nsd_ctl json_get sessions_of); NATSYNCCTL=$NATSYNCCTL SOCK=$SOCK;
		 nsd_ctl $SOCK clear sessions && [ \$(sessions_of) -eq 0 ]"

# ---- x1: natsyncctl exit statuses -----------------------------------------
# exits RC ARGS...: natsyncctl ARGS ends with exit status RC.
exits()
{
	local want=$1 rc

	shift
	"$NATSYNCCTL" "$@" >"$NST_TMP/x.out" 2>"$NST_TMP/x.err"
	rc=$?
	[ "$rc" -eq "$want" ] || { echo "exit $rc, expected $want"; cat "$NST_TMP/x.err"; return 1; }
}
# Every command of the table: what it answers on this box (no redundancy:
# the HA commands are refused), a bad argument (usage) and a dead socket.
DEAD=/run/$P-nobody.sock
while IFS='|' read -r cmd ok; do
	# shellcheck disable=SC2086
	check "x1 '$cmd': exit $ok here" exits "$ok" -s "$SOCK" $cmd
	# shellcheck disable=SC2086
	check "x1 '$cmd nosuchkey=1': usage error, exit 1" exits 1 -s "$SOCK" $cmd nosuchkey=1
	# shellcheck disable=SC2086
	check "x1 '$cmd' to a socket nobody serves: exit 2" exits 2 -s "$DEAD" $cmd
done <<EOF
show sessions|0
show pools|0
show counters|0
show config|0
show status|0
show metrics|0
show subscriber 100.64.0.10|0
clear sessions proto=99|0
show sync|3
show redundancy|3
switchover|3
role primary|3
role backup|3
reload|0
EOF
check "x1 every command of --help is in this list" \
	bash -c "[ \$('$NATSYNCCTL' --help | sed -n '/^Commands/,/^Arguments/p' | grep -c '^  [a-z]') -eq 14 ]"
check "x1 refused by the daemon: unknown service set, exit 3" \
	exits 3 -s "$SOCK" show sessions svc=nosuch
check "x1 bad option: exit 1" exits 1 --nosuchoption show status
check "x1 no command: exit 1" exits 1 -s "$SOCK"
check "x1 --version: exit 0" exits 0 --version

# ---- x2: a bad config on disk -----------------------------------------------
cp "$CFG" "$NST_TMP/good.cfg"
printf 'natsync: { max-sessions = "many"; };\n' >"$CFG"
check "x2 bad config on disk: natsyncctl -s SOCK show status still answers" \
	exits 0 -s "$SOCK" show status
check "x2 natsyncctl -c BAD: exit 2, says where the file is wrong" \
	bash -c "$(declare -f exits); NATSYNCCTL=$NATSYNCCTL NST_TMP=$NST_TMP;
		 exits 2 -c $CFG show status && grep -q 'box.cfg:1' $NST_TMP/x.err"
check "x2 reload of the bad file: refused, exit 3" exits 3 -s "$SOCK" reload
cp "$NST_TMP/good.cfg" "$CFG"
check "x2 the daemon runs on" kill -0 "$BOX_PID"

# ---- m5: a listen address the box does not have --------------------------
# A start that gets as far as the metrics needs free interfaces: stop the
# box's daemon, start one with an address the box does not have.
nsd_stop "$BOX_PID"
check "m5 the first daemon stopped cleanly" test "$NSD_RC" -eq 0
m5()
{
	local cfg=$NST_TMP/badlisten.cfg rc

	write_config "$cfg" "$PIN" "$SOCK" "192.0.2.99:$PORT"
	nsenter --net=/var/run/netns/$P-box "$NATSYNCD" -f -c "$cfg" >"$NST_TMP/badlisten.log" 2>&1
	rc=$?
	cat "$NST_TMP/badlisten.log"
	[ $rc -eq 1 ] || { echo "exit $rc, expected 1"; return 1; }
	grep -q 'metrics: cannot listen on 192.0.2.99:9477: Cannot assign requested address' \
		"$NST_TMP/badlisten.log" || return 1
	[ ! -S "$SOCK" ] || { echo "control socket left behind"; return 1; }
}
check "m5 metrics address not on the box: natsyncd refuses to start" m5
check "m5 a listen value that is not ADDR:PORT: --check names it" \
	bash -c "sed 's/listen = \".*\"/listen = \"localhost\"/' '$CFG' >'$NST_TMP/noport.cfg';
		 ! '$NATSYNCD' -c '$NST_TMP/noport.cfg' --check >'$NST_TMP/noport.out' 2>&1 &&
		 grep -q 'metrics.listen.*not ADDR:PORT' '$NST_TMP/noport.out' ||
		 { cat '$NST_TMP/noport.out'; false; }"

# ---- c1: without CAP_SYS_ADMIN --------------------------------------------
c1()
{
	local rc

	nsenter --net=/var/run/netns/$P-box capsh --drop=cap_sys_admin -- \
		-c "exec '$NATSYNCD' -f -c '$CFG'" >"$NST_TMP/nocap.log" 2>&1
	rc=$?
	cat "$NST_TMP/nocap.log"
	[ $rc -eq 1 ] || { echo "exit $rc, expected 1 (139: a crash)"; return 1; }
	grep -q 'privileges: uid 0 without CAP_SYS_ADMIN' "$NST_TMP/nocap.log" || return 1
	grep -q 'not starting: nothing was changed' "$NST_TMP/nocap.log" || return 1
	[ -z "$(ip -n $P-box link show $P-in | grep -o 'xdp[a-z]*')" ] ||
		{ echo "a program is attached"; return 1; }
}
check "c1 natsyncd without CAP_SYS_ADMIN: a clear refusal, no crash" c1
check "c1 with every capability the same config starts" \
	nsd_start $P-box "$CFG" "$SOCK" "$PIN" "$NST_TMP/natsyncd2.log"

nst_finish
