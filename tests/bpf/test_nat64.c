// SPDX-License-Identifier: GPL-2.0
/*
 * test_nat64.c - stateful NAT64 through BPF_PROG_TEST_RUN, XDP and TC:
 * TCP, UDP and ICMPv6 echo from the IPv6 inside to the IPv4 outside and
 * back, every checksum of every output verified by full recomputation
 * (pkt.h for IPv4, pkt6.h for IPv6), the session in ns_nat64_sess, and
 * the refusals: unsolicited inbound, TCP without SYN, pool exhaustion,
 * malformed IPv6, extension headers and fragments, untranslated ICMP.
 */
#include "tests/bpf/fixture.h"
#include "tests/bpf/pkt6.h"
#include "natsync.skel.h"
#include <criterion/criterion.h>
#include <stdlib.h>

#define T6_SUB "2001:db8:64::2"
#define T6_REM "64:ff9b::198.51.100.2" /* = 64:ff9b::c633:6402 */
#define T64_POOL "203.0.113.64"

static void sh6(const char *cmd)
{
	cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

static void put_map(struct bpf_map *m, const void *k, const void *v)
{
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(m), k, v, BPF_ANY), 0, "map %s",
		     bpf_map__name(m));
}

/* The default fixture plus: pool 1 = 203.0.113.64/31 (automatic random
 * ports), one stateful-nat64 term 2001:db8:64::/48 -> 64:ff9b::/96 on pool
 * 1, and IPv6 on the inside interface with a neighbour for the subscriber. */
static void nat64_config(uint32_t pool_count, uint16_t lo, uint16_t hi, uint32_t pool_flags)
{
	struct ns_cfg c = { .flags = NS_CFG_F_ACTIVE, .n_svc = 1, .n_nat64 = 1 };
	struct ns_nat64_term t;
	uint32_t k = 0;

	t_set_pool(1, T64_POOL, pool_count, lo, hi, pool_flags);
	memset(&t, 0, sizeof(t));
	pkt6_addr("2001:db8:64::", t.src6);
	t.src6_len = 48;
	pkt6_addr("64:ff9b::", t.pref64);
	t.src_pool = 1;
	put_map(t_skel->maps.ns_nat64_terms, &k, &t);
	put_map(t_skel->maps.ns_config, &k, &c);
}

