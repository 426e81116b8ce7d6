/* SPDX-License-Identifier: GPL-2.0 */
/*
 * config_int.h - what the files of the config loader share, private to them
 * (config.h is the public model): the parse context, the error reporting,
 * the libconfig getters and the value syntax (config_util.c), and each
 * section's parser.
 *
 *   config.c         entry points, global scalars, rules and terms, service
 *                    sets, interfaces, fingerprint
 *   config_util.c    errors ("FILE:LINE: key.path: reason"), getters, values
 *   config_pool.c    services.nat.pools, port-block allocation, pool use
 *   config_nat64.c   stateful-nat64 terms
 *   config_red.c     redundancy-options (switchover, events, policies, paths)
 *   config_export.c  log, ipfix, metrics
 *
 * Every function here that takes a struct pctx records the first error in it
 * and returns -1 (getters: 1 present, 0 absent, -1 error), so that callers
 * can "return cfg_fail(...)".
 */
#ifndef NATSYNC_CONFIG_INT_H
#define NATSYNC_CONFIG_INT_H

#include <libconfig.h>

#include "config.h"

#define LIST_MAX 256          /* entries in one match list */

/* How a pool is used by the NAT terms (bit mask). */
#define USE_SRC (1u << 0)
#define USE_DST (1u << 1)

/* How a pool's "port" is configured. */
enum pool_port { PORT_NONE = 0, PORT_AUTO, PORT_RANGE, PORT_SINGLE };

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

/* ---- errors and getters (config_util.c) ---------------------------------- */

/*
 * Record "FILE:LINE: PATH[.child]: reason" for setting s (child: a key of s
 * that is missing, or NULL); returns -1. Only the first error is kept.
 */
int __attribute__((format(printf, 4, 5)))
cfg_fail(struct pctx *x, const config_setting_t *s, const char *child, const char *fmt, ...);
/* "a group { }", "an integer", ...: what s is, for messages. */
const char *cfg_type_name(const config_setting_t *s);
/* Every member of group g is one of keys (NULL terminated); else the error
 * suggests the nearest key. */
int cfg_check_keys(struct pctx *x, const config_setting_t *g, const char *const *keys);

/* Member key of g: 1 and *out when present, 0 when absent (an error if
 * required), -1 on error. */
int cfg_get_group(struct pctx *x, const config_setting_t *g, const char *key, bool required,
		  const config_setting_t **out);
/* A list ( ) of groups. */
int cfg_get_list(struct pctx *x, const config_setting_t *g, const char *key,
		 const config_setting_t **out);
/* The same, of at most max groups: "more than MAX WHAT" beyond. */
int cfg_get_named_list(struct pctx *x, const config_setting_t *g, const char *key, int max,
		       const char *what, const config_setting_t **l);
/* *out is "" when absent. */
int cfg_get_str(struct pctx *x, const config_setting_t *g, const char *key, bool required,
		const char **out);
/* A string into buf of max bytes (with the NUL). */
int cfg_get_strbuf(struct pctx *x, const config_setting_t *g, const char *key, char *buf,
		   size_t max);
int cfg_get_bool(struct pctx *x, const config_setting_t *g, const char *key, bool *out);
/* An integer within [lo, hi]. */
int cfg_get_u32(struct pctx *x, const config_setting_t *g, const char *key, long long lo,
		long long hi, uint32_t *out);
/* A string that is one of tab's names, into its value. */
int cfg_get_enum(struct pctx *x, const config_setting_t *g, const char *key,
		 const struct name_val *tab, int *out);
/* An absolute path into buf of max bytes ("" accepted if may_be_empty). */
int cfg_get_path(struct pctx *x, const config_setting_t *g, const char *key, char *buf,
		 size_t max, bool may_be_empty);

/* The setting s itself (an element or member): 0 or -1. */
int cfg_int_value(struct pctx *x, const config_setting_t *s, long long lo, long long hi,
		  long long *out);
int cfg_str_enum(struct pctx *x, const config_setting_t *s, const struct name_val *tab,
		 int *out);
/* Name of an enum value; "" if unknown. */
const char *cfg_enum_name(const struct name_val *tab, int val);

/* Lists of scalars, where a single value reads as a one-element list:
 * the element count (1..LIST_MAX) or -1; element i; a string element. */
