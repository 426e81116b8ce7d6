// SPDX-License-Identifier: GPL-2.0
/*
 * test_pool.c - common/pool.h, the pool arithmetic shared by the BPF
 * allocator and "show pools".
 */
#include "common/pool.h"
#include <arpa/inet.h>
#include <criterion/criterion.h>

static uint32_t hip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

/* 203.0.113.8/30 + 203.0.113.100..101, ports 2000..2999 */
static struct ns_pool two_ranges(void)
{
	struct ns_pool p;

	memset(&p, 0, sizeof(p));
	p.ranges[0].first = hip("203.0.113.8");
	p.ranges[0].count = 4;
	p.ranges[1].first = hip("203.0.113.100");
	p.ranges[1].count = 2;
	p.n_ranges = 2;
	p.n_addrs = 6;
	p.port_lo = 2000;
	p.port_hi = 2999;
	return p;
}

Test(pool, addr_at_walks_ranges)
{
	struct ns_pool p = two_ranges();

	cr_assert_eq(ns_pool_addr_at(&p, 0), hip("203.0.113.8"));
	cr_assert_eq(ns_pool_addr_at(&p, 3), hip("203.0.113.11"));
	cr_assert_eq(ns_pool_addr_at(&p, 4), hip("203.0.113.100"));
	cr_assert_eq(ns_pool_addr_at(&p, 5), hip("203.0.113.101"));
	cr_assert_eq(ns_pool_addr_at(&p, 6), 0, "past the end");
}

Test(pool, addr_index_is_the_inverse)
{
	struct ns_pool p = two_ranges();
	uint32_t i, idx;

	for (i = 0; i < p.n_addrs; i++) {
		cr_assert_eq(ns_pool_addr_index(&p, ns_pool_addr_at(&p, i), &idx), 0);
		cr_assert_eq(idx, i);
	}
	cr_assert_eq(ns_pool_addr_index(&p, hip("203.0.113.12"), &idx), -1);
	cr_assert_eq(ns_pool_addr_index(&p, hip("203.0.113.7"), &idx), -1);
}

Test(pool, port_range_explicit)
{
	struct ns_pool p = two_ranges();
	uint16_t lo, hi;

	cr_assert_eq(ns_pool_port_range(&p, 80, &lo, &hi), 0);
	cr_assert_eq(lo, 2000);
	cr_assert_eq(hi, 2999);
	p.port_lo = 3000;
	cr_assert_eq(ns_pool_port_range(&p, 80, &lo, &hi), -1, "empty range refused");
	p.port_lo = 0;
	p.port_hi = 0;
	cr_assert_eq(ns_pool_port_range(&p, 80, &lo, &hi), -1, "no range and not automatic");
}

Test(pool, port_range_automatic)
{
	struct ns_pool p = two_ranges();
	uint16_t lo, hi;

	p.flags = NS_POOL_F_PORT_AUTO;
	ns_pool_port_range(&p, 123, &lo, &hi);
	cr_assert_eq(lo, 512);
	cr_assert_eq(hi, 1023);
	ns_pool_port_range(&p, 1023, &lo, &hi);
	cr_assert_eq(hi, 1023);
	ns_pool_port_range(&p, 1024, &lo, &hi);
	cr_assert_eq(lo, 1024);
	cr_assert_eq(hi, 65535);
}

Test(pool, capacity)
{
	struct ns_pool p = two_ranges();

	cr_assert_eq(ns_pool_capacity(&p), 6 * 1000);
	p.flags = NS_POOL_F_PORT_AUTO;
	cr_assert_eq(ns_pool_capacity(&p), 6ull * (512 + 64512));
	p.flags = 0;
	p.port_lo = 0;
	cr_assert_eq(ns_pool_capacity(&p), 0);
}

Test(pool, port_pick_stays_in_range)
{
	uint32_t r;

	for (r = 0; r < 5000; r += 7) {
		uint16_t port = ns_pool_port_pick(2000, 2099, r * 2654435761u, 1234, 0);

		cr_assert(port >= 2000 && port <= 2099, "port %u", port);
	}
	cr_assert_eq(ns_pool_port_pick(2000, 2099, 0, 0, 0), 2000);
	cr_assert_eq(ns_pool_port_pick(2000, 2099, 100, 0, 0), 2000, "wraps");
	cr_assert_eq(ns_pool_port_pick(0, 65535, 65535, 0, 0), 65535, "full range");
	cr_assert_eq(ns_pool_port_pick(7, 7, 12345, 0, 0), 7, "one port");
}

Test(pool, port_pick_parity)
{
	uint32_t r;

	for (r = 0; r < 300; r++) {
		uint16_t even = ns_pool_port_pick(1024, 65535, r * 40503u, 5000, 1);
		uint16_t odd = ns_pool_port_pick(1024, 65535, r * 40503u, 5001, 1);

		cr_assert_eq(even & 1, 0);
		cr_assert_eq(odd & 1, 1);
		cr_assert(even >= 1024 && odd >= 1024);
	}
	/* top of the range: parity fixed downwards, still in range */
	cr_assert_eq(ns_pool_port_pick(1024, 1025, 1, 2, 1), 1024);
}

Test(pool, hash_spreads_subscribers)
{
	uint32_t hits[4] = {0}, i;

	for (i = 0; i < 4000; i++)
		hits[ns_hash32(hip("100.64.0.0") + i) % 4]++;
	for (i = 0; i < 4; i++)
		cr_assert(hits[i] > 800 && hits[i] < 1200, "bucket %u: %u", i, hits[i]);
}