static void setup(void)
{
	t_setup(1024);
	sh6("echo 1 > /proc/sys/net/ipv6/conf/all/forwarding");
	sh6("ip -6 addr add 2001:db8:64::1/64 dev nsbt_in nodad");
	sh6("ip -6 neigh replace 2001:db8:64::2 lladdr 02:00:00:00:00:02 dev nsbt_in nud permanent");
	nat64_config(2, 0, 0, NS_POOL_F_PORT_AUTO | NS_POOL_F_RANDOM_PORT);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(nat64, .init = setup, .fini = teardown);

static struct pkt6_spec spec6(uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct pkt6_spec s;

	memset(&s, 0, sizeof(s));
	memcpy(s.smac, t_mac_sub, 6);
	memcpy(s.dmac, t_mac_in, 6);
	s.src = T6_SUB;
	s.dst = T6_REM;
	s.proto = proto;
	s.sport = sport;
	s.dport = dport;
	s.icmp_type = 128;
	s.icmp_id = sport;
	s.icmp_seq = 7;
	s.seq = 1000;
	return s;
}

static int run(int tc, int ifindex, const uint8_t *in, int len, uint8_t *out, int *olen)
{
	return tc ? t_run_tc(ifindex, in, len, out, olen) : t_run_xdp(ifindex, in, len, out, olen);
}

static int fwd_rc(int tc)
{
	return tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
}

static int drop_rc(int tc)
{
	return tc ? TC_RET_SHOT : XDP_RET_DROP;
}

static int pass_rc(int tc)
{
	return tc ? TC_RET_OK : XDP_RET_PASS;
}

/* Send an IPv6 frame from the subscriber; parse the IPv4 result. */
static struct pkt_info out6(int tc, const struct pkt6_spec *s, int expect, uint32_t *sent_sum)
{
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	int len = pkt6_build(in, s), olen = 0, rc;
	struct pkt6_info si = pkt6_parse(in, len);

	cr_assert(si.ok, "the test's own IPv6 frame checks");
	if (sent_sum)
		*sent_sum = si.payload_sum;
	rc = run(tc, t_ifin, in, len, out, &olen);
	cr_assert_eq(rc, expect, "%s returned %d, expected %d", tc ? "tc" : "xdp", rc, expect);
	return pkt_parse(out, olen);
}

/* Send an IPv4 frame from the remote host; parse the IPv6 result. */
static struct pkt6_info in4(int tc, const struct pkt_spec *s, int expect)
{
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	int len = pkt_build(in, s), olen = 0, rc;

	rc = run(tc, t_ifout, in, len, out, &olen);
	cr_assert_eq(rc, expect, "%s returned %d, expected %d", tc ? "tc" : "xdp", rc, expect);
	return pkt6_parse(out, olen);
}

static struct ns_tuple6 key6(uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct ns_tuple6 k;

	memset(&k, 0, sizeof(k));
	pkt6_addr(T6_SUB, k.saddr);
	pkt6_addr(T6_REM, k.daddr);
	k.sport = htons(sport);
	k.dport = htons(dport);
	k.proto = proto;
	return k;
}

static int session6(const struct ns_tuple6 *k, struct ns_session *s)
{
	return bpf_map_lookup_elem(bpf_map__fd(t_skel->maps.ns_nat64_sess), k, s);
}

static int in_pool64(uint32_t addr_be)
{
	uint32_t a = ntohl(addr_be), first = ntohl(pkt_ip(T64_POOL));

	return a >= first && a < first + 2;
}

/* The reply from the remote host to what @o left as. */
static struct pkt_spec reply_to(const struct pkt_info *o, char *pool)
{
	struct pkt_spec b = t_spec_in(o->proto, T_REM, o->dport, "0.0.0.0", o->sport);

	inet_ntop(AF_INET, &o->saddr, pool, INET_ADDRSTRLEN);
	b.dst = pool;
	return b;
}

static void expect_v6_reply(const struct pkt6_info *r, int tc)
{
	uint8_t a[16];

	(void)tc;
	cr_assert(r->ok, "IPv6 checksum by recomputation");
	pkt6_addr(T6_REM, a);
	cr_assert_arr_eq(r->saddr, a, 16, "source = pref64 + IPv4 source");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r->daddr, a, 16, "destination = the subscriber");
	cr_assert_eq(r->hop, 63, "hop limit decremented once");
	cr_assert_arr_eq(r->dmac, t_mac_sub, 6, "subscriber's MAC (fib AF_INET6)");
	cr_assert_arr_eq(r->smac, t_mac_in, 6);
}

