/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nat44.h - outside address/port allocation for a new inside->outside flow.
 *
 *  - napt-44: address from the pool (paired: one address per subscriber per
 *    pool, kept in ns_paired; round-robin: a cursor in ns_pool_state; else a
 *    hash of the subscriber address), port from the pool's range (automatic:
 *    <1024 -> 512..1023, else 1024..65535), random or sequential, claimed by
 *    inserting (addr, port, proto) into ns_ports with BPF_NOEXIST, at most
 *    NS_PORT_ALLOC_TRIES probes. EIM reuses ns_eim. A pool with
 *    port-block-allocation takes the port from the subscriber's block
 *    instead (bpf/pba.h).
 *  - dynamic-nat44: one pool address per subscriber (claimed in ns_ports
 *    with port 0/proto 0, remembered in ns_paired), ports kept.
 *  - basic-nat44: static 1:1, host part of the subscriber address indexes
 *    the pool, ports kept.
 * The pool cursors are plain read-increment-write: a lost update between
 * CPUs only makes two CPUs probe the same candidate, and the NOEXIST insert
 * settles who owns it (atomics with a return value need -mcpu=v3).
 */
#ifndef NATSYNC_BPF_NAT44_H
#define NATSYNC_BPF_NAT44_H

#include "bpf/counters.h"

/* Outcome of an allocation, and what to release if the session fails. */
struct ns_alloc {
	__be32 addr;
	__be16 port;
	__u8 new_port; /* we inserted ns_ports[port_key] */
	__u8 new_eim;  /* we inserted ns_eim[eim_key] */
	__u8 pool_id;
	__u8 bank;     /* in: config bank of the term (pool lookups) */
	__u16 svc_id;  /* in: service set */
	__u16 nat_idx; /* in: compiled NAT term */
	__u16 _pad2;
	struct ns_port_key port_key;
	struct ns_eim_key eim_key;
};

/* Undo the claims of an allocation whose session could not be created. */
static __always_inline void ns_alloc_release(struct ns_alloc *a)
{
	if (a->new_eim)
		bpf_map_delete_elem(&ns_eim, &a->eim_key);
	if (a->new_port)
		bpf_map_delete_elem(&ns_ports, &a->port_key);
	a->new_eim = 0;
	a->new_port = 0;
}

/* First address index for a subscriber: round-robin cursor or hash. */
static __always_inline __u32 ns_pick_addr_idx(const struct ns_pool *pool, struct ns_pool_state *st,
					      __be32 saddr)
{
	__u32 c;

	if (pool->flags & NS_POOL_F_ROUND_ROBIN) {
		c = st->rr_next;
		st->rr_next = c + 1;
		return c % pool->n_addrs;
	}
	return ns_hash32(bpf_ntohl(saddr)) % pool->n_addrs;
}

/* Paired pooling: the subscriber's address in this pool, 0 if none yet. */
static __always_inline __be32 ns_paired_get(__be32 saddr, __u8 pool_id, __u64 now)
{
	struct ns_paired_key k;
	struct ns_paired_val *v;

	__builtin_memset(&k, 0, sizeof(k));
	k.in_addr = saddr;
	k.pool_id = pool_id;
	v = bpf_map_lookup_elem(&ns_paired, &k);
	if (!v)
		return 0;
	v->last_used_ns = now;
	return v->out_addr;
}

/* Write the subscriber's paired address with update @flags. 0 or -errno. */
static __always_inline int ns_paired_put(__be32 saddr, __u8 pool_id, __be32 addr, __u64 now,
					 __u64 flags)
{
	struct ns_paired_key k;
	struct ns_paired_val v;

	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memset(&v, 0, sizeof(v));
	k.in_addr = saddr;
	k.pool_id = pool_id;
	v.out_addr = addr;
	v.last_used_ns = now;
	return bpf_map_update_elem(&ns_paired, &k, &v, flags);
}

