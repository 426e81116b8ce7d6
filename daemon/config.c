// SPDX-License-Identifier: GPL-2.0
/*
 * config.c - the libconfig loader of natsyncd (see config.h, doc/config.md).
 *
 * Three stages, all on a scratch copy so that *out only changes on success:
 *  1. parse + validate every key (unknown keys, types, ranges, references),
 *     each error located as "FILE:LINE: key.path: reason";
 *  2. expand each rule's terms (source x destination x protocol x source
 *     port x destination port) and check the expansion fits;
 *  3. compile the service sets: their terms are copied, in the order the
 *     service set lists its rules, into contiguous slices of the fw/nat
 *     arrays that the BPF maps hold as they are.
 *
 * This file holds the entry points, the global scalars, the rules and their
 * terms, the service sets, the interfaces and the fingerprint; each other
 * section has its own file (config_int.h lists them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aging.h"
#include "config_int.h"
#include "util.h"

#define POOL_NONE 0xff

enum rule_kind { RULE_FW, RULE_NAT };

/* ---- top-level scalars -------------------------------------------------- */

static const struct name_val attach_modes[] = {
	{ "native", NS_ATTACH_NATIVE }, { "generic", NS_ATTACH_GENERIC },
	{ "tc", NS_ATTACH_TC }, { "auto", NS_ATTACH_AUTO }, { NULL, 0 },
};

#define TIMEOUT_MAX (7 * 86400)

static int parse_timeouts(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = {
		"tcp-syn", "tcp-established", "tcp-closing", "tcp-time-wait", "tcp-rst",
		"udp", "icmp", "other", "port-hold", "binding", NULL,
	};
	struct ns_timeouts *t = &x->c->timeouts;
	const config_setting_t *g;
	int r = cfg_get_group(x, top, "timeouts", false, &g);

	if (r != 1)
		return r;
	if (cfg_check_keys(x, g, keys) ||
	    cfg_get_u32(x, g, "tcp-syn", 1, TIMEOUT_MAX, &t->tcp_syn) < 0 ||
	    cfg_get_u32(x, g, "tcp-established", 1, TIMEOUT_MAX, &t->tcp_established) < 0 ||
	    cfg_get_u32(x, g, "tcp-closing", 1, TIMEOUT_MAX, &t->tcp_closing) < 0 ||
	    cfg_get_u32(x, g, "tcp-time-wait", 1, TIMEOUT_MAX, &t->tcp_time_wait) < 0 ||
	    cfg_get_u32(x, g, "tcp-rst", 1, TIMEOUT_MAX, &t->tcp_rst) < 0 ||
	    cfg_get_u32(x, g, "udp", 1, TIMEOUT_MAX, &t->udp) < 0 ||
	    cfg_get_u32(x, g, "icmp", 1, TIMEOUT_MAX, &t->icmp) < 0 ||
	    cfg_get_u32(x, g, "other", 1, TIMEOUT_MAX, &t->other) < 0 ||
	    cfg_get_u32(x, g, "port-hold", 0, 3600, &t->port_hold) < 0 ||
	    cfg_get_u32(x, g, "binding", 0, TIMEOUT_MAX, &t->binding) < 0)
		return -1;
	return 0;
}

static int parse_global(struct pctx *x, const config_setting_t *top)
{
	struct ns_config *c = x->c;
	const config_setting_t *s;
	int r;

	r = cfg_get_strbuf(x, top, "node-name", c->node_name, sizeof(c->node_name));
	if (r < 0)
		return -1;
	s = config_setting_get_member(top, "node-name");
	if (r == 1 && cfg_check_name(x, s, c->node_name))
		return -1;
	/* Room for "/v4/ns_session_rev" behind the pin path. */
	if (cfg_get_path(x, top, "pin-path", c->pin_path, sizeof(c->pin_path) - 32, false) < 0)
		return -1;
	if (cfg_get_path(x, top, "control-socket", c->control_socket,
			 sizeof(c->control_socket), false) < 0)
		return -1;
	/* 0 = no limit; the fast path enforces it when it opens a session */
	if (cfg_get_u32(x, top, "max-sessions", 16, 1u << 26, &c->max_sessions) < 0 ||
	    cfg_get_u32(x, top, "max-sessions-per-subscriber", 0, 1u << 26,
			&c->cfg.max_sess_per_sub) < 0 ||
	    cfg_get_u32(x, top, "aging-interval-ms", 10, 60000, &c->aging_interval_ms) < 0 ||
	    cfg_get_u32(x, top, "aging-slice", 0, NS_AGING_SLICE_MAX, &c->aging_slice) < 0 ||
	    cfg_get_enum(x, top, "attach-mode", attach_modes, &c->attach_mode) < 0)
		return -1;
	s = config_setting_get_member(top, "loop-nice");
	if (s) {
		long long v;

		if (cfg_int_value(x, s, -20, 19, &v))
			return -1;
		c->loop_nice = (int32_t)v;
	}
	return 0;
}

/* ---- rules and terms ---------------------------------------------------- */

