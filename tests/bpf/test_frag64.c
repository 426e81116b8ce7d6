// SPDX-License-Identifier: GPL-2.0
/*
 * test_frag64.c - fragments through stateful NAT64 (bpf/frag64.h, RFC 7915
 * 4.1 / 5.1.1), XDP and TC, through the main program's tail call: a UDP
 * datagram of 608 L4 bytes in three fragments, IPv6 -> IPv4 and the reply
 * IPv4 -> IPv6, in order and with the later fragments first (held for the
 * daemon: the ring's records checked byte for byte). The translated
 * fragments' headers are checked field by field (IPv4 ID = low 16 bits of
 * the identification, offset, MF/M, DF clear, the Fragment header's next
 * header and identification), every IPv4 header checksum is recomputed,
 * and the fragments are reassembled here and the UDP checksum recomputed
 * over the whole datagram with the new pseudo-header: never trusted from
 * the code under test. Also the refusals: fragmented ICMPv6, IPv4 UDP
 * fragments without checksum.
 */
#include "natsync.skel.h"
#include "daemon/loader.h"
#include "tests/bpf/nat64_fixture.h"
#include <criterion/criterion.h>

TestSuite(frag64, .init = t64_setup, .fini = t64_teardown);

#define L3 14
#define DG_PAYLOAD 600
#define DG_L4 (8 + DG_PAYLOAD)
#define FRAG_N 208 /* L4 bytes per fragment: 208 + 208 + 192 */
#define N_FRAGS 3
#define ID6 0xa1b2c3d4u
#define ID4 0x4343

static int frag_len(int i)
{
	int off = i * FRAG_N;

	return DG_L4 - off < FRAG_N ? DG_L4 - off : FRAG_N;
}

/* Fragment @i of the IPv6 datagram frame @full (pkt6_build: L4 at 54),
 * identification @id, into @out. */
static int frag6_of(const uint8_t *full, int i, uint32_t id, uint8_t *out)
{
	int off = i * FRAG_N, n = frag_len(i), more = off + n < DG_L4;

	memcpy(out, full, 54);
	out[L3 + 6] = 44;
	put16(out + L3 + 4, 8 + n);
	memset(out + 54, 0, 8);
	out[54] = full[L3 + 6];
	put16(out + 56, (uint16_t)((off / 8) << 3 | more));
	put32(out + 58, id);
	memcpy(out + 62, full + 54 + off, n);
	return 62 + n;
}

/* Fragment @i of the IPv4 datagram frame @full (no options), IP ID @id. */
static int frag4_of(const uint8_t *full, int i, uint16_t id, uint8_t *out)
{
	int off = i * FRAG_N, n = frag_len(i), more = off + n < DG_L4;

	memcpy(out, full, L3 + 20);
	memcpy(out + L3 + 20, full + L3 + 20 + off, n);
	put16(out + L3 + 2, 20 + n);
	put16(out + L3 + 4, id);
	put16(out + L3 + 6, (more ? 0x2000 : 0) | (off / 8));
	put16(out + L3 + 10, 0);
	put16(out + L3 + 10, pkt_csum(out + L3, 20, 0));
	return L3 + 20 + n;
}

/* Translated fragments put back together here. */
struct reasm {
	uint8_t l4[DG_L4];
	int have;
	uint8_t s[16], d[16]; /* addresses (IPv4 in the first 4 bytes) */
};

/* An IPv4 fragment out of IPv6 fragment @i (identification ID6). */
static void reasm_add4(struct reasm *r, int i, const uint8_t *out, int olen)
{
	int n = get16(out + L3 + 2) - 20, off = (get16(out + L3 + 6) & 0x1fff) * 8;
	int more = (get16(out + L3 + 6) & 0x2000) != 0;

	cr_assert_eq(get16(out + 12), 0x0800, "an IPv4 frame");
	cr_assert_eq(out[L3], 0x45);
	cr_assert(olen >= L3 + 20 + n, "fragment truncated");
	cr_assert_eq(pkt_sum(out + L3, 20, 0), 0xffff, "IPv4 header checksum (recomputed)");
	cr_assert_eq(get16(out + L3 + 4), ID6 & 0xffff, "IPv4 ID = low 16 bits of the identification");
	cr_assert_eq(get16(out + L3 + 6) & 0x4000, 0, "DF clear");
	cr_assert_eq(off, i * FRAG_N, "offset copied");
	cr_assert_eq(n, frag_len(i), "data length");
	cr_assert_eq(more, i < N_FRAGS - 1, "MF = M");
	cr_assert_eq(out[L3 + 8], 63, "hop limit -> TTL, decremented once");
	cr_assert_eq(out[L3 + 9], IPPROTO_UDP);
	if (r->have) {
		cr_assert_eq(memcmp(r->s, out + L3 + 12, 4), 0, "every fragment: the first's source");
		cr_assert_eq(memcmp(r->d, out + L3 + 16, 4), 0, "every fragment: the first's dest");
	}
	memcpy(r->s, out + L3 + 12, 4);
	memcpy(r->d, out + L3 + 16, 4);
	memcpy(r->l4 + off, out + L3 + 20, n);
	r->have += n;
}

