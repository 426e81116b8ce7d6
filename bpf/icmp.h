/* SPDX-License-Identifier: GPL-2.0 */
/*
 * icmp.h - firewall "reject" replies built in place from the offending
 * packet and sent back out of the interface it came in on: TCP RST for TCP,
 * ICMP destination unreachable (port unreachable for UDP, administratively
 * prohibited for the rest) carrying the offending IP header + 8 bytes.
 * The source address of the reply is the original destination, as a
 * firewall in the path would answer (iptables REJECT does the same).
 * Slow path: helpers (load/store bytes) are used instead of direct access.
 */
#ifndef NATSYNC_BPF_ICMP_H
#define NATSYNC_BPF_ICMP_H

#include "bpf/csum.h"

#define NS_REJECT_TTL 64
#define NS_ICMP_INNER_MAX 68 /* 60 B IPv4 header + 8 B */

/* IPv4 header for a locally generated reply, checksum included. */
static __always_inline void ns_reply_ip(struct iphdr *ip, const struct ns_pkt *p, __u8 proto,
					__u16 tot_len)
{
	__builtin_memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = bpf_htons(tot_len);
	ip->ttl = NS_REJECT_TTL;
	ip->protocol = proto;
	ip->saddr = p->t.daddr;
	ip->daddr = p->t.saddr;
	ns_ip4_csum(ip);
}

/* The longest L2 header the parser accepts: Ethernet + 2 VLAN tags. */
#define NS_L2_MAX 22

/*
 * ns_reply_frame() - make the frame exactly @len bytes long for a reply
 * that the caller then writes whole from p->l3_off on, and write its L2
 * header: the packet's own (VLAN tags kept) with the MACs swapped, so the
 * reply goes back where it came from.
 *
 * A reply longer than the packet (an ICMP error quoting 28 bytes, about a
 * UDP datagram with less than 28 bytes of payload) must grow the frame.
 * TC's bpf_skb_change_tail always can; XDP's tail can only grow into the
 * buffer's tailroom, and a driver may leave almost none (veth in native
 * mode copies a small frame into a buffer sized for it), while every XDP
 * buffer has headroom (XDP_PACKET_HEADROOM): when the tail cannot grow,
 * the head does. The L2 header is read first because the head move shifts
 * everything; the caller must have read what it quotes before.
 * Return: 0, or -1 when the frame cannot be resized.
 */
static __always_inline int ns_reply_frame(struct ns_pkt *p, const bool is_tc, __u32 len)
{
	__u32 l2 = p->l3_off, have = ns_frame_len(p->ctx, is_tc);
	__u8 h[NS_L2_MAX], m[6];

	if (l2 < ETH_HLEN || l2 > NS_L2_MAX || len < l2)
		return -1;
	if (ns_load(p->ctx, is_tc, 0, h, l2))
		return -1;
	if (ns_set_len(p->ctx, is_tc, len)) {
		if (is_tc || len <= have ||
		    bpf_xdp_adjust_head(p->ctx, -(int)(len - have)))
			return -1;
	}
	__builtin_memcpy(m, h, 6);
	__builtin_memcpy(h, h + 6, 6);
	__builtin_memcpy(h + 6, m, 6);
	return ns_store(p->ctx, is_tc, 0, h, l2) ? -1 : 0;
}

struct ns_pseudo {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

/* TCP RST answering p (a pure SYN in practice: non-SYNs never get here). */
static __always_inline int ns_build_rst(struct ns_pkt *p, const bool is_tc)
{
	struct {
		struct iphdr ip;
		struct tcphdr th;
	} r;
	struct ns_pseudo ph;
	struct tcphdr o;
	__u32 payload, seq;
	__s64 sum;

	if (ns_load(p->ctx, is_tc, p->l4_off, &o, sizeof(o)))
		return -1;
	payload = p->ip_len - (p->l4_off - p->l3_off) - o.doff * 4;
	ns_reply_ip(&r.ip, p, IPPROTO_TCP, sizeof(r));
	__builtin_memset(&r.th, 0, sizeof(r.th));
	r.th.source = o.dest;
	r.th.dest = o.source;
	r.th.doff = 5;
	r.th.rst = 1;
	if (o.ack) {
		r.th.seq = o.ack_seq;
	} else {
		seq = bpf_ntohl(o.seq) + payload + o.syn + o.fin;
		r.th.ack_seq = bpf_htonl(seq);
		r.th.ack = 1;
	}
	ph.saddr = r.ip.saddr;
	ph.daddr = r.ip.daddr;
	ph.zero = 0;
	ph.proto = IPPROTO_TCP;
	ph.len = bpf_htons(sizeof(r.th));
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.th, sizeof(r.th), (__u32)sum);
	r.th.check = ns_csum_final(sum);
	if (ns_reply_frame(p, is_tc, p->l3_off + sizeof(r)))
		return -1;
	return ns_store(p->ctx, is_tc, p->l3_off, &r, sizeof(r)) ? -1 : 0;
}

/* ICMP destination unreachable quoting the offending header + 8 bytes. */
static __always_inline int ns_build_unreach(struct ns_pkt *p, const bool is_tc)
{
	struct {
		struct iphdr ip;
		struct icmphdr ic;
	} r;
	__u8 inner[NS_ICMP_INNER_MAX];
	__u32 len = p->l4_off - p->l3_off + 8;
	__s64 sum;

	if (len > NS_ICMP_INNER_MAX || len < 28)
		return -1;
	__builtin_memset(inner, 0, sizeof(inner));
	if (ns_load(p->ctx, is_tc, p->l3_off, inner, len))
		return -1;
	ns_reply_ip(&r.ip, p, IPPROTO_ICMP, sizeof(r) + len);
	__builtin_memset(&r.ic, 0, sizeof(r.ic));
	r.ic.type = ICMP_DEST_UNREACH;
	r.ic.code = p->t.proto == IPPROTO_UDP ? ICMP_PORT_UNREACH : ICMP_PKT_FILTERED;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.ic, sizeof(r.ic), 0);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)inner, len, (__u32)sum);
	r.ic.checksum = ns_csum_final(sum);
	if (ns_reply_frame(p, is_tc, p->l3_off + sizeof(r) + len) ||
	    ns_store(p->ctx, is_tc, p->l3_off, &r, sizeof(r)))
		return -1;
	return ns_store(p->ctx, is_tc, p->l3_off + sizeof(r), inner, len) ? -1 : 0;
}

/**
 * ns_reject() - turn the packet into its reject reply and send it back.
 * Return: NS_CNT_TX_REJECT, or NS_CNT_DROP_MALFORMED if it could not be
 * built (the packet is then dropped; it was going to be refused anyway).
 */
static __always_inline __u32 ns_reject(struct ns_pkt *p, const bool is_tc)
{
	int rc;

	if (p->t.proto == IPPROTO_TCP)
		rc = ns_build_rst(p, is_tc);
	else
		rc = ns_build_unreach(p, is_tc);
	if (rc)
		return NS_CNT_DROP_MALFORMED;
	if (is_tc)
		bpf_redirect(p->ifindex, 0);
	return NS_CNT_TX_REJECT;
}

/* Out-of-line copies per program type: the reply buffers then live in the
 * callee's stack frame, not in the pipeline's (512 bytes for the whole
 * call chain). */
static __attribute__((noinline)) __u32 ns_reject_xdp(struct ns_pkt *p)
{
	return ns_reject(p, false);
}

static __attribute__((noinline)) __u32 ns_reject_tc(struct ns_pkt *p)
{
	return ns_reject(p, true);
}

#endif /* NATSYNC_BPF_ICMP_H */
