/* SPDX-License-Identifier: GPL-2.0 */
/*
 * frag64.h - fragments through stateful NAT64 (RFC 6146 3.4/3.5, RFC 7915
 * 4.1/5.1.1; doc/nat64.md "Fragments"), in programs of their own:
 * natsync_xdp_frag64 and natsync_tc_frag64. The main programs verify close
 * to the 1M-instruction limit, so they only recognise a NAT64 fragment
 * (an IPv6 Fragment header towards a pref64, an IPv4 first fragment of a
 * NAT64 session, a later IPv4 fragment whose datagram becomes IPv6) and
 * tail-call here (ns_frag64_tail(), frag.h); a tail call that fails leaves the
 * fragment dropped as drop_fragment, as before this existed.
 *
 *  - a first fragment (offset 0) holds the L4 header: the NAT64 code
 *    translates it through its session as any packet (the L4 checksum
 *    covers the whole datagram and its pseudo-header change is
 *    incremental), adding or removing the IPv6 Fragment header, and the
 *    translation is recorded in ns_frag (frag.h) under the fragment's key
 *    as it arrived: IPv4 (saddr, daddr, ID, proto, side) or IPv6 (saddr6,
 *    daddr6, 32-bit identification, proto, side).
 *  - a later fragment takes the recorded addresses and the header
 *    translation: IPv4 ID -> identification, offset and MF -> M, and
 *    back (the low 16 bits of the identification become the IPv4 ID).
 *  - a later fragment before its first one is held by the daemon through
 *    ns_frag_ring, as for NAT44 (daemon/frag.c translates it once the
 *    first one's record tells how).
 * Not translated (drop_fragment): fragmented ICMP (the ICMPv6 checksum
 * covers the datagram's length, which the first fragment does not tell),
 * fragmented IPv4 UDP without checksum (RFC 6146 3.4), hairpinned
 * fragments.
 */
#ifndef NATSYNC_BPF_FRAG64_H
#define NATSYNC_BPF_FRAG64_H

#include "bpf/pipeline.h"

/* A later IPv6 fragment (sc->fr, key sc->fk) of @payload L4 bytes: IPv4
 * with the first fragment's addresses, or held. */
static __always_inline __u32 ns_frag64_later6(struct ns_pkt *p, const bool is_tc,
					      struct ns64_scratch *sc)
{
	__u32 payload = p->ip_len - NS_IP6_HLEN - sizeof(struct ns_ip6frag);
	struct ns_frag *e;
	int raced;

	if (!p->active)
		return NS_CNT_DROP_INACTIVE;
	if (p->ttl <= 1)
		return NS_CNT_PASS_TTL;
	e = bpf_map_lookup_elem(&ns_frag, &sc->fk);
	if (!e) {
		e = ns_frag_new(&sc->fk, &raced);
		if (!e) {
			ns_count(NS_CNT_FRAG_TRACK_FULL);
			return NS_CNT_DROP_FRAGMENT;
		}
	}
	if (!e->first)
		return ns_frag_hold_later(p, is_tc, e, &sc->fk, payload, sc->fr.off * 8u,
					  sc->fr.mf);
	if (e->xlat != NS_FRAG_X6TO4)
		return NS_CNT_DROP_FRAGMENT;
	if (ns64_put_ip4(p, is_tc, sc, true, payload, e->new_saddr, e->new_daddr))
		return NS_CNT_DROP_MALFORMED;
	p->t.saddr = e->new_saddr;
	p->t.daddr = e->new_daddr;
	ns_count(NS_CNT_FRAG_XLATED);
	ns_count(NS_CNT_NAT64_OUT);
	ns_frag_account(e, &sc->fk, payload, sc->fr.off * 8u, sc->fr.mf);
	return ns_forward(p, is_tc);
}

/* Out of line per program type: its forwarding (fib lookup) gets a stack
 * frame of its own, off the chain that opens sessions. */
static __attribute__((noinline)) __u32 ns_frag64_later6_xdp(struct ns_pkt *p,
							    struct ns64_scratch *sc)
{
	return ns_frag64_later6(p, false, sc);
}

static __attribute__((noinline)) __u32 ns_frag64_later6_tc(struct ns_pkt *p,
							   struct ns64_scratch *sc)
{
	return ns_frag64_later6(p, true, sc);
}

/* An IPv6 packet with a Fragment header towards a pref64. */
static __always_inline __u32 ns_frag64_from_inside(struct ns_pkt *p, const bool is_tc,
						   const struct ns_cfg *cfg,
						   const struct ns_svc *svc, __u32 svc_id,
						   struct ns64_scratch *sc)
{
	__u32 cnt = ns64_from_inside(p, is_tc, cfg, svc, svc_id, true);

	if (cnt == NS64_FRAG_LATER)
		return is_tc ? ns_frag64_later6_tc(p, sc) : ns_frag64_later6_xdp(p, sc);
	/* the first fragment, now IPv4: its addresses for the rest */
	if (sc->fr.on && !sc->fr.off && sc->fr.mf)
		ns_frag_first_rec(&sc->fk, cnt, NS_FRAG_X6TO4, p->t.saddr, p->t.daddr, NULL, NULL,
				  ns_frag_payload(p));
	return cnt == NS64_FRAG ? NS_CNT_DROP_FRAGMENT : cnt;
}

/* A later IPv4 fragment whose datagram becomes IPv6 (its first one went
 * through ns_frag64_first4()). */