/* An IPv6 fragment (with Fragment header) out of IPv4 fragment @i. */
static void reasm_add6(struct reasm *r, int i, const uint8_t *out, int olen)
{
	const uint8_t *ip = out + L3, *fh = out + 54;
	int n = get16(ip + 4) - 8, fo = get16(fh + 2);
	uint8_t a[16];

	cr_assert_eq(get16(out + 12), 0x86dd, "an IPv6 frame");
	cr_assert_eq(ip[0] >> 4, 6);
	cr_assert_eq(ip[6], 44, "next header: Fragment");
	cr_assert(olen >= 62 + n, "fragment truncated");
	cr_assert_eq(fh[0], IPPROTO_UDP, "Fragment header's next header");
	cr_assert_eq(fh[1], 0);
	cr_assert_eq(get32(fh + 4), ID4, "identification = the IPv4 ID, high bits zero");
	cr_assert_eq((fo >> 3) * 8, i * FRAG_N, "offset copied");
	cr_assert_eq(fo & 6, 0, "reserved bits zero");
	cr_assert_eq(fo & 1, i < N_FRAGS - 1, "M = MF");
	cr_assert_eq(n, frag_len(i), "data length");
	cr_assert_eq(ip[7], 63, "TTL -> hop limit, decremented once");
	pkt6_addr(T6_REM, a);
	cr_assert_arr_eq(ip + 8, a, 16, "source = pref64 + IPv4 source");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(ip + 24, a, 16, "destination = the subscriber");
	cr_assert_arr_eq(out, t_mac_sub, 6, "subscriber's MAC (fib AF_INET6)");
	memcpy(r->s, ip + 8, 16);
	memcpy(r->d, ip + 24, 16);
	memcpy(r->l4 + i * FRAG_N, out + 62, n);
	r->have += n;
}

/* The whole datagram: UDP checksum over it with the new pseudo-header
 * (@v6: IPv6's), payload as sent in @orig_l4. */
static void reasm_check(const struct reasm *r, int v6, const uint8_t *orig_l4)
{
	uint32_t sum;

	cr_assert_eq(r->have, DG_L4, "all fragments arrived");
	if (v6)
		sum = pkt_sum(r->s, 16, 0) + pkt_sum(r->d, 16, 0);
	else
		sum = pkt_sum(r->s, 4, 0) + pkt_sum(r->d, 4, 0);
	sum += IPPROTO_UDP + DG_L4;
	cr_assert_eq(pkt_sum(r->l4, DG_L4, sum), 0xffff, "UDP checksum of the reassembled datagram");
	cr_assert_eq(memcmp(r->l4 + 8, orig_l4 + 8, DG_PAYLOAD), 0, "payload intact");
}

/* The subscriber's datagram and the frames of its fragments. */
struct dg6 {
	uint8_t full[PKT_MAX + 1024];
	uint8_t f[N_FRAGS][1024];
	int len[N_FRAGS];
};

static void make6(struct dg6 *d)
{
	struct pkt6_spec s = t64_spec6(IPPROTO_UDP, 5353, 53);

	s.payload = DG_PAYLOAD;
	pkt6_build(d->full, &s);
	for (int i = 0; i < N_FRAGS; i++)
		d->len[i] = frag6_of(d->full, i, ID6, d->f[i]);
}

/* The server's reply to the translated datagram @r (pool @pool:@port). */
struct dg4 {
	uint8_t full[PKT_MAX + 1024];
	uint8_t f[N_FRAGS][1024];
	int len[N_FRAGS];
};

static void make4(struct dg4 *d, const struct reasm *r)
{
	char pool[INET_ADDRSTRLEN];
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, "0.0.0.0", get16(r->l4));

	inet_ntop(AF_INET, r->s, pool, sizeof(pool));
	b.dst = pool;
	b.payload = DG_PAYLOAD;
	pkt_build(d->full, &b);
	for (int i = 0; i < N_FRAGS; i++)
		d->len[i] = frag4_of(d->full, i, ID4, d->f[i]);
}