static void tcp_flow(int tc)
{
	struct pkt6_spec s = spec6(IPPROTO_TCP, 40000, 80);
	struct ns_tuple6 k = key6(IPPROTO_TCP, 40000, 80);
	char pool[INET_ADDRSTRLEN];
	struct ns_session sess;
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	uint32_t sum;

	s.tcp_flags = 0x02;
	s.tclass = 0xb8;
	o = out6(tc, &s, fwd_rc(tc), NULL);
	cr_assert(o.ok, "IPv4 header and TCP checksums by recomputation");
	cr_assert_eq(o.proto, IPPROTO_TCP);
	cr_assert(in_pool64(o.saddr), "source is a NAT64 pool address");
	cr_assert_eq(o.daddr, pkt_ip(T_REM), "destination = last 32 bits of the IPv6 one");
	cr_assert(o.sport >= 1024, "automatic ports keep >= 1024: %u", o.sport);
	cr_assert_eq(o.dport, 80);
	cr_assert_eq(o.ttl, 63, "hop limit -> TTL, decremented once");
	cr_assert_eq(o.ip_len, 40);
	cr_assert_arr_eq(o.dmac, t_mac_rem, 6);
	cr_assert_arr_eq(o.smac, t_mac_out, 6);
	cr_assert_eq(session6(&k, &sess), 0, "session in ns_nat64_sess");
	cr_assert_eq(sess.nat_type, NS_NAT_NAT64);
	cr_assert_eq(sess.tcp_state, NS_TCP_SYN_SENT);
	cr_assert_eq(sess.out_key.daddr, o.saddr);
	cr_assert_eq(ntohs(sess.out_key.dport), o.sport);
	cr_assert_eq(sess.out_key.saddr, pkt_ip(T_REM));
	cr_assert_eq(sess.in_key.daddr, pkt_ip(T_REM));
	cr_assert_eq(sess.pool_id, 1);

	b = reply_to(&o, pool);
	b.tcp_flags = 0x12;
	b.ack = 1001;
	r = in4(tc, &b, fwd_rc(tc));
	expect_v6_reply(&r, tc);
	cr_assert_eq(r.nh, IPPROTO_TCP);
	cr_assert_eq(r.sport, 80);
	cr_assert_eq(r.dport, 40000, "destination port back to the subscriber's");
	cr_assert_eq(r.tcp_flags, 0x12);
	cr_assert_eq(r.ack, 1001);
	session6(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_SYN_RECV);

	s.tcp_flags = 0x18;
	s.payload = 301;
	o = out6(tc, &s, fwd_rc(tc), &sum);
	cr_assert(o.ok);
	cr_assert_eq(o.payload_sum, sum, "payload untouched");
	cr_assert_eq(o.ip_len, 20 + 20 + 301);
	session6(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_ESTABLISHED);
	cr_assert_eq(sess.packets[NS_SIDE_INSIDE], 2);
	cr_assert_eq(sess.packets[NS_SIDE_OUTSIDE], 1);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_OUT), 2);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 1);
	cr_assert_eq(t_cnt(NS_CNT_SESSION_NEW), 1);
}

Test(nat64, tcp_xdp)
{
	tcp_flow(0);
}

Test(nat64, tcp_tc)
{
	tcp_flow(1);
}

static void udp_flow(int tc)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 5353, 53);
	char pool[INET_ADDRSTRLEN];
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	uint32_t sum;

	s.payload = 77;
	o = out6(tc, &s, fwd_rc(tc), &sum);
	cr_assert(o.ok, "UDP checksum by recomputation");
	cr_assert_neq(o.udp_csum, 0, "a UDP checksum from IPv6 stays a checksum");
	cr_assert_eq(o.proto, IPPROTO_UDP);
	cr_assert(in_pool64(o.saddr));
	cr_assert_eq(o.dport, 53);
	cr_assert_eq(o.payload_sum, sum);

	b = reply_to(&o, pool);
	b.payload = 123;
	r = in4(tc, &b, fwd_rc(tc));
	expect_v6_reply(&r, tc);
	cr_assert_eq(r.nh, IPPROTO_UDP);
	cr_assert_eq(r.sport, 53);
	cr_assert_eq(r.dport, 5353);
	cr_assert_eq(r.plen, 8 + 123);

	/* IPv4 UDP without a checksum: IPv6 needs one, computed (odd length) */
	b.udp_nocsum = 1;
	b.payload = 77;
	r = in4(tc, &b, fwd_rc(tc));
	expect_v6_reply(&r, tc);
	cr_assert_eq(r.plen, 8 + 77);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 2);
}

Test(nat64, udp_xdp)
{
	udp_flow(0);
}

Test(nat64, udp_tc)
{
	udp_flow(1);
}