static __always_inline __u32 ns_frag64_later4(struct ns_pkt *p, const bool is_tc,
					      struct ns64_scratch *sc)
{
	struct ns_ip6hdr *h6 = &sc->h6;
	struct ns_frag *e;
	__u32 payload = ns_frag_payload(p);
	__be16 id;
	__u16 fo;

	if (ns_frag_hdr(p, is_tc, &id, &fo))
		return NS_CNT_DROP_MALFORMED;
	ns_frag_key_of(p, id, &sc->fk);
	e = bpf_map_lookup_elem(&ns_frag, &sc->fk);
	/* gone since the main program looked (complete, or expired) */
	if (!e || !e->first || e->xlat != NS_FRAG_X4TO6)
		return NS_CNT_DROP_FRAGMENT;
	if (p->l4_off != p->l3_off + NS_IP4_HLEN || p->vlans > (is_tc ? 0 : 1))
		return NS_CNT_DROP_UNSUPPORTED; /* IPv4 options, as for NAT64 */
	sc->fr.on = 1;
	sc->fr.id = bpf_htonl(bpf_ntohs(id));
	sc->fr.off = fo & NS_IP_OFFMASK;
	sc->fr.mf = !!(fo & NS_IP_MF);
	if (ns64_put_ip6(p, is_tc, sc, true, payload,
			 p->t.proto == IPPROTO_ICMP ? NS_IPPROTO_ICMPV6 : p->t.proto,
			 e->new_saddr6, e->new_daddr6))
		return NS_CNT_DROP_MALFORMED;
	ns_count(NS_CNT_FRAG_XLATED);
	ns_count(NS_CNT_NAT64_IN);
	ns_frag_account(e, &sc->fk, payload, (fo & NS_IP_OFFMASK) * 8, fo & NS_IP_MF);
	return ns64_forward6(p, is_tc, h6);
}

/* The first IPv4 fragment of a NAT64 session's datagram. */
static __always_inline __u32 ns_frag64_first4(struct ns_pkt *p, const bool is_tc,
					      const struct ns_cfg *cfg,
					      const struct ns_svc *svc, __u32 svc_id,
					      struct ns64_scratch *sc)
{
	__u32 cnt;

	if (!ns_frag_first(p, is_tc, &sc->fk))
		return NS_CNT_DROP_FRAGMENT; /* only first fragments come here */
	sc->fr.on = 1;
	sc->fr.id = bpf_htonl(bpf_ntohs(sc->fk.id));
	sc->fr.off = 0;
	sc->fr.mf = 1;
	cnt = ns64_from_outside(p, is_tc, cfg, svc, svc_id, true);
	if (cnt == NS_CONTINUE || cnt == NS64_FRAG)
		return NS_CNT_DROP_FRAGMENT; /* the session went meanwhile */
	ns_frag_first_rec(&sc->fk, cnt, NS_FRAG_X4TO6, 0, 0, sc->h6.saddr, sc->h6.daddr,
			  ns_frag_payload(p));
	return cnt;
}

/* Out of line per program type: IPv4 -> IPv6 gets its own stack frame
 * (inlined with IPv6 -> IPv4 it outgrows the 512 bytes of the call
 * chain), as ns64_from_outside_xdp/_tc in the main programs. */
static __attribute__((noinline)) __u32 ns_frag64_first4_xdp(struct ns_pkt *p,
							    const struct ns_cfg *cfg,
							    const struct ns_svc *svc, __u32 svc_id,
							    struct ns64_scratch *sc)
{
	return ns_frag64_first4(p, false, cfg, svc, svc_id, sc);
}

static __attribute__((noinline)) __u32 ns_frag64_first4_tc(struct ns_pkt *p,
							   const struct ns_cfg *cfg,
							   const struct ns_svc *svc, __u32 svc_id,
							   struct ns64_scratch *sc)
{
	return ns_frag64_first4(p, true, cfg, svc, svc_id, sc);
}

/* What a frag64 program does with the fragment its main program passed. */
static __always_inline __u32 ns_frag64_pipeline(void *ctx, const bool is_tc)
{
	struct ns64_scratch *sc;
	struct ns_svc *svc;
	struct ns_cfg *cfg;
	struct ns_pkt p;
	__u32 cnt, svc_id;
	int rc;

	cnt = ns_pipeline_begin(ctx, is_tc, &p, &cfg, &svc, &svc_id, &rc);
	if (cnt != NS_CONTINUE)
		return cnt;
	sc = ns64_scratch();
	if (!sc)
		return NS_CNT_DROP_FRAGMENT;
	__builtin_memset(&sc->fr, 0, sizeof(sc->fr));
	if (rc == NS_PARSE_IPV6)
		return ns_frag64_from_inside(&p, is_tc, cfg, svc, svc_id, sc);
	cnt = ns_classify(&p, rc);
	if (cnt != NS_CONTINUE)
		return cnt;
	if (rc == NS_PARSE_FRAGMENT)
		return ns_frag64_later4(&p, is_tc, sc);
	if (p.side != NS_SIDE_OUTSIDE)
		return NS_CNT_DROP_FRAGMENT;
	return is_tc ? ns_frag64_first4_tc(&p, cfg, svc, svc_id, sc)
		     : ns_frag64_first4_xdp(&p, cfg, svc, svc_id, sc);
}

/* Entry helper of the frag64 programs: RX was counted by the main one. */
static __always_inline int ns_run_frag64(void *ctx, const bool is_tc)
{
	__u32 cnt = ns_frag64_pipeline(ctx, is_tc);

	ns_count(cnt);
	return ns_action(cnt, is_tc);
}

#endif /* NATSYNC_BPF_FRAG64_H */
