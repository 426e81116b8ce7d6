// SPDX-License-Identifier: GPL-2.0
/*
 * test_nat64.c - stateful NAT64 through BPF_PROG_TEST_RUN, XDP and TC:
 * TCP, UDP and ICMPv6 echo from the IPv6 inside to the IPv4 outside and
 * back, every checksum of every output verified by full recomputation
 * (pkt.h for IPv4, pkt6.h for IPv6), the session in ns_nat64_sess, and
 * the refusals: unsolicited inbound, TCP without SYN, pool exhaustion,
 * malformed IPv6, extension headers and fragments, untranslated ICMP.
 */
#include "natsync.skel.h"
#include "tests/bpf/fixture.h"
#include "tests/bpf/pkt6.h"
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
	struct ns_cfg c = {.flags = NS_CFG_F_ACTIVE, .n_svc = 1, .n_nat64 = 1};
	struct ns_nat64_term t;
	uint32_t k = 0;

	t_set_pool(1, T64_POOL, pool_count, lo, hi, pool_flags);
	memset(&t, 0, sizeof(t));
	pkt6_addr("2001:db8:64::", t.src6);
	t.src6_len = 48;
	pkt6_addr("64:ff9b::", t.pref64);
	t.pref_len = 96;
	t.src_pool = 1;
	put_map(t_skel->maps.ns_nat64_terms, &k, &t); /* bank 0, term 0 */
	put_map(t_skel->maps.ns_config, &k, &c);     /* live slot: role, bank 0 */
	k = NS_CFG_SLOT_BANK(0);
	put_map(t_skel->maps.ns_config, &k, &c);     /* bank 0: n_nat64 */
}

static void setup(void)
{
	t_setup(1024);
	sh6("echo 1 > /proc/sys/net/ipv6/conf/all/forwarding");
	sh6("ip -6 addr add 2001:db8:64::1/64 dev nsbt_in nodad");
	sh6("ip -6 neigh replace 2001:db8:64::2 lladdr 02:00:00:00:00:02 dev nsbt_in nud "
	    "permanent");
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

Test(nat64, icmpv6_about_no_flow_or_not_an_error_is_dropped)
{
	struct pkt6_spec s = spec6(PKT6_ICMP, 0, 0);
	int tc;

	s.icmp_type = 1; /* destination unreachable about no flow at all */
	for (tc = 0; tc < 2; tc++)
		out6(tc, &s, drop_rc(tc), NULL);
	s.icmp_type = 129; /* a reply nobody asked for */
	for (tc = 0; tc < 2; tc++)
		out6(tc, &s, drop_rc(tc), NULL);
	s.icmp_type = 135; /* neighbour solicitation to a pref64 address */
	for (tc = 0; tc < 2; tc++)
		out6(tc, &s, drop_rc(tc), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 2);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 2);
	cr_assert_eq(t_cnt(NS_CNT_DROP_UNSUPPORTED), 2);
}

Test(nat64, backup_does_not_translate)
{
	struct ns_cfg c = {.flags = 0, .n_svc = 1, .n_nat64 = 1};
	struct pkt6_spec s = spec6(IPPROTO_UDP, 7002, 53);
	uint32_t k = NS_CFG_SLOT_LIVE; /* the role; bank 0 keeps its NAT64 term */

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

/* ---- ICMPv4 errors about NAT64 flows become ICMPv6 errors --------------- */

/* Send @s from the subscriber; the translated IPv4 frame lands in @out. */
static struct pkt_info out6_raw(int tc, const struct pkt6_spec *s, uint8_t *out, int *olen)
{
	uint8_t in[PKT_MAX];
	int len = pkt6_build(in, s), rc;

	rc = run(tc, t_ifin, in, len, out, olen);
	cr_assert_eq(rc, fwd_rc(tc));
	return pkt_parse(out, *olen);
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
	struct pkt6_spec s = spec6(IPPROTO_UDP, 5353, 53);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	struct ns_tuple6 k = key6(IPPROTO_UDP, 5353, 53);
	struct ns_session before, after;
	char pool[INET_ADDRSTRLEN];
	const uint8_t *l4;
	int slen, elen, olen;
	struct pkt_info o;

	s.payload = 33;
	o = out6_raw(tc, &s, sent, &slen);
	cr_assert_eq(session6(&k, &before), 0);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, sent + o.l3_off,
				  o.ip_len);
	cr_assert_eq(run(tc, t_ifout, err, elen, out, &olen), fwd_rc(tc));
	cr_assert_eq(olen, elen + 40, "two IPv4 headers became IPv6: 40 bytes more");
	l4 = expect_icmp6_err(out, olen, T6_REM, 1, 4, IPPROTO_UDP);
	cr_assert_eq(get16(l4), 5353, "quoted source port back to the subscriber's");
	cr_assert_eq(get16(l4 + 2), 53);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 1);
	cr_assert_eq(session6(&k, &after), 0, "an error never removes the session");
	cr_assert_eq(after.last_seen_ns, before.last_seen_ns, "nor refreshes it");
}

