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
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "common/pba.h"
#include "util.h"

#define LIST_MAX 256          /* entries in one match list */
#define POOL_NONE 0xff

/* How a pool is used by the NAT terms (bit mask). */
#define USE_SRC (1u << 0)
#define USE_DST (1u << 1)

/* How a pool's "port" is configured. */
enum pool_port { PORT_NONE = 0, PORT_AUTO, PORT_RANGE, PORT_SINGLE };

enum rule_kind { RULE_FW, RULE_NAT };

struct rule_info {
	const config_setting_t *s;  /* the rule's group */
	uint8_t dir_mask;
	uint32_t n_expanded;        /* compiled terms the rule turns into */
};

struct pool_info {
	const config_setting_t *addr_elem[NS_POOL_MAX_RANGES];
	int port;                   /* enum pool_port */
	unsigned int use;           /* USE_* */
};

/* Lists of what one term's "from" matches; absent lists hold one wildcard. */
struct match_lists {
	uint32_t n_src, n_dst, n_proto, n_sport, n_dport;
	uint32_t src[LIST_MAX][2];   /* network order addr, mask */
	uint32_t dst[LIST_MAX][2];
	uint8_t proto[LIST_MAX];
	uint16_t sport[LIST_MAX][2]; /* host order lo, hi */
	uint16_t dport[LIST_MAX][2];
};

#define EXPAND_MAX (NS_MAX_FW_TERMS > NS_MAX_NAT_TERMS ? NS_MAX_FW_TERMS : NS_MAX_NAT_TERMS)

/* Parser state. Large (rule and pool tables), so it lives on the heap. */
struct pctx {
	const char *name;           /* file name for messages */
	char *err;
	size_t errlen;
	struct ns_config *c;        /* scratch result */
	struct pool_info pools[NS_MAX_POOLS];
	struct rule_info fw_rules[NS_MAX_FW_TERMS];
	struct rule_info nat_rules[NS_MAX_NAT_TERMS];
	struct match_lists l;       /* the term being compiled */
	struct ns_match m[EXPAND_MAX];
	uint32_t cur_svc;           /* service set whose rules are compiled */
};

struct name_val {
	const char *name;
	int val;
};

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
 * that is missing, or NULL) and return -1 so callers can "return fail(...)".
 * Only the first error is kept: it is the one the operator must fix first.
 */
static int __attribute__((format(printf, 4, 5)))
fail(struct pctx *x, const config_setting_t *s, const char *child, const char *fmt, ...)
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

static const char *type_name(const config_setting_t *s)
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
static int check_keys(struct pctx *x, const config_setting_t *g, const char *const *keys)
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
			return fail(x, m, NULL, "unknown key (did you mean '%s'?)", best);
		return fail(x, m, NULL, "unknown key");
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
			return fail(x, g, key, "missing (required)");
		return 0;
	}
	if (config_setting_type(s) != type)
		return fail(x, s, NULL, "expected %s, got %s", want[type], type_name(s));
	*out = s;
	return 1;
}

static int get_group(struct pctx *x, const config_setting_t *g, const char *key, bool required,
		     const config_setting_t **out)
{
	return get_typed(x, g, key, CONFIG_TYPE_GROUP, required, out);
}

/* A list ( ) of groups, e.g. pools = ( { ... }, { ... } ). */
static int get_list(struct pctx *x, const config_setting_t *g, const char *key,
		    const config_setting_t **out)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	int i;

	if (!s)
		return 0;
	if (!config_setting_is_list(s))
		return fail(x, s, NULL, "expected a list ( { ... }, ... ), got %s", type_name(s));
	for (i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		if (!config_setting_is_group(e))
			return fail(x, e, NULL, "expected a group { }, got %s", type_name(e));
	}
	*out = s;
	return 1;
}

static int get_str(struct pctx *x, const config_setting_t *g, const char *key, bool required,
		   const char **out)
{
	const config_setting_t *s;
	int r = get_typed(x, g, key, CONFIG_TYPE_STRING, required, &s);

	*out = r == 1 ? config_setting_get_string(s) : "";
	return r;
}

/* String into a fixed buffer; max is the buffer size (incl. the NUL). */
static int get_strbuf(struct pctx *x, const config_setting_t *g, const char *key, char *buf,
		      size_t max)
{
	const char *v;
	int r = get_str(x, g, key, false, &v);

	if (r != 1)
		return r;
	if (strlen(v) >= max)
		return fail(x, config_setting_get_member(g, key), NULL,
			    "longer than %zu characters", max - 1);
	strcpy(buf, v);
	return 1;
}

static int get_bool(struct pctx *x, const config_setting_t *g, const char *key, bool *out)
{
	const config_setting_t *s;
	int r = get_typed(x, g, key, CONFIG_TYPE_BOOL, false, &s);

	if (r == 1)
		*out = config_setting_get_bool(s);
	return r;
}

/* An integer element or member s within [lo, hi]. */
static int int_value(struct pctx *x, const config_setting_t *s, long long lo, long long hi,
		     long long *out)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return fail(x, s, NULL, "expected an integer, got %s", type_name(s));
	v = config_setting_get_int64(s);
	if (v < lo || v > hi)
		return fail(x, s, NULL, "%lld is out of range %lld..%lld", v, lo, hi);
	*out = v;
	return 0;
}

static int get_u32(struct pctx *x, const config_setting_t *g, const char *key, long long lo,
		   long long hi, uint32_t *out)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	long long v;

	if (!s)
		return 0;
	if (int_value(x, s, lo, hi, &v))
		return -1;
	*out = (uint32_t)v;
	return 1;
}

/* Name of an enum value; "" if unknown. */
static const char *enum_name(const struct name_val *tab, int val)
{
	for (; tab->name; tab++)
		if (tab->val == val)
			return tab->name;
	return "";
}

/* A string that must be one of tab's names; the error lists them all. */
static int str_enum(struct pctx *x, const config_setting_t *s, const struct name_val *tab,
		    int *out)
{
	const struct name_val *t;
	char list[256] = "";
	size_t n = 0;
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(x, s, NULL, "expected a string, got %s", type_name(s));
	v = config_setting_get_string(s);
	for (t = tab; t->name; t++) {
		if (!strcmp(t->name, v)) {
			*out = t->val;
			return 0;
		}
		n += snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s",
			      t == tab ? "" : ", ", t->name);
	}
	return fail(x, s, NULL, "'%s' is not one of: %s", v, list);
}

static int get_enum(struct pctx *x, const config_setting_t *g, const char *key,
		    const struct name_val *tab, int *out)
{
	const config_setting_t *s = config_setting_get_member(g, key);

	if (!s)
		return 0;
	return str_enum(x, s, tab, out) ? -1 : 1;
}

/*
 * Lists of scalars accept a single value too: source-address = "10.0.0.0/8"
 * reads like the one-element array. Returns the element count, -1 on error.
 */
static int scalar_list_len(struct pctx *x, const config_setting_t *s)
{
	int n;

	if (config_setting_is_group(s))
		return fail(x, s, NULL, "expected a value or an array [ ], got a group { }");
	if (!config_setting_is_aggregate(s))
		return 1;
	n = config_setting_length(s);
	if (n == 0)
		return fail(x, s, NULL, "empty list (leave the key out to match anything)");
	if (n > LIST_MAX)
		return fail(x, s, NULL, "more than %d entries", LIST_MAX);
	return n;
}

static const config_setting_t *scalar_elem(const config_setting_t *s, int i)
{
	return config_setting_is_aggregate(s) ? config_setting_get_elem(s, i) : s;
}

/* A string element of a scalar list (types checked here). */
static const char *elem_str(struct pctx *x, const config_setting_t *e)
{
	if (config_setting_type(e) != CONFIG_TYPE_STRING) {
		fail(x, e, NULL, "expected a string, got %s", type_name(e));
		return NULL;
	}
	return config_setting_get_string(e);
}

/* ---- value syntax ------------------------------------------------------- */

/* Names: what an operator types in Junos (letters, digits, - _ .). */
static int check_name(struct pctx *x, const config_setting_t *s, const char *v)
{
	const char *p;

	if (!*v)
		return fail(x, s, NULL, "empty name");
	if (strlen(v) >= NS_NAME_MAX)
		return fail(x, s, NULL, "'%s' is longer than %d characters", v, NS_NAME_MAX - 1);
	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return fail(x, s, NULL,
				    "'%s' is not a valid name (letters, digits, '-', '_', '.')", v);
	return 0;
}

