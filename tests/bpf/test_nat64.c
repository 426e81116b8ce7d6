// SPDX-License-Identifier: GPL-2.0
/*
 * test_nat64.c - stateful NAT64 through BPF_PROG_TEST_RUN, XDP and TC:
 * TCP, UDP and ICMPv6 echo from the IPv6 inside to the IPv4 outside and
 * back, every checksum of every output verified by full recomputation
 * (pkt.h for IPv4, pkt6.h for IPv6), the session in ns_nat64_sess, the
 * refusals (unsolicited inbound, TCP without SYN, pool exhaustion,
 * malformed IPv6, extension headers and fragments, untranslated ICMP) and
 * the ICMP <-> ICMPv6 errors. The RFC 6146 behaviours (bindings, prefix
 * lengths, limits, MSS, VLAN, events) are in test_nat64_rfc6146.c.
 */
#include "natsync.skel.h"
#include "tests/bpf/nat64_fixture.h"
#include <criterion/criterion.h>

TestSuite(nat64, .init = t64_setup, .fini = t64_teardown);

static void tcp_flow(int tc)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_TCP, 40000, 80);
	struct ns_tuple6 k = t64_key6(IPPROTO_TCP, 40000, 80);
	char pool[INET_ADDRSTRLEN];
	struct ns_session sess;
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	uint32_t sum;

	s.tcp_flags = 0x02;
	s.tclass = 0xb8;
	o = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	cr_assert(o.ok, "IPv4 header and TCP checksums by recomputation");
	cr_assert_eq(o.proto, IPPROTO_TCP);
	cr_assert(t64_in_pool(o.saddr), "source is a NAT64 pool address");
	cr_assert_eq(o.daddr, pkt_ip(T_REM), "destination = last 32 bits of the IPv6 one");
	cr_assert(o.sport >= 1024, "automatic ports keep >= 1024: %u", o.sport);
	cr_assert_eq(o.dport, 80);
	cr_assert_eq(o.ttl, 63, "hop limit -> TTL, decremented once");
	cr_assert_eq(o.ip_len, 40);
	cr_assert_arr_eq(o.dmac, t_mac_rem, 6);
	cr_assert_arr_eq(o.smac, t_mac_out, 6);
	cr_assert_eq(t64_session6(&k, &sess), 0, "session in ns_nat64_sess");
	cr_assert_eq(sess.nat_type, NS_NAT_NAT64);
	cr_assert_eq(sess.tcp_state, NS_TCP_SYN_SENT);
	cr_assert_eq(sess.out_key.daddr, o.saddr);
	cr_assert_eq(ntohs(sess.out_key.dport), o.sport);
	cr_assert_eq(sess.out_key.saddr, pkt_ip(T_REM));
	cr_assert_eq(sess.in_key.daddr, pkt_ip(T_REM));
	cr_assert_eq(sess.pool_id, 1);

	b = t64_reply_to(&o, pool);
	b.tcp_flags = 0x12;
	b.ack = 1001;
	r = t64_in4(tc, &b, t_fwd_rc(tc));
	t64_expect_v6_reply(&r, tc);
	cr_assert_eq(r.nh, IPPROTO_TCP);
	cr_assert_eq(r.sport, 80);
	cr_assert_eq(r.dport, 40000, "destination port back to the subscriber's");
	cr_assert_eq(r.tcp_flags, 0x12);
	cr_assert_eq(r.ack, 1001);
	t64_session6(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_SYN_RECV);

	s.tcp_flags = 0x18;
	s.payload = 301;
	o = t64_out6(tc, &s, t_fwd_rc(tc), &sum);
	cr_assert(o.ok);
	cr_assert_eq(o.payload_sum, sum, "payload untouched");
	cr_assert_eq(o.ip_len, 20 + 20 + 301);
	t64_session6(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_ESTABLISHED);
	cr_assert_eq(sess.packets[NS_SIDE_INSIDE], 2);
	cr_assert_eq(sess.packets[NS_SIDE_OUTSIDE], 1);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_OUT), 2);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 1);
	cr_assert_eq(t_cnt(NS_CNT_SESSION_NEW), 1);
}

T_XDP_TC(nat64, tcp, tcp_flow)

static void udp_flow(int tc)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 5353, 53);
	char pool[INET_ADDRSTRLEN];
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	uint32_t sum;

	s.payload = 77;
	o = t64_out6(tc, &s, t_fwd_rc(tc), &sum);
	cr_assert(o.ok, "UDP checksum by recomputation");
	cr_assert_neq(o.udp_csum, 0, "a UDP checksum from IPv6 stays a checksum");
	cr_assert_eq(o.proto, IPPROTO_UDP);
	cr_assert(t64_in_pool(o.saddr));
	cr_assert_eq(o.dport, 53);
	cr_assert_eq(o.payload_sum, sum);

	b = t64_reply_to(&o, pool);
	b.payload = 123;
	r = t64_in4(tc, &b, t_fwd_rc(tc));
	t64_expect_v6_reply(&r, tc);
	cr_assert_eq(r.nh, IPPROTO_UDP);
	cr_assert_eq(r.sport, 53);
	cr_assert_eq(r.dport, 5353);
	cr_assert_eq(r.plen, 8 + 123);

	/* IPv4 UDP without a checksum: IPv6 needs one, computed (odd length) */
	b.udp_nocsum = 1;
	b.payload = 77;
	r = t64_in4(tc, &b, t_fwd_rc(tc));
	t64_expect_v6_reply(&r, tc);
	cr_assert_eq(r.plen, 8 + 77);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 2);
}

