// SPDX-License-Identifier: GPL-2.0
/*
 * test_frag.c - IPv4 fragments through the NAT (bpf/frag.h), XDP and TC:
 * a fragmented UDP datagram both ways in order, later fragments before
 * their first one (held for the daemon: the ring's records checked byte
 * for byte), unknown IDs timing out, the per-datagram hold limit, a full
 * tracking map, the box's own fragments. Every output's IPv4 checksum is
 * recomputed, and the translated fragments are reassembled here and the
 * UDP checksum recomputed over the whole datagram: never trusted from the
 * code under test.
 */
#include "tests/bpf/fixture.h"
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <time.h>

#include "natsync.skel.h"

static void setup(void)
{
	t_setup(1024);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(frag, .init = setup, .fini = teardown);

#define L3 14
#define HL 20
#define DG_PAYLOAD 600		    /* UDP payload: the datagram is 608 L4 bytes */
#define DG_L4 (8 + DG_PAYLOAD)
#define FRAG_N 208		    /* L4 bytes per fragment (multiple of 8) */
#define N_FRAGS 3		    /* 208 + 208 + 192 */

/* A whole UDP datagram frame @src:@sport -> @dst:@dport (inside MACs
 * when @in, else outside ones). */
static int datagram(uint8_t *buf, int in, const char *src, uint16_t sport, const char *dst,
		    uint16_t dport)
{
	struct pkt_spec s = in ? t_spec_out(IPPROTO_UDP, src, sport, dst, dport)
			       : t_spec_in(IPPROTO_UDP, src, sport, dst, dport);

	s.payload = DG_PAYLOAD;
	return pkt_build(buf, &s);
}

/* Fragment @i of the datagram frame @full, IP ID @id, into @out. */
static int frag_of(const uint8_t *full, int i, uint16_t id, uint8_t *out)
{
	int off = i * FRAG_N, n = DG_L4 - off < FRAG_N ? DG_L4 - off : FRAG_N;
	int more = off + n < DG_L4;

	memcpy(out, full, L3 + HL);
	memcpy(out + L3 + HL, full + L3 + HL + off, n);
	put16(out + L3 + 2, HL + n);
	put16(out + L3 + 4, id);
	put16(out + L3 + 6, (more ? 0x2000 : 0) | (off / 8));
	put16(out + L3 + 10, 0);
	put16(out + L3 + 10, pkt_csum(out + L3, HL, 0));
	return L3 + HL + n;
}

static int run(int tc, int ifindex, const uint8_t *in, int len, uint8_t *out, int *olen)
{
	return tc ? t_run_tc(ifindex, in, len, out, olen) : t_run_xdp(ifindex, in, len, out, olen);
}

/* The translated fragments, put back together by this test. */
struct reasm {
	uint8_t l4[DG_L4];
	int have;
	uint32_t saddr, daddr;
};

static void reasm_add(struct reasm *r, const uint8_t *out, int olen)
{
	int off = (get16(out + L3 + 6) & 0x1fff) * 8, n = get16(out + L3 + 2) - HL;
	uint32_t s, d;

	cr_assert(olen >= L3 + HL + n, "fragment truncated");
	cr_assert_eq(pkt_sum(out + L3, HL, 0), 0xffff, "IPv4 header checksum (recomputed)");
	cr_assert_eq(out[L3 + 8], 63, "TTL decremented");
	memcpy(&s, out + L3 + 12, 4);
	memcpy(&d, out + L3 + 16, 4);
	if (r->have) {
		cr_assert_eq(s, r->saddr, "every fragment has the first one's source");
		cr_assert_eq(d, r->daddr, "every fragment has the first one's destination");
	}
	r->saddr = s;
	r->daddr = d;
	cr_assert(off + n <= DG_L4);
	memcpy(r->l4 + off, out + L3 + HL, n);
	r->have += n;
}

/* Whole datagram back, UDP checksum right over it (full recomputation),
 * payload as sent. */
static void reasm_check(const struct reasm *r, const uint8_t *orig_frame)
{
	uint8_t ph[8];
	uint32_t sum;

	cr_assert_eq(r->have, DG_L4, "all fragments arrived");
	memcpy(ph, &r->saddr, 4);
	memcpy(ph + 4, &r->daddr, 4);
	sum = pkt_sum(ph, 8, 0) + IPPROTO_UDP + DG_L4;
	cr_assert_eq(pkt_sum(r->l4, DG_L4, sum), 0xffff, "UDP checksum of the reassembled datagram");
	cr_assert_eq(memcmp(r->l4 + 8, orig_frame + L3 + HL + 8, DG_PAYLOAD), 0, "payload intact");
}

static int in_pool(uint32_t addr_be)
{
	uint32_t a = ntohl(addr_be), first = ntohl(pkt_ip(T_POOL_FIRST));

	return a >= first && a < first + 4;
}

/* A datagram sub -> rem in order, then the reply rem -> pool in order. */
static void in_order(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT, len, olen, i;
	uint8_t full[2048], in[1024], out[2048];
	struct reasm r = {0}, b = {0};
	char pool[INET_ADDRSTRLEN];
	uint16_t psport;

	datagram(full, 1, T_SUB, 1234, T_REM, 5000);
	for (i = 0; i < N_FRAGS; i++) {
		len = frag_of(full, i, 0x4242, in);
		cr_assert_eq(run(tc, t_ifin, in, len, out, &olen), fwd, "fragment %d forwarded", i);
		cr_assert_eq(get16(out + L3 + 4), 0x4242, "IP ID kept");
		cr_assert_eq(get16(out + L3 + 6), get16(in + L3 + 6), "flags and offset kept");
		reasm_add(&r, out, olen);
	}
	cr_assert(in_pool(r.saddr), "source translated to the pool");
	cr_assert_eq(r.daddr, pkt_ip(T_REM));
	psport = get16(r.l4);
	cr_assert_neq(psport, 0);
	cr_assert_eq(get16(r.l4 + 2), 5000);
	reasm_check(&r, full);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_FIRST), 1);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_XLATED), 2);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0, "complete datagram forgotten at once");

	/* the reply, fragmented too, to the pool address and port */
	inet_ntop(AF_INET, &r.saddr, pool, sizeof(pool));
	datagram(full, 0, T_REM, 5000, pool, psport);
	for (i = 0; i < N_FRAGS; i++) {
		len = frag_of(full, i, 0x0777, in);
		cr_assert_eq(run(tc, t_ifout, in, len, out, &olen), fwd, "reply fragment %d", i);
		reasm_add(&b, out, olen);
	}
	cr_assert_eq(b.saddr, pkt_ip(T_REM));
	cr_assert_eq(b.daddr, pkt_ip(T_SUB), "destination translated back to the subscriber");
	cr_assert_eq(get16(b.l4 + 2), 1234, "port translated back");
	reasm_check(&b, full);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_FIRST), 2);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_XLATED), 4);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 0);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0);
}

