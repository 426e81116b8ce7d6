#!/bin/sh
# Install the Debian 12 packages natsync builds, tests, demos and benchmarks
# with, but only those that are missing (so a warm machine does no apt work).
# pandoc makes the man pages (make man, make install); man-db (man, lexgrog)
# and systemd (systemd-analyze verify) are what make install-test checks
# them and the unit with. python3-scapy sends the reordered fragments of
# tests/netns/test_frag.sh. libfixbuf-dev encodes the IPFIX export; nfdump's
# nfcapd is the real collector the IPFIX scenario decodes it with.
# libmicrohttpd-dev serves the metrics endpoint (daemon/metrics.c); curl scrapes it and capsh (libcap2-bin) drops a
# capability in the namespace tests.
set -eu
PKGS="clang llvm gcc make pkg-config libbpf-dev libxdp-dev xdp-tools bpftool
libconfig-dev libcriterion-dev libsodium-dev libmicrohttpd-dev curl libcap2-bin libelf-dev zlib1g-dev linux-libc-dev iproute2
iputils-ping ethtool netcat-openbsd socat nftables conntrack tcpdump
netsniff-ng python3 python3-scapy procps kmod stress-ng libclang-rt-14-dev libasan8 libubsan1 conntrackd
pandoc man-db systemd libfixbuf-dev nfdump"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
