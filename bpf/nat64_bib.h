/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nat64_bib.h - RFC 6146 bindings of stateful NAT64: the first packet of
 * a flow from the IPv6 inside opens a session (per-subscriber limit per
 * /64, RFC 6888 REQ-4; an IPv4 address and port from the term's pool
 * through the napt-44 allocator with paired pooling; the firewall on the
 * IPv4 side), published under both keys. Endpoint-independent mapping
 * (3.5.1.1) keeps one binding per subscriber address and port, checked
 * against its IPv6 owner in the NAT64 BIB (ns_nat64_rev under the binding's
 * key, natsync.h); endpoint-independent filtering (3.5.2) lets an IPv4
 * host reach such a binding; hairpinning (3.8) sends a packet to a pool
 * address back in as if from outside (nat64.h).
 */
#ifndef NATSYNC_BPF_NAT64_BIB_H
#define NATSYNC_BPF_NAT64_BIB_H

#include "bpf/events.h"
#include "bpf/firewall.h"
#include "bpf/frag.h"
#include "bpf/nat44.h"
#include "bpf/nat64_addr.h"
#include "bpf/nat64_types.h"
#include "bpf/session.h"
#include "bpf/sublimit.h"

/**
 * ns64_pool_addr_g() - is @addr an address of the pool of one of the
 * stateful-nat64 terms of service set @svc_id (@n terms in config bank
 * @bank)? Return 1 if it is, else 0. A packet to such an address in its
 * pref64 form goes to another subscriber's binding (hairpinning).
 */
__attribute__((noinline)) int ns64_pool_addr_g(__u32 svc_id, __u32 n, __u32 bank, __be32 addr)
{
	struct ns_nat64_term *t;
	struct ns_pool *pool;
	__u32 i, pos;

	for (i = 0; i < NS_MAX_NAT64_TERMS && i < n; i++) {
		t = ns64_term_at(bank, i);
		if (!t || t->svc_set != svc_id || t->src_pool >= NS_MAX_POOLS)
			continue;
		pool = ns_pool_at(bank, t->src_pool);
		if (pool && !ns_pool_addr_index(pool, bpf_ntohl(addr), &pos))
			return 1;
	}
	return 0;
}

/* The IPv4 side of the flow before source translation (see natsync.h);
 * the destination is embedded under a /@len pref64. */
static __always_inline void ns64_in_key(struct ns_tuple *t, const struct ns_tuple6 *k, __u8 proto4,
					__u8 len)
{
	__builtin_memset(t, 0, sizeof(*t));
	t->saddr = ns_nat64_fold(k->saddr);
	t->daddr = ns64_extract4(k->daddr, len);
	t->sport = k->sport;
	t->dport = k->dport;
	t->proto = proto4;
}

/* Undo the claims of an open that did not become a session. */
static __always_inline void ns64_release(struct ns64_scratch *sc)
{
	if (sc->bib_new)
		bpf_map_delete_elem(&ns_nat64_rev, &sc->bk);
	sc->bib_new = 0;
	ns_alloc_release(&sc->a);
}

/* Publish sc->s under sc->k and its out_key, count it for its subscriber
 * in @subc (may be NULL). NS_CONTINUE with *sp set, or the verdict (claims
 * released). */
