#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_single_box.sh - one natsync box end to end, through a running natsyncd.
#
#   nst-cli 100.64.0.10/24 --- nst-in [nst-box] nst-out --- nst-srv 198.51.100.10/24
#                              100.64.0.1    198.51.100.1
#   NAPT44 pool 203.0.113.0/28 (random ports, paired); the server routes the
#   pool (203.0.113.0/24) back to the box and has no route to the subscribers.
#
# The whole scenario runs once per attach mode: NST_MODES (default
# "native tc generic"): XDP in the veth driver, the TC ingress program, XDP
# in generic (skb) mode.
#
# Checks (each prints PASS/FAIL; any FAIL makes the script exit 1):
#  a  TCP transfer of a few MB both ways, sha256 compared at both ends
#  b  UDP request/response
#  c  ping
#  d  the server only ever sees pool addresses as sources (tcpdump), and only
#     one of them (address-pooling paired)
#  e  natsyncctl -j show sessions lists them with the pool address;
#     bpftool dumps the pinned ns_sessions map with BTF field names
#  f  unsolicited inbound (to the pool address, to the subscriber) is dropped
#     and counted in drop_no_session
#  g  a UDP session expires after the configured timeout and, once every
#     session is gone, the pool has no binding left
#  h  rx == sum of the verdict counters
#  i  a TCP segment without SYN from the client creates no session
#  j  SIGTERM: clean exit, programs detached, pins kept; --purge removes them
#  k  firewall terms: reject (TCP RST to the client) and discard, counted
#
# Timeouts: the box runs with long ones (TIMEOUTS_LIVE) while a-f, i and k
# look at live sessions, so that nothing expires between two steps on a
# slow or loaded machine (an expired UDP session, or a paired-pooling
# binding released and taken again on another address, would fail them for
# the wrong reason). Only g, where expiry is what is tested, reloads the
# config with short ones (TIMEOUTS_SHORT).
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

MODES=${NST_MODES:-native tc generic}
UDP_TIMEOUT=3   # in TIMEOUTS_SHORT (check g)
TIMEOUTS_LIVE="tcp-syn=30 tcp-established=600 tcp-closing=60 tcp-time-wait=60
    tcp-rst=60 udp=300 icmp=300 other=300 port-hold=0 binding=0"
TIMEOUTS_SHORT="tcp-syn=6 tcp-established=12 tcp-closing=3 tcp-time-wait=2
    tcp-rst=2 udp=$UDP_TIMEOUT icmp=3 other=3 port-hold=0 binding=0"
AGING_MS=200
XFER_BYTES=$((4 * 1024 * 1024))

nst_init nst
nst_need_natsync
nst_need_tools socat ss tcpdump bpftool sha256sum ping tc

# ---- config ------------------------------------------------------------

# write_config FILE MODE PIN SOCK TIMEOUTS: the box's config, from a template
# with this test's interfaces, pin path, socket and TIMEOUTS (the body of
# the timeouts group: TIMEOUTS_LIVE or TIMEOUTS_SHORT).
write_config()
{
	{
		nsd_cfg_open nst-box "$3" "$4" max-sessions=4096 aging-interval-ms=$AGING_MS \
			attach-mode="$2" timeouts="$5"
		nsd_cfg_napt44_services "$LAB_POOL" nst-in nst-out \
			pool='port-allocation = "random"; address-allocation = "round-robin";' \
			then='address-pooling = "paired";' \
			fw='{ name = "no-echo"; from = { protocol = [ "tcp" ]; destination-port = [ "7" ]; };
			      then = "reject"; },
			    { name = "no-discard"; from = { protocol = [ "udp" ]; destination-port = [ "9" ]; };
			      then = "discard"; },
			    { name = "inside-out";
			      from = { source-address = [ "100.64.0.0/10" ]; };
			      then = "accept"; }'
		echo "};"
	} >"$1"
}

# ---- natsyncctl helpers -------------------------------------------------

SOCK=""

# counter_ge NAME N: counter NAME has reached N.
counter_ge()
{
	[ "$(nsd_counter "$SOCK" "$1")" -ge "$2" ]
}

# ---- checks -------------------------------------------------------------