Test(nat64, icmp_port_unreachable_xdp)
{
	err_udp_unreach(0);
}

Test(nat64, icmp_port_unreachable_tc)
{
	err_udp_unreach(1);
}

static void err_frag_needed(int tc)
{
	struct pkt6_spec s = spec6(IPPROTO_TCP, 40010, 80);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	const uint8_t *l4;
	int slen, elen, olen;
	struct pkt_info o;

	s.tcp_flags = 0x02;
	o = out6_raw(tc, &s, sent, &slen);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	/* a router on the path quotes the IPv4 header and 8 bytes */
	elen =
	    pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM2, pool, 3, 4, sent + o.l3_off, 28);
	put16(err + 34 + 6, 1400); /* next-hop MTU */
	put16(err + 34 + 2, 0);
	put16(err + 34 + 2, pkt_csum(err + 34, 8 + 28, 0));
	cr_assert_eq(run(tc, t_ifout, err, elen, out, &olen), fwd_rc(tc));
	cr_assert_eq(olen, elen + 40, "8 quoted TCP bytes stay 8: no checksum written");
	{
		struct pkt6_info r = pkt6_parse(out, olen);
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

Test(nat64, icmp_frag_needed_becomes_packet_too_big_xdp)
{
	err_frag_needed(0);
}

Test(nat64, icmp_frag_needed_becomes_packet_too_big_tc)
{
	err_frag_needed(1);
}

static void err_echo_ttl(int tc)
{
	struct pkt6_spec s = spec6(PKT6_ICMP, 0x4343, 0);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	const uint8_t *l4;
	int slen, elen, olen;
	struct pkt_info o;

	s.payload = 24;
	o = out6_raw(tc, &s, sent, &slen);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM2, pool, 11, 0, sent + o.l3_off,
				  o.ip_len);
	cr_assert_eq(run(tc, t_ifout, err, elen, out, &olen), fwd_rc(tc));
	l4 = expect_icmp6_err(out, olen, "64:ff9b::198.51.100.3", 3, 0, PKT6_ICMP);
	cr_assert_eq(l4[0], 128, "quoted echo request is ICMPv6 again");
	cr_assert_eq(get16(l4 + 4), 0x4343, "with the subscriber's id");
}

Test(nat64, icmp_time_exceeded_about_echo_xdp)
{
	err_echo_ttl(0);
}

Test(nat64, icmp_time_exceeded_about_echo_tc)
{
	err_echo_ttl(1);
}