/* Record the paired address; if another CPU raced us, its choice wins. */
static __always_inline __be32 ns_paired_set(__be32 saddr, __u8 pool_id, __be32 addr, __u64 now)
{
	__be32 cur;

	if (!ns_paired_put(saddr, pool_id, addr, now, BPF_NOEXIST))
		return addr;
	cur = ns_paired_get(saddr, pool_id, now);
	return cur ? cur : addr;
}

/* Overwrite the subscriber's paired address (it left the pool). */
static __always_inline void ns_paired_replace(__be32 saddr, __u8 pool_id, __be32 addr, __u64 now)
{
	ns_paired_put(saddr, pool_id, addr, now, BPF_EXIST);
}

/* EIM: an existing binding for this inside endpoint? */
static __always_inline int ns_eim_get(struct ns_alloc *a, __u64 now)
{
	struct ns_eim_val *v = bpf_map_lookup_elem(&ns_eim, &a->eim_key);

	if (!v)
		return -1;
	v->last_used_ns = now;
	a->addr = v->out_addr;
	a->port = v->out_port;
	return 0;
}

/* Claim one (addr, port, proto) in ns_ports. Return 0 if it is ours now. */
static __always_inline int ns_port_claim(struct ns_alloc *a, const struct ns_tuple *t,
					 const struct ns_nat_term *nt, __u16 nat_idx, __u16 svc_id,
					 __be32 addr, __u16 port, __u64 now)
{
	struct ns_port_val v;

	__builtin_memset(&a->port_key, 0, sizeof(a->port_key));
	__builtin_memset(&v, 0, sizeof(v));
	a->port_key.addr = addr;
	a->port_key.port = bpf_htons(port);
	a->port_key.proto = t->proto;
	v.in_addr = t->saddr;
	v.in_port = t->sport;
	if (nt->flags & NS_NAT_F_EIM)
		v.flags |= NS_PORT_F_EIM;
	if ((nt->flags & NS_NAT_F_EIM) && (nt->flags & NS_NAT_F_EIF))
		v.flags |= NS_PORT_F_EIF;
	if (nt->nat_type == NS_NAT_NAT64)
		v.flags |= NS_PORT_F_NAT64;
	v.pool_id = a->pool_id;
	v.svc_set = svc_id;
	v.nat_term = nat_idx;
	v.last_used_ns = now;
	if (bpf_map_update_elem(&ns_ports, &a->port_key, &v, BPF_NOEXIST))
		return -1;
	a->addr = addr;
	a->port = a->port_key.port;
	a->new_port = 1;
	return 0;
}

#include "bpf/pba.h"

/* Store the new EIM binding; on a lost race adopt the winner's binding. */
static __always_inline void ns_eim_set(struct ns_alloc *a, __u64 now)
{
	struct ns_eim_val v;

	__builtin_memset(&v, 0, sizeof(v));
	v.out_addr = a->addr;
	v.out_port = a->port;
	v.flags = NS_PORT_F_EIM;
	v.pool_id = a->pool_id;
	v.last_used_ns = now;
	if (!bpf_map_update_elem(&ns_eim, &a->eim_key, &v, BPF_NOEXIST)) {
		a->new_eim = 1;
		return;
	}
	ns_alloc_release(a);
	ns_eim_get(a, now);
}

/**
 * ns_napt_alloc() - address + port for a napt-44 term.
 * @p: the packet (inside->outside, untranslated); @nt/@nat_idx: the term;
 * @svc_id: service set; @a: out. Return: 0, or -1 when the pool is full.
 */