static void echo_flow(int tc)
{
	struct pkt6_spec s = spec6(PKT6_ICMP, 0x4242, 0);
	struct ns_tuple6 k = key6(PKT6_ICMP, 0x4242, 0);
	char pool[INET_ADDRSTRLEN];
	struct ns_session sess;
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	uint32_t sum;

	s.payload = 56;
	o = out6(tc, &s, fwd_rc(tc), &sum);
	cr_assert(o.ok, "ICMPv4 checksum (no pseudo-header) by recomputation");
	cr_assert_eq(o.proto, IPPROTO_ICMP);
	cr_assert_eq(o.icmp_type, 8, "echo request 128 -> 8");
	cr_assert(in_pool64(o.saddr));
	cr_assert_eq(session6(&k, &sess), 0);
	cr_assert_eq(ntohs(sess.out_key.dport), o.icmp_id, "the echo id is the pool's");

	b = t_spec_in(IPPROTO_ICMP, T_REM, 0, "0.0.0.0", 0);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	b.dst = pool;
	b.icmp_type = 0;
	b.icmp_id = o.icmp_id;
	b.icmp_seq = 7;
	b.payload = 56;
	r = in4(tc, &b, fwd_rc(tc));
	expect_v6_reply(&r, tc);
	cr_assert_eq(r.nh, PKT6_ICMP);
	cr_assert_eq(r.icmp_type, 129, "echo reply 0 -> 129");
	cr_assert_eq(r.icmp_id, 0x4242, "the subscriber's echo id");
	cr_assert_eq(r.icmp_seq, 7);
	cr_assert_eq(r.payload_sum, sum);
}

Test(nat64, icmp_echo_xdp)
{
	echo_flow(0);
}

Test(nat64, icmp_echo_tc)
{
	echo_flow(1);
}

Test(nat64, unsolicited_inbound_dropped)
{
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, T64_POOL, 2000);
	int tc;

	for (tc = 0; tc < 2; tc++)
		in4(tc, &b, drop_rc(tc));
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 2);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 0);
}

Test(nat64, tcp_without_syn_refused)
{
	struct pkt6_spec s = spec6(IPPROTO_TCP, 40001, 80);
	int tc;

	s.tcp_flags = 0x10;
	for (tc = 0; tc < 2; tc++)
		out6(tc, &s, drop_rc(tc), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_TCP_NO_SYN), 2);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 0);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_ports)), 0);
}

Test(nat64, pool_exhaustion_drops_and_keeps_existing)
{
	struct pkt6_spec s;
	int i;

	/* one address, two ports */
	nat64_config(1, 2000, 2001, 0);
	for (i = 0; i < 3; i++) {
		s = spec6(IPPROTO_UDP, 6000 + i, 53);
		out6(i & 1, &s, i < 2 ? fwd_rc(i & 1) : drop_rc(i & 1), NULL);
	}
	cr_assert_eq(t_cnt(NS_CNT_DROP_POOL_EXHAUSTED), 1);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 2);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_rev)), 2);
	/* the existing flows still translate */
	s = spec6(IPPROTO_UDP, 6000, 53);
	out6(0, &s, fwd_rc(0), NULL);
}

Test(nat64, malformed_ipv6_counted_and_dropped)
{
	struct pkt6_spec s = spec6(IPPROTO_TCP, 40002, 80);
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	int len, olen, tc;

	s.tcp_flags = 0x02;
	for (tc = 0; tc < 2; tc++) {
		len = pkt6_build(in, &s);
		/* header cut short (XDP only: the kernel's skb test run
		 * itself refuses an IPv6 frame shorter than its header) */
		if (!tc)
			cr_assert_eq(run(tc, t_ifin, in, 14 + 30, out, &olen), drop_rc(tc));
		/* payload length beyond the frame */
		put16(in + 18, 400);
		cr_assert_eq(run(tc, t_ifin, in, len, out, &olen), drop_rc(tc));
		/* TCP header cut short (payload length 8) */
		put16(in + 18, 8);
		cr_assert_eq(run(tc, t_ifin, in, 54 + 8, out, &olen), drop_rc(tc));
	}
	cr_assert_eq(t_cnt(NS_CNT_DROP_MALFORMED), 5);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 0);
}

