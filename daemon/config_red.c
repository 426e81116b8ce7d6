// SPDX-License-Identifier: GPL-2.0
/*
 * config_red.c - redundancy-options (doc/redundancy.md, doc/sync.md): the
 * sync channel's addresses and timers, the switchover (virtual addresses,
 * signal routes, monitored links, hook), and the redundancy events,
 * policies and heartbeat paths.
 */
#include <arpa/inet.h>
#include <string.h>

#include "config_int.h"
#include "util.h"

/* An address inside a one-key group: redundancy-local = { data-address = ...; }. */
static int get_addr_group(struct pctx *x, const config_setting_t *red, const char *group,
			  const char *key, struct in_addr *out)
{
	const char *const keys[] = { key, NULL };
	const config_setting_t *g, *s;
	const char *v;
	uint32_t a;

	if (cfg_get_group(x, red, group, true, &g) < 0 || cfg_check_keys(x, g, keys) ||
	    cfg_get_str(x, g, key, true, &v) < 0)
		return -1;
	s = config_setting_get_member(g, key);
	if (!cfg_parse_ip(v, &a))
		return cfg_fail(x, s, NULL, "'%s' is not an IPv4 address", v);
	if (cfg_bogus_range(ntohl(a), ntohl(a)))
		return cfg_fail(x, s, NULL, "'%s' is not a unicast address", v);
	out->s_addr = a;
	return 0;
}

/* What a repeated event, policy or heartbeat path name is told. */
#define TWICE "'%s' is defined twice"

/* An interface name element or member s (type and syntax checked). */
static const char *ifname_value(struct pctx *x, const config_setting_t *s)
{
	const char *v = cfg_elem_str(x, s);

	if (!v || cfg_check_ifname(x, s, v))
		return NULL;
	return v;
}

/* An optional interface name member key of g into buf (IF_NAMESIZE). */
static int get_ifname(struct pctx *x, const config_setting_t *g, const char *key, char *buf)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	const char *v;

	if (!s)
		return 0;
	v = ifname_value(x, s);
	if (!v)
		return -1;
	strcpy(buf, v);
	return 1;
}

/* virtual-addresses = ( { address = "198.51.100.1/24"; interface = "x"; } ):
 * interface addresses, so host bits are expected here. */
static int parse_vips(struct pctx *x, const config_setting_t *g)
{
	static const char *const keys[] = { "address", "interface", NULL };
	struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *l, *e, *s;
	char buf[32];
	unsigned long len;
	const char *v;
	int r = cfg_get_list(x, g, "virtual-addresses", &l), i;

	if (r != 1)
		return r;
	if (config_setting_length(l) > NS_RED_MAX_VIPS)
		return cfg_fail(x, l, NULL, "more than %d virtual addresses", NS_RED_MAX_VIPS);
	for (i = 0; i < config_setting_length(l); i++) {
		struct ns_red_vip *vip = &rd->vips[i];

		e = config_setting_get_elem(l, i);
		if (cfg_check_keys(x, e, keys) || cfg_get_str(x, e, "address", true, &v) < 0)
			return -1;
		s = config_setting_get_member(e, "address");
		if (!cfg_split_prefix(v, buf, sizeof(buf), 32, &len) || len < 1)
			return cfg_fail(x, s, NULL, "'%s' is not an IPv4 address[/length]", v);
		if (!cfg_parse_ip(buf, &vip->addr.s_addr) ||
		    cfg_bogus_range(ntohl(vip->addr.s_addr), ntohl(vip->addr.s_addr)))
			return cfg_fail(x, s, NULL,
					"'%s' is not a unicast IPv4 address[/length]", v);
		vip->prefix_len = (uint8_t)len;
		if (!config_setting_get_member(e, "interface"))
			return cfg_fail(x, e, "interface", "missing (required)");
		v = ifname_value(x, config_setting_get_member(e, "interface"));
		if (!v)
			return -1;
		strcpy(vip->ifname, v);
		rd->n_vips = i + 1;
	}
	return 0;
}

/* One route group: { destination = "203.0.113.0/24"; via = "..."; interface
 * = "..."; table = 254; metric = 0; }; neither via nor interface: blackhole. */
