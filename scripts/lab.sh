#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lab.sh up|down - the lab of the README's "Run a box by hand": the network
# namespaces and veths whose interfaces configs/single-box.cfg names, left
# in place for a person to run natsyncd in (make lab, make lab-clean).
#
#   nsd-cli 100.64.0.10/24 --- nsd-in [nsd-box] nsd-out --- nsd-srv 198.51.100.10/24
#                              100.64.0.1   198.51.100.1
#
# The box's interfaces are "nsd-in" and "nsd-out" inside namespace nsd-box
# (configs/single-box.cfg: inside/outside-service-interface); the server
# routes the pool 203.0.113.0/24 back to the box. Built with the tests' own
# topology helper (tests/netns/lib.sh, topo_single_box), so the lab is the
# one the demo and the tests use: nothing in the host namespace, no route
# towards the host.
#
#   up    build it (an older lab with the same names is removed first)
#   down  stop a natsyncd still running in nsd-box (SIGTERM: it detaches),
#         purge the pins of configs/single-box.cfg (natsyncd --purge, with
#         $NATSYNC_BUILD/natsyncd, default build/), delete the namespaces
#
# make demo uses the same names and removes this lab when it starts.
set -u
set -o pipefail
. "$(dirname "$0")/../tests/netns/lib.sh"

LAB=nsd
LAB_CFG=$NST_REPO/configs/single-box.cfg

# cfg_value KEY: a top-level string of configs/single-box.cfg.
cfg_value()
{
	sed -n "s/^[[:space:]]*$1 = \"\(.*\)\";.*/\1/p" "$LAB_CFG" | head -n 1
}

# stop_daemons: SIGTERM every natsyncd in the box namespace, wait for them.
stop_daemons()
{
	local pid comm i

	[ -e "/var/run/netns/$LAB-box" ] || return 0
	for pid in $(ip netns pids "$LAB-box" 2>/dev/null); do
		comm=$(cat "/proc/$pid/comm" 2>/dev/null)
		[ "$comm" = natsyncd ] || continue
		echo "lab: stopping natsyncd (pid $pid) in $LAB-box"
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && { echo "lab: natsyncd $pid ignored SIGTERM" >&2; return 1; }
	done
	return 0
}

lab_down()
{
	local pin sock

	stop_daemons || return 1
	pin=$(cfg_value pin-path)
	sock=$(cfg_value control-socket)
	if [ -n "$pin" ] && [ -e "$pin" ]; then
		if [ -x "$NST_BUILD/natsyncd" ] && [ -e "/var/run/netns/$LAB-box" ]; then
			nsenter --net="/var/run/netns/$LAB-box" "$NST_BUILD/natsyncd" -c "$LAB_CFG" \
				--purge >/dev/null || { echo "lab: natsyncd --purge failed" >&2; return 1; }
		else
			rm -rf "$pin"
		fi
		echo "lab: removed the pins under $pin"
	fi
	[ -z "$sock" ] || [ ! -S "$sock" ] || rm -f "$sock"
	nst_remove_namespaces
	echo "lab: $LAB-cli, $LAB-box, $LAB-srv removed"
}

lab_up()
{
	nst_need_tools ip ethtool nsenter sysctl clang gcc
	lab_down >/dev/null || return 1
	NST_TMP=$(mktemp -d "/tmp/$LAB-lab.XXXXXX")
	topo_single_box "$LAB"
	rm -rf "$NST_TMP"
	cat <<EOF
lab: $LAB-cli ($LAB_CLI_ADDR) -- $LAB-in [$LAB-box] $LAB-out -- $LAB-srv ($LAB_SRV_ADDR)
  run the box:   nsenter --net=/var/run/netns/$LAB-box build/natsyncd -c configs/single-box.cfg
  a subscriber:  ip netns exec $LAB-cli ping -c 3 $LAB_SRV_ADDR
  remove it:     make lab-clean
EOF
}

nst_need_root
NST_PREFIX=$LAB
case "${1:-}" in
up) lab_up ;;
down) lab_down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
