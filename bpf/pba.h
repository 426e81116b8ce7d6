/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pba.h - port-block-allocation for napt-44 pools (Junos MS-MPC
 * "port-block-allocation"; see struct ns_pool_pba and doc/fastpath.md
 * "Port blocks").
 *
 * A subscriber's sessions take ports from its active block on its
 * address (ns_pba); when the active one has no free port among the
 * NS_PBA_PROBES probed, or active-block-timeout has passed, it is given
 * another block (claimed in ns_pba_blk with BPF_NOEXIST, so no block has
 * two owners), up to max-blocks-per-address; at the maximum a port its
 * older blocks freed is taken, and when there is none the session is
 * refused (pba_max_blocks, verdict drop_pool_exhausted). Every port is
 * still claimed in ns_ports, which keeps port-hold, aging and sync as they
 * are. Blocks are released, logged and replicated by daemon/pba.c.
 *
 * Deterministic pools (RFC 7422) keep no state here: the subscriber's
 * blocks are a function of its address (common/pba.h).
 *
 * Updates of a subscriber's ns_pba value are plain stores: two CPUs adding
 * a block at once may leave one claimed block out of the list; that block
 * is still owned in ns_pba_blk (no one else gets it) and the daemon
 * releases it when it empties.
 */
#ifndef NATSYNC_BPF_PBA_H
#define NATSYNC_BPF_PBA_H

#include "common/pba.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NS_MAX_POOLS * NS_CFG_BANKS);
	__type(key, __u32);
	__type(value, struct ns_pool_pba);
} ns_pool_pba SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_PBA_BLOCKS);
	__type(key, struct ns_pba_key);
	__type(value, struct ns_pba_val);
} ns_pba SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_PBA_BLOCKS);
	__type(key, struct ns_pba_blk_key);
	__type(value, struct ns_pba_blk_val);
} ns_pba_blk SEC(".maps");

/* The PBA parameters of pool @pool_id in config bank @bank; NULL if none. */
static __always_inline struct ns_pool_pba *ns_pba_at(__u32 bank, __u32 pool_id)
{
	__u32 k = (bank & 1) * NS_MAX_POOLS + pool_id;

	if (pool_id >= NS_MAX_POOLS)
		return NULL;
	return bpf_map_lookup_elem(&ns_pool_pba, &k);
}

/* Claim block @blk of @addr for subscriber @saddr. 0 if it is its now. */
static __always_inline int ns_pba_claim(__be32 addr, __u32 blk, __u8 pool_id, __be32 saddr,
					__u64 now)
{
	struct ns_pba_blk_key k;
	struct ns_pba_blk_val v;

	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memset(&v, 0, sizeof(v));
	k.addr = addr;
	k.block = (__u16)blk;
	k.pool_id = pool_id;
	v.in_addr = saddr;
	v.alloc_ns = now;
	return bpf_map_update_elem(&ns_pba_blk, &k, &v, BPF_NOEXIST) ? -1 : 0;
}

/* Start of a block or port search: random, or the pool's cursor. */
static __always_inline __u32 ns_pba_start(const struct ns_pool *pool, struct ns_pool_state *st)
{
	__u32 r;

	if (pool->flags & NS_POOL_F_RANDOM_PORT)
		return bpf_get_prandom_u32();
	r = st->port_next;
	st->port_next = r + 1;
	return r;
}

/* A first block for a subscriber without one: an address as napt-44 picks
 * it (a different one every 8 tries), a free block on it. */
static __always_inline struct ns_pba_val *ns_pba_first(const struct ns_pba_key *k,
						       const struct ns_pool *pool,
						       struct ns_pool_state *st,
						       const struct ns_pool_pba *c, __u64 now)
{
	__u32 a0 = ns_pick_addr_idx(pool, st, k->in_addr), r = ns_pba_start(pool, st), i, blk;
	struct ns_pba_val nv;
	__be32 addr = 0;

	for (i = 0; i < NS_PORT_ALLOC_TRIES; i++) {
		addr = bpf_htonl(ns_pool_addr_at(pool, (a0 + (i >> 3)) % pool->n_addrs));
		blk = (r + i) % c->blocks_per_addr;
		if (!ns_pba_claim(addr, blk, k->pool_id, k->in_addr, now))
			break;
	}
	if (i == NS_PORT_ALLOC_TRIES) {
		ns_count(NS_CNT_PBA_NO_BLOCK);
		return NULL;
	}
	__builtin_memset(&nv, 0, sizeof(nv));
	nv.out_addr = addr;
	nv.n_blocks = 1;
	nv.blocks[0] = (__u16)blk;
	nv.active_ns = now;
	if (bpf_map_update_elem(&ns_pba, k, &nv, BPF_NOEXIST)) {
		/* another CPU gave it its first block first: use that one */
		struct ns_pba_blk_key bk;

		__builtin_memset(&bk, 0, sizeof(bk));
		bk.addr = addr;
		bk.block = (__u16)blk;
		bk.pool_id = k->pool_id;
		bpf_map_delete_elem(&ns_pba_blk, &bk);
	} else {
		ns_count(NS_CNT_PBA_BLOCK_NEW);
	}
	return bpf_map_lookup_elem(&ns_pba, k);
}

/* One more block on the subscriber's address. 0, or -1 (no free block
 * counted; the maximum is counted by the caller, once the older blocks
 * had no port either). */
