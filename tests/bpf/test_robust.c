// SPDX-License-Identifier: GPL-2.0
/*
 * test_robust.c - what the fast path must not translate: malformed and
 * truncated frames, non-first fragments, non-IP, unknown interfaces, a
 * backup (inactive) box, TTL 1, traffic for the box itself; and VLAN-tagged
 * frames, which are translated in place and handed to the stack.
 */
#include "tests/bpf/fixture.h"
#include <criterion/criterion.h>

static void setup(void)
{
	t_setup(1024);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(robust, .init = setup, .fini = teardown);

static int run_raw(int tc, int ifindex, uint8_t *buf, int len)
{
	uint8_t out[PKT_MAX * 2];
	int olen;

	return tc ? t_run_tc(ifindex, buf, len, out, &olen)
		  : t_run_xdp(ifindex, buf, len, out, &olen);
}

static void expect_malformed(int tc, uint8_t *buf, int len, uint64_t n)
{
	int rc = run_raw(tc, t_ifin, buf, len);

	cr_assert_eq(rc, tc ? TC_RET_SHOT : XDP_RET_DROP, "malformed frame #%lu not dropped (%d)",
		     (unsigned long)n, rc);
	cr_assert_eq(t_cnt(NS_CNT_DROP_MALFORMED), n);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0, "no session from a malformed frame");
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 0);
}

static void malformed(int tc)
{
	struct pkt_spec s = t_spec_out(IPPROTO_TCP, T_SUB, 1234, T_REM, 80);
	uint8_t buf[PKT_MAX];
	int len, n = 0;

	s.tcp_flags = 0x02;
	len = pkt_build(buf, &s);
	/* IPv4 header cut (the skb test runner refuses such frames itself) */
	if (!tc)
		expect_malformed(tc, buf, 14 + 10, ++n);
	expect_malformed(tc, buf, 14 + 20 + 10, ++n); /* TCP header cut */
	buf[14] = 0x44;				      /* ihl 4 */
	expect_malformed(tc, buf, len, ++n);
	buf[14] = 0x45;
	put16(buf + 16, 1500); /* tot_len > frame */
	expect_malformed(tc, buf, len, ++n);
	put16(buf + 16, 30); /* tot_len < ip + tcp */
	expect_malformed(tc, buf, len, ++n);
	put16(buf + 16, 40);
	buf[14] = 0x35; /* version 3 */
	expect_malformed(tc, buf, len, ++n);
	buf[14] = 0x45;
	buf[14 + 20 + 12] = 0x40; /* TCP doff 4 */
	expect_malformed(tc, buf, len, ++n);
	buf[14 + 20 + 12] = 0x50;
	/* IP options announced but missing */
	s.ip_opt = 40;
	len = pkt_build(buf, &s);
	expect_malformed(tc, buf, 14 + 30, ++n);
	/* UDP length below its header */
	s = t_spec_out(IPPROTO_UDP, T_SUB, 1234, T_REM, 53);
	len = pkt_build(buf, &s);
	put16(buf + 14 + 20 + 4, 4);
	expect_malformed(tc, buf, len, ++n);
	/* ICMP cut short */
	s = t_spec_out(IPPROTO_ICMP, T_SUB, 1, T_REM, 0);
	s.icmp_type = 8;
	len = pkt_build(buf, &s);
	put16(buf + 16, 24);
	expect_malformed(tc, buf, 14 + 24, ++n);
	/* (runt frames below 14 bytes cannot be fed to BPF_PROG_TEST_RUN) */
}

Test(robust, malformed_xdp)
{
	malformed(0);
}

Test(robust, malformed_tc)
{
	malformed(1);
}

/* A non-first fragment without its first one is held for it (test_frag.c),
 * never a session of its own. */
Test(robust, non_first_fragment)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 1234, T_REM, 53);

	s.frag_off = 185; /* offset 1480 */
	t_send(0, t_ifin, &s, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_HELD), 1);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 0);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0);
}

Test(robust, non_ip_and_unknown_iface)
{
	uint8_t buf[64];

	memset(buf, 0, sizeof(buf));
	put16(buf + 12, 0x0806); /* ARP */
	cr_assert_eq(run_raw(0, t_ifin, buf, 60), XDP_RET_PASS);
	cr_assert_eq(t_cnt(NS_CNT_PASS_NON_IP), 1);
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 1234, T_REM, 53);

	t_send(0, 1 /* lo: not a natsync interface */, &s, XDP_RET_PASS, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_PASS_NO_SVC), 1);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0);
}

Test(robust, inactive_backup_drops_transit)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 1234, T_REM, 53);

	t_set_cfg(0);
	t_send(0, t_ifin, &s, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_INACTIVE), 1);
	s.dst = "100.64.0.1"; /* the box itself still answers */
	t_send(0, t_ifin, &s, XDP_RET_PASS, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_PASS_LOCAL), 1);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0);
}

Test(robust, local_destination_passes)
{
	struct pkt_spec s = t_spec_out(IPPROTO_TCP, T_SUB, 1234, "100.64.0.1", 22);
	struct pkt_info o;

	s.tcp_flags = 0x02;
	o = t_send(0, t_ifin, &s, XDP_RET_PASS, NULL, NULL);
	cr_assert_eq(o.saddr, pkt_ip(T_SUB), "untranslated");
	cr_assert_eq(t_cnt(NS_CNT_PASS_LOCAL), 1);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0);
}

