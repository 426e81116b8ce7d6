/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pool.h - NAT pool arithmetic shared by the BPF allocator and userspace
 * (unit tests, "show pools"): index -> address, port range for a source
 * port, capacity, port choice. Pure functions over struct ns_pool.
 */
#ifndef NATSYNC_POOL_H
#define NATSYNC_POOL_H

#include "common/match.h"

#define NS_PORT_AUTO_LOW_LO 512 /* RFC 4787 REQ-3: <1024 stays <1024 */
#define NS_PORT_AUTO_LOW_HI 1023
#define NS_PORT_AUTO_HIGH_LO 1024
#define NS_PORT_AUTO_HIGH_HI 65535

/**
 * ns_pool_addr_at() - address number @idx of a pool, host byte order.
 * @p: the pool; @idx: 0..n_addrs-1 across its ranges in order.
 *
 * Return: the address, or 0 when @idx is outside the pool.
 */
static NS_INLINE __u32 ns_pool_addr_at(const struct ns_pool *p, __u32 idx)
{
	__u32 i;

	for (i = 0; i < NS_POOL_MAX_RANGES; i++) {
		if (i >= p->n_ranges)
			break;
		if (idx < p->ranges[i].count)
			return p->ranges[i].first + idx;
		idx -= p->ranges[i].count;
	}
	return 0;
}

/**
 * ns_pool_addr_index() - position of @addr (host order) in the pool.
 * Return: 0 and *@idx set when the address belongs to the pool, -1 if not.
 */
static NS_INLINE int ns_pool_addr_index(const struct ns_pool *p, __u32 addr, __u32 *idx)
{
	__u32 i, base = 0;

	for (i = 0; i < NS_POOL_MAX_RANGES; i++) {
		if (i >= p->n_ranges)
			break;
		if (addr >= p->ranges[i].first && addr - p->ranges[i].first < p->ranges[i].count) {
			*idx = base + (addr - p->ranges[i].first);
			return 0;
		}
		base += p->ranges[i].count;
	}
	return -1;
}

/**
 * ns_pool_port_range() - outside port range used for a given inside port.
 * @p:     the pool.
 * @sport: inside source port (or ICMP id), host order.
 * @lo/@hi: out, inclusive, host order.
 *
 * With NS_POOL_F_PORT_AUTO, ports below 1024 map into 512..1023 and the
 * rest into 1024..65535 (RFC 4787 REQ-3); otherwise the configured range.
 * Return: 0, or -1 when the configured range is empty.
 */
static NS_INLINE int ns_pool_port_range(const struct ns_pool *p, __u16 sport, __u16 *lo, __u16 *hi)
{
	if (p->flags & NS_POOL_F_PORT_AUTO) {
		if (sport < 1024) {
			*lo = NS_PORT_AUTO_LOW_LO;
			*hi = NS_PORT_AUTO_LOW_HI;
		} else {
			*lo = NS_PORT_AUTO_HIGH_LO;
			*hi = NS_PORT_AUTO_HIGH_HI;
		}
		return 0;
	}
	if (p->port_lo == 0 || p->port_lo > p->port_hi)
		return -1;
	*lo = p->port_lo;
	*hi = p->port_hi;
	return 0;
}

/**
 * ns_pool_capacity() - number of (address, port) bindings per protocol.
 * With automatic ports both classes (512..1023 and 1024..65535) count.
 */
static NS_INLINE __u64 ns_pool_capacity(const struct ns_pool *p)
{
	__u64 per_addr;

	if (p->flags & NS_POOL_F_PORT_AUTO)
		per_addr = (NS_PORT_AUTO_LOW_HI - NS_PORT_AUTO_LOW_LO + 1) +
			   (NS_PORT_AUTO_HIGH_HI - NS_PORT_AUTO_HIGH_LO + 1);
	else if (p->port_lo == 0 || p->port_lo > p->port_hi)
		per_addr = 0;
	else
		per_addr = (__u64)p->port_hi - p->port_lo + 1;
	return per_addr * p->n_addrs;
}

/**
 * ns_pool_port_pick() - map a random or sequential number onto a port.
 * @lo/@hi: inclusive range (host order); @r: the number;
 * @sport:  inside port, for parity; @parity: keep the parity of @sport
 *          (RFC 4787 REQ-4) when the range allows it.
 */
static NS_INLINE __u16 ns_pool_port_pick(__u16 lo, __u16 hi, __u32 r, __u16 sport, int parity)
{
	__u32 span = (__u32)hi - lo + 1;
	__u32 port = lo + r % span;

	if (parity && ((port ^ sport) & 1)) {
		if (port < hi)
			port++;
		else if (port > lo)
			port--;
	}
	return (__u16)port;
}

/**
 * ns_hash32() - integer mixer (murmur3 finaliser) used to spread
 * subscribers over pool addresses when round-robin is not configured.
 */
static NS_INLINE __u32 ns_hash32(__u32 x)
{
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

#endif /* NATSYNC_POOL_H */