Test(frag, in_order_both_ways_xdp)
{
	in_order(0);
}

Test(frag, in_order_both_ways_tc)
{
	in_order(1);
}

/* Later fragments first: held (copied to the ring as they arrived), then
 * the first one is translated and the ring says how. */
static void reordered(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT, drop = tc ? TC_RET_SHOT : XDP_RET_DROP;
	uint8_t full[2048], in[3][1024], out[2048];
	int len[3], olen, i;
	static struct t_frag_log l;
	struct reasm r = {0};

	memset(&l, 0, sizeof(l));
	datagram(full, 1, T_SUB, 1234, T_REM, 5000);
	for (i = 0; i < 3; i++)
		len[i] = frag_of(full, i, 0x5151, in[i]);
	cr_assert_eq(run(tc, t_ifin, in[2], len[2], out, &olen), drop, "last fragment held");
	cr_assert_eq(run(tc, t_ifin, in[1], len[1], out, &olen), drop, "middle fragment held");
	cr_assert_eq(t_cnt(NS_CNT_FRAG_HELD), 2);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_UNKNOWN), 2);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 1, "one pending datagram");
	t_frag_ring_read(&l);
	cr_assert_eq(l.n, 2);
	for (i = 0; i < 2; i++) {
		const uint8_t *sent = in[2 - i] + L3;

		cr_assert_eq(l.hdr[i].type, NS_FRAG_REC_HELD);
		cr_assert_eq(l.hdr[i].len, len[2 - i] - L3);
		cr_assert_eq(l.hdr[i].ifindex, (uint32_t)t_ifin);
		cr_assert_eq(memcmp(l.data[i], sent, l.hdr[i].len), 0, "held copy is the fragment");
		cr_assert_eq(l.hdr[i].key.saddr, pkt_ip(T_SUB));
		cr_assert_eq(l.hdr[i].key.daddr, pkt_ip(T_REM));
		cr_assert_eq(ntohs(l.hdr[i].key.id), 0x5151);
		cr_assert_eq(l.hdr[i].key.proto, IPPROTO_UDP);
		cr_assert_eq(l.hdr[i].key.side, NS_SIDE_INSIDE);
	}

	cr_assert_eq(run(tc, t_ifin, in[0], len[0], out, &olen), fwd, "first fragment forwarded");
	reasm_add(&r, out, olen);
	cr_assert(in_pool(r.saddr));
	memset(&l, 0, sizeof(l));
	t_frag_ring_read(&l);
	cr_assert_eq(l.n, 1, "the daemon is told the first one went out");
	cr_assert_eq(l.hdr[0].type, NS_FRAG_REC_FIRST);
	cr_assert_eq(l.hdr[0].new_saddr, r.saddr);
	cr_assert_eq(l.hdr[0].new_daddr, pkt_ip(T_REM));
	cr_assert_eq(ntohs(l.hdr[0].key.id), 0x5151);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0, "all three seen: forgotten");
	cr_assert_eq(t_cnt(NS_CNT_FRAG_FIRST), 1);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 0);
}

