#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_asan_daemon.sh - natsyncd and natsyncctl built with AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer ($NATSYNC_BUILD/asan, "make
# BUILD=... $NATSYNC_BUILD/asan/natsyncd"), through one regression scenario
# of the single-box lab:
#   config check (good and bad file), start, ping/UDP/TCP through the box,
#   a firewall reject, every natsyncctl command (text and JSON) and bad
#   requests, garbage on the control socket, SIGHUP with a broken and a
#   good file, natsyncctl reload, sessions aged out, SIGTERM, --purge.
# Every sanitizer report goes to a log file (log_path); the scenario fails
# when any file appears, i.e. on any memory error, undefined behaviour or
# leak at exit of the daemon or of any natsyncctl call.
#
#   NATSYNC_BUILD=build tests/netns/test_asan_daemon.sh
#
# Namespaces: nsfz-cli, nsfz-box (interfaces nsfz-in, nsfz-out), nsfz-srv.
# Pins: /sys/fs/bpf/nsfz-asan.
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

# The sanitizer builds replace the plain ones for everything below
# (nsd_start, nsd_ctl, nsd_purge use these variables).
NATSYNCD=$NST_BUILD/asan/natsyncd
NATSYNCCTL=$NST_BUILD/asan/natsyncctl
{ [ -x "$NATSYNCD" ] && [ -x "$NATSYNCCTL" ]; } ||
	nst_die "$NATSYNCD not built (run: make BUILD=$NATSYNC_BUILD $NATSYNC_BUILD/asan/natsyncd $NATSYNC_BUILD/asan/natsyncctl)"

nst_init nsfz
nst_need_tools socat ss ping python3 curl

P=nsfz
BOX=$P-box
PIN=/sys/fs/bpf/nsfz-asan
SOCK=$NST_TMP/ctl.sock
CFG=$NST_TMP/box.cfg
LOG=$NST_TMP/natsyncd.log
SANDIR=$NST_TMP/sanitizer
mkdir -p "$SANDIR"

# Reports of every sanitized process (ASan appends ".PID" to log_path).
# abort_on_error=0: a report must end the process with an exit status we
# see, not a core. The suppressions cover third-party libraries only.
# NSFZ_ASAN_OPTIONS adds options (doc/hardening.md shows how a leak
# injected with LD_PRELOAD makes this scenario fail).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:log_path=$SANDIR/asan${NSFZ_ASAN_OPTIONS:+:$NSFZ_ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$SANDIR/ubsan"
export LSAN_OPTIONS="suppressions=$NST_REPO/tests/fuzz/lsan.supp"