static __always_inline __u32 ns64_publish(struct ns64_scratch *sc, const struct ns_cfg *cfg,
					  __u64 *subc, struct ns_session **sp)
{
	struct ns_session *s = &sc->s;

	if (bpf_map_update_elem(&ns_nat64_sess, &sc->k, s, BPF_NOEXIST)) {
		ns64_release(sc);
		*sp = bpf_map_lookup_elem(&ns_nat64_sess, &sc->k);
		if (*sp) {
			ns_count(NS_CNT_SESSION_RACE);
			return NS_CONTINUE;
		}
		goto full;
	}
	if (bpf_map_update_elem(&ns_nat64_rev, &s->out_key, &sc->k, BPF_NOEXIST)) {
		bpf_map_delete_elem(&ns_nat64_sess, &sc->k);
		ns64_release(sc);
		goto full;
	}
	if (subc)
		__sync_fetch_and_add(subc, 1);
	ns_count(NS_CNT_SESSION_NEW);
	ns_emit6(cfg, NS_EV_SESSION_OPEN, &s->in_key, &s->out_key, s->svc_set, s->pool_id,
		 s->origin, sc->k.saddr, sc->k.daddr);
	if (sc->a.new_port)
		ns_emit6(cfg, NS_EV_NAT_ALLOC, &s->in_key, &s->out_key, s->svc_set, s->pool_id,
			 s->origin, sc->k.saddr, sc->k.daddr);
	*sp = bpf_map_lookup_elem(&ns_nat64_sess, &sc->k);
	return *sp ? NS_CONTINUE : NS_CNT_DROP_SESSION_FULL;
full:
	ns_emit6(cfg, NS_EV_SESSION_FULL, &s->in_key, &s->out_key, s->svc_set, s->pool_id,
		 s->origin, sc->k.saddr, sc->k.daddr);
	return NS_CNT_DROP_SESSION_FULL;
}

/*
 * RFC 6888 REQ-4 for IPv6 subscribers: max-sessions-per-subscriber counts
 * the flows of one /64 (the least an IPv6 subscriber is given), keyed by
 * its 32-bit fold with ns_sub_key.nat64 set. Return 0 with *@ctr as
 * ns_sub_admit_key() sets it, or -1 (limit reached; a sampled event).
 */
static __always_inline int ns64_sub_admit(const struct ns_cfg *cfg, struct ns64_scratch *sc,
					  const struct ns_tuple *t4, __u16 svc_id, __u64 **ctr)
{
	struct ns_sub_key *k = &sc->subk;
	__u64 now;

	*ctr = NULL;
	if (!cfg->max_sess_per_sub)
		return 0;
	__builtin_memset(sc->p64, 0, sizeof(sc->p64));
	__builtin_memcpy(sc->p64, sc->k.saddr, 8);
	__builtin_memset(k, 0, sizeof(*k));
	k->addr = ns_nat64_fold(sc->p64);
	k->svc_set = svc_id;
	k->nat64 = 1;
	if (!ns_sub_admit_key(cfg, k, ctr))
		return 0;
	now = bpf_ktime_get_ns();
	if (now - sc->sublimit_ev_ns >= NS_SUBLIMIT_EV_GAP_NS) {
		sc->sublimit_ev_ns = now;
		ns_emit6(cfg, NS_EV_SUBSCRIBER_LIMIT, t4, NULL, svc_id, 0xff, NS_SIDE_INSIDE,
			 sc->k.saddr, sc->k.daddr);
	}
	return -1;
}

/*
 * Endpoint-independent mapping (RFC 6146 section 3.5.1.1, RFC 4787
 * REQ-1) for the binding in sc->a: the allocator keys ns_eim by the
 * subscriber's 32-bit fold, so a reused binding is checked against its
 * IPv6 owner in the NAT64 BIB (natsync.h), and a new one is entered
 * there. Return 0, or -1 when the reused binding belongs to another
 * subscriber whose address folds alike (the caller then allocates without
 * EIM).
 */
