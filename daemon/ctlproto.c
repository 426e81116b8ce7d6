// SPDX-License-Identifier: GPL-2.0
/*
 * ctlproto.c - control protocol: request parser, session filter, JSON writer
 * and display names (see ctlproto.h). Pure code: no I/O except into the
 * FILE the JSON writer is given, no global state.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>

#include "ctlproto.h"
#include "events.h"
#include "util.h"

#define ARGS_SESSIONS                                                                    \
	(CTL_BIT(CTL_ARG_SRC) | CTL_BIT(CTL_ARG_DST) | CTL_BIT(CTL_ARG_NAT) |             \
	 CTL_BIT(CTL_ARG_PROTO) | CTL_BIT(CTL_ARG_SPORT) | CTL_BIT(CTL_ARG_DPORT) |      \
	 CTL_BIT(CTL_ARG_NPORT) | CTL_BIT(CTL_ARG_SVC) | CTL_BIT(CTL_ARG_STATE) |        \
	 CTL_BIT(CTL_ARG_LIMIT))

const struct ctl_command ctl_commands[] = {
	{ CTL_SHOW_SESSIONS, { "show", "sessions" }, ARGS_SESSIONS,
	  "[src=A[/N]] [dst=A[/N]] [nat=A[/N]] [proto=tcp|udp|icmp|N] [sport=P] [dport=P] "
	  "[nport=P] [svc=NAME] [state=STATE] [limit=N]",
	  "sessions: endpoints, NAT, state, timers, counters" },
	{ CTL_SHOW_POOLS, { "show", "pools" }, CTL_BIT(CTL_ARG_POOL), "[pool=NAME]",
	  "NAT pools: capacity, bindings in use/held, subscribers" },
	{ CTL_SHOW_COUNTERS, { "show", "counters" }, 0, "",
	  "fast-path counters (all CPUs) and daemon statistics" },
	{ CTL_SHOW_CONFIG, { "show", "config" }, 0, "",
	  "summary of the running configuration" },
	{ CTL_SHOW_STATUS, { "show", "status" }, 0, "",
	  "node, uptime, sessions, aging, attached interfaces" },
	{ CTL_SHOW_SYNC, { "show", "sync" }, 0, "", "session synchronisation channel state" },
	{ CTL_SHOW_REDUNDANCY, { "show", "redundancy" }, 0, "",
	  "redundancy role, peer and readiness" },
	{ CTL_SHOW_METRICS, { "show", "metrics" }, 0, "",
	  "every figure as Prometheus text (node_exporter's textfile collector)" },
	{ CTL_SHOW_SUBSCRIBER, { "show", "subscriber" }, CTL_BIT(CTL_ARG_SRC), "ADDR",
	  "one subscriber: its sessions, NAT ports, paired address" },
	{ CTL_CLEAR_SESSIONS, { "clear", "sessions" }, ARGS_SESSIONS & ~CTL_BIT(CTL_ARG_LIMIT),
	  "[src=A[/N]] [dst=A[/N]] [nat=A[/N]] [proto=tcp|udp|icmp|N] [sport=P] [dport=P] "
	  "[nport=P] [svc=NAME] [state=STATE]",
	  "drop the matching sessions here (a primary's backup drops them too)" },
	{ CTL_SWITCHOVER, { "switchover", NULL }, CTL_BIT(CTL_ARG_FORCE), "[force=1]",
	  "hand the primary role to the peer" },
	{ CTL_ROLE_PRIMARY, { "role", "primary" }, 0, "",
	  "make this box primary (role-control external, e.g. keepalived notify)" },
	{ CTL_ROLE_BACKUP, { "role", "backup" }, 0, "",
	  "make this box backup (role-control external, e.g. keepalived notify)" },
	{ CTL_RELOAD, { "reload", NULL }, 0, "",
	  "re-read the configuration file and apply it if valid" },
};
const size_t ctl_n_commands = NS_ARRAY_SIZE(ctl_commands);

/* Commands with one required argument that may also be written bare:
 * "show subscriber 100.64.0.10" = "show subscriber src=100.64.0.10". */
static const struct {
	enum ctl_cmd cmd;
	enum ctl_arg arg;
} bare_args[] = {
	{ CTL_SHOW_SUBSCRIBER, CTL_ARG_SRC },
};