T_XDP_TC(nat64, udp, udp_flow)

static void echo_flow(int tc)
{
	struct pkt6_spec s = t64_spec6(PKT6_ICMP, 0x4242, 0);
	struct ns_tuple6 k = t64_key6(PKT6_ICMP, 0x4242, 0);
	char pool[INET_ADDRSTRLEN];
	struct ns_session sess;
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	uint32_t sum;

	s.payload = 56;
	o = t64_out6(tc, &s, t_fwd_rc(tc), &sum);
	cr_assert(o.ok, "ICMPv4 checksum (no pseudo-header) by recomputation");
	cr_assert_eq(o.proto, IPPROTO_ICMP);
	cr_assert_eq(o.icmp_type, 8, "echo request 128 -> 8");
	cr_assert(t64_in_pool(o.saddr));
	cr_assert_eq(t64_session6(&k, &sess), 0);
	cr_assert_eq(ntohs(sess.out_key.dport), o.icmp_id, "the echo id is the pool's");

	b = t_spec_in(IPPROTO_ICMP, T_REM, 0, "0.0.0.0", 0);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	b.dst = pool;
	b.icmp_type = 0;
	b.icmp_id = o.icmp_id;
	b.icmp_seq = 7;
	b.payload = 56;
	r = t64_in4(tc, &b, t_fwd_rc(tc));
	t64_expect_v6_reply(&r, tc);
	cr_assert_eq(r.nh, PKT6_ICMP);
	cr_assert_eq(r.icmp_type, 129, "echo reply 0 -> 129");
	cr_assert_eq(r.icmp_id, 0x4242, "the subscriber's echo id");
	cr_assert_eq(r.icmp_seq, 7);
	cr_assert_eq(r.payload_sum, sum);
}

T_XDP_TC(nat64, icmp_echo, echo_flow)

Test(nat64, unsolicited_inbound_dropped)
{
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, T64_POOL, 2000);
	int tc;

	for (tc = 0; tc < 2; tc++)
		t64_in4(tc, &b, t_drop_rc(tc));
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 2);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 0);
}

Test(nat64, tcp_without_syn_refused)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_TCP, 40001, 80);
	int tc;

	s.tcp_flags = 0x10;
	for (tc = 0; tc < 2; tc++)
		t64_out6(tc, &s, t_drop_rc(tc), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_TCP_NO_SYN), 2);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 0);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_ports)), 0);
}

Test(nat64, pool_exhaustion_drops_and_keeps_existing)
{
	struct pkt6_spec s;
	int i;

	/* one address, two ports */
	t64_config(1, 2000, 2001, 0);
	for (i = 0; i < 3; i++) {
		s = t64_spec6(IPPROTO_UDP, 6000 + i, 53);
		t64_out6(i & 1, &s, i < 2 ? t_fwd_rc(i & 1) : t_drop_rc(i & 1), NULL);
	}
	cr_assert_eq(t_cnt(NS_CNT_DROP_POOL_EXHAUSTED), 1);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 2);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_rev)), 2);
	/* the existing flows still translate */
	s = t64_spec6(IPPROTO_UDP, 6000, 53);
	t64_out6(0, &s, t_fwd_rc(0), NULL);
}

Test(nat64, malformed_ipv6_counted_and_dropped)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_TCP, 40002, 80);
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	int len, olen, tc;

	s.tcp_flags = 0x02;
	for (tc = 0; tc < 2; tc++) {
		len = pkt6_build(in, &s);
		/* header cut short (XDP only: the kernel's skb test run
		 * itself refuses an IPv6 frame shorter than its header) */
		if (!tc)
			cr_assert_eq(t_run(tc, t_ifin, in, 14 + 30, out, &olen), t_drop_rc(tc));
		/* payload length beyond the frame */
		put16(in + 18, 400);
		cr_assert_eq(t_run(tc, t_ifin, in, len, out, &olen), t_drop_rc(tc));
		/* TCP header cut short (payload length 8) */
		put16(in + 18, 8);
		cr_assert_eq(t_run(tc, t_ifin, in, 54 + 8, out, &olen), t_drop_rc(tc));
	}
	cr_assert_eq(t_cnt(NS_CNT_DROP_MALFORMED), 5);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 0);
}