int cfg_scalar_list_len(struct pctx *x, const config_setting_t *s);
/* The same, of at most max elements: "more than MAX WHAT" beyond. */
int cfg_scalar_list_max(struct pctx *x, const config_setting_t *s, int max, const char *what);
const config_setting_t *cfg_scalar_elem(const config_setting_t *s, int i);
const char *cfg_elem_str(struct pctx *x, const config_setting_t *e);
/* String element i of s, the element into *e: the two above in one. */
const char *cfg_str_at(struct pctx *x, const config_setting_t *s, int i,
		       const config_setting_t **e);

/* ---- value syntax (config_util.c) ---------------------------------------- */

/* A name (letters, digits, - _ .) shorter than NS_NAME_MAX. */
int cfg_check_name(struct pctx *x, const config_setting_t *s, const char *v);
/* Element e (index i) of a list of named groups: keys known, name valid and
 * not one of the i before (their names at first, stride bytes apart); dup
 * formats the error for a repeated name. */
int cfg_named_elem(struct pctx *x, const config_setting_t *e, const char *const *keys,
		   const char *first, size_t stride, int i, const char *dup, const char **name);
/* A Linux interface name. */
int cfg_check_ifname(struct pctx *x, const config_setting_t *s, const char *v);
/* A strict dotted quad into network order; false if not one. */
bool cfg_parse_ip(const char *s, uint32_t *be);
/* "ADDR/len" or "ADDR": the address into buf (size bytes) and the length, at
 * most max, into *len (max without "/len"). False when v is not of that
 * form; whether ADDR is an address is the caller's to say. */
bool cfg_split_prefix(const char *v, char *buf, size_t size, unsigned long max,
		      unsigned long *len);
/* "a.b.c.d/len" or "a.b.c.d" into network-order address and mask; host bits
 * set are an error. */
int cfg_parse_prefix(struct pctx *x, const config_setting_t *e, const char *v,
		     uint32_t *addr, uint32_t *mask);
/* "a:b::c/len" or "a:b::c" into addr[16] and *len; host bits set are an error. */
int cfg_parse_prefix6(struct pctx *x, const config_setting_t *e, const char *v, uint8_t addr[16],
		      uint8_t *len);
/* "80", "1000-2000" or an integer: an inclusive port range, host order. */
int cfg_parse_port_range(struct pctx *x, const config_setting_t *e, uint16_t *lo, uint16_t *hi);
/* A protocol name or number 1..255. */
int cfg_parse_proto(struct pctx *x, const config_setting_t *e, uint8_t *out);
/* Host-order range [first, last] touches 0/8, 127/8 or 224/3. */
bool cfg_bogus_range(uint32_t first, uint32_t last);

/* ---- sections ------------------------------------------------------------ */

/* services.nat.pools (config_pool.c). */
int cfg_parse_pools(struct pctx *x, const config_setting_t *nat);
/* Pool named by then.key: its id, or -1. */
int cfg_pool_ref(struct pctx *x, const config_setting_t *then, const char *key);
/* Pool id, referenced at ref, as the source pool of a term of NAT type, or as
 * a destination pool: does it suit? Records the use. */
int cfg_check_src_pool(struct pctx *x, const config_setting_t *ref, int type, int id);
int cfg_check_dst_pool(struct pctx *x, const config_setting_t *ref, int id);
/* Source pools must not share addresses (after every service set). */
int cfg_check_pool_overlap(struct pctx *x);

/* mapping-type / filtering-type of a napt-44 or stateful-nat64 "then",
 * ORed into *flags as NS_NAT_F_EIM / NS_NAT_F_EIF (config.c). */
int cfg_nat_mapping(struct pctx *x, const config_setting_t *then, uint8_t *flags);

/* Stateful-nat64 terms (config_nat64.c): is NAT term t one? Validate it
 * (out false) or append its compiled terms for service set x->cur_svc. */
bool cfg_term_is_nat64(const config_setting_t *t);
int cfg_compile_nat64_term(struct pctx *x, const config_setting_t *t, uint32_t ridx,
			   uint32_t tidx, uint8_t dir_mask, bool out);

/* redundancy-options (config_red.c). */
int cfg_parse_redundancy(struct pctx *x, const config_setting_t *top);

/* log, ipfix, metrics (config_export.c). */
int cfg_parse_log(struct pctx *x, const config_setting_t *top);
int cfg_parse_ipfix(struct pctx *x, const config_setting_t *top);
int cfg_parse_metrics(struct pctx *x, const config_setting_t *top);

#endif
