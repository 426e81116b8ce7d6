/* SPDX-License-Identifier: GPL-2.0 */
/*
 * icmp_err.h - ICMP error translation (RFC 5508): an error (unreachable,
 * time exceeded, parameter problem, source quench) about a translated flow
 * carries the flow's packet as the NAT emitted it. Find the session from
 * the quoted header, rewrite the quoted addresses/ports back (fixing the
 * quoted IPv4 checksum and, when quoted, the UDP or ICMP checksum), fold
 * every change into the outer ICMP checksum, rewrite the outer address, and
 * forward. An error never refreshes or removes a session (RFC 5508 REQ-6,
 * RFC 4787 REQ-12).
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
 * quoted transport checksum (RFC 5508 REQ-3 says not to). It is updated,
 * though, wherever the quote holds it (RFC 5508 REQ-4/REQ-5 a): the
 * transport header goes back to its original form): the UDP and ICMP
 * ones always lie in the 8 bytes every error carries, a TCP one (offset
 * 16) in the longer quotes Linux and most routers send (RFC 1812: as much
 * as fits in 576 bytes); a minimal 8-byte quote of TCP has none to fix.
 */
#ifndef NATSYNC_BPF_ICMP_ERR_H
#define NATSYNC_BPF_ICMP_ERR_H

#include "bpf/csum.h"
#include "bpf/fwd.h"
#include "bpf/session.h"

/* A quoted TCP checksum is in the quote when this many transport bytes are. */
#define NS_QTCP_CSUM_END (offsetof(struct tcphdr, check) + 2)

/* The quoted packet inside an ICMP error. */
struct ns_quoted {
	struct iphdr ip;			/* first 20 bytes of the quoted IPv4 header */
	__u8 l4[8] __attribute__((aligned(4))); /* first 8 bytes of its L4 header */
	struct ns_tuple t;			/* its tuple */
	__u32 ip_off;				/* offset of the quoted IPv4 header */
	__u32 l4_off;				/* offset of the quoted transport header */
	__u16 csum;				/* the quoted transport checksum, as in memory */
	__u16 csum_off;				/* its offset in the L4 header, 0: none */
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
	q->csum_off = 0;
	switch (q->t.proto) {
	case IPPROTO_TCP:
		__builtin_memcpy(&q->t.sport, q->l4, 2);
		__builtin_memcpy(&q->t.dport, q->l4 + 2, 2);
		/* the checksum when both the error and the quoted segment
		 * reach that far (bytes behind the segment are padding or
		 * RFC 4884 extensions, not TCP) */
		if (q->l4_off + NS_QTCP_CSUM_END <= p->l3_off + p->ip_len &&
		    hlen + NS_QTCP_CSUM_END <= bpf_ntohs(q->ip.tot_len)) {
			if (ns_load(p->ctx, is_tc, q->l4_off + offsetof(struct tcphdr, check),
				    &q->csum, 2))
				return -1;
			q->csum_off = offsetof(struct tcphdr, check);
		}
		return 0;
	case IPPROTO_UDP:
		__builtin_memcpy(&q->t.sport, q->l4, 2);
		__builtin_memcpy(&q->t.dport, q->l4 + 2, 2);
		__builtin_memcpy(&q->csum, q->l4 + 6, 2);
		q->csum_off = offsetof(struct udphdr, check);
		return 0;
	case IPPROTO_ICMP:
		/* errors are only ever about queries, never about errors */
		if (q->l4[0] == ICMP_ECHO)
			__builtin_memcpy(&q->t.sport, q->l4 + 4, 2);
		else if (q->l4[0] == ICMP_ECHOREPLY)
			__builtin_memcpy(&q->t.dport, q->l4 + 4, 2);
		else
			return -1;
		__builtin_memcpy(&q->csum, q->l4 + 2, 2);
		q->csum_off = offsetof(struct icmphdr, checksum);
		return 0;
	}
	return -1;
}

/*
 * The quoted transport checksum of protocol @proto, *@ck, follows a change
 * of the words it covers whose one's complement sum changed by @delta
 * (RFC 1624; pseudo-header words are the caller's to include or not), and
 * the outer ICMP checksum *@outer, which covers *@ck, follows that. UDP: 0
 * ("no checksum") stays 0, a computed 0 becomes 0xffff. Every quoted
 * transport checksum (UDP, TCP, ICMP echo; IPv4 and NAT64) goes through here.
 */