Test(nat64, icmp_errors_not_translated_are_dropped)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 5355, 53);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	int slen, elen, olen;
	struct pkt_info o;

	o = out6_raw(0, &s, sent, &slen);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	/* parameter problem: not translated */
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 12, 0, sent + o.l3_off,
				  o.ip_len);
	cr_assert_eq(run(0, t_ifout, err, elen, out, &olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_UNSUPPORTED), 1);
	/* a bad ICMP checksum */
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, sent + o.l3_off,
				  o.ip_len);
	err[34 + 2] ^= 0x5a;
	cr_assert_eq(run(0, t_ifout, err, elen, out, &olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 1);
	/* about a flow nobody has */
	put16(sent + o.l4_off, 9999);
	put16(sent + o.l4_off + 6, 0);
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, sent + o.l3_off,
				  o.ip_len);
	cr_assert_eq(run(1, t_ifout, err, elen, out, &olen), TC_RET_SHOT);
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
	struct pkt6_spec s = spec6(IPPROTO_TCP, 40030, 443);
	struct pkt_info o;
	int len;

	s.tcp_flags = 0x02;
	cr_assert(out6(tc, &s, fwd_rc(tc), NULL).ok);
	s.tcp_flags = 0x18;
	s.seq = 1001;
	s.ack = 7001;
	s.payload = payload;
	len = pkt6_build(orig, &s);
	cr_assert_eq(run(tc, t_ifin, orig, len, sent, slen), fwd_rc(tc));
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
	cr_assert_eq(run(tc, t_ifout, err, elen, out, &olen), fwd_rc(tc));
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
Test(nat64, icmp_about_tcp_whole_segment_quoted_xdp)
{
	err_tcp(0, 120, 0, T_REM, 11, 0, T6_REM, 3, 0);
}

Test(nat64, icmp_about_tcp_whole_segment_quoted_tc)
{
	err_tcp(1, 120, 0, T_REM, 11, 0, T6_REM, 3, 0);
}

/* A router quoting the IPv4 and TCP headers only. */
Test(nat64, icmp_about_tcp_header_quoted_xdp)
{
	err_tcp(0, 300, 40, T_REM2, 3, 1, "64:ff9b::198.51.100.3", 1, 0);
}

Test(nat64, icmp_about_tcp_header_quoted_tc)
{
	err_tcp(1, 300, 40, T_REM2, 3, 1, "64:ff9b::198.51.100.3", 1, 0);
}

/* Fragmentation needed as Linux sends it: 548 bytes of a 940-byte segment. */
Test(nat64, icmp_about_tcp_linux_sized_quote_xdp)
{
	err_tcp(0, 900, Q_LINUX, T_REM2, 3, 4, "64:ff9b::198.51.100.3", 2, 0);
}

Test(nat64, icmp_about_tcp_linux_sized_quote_tc)
{
	err_tcp(1, 900, Q_LINUX, T_REM2, 3, 4, "64:ff9b::198.51.100.3", 2, 0);
}

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
	struct pkt6_spec s = spec6(proto, sport, dport);
	uint8_t in[PKT_MAX];
	struct pkt_info o;
	struct pkt_spec b;
	int len, olen = 0;

	s.tcp_flags = 0x02;
	s.payload = 10;
	o = out6(tc, &s, fwd_rc(tc), NULL);
	b = reply_to(&o, pool);
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
	cr_assert_eq(run(tc, t_ifout, in, len, got, &olen), fwd_rc(tc));
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
	cr_assert_eq(run(tc, t_ifin, err, elen, out, &olen), fwd_rc(tc));
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

Test(nat64, icmpv6_port_unreachable_to_icmp_xdp)
{
	err6_port_unreach(0);
}

Test(nat64, icmpv6_port_unreachable_to_icmp_tc)
{
	err6_port_unreach(1);
}

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
	cr_assert_eq(run(tc, t_ifin, err, elen, out, &olen), fwd_rc(tc));
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

Test(nat64, icmpv6_packet_too_big_to_frag_needed_xdp)
{
	err6_ptb(0);
}

Test(nat64, icmpv6_packet_too_big_to_frag_needed_tc)
{
	err6_ptb(1);
}

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
	cr_assert_eq(run(tc, t_ifin, err, elen, out, &olen), fwd_rc(tc));
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

Test(nat64, icmpv6_about_tcp_whole_segment_quoted_xdp)
{
	err6_tcp(0, 1);
}

Test(nat64, icmpv6_about_tcp_whole_segment_quoted_tc)
{
	err6_tcp(1, 1);
}

Test(nat64, icmpv6_about_tcp_header_quoted_xdp)
{
	err6_tcp(0, 0);
}

