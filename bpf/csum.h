/* SPDX-License-Identifier: GPL-2.0 */
/*
 * csum.h - header field rewrites with incremental checksum updates.
 *
 * XDP has no skb checksum helpers, so the XDP variant patches checksums by
 * hand with RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). One's complement sums
 * are byte-order independent as long as all 16-bit words are loaded the same
 * way, so fields are used exactly as they sit in memory.
 * The TC variant uses bpf_l3_csum_replace/bpf_l4_csum_replace, which also
 * handle CHECKSUM_PARTIAL skbs from local sockets (only the pseudo-header
 * part is patched then) and, with BPF_F_MARK_MANGLED_0, UDP checksum 0.
 * UDP: a zero checksum means "none" and stays 0; a computed 0 becomes 0xffff.
 */
#ifndef NATSYNC_BPF_CSUM_H
#define NATSYNC_BPF_CSUM_H

#include "bpf/ctx.h"

static __always_inline __u16 ns_csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* RFC 1624 eqn. 3: fold @delta, the one's complement sum of the new words
 * minus the old ones (as ns_csum_delta4/2 or bpf_csum_diff() give it), into
 * checksum @check. */
static __always_inline __u16 ns_csum_add(__u16 check, __u32 delta)
{
	__u64 sum = (__u16)~check;

	sum += delta;
	return (__u16)~ns_csum_fold(sum);
}

/* Fold a bpf_csum_diff() result, the sum of whole words, into a final
 * 16-bit checksum. */
static __always_inline __u16 ns_csum_final(__s64 sum)
{
	return (__u16)~ns_csum_fold((__u64)(__u32)sum);
}

/* A new IPv4 header checksum for @h (20 bytes, no options), from scratch. */
static __always_inline void ns_ip4_csum(struct iphdr *h)
{
	h->check = 0;
	h->check = ns_csum_final(bpf_csum_diff(0, 0, (__be32 *)h, sizeof(*h), 0));
}

/* The delta of a 32-bit field @from -> @to (~m + m'). */
static __always_inline __u32 ns_csum_delta4(__be32 from, __be32 to)
{
	return (~from & 0xffff) + ((~from >> 16) & 0xffff) + (to & 0xffff) + (to >> 16);
}

/* The delta of a 16-bit field @from -> @to. */
static __always_inline __u32 ns_csum_delta2(__u16 from, __u16 to)
{
	return (__u32)(__u16)~from + to;
}

/* RFC 1624: update checksum @check for a 32-bit field @from -> @to. */
static __always_inline __u16 ns_csum_replace4(__u16 check, __be32 from, __be32 to)
{
	return ns_csum_add(check, ns_csum_delta4(from, to));
}

/* RFC 1624: update checksum @check for a 16-bit field @from -> @to. */
static __always_inline __u16 ns_csum_replace2(__u16 check, __u16 from, __u16 to)
{
	return ns_csum_add(check, ns_csum_delta2(from, to));
}

/* Offset of the L4 checksum field, 0 when the protocol has none we patch. */
static __always_inline __u32 ns_l4_csum_off(const struct ns_pkt *p)
{
	switch (p->t.proto) {
	case IPPROTO_TCP:
		return p->l4_off + offsetof(struct tcphdr, check);
	case IPPROTO_UDP:
		return p->l4_off + offsetof(struct udphdr, check);
	case IPPROTO_ICMP:
		return p->l4_off + offsetof(struct icmphdr, checksum);
	}
	return 0;
}

/* XDP: fold @delta (RFC 1624, as ns_csum_add() takes it) into the 16-bit
 * L4 checksum at @off, in place. @udp: 0 ("none") stays 0, a computed 0
 * becomes 0xffff. Return: 0, -1 when @off is not in the frame. */
static __always_inline int ns_xdp_csum_add(struct ns_pkt *p, __u32 off, __u32 delta, int udp)
{
	__u16 *c = ns_ptr(p->ctx, false, off, 2);
	__u16 v;

	if (!c)
		return -1;
	if (udp && *c == 0)
		return 0;
	v = ns_csum_add(*c, delta);
	if (udp && v == 0)
		v = 0xffff;
	*c = v;
	return 0;
}

/* XDP: patch a 16-bit L4 checksum field in place. @pseudo: the change is
 * to a pseudo-header field (ICMP has none). */
static __always_inline int ns_xdp_l4_fix(struct ns_pkt *p, __be32 from, __be32 to, int is32,
					 int pseudo)
{
	__u32 off = ns_l4_csum_off(p);

	if (!off || (pseudo && p->t.proto == IPPROTO_ICMP))
		return 0;
	return ns_xdp_csum_add(p, off,
			       is32 ? ns_csum_delta4(from, to)
				    : ns_csum_delta2((__u16)from, (__u16)to),
			       p->t.proto == IPPROTO_UDP);
}

/**
 * ns_l4_csum_diff() - fold @diff (a bpf_csum_diff() result: new words
 * minus old ones) into the L4 checksum at offset @off: XDP by hand, TC
 * through bpf_l4_csum_replace() (which also copes with CHECKSUM_PARTIAL
 * when @pseudo says the words are pseudo-header ones). @udp: a UDP
 * checksum, 0 ("none") stays 0 and a computed 0 becomes 0xffff.
 * Return: 0, -1 on a packet access failure.
 */
static __always_inline int ns_l4_csum_diff(struct ns_pkt *p, const bool is_tc, __u32 off,
					   __s64 diff, int pseudo, int udp)
{
	if (is_tc)
		return bpf_l4_csum_replace(p->ctx, off, 0, (__u32)diff,
					   (pseudo ? BPF_F_PSEUDO_HDR : 0) |
					       (udp ? BPF_F_MARK_MANGLED_0 : 0))
			   ? -1
			   : 0;
	return ns_xdp_csum_add(p, off, (__u32)diff, udp);
}

