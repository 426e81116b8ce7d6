// SPDX-License-Identifier: GPL-2.0
/*
 * test_pba.c - port-block-allocation through BPF_PROG_TEST_RUN: the
 * sessions of one subscriber take ports from its block on one address, a
 * full block brings a second one, max-blocks-per-address refuses the next
 * session (counted), subscribers never share a block, active-block-timeout
 * moves new sessions to a new block, and a deterministic pool (RFC 7422)
 * puts a subscriber's ports where common/pba.h says, keeping no state.
 */
#include "tests/bpf/fixture.h"
#include "common/pba.h"
#include <criterion/criterion.h>
#include <time.h>

#define BS 8

static void setup(void)
{
	t_setup(1024);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(pba, .init = setup, .fini = teardown);

/* Port blocks on pool 0 of bank 0 (the fixture's automatic-port pool). */
static struct ns_pool_pba set_pba(uint16_t bs, uint16_t mb, uint32_t timeout_s, uint32_t flags)
{
	struct ns_pool_pba c = {
		.block_size = bs, .max_blocks = mb, .port_lo = 1024, .port_hi = 65535,
		.active_timeout_s = timeout_s, .flags = flags,
	};
	uint32_t k = 0;

	c.blocks_per_addr = ns_pba_blocks_in(c.port_lo, c.port_hi, bs);
	if (flags & NS_PBA_F_DETERMINISTIC) {
		c.det_first = ntohl(pkt_ip("100.64.0.0"));
		c.det_count = 256;
	}
	cr_assert_eq(bpf_map_update_elem(t_fd("ns_pool_pba"), &k, &c, BPF_ANY), 0);
	return c;
}

static struct pkt_info udp_out(int tc, const char *src, uint16_t sport, int ok)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, src, sport, T_REM, 53);
	int expect = ok ? (tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT) : (tc ? TC_RET_SHOT : XDP_RET_DROP);

	return t_send(tc, t_ifin, &s, expect, NULL, NULL);
}

static int sub_blocks(const char *sub, struct ns_pba_val *v)
{
	struct ns_pba_key k;

	memset(&k, 0, sizeof(k));
	k.in_addr = pkt_ip(sub);
	return bpf_map_lookup_elem(t_fd("ns_pba"), &k, v);
}

/* The block of an outside port, asserting it is one. */
static uint32_t block_of(const struct ns_pool_pba *c, uint16_t port)
{
	uint32_t b = 0;

	cr_assert_eq(ns_pba_block_of(c, port, &b), 0, "port %u lies in no block", port);
	return b;
}

static void one_block(int tc)
{
	struct ns_pool_pba c = set_pba(BS, 2, 0, 0);
	struct ns_pba_val v;
	struct pkt_info o[BS];
	int i;

	for (i = 0; i < BS; i++) {
		o[i] = udp_out(tc, T_SUB, 2000 + i, 1);
		cr_assert(o[i].ok);
		cr_assert_eq(o[i].saddr, o[0].saddr, "one address for the subscriber");
		cr_assert_eq(block_of(&c, o[i].sport), block_of(&c, o[0].sport),
			     "session %d left the first block", i);
	}
	cr_assert_eq(t_cnt(NS_CNT_PBA_BLOCK_NEW), 1);
	cr_assert_eq(t_map_count(t_fd("ns_pba_blk")), 1);
	cr_assert_eq(sub_blocks(T_SUB, &v), 0);
	cr_assert_eq(v.n_blocks, 1);
	cr_assert_eq(v.out_addr, o[0].saddr);
	cr_assert_eq(v.blocks[0], block_of(&c, o[0].sport));
	/* every port of the block once */
	for (i = 0; i < BS; i++)
		for (int j = i + 1; j < BS; j++)
			cr_assert_neq(o[i].sport, o[j].sport);
}

Test(pba, one_block_xdp) { one_block(0); }
Test(pba, one_block_tc) { one_block(1); }