/* The argument a bare word of cmd stands for (required), or CTL_ARG_MAX. */
static enum ctl_arg bare_arg(enum ctl_cmd cmd)
{
	for (size_t i = 0; i < NS_ARRAY_SIZE(bare_args); i++)
		if (bare_args[i].cmd == cmd)
			return bare_args[i].arg;
	return CTL_ARG_MAX;
}

static const char *const arg_names[CTL_ARG_MAX] = {
	[CTL_ARG_JSON] = "json",   [CTL_ARG_SRC] = "src",     [CTL_ARG_DST] = "dst",
	[CTL_ARG_NAT] = "nat",     [CTL_ARG_PROTO] = "proto", [CTL_ARG_SPORT] = "sport",
	[CTL_ARG_DPORT] = "dport", [CTL_ARG_NPORT] = "nport", [CTL_ARG_SVC] = "svc",
	[CTL_ARG_STATE] = "state", [CTL_ARG_LIMIT] = "limit", [CTL_ARG_POOL] = "pool",
	[CTL_ARG_FORCE] = "force",
};

static const char *const attach_mode_names[] = {
	[NS_ATTACH_NATIVE] = "native",
	[NS_ATTACH_GENERIC] = "generic",
	[NS_ATTACH_TC] = "tc",
	[NS_ATTACH_AUTO] = "auto",
};

const char *ctl_side_name(uint8_t side)
{
	switch (side) {
	case NS_SIDE_INSIDE: return "inside";
	case NS_SIDE_OUTSIDE: return "outside";
	default: return "unknown";
	}
}

const char *ctl_attach_mode_name(int mode)
{
	if (mode < 0 || (size_t)mode >= NS_ARRAY_SIZE(attach_mode_names))
		return "unknown";
	return attach_mode_names[mode];
}

const char *ctl_arg_name(enum ctl_arg a)
{
	return (unsigned int)a < CTL_ARG_MAX ? arg_names[a] : NULL;
}

const struct ctl_command *ctl_command_find(enum ctl_cmd cmd)
{
	for (size_t i = 0; i < ctl_n_commands; i++)
		if (ctl_commands[i].cmd == cmd)
			return &ctl_commands[i];
	return NULL;
}

const char *ctl_command_name(enum ctl_cmd cmd, char *buf, size_t len)
{
	const struct ctl_command *c = ctl_command_find(cmd);

	if (!c)
		snprintf(buf, len, "?");
	else if (c->words[1])
		snprintf(buf, len, "%s %s", c->words[0], c->words[1]);
	else
		snprintf(buf, len, "%s", c->words[0]);
	return buf;
}

/* ---- parser ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool has_prefix(const char *word, const char *tok)
{
	return strncmp(word, tok, strlen(tok)) == 0;
}

/*
 * Choose among candidate words by unambiguous prefix. words[i] may repeat
 * (several commands share "show"), repeats count once. An exact match wins
 * even when it is also a prefix of another word. Returns the chosen word,
 * or NULL with *ambiguous telling why.
 */
static const char *pick_word(const char *const *words, size_t n, const char *tok,
			     bool *ambiguous)
{
	const char *found = NULL;

	*ambiguous = false;
	for (size_t i = 0; i < n; i++) {
		if (!words[i] || !has_prefix(words[i], tok))
			continue;
		if (strcmp(words[i], tok) == 0)
			return words[i];
		if (found && strcmp(found, words[i]) != 0)
			*ambiguous = true;
		found = words[i];
	}
	return *ambiguous ? NULL : found;
}

/* The list of distinct candidate words after first ("" for top level). */
static size_t collect_words(const char *first, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < ctl_n_commands && n < max; i++) {
		const char *w = first ? ctl_commands[i].words[1] : ctl_commands[i].words[0];
		bool dup = false;

		if (first && strcmp(ctl_commands[i].words[0], first) != 0)
			continue;
		if (!w)
			continue;
		for (size_t k = 0; k < n; k++)
			dup |= strcmp(out[k], w) == 0;
		if (!dup)
			out[n++] = w;
	}
	return n;
}

/* "a, b, c" of the candidate words that start with tok into buf. */
static void list_words(const char *const *words, size_t n, const char *tok, char *buf,
		       size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		if (!has_prefix(words[i], tok))
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "", words[i]);
	}
}

