/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nat64.h - stateful NAT64 (RFC 6146) translation: RFC 7915 header
 * translation and the ICMP <-> ICMPv6 errors about NAT64 flows. The
 * address mapping (RFC 6052) is in nat64_addr.h, the bindings and
 * sessions (EIM/EIF, hairpinning, the per-subscriber limit) in
 * nat64_bib.h, MSS clamping in tcpopt.h, the shared scratch in
 * nat64_types.h.
 *
 *  inside, IPv6 to a pref64 address of a stateful-nat64 term:
 *    ns_nat64_sess[IPv6 tuple] -> session; on a miss ns64_open()
 *    (nat64_bib.h) opens one; then the packet becomes IPv4: source = pool
 *    address:port, destination = the IPv4 address embedded in the IPv6
 *    destination.
 *  outside, IPv4 whose tuple is in ns_nat64_rev: the packet becomes
 *    IPv6: source = pref64 + IPv4 source, destination = the subscriber.
 *
 * The header grows or shrinks by 20 bytes: bpf_xdp_adjust_head() in XDP,
 * bpf_skb_change_proto() in TC. Checksums are patched incrementally with
 * bpf_csum_diff() over the changed pseudo-header words; ICMPv6 covers a
 * pseudo-header and ICMPv4 does not, so echo messages get the pseudo-header
 * taken out or put in. ICMP errors about NAT64 flows are translated both
 * ways (RFC 7915 4.2-4.3, 5.2-5.3: the quoted packet too, the frame grows
 * or shrinks by 40 bytes). Fragments (IPv6 Fragment header, IPv4 MF or
 * offset) are translated by the natsync_*_frag64 programs (frag64.h),
 * which instantiate these functions with @frag set; the main programs
 * hand them over with a tail call (NS64_FRAG). Not translated (dropped and
 * counted): other IPv6 extension headers, IPv4 options on NAT64 flows, the
 * rarer ICMP error types, IPv6 frames with two VLAN tags (XDP) or a tag in
 * the frame (TC) (doc/nat64.md).
 */
#ifndef NATSYNC_BPF_NAT64_H
#define NATSYNC_BPF_NAT64_H

#include "bpf/csum.h"
#include "bpf/fwd.h"
#include "bpf/icmp_err.h"
#include "bpf/nat64_addr.h"
#include "bpf/nat64_bib.h"
#include "bpf/nat64_types.h"
#include "bpf/session.h"
#include "bpf/tcpopt.h"

/* RFC 6146 has no MSS rule; an IPv6 packet of 1500 bytes holds a TCP
 * segment of 1440 bytes, its IPv4 form 1460: translated SYNs announce at
 * most 1440 so that no segment of the flow outgrows a 1500-byte IPv6 link
 * (doc/nat64.md, "MSS clamping"). */
#define NS64_MSS_MAX 1440

/* ns64_parse6(): an ICMPv6 error, for ns64_icmp6_error() (never a counter). */
#define NS64_ICMP6_ERR (NS_CNT_MAX + 7)

static __always_inline int ns64_is_exthdr(__u8 nh)
{
	/* hop-by-hop, routing, fragment, ESP, AH, destination options,
	 * mobility, HIP, shim6 */
	return nh == 0 || nh == 43 || nh == 44 || nh == 50 || nh == 51 || nh == 60 || nh == 135 ||
	       nh == 139 || nh == 140;
}

/*
 * Parse the IPv6 header at p->l3_off and the L4 header behind it into
 * sc->h6 / sc->k and p (l4_off, ip_len, ttl, tos, tcp_flags, icmp_type;
 * p->t.proto = the IPv4 protocol). Return NS_CONTINUE, or the verdict for
 * a packet that is not a translatable one: @own says whether the packet is
 * NAT64's (its destination in a pref64) to tell "drop" from "not ours".
 */
static __always_inline __u32 ns64_parse6(struct ns_pkt *p, const bool is_tc,
					 struct ns64_scratch *sc, __u32 svc_id, __u32 n_terms,
					 const bool frag)
{
	struct ns_ip6hdr *h = ns_ptr(p->ctx, is_tc, p->l3_off, sizeof(*h));
	struct ns_tuple6 *k = &sc->k;
	__u32 plen, l4 = p->l3_off + NS_IP6_HLEN;
	__u8 nh;

	if (!h || (h->vtc >> 4) != 6)
		return NS_CNT_DROP_MALFORMED;
	sc->h6 = *h;
	plen = bpf_ntohs(h->payload_len);
	if (l4 + plen > ns_frame_len(p->ctx, is_tc))
		return NS_CNT_DROP_MALFORMED;
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, sc->h6.saddr, 16);
	__builtin_memcpy(k->daddr, sc->h6.daddr, 16);
	nh = sc->h6.nexthdr;
	p->ip_len = NS_IP6_HLEN + plen;
	p->ttl = sc->h6.hop_limit;
	p->tos = (sc->h6.vtc << 4) | (sc->h6.tc_flow >> 4);
	if (nh == 44) {
		struct ns_ip6frag *f;
		__u16 fo;

		if (ns64_term_g(svc_id, n_terms, p->bank, k) < 0)
			return NS_CNT_PASS_NON_IP;
		if (!frag)
			return NS64_FRAG;
		/* RFC 7915 5.1.1: the Fragment header's fields carry over */
		f = ns_ptr(p->ctx, is_tc, l4, sizeof(*f));
		if (!f || plen < sizeof(*f))
			return NS_CNT_DROP_MALFORMED;
		fo = bpf_ntohs(f->frag_off);
		sc->fr.on = 1;
		sc->fr.id = f->id;
		sc->fr.off = fo >> 3;
		sc->fr.mf = fo & 1;
		nh = f->nexthdr;
		l4 += sizeof(*f);
		plen -= sizeof(*f);
		__builtin_memset(&sc->fk, 0, sizeof(sc->fk));
		__builtin_memcpy(sc->fk.saddr6, sc->h6.saddr, 16);
		__builtin_memcpy(sc->fk.daddr6, sc->h6.daddr, 16);
		sc->fk.id6 = f->id;
		sc->fk.proto = nh;
		sc->fk.side = p->side;
		sc->fk.v6 = 1;
		/* ICMPv6's checksum covers the datagram's length, which its
		 * first fragment does not tell: not translated (RFC 6146 3.4
		 * lets a NAT64 drop what it does not reassemble) */
		if (nh != IPPROTO_TCP && nh != IPPROTO_UDP)
			return ns64_is_exthdr(nh) ? NS_CNT_DROP_IPV6_EXTHDR : NS_CNT_DROP_FRAGMENT;
		if (sc->fr.off) {
			p->l4_off = l4;
			p->t.proto = nh;
			return NS64_FRAG_LATER;
		}
	}
	k->proto = nh;
	p->l4_off = l4;
	if (nh != IPPROTO_TCP && nh != IPPROTO_UDP && nh != NS_IPPROTO_ICMPV6) {
		if (ns64_term_g(svc_id, n_terms, p->bank, k) < 0)
			return NS_CNT_PASS_NON_IP;
		return ns64_is_exthdr(nh) ? NS_CNT_DROP_IPV6_EXTHDR : NS_CNT_DROP_UNSUPPORTED;
	}
	if (nh == IPPROTO_TCP) {
		struct tcphdr *th = ns_ptr(p->ctx, is_tc, l4, sizeof(*th));

		if (!th || plen < sizeof(*th) || th->doff < 5 || plen < th->doff * 4u)
			goto bad_l4;
		k->sport = th->source;
		k->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		p->t.proto = IPPROTO_TCP;
	} else if (nh == IPPROTO_UDP) {
		struct udphdr *uh = ns_ptr(p->ctx, is_tc, l4, sizeof(*uh));

		if (!uh || plen < sizeof(*uh) || bpf_ntohs(uh->len) < sizeof(*uh))
			goto bad_l4;
		k->sport = uh->source;
		k->dport = uh->dest;
		p->t.proto = IPPROTO_UDP;
	} else {
		struct icmphdr *ih = ns_ptr(p->ctx, is_tc, l4, sizeof(*ih));

		if (!ih || plen < sizeof(*ih))
			goto bad_l4;
		p->icmp_type = ih->type;
		p->icmp_code = ih->code;
		if (ih->type == NS_ICMPV6_ECHO_REQUEST) {
			k->sport = ih->un.echo.id;
		} else if (ih->type == NS_ICMPV6_ECHO_REPLY) {
			k->dport = ih->un.echo.id;
		} else if (ih->type >= 1 && ih->type <= 4) {
			return NS64_ICMP6_ERR; /* maybe about a NAT64 flow */
		} else {
			/* neighbour discovery and the like are the kernel's;
			 * errors about NAT64 flows are not translated */
			if (ns64_term_g(svc_id, n_terms, p->bank, k) < 0)
				return NS_CNT_PASS_NON_IP;
			return NS_CNT_DROP_UNSUPPORTED;
		}
		p->t.proto = IPPROTO_ICMP;
	}
	return NS_CONTINUE;
