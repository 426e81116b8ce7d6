# SPDX-License-Identifier: GPL-2.0
#
# frag_checks.sh - the checks of test_frag.sh (NAT44) and test_frag64.sh
# (NAT64), sourced after lib.sh: 4000-byte UDP datagrams through a box, in
# order and reordered by scapy (nfr_udp.py). The caller sets
#   SOCK        natsyncd's control socket
#   FR_CLI      client namespace, FR_CLI_SRC its own address
#   FR_SRV      server namespace (IPv4), FR_SRV_SRC its own address
#   FR_DST      the server's address as the client sends to it
#   FR_IN_POOL  a function: is $1 a pool address?
# and, for fr_run_mode, FR_P (the scenario's prefix: namespaces $FR_P-box,
# pins, socket), FR_TOPO (a function building the topology), FR_OUT /
# FR_IN (what the fragments are each way, for the check names) and a
# function write_config CFG MODE PIN SOCK; then calls fr_run_modes.

UDPPY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/nfr_udp.py
FR_BIG=4000 # the datagram size: 3 fragments at MTU 1500
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
	bg_start "$NST_TMP/serve-6000.log" "$FR_SRV" timeout 20 python3 "$UDPPY" serve 6000 "$FR_BIG"
	srv=$NST_LAST_PID
	wait_for 5 udp_listening "$FR_SRV" 6000 || { echo "server did not listen"; return 1; }
	out=$(ip netns exec "$FR_CLI" timeout 15 python3 "$UDPPY" ask "$FR_DST" 6000 40000 "$FR_BIG")
	wait "$srv"
	got=$(cat "$NST_TMP/serve-6000.log")
	echo "server: $got"
	echo "client: $out"
	case "$got" in
	"from="*" len=$FR_BIG intact=1") ;;
	*) echo "server did not get the datagram whole"; return 1 ;;
	esac
	from=${got#from=}
	"$FR_IN_POOL" "${from%%:*}" || { echo "server saw a non-pool source"; return 1; }
	[ "$out" = "reply len=$FR_BIG intact=1" ] || { echo "client did not get the answer whole"; return 1; }
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
	bg_start "$NST_TMP/serve-6001.log" "$FR_SRV" timeout 20 python3 "$UDPPY" serve 6001 0
	srv=$NST_LAST_PID
	wait_for 5 udp_listening "$FR_SRV" 6001 || { echo "server did not listen"; return 1; }
	out=$(ip netns exec "$FR_CLI" timeout 15 "$SCAPY_PY" "$UDPPY" reorder \
		"$FR_CLI_SRC" "$FR_DST" 40001 6001 "$FR_BIG") || { echo "scapy: $out"; return 1; }
	echo "scapy: $out"
	wait "$srv"
	got=$(cat "$NST_TMP/serve-6001.log")
	echo "server: $got"
	held1=$(nsd_counter "$SOCK" frag_held) && sent1=$(frag_stat sent) || return 1
	echo "frag_held $held0 -> $held1, natsyncd sent on $sent0 -> $sent1"
	case "$got" in
	"from="*" len=$FR_BIG intact=1") ;;
	*) echo "server did not get the reordered datagram whole"; return 1 ;;
	esac
	[ "$held1" -ge $((held0 + 2)) ] && [ "$sent1" -ge $((sent0 + 2)) ]
}

# (c) server -> client's pool address and port, last fragment first.
chk_reorder_in()
{
	local srv cli got from pool port out sent0 sent1

	sent0=$(frag_stat sent) || return 1
	bg_start "$NST_TMP/serve-6002.log" "$FR_SRV" timeout 30 python3 "$UDPPY" serve 6002 0
	srv=$NST_LAST_PID
	wait_for 5 udp_listening "$FR_SRV" 6002 || { echo "server did not listen"; return 1; }
	bg_start "$NST_TMP/hello-6002.log" "$FR_CLI" timeout 30 \
		python3 "$UDPPY" hello-wait "$FR_DST" 6002 40002
	cli=$NST_LAST_PID
	wait "$srv"
	from=$(cat "$NST_TMP/serve-6002.log")
	echo "server: $from"
	from=${from#from=}
	pool=${from%%:*}
	port=${from#*:}
	port=${port%% *}
	"$FR_IN_POOL" "$pool" || { echo "no pool source learnt"; bg_stop "$cli"; return 1; }
	out=$(ip netns exec "$FR_SRV" timeout 15 "$SCAPY_PY" "$UDPPY" reorder \
		"$FR_SRV_SRC" "$pool" 6002 "$port" "$FR_BIG") || { echo "scapy: $out"; bg_stop "$cli"; return 1; }
	echo "scapy: $out"
	wait "$cli"
	got=$(cat "$NST_TMP/hello-6002.log")
	echo "client: $got"
	sent1=$(frag_stat sent) || return 1
	echo "natsyncd sent on $sent0 -> $sent1"
	[ "$got" = "got from=$FR_DST:6002 len=$FR_BIG intact=1" ] && [ "$sent1" -ge $((sent0 + 2)) ]
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
print({k: v for k, v in c.items() if k.startswith(("frag", "nat64")) or k == "drop_fragment"})
if bad:
    sys.exit("fragments lost: %r" % bad)'
	[ "$(frag_stat expired)" = 0 ] && [ "$(frag_stat send_errors)" = 0 ] &&
		[ "$(frag_stat waiting)" = 0 ]
}

chk_status_text()
{
	nsd_ctl "$SOCK" show status | grep -E '^fragments +0 held now; [0-9]+ held, [0-9]+ sent on'
}

# One attach mode of a fragment scenario: a box, the checks (a)-(d), a
# clean stop.
fr_run_mode()
{
	local mode=$1 cfg pin t nsd

	t="[$mode]"
	cfg=$NST_TMP/box-$mode.cfg
	pin=/sys/fs/bpf/$FR_P-$mode
	SOCK=/run/$FR_P-$mode.sock
	nst_log "=== attach mode $mode"
	"$FR_TOPO"
	write_config "$cfg" "$mode" "$pin" "$SOCK"
	nsd_start "$FR_P-box" "$cfg" "$SOCK" "$pin" "$NST_TMP/natsyncd-$mode.log"
	if ! check "$t natsyncd starts" test $? -eq 0; then
		nst_remove_namespaces
		return
	fi
	nsd=$NSD_PID
	check "$t (a) $FR_BIG-byte UDP both ways in order ($FR_OUT, $FR_IN): whole at both ends" \
		chk_in_order
	check "$t (b) $FR_BIG-byte UDP out, $FR_OUT last first: held, sent on, whole" chk_reorder_out
	check "$t (c) $FR_BIG-byte UDP in, $FR_IN last first: held, sent on, whole" chk_reorder_in
	check "$t (d) no fragment dropped or expired, none waiting" chk_nothing_lost
	check "$t (d) rx == sum of verdict counters" nsd_verdicts_balance "$SOCK" frag_held
	check "$t (d) show status has the fragments line" chk_status_text
	nsd_stop "$nsd" 10
	check "$t natsyncd exits 0" test "$NSD_RC" -eq 0
	nsd_purge "$FR_P-box" "$cfg" >/dev/null 2>&1
	[ -d "$pin" ] && rmdir "$pin" 2>/dev/null
	nst_remove_namespaces
}

# Every attach mode of NST_MODES (default "native tc"), then the result.
fr_run_modes()
{
	local m

	nst_need_natsync
	nst_need_tools tc
	nst_need_scapy
	for m in ${NST_MODES:-native tc}; do
		fr_run_mode "$m"
	done
	nst_finish
}