/* Fragments (a Fragment header) are translated: tests/bpf/test_frag64.c. */
Test(nat64, extension_headers_counted)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 7000, 53);
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	int len, olen, tc;

	for (tc = 0; tc < 2; tc++) {
		len = pkt6_add_ext(in, pkt6_build(in, &s), 0); /* hop-by-hop */
		cr_assert_eq(t_run(tc, t_ifin, in, len, out, &olen), t_drop_rc(tc));
		len = pkt6_add_ext(in, pkt6_build(in, &s), 60); /* destination options */
		cr_assert_eq(t_run(tc, t_ifin, in, len, out, &olen), t_drop_rc(tc));
	}
	cr_assert_eq(t_cnt(NS_CNT_DROP_IPV6_EXTHDR), 4);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 0);
}

Test(nat64, other_ipv6_is_left_to_the_kernel)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 7001, 53);
	int tc;

	for (tc = 0; tc < 2; tc++) {
		s.dst = "2001:db8:99::1"; /* not in the pref64 */
		t64_out6(tc, &s, t_pass_rc(tc), NULL);
		s.dst = T6_REM;
		s.src = "2001:db8:77::2"; /* not a NAT64 subscriber */
		t64_out6(tc, &s, t_pass_rc(tc), NULL);
		s.src = T6_SUB;
		s.hop = 1; /* the kernel answers time exceeded */
		t64_out6(tc, &s, t_pass_rc(tc), NULL);
		s.hop = 0;
	}
	cr_assert_eq(t_cnt(NS_CNT_PASS_NON_IP), 4);
	cr_assert_eq(t_cnt(NS_CNT_PASS_TTL), 2);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 0);
}

Test(nat64, icmpv6_about_no_flow_or_not_an_error_is_dropped)
{
	struct pkt6_spec s = t64_spec6(PKT6_ICMP, 0, 0);
	int tc;

	s.icmp_type = 1; /* destination unreachable about no flow at all */
	for (tc = 0; tc < 2; tc++)
		t64_out6(tc, &s, t_drop_rc(tc), NULL);
	s.icmp_type = 129; /* a reply nobody asked for */
	for (tc = 0; tc < 2; tc++)
		t64_out6(tc, &s, t_drop_rc(tc), NULL);
	s.icmp_type = 135; /* neighbour solicitation to a pref64 address */
	for (tc = 0; tc < 2; tc++)
		t64_out6(tc, &s, t_drop_rc(tc), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 2);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 2);
	cr_assert_eq(t_cnt(NS_CNT_DROP_UNSUPPORTED), 2);
}

Test(nat64, backup_does_not_translate)
{
	struct ns_cfg c = {.flags = 0, .n_svc = 1, .n_nat64 = 1};
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 7002, 53);
	uint32_t k = NS_CFG_SLOT_LIVE; /* the role; bank 0 keeps its NAT64 term */

	t64_put_map(t_skel->maps.ns_config, &k, &c);
	t64_out6(0, &s, t_drop_rc(0), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_INACTIVE), 1);
}

/* A 1,208-byte IPv4 UDP datagram without checksum (three 512-byte slices
 * of the fast path's summing loop) becomes IPv6 with the right checksum. */
static void big_udp_nocsum(int tc)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 5454, 53);
	static uint8_t in[2048], out[2048];
	char pool[INET_ADDRSTRLEN];
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	int len, plen = 1200, i, rc;
	uint32_t want = 0;

	o = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	b = t64_reply_to(&o, pool);
	b.udp_nocsum = 1;
	len = pkt_build(in, &b); /* headers only: 14 + 20 + 8 */
	for (i = 0; i < plen; i++) {
		in[len + i] = (uint8_t)(i * 13 + 1);
		want += in[len + i];
	}
	put16(in + 16, 20 + 8 + plen);
	put16(in + 24, 0);
	put16(in + 24, pkt_csum(in + 14, 20, 0));
	put16(in + 38, 8 + plen);
	len += plen;
	{
		struct xdp_md xctx = {.data_end = len, .ingress_ifindex = t_ifout};
		struct __sk_buff sctx = {.ifindex = t_ifout};
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		if (tc) {
			opts.ctx_in = &sctx;
			opts.ctx_size_in = sizeof(sctx);
		} else {
			opts.ctx_in = &xctx;
			opts.ctx_size_in = sizeof(xctx);
		}
		rc = bpf_prog_test_run_opts(
		    bpf_program__fd(tc ? t_skel->progs.natsync_tc : t_skel->progs.natsync_xdp),
		    &opts);
		cr_assert_eq(rc, 0);
		cr_assert_eq((int)opts.retval, t_fwd_rc(tc));
		r = pkt6_parse(out, opts.data_size_out);
	}
	t64_expect_v6_reply(&r, tc);
	cr_assert_eq(r.plen, 8 + plen);
	cr_assert_eq(r.payload_sum, want);
}

T_XDP_TC(nat64, big_udp_without_checksum, big_udp_nocsum)