bad_l4:
	if (ns64_term_g(svc_id, n_terms, p->bank, k) < 0)
		return NS_CNT_PASS_NON_IP;
	return NS_CNT_DROP_MALFORMED;
}

/*
 * XDP: move the L2 header (Ethernet and at most one VLAN tag, p->l3_off
 * bytes) by @delta bytes (positive: the frame shrinks at the front) and
 * set the ethertype in front of L3 to @proto. The tag is kept: the frame
 * leaves on the VLAN it came from.
 */
static __always_inline int ns64_xdp_move_l2(struct ns_pkt *p, struct ns64_scratch *sc, int delta,
					    __u16 proto)
{
	__be16 pr = bpf_htons(proto);
	int tagged = p->vlans != 0;

	if (p->vlans > 1 || ns_load(p->ctx, false, 0, sc->l2, tagged ? NS64_L2_MAX : ETH_HLEN))
		return -1;
	if (bpf_xdp_adjust_head(p->ctx, delta))
		return -1;
	if (tagged) {
		__builtin_memcpy(sc->l2 + NS64_L2_MAX - 2, &pr, 2);
		return ns_pkt_store(p, false, 0, sc->l2, NS64_L2_MAX);
	}
	__builtin_memcpy(sc->l2 + ETH_HLEN - 2, &pr, 2);
	return ns_pkt_store(p, false, 0, sc->l2, ETH_HLEN);
}

/* One's complement sum (unfolded, 32 bits) of @len bytes at @off, in
 * slices through sc->buf; 0 with *@sum set, or -1 when longer than
 * NS64_CSUM_CHUNKS slices. */
static __always_inline int ns64_sum(struct ns_pkt *p, const bool is_tc, struct ns64_scratch *sc,
				    __u32 off, __u32 len, __u32 *out)
{
	__u32 done = 0, n, n4, i;
	__u64 sum = 0;

	for (i = 0; i < NS64_CSUM_CHUNKS; i++) {
		if (done >= len)
			break;
		n = len - done;
		if (n > NS64_CSUM_CHUNK)
			n = NS64_CSUM_CHUNK;
		/* 1 <= n <= 512 already; restated in arithmetic the verifier
		 * follows (a compare on a copy would not bound n itself) */
		asm volatile("" : "+r"(n));
		n = ((n - 1) & (NS64_CSUM_CHUNK - 1)) + 1;
		n4 = (n + 3) & 0x3fc;
		if (n4 < 4 || n4 > NS64_CSUM_CHUNK)
			return -1;
		*(__u32 *)(sc->buf + n4 - 4) = 0;
		if (ns_load(p->ctx, is_tc, off + done, sc->buf, n))
			return -1;
		sum = (__u32)bpf_csum_diff(0, 0, (__be32 *)sc->buf, n4, (__u32)sum);
		done += n;
	}
	if (done < len)
		return -1;
	*out = (__u32)sum;
	return 0;
}

/*
 * Replace the IPv6 header (and the Fragment header of a fragment: @frag
 * and sc->fr.on) at p->l3_off by an IPv4 one (written in sc->h4) of @plen
 * L4 bytes from @saddr to @daddr, TOS, TTL and protocol from @p; p->l4_off
 * and p->ip_len follow. A fragment's header takes the low 16 bits of the
 * identification, the offset and M as MF, DF clear (RFC 7915 5.1.1);
 * another packet a random identification, DF above 1260 bytes (RFC 7915
 * 5.1). The header checksum is computed here.
 */
static __always_inline int ns64_put_ip4(struct ns_pkt *p, const bool is_tc,
					struct ns64_scratch *sc, const bool frag, __u32 plen,
					__be32 saddr, __be32 daddr)
{
	struct iphdr *h4 = &sc->h4;
	int fh = frag && sc->fr.on ? sizeof(struct ns_ip6frag) : 0;

	__builtin_memset(h4, 0, sizeof(*h4));
	h4->version = 4;
	h4->ihl = 5;
	h4->tos = p->tos;
	h4->tot_len = bpf_htons(plen + NS_IP4_HLEN);
	if (fh) {
		h4->id = bpf_htons(bpf_ntohl(sc->fr.id) & 0xffff);
		h4->frag_off = bpf_htons((sc->fr.off & 0x1fff) | (sc->fr.mf ? 0x2000 : 0));
	} else {
		h4->id = (__be16)bpf_get_prandom_u32();
		if (plen + NS_IP4_HLEN > 1260)
			h4->frag_off = bpf_htons(0x4000);
	}
	h4->ttl = p->ttl; /* decremented once, when forwarded */
	h4->protocol = p->t.proto;
	h4->saddr = saddr;
	h4->daddr = daddr;
	ns_ip4_csum(h4);
	if (is_tc) {
		__be16 proto = bpf_htons(ETH_P_IP);

		if (bpf_skb_change_proto(p->ctx, proto, 0) ||
		    (fh && bpf_skb_adjust_room(p->ctx, -fh, BPF_ADJ_ROOM_MAC, 0)) ||
		    ns_pkt_store(p, true, offsetof(struct ethhdr, h_proto), &proto, 2))
			return -1;
	} else if (ns64_xdp_move_l2(p, sc, NS_HDR_DELTA + fh, ETH_P_IP)) {
		return -1;
	}
	if (ns_pkt_store(p, is_tc, p->l3_off, h4, sizeof(*h4)))
		return -1;
	p->l4_off = p->l3_off + NS_IP4_HLEN;
	p->ip_len = plen + NS_IP4_HLEN;
	return 0;
}

/*
 * Replace the IPv4 header at p->l3_off by an IPv6 one (written in sc->h6)
 * of @plen L4 bytes of next header @nh from @saddr to @daddr, traffic
 * class and hop limit from @p; p->l4_off and p->ip_len follow. A fragment
 * (@frag and sc->fr.on) gets a Fragment header behind it with the IPv4 ID
 * as the identification, the offset and MF as M (RFC 7915 4.1). sc->h6 is
 * left as written (next header 44 for a fragment).
 */