/* Match the command words in tok[0..*used); sets req->cmd. */
static int parse_command(char **tok, size_t ntok, size_t *used, struct ctl_request *req,
			 char *err, size_t errlen)
{
	const char *words[CTL_CMD_MAX];
	const char *w0, *w1;
	char list[160];
	bool amb;
	size_t n;

	n = collect_words(NULL, words, NS_ARRAY_SIZE(words));
	w0 = pick_word(words, n, tok[0], &amb);
	if (!w0) {
		if (!amb)
			return fail(err, errlen, "unknown command '%s'", tok[0]);
		list_words(words, n, tok[0], list, sizeof(list));
		return fail(err, errlen, "ambiguous command '%s' (%s)", tok[0], list);
	}
	n = collect_words(w0, words, NS_ARRAY_SIZE(words));
	w1 = NULL;
	if (n) {
		if (ntok < 2 || strchr(tok[1], '=')) {
			list_words(words, n, "", list, sizeof(list));
			return fail(err, errlen, "incomplete command '%s' (expected %s)", w0,
				    list);
		}
		w1 = pick_word(words, n, tok[1], &amb);
		if (!w1 && !amb)
			return fail(err, errlen, "unknown command '%s %s'", w0, tok[1]);
		if (!w1) {
			list_words(words, n, tok[1], list, sizeof(list));
			return fail(err, errlen, "ambiguous command '%s %s' (%s)", w0, tok[1],
				    list);
		}
	}
	for (size_t i = 0; i < ctl_n_commands; i++) {
		const struct ctl_command *c = &ctl_commands[i];

		if (strcmp(c->words[0], w0) == 0 &&
		    ((!w1 && !c->words[1]) || (w1 && c->words[1] && !strcmp(c->words[1], w1)))) {
			req->cmd = c->cmd;
			*used = w1 ? 2 : 1;
			return 0;
		}
	}
	return fail(err, errlen, "unknown command '%s'", tok[0]);
}

/* Decimal without sign, at most max. */
static int parse_uint(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* "a.b.c.d" or "a.b.c.d/len"; host bits beyond len are cleared. */
static int parse_prefix(const char *key, const char *val, uint32_t *addr, uint32_t *mask,
			char *err, size_t errlen)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(val, '/');
	size_t iplen = slash ? (size_t)(slash - val) : strlen(val);
	uint32_t plen = 32;
	struct in_addr a;

	if (iplen >= sizeof(ip))
		return fail(err, errlen, "bad address '%s' for '%s'", val, key);
	memcpy(ip, val, iplen);
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return fail(err, errlen, "bad address '%s' for '%s'", val, key);
	if (slash && parse_uint(slash + 1, 32, &plen))
		return fail(err, errlen, "bad prefix length in '%s' for '%s'", val, key);
	*mask = plen ? htonl(~0u << (32 - plen)) : 0;
	*addr = a.s_addr & *mask;
	return 0;
}

static int parse_port(const char *key, const char *val, uint16_t *out, char *err,
		      size_t errlen)
{
	uint32_t v;

	if (parse_uint(val, 65535, &v))
		return fail(err, errlen, "bad port '%s' for '%s' (0-65535)", val, key);
	*out = (uint16_t)v;
	return 0;
}

static int parse_proto(const char *val, uint8_t *out, char *err, size_t errlen)
{
	uint32_t v;

	if (!strcmp(val, "tcp"))
		v = IPPROTO_TCP;
	else if (!strcmp(val, "udp"))
		v = IPPROTO_UDP;
	else if (!strcmp(val, "icmp"))
		v = IPPROTO_ICMP;
	else if (parse_uint(val, 255, &v) || v == 0)
		return fail(err, errlen, "bad protocol '%s' (tcp, udp, icmp or 1-255)", val);
	*out = (uint8_t)v;
	return 0;
}

static int parse_state(const char *val, uint8_t *out, char *err, size_t errlen)
{
	for (int i = NS_TCP_SYN_SENT; i < NS_TCP_STATE_MAX; i++) {
		if (!strcmp(val, ns_tcp_state_name((uint8_t)i))) {
			*out = (uint8_t)i;
			return 0;
		}
	}
	return fail(err, errlen,
		    "bad state '%s' (syn-sent, syn-recv, established, fin-wait, time-wait, "
		    "closed)",
		    val);
}

