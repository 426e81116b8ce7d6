/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pba.h - port-block-allocation arithmetic shared by the BPF allocator
 * (bpf/pba.h), natsyncd (daemon/pba.c: logs, release, replication, the
 * deterministic lookup) and the unit tests. Pure functions over struct
 * ns_pool_pba and struct ns_pool; see doc/fastpath.md "Port blocks".
 *
 * Block b of an address covers ports
 *     port_lo + b * block_size .. port_lo + (b + 1) * block_size - 1,
 * b in 0 .. blocks_per_addr - 1, blocks_per_addr =
 * (port_hi - port_lo + 1) / block_size (a tail shorter than a block is
 * never handed out).
 *
 * Deterministic NAT (RFC 7422): subscriber number i = subscriber -
 * det_first owns max_blocks consecutive "global" blocks
 * g = i * max_blocks + k (k < max_blocks), global block g being block
 * g % blocks_per_addr of pool address number g / blocks_per_addr. The
 * mapping is a bijection, so (pool address, port) names one subscriber.
 */
#ifndef NATSYNC_PBA_H
#define NATSYNC_PBA_H

#include "common/pool.h"

/* Whole blocks of @bs ports in [lo, hi]; 0 when none fits. */
static NS_INLINE __u32 ns_pba_blocks_in(__u16 lo, __u16 hi, __u32 bs)
{
	if (!bs || lo > hi)
		return 0;
	return ((__u32)hi - lo + 1) / bs;
}

/* First port (host order) of block @blk. */
static NS_INLINE __u32 ns_pba_block_first(const struct ns_pool_pba *c, __u32 blk)
{
	return (__u32)c->port_lo + blk * c->block_size;
}

/* The block port @port (host order) lies in. 0, or -1 when no block holds it. */
static NS_INLINE int ns_pba_block_of(const struct ns_pool_pba *c, __u32 port, __u32 *blk)
{
	__u32 b;

	if (!c->block_size || port < c->port_lo || port > c->port_hi)
		return -1;
	b = (port - c->port_lo) / c->block_size;
	if (b >= c->blocks_per_addr)
		return -1;
	*blk = b;
	return 0;
}

/* Blocks pool @p hands out, each an entry of ns_pba_blk while owned (a
 * deterministic pool keeps none there). */
static NS_INLINE __u64 ns_pba_pool_blocks(const struct ns_pool_pba *c, const struct ns_pool *p)
{
	if (!c->block_size || (c->flags & NS_PBA_F_DETERMINISTIC))
		return 0;
	return (__u64)p->n_addrs * c->blocks_per_addr;
}

/* Subscribers a deterministic pool can serve: every one needs max_blocks. */
static NS_INLINE __u64 ns_pba_det_capacity(const struct ns_pool_pba *c, const struct ns_pool *p)
{
	if (!c->max_blocks)
		return 0;
	return (__u64)p->n_addrs * c->blocks_per_addr / c->max_blocks;
}

/**
 * ns_pba_det_block() - deterministic NAT, forward: block @k (0 ..
 * max_blocks - 1) of subscriber @sub (host order).
 * @addr_idx/@blk: out, the pool address number and the block on it.
 * Return: 0, or -1 when @sub is outside the subscriber range or the pool
 * has no room for it.
 */
static NS_INLINE int ns_pba_det_block(const struct ns_pool_pba *c, const struct ns_pool *p,
				      __u32 sub, __u32 k, __u32 *addr_idx, __u32 *blk)
{
	__u32 first = c->det_first;
	__u64 g;

	if (!(c->flags & NS_PBA_F_DETERMINISTIC) || !c->blocks_per_addr || k >= c->max_blocks ||
	    sub < first || sub - first >= c->det_count)
		return -1;
	g = (__u64)(sub - first) * c->max_blocks + k;
	if (g / c->blocks_per_addr >= p->n_addrs)
		return -1;
	*addr_idx = (__u32)(g / c->blocks_per_addr);
	*blk = (__u32)(g % c->blocks_per_addr);
	return 0;
}

/**
 * ns_pba_det_owner() - deterministic NAT, backward: the subscriber (host
 * order) that owns pool address number @addr_idx, port @port.
 * Return: 0, or -1 when that port is in no subscriber's blocks.
 */
static NS_INLINE int ns_pba_det_owner(const struct ns_pool_pba *c, const struct ns_pool *p,
				      __u32 addr_idx, __u32 port, __u32 *sub)
{
	__u64 g, i;
	__u32 blk;

	if (!(c->flags & NS_PBA_F_DETERMINISTIC) || !c->max_blocks || addr_idx >= p->n_addrs ||
	    ns_pba_block_of(c, port, &blk))
		return -1;
	g = (__u64)addr_idx * c->blocks_per_addr + blk;
	i = g / c->max_blocks;
	if (i >= c->det_count)
		return -1;
	*sub = c->det_first + (__u32)i;
	return 0;
}

#endif /* NATSYNC_PBA_H */
