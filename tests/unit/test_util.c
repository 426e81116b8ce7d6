// SPDX-License-Identifier: GPL-2.0
/* daemon/util.c: the one Internet checksum the daemon computes packets with. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "daemon/util.h"

/* RFC 1071 section 3's example: the sum of these words is 0xddf2, the
 * checksum its complement. */
Test(util, inet_csum_rfc1071_example)
{
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	cr_expect_eq(ns_inet_csum(b, sizeof(b)), (uint16_t)~0xddf2);
}

/* An odd length pads the last byte with a zero byte; a buffer with its own
 * checksum stored verifies to zero. */
Test(util, inet_csum_odd_length_and_verify)
{
	uint8_t b[9] = { 0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x00, 0x00, 0xab };
	uint8_t even[10] = { 0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x00, 0x00, 0xab, 0x00 };
	uint16_t c = ns_inet_csum(b, sizeof(b));

	cr_expect_eq(c, ns_inet_csum(even, sizeof(even)));
	b[6] = (uint8_t)(c >> 8);
	b[7] = (uint8_t)c;
	cr_expect_eq(ns_inet_csum(b, sizeof(b)), 0);
}