/* Linux interface names: 1..15 bytes, no '/', no blanks, not "." or "..". */
static int check_ifname(struct pctx *x, const config_setting_t *s, const char *v)
{
	const char *p;

	if (!*v || strlen(v) >= IF_NAMESIZE || !strcmp(v, ".") || !strcmp(v, ".."))
		goto bad;
	for (p = v; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			goto bad;
	return 0;
bad:
	return fail(x, s, NULL, "'%s' is not a Linux interface name (1-%d characters, no '/', ':' or blanks)",
		    v, IF_NAMESIZE - 1);
}

/* Strict dotted quad into network order; false if not one. */
static bool parse_ip(const char *s, uint32_t *be)
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

/*
 * "a.b.c.d/len" or "a.b.c.d" (a /32) into network-order address and mask.
 * Host bits set are an error: "10.1.2.3/8" is almost always a typo.
 */
static int parse_prefix(struct pctx *x, const config_setting_t *e, const char *v,
			uint32_t *addr, uint32_t *mask)
{
	char buf[32], *slash, *end;
	unsigned long len = 32;
	uint32_t a;

	if (strlen(v) >= sizeof(buf))
		goto bad;
	strcpy(buf, v);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!isdigit((unsigned char)slash[1]))
			goto bad;
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (*end || len > 32 || errno)
			goto bad;
	}
	if (!parse_ip(buf, &a))
		goto bad;
	if (a & ~prefix_mask(len)) {
		char net[INET_ADDRSTRLEN];

		return fail(x, e, NULL, "'%s' has host bits set (did you mean %s/%lu?)", v,
			    ns_fmt_ip(a & prefix_mask(len), net, sizeof(net)), len);
	}
	*addr = a;
	*mask = prefix_mask(len);
	return 0;
bad:
	return fail(x, e, NULL, "'%s' is not an IPv4 prefix", v);
}

/* "80", "1000-2000" or an integer: an inclusive port range. */
static int parse_port_range(struct pctx *x, const config_setting_t *e, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	const char *v;
	char *end;
	long long i;

	if (config_setting_type(e) == CONFIG_TYPE_INT || config_setting_type(e) == CONFIG_TYPE_INT64) {
		if (int_value(x, e, 0, 65535, &i))
			return -1;
		*lo = *hi = (uint16_t)i;
		return 0;
	}
	v = elem_str(x, e);
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
		return fail(x, e, NULL, "'%s': the low port is above the high port", v);
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
bad:
	return fail(x, e, NULL, "'%s' is not a port or port range (0-65535, \"low-high\")", v);
}

static const struct name_val proto_names[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "gre", 47 },
	{ "esp", 50 }, { "ah", 51 }, { "sctp", 132 }, { NULL, 0 },
};

/* A protocol name or number 1..255 (0 would read as "any": leave it out). */
static int parse_proto(struct pctx *x, const config_setting_t *e, uint8_t *out)
{
	const struct name_val *t;
	const char *v;
	long long i;

	if (config_setting_type(e) == CONFIG_TYPE_INT || config_setting_type(e) == CONFIG_TYPE_INT64) {
		if (int_value(x, e, 1, 255, &i))
			return -1;
		*out = (uint8_t)i;
		return 0;
	}
	v = elem_str(x, e);
	if (!v)
		return -1;
	for (t = proto_names; t->name; t++) {
		if (!strcmp(v, t->name)) {
			*out = (uint8_t)t->val;
			return 0;
		}
	}
	return fail(x, e, NULL, "'%s' is not a protocol (tcp, udp, icmp, gre, esp, ah, sctp or 1-255)", v);
}

/* ---- top-level scalars -------------------------------------------------- */

static const struct name_val attach_modes[] = {
	{ "native", NS_ATTACH_NATIVE }, { "generic", NS_ATTACH_GENERIC },
	{ "tc", NS_ATTACH_TC }, { "auto", NS_ATTACH_AUTO }, { NULL, 0 },
};

static const struct name_val log_levels[] = {
	{ "error", NS_LOG_ERR }, { "warning", NS_LOG_WARN }, { "info", NS_LOG_INFO },
	{ "debug", NS_LOG_DEBUG }, { NULL, 0 },
};

/* An absolute path that fits in max bytes (with room for suffix). */
static int get_path(struct pctx *x, const config_setting_t *g, const char *key, char *buf,
		    size_t max, bool may_be_empty)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	int r = get_strbuf(x, g, key, buf, max);

	if (r != 1)
		return r;
	if (!*buf && may_be_empty)
		return 1;
	if (buf[0] != '/')
		return fail(x, s, NULL, "'%s' is not an absolute path", buf);
	return 1;
}

static int parse_log(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = { "level", "file", "syslog", "syslog-socket", NULL };
	struct ns_config *c = x->c;
	const config_setting_t *g;
	int r = get_group(x, top, "log", false, &g);

	if (r != 1)
		return r;
	if (check_keys(x, g, keys) || get_enum(x, g, "level", log_levels, &c->log_level) < 0 ||
	    get_path(x, g, "file", c->log_file, sizeof(c->log_file), true) < 0 ||
	    get_bool(x, g, "syslog", &c->log_syslog) < 0 ||
	    get_path(x, g, "syslog-socket", c->syslog_socket, sizeof(c->syslog_socket), false) < 0)
		return -1;
	return 0;
}

/* "a.b.c.d:port" or "[v6]:port", port 1..65535. */
static int parse_endpoint(struct pctx *x, const config_setting_t *e, struct sockaddr_storage *ss)
{
	const char *v = elem_str(x, e), *colon;
	char host[INET6_ADDRSTRLEN + 2], *end;
	unsigned long port;
	size_t n;

	if (!v)
		return -1;
	colon = strrchr(v, ':');
	n = colon ? (size_t)(colon - v) : 0;
	if (!colon || !n || n >= sizeof(host))
		return fail(x, e, NULL, "'%s' is not address:port", v);
	memcpy(host, v, n);
	host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || !port || port > 65535)
		return fail(x, e, NULL, "'%s': bad port (1..65535)", v);
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[n - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return fail(x, e, NULL, "'%s': bad IPv6 address", v);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return fail(x, e, NULL, "'%s': bad IPv4 address (IPv6: [address]:port)", v);
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	}
	return 0;
}

/* ipfix { collectors = [ "addr:port", ... ]; template-refresh; observation-domain; message-size } */
static int parse_ipfix(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = {
		"collectors", "template-refresh", "observation-domain", "message-size", NULL,
	};
	struct ns_ipfix_conf *ip = &x->c->ipfix;
	const config_setting_t *g, *s;
	int r = get_group(x, top, "ipfix", false, &g), n;

	if (r != 1)
		return r;
	if (check_keys(x, g, keys) ||
	    get_u32(x, g, "template-refresh", 1, 86400, &ip->template_refresh) < 0 ||
	    get_u32(x, g, "observation-domain", 0, UINT32_MAX, &ip->domain) < 0 ||
	    get_u32(x, g, "message-size", 512, 65000, &ip->message_size) < 0)
		return -1;
	s = config_setting_get_member(g, "collectors");
	if (!s)
		return fail(x, g, "collectors", "missing: the collectors to export to");
	n = scalar_list_len(x, s);
	if (n < 0)
		return -1;
	if (n < 1 || n > NS_IPFIX_MAX_COLLECTORS)
		return fail(x, s, NULL, "1 to %d collectors", NS_IPFIX_MAX_COLLECTORS);
	for (int i = 0; i < n; i++)
		if (parse_endpoint(x, scalar_elem(s, i), &ip->collectors[i]))
			return -1;
	ip->n_collectors = (uint32_t)n;
	return 0;
}

/*
 * ns_metrics_parse_listen - "A.B.C.D:PORT" or "[IPV6]:PORT" (port 1-65535)
 * into m. Returns 0, or -1 with the reason in err.
 */
int ns_metrics_parse_listen(const char *v, struct ns_metrics_conf *m, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2], *end;
	const char *colon = strrchr(v, ':');
	size_t hlen;
	long port;

	if (!colon || colon == v || !colon[1]) {
		snprintf(err, errlen, "'%s' is not ADDR:PORT (e.g. \"198.51.100.1:9477\")", v);
		return -1;
	}
	hlen = (size_t)(colon - v);
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "'%s': the address is too long", v);
		return -1;
	}
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || errno || port < 1 || port > 65535) {
		snprintf(err, errlen, "'%s': port '%s' is not 1-65535", v, colon + 1);
		return -1;
	}
	memset(m, 0, sizeof(*m));
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &m->addr6) != 1) {
			snprintf(err, errlen, "'%s': '%s' is not an IPv6 address", v, host + 1);
			return -1;
		}
		m->family = AF_INET6;
	} else if (inet_pton(AF_INET, host, &m->addr4) == 1) {
		m->family = AF_INET;
	} else {
		snprintf(err, errlen, "'%s': '%s' is not an IPv4 address (IPv6: [ADDR]:PORT)",
			 v, host);
		return -1;
	}
	snprintf(m->listen, sizeof(m->listen), "%s", v);
	m->port = (uint16_t)port;
	m->enabled = true;
	return 0;
}

static int parse_metrics(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = { "listen", NULL };
	const config_setting_t *g;
	char err[160];
	const char *v;
	int r = get_group(x, top, "metrics", false, &g);

	if (r != 1)
		return r;
	if (check_keys(x, g, keys))
		return -1;
	r = get_str(x, g, "listen", false, &v);
	if (r != 1)
		return r;
	if (strlen(v) >= sizeof(x->c->metrics.listen))
		return fail(x, config_setting_get_member(g, "listen"), NULL,
			    "longer than %zu characters", sizeof(x->c->metrics.listen) - 1);
	if (ns_metrics_parse_listen(v, &x->c->metrics, err, sizeof(err)))
		return fail(x, config_setting_get_member(g, "listen"), NULL, "%s", err);
	return 0;
}

