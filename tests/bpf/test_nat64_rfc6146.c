// SPDX-License-Identifier: GPL-2.0
/*
 * test_nat64_rfc6146.c - the RFC 6146 behaviours of stateful NAT64 through
 * BPF_PROG_TEST_RUN, XDP and TC: endpoint-independent mapping and
 * filtering, hairpinning, RFC 6052 prefix lengths, the per-subscriber
 * limit per /64, MSS clamping, 802.1Q, IPv6 events, the hold of
 * IPv4-initiated SYNs (3.5.2.2). The test bed is
 * nat64_fixture.h's, as test_nat64.c's.
 */
#include "natsync.skel.h"
#include "tests/bpf/nat64_fixture.h"
#include <criterion/criterion.h>

TestSuite(nat64_rfc6146, .init = t64_setup, .fini = t64_teardown);

/* RFC 6146 3.5.1.1 / RFC 4787 REQ-1: one binding for every destination;
 * 3.5.2 / REQ-8 EIF: a third host reaches the subscriber through it. */
static void eim_eif(int tc, uint8_t proto)
{
	struct pkt6_spec s = t64_spec6(proto, 40000, 80);
	char pool[INET_ADDRSTRLEN];
	struct ns_tuple6 k;
	struct ns_session sess;
	struct pkt6_info r;
	struct pkt_info o1, o2;
	struct pkt_spec b;
	uint8_t a[16];

	t64_term(NS_NAT_F_EIM | NS_NAT_F_EIF, "64:ff9b::", 96);
	s.tcp_flags = 0x02;
	o1 = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	cr_assert(o1.ok);
	s.dst = "64:ff9b::198.51.100.3";
	o2 = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	cr_assert(o2.ok);
	cr_assert_eq(o2.daddr, pkt_ip(T_REM2));
	cr_assert_eq(o2.saddr, o1.saddr, "EIM: same pool address for another destination");
	cr_assert_eq(o2.sport, o1.sport, "EIM: same pool port for another destination");
	cr_assert_eq(t_cnt(NS_CNT_EIM_REUSE), 1);

	/* a host the subscriber never talked to, to the binding */
	b = t64_in_from("198.51.100.9", proto, 5555, o1.saddr, o1.sport, pool);
	b.tcp_flags = 0x02;
	t_sh("ip neigh replace 198.51.100.9 lladdr 02:00:00:00:00:03 dev nsbt_out nud permanent");
	r = t64_in4(tc, &b, t_fwd_rc(tc));
	cr_assert(r.ok, "IPv6 checksum by recomputation");
	pkt6_addr("64:ff9b::198.51.100.9", a);
	cr_assert_arr_eq(r.saddr, a, 16, "from pref64 + the IPv4 source");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r.daddr, a, 16);
	cr_assert_eq(r.sport, 5555);
	cr_assert_eq(r.dport, 40000, "to the bound subscriber port");
	cr_assert_eq(t_cnt(NS_CNT_EIF_INBOUND), 1);
	k = t64_key6(proto, 40000, 5555);
	pkt6_addr("64:ff9b::198.51.100.9", k.daddr);
	cr_assert_eq(t64_session6(&k, &sess), 0, "inbound session under the IPv6 key");
	cr_assert_eq(sess.origin, NS_SIDE_OUTSIDE);
	cr_assert_eq(sess.flags & (NS_SF_EIM | NS_SF_EIF), NS_SF_EIM | NS_SF_EIF);
	cr_assert_eq(sess.out_key.daddr, o1.saddr);
	/* the subscriber answers on that session */
	s.dst = "64:ff9b::198.51.100.9";
	s.dport = 5555;
	s.tcp_flags = 0x12;
	o2 = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	cr_assert(o2.ok);
	cr_assert_eq(o2.sport, o1.sport);
}

Test(nat64_rfc6146, eim_eif_udp_xdp)
{
	eim_eif(0, IPPROTO_UDP);
}

Test(nat64_rfc6146, eim_eif_tcp_tc)
{
	eim_eif(1, IPPROTO_TCP);
}

static uint8_t held_pkt[PKT_MAX];
static int held_len, held_type, held_recs;
static uint32_t held_ifindex;

