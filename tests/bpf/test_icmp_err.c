// SPDX-License-Identifier: GPL-2.0
/*
 * test_icmp_err.c - ICMP error translation (RFC 5508) through
 * BPF_PROG_TEST_RUN: errors about translated UDP, TCP and echo flows from
 * the outside and from the inside, quoted and outer checksums verified by
 * recomputation, sessions never refreshed, bad or unknown errors dropped.
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

TestSuite(icmperr, .init = setup, .fini = teardown);

/* Send @s out through the NAT; return the translated frame in @out. */
static struct pkt_info translate_out(const struct pkt_spec *s, uint8_t *out, int *len)
{
	struct pkt_info o = t_send(0, t_ifin, s, XDP_RET_REDIRECT, out, len);

	cr_assert(o.ok);
	return o;
}

static struct pkt_info run_err(int tc, int ifindex, uint8_t *frame, int len, int expect,
			       uint8_t *out, int *olen)
{
	int rc = tc ? t_run_tc(ifindex, frame, len, out, olen)
		    : t_run_xdp(ifindex, frame, len, out, olen);

	cr_assert_eq(rc, expect, "returned %d, expected %d", rc, expect);
	return pkt_parse(out, *olen);
}

static void udp_unreach_from_outside(int tc)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 5353, T_REM, 53);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	struct ns_tuple k = t_tuple(T_SUB, 5353, T_REM, 53, IPPROTO_UDP);
	struct ns_session before, after;
	int slen, elen, olen;
	char pool[INET_ADDRSTRLEN];

	s.payload = 201; /* several checksum chunks, odd length */
	struct pkt_info o = translate_out(&s, sent, &slen);

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	cr_assert_eq(t_session(&k, &before), 0);
	/* the remote host quotes the whole translated datagram */
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, sent + o.l3_off,
				  o.ip_len);
	struct pkt_info r =
	    run_err(tc, t_ifout, err, elen, tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT, out, &olen);

	cr_assert(r.ok, "outer checksums");
	cr_assert_eq(r.daddr, pkt_ip(T_SUB), "outer destination is the subscriber");
	cr_assert_eq(r.saddr, pkt_ip(T_REM));
	cr_assert_eq(r.icmp_type, 3);
	struct pkt_info in = pkt_parse_l3(out + r.l4_off + 8, olen - r.l4_off - 8);

	cr_assert(in.ok, "quoted IPv4 and UDP checksums");
	cr_assert_eq(in.saddr, pkt_ip(T_SUB), "quoted source restored");
	cr_assert_eq(in.sport, 5353);
	cr_assert_eq(in.daddr, pkt_ip(T_REM));
	cr_assert_eq(in.dport, 53);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 1);
	cr_assert_eq(t_session(&k, &after), 0, "an error never removes the session");
	cr_assert_eq(after.last_seen_ns, before.last_seen_ns, "nor refreshes it");
	cr_assert_eq(after.packets[NS_SIDE_OUTSIDE], 0);
}

Test(icmperr, udp_port_unreachable_xdp)
{
	udp_unreach_from_outside(0);
}

Test(icmperr, udp_port_unreachable_tc)
{
	udp_unreach_from_outside(1);
}

Test(icmperr, echo_time_exceeded_from_router)
{
	struct pkt_spec s = t_spec_out(IPPROTO_ICMP, T_SUB, 0x4242, T_REM, 0);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	int slen, elen, olen;
	char pool[INET_ADDRSTRLEN];

	s.icmp_type = 8;
	s.payload = 16;
	struct pkt_info o = translate_out(&s, sent, &slen);

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM2, pool, 11, 0, sent + o.l3_off,
				  o.ip_len);
	struct pkt_info r = run_err(0, t_ifout, err, elen, XDP_RET_REDIRECT, out, &olen);

	cr_assert(r.ok);
	cr_assert_eq(r.saddr, pkt_ip(T_REM2), "router address kept");
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	struct pkt_info in = pkt_parse_l3(out + r.l4_off + 8, olen - r.l4_off - 8);

	cr_assert(in.ok, "quoted echo checksums");
	cr_assert_eq(in.icmp_id, 0x4242, "quoted echo id restored");
	cr_assert_eq(in.saddr, pkt_ip(T_SUB));
}

