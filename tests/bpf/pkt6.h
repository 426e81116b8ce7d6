/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pkt6.h - the IPv6 half of the test packet builder (pkt.h): Ethernet +
 * IPv6 + TCP/UDP/ICMPv6 with correct checksums, an extension or fragment
 * header inserted on demand (pkt6_add_ext), and a parser that verifies the L4 checksum of an
 * IPv6 frame by full recomputation over the IPv6 pseudo-header (RFC 8200
 * section 8.1), independent of the fast path's incremental code.
 */
#ifndef NATSYNC_TEST_PKT6_H
#define NATSYNC_TEST_PKT6_H

#include "tests/bpf/pkt.h"

#define PKT6_ICMP 58

struct pkt6_spec {
	uint8_t smac[6], dmac[6];
	const char *src, *dst; /* IPv6 text; NULL: saddr, daddr */
	uint8_t saddr[16], daddr[16]; /* when src, dst are NULL */
	uint8_t proto;	       /* IPPROTO_TCP/UDP or PKT6_ICMP */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type; /* 128 request, 129 reply */
	uint16_t icmp_id, icmp_seq;
	int payload;
	uint8_t hop; /* 0 -> 64 */
	uint8_t tclass;
};

struct pkt6_info {
	int ok; /* L4 checksum verified */
	uint8_t smac[6], dmac[6];
	uint8_t saddr[16], daddr[16];
	uint8_t nh, hop, tclass;
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type;
	uint16_t icmp_id, icmp_seq;
	int plen;
	uint32_t payload_sum;
};

/* Sum of the IPv6 pseudo-header (not folded into a checksum yet). */
static inline uint32_t pkt6_pseudo(const uint8_t *ip6, uint8_t nh, uint32_t len)
{
	uint32_t sum = pkt_sum(ip6 + 8, 32, 0);

	return sum + (len >> 16) + (len & 0xffff) + nh;
}

static inline void pkt6_addr(const char *s, uint8_t *out)
{
	inet_pton(AF_INET6, s, out);
}

/* Build a frame into buf (at least PKT_MAX bytes, and the frame's length
 * when the payload makes it longer). Return its length. */
static inline int pkt6_build(uint8_t *buf, const struct pkt6_spec *s)
{
	int l3 = 14, l4 = 54, l4len, i;
	uint8_t nh = s->proto;

	memset(buf, 0, PKT_MAX);
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	put16(buf + 12, 0x86dd);
	l4len = s->proto == IPPROTO_TCP ? 20 : 8;
	buf[l3] = 0x60 | (s->tclass >> 4);
	buf[l3 + 1] = (uint8_t)(s->tclass << 4);
	put16(buf + l3 + 4, l4len + s->payload);
	buf[l3 + 6] = nh;
	buf[l3 + 7] = s->hop ? s->hop : 64;
	memcpy(buf + l3 + 8, s->saddr, 16);
	memcpy(buf + l3 + 24, s->daddr, 16);
	if (s->src)
		pkt6_addr(s->src, buf + l3 + 8);
	if (s->dst)
		pkt6_addr(s->dst, buf + l3 + 24);
	for (i = 0; i < s->payload; i++)
		buf[l4 + l4len + i] = (uint8_t)(i * 7 + 3);
	switch (s->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		pkt_put_tcpudp(buf + l4, s->proto, l4len + s->payload,
			       pkt6_pseudo(buf + l3, s->proto, l4len + s->payload), s->sport, s->dport,
			       s->tcp_flags, s->seq, s->ack, 0);
		break;
	default:
		buf[l4] = s->icmp_type;
		put16(buf + l4 + 4, s->icmp_id);
		put16(buf + l4 + 6, s->icmp_seq);
		put16(buf + l4 + 2, pkt_csum(buf + l4, l4len + s->payload,
					     pkt6_pseudo(buf + l3, PKT6_ICMP, l4len + s->payload)));
		break;
	}
	return l4 + l4len + s->payload;
}