Test(nat64, icmpv6_about_tcp_header_quoted_tc)
{
	err6_tcp(1, 0);
}

static void err6_echo(int tc)
{
	uint8_t got[PKT_MAX * 2], err[PKT_MAX * 2], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info r, in;
	uint16_t pid;
	int glen, elen, olen;

	glen = reply_received(tc, PKT6_ICMP, 0x4444, 0, got, pool, &pid, NULL);
	elen = build6_err(err, T6_SUB, T6_REM, 3, 0, 0, got + 14, glen - 14);
	cr_assert_eq(run(tc, t_ifin, err, elen, out, &olen), fwd_rc(tc));
	r = pkt_parse(out, olen);
	cr_assert(r.ok);
	cr_assert_eq(r.icmp_type, 11, "time exceeded");
	in = pkt_parse_l3(out + r.l4_off + 8, olen - r.l4_off - 8);
	cr_assert(in.ok, "quoted IPv4 and ICMP echo checksums by recomputation");
	cr_assert_eq(in.icmp_type, 0, "quoted echo reply is ICMPv4 again");
	cr_assert_eq(in.icmp_id, pid, "with the pool's id");
}

Test(nat64, icmpv6_time_exceeded_about_echo_reply_xdp)
{
	err6_echo(0);
}

Test(nat64, icmpv6_time_exceeded_about_echo_reply_tc)
{
	err6_echo(1);
}

Test(nat64, icmpv6_errors_bad_or_untranslatable_are_dropped)
{
	uint8_t got[PKT_MAX * 2], err[PKT_MAX * 2], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	uint16_t pport;
	int glen, elen, olen;

	glen = reply_received(0, IPPROTO_UDP, 5361, 53, got, pool, &pport, NULL);
	elen = build6_err(err, T6_SUB, T6_REM, 4, 0, 0, got + 14, glen - 14); /* param problem */
	cr_assert_eq(run(0, t_ifin, err, elen, out, &olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_UNSUPPORTED), 1);
	elen = build6_err(err, T6_SUB, T6_REM, 1, 4, 0, got + 14, glen - 14);
	err[54 + 2] ^= 0x33; /* bad ICMPv6 checksum */
	cr_assert_eq(run(1, t_ifin, err, elen, out, &olen), TC_RET_SHOT);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 1);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 0);
}

/* ---- RFC 6146 behaviours: EIM/EIF, hairpinning, RFC 6052 prefix lengths,
 * the per-subscriber limit, MSS clamping, 802.1Q, IPv6 events ---------- */

#define T6_SUB2 "2001:db8:64::3"	 /* a second subscriber, same /64 */
#define T6_SUB3 "2001:db8:64:1::2" /* a subscriber of another /64 */

/* Term 0 of bank 0 with the flags @flags (NS_NAT_F_EIM/EIF) and pref64
 * @pref/@len; neighbours for the other subscribers. */
static void nat64_term(uint8_t flags, const char *pref, uint8_t len)
{
	struct ns_nat64_term t;
	uint32_t k = 0;

	memset(&t, 0, sizeof(t));
	pkt6_addr("2001:db8:64::", t.src6);
	t.src6_len = 48;
	pkt6_addr(pref, t.pref64);
	t.pref_len = len;
	t.src_pool = 1;
	t.flags = flags;
	put_map(t_skel->maps.ns_nat64_terms, &k, &t);
	sh6("ip -6 neigh replace " T6_SUB2 " lladdr 02:00:00:00:00:02 dev nsbt_in nud permanent");
	sh6("ip -6 route replace 2001:db8:64:1::/64 dev nsbt_in");
	sh6("ip -6 neigh replace " T6_SUB3 " lladdr 02:00:00:00:00:02 dev nsbt_in nud permanent");
}

/* Bank 0's config with @flags added (events) and a subscriber limit. */
static void nat64_cfg_set(uint32_t flags, uint32_t max_per_sub)
{
	struct ns_cfg c = {.flags = NS_CFG_F_ACTIVE | flags, .n_svc = 1, .n_nat64 = 1,
			   .max_sess_per_sub = max_per_sub};
	uint32_t k = NS_CFG_SLOT_BANK(0);

	put_map(t_skel->maps.ns_config, &k, &c);
}

