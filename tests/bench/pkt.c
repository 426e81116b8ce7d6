// SPDX-License-Identifier: GPL-2.0
/*
 * pkt.c - the frames the test_run benchmarks feed the programs: built once,
 * with every checksum computed in full, so that a program that rewrites them
 * can be checked by recomputation before it is timed.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/icmp.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <string.h>

#include "bench.h"

static const uint8_t mac_dst[ETH_ALEN] = { 0x02, 0, 0, 0, 0xb0, 0x01 };
static const uint8_t mac_src[ETH_ALEN] = { 0x02, 0, 0, 0, 0xb0, 0x02 };

#define ETH_FRAME_MIN 60 /* 64 bytes on the wire with the FCS */

/* One's complement sum of len bytes, added to sum (not folded). */
static uint32_t csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Sum of the IPv4 pseudo header for an L4 segment of len bytes. */
static uint32_t csum_pseudo(const struct iphdr *ip, uint16_t len)
{
	uint32_t sum = 0;

	sum = csum_add(sum, &ip->saddr, 8);
	sum += ip->protocol;
	sum += len;
	return sum;
}

struct ns_tuple pkt_tuple(uint32_t saddr, uint16_t sport, uint32_t daddr,
			  uint16_t dport, uint8_t proto)
{
	struct ns_tuple t;

	memset(&t, 0, sizeof(t));
	t.saddr = htonl(saddr);
	t.daddr = htonl(daddr);
	t.sport = htons(sport);
	t.dport = htons(dport);
	t.proto = proto;
	return t;
}

/* Ethernet (+ optional 802.1Q tag) and IPv4 header; returns the L4 start. */
static uint8_t *put_l2l3(struct pkt *p, uint32_t saddr, uint32_t daddr, uint8_t proto,
			 uint16_t l4len, uint8_t ttl, int vlan)
{
	struct ethhdr *eth = (struct ethhdr *)p->data;
	uint8_t *cur = p->data + sizeof(*eth);
	struct iphdr *ip;

	memset(p, 0, sizeof(*p));
	memcpy(eth->h_dest, mac_dst, ETH_ALEN);
	memcpy(eth->h_source, mac_src, ETH_ALEN);
	if (vlan > 0) {
		eth->h_proto = htons(ETH_P_8021Q);
		*(uint16_t *)cur = htons((uint16_t)vlan);
		*(uint16_t *)(cur + 2) = htons(ETH_P_IP);
		cur += 4;
	} else {
		eth->h_proto = htons(ETH_P_IP);
	}
	ip = (struct iphdr *)cur;
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(*ip) + l4len);
	ip->id = htons(0x1234);
	ip->ttl = ttl;
	ip->protocol = proto;
	ip->saddr = saddr;
	ip->daddr = daddr;
	ip->check = htons(csum_fold(csum_add(0, ip, sizeof(*ip))));
	p->len = (uint32_t)(cur - p->data) + sizeof(*ip) + l4len;
	if (p->len < ETH_FRAME_MIN)
		p->len = ETH_FRAME_MIN; /* Ethernet padding, not part of tot_len */
	return cur + sizeof(*ip);
}

void pkt_udp(struct pkt *p, const struct ns_tuple *t, uint8_t ttl, int vlan)
{
	const uint16_t payload = 18; /* 42 + 18 = 60 bytes: 64 with the FCS */
	uint16_t l4len = sizeof(struct udphdr) + payload;
	struct udphdr *udp;
	struct iphdr *ip;
	uint8_t *l4;

	l4 = put_l2l3(p, t->saddr, t->daddr, IPPROTO_UDP, l4len, ttl, vlan);
	ip = (struct iphdr *)(l4 - sizeof(*ip));
	udp = (struct udphdr *)l4;
	udp->source = t->sport;
	udp->dest = t->dport;
	udp->len = htons(l4len);
	memset(l4 + sizeof(*udp), 0xa5, payload);
	udp->check = htons(csum_fold(csum_add(csum_pseudo(ip, l4len), l4, l4len)));
	if (!udp->check)
		udp->check = 0xffff;
}

void pkt_tcp(struct pkt *p, const struct ns_tuple *t, uint8_t ttl, uint8_t flags)
{
	uint16_t l4len = sizeof(struct tcphdr);
	struct tcphdr *tcp;
	struct iphdr *ip;
	uint8_t *l4;

	l4 = put_l2l3(p, t->saddr, t->daddr, IPPROTO_TCP, l4len, ttl, 0);
	ip = (struct iphdr *)(l4 - sizeof(*ip));
	tcp = (struct tcphdr *)l4;
	tcp->source = t->sport;
	tcp->dest = t->dport;
	tcp->seq = htonl(1000);
	tcp->ack_seq = htonl(2000);
	tcp->doff = 5;
	((uint8_t *)tcp)[13] = flags;
	tcp->window = htons(65535);
	tcp->check = htons(csum_fold(csum_add(csum_pseudo(ip, l4len), l4, l4len)));
}

