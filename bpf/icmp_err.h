/* SPDX-License-Identifier: GPL-2.0 */
/*
 * icmp_err.h - ICMP error translation (RFC 5508): an error (unreachable,
 * time exceeded, parameter problem, source quench) about a translated flow
 * carries the flow's packet as the NAT emitted it. Find the session from
 * the quoted header, rewrite the quoted addresses/ports back (fixing the
 * quoted IPv4 checksum and, when quoted, the UDP or ICMP checksum), fold
 * every change into the outer ICMP checksum, rewrite the outer address, and
 * forward. An error never refreshes or removes a session (RFC 4787 REQ-12).
 *
 * Outside: quoted = pool:port -> remote, session via ns_session_rev;
 *          the quoted packet becomes in_key, the outer destination (pool)
 *          the subscriber.
 * Inside:  quoted = remote -> subscriber, session via ns_sessions; the
 *          quoted packet becomes out_key, the outer destination the remote
 *          as the outside knows it.
 * Either way the outer source is translated too when the quoted packet's
 * destination host sent the error itself (an intermediate router's own
 * address is left alone). All four quoted fields are rewritten, so source
 * and destination NAT (dnat-44, twice-nat) are both undone.
 * Checked: the ICMP checksum (messages up to 640 bytes), quoted header sane
 * and its checksum right (else NS_CNT_DROP_ICMP_ERR). Not checked: the
 * quoted transport checksum (RFC 5508 says not to). A quoted TCP checksum
 * lies beyond the 8 quoted bytes and is left as is.
 */
#ifndef NATSYNC_BPF_ICMP_ERR_H
#define NATSYNC_BPF_ICMP_ERR_H

#include "bpf/csum.h"
#include "bpf/fwd.h"
#include "bpf/session.h"

/* The quoted packet inside an ICMP error. */
struct ns_quoted {
	struct iphdr ip;			/* first 20 bytes of the quoted IPv4 header */
	__u8 l4[8] __attribute__((aligned(4))); /* first 8 bytes of its L4 header */
	struct ns_tuple t;			/* its tuple */
	__u32 ip_off;				/* offset of the quoted IPv4 header */
	__u32 l4_off;				/* offset of the quoted transport header */
};

/* Sum of the quoted IPv4 header (options included) must fold to 0xffff. */
static __always_inline int ns_quoted_csum_ok(struct ns_pkt *p, const bool is_tc, __u32 off,
					     __u32 hlen)
{
	__u8 hdr[60];
	__s64 sum;

	if (hlen < 20 || hlen > sizeof(hdr))
		return 0;
	__builtin_memset(hdr, 0, sizeof(hdr));
	if (ns_load(p->ctx, is_tc, off, hdr, hlen))
		return 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)hdr, hlen, 0);
	return ns_csum_fold((__u64)(__u32)sum) == 0xffff;
}

#define NS_ICMP_CSUM_CHUNK 64
#define NS_ICMP_CSUM_CHUNKS 10 /* errors are <= 576 B (RFC 1812); 640 checked */

/* The outer ICMP checksum must hold (RFC 5508 REQ-3): sum the message in
 * 64-byte chunks through a zero-padded buffer (zero padding is what the
 * checksum rules do to an odd last byte anyway). Longer messages than
 * NS_ICMP_CSUM_CHUNKS chunks are not verified. */
static __always_inline int ns_icmp_csum_ok(struct ns_pkt *p, const bool is_tc)
{
	__u32 len = p->ip_len - (p->l4_off - p->l3_off), off = 0, n, i;
	__u8 buf[NS_ICMP_CSUM_CHUNK];
	__s64 sum = 0;

	if (len > NS_ICMP_CSUM_CHUNK * NS_ICMP_CSUM_CHUNKS)
		return 1;
	for (i = 0; i < NS_ICMP_CSUM_CHUNKS; i++) {
		if (off >= len)
			break;
		n = len - off;
		if (n > NS_ICMP_CSUM_CHUNK)
			n = NS_ICMP_CSUM_CHUNK;
		/* re-bound n for the verifier: without the barrier clang
		 * drops the mask and hands over a signed-tracked copy */
		asm volatile("" : "+r"(n));
		n &= 2 * NS_ICMP_CSUM_CHUNK - 1;
		if (n == 0 || n > NS_ICMP_CSUM_CHUNK)
			return 0;
		__builtin_memset(buf, 0, sizeof(buf));
		if (ns_load(p->ctx, is_tc, p->l4_off + off, buf, n))
			return 0;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)buf, sizeof(buf), (__u32)sum);
		off += n;
	}
	return ns_csum_fold((__u64)(__u32)sum) == 0xffff;
}

