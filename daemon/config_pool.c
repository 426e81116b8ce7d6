// SPDX-License-Identifier: GPL-2.0
/*
 * config_pool.c - services.nat.pools (doc/config.md): address ranges, ports,
 * allocation, port-block allocation (deterministic or not), and how the NAT
 * terms may use a pool (source or destination, never both; source pools
 * never overlap).
 */
#include <arpa/inet.h>
#include <string.h>

#include "config_int.h"
#include "common/pba.h"

/* ---- pools -------------------------------------------------------------- */

/* One pool address entry: "a.b.c.d/len", "a.b.c.d" or "a.b.c.d-e.f.g.h". */
static int parse_pool_range(struct pctx *x, const config_setting_t *e, struct ns_range *r)
{
	const char *v = cfg_elem_str(x, e), *dash;
	uint32_t a, b, mask;
	char lo[20];

	if (!v)
		return -1;
	dash = strchr(v, '-');
	if (dash) {
		if ((size_t)(dash - v) >= sizeof(lo))
			return cfg_fail(x, e, NULL, "'%s' is not an IPv4 prefix or range", v);
		memcpy(lo, v, dash - v);
		lo[dash - v] = '\0';
		if (!cfg_parse_ip(lo, &a) || !cfg_parse_ip(dash + 1, &b))
			return cfg_fail(x, e, NULL, "'%s' is not an IPv4 prefix or range", v);
		a = ntohl(a);
		b = ntohl(b);
		if (a > b)
			return cfg_fail(x, e, NULL, "'%s': the first address is above the last", v);
	} else {
		if (cfg_parse_prefix(x, e, v, &a, &mask))
			return -1;
		if (!mask)
			return cfg_fail(x, e, NULL, "'%s': a pool cannot span the whole address space", v);
		a = ntohl(a);
		b = a | ~ntohl(mask);
	}
	if (cfg_bogus_range(a, b))
		return cfg_fail(x, e, NULL,
				"'%s' includes addresses in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3", v);
	r->first = a;
	r->count = b - a + 1;
	return 0;
}

static bool ranges_overlap(const struct ns_range *a, const struct ns_range *b)
{
	uint64_t a_end = (uint64_t)a->first + a->count, b_end = (uint64_t)b->first + b->count;

	return a->first < b_end && b->first < a_end;
}

static int parse_pool_addresses(struct pctx *x, const config_setting_t *g, uint32_t id)
{
	struct ns_pool *p = &x->c->pools[id];
	const config_setting_t *s = config_setting_get_member(g, "address");
	uint64_t total = 0;
	int n, i, j;

	if (!s)
		return cfg_fail(x, g, "address", "missing (required)");
	n = cfg_scalar_list_max(x, s, NS_POOL_MAX_RANGES, "prefixes/ranges in one pool");
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = cfg_scalar_elem(s, i);

		if (parse_pool_range(x, e, &p->ranges[i]))
			return -1;
		for (j = 0; j < i; j++)
			if (ranges_overlap(&p->ranges[i], &p->ranges[j]))
				return cfg_fail(x, e, NULL, "overlaps address entry %d of the same pool", j);
		x->pools[id].addr_elem[i] = e;
		total += p->ranges[i].count;
	}
	if (total > UINT32_MAX)
		return cfg_fail(x, s, NULL, "the pool holds more than %u addresses", UINT32_MAX);
	p->n_ranges = n;
	p->n_addrs = (uint32_t)total;
	return 0;
}

static const struct name_val port_allocs[] = {
	{ "random", 1 }, { "sequential", 0 }, { NULL, 0 },
};
/* "hash": the fast path picks the address from a hash of the subscriber's
 * address, so the choice is deterministic (RFC 4787 REQ-11). */
static const struct name_val addr_allocs[] = {
	{ "round-robin", 1 }, { "hash", 0 }, { NULL, 0 },
};

