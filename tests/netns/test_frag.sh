#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_frag.sh - IPv4 fragments through a natsync box (bpf/frag.h,
# daemon/frag.c; RFC 4787 REQ-14), with real senders and receivers.
#
#   nfr-cli 100.64.0.10/24 --- nfr-in [nfr-box] nfr-out --- nfr-srv 198.51.100.10/24
#   NAPT44 to 203.0.113.0/28; every link has MTU 1500, so a 4000-byte UDP
#   datagram leaves its sender's kernel as 3 fragments.
#
# Once per attach mode (NST_MODES, default "native tc"):
#  a  a 4000-byte datagram client -> server and a 4000-byte answer back,
#     fragmented by the senders' kernels and in order: both arrive whole
#     and intact, the server saw a pool address; frag_first/frag_xlated
#     count them
#  b  a 4000-byte datagram client -> server sent by scapy last fragment
#     first: the later fragments are held (frag_held), natsyncd sends them
#     on once the first one is translated ("show status" fragments sent),
#     the server gets it whole
#  c  the same from the server to the client's pool address and port (the
#     session from a "hello"): the client gets it whole
#  d  nothing dropped, nothing expired; rx == sum of the verdict counters
#
# scapy runs under /usr/bin/python3 (Debian's python3-scapy; NST_SCAPY_PYTHON
# overrides), the plain senders under python3.
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

MODES=${NST_MODES:-native tc}
UDPPY=$(cd "$(dirname "$0")" && pwd)/nfr_udp.py
BIG=4000

nst_init nfr
nst_need_natsync
nst_need_tools tc
nst_need_scapy

write_config()
{
	{
		nsd_cfg_open nfr-box "$3" "$4" max-sessions=4096 attach-mode="$2" \
			timeouts="udp=300 icmp=300"
		nsd_cfg_napt44_services "$LAB_POOL" nfr-in nfr-out
		echo "};"
	} >"$1"
}

SOCK=""

frag_stat()
{
	nsd_json "$SOCK" show status | json_get "j['fragments']['$1']"
}

# (a) in order, both ways: the senders' kernels fragment.
chk_in_order()
{
	local srv out got from before_f before_x after_f after_x

	before_f=$(nsd_counter "$SOCK" frag_first) && before_x=$(nsd_counter "$SOCK" frag_xlated) || return 1
	bg_start "$NST_TMP/serve-6000.log" nfr-srv timeout 20 python3 "$UDPPY" serve 6000 $BIG
	srv=$NST_LAST_PID
	wait_for 5 udp_listening nfr-srv 6000 || { echo "server did not listen"; return 1; }
	out=$(ip netns exec nfr-cli timeout 15 python3 "$UDPPY" ask "$LAB_SRV_ADDR" 6000 40000 $BIG)
	wait "$srv"
	got=$(cat "$NST_TMP/serve-6000.log")
	echo "server: $got"
	echo "client: $out"
	case "$got" in
	"from="*" len=$BIG intact=1") ;;
	*) echo "server did not get the datagram whole"; return 1 ;;
	esac
	from=${got#from=}
	lab_in_pool "${from%%:*}" || { echo "server saw a non-pool source"; return 1; }
	[ "$out" = "reply len=$BIG intact=1" ] || { echo "client did not get the answer whole"; return 1; }
	after_f=$(nsd_counter "$SOCK" frag_first) && after_x=$(nsd_counter "$SOCK" frag_xlated) || return 1
	echo "frag_first $before_f -> $after_f, frag_xlated $before_x -> $after_x"
	# 4008 bytes of UDP: 3 fragments each way, 1 first + 2 later
	[ "$after_f" -ge $((before_f + 2)) ] && [ "$after_x" -ge $((before_x + 4)) ]
}

# (b) client -> server, last fragment first (scapy).
chk_reorder_out()
{
	local srv out got held0 sent0 held1 sent1

	held0=$(nsd_counter "$SOCK" frag_held) && sent0=$(frag_stat sent) || return 1
	bg_start "$NST_TMP/serve-6001.log" nfr-srv timeout 20 python3 "$UDPPY" serve 6001 0
	srv=$NST_LAST_PID
	wait_for 5 udp_listening nfr-srv 6001 || { echo "server did not listen"; return 1; }
	out=$(ip netns exec nfr-cli timeout 15 "$SCAPY_PY" "$UDPPY" reorder \
		"$LAB_CLI_ADDR" "$LAB_SRV_ADDR" 40001 6001 $BIG) || { echo "scapy: $out"; return 1; }
	echo "scapy: $out"
	wait "$srv"
	got=$(cat "$NST_TMP/serve-6001.log")
	echo "server: $got"
	held1=$(nsd_counter "$SOCK" frag_held) && sent1=$(frag_stat sent) || return 1
	echo "frag_held $held0 -> $held1, natsyncd sent on $sent0 -> $sent1"
	case "$got" in
	"from="*" len=$BIG intact=1") ;;
	*) echo "server did not get the reordered datagram whole"; return 1 ;;
	esac
	[ "$held1" -ge $((held0 + 2)) ] && [ "$sent1" -ge $((sent0 + 2)) ]
}