chk_sessions_listed()
{
	local out

	out=$(nsd_json "$SOCK" show sessions) || { echo "show sessions failed"; return 1; }
	printf '%s\n' "$out" | python3 -c '
import ipaddress, json, sys
j = json.load(sys.stdin)
pool = ipaddress.ip_network(sys.argv[1])
seen = {}
for s in j["sessions"]:
    if s["inside"]["addr"] != sys.argv[2]:
        continue
    seen.setdefault(s["proto"], []).append(s)
    if ipaddress.ip_address(s["nat"]["addr"]) not in pool:
        sys.exit("session with a non-pool nat address: %r" % s)
for p in ("tcp", "udp", "icmp"):
    if p not in seen:
        sys.exit("no %s session of %s in %d sessions" % (p, sys.argv[2], len(j["sessions"])))
print("sessions per proto:", {p: len(v) for p, v in seen.items()})
' "$LAB_POOL" "$LAB_CLI_ADDR"
}

# The pinned map is BTF-typed: bpftool prints field names, and the out_key
# destination of our sessions is a pool address (__be32 as a host u32).
chk_bpftool_typed()
{
	local pin=$1

	bpftool -j map dump pinned "$pin/$NS_PIN_SUBDIR/ns_sessions" | python3 -c '
import ipaddress, json, socket, struct, sys
pool = ipaddress.ip_network(sys.argv[1])
d = json.load(sys.stdin)
if not d:
    sys.exit("ns_sessions is empty")
n = 0
for e in d:
    v = e.get("formatted", {}).get("value")
    if v is None:
        sys.exit("no BTF-formatted value in bpftool output: %r" % e)
    for f in ("in_key", "out_key", "last_seen_ns", "tcp_state", "pool_id"):
        if f not in v:
            sys.exit("field %s missing from %r" % (f, v))
    a = ipaddress.ip_address(socket.inet_ntoa(struct.pack("<I", v["out_key"]["daddr"])))
    if a in pool:
        n += 1
if not n:
    sys.exit("no entry has a pool address in out_key.daddr")
print("%d typed entries, %d with a pool address" % (len(d), n))
' "$LAB_POOL"
}

# The server capture: every IPv4 source is a pool address, and only one
# (paired pooling: all of a subscriber's sessions use the same address).
chk_capture_sources()
{
	local pcap=$1

	[ -s "$pcap" ] || { echo "empty capture"; return 1; }
	tcpdump -n -tt -r "$pcap" ip 2>/dev/null | python3 -c '
import ipaddress, re, sys
pool = ipaddress.ip_network(sys.argv[1])
srcs, what = {}, {}
for line in sys.stdin:
    # "TS IP SRC[.PORT] > DST[.PORT]: PROTO ..."; PROTO may follow two
    # spaces: tcpdump decodes UDP ports 7000-7009 as AFS ("  [|rx]"), and a
    # random pool port can be one of them
    m = re.match(r"(\S+) IP (\d+\.\d+\.\d+\.\d+)(?:\.\d+)? > (\S+):\s+(\S+)", line)
    if not m:
        sys.exit("cannot parse: " + line.strip())
    ts, a, dst, proto = m.groups()
    srcs[a] = srcs.get(a, 0) + 1
    first, last, kinds = what.get(a, (ts, ts, set()))
    kinds.add(dst.rstrip(":").split(".")[-1] + "/" + proto.rstrip(","))
    what[a] = (first, ts, kinds)
print("sources seen by the server:", srcs)
if not srcs:
    sys.exit("no IPv4 packet captured")
bad = [a for a in srcs if ipaddress.ip_address(a) not in pool]
if bad:
    sys.exit("non-pool sources: %s" % bad)
blocked = [d for a, (f, l, k) in what.items() for d in k if d.split("/")[0] in ("7", "9")]
if blocked:
    sys.exit("the firewall let through: %s" % blocked)
if len(srcs) != 1:
    for a, (f, l, k) in what.items():
        print("  %s: %d packets from %s to %s, to %s" % (a, srcs[a], f, l, sorted(k)))
    sys.exit("paired pooling broken: %d pool addresses used" % len(srcs))
' "$LAB_POOL"
}