static __always_inline int ns64_put_ip6(struct ns_pkt *p, const bool is_tc,
					struct ns64_scratch *sc, const bool frag, __u32 plen,
					__u8 nh, const __u8 *saddr, const __u8 *daddr)
{
	struct ns_ip6hdr *h6 = &sc->h6;
	int fh = frag && sc->fr.on ? sizeof(struct ns_ip6frag) : 0;

	__builtin_memset(h6, 0, sizeof(*h6));
	h6->vtc = 0x60 | (p->tos >> 4);
	h6->tc_flow = (p->tos & 0xf) << 4;
	h6->payload_len = bpf_htons(plen + fh);
	h6->nexthdr = nh;
	h6->hop_limit = p->ttl; /* decremented once, when forwarded */
	__builtin_memcpy(h6->saddr, saddr, 16);
	__builtin_memcpy(h6->daddr, daddr, 16);
	if (fh) {
		struct ns_ip6frag *f = (struct ns_ip6frag *)sc->fh;

		f->nexthdr = nh;
		f->reserved = 0;
		f->frag_off = bpf_htons((sc->fr.off << 3) | (sc->fr.mf ? 1 : 0));
		f->id = sc->fr.id;
		h6->nexthdr = 44;
	}
	if (is_tc) {
		__be16 proto = bpf_htons(ETH_P_IPV6);

		if (bpf_skb_change_proto(p->ctx, proto, 0) ||
		    (fh && bpf_skb_adjust_room(p->ctx, fh, BPF_ADJ_ROOM_MAC, 0)) ||
		    ns_pkt_store(p, true, offsetof(struct ethhdr, h_proto), &proto, 2))
			return -1;
	} else if (ns64_xdp_move_l2(p, sc, -NS_HDR_DELTA - fh, ETH_P_IPV6)) {
		return -1;
	}
	if (ns_pkt_store(p, is_tc, p->l3_off, h6, sizeof(*h6)) ||
	    (fh && ns_pkt_store(p, is_tc, p->l3_off + NS_IP6_HLEN, sc->fh, sizeof(sc->fh))))
		return -1;
	p->l4_off = p->l3_off + NS_IP6_HLEN + fh;
	p->ip_len = plen + NS_IP6_HLEN + fh;
	return 0;
}

/*
 * IPv6 -> IPv4 for session @s (RFC 7915 section 5): L4 first (ports, ICMP
 * type, checksums) while the offsets are the IPv6 ones, then the header
 * shrinks by 20 bytes and the IPv4 header is written. p is left describing
 * the IPv4 packet (tuple = reverse(out_key)).
 */
static __always_inline int ns64_6to4(struct ns_pkt *p, const bool is_tc, struct ns64_scratch *sc,
				     const struct ns_session *s, const bool frag)
{
	struct ns64_csum6 *c6 = &sc->c6;
	struct ns64_csum4 *c4 = &sc->c4;
	__u32 l4 = p->l4_off, plen = p->ip_len - NS_IP6_HLEN;
	__be16 nport = s->out_key.dport; /* pool port / echo id */
	__u8 icmp_type = p->icmp_type == NS_ICMPV6_ECHO_REQUEST ? ICMP_ECHO : ICMP_ECHOREPLY;
	__be32 w0, w1;
	__s64 diff;

	if (frag && sc->fr.on)
		plen -= sizeof(struct ns_ip6frag);
	__builtin_memset(c6, 0, sizeof(*c6));
	__builtin_memset(c4, 0, sizeof(*c4));
	__builtin_memcpy(c6->saddr, sc->h6.saddr, 16);
	__builtin_memcpy(c6->daddr, sc->h6.daddr, 16);
	c4->saddr = s->out_key.daddr;
	c4->daddr = s->out_key.saddr;
	if (p->t.proto == IPPROTO_TCP && (p->tcp_flags & 0x02) &&
	    ns_tcp_mss_clamp(p, is_tc, &sc->opt, l4, NS64_MSS_MAX))
		return -1;
	if (ns_pkt_load(p, is_tc, l4, &w0, 4) || ns_pkt_load(p, is_tc, l4 + 4, &w1, 4))
		return -1;
	if (p->t.proto == IPPROTO_ICMP) {
		/* out: the pseudo-header and type 128/129; in: type 8/0 */
		c6->len = bpf_htonl(plen);
		c6->nh = bpf_htonl(NS_IPPROTO_ICMPV6);
		c6->w[0] = w0 & bpf_htonl(0xffff0000);
		c6->w[1] = w1;
		c4->w[0] = c6->w[0];
		((__u8 *)&c4->w[0])[0] = icmp_type;
		c4->w[1] = w1;
		if (icmp_type == ICMP_ECHO)
			((__be16 *)&c4->w[1])[0] = nport;
		diff = bpf_csum_diff((__be32 *)c6, sizeof(*c6), c4->w, sizeof(c4->w), 0);
		if (ns_l4_csum_diff(p, is_tc, l4 + 2, diff, 0, 0) ||
		    ns_pkt_store(p, is_tc, l4, &c4->w[0], 1) ||
		    ns_pkt_store(p, is_tc, l4 + 4, &c4->w[1], 2))
			return -1;
	} else {
		/* the pseudo-headers differ in the addresses only (length and
		 * protocol sum the same); the source port becomes the pool's */
		__u32 coff = l4 + (p->t.proto == IPPROTO_TCP ? 16 : 6);

		diff = bpf_csum_diff((__be32 *)c6, 32, (__be32 *)c4, 8, 0);
		if (ns_l4_csum_diff(p, is_tc, coff, diff, 1, p->t.proto == IPPROTO_UDP))
			return -1;
		c6->w[0] = w0;
		c4->w[0] = w0;
		((__be16 *)&c4->w[0])[0] = nport;
		diff = bpf_csum_diff(&c6->w[0], 4, &c4->w[0], 4, 0);
		if (ns_l4_csum_diff(p, is_tc, coff, diff, 0, p->t.proto == IPPROTO_UDP) ||
		    ns_pkt_store(p, is_tc, l4, &nport, 2))
			return -1;
	}

	if (ns64_put_ip4(p, is_tc, sc, frag, plen, c4->saddr, c4->daddr))
		return -1;
	p->icmp_type = icmp_type;
	ns_tuple_reverse(&p->t, &s->out_key);
	return 0;
}

/*
 * IPv4 -> IPv6 for session @s, whose IPv6 key is @k (RFC 7915 section 4):
 * source = k->daddr (pref64 + the IPv4 source), destination = k->saddr,
 * destination port / echo id = k->sport.
 */
static __always_inline int ns64_4to6(struct ns_pkt *p, const bool is_tc, struct ns64_scratch *sc,
				     const struct ns_tuple6 *k, const bool frag)
{
	struct ns64_csum6 *c6 = &sc->c6;
	struct ns64_csum4 *c4 = &sc->c4;
	__u32 l4 = p->l4_off, plen = p->ip_len - NS_IP4_HLEN;
	__u8 nh = p->t.proto == IPPROTO_ICMP ? NS_IPPROTO_ICMPV6 : p->t.proto;
	__be32 w0, w1;
	__s64 diff;

	__builtin_memset(c6, 0, sizeof(*c6));
	__builtin_memset(c4, 0, sizeof(*c4));
	__builtin_memcpy(c6->saddr, k->daddr, 16);
	__builtin_memcpy(c6->daddr, k->saddr, 16);
	c4->saddr = p->t.saddr;
	c4->daddr = p->t.daddr;
	if (p->t.proto == IPPROTO_TCP && (p->tcp_flags & 0x02) &&
	    ns_tcp_mss_clamp(p, is_tc, &sc->opt, l4, NS64_MSS_MAX))
		return -1;
	if (ns_pkt_load(p, is_tc, l4, &w0, 4) || ns_pkt_load(p, is_tc, l4 + 4, &w1, 4))
		return -1;
	if (p->t.proto == IPPROTO_ICMP) {
		c4->w[0] = w0 & bpf_htonl(0xffff0000);
		c4->w[1] = w1;
		c6->len = bpf_htonl(plen);
		c6->nh = bpf_htonl(NS_IPPROTO_ICMPV6);
		c6->w[0] = c4->w[0];
		((__u8 *)&c6->w[0])[0] = NS_ICMPV6_ECHO_REPLY;
		c6->w[1] = w1;
		((__be16 *)&c6->w[1])[0] = k->sport;
		diff = bpf_csum_diff(c4->w, sizeof(c4->w), (__be32 *)c6, sizeof(*c6), 0);
		if (ns_l4_csum_diff(p, is_tc, l4 + 2, diff, 0, 0) ||
		    ns_pkt_store(p, is_tc, l4, &c6->w[0], 1) ||
		    ns_pkt_store(p, is_tc, l4 + 4, &c6->w[1], 2))
			return -1;
	} else {
		__u32 coff = l4 + (p->t.proto == IPPROTO_TCP ? 16 : 6);
		__be16 dport = k->sport;

		diff = bpf_csum_diff((__be32 *)c4, 8, (__be32 *)c6, 32, 0);
		if (ns_l4_csum_diff(p, is_tc, coff, diff, 1, p->t.proto == IPPROTO_UDP))
			return -1;
		c4->w[0] = w0;
		c6->w[0] = w0;
		((__be16 *)&c6->w[0])[1] = dport;
		diff = bpf_csum_diff(&c4->w[0], 4, &c6->w[0], 4, 0);
		if (ns_l4_csum_diff(p, is_tc, coff, diff, 0, p->t.proto == IPPROTO_UDP) ||
		    ns_pkt_store(p, is_tc, l4 + 2, &dport, 2))
			return -1;
	}

	return ns64_put_ip6(p, is_tc, sc, frag, plen, nh, k->daddr, k->saddr);
}