static int parse_route(struct pctx *x, const config_setting_t *e, struct ns_red_route *rt)
{
	static const char *const keys[] = {
		"destination", "via", "interface", "table", "metric", NULL,
	};
	const config_setting_t *s;
	uint32_t mask;
	const char *v;

	if (cfg_check_keys(x, e, keys) || cfg_get_str(x, e, "destination", true, &v) < 0 ||
	    cfg_parse_prefix(x, config_setting_get_member(e, "destination"), v, &rt->dst.s_addr,
			     &mask))
		return -1;
	rt->prefix_len = (uint8_t)__builtin_popcount(mask);
	if (cfg_get_str(x, e, "via", false, &v) < 0)
		return -1;
	s = config_setting_get_member(e, "via");
	if (s && !cfg_parse_ip(v, &rt->via.s_addr))
		return cfg_fail(x, s, NULL, "'%s' is not an IPv4 address", v);
	if (get_ifname(x, e, "interface", rt->ifname) < 0)
		return -1;
	rt->table = 254;
	if (cfg_get_u32(x, e, "table", 1, UINT32_MAX, &rt->table) < 0 ||
	    cfg_get_u32(x, e, "metric", 0, UINT32_MAX, &rt->metric) < 0)
		return -1;
	return 0;
}

/* A list of route groups under key (signal-routes, add-static-route, ...). */
static int parse_route_list(struct pctx *x, const config_setting_t *g, const char *key,
			    struct ns_red_route *out, uint32_t max, uint32_t *n)
{
	const config_setting_t *l;
	int r = cfg_get_list(x, g, key, &l), i;

	if (r != 1)
		return r;
	if (config_setting_length(l) > (int)max)
		return cfg_fail(x, l, NULL, "more than %u routes", max);
	for (i = 0; i < config_setting_length(l); i++) {
		if (parse_route(x, config_setting_get_elem(l, i), &out[i]))
			return -1;
		*n = (uint32_t)i + 1;
	}
	return 0;
}

static int parse_routes(struct pctx *x, const config_setting_t *g)
{
	struct ns_redundancy_conf *rd = &x->c->red;

	return parse_route_list(x, g, "signal-routes", rd->routes, NS_RED_MAX_ROUTES,
				&rd->n_routes);
}

/* monitor-interfaces = [ "a", "b" ]: links whose loss hands the role over. */
static int parse_monitor(struct pctx *x, const config_setting_t *g)
{
	struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *s = config_setting_get_member(g, "monitor-interfaces");
	const char *v;
	int n, i;

	if (!s)
		return 0;
	n = cfg_scalar_list_max(x, s, NS_RED_MAX_MONITOR, "interfaces");
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		v = ifname_value(x, cfg_scalar_elem(s, i));
		if (!v)
			return -1;
		strcpy(rd->monitor[i], v);
	}
	rd->n_monitor = n;
	return 0;
}

static const struct name_val roles[] = {
	{ "primary", NS_ROLE_PRIMARY }, { "backup", NS_ROLE_BACKUP }, { NULL, 0 },
};
static const struct name_val role_controls[] = {
	{ "auto", 0 }, { "external", 1 }, { NULL, 0 },
};

/* Keys of the switchover machinery (issue 3 sync, issue 4 redundancy). */
static int parse_switchover(struct pctx *x, const config_setting_t *g)
{
	struct ns_redundancy_conf *rd = &x->c->red;
	int ext = 0;

	if (cfg_get_enum(x, g, "initial-role", roles, &rd->initial_role) < 0 ||
	    cfg_get_enum(x, g, "role-control", role_controls, &ext) < 0 ||
	    cfg_get_strbuf(x, g, "hook", rd->hook, sizeof(rd->hook)) < 0 ||
	    cfg_get_u32(x, g, "garp-count", 1, 100, &rd->garp_count) < 0 ||
	    cfg_get_u32(x, g, "garp-interval-ms", 10, 10000, &rd->garp_interval_ms) < 0 ||
	    parse_vips(x, g) < 0 || parse_routes(x, g) < 0 || parse_monitor(x, g) < 0)
		return -1;
	rd->role_external = ext;
	return 0;
}

