// SPDX-License-Identifier: GPL-2.0
/* pools.c - NAT pool usage from the maps (see pools.h). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "mapwalk.h"
#include "pools.h"

const char *const pp_names[PP_MAX] = { "tcp", "udp", "icmp", "other" };

int pool_proto_index(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP: return PP_TCP;
	case IPPROTO_UDP: return PP_UDP;
	case IPPROTO_ICMP: return PP_ICMP;
	default: return PP_OTHER;
	}
}

static void port_visit(const void *key, const void *val, void *arg)
{
	const struct ns_port_key *k = key;
	const struct ns_port_val *v = val;
	struct pool_usage *u = arg;

	if (v->pool_id >= NS_MAX_POOLS)
		return; /* static (basic-nat44) bindings belong to no pool */
	if (v->flags & NS_PORT_F_HOLD)
		u->held[v->pool_id][pool_proto_index(k->proto)]++;
	else
		u->in_use[v->pool_id][pool_proto_index(k->proto)]++;
}

static void paired_visit(const void *key, const void *val, void *arg)
{
	const struct ns_paired_key *k = key;
	struct pool_usage *u = arg;

	(void)val;
	if (k->pool_id < NS_MAX_POOLS)
		u->subscribers[k->pool_id]++;
}

uint32_t pool_ports_per_addr(const struct ns_pool *p)
{
	if (p->flags & NS_POOL_F_PORT_AUTO)
		return (1023 - 512 + 1) + (65535 - 1024 + 1);
	if (!p->port_hi || p->port_hi < p->port_lo)
		return 0;
	return (uint32_t)p->port_hi - p->port_lo + 1;
}

uint64_t pool_capacity(const struct ns_pool *p)
{
	uint32_t ports = pool_ports_per_addr(p);

	return (uint64_t)p->n_addrs * (ports ? ports : 1);
}

uint64_t pool_usage_permille(const struct pool_usage *u, int id, uint64_t cap)
{
	uint64_t worst = 0;

	for (int i = 0; i < PP_MAX && cap; i++) {
		uint64_t pm = (u->in_use[id][i] + u->held[id][i]) * 1000 / cap;

		if (pm > worst)
			worst = pm;
	}
	return worst;
}

int pools_collect_begin(int ports_fd, int paired_fd, struct pool_usage *u,
			struct ns_walk_seq *q, char *err, size_t errlen)
{
	if (ns_map_check(ports_fd, NS_MAP_PORTS, sizeof(struct ns_port_key),
		      sizeof(struct ns_port_val), err, errlen) ||
	    ns_map_check(paired_fd, NS_MAP_PAIRED, sizeof(struct ns_paired_key),
		      sizeof(struct ns_paired_val), err, errlen))
		return -1;
	ns_walk_seq_add(q, ports_fd, sizeof(struct ns_port_key), sizeof(struct ns_port_val),
			port_visit, u, NS_MAP_PORTS);
	ns_walk_seq_add(q, paired_fd, sizeof(struct ns_paired_key), sizeof(struct ns_paired_val),
			paired_visit, u, NS_MAP_PAIRED);
	return 0;
}

int pools_collect(int ports_fd, int paired_fd, struct pool_usage *u, char *err, size_t errlen)
{
	struct ns_walk_seq q = { 0 };
	int ret;

	if (pools_collect_begin(ports_fd, paired_fd, u, &q, err, errlen))
		return -1;
	ret = ns_walk_seq_step(&q, 0);
	ns_walk_seq_fini(&q);
	if (ret < 0) {
		snprintf(err, errlen, "reading NAT bindings: %s", strerror(-ret));
		return -1;
	}
	return 0;
}