static struct pkt_spec in_from(const char *src, uint8_t proto, uint16_t sport, uint32_t pool,
			       uint16_t port, char *buf)
{
	struct pkt_spec b = t_spec_in(proto, src, sport, "0.0.0.0", port);

	inet_ntop(AF_INET, &pool, buf, INET_ADDRSTRLEN);
	b.dst = buf;
	return b;
}

/* RFC 6146 3.5.1.1 / RFC 4787 REQ-1: one binding for every destination;
 * 3.5.2 / REQ-8 EIF: a third host reaches the subscriber through it. */
static void eim_eif(int tc, uint8_t proto)
{
	struct pkt6_spec s = spec6(proto, 40000, 80);
	char pool[INET_ADDRSTRLEN];
	struct ns_tuple6 k;
	struct ns_session sess;
	struct pkt6_info r;
	struct pkt_info o1, o2;
	struct pkt_spec b;
	uint8_t a[16];

	nat64_term(NS_NAT_F_EIM | NS_NAT_F_EIF, "64:ff9b::", 96);
	s.tcp_flags = 0x02;
	o1 = out6(tc, &s, fwd_rc(tc), NULL);
	cr_assert(o1.ok);
	s.dst = "64:ff9b::198.51.100.3";
	o2 = out6(tc, &s, fwd_rc(tc), NULL);
	cr_assert(o2.ok);
	cr_assert_eq(o2.daddr, pkt_ip(T_REM2));
	cr_assert_eq(o2.saddr, o1.saddr, "EIM: same pool address for another destination");
	cr_assert_eq(o2.sport, o1.sport, "EIM: same pool port for another destination");
	cr_assert_eq(t_cnt(NS_CNT_EIM_REUSE), 1);

	/* a host the subscriber never talked to, to the binding */
	b = in_from("198.51.100.9", proto, 5555, o1.saddr, o1.sport, pool);
	b.tcp_flags = 0x02;
	sh6("ip neigh replace 198.51.100.9 lladdr 02:00:00:00:00:03 dev nsbt_out nud permanent");
	r = in4(tc, &b, fwd_rc(tc));
	cr_assert(r.ok, "IPv6 checksum by recomputation");
	pkt6_addr("64:ff9b::198.51.100.9", a);
	cr_assert_arr_eq(r.saddr, a, 16, "from pref64 + the IPv4 source");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r.daddr, a, 16);
	cr_assert_eq(r.sport, 5555);
	cr_assert_eq(r.dport, 40000, "to the bound subscriber port");
	cr_assert_eq(t_cnt(NS_CNT_EIF_INBOUND), 1);
	k = key6(proto, 40000, 5555);
	pkt6_addr("64:ff9b::198.51.100.9", k.daddr);
	cr_assert_eq(session6(&k, &sess), 0, "inbound session under the IPv6 key");
	cr_assert_eq(sess.origin, NS_SIDE_OUTSIDE);
	cr_assert_eq(sess.flags & (NS_SF_EIM | NS_SF_EIF), NS_SF_EIM | NS_SF_EIF);
	cr_assert_eq(sess.out_key.daddr, o1.saddr);
	/* the subscriber answers on that session */
	s.dst = "64:ff9b::198.51.100.9";
	s.dport = 5555;
	s.tcp_flags = 0x12;
	o2 = out6(tc, &s, fwd_rc(tc), NULL);
	cr_assert(o2.ok);
	cr_assert_eq(o2.sport, o1.sport);
}

Test(nat64, eim_eif_udp_xdp)
{
	eim_eif(0, IPPROTO_UDP);
}

Test(nat64, eim_eif_tcp_tc)
{
	eim_eif(1, IPPROTO_TCP);
}

/* EIM with address-dependent filtering: the binding is shared, but a host
 * the subscriber never sent to is filtered (RFC 6146 3.5.2.2: an inbound
 * SYN dropped silently); the default (no EIM) gives every destination its
 * own port. */