/* ---- redundancy events, policies, heartbeat paths (issue 10) -------------- */

/* An IPv4 unicast address member key of g (required). */
static int get_unicast(struct pctx *x, const config_setting_t *g, const char *key, bool required,
		       struct in_addr *out)
{
	const config_setting_t *s;
	const char *v;
	uint32_t a;
	int r = cfg_get_str(x, g, key, required, &v);

	if (r != 1)
		return r;
	s = config_setting_get_member(g, key);
	if (!cfg_parse_ip(v, &a) || cfg_bogus_range(ntohl(a), ntohl(a)))
		return cfg_fail(x, s, NULL, "'%s' is not a unicast IPv4 address", v);
	out->s_addr = a;
	return 1;
}

static int srd_link_event(struct pctx *x, const config_setting_t *s, struct ns_srd_event_conf *ev)
{
	int n = cfg_scalar_list_max(x, s, NS_SRD_MAX_LINKS, "interfaces");

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *v = ifname_value(x, cfg_scalar_elem(s, i));

		if (!v)
			return -1;
		strcpy(ev->links[i], v);
	}
	ev->n_links = (uint32_t)n;
	return 0;
}

static int srd_route_event(struct pctx *x, const config_setting_t *g, struct ns_srd_event_conf *ev)
{
	static const char *const keys[] = { "prefix", "table", NULL };
	uint32_t mask;
	const char *v;

	if (!config_setting_is_group(g))
		return cfg_fail(x, g, NULL,
				"expected a group { prefix = ...; table = ...; }, got %s",
				cfg_type_name(g));
	if (cfg_check_keys(x, g, keys) || cfg_get_str(x, g, "prefix", true, &v) < 0 ||
	    cfg_parse_prefix(x, config_setting_get_member(g, "prefix"), v, &ev->prefix.s_addr,
			     &mask))
		return -1;
	ev->prefix_len = (uint8_t)__builtin_popcount(mask);
	ev->table = 254;
	return cfg_get_u32(x, g, "table", 1, UINT32_MAX, &ev->table) < 0 ? -1 : 0;
}

static int srd_ping_event(struct pctx *x, const config_setting_t *g, struct ns_srd_event_conf *ev)
{
	static const char *const keys[] = {
		"address", "source", "interface", "interval-ms", "count", NULL,
	};

	if (!config_setting_is_group(g))
		return cfg_fail(x, g, NULL, "expected a group { address = ...; }, got %s", cfg_type_name(g));
	ev->ping_interval_ms = 1000;
	ev->ping_count = 3;
	if (cfg_check_keys(x, g, keys) || get_unicast(x, g, "address", true, &ev->ping_addr) < 0 ||
	    get_unicast(x, g, "source", false, &ev->ping_source) < 0 ||
	    cfg_get_u32(x, g, "interval-ms", 50, 60000, &ev->ping_interval_ms) < 0 ||
	    cfg_get_u32(x, g, "count", 1, 100, &ev->ping_count) < 0 ||
	    get_ifname(x, g, "interface", ev->ping_iface) < 0)
		return -1;
	return 0;
}

static const char *const srd_monitors[] = {
	"monitor-link-down", "monitor-route", "monitor-ping", "monitor-peer", NULL,
};

/* redundancy-events = ( { name = "..."; monitor-KIND = ...; hold-time-down-ms
 * = N; hold-time-up-ms = N; } ): exactly one monitor per event. */