/**
 * ns64_forward6() - send a translated IPv6 packet: fib lookup (AF_INET6),
 * hop limit decrement, MACs, redirect; the kernel stack otherwise.
 */
static __always_inline __u32 ns64_forward6(struct ns_pkt *p, const bool is_tc,
					   const struct ns_ip6hdr *h6)
{
	struct ns64_scratch *sc = ns64_scratch();
	struct bpf_fib_lookup *f;
	struct ns_ip6hdr *h;
	__u32 oif;
	int rc;

	if (!sc)
		return NS_CNT_FWD_STACK;
	f = &sc->fib;
	__builtin_memset(f, 0, sizeof(*f));
	f->family = AF_INET6;
	f->l4_protocol = h6->nexthdr;
	f->tot_len = p->ip_len;
	__builtin_memcpy(f->ipv6_src, h6->saddr, 16);
	__builtin_memcpy(f->ipv6_dst, h6->daddr, 16);
	f->ifindex = p->ifindex;
	if (is_tc && ((struct __sk_buff *)p->ctx)->gso_segs > 1)
		f->tot_len = 0;
	rc = bpf_fib_lookup(p->ctx, f, sizeof(*f), 0);
	/* tagged frames leave through the kernel, as in ns_forward_rc() */
	if (rc != BPF_FIB_LKUP_RET_SUCCESS || p->vlans ||
	    (is_tc && ((struct __sk_buff *)p->ctx)->vlan_present))
		return NS_CNT_FWD_STACK;
	oif = f->ifindex;
	if (!bpf_map_lookup_elem(&ns_tx_ports, &oif))
		return NS_CNT_FWD_STACK;
	if (ns_set_macs(p, is_tc, f))
		return NS_CNT_FWD_STACK;
	/* no header checksum in IPv6 */
	h = ns_ptr(p->ctx, is_tc, p->l3_off, sizeof(*h));
	if (!h)
		return NS_CNT_FWD_STACK;
	h->hop_limit--;
	if (is_tc)
		bpf_redirect(oif, 0);
	else
		bpf_redirect_map(&ns_tx_ports, oif, 0);
	return NS_CNT_FWD_REDIRECT;
}

/*
 * RFC 7915 5.2: ICMPv6 error type/code -> ICMPv4. Return 0, or -1 for
 * what is not translated (parameter problems other than "unrecognized
 * next header", unknown codes): those are dropped.
 */
static __always_inline int ns64_err_type6(__u8 type, __u8 code, __u8 *t4, __u8 *c4)
{
	*t4 = ICMP_DEST_UNREACH;
	switch (type) {
	case 1:
		if (code > 4)
			return -1;
		/* no route, beyond scope, address -> host unreachable;
		 * administratively prohibited; port unreachable */
		*c4 = code == 1 ? 10 : code == 4 ? ICMP_PORT_UNREACH : 1;
		return 0;
	case 2:
		*c4 = 4; /* fragmentation needed */
		return 0;
	case 3:
		*t4 = ICMP_TIME_EXCEEDED;
		*c4 = code;
		return code <= 1 ? 0 : -1;
	case 4:
		*c4 = 2; /* unrecognized next header -> protocol unreachable */
		return code == 1 ? 0 : -1;
	}
	return -1;
}

/*
 * The first 8 quoted L4 bytes as the IPv4 host sent them (sc->eo.l4, from
 * sc->en.l4): destination port / echo id back to the pool's, and for an
 * ICMP echo reply the checksum of the IPv4 packet (it loses the whole
 * pseudo-header). A quoted UDP or TCP checksum *@qck (UDP's from the 8
 * bytes, TCP's when the quote is longer; @qck_off 0: not quoted) loses the
 * IPv6 pseudo-header for the IPv4 one and follows the port, folded into
 * *@outer (the ICMPv6 checksum, before the ICMPv6 -> ICMPv4 diff); the
 * caller stores it.
 */
static __always_inline void ns64_err6_l4(struct ns64_scratch *sc, const struct ns_session *s,
					 __u8 nh, __u32 inner_len, __u16 *qck, __u32 qck_off,
					 __u16 *outer)
{
	struct ns64_csum6 *c6 = &sc->c6;
	struct ns64_csum4 *c4 = &sc->c4;
	__u8 *l4 = sc->eo.l4;
	__u16 *ck;
	__s64 d;

	__builtin_memcpy(l4, sc->en.l4, 8);
	__builtin_memset(c6, 0, sizeof(*c6));
	__builtin_memset(c4, 0, sizeof(*c4));
	__builtin_memcpy(c6->saddr, sc->en.ip6.saddr, 16);
	__builtin_memcpy(c6->daddr, sc->en.ip6.daddr, 16);
	c4->saddr = s->out_key.saddr;
	c4->daddr = s->out_key.daddr;
	if (nh == NS_IPPROTO_ICMPV6) {
		ck = (__u16 *)(l4 + 2);
		l4[0] = ICMP_ECHOREPLY;
		__builtin_memcpy(l4 + 4, &s->out_key.dport, 2);
		c6->len = bpf_htonl(inner_len);
		c6->nh = bpf_htonl(NS_IPPROTO_ICMPV6);
		c6->w[0] = ((__be32 *)sc->en.l4)[0] & bpf_htonl(0xffff0000);
		c6->w[1] = ((__be32 *)sc->en.l4)[1];
		c4->w[0] = ((__be32 *)l4)[0] & bpf_htonl(0xffff0000);
		c4->w[1] = ((__be32 *)l4)[1];
		d = bpf_csum_diff((__be32 *)c6, sizeof(*c6), c4->w, sizeof(c4->w), 0);
		*ck = ns_csum_add(*ck, (__u32)d);
		return;
	}
	__builtin_memcpy(l4 + 2, &s->out_key.dport, 2);
	if (!qck_off)
		return;
	c6->w[0] = ((__be32 *)sc->en.l4)[0];
	c4->w[0] = ((__be32 *)l4)[0];
	d = bpf_csum_diff((__be32 *)c6, 32, (__be32 *)c4, 8, 0);
	d = bpf_csum_diff(&c6->w[0], 4, &c4->w[0], 4, (__u32)d);
	ns_quoted_csum_fix(qck, nh, (__u32)d, outer);
}