static const struct name_val fw_dirs[] = {
	{ "input", NS_DIR_INPUT }, { "output", NS_DIR_OUTPUT },
	{ "input-output", NS_DIR_INPUT | NS_DIR_OUTPUT }, { NULL, 0 },
};
static const struct name_val nat_dirs[] = {
	{ "input", NS_DIR_INPUT }, { "output", NS_DIR_OUTPUT }, { NULL, 0 },
};
static const struct name_val fw_actions[] = {
	{ "accept", NS_FW_ACCEPT }, { "discard", NS_FW_DISCARD }, { "reject", NS_FW_REJECT },
	{ NULL, 0 },
};
static const struct name_val nat_types[] = {
	{ "basic-nat44", NS_NAT_BASIC44 }, { "dynamic-nat44", NS_NAT_DYNAMIC44 },
	{ "napt-44", NS_NAT_NAPT44 }, { "dnat-44", NS_NAT_DNAT44 },
	{ "twice-nat", NS_NAT_TWICE }, { "stateful-nat64", NS_NAT_NAT64 }, { NULL, 0 },
};
static const struct name_val pooling_types[] = {
	{ "paired", 1 }, { "arbitrary", 0 }, { NULL, 0 },
};
static const struct name_val eim_types[] = {
	{ "endpoint-independent", 1 }, { "address-and-port-dependent", 0 }, { NULL, 0 },
};

static int parse_addr_list(struct pctx *x, const config_setting_t *from, const char *key,
			   uint32_t (*out)[2], uint32_t *n)
{
	const config_setting_t *s = config_setting_get_member(from, key), *e;
	const char *v;
	int len, i;

	*n = 1;
	out[0][0] = out[0][1] = 0;
	if (!s)
		return 0;
	len = cfg_scalar_list_len(x, s);
	if (len < 0)
		return -1;
	for (i = 0; i < len; i++) {
		v = cfg_str_at(x, s, i, &e);
		if (!v || cfg_parse_prefix(x, e, v, &out[i][0], &out[i][1]))
			return -1;
	}
	*n = len;
	return 0;
}

static int parse_port_list(struct pctx *x, const config_setting_t *from, const char *key,
			   const struct match_lists *l, uint16_t (*out)[2], uint32_t *n)
{
	const config_setting_t *s = config_setting_get_member(from, key);
	uint32_t k;
	int len, i;

	*n = 1;
	out[0][0] = 0;
	out[0][1] = 65535;
	if (!s)
		return 0;
	/* Ports only mean something for the protocols that have them. */
	for (k = 0; k < l->n_proto; k++) {
		if (!l->proto[k])
			return cfg_fail(x, s, NULL, "needs protocol tcp and/or udp (no protocol is given)");
		if (l->proto[k] != IPPROTO_TCP && l->proto[k] != IPPROTO_UDP)
			return cfg_fail(x, s, NULL,
					"protocol '%s' has no ports (only tcp and udp do)",
					ns_proto_name(l->proto[k]));
	}
	len = cfg_scalar_list_len(x, s);
	if (len < 0)
		return -1;
	for (i = 0; i < len; i++)
		if (cfg_parse_port_range(x, cfg_scalar_elem(s, i), &out[i][0], &out[i][1]))
			return -1;
	*n = len;
	return 0;
}

static int parse_from(struct pctx *x, const config_setting_t *term, struct match_lists *l)
{
	static const char *const keys[] = {
		"source-address", "destination-address", "protocol", "source-port",
		"destination-port", NULL,
	};
	const config_setting_t *from = NULL, *s;
	int r = cfg_get_group(x, term, "from", false, &from), len, i;

	if (r < 0)
		return -1;
	l->n_src = l->n_dst = l->n_proto = l->n_sport = l->n_dport = 1;
	memset(l->src[0], 0, sizeof(l->src[0]));
	memset(l->dst[0], 0, sizeof(l->dst[0]));
	l->proto[0] = 0;
	l->sport[0][0] = l->dport[0][0] = 0;
	l->sport[0][1] = l->dport[0][1] = 65535;
	if (!from)
		return 0; /* no "from": the term matches everything */
	if (cfg_check_keys(x, from, keys) ||
	    parse_addr_list(x, from, "source-address", l->src, &l->n_src) ||
	    parse_addr_list(x, from, "destination-address", l->dst, &l->n_dst))
		return -1;
	s = config_setting_get_member(from, "protocol");
	if (s) {
		len = cfg_scalar_list_len(x, s);
		if (len < 0)
			return -1;
		for (i = 0; i < len; i++)
			if (cfg_parse_proto(x, cfg_scalar_elem(s, i), &l->proto[i]))
				return -1;
		l->n_proto = len;
	}
	if (parse_port_list(x, from, "source-port", l, l->sport, &l->n_sport) ||
	    parse_port_list(x, from, "destination-port", l, l->dport, &l->n_dport))
		return -1;
	return 0;
}

/*
 * The cartesian product of the lists, in order (source outermost, destination
 * port innermost), into out[cap]. Returns the count, or -1 when it exceeds cap.
 */
static int expand_match(const struct match_lists *l, uint8_t dir, struct ns_match *out,
			uint32_t cap)
{
	uint32_t a, b, p, sp, dp, n = 0;
	uint64_t total = (uint64_t)l->n_src * l->n_dst * l->n_proto * l->n_sport * l->n_dport;

	if (total > cap)
		return -1;
	for (a = 0; a < l->n_src; a++)
		for (b = 0; b < l->n_dst; b++)
			for (p = 0; p < l->n_proto; p++)
				for (sp = 0; sp < l->n_sport; sp++)
					for (dp = 0; dp < l->n_dport; dp++) {
						struct ns_match *m = &out[n++];

						memset(m, 0, sizeof(*m));
						m->src_addr = l->src[a][0];
						m->src_mask = l->src[a][1];
						m->dst_addr = l->dst[b][0];
						m->dst_mask = l->dst[b][1];
						m->proto = l->proto[p];
						m->sport_lo = l->sport[sp][0];
						m->sport_hi = l->sport[sp][1];
						m->dport_lo = l->dport[dp][0];
						m->dport_hi = l->dport[dp][1];
						m->dir_mask = dir;
					}
	return (int)n;
}