# A TCP connection that stays open (idle, established) while the session
# checks run: the transfers' sessions are closed and gone by then.
HOLD_PORT=5004
HOLD_CLI_PID=""
HOLD_SRV_PID=""
tcp_hold()
{
	tcp_hold_start nst-srv nst-cli "$LAB_SRV_ADDR" $HOLD_PORT || return 1
	HOLD_SRV_PID=$NST_HOLD_SRV
	HOLD_CLI_PID=$NST_HOLD_CLI
	wait_for 15 tcp_hold_established
}

tcp_hold_established()
{
	[ "$(nsd_sessions_py "$SOCK" "len([s for s in S if s['proto'] == 'tcp' and s['remote']['port'] == $HOLD_PORT and s['state'] == 'established'])")" = 1 ]
}

# UDP through the NAT: the echo server reports the source it saw.
chk_udp_answer()
{
	local out a

	out=$(udp_request nst-cli "$LAB_SRV_ADDR" 5003 40001 hello)
	echo "answer: $out"
	case "$out" in
	from=*:*" data=hello") ;;
	*) return 1 ;;
	esac
	a=${out#from=}
	a=${a%%:*}
	lab_in_pool "$a"
}

chk_udp_more()
{
	local p out

	for p in 40002 40003 40004 40005; do
		out=$(udp_request nst-cli "$LAB_SRV_ADDR" 5003 $p "x$p")
		case "$out" in
		*" data=x$p") ;;
		*) echo "port $p: '$out'"; return 1 ;;
		esac
	done
}

# Unsolicited inbound: UDP to the pool address and to the subscriber,
# TCP SYN and ping to the pool address. Nothing may reach the client
# (its UDP server stays silent) and drop_no_session must grow.
chk_unsolicited()
{
	local pool_addr before after out rc=0

	pool_addr=$(nsd_sessions_py "$SOCK" "[s['nat']['addr'] for s in S if s['inside']['addr'] == '$LAB_CLI_ADDR'][0]" 2>/dev/null) ||
		{ echo "no session to learn the pool address from"; return 1; }
	before=$(nsd_counter "$SOCK" drop_no_session) || return 1
	udp_echo_start nst-cli 7777 || { echo "client udp server did not start"; return 1; }
	# A route to the subscribers, for this check only: without natsync
	# the box's kernel would forward these to the client.
	route_add nst-srv 100.64.0.0/10 "$LAB_BOX_OUT_ADDR"
	out=$(udp_request nst-srv "$pool_addr" 7777 41001 knock-pool)
	[ -z "$out" ] || { echo "answer via pool address: $out"; rc=1; }
	out=$(udp_request nst-srv "$LAB_CLI_ADDR" 7777 41002 knock-subscriber)
	[ -z "$out" ] || { echo "answer via subscriber address: $out"; rc=1; }
	if ns_exec nst-srv timeout 4 socat -u - "TCP:$pool_addr:7778,connect-timeout=2" </dev/null 2>/dev/null; then
		echo "TCP connect to the pool address succeeded"
		rc=1
	fi
	if ns_exec nst-srv ping -c 2 -i 0.3 -W 1 "$pool_addr" >/dev/null 2>&1; then
		echo "ping to the pool address answered"
		rc=1
	fi
	ip -n nst-srv route del 100.64.0.0/10
	if grep -q . "$NST_TMP/udp-echo-7777.log"; then
		echo "client's server was reached: $(cat "$NST_TMP/udp-echo-7777.log")"
		rc=1
	fi
	after=$(nsd_counter "$SOCK" drop_no_session) || return 1
	echo "drop_no_session $before -> $after"
	# 2 UDP + at least 1 SYN + 2 echo requests
	[ "$after" -ge $((before + 5)) ] || rc=1
	return $rc
}

# Firewall terms before the accept-all: TCP to port 7 is rejected (the
# client gets a RST at once: "Connection refused"), UDP to port 9 is
# discarded silently. Servers listen on both, so only the firewall can be
# the reason; the capture check (d) makes sure neither reached the server.
chk_fw_reject()
{
	local before after out n

	bg_start "$NST_TMP/echo7.log" nst-srv timeout 60 \
		socat TCP-LISTEN:7,reuseaddr,fork OPEN:/dev/null
	wait_for 5 tcp_listening nst-srv 7 || { echo "server did not listen on 7"; return 1; }
	before=$(nsd_counter "$SOCK" tx_reject) || return 1
	out=$(ns_exec nst-cli timeout 5 socat -u - "TCP:$LAB_SRV_ADDR:7,connect-timeout=3" </dev/null 2>&1)
	echo "client: $out"
	grep -q 'Connection refused' <<<"$out" || return 1
	after=$(nsd_counter "$SOCK" tx_reject) || return 1
	n=$(nsd_sessions_py "$SOCK" "len([s for s in S if s['remote']['port'] == 7])") || return 1
	echo "tx_reject $before -> $after, sessions to port 7: $n"
	[ "$after" -ge $((before + 1)) ] && [ "$n" -eq 0 ]
}