static int parse_bool(const char *key, const char *val, bool *out, char *err, size_t errlen)
{
	if (strcmp(val, "0") && strcmp(val, "1"))
		return fail(err, errlen, "bad value '%s' for '%s' (0 or 1)", val, key);
	*out = val[0] == '1';
	return 0;
}

/* Names as config.c accepts them are a subset of these; quotes never. */
static int parse_name(const char *key, const char *val, char *out, char *err, size_t errlen)
{
	if (strlen(val) >= NS_NAME_MAX)
		return fail(err, errlen, "value too long for '%s' (max %d bytes)", key,
			    NS_NAME_MAX - 1);
	for (const char *p = val; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return fail(err, errlen, "bad name '%s' for '%s'", val, key);
	}
	strcpy(out, val);
	return 0;
}

static int parse_value(struct ctl_request *req, enum ctl_arg a, const char *key,
		       const char *val, char *err, size_t errlen)
{
	uint32_t v;

	switch (a) {
	case CTL_ARG_JSON:
		return parse_bool(key, val, &req->json, err, errlen);
	case CTL_ARG_FORCE:
		return parse_bool(key, val, &req->force, err, errlen);
	case CTL_ARG_SRC:
		return parse_prefix(key, val, &req->src_addr, &req->src_mask, err, errlen);
	case CTL_ARG_DST:
		return parse_prefix(key, val, &req->dst_addr, &req->dst_mask, err, errlen);
	case CTL_ARG_NAT:
		return parse_prefix(key, val, &req->nat_addr, &req->nat_mask, err, errlen);
	case CTL_ARG_PROTO:
		return parse_proto(val, &req->proto, err, errlen);
	case CTL_ARG_SPORT:
		return parse_port(key, val, &req->sport, err, errlen);
	case CTL_ARG_DPORT:
		return parse_port(key, val, &req->dport, err, errlen);
	case CTL_ARG_NPORT:
		return parse_port(key, val, &req->nport, err, errlen);
	case CTL_ARG_SVC:
		return parse_name(key, val, req->svc, err, errlen);
	case CTL_ARG_POOL:
		return parse_name(key, val, req->pool, err, errlen);
	case CTL_ARG_STATE:
		return parse_state(val, &req->state, err, errlen);
	case CTL_ARG_LIMIT:
		if (parse_uint(val, CTL_LIMIT_MAX, &v) || v == 0)
			return fail(err, errlen, "bad limit '%s' (1-%u)", val, CTL_LIMIT_MAX);
		req->limit = v;
		return 0;
	case CTL_ARG_MAX:
		break;
	}
	return fail(err, errlen, "internal: unhandled argument '%s'", key);
}

static int parse_arg(struct ctl_request *req, char *tok, char *err, size_t errlen)
{
	const struct ctl_command *c = ctl_command_find(req->cmd);
	char *eq = strchr(tok, '=');
	char cname[32];
	int a;

	if (!eq && bare_arg(req->cmd) != CTL_ARG_MAX && !(req->have & CTL_BIT(bare_arg(req->cmd)))) {
		a = bare_arg(req->cmd);
		if (parse_value(req, a, arg_names[a], tok, err, errlen))
			return -1;
		req->have |= CTL_BIT(a);
		return 0;
	}
	if (!eq || eq == tok)
		return fail(err, errlen, "expected key=value, got '%s'", tok);
	*eq = '\0';
	for (a = 0; a < CTL_ARG_MAX; a++)
		if (!strcmp(tok, arg_names[a]))
			break;
	if (a == CTL_ARG_MAX || (a != CTL_ARG_JSON && !(c->args & CTL_BIT(a))))
		return fail(err, errlen, "unknown argument '%s' for '%s'", tok,
			    ctl_command_name(req->cmd, cname, sizeof(cname)));
	if (req->have & CTL_BIT(a))
		return fail(err, errlen, "duplicate argument '%s'", tok);
	if (!eq[1])
		return fail(err, errlen, "missing value for '%s'", tok);
	if (parse_value(req, a, tok, eq + 1, err, errlen))
		return -1;
	req->have |= CTL_BIT(a);
	return 0;
}