/* A record of ns_frag_ring, as the daemon reads it (daemon/frag.c). */
static int on_held(void *ctx, void *data, size_t size)
{
	struct ns_frag_rec r;

	(void)ctx;
	held_recs++;
	memcpy(&r, data, sizeof(r));
	held_type = r.type;
	held_ifindex = r.ifindex;
	held_len = size >= sizeof(r) + r.len && r.len <= sizeof(held_pkt) ? r.len : -1;
	if (held_len > 0)
		memcpy(held_pkt, (const uint8_t *)data + sizeof(r), r.len);
	return 0;
}

/*
 * RFC 6146 3.5.2.2 with EIM and address-dependent filtering: an IPv4
 * host's SYN to a binding of a subscriber that never sent to it is not
 * let in, nor answered, nor simply dropped: the fast path copies it to the
 * daemon (NS_FRAG_REC_SYN: the IPv4 packet as it arrived, its interface)
 * and counts syn_held; anything but a SYN is dropped. The subscriber's
 * SYN to that host then opens the session on the same binding (a
 * simultaneous open), and the held SYN, run through the program again as
 * the daemon does on release, is translated to the subscriber (checksum
 * recomputed by the test) and not held twice.
 */
static void syn_hold(int tc)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_TCP, 40001, 80);
	uint8_t in[PKT_MAX], out[PKT_MAX * 2], frame[PKT_MAX], a[16];
	char pool[INET_ADDRSTRLEN];
	struct ring_buffer *rb;
	struct pkt_info o1, o2;
	struct pkt6_info r;
	struct pkt_spec b;
	int len, olen = 0;

	t64_term(NS_NAT_F_EIM, "64:ff9b::", 96);
	t_sh("ip neigh replace 198.51.100.9 lladdr 02:00:00:00:00:03 dev nsbt_out nud permanent");
	rb = ring_buffer__new(bpf_map__fd(t_skel->maps.ns_frag_ring), on_held, NULL, NULL);
	cr_assert(rb);
	s.tcp_flags = 0x02;
	o1 = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	cr_assert(o1.ok);
	b = t64_in_from("198.51.100.9", IPPROTO_TCP, 5555, o1.saddr, o1.sport, pool);
	b.tcp_flags = 0x10; /* not a SYN: filtered, dropped, never held */
	t64_in4(tc, &b, t_drop_rc(tc));
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1);
	b.tcp_flags = 0x02;
	len = pkt_build(in, &b);
	cr_assert_eq(t_run(tc, t_ifout, in, len, out, &olen), t_drop_rc(tc),
		     "the SYN leaves the fast path: the daemon holds it");
	cr_assert_eq(t_cnt(NS_CNT_SYN_HELD), 1);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1, "a held SYN is no drop_no_session");
	cr_assert_eq(t_cnt(NS_CNT_TX_REJECT) + t_cnt(NS_CNT_EIF_INBOUND), 0, "not answered, not let in");
	cr_assert_eq(ring_buffer__consume(rb), 1);
	cr_assert_eq(held_type, NS_FRAG_REC_SYN);
	cr_assert_eq(held_ifindex, (uint32_t)t_ifout);
	cr_assert_eq(held_len, len - 14);
	cr_assert_arr_eq(held_pkt, in + 14, len - 14, "the IPv4 packet as it arrived");

	/* the subscriber's SYN to that host: same binding (EIM), and the
	 * session the held SYN belongs to */
	s.dst = "64:ff9b::198.51.100.9";
	s.dport = 5555;
	o2 = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	cr_assert(o2.ok);
	cr_assert_eq(o2.saddr, o1.saddr);
	cr_assert_eq(o2.sport, o1.sport);
	/* release: the held packet behind an Ethernet header to the
	 * interface, as the daemon re-injects it */
	memcpy(frame, in, 14);
	memcpy(frame + 14, held_pkt, held_len);
	olen = 0;
	cr_assert_eq(t_run(tc, t_ifout, frame, 14 + held_len, out, &olen), t_fwd_rc(tc));
	r = pkt6_parse(out, olen);
	cr_assert(r.ok, "TCP checksum by recomputation");
	pkt6_addr("64:ff9b::198.51.100.9", a);
	cr_assert_arr_eq(r.saddr, a, 16);
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r.daddr, a, 16);
	cr_assert_eq(r.sport, 5555);
	cr_assert_eq(r.dport, 40001);
	cr_assert_eq(r.tcp_flags, 0x02, "the SYN itself");
	cr_assert_eq(t_cnt(NS_CNT_SYN_HELD), 1, "not held twice");
	cr_assert_eq(ring_buffer__consume(rb), 0);
	ring_buffer__free(rb);
}

