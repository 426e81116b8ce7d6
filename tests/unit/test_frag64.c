// SPDX-License-Identifier: GPL-2.0
/*
 * test_frag64.c - the daemon's translation of held NAT64 fragments
 * (daemon/frag64.c, RFC 7915 4.1 / 5.1.1): every header field written
 * down here from the RFC, the IPv4 header checksum recomputed here, the
 * data untouched; what is not such a fragment refused.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "daemon/frag.h"
#include "tests/bpf/pkt.h"

static const uint8_t sub6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t rem6[16] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 2};

/* A later IPv6 fragment: offset 1448 (181 units), M set, id 0xa1b2c3d4,
 * 64 bytes of UDP data, traffic class 0xb8, hop limit 64. */
static int frag6(uint8_t *p)
{
	memset(p, 0, 112);
	p[0] = 0x6b;
	p[1] = 0x80;
	p[5] = 8 + 64;
	p[6] = 44;
	p[7] = 64;
	memcpy(p + 8, sub6, 16);
	memcpy(p + 24, rem6, 16);
	p[40] = 17;
	p[42] = (181 << 3) >> 8;
	p[43] = ((181 << 3) & 0xff) | 1;
	p[44] = 0xa1;
	p[45] = 0xb2;
	p[46] = 0xc3;
	p[47] = 0xd4;
	for (int i = 0; i < 64; i++)
		p[48 + i] = (uint8_t)(i * 5 + 1);
	return 112;
}

Test(frag64, six_to_four)
{
	uint8_t in[112], out[256];
	uint32_t s = inet_addr("203.0.113.64"), d = inet_addr("198.51.100.2");
	int n;

	frag6(in);
	n = ns_frag_xlat_6to4(in, 112, s, d, out, sizeof(out));
	cr_assert_eq(n, 20 + 64);
	cr_assert_eq(out[0], 0x45);
	cr_assert_eq(out[1], 0xb8, "traffic class -> TOS");
	cr_assert_eq(out[2] << 8 | out[3], 84, "total length");
	cr_assert_eq(out[4] << 8 | out[5], 0xc3d4, "ID = low 16 bits of the identification");
	cr_assert_eq((out[6] << 8 | out[7]) & 0x1fff, 181, "offset");
	cr_assert_eq(out[6] & 0x20, 0x20, "MF = M");
	cr_assert_eq(out[6] & 0x40, 0, "DF clear");
	cr_assert_eq(out[8], 63, "hop limit - 1");
	cr_assert_eq(out[9], 17);
	cr_assert_eq(memcmp(out + 12, &s, 4), 0);
	cr_assert_eq(memcmp(out + 16, &d, 4), 0);
	cr_assert_eq(pkt_sum(out, 20, 0), 0xffff, "header checksum (recomputed)");
	cr_assert_eq(memcmp(out + 20, in + 48, 64), 0, "data untouched");

	/* the last fragment: MF clear */
	in[43] &= ~1;
	cr_assert_eq(ns_frag_xlat_6to4(in, 112, s, d, out, sizeof(out)), 84);
	cr_assert_eq(out[6] & 0x20, 0);
	cr_assert_eq(pkt_sum(out, 20, 0), 0xffff);
}

Test(frag64, four_to_six)
{
	uint8_t in[84], out[256];
	uint16_t c;
	int n;

	memset(in, 0, sizeof(in));
	in[0] = 0x45;
	in[1] = 0xb8;
	in[3] = 84;
	in[4] = 0x43;
	in[5] = 0x21;
	in[6] = 0x20 | (181 >> 8); /* MF, offset 181 */
	in[7] = 181 & 0xff;
	in[8] = 50;
	in[9] = 17;
	for (int i = 0; i < 64; i++)
		in[20 + i] = (uint8_t)(i * 3 + 2);
	c = pkt_csum(in, 20, 0);
	in[10] = c >> 8;
	in[11] = c & 0xff;
	n = ns_frag_xlat_4to6(in, 84, rem6, sub6, out, sizeof(out));
	cr_assert_eq(n, 40 + 8 + 64);
	cr_assert_eq(out[0], 0x6b, "version 6, traffic class high nibble");
	cr_assert_eq(out[1] & 0xf0, 0x80, "traffic class low nibble");
	cr_assert_eq(out[4] << 8 | out[5], 8 + 64, "payload length covers the Fragment header");
	cr_assert_eq(out[6], 44, "next header: Fragment");
	cr_assert_eq(out[7], 49, "TTL - 1");
	cr_assert_arr_eq(out + 8, rem6, 16);
	cr_assert_arr_eq(out + 24, sub6, 16);
	cr_assert_eq(out[40], 17, "Fragment header: next header");
	cr_assert_eq(out[41], 0);
	cr_assert_eq((out[42] << 8 | out[43]) >> 3, 181, "offset");
	cr_assert_eq(out[43] & 7, 1, "M = MF, reserved bits zero");
	cr_assert_eq(out[44] | out[45], 0, "identification: high 16 bits zero");
	cr_assert_eq(out[46] << 8 | out[47], 0x4321, "identification: the IPv4 ID");
	cr_assert_eq(memcmp(out + 48, in + 20, 64), 0, "data untouched");

	/* ICMP becomes ICMPv6 */
	in[9] = 1;
	cr_assert_eq(ns_frag_xlat_4to6(in, 84, rem6, sub6, out, sizeof(out)), 112);
	cr_assert_eq(out[40], 58);
}

Test(frag64, refused)
{
	uint8_t in[112], out[256], small[64];
	uint32_t a = inet_addr("192.0.2.1");

	frag6(in);
	cr_assert_eq(ns_frag_xlat_6to4(in, 111, a, a, out, sizeof(out)), -EINVAL, "length");
	cr_assert_eq(ns_frag_xlat_6to4(in, 112, a, a, small, sizeof(small)), -EINVAL, "room");
	in[7] = 1;
	cr_assert_eq(ns_frag_xlat_6to4(in, 112, a, a, out, sizeof(out)), -EINVAL, "hop limit");
	frag6(in);
	in[6] = 17;
	cr_assert_eq(ns_frag_xlat_6to4(in, 112, a, a, out, sizeof(out)), -EINVAL, "no Fragment hdr");
	/* IPv4 with options, or an IPv6 packet given as IPv4 */
	memset(in, 0, sizeof(in));
	in[0] = 0x46;
	in[3] = 88;
	in[8] = 64;
	cr_assert_eq(ns_frag_xlat_4to6(in, 88, rem6, sub6, out, sizeof(out)), -EINVAL, "options");
	frag6(in);
	cr_assert_eq(ns_frag_xlat_4to6(in, 112, rem6, sub6, out, sizeof(out)), -EINVAL, "IPv6");
}
