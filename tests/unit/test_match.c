// SPDX-License-Identifier: GPL-2.0
/*
 * test_match.c - common/match.h, the term matching the BPF fast path runs
 * for the first packet of every flow.
 */
#include "common/match.h"
#include "tests/bpf/tuple.h"
#include <arpa/inet.h>
#include <criterion/criterion.h>

static __be32 ip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct ns_tuple tup(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	return pkt_tuple_be(ip(s), sp, ip(d), dp, proto);
}

static struct ns_match any(uint8_t dir)
{
	struct ns_match m;

	memset(&m, 0, sizeof(m));
	m.sport_hi = 0xffff;
	m.dport_hi = 0xffff;
	m.dir_mask = dir;
	return m;
}

Test(match, prefix_mask)
{
	cr_assert_eq(ns_prefix_mask(0), 0);
	cr_assert_eq(ns_prefix_mask(10), htonl(0xffc00000));
	cr_assert_eq(ns_prefix_mask(24), htonl(0xffffff00));
	cr_assert_eq(ns_prefix_mask(32), 0xffffffff);
	cr_assert_eq(ns_prefix_mask(40), 0xffffffff, "clamped");
}

Test(match, prefix_match)
{
	__be32 m10 = ns_prefix_mask(10);

	cr_assert(ns_prefix_match(ip("100.64.0.1"), ip("100.64.0.0"), m10));
	cr_assert(ns_prefix_match(ip("100.127.255.255"), ip("100.64.0.0"), m10));
	cr_assert_not(ns_prefix_match(ip("100.128.0.0"), ip("100.64.0.0"), m10));
	cr_assert_not(ns_prefix_match(ip("100.63.255.255"), ip("100.64.0.0"), m10));
	/* host bits in the configured prefix are ignored */
	cr_assert(ns_prefix_match(ip("100.64.9.9"), ip("100.64.0.1"), m10));
	/* /0 matches everything */
	cr_assert(ns_prefix_match(ip("8.8.8.8"), ip("1.2.3.4"), 0));
}

Test(match, any_term_matches_everything_in_its_direction)
{
	struct ns_match m = any(NS_DIR_INPUT);
	struct ns_tuple t = tup("100.64.0.2", 1000, "198.51.100.2", 80, IPPROTO_TCP);

	cr_assert(ns_match_tuple(&m, &t, NS_DIR_INPUT));
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_OUTPUT), "wrong direction");
	m.dir_mask = NS_DIR_INPUT | NS_DIR_OUTPUT;
	cr_assert(ns_match_tuple(&m, &t, NS_DIR_OUTPUT));
	m.dir_mask = 0;
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_INPUT), "no direction never matches");
}

Test(match, protocol)
{
	struct ns_match m = any(NS_DIR_INPUT);
	struct ns_tuple t = tup("100.64.0.2", 1000, "198.51.100.2", 53, IPPROTO_UDP);

	m.proto = IPPROTO_TCP;
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_INPUT));
	m.proto = IPPROTO_UDP;
	cr_assert(ns_match_tuple(&m, &t, NS_DIR_INPUT));
}

Test(match, addresses)
{
	struct ns_match m = any(NS_DIR_INPUT);
	struct ns_tuple t = tup("100.64.0.2", 1000, "198.51.100.2", 80, IPPROTO_TCP);

	m.src_addr = ip("100.64.0.0");
	m.src_mask = ns_prefix_mask(24);
	m.dst_addr = ip("198.51.100.0");
	m.dst_mask = ns_prefix_mask(24);
	cr_assert(ns_match_tuple(&m, &t, NS_DIR_INPUT));
	t.saddr = ip("100.64.1.2");
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_INPUT), "source outside the prefix");
	t.saddr = ip("100.64.0.2");
	t.daddr = ip("198.51.101.2");
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_INPUT), "destination outside the prefix");
}

Test(match, port_ranges_inclusive)
{
	struct ns_match m = any(NS_DIR_INPUT);
	struct ns_tuple t = tup("100.64.0.2", 1000, "198.51.100.2", 80, IPPROTO_TCP);

	m.dport_lo = 80;
	m.dport_hi = 81;
	cr_assert(ns_match_tuple(&m, &t, NS_DIR_INPUT));
	t.dport = htons(81);
	cr_assert(ns_match_tuple(&m, &t, NS_DIR_INPUT));
	t.dport = htons(82);
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_INPUT));
	t.dport = htons(79);
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_INPUT));
	t.dport = htons(80);
	m.sport_lo = 1024;
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_INPUT), "source port below range");
	t.sport = htons(1024);
	cr_assert(ns_match_tuple(&m, &t, NS_DIR_INPUT));
}

Test(match, ports_do_not_apply_to_icmp)
{
	struct ns_match m = any(NS_DIR_INPUT);
	struct ns_tuple t = tup("100.64.0.2", 0x1234, "198.51.100.2", 0, IPPROTO_ICMP);

	cr_assert(ns_match_tuple(&m, &t, NS_DIR_INPUT), "full ranges match ICMP");
	m.dport_lo = 0;
	m.dport_hi = 100;
	cr_assert_not(ns_match_tuple(&m, &t, NS_DIR_INPUT),
		      "a port-restricted term never matches ICMP (the id is no port)");
}
