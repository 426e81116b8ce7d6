/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcpopt.h - TCP options: the walk to the MSS option of a SYN and MSS
 * clamping (the value lowered, the TCP checksum following by RFC 1624).
 * NAT64 clamps the SYNs it translates (bpf/nat64.h, doc/nat64.md "MSS
 * clamping"); nothing IPv4-only clamps yet.
 */
#ifndef NATSYNC_BPF_TCPOPT_H
#define NATSYNC_BPF_TCPOPT_H

#include "bpf/csum.h"

/* The TCP options of a SYN, as read for MSS clamping (at most 40 bytes;
 * 64 so that indices can be masked with 63). */
struct ns_tcp_opts {
	__u8 b[64];
};

/**
 * ns_tcp_mss_at_g() - where the value of the MSS option sits in the first
 * @olen bytes of TCP options @o (offset from the first option byte), or 0
 * when there is none.
 *
 * Global (noinline): the option walk is verified once, not at every
 * translation that may clamp.
 */
__attribute__((noinline)) int ns_tcp_mss_at_g(const struct ns_tcp_opts *o, __u32 olen)
{
	__u32 i = 0, n;
	__u8 kind, len;

	if (!o || olen > 40)
		return 0;
	for (n = 0; n < 40; n++) {
		/* one range for i at every turn, so the verifier's states
		 * match from one turn to the next (i < 40 when used) */
		i &= 63;
		if (i + 1 >= olen)
			return 0;
		kind = o->b[i];
		if (kind == 0)
			return 0; /* end of the option list */
		if (kind == 1) {
			i++; /* no-operation */
			continue;
		}
		len = o->b[(i + 1) & 63];
		if (len < 2)
			return 0;
		if (kind == 2)
			return len == 4 && i + 4 <= olen ? (int)(i + 2) : 0;
		i += len;
	}
	return 0;
}

/**
 * ns_tcp_mss_clamp() - MSS clamping of a SYN: a TCP MSS option above @max
 * becomes @max, the TCP checksum follows (RFC 1624; the two bytes may
 * straddle two checksum words).
 * @l4:  the TCP header's offset;
 * @o:   where the options are read (off the stack: a per-CPU scratch).
 * Return: 0, or -1 when the frame cannot be read or written.
 */
static __always_inline int ns_tcp_mss_clamp(struct ns_pkt *p, const bool is_tc,
					    struct ns_tcp_opts *o, __u32 l4, const __u16 max)
{
	__u8 doff, b0, b1, nb[2] = { max >> 8, max & 0xff };
	__u32 olen;
	__u16 old, nw;
	int at;

	if (ns_pkt_load(p, is_tc, l4 + 12, &doff, 1))
		return -1;
	olen = (__u32)(doff >> 4) * 4;
	if (olen <= 20 || olen > 60)
		return 0;
	olen -= 20;
	if (ns_load(p->ctx, is_tc, l4 + 20, o->b, olen))
		return -1;
	at = ns_tcp_mss_at_g(o, olen);
	if (at <= 0 || at > 40)
		return 0;
	b0 = o->b[at & 63];
	b1 = o->b[(at + 1) & 63];
	if (((__u32)b0 << 8 | b1) <= max)
		return 0;
	/* the checksum words as the CPU loads them; at an odd offset the two
	 * bytes sit in swapped halves */
	if (at & 1) {
		old = (__u16)b1 | (__u16)b0 << 8;
		nw = (__u16)nb[1] | (__u16)nb[0] << 8;
	} else {
		old = (__u16)b0 | (__u16)b1 << 8;
		nw = (__u16)nb[0] | (__u16)nb[1] << 8;
	}
	if (ns_l4_csum_diff(p, is_tc, l4 + offsetof(struct tcphdr, check), ns_csum_delta2(old, nw),
			    0, 0))
		return -1;
	return ns_pkt_store(p, is_tc, l4 + 20 + at, nb, 2);
}

#endif /* NATSYNC_BPF_TCPOPT_H */