/* Parse and validate the quoted packet. Return 0 when usable. */
static __always_inline int ns_quoted_parse(struct ns_pkt *p, const bool is_tc, struct ns_quoted *q)
{
	__u32 hlen;

	q->ip_off = p->l4_off + 8;
	if (ns_load(p->ctx, is_tc, q->ip_off, &q->ip, sizeof(q->ip)))
		return -1;
	if (q->ip.version != 4 || q->ip.ihl < 5 || (q->ip.frag_off & bpf_htons(0x1fff)))
		return -1;
	hlen = q->ip.ihl * 4;
	q->l4_off = q->ip_off + hlen;
	if (q->l4_off + 8 > p->l3_off + p->ip_len)
		return -1;
	if (ns_load(p->ctx, is_tc, q->l4_off, q->l4, sizeof(q->l4)))
		return -1;
	if (!ns_quoted_csum_ok(p, is_tc, q->ip_off, hlen))
		return -1;
	__builtin_memset(&q->t, 0, sizeof(q->t));
	q->t.saddr = q->ip.saddr;
	q->t.daddr = q->ip.daddr;
	q->t.proto = q->ip.protocol;
	switch (q->t.proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		__builtin_memcpy(&q->t.sport, q->l4, 2);
		__builtin_memcpy(&q->t.dport, q->l4 + 2, 2);
		return 0;
	case IPPROTO_ICMP:
		/* errors are only ever about queries, never about errors */
		if (q->l4[0] == ICMP_ECHO)
			__builtin_memcpy(&q->t.sport, q->l4 + 4, 2);
		else if (q->l4[0] == ICMP_ECHOREPLY)
			__builtin_memcpy(&q->t.dport, q->l4 + 4, 2);
		else
			return -1;
		return 0;
	}
	return -1;
}

/* 16-bit field at @off (0, 2, 4 or 6) of the quoted transport header, as
 * in memory. Constant offsets only: clang turns "base + (off & 7)" into an
 * OR on the stack pointer, which the verifier refuses. */
static __always_inline __u16 ns_q16(const struct ns_quoted *q, __u32 off)
{
	const __u16 *w = (const __u16 *)q->l4;

	switch (off) {
	case 0:
		return w[0];
	case 2:
		return w[1];
	case 4:
		return w[2];
	default:
		return w[3];
	}
}

static __always_inline void ns_q16_set(struct ns_quoted *q, __u32 off, __u16 v)
{
	__u16 *w = (__u16 *)q->l4;

	switch (off) {
	case 0:
		w[0] = v;
		break;
	case 2:
		w[1] = v;
		break;
	case 4:
		w[2] = v;
		break;
	default:
		w[3] = v;
	}
}

/* Change one quoted port/id at @off (0, 2 or 4) from @from to @to,
 * keeping the quoted UDP/ICMP checksum and the outer ICMP checksum right. */
static __always_inline void ns_quoted_port(struct ns_quoted *q, __u32 off, __be16 from, __be16 to,
					   __u16 *outer)
{
	__u16 c_old, c_new;

	if (from == to)
		return;
	ns_q16_set(q, off, to);
	*outer = ns_csum_replace2(*outer, from, to);
	if (q->t.proto == IPPROTO_UDP || q->t.proto == IPPROTO_ICMP) {
		__u32 coff = q->t.proto == IPPROTO_UDP ? 6 : 2;

		c_old = ns_q16(q, coff);
		if (q->t.proto == IPPROTO_UDP && c_old == 0)
			return;
		c_new = ns_csum_replace2(c_old, from, to);
		if (q->t.proto == IPPROTO_UDP && c_new == 0)
			c_new = 0xffff;
		ns_q16_set(q, coff, c_new);
		*outer = ns_csum_replace2(*outer, c_old, c_new);
	}
}

/* Change one quoted address (@dst: destination) from @from to @to. */
static __always_inline void ns_quoted_addr(struct ns_quoted *q, int dst, __be32 from, __be32 to,
					   __u16 *outer)
{
	__u16 c_old, c_new;

	if (from == to)
		return;
	if (dst)
		q->ip.daddr = to;
	else
		q->ip.saddr = to;
	*outer = ns_csum_replace4(*outer, from, to);
	c_old = q->ip.check;
	c_new = ns_csum_replace4(c_old, from, to);
	q->ip.check = c_new;
	*outer = ns_csum_replace2(*outer, c_old, c_new);
	/* the UDP checksum covers the pseudo-header addresses */
	if (q->t.proto == IPPROTO_UDP) {
		c_old = ns_q16(q, 6);
		if (!c_old)
			return;
		c_new = ns_csum_replace4(c_old, from, to);
		if (!c_new)
			c_new = 0xffff;
		ns_q16_set(q, 6, c_new);
		*outer = ns_csum_replace2(*outer, c_old, c_new);
	}
}