/* ---- ICMPv4 errors about NAT64 flows become ICMPv6 errors --------------- */

/* Send @s from the subscriber; the translated IPv4 frame lands in @out. */
static struct pkt_info out6_raw(int tc, const struct pkt6_spec *s, uint8_t *out, int *olen)
{
	uint8_t in[PKT_MAX];
	int len = pkt6_build(in, s), rc;

	rc = t_run(tc, t_ifin, in, len, out, olen);
	cr_assert_eq(rc, t_fwd_rc(tc));
	return pkt_parse(out, *olen);
}

/* A packet of the subscriber's as it left for the IPv4 side, for the
 * ICMPv4 errors about it. */
struct flow4 {
	uint8_t sent[PKT_MAX * 2];  /* the translated frame */
	int slen;
	struct pkt_info o;	    /* parsed */
	char pool[INET_ADDRSTRLEN]; /* its source, the pool address */
	uint8_t err[PKT_MAX];	    /* an ICMPv4 error about it */
	uint8_t out[PKT_MAX * 2];   /* that error as the subscriber got it */
	int olen;
};

/* Send @s from the subscriber through the program of @tc into @f. */
static void flow_out(int tc, const struct pkt6_spec *s, struct flow4 *f)
{
	f->o = out6_raw(tc, s, f->sent, &f->slen);
	inet_ntop(AF_INET, &f->o.saddr, f->pool, sizeof(f->pool));
}

/* An ICMPv4 error @type/@code from @from to the pool address in f->err,
 * quoting @qlen bytes (0: all) of @f's packet. Return: its length. */
static int err4_about(struct flow4 *f, const char *from, uint8_t type, uint8_t code, int qlen)
{
	return pkt_build_icmp_err(f->err, t_mac_rem, t_mac_out, from, f->pool, type, code,
				  f->sent + f->o.l3_off, qlen ? qlen : f->o.ip_len);
}

/* err4_about() (fragmentation needed: next-hop MTU 1400) sent from the
 * outside through the program of @tc, which must forward it: the result
 * in f->out. Return: the error's length. */
static int err4_send(int tc, struct flow4 *f, const char *from, uint8_t type, uint8_t code,
		     int qlen)
{
	int elen = err4_about(f, from, type, code, qlen);

	if (type == 3 && code == 4) {
		put16(f->err + 34 + 6, 1400);
		put16(f->err + 34 + 2, 0);
		put16(f->err + 34 + 2, pkt_csum(f->err + 34, elen - 34, 0));
	}
	cr_assert_eq(t_run(tc, t_ifout, f->err, elen, f->out, &f->olen), t_fwd_rc(tc));
	return elen;
}

/* The ICMPv6 error in @out: outer checks, then the quoted IPv6 packet must
 * be what the subscriber sent: addresses, next header, ports/id, and its
 * L4 checksum by recomputation over the whole quoted datagram. */
static const uint8_t *expect_icmp6_err(const uint8_t *out, int olen, const char *from, uint8_t type,
				       uint8_t code, uint8_t nh)
{
	struct pkt6_info r = pkt6_parse(out, olen);
	const uint8_t *in6 = out + 14 + 40 + 8;
	uint8_t a[16];
	int ilen;

	cr_assert(r.ok, "outer ICMPv6 checksum by recomputation");
	cr_assert_eq(r.nh, PKT6_ICMP);
	cr_assert_eq(out[54], type, "ICMPv6 type %u", out[54]);
	cr_assert_eq(out[55], code, "ICMPv6 code %u", out[55]);
	pkt6_addr(from, a);
	cr_assert_arr_eq(r.saddr, a, 16, "outer source = pref64 + the error's IPv4 source");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r.daddr, a, 16, "outer destination = the subscriber");
	cr_assert_arr_eq(r.dmac, t_mac_sub, 6);
	cr_assert_eq(in6[0] >> 4, 6, "quoted packet is IPv6");
	cr_assert_eq(in6[6], nh);
	cr_assert_arr_eq(in6 + 8, a, 16, "quoted source = the subscriber");
	pkt6_addr(T6_REM, a);
	cr_assert_arr_eq(in6 + 24, a, 16, "quoted destination = the pref64 address");
	ilen = get16(in6 + 4);
	cr_assert_eq(r.plen, 8 + 40 + ilen, "the whole datagram was quoted");
	cr_assert_eq(pkt_sum(in6 + 40, ilen, pkt6_pseudo(in6, nh, ilen)), 0xffff,
		     "quoted L4 checksum as the subscriber computed it");
	return in6 + 40;
}