void pkt_icmp_unreach(struct pkt *p, uint32_t router, uint32_t dst,
		      const struct ns_tuple *inner, uint8_t ttl)
{
	/* ICMP header + inner IPv4 header + the first 8 bytes of inner UDP. */
	uint16_t l4len = sizeof(struct icmphdr) + sizeof(struct iphdr) + 8;
	struct icmphdr *icmp;
	struct iphdr *iip;
	struct udphdr *iudp;
	uint8_t *l4;

	l4 = put_l2l3(p, router, dst, IPPROTO_ICMP, l4len, ttl, 0);
	icmp = (struct icmphdr *)l4;
	icmp->type = ICMP_DEST_UNREACH;
	icmp->code = ICMP_PORT_UNREACH;
	iip = (struct iphdr *)(icmp + 1);
	iip->version = 4;
	iip->ihl = 5;
	iip->tot_len = htons(sizeof(*iip) + 8 + 18);
	iip->id = htons(0x4321);
	iip->ttl = 63;
	iip->protocol = inner->proto;
	iip->saddr = inner->saddr;
	iip->daddr = inner->daddr;
	iip->check = htons(csum_fold(csum_add(0, iip, sizeof(*iip))));
	iudp = (struct udphdr *)(iip + 1);
	iudp->source = inner->sport;
	iudp->dest = inner->dport;
	iudp->len = htons(8 + 18);
	iudp->check = htons(0x5555); /* not checked (RFC 5508) */
	icmp->checksum = htons(csum_fold(csum_add(0, l4, l4len)));
}

const uint8_t *pkt_ip(const struct pkt *p)
{
	const struct ethhdr *eth = (const struct ethhdr *)p->data;

	if (eth->h_proto == htons(ETH_P_8021Q))
		return p->data + sizeof(*eth) + 4;
	return p->data + sizeof(*eth);
}

/* IPv4 header of frame, or NULL. */
static const struct iphdr *frame_ip(const uint8_t *frame, uint32_t len)
{
	const struct ethhdr *eth = (const struct ethhdr *)frame;
	uint32_t off = sizeof(*eth);
	const struct iphdr *ip;

	if (len < off + sizeof(*ip))
		return NULL;
	if (eth->h_proto == htons(ETH_P_8021Q))
		off += 4;
	ip = (const struct iphdr *)(frame + off);
	if (len < off + ip->ihl * 4u || len < off + ntohs(ip->tot_len))
		return NULL;
	return ip;
}

void pkt_later_fragment(struct pkt *p)
{
	struct iphdr *ip = (struct iphdr *)(p->data + sizeof(struct ethhdr));

	ip->frag_off = htons(0x2000 | 1);
	ip->check = 0;
	ip->check = htons(csum_fold(csum_add(0, ip, ip->ihl * 4u)));
}

struct ns_tuple pkt_parse_tuple(const uint8_t *frame, uint32_t len)
{
	const struct iphdr *ip = frame_ip(frame, len);
	struct ns_tuple t;

	memset(&t, 0, sizeof(t));
	if (!ip)
		return t;
	t.saddr = ip->saddr;
	t.daddr = ip->daddr;
	t.proto = ip->protocol;
	if (ntohs(ip->frag_off) & 0x1fff) /* a later fragment has no L4 header */
		return t;
	if (ip->protocol == IPPROTO_UDP || ip->protocol == IPPROTO_TCP) {
		const struct udphdr *l4 = (const void *)((const uint8_t *)ip + ip->ihl * 4);

		t.sport = l4->source;
		t.dport = l4->dest;
	}
	return t;
}

int pkt_csum_ok(const uint8_t *frame, uint32_t len)
{
	const struct iphdr *ip = frame_ip(frame, len);
	const uint8_t *l4;
	uint16_t l4len;
	uint32_t sum;

	if (!ip || csum_fold(csum_add(0, ip, ip->ihl * 4u)) != 0)
		return 0;
	if (ntohs(ip->frag_off) & 0x1fff) /* a later fragment: no L4 checksum */
		return 1;
	l4 = (const uint8_t *)ip + ip->ihl * 4;
	l4len = ntohs(ip->tot_len) - ip->ihl * 4;
	if (ip->protocol == IPPROTO_ICMP)
		return csum_fold(csum_add(0, l4, l4len)) == 0;
	if (ip->protocol == IPPROTO_UDP && ((const struct udphdr *)l4)->check == 0)
		return 1;
	sum = csum_add(csum_pseudo(ip, l4len), l4, l4len);
	return csum_fold(sum) == 0;
}