chk_fw_discard()
{
	local before after out n

	udp_echo_start nst-srv 9 || { echo "server did not listen on 9"; return 1; }
	before=$(nsd_counter "$SOCK" drop_fw_discard) || return 1
	out=$(udp_request nst-cli "$LAB_SRV_ADDR" 9 40009 discard-me)
	[ -z "$out" ] || { echo "answer: $out"; return 1; }
	after=$(nsd_counter "$SOCK" drop_fw_discard) || return 1
	n=$(nsd_sessions_py "$SOCK" "len([s for s in S if s['remote']['port'] == 9])") || return 1
	echo "drop_fw_discard $before -> $after, sessions to port 9: $n"
	[ "$after" -ge $((before + 1)) ] && [ "$n" -eq 0 ]
}

# A bare ACK (no SYN) from the client: no session, counted, and the
# server never sees it.
chk_tcp_no_syn()
{
	local before after n

	before=$(nsd_counter "$SOCK" drop_tcp_no_syn) || return 1
	ns_exec nst-cli python3 "$NST_REPO/tests/netns/nst_pkt.py" tcp \
		"$LAB_CLI_ADDR" "$LAB_SRV_ADDR" 40999 5999 A 3 || return 1
	ns_exec nst-cli python3 "$NST_REPO/tests/netns/nst_pkt.py" tcp \
		"$LAB_CLI_ADDR" "$LAB_SRV_ADDR" 40999 5999 PA 2 || return 1
	# the box may still be processing the last of them
	wait_for 5 counter_ge drop_tcp_no_syn $((before + 5))
	after=$(nsd_counter "$SOCK" drop_tcp_no_syn) || return 1
	n=$(nsd_sessions_py "$SOCK" "len([s for s in S if s['inside']['port'] == 40999])") || return 1
	echo "drop_tcp_no_syn $before -> $after, sessions from port 40999: $n"
	[ "$n" -eq 0 ] && [ "$after" -ge $((before + 5)) ]
}

# Wait for the UDP session from SPORT to disappear; it must not go much
# earlier than the timeout and must be gone by timeout + aging + slack.
chk_udp_expiry()
{
	local sport=40300 t0 t1 n elapsed_ms out

	out=$(udp_request nst-cli "$LAB_SRV_ADDR" 5003 $sport expire-me)
	[ -n "$out" ] || { echo "no UDP answer"; return 1; }
	t0=$(date +%s%N)
	n=$(nsd_sessions_py "$SOCK" "len([s for s in S if s['proto'] == 'udp' and s['inside']['port'] == $sport])")
	[ "$n" = 1 ] || { echo "expected 1 session from port $sport, found $n"; return 1; }
	while :; do
		n=$(nsd_sessions_py "$SOCK" "len([s for s in S if s['proto'] == 'udp' and s['inside']['port'] == $sport])")
		t1=$(date +%s%N)
		elapsed_ms=$(((t1 - t0) / 1000000))
		[ "$n" = 0 ] && break
		[ "$elapsed_ms" -lt $(((UDP_TIMEOUT + 5) * 1000)) ] ||
			{ echo "still there after ${elapsed_ms} ms"; return 1; }
		sleep 0.1
	done
	echo "UDP session gone after ${elapsed_ms} ms (timeout ${UDP_TIMEOUT}s, aging ${AGING_MS} ms)"
	# Idle time is counted from the last packet (the answer), a little
	# before t0; allow 1 s of rounding (timeouts are whole seconds).
	[ "$elapsed_ms" -ge $(((UDP_TIMEOUT - 1) * 1000)) ]
}

no_sessions_left()
{
	[ "$(nsd_sessions_py "$SOCK" 'len(S)')" = 0 ]
}

