// SPDX-License-Identifier: GPL-2.0
/*
 * test_alloc.c - NAT allocation through BPF_PROG_TEST_RUN: pool exhaustion,
 * sequential ports, paired pooling, round-robin, EIM reuse, EIF inbound,
 * session map full (claims released), dynamic and basic NAT44.
 */
#include "tests/bpf/fixture.h"
#include <criterion/criterion.h>

static void setup(void)
{
	t_setup(1024);
}

/* A test's own .init runs after the suite's (setup): its skeleton makes way
 * for one whose session maps hold two sessions, in the same namespace. */
static void setup_small(void)
{
	t_teardown();
	t_load(2);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(alloc, .init = setup, .fini = teardown);

static struct pkt_info udp_out(const char *src, uint16_t sport, const char *dst, int expect)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, src, sport, dst, 53);

	return t_send(0, t_ifin, &s, expect, NULL, NULL);
}

Test(alloc, exhaustion_sequential)
{
	struct pkt_info a, b;

	t_set_pool(0, "203.0.113.20", 1, 2000, 2001, 0);
	a = udp_out(T_SUB, 1111, T_REM, XDP_RET_REDIRECT);
	b = udp_out(T_SUB, 1112, T_REM, XDP_RET_REDIRECT);
	cr_assert(a.ok && b.ok);
	cr_assert_eq(a.saddr, pkt_ip("203.0.113.20"));
	cr_assert_eq(a.sport, 2000, "sequential starts at port_lo");
	cr_assert_eq(b.sport, 2001);
	udp_out(T_SUB, 1113, T_REM, XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_POOL_EXHAUSTED), 1);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 2);
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 2);
	/* expire the first session as aging does: the port is usable again */
	struct ns_port_key k = {
	    .addr = pkt_ip("203.0.113.20"), .port = htons(2000), .proto = IPPROTO_UDP};
	struct ns_tuple ik = t_tuple(T_SUB, 1111, T_REM, 53, IPPROTO_UDP);
	struct ns_session sess;

	cr_assert_eq(t_session(&ik, &sess), 0);
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_session_rev"), &sess.out_key), 0);
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_sessions"), &ik), 0);
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_ports"), &k), 0);
	a = udp_out(T_SUB, 1113, T_REM, XDP_RET_REDIRECT);
	cr_assert_eq(a.sport, 2000);
}

/* Random probing: unique ports inside the range. Only half the range is
 * used: with NS_PORT_ALLOC_TRIES independent probes a nearly full random
 * pool may legitimately report exhaustion (documented). */
Test(alloc, random_ports_unique)
{
	uint16_t seen[32];
	int i, j;

	t_set_pool(0, "203.0.113.20", 1, 3000, 3063, NS_POOL_F_RANDOM_PORT);
	for (i = 0; i < 32; i++) {
		struct pkt_info o = udp_out(T_SUB, 2000 + i, T_REM, XDP_RET_REDIRECT);

		cr_assert(o.sport >= 3000 && o.sport <= 3063);
		seen[i] = o.sport;
		for (j = 0; j < i; j++)
			cr_assert_neq(seen[j], seen[i], "port reused");
	}
}

Test(alloc, paired_keeps_address)
{
	struct pkt_info a, b, c;
	int i;

	t_set_pool(0, T_POOL_FIRST, 4, 0, 0,
		   NS_POOL_F_PORT_AUTO | NS_POOL_F_RANDOM_PORT | NS_POOL_F_ROUND_ROBIN);
	t_set_nat(0, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_NAPT44, NS_NAT_F_PAIRED, 0);
	a = udp_out(T_SUB, 1000 + 0, T_REM, XDP_RET_REDIRECT);
	for (i = 1; i < 6; i++) {
		b = udp_out(T_SUB, 1000 + i, T_REM, XDP_RET_REDIRECT);
		cr_assert_eq(b.saddr, a.saddr, "paired: same address for one subscriber");
	}
	c = udp_out(T_SUB2, 1000, T_REM, XDP_RET_REDIRECT);
	cr_assert_neq(c.saddr, a.saddr, "round-robin moves the next subscriber on");
}

Test(alloc, round_robin_without_pairing)
{
	struct pkt_info a, b;

	t_set_pool(0, T_POOL_FIRST, 4, 0, 0, NS_POOL_F_PORT_AUTO | NS_POOL_F_ROUND_ROBIN);
	a = udp_out(T_SUB, 1000, T_REM, XDP_RET_REDIRECT);
	b = udp_out(T_SUB, 1001, T_REM, XDP_RET_REDIRECT);
	cr_assert_eq(ntohl(b.saddr), ntohl(a.saddr) + 1, "next address in turn");
}