static __always_inline void ns_quoted_csum_fix(__u16 *ck, __u8 proto, __u32 delta, __u16 *outer)
{
	__u16 v;

	if (proto == IPPROTO_UDP && !*ck)
		return;
	v = ns_csum_add(*ck, delta);
	if (proto == IPPROTO_UDP && !v)
		v = 0xffff;
	*outer = ns_csum_replace2(*outer, *ck, v);
	*ck = v;
}

/* The same for the quoted packet @q, when its quote holds the checksum. */
static __always_inline void ns_quoted_csum(struct ns_quoted *q, __u32 delta, __u16 *outer)
{
	if (q->csum_off)
		ns_quoted_csum_fix(&q->csum, q->t.proto, delta, outer);
}

/* Set the 16-bit field at @off (0, 2, 4 or 6) of the quoted transport
 * header. Constant offsets only: clang turns "base + (off & 7)" into an OR
 * on the stack pointer, which the verifier refuses. */
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
 * keeping the quoted transport checksum and the outer ICMP checksum right. */
static __always_inline void ns_quoted_port(struct ns_quoted *q, __u32 off, __be16 from, __be16 to,
					   __u16 *outer)
{
	if (from == to)
		return;
	ns_q16_set(q, off, to);
	*outer = ns_csum_replace2(*outer, from, to);
	ns_quoted_csum(q, ns_csum_delta2(from, to), outer);
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
	/* the UDP and TCP checksums cover the pseudo-header addresses */
	if (q->t.proto != IPPROTO_ICMP)
		ns_quoted_csum(q, ns_csum_delta4(from, to), outer);
}

/* Offset of the quoted port/id that tuple field sport (@dst=0) or dport
 * maps to. */
static __always_inline __u32 ns_quoted_port_off(const struct ns_quoted *q, int dst)
{
	if (q->t.proto == IPPROTO_ICMP)
		return 4;
	return dst ? 2 : 0;
}

/*
 * ns_icmp_error_xlate() - one translation of an ICMP error about a known
 * session: the quoted packet back into what its sender sent, the outer
 * addresses to match. @flags: out, the session's flags.
 * Return: 0 (NS_CNT_RX, never a verdict) when translated, else the verdict.
 */
static __always_inline __u32 ns_icmp_error_xlate(struct ns_pkt *p, const bool is_tc,
						 __u32 *flags)
{
	struct ns_session *s;
	struct ns_tuple key, want, *in_key;
	struct ns_quoted q;
	__be32 qdst;
	__u16 outer;

	if (ns_quoted_parse(p, is_tc, &q))
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
	/* the quoted checksum last: the 8 bytes hold the old UDP/ICMP one */
	if (ns_store(p->ctx, is_tc, q.ip_off, &q.ip, sizeof(q.ip)) ||
	    ns_store(p->ctx, is_tc, q.l4_off, q.l4, sizeof(q.l4)) ||
	    (q.csum_off && ns_store(p->ctx, is_tc, q.l4_off + q.csum_off, &q.csum, 2)) ||
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
	*flags = s->flags;
	return 0;
}

/**
 * ns_icmp_error() - translate an ICMP error about a known session.
 * Return: the verdict counter (forwarded, passed or NS_CNT_DROP_ICMP_ERR).
 */
static __always_inline __u32 ns_icmp_error(struct ns_pkt *p, const bool is_tc)
{
	__u32 cnt, flags = 0;

	/* an error about a pool address is ours even if the kernel has no
	 * route for the pool */
	if (!p->to_pool && ns_is_local(p))
		return NS_CNT_PASS_LOCAL;
	if (!ns_icmp_csum_ok(p, is_tc))
		return NS_CNT_DROP_ICMP_ERR;
	cnt = ns_icmp_error_xlate(p, is_tc, &flags);
	if (cnt)
		return cnt;
	/* An error from the inside about a hairpinned flow (RFC 5508 REQ-7)
	 * is, once translated, an error from the outside about the other
	 * end's session: translate it once more (pipeline.h). */
	if (p->side == NS_SIDE_INSIDE && (flags & NS_SF_HAIRPIN)) {
		p->side = NS_SIDE_OUTSIDE;
		cnt = ns_icmp_error_xlate(p, is_tc, &flags);
		if (cnt)
			return cnt;
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