static void second_block_then_refused(int tc)
{
	struct ns_pool_pba c = set_pba(BS, 2, 0, 0);
	struct pkt_info o, first, s2;
	struct ns_pba_val v;
	uint32_t b0, b1;
	int i;

	first = udp_out(tc, T_SUB, 3000, 1);
	b0 = block_of(&c, first.sport);
	for (i = 1; i < BS; i++)
		udp_out(tc, T_SUB, 3000 + i, 1);
	o = udp_out(tc, T_SUB, 3000 + BS, 1); /* the first block is full */
	b1 = block_of(&c, o.sport);
	cr_assert_neq(b1, b0, "a full block brings a second one");
	cr_assert_eq(o.saddr, first.saddr, "the second block is on the same address");
	cr_assert_eq(t_cnt(NS_CNT_PBA_BLOCK_NEW), 2);
	cr_assert_eq(sub_blocks(T_SUB, &v), 0);
	cr_assert_eq(v.n_blocks, 2);
	cr_assert_eq(v.blocks[0], b0);
	cr_assert_eq(v.blocks[1], b1);
	for (i = BS + 1; i < 2 * BS; i++)
		cr_assert_eq(block_of(&c, udp_out(tc, T_SUB, 3000 + i, 1).sport), b1);

	/* both blocks full, max-blocks-per-address 2: refused, counted */
	udp_out(tc, T_SUB, 3000 + 2 * BS, 0);
	cr_assert_eq(t_cnt(NS_CNT_PBA_MAX_BLOCKS), 1);
	cr_assert_eq(t_cnt(NS_CNT_DROP_POOL_EXHAUSTED), 1);
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 2 * BS, "a refused session claims no port");
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 2 * BS);

	/* its existing sessions still pass */
	cr_assert_eq(udp_out(tc, T_SUB, 3000, 1).sport, first.sport);

	/* another subscriber gets a block of its own */
	s2 = udp_out(tc, T_SUB2, 3000, 1);
	if (s2.saddr == first.saddr) {
		cr_assert_neq(block_of(&c, s2.sport), b0);
		cr_assert_neq(block_of(&c, s2.sport), b1);
	}
	cr_assert_eq(t_map_count(t_fd("ns_pba_blk")), 3);
}

Test(pba, second_block_then_refused_xdp) { second_block_then_refused(0); }
Test(pba, second_block_then_refused_tc) { second_block_then_refused(1); }

/* Many subscribers on a small pool: no block, no port, twice. */
Test(pba, blocks_never_shared)
{
	struct ns_pool_pba c = set_pba(BS, 1, 0, 0);
	static uint8_t owner[4][8064];
	char sub[INET_ADDRSTRLEN];
	struct pkt_info o;
	int i, j;

	memset(owner, 0, sizeof(owner));
	for (i = 0; i < 64; i++) {
		snprintf(sub, sizeof(sub), "100.64.1.%d", i + 1);
		for (j = 0; j < 2; j++) {
			uint32_t a, b;

			o = udp_out(0, sub, 4000 + j, 1);
			a = ntohl(o.saddr) - ntohl(pkt_ip(T_POOL_FIRST));
			cr_assert_lt(a, 4);
			b = block_of(&c, o.sport);
			cr_assert(!owner[a][b] || owner[a][b] == i + 1,
				  "block %u of address %u given to subscribers %d and %d", b, a,
				  owner[a][b], i + 1);
			owner[a][b] = (uint8_t)(i + 1);
		}
	}
	cr_assert_eq(t_map_count(t_fd("ns_pba_blk")), 64);
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 128);
}

/* active-block-timeout: past it, new sessions go to a new block. */
Test(pba, active_block_timeout)
{
	struct ns_pool_pba c = set_pba(BS, 4, 30, 0);
	struct ns_pba_key k;
	struct ns_pba_val v;
	uint32_t b0;

	b0 = block_of(&c, udp_out(0, T_SUB, 5000, 1).sport);
	cr_assert_eq(block_of(&c, udp_out(0, T_SUB, 5001, 1).sport), b0, "within the timeout");
	/* make the active block 31 s old (the fast path's clock) */
	memset(&k, 0, sizeof(k));
	k.in_addr = pkt_ip(T_SUB);
	cr_assert_eq(bpf_map_lookup_elem(t_fd("ns_pba"), &k, &v), 0);
	v.active_ns -= 31ull * 1000000000ull;
	cr_assert_eq(bpf_map_update_elem(t_fd("ns_pba"), &k, &v, BPF_EXIST), 0);
	cr_assert_neq(block_of(&c, udp_out(0, T_SUB, 5002, 1).sport), b0,
		      "past the timeout a new block is active");
	cr_assert_eq(t_cnt(NS_CNT_PBA_BLOCK_NEW), 2);
}

