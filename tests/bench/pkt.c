// SPDX-License-Identifier: GPL-2.0
/*
 * pkt.c - the frames the test_run benchmarks feed the programs: built once,
 * with every checksum computed in full, so that a program that rewrites them
 * can be checked by recomputation before it is timed. The building and the
 * checking are the BPF suite's (tests/bpf/pkt.h, pkt6.h); this file only
 * puts the bench's tuples and MAC addresses into them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "bench.h"
#include "tests/bpf/pkt6.h"
#include "tests/bpf/tuple.h"

static const uint8_t mac_dst[6] = { 0x02, 0, 0, 0, 0xb0, 0x01 };
static const uint8_t mac_src[6] = { 0x02, 0, 0, 0, 0xb0, 0x02 };

#define ETH_FRAME_MIN 60 /* 64 bytes on the wire with the FCS */
#define UDP_PAYLOAD 18	 /* 14 + 20 + 8 + 18 = 60 bytes */

struct ns_tuple pkt_tuple(uint32_t saddr, uint16_t sport, uint32_t daddr,
			  uint16_t dport, uint8_t proto)
{
	return pkt_tuple_be(htonl(saddr), sport, htonl(daddr), dport, proto);
}

/* The spec of an IPv4 frame of tuple t, bench MACs. */
static struct pkt_spec spec_of(const struct ns_tuple *t, uint8_t ttl)
{
	struct pkt_spec s;

	memset(&s, 0, sizeof(s));
	memcpy(s.dmac, mac_dst, 6);
	memcpy(s.smac, mac_src, 6);
	s.saddr = t->saddr;
	s.daddr = t->daddr;
	s.proto = t->proto;
	s.sport = ntohs(t->sport);
	s.dport = ntohs(t->dport);
	s.ttl = ttl;
	return s;
}

void pkt_udp(struct pkt *p, const struct ns_tuple *t, uint8_t ttl, int vlan)
{
	struct pkt_spec s = spec_of(t, ttl);

	s.proto = IPPROTO_UDP;
	s.payload = UDP_PAYLOAD;
	if (vlan > 0) {
		s.vlans = 1;
		s.vlan_id[0] = (uint16_t)vlan;
	}
	p->len = (uint32_t)pkt_build(p->data, &s);
}

void pkt_tcp(struct pkt *p, const struct ns_tuple *t, uint8_t ttl, uint8_t flags)
{
	struct pkt_spec s = spec_of(t, ttl);

	s.proto = IPPROTO_TCP;
	s.tcp_flags = flags;
	s.seq = 1000;
	s.ack = 2000;
	p->len = (uint32_t)pkt_build(p->data, &s);
	if (p->len < ETH_FRAME_MIN)
		p->len = ETH_FRAME_MIN; /* Ethernet padding, not part of tot_len */
}

void pkt_icmp_unreach(struct pkt *p, uint32_t router, uint32_t dst,
		      const struct ns_tuple *inner, uint8_t ttl)
{
	struct ns_tuple o = { .saddr = router, .daddr = dst };
	struct pkt_spec s = spec_of(inner, 63), out = spec_of(&o, ttl);
	uint8_t in[PKT_MAX];

	/* the datagram as its receiver got it; quoted: its IPv4 header and the
	 * first 8 bytes of its UDP header */
	s.payload = UDP_PAYLOAD;
	pkt_build(in, &s);
	p->len = (uint32_t)pkt_build_icmp_err_spec(p->data, &out, 3 /* unreachable */,
						   3 /* port */, in + 14, 20 + 8);
}

void pkt_udp6(struct pkt *p, const struct ns_tuple6 *k, int payload)
{
	struct pkt6_spec s;

	memset(&s, 0, sizeof(s));
	memcpy(s.dmac, mac_dst, 6);
	memcpy(s.smac, mac_src, 6);
	memcpy(s.saddr, k->saddr, 16);
	memcpy(s.daddr, k->daddr, 16);
	s.proto = IPPROTO_UDP;
	s.sport = ntohs(k->sport);
	s.dport = ntohs(k->dport);
	s.payload = payload;
	p->len = (uint32_t)pkt6_build(p->data, &s);
}

void pkt_later_fragment(struct pkt *p)
{
	uint8_t *ip = p->data + 14;

	put16(ip + 6, 0x2000 | 1); /* MF, offset 8 bytes */
	put16(ip + 10, 0);
	put16(ip + 10, pkt_csum(ip, (ip[0] & 0xf) * 4u, 0));
}

void pkt6_later_fragment(struct pkt *p, uint32_t id)
{
	p->len = (uint32_t)pkt6_add_ext(p->data, (int)p->len, 44);
	put16(p->data + 56, 1 << 3 | 1); /* offset 8 bytes, M */
	put32(p->data + 58, id);
}

struct ns_tuple pkt_parse_tuple(const uint8_t *frame, uint32_t len)
{
	struct pkt_info in = pkt_parse(frame, (int)len);
	struct ns_tuple t;

	memset(&t, 0, sizeof(t));
	t.saddr = in.saddr;
	t.daddr = in.daddr;
	t.proto = in.proto;
	t.sport = htons(in.sport); /* 0 but for TCP and UDP (not later fragments) */
	t.dport = htons(in.dport);
	return t;
}

int pkt_csum_ok(const uint8_t *frame, uint32_t len)
{
	return pkt_parse(frame, (int)len).ok;
}
