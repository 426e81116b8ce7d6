// SPDX-License-Identifier: GPL-2.0
/*
 * config_util.c - the ground floor of the config loader (config_int.h):
 * errors located as "FILE:LINE: key.path: reason", the typed getters over
 * libconfig, and the syntax of values (names, interface names, prefixes,
 * ports, protocols). The section parsers never read libconfig values
 * themselves.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "util.h"

/* ---- error reporting ---------------------------------------------------- */

static void setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *p = config_setting_parent(s);
	size_t n;

	buf[0] = '\0';
	if (!p)
		return; /* the root has no name */
	setting_path(p, buf, len);
	n = strlen(buf);
	if (n && n + 1 < len)
		buf[n++] = '.';
	if (config_setting_is_array(p) || config_setting_is_list(p))
		snprintf(buf + n, len - n, "[%d]", config_setting_index(s));
	else
		snprintf(buf + n, len - n, "%s", config_setting_name(s));
}

/* The nearest line number: the root (and nothing else) has none. */
static unsigned int setting_line(const config_setting_t *s)
{
	for (; s; s = config_setting_parent(s))
		if (config_setting_source_line(s))
			return config_setting_source_line(s);
	return 1;
}

/*
 * Record "FILE:LINE: PATH[.child]: reason" for setting s (child: a key of s
 * that is missing, or NULL) and return -1 so callers can "return cfg_fail(...)".
 * Only the first error is kept: it is the one the operator must fix first.
 */
int __attribute__((format(printf, 4, 5)))
cfg_fail(struct pctx *x, const config_setting_t *s, const char *child, const char *fmt, ...)
{
	char path[512], reason[256];
	const char *file = config_setting_source_file(s);
	va_list ap;

	setting_path(s, path, sizeof(path));
	if (child) {
		size_t n = strlen(path);

		snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "", child);
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errlen, "%s:%u: %s: %s", file ? file : x->name,
		 setting_line(s), path, reason);
	return -1;
}

const char *cfg_type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "nothing";
	}
}

/* ---- generic getters ---------------------------------------------------- */

/* Edit distance, to suggest the key an unknown (mistyped) key meant. */
static unsigned int edit_distance(const char *a, const char *b)
{
	unsigned int row[NS_NAME_MAX + 1], i, j, la = strlen(a), lb = strlen(b);

	if (la > NS_NAME_MAX || lb > NS_NAME_MAX)
		return ~0u;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		unsigned int diag = row[0], tmp;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			unsigned int best = diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			diag = tmp;
		}
	}
	return row[lb];
}

/* Every member of group g must be one of keys (NULL terminated). */
int cfg_check_keys(struct pctx *x, const config_setting_t *g, const char *const *keys)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, i);
		const char *name = config_setting_name(m), *best = NULL;
		unsigned int d, best_d = 3;
		const char *const *k;

		for (k = keys; *k; k++) {
			if (!strcmp(*k, name))
				break;
			d = edit_distance(name, *k);
			if (d < best_d) {
				best_d = d;
				best = *k;
			}
		}
		if (*k)
			continue;
		if (best)
			return cfg_fail(x, m, NULL, "unknown key (did you mean '%s'?)", best);
		return cfg_fail(x, m, NULL, "unknown key");
	}
	return 0;
}

/*
 * Member key of g with the given type. Returns 1 and *out when present, 0
 * when absent (an error if required), -1 on error.
 */
static int get_typed(struct pctx *x, const config_setting_t *g, const char *key, int type,
		     bool required, const config_setting_t **out)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	static const char *const want[] = {
		[CONFIG_TYPE_GROUP] = "a group { }", [CONFIG_TYPE_STRING] = "a string",
		[CONFIG_TYPE_BOOL] = "a boolean (true/false)",
	};

	if (!s) {
		if (required)
			return cfg_fail(x, g, key, "missing (required)");
		return 0;
	}
	if (config_setting_type(s) != type)
		return cfg_fail(x, s, NULL, "expected %s, got %s", want[type], cfg_type_name(s));
	*out = s;
	return 1;
}

int cfg_get_group(struct pctx *x, const config_setting_t *g, const char *key, bool required,
		  const config_setting_t **out)
{
	return get_typed(x, g, key, CONFIG_TYPE_GROUP, required, out);
}