/* Insert an 8-byte extension header of type @type in front of the L4
 * header of the frame built by pkt6_build() (length @len); new length. */
static inline int pkt6_add_ext(uint8_t *buf, int len, uint8_t type)
{
	uint8_t l4nh = buf[14 + 6];

	memmove(buf + 62, buf + 54, len - 54);
	memset(buf + 54, 0, 8);
	buf[54] = l4nh; /* next header after the extension */
	if (type == 44)
		put16(buf + 56, 0x0001); /* fragment offset 0, M = 1 */
	buf[14 + 6] = type;
	put16(buf + 18, get16(buf + 18) + 8);
	return len + 8;
}

/* Parse an IPv6 frame, verifying the L4 checksum by recomputation. */
static inline struct pkt6_info pkt6_parse(const uint8_t *buf, int len)
{
	const uint8_t *ip = buf + 14, *l4 = buf + 54;
	struct pkt6_info in;
	int i, hdr;

	memset(&in, 0, sizeof(in));
	if (len < 54 || get16(buf + 12) != 0x86dd || (ip[0] >> 4) != 6)
		return in;
	memcpy(in.dmac, buf, 6);
	memcpy(in.smac, buf + 6, 6);
	in.plen = get16(ip + 4);
	in.nh = ip[6];
	in.hop = ip[7];
	in.tclass = (uint8_t)((ip[0] << 4) | (ip[1] >> 4));
	memcpy(in.saddr, ip + 8, 16);
	memcpy(in.daddr, ip + 24, 16);
	if (54 + in.plen > len)
		return in;
	if (pkt_sum(l4, in.plen, pkt6_pseudo(ip, in.nh, in.plen)) != 0xffff)
		return in;
	switch (in.nh) {
	case IPPROTO_TCP:
		in.sport = get16(l4);
		in.dport = get16(l4 + 2);
		in.seq = get32(l4 + 4);
		in.ack = get32(l4 + 8);
		in.tcp_flags = l4[13];
		hdr = (l4[12] >> 4) * 4;
		break;
	case IPPROTO_UDP:
		in.sport = get16(l4);
		in.dport = get16(l4 + 2);
		hdr = 8;
		break;
	case PKT6_ICMP:
		in.icmp_type = l4[0];
		in.icmp_id = get16(l4 + 4);
		in.icmp_seq = get16(l4 + 6);
		hdr = 8;
		break;
	default:
		return in;
	}
	for (i = hdr; i < in.plen; i++)
		in.payload_sum += l4[i];
	in.ok = 1;
	return in;
}

/* pkt_quoted_l4_ok() for an IPv6 packet quoted in an ICMPv6 error (fixed
 * header only): its TCP/UDP/ICMPv6 checksum by full recomputation over the
 * quoted bytes and, beyond a short quote, @rest (the sender's L4 header). */
static inline int pkt6_quoted_l4_ok(const uint8_t *q6, int qlen, const uint8_t *rest)
{
	int len = get16(q6 + 4);

	return pkt_sum_quoted(q6 + 40, qlen - 40, rest, len, pkt6_pseudo(q6, q6[6], len)) == 0xffff;
}

/* pkt_quoted_tcp_diff() for an IPv6 TCP segment quoted in an ICMPv6 error
 * (@q6, @qlen bytes) and the one its sender sent (@orig6): next header and
 * addresses, the TCP header, its checksum recomputed. */
static inline const char *pkt6_quoted_tcp_diff(const uint8_t *q6, int qlen, const uint8_t *orig6)
{
	if (qlen < 40 || (q6[0] >> 4) != 6)
		return "quoted packet is not IPv6";
	if (q6[6] != IPPROTO_TCP || memcmp(q6 + 8, orig6 + 8, 32))
		return "quoted next header or addresses are not the sender's";
	return pkt_quoted_tcp_hdr_diff(q6 + 40, qlen - 40, orig6 + 40,
				       qlen - 40 >= 18 && pkt6_quoted_l4_ok(q6, qlen, orig6 + 40));
}

#endif /* NATSYNC_TEST_PKT6_H */