static void err_udp_unreach(int tc)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 5353, 53);
	struct ns_tuple6 k = t64_key6(IPPROTO_UDP, 5353, 53);
	struct ns_session before, after;
	struct flow4 f;
	const uint8_t *l4;
	int elen;

	s.payload = 33;
	flow_out(tc, &s, &f);
	cr_assert_eq(t64_session6(&k, &before), 0);
	elen = err4_send(tc, &f, T_REM, 3, 3, 0);
	cr_assert_eq(f.olen, elen + 40, "two IPv4 headers became IPv6: 40 bytes more");
	l4 = expect_icmp6_err(f.out, f.olen, T6_REM, 1, 4, IPPROTO_UDP);
	cr_assert_eq(get16(l4), 5353, "quoted source port back to the subscriber's");
	cr_assert_eq(get16(l4 + 2), 53);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 1);
	cr_assert_eq(t64_session6(&k, &after), 0, "an error never removes the session");
	cr_assert_eq(after.last_seen_ns, before.last_seen_ns, "nor refreshes it");
}

T_XDP_TC(nat64, icmp_port_unreachable, err_udp_unreach)

static void err_frag_needed(int tc)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_TCP, 40010, 80);
	const uint8_t *out, *l4;
	struct flow4 f;
	int elen;

	s.tcp_flags = 0x02;
	flow_out(tc, &s, &f);
	/* a router on the path quotes the IPv4 header and 8 bytes */
	elen = err4_send(tc, &f, T_REM2, 3, 4, 28);
	cr_assert_eq(f.olen, elen + 40, "8 quoted TCP bytes stay 8: no checksum written");
	out = f.out;
	{
		struct pkt6_info r = pkt6_parse(out, f.olen);
		const uint8_t *in6 = out + 62;
		uint8_t a[16];

		cr_assert(r.ok, "outer ICMPv6 checksum by recomputation");
		cr_assert_eq(out[54], 2, "packet too big");
		cr_assert_eq(get32(out + 58), 1420, "MTU + 20: %u", get32(out + 58));
		pkt6_addr("64:ff9b::198.51.100.3", a);
		cr_assert_arr_eq(r.saddr, a, 16, "from pref64 + the router");
		cr_assert_eq(in6[6], IPPROTO_TCP);
		l4 = in6 + 40;
		cr_assert_eq(get16(l4), 40010);
		cr_assert_eq(get16(l4 + 2), 80);
		cr_assert_eq(get16(in6 + 4), 20, "quoted payload length = the TCP segment's");
	}
}

T_XDP_TC(nat64, icmp_frag_needed_becomes_packet_too_big, err_frag_needed)

static void err_echo_ttl(int tc)
{
	struct pkt6_spec s = t64_spec6(PKT6_ICMP, 0x4343, 0);
	const uint8_t *l4;
	struct flow4 f;

	s.payload = 24;
	flow_out(tc, &s, &f);
	err4_send(tc, &f, T_REM2, 11, 0, 0);
	l4 = expect_icmp6_err(f.out, f.olen, "64:ff9b::198.51.100.3", 3, 0, PKT6_ICMP);
	cr_assert_eq(l4[0], 128, "quoted echo request is ICMPv6 again");
	cr_assert_eq(get16(l4 + 4), 0x4343, "with the subscriber's id");
}

T_XDP_TC(nat64, icmp_time_exceeded_about_echo, err_echo_ttl)

Test(nat64, icmp_errors_not_translated_are_dropped)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 5355, 53);
	struct flow4 f;
	int elen;

	flow_out(0, &s, &f);
	/* parameter problem: not translated */
	elen = err4_about(&f, T_REM, 12, 0, 0);
	cr_assert_eq(t_run(0, t_ifout, f.err, elen, f.out, &f.olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_UNSUPPORTED), 1);
	/* a bad ICMP checksum */
	elen = err4_about(&f, T_REM, 3, 3, 0);
	f.err[34 + 2] ^= 0x5a;
	cr_assert_eq(t_run(0, t_ifout, f.err, elen, f.out, &f.olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 1);
	/* about a flow nobody has */
	put16(f.sent + f.o.l4_off, 9999);
	put16(f.sent + f.o.l4_off + 6, 0);
	elen = err4_about(&f, T_REM, 3, 3, 0);
	cr_assert_eq(t_run(1, t_ifout, f.err, elen, f.out, &f.olen), TC_RET_SHOT);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 2);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 0);
}

/*
 * ---- errors about NAT64 TCP: the quoted TCP checksum ---------------------
 *
 * RFC 5508 REQ-4/REQ-5 a) (the embedded transport header reverted to its
 * original form) and RFC 7915 4.3/5.3: the quoted TCP checksum, whenever
 * the quote holds it (Linux quotes up to 576 bytes in all), trades one
 * pseudo-header for the other and the port back, as the sender computed
 * it. Checked by recomputation over the quote and the rest of the segment
 * as sent (pkt6_quoted_tcp_diff(), pkt_quoted_tcp_diff()).
 */

#define Q_LINUX 548 /* 576 - 20 (IPv4) - 8 (ICMP) */
#define Q_BIG 1024  /* frames beyond PKT_MAX (t_run_*'s output limit) */