static __always_inline int ns64_bib(struct ns64_scratch *sc, __u8 proto4, __u16 ti,
				    const struct ns_nat64_term *t)
{
	struct ns_tuple6 *b, *v = &sc->bv;
	struct ns_port_key *pk = &sc->pk;
	struct ns_port_val *pv;

	ns_nat64_bib_key(&sc->bk, sc->a.addr, sc->a.port, proto4);
	b = bpf_map_lookup_elem(&ns_nat64_rev, &sc->bk);
	if (b && !sc->a.new_port) {
		if (b->sport != sc->k.sport || !ns64_addr_eq(b->saddr, sc->k.saddr))
			return -1;
		return 0;
	}
	if (!sc->a.new_port) {
		/* a binding without its BIB entry (installed by sync): ours if
		 * the port's owner is our fold and port */
		__builtin_memset(pk, 0, sizeof(*pk));
		pk->addr = sc->a.addr;
		pk->port = sc->a.port;
		pk->proto = proto4;
		pv = bpf_map_lookup_elem(&ns_ports, pk);
		if (!pv || !(pv->flags & NS_PORT_F_NAT64) || pv->in_port != sc->k.sport ||
		    pv->in_addr != ns_nat64_fold(sc->k.saddr))
			return -1;
	}
	ns_nat64_bib_val(v, sc->k.saddr, sc->k.sport, sc->k.proto, t, ti);
	if (!bpf_map_update_elem(&ns_nat64_rev, &sc->bk, v, BPF_ANY))
		sc->bib_new = sc->a.new_port;
	return 0;
}

/* The allocation of ns64_open(): the napt-44 allocator with paired pooling
 * on the folded source (one subscriber's flows share a pool address, RFC
 * 4787 REQ-2), EIM/EIF as the term says. 0, or -1 (pool exhausted). */
static __always_inline int ns64_alloc(struct ns64_scratch *sc, const struct ns_nat64_term *t,
				      const struct ns_tuple *t4, __u32 svc_id, int ti, __u8 bank)
{
	struct ns_nat_term nt;

	__builtin_memset(&nt, 0, sizeof(nt));
	nt.nat_type = NS_NAT_NAT64;
	nt.flags = NS_NAT_F_PAIRED | (t->flags & (NS_NAT_F_EIM | NS_NAT_F_EIF));
	nt.src_pool = t->src_pool;
	nt.dst_pool = 0xff;
	__builtin_memset(&sc->a, 0, sizeof(sc->a));
	sc->bib_new = 0;
	sc->a.svc_id = svc_id;
	sc->a.nat_idx = ti;
	sc->a.bank = bank;
	if (ns_nat_alloc_g(t4, &nt, &sc->a))
		return -1;
	if (!(nt.flags & NS_NAT_F_EIM) || !ns64_bib(sc, t4->proto, ti, t))
		return 0;
	/* another subscriber's binding under the same fold: a port of our
	 * own, address-and-port-dependent */
	nt.flags &= ~(NS_NAT_F_EIM | NS_NAT_F_EIF);
	__builtin_memset(&sc->a, 0, sizeof(sc->a));
	sc->a.svc_id = svc_id;
	sc->a.nat_idx = ti;
	sc->a.bank = bank;
	return ns_nat_alloc_g(t4, &nt, &sc->a) ? -1 : 1;
}

/**
 * ns64_open() - first packet of a NAT64 flow (term @ti matched): SYN
 * check, per-subscriber limit, allocation from the term's pool, firewall
 * on the IPv4 side, insert. Return NS_CONTINUE with *@sp set, or the
 * verdict.
 */
static __always_inline __u32 ns64_open(struct ns_pkt *p, const struct ns_cfg *cfg,
				       const struct ns_svc *svc, __u32 svc_id, int ti,
				       struct ns64_scratch *sc, struct ns_session **sp)
{
	struct ns_session *s = &sc->s;
	struct ns_nat64_term *t;
	struct ns_tuple t4;
	__u8 action = NS_FW_ACCEPT;
	__u64 now, *subc = NULL;
	int fw, eim;