static __always_inline int ns_napt_alloc(const struct ns_tuple *t, const struct ns_nat_term *nt,
					 __u16 nat_idx, __u16 svc_id, struct ns_alloc *a, __u64 now)
{
	__u32 pool_id = nt->src_pool, a0, idx, r, i;
	struct ns_pool_state *st;
	struct ns_pool_pba *pba;
	struct ns_pool *pool;
	__be32 paired = 0, addr;
	__u16 lo, hi, sport = bpf_ntohs(t->sport), port;

	if (pool_id >= NS_MAX_POOLS)
		return -1;
	pool = ns_pool_at(a->bank, pool_id);
	st = bpf_map_lookup_elem(&ns_pool_state, &pool_id);
	if (!pool || !st || pool->n_addrs == 0)
		return -1;
	if (ns_pool_port_range(pool, sport, &lo, &hi))
		return -1;
	a->pool_id = pool_id;
	__builtin_memset(&a->eim_key, 0, sizeof(a->eim_key));
	a->eim_key.in_addr = t->saddr;
	a->eim_key.in_port = t->sport;
	a->eim_key.proto = t->proto;
	a->eim_key.svc_set = svc_id;
	if ((nt->flags & NS_NAT_F_EIM) && !ns_eim_get(a, now)) {
		ns_count(NS_CNT_EIM_REUSE);
		return 0;
	}
	pba = ns_pba_at(a->bank, pool_id);
	if (pba && pba->block_size) {
		if (ns_pba_alloc(t, nt, nat_idx, svc_id, pool, st, pba, a, now))
			return -1;
		goto bound;
	}
	a0 = ns_pick_addr_idx(pool, st, t->saddr);
	if (nt->flags & NS_NAT_F_PAIRED) {
		paired = ns_paired_get(t->saddr, pool_id, now);
		if (paired && ns_pool_addr_index(pool, bpf_ntohl(paired), &idx)) {
			/* paired with an address a reload took out of the
			 * pool: new sessions get one of the pool's own */
			paired = bpf_htonl(ns_pool_addr_at(pool, a0));
			ns_paired_replace(t->saddr, pool_id, paired, now);
		}
		if (!paired)
			paired = ns_paired_set(t->saddr, pool_id,
					       bpf_htonl(ns_pool_addr_at(pool, a0)), now);
	}
	for (i = 0; i < NS_PORT_ALLOC_TRIES; i++) {
		if (paired) {
			addr = paired;
		} else {
			/* move to the next address every 8 probes so one full
			 * address does not fail a pool that has room */
			idx = (a0 + (i >> 3)) % pool->n_addrs;
			addr = bpf_htonl(ns_pool_addr_at(pool, idx));
		}
		if (pool->flags & NS_POOL_F_RANDOM_PORT) {
			r = bpf_get_prandom_u32();
		} else {
			r = st->port_next;
			st->port_next = r + 1;
		}
		port = ns_pool_port_pick(lo, hi, r, sport, pool->flags & NS_POOL_F_PARITY);
		if (!ns_port_claim(a, t, nt, nat_idx, svc_id, addr, port, now))
			break;
	}
	if (!a->new_port)
		return -1;
bound:
	ns_count(NS_CNT_NAT_ALLOC);
	if (nt->flags & NS_NAT_F_EIM)
		ns_eim_set(a, now);
	return 0;
}

/**
 * ns_dyn_alloc() - dynamic-nat44: one pool address per subscriber, ports
 * kept. The address is owned through ns_ports[(addr, 0, 0)].
 */
static __always_inline int ns_dyn_alloc(const struct ns_tuple *t, const struct ns_nat_term *nt,
					__u16 nat_idx, __u16 svc_id, struct ns_alloc *a, __u64 now)
{
	__u32 pool_id = nt->src_pool, a0, i;
	struct ns_pool_state *st;
	struct ns_pool *pool;
	struct ns_port_val v;
	__be32 addr;

	if (pool_id >= NS_MAX_POOLS)
		return -1;
	pool = ns_pool_at(a->bank, pool_id);
	st = bpf_map_lookup_elem(&ns_pool_state, &pool_id);
	if (!pool || !st || pool->n_addrs == 0)
		return -1;
	a->pool_id = pool_id;
	a->port = t->sport;
	addr = ns_paired_get(t->saddr, pool_id, now);
	if (addr) {
		a->addr = addr;
		return 0;
	}
	a0 = ns_pick_addr_idx(pool, st, t->saddr);
	__builtin_memset(&v, 0, sizeof(v));
	v.in_addr = t->saddr;
	v.pool_id = pool_id;
	v.svc_set = svc_id;
	v.nat_term = nat_idx;
	v.last_used_ns = now;
	for (i = 0; i < NS_PORT_ALLOC_TRIES; i++) {
		__builtin_memset(&a->port_key, 0, sizeof(a->port_key));
		a->port_key.addr = bpf_htonl(ns_pool_addr_at(pool, (a0 + i) % pool->n_addrs));
		if (!bpf_map_update_elem(&ns_ports, &a->port_key, &v, BPF_NOEXIST)) {
			/* the address binding outlives this session (the
			 * daemon ages it with ns_paired), so it is never
			 * released on a failed session insert */
			a->addr = ns_paired_set(t->saddr, pool_id, a->port_key.addr, now);
			if (a->addr != a->port_key.addr)
				bpf_map_delete_elem(&ns_ports, &a->port_key);
			ns_count(NS_CNT_NAT_ALLOC);
			return 0;
		}
	}
	return -1;
}