/* Firewall "then": "accept" or { action = "accept"; syslog = true; }. */
static int parse_fw_then(struct pctx *x, const config_setting_t *term, struct ns_fw_term *t)
{
	static const char *const keys[] = { "action", "syslog", NULL };
	const config_setting_t *s = config_setting_get_member(term, "then");
	int action = NS_FW_ACCEPT;
	bool syslog = false;

	if (!s)
		return cfg_fail(x, term, "then", "missing (required)");
	if (config_setting_is_group(s)) {
		if (cfg_check_keys(x, s, keys))
			return -1;
		if (!config_setting_get_member(s, "action"))
			return cfg_fail(x, s, "action", "missing (required)");
		if (cfg_get_enum(x, s, "action", fw_actions, &action) < 0 ||
		    cfg_get_bool(x, s, "syslog", &syslog) < 0)
			return -1;
	} else if (cfg_str_enum(x, s, fw_actions, &action)) {
		return -1;
	}
	t->action = (uint8_t)action;
	t->syslog = syslog;
	return 0;
}

/* basic-nat44 is 1:1: each source prefix must fit into the pool. */
static int check_basic_fit(struct pctx *x, const config_setting_t *term,
			   const struct match_lists *l, int id)
{
	uint64_t need;
	uint32_t i;

	for (i = 0; i < l->n_src; i++) {
		need = (uint64_t)(~ntohl(l->src[i][1])) + 1;
		if (need > x->c->pools[id].n_addrs)
			return cfg_fail(x, term, NULL,
					"basic-nat44 maps 1:1, but a source prefix of %llu addresses does not fit pool '%s' (%u addresses)",
					(unsigned long long)need, x->c->pool_names[id],
					x->c->pools[id].n_addrs);
	}
	return 0;
}

/* The translation options of one NAT term "then". */
struct nat_then {
	int type;
	int src_pool, dst_pool;
	uint8_t flags;
};

static int nat_then_pools(struct pctx *x, const config_setting_t *then, const config_setting_t *term,
			  const struct match_lists *l, struct nat_then *o)
{
	bool need_src = o->type != NS_NAT_DNAT44, need_dst = o->type == NS_NAT_DNAT44 ||
							    o->type == NS_NAT_TWICE;
	const char *tname = cfg_enum_name(nat_types, o->type);
	const config_setting_t *s;

	s = config_setting_get_member(then, "source-pool");
	if (need_src && !s)
		return cfg_fail(x, then, "source-pool", "missing (%s needs a source-pool)", tname);
	if (!need_src && s)
		return cfg_fail(x, s, NULL, "%s takes no source-pool", tname);
	if (s) {
		o->src_pool = cfg_pool_ref(x, then, "source-pool");
		if (o->src_pool < 0 || cfg_check_src_pool(x, s, o->type, o->src_pool))
			return -1;
	}
	s = config_setting_get_member(then, "destination-pool");
	if (need_dst && !s)
		return cfg_fail(x, then, "destination-pool", "missing (%s needs a destination-pool)", tname);
	if (!need_dst && s)
		return cfg_fail(x, s, NULL, "%s takes no destination-pool", tname);
	if (s) {
		o->dst_pool = cfg_pool_ref(x, then, "destination-pool");
		if (o->dst_pool < 0 || cfg_check_dst_pool(x, s, o->dst_pool))
			return -1;
	}
	if (o->type == NS_NAT_BASIC44 && check_basic_fit(x, term, l, o->src_pool))
		return -1;
	return 0;
}

int cfg_nat_mapping(struct pctx *x, const config_setting_t *then, uint8_t *flags)
{
	int eim = 0, eif = 0;

	if (cfg_get_enum(x, then, "mapping-type", eim_types, &eim) < 0 ||
	    cfg_get_enum(x, then, "filtering-type", eim_types, &eif) < 0)
		return -1;
	if (eif && !eim)
		return cfg_fail(x, config_setting_get_member(then, "filtering-type"), NULL,
				"endpoint-independent filtering needs mapping-type endpoint-independent");
	*flags |= (eim ? NS_NAT_F_EIM : 0) | (eif ? NS_NAT_F_EIF : 0);
	return 0;
}

/* Mapping/filtering/pooling options only exist for napt-44 (RFC 4787). */
static int nat_then_options(struct pctx *x, const config_setting_t *then, struct nat_then *o)
{
	static const char *const napt_only[] = { "mapping-type", "filtering-type", "address-pooling" };
	int paired = 1;
	size_t i;

	if (o->type != NS_NAT_NAPT44) {
		for (i = 0; i < NS_ARRAY_SIZE(napt_only); i++) {
			const config_setting_t *s = config_setting_get_member(then, napt_only[i]);

			if (s)
				return cfg_fail(x, s, NULL, "applies to napt-44 only, not %s",
						cfg_enum_name(nat_types, o->type));
		}
		return 0;
	}
	if (cfg_get_enum(x, then, "address-pooling", pooling_types, &paired) < 0 ||
	    cfg_nat_mapping(x, then, &o->flags))
		return -1;
	o->flags |= paired ? NS_NAT_F_PAIRED : 0;
	return 0;
}