Test(frag, later_before_first_xdp)
{
	reordered(0);
}

Test(frag, later_before_first_tc)
{
	reordered(1);
}

/* Middle fragment late: the first and last pass, the middle one too. */
Test(frag, middle_fragment_last)
{
	uint8_t full[2048], in[1024], out[2048];
	struct reasm r = {0};
	int len, olen, order[3] = {0, 2, 1}, i;

	datagram(full, 1, T_SUB, 999, T_REM, 53);
	for (i = 0; i < 3; i++) {
		len = frag_of(full, order[i], 0x1111, in);
		cr_assert_eq(run(0, t_ifin, in, len, out, &olen), XDP_RET_REDIRECT);
		reasm_add(&r, out, olen);
	}
	reasm_check(&r, full);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A later fragment whose first never comes: held, then forgotten by its
 * timer and counted. */
Test(frag, unknown_id_times_out)
{
	uint8_t full[2048], in[1024], out[2048];
	struct timespec nap = {0, 20 * 1000 * 1000};
	uint64_t deadline;
	int len, olen;

	datagram(full, 1, T_SUB, 1234, T_REM, 5000);
	len = frag_of(full, 1, 0x6666, in);
	cr_assert_eq(run(0, t_ifin, in, len, out, &olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_UNKNOWN), 1);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 1);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_TIMEOUT), 0, "not before its time");
	deadline = now_ms() + NS_FRAG_TIMEOUT_NS / 1000000 + 8000;
	while (t_cnt(NS_CNT_FRAG_TIMEOUT) == 0 && now_ms() < deadline)
		nanosleep(&nap, NULL);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_TIMEOUT), 1, "timer expired the entry");
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0, "no session from a fragment");
}