static int parse_srd_events(struct pctx *x, const config_setting_t *g)
{
	static const char *const keys[] = {
		"name", "monitor-link-down", "monitor-route", "monitor-ping", "monitor-peer",
		"hold-time-down-ms", "hold-time-up-ms", NULL,
	};
	struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *l, *e, *s = NULL;
	int r = cfg_get_named_list(x, g, "redundancy-events", NS_SRD_MAX_EVENTS, "events", &l), i, k, kind;
	const char *v;

	if (r != 1)
		return r;
	for (i = 0; i < config_setting_length(l); i++) {
		struct ns_srd_event_conf *ev = &rd->events[i];

		e = config_setting_get_elem(l, i);
		if (cfg_named_elem(x, e, keys, rd->events[0].name, sizeof(*ev), i, TWICE, &v))
			return -1;
		strcpy(ev->name, v);
		kind = 0;
		for (k = 0; srd_monitors[k]; k++) {
			const config_setting_t *m = config_setting_get_member(e, srd_monitors[k]);

			if (!m)
				continue;
			if (kind)
				return cfg_fail(x, m, NULL,
						"an event watches one thing: %s is set too",
						srd_monitors[kind - 1]);
			kind = k + 1;
			s = m;
		}
		if (!kind)
			return cfg_fail(x, e, NULL, "no monitor: set one of monitor-link-down, "
					"monitor-route, monitor-ping, monitor-peer");
		ev->kind = kind; /* the table's order is enum ns_srd_kind's */
		if ((kind == NS_SRD_LINK && srd_link_event(x, s, ev)) ||
		    (kind == NS_SRD_ROUTE && srd_route_event(x, s, ev)) ||
		    (kind == NS_SRD_PING && srd_ping_event(x, s, ev)))
			return -1;
		if (kind == NS_SRD_PEER) {
			v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
			if (!v || strcmp(v, "loss"))
				return cfg_fail(x, s, NULL,
						"expected \"loss\" (the peer's heartbeats "
						"stop for dead-interval-ms)");
		}
		if (cfg_get_u32(x, e, "hold-time-down-ms", 0, 3600000, &ev->hold_down_ms) < 0 ||
		    cfg_get_u32(x, e, "hold-time-up-ms", 0, 3600000, &ev->hold_up_ms) < 0)
			return -1;
		rd->n_events = (uint32_t)i + 1;
	}
	return 0;
}

/* redundancy-events = [ "a", "b" ] of a policy: names of defined events. */
static int srd_policy_events(struct pctx *x, const config_setting_t *p, struct ns_srd_policy_conf *pc)
{
	const struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *s = config_setting_get_member(p, "redundancy-events"), *e;
	const char *v;
	int n, i;
	uint32_t k;

	if (!s)
		return cfg_fail(x, p, "redundancy-events", "missing (required)");
	n = cfg_scalar_list_len(x, s);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		v = cfg_str_at(x, s, i, &e);
		if (!v)
			return -1;
		for (k = 0; k < rd->n_events && strcmp(rd->events[k].name, v); k++)
			;
		if (k == rd->n_events)
			return cfg_fail(x, e, NULL,
					"no redundancy event '%s' (redundancy-events)", v);
		pc->events |= 1u << k;
	}
	return 0;
}

static const struct name_val srd_whens[] = { { "down", 0 }, { "up", 1 }, { NULL, 0 } };

