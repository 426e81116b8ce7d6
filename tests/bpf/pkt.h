/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pkt.h - a small packet builder and checker for the BPF_PROG_TEST_RUN
 * tests: Ethernet (+0..2 VLAN tags), IPv4 (+options), TCP/UDP/ICMP with
 * correct checksums, and a parser that verifies every checksum of an output
 * packet by full recomputation (never incrementally, so it cannot share a
 * bug with the fast path's RFC 1624 code).
 */
#ifndef NATSYNC_TEST_PKT_H
#define NATSYNC_TEST_PKT_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PKT_MAX 512

struct pkt_spec {
	uint8_t smac[6], dmac[6];
	int vlans; /* 0..2 tags */
	uint16_t vlan_id[2];
	const char *src, *dst; /* dotted quads; NULL: saddr, daddr */
	uint32_t saddr, daddr; /* network order, when src, dst are NULL */
	uint8_t proto;	       /* IPPROTO_TCP/UDP/ICMP or other */
	uint16_t sport, dport; /* host order */
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type; /* 8 echo request, 0 echo reply */
	uint16_t icmp_id, icmp_seq;
	int payload;	   /* bytes of payload (pattern filled) */
	int ip_opt;	   /* bytes of IPv4 options (multiple of 4) */
	uint8_t ttl;	   /* 0 -> 64 */
	int udp_nocsum;	   /* UDP checksum 0 */
	uint16_t frag_off; /* host order, raw frag_off field */
};

/* What pkt_parse() found. All host order except addresses (network). */
struct pkt_info {
	int ok; /* every checksum verified */
	int vlans;
	uint16_t vlan_id[2];
	uint8_t smac[6], dmac[6];
	uint32_t saddr, daddr;
	uint8_t proto, ttl;
	uint16_t sport, dport; /* TCP/UDP ports */
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;
	uint16_t udp_csum; /* raw */
	int l3_off, l4_off, ip_len;
	uint32_t payload_sum; /* simple sum of payload bytes, to compare */
};

/* One's complement sum over a buffer, folded (not complemented). */
static inline uint32_t pkt_sum(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static inline uint16_t pkt_csum(const void *buf, size_t len, uint32_t sum)
{
	return (uint16_t)~pkt_sum(buf, len, sum);
}

static inline uint32_t pkt_pseudo(const uint8_t *ip, uint8_t proto, uint16_t len)
{
	uint32_t sum = pkt_sum(ip + 12, 8, 0);

	return sum + proto + len;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/*
 * The TCP (20 bytes, window 65535) or UDP (8) header at @l4 of a datagram
 * of @len bytes whose payload is in place, its checksum over @pseudo (the
 * pseudo-header's sum, IPv4 or IPv6; a UDP checksum of 0 goes as 0xffff,
 * none with @nocsum).
 */
static inline void pkt_put_tcpudp(uint8_t *l4, uint8_t proto, int len, uint32_t pseudo,
				  uint16_t sport, uint16_t dport, uint8_t tcp_flags, uint32_t seq,
				  uint32_t ack, int nocsum)
{
	uint16_t c;

	put16(l4, sport);
	put16(l4 + 2, dport);
	if (proto == IPPROTO_TCP) {
		put32(l4 + 4, seq);
		put32(l4 + 8, ack);
		l4[12] = 5 << 4;
		l4[13] = tcp_flags;
		put16(l4 + 14, 65535);
		put16(l4 + 16, pkt_csum(l4, len, pseudo));
		return;
	}
	put16(l4 + 4, len);
	if (nocsum)
		return;
	c = pkt_csum(l4, len, pseudo);
	put16(l4 + 6, c ? c : 0xffff);
}

/* Build a frame into buf (at least PKT_MAX bytes, and the frame's length
 * when the payload makes it longer). Return its length. */
static inline int pkt_build(uint8_t *buf, const struct pkt_spec *s)
{
	int off = 12, l3, l4, hl, l4len, i;
	uint32_t a;

	memset(buf, 0, PKT_MAX);
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	for (i = 0; i < s->vlans && i < 2; i++) {
		put16(buf + off, i == 0 && s->vlans == 2 ? 0x88a8 : 0x8100);
		put16(buf + off + 2, s->vlan_id[i]);
		off += 4;
	}
	put16(buf + off, 0x0800);
	l3 = off + 2;
	hl = 20 + s->ip_opt;
	l4 = l3 + hl;
	switch (s->proto) {
	case IPPROTO_TCP:
		l4len = 20;
		break;
	case IPPROTO_UDP:
	case IPPROTO_ICMP:
		l4len = 8;
		break;
	default:
		l4len = 0;
	}
	for (i = 0; i < s->payload; i++)
		buf[l4 + l4len + i] = (uint8_t)(i * 7 + 3);
	buf[l3] = 0x40 | (hl / 4);
	put16(buf + l3 + 2, hl + l4len + s->payload);
	put16(buf + l3 + 4, 0x1234);
	put16(buf + l3 + 6, s->frag_off);
	buf[l3 + 8] = s->ttl ? s->ttl : 64;
	buf[l3 + 9] = s->proto;
	a = s->saddr;
	if (s->src)
		inet_pton(AF_INET, s->src, &a);
	memcpy(buf + l3 + 12, &a, 4);
	a = s->daddr;
	if (s->dst)
		inet_pton(AF_INET, s->dst, &a);
	memcpy(buf + l3 + 16, &a, 4);
	for (i = 0; i < s->ip_opt; i++)
		buf[l3 + 20 + i] = 1; /* NOP options */
	put16(buf + l3 + 10, pkt_csum(buf + l3, hl, 0));
	switch (s->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		pkt_put_tcpudp(buf + l4, s->proto, l4len + s->payload,
			       pkt_pseudo(buf + l3, s->proto, l4len + s->payload), s->sport, s->dport,
			       s->tcp_flags, s->seq, s->ack, s->udp_nocsum);
		break;
	case IPPROTO_ICMP:
		buf[l4] = s->icmp_type;
		put16(buf + l4 + 4, s->icmp_id);
		put16(buf + l4 + 6, s->icmp_seq);
		put16(buf + l4 + 2, pkt_csum(buf + l4, l4len + s->payload, 0));
		break;
	}
	return l4 + l4len + s->payload;
}

/* Parse the IPv4 packet at buf + in.l3_off, verifying every checksum (of a
 * later fragment, which has no L4 header, the IPv4 header's alone). */
static inline void pkt_parse_ip(struct pkt_info *pin, const uint8_t *buf, int len)
{
	struct pkt_info in = *pin;
	int hl, l4len, i;

	hl = (buf[in.l3_off] & 0xf) * 4;
	in.ip_len = get16(buf + in.l3_off + 2);
	if (in.l3_off + in.ip_len > len)
		goto out;
	in.l4_off = in.l3_off + hl;
	in.ttl = buf[in.l3_off + 8];
	in.proto = buf[in.l3_off + 9];
	memcpy(&in.saddr, buf + in.l3_off + 12, 4);
	memcpy(&in.daddr, buf + in.l3_off + 16, 4);
	if (pkt_sum(buf + in.l3_off, hl, 0) != 0xffff)
		goto out;
	if (get16(buf + in.l3_off + 6) & 0x1fff) /* a later fragment: no L4 header */
		goto done;
	l4len = in.ip_len - hl;
	const uint8_t *l4 = buf + in.l4_off;
	switch (in.proto) {
	case IPPROTO_TCP:
		in.sport = get16(l4);
		in.dport = get16(l4 + 2);
		in.seq = get32(l4 + 4);
		in.ack = get32(l4 + 8);
		in.tcp_flags = l4[13];
		if (pkt_sum(l4, l4len, pkt_pseudo(buf + in.l3_off, IPPROTO_TCP, l4len)) != 0xffff)
			goto out;
		for (i = (l4[12] >> 4) * 4; i < l4len; i++)
			in.payload_sum += l4[i];
		break;
	case IPPROTO_UDP:
		in.sport = get16(l4);
		in.dport = get16(l4 + 2);
		in.udp_csum = get16(l4 + 6);
		if (in.udp_csum &&
		    pkt_sum(l4, l4len, pkt_pseudo(buf + in.l3_off, IPPROTO_UDP, l4len)) != 0xffff)
			goto out;
		for (i = 8; i < l4len; i++)
			in.payload_sum += l4[i];
		break;
	case IPPROTO_ICMP:
		in.icmp_type = l4[0];
		in.icmp_code = l4[1];
		in.icmp_id = get16(l4 + 4);
		if (pkt_sum(l4, l4len, 0) != 0xffff)
			goto out;
		break;
	}
done:
	in.ok = 1;
out:
	*pin = in;
}

/* Parse a frame and verify every checksum by recomputation. */
static inline struct pkt_info pkt_parse(const uint8_t *buf, int len)
{
	struct pkt_info in;
	int off = 12;

	memset(&in, 0, sizeof(in));
	if (len < 34)
		return in;
	memcpy(in.dmac, buf, 6);
	memcpy(in.smac, buf + 6, 6);
	while ((get16(buf + off) == 0x8100 || get16(buf + off) == 0x88a8) && in.vlans < 2) {
		in.vlan_id[in.vlans++] = get16(buf + off + 2);
		off += 4;
	}
	if (get16(buf + off) != 0x0800)
		return in;
	in.l3_off = off + 2;
	pkt_parse_ip(&in, buf, len);
	return in;
}

/* Parse a bare IPv4 packet (e.g. the one quoted in an ICMP error). */
static inline struct pkt_info pkt_parse_l3(const uint8_t *buf, int len)
{
	struct pkt_info in;

	memset(&in, 0, sizeof(in));
	if (len < 20)
		return in;
	pkt_parse_ip(&in, buf, len);
	return in;
}

/* An ICMP error with the Ethernet and IPv4 header of @outer (its
 * protocol and payload are set here) quoting @inner (an IPv4 packet, @len
 * bytes). Return the frame length. */
static inline int pkt_build_icmp_err_spec(uint8_t *buf, const struct pkt_spec *outer, uint8_t type,
					  uint8_t code, const uint8_t *inner, int len)
{
	struct pkt_spec s = *outer;
	int l4 = 14 + 4 * (s.vlans < 2 ? s.vlans : 2) + 20 + s.ip_opt;

	s.proto = IPPROTO_ICMP;
	s.payload = len;
	pkt_build(buf, &s);
	memcpy(buf + l4 + 8, inner, len);
	buf[l4] = type;
	buf[l4 + 1] = code;
	memset(buf + l4 + 2, 0, 6);
	put16(buf + l4 + 2, pkt_csum(buf + l4, 8 + len, 0));
	return l4 + 8 + len;
}

/* An ICMP error from @src to @dst quoting @inner (an IPv4 packet, @len
 * bytes). Return the frame length. */
static inline int pkt_build_icmp_err(uint8_t *buf, const uint8_t *smac, const uint8_t *dmac,
				     const char *src, const char *dst, uint8_t type, uint8_t code,
				     const uint8_t *inner, int len)
{
	struct pkt_spec s;

	memset(&s, 0, sizeof(s));
	memcpy(s.smac, smac, 6);
	memcpy(s.dmac, dmac, 6);
	s.src = src;
	s.dst = dst;
	return pkt_build_icmp_err_spec(buf, &s, type, code, inner, len);
}

/*
 * Sum (folded, not complemented) of an L4 datagram of @len bytes whose
 * first @have bytes are at @head and the rest at @rest + @have: the
 * datagram quoted in an ICMP error, cut short, completed from the same
 * datagram as its sender sent it (@rest: its L4 header). Everything a NAT
 * rewrites in it (ports, checksum) lies in the quoted part. Add the
 * pseudo-header sum as @sum. Return 0 when the pieces do not fit.
 */
static inline uint32_t pkt_sum_quoted(const uint8_t *head, int have, const uint8_t *rest, int len,
				      uint32_t sum)
{
	static uint8_t l4[4096];

	if (len < 0 || len > (int)sizeof(l4) || have < 0)
		return 0;
	if (have > len)
		have = len;
	memcpy(l4, head, have);
	memcpy(l4 + have, rest + have, len - have);
	return pkt_sum(l4, len, sum);
}

/*
 * Is the TCP/UDP checksum of the IPv4 packet quoted in an ICMP error right,
 * by full recomputation? @q: the quote (@qlen bytes, IPv4 header first,
 * total length as the packet had it); @rest: the L4 header of the same
 * packet as its sender sent it, for the bytes beyond a short quote.
 */
static inline int pkt_quoted_l4_ok(const uint8_t *q, int qlen, const uint8_t *rest)
{
	int hl = (q[0] & 0xf) * 4, len = get16(q + 2) - hl;

	return pkt_sum_quoted(q + hl, qlen - hl, rest, len, pkt_pseudo(q, q[9], len)) == 0xffff;
}

/*
 * The TCP header quoted in an ICMP error (@ql4, @have bytes of it) against
 * the sender's (@ol4): every byte up to the checksum, then, when the quote
 * holds the checksum whole, @csum_ok (the caller's recomputation) and the
 * checksum and urgent pointer as sent. NULL when they match, else what
 * does not.
 */
static inline const char *pkt_quoted_tcp_hdr_diff(const uint8_t *ql4, int have, const uint8_t *ol4,
						  int csum_ok)
{
	if (have < 8)
		return "less than 8 bytes of TCP quoted";
	if (memcmp(ql4, ol4, have < 16 ? have : 16))
		return "quoted TCP header (ports, sequence, flags, window) is not the sender's";
	if (have < 18)
		return NULL;
	if (!csum_ok)
		return "quoted TCP checksum wrong, by recomputation";
	if (memcmp(ql4 + 16, ol4 + 16, 2))
		return "quoted TCP checksum is not the sender's";
	if (have >= 20 && memcmp(ql4 + 18, ol4 + 18, 2))
		return "quoted urgent pointer is not the sender's";
	return NULL;
}

/*
 * The IPv4 TCP segment quoted in an ICMP error (@q, @qlen bytes, IPv4 header
 * first) against the one its sender sent (@orig, IPv4 header first): the
 * quoted header checksum, protocol and addresses, then the TCP header as
 * above, its checksum recomputed over the quote and the rest of @orig's
 * segment. NULL when all match, else what does not.
 */
static inline const char *pkt_quoted_tcp_diff(const uint8_t *q, int qlen, const uint8_t *orig)
{
	int hl = (q[0] & 0xf) * 4, ohl = (orig[0] & 0xf) * 4;

	if (qlen < hl || pkt_sum(q, hl, 0) != 0xffff)
		return "quoted IPv4 header checksum wrong";
	if (q[9] != IPPROTO_TCP || memcmp(q + 12, orig + 12, 8))
		return "quoted protocol or addresses are not the sender's";
	return pkt_quoted_tcp_hdr_diff(q + hl, qlen - hl, orig + ohl,
				       qlen - hl >= 18 && pkt_quoted_l4_ok(q, qlen, orig + ohl));
}

static inline uint32_t pkt_ip(const char *s)
{
	uint32_t a;

	inet_pton(AF_INET, s, &a);
	return a;
}

#endif /* NATSYNC_TEST_PKT_H */