/* At most NS_FRAG_HOLD_MAX fragments of one datagram are held. */
Test(frag, hold_limit_per_datagram)
{
	uint8_t full[2048], in[1024], out[2048];
	int len, olen, i;

	datagram(full, 1, T_SUB, 1234, T_REM, 5000);
	len = frag_of(full, 1, 0x7777, in);
	for (i = 0; i <= NS_FRAG_HOLD_MAX; i++) {
		/* distinct offsets, as a real datagram's */
		put16(in + L3 + 6, 0x2000 | (26 * (i + 1)));
		put16(in + L3 + 10, 0);
		put16(in + L3 + 10, pkt_csum(in + L3, HL, 0));
		cr_assert_eq(run(1, t_ifin, in, len, out, &olen), TC_RET_SHOT);
	}
	cr_assert_eq(t_cnt(NS_CNT_FRAG_HELD), NS_FRAG_HOLD_MAX);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_HOLD_FULL), 1);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 1, "the one over the limit is dropped");
}

/* ns_frag full (a flood of datagrams that never complete): a first
 * fragment still goes out (its followers will be lost, counted); an
 * unknown later fragment is dropped, counted. */
Test(frag, tracking_map_full)
{
	uint8_t full[2048], in[1024], out[2048];
	struct ns_frag_key k;
	struct ns_frag v;
	int fd = t_fd("ns_frag"), len, olen;
	uint32_t i;

	memset(&v, 0, sizeof(v));
	for (i = 0; i < NS_FRAG_MAX; i++) {
		memset(&k, 0, sizeof(k));
		k.saddr = htonl(0xc6336400 + (i >> 16)); /* 198.51.100.x */
		k.daddr = pkt_ip(T_POOL_FIRST);
		k.id = htons(i & 0xffff);
		k.proto = IPPROTO_UDP;
		k.side = NS_SIDE_OUTSIDE;
		cr_assert_eq(bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST), 0, "fill %u", i);
	}
	datagram(full, 1, T_SUB, 1234, T_REM, 5000);
	len = frag_of(full, 0, 0x0101, in);
	cr_assert_eq(run(0, t_ifin, in, len, out, &olen), XDP_RET_REDIRECT,
		     "a first fragment is still translated");
	cr_assert_eq(t_cnt(NS_CNT_FRAG_TRACK_FULL), 1);
	len = frag_of(full, 1, 0x0202, in);
	cr_assert_eq(run(1, t_ifin, in, len, out, &olen), TC_RET_SHOT);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_TRACK_FULL), 2);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FRAGMENT), 1);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_HELD), 0);
}

/* The box's own fragments are the kernel's; a dropped first fragment
 * records nothing; a backup holds nothing. */
Test(frag, local_dropped_and_backup)
{
	uint8_t full[2048], in[1024], out[2048];
	int len, olen;

	datagram(full, 1, T_SUB, 1234, "100.64.0.1", 5000);
	len = frag_of(full, 1, 0x0303, in);
	cr_assert_eq(run(0, t_ifin, in, len, out, &olen), XDP_RET_PASS);
	cr_assert_eq(t_cnt(NS_CNT_PASS_LOCAL), 1);
	/* unsolicited first fragment from outside: dropped, not recorded */
	datagram(full, 0, T_REM, 5000, T_POOL_FIRST, 4000);
	len = frag_of(full, 0, 0x0404, in);
	cr_assert_eq(run(0, t_ifout, in, len, out, &olen), XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_FIRST), 0);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0);
	t_set_cfg(0); /* backup */
	datagram(full, 1, T_SUB, 1234, T_REM, 5000);
	len = frag_of(full, 1, 0x0505, in);
	cr_assert_eq(run(1, t_ifin, in, len, out, &olen), TC_RET_SHOT);
	cr_assert_eq(t_cnt(NS_CNT_DROP_INACTIVE), 1);
	cr_assert_eq(t_cnt(NS_CNT_FRAG_HELD), 0);
	cr_assert_eq(t_map_count(t_fd("ns_frag")), 0);
}