/* port = "automatic" | N, or port-range = [lo, hi]. */
static int parse_pool_port(struct pctx *x, const config_setting_t *g, uint32_t id)
{
	const config_setting_t *port = config_setting_get_member(g, "port");
	const config_setting_t *range = config_setting_get_member(g, "port-range");
	struct ns_pool *p = &x->c->pools[id];
	long long lo, hi;

	if (port && range)
		return cfg_fail(x, range, NULL, "'port' and 'port-range' exclude each other");
	if (port && config_setting_type(port) == CONFIG_TYPE_STRING) {
		if (strcmp(config_setting_get_string(port), "automatic"))
			return cfg_fail(x, port, NULL, "'%s' is not \"automatic\" or a port number",
					config_setting_get_string(port));
		x->pools[id].port = PORT_AUTO;
		p->flags |= NS_POOL_F_PORT_AUTO;
		/* The span automatic allocation may use (REQ-3 keeps <1024 low). */
		p->port_lo = 512;
		p->port_hi = 65535;
	} else if (port) {
		if (cfg_int_value(x, port, 1, 65535, &lo))
			return -1;
		x->pools[id].port = PORT_SINGLE;
		p->port_lo = p->port_hi = (uint16_t)lo;
	} else if (range) {
		if (!config_setting_is_array(range) || config_setting_length(range) != 2)
			return cfg_fail(x, range, NULL, "expected [low, high]");
		if (cfg_int_value(x, config_setting_get_elem(range, 0), 1, 65535, &lo) ||
		    cfg_int_value(x, config_setting_get_elem(range, 1), 1, 65535, &hi))
			return -1;
		if (lo > hi)
			return cfg_fail(x, range, NULL, "low port %lld is above high port %lld", lo, hi);
		x->pools[id].port = PORT_RANGE;
		p->port_lo = (uint16_t)lo;
		p->port_hi = (uint16_t)hi;
	}
	return 0;
}

/* deterministic = { subscriber-range = "P/LEN"; } inside port-block-allocation. */
static int parse_pool_det(struct pctx *x, const config_setting_t *pba, uint32_t id)
{
	static const char *const keys[] = { "subscriber-range", NULL };
	struct ns_pool_pba *c = &x->c->pool_pba[id];
	const struct ns_pool *p = &x->c->pools[id];
	const config_setting_t *g, *s;
	uint32_t a, mask;
	const char *v;
	int r = cfg_get_group(x, pba, "deterministic", false, &g);

	if (r <= 0)
		return r;
	if (cfg_check_keys(x, g, keys) || cfg_get_str(x, g, "subscriber-range", true, &v) < 0)
		return -1;
	s = config_setting_get_member(g, "subscriber-range");
	if (cfg_parse_prefix(x, s, v, &a, &mask))
		return -1;
	if (config_setting_get_member(pba, "active-block-timeout") ||
	    config_setting_get_member(pba, "interim-logging-interval"))
		return cfg_fail(x, g, NULL,
				"deterministic blocks are never allocated nor released: drop active-block-timeout and interim-logging-interval");
	c->flags |= NS_PBA_F_DETERMINISTIC;
	c->det_first = ntohl(a);
	c->det_count = ~ntohl(mask) + 1;
	if ((uint64_t)c->det_count > ns_pba_det_capacity(c, p))
		return cfg_fail(x, s, NULL,
				"%u subscribers need %llu blocks of %u ports, pool '%s' has %llu (%u addresses x %u blocks)",
				c->det_count, (unsigned long long)c->det_count * c->max_blocks,
				c->block_size, x->c->pool_names[id],
				(unsigned long long)p->n_addrs * c->blocks_per_addr, p->n_addrs,
				c->blocks_per_addr);
	return 0;
}

/*
 * port-block-allocation = { block-size = N; max-blocks-per-address = M;
 * active-block-timeout = S; interim-logging-interval = S; deterministic =
 * { ... }; } (Junos MS-MPC names). Blocks are cut from the pool's port
 * range (1024..65535 with port = "automatic").
 */