/* Offset of the quoted port/id that tuple field sport (@dst=0) or dport
 * maps to. */
static __always_inline __u32 ns_quoted_port_off(const struct ns_quoted *q, int dst)
{
	if (q->t.proto == IPPROTO_ICMP)
		return 4;
	return dst ? 2 : 0;
}

/**
 * ns_icmp_error() - translate an ICMP error about a known session.
 * Return: the verdict counter (forwarded, passed or NS_CNT_DROP_ICMP_ERR).
 */
static __always_inline __u32 ns_icmp_error(struct ns_pkt *p, const bool is_tc)
{
	struct ns_session *s;
	struct ns_tuple key, want, *in_key;
	struct ns_quoted q;
	__be32 qdst;
	__u16 outer;

	/* an error about a pool address is ours even if the kernel has no
	 * route for the pool */
	if (!p->to_pool && ns_is_local(p))
		return NS_CNT_PASS_LOCAL;
	if (!ns_icmp_csum_ok(p, is_tc) || ns_quoted_parse(p, is_tc, &q))
		return NS_CNT_DROP_ICMP_ERR;
	ns_tuple_reverse(&key, &q.t);
	if (p->side == NS_SIDE_OUTSIDE) {
		in_key = bpf_map_lookup_elem(&ns_session_rev, &key);
		if (!in_key)
			return NS_CNT_DROP_ICMP_ERR;
		s = bpf_map_lookup_elem(&ns_sessions, in_key);
	} else {
		s = bpf_map_lookup_elem(&ns_sessions, &key);
	}
	if (!s)
		return NS_CNT_DROP_ICMP_ERR;
	if (ns_load(p->ctx, is_tc, p->l4_off + 2, &outer, 2))
		return NS_CNT_DROP_ICMP_ERR;

	/*
	 * The quoted packet becomes what its sender really sent: outside,
	 * quoted = reverse(out_key) turns into in_key; inside, quoted =
	 * reverse(in_key) turns into out_key. Every field is rewritten (equal
	 * ones are no-ops), so destination NAT (dnat-44, twice-nat) is undone
	 * as well as source NAT.
	 */
	want = p->side == NS_SIDE_INSIDE ? s->out_key : s->in_key;
	qdst = q.t.daddr;
	ns_quoted_addr(&q, 0, q.t.saddr, want.saddr, &outer);
	ns_quoted_addr(&q, 1, q.t.daddr, want.daddr, &outer);
	ns_quoted_port(&q, ns_quoted_port_off(&q, 0), q.t.sport, want.sport, &outer);
	ns_quoted_port(&q, ns_quoted_port_off(&q, 1), q.t.dport, want.dport, &outer);
	if (ns_store(p->ctx, is_tc, q.ip_off, &q.ip, sizeof(q.ip)) ||
	    ns_store(p->ctx, is_tc, q.l4_off, q.l4, sizeof(q.l4)) ||
	    ns_store(p->ctx, is_tc, p->l4_off + 2, &outer, 2))
		return NS_CNT_DROP_ICMP_ERR;
	/*
	 * The outer header goes to the quoted packet's sender as it is known
	 * on the far side (want.saddr). When the quoted destination itself
	 * sent the error, its source becomes that host's address as the far
	 * side knows it (want.daddr: the pool address for an inside host, the
	 * pre-dnat address for a remote); a router's own address is kept.
	 */
	if (ns_set_addr(p, is_tc, 1, p->t.daddr, want.saddr))
		return NS_CNT_DROP_ICMP_ERR;
	p->t.daddr = want.saddr;
	if (p->t.saddr == qdst) {
		if (ns_set_addr(p, is_tc, 0, p->t.saddr, want.daddr))
			return NS_CNT_DROP_ICMP_ERR;
		p->t.saddr = want.daddr;
	}
	ns_count(NS_CNT_ICMP_ERR_XLATED);
	return ns_forward(p, is_tc);
}

/* Out-of-line per program type, so the quoted-header buffers live in
 * their own stack frame. */
static __attribute__((noinline)) __u32 ns_icmp_error_xdp(struct ns_pkt *p)
{
	return ns_icmp_error(p, false);
}

static __attribute__((noinline)) __u32 ns_icmp_error_tc(struct ns_pkt *p)
{
	return ns_icmp_error(p, true);
}

#endif /* NATSYNC_BPF_ICMP_ERR_H */