Test(nat64_rfc6146, syn_held_then_released_xdp)
{
	syn_hold(0);
}

Test(nat64_rfc6146, syn_held_then_released_tc)
{
	syn_hold(1);
}

/* A SYN to a NAT64 binding without EIM (a port of one destination's) is
 * held too (answered after 6 s, never released: another destination gets
 * another port); a SYN to a pool port no binding holds is not NAT64's to
 * hold: dropped as before. The default (no EIM) gives every destination
 * its own port. */
Test(nat64_rfc6146, syn_hold_default_mapping_and_unbound_port)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_TCP, 40002, 80);
	char pool[INET_ADDRSTRLEN];
	struct ring_buffer *rb;
	struct pkt_info o1, o2;
	struct pkt_spec b;

	t64_term(0, "64:ff9b::", 96);
	rb = ring_buffer__new(bpf_map__fd(t_skel->maps.ns_frag_ring), on_held, NULL, NULL);
	cr_assert(rb);
	s.tcp_flags = 0x02;
	o1 = t64_out6(0, &s, t_fwd_rc(0), NULL);
	s.dst = "64:ff9b::198.51.100.3";
	o2 = t64_out6(0, &s, t_fwd_rc(0), NULL);
	cr_assert(o1.sport != o2.sport || o1.saddr != o2.saddr,
		  "address-and-port-dependent mapping: one binding per destination");
	cr_assert_eq(t_cnt(NS_CNT_EIM_REUSE), 0);
	b = t64_in_from("198.51.100.9", IPPROTO_TCP, 5555, o1.saddr, o1.sport, pool);
	b.tcp_flags = 0x02;
	t64_in4(0, &b, t_drop_rc(0));
	cr_assert_eq(t_cnt(NS_CNT_SYN_HELD), 1);
	cr_assert_eq(ring_buffer__consume(rb), 1);
	cr_assert_eq(held_type, NS_FRAG_REC_SYN);
	b.dport = (uint16_t)(o1.sport == 65535 ? 1024 : o1.sport + 1);
	if (b.dport == o2.sport)
		b.dport++;
	t64_in4(0, &b, t_drop_rc(0));
	cr_assert_eq(t_cnt(NS_CNT_SYN_HELD), 1, "no binding: not held");
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1);
	cr_assert_eq(ring_buffer__consume(rb), 0);
	ring_buffer__free(rb);
}

/* RFC 6146 3.8: subscriber 2 reaches subscriber 1's binding through the
 * pool address in its pref64 form; subscriber 1 sees it from subscriber
 * 2's own binding in the pref64 form. */
static void hairpin(int tc)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 40000, 80), s2;
	struct ns_tuple6 k2;
	struct ns_session sess2;
	struct pkt6_info r;
	struct pkt_info o1;
	uint8_t in[PKT_MAX], out[PKT_MAX * 2], a[16];
	char dst6[INET6_ADDRSTRLEN];
	int len, olen = 0, rc;

	t64_term(NS_NAT_F_EIM | NS_NAT_F_EIF, "64:ff9b::", 96);
	o1 = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	memset(a, 0, 16);
	a[0] = 0;
	a[1] = 0x64;
	a[2] = 0xff;
	a[3] = 0x9b;
	memcpy(a + 12, &o1.saddr, 4);
	inet_ntop(AF_INET6, a, dst6, sizeof(dst6));
	s2 = t64_spec6(IPPROTO_UDP, 41000, o1.sport);
	s2.src = T6_SUB2;
	s2.dst = dst6;
	s2.payload = 33;
	len = pkt6_build(in, &s2);
	rc = t_run(tc, t_ifin, in, len, out, &olen);
	cr_assert_eq(rc, t_fwd_rc(tc), "hairpinned back to the inside: %d", rc);
	r = pkt6_parse(out, olen);
	cr_assert(r.ok, "IPv6 checksum by recomputation");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r.daddr, a, 16, "to subscriber 1");
	cr_assert_eq(r.dport, 40000);
	k2 = t64_key6(IPPROTO_UDP, 41000, o1.sport);
	pkt6_addr(T6_SUB2, k2.saddr);
	pkt6_addr(dst6, k2.daddr);
	cr_assert_eq(t64_session6(&k2, &sess2), 0, "subscriber 2's own outbound session");
	memcpy(a, r.saddr, 16);
	cr_assert_eq(memcmp(a, "\x00\x64\xff\x9b\0\0\0\0\0\0\0\0", 12), 0, "from the pref64");
	cr_assert_eq(memcmp(a + 12, &sess2.out_key.daddr, 4), 0, "from subscriber 2's pool address");
	cr_assert_eq(r.sport, ntohs(sess2.out_key.dport), "from subscriber 2's pool port");
	cr_assert_eq(r.hop, 63, "one hop");
	cr_assert_eq(t_cnt(NS_CNT_EIF_INBOUND), 1);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_OUT), 2);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 1);
}