/* Refuse bytes that have no business in a request line. */
static int check_bytes(const char *line, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch == '\0')
			return fail(err, errlen, "embedded NUL byte at offset %zu", i);
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f)
			return fail(err, errlen, "invalid byte 0x%02x at offset %zu", ch, i);
	}
	return 0;
}

static void request_init(struct ctl_request *req)
{
	memset(req, 0, sizeof(*req));
	req->limit = CTL_LIMIT_DEFAULT;
	req->svc_idx = -1;
	req->pool_idx = -1;
}

int ctl_parse_request(const char *line, size_t len, struct ctl_request *req, char *err,
		      size_t errlen)
{
	char buf[CTL_MAX_LINE];
	char *tok[CTL_MAX_TOKENS], *save = NULL, *t;
	size_t ntok = 0, used = 0;
	enum ctl_arg a;
	char cname[32];

	request_init(req);
	if (!line)
		len = 0;
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	if (len >= CTL_MAX_LINE)
		return fail(err, errlen, "request too long (max %d bytes)", CTL_MAX_LINE - 1);
	if (check_bytes(line, len, err, errlen))
		return -1;
	if (len)
		memcpy(buf, line, len);
	buf[len] = '\0';
	for (t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (ntok == CTL_MAX_TOKENS)
			return fail(err, errlen, "too many arguments (max %d words)",
				    CTL_MAX_TOKENS);
		tok[ntok++] = t;
	}
	if (!ntok)
		return fail(err, errlen, "empty request");
	if (strchr(tok[0], '='))
		return fail(err, errlen, "expected a command before '%s'", tok[0]);
	if (parse_command(tok, ntok, &used, req, err, errlen))
		return -1;
	for (size_t i = used; i < ntok; i++)
		if (parse_arg(req, tok[i], err, errlen))
			return -1;
	a = bare_arg(req->cmd);
	if (a != CTL_ARG_MAX && !(req->have & CTL_BIT(a)))
		return fail(err, errlen, "missing argument '%s' for '%s' (usage: %s %s)",
			    arg_names[a], ctl_command_name(req->cmd, cname, sizeof(cname)), cname,
			    ctl_command_find(req->cmd)->usage);
	if ((req->have & CTL_BIT(CTL_ARG_STATE)) && (req->have & CTL_BIT(CTL_ARG_PROTO)) &&
	    req->proto != IPPROTO_TCP)
		return fail(err, errlen, "state= applies to proto=tcp only");
	return 0;
}

int ctl_request_resolve(struct ctl_request *req, const struct ns_config *conf, char *err,
			size_t errlen)
{
	req->svc_idx = -1;
	req->pool_idx = -1;
	if (req->have & CTL_BIT(CTL_ARG_SVC)) {
		for (uint32_t i = 0; i < conf->n_svcs && i < NS_MAX_SVC_SETS; i++)
			if (!strcmp(conf->svc_conf[i].name, req->svc))
				req->svc_idx = (int)i;
		if (req->svc_idx < 0)
			return fail(err, errlen, "unknown service set '%s'", req->svc);
	}
	if (req->have & CTL_BIT(CTL_ARG_POOL)) {
		for (uint32_t i = 0; i < conf->n_pools && i < NS_MAX_POOLS; i++)
			if (!strcmp(conf->pool_names[i], req->pool))
				req->pool_idx = (int)i;
		if (req->pool_idx < 0)
			return fail(err, errlen, "unknown pool '%s'", req->pool);
	}
	return 0;
}

static bool have(const struct ctl_request *req, enum ctl_arg a)
{
	return req->have & CTL_BIT(a);
}