# pool_idle: pool p1 has no binding in use or held (printed).
pool_idle()
{
	nsd_json "$SOCK" show pools | python3 -c '
import json, sys
j = json.load(sys.stdin)
p = [p for p in j["pools"] if p["name"] == "p1"][0]
print("p1 in_use", p["in_use"], "held", p["held"], "subscribers", p["subscribers"])
busy = sum(p["in_use"].values()) + sum(p["held"].values())
sys.exit(1 if busy else 0)
'
}

# All sessions expire (short timeouts) and the pool's bindings go with them.
chk_pool_released()
{
	if ! wait_for 30 no_sessions_left; then
		echo "sessions left:"
		nsd_ctl "$SOCK" show sessions
		return 1
	fi
	# Aging releases the bindings in the pass that removes the sessions;
	# the pool's view may trail by a pass.
	wait_for 5 pool_idle
	pool_idle
}

# timeouts_short: reload the config with TIMEOUTS_SHORT, and it is in force.
timeouts_short()
{
	write_config "$1" "$2" "$3" "$SOCK" "$TIMEOUTS_SHORT"
	nsd_ctl "$SOCK" reload || { echo "reload refused"; return 1; }
	[ "$(nsd_json "$SOCK" show config | json_get "j['timeouts_s']['udp']")" = "$UDP_TIMEOUT" ] ||
		{ echo "udp timeout not $UDP_TIMEOUT s after the reload"; return 1; }
}

# After the transfers: natsync's programs saw and forwarded the packets
# (XDP_REDIRECT / bpf_redirect worked: the GRO settings are right) and
# dropped none of this legitimate traffic.
chk_fastpath_used()
{
	nsd_json "$SOCK" show counters | python3 -c '
import json, sys
c = json.load(sys.stdin)["counters"]
drops = {k: v for k, v in c.items() if k.startswith("drop_") and v}
print("session_hit", c["session_hit"], "fwd_redirect", c["fwd_redirect"],
      "fwd_stack", c["fwd_stack"], "drops", drops)
sys.exit(0 if c["session_hit"] >= 100 and c["fwd_redirect"] >= 100 and not drops else 1)
'
}

# link_flags IF: the box's "ip -o link" line for IF (XDP mode flags).
link_flags()
{
	ip -n nst-box -o link show "$1"
}

# After SIGTERM: nothing attached to the box's interfaces.
chk_detached()
{
	local ifc rc=0 out

	for ifc in nst-in nst-out; do
		out=$(link_flags "$ifc")
		if grep -Eq ' xdp(generic|offload)? |prog/xdp' <<<"$out"; then
			echo "$ifc still has an XDP program: $out"
			rc=1
		fi
		out=$(ip netns exec nst-box tc filter show dev "$ifc" ingress 2>/dev/null)
		if [ -n "$out" ]; then
			echo "$ifc still has a TC ingress filter: $out"
			rc=1
		fi
		out=$(ip netns exec nst-box tc qdisc show dev "$ifc")
		if grep -q clsact <<<"$out"; then
			echo "$ifc still has the clsact qdisc natsyncd created"
			rc=1
		fi
	done
	return $rc
}

# While running: the programs are where the mode says.
chk_attached()
{
	local mode=$1 ifc out

	for ifc in nst-in nst-out; do
		case "$mode" in
		tc)
			out=$(ip netns exec nst-box tc filter show dev "$ifc" ingress)
			grep -q 'bpf.*direct-action' <<<"$out" ||
				{ echo "no TC ingress bpf filter on $ifc: $out"; return 1; }
			;;
		generic)
			out=$(link_flags "$ifc")
			grep -q ' xdpgeneric ' <<<"$out" ||
				{ echo "no generic XDP on $ifc: $out"; return 1; }
			;;
		*)
			# " xdp " is the driver (native) mode flag of ip link.
			out=$(link_flags "$ifc")
			grep -q ' xdp ' <<<"$out" ||
				{ echo "no native XDP on $ifc: $out"; return 1; }
			;;
		esac
	done
}

# ---- one scenario --------------------------------------------------------