/* basic-nat44: static 1:1, subscriber host bits index the pool. */
static __always_inline int ns_basic_alloc(const struct ns_tuple *t, const struct ns_nat_term *nt,
					  struct ns_alloc *a)
{
	__u32 pool_id = nt->src_pool, host;
	struct ns_pool *pool;

	pool = ns_pool_at(a->bank, pool_id);
	if (!pool || pool->n_addrs == 0)
		return -1;
	host = bpf_ntohl(t->saddr) & ~bpf_ntohl(nt->m.src_mask);
	a->pool_id = pool_id;
	a->addr = bpf_htonl(ns_pool_addr_at(pool, host % pool->n_addrs));
	a->port = t->sport;
	return 0;
}

/**
 * ns_dnat_dest() - the destination a dnat-44 / twice-nat term translates
 * to: the one address of its destination pool, and the pool's port if it
 * has one (TCP/UDP only; an ICMP echo id is never a destination port).
 * @svc: its service set (config bank); @t: the untranslated tuple.
 * Return: 0, or -1 without a usable pool.
 */
static __always_inline int ns_dnat_dest(const struct ns_svc *svc, const struct ns_nat_term *nt,
					const struct ns_tuple *t, __be32 *addr, __be16 *port)
{
	struct ns_pool *pool = ns_pool_at(svc->bank, nt->dst_pool);

	if (!pool || pool->n_addrs == 0 || pool->n_ranges == 0)
		return -1;
	*addr = bpf_htonl(pool->ranges[0].first);
	*port = t->dport;
	if ((t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP) && pool->port_lo &&
	    pool->port_lo == pool->port_hi && !(pool->flags & NS_POOL_F_PORT_AUTO))
		*port = bpf_htons(pool->port_lo);
	return 0;
}

/**
 * ns_nat_alloc_g() - run the allocator of NAT term @nt for tuple @t.
 * @a: in: svc_id, nat_idx; out: the binding and what to release.
 * Return: 0, or -1 when the pool is exhausted.
 *
 * A global (noinline, non-static) function: the verifier checks it once on
 * its own instead of once per call site and path, which keeps both programs
 * far below the verifier's instruction limit (the probe loop times the
 * pool range walk is the largest state space in the fast path).
 */
__attribute__((noinline)) int ns_nat_alloc_g(const struct ns_tuple *t, const struct ns_nat_term *nt,
					     struct ns_alloc *a)
{
	__u64 now = bpf_ktime_get_ns();

	if (!t || !nt || !a)
		return -1;
	switch (nt->nat_type) {
	case NS_NAT_NAPT44:
	case NS_NAT_TWICE: /* its source half is napt-44 */
	case NS_NAT_NAT64: /* napt-44's allocator, the binding marked NAT64 */
		return ns_napt_alloc(t, nt, a->nat_idx, a->svc_id, a, now);
	case NS_NAT_DYNAMIC44:
		return ns_dyn_alloc(t, nt, a->nat_idx, a->svc_id, a, now);
	case NS_NAT_BASIC44:
		return ns_basic_alloc(t, nt, a);
	}
	return -1;
}

#endif /* NATSYNC_BPF_NAT44_H */