/* The subscriber opens T6_SUB:40030 -> T6_REM:443 with a SYN, then sends
 * a data segment of @payload bytes: @orig gets it as sent (IPv6 frame),
 * @sent as translated (returned parsed). */
static struct pkt_info tcp6_segment_out(int tc, int payload, uint8_t *orig, uint8_t *sent,
					int *slen)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_TCP, 40030, 443);
	struct pkt_info o;
	int len;

	s.tcp_flags = 0x02;
	cr_assert(t64_out6(tc, &s, t_fwd_rc(tc), NULL).ok);
	s.tcp_flags = 0x18;
	s.seq = 1001;
	s.ack = 7001;
	s.payload = payload;
	len = pkt6_build(orig, &s);
	cr_assert_eq(t_run(tc, t_ifin, orig, len, sent, slen), t_fwd_rc(tc));
	o = pkt_parse(sent, *slen);
	cr_assert(o.ok, "the translated segment checks");
	return o;
}

/* An ICMPv4 error of @type/@code from @from4 quoting @qlen bytes (0: all)
 * of the subscriber's segment of @payload bytes, as the IPv4 side sent
 * it; the subscriber gets ICMPv6 @type6/@code6 from @from6 quoting the
 * segment it sent. */
static void err_tcp(int tc, int payload, int qlen, const char *from4, uint8_t type, uint8_t code,
		    const char *from6, uint8_t type6, uint8_t code6)
{
	static uint8_t orig[Q_BIG], sent[Q_BIG], err[Q_BIG], out[Q_BIG];
	char pool[INET_ADDRSTRLEN];
	struct pkt6_info r;
	struct pkt_info o;
	int slen, elen, olen;
	const char *why;
	uint8_t a[16];

	o = tcp6_segment_out(tc, payload, orig, sent, &slen);
	if (!qlen || qlen > o.ip_len)
		qlen = o.ip_len;
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, from4, pool, type, code,
				  sent + o.l3_off, qlen);
	if (type == 3 && code == 4)
		put16(err + 34 + 6, 1400); /* next-hop MTU, ICMP checksum after it */
	put16(err + 34 + 2, 0);
	put16(err + 34 + 2, pkt_csum(err + 34, 8 + qlen, 0));
	cr_assert_eq(t_run(tc, t_ifout, err, elen, out, &olen), t_fwd_rc(tc));
	cr_assert_eq(olen, elen + 40, "two IPv4 headers became IPv6: 40 bytes more");
	r = pkt6_parse(out, olen);
	cr_assert(r.ok, "outer ICMPv6 checksum by recomputation over the whole message");
	cr_assert_eq(r.nh, PKT6_ICMP);
	cr_assert_eq(out[54], type6, "ICMPv6 type %u", out[54]);
	cr_assert_eq(out[55], code6, "ICMPv6 code %u", out[55]);
	pkt6_addr(from6, a);
	cr_assert_arr_eq(r.saddr, a, 16, "outer source = pref64 + the error's IPv4 source");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r.daddr, a, 16, "outer destination = the subscriber");
	why = pkt6_quoted_tcp_diff(out + 62, olen - 62, orig + 14);
	cr_assert_null(why, "%d-byte IPv4 quote: %s", qlen, why);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 1);
}

/* Time exceeded from the server's side, quoting all of a 120-byte segment. */
T_XDP_TC(nat64, icmp_about_tcp_whole_segment_quoted, err_tcp, 120, 0, T_REM, 11, 0, T6_REM, 3, 0)

/* A router quoting the IPv4 and TCP headers only. */
T_XDP_TC(nat64, icmp_about_tcp_header_quoted, err_tcp, 300, 40, T_REM2, 3, 1,
	 "64:ff9b::198.51.100.3", 1, 0)

/* Fragmentation needed as Linux sends it: 548 bytes of a 940-byte segment. */
T_XDP_TC(nat64, icmp_about_tcp_linux_sized_quote, err_tcp, 900, Q_LINUX, T_REM2, 3, 4,
	 "64:ff9b::198.51.100.3", 2, 0)

/* ---- ICMPv6 errors from the inside become ICMPv4 errors ------------------ */

/* An ICMPv6 error from @src to @dst quoting @inner (an IPv6 packet). */
static int build6_err(uint8_t *buf, const char *src, const char *dst, uint8_t type, uint8_t code,
		      uint32_t rest, const uint8_t *inner, int ilen)
{
	uint8_t *ip = buf + 14, *ic = buf + 54;
	int plen = 8 + ilen;

	memset(buf, 0, 54 + plen);
	memcpy(buf, t_mac_in, 6);
	memcpy(buf + 6, t_mac_sub, 6);
	put16(buf + 12, 0x86dd);
	ip[0] = 0x60;
	put16(ip + 4, plen);
	ip[6] = PKT6_ICMP;
	ip[7] = 64;
	pkt6_addr(src, ip + 8);
	pkt6_addr(dst, ip + 24);
	ic[0] = type;
	ic[1] = code;
	put32(ic + 4, rest);
	memcpy(ic + 8, inner, ilen);
	put16(ic + 2, pkt_csum(ic, plen, pkt6_pseudo(ip, PKT6_ICMP, plen)));
	return 54 + plen;
}

