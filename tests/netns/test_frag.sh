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
. "$(dirname "$0")/frag_checks.sh"


nst_init nfr

write_config()
{
	{
		nsd_cfg_open nfr-box "$3" "$4" max-sessions=4096 attach-mode="$2" \
			timeouts="udp=300 icmp=300"
		nsd_cfg_napt44_services "$LAB_POOL" nfr-in nfr-out
		echo "};"
	} >"$1"
}

FR_CLI=nfr-cli
FR_SRV=nfr-srv
FR_CLI_SRC=$LAB_CLI_ADDR
FR_SRV_SRC=$LAB_SRV_ADDR
FR_DST=$LAB_SRV_ADDR
FR_IN_POOL=lab_in_pool
FR_P=nfr
FR_TOPO=topo_nfr
FR_OUT="IPv4 fragments"
FR_IN="IPv4 fragments"

topo_nfr()
{
	topo_single_box nfr
}

fr_run_modes
