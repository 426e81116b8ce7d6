// SPDX-License-Identifier: GPL-2.0
/*
 * test_mutate.c - random and mutated packets through the XDP and TC programs.
 *
 * Valid frames of every kind the fast path handles (TCP, UDP, ICMP echo,
 * ICMP errors, VLAN tags, IP options, both sides) are mutated at random
 * (bit flips in the headers, truncation, random bytes, a random length)
 * and run through BPF_PROG_TEST_RUN. Whatever the bytes, the state must stay
 * consistent and bounded:
 *  - every frame ends in exactly one verdict counter (rx == sum of verdicts,
 *    checked by the suite's teardown);
 *  - every session has its reverse entry and the reverse entry points back
 *    at it; no reverse entry without a session (no half-created sessions);
 *  - sessions never outnumber the session-creation counter, and port
 *    bindings never outnumber sessions (nothing claimed and left behind);
 *  - no session is created by a frame the parser counted as malformed.
 * The generator is seeded, so a failure replays exactly (REQ-11).
 */
#include "tests/bpf/fixture.h"
#include "bpf/natsync.skel.h"
#include <criterion/criterion.h>
#include <stdlib.h>

#define MUT_FRAMES 4000

static void setup(void)
{
	t_setup(1u << 16);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(mutate, .init = setup, .fini = teardown);

/* xorshift64*: deterministic, independent of libc's rand(). */
static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* One valid frame of a random kind, from a random side. */
static int base_frame(uint8_t *buf, int *ifindex)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	uint8_t proto = protos[rnd() % 3];
	int outside = rnd() % 4 == 0;
	struct pkt_spec s;

	if (outside) {
		s = t_spec_in(proto, T_REM, 1024 + rnd() % 64, T_POOL_FIRST, 1024 + rnd() % 64);
		*ifindex = t_ifout;
	} else {
		s = t_spec_out(proto, rnd() % 2 ? T_SUB : T_SUB2, 1024 + rnd() % 4096, T_REM,
			       rnd() % 2 ? 80 : 53);
		*ifindex = t_ifin;
	}
	s.tcp_flags = rnd() % 2 ? 0x02 : 0x10;
	s.icmp_type = (uint8_t[]){ 8, 0, 3, 11 }[rnd() % 4];
	s.icmp_id = rnd() % 64;
	s.vlans = rnd() % 8 == 0 ? 1 + rnd() % 2 : 0;
	s.vlan_id[0] = 10;
	s.vlan_id[1] = 20;
	s.ip_opt = rnd() % 8 == 0 ? 4 * (1 + rnd() % 10) : 0;
	s.payload = rnd() % 64;
	return pkt_build(buf, &s);
}

/* Mutate in place; returns the new length (>= 14, <= PKT_MAX). */
static int mutate(uint8_t *buf, int len)
{
	int n = 1 + rnd() % 4;

	for (int i = 0; i < n; i++) {
		switch (rnd() % 5) {
		case 0: /* flip a bit in the first 80 bytes (headers) */
			buf[rnd() % (len < 80 ? len : 80)] ^= 1u << (rnd() % 8);
			break;
		case 1: /* a random byte in the headers */
			buf[12 + rnd() % (len - 12 < 68 ? len - 12 : 68)] = rnd();
			break;
		case 2: /* truncate */
			len = 14 + rnd() % (len - 13);
			break;
		case 3: /* extend with garbage */
			if (len < PKT_MAX - 32) {
				int add = rnd() % 32;

				for (int k = 0; k < add; k++)
					buf[len + k] = rnd();
				len += add;
			}
			break;
		default: /* a random 16-bit field: lengths, ports, ids */
			if (len >= 16) {
				int off = 12 + rnd() % (len - 13);

				if (off + 1 < len) {
					buf[off] = rnd();
					buf[off + 1] = rnd();
				}
			}
			break;
		}
	}
	return len;
}

/* The skb runner refuses some frames (too short for its own checks): those
 * never reach the program and are not counted. Returns 1 if it ran. */