run_mode()
{
	local mode=$1 cfg pin pcap t

	t="[$mode]"
	cfg=$NST_TMP/box-$mode.cfg
	pin=/sys/fs/bpf/nst-single-$mode
	SOCK=/run/nst-single-$mode.sock
	pcap=$NST_TMP/srv-$mode.pcap
	nst_log "=== attach mode $mode"

	topo_single_box nst
	check "$t no leak: veth peers and default routes stay inside the test" \
		nst_check_no_leak nst-box nst-srv
	write_config "$cfg" "$mode" "$pin" "$SOCK" "$TIMEOUTS_LIVE"
	nsd_start nst-box "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd-$mode.log"
	if ! check "$t natsyncd starts and answers on its control socket" test $? -eq 0; then
		nst_remove_namespaces
		return
	fi
	local nsd=$NSD_PID
	check "$t programs attached as configured" chk_attached "$mode"

	bg_start "$NST_TMP/tcpdump-$mode.log" nst-srv \
		tcpdump -n -U -i eth0 -Q in -w "$pcap" ip
	local tcpdump_pid=$NST_LAST_PID
	wait_for 5 test -s "$NST_TMP/tcpdump-$mode.log" || true

	check "$t (c) ping client -> server" \
		ns_exec nst-cli ping -c 3 -i 0.2 -W 2 "$LAB_SRV_ADDR"
	check "$t (a) tcp upload $((XFER_BYTES >> 20)) MB, sha256 equal" \
		tcp_upload nst-cli nst-srv "$LAB_SRV_ADDR" 5001 "$XFER_BYTES"
	check "$t (a) tcp download $((XFER_BYTES >> 20)) MB, sha256 equal" \
		tcp_download nst-cli nst-srv "$LAB_SRV_ADDR" 5002 "$XFER_BYTES"
	check "$t (a) the fast path carried it: sessions hit, packets redirected, none dropped" \
		chk_fastpath_used
	udp_echo_start nst-srv 5003
	check "$t (b) udp request/response, server saw a pool address" chk_udp_answer
	check "$t (b) udp from 4 more source ports" chk_udp_more
	check "$t (a) long-lived TCP connection established" tcp_hold
	check "$t (c) ping again (session hit)" \
		ns_exec nst-cli ping -c 2 -i 0.2 -W 2 "$LAB_SRV_ADDR"
	check "$t (e) natsyncctl -j show sessions: tcp/udp/icmp with pool address" \
		chk_sessions_listed
	check "$t (e) bpftool map dump of pinned ns_sessions is typed" \
		chk_bpftool_typed "$pin"
	check "$t (i) TCP without SYN creates no session and is counted" \
		chk_tcp_no_syn
	check "$t (f) unsolicited inbound dropped, drop_no_session counted" \
		chk_unsolicited
	check "$t (k) firewall reject: TCP to port 7 refused with a RST, counted" \
		chk_fw_reject
	check "$t (k) firewall discard: UDP to port 9 silently dropped, counted" \
		chk_fw_discard

	bg_stop "$HOLD_CLI_PID"
	bg_stop "$HOLD_SRV_PID"
	bg_stop "$tcpdump_pid"
	check "$t (d) server saw only one pool address as source, nothing to ports 7/9" \
		chk_capture_sources "$pcap"
	check "$t (g) reload with short timeouts (expiry is tested from here on)" \
		timeouts_short "$cfg" "$mode" "$pin"
	check "$t (g) UDP session expires after its timeout" chk_udp_expiry
	check "$t (g) every session expires, pool bindings released" chk_pool_released
	check "$t (h) rx == sum of verdict counters" nsd_verdicts_balance "$SOCK"

	nsd_stop "$nsd" 10
	check "$t (j) natsyncd exits 0 on SIGTERM" test "$NSD_RC" -eq 0
	check "$t (j) programs detached from nst-in/nst-out" chk_detached
	check "$t (j) pinned maps outlive the daemon" test -e "$pin/$NS_PIN_SUBDIR/ns_sessions"
	check "$t (j) natsyncd --purge removes the pins" \
		bash -c "nsenter --net=/var/run/netns/nst-box '$NATSYNCD' -c '$cfg' --purge && ! test -e '$pin/$NS_PIN_SUBDIR'"
	[ -d "$pin" ] && rmdir "$pin" 2>/dev/null
	nst_remove_namespaces
}

for m in $MODES; do
	run_mode "$m"
done
nst_finish
