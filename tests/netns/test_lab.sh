#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test_lab.sh - the README's "Run a box by hand" works as written: its code
# block is read from README.md and each line run in turn, from the
# repository root, as a person would (make lab, natsyncd in the box's
# namespace, a ping through it, natsyncctl, bpftool, make lab-clean). The
# only change: build/ is this run's build directory ($NATSYNC_BUILD) and
# make is given BUILD= to match.
#
# The lab's names are the README's and configs/single-box.cfg's (namespaces
# nsd-*, pins /sys/fs/bpf/nsd-natsync, socket /run/nsd-natsync.sock), not a
# test prefix: they are what is tested. make demo uses the same names.
#
# Checks: every line exits 0; show sessions lists the ping's ICMP session
# translated into the pool; the counters show it forwarded both ways; bpftool dumps
# ns_sessions with BTF field names; after make lab-clean no namespace, pin,
# socket or natsyncd of the lab is left.
set -u
set -o pipefail
. "$(dirname "$0")/lib.sh"

nst_init nsd
nst_need_natsync
nst_need_tools bpftool ping make
PIN=/sys/fs/bpf/nsd-natsync
SOCK=/run/nsd-natsync.sock
NST_PINS+=("$PIN")
NST_SOCKS+=("$SOCK")
# On any exit: the lab's own teardown first (it stops the daemon politely
# and purges), then lib.sh's (namespaces, pins, scratch dir).
# (nst_cleanup takes the script's exit status from $?, hence the subshell.)
trap 'lab_rc=$?; NATSYNC_BUILD=$NST_BUILD "$NST_REPO/scripts/lab.sh" down >/dev/null 2>&1
      (exit $lab_rc); nst_cleanup' EXIT

# The lines of the block that follows "Run a box by hand" in README.md.
readme_lines()
{
	awk '/^Run a box by hand/ { f = 1 } f && /^```sh/ { b = 1; next } b && /^```/ { exit } b' \
		"$NST_REPO/README.md"
}

mapfile -t LINES < <(readme_lines)
check "the README's block has the lab's lines (${#LINES[@]})" \
	bash -c "[ ${#LINES[@]} -ge 8 ] && printf '%s\n' \"\${@}\" | grep -q '^make lab$' &&
		 printf '%s\n' \"\${@}\" | grep -q '^make lab-clean$'" _ "${LINES[@]}"

cd "$NST_REPO" || nst_die "cd $NST_REPO"
i=0
for line in "${LINES[@]}"; do
	i=$((i + 1))
	cmd=${line%%#*}                       # the comment is for the reader
	cmd=${cmd%"${cmd##*[![:space:]]}"}    # trailing blanks
	[ -n "$cmd" ] || continue
	run=${cmd//build\//$NST_BUILD/}
	case "$run" in
	make | "make "*) run="make BUILD=$NST_BUILD ${run#make}" ;;
	esac
	out=$NST_TMP/line$i.out
	check "README line $i: $cmd" bash -c "$run >'$out' 2>&1 || { cat '$out'; false; }"
	case "$cmd" in
	*"show sessions"*)
		check "... the ping's ICMP session, translated into the pool" \
			grep -Eq '^icmp +100\.64\.0\.10:[0-9]+ +198\.51\.100\.10:0 +203\.0\.113\.[0-9]+:' "$out"
		;;
	*"show counters"*)
		check "... forwarded both ways (fwd_redirect + fwd_stack >= 2)" \
			bash -c "python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[\"counters\"];
print(c[\"fwd_redirect\"], c[\"fwd_stack\"]);
sys.exit(0 if c[\"fwd_redirect\"] + c[\"fwd_stack\"] >= 2 else 1)' '$out'"
		;;
	*"bpftool map dump"*)
		check "... ns_sessions with BTF field names" \
			grep -q '"in_key"' "$out"
		;;
	*"make lab-clean"*)
		check "... no lab namespace left" \
			bash -c "! ip netns list | grep -q '^nsd-'"
		check "... no pin, no socket left" bash -c "[ ! -e $PIN ] && [ ! -e $SOCK ]"
		check "... no natsyncd of the lab left" \
			bash -c "! pgrep -a -x natsyncd | grep -q 'configs/single-box.cfg'"
		;;
	esac
done

nst_finish