/* A list ( ) of groups, e.g. pools = ( { ... }, { ... } ). */
int cfg_get_list(struct pctx *x, const config_setting_t *g, const char *key,
		 const config_setting_t **out)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	int i;

	if (!s)
		return 0;
	if (!config_setting_is_list(s))
		return cfg_fail(x, s, NULL,
				"expected a list ( { ... }, ... ), got %s", cfg_type_name(s));
	for (i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		if (!config_setting_is_group(e))
			return cfg_fail(x, e, NULL,
					"expected a group { }, got %s", cfg_type_name(e));
	}
	*out = s;
	return 1;
}

/* A list of at most max groups under key (what: for the message). */
int cfg_get_named_list(struct pctx *x, const config_setting_t *g, const char *key, int max,
		       const char *what, const config_setting_t **l)
{
	int r = cfg_get_list(x, g, key, l);

	if (r == 1 && config_setting_length(*l) > max)
		return cfg_fail(x, *l, NULL, "more than %d %s", max, what);
	return r;
}

int cfg_get_str(struct pctx *x, const config_setting_t *g, const char *key, bool required,
		const char **out)
{
	const config_setting_t *s = NULL; /* set when r == 1 */
	int r = get_typed(x, g, key, CONFIG_TYPE_STRING, required, &s);

	*out = r == 1 ? config_setting_get_string(s) : "";
	return r;
}

/* String into a fixed buffer; max is the buffer size (incl. the NUL). */
int cfg_get_strbuf(struct pctx *x, const config_setting_t *g, const char *key, char *buf,
		   size_t max)
{
	const char *v;
	int r = cfg_get_str(x, g, key, false, &v);

	if (r != 1)
		return r;
	if (strlen(v) >= max)
		return cfg_fail(x, config_setting_get_member(g, key), NULL,
				"longer than %zu characters", max - 1);
	strcpy(buf, v);
	return 1;
}

int cfg_get_bool(struct pctx *x, const config_setting_t *g, const char *key, bool *out)
{
	const config_setting_t *s = NULL; /* set when r == 1 */
	int r = get_typed(x, g, key, CONFIG_TYPE_BOOL, false, &s);

	if (r == 1)
		*out = config_setting_get_bool(s);
	return r;
}

/* An integer element or member s within [lo, hi]. */
int cfg_int_value(struct pctx *x, const config_setting_t *s, long long lo, long long hi,
		  long long *out)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return cfg_fail(x, s, NULL, "expected an integer, got %s", cfg_type_name(s));
	v = config_setting_get_int64(s);
	if (v < lo || v > hi)
		return cfg_fail(x, s, NULL, "%lld is out of range %lld..%lld", v, lo, hi);
	*out = v;
	return 0;
}

int cfg_get_u32(struct pctx *x, const config_setting_t *g, const char *key, long long lo,
		long long hi, uint32_t *out)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	long long v;

	if (!s)
		return 0;
	if (cfg_int_value(x, s, lo, hi, &v))
		return -1;
	*out = (uint32_t)v;
	return 1;
}

/* Name of an enum value; "" if unknown. */
const char *cfg_enum_name(const struct name_val *tab, int val)
{
	for (; tab->name; tab++)
		if (tab->val == val)
			return tab->name;
	return "";
}

/* A string that must be one of tab's names; the error lists them all. */
int cfg_str_enum(struct pctx *x, const config_setting_t *s, const struct name_val *tab,
		 int *out)
{
	const struct name_val *t;
	char list[256] = "";
	size_t n = 0;
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(x, s, NULL, "expected a string, got %s", cfg_type_name(s));
	v = config_setting_get_string(s);
	for (t = tab; t->name; t++) {
		if (!strcmp(t->name, v)) {
			*out = t->val;
			return 0;
		}
		n += snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s",
			      t == tab ? "" : ", ", t->name);
	}
	return cfg_fail(x, s, NULL, "'%s' is not one of: %s", v, list);
}

int cfg_get_enum(struct pctx *x, const config_setting_t *g, const char *key,
		 const struct name_val *tab, int *out)
{
	const config_setting_t *s = config_setting_get_member(g, key);

	if (!s)
		return 0;
	return cfg_str_enum(x, s, tab, out) ? -1 : 1;
}

/*
 * Lists of scalars accept a single value too: source-address = "10.0.0.0/8"
 * reads like the one-element array. Returns the element count, -1 on error.
 */
int cfg_scalar_list_len(struct pctx *x, const config_setting_t *s)
{
	int n;

	if (config_setting_is_group(s))
		return cfg_fail(x, s, NULL, "expected a value or an array [ ], got a group { }");
	if (!config_setting_is_aggregate(s))
		return 1;
	n = config_setting_length(s);
	if (n == 0)
		return cfg_fail(x, s, NULL, "empty list (leave the key out to match anything)");
	if (n > LIST_MAX)
		return cfg_fail(x, s, NULL, "more than %d entries", LIST_MAX);
	return n;
}