	if (p->t.proto == IPPROTO_TCP && !ns_tcp_pure_syn(p->tcp_flags))
		return NS_CNT_DROP_TCP_NO_SYN;
	/* only a query opens an ICMP flow; a reply without one is stray */
	if (p->t.proto == IPPROTO_ICMP && p->icmp_type != NS_ICMPV6_ECHO_REQUEST)
		return NS_CNT_DROP_NO_SESSION;
	t = ns64_term_at(p->bank, ti);
	if (!t)
		return NS_CNT_DROP_UNSUPPORTED;
	ns64_in_key(&t4, &sc->k, p->t.proto, t->pref_len);
	/* before any allocation: a subscriber over its limit claims nothing */
	if (ns64_sub_admit(cfg, sc, &t4, svc_id, &subc))
		return NS_CNT_DROP_SUBSCRIBER_LIMIT;
	eim = ns64_alloc(sc, t, &t4, svc_id, ti, p->bank & 1);
	if (eim < 0) {
		ns_emit6(cfg, NS_EV_POOL_EXHAUSTED, &t4, NULL, svc_id, t->src_pool, NS_SIDE_INSIDE,
			 sc->k.saddr, sc->k.daddr);
		return NS_CNT_DROP_POOL_EXHAUSTED;
	}
	now = bpf_ktime_get_ns();
	ns_session_init(s, p, svc_id, NS_SIDE_INSIDE, now);
	s->nat_term = ti;
	s->nat_type = NS_NAT_NAT64;
	s->pool_id = sc->a.pool_id;
	s->flags = NS_SF_NAT_SRC | NS_SF_NAT_DST;
	if (!eim && (t->flags & NS_NAT_F_EIM))
		s->flags |= NS_SF_EIM;
	if (subc)
		s->flags |= NS_SF_SUB_COUNTED;
	if ((t->flags & NS_NAT_F_SYSLOG) || (svc->flags & NS_SVC_F_SYSLOG_SESSION))
		s->flags |= NS_SF_SYSLOG;
	s->in_key = t4;
	s->out_key.saddr = t4.daddr;
	s->out_key.daddr = sc->a.addr;
	s->out_key.sport = t4.dport;
	s->out_key.dport = sc->a.port;
	s->out_key.proto = t4.proto;
	/* the firewall sees the flow as it leaves: pool address -> IPv4 */
	ns_tuple_reverse(&t4, &s->out_key);
	fw = ns_fw_eval(svc, &t4, NS_DIR_INPUT, &action);
	if ((fw < 0 && (svc->flags & NS_SVC_F_HAS_FW)) || action != NS_FW_ACCEPT) {
		ns64_release(sc);
		return NS_CNT_DROP_FW_DISCARD;
	}
	if (fw >= 0)
		s->fw_term = fw;
	return ns64_publish(sc, cfg, subc, sp);
}

/*
 * An IPv4 packet to a NAT64 binding that filtering refuses (RFC 6146
 * 3.5.2.2): a TCP SYN (untagged) is not dropped but copied to the daemon
 * through ns_frag_ring (NS_FRAG_REC_SYN), which holds it NS_SYN_HOLD_NS:
 * run through the fast path again once an outbound SYN has opened its
 * session, else answered with ICMP port unreachable (daemon/synhold.c).
 * Anything else, or a SYN the ring has no room for, gets @cnt.
 */
static __always_inline __u32 ns64_syn_hold(struct ns_pkt *p, const bool is_tc, __u32 cnt)
{
	struct ns_frag_key k;

	if (p->t.proto != IPPROTO_TCP || !ns_tcp_pure_syn(p->tcp_flags) || p->vlans)
		return cnt;
	ns_frag_key_of(p, 0, &k);
	if (ns_frag_hold(p, is_tc, &k, NS_FRAG_REC_SYN)) {
		ns_count(NS_CNT_SYN_HOLD_FULL);
		return cnt;
	}
	return NS_CNT_SYN_HELD;
}

/**
 * ns64_open_eif() - an IPv4 packet from the outside to a NAT64 binding
 * that no session claims: with endpoint-independent filtering (RFC 6146
 * 3.5.2.1/3.5.2.2, RFC 4787 REQ-8) a new inbound session to the binding's
 * subscriber, from pref64 + the IPv4 source; with address-dependent
 * filtering the packet is dropped. Return NS_CONTINUE with
 * *@sp set, NS_CONTINUE with *@sp NULL when the destination is no NAT64
 * endpoint-independent binding (the IPv4 pipeline goes on), or the
 * verdict (NS_CNT_DROP_NO_SESSION: filtered; NS_CNT_SYN_HELD: a filtered
 * SYN held, ns64_syn_hold()).
 */