/*
 * ns64_icmp6_error() - an ICMPv6 error from the inside (the subscriber or
 * a router in front of it) about a packet natsync translated to IPv6
 * becomes the ICMPv4 error the IPv4 host understands (RFC 7915 5.2/5.3):
 * outer IPv4 from the session's pool address to the host, the quoted IPv6
 * packet turned back into the IPv4 packet the host sent, the ICMPv4
 * checksum derived from the ICMPv6 one (verified first, over the whole
 * message and the IPv6 pseudo-header). p/sc->h6 hold the parsed outer
 * header. Return: NS_CONTINUE when it is not about a NAT64 flow, else the
 * verdict.
 */
static __always_inline __u32 ns64_icmp6_error(struct ns_pkt *p, const bool is_tc,
					      const struct ns_cfg *cfg)
{
	__u32 m6 = p->ip_len - NS_IP6_HLEN, inner_len, sum, qck_off = 0;
	struct ns64_scratch *sc = ns64_scratch();
	struct ns_tuple6 *k;
	struct ns_session *s;
	__u8 t4, c4, nh;
	__u16 ck, mtu, qck = 0;
	__be32 mtu6;
	__s64 d;

	if (!sc || m6 < 8 + NS_IP6_HLEN + 8)
		return NS_CONTINUE;
	if (ns_load(p->ctx, is_tc, p->l4_off, sc->en.icmp, 8) ||
	    ns_load(p->ctx, is_tc, p->l4_off + 8, &sc->en.ip6, sizeof(sc->en.ip6)) ||
	    ns_load(p->ctx, is_tc, p->l4_off + 8 + NS_IP6_HLEN, sc->en.l4, 8))
		return NS_CONTINUE;
	nh = sc->en.ip6.nexthdr;
	if ((sc->en.ip6.vtc >> 4) != 6 ||
	    (nh != IPPROTO_TCP && nh != IPPROTO_UDP && nh != NS_IPPROTO_ICMPV6))
		return NS_CONTINUE;
	/* the quoted packet went to the subscriber: its session is the
	 * reverse of it */
	k = &sc->qk;
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, sc->en.ip6.daddr, 16);
	__builtin_memcpy(k->daddr, sc->en.ip6.saddr, 16);
	k->proto = nh;
	if (nh == NS_IPPROTO_ICMPV6) {
		if (sc->en.l4[0] != NS_ICMPV6_ECHO_REPLY)
			return NS_CONTINUE;
		__builtin_memcpy(&k->sport, sc->en.l4 + 4, 2);
	} else {
		__builtin_memcpy(&k->sport, sc->en.l4 + 2, 2);
		__builtin_memcpy(&k->dport, sc->en.l4, 2);
	}
	s = bpf_map_lookup_elem(&ns_nat64_sess, k);
	if (!s)
		return NS_CONTINUE;
	if (!p->active)
		return NS_CNT_DROP_INACTIVE;
	if (p->ttl <= 1)
		return NS_CNT_PASS_TTL;
	/* RFC 5508 REQ-3: a bad checksum is dropped, never translated */
	__builtin_memcpy(sc->en.ps_saddr, sc->h6.saddr, 16);
	__builtin_memcpy(sc->en.ps_daddr, sc->h6.daddr, 16);
	sc->en.ps_len = bpf_htonl(m6);
	sc->en.ps_nh = bpf_htonl(NS_IPPROTO_ICMPV6);
	if (ns64_sum(p, is_tc, sc, p->l4_off, m6, &sum))
		return NS_CNT_DROP_UNSUPPORTED;
	sum = (__u32)bpf_csum_diff(0, 0, (__be32 *)sc->en.ps_saddr, 40, sum);
	if (ns_csum_fold(sum) != 0xffff)
		return NS_CNT_DROP_ICMP_ERR;
	if (ns64_err_type6(p->icmp_type, p->icmp_code, &t4, &c4))
		return NS_CNT_DROP_UNSUPPORTED;
	__builtin_memcpy(&ck, sc->en.icmp + 2, 2);
	__builtin_memcpy(&mtu6, sc->en.icmp + 4, 4);
	sc->en.icmp[2] = 0;
	sc->en.icmp[3] = 0;

	inner_len = bpf_ntohs(sc->en.ip6.payload_len);
	/* the quoted UDP checksum, or the TCP one when the error and the
	 * quoted segment both reach it (as in ns_quoted_parse()) */
	if (nh == IPPROTO_UDP) {
		__builtin_memcpy(&qck, sc->en.l4 + 6, 2);
		qck_off = offsetof(struct udphdr, check);
	} else if (nh == IPPROTO_TCP && m6 >= 8 + NS_IP6_HLEN + NS_QTCP_CSUM_END &&
		   inner_len >= NS_QTCP_CSUM_END) {
		qck_off = offsetof(struct tcphdr, check);
		if (ns_load(p->ctx, is_tc, p->l4_off + 8 + NS_IP6_HLEN + qck_off, &qck, 2))
			return NS_CNT_DROP_ICMP_ERR;
	}
	__builtin_memset(&sc->eo, 0, sizeof(sc->eo));
	sc->eo.icmp[0] = t4;
	sc->eo.icmp[1] = c4;
	if (p->icmp_type == 2) {
		/* RFC 7915 5.2: the IPv6 MTU - 20, within 16 bits */
		__u32 m = bpf_ntohl(mtu6);

		m = m > NS_HDR_DELTA ? m - NS_HDR_DELTA : 0;
		mtu = m > 0xffff ? 0xffff : m;
		sc->eo.icmp[6] = mtu >> 8;
		sc->eo.icmp[7] = mtu & 0xff;
	}
	sc->eo.ip.version = 4;
	sc->eo.ip.ihl = 5;
	sc->eo.ip.tos = (sc->en.ip6.vtc << 4) | (sc->en.ip6.tc_flow >> 4);
	sc->eo.ip.tot_len = bpf_htons(inner_len + NS_IP4_HLEN);
	sc->eo.ip.ttl = sc->en.ip6.hop_limit;
	sc->eo.ip.protocol = nh == NS_IPPROTO_ICMPV6 ? IPPROTO_ICMP : nh;
	sc->eo.ip.saddr = s->out_key.saddr;
	sc->eo.ip.daddr = s->out_key.daddr;
	ns_ip4_csum(&sc->eo.ip);
	ns64_err6_l4(sc, s, nh, inner_len, &qck, qck_off, &ck);
	d = bpf_csum_diff((__be32 *)&sc->en, sizeof(sc->en), (__be32 *)&sc->eo, sizeof(sc->eo), 0);
	ck = ns_csum_add(ck, (__u32)d);
	__builtin_memcpy(sc->eo.icmp + 2, &ck, 2);

	/* outer header: from the pool address to the IPv4 host */
	__builtin_memset(&sc->h4, 0, sizeof(sc->h4));
	sc->h4.version = 4;
	sc->h4.ihl = 5;
	sc->h4.tos = p->tos;
	sc->h4.tot_len = bpf_htons(m6 - NS_HDR_DELTA + NS_IP4_HLEN);
	sc->h4.id = (__be16)bpf_get_prandom_u32();
	sc->h4.ttl = p->ttl; /* decremented once, when forwarded */
	sc->h4.protocol = IPPROTO_ICMP;
	sc->h4.saddr = s->out_key.daddr;
	sc->h4.daddr = s->out_key.saddr;
	ns_ip4_csum(&sc->h4);

	/* 40 bytes less in front */
	if (is_tc) {
		__be16 proto = bpf_htons(ETH_P_IP);

		if (bpf_skb_change_proto(p->ctx, proto, 0) ||
		    bpf_skb_adjust_room(p->ctx, -NS_HDR_DELTA, BPF_ADJ_ROOM_MAC, 0) ||
		    ns_pkt_store(p, true, offsetof(struct ethhdr, h_proto), &proto, 2))
			return NS_CNT_DROP_ICMP_ERR;
	} else if (ns64_xdp_move_l2(p, sc, 2 * NS_HDR_DELTA, ETH_P_IP)) {
		return NS_CNT_DROP_ICMP_ERR;
	}
	/* the quoted UDP/TCP checksum last: the 8 bytes hold UDP's old one */
	if (ns_pkt_store(p, is_tc, p->l3_off, &sc->h4, sizeof(sc->h4)) ||
	    ns_pkt_store(p, is_tc, p->l3_off + NS_IP4_HLEN, sc->eo.icmp, 8) ||
	    ns_pkt_store(p, is_tc, p->l3_off + NS_IP4_HLEN + 8, &sc->eo.ip, sizeof(sc->eo.ip)) ||
	    ns_pkt_store(p, is_tc, p->l3_off + 2 * NS_IP4_HLEN + 8, sc->eo.l4, 8) ||
	    (qck_off && ns_pkt_store(p, is_tc, p->l3_off + 2 * NS_IP4_HLEN + 8 + qck_off, &qck, 2)))
		return NS_CNT_DROP_ICMP_ERR;
	__builtin_memset(&p->t, 0, sizeof(p->t));
	p->t.saddr = sc->h4.saddr;
	p->t.daddr = sc->h4.daddr;
	p->t.proto = IPPROTO_ICMP;
	p->ip_len = m6 - NS_HDR_DELTA + NS_IP4_HLEN;
	p->l4_off = p->l3_off + NS_IP4_HLEN;
	ns_count(NS_CNT_ICMP_ERR_XLATED);
	return ns_forward(p, is_tc);
}