/* cfg_scalar_list_len() of at most max elements (what: for the message). */
int cfg_scalar_list_max(struct pctx *x, const config_setting_t *s, int max, const char *what)
{
	int n = cfg_scalar_list_len(x, s);

	if (n > max)
		return cfg_fail(x, s, NULL, "more than %d %s", max, what);
	return n;
}

const config_setting_t *cfg_scalar_elem(const config_setting_t *s, int i)
{
	return config_setting_is_aggregate(s) ? config_setting_get_elem(s, i) : s;
}

/* A string element of a scalar list (types checked here). */
const char *cfg_elem_str(struct pctx *x, const config_setting_t *e)
{
	if (config_setting_type(e) != CONFIG_TYPE_STRING) {
		cfg_fail(x, e, NULL, "expected a string, got %s", cfg_type_name(e));
		return NULL;
	}
	return config_setting_get_string(e);
}

/* The string element i of scalar list s, and the element in *e (for
 * messages); NULL with the error recorded when it is not a string. */
const char *cfg_str_at(struct pctx *x, const config_setting_t *s, int i,
		       const config_setting_t **e)
{
	*e = cfg_scalar_elem(s, i);
	return cfg_elem_str(x, *e);
}

/* ---- value syntax ------------------------------------------------------- */

/* Names: what an operator types in Junos (letters, digits, - _ .). */
int cfg_check_name(struct pctx *x, const config_setting_t *s, const char *v)
{
	const char *p;

	if (!*v)
		return cfg_fail(x, s, NULL, "empty name");
	if (strlen(v) >= NS_NAME_MAX)
		return cfg_fail(x, s, NULL,
				"'%s' is longer than %d characters", v, NS_NAME_MAX - 1);
	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return cfg_fail(x, s, NULL,
					"'%s' is not a valid name (letters, digits, '-', '_', '.')", v);
	return 0;
}

/*
 * Group e, element i of a list of named groups: its keys known, its name
 * (into *name) valid and unique among the i before it, entry 0's name at
 * first and each entry stride bytes; dup: the message for a repeated name
 * (a format with one %s, the name).
 */
int cfg_named_elem(struct pctx *x, const config_setting_t *e, const char *const *keys,
		   const char *first, size_t stride, int i, const char *dup, const char **name)
{
	const config_setting_t *s;

	if (cfg_check_keys(x, e, keys) || cfg_get_str(x, e, "name", true, name) < 0)
		return -1;
	s = config_setting_get_member(e, "name");
	if (cfg_check_name(x, s, *name))
		return -1;
	for (int k = 0; k < i; k++)
		if (!strcmp(first + (size_t)k * stride, *name))
			return cfg_fail(x, s, NULL, dup, *name);
	return 0;
}

/* Linux interface names: 1..15 bytes, no '/', no blanks, not "." or "..". */
int cfg_check_ifname(struct pctx *x, const config_setting_t *s, const char *v)
{
	const char *p;

	if (!*v || strlen(v) >= IF_NAMESIZE || !strcmp(v, ".") || !strcmp(v, ".."))
		goto bad;
	for (p = v; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			goto bad;
	return 0;
bad:
	return cfg_fail(x, s, NULL, "'%s' is not a Linux interface name (1-%d characters, no '/', ':' or blanks)",
			v, IF_NAMESIZE - 1);
}

/* Strict dotted quad into network order; false if not one. */
bool cfg_parse_ip(const char *s, uint32_t *be)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*be = a.s_addr;
	return true;
}