Test(nat64, extension_headers_and_fragments_counted)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 7000, 53);
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	int len, olen, tc;

	for (tc = 0; tc < 2; tc++) {
		len = pkt6_add_ext(in, pkt6_build(in, &s), 0); /* hop-by-hop */
		cr_assert_eq(run(tc, t_ifin, in, len, out, &olen), drop_rc(tc));
		len = pkt6_add_ext(in, pkt6_build(in, &s), 60); /* destination options */
		cr_assert_eq(run(tc, t_ifin, in, len, out, &olen), drop_rc(tc));
		len = pkt6_add_ext(in, pkt6_build(in, &s), 44); /* fragment */
		cr_assert_eq(run(tc, t_ifin, in, len, out, &olen), drop_rc(tc));
	}
	cr_assert_eq(t_cnt(NS_CNT_DROP_IPV6_EXTHDR), 4);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 2);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 0);
}

Test(nat64, other_ipv6_is_left_to_the_kernel)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 7001, 53);
	int tc;

	for (tc = 0; tc < 2; tc++) {
		s.dst = "2001:db8:99::1"; /* not in the pref64 */
		out6(tc, &s, pass_rc(tc), NULL);
		s.dst = T6_REM;
		s.src = "2001:db8:77::2"; /* not a NAT64 subscriber */
		out6(tc, &s, pass_rc(tc), NULL);
		s.src = T6_SUB;
		s.hop = 1; /* the kernel answers time exceeded */
		out6(tc, &s, pass_rc(tc), NULL);
		s.hop = 0;
	}
	cr_assert_eq(t_cnt(NS_CNT_PASS_NON_IP), 4);
	cr_assert_eq(t_cnt(NS_CNT_PASS_TTL), 2);
	cr_assert_eq(t_map_count(bpf_map__fd(t_skel->maps.ns_nat64_sess)), 0);
}

Test(nat64, icmpv6_errors_are_not_translated)
{
	struct pkt6_spec s = spec6(PKT6_ICMP, 0, 0);
	int tc;

	s.icmp_type = 1; /* destination unreachable */
	for (tc = 0; tc < 2; tc++)
		out6(tc, &s, drop_rc(tc), NULL);
	s.icmp_type = 129; /* a reply nobody asked for */
	for (tc = 0; tc < 2; tc++)
		out6(tc, &s, drop_rc(tc), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_UNSUPPORTED), 2);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 2);
}

Test(nat64, backup_does_not_translate)
{
	struct ns_cfg c = { .flags = 0, .n_svc = 1, .n_nat64 = 1 };
	struct pkt6_spec s = spec6(IPPROTO_UDP, 7002, 53);
	uint32_t k = 0;

	put_map(t_skel->maps.ns_config, &k, &c);
	out6(0, &s, drop_rc(0), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_INACTIVE), 1);
}

/* A 1,208-byte IPv4 UDP datagram without checksum (three 512-byte slices
 * of the fast path's summing loop) becomes IPv6 with the right checksum. */
static void big_udp_nocsum(int tc)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 5454, 53);
	static uint8_t in[2048], out[2048];
	char pool[INET_ADDRSTRLEN];
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	int len, plen = 1200, i, rc;
	uint32_t want = 0;

	o = out6(tc, &s, fwd_rc(tc), NULL);
	b = reply_to(&o, pool);
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
		struct xdp_md xctx = { .data_end = len, .ingress_ifindex = t_ifout };
		struct __sk_buff sctx = { .ifindex = t_ifout };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		if (tc) {
			opts.ctx_in = &sctx;
			opts.ctx_size_in = sizeof(sctx);
		} else {
			opts.ctx_in = &xctx;
			opts.ctx_size_in = sizeof(xctx);
		}
		rc = bpf_prog_test_run_opts(bpf_program__fd(tc ? t_skel->progs.natsync_tc :
								     t_skel->progs.natsync_xdp),
					    &opts);
		cr_assert_eq(rc, 0);
		cr_assert_eq(opts.retval, fwd_rc(tc));
		r = pkt6_parse(out, opts.data_size_out);
	}
	expect_v6_reply(&r, tc);
	cr_assert_eq(r.plen, 8 + plen);
	cr_assert_eq(r.payload_sum, want);
}

Test(nat64, big_udp_without_checksum_xdp)
{
	big_udp_nocsum(0);
}

Test(nat64, big_udp_without_checksum_tc)
{
	big_udp_nocsum(1);
}