static int parse_pool_pba(struct pctx *x, const config_setting_t *pool, uint32_t id)
{
	static const char *const keys[] = {
		"block-size", "max-blocks-per-address", "active-block-timeout",
		"interim-logging-interval", "deterministic", NULL,
	};
	struct ns_pool_pba *c = &x->c->pool_pba[id];
	const config_setting_t *g, *s;
	uint32_t bs = 0, mb = 1;
	int r = cfg_get_group(x, pool, "port-block-allocation", false, &g);

	if (r <= 0)
		return r;
	if (x->pools[id].port != PORT_AUTO && x->pools[id].port != PORT_RANGE)
		return cfg_fail(x, g, NULL, "needs port = \"automatic\" or port-range");
	if (x->c->pools[id].flags & NS_POOL_F_PARITY)
		return cfg_fail(x, g, NULL, "ports inside a block do not keep parity: drop preserve-parity");
	if (cfg_check_keys(x, g, keys))
		return -1;
	if (x->pools[id].port == PORT_AUTO) {
		c->port_lo = NS_PORT_AUTO_HIGH_LO;
		c->port_hi = NS_PORT_AUTO_HIGH_HI;
	} else {
		c->port_lo = x->c->pools[id].port_lo;
		c->port_hi = x->c->pools[id].port_hi;
	}
	if (cfg_get_u32(x, g, "block-size", NS_PBA_MIN_BLOCK, 65535, &bs) < 0 ||
	    cfg_get_u32(x, g, "max-blocks-per-address", 1, NS_PBA_MAX_BLOCKS, &mb) < 0 ||
	    cfg_get_u32(x, g, "active-block-timeout", 0, 86400, &c->active_timeout_s) < 0 ||
	    cfg_get_u32(x, g, "interim-logging-interval", 0, 86400, &c->interim_s) < 0)
		return -1;
	s = config_setting_get_member(g, "block-size");
	if (!bs)
		return cfg_fail(x, g, "block-size", "missing (required)");
	c->blocks_per_addr = ns_pba_blocks_in(c->port_lo, c->port_hi, bs);
	if (!c->blocks_per_addr || c->blocks_per_addr > 65536)
		return cfg_fail(x, s, NULL, "a block of %u ports does not fit ports %u..%u", bs,
				c->port_lo, c->port_hi);
	if (c->interim_s && c->interim_s < 60)
		return cfg_fail(x, g, "interim-logging-interval",
				"%u s: at least 60 (or 0 for none)", c->interim_s);
	c->block_size = (uint16_t)bs;
	c->max_blocks = (uint16_t)mb;
	return parse_pool_det(x, g, id);
}

static int parse_pool(struct pctx *x, const config_setting_t *g, uint32_t id)
{
	static const char *const keys[] = {
		"name", "address", "port", "port-range", "port-allocation",
		"address-allocation", "preserve-parity", "port-block-allocation", NULL,
	};
	struct ns_pool *p = &x->c->pools[id];
	const config_setting_t *s;
	int random = 1, rr = 0, r;
	bool parity = false;
	const char *name;

	if (cfg_named_elem(x, g, keys, x->c->pool_names[0], sizeof(x->c->pool_names[0]), (int)id,
			   "duplicate pool name '%s'", &name))
		return -1;
	strcpy(x->c->pool_names[id], name);
	if (parse_pool_addresses(x, g, id) || parse_pool_port(x, g, id))
		return -1;
	r = cfg_get_enum(x, g, "port-allocation", port_allocs, &random);
	if (r < 0 || cfg_get_enum(x, g, "address-allocation", addr_allocs, &rr) < 0 ||
	    cfg_get_bool(x, g, "preserve-parity", &parity) < 0)
		return -1;
	if (x->pools[id].port != PORT_AUTO && x->pools[id].port != PORT_RANGE) {
		s = config_setting_get_member(g, r == 1 ? "port-allocation" : "preserve-parity");
		if (r == 1 || parity)
			return cfg_fail(x, s, NULL, "needs port = \"automatic\" or port-range");
	}
	if (random && (x->pools[id].port == PORT_AUTO || x->pools[id].port == PORT_RANGE))
		p->flags |= NS_POOL_F_RANDOM_PORT;
	if (rr)
		p->flags |= NS_POOL_F_ROUND_ROBIN;
	if (parity)
		p->flags |= NS_POOL_F_PARITY;
	return parse_pool_pba(x, g, id);
}