/* TC: same through the helpers. */
static __always_inline int ns_tc_l4_fix(struct ns_pkt *p, __be32 from, __be32 to, int is32,
					int pseudo)
{
	__u32 off = ns_l4_csum_off(p);
	__u64 flags = is32 ? 4 : 2;

	if (!off || (pseudo && p->t.proto == IPPROTO_ICMP))
		return 0;
	if (pseudo)
		flags |= BPF_F_PSEUDO_HDR;
	if (p->t.proto == IPPROTO_UDP)
		flags |= BPF_F_MARK_MANGLED_0;
	return bpf_l4_csum_replace(p->ctx, off, from, to, flags) ? -1 : 0;
}

/**
 * ns_set_addr() - rewrite the IPv4 source (@dst=0) or destination address.
 * Patches the IPv4 header checksum and the TCP/UDP pseudo-header checksum.
 * Return: 0, -1 on a packet access failure.
 */
static __always_inline int ns_set_addr(struct ns_pkt *p, const bool is_tc, int dst, __be32 from,
				       __be32 to)
{
	__u32 off =
	    p->l3_off + (dst ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));

	if (from == to)
		return 0;
	if (is_tc) {
		if (bpf_l3_csum_replace(p->ctx, p->l3_off + offsetof(struct iphdr, check), from, to,
					4))
			return -1;
		if (ns_tc_l4_fix(p, from, to, 1, 1))
			return -1;
		return bpf_skb_store_bytes(p->ctx, off, &to, 4, 0) ? -1 : 0;
	} else {
		struct iphdr *ip = ns_ptr(p->ctx, false, p->l3_off, sizeof(*ip));

		if (!ip)
			return -1;
		ip->check = ns_csum_replace4(ip->check, from, to);
		if (dst)
			ip->daddr = to;
		else
			ip->saddr = to;
		return ns_xdp_l4_fix(p, from, to, 1, 1);
	}
}

/* Offset of the 16-bit "port" the tuple's sport (@dst=0) or dport maps to:
 * TCP/UDP ports, or the ICMP echo identifier. */
static __always_inline __u32 ns_port_off(const struct ns_pkt *p, int dst)
{
	if (p->t.proto == IPPROTO_ICMP)
		return p->l4_off + 4;
	return p->l4_off + (dst ? 2 : 0);
}

/**
 * ns_set_port() - rewrite a TCP/UDP port or the ICMP echo id.
 * Return: 0, -1 on a packet access failure.
 */
static __always_inline int ns_set_port(struct ns_pkt *p, const bool is_tc, int dst, __be16 from,
				       __be16 to)
{
	__u32 off = ns_port_off(p, dst);

	if (from == to)
		return 0;
	if (is_tc) {
		if (ns_tc_l4_fix(p, from, to, 0, 0))
			return -1;
		return bpf_skb_store_bytes(p->ctx, off, &to, 2, 0) ? -1 : 0;
	} else {
		__be16 *f = ns_ptr(p->ctx, false, off, 2);

		if (!f)
			return -1;
		*f = to;
		return ns_xdp_l4_fix(p, from, to, 0, 0);
	}
}

/**
 * ns_rewrite() - turn the packet's tuple p->t into @nt (same protocol).
 * ICMP echo: sport is the id of a request, dport the id of a reply; only the
 * one that differs is written. p->t is updated on success.
 */
static __always_inline int ns_rewrite(struct ns_pkt *p, const bool is_tc, const struct ns_tuple *nt)
{
	if (ns_set_addr(p, is_tc, 0, p->t.saddr, nt->saddr) ||
	    ns_set_addr(p, is_tc, 1, p->t.daddr, nt->daddr))
		return -1;
	if (p->t.proto == IPPROTO_ICMP) {
		if (p->icmp_type == ICMP_ECHO) {
			if (ns_set_port(p, is_tc, 0, p->t.sport, nt->sport))
				return -1;
		} else if (ns_set_port(p, is_tc, 1, p->t.dport, nt->dport)) {
			return -1;
		}
	} else {
		if (ns_set_port(p, is_tc, 0, p->t.sport, nt->sport) ||
		    ns_set_port(p, is_tc, 1, p->t.dport, nt->dport))
			return -1;
	}
	p->t = *nt;
	return 0;
}

/**
 * ns_dec_ttl() - decrement the IPv4 TTL and patch the header checksum
 * (only when the fast path forwards the packet itself).
 */
static __always_inline int ns_dec_ttl(struct ns_pkt *p, const bool is_tc)
{
	__u32 off = p->l3_off + offsetof(struct iphdr, ttl);
	__u16 *w = ns_ptr(p->ctx, is_tc, off, 2); /* ttl + protocol word */
	__u16 from, to;
	__u8 ttl;

	if (!w)
		return -1;
	from = *w;
	ttl = p->ttl - 1;
	to = from;
	((__u8 *)&to)[0] = ttl;
	if (is_tc) {
		if (bpf_l3_csum_replace(p->ctx, p->l3_off + offsetof(struct iphdr, check), from, to,
					2))
			return -1;
		if (bpf_skb_store_bytes(p->ctx, off, &ttl, 1, 0))
			return -1;
	} else {
		struct iphdr *ip = ns_ptr(p->ctx, false, p->l3_off, sizeof(*ip));

		if (!ip)
			return -1;
		ip->check = ns_csum_replace2(ip->check, from, to);
		ip->ttl = ttl;
	}
	p->ttl = ttl;
	return 0;
}

#endif /* NATSYNC_BPF_CSUM_H */