static int parse_nat_then(struct pctx *x, const config_setting_t *term,
			  const struct match_lists *l, struct nat_then *o)
{
	static const char *const keys[] = {
		"translation-type", "source-pool", "destination-pool", "address-pooling",
		"mapping-type", "filtering-type", "syslog", "no-translation", NULL,
	};
	const config_setting_t *then, *s;
	bool syslog = false, none = false;
	size_t i;

	o->type = NS_NAT_NONE;
	o->src_pool = o->dst_pool = POOL_NONE;
	o->flags = 0;
	if (cfg_get_group(x, term, "then", true, &then) < 0 || cfg_check_keys(x, then, keys) ||
	    cfg_get_bool(x, then, "syslog", &syslog) < 0 || cfg_get_bool(x, then, "no-translation", &none) < 0)
		return -1;
	o->flags = syslog ? NS_NAT_F_SYSLOG : 0;
	if (none) {
		/* An exemption (RFC 6888 REQ-11): nothing else may be said. */
		for (i = 0; keys[i]; i++) {
			s = config_setting_get_member(then, keys[i]);
			if (s && strcmp(keys[i], "syslog") && strcmp(keys[i], "no-translation"))
				return cfg_fail(x, s, NULL, "contradicts no-translation = true");
		}
		o->flags |= NS_NAT_F_NO_TRANSLATION;
		return 0;
	}
	s = config_setting_get_member(then, "translation-type");
	if (!s)
		return cfg_fail(x, then,
				"translation-type", "missing (or set no-translation = true)");
	if (cfg_str_enum(x, s, nat_types, &o->type))
		return -1;
	if (o->type == NS_NAT_NAT64) /* cfg_compile_nat64_term() handles those */
		return cfg_fail(x, s, NULL, "stateful-nat64 cannot be mixed with other keys here");
	return nat_then_pools(x, then, term, l, o) || nat_then_options(x, then, o) ? -1 : 0;
}

/*
 * The fast path translates the source of subscriber-originated flows only
 * (it evaluates those terms for packets arriving inside); only dnat-44 also
 * opens flows arriving outside (a public address forwarded to an inside
 * server). A source translation under match-direction output would load and
 * never apply, so it is refused.
 */
static int nat_then_direction(struct pctx *x, const config_setting_t *term, uint8_t dir_mask,
			      const struct nat_then *o)
{
	const config_setting_t *then = config_setting_get_member(term, "then");

	if (o->type == NS_NAT_NONE || o->type == NS_NAT_DNAT44 || dir_mask == NS_DIR_INPUT)
		return 0;
	return cfg_fail(x, config_setting_get_member(then, "translation-type"), NULL,
			"%s translates subscriber-originated traffic: the rule needs match-direction input",
			cfg_enum_name(nat_types, o->type));
}

/*
 * Validate one rule (pass 1, out == NULL) or emit its expanded terms into
 * out[*n..cap) (pass 2, the rule is known to be valid and to fit).
 */
static int compile_rule(struct pctx *x, enum rule_kind kind, uint32_t ridx, void *out,
			uint32_t *n, uint32_t cap)
{
	struct rule_info *ri = kind == RULE_FW ? &x->fw_rules[ridx] : &x->nat_rules[ridx];
	const config_setting_t *terms = config_setting_get_member(ri->s, "terms");
	struct match_lists *l = &x->l;
	struct ns_match *m = x->m;
	static const char *const keys[] = { "name", "from", "then", NULL };
	int i, j, k, cnt;

	for (i = 0; i < config_setting_length(terms); i++) {
		const config_setting_t *t = config_setting_get_elem(terms, i), *ns;
		struct ns_fw_term fw = { 0 };
		struct nat_then nt = { 0 };
		const char *name;

		if (cfg_check_keys(x, t, keys) || cfg_get_str(x, t, "name", true, &name) < 0)
			return -1;
		ns = config_setting_get_member(t, "name");
		if (cfg_check_name(x, ns, name))
			return -1;
		for (j = 0; j < i; j++) {
			const char *other = NULL;

			config_setting_lookup_string(config_setting_get_elem(terms, j), "name", &other);
			if (other && !strcmp(other, name))
				return cfg_fail(x, ns, NULL, "duplicate term name '%s' in this rule", name);
		}
		if (kind == RULE_NAT && cfg_term_is_nat64(t)) {
			/* not an IPv4 NAT term: nothing goes into out[] */
			if (cfg_compile_nat64_term(x, t, ridx, (uint32_t)i, ri->dir_mask,
						   out != NULL))
				return -1;
			continue;
		}
		if (parse_from(x, t, l))
			return -1;
		if (kind == RULE_FW ? parse_fw_then(x, t, &fw) : parse_nat_then(x, t, l, &nt))
			return -1;
		if (kind == RULE_NAT && nat_then_direction(x, t, ri->dir_mask, &nt))
			return -1;
		cnt = expand_match(l, ri->dir_mask, m, cap - *n);
		if (cnt < 0)
			return cfg_fail(x, t, NULL,
					"the rule expands to more than %u %s terms", cap,
					kind == RULE_FW ? "firewall" : "NAT");
		for (k = 0; k < cnt && out; k++) {
			if (kind == RULE_FW) {
				struct ns_fw_term *o = (struct ns_fw_term *)out + *n + k;

				*o = fw;
				o->m = m[k];
				o->rule_idx = (uint16_t)ridx;
				o->term_idx = (uint16_t)i;
			} else {
				struct ns_nat_term *o = (struct ns_nat_term *)out + *n + k;

				memset(o, 0, sizeof(*o));
				o->m = m[k];
				o->nat_type = (uint8_t)nt.type;
				o->flags = nt.flags;
				o->src_pool = (uint8_t)nt.src_pool;
				o->dst_pool = (uint8_t)nt.dst_pool;
				o->rule_idx = (uint16_t)ridx;
				o->term_idx = (uint16_t)i;
			}
		}
		*n += cnt;
	}
	return 0;
}