int cfg_parse_pools(struct pctx *x, const config_setting_t *nat)
{
	const config_setting_t *l;
	int r = cfg_get_named_list(x, nat, "pools", NS_MAX_POOLS, "pools", &l), i, n;

	if (r != 1)
		return r;
	n = config_setting_length(l);
	for (i = 0; i < n; i++)
		if (parse_pool(x, config_setting_get_elem(l, i), i))
			return -1;
	x->c->n_pools = n;
	return 0;
}

/* Pool reference by name; id or -1 (with the error recorded). */
int cfg_pool_ref(struct pctx *x, const config_setting_t *then, const char *key)
{
	const config_setting_t *s;
	const char *name;
	uint32_t i;

	if (cfg_get_str(x, then, key, false, &name) != 1)
		return -1;
	s = config_setting_get_member(then, key);
	for (i = 0; i < x->c->n_pools; i++)
		if (!strcmp(x->c->pool_names[i], name))
			return (int)i;
	return cfg_fail(x, s, NULL, "pool '%s' is not defined", name);
}

/* A source pool must suit the translation: napt needs ports, basic keeps them. */
int cfg_check_src_pool(struct pctx *x, const config_setting_t *ref, int type, int id)
{
	struct pool_info *p = &x->pools[id];
	const char *tname = ns_nat_type_name(type); /* a translation, never "none" */

	if (p->use & USE_DST)
		return cfg_fail(x, ref, NULL, "pool '%s' is already a destination-pool",
				x->c->pool_names[id]);
	if ((type == NS_NAT_NAPT44 || type == NS_NAT_TWICE || type == NS_NAT_NAT64) &&
	    p->port != PORT_AUTO && p->port != PORT_RANGE)
		return cfg_fail(x, ref, NULL,
				"%s needs pool '%s' to have port = \"automatic\" or port-range",
				tname, x->c->pool_names[id]);
	if (type == NS_NAT_NAT64 && x->c->pool_pba[id].block_size)
		return cfg_fail(x, ref, NULL,
				"stateful-nat64 cannot take pool '%s' with port-block-allocation: its "
				"blocks would be allocated and logged per 32-bit stand-in of the IPv6 "
				"subscriber, not per subscriber (give NAT64 a pool without blocks)",
				x->c->pool_names[id]);
	if ((type == NS_NAT_BASIC44 || type == NS_NAT_DYNAMIC44) && p->port != PORT_NONE)
		return cfg_fail(x, ref, NULL, "%s keeps ports: pool '%s' must not set port or port-range",
				tname, x->c->pool_names[id]);
	p->use |= USE_SRC;
	return 0;
}

/* A destination pool is one address, optionally one port. */
int cfg_check_dst_pool(struct pctx *x, const config_setting_t *ref, int id)
{
	struct pool_info *p = &x->pools[id];

	if (p->use & USE_SRC)
		return cfg_fail(x, ref, NULL, "pool '%s' is already a source-pool", x->c->pool_names[id]);
	if (x->c->pools[id].n_addrs != 1)
		return cfg_fail(x, ref, NULL, "destination-pool '%s' must hold exactly one address, not %u",
				x->c->pool_names[id], x->c->pools[id].n_addrs);
	if (p->port != PORT_NONE && p->port != PORT_SINGLE)
		return cfg_fail(x, ref, NULL,
				"destination-pool '%s' takes no port range: set port = <number> or nothing",
				x->c->pool_names[id]);
	p->use |= USE_DST;
	return 0;
}

/* Pools that translate sources must not share addresses: two allocators
 * would hand out the same address and port. Destination pools may. */
int cfg_check_pool_overlap(struct pctx *x)
{
	uint32_t a, b, i, j;

	for (a = 0; a < x->c->n_pools; a++) {
		if (!(x->pools[a].use & USE_SRC))
			continue;
		for (b = 0; b < a; b++) {
			if (!(x->pools[b].use & USE_SRC))
				continue;
			for (i = 0; i < x->c->pools[a].n_ranges; i++)
				for (j = 0; j < x->c->pools[b].n_ranges; j++)
					if (ranges_overlap(&x->c->pools[a].ranges[i],
							   &x->c->pools[b].ranges[j]))
						return cfg_fail(x, x->pools[a].addr_elem[i], NULL,
								"overlaps source pool '%s'",
								x->c->pool_names[b]);
		}
	}
	return 0;
}