#define TIMEOUT_MAX (7 * 86400)

static int parse_timeouts(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = {
		"tcp-syn", "tcp-established", "tcp-closing", "tcp-time-wait", "tcp-rst",
		"udp", "icmp", "other", "port-hold", "binding", NULL,
	};
	struct ns_timeouts *t = &x->c->timeouts;
	const config_setting_t *g;
	int r = get_group(x, top, "timeouts", false, &g);

	if (r != 1)
		return r;
	if (check_keys(x, g, keys) ||
	    get_u32(x, g, "tcp-syn", 1, TIMEOUT_MAX, &t->tcp_syn) < 0 ||
	    get_u32(x, g, "tcp-established", 1, TIMEOUT_MAX, &t->tcp_established) < 0 ||
	    get_u32(x, g, "tcp-closing", 1, TIMEOUT_MAX, &t->tcp_closing) < 0 ||
	    get_u32(x, g, "tcp-time-wait", 1, TIMEOUT_MAX, &t->tcp_time_wait) < 0 ||
	    get_u32(x, g, "tcp-rst", 1, TIMEOUT_MAX, &t->tcp_rst) < 0 ||
	    get_u32(x, g, "udp", 1, TIMEOUT_MAX, &t->udp) < 0 ||
	    get_u32(x, g, "icmp", 1, TIMEOUT_MAX, &t->icmp) < 0 ||
	    get_u32(x, g, "other", 1, TIMEOUT_MAX, &t->other) < 0 ||
	    get_u32(x, g, "port-hold", 0, 3600, &t->port_hold) < 0 ||
	    get_u32(x, g, "binding", 0, TIMEOUT_MAX, &t->binding) < 0)
		return -1;
	return 0;
}

static int parse_global(struct pctx *x, const config_setting_t *top)
{
	struct ns_config *c = x->c;
	const config_setting_t *s;
	int r;

	r = get_strbuf(x, top, "node-name", c->node_name, sizeof(c->node_name));
	if (r < 0)
		return -1;
	s = config_setting_get_member(top, "node-name");
	if (r == 1 && check_name(x, s, c->node_name))
		return -1;
	/* Room for "/v3/ns_session_rev" behind the pin path. */
	if (get_path(x, top, "pin-path", c->pin_path, sizeof(c->pin_path) - 32, false) < 0)
		return -1;
	if (get_path(x, top, "control-socket", c->control_socket,
		     sizeof(c->control_socket), false) < 0)
		return -1;
	/* 0 = no limit; the fast path enforces it when it opens a session */
	if (get_u32(x, top, "max-sessions", 16, 1u << 26, &c->max_sessions) < 0 ||
	    get_u32(x, top, "max-sessions-per-subscriber", 0, 1u << 26,
		    &c->cfg.max_sess_per_sub) < 0 ||
	    get_u32(x, top, "aging-interval-ms", 10, 60000, &c->aging_interval_ms) < 0 ||
	    get_enum(x, top, "attach-mode", attach_modes, &c->attach_mode) < 0)
		return -1;
	s = config_setting_get_member(top, "loop-nice");
	if (s) {
		long long v;

		if (int_value(x, s, -20, 19, &v))
			return -1;
		c->loop_nice = (int32_t)v;
	}
	return 0;
}

/* ---- pools -------------------------------------------------------------- */

/* Addresses no NAT may hand out or forward to: 0/8, 127/8, 224/3. */
static bool bogus_range(uint32_t first, uint32_t last)
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

