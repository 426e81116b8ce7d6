/* SPDX-License-Identifier: GPL-2.0 */
/*
 * parse.h - cursor-based header parsing: Ethernet, up to two 802.1Q/802.1ad
 * tags, IPv4 (with options, fragments), TCP, UDP, ICMP. Fills struct ns_pkt;
 * never modifies the packet.
 */
#ifndef NATSYNC_BPF_PARSE_H
#define NATSYNC_BPF_PARSE_H

#include "bpf/ctx.h"

enum ns_parse_rc {
	NS_PARSE_OK = 0,
	NS_PARSE_NON_IP,    /* not IPv4: leave to the kernel */
	NS_PARSE_MALFORMED, /* truncated or invalid */
	NS_PARSE_FRAGMENT,  /* non-first fragment: no L4 header */
	NS_PARSE_OTHER_L4,  /* IPv4, but not TCP/UDP/ICMP */
	NS_PARSE_IPV6,      /* IPv6: l3_off set, for the NAT64 path */
};

struct ns_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

static __always_inline int ns_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* ICMP types natsync treats as errors carrying an inner packet. */
static __always_inline int ns_icmp_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB || type == ICMP_SOURCE_QUENCH;
}

/* L2: Ethernet and VLAN tags. Sets p->l3_off, p->vlans. */
static __always_inline int ns_parse_l2(struct ns_pkt *p, const bool is_tc)
{
	struct ethhdr *eth = ns_ptr(p->ctx, is_tc, 0, sizeof(*eth));
	struct ns_vlan_hdr *vh;
	__be16 proto;
	__u32 off = sizeof(*eth);
	int i;

	if (!eth)
		return NS_PARSE_MALFORMED;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (!ns_is_vlan(proto))
			break;
		vh = ns_ptr(p->ctx, is_tc, off, sizeof(*vh));
		if (!vh)
			return NS_PARSE_MALFORMED;
		proto = vh->proto;
		off += sizeof(*vh);
		p->vlans++;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		p->l3_off = off;
		return NS_PARSE_IPV6;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return NS_PARSE_NON_IP;
	p->l3_off = off;
	return NS_PARSE_OK;
}

/* L3: IPv4 header with options. Sets tuple addresses, proto, l4_off. */
static __always_inline int ns_parse_ipv4(struct ns_pkt *p, const bool is_tc)
{
	struct iphdr *ip = ns_ptr(p->ctx, is_tc, p->l3_off, sizeof(*ip));
	__u32 hlen, tot;

	if (!ip)
		return NS_PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return NS_PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen || p->l3_off + tot > ns_frame_len(p->ctx, is_tc))
		return NS_PARSE_MALFORMED;
	/* the options must be in the linear part too */
	if (!ns_ptr(p->ctx, is_tc, p->l3_off, 20) ||
	    !ns_ptr(p->ctx, is_tc, p->l3_off + hlen - 4, 4))
		return NS_PARSE_MALFORMED;
	p->t.saddr = ip->saddr;
	p->t.daddr = ip->daddr;
	p->t.proto = ip->protocol;
	p->ip_len = tot;
	p->ttl = ip->ttl;
	p->tos = ip->tos;
	p->l4_off = p->l3_off + hlen;
	if (ip->frag_off & bpf_htons(0x1fff))
		return NS_PARSE_FRAGMENT;
	return NS_PARSE_OK;
}

/* L4 header must fit in the IPv4 datagram as well as in the frame. */
static __always_inline int ns_l4_fits(const struct ns_pkt *p, __u32 len)
{
	return p->l4_off + len <= p->l3_off + p->ip_len;
}

static __always_inline int ns_parse_l4(struct ns_pkt *p, const bool is_tc)
{
	switch (p->t.proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = ns_ptr(p->ctx, is_tc, p->l4_off, sizeof(*th));

		if (!th || !ns_l4_fits(p, sizeof(*th)) || th->doff < 5)
			return NS_PARSE_MALFORMED;
		if (!ns_l4_fits(p, th->doff * 4))
			return NS_PARSE_MALFORMED;
		p->t.sport = th->source;
		p->t.dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return NS_PARSE_OK;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = ns_ptr(p->ctx, is_tc, p->l4_off, sizeof(*uh));

		if (!uh || !ns_l4_fits(p, sizeof(*uh)) || bpf_ntohs(uh->len) < sizeof(*uh))
			return NS_PARSE_MALFORMED;
		p->t.sport = uh->source;
		p->t.dport = uh->dest;
		return NS_PARSE_OK;
	}
	case IPPROTO_ICMP: {
		struct icmphdr *ih = ns_ptr(p->ctx, is_tc, p->l4_off, sizeof(*ih));

		if (!ih || !ns_l4_fits(p, sizeof(*ih)))
			return NS_PARSE_MALFORMED;
		p->icmp_type = ih->type;
		p->icmp_code = ih->code;
		/* echo id in sport for requests, dport for replies, so a
		 * reversed request tuple is its reply's tuple */
		if (ih->type == ICMP_ECHO)
			p->t.sport = ih->un.echo.id;
		else if (ih->type == ICMP_ECHOREPLY)
			p->t.dport = ih->un.echo.id;
		return NS_PARSE_OK;
	}
	default:
		return NS_PARSE_OTHER_L4;
	}
}

/**
 * ns_parse() - parse a frame into @p (p->ctx must be set).
 * Return: enum ns_parse_rc.
 */
static __always_inline int ns_parse(struct ns_pkt *p, const bool is_tc)
{
	int rc = ns_parse_l2(p, is_tc);

	if (rc != NS_PARSE_OK)
		return rc;
	rc = ns_parse_ipv4(p, is_tc);
	if (rc != NS_PARSE_OK)
		return rc;
	return ns_parse_l4(p, is_tc);
}

#endif /* NATSYNC_BPF_PARSE_H */