Test(alloc, eim_reuse_and_eif)
{
	struct pkt_info a, b, r;
	char pool[INET_ADDRSTRLEN];

	t_set_nat(0, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_NAPT44, NS_NAT_F_EIM | NS_NAT_F_EIF, 0);
	a = udp_out(T_SUB, 5000, T_REM, XDP_RET_REDIRECT);
	b = udp_out(T_SUB, 5000, T_REM2, XDP_RET_REDIRECT);
	cr_assert_eq(a.saddr, b.saddr, "EIM: same address");
	cr_assert_eq(a.sport, b.sport, "EIM: same port");
	cr_assert_eq(t_cnt(NS_CNT_EIM_REUSE), 1);
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 1);

	/* EIF: a third party may reach the binding */
	inet_ntop(AF_INET, &a.saddr, pool, sizeof(pool));
	struct pkt_spec in = t_spec_in(IPPROTO_UDP, "198.51.100.9", 7777, pool, a.sport);

	r = t_send(0, t_ifout, &in, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(r.ok);
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	cr_assert_eq(r.dport, 5000);
	cr_assert_eq(t_cnt(NS_CNT_EIF_INBOUND), 1);
	struct ns_tuple k = t_tuple(T_SUB, 5000, "198.51.100.9", 7777, IPPROTO_UDP);
	struct ns_session s;

	cr_assert_eq(t_session(&k, &s), 0);
	cr_assert(s.flags & NS_SF_EIF);
	cr_assert_eq(s.origin, NS_SIDE_OUTSIDE);
}

Test(alloc, no_eif_without_flag)
{
	struct pkt_info a;
	char pool[INET_ADDRSTRLEN];

	t_set_nat(0, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_NAPT44, NS_NAT_F_EIM, 0);
	a = udp_out(T_SUB, 5000, T_REM, XDP_RET_REDIRECT);
	inet_ntop(AF_INET, &a.saddr, pool, sizeof(pool));
	struct pkt_spec in = t_spec_in(IPPROTO_UDP, T_REM2, 7777, pool, a.sport);

	t_send(0, t_ifout, &in, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1);
}

Test(alloc, dynamic_nat44_keeps_ports)
{
	struct pkt_info a, b;

	t_set_nat(0, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_DYNAMIC44, 0, 0);
	a = udp_out(T_SUB, 4444, T_REM, XDP_RET_REDIRECT);
	b = udp_out(T_SUB2, 4444, T_REM, XDP_RET_REDIRECT);
	cr_assert_eq(a.sport, 4444);
	cr_assert_eq(b.sport, 4444);
	cr_assert_neq(a.saddr, b.saddr, "one address per subscriber");
}

Test(alloc, basic_nat44_static)
{
	struct pkt_info a;

	t_set_nat(0, t_match("100.64.0.0", 24, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_BASIC44, 0, 0);
	a = udp_out(T_SUB, 4444, T_REM, XDP_RET_REDIRECT); /* host 2 -> pool[2] */
	cr_assert_eq(a.saddr, pkt_ip("203.0.113.10"));
	cr_assert_eq(a.sport, 4444);
}

Test(alloc, session_full_releases_port, .init = setup_small)
{
	udp_out(T_SUB, 1, T_REM, XDP_RET_REDIRECT);
	udp_out(T_SUB, 2, T_REM, XDP_RET_REDIRECT);
	udp_out(T_SUB, 3, T_REM, XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_SESSION_FULL), 1);
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 2, "claimed port released");
	cr_assert_eq(t_map_count(t_fd("ns_session_rev")), 2);
}

/* Hairpinning (RFC 4787 REQ-9): subscriber A reaches subscriber B through
 * B's EIM/EIF binding; both see each other's outside endpoint only. */
Test(alloc, hairpin_through_eif_binding)
{
	struct pkt_info b_out, a_to_b, b_to_a;
	char pool_b[INET_ADDRSTRLEN], pool_a[INET_ADDRSTRLEN];

	t_set_nat(0, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_NAPT44, NS_NAT_F_EIM | NS_NAT_F_EIF, 0);
	b_out = udp_out(T_SUB2, 6000, T_REM, XDP_RET_REDIRECT);
	inet_ntop(AF_INET, &b_out.saddr, pool_b, sizeof(pool_b));

	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 5000, pool_b, b_out.sport);

	s.payload = 10;
	a_to_b = t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(a_to_b.ok, "hairpinned checksums");
	cr_assert_eq(a_to_b.daddr, pkt_ip(T_SUB2), "delivered to B");
	cr_assert_eq(a_to_b.dport, 6000);
	cr_assert(a_to_b.saddr != pkt_ip(T_SUB), "B sees A's outside address");
	cr_assert_arr_eq(a_to_b.dmac, t_mac_sub, 6, "out of the inside interface");
	inet_ntop(AF_INET, &a_to_b.saddr, pool_a, sizeof(pool_a));

	struct pkt_spec r = t_spec_out(IPPROTO_UDP, T_SUB2, 6000, pool_a, a_to_b.sport);

	b_to_a = t_send(0, t_ifin, &r, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(b_to_a.ok);
	cr_assert_eq(b_to_a.daddr, pkt_ip(T_SUB), "reply delivered to A");
	cr_assert_eq(b_to_a.dport, 5000);
	cr_assert_eq(b_to_a.saddr, b_out.saddr, "A sees B's outside endpoint");
	cr_assert_eq(b_to_a.sport, b_out.sport);
}