# (c) server -> client's pool address and port, last fragment first.
chk_reorder_in()
{
	local srv cli got from pool port out sent0 sent1

	sent0=$(frag_stat sent) || return 1
	bg_start "$NST_TMP/serve-6002.log" nfr-srv timeout 30 python3 "$UDPPY" serve 6002 0
	srv=$NST_LAST_PID
	wait_for 5 udp_listening nfr-srv 6002 || { echo "server did not listen"; return 1; }
	bg_start "$NST_TMP/hello-6002.log" nfr-cli timeout 30 \
		python3 "$UDPPY" hello-wait "$LAB_SRV_ADDR" 6002 40002
	cli=$NST_LAST_PID
	wait "$srv"
	from=$(cat "$NST_TMP/serve-6002.log")
	echo "server: $from"
	from=${from#from=}
	pool=${from%%:*}
	port=${from#*:}
	port=${port%% *}
	lab_in_pool "$pool" || { echo "no pool source learnt"; bg_stop "$cli"; return 1; }
	out=$(ip netns exec nfr-srv timeout 15 "$SCAPY_PY" "$UDPPY" reorder \
		"$LAB_SRV_ADDR" "$pool" 6002 "$port" $BIG) || { echo "scapy: $out"; bg_stop "$cli"; return 1; }
	echo "scapy: $out"
	wait "$cli"
	got=$(cat "$NST_TMP/hello-6002.log")
	echo "client: $got"
	sent1=$(frag_stat sent) || return 1
	echo "natsyncd sent on $sent0 -> $sent1"
	[ "$got" = "got from=$LAB_SRV_ADDR:6002 len=$BIG intact=1" ] && [ "$sent1" -ge $((sent0 + 2)) ]
}

# (d) nothing lost on the way, counters add up.
chk_nothing_lost()
{
	local j

	j=$(nsd_json "$SOCK" show counters) || return 1
	printf '%s\n' "$j" | python3 -c '
import json, sys
c = json.load(sys.stdin)["counters"]
bad = {k: c[k] for k in ("drop_fragment", "frag_hold_full", "frag_track_full", "frag_timeout")
       if c.get(k)}
print({k: v for k, v in c.items() if k.startswith("frag") or k == "drop_fragment"})
if bad:
    sys.exit("fragments lost: %r" % bad)'
	[ "$(frag_stat expired)" = 0 ] && [ "$(frag_stat send_errors)" = 0 ] &&
		[ "$(frag_stat waiting)" = 0 ]
}

chk_status_text()
{
	nsd_ctl "$SOCK" show status | grep -E '^fragments +0 held now; [0-9]+ held, [0-9]+ sent on'
}

run_mode()
{
	local mode=$1 cfg pin t nsd

	t="[$mode]"
	cfg=$NST_TMP/box-$mode.cfg
	pin=/sys/fs/bpf/nfr-$mode
	SOCK=/run/nfr-$mode.sock
	nst_log "=== attach mode $mode"
	topo_single_box nfr
	write_config "$cfg" "$mode" "$pin" "$SOCK"
	nsd_start nfr-box "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd-$mode.log"
	if ! check "$t natsyncd starts" test $? -eq 0; then
		nst_remove_namespaces
		return
	fi
	nsd=$NSD_PID
	check "$t (a) 4000-byte UDP both ways in order: whole at both ends" chk_in_order
	check "$t (b) 4000-byte UDP out, last fragment first: held, sent on, whole" chk_reorder_out
	check "$t (c) 4000-byte UDP in, last fragment first: held, sent on, whole" chk_reorder_in
	check "$t (d) no fragment dropped or expired, none waiting" chk_nothing_lost
	check "$t (d) rx == sum of verdict counters" nsd_verdicts_balance "$SOCK" frag_held
	check "$t (d) show status has the fragments line" chk_status_text
	nsd_stop "$nsd" 10
	check "$t natsyncd exits 0" test "$NSD_RC" -eq 0
	nsd_purge nfr-box "$cfg" >/dev/null 2>&1
	[ -d "$pin" ] && rmdir "$pin" 2>/dev/null
	nst_remove_namespaces
}

for m in $MODES; do
	run_mode "$m"
done
nst_finish