/* A flow out and its reply back in; the reply as the subscriber got it
 * lands in @got (IPv6 frame), the pool address in @pool; the reply as the
 * IPv4 host sent it (frame) in @sent4 unless NULL. */
static int reply_received(int tc, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t *got,
			  char *pool, uint16_t *pool_port, uint8_t *sent4)
{
	struct pkt6_spec s = t64_spec6(proto, sport, dport);
	uint8_t in[PKT_MAX];
	struct pkt_info o;
	struct pkt_spec b;
	int len, olen = 0;

	s.tcp_flags = 0x02;
	s.payload = 10;
	o = t64_out6(tc, &s, t_fwd_rc(tc), NULL);
	b = t64_reply_to(&o, pool);
	b.tcp_flags = 0x12;
	b.payload = 40;
	if (proto == PKT6_ICMP) {
		b = t_spec_in(IPPROTO_ICMP, T_REM, 0, pool, 0);
		b.icmp_type = 0;
		b.icmp_id = o.icmp_id;
		b.payload = 40;
	}
	len = pkt_build(in, &b);
	if (sent4)
		memcpy(sent4, in, len);
	cr_assert_eq(t_run(tc, t_ifout, in, len, got, &olen), t_fwd_rc(tc));
	*pool_port = proto == PKT6_ICMP ? o.icmp_id : o.sport;
	return olen;
}

static void err6_port_unreach(int tc)
{
	uint8_t got[PKT_MAX * 2], err[PKT_MAX * 2], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info r, in;
	uint16_t pport;
	int glen, elen, olen;

	glen = reply_received(tc, IPPROTO_UDP, 5360, 53, got, pool, &pport, NULL);
	/* the subscriber has no listener: it quotes the whole datagram */
	elen = build6_err(err, T6_SUB, T6_REM, 1, 4, 0, got + 14, glen - 14);
	cr_assert_eq(t_run(tc, t_ifin, err, elen, out, &olen), t_fwd_rc(tc));
	cr_assert_eq(olen, elen - 40);
	r = pkt_parse(out, olen);
	cr_assert(r.ok, "outer IPv4 and ICMP checksums by recomputation");
	cr_assert_eq(r.proto, IPPROTO_ICMP);
	cr_assert_eq(r.icmp_type, 3);
	cr_assert_eq(r.icmp_code, 3, "port unreachable");
	cr_assert_eq(r.saddr, pkt_ip(pool), "from the session's pool address");
	cr_assert_eq(r.daddr, pkt_ip(T_REM));
	cr_assert_eq(r.ttl, 63);
	cr_assert_arr_eq(r.dmac, t_mac_rem, 6);
	in = pkt_parse_l3(out + r.l4_off + 8, olen - r.l4_off - 8);
	cr_assert(in.ok, "quoted IPv4 header and UDP checksums by recomputation");
	cr_assert_eq(in.saddr, pkt_ip(T_REM), "the datagram as the IPv4 host sent it");
	cr_assert_eq(in.daddr, pkt_ip(pool));
	cr_assert_eq(in.sport, 53);
	cr_assert_eq(in.dport, pport, "to the pool port");
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 1);
}

T_XDP_TC(nat64, icmpv6_port_unreachable_to_icmp, err6_port_unreach)

static void err6_ptb(int tc)
{
	uint8_t got[PKT_MAX * 2], err[PKT_MAX * 2], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	const uint8_t *q;
	struct pkt_info r;
	uint16_t pport;
	int elen, olen;

	reply_received(tc, IPPROTO_TCP, 40020, 443, got, pool, &pport, NULL);
	/* a router in front of the subscriber: IPv6 header + 8 bytes */
	elen = build6_err(err, "2001:db8:64::1", T6_REM, 2, 0, 1400, got + 14, 48);
	cr_assert_eq(t_run(tc, t_ifin, err, elen, out, &olen), t_fwd_rc(tc));
	r = pkt_parse(out, olen);
	cr_assert(r.ok, "outer IPv4 and ICMP checksums by recomputation");
	cr_assert_eq(r.icmp_type, 3);
	cr_assert_eq(r.icmp_code, 4, "fragmentation needed");
	cr_assert_eq(get16(out + r.l4_off + 6), 1380, "IPv6 MTU - 20");
	cr_assert_eq(r.saddr, pkt_ip(pool));
	/* only 28 bytes quoted: read the header fields directly */
	q = out + r.l4_off + 8;
	cr_assert_eq(memcmp(q + 12, &(uint32_t){pkt_ip(T_REM)}, 4), 0, "quoted source");
	cr_assert_eq(memcmp(q + 16, &(uint32_t){pkt_ip(pool)}, 4), 0, "quoted destination");
	cr_assert_eq(q[9], IPPROTO_TCP);
	cr_assert_eq(get16(q + 2), 20 + 20 + 40, "total length of the datagram the host sent");
	cr_assert_eq(olen, r.l4_off + 8 + 28);
	cr_assert_eq(pkt_sum(out + r.l4_off + 8, 20, 0), 0xffff, "quoted IPv4 header checksum");
	cr_assert_eq(get16(out + r.l4_off + 8 + 20 + 2), pport, "quoted destination = pool port");
}