T_XDP_TC(nat64_rfc6146, hairpinning, hairpin)

/* RFC 6052 2.2: the IPv4 address under a /@len pref64 (u-octet skipped),
 * both ways, and the source of an ICMP error from a router in that form. */
static void pref_len_flow(int tc, const char *pref, uint8_t len, const char *rem6,
			  const char *router6)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 40000, 53);
	char pool[INET_ADDRSTRLEN];
	uint8_t out[PKT_MAX * 2], a[16], err[PKT_MAX];
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	int olen = 0, elen;

	t64_term(0, pref, len);
	s.dst = rem6;
	o = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	cr_assert(o.ok);
	cr_assert_eq(o.daddr, pkt_ip(T_REM), "/%u: the embedded IPv4 destination", len);
	b = t64_reply_to(&o, pool);
	r = t64_in4(tc, &b, t_fwd_rc(tc));
	cr_assert(r.ok);
	pkt6_addr(rem6, a);
	cr_assert_arr_eq(r.saddr, a, 16, "/%u: the reply from the same IPv6 address", len);

	/* ICMP port unreachable from a router 198.51.100.99 about the flow */
	{
		uint8_t q[PKT_MAX];
		int qlen;
		struct pkt_spec qs = t_spec_out(IPPROTO_UDP, "0.0.0.0", o.sport, T_REM, 53);

		qs.src = pool;
		qlen = pkt_build(q, &qs);
		t_sh("ip neigh replace 198.51.100.99 lladdr 02:00:00:00:00:03 dev nsbt_out nud permanent");
		elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, "198.51.100.99", pool, 3, 3,
					  q + 14, qlen - 14);
		cr_assert_eq(t_run(tc, t_ifout, err, elen, out, &olen), t_fwd_rc(tc));
		pkt6_addr(router6, a);
		cr_assert_arr_eq(out + 14 + 8, a, 16, "/%u: error source in the pref64 form", len);
	}
}

Test(nat64_rfc6146, pref64_32_xdp)
{
	pref_len_flow(0, "2001:db8::", 32, "2001:db8:c633:6402::", "2001:db8:c633:6463::");
}

Test(nat64_rfc6146, pref64_40_tc)
{
	pref_len_flow(1, "2001:db8:100::", 40, "2001:db8:1c6:3364:2::", "2001:db8:1c6:3364:63::");
}

Test(nat64_rfc6146, pref64_48_xdp)
{
	pref_len_flow(0, "2001:db8:122::", 48, "2001:db8:122:c633:64:200::",
		      "2001:db8:122:c633:64:6300::");
}

Test(nat64_rfc6146, pref64_56_tc)
{
	pref_len_flow(1, "2001:db8:122:300::", 56, "2001:db8:122:3c6:33:6402::",
		      "2001:db8:122:3c6:33:6463::");
}

Test(nat64_rfc6146, pref64_64_xdp)
{
	pref_len_flow(0, "2001:db8:122:344::", 64, "2001:db8:122:344:c6:3364:200:0",
		      "2001:db8:122:344:c6:3364:6300:0");
}

Test(nat64_rfc6146, pref64_96_other_prefix_tc)
{
	pref_len_flow(1, "2001:db8:64:ff00::", 96, "2001:db8:64:ff00::198.51.100.2",
		      "2001:db8:64:ff00::198.51.100.99");
}