static __attribute__((noinline)) __u32 ns64_icmp6_error_xdp(struct ns_pkt *p,
							    const struct ns_cfg *cfg)
{
	return ns64_icmp6_error(p, false, cfg);
}

static __attribute__((noinline)) __u32 ns64_icmp6_error_tc(struct ns_pkt *p,
							   const struct ns_cfg *cfg)
{
	return ns64_icmp6_error(p, true, cfg);
}

/*
 * An IPv4 UDP datagram without checksum gets the IPv4 checksum it would
 * have had (RFC 7915 4.5: the translator computes the missing one), so
 * that the translation patches it like any other: the datagram is summed
 * in slices of NS64_CSUM_CHUNK bytes (even offsets, so the zero padding of
 * the last slice to 4 bytes adds nothing). Return 0, or -1 when it is
 * longer than NS64_CSUM_CHUNKS slices.
 */
static __always_inline int ns64_udp_fill_csum(struct ns_pkt *p, const bool is_tc,
					      struct ns64_scratch *sc)
{
	__u32 len = p->ip_len - NS_IP4_HLEN, s32;
	__be32 ph[3];
	__u64 sum;
	__u16 c;

	if (ns64_sum(p, is_tc, sc, p->l4_off, len, &s32))
		return -1;
	sum = s32;
	ph[0] = p->t.saddr;
	ph[1] = p->t.daddr;
	ph[2] = bpf_htonl((IPPROTO_UDP << 16) | (len & 0xffff));
	sum = (__u32)bpf_csum_diff(0, 0, ph, sizeof(ph), (__u32)sum);
	c = ns_csum_final(sum);
	if (!c)
		c = 0xffff;
	return ns_pkt_store(p, is_tc, p->l4_off + 6, &c, 2);
}

/**
 * ns64_from_outside() - an IPv4 packet arriving outside that no NAT44
 * session claimed (or a hairpinned one, RFC 6146 3.8): its NAT64 session,
 * or a new one through an endpoint-independent binding (ns64_open_eif()),
 * translates it to IPv6.
 * Return: NS_CONTINUE when it is not a NAT64 flow, else the verdict.
 */
static __always_inline __u32 ns64_from_outside(struct ns_pkt *p, const bool is_tc,
					       const struct ns_cfg *cfg, const struct ns_svc *svc,
					       __u32 svc_id, const bool frag)
{
	struct ns_session *s = NULL;
	struct ns64_scratch *sc;
	struct ns_tuple6 *k;
	struct iphdr *ip;
	__u32 cnt;

	if (!cfg->n_nat64)
		return NS_CONTINUE;
	sc = ns64_scratch();
	if (!sc)
		return NS_CNT_DROP_SESSION_FULL;
	k = bpf_map_lookup_elem(&ns_nat64_rev, &p->t);
	if (k) {
		sc->k = *k;
		s = bpf_map_lookup_elem(&ns_nat64_sess, &sc->k);
	}
	ip = ns_ptr(p->ctx, is_tc, p->l3_off, sizeof(*ip));
	if (!ip)
		return s ? NS_CNT_DROP_MALFORMED : NS_CONTINUE;
	if (!s) {
		/* no session: a binding of endpoint-independent NAT64? */
		if ((ip->frag_off & bpf_htons(0x2000)) || ip->ihl != 5)
			return NS_CONTINUE;
		cnt = ns64_open_eif(p, is_tc, cfg, svc, svc_id, sc, &s);
		if (cnt != NS_CONTINUE || !s)
			return cnt;
		ip = ns_ptr(p->ctx, is_tc, p->l3_off, sizeof(*ip));
		if (!ip)
			return NS_CNT_DROP_MALFORMED;
	} else {
		/* a first fragment: the frag64 program's (frag64.h) */
		if (!frag && (ip->frag_off & bpf_htons(0x2000)))
			return NS64_FRAG;
		ns_count(NS_CNT_SESSION_HIT);
	}
	if (ip->ihl != 5 || p->vlans > (is_tc ? 0 : 1))
		return NS_CNT_DROP_UNSUPPORTED; /* IPv4 options, QinQ / in-frame tags in TC */
	if (p->t.proto == IPPROTO_ICMP && p->icmp_type != ICMP_ECHOREPLY)
		return NS_CNT_DROP_UNSUPPORTED;
	/* ICMPv6 covers the datagram's length, which the first fragment of an
	 * echo reply does not tell (frag64.h) */
	if (frag && sc->fr.on && p->t.proto == IPPROTO_ICMP)
		return NS_CNT_DROP_FRAGMENT;
	if (p->t.proto == IPPROTO_UDP) {
		__be16 c;

		/* IPv6 needs a UDP checksum (RFC 7915 4.5); a fragment's cannot
		 * be computed without the whole datagram (RFC 6146 3.4: drop) */
		if (ns_load(p->ctx, is_tc, p->l4_off + 6, &c, 2))
			return NS_CNT_DROP_MALFORMED;
		if (!c && frag && sc->fr.on)
			return NS_CNT_DROP_FRAGMENT;
		if (!c && ns64_udp_fill_csum(p, is_tc, sc))
			return NS_CNT_DROP_UNSUPPORTED;
	}
	ns_session_account(s, p, NS_SIDE_OUTSIDE, ns_now_coarse());
	if (ns64_4to6(p, is_tc, sc, &sc->k, frag))
		return NS_CNT_DROP_MALFORMED;
	ns_count(NS_CNT_NAT64_IN);
	return ns64_forward6(p, is_tc, &sc->h6);
}

/* Out of line per program type: called by the pipeline and, for
 * hairpinned packets, from ns64_from_inside(). */
static __attribute__((noinline)) __u32 ns64_from_outside_xdp(struct ns_pkt *p,
							     const struct ns_cfg *cfg,
							     const struct ns_svc *svc, __u32 svc_id)
{
	return ns64_from_outside(p, false, cfg, svc, svc_id, false);
}

static __attribute__((noinline)) __u32 ns64_from_outside_tc(struct ns_pkt *p,
							    const struct ns_cfg *cfg,
							    const struct ns_svc *svc, __u32 svc_id)
{
	return ns64_from_outside(p, true, cfg, svc, svc_id, false);
}