Test(nat64, eim_with_address_dependent_filtering_and_default_mapping)
{
	struct pkt6_spec s = spec6(IPPROTO_TCP, 40001, 80);
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o1, o2;
	struct pkt_spec b;

	nat64_term(NS_NAT_F_EIM, "64:ff9b::", 96);
	s.tcp_flags = 0x02;
	o1 = out6(0, &s, fwd_rc(0), NULL);
	b = in_from("198.51.100.9", IPPROTO_TCP, 5555, o1.saddr, o1.sport, pool);
	b.tcp_flags = 0x02;
	in4(0, &b, drop_rc(0));
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1, "unsolicited SYN dropped, not answered");
	cr_assert_eq(t_cnt(NS_CNT_EIF_INBOUND), 0);
	cr_assert_eq(t_cnt(NS_CNT_TX_REJECT), 0);

	nat64_term(0, "64:ff9b::", 96);
	s.sport = 40002;
	o1 = out6(0, &s, fwd_rc(0), NULL);
	s.dst = "64:ff9b::198.51.100.3";
	o2 = out6(0, &s, fwd_rc(0), NULL);
	cr_assert(o1.sport != o2.sport || o1.saddr != o2.saddr,
		  "address-and-port-dependent mapping: one binding per destination");
	cr_assert_eq(t_cnt(NS_CNT_EIM_REUSE), 0);
}

/* RFC 6146 3.8: subscriber 2 reaches subscriber 1's binding through the
 * pool address in its pref64 form; subscriber 1 sees it from subscriber
 * 2's own binding in the pref64 form. */
static void hairpin(int tc)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 40000, 80), s2;
	struct ns_tuple6 k2;
	struct ns_session sess2;
	struct pkt6_info r;
	struct pkt_info o1;
	uint8_t in[PKT_MAX], out[PKT_MAX * 2], a[16];
	char dst6[INET6_ADDRSTRLEN];
	int len, olen = 0, rc;

	nat64_term(NS_NAT_F_EIM | NS_NAT_F_EIF, "64:ff9b::", 96);
	o1 = out6(tc, &s, fwd_rc(tc), NULL);
	memset(a, 0, 16);
	a[0] = 0;
	a[1] = 0x64;
	a[2] = 0xff;
	a[3] = 0x9b;
	memcpy(a + 12, &o1.saddr, 4);
	inet_ntop(AF_INET6, a, dst6, sizeof(dst6));
	s2 = spec6(IPPROTO_UDP, 41000, o1.sport);
	s2.src = T6_SUB2;
	s2.dst = dst6;
	s2.payload = 33;
	len = pkt6_build(in, &s2);
	rc = run(tc, t_ifin, in, len, out, &olen);
	cr_assert_eq(rc, fwd_rc(tc), "hairpinned back to the inside: %d", rc);
	r = pkt6_parse(out, olen);
	cr_assert(r.ok, "IPv6 checksum by recomputation");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r.daddr, a, 16, "to subscriber 1");
	cr_assert_eq(r.dport, 40000);
	k2 = key6(IPPROTO_UDP, 41000, o1.sport);
	pkt6_addr(T6_SUB2, k2.saddr);
	pkt6_addr(dst6, k2.daddr);
	cr_assert_eq(session6(&k2, &sess2), 0, "subscriber 2's own outbound session");
	memcpy(a, r.saddr, 16);
	cr_assert_eq(memcmp(a, "\x00\x64\xff\x9b\0\0\0\0\0\0\0\0", 12), 0, "from the pref64");
	cr_assert_eq(memcmp(a + 12, &sess2.out_key.daddr, 4), 0, "from subscriber 2's pool address");
	cr_assert_eq(r.sport, ntohs(sess2.out_key.dport), "from subscriber 2's pool port");
	cr_assert_eq(r.hop, 63, "one hop");
	cr_assert_eq(t_cnt(NS_CNT_EIF_INBOUND), 1);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_OUT), 2);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 1);
}

Test(nat64, hairpinning_xdp)
{
	hairpin(0);
}