static void in_order(int tc)
{
	static struct dg6 a;
	static struct dg4 b;
	struct reasm r = {0}, q = {0};
	uint8_t out[2048];
	int olen, i;

	make6(&a);
	for (i = 0; i < N_FRAGS; i++) {
		cr_assert_eq(t_run(tc, t_ifin, a.f[i], a.len[i], out, &olen), t_fwd_rc(tc),
			     "IPv6 fragment %d forwarded", i);
		reasm_add4(&r, i, out, olen);
	}
	cr_assert(t64_in_pool(*(uint32_t *)r.s), "source: a NAT64 pool address");
	cr_assert_eq(*(uint32_t *)r.d, pkt_ip(T_REM), "destination: the embedded IPv4 one");
	cr_assert_eq(get16(r.l4 + 2), 53);
	reasm_check(&r, 0, a.full + 54);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0, "complete: forgotten");

	make4(&b, &r);
	for (i = 0; i < N_FRAGS; i++) {
		cr_assert_eq(t_run(tc, t_ifout, b.f[i], b.len[i], out, &olen), t_fwd_rc(tc),
			     "IPv4 fragment %d forwarded", i);
		reasm_add6(&q, i, out, olen);
	}
	cr_assert_eq(get16(q.l4), 53);
	cr_assert_eq(get16(q.l4 + 2), 5353, "destination port back to the subscriber's");
	reasm_check(&q, 1, b.full + L3 + 20);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0, "complete: forgotten");
	cr_assert_eq(t_cnt(NS_CNT_FRAG_FIRST), 2);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_XLATED), 4);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_OUT), 3);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 3);
	cr_assert_eq(t_cnt(NS_CNT_SESSION_NEW), 1);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 0);
}

T_XDP_TC(frag64, in_order_both_ways, in_order)

/* Later fragments first, both ways: held (the ring has each as it
 * arrived, under its IPv6 or IPv4 key), then the first one translated and
 * the ring says how (the daemon sends the held ones on, daemon/frag64.c). */
static void reordered(int tc)
{
	static struct dg6 a;
	static struct dg4 b;
	static struct t_frag_log l;
	struct reasm r = {0}, q = {0};
	uint8_t out[2048], s6[16], d6[16];
	int olen, i;

	make6(&a);
	pkt6_addr(T6_SUB, s6);
	pkt6_addr(T6_REM, d6);
	for (i = N_FRAGS - 1; i > 0; i--)
		cr_assert_eq(t_run(tc, t_ifin, a.f[i], a.len[i], out, &olen), t_drop_rc(tc),
			     "later IPv6 fragment %d held", i);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_HELD), 2);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 1, "one pending datagram");
	t_frag_ring_read(&l);
	cr_assert_eq(l.n, 2);
	for (i = 0; i < 2; i++) {
		const struct ns_frag_rec *h = &l.hdr[i];

		cr_assert_eq(h->type, NS_FRAG_REC_HELD);
		cr_assert_eq(h->len, a.len[2 - i] - L3, "the whole IPv6 packet");
		cr_assert_eq(memcmp(l.data[i], a.f[2 - i] + L3, h->len), 0, "held copy = fragment");
		cr_assert_eq(h->key.v6, 1);
		cr_assert_arr_eq(h->key.saddr6, s6, 16);
		cr_assert_arr_eq(h->key.daddr6, d6, 16);
		cr_assert_eq(ntohl(h->key.id6), ID6);
		cr_assert_eq(h->key.proto, IPPROTO_UDP);
		cr_assert_eq(h->key.side, NS_SIDE_INSIDE);
	}
	cr_assert_eq(t_run(tc, t_ifin, a.f[0], a.len[0], out, &olen), t_fwd_rc(tc),
		     "first IPv6 fragment forwarded");
	reasm_add4(&r, 0, out, olen);
	t_frag_ring_read(&l);
	cr_assert_eq(l.n, 1, "the daemon is told how the first one went out");
	cr_assert_eq(l.hdr[0].type, NS_FRAG_REC_FIRST);
	cr_assert_eq(l.hdr[0].xlat, NS_FRAG_X6TO4);
	cr_assert_eq(memcmp(&l.hdr[0].new_saddr, r.s, 4), 0);
	cr_assert_eq(l.hdr[0].new_daddr, pkt_ip(T_REM));
	cr_assert_eq(ntohl(l.hdr[0].key.id6), ID6);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0, "all three seen: forgotten");

	make4(&b, &r);
	for (i = N_FRAGS - 1; i > 0; i--)
		cr_assert_eq(t_run(tc, t_ifout, b.f[i], b.len[i], out, &olen), t_drop_rc(tc),
			     "later IPv4 fragment %d held", i);
	t_frag_ring_read(&l);
	cr_assert_eq(l.n, 2);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(l.hdr[i].type, NS_FRAG_REC_HELD);
		cr_assert_eq(l.hdr[i].len, b.len[2 - i] - L3);
		cr_assert_eq(memcmp(l.data[i], b.f[2 - i] + L3, l.hdr[i].len), 0);
		cr_assert_eq(l.hdr[i].key.v6, 0);
		cr_assert_eq(ntohs(l.hdr[i].key.id), ID4);
		cr_assert_eq(l.hdr[i].key.side, NS_SIDE_OUTSIDE);
	}
	cr_assert_eq(t_run(tc, t_ifout, b.f[0], b.len[0], out, &olen), t_fwd_rc(tc),
		     "first IPv4 fragment forwarded");
	reasm_add6(&q, 0, out, olen);
	cr_assert_eq(get16(q.l4 + 2), 5353);
	t_frag_ring_read(&l);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(l.hdr[0].type, NS_FRAG_REC_FIRST);
	cr_assert_eq(l.hdr[0].xlat, NS_FRAG_X4TO6);
	cr_assert_arr_eq(l.hdr[0].new_saddr6, d6, 16, "pref64 + the server");
	cr_assert_arr_eq(l.hdr[0].new_daddr6, s6, 16, "the subscriber");
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_HELD), 4);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_FIRST), 2);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 0);
}