/**
 * ns64_from_inside() - an IPv6 frame on an interface of service set
 * @svc_id (p->l3_off set by the parser). Return: the verdict counter.
 */
static __always_inline __u32 ns64_from_inside(struct ns_pkt *p, const bool is_tc,
					      const struct ns_cfg *cfg, const struct ns_svc *svc,
					      __u32 svc_id, const bool frag)
{
	struct ns_session *s;
	struct ns64_scratch *sc;
	__u32 cnt;
	int ti = -1;

	if (!cfg->n_nat64 || p->side != NS_SIDE_INSIDE)
		return NS_CNT_PASS_NON_IP;
	/* one 802.1Q tag in XDP; in TC the kernel has taken it into the skb
	 * already, a tag still in the frame (QinQ) is the kernel's */
	if (p->vlans > (is_tc ? 0 : 1))
		return NS_CNT_PASS_NON_IP;
	sc = ns64_scratch();
	if (!sc)
		return NS_CNT_DROP_SESSION_FULL;
	cnt = ns64_parse6(p, is_tc, sc, svc_id, cfg->n_nat64, frag);
	if (cnt == NS64_ICMP6_ERR) {
		cnt = is_tc ? ns64_icmp6_error_tc(p, cfg) : ns64_icmp6_error_xdp(p, cfg);
		if (cnt != NS_CONTINUE)
			return cnt;
		/* about no NAT64 flow: dropped if it is NAT64's, else the kernel's */
		return ns64_term_g(svc_id, cfg->n_nat64, p->bank, &sc->k) < 0 ? NS_CNT_PASS_NON_IP
								     : NS_CNT_DROP_ICMP_ERR;
	}
	if (cnt != NS_CONTINUE)
		return cnt;
	s = bpf_map_lookup_elem(&ns_nat64_sess, &sc->k);
	if (!s) {
		ti = ns64_term_g(svc_id, cfg->n_nat64, p->bank, &sc->k);
		if (ti < 0)
			return NS_CNT_PASS_NON_IP;
	}
	if (!p->active)
		return NS_CNT_DROP_INACTIVE;
	if (p->ttl <= 1)
		return NS_CNT_PASS_TTL; /* the kernel sends time exceeded */
	if (s) {
		ns_count(NS_CNT_SESSION_HIT);
	} else {
		cnt = ns64_open(p, cfg, svc, svc_id, ti, sc, &s);
		if (cnt != NS_CONTINUE)
			return cnt;
		if (!s)
			return NS_CNT_DROP_SESSION_FULL;
	}
	ns_session_account(s, p, NS_SIDE_INSIDE, ns_now_coarse());
	if (ns64_6to4(p, is_tc, sc, s, frag))
		return NS_CNT_DROP_MALFORMED;
	ns_count(NS_CNT_NAT64_OUT);
	/* RFC 6146 3.8 hairpinning: to a pool address in its pref64 form,
	 * i.e. another subscriber's binding: back in as if from outside */
	if (ns64_pool_addr_g(svc_id, cfg->n_nat64, p->bank, p->t.daddr)) {
		if (frag && sc->fr.on)
			return NS_CNT_DROP_FRAGMENT; /* not hairpinned (doc/nat64.md) */
		cnt = is_tc ? ns64_from_outside_tc(p, cfg, svc, svc_id)
			    : ns64_from_outside_xdp(p, cfg, svc, svc_id);
		return cnt == NS_CONTINUE ? NS_CNT_DROP_NO_SESSION : cnt;
	}
	return ns_forward(p, is_tc);
}

/*
 * RFC 7915 4.2: ICMPv4 error type/code -> ICMPv6. Return 0, or -1 for what
 * is not translated (parameter problem, source quench, protocol
 * unreachable and the rarer codes): those are dropped.
 */
static __always_inline int ns64_err_type(__u8 type, __u8 code, __u8 *t6, __u8 *c6)
{
	if (type == ICMP_TIME_EXCEEDED) {
		*t6 = 3;
		*c6 = code;
		return code <= 1 ? 0 : -1;
	}
	if (type != ICMP_DEST_UNREACH)
		return -1;
	*t6 = 1;
	switch (code) {
	case 0:
	case 1:
	case 5:
	case 6:
	case 7:
	case 8:
	case 11:
	case 12:
		*c6 = 0; /* no route */
		return 0;
	case 9:
	case 10:
	case 13:
		*c6 = 1; /* administratively prohibited */
		return 0;
	case 3:
		*c6 = 4; /* port unreachable */
		return 0;
	case 4:
		*t6 = 2; /* packet too big */
		*c6 = 0;
		return 0;
	}
	return -1;
}

/*
 * The first 8 quoted L4 bytes as the subscriber sent them (in sc->en.l4):
 * its source port / echo id and, for an ICMPv6 echo, the checksum over the
 * IPv6 pseudo-header. A quoted UDP or TCP checksum (q->csum: UDP's is in
 * the 8 bytes, TCP's when the quote is longer, as Linux sends it) trades
 * the IPv4 pseudo-header for the IPv6 one and follows the port; that
 * change is folded into *@outer (the ICMPv4 checksum, before the
 * ICMPv4 -> ICMPv6 diff) and q->csum is stored by the caller.
 */
static __always_inline void ns64_err_l4(struct ns64_scratch *sc, const struct ns_tuple6 *k,
					__u32 inner_len, struct ns_quoted *q, __u16 *outer)
{
	struct ns64_csum6 *c6 = &sc->c6;
	struct ns64_csum4 *c4 = &sc->c4;
	__u8 *l4 = sc->en.l4;
	__u16 *ck;
	__s64 d;

	__builtin_memcpy(l4, sc->eo.l4, 8);
	__builtin_memset(c6, 0, sizeof(*c6));
	__builtin_memset(c4, 0, sizeof(*c4));
	__builtin_memcpy(c6->saddr, k->saddr, 16);
	__builtin_memcpy(c6->daddr, k->daddr, 16);
	c4->saddr = sc->eo.ip.saddr;
	c4->daddr = sc->eo.ip.daddr;
	if (k->proto == NS_IPPROTO_ICMPV6) {
		ck = (__u16 *)(l4 + 2);
		c4->w[0] = ((__be32 *)sc->eo.l4)[0] & bpf_htonl(0xffff0000);
		c4->w[1] = ((__be32 *)sc->eo.l4)[1];
		l4[0] = NS_ICMPV6_ECHO_REQUEST;
		__builtin_memcpy(l4 + 4, &k->sport, 2);
		c6->len = bpf_htonl(inner_len);
		c6->nh = bpf_htonl(NS_IPPROTO_ICMPV6);
		c6->w[0] = ((__be32 *)l4)[0] & bpf_htonl(0xffff0000);
		c6->w[1] = ((__be32 *)l4)[1];
		d = bpf_csum_diff(c4->w, sizeof(c4->w), (__be32 *)c6, sizeof(*c6), 0);
		*ck = ns_csum_add(*ck, (__u32)d);
		return;
	}
	__builtin_memcpy(l4, &k->sport, 2);
	c4->w[0] = ((__be32 *)sc->eo.l4)[0];
	c6->w[0] = ((__be32 *)l4)[0];
	/* addresses (pseudo-header; length and protocol sum the same) and the
	 * source port in one diff */
	d = bpf_csum_diff((__be32 *)c4, sizeof(*c4), (__be32 *)c6, sizeof(*c6), 0);
	ns_quoted_csum(q, (__u32)d, outer);
}

/*
 * ns64_icmp_error() - an ICMPv4 error arriving outside about a NAT64 flow
 * becomes the ICMPv6 error the subscriber understands (RFC 7915 4.2/4.3):
 * outer IPv6 from pref64 + the error's IPv4 source to the subscriber, the
 * quoted IPv4 packet translated back to the IPv6 packet the subscriber
 * sent, the ICMPv6 checksum patched from the ICMPv4 one (which is verified
 * first). The session is neither refreshed nor removed (RFC 5508).
 * Return: NS_CONTINUE when the error is not about a NAT64 flow, else the
 * verdict.
 */