bool ctl_session_matches(const struct ctl_request *req, const struct ns_session *s)
{
	/* in_key is the subscriber's view (pre-NAT); out_key.daddr/dport is the
	 * translated endpoint the outside sees. */
	if (have(req, CTL_ARG_SRC) && (s->in_key.saddr & req->src_mask) != req->src_addr)
		return false;
	if (have(req, CTL_ARG_DST) && (s->in_key.daddr & req->dst_mask) != req->dst_addr)
		return false;
	if (have(req, CTL_ARG_NAT) && (s->out_key.daddr & req->nat_mask) != req->nat_addr)
		return false;
	if (have(req, CTL_ARG_PROTO) && s->in_key.proto != req->proto)
		return false;
	if (have(req, CTL_ARG_SPORT) && ntohs(s->in_key.sport) != req->sport)
		return false;
	if (have(req, CTL_ARG_DPORT) && ntohs(s->in_key.dport) != req->dport)
		return false;
	if (have(req, CTL_ARG_NPORT) && ntohs(s->out_key.dport) != req->nport)
		return false;
	if (have(req, CTL_ARG_SVC) && (req->svc_idx < 0 || s->svc_set != req->svc_idx))
		return false;
	if (have(req, CTL_ARG_STATE) &&
	    (s->in_key.proto != IPPROTO_TCP || s->tcp_state != req->state))
		return false;
	return true;
}

/* ---- JSON writer ------------------------------------------------------- */

void ctl_json_init(struct ctl_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* Length of a valid UTF-8 sequence at p (RFC 3629), 0 if invalid. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* Second-byte limits exclude overlong forms, surrogates, > U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

void ctl_json_escape(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	while (*p) {
		size_t n;

		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20) {
				fprintf(f, "\\u%04x", *p);
			} else if (*p < 0x80) {
				fputc(*p, f);
			} else if ((n = utf8_len(p))) {
				fwrite(p, 1, n, f);
				p += n;
				continue;
			} else {
				fputs("\\ufffd", f);
			}
		}
		p++;
	}
	fputc('"', f);
}

/* Comma and key bookkeeping before any value. */
static void pre_value(struct ctl_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->is_obj[j->depth])
		j->error = true; /* a value in an object needs a key first */
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
}

static void start(struct ctl_json *j, bool obj)
{
	pre_value(j);
	if (j->depth == CTL_JSON_MAX_DEPTH) {
		j->error = true;
		return;
	}
	fputc(obj ? '{' : '[', j->f);
	j->depth++;
	j->need_comma[j->depth] = false;
	j->is_obj[j->depth] = obj;
}

static void end(struct ctl_json *j, bool obj)
{
	if (!j->depth || j->is_obj[j->depth] != obj || j->after_key) {
		j->error = true;
		return;
	}
	fputc(obj ? '}' : ']', j->f);
	j->depth--;
}

void ctl_json_start_object(struct ctl_json *j)
{
	start(j, true);
}

void ctl_json_end_object(struct ctl_json *j)
{
	end(j, true);
}

void ctl_json_start_array(struct ctl_json *j)
{
	start(j, false);
}

void ctl_json_end_array(struct ctl_json *j)
{
	end(j, false);
}

void ctl_json_key(struct ctl_json *j, const char *key)
{
	if (!j->depth || !j->is_obj[j->depth] || j->after_key) {
		j->error = true;
		return;
	}
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
	ctl_json_escape(j->f, key);
	fputc(':', j->f);
	j->after_key = true;
}

void ctl_json_string(struct ctl_json *j, const char *s)
{
	pre_value(j);
	ctl_json_escape(j->f, s);
}

void ctl_json_uint(struct ctl_json *j, uint64_t v)
{
	pre_value(j);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void ctl_json_int(struct ctl_json *j, int64_t v)
{
	pre_value(j);
	fprintf(j->f, "%lld", (long long)v);
}

void ctl_json_bool(struct ctl_json *j, bool v)
{
	pre_value(j);
	fputs(v ? "true" : "false", j->f);
}

void ctl_json_null(struct ctl_json *j)
{
	pre_value(j);
	fputs("null", j->f);
}

void ctl_json_kv_string(struct ctl_json *j, const char *key, const char *s)
{
	ctl_json_key(j, key);
	ctl_json_string(j, s);
}

void ctl_json_kv_uint(struct ctl_json *j, const char *key, uint64_t v)
{
	ctl_json_key(j, key);
	ctl_json_uint(j, v);
}

void ctl_json_kv_int(struct ctl_json *j, const char *key, int64_t v)
{
	ctl_json_key(j, key);
	ctl_json_int(j, v);
}

void ctl_json_kv_bool(struct ctl_json *j, const char *key, bool v)
{
	ctl_json_key(j, key);
	ctl_json_bool(j, v);
}
