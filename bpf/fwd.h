/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fwd.h - forwarding of translated packets: bpf_fib_lookup on the
 * translated tuple; on success with the egress port in ns_tx_ports rewrite
 * MACs, decrement TTL and redirect (devmap in XDP, bpf_redirect in TC).
 * Anything else (no neighbour yet, VLAN-tagged frame, port not ours) goes to
 * the kernel stack already translated, which resolves the neighbour.
 */
#ifndef NATSYNC_BPF_FWD_H
#define NATSYNC_BPF_FWD_H

#include "bpf/csum.h"
#include "bpf/maps.h"

/**
 * ns_fib() - route lookup for the packet's current tuple.
 * Return: BPF_FIB_LKUP_RET_*; @f holds the result.
 */
static __always_inline int ns_fib(struct ns_pkt *p, struct bpf_fib_lookup *f)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->family = AF_INET;
	f->tos = p->tos;
	f->l4_protocol = p->t.proto;
	if (p->t.proto == IPPROTO_TCP || p->t.proto == IPPROTO_UDP) {
		f->sport = p->t.sport;
		f->dport = p->t.dport;
	}
	f->tot_len = p->ip_len;
	f->ipv4_src = p->t.saddr;
	f->ipv4_dst = p->t.daddr;
	f->ifindex = p->ifindex;
	return bpf_fib_lookup(p->ctx, f, sizeof(*f), 0);
}

/**
 * ns_is_local() - would the kernel deliver this packet locally (or has no
 * route for it)? bpf_fib_lookup reports both as NOT_FWDED; either way the
 * stack, not natsync, owns the packet.
 */
static __always_inline int ns_is_local(struct ns_pkt *p)
{
	struct bpf_fib_lookup f;

	return ns_fib(p, &f) == BPF_FIB_LKUP_RET_NOT_FWDED;
}

/* Write the next hop's MACs (direct access: MACs sit at offset 0). */
static __always_inline int ns_set_macs(struct ns_pkt *p, const bool is_tc,
				       const struct bpf_fib_lookup *f)
{
	struct ethhdr *eth = ns_ptr(p->ctx, is_tc, 0, sizeof(*eth));

	if (!eth)
		return -1;
	__builtin_memcpy(eth->h_dest, f->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, f->smac, ETH_ALEN);
	return 0;
}

/**
 * ns_forward_rc() - send a translated packet on its way.
 * @fib_rc: out, the fib lookup's result (the pipeline uses it to spot
 *          hairpinned packets: a pool address routes nowhere).
 * Return: NS_CNT_FWD_REDIRECT (redirect helper already called) or
 * NS_CNT_FWD_STACK.
 */
static __always_inline __u32 ns_forward_rc(struct ns_pkt *p, const bool is_tc, int *fib_rc)
{
	struct bpf_fib_lookup f;
	__u16 ip_len = p->ip_len;
	__u32 oif;
	int rc;

	/* A GSO skb (TC only) is segmented at egress: its total length must
	 * not fail the fib MTU check (tot_len 0 skips it). */
	if (is_tc && ((struct __sk_buff *)p->ctx)->gso_segs > 1)
		p->ip_len = 0;
	rc = ns_fib(p, &f);
	p->ip_len = ip_len;
	*fib_rc = rc;
	/* a tag the kernel moved into skb metadata would be re-added on the
	 * egress interface: leave tagged traffic to the stack */
	if (is_tc && ((struct __sk_buff *)p->ctx)->vlan_present)
		return NS_CNT_FWD_STACK;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS || p->vlans)
		return NS_CNT_FWD_STACK;
	oif = f.ifindex;
	/* Only to ports natsync owns (ns_tx_ports). In XDP the redirect
	 * helper itself says whether oif is one (a miss returns the flags'
	 * low bits, 0 here): no separate devmap lookup. It only records the
	 * target; the frame is rewritten below and leaves when the program
	 * returns XDP_REDIRECT. */
	if (is_tc) {
		if (!bpf_map_lookup_elem(&ns_tx_ports, &oif))
			return NS_CNT_FWD_STACK;
	} else if (bpf_redirect_map(&ns_tx_ports, oif, 0) != XDP_REDIRECT) {
		return NS_CNT_FWD_STACK;
	}
	if (ns_dec_ttl(p, is_tc) || ns_set_macs(p, is_tc, &f))
		return NS_CNT_FWD_STACK;
	if (is_tc)
		bpf_redirect(oif, 0);
	return NS_CNT_FWD_REDIRECT;
}

/* ns_forward_rc() for callers that do not care about the fib result. */
static __always_inline __u32 ns_forward(struct ns_pkt *p, const bool is_tc)
{
	int rc;

	return ns_forward_rc(p, is_tc, &rc);
}

/* Did the translated packet's destination route nowhere, as a pool address
 * does (blackhole/unreachable/prohibit route, or none)? */
static __always_inline int ns_fib_nowhere(int rc)
{
	return rc == BPF_FIB_LKUP_RET_BLACKHOLE || rc == BPF_FIB_LKUP_RET_UNREACHABLE ||
	       rc == BPF_FIB_LKUP_RET_PROHIBIT || rc == BPF_FIB_LKUP_RET_NOT_FWDED;
}

#endif /* NATSYNC_BPF_FWD_H */
