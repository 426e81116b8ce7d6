/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pools.h - NAT pool usage as the maps hold it: bindings in use and held
 * per pool and protocol (ns_ports), paired subscribers (ns_paired), and
 * what a pool can hold. Shared by show pools (ctl_pools.c) and the metrics
 * (metrics.c); reads only the map fds it is given.
 */
#ifndef NATSYNC_POOLS_H
#define NATSYNC_POOLS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/natsync.h"

/* Protocols a pool's ports are counted by (TCP, UDP, ICMP ports are apart). */
enum { PP_TCP, PP_UDP, PP_ICMP, PP_OTHER, PP_MAX };
extern const char *const pp_names[PP_MAX];

/* The PP_* slot a protocol's ports are counted in. */
int pool_proto_index(uint8_t proto);

struct pool_usage {
	uint64_t in_use[NS_MAX_POOLS][PP_MAX];
	uint64_t held[NS_MAX_POOLS][PP_MAX];   /* released, in their hold time */
	uint64_t subscribers[NS_MAX_POOLS];    /* address-pooling paired entries */
};

/* Ports one address offers per protocol; 0 for an address-only pool. */
uint32_t pool_ports_per_addr(const struct ns_pool *p);

/* Bindings one protocol can hold: addresses x ports (or addresses). */
uint64_t pool_capacity(const struct ns_pool *p);

/* Highest usage over the protocols, in per-mille, held ports counted as
 * used (they cannot be allocated either). */
uint64_t pool_usage_permille(const struct pool_usage *u, int id, uint64_t cap);

/*
 * pools_collect - count ns_ports and ns_paired (fds ports_fd, paired_fd)
 * into u (zeroed by the caller). A missing map is an error, not zeros.
 * Returns 0, or -1 with the reason in err.
 */
int pools_collect(int ports_fd, int paired_fd, struct pool_usage *u, char *err, size_t errlen);

/* The same count in steps on the event loop: check the maps and add their
 * walks to q (ns_walk_seq_step() does them); 0, or -1 with err. */
struct ns_walk_seq;
int pools_collect_begin(int ports_fd, int paired_fd, struct pool_usage *u,
			struct ns_walk_seq *q, char *err, size_t errlen);

#endif