/* RFC 6888 REQ-4 for IPv6 subscribers: counted per /64. */
Test(nat64_rfc6146, subscriber_limit_per_64)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 40000, 53);
	struct ns_sub_key sk;
	uint8_t p64[16] = { 0 };
	uint64_t created = 0;

	t64_term(0, "64:ff9b::", 96);
	t64_cfg_set(0, 2);
	t64_out6(0, &s, t_fwd_rc(0), NULL);
	s.sport = 40001;
	t64_out6(1, &s, t_fwd_rc(1), NULL);
	s.sport = 40002;
	t64_out6(0, &s, t_drop_rc(0), NULL);
	s.src = T6_SUB2; /* same /64: same subscriber */
	t64_out6(1, &s, t_drop_rc(1), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_SUBSCRIBER_LIMIT), 2);
	s.src = T6_SUB3; /* another /64 */
	t64_out6(0, &s, t_fwd_rc(0), NULL);
	cr_assert_eq(t_cnt(NS_CNT_SESSION_NEW), 3);
	pkt6_addr("2001:db8:64::", p64);
	memset(&sk, 0, sizeof(sk));
	sk.addr = ns_nat64_fold(p64);
	sk.svc_set = 0;
	sk.nat64 = 1;
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(t_skel->maps.ns_sub_created), &sk, &created), 0);
	cr_assert_eq(created, 2, "the /64's count");
	/* existing sessions are never cut */
	s.src = T6_SUB;
	s.sport = 40000;
	t64_out6(0, &s, t_fwd_rc(0), NULL);
}

/* Rewrite the TCP frame @buf (IPv6 if @v6, else IPv4, no VLAN, no
 * payload) to carry @olen option bytes @opt; checksums recomputed. */
static int tcp_with_opts(uint8_t *buf, int len, int v6, const uint8_t *opt, int olen)
{
	int l3 = 14, l4 = v6 ? 54 : 34, tl = 20 + olen;

	memcpy(buf + l4 + 20, opt, olen);
	buf[l4 + 12] = (uint8_t)((tl / 4) << 4);
	put16(buf + l4 + 16, 0);
	if (v6) {
		put16(buf + l3 + 4, tl);
		put16(buf + l4 + 16, pkt_csum(buf + l4, tl, pkt6_pseudo(buf + l3, IPPROTO_TCP, tl)));
	} else {
		put16(buf + l3 + 2, 20 + tl);
		put16(buf + l3 + 10, 0);
		put16(buf + l3 + 10, pkt_csum(buf + l3, 20, 0));
		put16(buf + l4 + 16, pkt_csum(buf + l4, tl, pkt_pseudo(buf + l3, IPPROTO_TCP, tl)));
	}
	(void)len;
	return l4 + tl;
}

/* MSS clamping of translated SYNs: 1460 -> 1440 both ways, at an even and
 * an odd option offset; 1300 stays. Checksums by recomputation. */
static void mss(int tc)
{
	static const uint8_t even[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };	/* MSS 1460 first */
	static const uint8_t odd[] = { 1, 2, 4, 0x05, 0xb4, 1, 1, 0 };	/* after a NOP */
	static const uint8_t low[] = { 2, 4, 0x05, 0x14 };		/* 1300 */
	struct pkt6_spec s = t64_spec6(IPPROTO_TCP, 40000, 80);
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o;
	struct pkt6_info r;
	struct pkt_spec b;
	int len, olen = 0;

	s.tcp_flags = 0x02;
	len = tcp_with_opts(in, pkt6_build(in, &s), 1, even, sizeof(even));
	cr_assert_eq(t_run(tc, t_ifin, in, len, out, &olen), t_fwd_rc(tc));
	o = pkt_parse(out, olen);
	cr_assert(o.ok, "IPv4 and TCP checksums by recomputation");
	cr_assert_eq(get16(out + 34 + 22), 1440, "IPv6 SYN: MSS 1460 clamped to 1440");

	s.sport = 40001;
	len = tcp_with_opts(in, pkt6_build(in, &s), 1, odd, sizeof(odd));
	cr_assert_eq(t_run(tc, t_ifin, in, len, out, &olen), t_fwd_rc(tc));
	o = pkt_parse(out, olen);
	cr_assert(o.ok, "odd option offset: checksum by recomputation");
	cr_assert_eq(get16(out + 34 + 23), 1440);

	s.sport = 40002;
	len = tcp_with_opts(in, pkt6_build(in, &s), 1, low, sizeof(low));
	cr_assert_eq(t_run(tc, t_ifin, in, len, out, &olen), t_fwd_rc(tc));
	o = pkt_parse(out, olen);
	cr_assert(o.ok);
	cr_assert_eq(get16(out + 34 + 22), 1300, "a smaller MSS is left alone");

	/* the IPv4 host's SYN-ACK with MSS 1460 */
	b = t64_reply_to(&o, pool);
	b.tcp_flags = 0x12;
	len = tcp_with_opts(in, pkt_build(in, &b), 0, even, sizeof(even));
	olen = 0;
	cr_assert_eq(t_run(tc, t_ifout, in, len, out, &olen), t_fwd_rc(tc));
	r = pkt6_parse(out, olen);
	cr_assert(r.ok, "IPv6 TCP checksum by recomputation");
	cr_assert_eq(r.tcp_flags, 0x12);
	cr_assert_eq(get16(out + 54 + 22), 1440, "IPv4 SYN-ACK: MSS clamped to 1440");
}