/* RFC 7422: the port lies in the subscriber's computed block, no state. */
Test(pba, deterministic)
{
	struct ns_pool_pba c = set_pba(64, 2, 0, NS_PBA_F_DETERMINISTIC);
	struct ns_pool p = { .n_ranges = 1, .n_addrs = 4 };
	uint32_t owner, idx, blk, k;
	struct pkt_info o;
	int i;

	p.ranges[0].first = ntohl(pkt_ip(T_POOL_FIRST));
	p.ranges[0].count = 4;
	for (i = 0; i < 10; i++) {
		o = udp_out(0, "100.64.0.77", 6000 + i, 1);
		idx = ntohl(o.saddr) - p.ranges[0].first;
		cr_assert_eq(ns_pba_det_owner(&c, &p, idx, o.sport, &owner), 0);
		cr_assert_eq(owner, ntohl(pkt_ip("100.64.0.77")), "port %u of address %u", o.sport,
			     idx);
		blk = block_of(&c, o.sport);
		for (k = 0; k < 2; k++) {
			uint32_t ai, bi;

			cr_assert_eq(ns_pba_det_block(&c, &p, owner, k, &ai, &bi), 0);
			if (ai == idx && bi == blk)
				break;
		}
		cr_assert_lt(k, 2, "port %u is in a block of the subscriber", o.sport);
	}
	cr_assert_eq(t_map_count(t_fd("ns_pba")), 0, "deterministic pools keep no state");
	cr_assert_eq(t_map_count(t_fd("ns_pba_blk")), 0);
	/* outside subscriber-range (100.64.0.0/24): refused, counted */
	udp_out(0, "100.64.1.5", 6000, 0);
	cr_assert_eq(t_cnt(NS_CNT_PBA_NO_BLOCK), 1);
	cr_assert_eq(t_cnt(NS_CNT_DROP_POOL_EXHAUSTED), 1);
}

/* At max-blocks-per-address, a port an older block freed is taken. */
Test(pba, older_block_port_reused_at_the_maximum)
{
	struct ns_pool_pba c = set_pba(BS, 2, 0, 0);
	struct ns_tuple ik = t_tuple(T_SUB, 7000, T_REM, 53, IPPROTO_UDP);
	struct ns_port_key pk;
	struct ns_session s;
	struct pkt_info o;
	uint32_t b0;
	int i;

	b0 = block_of(&c, udp_out(0, T_SUB, 7000, 1).sport);
	for (i = 1; i < 2 * BS; i++)
		udp_out(0, T_SUB, 7000 + i, 1);
	/* the daemon ends the first session and frees its port */
	cr_assert_eq(t_session(&ik, &s), 0);
	memset(&pk, 0, sizeof(pk));
	pk.addr = s.out_key.daddr;
	pk.port = s.out_key.dport;
	pk.proto = IPPROTO_UDP;
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_session_rev"), &s.out_key), 0);
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_sessions"), &ik), 0);
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_ports"), &pk), 0);
	o = udp_out(0, T_SUB, 7100, 1);
	cr_assert_eq(block_of(&c, o.sport), b0, "the freed port of the first block");
	cr_assert_eq(o.sport, ntohs(pk.port));
	cr_assert_eq(t_cnt(NS_CNT_PBA_MAX_BLOCKS), 0, "nothing refused");
	cr_assert_eq(t_cnt(NS_CNT_PBA_BLOCK_NEW), 2);
	udp_out(0, T_SUB, 7101, 0);
	cr_assert_eq(t_cnt(NS_CNT_PBA_MAX_BLOCKS), 1);
}
