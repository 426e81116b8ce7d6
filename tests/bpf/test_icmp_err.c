// SPDX-License-Identifier: GPL-2.0
/*
 * test_icmp_err.c - ICMP error translation (RFC 5508) through
 * BPF_PROG_TEST_RUN: errors about translated UDP, TCP and echo flows from
 * the outside and from the inside, quoted and outer checksums verified by
 * recomputation (the quoted TCP checksum too, whenever the quote holds
 * it), sessions never refreshed, bad or unknown errors dropped.
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

/*
 * ---- errors about TCP: the quoted TCP checksum (RFC 5508 REQ-4/REQ-5 a) ----
 *
 * Linux quotes as much of the offending datagram as fits in 576 bytes
 * (548 bytes of it), so the quoted TCP header is whole and its checksum,
 * at offset 16, is in the quote: it must be the one the sender computed
 * again. Each case checks it by recomputation over the quoted header and
 * the rest of the segment as sent, never by trusting the fast path.
 */

#define Q_LINUX 548 /* 576 - 20 (IPv4) - 8 (ICMP) */
#define Q_BIG 1024  /* frames beyond PKT_MAX */

/* Run @in through XDP or TC on @ifindex, expecting a redirect. */
static void run_fwd(int tc, int ifindex, const uint8_t *in, int len, uint8_t *out, int *olen)
{
	int rc =
	    tc ? t_run_tc(ifindex, in, len, out, olen) : t_run_xdp(ifindex, in, len, out, olen);

	cr_assert_eq(rc, tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT, "returned %d", rc);
}

/* A TCP flow T_SUB:40000 -> T_REM:443 opened with a SYN, then a data
 * segment of @payload bytes: @orig gets the segment as the subscriber sent
 * it, @sent as the NAT sent it on (returned parsed). */
static struct pkt_info tcp_segment_out(int tc, int payload, uint8_t *orig, uint8_t *sent, int *slen)
{
	struct pkt_spec s = t_spec_out(IPPROTO_TCP, T_SUB, 40000, T_REM, 443);
	struct pkt_info o;
	int len;

	s.tcp_flags = 0x02;
	s.seq = 1000;
	cr_assert(t_send(tc, t_ifin, &s, tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT, NULL, NULL).ok);
	s.tcp_flags = 0x18;
	s.seq = 1001;
	s.ack = 5001;
	s.payload = payload;
	len = pkt_build(orig, &s);
	run_fwd(tc, t_ifin, orig, len, sent, slen);
	o = pkt_parse(sent, *slen);
	cr_assert(o.ok, "the translated segment checks");
	return o;
}

/*
 * The error in @out as its receiver gets it: outer IPv4 and ICMP checksums
 * by recomputation over the whole message, the quote still @qlen bytes,
 * and the quoted segment the one @orig_l3 (the sender's IPv4 packet)
 * holds: quoted IPv4 header checksum, addresses, TCP header bytes up to the
 * quote's end, and the TCP checksum by recomputation when quoted whole
 * (pkt_quoted_tcp_diff()).
 */
static const uint8_t *expect_quoted_tcp(const uint8_t *out, int olen, const uint8_t *orig_l3,
					int qlen)
{
	struct pkt_info r = pkt_parse(out, olen);
	const uint8_t *q = out + r.l4_off + 8;
	const char *why;

	cr_assert(r.ok, "outer IPv4 and ICMP checksums by recomputation");
	cr_assert_eq(r.proto, IPPROTO_ICMP);
	cr_assert_eq(olen - (r.l4_off + 8), qlen, "the quote keeps its length");
	why = pkt_quoted_tcp_diff(q, qlen, orig_l3);
	cr_assert_null(why, "%d-byte quote: %s", qlen, why);
	return q;
}

/* An error from the outside about the subscriber's segment of @payload
 * bytes, quoting @qlen bytes of it (0: all). */
static void tcp_err_from_outside(int tc, int payload, int qlen, const char *from, uint8_t type,
				 uint8_t code)
{
	static uint8_t orig[Q_BIG], sent[Q_BIG], err[Q_BIG], out[Q_BIG];
	struct ns_tuple k = t_tuple(T_SUB, 40000, T_REM, 443, IPPROTO_TCP);
	struct ns_session before, after;
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o, r;
	int slen, elen, olen;

	o = tcp_segment_out(tc, payload, orig, sent, &slen);
	if (!qlen || qlen > o.ip_len)
		qlen = o.ip_len;
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	cr_assert_eq(t_session(&k, &before), 0);
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, from, pool, type, code,
				  sent + o.l3_off, qlen);
	if (type == 3 && code == 4)
		put16(err + 34 + 6, 1400); /* next-hop MTU, ICMP checksum after it */
	put16(err + 34 + 2, 0);
	put16(err + 34 + 2, pkt_csum(err + 34, 8 + qlen, 0));
	run_fwd(tc, t_ifout, err, elen, out, &olen);
	cr_assert_eq(olen, elen);
	r = pkt_parse(out, olen);
	cr_assert_eq(r.daddr, pkt_ip(T_SUB), "outer destination is the subscriber");
	cr_assert_eq(r.icmp_type, type, "type and code unchanged");
	cr_assert_eq(r.icmp_code, code);
	expect_quoted_tcp(out, olen, orig + 14, qlen);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 1);
	cr_assert_eq(t_session(&k, &after), 0, "an error never removes the session");
	cr_assert_eq(after.last_seen_ns, before.last_seen_ns, "nor refreshes it");
}