# no_reports: no sanitizer wrote anything (prints the reports otherwise).
no_reports()
{
	local f n=0

	for f in "$SANDIR"/*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		echo "== $f"
		head -60 "$f"
	done
	[ "$n" -eq 0 ]
}

write_config()
{
	# port-hold on and short: the aging pass holds the expired sessions'
	# ports and releases them again under the sanitizers
	{
		nsd_cfg_open nsfz-box "$PIN" "$SOCK" max-sessions=1024 aging-interval-ms=200 \
			attach-mode="$2" metrics='{ listen = "127.0.0.1:9478"; }' \
			timeouts="tcp-syn=4 tcp-established=4 tcp-closing=2 tcp-time-wait=2 tcp-rst=2
				  udp=2 icmp=2 other=2 port-hold=2 binding=0"
		nsd_cfg_napt44_services "$LAB_POOL" "$P-in" "$P-out" then='address-pooling = "paired";' \
			fw='{ name = "no-echo"; from = { protocol = [ "tcp" ]; destination-port = [ "7" ]; };
			      then = "reject"; },
			    { name = "out"; from = { source-address = [ "100.64.0.0/10" ]; };
			      then = "accept"; }' \
			ss='syslog = [ "session-logs", "nat-logs" ];'
		echo "};"
	} >"$1"
}

ctl() { nsd_ctl "$SOCK" "$@"; }
# ctl_exits RC ARGS...: natsyncctl ends cleanly with exit status RC (no
# crash): 1 a usage error caught before sending, 3 refused by the daemon.
ctl_exits()
{
	local want=$1 rc

	shift
	ctl "$@"
	rc=$?
	[ "$rc" -eq "$want" ] || { echo "exit $rc, expected $want"; return 1; }
}

# session_count: sessions the daemon lists.
session_count()
{
	nsd_json "$SOCK" show sessions | json_get 'len(j["sessions"])'
}
no_sessions() { [ "$(session_count)" = 0 ]; }

# garbage: raw bytes on the control socket, as a broken or hostile client
# sends them: binary, an overlong line, a line cut short, many bytes
# after the newline. The daemon must answer or close, never crash.
garbage()
{
	python3 - "$SOCK" <<'EOP'
import os, socket, sys
cases = [os.urandom(600), b"show " + b"x" * 5000 + b"\n", b"show sess",
         b"show status\n" + os.urandom(3000), b"\x00\xff\n", b"\n", b"sh\tse\tlimit=1\r\n",
         b"show sessions src=" + b"9" * 900 + b"\n"]
for data in cases:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sys.argv[1])
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
print("sent %d garbage requests" % len(cases))
EOP
}

# ---- topology, config -------------------------------------------------
topo_single_box "$P"
write_config "$CFG" native
BAD=$NST_TMP/bad.cfg
sed 's/max-sessions = 1024;/max-sessions = "many";/' "$CFG" >"$BAD"
BROKEN=$NST_TMP/broken.cfg
sed 's/"p1";/"p1 ;/' "$CFG" >"$BROKEN" # unterminated string: a libconfig syntax error

check "--check accepts the config (ASan build)" "$NATSYNCD" -c "$CFG" --check
check "--check refuses a wrong type (exit 1)" \
	bash -c "'$NATSYNCD' -c '$BAD' --check; [ \$? -eq 1 ]"
check "--check refuses a syntax error (exit 1)" \
	bash -c "'$NATSYNCD' -c '$BROKEN' --check; [ \$? -eq 1 ]"
check "no sanitizer report from the config checks" no_reports

# ---- run ------------------------------------------------------------------
check "natsyncd (ASan) starts" nsd_start "$BOX" "$CFG" "$SOCK" "$PIN" "$LOG" || nst_finish
PID=$NSD_PID

check "ping through the box" ns_exec "$P-cli" ping -c 3 -i 0.2 -W 2 "$LAB_SRV_ADDR"
udp_echo_start "$P-srv" 5353
check "UDP request/response" \
	bash -c "$(declare -f udp_request); NST_TMP=$NST_TMP;
		 udp_request $P-cli $LAB_SRV_ADDR 5353 40001 hello | grep -q 'from=203.0.113'"
check "TCP transfer (1 MB, sha256 compared)" \
	tcp_upload "$P-cli" "$P-srv" "$LAB_SRV_ADDR" 8080 $((1024 * 1024))
check "firewall reject: TCP to port 7 is refused" \
	bash -c "! ip netns exec $P-cli timeout 5 socat -u /dev/null TCP:$LAB_SRV_ADDR:7,connect-timeout=3"

for c in "show sessions" "show sessions src=100.64.0.0/10 proto=udp" "show pools" \
	"show pools pool=p1" "show counters" "show config" "show status" "show metrics"; do
	# shellcheck disable=SC2086
	check "natsyncctl $c" ctl $c
	# shellcheck disable=SC2086
	check "natsyncctl -j $c" ctl -j $c
done
# Without redundancy configured these two are refused by the daemon (exit 3).
check "natsyncctl show sync: not available" ctl_exits 3 show sync
check "natsyncctl -j show redundancy: not available" ctl_exits 3 -j show redundancy
check "natsyncctl refuses an unknown command (usage, exit 1)" ctl_exits 1 show frobs
check "the daemon refuses an unknown service set" ctl_exits 3 show sessions svc=nosuch
check "natsyncctl refuses a bad prefix (usage, exit 1)" ctl_exits 1 show sessions src=1.2.3.4/40
# The metrics thread under ASan: scrapes on its thread in parallel with
# control requests (the thread and the loop share the snapshot).
scrapes()
{
	local i pids=""

	for i in 1 2 3 4; do
		ip netns exec "$BOX" curl -sS --max-time 20 -o "$NST_TMP/scrape$i" \
			http://127.0.0.1:9478/metrics &
		pids="$pids $!"
	done
	ctl show metrics >/dev/null || return 1
	# shellcheck disable=SC2086
	wait $pids || return 1
	for i in 1 2 3 4; do
		grep -q '^natsync_fastpath_rx_total [1-9]' "$NST_TMP/scrape$i" || return 1
	done
}
check "metrics endpoint: parallel scrapes with control requests" scrapes
check "garbage on the control socket" garbage
check "the daemon still answers after the garbage" ctl show status

# ---- reload -----------------------------------------------------------------
cp "$CFG" "$NST_TMP/good.bak"
cp "$BROKEN" "$CFG"
kill -HUP "$PID"
check "SIGHUP with a syntax error keeps the running config" \
	wait_for 5 grep -q "keeping the running config" "$LOG"
cp "$BAD" "$CFG"
check "natsyncctl reload of an invalid file is refused (exit 3)" ctl_exits 3 reload
cp "$NST_TMP/good.bak" "$CFG"
check "natsyncctl reload of the good file" ctl reload
kill -HUP "$PID"
check "SIGHUP with the good file applies it" wait_for 5 grep -q "reload: .* applied" "$LOG"

# ---- aging, stop ------------------------------------------------------------
check "every session ages out (short timeouts)" wait_for 20 no_sessions
check "the daemon runs on" kill -0 "$PID"
check "no sanitizer report while running" no_reports
nsd_stop "$PID" 20
check "SIGTERM: natsyncd (ASan) exits 0" test "$NSD_RC" -eq 0
check "--purge (ASan)" nsenter --net="/var/run/netns/$BOX" "$NATSYNCD" -c "$CFG" --purge
check "no sanitizer report at all: no memory error, no UB, no leak at exit" no_reports

nst_finish