static __always_inline int ns_pba_grow(struct ns_pba_val *v, const struct ns_pba_key *k,
				       const struct ns_pool *pool, struct ns_pool_state *st,
				       const struct ns_pool_pba *c, __u64 now)
{
	__u32 n = v->n_blocks, r, i, blk;

	if (n >= c->max_blocks || n >= NS_PBA_MAX_BLOCKS)
		return -1;
	r = ns_pba_start(pool, st);
	for (i = 0; i < NS_PORT_ALLOC_TRIES; i++) {
		blk = (r + i) % c->blocks_per_addr;
		if (!ns_pba_claim(v->out_addr, blk, k->pool_id, k->in_addr, now))
			break;
	}
	if (i == NS_PORT_ALLOC_TRIES) {
		ns_count(NS_CNT_PBA_NO_BLOCK);
		return -1;
	}
	v->blocks[n & (NS_PBA_MAX_BLOCKS - 1)] = (__u16)blk;
	v->n_blocks = (__u8)(n + 1);
	v->active_ns = now;
	v->cursor = 0;
	ns_count(NS_CNT_PBA_BLOCK_NEW);
	return 0;
}

/* A free port of block @slot of the subscriber's list, claimed in
 * ns_ports. 0 or -1. */
static __always_inline int ns_pba_take(struct ns_alloc *a, const struct ns_tuple *t,
				       const struct ns_nat_term *nt, __u16 nat_idx, __u16 svc_id,
				       struct ns_pba_val *v, __u32 slot, const struct ns_pool *pool,
				       const struct ns_pool_pba *c, __u64 now)
{
	__u32 bs = c->block_size, base, start, off, i;

	if (slot >= v->n_blocks || !bs)
		return -1;
	base = ns_pba_block_first(c, v->blocks[slot & (NS_PBA_MAX_BLOCKS - 1)]);
	start = pool->flags & NS_POOL_F_RANDOM_PORT ? bpf_get_prandom_u32() : v->cursor;
	for (i = 0; i < NS_PBA_PROBES; i++) {
		if (i >= bs)
			break;
		off = (start + i) % bs;
		if (!ns_port_claim(a, t, nt, nat_idx, svc_id, v->out_addr, (__u16)(base + off), now)) {
			v->cursor = (__u16)((off + 1) % bs);
			return 0;
		}
	}
	return -1;
}

/* Deterministic pool: the first free port among the subscriber's blocks. */
static __always_inline int ns_pba_det(struct ns_alloc *a, const struct ns_tuple *t,
				      const struct ns_nat_term *nt, __u16 nat_idx, __u16 svc_id,
				      const struct ns_pool *pool, struct ns_pool_state *st,
				      const struct ns_pool_pba *c, __u64 now)
{
	__u32 sub = bpf_ntohl(t->saddr), span = (__u32)c->block_size * c->max_blocks;
	__u32 start = ns_pba_start(pool, st), off, idx, blk, i;

	if (!span)
		return -1;
	for (i = 0; i < NS_PBA_PROBES; i++) {
		if (i >= span)
			break;
		off = (start + i) % span;
		if (ns_pba_det_block(c, pool, sub, off / c->block_size, &idx, &blk)) {
			ns_count(NS_CNT_PBA_NO_BLOCK);
			return -1;
		}
		if (!ns_port_claim(a, t, nt, nat_idx, svc_id, bpf_htonl(ns_pool_addr_at(pool, idx)),
				   (__u16)(ns_pba_block_first(c, blk) + off % c->block_size), now))
			return 0;
	}
	return -1;
}

/**
 * ns_pba_alloc() - the port of a new session in a port-block pool.
 * @t: the untranslated tuple; @nt/@nat_idx/@svc_id: its term and set;
 * @c: the pool's PBA parameters (block_size != 0); @a: out, as
 * ns_port_claim() fills it. Return: 0, or -1 when the session is refused.
 */
static __always_inline int ns_pba_alloc(const struct ns_tuple *t, const struct ns_nat_term *nt,
					__u16 nat_idx, __u16 svc_id, const struct ns_pool *pool,
					struct ns_pool_state *st, const struct ns_pool_pba *c,
					struct ns_alloc *a, __u64 now)
{
	struct ns_pba_key k;
	struct ns_pba_val *v;
	__u32 round, slot, n;
	int fresh;

	if (!c->blocks_per_addr || !c->max_blocks)
		return -1;
	if (c->flags & NS_PBA_F_DETERMINISTIC)
		return ns_pba_det(a, t, nt, nat_idx, svc_id, pool, st, c, now);
	__builtin_memset(&k, 0, sizeof(k));
	k.in_addr = t->saddr;
	k.pool_id = a->pool_id;
	v = bpf_map_lookup_elem(&ns_pba, &k);
	if (!v)
		v = ns_pba_first(&k, pool, st, c, now);
	if (!v)
		return -1;
	for (round = 0; round < 2; round++) {
		n = v->n_blocks;
		/* past active-block-timeout the active block takes no new
		 * session while another block may still be had */
		fresh = !c->active_timeout_s || n >= c->max_blocks ||
			now - v->active_ns < (__u64)c->active_timeout_s * 1000000000ull;
		if (n && fresh && !ns_pba_take(a, t, nt, nat_idx, svc_id, v, n - 1, pool, c, now))
			return 0;
		if (!ns_pba_grow(v, &k, pool, st, c, now))
			continue;
		/* no block more to be had: a port its older blocks freed
		 * (their order may differ on a box that took over) */
		for (slot = 0; slot + 1 < n && slot < NS_PBA_MAX_BLOCKS; slot++)
			if (!ns_pba_take(a, t, nt, nat_idx, svc_id, v, slot, pool, c, now))
				return 0;
		if (n >= c->max_blocks)
			ns_count(NS_CNT_PBA_MAX_BLOCKS);
		return -1;
	}
	return -1;
}

#endif /* NATSYNC_BPF_PBA_H */