/* Port unreachable from the server, quoting all of a 120-byte segment. */
Test(icmperr, tcp_whole_segment_quoted_xdp)
{
	tcp_err_from_outside(0, 120, 0, T_REM, 3, 3);
}

Test(icmperr, tcp_whole_segment_quoted_tc)
{
	tcp_err_from_outside(1, 120, 0, T_REM, 3, 3);
}

/* Time exceeded from a router, quoting the IPv4 and TCP headers only. */
Test(icmperr, tcp_header_quoted_xdp)
{
	tcp_err_from_outside(0, 300, 40, T_REM2, 11, 0);
}

Test(icmperr, tcp_header_quoted_tc)
{
	tcp_err_from_outside(1, 300, 40, T_REM2, 11, 0);
}

/* Fragmentation needed from a router as Linux sends it: 548 bytes of a
 * 940-byte segment (a 576-byte error, ten checksum chunks). */
Test(icmperr, tcp_linux_sized_quote_xdp)
{
	tcp_err_from_outside(0, 900, Q_LINUX, T_REM2, 3, 4);
}

Test(icmperr, tcp_linux_sized_quote_tc)
{
	tcp_err_from_outside(1, 900, Q_LINUX, T_REM2, 3, 4);
}

/* Cut inside the TCP header: the checksum field is not (or only half) in
 * the quote, the rest of the quote is translated, nothing is written
 * beyond it, and all checksums there are still right. */
static void tcp_short_quote(int tc, int qlen)
{
	static uint8_t orig[Q_BIG], sent[Q_BIG], err[Q_BIG], out[Q_BIG];
	char pool[INET_ADDRSTRLEN];
	const uint8_t *q;
	struct pkt_info o;
	int slen, elen, olen;

	o = tcp_segment_out(tc, 60, orig, sent, &slen);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	elen =
	    pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, pool, 3, 1, sent + o.l3_off, qlen);
	run_fwd(tc, t_ifout, err, elen, out, &olen);
	cr_assert_eq(olen, elen, "the frame keeps its length");
	q = expect_quoted_tcp(out, olen, orig + 14, qlen);
	cr_assert_eq(get16(q + 20), 40000, "quoted source port restored");
	if (qlen > 20 + 16)
		cr_assert_eq(q[20 + 16], sent[o.l4_off + 16], "half a checksum is left alone");
}

Test(icmperr, tcp_eight_bytes_quoted_untouched_xdp)
{
	tcp_short_quote(0, 28);
}

Test(icmperr, tcp_eight_bytes_quoted_untouched_tc)
{
	tcp_short_quote(1, 28);
}

Test(icmperr, tcp_half_checksum_quoted_untouched_xdp)
{
	tcp_short_quote(0, 37);
}

Test(icmperr, tcp_half_checksum_quoted_untouched_tc)
{
	tcp_short_quote(1, 37);
}

/* From the inside: a router in front of the subscriber (T_SUB2) cannot
 * pass the server's 540-byte reply on; the quote becomes the segment the
 * server sent (to the pool address and port), its checksum the server's. */
static void tcp_err_from_inside(int tc)
{
	static uint8_t orig[Q_BIG], sent[Q_BIG], back[Q_BIG], err[Q_BIG], out[Q_BIG];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o, b, r;
	struct pkt_spec rs;
	int slen, blen, len, elen, olen;

	o = tcp_segment_out(tc, 10, orig, sent, &slen);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	rs = t_spec_in(IPPROTO_TCP, T_REM, 443, pool, o.sport);
	rs.tcp_flags = 0x10;
	rs.seq = 5001;
	rs.ack = 1011;
	rs.payload = 500;
	len = pkt_build(orig, &rs);
	run_fwd(tc, t_ifout, orig, len, back, &blen);
	b = pkt_parse(back, blen);
	cr_assert(b.ok);
	cr_assert_eq(b.daddr, pkt_ip(T_SUB));
	elen = pkt_build_icmp_err(err, t_mac_sub, t_mac_in, T_SUB2, T_REM, 3, 4, back + b.l3_off,
				  Q_LINUX);
	run_fwd(tc, t_ifin, err, elen, out, &olen);
	r = pkt_parse(out, olen);
	cr_assert_eq(r.daddr, pkt_ip(T_REM), "outer destination is the server");
	expect_quoted_tcp(out, olen, orig + 14, Q_LINUX);
}

Test(icmperr, tcp_from_inside_xdp)
{
	tcp_err_from_inside(0);
}

Test(icmperr, tcp_from_inside_tc)
{
	tcp_err_from_inside(1);
}