static int parse_rules(struct pctx *x, const config_setting_t *sect, enum rule_kind kind)
{
	static const char *const keys[] = { "name", "match-direction", "terms", NULL };
	uint32_t cap = kind == RULE_FW ? NS_MAX_FW_TERMS : NS_MAX_NAT_TERMS;
	char (*names)[NS_NAME_MAX] = kind == RULE_FW ? x->c->fw_rule_names : x->c->nat_rule_names;
	struct rule_info *info = kind == RULE_FW ? x->fw_rules : x->nat_rules;
	const config_setting_t *l, *g, *s;
	int r = cfg_get_named_list(x, sect, "rules", (int)cap, "rules", &l), i, n, dir;
	const char *name;

	if (r != 1)
		return r;
	n = config_setting_length(l);
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(l, i);
		info[i].s = g;
		if (cfg_named_elem(x, g, keys, names[0], sizeof(names[0]), i,
				   "duplicate rule name '%s'", &name))
			return -1;
		strcpy(names[i], name);
		s = config_setting_get_member(g, "match-direction");
		if (!s)
			return cfg_fail(x, g, "match-direction", "missing (required)");
		if (cfg_str_enum(x, s, kind == RULE_FW ? fw_dirs : nat_dirs, &dir))
			return -1;
		info[i].dir_mask = (uint8_t)dir;
		if (cfg_get_list(x, g, "terms", &s) < 0)
			return -1;
		if (!config_setting_get_member(g, "terms") || !config_setting_length(s))
			return cfg_fail(x, g, "terms", "missing (a rule needs at least one term)");
		if (compile_rule(x, kind, i, NULL, &info[i].n_expanded, cap))
			return -1;
		if (kind == RULE_FW)
			x->c->n_fw_rules = i + 1;
		else
			x->c->n_nat_rules = i + 1;
	}
	return 0;
}

/* ---- service sets ------------------------------------------------------- */

static int rule_index(char (*names)[NS_NAME_MAX], uint32_t n, const char *name)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return (int)i;
	return -1;
}

/* Append the expanded terms of the rules svc lists under key. */
static int svc_rules(struct pctx *x, const config_setting_t *g, enum rule_kind kind,
		     uint16_t *first, uint16_t *count)
{
	const char *key = kind == RULE_FW ? "stateful-firewall-rules" : "nat-rules";
	const char *what = kind == RULE_FW ? "stateful-firewall" : "NAT";
	uint32_t cap = kind == RULE_FW ? NS_MAX_FW_TERMS : NS_MAX_NAT_TERMS;
	uint32_t *n = kind == RULE_FW ? &x->c->n_fw : &x->c->n_nat;
	uint32_t n_rules = kind == RULE_FW ? x->c->n_fw_rules : x->c->n_nat_rules;
	char (*names)[NS_NAME_MAX] = kind == RULE_FW ? x->c->fw_rule_names : x->c->nat_rule_names;
	struct rule_info *info = kind == RULE_FW ? x->fw_rules : x->nat_rules;
	void *out = kind == RULE_FW ? (void *)x->c->fw : (void *)x->c->nat;
	const config_setting_t *s = config_setting_get_member(g, key), *e;
	const char *name;
	int len, i, j, ri;

	*first = (uint16_t)*n;
	*count = 0;
	if (!s)
		return 0;
	len = cfg_scalar_list_len(x, s);
	if (len < 0)
		return -1;
	for (i = 0; i < len; i++) {
		name = cfg_str_at(x, s, i, &e);
		if (!name)
			return -1;
		ri = rule_index(names, n_rules, name);
		if (ri < 0)
			return cfg_fail(x, e, NULL, "%s rule '%s' is not defined", what, name);
		for (j = 0; j < i; j++)
			if (!strcmp(config_setting_get_string(cfg_scalar_elem(s, j)), name))
				return cfg_fail(x, e, NULL, "rule '%s' is listed twice", name);
		if (*n + info[ri].n_expanded > cap)
			return cfg_fail(x, e, NULL,
					"too many %s terms: %u after expansion with rule '%s', the limit is %u",
					what, *n + info[ri].n_expanded, name, cap);
		if (compile_rule(x, kind, ri, out, n, cap))
			return -1; /* not reached: the rule was validated */
	}
	*count = (uint16_t)(*n - *first);
	return 0;
}

/* Add one of a service set's interfaces; an interface serves one set only. */
static int svc_iface(struct pctx *x, const config_setting_t *nh, const char *key, int side,
		     uint32_t svc)
{
	struct ns_config *c = x->c;
	const config_setting_t *s;
	const char *name;
	uint32_t i;

	if (cfg_get_str(x, nh, key, true, &name) < 0)
		return -1;
	s = config_setting_get_member(nh, key);
	if (cfg_check_ifname(x, s, name))
		return -1;
	for (i = 0; i < c->n_ifaces; i++) {
		if (strcmp(c->ifaces[i].name, name))
			continue;
		if (c->ifaces[i].svc == (int)svc)
			return cfg_fail(x, s, NULL, "interface '%s' cannot be both inside and outside", name);
		return cfg_fail(x, s, NULL, "interface '%s' already belongs to service set '%s'",
				name, c->svc_conf[c->ifaces[i].svc].name);
	}
	if (c->n_ifaces == NS_MAX_IFACES)
		return cfg_fail(x, s, NULL, "more than %d interfaces", NS_MAX_IFACES);
	i = c->n_ifaces++;
	strcpy(c->ifaces[i].name, name);
	c->ifaces[i].mode = c->attach_mode;
	c->ifaces[i].side = side;
	c->ifaces[i].svc = (int)svc;
	strcpy(side == NS_SIDE_INSIDE ? c->svc_conf[svc].inside : c->svc_conf[svc].outside, name);
	return 0;
}

