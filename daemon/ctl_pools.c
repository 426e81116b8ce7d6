// SPDX-License-Identifier: GPL-2.0
/*
 * ctl_pools.c - "show pools": each pool's configuration and use, counted in slices.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_int.h"
#include "counters.h"
#include "daemon.h"
#include "mapwalk.h"
#include "pools.h"
#include "util.h"

static void fmt_range(const struct ns_range *r, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	ns_fmt_ip(htonl(r->first), a, sizeof(a));
	if (r->count <= 1) {
		snprintf(buf, len, "%s", a);
		return;
	}
	ns_fmt_ip(htonl(r->first + r->count - 1), b, sizeof(b));
	snprintf(buf, len, "%s-%s", a, b);
}

static void fmt_ports(const struct ns_pool *p, char *buf, size_t len)
{
	if (p->flags & NS_POOL_F_PORT_AUTO)
		snprintf(buf, len, "automatic (512-1023, 1024-65535)");
	else if (!pool_ports_per_addr(p))
		snprintf(buf, len, "none (address only)");
	else
		snprintf(buf, len, "%u-%u", p->port_lo, p->port_hi);
}

static void pool_json(struct ctl_json *j, const struct ns_config *c, const struct pool_usage *u,
		      int id)
{
	const struct ns_pool *p = &c->pools[id];
	uint64_t cap = pool_capacity(p), pm = pool_usage_permille(u, id, cap);
	char buf[64];

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "name", c->pool_names[id]);
	ctl_json_kv_uint(j, "id", (uint64_t)id);
	ctl_json_key(j, "ranges");
	ctl_json_start_array(j);
	for (uint32_t r = 0; r < p->n_ranges && r < NS_POOL_MAX_RANGES; r++) {
		fmt_range(&p->ranges[r], buf, sizeof(buf));
		ctl_json_string(j, buf);
	}
	ctl_json_end_array(j);
	ctl_json_kv_uint(j, "addresses", p->n_addrs);
	ctl_json_key(j, "ports");
	ctl_json_start_object(j);
	ctl_json_kv_string(j, "mode", p->flags & NS_POOL_F_PORT_AUTO ? "automatic"
				      : pool_ports_per_addr(p)   ? "range"
								 : "none");
	ctl_json_kv_uint(j, "low", p->port_lo);
	ctl_json_kv_uint(j, "high", p->port_hi);
	ctl_json_kv_uint(j, "per_address", pool_ports_per_addr(p));
	ctl_json_end_object(j);
	ctl_json_kv_string(j, "port_allocation",
			   p->flags & NS_POOL_F_RANDOM_PORT ? "random" : "sequential");
	ctl_json_kv_string(j, "address_allocation",
			   p->flags & NS_POOL_F_ROUND_ROBIN ? "round-robin" : "default");
	ctl_json_kv_uint(j, "capacity_per_protocol", cap);
	ctl_json_key(j, "in_use");
	ctl_json_start_object(j);
	for (int i = 0; i < PP_MAX; i++)
		ctl_json_kv_uint(j, pp_names[i], u->in_use[id][i]);
	ctl_json_end_object(j);
	ctl_json_key(j, "held");
	ctl_json_start_object(j);
	for (int i = 0; i < PP_MAX; i++)
		ctl_json_kv_uint(j, pp_names[i], u->held[id][i]);
	ctl_json_end_object(j);
	ctl_json_kv_uint(j, "usage_permille", pm);
	ctl_json_kv_uint(j, "subscribers", u->subscribers[id]);
	ctl_json_end_object(j);
}

static void pool_text(FILE *f, const struct ns_config *c, const struct pool_usage *u, int id)
{
	const struct ns_pool *p = &c->pools[id];
	uint64_t cap = pool_capacity(p), pm = pool_usage_permille(u, id, cap);
	char buf[64];

	fprintf(f, "pool %s\n  addresses     ", c->pool_names[id]);
	for (uint32_t r = 0; r < p->n_ranges && r < NS_POOL_MAX_RANGES; r++) {
		fmt_range(&p->ranges[r], buf, sizeof(buf));
		fprintf(f, "%s%s", r ? ", " : "", buf);
	}
	fmt_ports(p, buf, sizeof(buf));
	fprintf(f, " (%u)\n  ports         %s\n", p->n_addrs, buf);
	fprintf(f, "  allocation    port %s, address %s\n",
		p->flags & NS_POOL_F_RANDOM_PORT ? "random" : "sequential",
		p->flags & NS_POOL_F_ROUND_ROBIN ? "round-robin" : "default");
	fprintf(f, "  capacity      %llu per protocol\n", (unsigned long long)cap);
	fprintf(f, "  in use        tcp %llu, udp %llu, icmp %llu, other %llu\n",
		(unsigned long long)u->in_use[id][PP_TCP], (unsigned long long)u->in_use[id][PP_UDP],
		(unsigned long long)u->in_use[id][PP_ICMP],
		(unsigned long long)u->in_use[id][PP_OTHER]);
	fprintf(f, "  held          tcp %llu, udp %llu, icmp %llu, other %llu\n",
		(unsigned long long)u->held[id][PP_TCP], (unsigned long long)u->held[id][PP_UDP],
		(unsigned long long)u->held[id][PP_ICMP], (unsigned long long)u->held[id][PP_OTHER]);
	fprintf(f, "  usage         %llu.%llu %%\n", (unsigned long long)(pm / 10),
		(unsigned long long)(pm % 10));
	fprintf(f, "  subscribers   %llu\n", (unsigned long long)u->subscribers[id]);
}

/* show pools between slices. */
struct pools_cont {
	struct ctl_walk cw;
	struct pool_usage u;
};

