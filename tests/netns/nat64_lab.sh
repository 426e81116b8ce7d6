# SPDX-License-Identifier: GPL-2.0
#
# nat64_lab.sh - the NAT64 lab shared by test_nat64*.sh (sourced after
# lib.sh): an IPv6-only client, a box, an IPv4-only server, and the
# services section of a stateful-nat64 config.
#
#   CLI 2001:db8:64::10/64 --- IN [BOX] OUT --- SRV 198.51.100.10/24
#       (IPv6 only)        2001:db8:64::1  198.51.100.1  (IPv4 only)
#
# The client routes the pref64 to the box; the server routes the pools
# (203.0.113.0/24) back to it and knows nothing of IPv6.

NAT64_CLI6=2001:db8:64::10
NAT64_BOX6=2001:db8:64::1
NAT64_SRV=198.51.100.10
NAT64_POOL=203.0.113.16/30

# nat64_lab CLI BOX SRV IN OUT [PREF64]: create the three namespaces and
# their links (IN/OUT: the box's interface names); the client routes
# PREF64 (default 64:ff9b::/96) to the box.
nat64_lab()
{
	local cli=$1 box=$2 srv=$3 in=$4 out=$5 pref=${6:-64:ff9b::/96} ns

	ns_add "$cli"
	ns_add "$box"
	ns_add "$srv"
	link_pair "$cli" eth0 "$box" "$in"
	link_pair "$box" "$out" "$srv" eth0
	for ns in "$cli" "$box"; do
		ns_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=0
		ns_sysctl "$ns" net.ipv6.conf.default.disable_ipv6=0
	done
	ns_sysctl "$cli" net.ipv6.conf.eth0.disable_ipv6=0
	ns_sysctl "$box" "net.ipv6.conf.$in.disable_ipv6=0"
	ns_sysctl "$box" "net.ipv6.conf.$out.disable_ipv6=0"
	ns_sysctl "$box" net.ipv6.conf.all.forwarding=1
	ip -n "$cli" -6 addr add "$NAT64_CLI6/64" dev eth0 nodad || nst_die "client address"
	ip -n "$box" -6 addr add "$NAT64_BOX6/64" dev "$in" nodad || nst_die "box address"
	ip -n "$cli" -6 route add "$pref" via "$NAT64_BOX6" || nst_die "client route"
	addr_add "$box" "$out" "198.51.100.1/24"
	addr_add "$srv" eth0 "$NAT64_SRV/24"
	route_add "$srv" 203.0.113.0/24 198.51.100.1
	route_add "$box" default "$NAT64_SRV"
	box_sysctls "$box"
	iface_rp_filter_off "$box" "$in"
	iface_rp_filter_off "$box" "$out"
	host_prepare "$cli" eth0
	host_prepare "$srv" eth0
	gro_on "$box" "$in"
	gro_on "$box" "$out"
}

# nat64_services IN OUT [THEN_EXTRA] [PREF64]: the services section of a
# natsync config: pool p64 ($NAT64_POOL, automatic random ports), rule r64
# with one stateful-nat64 term for 2001:db8:64::/48 to PREF64 (default
# 64:ff9b::/96, THEN_EXTRA added to its then), service set ss64 on IN/OUT.
nat64_services()
{
	local pref=${4:-64:ff9b::/96}

	cat <<EOT
  services: {
    nat: {
      pools = ( { name = "p64"; address = [ "$NAT64_POOL" ]; port = "automatic";
                  port-allocation = "random"; } );
      rules = ( { name = "r64"; match-direction = "input";
                  terms = ( { name = "t1";
                              from = { source-address = [ "2001:db8:64::/48" ];
                                       destination-address = [ "$pref" ]; };
                              then = { translation-type = "stateful-nat64"; source-pool = "p64";
                                       destination-prefix = "$pref"; ${3:-} }; } ); } );
    };
    service-sets = ( { name = "ss64"; nat-rules = [ "r64" ];
                       next-hop-service = { inside-service-interface = "$1";
                                            outside-service-interface = "$2"; }; } );
  };
EOT
}