static int svc_syslog(struct pctx *x, const config_setting_t *g, uint32_t *flags)
{
	static const struct name_val classes[] = {
		{ "session-logs", NS_SVC_F_SYSLOG_SESSION }, { "nat-logs", NS_SVC_F_SYSLOG_NAT },
		{ NULL, 0 },
	};
	const config_setting_t *s = config_setting_get_member(g, "syslog");
	int len, i, f;

	if (!s)
		return 0;
	len = cfg_scalar_list_len(x, s);
	if (len < 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (cfg_str_enum(x, cfg_scalar_elem(s, i), classes, &f))
			return -1;
		*flags |= (uint32_t)f;
	}
	return 0;
}

static int parse_svc(struct pctx *x, const config_setting_t *g, uint32_t id)
{
	static const char *const keys[] = {
		"name", "nat-rules", "stateful-firewall-rules", "next-hop-service", "syslog",
		"replication-threshold", "replicate-services", NULL,
	};
	static const char *const nh_keys[] = {
		"inside-service-interface", "outside-service-interface", NULL,
	};
	struct ns_svc_conf *sc = &x->c->svc_conf[id];
	struct ns_svc *svc = &x->c->svcs[id];
	const config_setting_t *nh;
	const char *name;
	uint32_t thr = 0;

	if (cfg_named_elem(x, g, keys, x->c->svc_conf[0].name, sizeof(x->c->svc_conf[0]), (int)id,
			   "duplicate service-set name '%s'", &name))
		return -1;
	strcpy(sc->name, name);
	x->cur_svc = id;
	if (!config_setting_get_member(g, "nat-rules") &&
	    !config_setting_get_member(g, "stateful-firewall-rules"))
		return cfg_fail(x, g, "nat-rules", "missing (a service set needs nat-rules and/or stateful-firewall-rules)");
	if (svc_rules(x, g, RULE_FW, &svc->fw_first, &svc->fw_count) ||
	    svc_rules(x, g, RULE_NAT, &svc->nat_first, &svc->nat_count))
		return -1;
	if (config_setting_get_member(g, "stateful-firewall-rules"))
		svc->flags |= NS_SVC_F_HAS_FW;
	if (cfg_get_group(x, g, "next-hop-service", true, &nh) < 0 ||
	    cfg_check_keys(x, nh, nh_keys) ||
	    svc_iface(x, nh, "inside-service-interface", NS_SIDE_INSIDE, id) ||
	    svc_iface(x, nh, "outside-service-interface", NS_SIDE_OUTSIDE, id) ||
	    svc_syslog(x, g, &svc->flags))
		return -1;
	sc->replication_threshold = -1;
	sc->replicate = true;
	if (cfg_get_u32(x, g, "replication-threshold", 0, 86400, &thr) < 0 ||
	    cfg_get_bool(x, g, "replicate-services", &sc->replicate) < 0)
		return -1;
	if (config_setting_get_member(g, "replication-threshold"))
		sc->replication_threshold = thr;
	if (!sc->replicate)
		svc->flags |= NS_SVC_F_NO_REPLICATE;
	return 0;
}

static int parse_svcs(struct pctx *x, const config_setting_t *services)
{
	const config_setting_t *l;
	int r = cfg_get_named_list(x, services, "service-sets", NS_MAX_SVC_SETS, "service sets", &l);
	int i, n;

	if (r < 0)
		return -1;
	if (r == 0 || !config_setting_length(l))
		return cfg_fail(x, services, "service-sets", "missing (at least one service set is needed)");
	n = config_setting_length(l);
	for (i = 0; i < n; i++) {
		if (parse_svc(x, config_setting_get_elem(l, i), i))
			return -1;
		x->c->n_svcs = i + 1;
	}
	x->c->cfg.n_svc = x->c->n_svcs;
	return 0;
}

static int parse_services(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = { "nat", "stateful-firewall", "service-sets", NULL };
	static const char *const nat_keys[] = { "pools", "rules", NULL };
	static const char *const fw_keys[] = { "rules", NULL };
	const config_setting_t *services, *nat = NULL, *fw = NULL;

	if (cfg_get_group(x, top, "services", true, &services) < 0 ||
	    cfg_check_keys(x, services, keys) ||
	    cfg_get_group(x, services, "nat", false, &nat) < 0 ||
	    cfg_get_group(x, services, "stateful-firewall", false, &fw) < 0)
		return -1;
	if (nat && (cfg_check_keys(x, nat, nat_keys) || cfg_parse_pools(x, nat) < 0 ||
		    parse_rules(x, nat, RULE_NAT) < 0))
		return -1;
	if (fw && (cfg_check_keys(x, fw, fw_keys) || parse_rules(x, fw, RULE_FW) < 0))
		return -1;
	return parse_svcs(x, services) || cfg_check_pool_overlap(x) ? -1 : 0;
}

/* ---- interfaces ---------------------------------------------------------- */

