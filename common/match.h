/* SPDX-License-Identifier: GPL-2.0 */
/*
 * match.h - term matching shared by the BPF fast path and userspace (unit
 * tests, natsyncctl display). Pure functions over common/natsync.h types: no
 * maps, no helpers, so the same code is verified by the kernel and by
 * Criterion.
 */
#ifndef NATSYNC_MATCH_H
#define NATSYNC_MATCH_H

#include "common/natsync.h"

#ifdef __BPF__
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#define NS_INLINE __always_inline
#define ns_ntohs(x) bpf_ntohs(x)
#define ns_htons(x) bpf_htons(x)
#define ns_ntohl(x) bpf_ntohl(x)
#define ns_htonl(x) bpf_htonl(x)
#else
#include <arpa/inet.h>
#define NS_INLINE inline
#define ns_ntohs(x) ntohs(x)
#define ns_htons(x) htons(x)
#define ns_ntohl(x) ntohl(x)
#define ns_htonl(x) htonl(x)
#endif

#ifndef IPPROTO_ICMP
#define IPPROTO_ICMP 1
#endif
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif
#ifndef IPPROTO_UDP
#define IPPROTO_UDP 17
#endif

/**
 * ns_prefix_mask() - network-order netmask for a prefix length.
 * @len: prefix length 0..32 (larger values are clamped to 32).
 */
static NS_INLINE __be32 ns_prefix_mask(__u32 len)
{
	if (len == 0)
		return 0;
	if (len > 32)
		len = 32;
	return ns_htonl(0xffffffffu << (32 - len));
}

/**
 * ns_prefix_match() - does @addr lie in @net/@mask (all network order)?
 * Bits of @net outside @mask are ignored, so an unnormalised prefix such as
 * 100.64.0.1/10 still means 100.64.0.0/10.
 */
static NS_INLINE int ns_prefix_match(__be32 addr, __be32 net, __be32 mask)
{
	return ((addr ^ net) & mask) == 0;
}

/* Ports exist only for TCP and UDP; for other protocols a term that
 * restricts ports cannot match (an ICMP id is not a port). */
static NS_INLINE int ns_range_full(__u16 lo, __u16 hi)
{
	return lo == 0 && hi == 0xffff;
}

/**
 * ns_match_ports() - port part of a match.
 * @m: the match; @t: the packet tuple (ports in network order).
 */
static NS_INLINE int ns_match_ports(const struct ns_match *m, const struct ns_tuple *t)
{
	__u16 sp, dp;

	if (t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP)
		return ns_range_full(m->sport_lo, m->sport_hi) &&
		       ns_range_full(m->dport_lo, m->dport_hi);
	sp = ns_ntohs(t->sport);
	dp = ns_ntohs(t->dport);
	return sp >= m->sport_lo && sp <= m->sport_hi && dp >= m->dport_lo && dp <= m->dport_hi;
}

/**
 * ns_match_tuple() - does a compiled term match a packet?
 * @m:   compiled match (addresses network order, ports host order).
 * @t:   the packet's tuple as it arrived (before translation).
 * @dir: NS_DIR_INPUT for packets arriving on an inside interface,
 *       NS_DIR_OUTPUT for packets arriving on an outside interface.
 *
 * Return: 1 on match, 0 otherwise. proto 0 matches every protocol.
 */
static NS_INLINE int ns_match_tuple(const struct ns_match *m, const struct ns_tuple *t, __u8 dir)
{
	if (!(m->dir_mask & dir))
		return 0;
	if (m->proto && m->proto != t->proto)
		return 0;
	if (!ns_prefix_match(t->saddr, m->src_addr, m->src_mask))
		return 0;
	if (!ns_prefix_match(t->daddr, m->dst_addr, m->dst_mask))
		return 0;
	return ns_match_ports(m, t);
}

#endif /* NATSYNC_MATCH_H */
