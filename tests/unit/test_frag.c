// SPDX-License-Identifier: GPL-2.0
/*
 * test_frag.c - the daemon's rewrite of a held fragment (daemon/frag.c):
 * addresses, TTL - 1, the IPv4 header checksum (recomputed here, never
 * taken from the code under test), payload untouched; bad packets refused
 * unchanged.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "daemon/frag.h"
#include "tests/bpf/pkt.h"

/* A later fragment: 24-byte header (one option word), 64 bytes of data. */
static int fragment(uint8_t *p)
{
	uint32_t a;
	uint16_t c;

	memset(p, 0, 88);
	p[0] = 0x46;
	p[2] = 0;
	p[3] = 88;
	p[4] = 0x12;
	p[5] = 0x34;
	p[6] = 0x00; /* offset 1480 / 8 = 185, last fragment */
	p[7] = 185;
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "100.64.0.2", &a);
	memcpy(p + 12, &a, 4);
	inet_pton(AF_INET, "198.51.100.2", &a);
	memcpy(p + 16, &a, 4);
	p[20] = 1; /* NOP options */
	p[21] = 1;
	p[22] = 1;
	p[23] = 1;
	for (int i = 24; i < 88; i++)
		p[i] = (uint8_t)(i * 13);
	c = pkt_csum(p, 24, 0);
	p[10] = c >> 8;
	p[11] = c & 0xff;
	return 88;
}

Test(frag, translate_rewrites_header_only)
{
	uint8_t p[88], orig[88];
	uint32_t s, d;

	fragment(p);
	memcpy(orig, p, sizeof(p));
	inet_pton(AF_INET, "203.0.113.9", &s);
	d = *(uint32_t *)(p + 16);
	cr_assert_eq(ns_frag_translate(p, sizeof(p), s, d), 0);
	cr_assert_eq(memcmp(p + 12, &s, 4), 0, "source rewritten");
	cr_assert_eq(memcmp(p + 16, &d, 4), 0, "destination kept");
	cr_assert_eq(p[8], 63, "TTL decremented");
	cr_assert_eq(pkt_sum(p, 24, 0), 0xffff, "IPv4 header checksum (recomputed)");
	cr_assert_eq(memcmp(p + 4, orig + 4, 4), 0, "ID, flags and offset kept");
	cr_assert_eq(memcmp(p + 20, orig + 20, 68), 0, "options and data untouched");
}

Test(frag, translate_refuses_bad_packets_unchanged)
{
	uint8_t p[88], orig[88];
	uint32_t s = htonl(0xcb007109);

	fragment(p);
	memcpy(orig, p, sizeof(p));
	cr_assert_eq(ns_frag_translate(p, 87, s, s), -EINVAL, "length not the total length");
	cr_assert_eq(ns_frag_translate(p, 19, s, s), -EINVAL, "shorter than a header");
	p[8] = 1;
	memcpy(orig, p, sizeof(p));
	cr_assert_eq(ns_frag_translate(p, sizeof(p), s, s), -EINVAL, "TTL would expire");
	cr_assert_eq(memcmp(p, orig, sizeof(p)), 0, "nothing changed");
	p[8] = 64;
	p[0] = 0x65;
	memcpy(orig, p, sizeof(p));
	cr_assert_eq(ns_frag_translate(p, sizeof(p), s, s), -EINVAL, "not IPv4");
	p[0] = 0x44;
	cr_assert_eq(ns_frag_translate(p, sizeof(p), s, s), -EINVAL, "header below 20 bytes");
	cr_assert_eq(memcmp(p + 1, orig + 1, sizeof(p) - 1), 0, "nothing changed");
}