T_XDP_TC(frag64, later_before_first, reordered)

/* What is not translated: fragmented ICMPv6 (its checksum needs the
 * datagram's length) and IPv4 UDP fragments without checksum (RFC 6146
 * 3.4), counted drop_fragment; no state left. */
static void refused(int tc)
{
	struct pkt6_spec s = t64_spec6(PKT6_ICMP, 7, 0);
	static struct dg6 a;
	static struct dg4 b;
	struct reasm r = {0};
	uint8_t buf[PKT_MAX + 1024], out[2048];
	int len, olen;

	s.icmp_type = 128;
	s.icmp_id = 7;
	s.payload = 64;
	len = pkt6_build(buf, &s);
	len = pkt6_add_ext(buf, len, 44);
	cr_assert_eq(t_run(tc, t_ifin, buf, len, out, &olen), t_drop_rc(tc), "ICMPv6 fragment");
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 1);

	make6(&a);
	cr_assert_eq(t_run(tc, t_ifin, a.f[0], a.len[0], out, &olen), t_fwd_rc(tc));
	reasm_add4(&r, 0, out, olen);
	make4(&b, &r);
	put16(b.f[0] + L3 + 20 + 6, 0); /* no UDP checksum */
	cr_assert_eq(t_run(tc, t_ifout, b.f[0], b.len[0], out, &olen), t_drop_rc(tc),
		     "IPv4 UDP fragment without checksum");
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 2);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_IN), 0);
}

T_XDP_TC(frag64, refused, refused)

/* A NAT64 fragment program missing from its program array (a broken
 * build): natsyncd's start check says so and refuses (daemon/loader.c), and
 * the main program, whose tail call then fails, drops the fragment as
 * drop_fragment instead of passing it on untranslated. */
static void no_tail_program(int tc)
{
	int arr = tc ? bpf_map__fd(t_skel->maps.frag64_tc) : bpf_map__fd(t_skel->maps.frag64_xdp);
	int prog = bpf_program__fd(tc ? t_skel->progs.natsync_tc_frag64
				      : t_skel->progs.natsync_xdp_frag64);
	static struct dg6 a;
	uint8_t out[2048];
	__u32 key = 0;
	int olen, rc;

	cr_assert_eq(ns_loader_check_tail_calls(t_skel->obj), 0, "the loaded object passes");
	cr_assert_eq(bpf_map_delete_elem(arr, &key), 0);
	cr_assert_eq(ns_loader_check_tail_calls(t_skel->obj), -ENOENT, "an empty slot is refused");
	make6(&a);
	rc = t_run(tc, t_ifin, a.f[0], a.len[0], out, &olen);
	cr_assert_eq(bpf_map_update_elem(arr, &key, &prog, BPF_ANY), 0, "slot restored");
	cr_assert_eq(rc, t_drop_rc(tc), "dropped, not passed: %d", rc);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 1);
	cr_assert_eq(t_cnt(NS_CNT_NAT64_OUT), 0);
	cr_assert_eq(ns_loader_check_tail_calls(t_skel->obj), 0);
}

T_XDP_TC(frag64, missing_tail_program, no_tail_program)