static __always_inline __u32 ns64_icmp_error(struct ns_pkt *p, const bool is_tc,
					     const struct ns_cfg *cfg)
{
	struct ns_nat64_term *t;
	struct ns64_scratch *sc;
	struct ns_session *s;
	struct ns_tuple6 *k6;
	struct ns_quoted q;
	struct ns_tuple key;
	__u32 m4, inner_len;
	__u16 c4, mtu;
	__u8 t6, c6, pref_len;
	__s64 d;

	if (!cfg->n_nat64 || ns_quoted_parse(p, is_tc, &q))
		return NS_CONTINUE;
	ns_tuple_reverse(&key, &q.t);
	k6 = bpf_map_lookup_elem(&ns_nat64_rev, &key);
	sc = ns64_scratch();
	if (!k6 || !sc)
		return NS_CONTINUE;
	sc->k = *k6;
	s = bpf_map_lookup_elem(&ns_nat64_sess, &sc->k);
	if (!s)
		return NS_CONTINUE;
	/* the error's source in the session's pref64 (RFC 6052 2.2) */
	t = ns64_term_at(p->bank, s->nat_term);
	pref_len = t ? t->pref_len : 96;
	if (!ns_icmp_csum_ok(p, is_tc))
		return NS_CNT_DROP_ICMP_ERR;
	/* fixed-size headers only: options would shift the quoted packet */
	if (p->l4_off != p->l3_off + NS_IP4_HLEN || q.ip.ihl != 5 || p->vlans > (is_tc ? 0 : 1))
		return NS_CNT_DROP_UNSUPPORTED;
	if (ns64_err_type(p->icmp_type, p->icmp_code, &t6, &c6))
		return NS_CNT_DROP_UNSUPPORTED;
	if (ns_load(p->ctx, is_tc, p->l4_off, sc->eo.icmp, 8))
		return NS_CNT_DROP_ICMP_ERR;
	__builtin_memcpy(&c4, sc->eo.icmp + 2, 2);
	sc->eo.icmp[2] = 0;
	sc->eo.icmp[3] = 0;
	sc->eo.ip = q.ip;
	__builtin_memcpy(sc->eo.l4, q.l4, 8);

	m4 = p->ip_len - NS_IP4_HLEN; /* the ICMPv4 message */
	inner_len = bpf_ntohs(q.ip.tot_len) - NS_IP4_HLEN;
	__builtin_memset(&sc->en, 0, sizeof(sc->en));
	sc->en.icmp[0] = t6;
	sc->en.icmp[1] = c6;
	if (t6 == 2) {
		/* RFC 7915: MTU + 20, never below the IPv6 minimum */
		__builtin_memcpy(&mtu, sc->eo.icmp + 6, 2);
		mtu = bpf_ntohs(mtu) + NS_HDR_DELTA;
		if (mtu < 1280)
			mtu = 1280;
		sc->en.icmp[6] = mtu >> 8;
		sc->en.icmp[7] = mtu & 0xff;
	}
	sc->en.ip6.vtc = 0x60 | (q.ip.tos >> 4);
	sc->en.ip6.tc_flow = (q.ip.tos & 0xf) << 4;
	sc->en.ip6.payload_len = bpf_htons(inner_len);
	sc->en.ip6.nexthdr = sc->k.proto;
	sc->en.ip6.hop_limit = q.ip.ttl;
	__builtin_memcpy(sc->en.ip6.saddr, sc->k.saddr, 16);
	__builtin_memcpy(sc->en.ip6.daddr, sc->k.daddr, 16);
	ns64_err_l4(sc, &sc->k, inner_len, &q, &c4);

	/* outer header: from pref64 + the error's source, to the subscriber */
	__builtin_memset(&sc->o6, 0, sizeof(sc->o6));
	sc->o6.vtc = 0x60 | (p->tos >> 4);
	sc->o6.tc_flow = (p->tos & 0xf) << 4;
	sc->o6.payload_len = bpf_htons(m4 + NS_HDR_DELTA);
	sc->o6.nexthdr = NS_IPPROTO_ICMPV6;
	sc->o6.hop_limit = p->ttl;
	ns64_embed(sc->o6.saddr, sc->k.daddr, pref_len, p->t.saddr);
	__builtin_memcpy(sc->o6.daddr, sc->k.saddr, 16);
	__builtin_memcpy(sc->en.ps_saddr, sc->o6.saddr, 16);
	__builtin_memcpy(sc->en.ps_daddr, sc->o6.daddr, 16);
	sc->en.ps_len = bpf_htonl(m4 + NS_HDR_DELTA);
	sc->en.ps_nh = bpf_htonl(NS_IPPROTO_ICMPV6);
	d = bpf_csum_diff((__be32 *)&sc->eo, sizeof(sc->eo), (__be32 *)&sc->en, sizeof(sc->en), 0);
	c4 = ns_csum_add(c4, (__u32)d);
	__builtin_memcpy(sc->en.icmp + 2, &c4, 2);

	/* 40 more bytes in front: 20 per IPv4 header that became IPv6 */
	if (is_tc) {
		__be16 proto = bpf_htons(ETH_P_IPV6);

		if (bpf_skb_change_proto(p->ctx, proto, 0) ||
		    bpf_skb_adjust_room(p->ctx, NS_HDR_DELTA, BPF_ADJ_ROOM_MAC, 0) ||
		    ns_pkt_store(p, true, offsetof(struct ethhdr, h_proto), &proto, 2))
			return NS_CNT_DROP_ICMP_ERR;
	} else if (ns64_xdp_move_l2(p, sc, -2 * NS_HDR_DELTA, ETH_P_IPV6)) {
		return NS_CNT_DROP_ICMP_ERR;
	}
	/* the quoted UDP/TCP checksum last: the 8 bytes hold UDP's old one */
	if (ns_pkt_store(p, is_tc, p->l3_off, &sc->o6, sizeof(sc->o6)) ||
	    ns_pkt_store(p, is_tc, p->l3_off + NS_IP6_HLEN, sc->en.icmp, 8) ||
	    ns_pkt_store(p, is_tc, p->l3_off + NS_IP6_HLEN + 8, &sc->en.ip6, sizeof(sc->en.ip6)) ||
	    ns_pkt_store(p, is_tc, p->l3_off + 2 * NS_IP6_HLEN + 8, sc->en.l4, 8) ||
	    (q.t.proto != IPPROTO_ICMP && q.csum_off &&
	     ns_pkt_store(p, is_tc, p->l3_off + 2 * NS_IP6_HLEN + 8 + q.csum_off, &q.csum, 2)))
		return NS_CNT_DROP_ICMP_ERR;
	p->ip_len = NS_IP6_HLEN + m4 + NS_HDR_DELTA;
	p->l4_off = p->l3_off + NS_IP6_HLEN;
	ns_count(NS_CNT_ICMP_ERR_XLATED);
	return ns64_forward6(p, is_tc, &sc->o6);
}

/* Out of line per program type: the quoted-header buffers get their own
 * stack frame, as for ns_icmp_error_xdp/_tc. */
static __attribute__((noinline)) __u32 ns64_icmp_error_xdp(struct ns_pkt *p,
							   const struct ns_cfg *cfg)
{
	return ns64_icmp_error(p, false, cfg);
}

static __attribute__((noinline)) __u32 ns64_icmp_error_tc(struct ns_pkt *p,
							  const struct ns_cfg *cfg)
{
	return ns64_icmp_error(p, true, cfg);
}

#endif /* NATSYNC_BPF_NAT64_H */