static uint32_t prefix_mask(unsigned int len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

bool cfg_split_prefix(const char *v, char *buf, size_t size, unsigned long max,
		      unsigned long *len)
{
	char *slash, *end;

	*len = max;
	if (strlen(v) >= size)
		return false;
	strcpy(buf, v);
	slash = strchr(buf, '/');
	if (!slash)
		return true;
	*slash = '\0';
	if (!isdigit((unsigned char)slash[1]))
		return false;
	errno = 0;
	*len = strtoul(slash + 1, &end, 10);
	return !*end && *len <= max && !errno;
}

/*
 * "a.b.c.d/len" or "a.b.c.d" (a /32) into network-order address and mask.
 * Host bits set are an error: "10.1.2.3/8" is almost always a typo.
 */
int cfg_parse_prefix(struct pctx *x, const config_setting_t *e, const char *v,
		     uint32_t *addr, uint32_t *mask)
{
	char buf[32];
	unsigned long len;
	uint32_t a;

	if (!cfg_split_prefix(v, buf, sizeof(buf), 32, &len) || !cfg_parse_ip(buf, &a))
		return cfg_fail(x, e, NULL, "'%s' is not an IPv4 prefix", v);
	if (a & ~prefix_mask(len)) {
		char net[INET_ADDRSTRLEN];

		return cfg_fail(x, e, NULL, "'%s' has host bits set (did you mean %s/%lu?)", v,
				ns_fmt_ip(a & prefix_mask(len), net, sizeof(net)), len);
	}
	*addr = a;
	*mask = prefix_mask(len);
	return 0;
}

/*
 * "addr/len" (or "addr", a /128) IPv6 prefix into addr[16] and *len. Host
 * bits set are an error, as for IPv4 prefixes.
 */
int cfg_parse_prefix6(struct pctx *x, const config_setting_t *e, const char *v, uint8_t addr[16],
		      uint8_t *len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned long l;
	unsigned int i;

	if (!cfg_split_prefix(v, buf, sizeof(buf), 128, &l) || inet_pton(AF_INET6, buf, addr) != 1)
		return cfg_fail(x, e, NULL, "'%s' is not an IPv6 prefix", v);
	for (i = 0; i < 128; i++)
		if (i >= l && (addr[i / 8] & (0x80 >> (i % 8))))
			return cfg_fail(x, e, NULL, "'%s' has host bits set beyond /%lu", v, l);
	*len = (uint8_t)l;
	return 0;
}

/* "80", "1000-2000" or an integer: an inclusive port range. */
int cfg_parse_port_range(struct pctx *x, const config_setting_t *e, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	const char *v;
	char *end;
	long long i;

	if (config_setting_type(e) == CONFIG_TYPE_INT || config_setting_type(e) == CONFIG_TYPE_INT64) {
		if (cfg_int_value(x, e, 0, 65535, &i))
			return -1;
		*lo = *hi = (uint16_t)i;
		return 0;
	}
	v = cfg_elem_str(x, e);
	if (!v)
		return -1;
	if (!isdigit((unsigned char)*v))
		goto bad;
	a = strtoul(v, &end, 10);
	b = a;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			goto bad;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end || a > 65535 || b > 65535)
		goto bad;
	if (a > b)
		return cfg_fail(x, e, NULL, "'%s': the low port is above the high port", v);
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
bad:
	return cfg_fail(x, e, NULL, "'%s' is not a port or port range (0-65535, \"low-high\")", v);
}

static const struct name_val proto_names[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "gre", 47 },
	{ "esp", 50 }, { "ah", 51 }, { "sctp", 132 }, { NULL, 0 },
};

/* A protocol name or number 1..255 (0 would read as "any": leave it out). */
int cfg_parse_proto(struct pctx *x, const config_setting_t *e, uint8_t *out)
{
	const struct name_val *t;
	const char *v;
	long long i;

	if (config_setting_type(e) == CONFIG_TYPE_INT || config_setting_type(e) == CONFIG_TYPE_INT64) {
		if (cfg_int_value(x, e, 1, 255, &i))
			return -1;
		*out = (uint8_t)i;
		return 0;
	}
	v = cfg_elem_str(x, e);
	if (!v)
		return -1;
	for (t = proto_names; t->name; t++) {
		if (!strcmp(v, t->name)) {
			*out = (uint8_t)t->val;
			return 0;
		}
	}
	return cfg_fail(x, e, NULL, "'%s' is not a protocol (tcp, udp, icmp, gre, esp, ah, sctp or 1-255)", v);
}

/* An absolute path that fits in max bytes (with room for suffix). */
int cfg_get_path(struct pctx *x, const config_setting_t *g, const char *key, char *buf,
		 size_t max, bool may_be_empty)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	int r = cfg_get_strbuf(x, g, key, buf, max);

	if (r != 1)
		return r;
	if (!*buf && may_be_empty)
		return 1;
	if (buf[0] != '/')
		return cfg_fail(x, s, NULL, "'%s' is not an absolute path", buf);
	return 1;
}


/* Addresses no NAT may hand out or forward to: 0/8, 127/8, 224/3. */
bool cfg_bogus_range(uint32_t first, uint32_t last)
{
	static const uint32_t bad[][2] = {
		{ 0x00000000, 0x00ffffff }, { 0x7f000000, 0x7fffffff }, { 0xe0000000, 0xffffffff },
	};
	size_t i;

	for (i = 0; i < NS_ARRAY_SIZE(bad); i++)
		if (first <= bad[i][1] && last >= bad[i][0])
			return true;
	return false;
}