T_XDP_TC(nat64_rfc6146, mss_clamping, mss)

/* 802.1Q: a tagged IPv6 frame leaves as a tagged IPv4 one on the same VLAN
 * (to the kernel: tagged frames are never redirected), and back. */
Test(nat64_rfc6146, vlan_tagged_both_ways_xdp)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 40000, 53);
	uint8_t in[PKT_MAX + 4], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	int len, olen = 0;

	s.payload = 20;
	len = pkt6_build(in, &s);
	memmove(in + 16, in + 12, len - 12); /* tag 100 after the MACs */
	put16(in + 12, 0x8100);
	put16(in + 14, 100);
	len += 4;
	cr_assert_eq(t_run(0, t_ifin, in, len, out, &olen), t_pass_rc(0), "to the kernel");
	o = pkt_parse(out, olen);
	cr_assert(o.ok, "IPv4 checksums by recomputation");
	cr_assert_eq(o.vlans, 1);
	cr_assert_eq(o.vlan_id[0], 100, "the same VLAN");
	cr_assert(t64_in_pool(o.saddr));
	cr_assert_eq(o.daddr, pkt_ip(T_REM));
	cr_assert_eq(t_cnt(NS_CNT_NAT64_OUT), 1);

	b = t64_reply_to(&o, pool);
	b.vlans = 1;
	b.vlan_id[0] = 100;
	len = pkt_build(in, &b);
	olen = 0;
	cr_assert_eq(t_run(0, t_ifout, in, len, out, &olen), t_pass_rc(0));
	cr_assert_eq(get16(out + 12), 0x8100, "still tagged");
	cr_assert_eq(get16(out + 14), 100);
	memmove(out + 12, out + 16, olen - 16);
	r = pkt6_parse(out, olen - 4);
	cr_assert(r.ok, "IPv6 checksum by recomputation");
	cr_assert_eq(r.dport, 40000);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 1);
}

static int ev6_seen;
static struct ns_event6 ev6_last;

static int on_ev(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size == sizeof(struct ns_event6)) {
		memcpy(&ev6_last, data, sizeof(ev6_last));
		ev6_seen++;
	}
	return 0;
}

/* Ring-buffer events of NAT64 sessions carry the IPv6 addresses. */
Test(nat64_rfc6146, events_carry_the_ipv6_addresses)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 40000, 53);
	struct ring_buffer *rb;
	uint8_t a[16];

	t64_cfg_set(NS_CFG_F_EVENTS, 0);
	rb = ring_buffer__new(bpf_map__fd(t_skel->maps.ns_events), on_ev, NULL, NULL);
	cr_assert(rb);
	t64_out6(0, &s, t_fwd_rc(0), NULL);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	cr_assert_eq(ev6_seen, 2, "SESSION_OPEN and NAT_ALLOC, as struct ns_event6");
	cr_assert_eq(ev6_last.ev.nat_type, NS_NAT_NAT64);
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(ev6_last.saddr6, a, 16);
	pkt6_addr(T6_REM, a);
	cr_assert_arr_eq(ev6_last.daddr6, a, 16);
}