Test(robust, ttl_one_passes_untranslated)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 1234, T_REM, 53);
	struct pkt_info o;

	s.ttl = 1;
	o = t_send(0, t_ifin, &s, XDP_RET_PASS, NULL, NULL);
	cr_assert_eq(o.saddr, pkt_ip(T_SUB));
	cr_assert_eq(t_cnt(NS_CNT_PASS_TTL), 1);
}

Test(robust, unsupported_protocol)
{
	struct pkt_spec s = t_spec_out(47 /* GRE */, T_SUB, 0, T_REM, 0);

	t_send(0, t_ifin, &s, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_UNSUPPORTED), 1);
}

static void vlan(int tc, int tags)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 1234, T_REM, 53);
	struct pkt_info o, r;
	char pool[INET_ADDRSTRLEN];

	s.vlans = tags;
	s.vlan_id[0] = 100;
	s.vlan_id[1] = 200;
	s.payload = 20;
	o = t_send(tc, t_ifin, &s, tc ? TC_RET_OK : XDP_RET_PASS, NULL, NULL);
	cr_assert(o.ok, "tagged frame checksums");
	cr_assert_eq(o.vlans, tags);
	cr_assert_eq(o.vlan_id[0], 100);
	cr_assert_neq(o.saddr, pkt_ip(T_SUB), "translated in place");
	cr_assert_eq(t_cnt(NS_CNT_FWD_STACK), 1);

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, pool, o.sport);

	b.vlans = tags;
	b.vlan_id[0] = 100;
	b.vlan_id[1] = 200;
	r = t_send(tc, t_ifout, &b, tc ? TC_RET_OK : XDP_RET_PASS, NULL, NULL);
	cr_assert(r.ok);
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	cr_assert_eq(r.dport, 1234);
}

Test(robust, vlan_single_xdp)
{
	vlan(0, 1);
}

Test(robust, vlan_double_xdp)
{
	vlan(0, 2);
}

Test(robust, vlan_single_tc)
{
	vlan(1, 1);
}

Test(robust, no_neighbour_goes_to_stack)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 1234, "198.51.100.77", 53);
	struct pkt_info o = t_send(0, t_ifin, &s, XDP_RET_PASS, NULL, NULL);

	cr_assert(o.ok);
	cr_assert_neq(o.saddr, pkt_ip(T_SUB), "translated before the stack sees it");
	cr_assert_eq(o.ttl, 64, "the stack decrements TTL itself");
	cr_assert_eq(t_cnt(NS_CNT_FWD_STACK), 1);
}

/*
 * An unsolicited packet to a pool address must be dropped even when no
 * route covers the pool (the kernel would call it "local" and answer with
 * an ICMP error from the box; RFC 5382: never answer an unsolicited SYN).
 */
static void pool_without_route(int tc)
{
	int drop = tc ? TC_RET_SHOT : XDP_RET_DROP;
	int pass = tc ? TC_RET_OK : XDP_RET_PASS;
	struct pkt_spec b = t_spec_in(IPPROTO_TCP, T_REM, 40000, "203.0.113.9", 22);

	cr_assert_eq(system("ip route del blackhole 203.0.113.0/24"), 0);
	b.tcp_flags = 0x02;
	t_send(tc, t_ifout, &b, drop, NULL, NULL);
	b.proto = IPPROTO_UDP;
	t_send(tc, t_ifout, &b, drop, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 2);
	cr_assert_eq(t_cnt(NS_CNT_PASS_LOCAL), 0, "not handed to the kernel");
	/* the box's own outside address is still the kernel's */
	b.dst = "198.51.100.1";
	t_send(tc, t_ifout, &b, pass, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_PASS_LOCAL), 1);
	/* an address of no pool and no route: the kernel's business */
	b.dst = "203.0.113.200";
	t_send(tc, t_ifout, &b, pass, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_PASS_LOCAL), 2);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0);
}

Test(robust, pool_without_route_dropped_xdp)
{
	pool_without_route(0);
}

Test(robust, pool_without_route_dropped_tc)
{
	pool_without_route(1);
}

/* Sessions still work without a pool route, and an ICMP error about no
 * session to a pool address is dropped, not passed. */
Test(robust, pool_without_route_session_and_icmp_err)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 1234, T_REM, 53);
	uint8_t inner[28], frame[PKT_MAX];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o, r;
	int len, olen;

	cr_assert_eq(system("ip route del blackhole 203.0.113.0/24"), 0);
	o = t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(o.ok);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, pool, o.sport);

	r = t_send(0, t_ifout, &b, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	/* port unreachable quoting a flow that never existed */
	struct pkt_spec q = t_spec_out(IPPROTO_UDP, pool, 999, T_REM, 53);
	uint8_t qbuf[PKT_MAX];

	pkt_build(qbuf, &q);
	memcpy(inner, qbuf + 14, sizeof(inner));
	len = pkt_build_icmp_err(frame, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, inner,
				 sizeof(inner));
	cr_assert_eq(t_run_xdp(t_ifout, frame, len, qbuf, &olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 1);
	cr_assert_eq(t_cnt(NS_CNT_PASS_LOCAL), 0);
}