static __always_inline __u32 ns64_open_eif(struct ns_pkt *p, const bool is_tc,
					   const struct ns_cfg *cfg, const struct ns_svc *svc,
					   __u32 svc_id, struct ns64_scratch *sc,
					   struct ns_session **sp)
{
	struct ns_session *s = &sc->s;
	struct ns_port_val *pv;
	struct ns_port_key pk;
	struct ns_tuple6 *b;
	__u8 action = NS_FW_ACCEPT;
	__u64 now;
	int fw;

	*sp = NULL;
	if (p->t.proto != IPPROTO_TCP && p->t.proto != IPPROTO_UDP)
		return NS_CONTINUE;
	__builtin_memset(&pk, 0, sizeof(pk));
	pk.addr = p->t.daddr;
	pk.port = p->t.dport;
	pk.proto = p->t.proto;
	pv = bpf_map_lookup_elem(&ns_ports, &pk);
	if (!pv || !(pv->flags & NS_PORT_F_NAT64))
		return NS_CONTINUE;
	b = NULL;
	if (pv->flags & NS_PORT_F_EIM) {
		ns_nat64_bib_key(&sc->bk, p->t.daddr, p->t.dport, p->t.proto);
		b = bpf_map_lookup_elem(&ns_nat64_rev, &sc->bk);
	}
	/* address-dependent filtering (a binding without EIM or EIF, or whose
	 * IPv6 owner is unknown): a SYN is held (RFC 6146 3.5.2.2), the rest
	 * dropped (a binding without EIM: the IPv4 pipeline's to drop) */
	if (!b || !(pv->flags & NS_PORT_F_EIF))
		return ns64_syn_hold(p, is_tc, pv->flags & NS_PORT_F_EIM ? NS_CNT_DROP_NO_SESSION :
									 NS_CONTINUE);
	if (p->t.proto == IPPROTO_TCP && !ns_tcp_pure_syn(p->tcp_flags))
		return NS_CNT_DROP_TCP_NO_SYN;
	fw = ns_fw_eval(svc, &p->t, NS_DIR_OUTPUT, &action);
	if (fw >= 0 && action != NS_FW_ACCEPT)
		return NS_CNT_DROP_FW_DISCARD;
	__builtin_memset(&sc->k, 0, sizeof(sc->k));
	__builtin_memcpy(sc->k.saddr, b->saddr, 16);
	ns64_embed(sc->k.daddr, b->daddr, b->_pad[0], p->t.saddr);
	sc->k.sport = b->sport;
	sc->k.dport = p->t.sport;
	sc->k.proto = b->proto;
	now = bpf_ktime_get_ns();
	ns_session_init(s, p, svc_id, NS_SIDE_OUTSIDE, now);
	s->nat_term = b->dport;
	s->fw_term = fw >= 0 ? fw : NS_NONE16;
	s->nat_type = NS_NAT_NAT64;
	s->pool_id = pv->pool_id;
	s->flags = NS_SF_NAT_SRC | NS_SF_NAT_DST | NS_SF_EIM | NS_SF_EIF;
	if (svc->flags & NS_SVC_F_SYSLOG_SESSION)
		s->flags |= NS_SF_SYSLOG;
	s->in_key.saddr = pv->in_addr;
	s->in_key.daddr = p->t.saddr;
	s->in_key.sport = b->sport;
	s->in_key.dport = p->t.sport;
	s->in_key.proto = p->t.proto;
	s->out_key = p->t;
	pv->last_used_ns = now;
	__builtin_memset(&sc->a, 0, sizeof(sc->a));
	sc->bib_new = 0;
	ns_count(NS_CNT_EIF_INBOUND);
	return ns64_publish(sc, cfg, NULL, sp);
}

#endif /* NATSYNC_BPF_NAT64_BIB_H */