/* then = { acquire-mastership = true; ... }: at least one action. */
static int srd_policy_then(struct pctx *x, const config_setting_t *p, struct ns_srd_policy_conf *pc)
{
	static const char *const keys[] = {
		"acquire-mastership", "release-mastership", "add-signal-route",
		"delete-signal-route", "add-static-route", "delete-static-route", "hook",
		"hook-timeout-ms", NULL,
	};
	static const struct { const char *key; uint32_t bit; } flags[] = {
		{ "acquire-mastership", NS_SRD_A_ACQUIRE }, { "release-mastership", NS_SRD_A_RELEASE },
		{ "add-signal-route", NS_SRD_A_ADD_SIGNAL }, { "delete-signal-route", NS_SRD_A_DEL_SIGNAL },
	};
	const config_setting_t *t;
	bool on;

	if (cfg_get_group(x, p, "then", true, &t) < 0 || cfg_check_keys(x, t, keys))
		return -1;
	for (size_t i = 0; i < NS_ARRAY_SIZE(flags); i++) {
		on = false;
		if (cfg_get_bool(x, t, flags[i].key, &on) < 0)
			return -1;
		if (on)
			pc->actions |= flags[i].bit;
	}
	if ((pc->actions & NS_SRD_A_ACQUIRE) && (pc->actions & NS_SRD_A_RELEASE))
		return cfg_fail(x, t, NULL,
				"acquire-mastership and release-mastership in one policy");
	if ((pc->actions & NS_SRD_A_ADD_SIGNAL) && (pc->actions & NS_SRD_A_DEL_SIGNAL))
		return cfg_fail(x, t, NULL,
				"add-signal-route and delete-signal-route in one policy");
	if ((pc->actions & NS_SRD_A_ADD_SIGNAL) && !x->c->red.n_routes)
		return cfg_fail(x, t, "add-signal-route", "no signal-routes are configured");
	if (parse_route_list(x, t, "add-static-route", pc->add_routes, NS_SRD_MAX_ROUTES,
			     &pc->n_add_routes) < 0 ||
	    parse_route_list(x, t, "delete-static-route", pc->del_routes, NS_SRD_MAX_ROUTES,
			     &pc->n_del_routes) < 0 ||
	    cfg_get_strbuf(x, t, "hook", pc->hook, sizeof(pc->hook)) < 0 ||
	    cfg_get_u32(x, t, "hook-timeout-ms", 100, 600000, &pc->hook_timeout_ms) < 0)
		return -1;
	if (pc->n_add_routes)
		pc->actions |= NS_SRD_A_ADD_ROUTES;
	if (pc->n_del_routes)
		pc->actions |= NS_SRD_A_DEL_ROUTES;
	if (pc->hook[0])
		pc->actions |= NS_SRD_A_HOOK;
	else if (config_setting_get_member(t, "hook-timeout-ms"))
		return cfg_fail(x, t, "hook-timeout-ms", "without a hook");
	if (!pc->actions)
		return cfg_fail(x, t, NULL, "no action (acquire-mastership, release-mastership, "
				"add/delete-signal-route, add/delete-static-route, hook)");
	return 0;
}

/* redundancy-policies = ( { name; redundancy-events = [ ... ]; when; then = { } } ). */
static int parse_srd_policies(struct pctx *x, const config_setting_t *g)
{
	static const char *const keys[] = { "name", "redundancy-events", "when", "then", NULL };
	struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *l, *e;
	int r = cfg_get_named_list(x, g, "redundancy-policies", NS_SRD_MAX_POLICIES, "policies", &l);
	int i, when;
	const char *v;

	if (r != 1)
		return r;
	for (i = 0; i < config_setting_length(l); i++) {
		struct ns_srd_policy_conf *pc = &rd->policies[i];

		e = config_setting_get_elem(l, i);
		when = 0;
		pc->hook_timeout_ms = 10000;
		if (cfg_named_elem(x, e, keys, rd->policies[0].name, sizeof(*pc), i, TWICE, &v) ||
		    srd_policy_events(x, e, pc) ||
		    cfg_get_enum(x, e, "when", srd_whens, &when) < 0 ||
		    srd_policy_then(x, e, pc))
			return -1;
		strcpy(pc->name, v);
		pc->on_up = when;
		rd->n_policies = (uint32_t)i + 1;
	}
	return 0;
}

/* heartbeat-paths = ( { name; local-address; peer-address; port; interface } ). */
static int parse_hb_paths(struct pctx *x, const config_setting_t *g)
{
	static const char *const keys[] = {
		"name", "local-address", "peer-address", "port", "interface", NULL,
	};
	struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *l, *e;
	int r = cfg_get_named_list(x, g, "heartbeat-paths", NS_SRD_MAX_HB_PATHS, "heartbeat paths", &l);
	uint32_t port;
	const char *v;
	int i;

	if (r != 1)
		return r;
	for (i = 0; i < config_setting_length(l); i++) {
		struct ns_hb_path_conf *hp = &rd->hb_paths[i];

		e = config_setting_get_elem(l, i);
		port = 7789;
		if (cfg_named_elem(x, e, keys, rd->hb_paths[0].name, sizeof(*hp), i, TWICE, &v) ||
		    get_unicast(x, e, "local-address", true, &hp->local_addr) < 0 ||
		    get_unicast(x, e, "peer-address", true, &hp->peer_addr) < 0 ||
		    cfg_get_u32(x, e, "port", 1, 65535, &port) < 0)
			return -1;
		strcpy(hp->name, v);
		hp->port = (uint16_t)port;
		if (hp->local_addr.s_addr == hp->peer_addr.s_addr)
			return cfg_fail(x, config_setting_get_member(e, "peer-address"), NULL,
					"equals local-address");
		if (hp->local_addr.s_addr == rd->local_addr.s_addr)
			return cfg_fail(x, config_setting_get_member(e, "local-address"), NULL,
					"is the sync channel's address: a second path needs another link");
		if (get_ifname(x, e, "interface", hp->ifname) < 0)
			return -1;
		rd->n_hb_paths = (uint32_t)i + 1;
	}
	return 0;
}

