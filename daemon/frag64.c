// SPDX-License-Identifier: GPL-2.0
/*
 * frag64.c - a held NAT64 fragment's header translation (RFC 7915 4.1 and
 * 5.1.1), for daemon/frag.c: the fast path's bpf/frag64.h does the same to
 * the fragments it sees after their first one. Pure functions.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "frag.h"
#include "util.h"

#define IP6_FRAG_NH 44
#define IP6_HLEN 40
#define FH_LEN 8

static uint8_t proto_4to6(uint8_t p)
{
	return p == 1 ? 58 : p;
}

static uint8_t proto_6to4(uint8_t p)
{
	return p == 58 ? 1 : p;
}

int ns_frag_xlat_6to4(const uint8_t *in, uint32_t len, uint32_t new_saddr, uint32_t new_daddr,
		      uint8_t *out, uint32_t out_max)
{
	uint32_t data, fo, id;
	uint8_t tc;
	uint16_t c;

	if (len < IP6_HLEN + FH_LEN || (in[0] >> 4) != 6 || in[6] != IP6_FRAG_NH ||
	    ((uint32_t)in[4] << 8 | in[5]) + IP6_HLEN != len || in[7] <= 1)
		return -EINVAL;
	data = len - IP6_HLEN - FH_LEN;
	if (data + 20 > out_max || data + 20 > 0xffff)
		return -EINVAL;
	fo = (uint32_t)in[IP6_HLEN + 2] << 8 | in[IP6_HLEN + 3];
	memcpy(&id, in + IP6_HLEN + 4, 4);
	id = ntohl(id);
	tc = (uint8_t)((in[0] << 4) | (in[1] >> 4));
	memset(out, 0, 20);
	out[0] = 0x45;
	out[1] = tc;
	out[2] = (uint8_t)((data + 20) >> 8);
	out[3] = (uint8_t)(data + 20);
	out[4] = (uint8_t)(id >> 8); /* the low 16 bits of the identification */
	out[5] = (uint8_t)id;
	/* offset (13 bits) and M as MF; DF clear */
	out[6] = (uint8_t)(((fo >> 3) >> 8) & 0x1f) | ((fo & 1) ? 0x20 : 0);
	out[7] = (uint8_t)(fo >> 3);
	out[8] = in[7] - 1; /* forwarded: as the first fragment was */
	out[9] = proto_6to4(in[IP6_HLEN]);
	memcpy(out + 12, &new_saddr, 4);
	memcpy(out + 16, &new_daddr, 4);
	c = ns_inet_csum(out, 20);
	out[10] = c >> 8;
	out[11] = c & 0xff;
	memcpy(out + 20, in + IP6_HLEN + FH_LEN, data);
	return (int)(data + 20);
}

int ns_frag_xlat_4to6(const uint8_t *in, uint32_t len, const uint8_t *new_saddr6,
		      const uint8_t *new_daddr6, uint8_t *out, uint32_t out_max)
{
	uint32_t data, fo;
	unsigned int hl;

	if (len < 20 || (in[0] >> 4) != 4)
		return -EINVAL;
	hl = (in[0] & 0xf) * 4u;
	if (hl != 20 || ((uint32_t)in[2] << 8 | in[3]) != len || in[8] <= 1)
		return -EINVAL; /* options are not translated (bpf/frag64.h) */
	data = len - hl;
	if (data + IP6_HLEN + FH_LEN > out_max)
		return -EINVAL;
	fo = (uint32_t)in[6] << 8 | in[7];
	memset(out, 0, IP6_HLEN + FH_LEN);
	out[0] = 0x60 | (in[1] >> 4);
	out[1] = (uint8_t)(in[1] << 4);
	out[4] = (uint8_t)((data + FH_LEN) >> 8);
	out[5] = (uint8_t)(data + FH_LEN);
	out[6] = IP6_FRAG_NH;
	out[7] = in[8] - 1;
	memcpy(out + 8, new_saddr6, 16);
	memcpy(out + 24, new_daddr6, 16);
	/* the Fragment header: the IPv4 ID as the identification (high 16
	 * bits zero), the offset and MF as M */
	out[IP6_HLEN] = proto_4to6(in[9]);
	out[IP6_HLEN + 2] = (uint8_t)((fo & 0x1fff) << 3 >> 8);
	out[IP6_HLEN + 3] = (uint8_t)(((fo & 0x1fff) << 3) | ((fo & 0x2000) ? 1 : 0));
	out[IP6_HLEN + 6] = in[4];
	out[IP6_HLEN + 7] = in[5];
	memcpy(out + IP6_HLEN + FH_LEN, in + hl, data);
	return (int)(data + IP6_HLEN + FH_LEN);
}