Test(icmperr, tcp_eight_bytes_quoted)
{
	struct pkt_spec s = t_spec_out(IPPROTO_TCP, T_SUB, 40000, T_REM, 443);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	int slen, elen, olen;
	char pool[INET_ADDRSTRLEN];

	s.tcp_flags = 0x02;
	struct pkt_info o = translate_out(&s, sent, &slen);

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	elen =
	    pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 1, sent + o.l3_off, 28);
	struct pkt_info r = run_err(0, t_ifout, err, elen, XDP_RET_REDIRECT, out, &olen);
	const uint8_t *q = out + r.l4_off + 8;

	cr_assert(r.ok, "outer ICMP checksum");
	cr_assert_eq(pkt_sum(q, 20, 0), 0xffff, "quoted IPv4 checksum");
	cr_assert_eq(memcmp(q + 12, &(uint32_t){pkt_ip(T_SUB)}, 4), 0);
	cr_assert_eq(get16(q + 20), 40000);
	cr_assert_eq(get16(q + 22), 443);
}

Test(icmperr, from_inside_host)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 5353, T_REM, 53);
	uint8_t sent[PKT_MAX * 2], back[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	int slen, blen, elen, olen;
	char pool[INET_ADDRSTRLEN];

	struct pkt_info o = translate_out(&s, sent, &slen);

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, pool, o.sport);
	struct pkt_info r = t_send(0, t_ifout, &b, XDP_RET_REDIRECT, back, &blen);

	/* the subscriber answers the (translated) reply with port unreachable */
	elen = pkt_build_icmp_err(err, t_mac_sub, t_mac_in, T_SUB, T_REM, 3, 3, back + r.l3_off,
				  r.ip_len);
	struct pkt_info e = run_err(0, t_ifin, err, elen, XDP_RET_REDIRECT, out, &olen);

	cr_assert(e.ok);
	cr_assert_eq(e.saddr, o.saddr, "outer source is the pool address");
	cr_assert_eq(e.daddr, pkt_ip(T_REM));
	struct pkt_info in = pkt_parse_l3(out + e.l4_off + 8, olen - e.l4_off - 8);

	cr_assert(in.ok);
	cr_assert_eq(in.daddr, o.saddr, "quoted destination is the pool address");
	cr_assert_eq(in.dport, o.sport);
	cr_assert_eq(in.saddr, pkt_ip(T_REM));
}

Test(icmperr, unknown_or_bad_errors_dropped)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 5353, T_REM, 53);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	int slen, elen, olen;
	char pool[INET_ADDRSTRLEN];

	struct pkt_info o = translate_out(&s, sent, &slen);

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	/* about a flow with no session */
	put16(sent + o.l4_off, 1); /* quoted source port nobody owns */
	elen =
	    pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, sent + o.l3_off, 28);
	run_err(0, t_ifout, err, elen, XDP_RET_DROP, out, &olen);
	/* quoted header with a broken checksum */
	put16(sent + o.l4_off, o.sport);
	sent[o.l3_off + 10] ^= 0x55;
	elen =
	    pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, sent + o.l3_off, 28);
	run_err(0, t_ifout, err, elen, XDP_RET_DROP, out, &olen);
	/* truncated quote */
	sent[o.l3_off + 10] ^= 0x55;
	elen =
	    pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, sent + o.l3_off, 20);
	run_err(0, t_ifout, err, elen, XDP_RET_DROP, out, &olen);
	/* a valid quote but a broken ICMP checksum */
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 3, sent + o.l3_off,
				  o.ip_len);
	err[34 + 2] ^= 0x01;
	run_err(0, t_ifout, err, elen, XDP_RET_DROP, out, &olen);
	cr_assert_eq(t_cnt(NS_CNT_DROP_ICMP_ERR), 4);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 0);
}