int ctl_show_pools(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		      void *arg)
{
	struct pools_cont *pc = out->cont;
	uint64_t cnt[NS_CNT_MAX];
	struct pool_usage *u;
	char err[CTL_ERR_MAX];
	int ret;

	(void)arg;
	if (!pc) {
		pc = ctl_walk_new(out, req, sizeof(*pc), NULL);
		if (!pc)
			return -1;
		if (ctl_request_resolve(&pc->cw.r, &d->conf, err, sizeof(err)) ||
		    pools_collect_begin(d->fd.ports, d->fd.paired, &pc->u, &pc->cw.q, err,
					sizeof(err)))
			return ctl_out_error(out, "%s", err);
	}
	ret = ctl_walk_step(out, &pc->cw, "");
	if (ret)
		return ret;
	u = &pc->u;
	/* Failures are counted globally by the fast path, not per pool. */
	if (ns_counters_read(d->fd.counters, cnt))
		memset(cnt, 0, sizeof(cnt));
	if (out->j) {
		ctl_json_start_object(out->j);
		ctl_json_key(out->j, "pools");
		ctl_json_start_array(out->j);
	}
	for (uint32_t i = 0; i < d->conf.n_pools && i < NS_MAX_POOLS; i++) {
		if (pc->cw.r.pool_idx >= 0 && (int)i != pc->cw.r.pool_idx)
			continue;
		if (out->j)
			pool_json(out->j, &d->conf, u, (int)i);
		else
			pool_text(out->f, &d->conf, u, (int)i);
	}
	if (out->j) {
		ctl_json_end_array(out->j);
		ctl_json_kv_uint(out->j, "allocation_failures", cnt[NS_CNT_DROP_POOL_EXHAUSTED]);
		ctl_json_end_object(out->j);
	} else {
		if (!d->conf.n_pools)
			fprintf(out->f, "no pools configured\n");
		fprintf(out->f, "allocation failures (all pools): %llu\n",
			(unsigned long long)cnt[NS_CNT_DROP_POOL_EXHAUSTED]);
	}
	return 0;
}