int cfg_parse_redundancy(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = {
		"redundancy-local", "redundancy-peer", "port", "routing-instance",
		"replication-threshold", "heartbeat-interval-ms", "dead-interval-ms",
		"priority", "preempt", "key-file", "initial-role", "role-control",
		"virtual-addresses", "signal-routes", "monitor-interfaces", "hook",
		"garp-count", "garp-interval-ms", "encrypt", "redundancy-events",
		"redundancy-policies", "heartbeat-paths", NULL,
	};
	struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *g, *s;
	uint32_t port = rd->port, prio = (uint32_t)rd->priority;
	int r = cfg_get_group(x, top, "redundancy-options", false, &g);

	if (r != 1)
		return r;
	if (cfg_check_keys(x, g, keys) ||
	    get_addr_group(x, g, "redundancy-local", "data-address", &rd->local_addr) ||
	    get_addr_group(x, g, "redundancy-peer", "ipaddress", &rd->peer_addr))
		return -1;
	if (rd->local_addr.s_addr == rd->peer_addr.s_addr)
		return cfg_fail(x, config_setting_get_member(g, "redundancy-peer"), NULL,
				"the peer address equals redundancy-local data-address");
	if (cfg_get_u32(x, g, "port", 1, 65535, &port) < 0 ||
	    cfg_get_strbuf(x, g, "routing-instance", rd->device, sizeof(rd->device)) < 0 ||
	    cfg_get_u32(x, g, "replication-threshold", 0, 86400, &rd->replication_threshold) < 0 ||
	    cfg_get_u32(x, g, "heartbeat-interval-ms", 50, 60000, &rd->heartbeat_interval_ms) < 0 ||
	    cfg_get_u32(x, g, "dead-interval-ms", 150, 600000, &rd->dead_interval_ms) < 0 ||
	    cfg_get_u32(x, g, "priority", 0, 255, &prio) < 0 ||
	    cfg_get_bool(x, g, "preempt", &rd->preempt) < 0 ||
	    cfg_get_path(x, g, "key-file", rd->key_file, sizeof(rd->key_file), true) < 0 ||
	    cfg_get_bool(x, g, "encrypt", &rd->encrypt) < 0)
		return -1;
	/* The encryption keys derive from the pre-shared key. */
	if (rd->encrypt && !rd->key_file[0])
		return cfg_fail(x, config_setting_get_member(g, "encrypt"), NULL,
				"encrypt = true needs key-file (the encryption "
				"keys are derived from the pre-shared key)");
	s = config_setting_get_member(g, "routing-instance");
	if (s && *rd->device && cfg_check_ifname(x, s, rd->device))
		return -1;
	s = config_setting_get_member(g, "dead-interval-ms");
	if (rd->dead_interval_ms < 2 * rd->heartbeat_interval_ms)
		return cfg_fail(x, g, s ? "dead-interval-ms" : NULL,
				"dead-interval-ms %u must be at least twice heartbeat-interval-ms %u",
				rd->dead_interval_ms, rd->heartbeat_interval_ms);
	if (parse_switchover(x, g) || parse_srd_events(x, g) < 0 || parse_srd_policies(x, g) < 0 ||
	    parse_hb_paths(x, g) < 0)
		return -1;
	rd->port = (uint16_t)port;
	rd->priority = (int)prio;
	rd->enabled = true;
	return 0;
}