/* Per-interface attach mode overrides; the interface must be in a set. */
static int parse_ifaces(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = { "name", "attach-mode", NULL };
	const config_setting_t *l, *g, *s;
	bool seen[NS_MAX_IFACES] = { false };
	int r = cfg_get_list(x, top, "interfaces", &l), i, mode;
	const char *name;
	uint32_t k;

	if (r != 1)
		return r;
	for (i = 0; i < config_setting_length(l); i++) {
		g = config_setting_get_elem(l, i);
		if (cfg_check_keys(x, g, keys) || cfg_get_str(x, g, "name", true, &name) < 0)
			return -1;
		s = config_setting_get_member(g, "name");
		for (k = 0; k < x->c->n_ifaces; k++)
			if (!strcmp(x->c->ifaces[k].name, name))
				break;
		if (k == x->c->n_ifaces)
			return cfg_fail(x, s, NULL, "interface '%s' is not used by any service set", name);
		if (seen[k])
			return cfg_fail(x, s, NULL, "interface '%s' is listed twice", name);
		seen[k] = true;
		if (!config_setting_get_member(g, "attach-mode"))
			return cfg_fail(x, g, "attach-mode", "missing (required)");
		if (cfg_get_enum(x, g, "attach-mode", attach_modes, &mode) < 0)
			return -1;
		x->c->ifaces[k].mode = mode;
	}
	return 0;
}

/* ---- entry points ------------------------------------------------------- */

static int parse_root(struct pctx *x, const config_setting_t *root)
{
	static const char *const root_keys[] = { "natsync", NULL };
	static const char *const keys[] = {
		"node-name", "pin-path", "control-socket", "log", "max-sessions",
		"max-sessions-per-subscriber", "aging-interval-ms", "aging-slice", "loop-nice", "attach-mode", "timeouts", "interfaces",
		"redundancy-options", "services", "ipfix", "metrics", NULL,
	};
	const config_setting_t *top;

	if (cfg_check_keys(x, root, root_keys) || cfg_get_group(x, root, "natsync", true, &top) < 0)
		return -1;
	if (cfg_check_keys(x, top, keys) || parse_global(x, top) || cfg_parse_log(x, top) < 0 ||
	    parse_timeouts(x, top) < 0 || parse_services(x, top) || parse_ifaces(x, top) < 0 ||
	    cfg_parse_redundancy(x, top) < 0 || cfg_parse_ipfix(x, top) < 0 ||
	    cfg_parse_metrics(x, top) < 0)
		return -1;
	return 0;
}

void ns_config_defaults(struct ns_config *out)
{
	memset(out, 0, sizeof(*out));
	if (gethostname(out->node_name, sizeof(out->node_name) - 1) || !out->node_name[0])
		strcpy(out->node_name, "natsync");
	strcpy(out->pin_path, "/sys/fs/bpf/natsync");
	strcpy(out->control_socket, "/run/natsync.sock");
	strcpy(out->syslog_socket, "/dev/log");
	out->ipfix.template_refresh = 60;
	out->ipfix.domain = 1;
	out->ipfix.message_size = 1400;
	out->log_level = NS_LOG_INFO;
	out->max_sessions = NS_MAX_SESSIONS_DEFAULT;
	out->aging_interval_ms = 1000;
	out->aging_slice = NS_AGING_SLICE_AUTO;
	out->loop_nice = NS_LOOP_NICE_DEFAULT;
	out->attach_mode = NS_ATTACH_AUTO;
	out->timeouts = (struct ns_timeouts){
		.tcp_syn = 240, .tcp_established = 7440, .tcp_closing = 240,
		.tcp_time_wait = 240, .tcp_rst = 240, .udp = 300, .icmp = 60,
		.other = 300, .port_hold = 120, .binding = 0,
	};
	out->red.port = 7788;
	out->red.replication_threshold = 180;
	out->red.heartbeat_interval_ms = 1000;
	out->red.dead_interval_ms = 3000;
	out->red.priority = 100;
	out->red.initial_role = NS_ROLE_PRIMARY;
	out->red.garp_count = 5;
	out->red.garp_interval_ms = 200;
	out->cfg.flags = NS_CFG_F_ACTIVE | NS_CFG_F_EVENTS;
}

/* Validate the parsed tree cf into a scratch config, copy it out on success. */
static int load_tree(config_t *cf, const char *name, struct ns_config *out, char *err,
		     size_t errlen)
{
	struct pctx *x = calloc(1, sizeof(*x));
	int ret = -1;

	if (!x || !(x->c = calloc(1, sizeof(*x->c)))) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	x->name = name;
	x->err = err;
	x->errlen = errlen;
	ns_config_defaults(x->c);
	if (ns_strlcpy(x->c->path, name, sizeof(x->c->path))) {
		snprintf(err, errlen, "%s: path too long", name);
		goto out;
	}
	if (parse_root(x, config_root_setting(cf)))
		goto out;
	memcpy(out, x->c, sizeof(*out));
	ret = 0;
out:
	if (x)
		free(x->c);
	free(x);
	return ret;
}

static int parse_error(config_t *cf, const char *name, char *err, size_t errlen)
{
	const char *file = config_error_file(cf);

	snprintf(err, errlen, "%s:%d: %s", file ? file : name, config_error_line(cf),
		 config_error_text(cf));
	return -1;
}

int ns_config_load(const char *path, struct ns_config *out, char *err, size_t errlen)
{
	char dir[PATH_MAX], *slash;
	config_t cf;
	int ret;

	/* @include "x.cfg" resolves next to the including file. */
	ns_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	config_init(&cf);
	config_set_include_dir(&cf, slash ? dir : ".");
	errno = 0;
	if (config_read_file(&cf, path)) {
		ret = load_tree(&cf, path, out, err, errlen);
	} else if (config_error_type(&cf) == CONFIG_ERR_FILE_IO) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
		ret = -1;
	} else {
		ret = parse_error(&cf, path, err, errlen);
	}
	config_destroy(&cf);
	return ret;
}

int ns_config_load_string(const char *text, const char *name, struct ns_config *out,
			  char *err, size_t errlen)
{
	config_t cf;
	int ret;

	if (!name)
		name = "<string>";
	config_init(&cf);
	if (!config_read_string(&cf, text))
		ret = parse_error(&cf, name, err, errlen);
	else
		ret = load_tree(&cf, name, out, err, errlen);
	config_destroy(&cf);
	return ret;
}