static int run_any(int tc, int ifindex, const uint8_t *in, int len)
{
	uint8_t out[PKT_MAX * 2];
	struct __sk_buff sctx = { .ifindex = (uint32_t)ifindex };
	struct xdp_md xctx = { .data = 0, .data_end = (uint32_t)len,
			       .ingress_ifindex = (uint32_t)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	int fd;

	if (tc) {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
		fd = bpf_program__fd(t_skel->progs.natsync_tc);
	} else {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
		fd = bpf_program__fd(t_skel->progs.natsync_xdp);
	}
	return bpf_prog_test_run_opts(fd, &o) == 0;
}

/* Every session has its reverse entry pointing back; no orphan reverse. */
static void assert_consistent(void)
{
	int fs = t_fd("ns_sessions"), fr = t_fd("ns_session_rev");
	struct ns_tuple k, next, back;
	struct ns_session s;
	int n = 0, err;

	err = bpf_map_get_next_key(fs, NULL, &next);
	while (!err) {
		k = next;
		cr_assert_eq(bpf_map_lookup_elem(fs, &k, &s), 0);
		cr_assert_eq(bpf_map_lookup_elem(fr, &s.out_key, &back), 0,
			     "session without its reverse entry");
		cr_assert_eq(memcmp(&back, &k, sizeof(k)), 0, "reverse entry points elsewhere");
		n++;
		err = bpf_map_get_next_key(fs, &k, &next);
	}
	cr_assert_eq(t_map_count(fr), n, "reverse entries without a session");
	cr_assert_leq((uint64_t)n, t_cnt(NS_CNT_SESSION_NEW), "more sessions than were created");
	cr_assert_leq(t_map_count(t_fd("ns_ports")), n, "port bindings left without a session");
}

static void mutate_run(int tc, uint64_t seed)
{
	uint8_t buf[PKT_MAX];
	int ran = 0;

	rng_state = seed;
	for (int i = 0; i < MUT_FRAMES; i++) {
		int ifindex, len = base_frame(buf, &ifindex);
		uint64_t malformed = t_cnt(NS_CNT_DROP_MALFORMED);
		uint64_t created = t_cnt(NS_CNT_SESSION_NEW);

		/* one frame in 8 goes through unmutated, so sessions exist
		 * for mutated replies and ICMP errors to hit */
		if (rnd() % 8)
			len = mutate(buf, len);
		if (!run_any(tc, ifindex, buf, len))
			continue;
		ran++;
		if (t_cnt(NS_CNT_DROP_MALFORMED) != malformed)
			cr_assert_eq(t_cnt(NS_CNT_SESSION_NEW), created,
				     "frame %d (seed %lu): a malformed frame created a session", i,
				     (unsigned long)seed);
	}
	cr_assert_gt(ran, MUT_FRAMES / 2, "most frames must reach the program (%d ran)", ran);
	cr_assert_gt(t_cnt(NS_CNT_DROP_MALFORMED), 0, "the mutations produced no malformed frame");
	cr_assert_gt(t_cnt(NS_CNT_SESSION_NEW), 0, "no frame made a session: generator broken");
	assert_consistent();
}

Test(mutate, xdp_random_frames)
{
	mutate_run(0, 0x6e617473796e6301ull);
}

Test(mutate, tc_random_frames)
{
	mutate_run(1, 0x6e617473796e6302ull);
}

Test(mutate, xdp_random_frames_other_seed)
{
	mutate_run(0, 0x6e617473796e6303ull);
}

/*
 * A SYN flood from the outside (random sources and ports, to the pool and to
 * subscriber addresses) creates no state and does not starve a subscriber:
 * every SYN is dropped as unsolicited, and a subscriber's new flow right
 * after it is translated and its reply let in. (A new-session flood from one
 * subscriber is bounded by max-sessions-per-subscriber: test_sublimit.c.)
 */
Test(mutate, outside_syn_flood_creates_no_state)
{
	static const char *const dsts[] = { T_POOL_FIRST, "203.0.113.9", T_SUB, T_SUB2 };
	uint8_t buf[PKT_MAX], out[PKT_MAX * 2];
	struct pkt_info o;
	char src[32];
	int n = 5000, olen;

	rng_state = 0x6e617473796e6304ull;
	for (int i = 0; i < n; i++) {
		struct pkt_spec s;

		snprintf(src, sizeof(src), "198.51.100.%u", 2 + rnd() % 250);
		s = t_spec_in(IPPROTO_TCP, src, 1024 + rnd() % 60000, dsts[rnd() % 4],
			      1 + rnd() % 65535);
		s.tcp_flags = 0x02;
		cr_assert_eq(t_run_xdp(t_ifout, buf, pkt_build(buf, &s), out, &olen),
			     XDP_RET_DROP, "unsolicited SYN %d not dropped", i);
	}
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), (uint64_t)n);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0, "the flood created state");
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 0);

	/* the subscriber is served as if nothing happened */
	struct pkt_spec syn = t_spec_out(IPPROTO_TCP, T_SUB, 40000, T_REM, 443);

	syn.tcp_flags = 0x02;
	o = t_send(0, t_ifin, &syn, XDP_RET_REDIRECT, out, &olen);
	cr_assert(o.ok, "translated SYN has valid checksums");
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 1);
	struct pkt_spec synack = t_spec_in(IPPROTO_TCP, T_REM, 443, "0.0.0.0", 0);
	char pool[32];
	struct in_addr a = { .s_addr = o.saddr };

	inet_ntop(AF_INET, &a, pool, sizeof(pool));
	synack.dst = pool;
	synack.dport = o.sport;
	synack.tcp_flags = 0x12;
	o = t_send(0, t_ifout, &synack, XDP_RET_REDIRECT, out, &olen);
	cr_assert_eq(o.daddr, pkt_ip(T_SUB), "the reply reaches the subscriber");
	cr_assert_eq(o.dport, 40000);
}