Test(nat64, hairpinning_tc)
{
	hairpin(1);
}

/* RFC 6052 2.2: the IPv4 address under a /@len pref64 (u-octet skipped),
 * both ways, and the source of an ICMP error from a router in that form. */
static void pref_len_flow(int tc, const char *pref, uint8_t len, const char *rem6,
			  const char *router6)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 40000, 53);
	char pool[INET_ADDRSTRLEN];
	uint8_t out[PKT_MAX * 2], a[16], err[PKT_MAX];
	struct pkt6_info r;
	struct pkt_info o;
	struct pkt_spec b;
	int olen = 0, elen;

	nat64_term(0, pref, len);
	s.dst = rem6;
	o = out6(tc, &s, fwd_rc(tc), NULL);
	cr_assert(o.ok);
	cr_assert_eq(o.daddr, pkt_ip(T_REM), "/%u: the embedded IPv4 destination", len);
	b = reply_to(&o, pool);
	r = in4(tc, &b, fwd_rc(tc));
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
		sh6("ip neigh replace 198.51.100.99 lladdr 02:00:00:00:00:03 dev nsbt_out nud permanent");
		elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, "198.51.100.99", pool, 3, 3,
					  q + 14, qlen - 14);
		cr_assert_eq(run(tc, t_ifout, err, elen, out, &olen), fwd_rc(tc));
		pkt6_addr(router6, a);
		cr_assert_arr_eq(out + 14 + 8, a, 16, "/%u: error source in the pref64 form", len);
	}
}

Test(nat64, pref64_32_xdp)
{
	pref_len_flow(0, "2001:db8::", 32, "2001:db8:c633:6402::", "2001:db8:c633:6463::");
}

Test(nat64, pref64_40_tc)
{
	pref_len_flow(1, "2001:db8:100::", 40, "2001:db8:1c6:3364:2::", "2001:db8:1c6:3364:63::");
}

Test(nat64, pref64_48_xdp)
{
	pref_len_flow(0, "2001:db8:122::", 48, "2001:db8:122:c633:64:200::",
		      "2001:db8:122:c633:64:6300::");
}

Test(nat64, pref64_56_tc)
{
	pref_len_flow(1, "2001:db8:122:300::", 56, "2001:db8:122:3c6:33:6402::",
		      "2001:db8:122:3c6:33:6463::");
}

Test(nat64, pref64_64_xdp)
{
	pref_len_flow(0, "2001:db8:122:344::", 64, "2001:db8:122:344:c6:3364:200:0",
		      "2001:db8:122:344:c6:3364:6300:0");
}

Test(nat64, pref64_96_other_prefix_tc)
{
	pref_len_flow(1, "2001:db8:64:ff00::", 96, "2001:db8:64:ff00::198.51.100.2",
		      "2001:db8:64:ff00::198.51.100.99");
}