/* One pool address entry: "a.b.c.d/len", "a.b.c.d" or "a.b.c.d-e.f.g.h". */
static int parse_pool_range(struct pctx *x, const config_setting_t *e, struct ns_range *r)
{
	const char *v = elem_str(x, e), *dash;
	uint32_t a, b, mask;
	char lo[20];

	if (!v)
		return -1;
	dash = strchr(v, '-');
	if (dash) {
		if ((size_t)(dash - v) >= sizeof(lo))
			return fail(x, e, NULL, "'%s' is not an IPv4 prefix or range", v);
		memcpy(lo, v, dash - v);
		lo[dash - v] = '\0';
		if (!parse_ip(lo, &a) || !parse_ip(dash + 1, &b))
			return fail(x, e, NULL, "'%s' is not an IPv4 prefix or range", v);
		a = ntohl(a);
		b = ntohl(b);
		if (a > b)
			return fail(x, e, NULL, "'%s': the first address is above the last", v);
	} else {
		if (parse_prefix(x, e, v, &a, &mask))
			return -1;
		if (!mask)
			return fail(x, e, NULL, "'%s': a pool cannot span the whole address space", v);
		a = ntohl(a);
		b = a | ~ntohl(mask);
	}
	if (bogus_range(a, b))
		return fail(x, e, NULL,
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
		return fail(x, g, "address", "missing (required)");
	n = scalar_list_len(x, s);
	if (n < 0)
		return -1;
	if (n > NS_POOL_MAX_RANGES)
		return fail(x, s, NULL, "more than %d prefixes/ranges in one pool", NS_POOL_MAX_RANGES);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = scalar_elem(s, i);

		if (parse_pool_range(x, e, &p->ranges[i]))
			return -1;
		for (j = 0; j < i; j++)
			if (ranges_overlap(&p->ranges[i], &p->ranges[j]))
				return fail(x, e, NULL, "overlaps address entry %d of the same pool", j);
		x->pools[id].addr_elem[i] = e;
		total += p->ranges[i].count;
	}
	if (total > UINT32_MAX)
		return fail(x, s, NULL, "the pool holds more than %u addresses", UINT32_MAX);
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
		return fail(x, range, NULL, "'port' and 'port-range' exclude each other");
	if (port && config_setting_type(port) == CONFIG_TYPE_STRING) {
		if (strcmp(config_setting_get_string(port), "automatic"))
			return fail(x, port, NULL, "'%s' is not \"automatic\" or a port number",
				    config_setting_get_string(port));
		x->pools[id].port = PORT_AUTO;
		p->flags |= NS_POOL_F_PORT_AUTO;
		/* The span automatic allocation may use (REQ-3 keeps <1024 low). */
		p->port_lo = 512;
		p->port_hi = 65535;
	} else if (port) {
		if (int_value(x, port, 1, 65535, &lo))
			return -1;
		x->pools[id].port = PORT_SINGLE;
		p->port_lo = p->port_hi = (uint16_t)lo;
	} else if (range) {
		if (!config_setting_is_array(range) || config_setting_length(range) != 2)
			return fail(x, range, NULL, "expected [low, high]");
		if (int_value(x, config_setting_get_elem(range, 0), 1, 65535, &lo) ||
		    int_value(x, config_setting_get_elem(range, 1), 1, 65535, &hi))
			return -1;
		if (lo > hi)
			return fail(x, range, NULL, "low port %lld is above high port %lld", lo, hi);
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
	int r = get_group(x, pba, "deterministic", false, &g);

	if (r <= 0)
		return r;
	if (check_keys(x, g, keys) || get_str(x, g, "subscriber-range", true, &v) < 0)
		return -1;
	s = config_setting_get_member(g, "subscriber-range");
	if (parse_prefix(x, s, v, &a, &mask))
		return -1;
	if (config_setting_get_member(pba, "active-block-timeout") ||
	    config_setting_get_member(pba, "interim-logging-interval"))
		return fail(x, g, NULL,
			    "deterministic blocks are never allocated nor released: drop active-block-timeout and interim-logging-interval");
	c->flags |= NS_PBA_F_DETERMINISTIC;
	c->det_first = ntohl(a);
	c->det_count = ~ntohl(mask) + 1;
	if ((uint64_t)c->det_count > ns_pba_det_capacity(c, p))
		return fail(x, s, NULL,
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
	int r = get_group(x, pool, "port-block-allocation", false, &g);

	if (r <= 0)
		return r;
	if (x->pools[id].port != PORT_AUTO && x->pools[id].port != PORT_RANGE)
		return fail(x, g, NULL, "needs port = \"automatic\" or port-range");
	if (x->c->pools[id].flags & NS_POOL_F_PARITY)
		return fail(x, g, NULL, "ports inside a block do not keep parity: drop preserve-parity");
	if (check_keys(x, g, keys))
		return -1;
	if (x->pools[id].port == PORT_AUTO) {
		c->port_lo = NS_PORT_AUTO_HIGH_LO;
		c->port_hi = NS_PORT_AUTO_HIGH_HI;
	} else {
		c->port_lo = x->c->pools[id].port_lo;
		c->port_hi = x->c->pools[id].port_hi;
	}
	if (get_u32(x, g, "block-size", NS_PBA_MIN_BLOCK, 65535, &bs) < 0 ||
	    get_u32(x, g, "max-blocks-per-address", 1, NS_PBA_MAX_BLOCKS, &mb) < 0 ||
	    get_u32(x, g, "active-block-timeout", 0, 86400, &c->active_timeout_s) < 0 ||
	    get_u32(x, g, "interim-logging-interval", 0, 86400, &c->interim_s) < 0)
		return -1;
	s = config_setting_get_member(g, "block-size");
	if (!bs)
		return fail(x, g, "block-size", "missing (required)");
	c->blocks_per_addr = ns_pba_blocks_in(c->port_lo, c->port_hi, bs);
	if (!c->blocks_per_addr || c->blocks_per_addr > 65536)
		return fail(x, s, NULL, "a block of %u ports does not fit ports %u..%u", bs,
			    c->port_lo, c->port_hi);
	if (c->interim_s && c->interim_s < 60)
		return fail(x, g, "interim-logging-interval",
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
	uint32_t i;

	if (check_keys(x, g, keys) || get_str(x, g, "name", true, &name) < 0)
		return -1;
	s = config_setting_get_member(g, "name");
	if (check_name(x, s, name))
		return -1;
	for (i = 0; i < id; i++)
		if (!strcmp(x->c->pool_names[i], name))
			return fail(x, s, NULL, "duplicate pool name '%s'", name);
	strcpy(x->c->pool_names[id], name);
	if (parse_pool_addresses(x, g, id) || parse_pool_port(x, g, id))
		return -1;
	r = get_enum(x, g, "port-allocation", port_allocs, &random);
	if (r < 0 || get_enum(x, g, "address-allocation", addr_allocs, &rr) < 0 ||
	    get_bool(x, g, "preserve-parity", &parity) < 0)
		return -1;
	if (x->pools[id].port != PORT_AUTO && x->pools[id].port != PORT_RANGE) {
		s = config_setting_get_member(g, r == 1 ? "port-allocation" : "preserve-parity");
		if (r == 1 || parity)
			return fail(x, s, NULL, "needs port = \"automatic\" or port-range");
	}
	if (random && (x->pools[id].port == PORT_AUTO || x->pools[id].port == PORT_RANGE))
		p->flags |= NS_POOL_F_RANDOM_PORT;
	if (rr)
		p->flags |= NS_POOL_F_ROUND_ROBIN;
	if (parity)
		p->flags |= NS_POOL_F_PARITY;
	return parse_pool_pba(x, g, id);
}

static int parse_pools(struct pctx *x, const config_setting_t *nat)
{
	const config_setting_t *l;
	int r = get_list(x, nat, "pools", &l), i, n;

	if (r != 1)
		return r;
	n = config_setting_length(l);
	if (n > NS_MAX_POOLS)
		return fail(x, l, NULL, "more than %d pools", NS_MAX_POOLS);
	for (i = 0; i < n; i++)
		if (parse_pool(x, config_setting_get_elem(l, i), i))
			return -1;
	x->c->n_pools = n;
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
	const config_setting_t *s = config_setting_get_member(from, key);
	int len, i;

	*n = 1;
	out[0][0] = out[0][1] = 0;
	if (!s)
		return 0;
	len = scalar_list_len(x, s);
	if (len < 0)
		return -1;
	for (i = 0; i < len; i++) {
		const config_setting_t *e = scalar_elem(s, i);
		const char *v = elem_str(x, e);

		if (!v || parse_prefix(x, e, v, &out[i][0], &out[i][1]))
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
			return fail(x, s, NULL, "needs protocol tcp and/or udp (no protocol is given)");
		if (l->proto[k] != IPPROTO_TCP && l->proto[k] != IPPROTO_UDP)
			return fail(x, s, NULL, "protocol '%s' has no ports (only tcp and udp do)",
				    ns_proto_name(l->proto[k]));
	}
	len = scalar_list_len(x, s);
	if (len < 0)
		return -1;
	for (i = 0; i < len; i++)
		if (parse_port_range(x, scalar_elem(s, i), &out[i][0], &out[i][1]))
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
	int r = get_group(x, term, "from", false, &from), len, i;

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
	if (check_keys(x, from, keys) ||
	    parse_addr_list(x, from, "source-address", l->src, &l->n_src) ||
	    parse_addr_list(x, from, "destination-address", l->dst, &l->n_dst))
		return -1;
	s = config_setting_get_member(from, "protocol");
	if (s) {
		len = scalar_list_len(x, s);
		if (len < 0)
			return -1;
		for (i = 0; i < len; i++)
			if (parse_proto(x, scalar_elem(s, i), &l->proto[i]))
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
		return fail(x, term, "then", "missing (required)");
	if (config_setting_is_group(s)) {
		if (check_keys(x, s, keys))
			return -1;
		if (!config_setting_get_member(s, "action"))
			return fail(x, s, "action", "missing (required)");
		if (get_enum(x, s, "action", fw_actions, &action) < 0 ||
		    get_bool(x, s, "syslog", &syslog) < 0)
			return -1;
	} else if (str_enum(x, s, fw_actions, &action)) {
		return -1;
	}
	t->action = (uint8_t)action;
	t->syslog = syslog;
	return 0;
}

/* Pool reference by name; id or -1 (with the error recorded). */
static int pool_ref(struct pctx *x, const config_setting_t *then, const char *key)
{
	const config_setting_t *s;
	const char *name;
	uint32_t i;

	if (get_str(x, then, key, false, &name) != 1)
		return -1;
	s = config_setting_get_member(then, key);
	for (i = 0; i < x->c->n_pools; i++)
		if (!strcmp(x->c->pool_names[i], name))
			return (int)i;
	return fail(x, s, NULL, "pool '%s' is not defined", name);
}

/* A source pool must suit the translation: napt needs ports, basic keeps them. */
static int check_src_pool(struct pctx *x, const config_setting_t *ref, int type, int id)
{
	struct pool_info *p = &x->pools[id];
	const char *tname = enum_name(nat_types, type);

	if (p->use & USE_DST)
		return fail(x, ref, NULL, "pool '%s' is already a destination-pool",
			    x->c->pool_names[id]);
	if ((type == NS_NAT_NAPT44 || type == NS_NAT_TWICE || type == NS_NAT_NAT64) &&
	    p->port != PORT_AUTO && p->port != PORT_RANGE)
		return fail(x, ref, NULL,
			    "%s needs pool '%s' to have port = \"automatic\" or port-range",
			    tname, x->c->pool_names[id]);
	if ((type == NS_NAT_BASIC44 || type == NS_NAT_DYNAMIC44) && p->port != PORT_NONE)
		return fail(x, ref, NULL, "%s keeps ports: pool '%s' must not set port or port-range",
			    tname, x->c->pool_names[id]);
	p->use |= USE_SRC;
	return 0;
}

/* A destination pool is one address, optionally one port. */
static int check_dst_pool(struct pctx *x, const config_setting_t *ref, int id)
{
	struct pool_info *p = &x->pools[id];

	if (p->use & USE_SRC)
		return fail(x, ref, NULL, "pool '%s' is already a source-pool", x->c->pool_names[id]);
	if (x->c->pools[id].n_addrs != 1)
		return fail(x, ref, NULL, "destination-pool '%s' must hold exactly one address, not %u",
			    x->c->pool_names[id], x->c->pools[id].n_addrs);
	if (p->port != PORT_NONE && p->port != PORT_SINGLE)
		return fail(x, ref, NULL,
			    "destination-pool '%s' takes no port range: set port = <number> or nothing",
			    x->c->pool_names[id]);
	p->use |= USE_DST;
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
			return fail(x, term, NULL,
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
	const char *tname = enum_name(nat_types, o->type);
	const config_setting_t *s;

	s = config_setting_get_member(then, "source-pool");
	if (need_src && !s)
		return fail(x, then, "source-pool", "missing (%s needs a source-pool)", tname);
	if (!need_src && s)
		return fail(x, s, NULL, "%s takes no source-pool", tname);
	if (s) {
		o->src_pool = pool_ref(x, then, "source-pool");
		if (o->src_pool < 0 || check_src_pool(x, s, o->type, o->src_pool))
			return -1;
	}
	s = config_setting_get_member(then, "destination-pool");
	if (need_dst && !s)
		return fail(x, then, "destination-pool", "missing (%s needs a destination-pool)", tname);
	if (!need_dst && s)
		return fail(x, s, NULL, "%s takes no destination-pool", tname);
	if (s) {
		o->dst_pool = pool_ref(x, then, "destination-pool");
		if (o->dst_pool < 0 || check_dst_pool(x, s, o->dst_pool))
			return -1;
	}
	if (o->type == NS_NAT_BASIC44 && check_basic_fit(x, term, l, o->src_pool))
		return -1;
	return 0;
}

/* Mapping/filtering/pooling options only exist for napt-44 (RFC 4787). */
static int nat_then_options(struct pctx *x, const config_setting_t *then, struct nat_then *o)
{
	static const char *const napt_only[] = { "mapping-type", "filtering-type", "address-pooling" };
	int paired = 1, eim = 0, eif = 0;
	size_t i;

	if (o->type != NS_NAT_NAPT44) {
		for (i = 0; i < NS_ARRAY_SIZE(napt_only); i++) {
			const config_setting_t *s = config_setting_get_member(then, napt_only[i]);

			if (s)
				return fail(x, s, NULL, "applies to napt-44 only, not %s",
					    enum_name(nat_types, o->type));
		}
		return 0;
	}
	if (get_enum(x, then, "address-pooling", pooling_types, &paired) < 0 ||
	    get_enum(x, then, "mapping-type", eim_types, &eim) < 0 ||
	    get_enum(x, then, "filtering-type", eim_types, &eif) < 0)
		return -1;
	if (eif && !eim)
		return fail(x, config_setting_get_member(then, "filtering-type"), NULL,
			    "endpoint-independent filtering needs mapping-type endpoint-independent");
	o->flags |= (paired ? NS_NAT_F_PAIRED : 0) | (eim ? NS_NAT_F_EIM : 0) |
		    (eif ? NS_NAT_F_EIF : 0);
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
	if (get_group(x, term, "then", true, &then) < 0 || check_keys(x, then, keys) ||
	    get_bool(x, then, "syslog", &syslog) < 0 || get_bool(x, then, "no-translation", &none) < 0)
		return -1;
	o->flags = syslog ? NS_NAT_F_SYSLOG : 0;
	if (none) {
		/* An exemption (RFC 6888 REQ-11): nothing else may be said. */
		for (i = 0; keys[i]; i++) {
			s = config_setting_get_member(then, keys[i]);
			if (s && strcmp(keys[i], "syslog") && strcmp(keys[i], "no-translation"))
				return fail(x, s, NULL, "contradicts no-translation = true");
		}
		o->flags |= NS_NAT_F_NO_TRANSLATION;
		return 0;
	}
	s = config_setting_get_member(then, "translation-type");
	if (!s)
		return fail(x, then, "translation-type", "missing (or set no-translation = true)");
	if (str_enum(x, s, nat_types, &o->type))
		return -1;
	if (o->type == NS_NAT_NAT64) /* compile_nat64_term() handles those */
		return fail(x, s, NULL, "stateful-nat64 cannot be mixed with other keys here");
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
	return fail(x, config_setting_get_member(then, "translation-type"), NULL,
		    "%s translates subscriber-originated traffic: the rule needs match-direction input",
		    enum_name(nat_types, o->type));
}

/* ---- stateful-nat64 terms ----------------------------------------------- */

#define NAT64_WKP "64:ff9b::/96" /* RFC 6052 well-known prefix */

/*
 * "addr/len" (or "addr", a /128) IPv6 prefix into addr[16] and *len. Host
 * bits set are an error, as for IPv4 prefixes.
 */
static int parse_prefix6(struct pctx *x, const config_setting_t *e, const char *v, uint8_t addr[16],
			 uint8_t *len)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long l = 128;
	unsigned int i;

	if (strlen(v) >= sizeof(buf))
		goto bad;
	strcpy(buf, v);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!isdigit((unsigned char)slash[1]))
			goto bad;
		errno = 0;
		l = strtoul(slash + 1, &end, 10);
		if (*end || l > 128 || errno)
			goto bad;
	}
	if (inet_pton(AF_INET6, buf, addr) != 1)
		goto bad;
	for (i = 0; i < 128; i++)
		if (i >= l && (addr[i / 8] & (0x80 >> (i % 8))))
			return fail(x, e, NULL, "'%s' has host bits set beyond /%lu", v, l);
	*len = (uint8_t)l;
	return 0;
bad:
	return fail(x, e, NULL, "'%s' is not an IPv6 prefix", v);
}

/* Is this NAT term a stateful-nat64 one? (then.translation-type decides
 * how its "from" is read: IPv6 sources instead of IPv4.) */
static bool term_is_nat64(const config_setting_t *t)
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
		return parse_prefix6(x, then, NAT64_WKP, pref, len);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(x, s, NULL, "expected a string, got %s", type_name(s));
	v = config_setting_get_string(s);
	if (parse_prefix6(x, s, v, pref, len))
		return -1;
	if (*len != 32 && *len != 40 && *len != 48 && *len != 56 && *len != 64 && *len != 96)
		return fail(x, s, NULL,
			    "'%s': a pref64 is a /32, /40, /48, /56, /64 or /96 (RFC 6052 2.2)", v);
	if (pref[8])
		return fail(x, s, NULL, "'%s': bits 64-71 (the u-octet) must be zero (RFC 6052 2.2)",
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
	int pool, eim = 0, eif = 0;
	size_t i;

	if (get_group(x, term, "then", true, &then) < 0 || check_keys(x, then, keys) ||
	    get_bool(x, then, "syslog", &syslog) < 0)
		return -1;
	for (i = 0; i < NS_ARRAY_SIZE(refused); i++) {
		s = config_setting_get_member(then, refused[i]);
		if (s)
			return fail(x, s, NULL, "not supported with stateful-nat64");
	}
	s = config_setting_get_member(then, "source-pool");
	if (!s)
		return fail(x, then, "source-pool", "missing (stateful-nat64 needs a source-pool)");
	pool = pool_ref(x, then, "source-pool");
	if (pool < 0 || check_src_pool(x, s, NS_NAT_NAT64, pool) ||
	    nat64_pref64(x, then, o->pref64, &o->pref_len))
		return -1;
	/* RFC 6146 3.5.1.1/3.5.2: napt-44's keys and rules (RFC 4787) */
	if (get_enum(x, then, "mapping-type", eim_types, &eim) < 0 ||
	    get_enum(x, then, "filtering-type", eim_types, &eif) < 0)
		return -1;
	if (eif && !eim)
		return fail(x, config_setting_get_member(then, "filtering-type"), NULL,
			    "endpoint-independent filtering needs mapping-type endpoint-independent");
	o->src_pool = (uint8_t)pool;
	o->flags = (syslog ? NS_NAT_F_SYSLOG : 0) | (eim ? NS_NAT_F_EIM : 0) |
		   (eif ? NS_NAT_F_EIF : 0);
	return 0;
}

/* The "from" of a stateful-nat64 term: IPv6 source prefixes (default
 * ::/0) into src[n], and destination-address, which may only repeat the
 * pref64. Returns the number of source prefixes or -1. */
static int nat64_from(struct pctx *x, const config_setting_t *term, const uint8_t pref[16],
		      uint8_t pref_len, uint8_t (*src)[17])
{
	static const char *const keys[] = { "source-address", "destination-address", NULL };
	const config_setting_t *from = NULL, *s;
	uint8_t a[16], len;
	int n, i;

	if (get_group(x, term, "from", false, &from) < 0)
		return -1;
	memset(src[0], 0, 17);
	if (!from)
		return 1;
	if (check_keys(x, from, keys))
		return -1;
	s = config_setting_get_member(from, "destination-address");
	if (s) {
		n = scalar_list_len(x, s);
		if (n < 0)
			return -1;
		for (i = 0; i < n; i++) {
			const config_setting_t *e = scalar_elem(s, i);
			const char *v = elem_str(x, e);

			if (!v || parse_prefix6(x, e, v, a, &len))
				return -1;
			if (len != pref_len || memcmp(a, pref, 16))
				return fail(x, e, NULL,
					    "'%s': stateful-nat64 matches the destination-prefix of its then only",
					    v);
		}
	}
	s = config_setting_get_member(from, "source-address");
	if (!s)
		return 1;
	n = scalar_list_len(x, s);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = scalar_elem(s, i);
		const char *v = elem_str(x, e);

		if (!v || parse_prefix6(x, e, v, src[i], &src[i][16]))
			return -1;
	}
	return n;
}

/*
 * One stateful-nat64 term: validate it (out == false) or append one
 * compiled term per source prefix to c->nat64 for service set x->cur_svc.
 */
static int compile_nat64_term(struct pctx *x, const config_setting_t *t, uint32_t ridx,
			      uint32_t tidx, uint8_t dir_mask, bool out)
{
	uint8_t src[LIST_MAX][17];
	struct ns_nat64_term o;
	int n, k;

	memset(&o, 0, sizeof(o));
	if (nat64_then(x, t, &o))
		return -1;
	if (dir_mask != NS_DIR_INPUT)
		return fail(x, config_setting_get_member(config_setting_get_member(t, "then"),
							 "translation-type"),
			    NULL, "stateful-nat64 translates subscriber-originated traffic: the rule needs match-direction input");
	n = nat64_from(x, t, o.pref64, o.pref_len, src);
	if (n < 0)
		return -1;
	if (x->c->n_nat64 + (uint32_t)n > NS_MAX_NAT64_TERMS)
		return fail(x, t, NULL, "more than %d stateful-nat64 terms after expansion",
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

		if (check_keys(x, t, keys) || get_str(x, t, "name", true, &name) < 0)
			return -1;
		ns = config_setting_get_member(t, "name");
		if (check_name(x, ns, name))
			return -1;
		for (j = 0; j < i; j++) {
			const char *other = NULL;

			config_setting_lookup_string(config_setting_get_elem(terms, j), "name", &other);
			if (other && !strcmp(other, name))
				return fail(x, ns, NULL, "duplicate term name '%s' in this rule", name);
		}
		if (kind == RULE_NAT && term_is_nat64(t)) {
			/* not an IPv4 NAT term: nothing goes into out[] */
			if (compile_nat64_term(x, t, ridx, (uint32_t)i, ri->dir_mask, out != NULL))
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
			return fail(x, t, NULL, "the rule expands to more than %u %s terms", cap,
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
	int r = get_list(x, sect, "rules", &l), i, j, n, dir;
	const char *name;

	if (r != 1)
		return r;
	n = config_setting_length(l);
	if ((uint32_t)n > cap)
		return fail(x, l, NULL, "more than %u rules", cap);
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(l, i);
		info[i].s = g;
		if (check_keys(x, g, keys) || get_str(x, g, "name", true, &name) < 0)
			return -1;
		s = config_setting_get_member(g, "name");
		if (check_name(x, s, name))
			return -1;
		for (j = 0; j < i; j++)
			if (!strcmp(names[j], name))
				return fail(x, s, NULL, "duplicate rule name '%s'", name);
		strcpy(names[i], name);
		s = config_setting_get_member(g, "match-direction");
		if (!s)
			return fail(x, g, "match-direction", "missing (required)");
		if (str_enum(x, s, kind == RULE_FW ? fw_dirs : nat_dirs, &dir))
			return -1;
		info[i].dir_mask = (uint8_t)dir;
		if (get_list(x, g, "terms", &s) < 0)
			return -1;
		if (!config_setting_get_member(g, "terms") || !config_setting_length(s))
			return fail(x, g, "terms", "missing (a rule needs at least one term)");
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
	const config_setting_t *s = config_setting_get_member(g, key);
	int len, i, j, ri;

	*first = (uint16_t)*n;
	*count = 0;
	if (!s)
		return 0;
	len = scalar_list_len(x, s);
	if (len < 0)
		return -1;
	for (i = 0; i < len; i++) {
		const config_setting_t *e = scalar_elem(s, i);
		const char *name = elem_str(x, e);

		if (!name)
			return -1;
		ri = rule_index(names, n_rules, name);
		if (ri < 0)
			return fail(x, e, NULL, "%s rule '%s' is not defined", what, name);
		for (j = 0; j < i; j++)
			if (!strcmp(config_setting_get_string(scalar_elem(s, j)), name))
				return fail(x, e, NULL, "rule '%s' is listed twice", name);
		if (*n + info[ri].n_expanded > cap)
			return fail(x, e, NULL,
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

	if (get_str(x, nh, key, true, &name) < 0)
		return -1;
	s = config_setting_get_member(nh, key);
	if (check_ifname(x, s, name))
		return -1;
	for (i = 0; i < c->n_ifaces; i++) {
		if (strcmp(c->ifaces[i].name, name))
			continue;
		if (c->ifaces[i].svc == (int)svc)
			return fail(x, s, NULL, "interface '%s' cannot be both inside and outside", name);
		return fail(x, s, NULL, "interface '%s' already belongs to service set '%s'",
			    name, c->svc_conf[c->ifaces[i].svc].name);
	}
	if (c->n_ifaces == NS_MAX_IFACES)
		return fail(x, s, NULL, "more than %d interfaces", NS_MAX_IFACES);
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
	len = scalar_list_len(x, s);
	if (len < 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (str_enum(x, scalar_elem(s, i), classes, &f))
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
	const config_setting_t *s, *nh;
	const char *name;
	uint32_t i, thr = 0;

	if (check_keys(x, g, keys) || get_str(x, g, "name", true, &name) < 0)
		return -1;
	s = config_setting_get_member(g, "name");
	if (check_name(x, s, name))
		return -1;
	for (i = 0; i < id; i++)
		if (!strcmp(x->c->svc_conf[i].name, name))
			return fail(x, s, NULL, "duplicate service-set name '%s'", name);
	strcpy(sc->name, name);
	x->cur_svc = id;
	if (!config_setting_get_member(g, "nat-rules") &&
	    !config_setting_get_member(g, "stateful-firewall-rules"))
		return fail(x, g, "nat-rules", "missing (a service set needs nat-rules and/or stateful-firewall-rules)");
	if (svc_rules(x, g, RULE_FW, &svc->fw_first, &svc->fw_count) ||
	    svc_rules(x, g, RULE_NAT, &svc->nat_first, &svc->nat_count))
		return -1;
	if (config_setting_get_member(g, "stateful-firewall-rules"))
		svc->flags |= NS_SVC_F_HAS_FW;
	if (get_group(x, g, "next-hop-service", true, &nh) < 0 || check_keys(x, nh, nh_keys) ||
	    svc_iface(x, nh, "inside-service-interface", NS_SIDE_INSIDE, id) ||
	    svc_iface(x, nh, "outside-service-interface", NS_SIDE_OUTSIDE, id) ||
	    svc_syslog(x, g, &svc->flags))
		return -1;
	sc->replication_threshold = -1;
	sc->replicate = true;
	if (get_u32(x, g, "replication-threshold", 0, 86400, &thr) < 0 ||
	    get_bool(x, g, "replicate-services", &sc->replicate) < 0)
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
	int r = get_list(x, services, "service-sets", &l), i, n;

	if (r < 0)
		return -1;
	if (r == 0 || !config_setting_length(l))
		return fail(x, services, "service-sets", "missing (at least one service set is needed)");
	n = config_setting_length(l);
	if (n > NS_MAX_SVC_SETS)
		return fail(x, l, NULL, "more than %d service sets", NS_MAX_SVC_SETS);
	for (i = 0; i < n; i++) {
		if (parse_svc(x, config_setting_get_elem(l, i), i))
			return -1;
		x->c->n_svcs = i + 1;
	}
	x->c->cfg.n_svc = x->c->n_svcs;
	return 0;
}

/* Pools that translate sources must not share addresses: two allocators
 * would hand out the same address and port. Destination pools may. */
static int check_pool_overlap(struct pctx *x)
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
						return fail(x, x->pools[a].addr_elem[i], NULL,
							    "overlaps source pool '%s'",
							    x->c->pool_names[b]);
		}
	}
	return 0;
}

static int parse_services(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = { "nat", "stateful-firewall", "service-sets", NULL };
	static const char *const nat_keys[] = { "pools", "rules", NULL };
	static const char *const fw_keys[] = { "rules", NULL };
	const config_setting_t *services, *nat = NULL, *fw = NULL;

	if (get_group(x, top, "services", true, &services) < 0 || check_keys(x, services, keys) ||
	    get_group(x, services, "nat", false, &nat) < 0 ||
	    get_group(x, services, "stateful-firewall", false, &fw) < 0)
		return -1;
	if (nat && (check_keys(x, nat, nat_keys) || parse_pools(x, nat) < 0 ||
		    parse_rules(x, nat, RULE_NAT) < 0))
		return -1;
	if (fw && (check_keys(x, fw, fw_keys) || parse_rules(x, fw, RULE_FW) < 0))
		return -1;
	return parse_svcs(x, services) || check_pool_overlap(x) ? -1 : 0;
}

/* ---- interfaces and redundancy ------------------------------------------ */

/* Per-interface attach mode overrides; the interface must be in a set. */
static int parse_ifaces(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = { "name", "attach-mode", NULL };
	const config_setting_t *l, *g, *s;
	bool seen[NS_MAX_IFACES] = { false };
	int r = get_list(x, top, "interfaces", &l), i, mode;
	const char *name;
	uint32_t k;

	if (r != 1)
		return r;
	for (i = 0; i < config_setting_length(l); i++) {
		g = config_setting_get_elem(l, i);
		if (check_keys(x, g, keys) || get_str(x, g, "name", true, &name) < 0)
			return -1;
		s = config_setting_get_member(g, "name");
		for (k = 0; k < x->c->n_ifaces; k++)
			if (!strcmp(x->c->ifaces[k].name, name))
				break;
		if (k == x->c->n_ifaces)
			return fail(x, s, NULL, "interface '%s' is not used by any service set", name);
		if (seen[k])
			return fail(x, s, NULL, "interface '%s' is listed twice", name);
		seen[k] = true;
		if (!config_setting_get_member(g, "attach-mode"))
			return fail(x, g, "attach-mode", "missing (required)");
		if (get_enum(x, g, "attach-mode", attach_modes, &mode) < 0)
			return -1;
		x->c->ifaces[k].mode = mode;
	}
	return 0;
}

/* An address inside a one-key group: redundancy-local = { data-address = ...; }. */
static int get_addr_group(struct pctx *x, const config_setting_t *red, const char *group,
			  const char *key, struct in_addr *out)
{
	const char *const keys[] = { key, NULL };
	const config_setting_t *g, *s;
	const char *v;
	uint32_t a;

	if (get_group(x, red, group, true, &g) < 0 || check_keys(x, g, keys) ||
	    get_str(x, g, key, true, &v) < 0)
		return -1;
	s = config_setting_get_member(g, key);
	if (!parse_ip(v, &a))
		return fail(x, s, NULL, "'%s' is not an IPv4 address", v);
	if (bogus_range(ntohl(a), ntohl(a)))
		return fail(x, s, NULL, "'%s' is not a unicast address", v);
	out->s_addr = a;
	return 0;
}

/* An interface name element or member s (type and syntax checked). */
static const char *ifname_value(struct pctx *x, const config_setting_t *s)
{
	const char *v = elem_str(x, s);

	if (!v || check_ifname(x, s, v))
		return NULL;
	return v;
}

/* A valid name unique among the n entries before it: first is the name of
 * entry 0, each entry stride bytes long. */
static int unique_name(struct pctx *x, const config_setting_t *s, const char *v,
		       const char *first, size_t stride, uint32_t n)
{
	if (check_name(x, s, v))
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(first + i * stride, v))
			return fail(x, s, NULL, "'%s' is defined twice", v);
	return 0;
}

/* A list of at most max named groups under key (what: for the message):
 * 1 and *l, 0 when absent, -1 on error. */
static int get_named_list(struct pctx *x, const config_setting_t *g, const char *key, int max,
			  const char *what, const config_setting_t **l)
{
	int r = get_list(x, g, key, l);

	if (r == 1 && config_setting_length(*l) > max)
		return fail(x, *l, NULL, "more than %d %s", max, what);
	return r;
}

/* Element e (index i) of a named list: its keys known, its name (into *name)
 * valid and unique among the i before it (entry 0's name at first, each
 * entry stride bytes). */
static int named_elem(struct pctx *x, const config_setting_t *e, const char *const *keys,
		      const char *first, size_t stride, int i, const char **name)
{
	if (check_keys(x, e, keys) || get_str(x, e, "name", true, name) < 0)
		return -1;
	return unique_name(x, config_setting_get_member(e, "name"), *name, first, stride,
			   (uint32_t)i);
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
	char buf[32], *slash, *end;
	unsigned long len;
	const char *v;
	int r = get_list(x, g, "virtual-addresses", &l), i;

	if (r != 1)
		return r;
	if (config_setting_length(l) > NS_RED_MAX_VIPS)
		return fail(x, l, NULL, "more than %d virtual addresses", NS_RED_MAX_VIPS);
	for (i = 0; i < config_setting_length(l); i++) {
		struct ns_red_vip *vip = &rd->vips[i];

		e = config_setting_get_elem(l, i);
		if (check_keys(x, e, keys) || get_str(x, e, "address", true, &v) < 0)
			return -1;
		s = config_setting_get_member(e, "address");
		len = 32;
		if (strlen(v) >= sizeof(buf))
			return fail(x, s, NULL, "'%s' is not an IPv4 address[/length]", v);
		strcpy(buf, v);
		slash = strchr(buf, '/');
		if (slash) {
			*slash = '\0';
			len = strtoul(slash + 1, &end, 10);
			if (!isdigit((unsigned char)slash[1]) || *end || len < 1 || len > 32)
				return fail(x, s, NULL, "'%s' is not an IPv4 address[/length]", v);
		}
		if (!parse_ip(buf, &vip->addr.s_addr) || bogus_range(ntohl(vip->addr.s_addr),
								     ntohl(vip->addr.s_addr)))
			return fail(x, s, NULL, "'%s' is not a unicast IPv4 address[/length]", v);
		vip->prefix_len = (uint8_t)len;
		if (!config_setting_get_member(e, "interface"))
			return fail(x, e, "interface", "missing (required)");
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

	if (check_keys(x, e, keys) || get_str(x, e, "destination", true, &v) < 0 ||
	    parse_prefix(x, config_setting_get_member(e, "destination"), v, &rt->dst.s_addr, &mask))
		return -1;
	rt->prefix_len = (uint8_t)__builtin_popcount(mask);
	if (get_str(x, e, "via", false, &v) < 0)
		return -1;
	s = config_setting_get_member(e, "via");
	if (s && !parse_ip(v, &rt->via.s_addr))
		return fail(x, s, NULL, "'%s' is not an IPv4 address", v);
	if (get_ifname(x, e, "interface", rt->ifname) < 0)
		return -1;
	rt->table = 254;
	if (get_u32(x, e, "table", 1, UINT32_MAX, &rt->table) < 0 ||
	    get_u32(x, e, "metric", 0, UINT32_MAX, &rt->metric) < 0)
		return -1;
	return 0;
}

/* A list of route groups under key (signal-routes, add-static-route, ...). */
static int parse_route_list(struct pctx *x, const config_setting_t *g, const char *key,
			    struct ns_red_route *out, uint32_t max, uint32_t *n)
{
	const config_setting_t *l;
	int r = get_list(x, g, key, &l), i;

	if (r != 1)
		return r;
	if (config_setting_length(l) > (int)max)
		return fail(x, l, NULL, "more than %u routes", max);
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
	n = scalar_list_len(x, s);
	if (n < 0)
		return -1;
	if (n > NS_RED_MAX_MONITOR)
		return fail(x, s, NULL, "more than %d interfaces", NS_RED_MAX_MONITOR);
	for (i = 0; i < n; i++) {
		v = ifname_value(x, scalar_elem(s, i));
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

	if (get_enum(x, g, "initial-role", roles, &rd->initial_role) < 0 ||
	    get_enum(x, g, "role-control", role_controls, &ext) < 0 ||
	    get_strbuf(x, g, "hook", rd->hook, sizeof(rd->hook)) < 0 ||
	    get_u32(x, g, "garp-count", 1, 100, &rd->garp_count) < 0 ||
	    get_u32(x, g, "garp-interval-ms", 10, 10000, &rd->garp_interval_ms) < 0 ||
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
	int r = get_str(x, g, key, required, &v);

	if (r != 1)
		return r;
	s = config_setting_get_member(g, key);
	if (!parse_ip(v, &a) || bogus_range(ntohl(a), ntohl(a)))
		return fail(x, s, NULL, "'%s' is not a unicast IPv4 address", v);
	out->s_addr = a;
	return 1;
}

static int srd_link_event(struct pctx *x, const config_setting_t *s, struct ns_srd_event_conf *ev)
{
	int n = scalar_list_len(x, s);

	if (n < 0)
		return -1;
	if (n > NS_SRD_MAX_LINKS)
		return fail(x, s, NULL, "more than %d interfaces", NS_SRD_MAX_LINKS);
	for (int i = 0; i < n; i++) {
		const char *v = ifname_value(x, scalar_elem(s, i));

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
		return fail(x, g, NULL, "expected a group { prefix = ...; table = ...; }, got %s",
			    type_name(g));
	if (check_keys(x, g, keys) || get_str(x, g, "prefix", true, &v) < 0 ||
	    parse_prefix(x, config_setting_get_member(g, "prefix"), v, &ev->prefix.s_addr, &mask))
		return -1;
	ev->prefix_len = (uint8_t)__builtin_popcount(mask);
	ev->table = 254;
	return get_u32(x, g, "table", 1, UINT32_MAX, &ev->table) < 0 ? -1 : 0;
}

static int srd_ping_event(struct pctx *x, const config_setting_t *g, struct ns_srd_event_conf *ev)
{
	static const char *const keys[] = {
		"address", "source", "interface", "interval-ms", "count", NULL,
	};

	if (!config_setting_is_group(g))
		return fail(x, g, NULL, "expected a group { address = ...; }, got %s", type_name(g));
	ev->ping_interval_ms = 1000;
	ev->ping_count = 3;
	if (check_keys(x, g, keys) || get_unicast(x, g, "address", true, &ev->ping_addr) < 0 ||
	    get_unicast(x, g, "source", false, &ev->ping_source) < 0 ||
	    get_u32(x, g, "interval-ms", 50, 60000, &ev->ping_interval_ms) < 0 ||
	    get_u32(x, g, "count", 1, 100, &ev->ping_count) < 0 ||
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
	int r = get_named_list(x, g, "redundancy-events", NS_SRD_MAX_EVENTS, "events", &l), i, k, kind;
	const char *v;

	if (r != 1)
		return r;
	for (i = 0; i < config_setting_length(l); i++) {
		struct ns_srd_event_conf *ev = &rd->events[i];

		e = config_setting_get_elem(l, i);
		if (named_elem(x, e, keys, rd->events[0].name, sizeof(*ev), i, &v))
			return -1;
		strcpy(ev->name, v);
		kind = 0;
		for (k = 0; srd_monitors[k]; k++) {
			const config_setting_t *m = config_setting_get_member(e, srd_monitors[k]);

			if (!m)
				continue;
			if (kind)
				return fail(x, m, NULL, "an event watches one thing: %s is set too",
					    srd_monitors[kind - 1]);
			kind = k + 1;
			s = m;
		}
		if (!kind)
			return fail(x, e, NULL, "no monitor: set one of monitor-link-down, "
				    "monitor-route, monitor-ping, monitor-peer");
		ev->kind = kind; /* the table's order is enum ns_srd_kind's */
		if ((kind == NS_SRD_LINK && srd_link_event(x, s, ev)) ||
		    (kind == NS_SRD_ROUTE && srd_route_event(x, s, ev)) ||
		    (kind == NS_SRD_PING && srd_ping_event(x, s, ev)))
			return -1;
		if (kind == NS_SRD_PEER) {
			v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
			if (!v || strcmp(v, "loss"))
				return fail(x, s, NULL, "expected \"loss\" (the peer's heartbeats "
					    "stop for dead-interval-ms)");
		}
		if (get_u32(x, e, "hold-time-down-ms", 0, 3600000, &ev->hold_down_ms) < 0 ||
		    get_u32(x, e, "hold-time-up-ms", 0, 3600000, &ev->hold_up_ms) < 0)
			return -1;
		rd->n_events = (uint32_t)i + 1;
	}
	return 0;
}

/* redundancy-events = [ "a", "b" ] of a policy: names of defined events. */
static int srd_policy_events(struct pctx *x, const config_setting_t *p, struct ns_srd_policy_conf *pc)
{
	const struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *s = config_setting_get_member(p, "redundancy-events");
	int n, i;
	uint32_t k;

	if (!s)
		return fail(x, p, "redundancy-events", "missing (required)");
	n = scalar_list_len(x, s);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = scalar_elem(s, i);
		const char *v = elem_str(x, e);

		if (!v)
			return -1;
		for (k = 0; k < rd->n_events && strcmp(rd->events[k].name, v); k++)
			;
		if (k == rd->n_events)
			return fail(x, e, NULL, "no redundancy event '%s' (redundancy-events)", v);
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

	if (get_group(x, p, "then", true, &t) < 0 || check_keys(x, t, keys))
		return -1;
	for (size_t i = 0; i < NS_ARRAY_SIZE(flags); i++) {
		on = false;
		if (get_bool(x, t, flags[i].key, &on) < 0)
			return -1;
		if (on)
			pc->actions |= flags[i].bit;
	}
	if ((pc->actions & NS_SRD_A_ACQUIRE) && (pc->actions & NS_SRD_A_RELEASE))
		return fail(x, t, NULL, "acquire-mastership and release-mastership in one policy");
	if ((pc->actions & NS_SRD_A_ADD_SIGNAL) && (pc->actions & NS_SRD_A_DEL_SIGNAL))
		return fail(x, t, NULL, "add-signal-route and delete-signal-route in one policy");
	if ((pc->actions & NS_SRD_A_ADD_SIGNAL) && !x->c->red.n_routes)
		return fail(x, t, "add-signal-route", "no signal-routes are configured");
	if (parse_route_list(x, t, "add-static-route", pc->add_routes, NS_SRD_MAX_ROUTES,
			     &pc->n_add_routes) < 0 ||
	    parse_route_list(x, t, "delete-static-route", pc->del_routes, NS_SRD_MAX_ROUTES,
			     &pc->n_del_routes) < 0 ||
	    get_strbuf(x, t, "hook", pc->hook, sizeof(pc->hook)) < 0 ||
	    get_u32(x, t, "hook-timeout-ms", 100, 600000, &pc->hook_timeout_ms) < 0)
		return -1;
	if (pc->n_add_routes)
		pc->actions |= NS_SRD_A_ADD_ROUTES;
	if (pc->n_del_routes)
		pc->actions |= NS_SRD_A_DEL_ROUTES;
	if (pc->hook[0])
		pc->actions |= NS_SRD_A_HOOK;
	else if (config_setting_get_member(t, "hook-timeout-ms"))
		return fail(x, t, "hook-timeout-ms", "without a hook");
	if (!pc->actions)
		return fail(x, t, NULL, "no action (acquire-mastership, release-mastership, "
			    "add/delete-signal-route, add/delete-static-route, hook)");
	return 0;
}

/* redundancy-policies = ( { name; redundancy-events = [ ... ]; when; then = { } } ). */
static int parse_srd_policies(struct pctx *x, const config_setting_t *g)
{
	static const char *const keys[] = { "name", "redundancy-events", "when", "then", NULL };
	struct ns_redundancy_conf *rd = &x->c->red;
	const config_setting_t *l, *e;
	int r = get_named_list(x, g, "redundancy-policies", NS_SRD_MAX_POLICIES, "policies", &l);
	int i, when;
	const char *v;

	if (r != 1)
		return r;
	for (i = 0; i < config_setting_length(l); i++) {
		struct ns_srd_policy_conf *pc = &rd->policies[i];

		e = config_setting_get_elem(l, i);
		when = 0;
		pc->hook_timeout_ms = 10000;
		if (named_elem(x, e, keys, rd->policies[0].name, sizeof(*pc), i, &v) ||
		    srd_policy_events(x, e, pc) || get_enum(x, e, "when", srd_whens, &when) < 0 ||
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
	int r = get_named_list(x, g, "heartbeat-paths", NS_SRD_MAX_HB_PATHS, "heartbeat paths", &l);
	uint32_t port;
	const char *v;
	int i;

	if (r != 1)
		return r;
	for (i = 0; i < config_setting_length(l); i++) {
		struct ns_hb_path_conf *hp = &rd->hb_paths[i];

		e = config_setting_get_elem(l, i);
		port = 7789;
		if (named_elem(x, e, keys, rd->hb_paths[0].name, sizeof(*hp), i, &v) ||
		    get_unicast(x, e, "local-address", true, &hp->local_addr) < 0 ||
		    get_unicast(x, e, "peer-address", true, &hp->peer_addr) < 0 ||
		    get_u32(x, e, "port", 1, 65535, &port) < 0)
			return -1;
		strcpy(hp->name, v);
		hp->port = (uint16_t)port;
		if (hp->local_addr.s_addr == hp->peer_addr.s_addr)
			return fail(x, config_setting_get_member(e, "peer-address"), NULL,
				    "equals local-address");
		if (hp->local_addr.s_addr == rd->local_addr.s_addr)
			return fail(x, config_setting_get_member(e, "local-address"), NULL,
				    "is the sync channel's address: a second path needs another link");
		if (get_ifname(x, e, "interface", hp->ifname) < 0)
			return -1;
		rd->n_hb_paths = (uint32_t)i + 1;
	}
	return 0;
}

static int parse_redundancy(struct pctx *x, const config_setting_t *top)
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
	int r = get_group(x, top, "redundancy-options", false, &g);

	if (r != 1)
		return r;
	if (check_keys(x, g, keys) ||
	    get_addr_group(x, g, "redundancy-local", "data-address", &rd->local_addr) ||
	    get_addr_group(x, g, "redundancy-peer", "ipaddress", &rd->peer_addr))
		return -1;
	if (rd->local_addr.s_addr == rd->peer_addr.s_addr)
		return fail(x, config_setting_get_member(g, "redundancy-peer"), NULL,
			    "the peer address equals redundancy-local data-address");
	if (get_u32(x, g, "port", 1, 65535, &port) < 0 ||
	    get_strbuf(x, g, "routing-instance", rd->device, sizeof(rd->device)) < 0 ||
	    get_u32(x, g, "replication-threshold", 0, 86400, &rd->replication_threshold) < 0 ||
	    get_u32(x, g, "heartbeat-interval-ms", 50, 60000, &rd->heartbeat_interval_ms) < 0 ||
	    get_u32(x, g, "dead-interval-ms", 150, 600000, &rd->dead_interval_ms) < 0 ||
	    get_u32(x, g, "priority", 0, 255, &prio) < 0 || get_bool(x, g, "preempt", &rd->preempt) < 0 ||
	    get_path(x, g, "key-file", rd->key_file, sizeof(rd->key_file), true) < 0 ||
	    get_bool(x, g, "encrypt", &rd->encrypt) < 0)
		return -1;
	/* The encryption keys derive from the pre-shared key. */
	if (rd->encrypt && !rd->key_file[0])
		return fail(x, config_setting_get_member(g, "encrypt"), NULL,
			    "encrypt = true needs key-file (the encryption "
			    "keys are derived from the pre-shared key)");
	s = config_setting_get_member(g, "routing-instance");
	if (s && *rd->device && check_ifname(x, s, rd->device))
		return -1;
	if (rd->dead_interval_ms < 2 * rd->heartbeat_interval_ms)
		return fail(x, g, config_setting_get_member(g, "dead-interval-ms") ? "dead-interval-ms" : NULL,
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

/* ---- entry points ------------------------------------------------------- */

static int parse_root(struct pctx *x, const config_setting_t *root)
{
	static const char *const root_keys[] = { "natsync", NULL };
	static const char *const keys[] = {
		"node-name", "pin-path", "control-socket", "log", "max-sessions",
		"max-sessions-per-subscriber", "aging-interval-ms", "loop-nice", "attach-mode", "timeouts", "interfaces",
		"redundancy-options", "services", "ipfix", "metrics", NULL,
	};
	const config_setting_t *top;

	if (check_keys(x, root, root_keys) || get_group(x, root, "natsync", true, &top) < 0)
		return -1;
	if (check_keys(x, top, keys) || parse_global(x, top) || parse_log(x, top) < 0 ||
	    parse_timeouts(x, top) < 0 || parse_services(x, top) || parse_ifaces(x, top) < 0 ||
	    parse_redundancy(x, top) < 0 || parse_ipfix(x, top) < 0 ||
	    parse_metrics(x, top) < 0)
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
	return enum_name(attach_modes, mode);
}

const char *ns_nat_type_name(int type)
{
	return type == NS_NAT_NONE ? "none" : enum_name(nat_types, type);
}

const char *ns_fw_action_name(int action)
{
	return enum_name(fw_actions, action);
}
