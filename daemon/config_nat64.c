// SPDX-License-Identifier: GPL-2.0
/*
 * config_nat64.c - stateful-nat64 terms of the NAT rules (doc/nat64.md,
 * RFC 6146, RFC 6052): IPv6 sources, the pref64, and one compiled
 * struct ns_nat64_term per source prefix.
 */
#include <string.h>

#include "config_int.h"
#include "util.h"

/* ---- stateful-nat64 terms ----------------------------------------------- */

#define NAT64_WKP "64:ff9b::/96" /* RFC 6052 well-known prefix */

/* Is this NAT term a stateful-nat64 one? (then.translation-type decides
 * how its "from" is read: IPv6 sources instead of IPv4.) */
bool cfg_term_is_nat64(const config_setting_t *t)
{
	const config_setting_t *then = config_setting_get_member(t, "then"), *s;

	if (!then || !config_setting_is_group(then))
		return false;
	s = config_setting_get_member(then, "translation-type");
	return s && config_setting_type(s) == CONFIG_TYPE_STRING &&
	       !strcmp(config_setting_get_string(s), "stateful-nat64");
}

/*
 * then.destination-prefix: the pref64, default 64:ff9b::/96. RFC 6052
 * section 2.2 defines /32, /40, /48, /56, /64 and /96; bits 64..71 (the
 * u-octet) must be zero, which for a /96 the prefix itself must ensure.
 */
static int nat64_pref64(struct pctx *x, const config_setting_t *then, uint8_t pref[16],
			uint8_t *len)
{
	const config_setting_t *s = config_setting_get_member(then, "destination-prefix");
	const char *v;

	if (!s)
		return cfg_parse_prefix6(x, then, NAT64_WKP, pref, len);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(x, s, NULL, "expected a string, got %s", cfg_type_name(s));
	v = config_setting_get_string(s);
	if (cfg_parse_prefix6(x, s, v, pref, len))
		return -1;
	if (*len != 32 && *len != 40 && *len != 48 && *len != 56 && *len != 64 && *len != 96)
		return cfg_fail(x, s, NULL,
				"'%s': a pref64 is a /32, /40, /48, /56, /64 or /96 (RFC 6052 2.2)", v);
	if (pref[8])
		return cfg_fail(x, s, NULL, "'%s': bits 64-71 (the u-octet) must be zero (RFC 6052 2.2)",
				v);
	return 0;
}

/* The "then" of a stateful-nat64 term: pool, pref64, syslog. */
static int nat64_then(struct pctx *x, const config_setting_t *term, struct ns_nat64_term *o)
{
	static const char *const keys[] = {
		"translation-type", "source-pool", "destination-prefix", "syslog",
		"destination-pool", "address-pooling", "mapping-type", "filtering-type",
		"no-translation", NULL,
	};
	static const char *const refused[] = {
		"destination-pool", "address-pooling", "no-translation",
	};
	const config_setting_t *then, *s;
	bool syslog = false;
	int pool;
	size_t i;

	if (cfg_get_group(x, term, "then", true, &then) < 0 || cfg_check_keys(x, then, keys) ||
	    cfg_get_bool(x, then, "syslog", &syslog) < 0)
		return -1;
	for (i = 0; i < NS_ARRAY_SIZE(refused); i++) {
		s = config_setting_get_member(then, refused[i]);
		if (s)
			return cfg_fail(x, s, NULL, "not supported with stateful-nat64");
	}
	s = config_setting_get_member(then, "source-pool");
	if (!s)
		return cfg_fail(x, then,
				"source-pool", "missing (stateful-nat64 needs a source-pool)");
	pool = cfg_pool_ref(x, then, "source-pool");
	if (pool < 0 || cfg_check_src_pool(x, s, NS_NAT_NAT64, pool) ||
	    nat64_pref64(x, then, o->pref64, &o->pref_len))
		return -1;
	/* RFC 6146 3.5.1.1/3.5.2: napt-44's keys and rules (RFC 4787) */
	o->flags = syslog ? NS_NAT_F_SYSLOG : 0;
	if (cfg_nat_mapping(x, then, &o->flags))
		return -1;
	o->src_pool = (uint8_t)pool;
	return 0;
}

/* The "from" of a stateful-nat64 term: IPv6 source prefixes (default
 * ::/0) into src[n], and destination-address, which may only repeat the
 * pref64. Returns the number of source prefixes or -1. */
static int nat64_from(struct pctx *x, const config_setting_t *term, const uint8_t pref[16],
		      uint8_t pref_len, uint8_t (*src)[17])
{
	static const char *const keys[] = { "source-address", "destination-address", NULL };
	const config_setting_t *from = NULL, *s, *e;
	uint8_t a[16], len;
	const char *v;
	int n, i;

	if (cfg_get_group(x, term, "from", false, &from) < 0)
		return -1;
	memset(src[0], 0, 17);
	if (!from)
		return 1;
	if (cfg_check_keys(x, from, keys))
		return -1;
	s = config_setting_get_member(from, "destination-address");
	if (s) {
		n = cfg_scalar_list_len(x, s);
		if (n < 0)
			return -1;
		for (i = 0; i < n; i++) {
			v = cfg_str_at(x, s, i, &e);
			if (!v || cfg_parse_prefix6(x, e, v, a, &len))
				return -1;
			if (len != pref_len || memcmp(a, pref, 16))
				return cfg_fail(x, e, NULL,
						"'%s': stateful-nat64 matches the destination-prefix of its then only",
						v);
		}
	}
	s = config_setting_get_member(from, "source-address");
	if (!s)
		return 1;
	n = cfg_scalar_list_len(x, s);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		v = cfg_str_at(x, s, i, &e);
		if (!v || cfg_parse_prefix6(x, e, v, src[i], &src[i][16]))
			return -1;
	}
	return n;
}

/*
 * One stateful-nat64 term: validate it (out == false) or append one
 * compiled term per source prefix to c->nat64 for service set x->cur_svc.
 */
int cfg_compile_nat64_term(struct pctx *x, const config_setting_t *t, uint32_t ridx,
			   uint32_t tidx, uint8_t dir_mask, bool out)
{
	uint8_t src[LIST_MAX][17];
	struct ns_nat64_term o;
	int n, k;

	memset(&o, 0, sizeof(o));
	if (nat64_then(x, t, &o))
		return -1;
	if (dir_mask != NS_DIR_INPUT)
		return cfg_fail(x, config_setting_get_member(config_setting_get_member(t, "then"),
							     "translation-type"),
				NULL, "stateful-nat64 translates subscriber-originated traffic: the rule needs match-direction input");
	n = nat64_from(x, t, o.pref64, o.pref_len, src);
	if (n < 0)
		return -1;
	if (x->c->n_nat64 + (uint32_t)n > NS_MAX_NAT64_TERMS)
		return cfg_fail(x, t, NULL, "more than %d stateful-nat64 terms after expansion",
				NS_MAX_NAT64_TERMS);
	for (k = 0; k < n && out; k++) {
		struct ns_nat64_term *c = &x->c->nat64[x->c->n_nat64++];

		*c = o;
		memcpy(c->src6, src[k], 16);
		c->src6_len = src[k][16];
		c->svc_set = (uint16_t)x->cur_svc;
		c->rule_idx = (uint16_t)ridx;
		c->term_idx = (uint16_t)tidx;
	}
	x->c->cfg.n_nat64 = x->c->n_nat64;
	return 0;
}