/* RFC 6888 REQ-4 for IPv6 subscribers: counted per /64. */
Test(nat64, subscriber_limit_per_64)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 40000, 53);
	struct ns_sub_key sk;
	uint8_t p64[16] = { 0 };
	uint64_t created = 0;

	nat64_term(0, "64:ff9b::", 96);
	nat64_cfg_set(0, 2);
	out6(0, &s, fwd_rc(0), NULL);
	s.sport = 40001;
	out6(1, &s, fwd_rc(1), NULL);
	s.sport = 40002;
	out6(0, &s, drop_rc(0), NULL);
	s.src = T6_SUB2; /* same /64: same subscriber */
	out6(1, &s, drop_rc(1), NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_SUBSCRIBER_LIMIT), 2);
	s.src = T6_SUB3; /* another /64 */
	out6(0, &s, fwd_rc(0), NULL);
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
	out6(0, &s, fwd_rc(0), NULL);
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
	struct pkt6_spec s = spec6(IPPROTO_TCP, 40000, 80);
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o;
	struct pkt6_info r;
	struct pkt_spec b;
	int len, olen = 0;

	s.tcp_flags = 0x02;
	len = tcp_with_opts(in, pkt6_build(in, &s), 1, even, sizeof(even));
	cr_assert_eq(run(tc, t_ifin, in, len, out, &olen), fwd_rc(tc));
	o = pkt_parse(out, olen);
	cr_assert(o.ok, "IPv4 and TCP checksums by recomputation");
	cr_assert_eq(get16(out + 34 + 22), 1440, "IPv6 SYN: MSS 1460 clamped to 1440");

	s.sport = 40001;
	len = tcp_with_opts(in, pkt6_build(in, &s), 1, odd, sizeof(odd));
	cr_assert_eq(run(tc, t_ifin, in, len, out, &olen), fwd_rc(tc));
	o = pkt_parse(out, olen);
	cr_assert(o.ok, "odd option offset: checksum by recomputation");
	cr_assert_eq(get16(out + 34 + 23), 1440);

	s.sport = 40002;
	len = tcp_with_opts(in, pkt6_build(in, &s), 1, low, sizeof(low));
	cr_assert_eq(run(tc, t_ifin, in, len, out, &olen), fwd_rc(tc));
	o = pkt_parse(out, olen);
	cr_assert(o.ok);
	cr_assert_eq(get16(out + 34 + 22), 1300, "a smaller MSS is left alone");

	/* the IPv4 host's SYN-ACK with MSS 1460 */
	b = reply_to(&o, pool);
	b.tcp_flags = 0x12;
	len = tcp_with_opts(in, pkt_build(in, &b), 0, even, sizeof(even));
	olen = 0;
	cr_assert_eq(run(tc, t_ifout, in, len, out, &olen), fwd_rc(tc));
	r = pkt6_parse(out, olen);
	cr_assert(r.ok, "IPv6 TCP checksum by recomputation");
	cr_assert_eq(r.tcp_flags, 0x12);
	cr_assert_eq(get16(out + 54 + 22), 1440, "IPv4 SYN-ACK: MSS clamped to 1440");
}

Test(nat64, mss_clamping_xdp)
{
	mss(0);
}

Test(nat64, mss_clamping_tc)
{
	mss(1);
}

/* 802.1Q: a tagged IPv6 frame leaves as a tagged IPv4 one on the same VLAN
 * (to the kernel: tagged frames are never redirected), and back. */
Test(nat64, vlan_tagged_both_ways_xdp)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 40000, 53);
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
	cr_assert_eq(run(0, t_ifin, in, len, out, &olen), pass_rc(0), "to the kernel");
	o = pkt_parse(out, olen);
	cr_assert(o.ok, "IPv4 checksums by recomputation");
	cr_assert_eq(o.vlans, 1);
	cr_assert_eq(o.vlan_id[0], 100, "the same VLAN");
	cr_assert(in_pool64(o.saddr));
	cr_assert_eq(o.daddr, pkt_ip(T_REM));
	cr_assert_eq(t_cnt(NS_CNT_NAT64_OUT), 1);

	b = reply_to(&o, pool);
	b.vlans = 1;
	b.vlan_id[0] = 100;
	len = pkt_build(in, &b);
	olen = 0;
	cr_assert_eq(run(0, t_ifout, in, len, out, &olen), pass_rc(0));
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
Test(nat64, events_carry_the_ipv6_addresses)
{
	struct pkt6_spec s = spec6(IPPROTO_UDP, 40000, 53);
	struct ring_buffer *rb;
	uint8_t a[16];

	nat64_cfg_set(NS_CFG_F_EVENTS, 0);
	rb = ring_buffer__new(bpf_map__fd(t_skel->maps.ns_events), on_ev, NULL, NULL);
	cr_assert(rb);
	out6(0, &s, fwd_rc(0), NULL);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	cr_assert_eq(ev6_seen, 2, "SESSION_OPEN and NAT_ALLOC, as struct ns_event6");
	cr_assert_eq(ev6_last.ev.nat_type, NS_NAT_NAT64);
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(ev6_last.saddr6, a, 16);
	pkt6_addr(T6_REM, a);
	cr_assert_arr_eq(ev6_last.daddr6, a, 16);
}