T_XDP_TC(nat64, icmpv6_packet_too_big_to_frag_needed, err6_ptb)

/* The subscriber (@whole: the whole 100-byte datagram, port unreachable)
 * or a router in front of it (IPv6 and TCP headers only, time exceeded)
 * answers the server's TCP segment: the ICMPv4 error quotes the segment
 * as the server sent it, its TCP checksum the server's. */
static void err6_tcp(int tc, int whole)
{
	uint8_t got[PKT_MAX * 2], sent4[PKT_MAX], err[PKT_MAX * 2], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info r;
	uint16_t pport;
	int glen, ilen, elen, olen, qlen;
	const char *why;

	glen = reply_received(tc, IPPROTO_TCP, 40040, 443, got, pool, &pport, sent4);
	ilen = whole ? glen - 14 : 40 + 20;
	elen = build6_err(err, whole ? T6_SUB : "2001:db8:64::1", T6_REM, whole ? 1 : 3,
			  whole ? 4 : 0, 0, got + 14, ilen);
	cr_assert_eq(t_run(tc, t_ifin, err, elen, out, &olen), t_fwd_rc(tc));
	cr_assert_eq(olen, elen - 40);
	r = pkt_parse(out, olen);
	cr_assert(r.ok, "outer IPv4 and ICMP checksums by recomputation over the whole message");
	cr_assert_eq(r.icmp_type, whole ? 3 : 11);
	cr_assert_eq(r.icmp_code, whole ? 3 : 0);
	cr_assert_eq(r.saddr, pkt_ip(pool));
	cr_assert_eq(r.daddr, pkt_ip(T_REM));
	qlen = olen - (r.l4_off + 8);
	cr_assert_eq(qlen, ilen - 20);
	why = pkt_quoted_tcp_diff(out + r.l4_off + 8, qlen, sent4 + 14);
	cr_assert_null(why, "%d-byte IPv4 quote: %s", qlen, why);
	cr_assert_eq(get16(out + r.l4_off + 8 + 20 + 2), pport, "quoted destination = pool port");
}

T_XDP_TC(nat64, icmpv6_about_tcp_whole_segment_quoted, err6_tcp, 1)

T_XDP_TC(nat64, icmpv6_about_tcp_header_quoted, err6_tcp, 0)

static void err6_echo(int tc)
{
	uint8_t got[PKT_MAX * 2], err[PKT_MAX * 2], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info r, in;
	uint16_t pid;
	int glen, elen, olen;

	glen = reply_received(tc, PKT6_ICMP, 0x4444, 0, got, pool, &pid, NULL);
	elen = build6_err(err, T6_SUB, T6_REM, 3, 0, 0, got + 14, glen - 14);
	cr_assert_eq(t_run(tc, t_ifin, err, elen, out, &olen), t_fwd_rc(tc));
	r = pkt_parse(out, olen);
	cr_assert(r.ok);
	cr_assert_eq(r.icmp_type, 11, "time exceeded");
	in = pkt_parse_l3(out + r.l4_off + 8, olen - r.l4_off - 8);
	cr_assert(in.ok, "quoted IPv4 and ICMP echo checksums by recomputation");
	cr_assert_eq(in.icmp_type, 0, "quoted echo reply is ICMPv4 again");
	cr_assert_eq(in.icmp_id, pid, "with the pool's id");
}

T_XDP_TC(nat64, icmpv6_time_exceeded_about_echo_reply, err6_echo)

Test(nat64, icmpv6_errors_bad_or_untranslatable_are_dropped)
{
	uint8_t got[PKT_MAX * 2], err[PKT_MAX * 2], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	uint16_t pport;
	int glen, elen, olen;

	glen = reply_received(0, IPPROTO_UDP, 5361, 53, got, pool, &pport, NULL);
	elen = build6_err(err, T6_SUB, T6_REM, 4, 0, 0, got + 14, glen - 14); /* param problem */
	cr_assert_eq(t_run(0, t_ifin, err, elen, out, &olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_UNSUPPORTED), 1);
	elen = build6_err(err, T6_SUB, T6_REM, 1, 4, 0, got + 14, glen - 14);
	err[54 + 2] ^= 0x33; /* bad ICMPv6 checksum */
	cr_assert_eq(t_run(1, t_ifin, err, elen, out, &olen), TC_RET_SHOT);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 1);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 0);
}