uint32_t ns_config_session_timeout(const struct ns_config *c, uint8_t proto, uint8_t tcp_state)
{
	const struct ns_timeouts *t = &c->timeouts;

	switch (proto) {
	case IPPROTO_TCP:
		switch (tcp_state) {
		case NS_TCP_ESTABLISHED: return t->tcp_established;
		case NS_TCP_FIN_WAIT: return t->tcp_closing;
		case NS_TCP_TIME_WAIT: return t->tcp_time_wait;
		case NS_TCP_CLOSED: return t->tcp_rst;
		default: return t->tcp_syn; /* SYN_SENT, SYN_RECV: transitory */
		}
	case IPPROTO_UDP:
		return t->udp;
	case IPPROTO_ICMP:
		return t->icmp;
	default:
		return t->other;
	}
}

/* ---- fingerprint -------------------------------------------------------- */

/*
 * FNV-1a over the fields themselves in a fixed order and byte order (not the
 * raw structs), so the value does not depend on padding or host endianness.
 */
struct fp {
	uint64_t h;
};

static void fp_bytes(struct fp *f, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--) {
		f->h ^= *b++;
		f->h *= 0x100000001b3ull;
	}
}

static void fp_u32(struct fp *f, uint32_t v)
{
	uint8_t b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

	fp_bytes(f, b, sizeof(b));
}

static void fp_match(struct fp *f, const struct ns_match *m)
{
	fp_u32(f, ntohl(m->src_addr));
	fp_u32(f, ntohl(m->src_mask));
	fp_u32(f, ntohl(m->dst_addr));
	fp_u32(f, ntohl(m->dst_mask));
	fp_u32(f, (uint32_t)m->sport_lo << 16 | m->sport_hi);
	fp_u32(f, (uint32_t)m->dport_lo << 16 | m->dport_hi);
	fp_u32(f, (uint32_t)m->proto << 8 | m->dir_mask);
}

uint64_t ns_config_fingerprint(const struct ns_config *c)
{
	const struct ns_timeouts *t = &c->timeouts;
	struct fp f = { 0xcbf29ce484222325ull };
	uint32_t i, j;

	fp_u32(&f, NS_ABI_VERSION);
	fp_u32(&f, c->n_pools);
	for (i = 0; i < c->n_pools; i++) {
		const struct ns_pool *p = &c->pools[i];

		fp_u32(&f, p->n_ranges);
		for (j = 0; j < p->n_ranges; j++) {
			fp_u32(&f, p->ranges[j].first);
			fp_u32(&f, p->ranges[j].count);
		}
		fp_u32(&f, (uint32_t)p->port_lo << 16 | p->port_hi);
		fp_u32(&f, p->flags);
		if (c->pool_pba[i].block_size) {
			/* both chassis must cut the same blocks (pba.c derives
			 * the backup's from the replicated ports) */
			const struct ns_pool_pba *b = &c->pool_pba[i];

			fp_u32(&f, (uint32_t)b->block_size << 16 | b->max_blocks);
			fp_u32(&f, (uint32_t)b->port_lo << 16 | b->port_hi);
			fp_u32(&f, b->active_timeout_s);
			fp_u32(&f, b->flags);
			fp_u32(&f, b->det_first);
			fp_u32(&f, b->det_count);
		}
	}
	fp_u32(&f, c->n_svcs);
	for (i = 0; i < c->n_svcs; i++) {
		fp_u32(&f, (uint32_t)c->svcs[i].fw_first << 16 | c->svcs[i].fw_count);
		fp_u32(&f, (uint32_t)c->svcs[i].nat_first << 16 | c->svcs[i].nat_count);
		fp_u32(&f, c->svcs[i].flags);
	}
	fp_u32(&f, c->n_fw);
	for (i = 0; i < c->n_fw; i++) {
		fp_match(&f, &c->fw[i].m);
		fp_u32(&f, (uint32_t)c->fw[i].action << 8 | c->fw[i].syslog);
	}
	fp_u32(&f, c->n_nat);
	for (i = 0; i < c->n_nat; i++) {
		const struct ns_nat_term *n = &c->nat[i];

		fp_match(&f, &n->m);
		fp_u32(&f, (uint32_t)n->nat_type << 24 | (uint32_t)n->flags << 16 |
			   (uint32_t)n->src_pool << 8 | n->dst_pool);
	}
	fp_u32(&f, c->n_nat64);
	for (i = 0; i < c->n_nat64; i++)
		fp_bytes(&f, &c->nat64[i], sizeof(c->nat64[i]));
	fp_u32(&f, t->tcp_syn);
	fp_u32(&f, t->tcp_established);
	fp_u32(&f, t->tcp_closing);
	fp_u32(&f, t->tcp_time_wait);
	fp_u32(&f, t->tcp_rst);
	fp_u32(&f, t->udp);
	fp_u32(&f, t->icmp);
	fp_u32(&f, t->other);
	fp_u32(&f, t->port_hold);
	fp_u32(&f, t->binding);
	return f.h;
}

/* ---- names for display -------------------------------------------------- */

const char *ns_attach_mode_name(int mode)
{
	return cfg_enum_name(attach_modes, mode);
}

const char *ns_nat_type_name(int type)
{
	return type == NS_NAT_NONE ? "none" : cfg_enum_name(nat_types, type);
}

const char *ns_fw_action_name(int action)
{
	return cfg_enum_name(fw_actions, action);
}
