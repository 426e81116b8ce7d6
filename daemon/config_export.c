// SPDX-License-Identifier: GPL-2.0
/*
 * config_export.c - what natsyncd reports outward (doc/config.md, doc/logging.md):
 * log = { }, ipfix = { } (NAT event records to collectors) and
 * metrics = { } (the Prometheus endpoint).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

static const struct name_val log_levels[] = {
	{ "error", NS_LOG_ERR }, { "warning", NS_LOG_WARN }, { "info", NS_LOG_INFO },
	{ "debug", NS_LOG_DEBUG }, { NULL, 0 },
};

int cfg_parse_log(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = { "level", "file", "syslog", "syslog-socket", NULL };
	struct ns_config *c = x->c;
	const config_setting_t *g;
	int r = cfg_get_group(x, top, "log", false, &g);

	if (r != 1)
		return r;
	if (cfg_check_keys(x, g, keys) ||
	    cfg_get_enum(x, g, "level", log_levels, &c->log_level) < 0 ||
	    cfg_get_path(x, g, "file", c->log_file, sizeof(c->log_file), true) < 0 ||
	    cfg_get_bool(x, g, "syslog", &c->log_syslog) < 0 ||
	    cfg_get_path(x, g, "syslog-socket", c->syslog_socket, sizeof(c->syslog_socket),
			 false) < 0)
		return -1;
	return 0;
}

/*
 * "A.B.C.D:PORT" or "[IPV6]:PORT", port 1-65535, into *ss (port in network
 * order): the one parser of the addresses natsyncd exports to or listens
 * on. Returns 0, or -1 with the reason in err (*ss is then untouched).
 */
static int parse_addr_port(const char *v, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2], *end;
	const char *colon = strrchr(v, ':');
	struct sockaddr_storage a = { 0 };
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
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
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) {
			snprintf(err, errlen, "'%s': '%s' is not an IPv6 address", v, host + 1);
			return -1;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else {
		snprintf(err, errlen, "'%s': '%s' is not an IPv4 address (IPv6: [ADDR]:PORT)",
			 v, host);
		return -1;
	}
	*ss = a;
	return 0;
}

/* An ipfix collector: a string element e, parse_addr_port(). */
static int parse_endpoint(struct pctx *x, const config_setting_t *e, struct sockaddr_storage *ss)
{
	const char *v = cfg_elem_str(x, e);
	char err[256];

	if (!v)
		return -1;
	if (parse_addr_port(v, ss, err, sizeof(err)))
		return cfg_fail(x, e, NULL, "%s", err);
	return 0;
}

/* ipfix { collectors = [ "addr:port", ... ]; template-refresh; observation-domain; message-size } */
int cfg_parse_ipfix(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = {
		"collectors", "template-refresh", "observation-domain", "message-size", NULL,
	};
	struct ns_ipfix_conf *ip = &x->c->ipfix;
	const config_setting_t *g, *s;
	int r = cfg_get_group(x, top, "ipfix", false, &g), n;

	if (r != 1)
		return r;
	if (cfg_check_keys(x, g, keys) ||
	    cfg_get_u32(x, g, "template-refresh", 1, 86400, &ip->template_refresh) < 0 ||
	    cfg_get_u32(x, g, "observation-domain", 0, UINT32_MAX, &ip->domain) < 0 ||
	    cfg_get_u32(x, g, "message-size", 512, 65000, &ip->message_size) < 0)
		return -1;
	s = config_setting_get_member(g, "collectors");
	if (!s)
		return cfg_fail(x, g, "collectors", "missing: the collectors to export to");
	n = cfg_scalar_list_len(x, s);
	if (n < 0)
		return -1;
	if (n < 1 || n > NS_IPFIX_MAX_COLLECTORS)
		return cfg_fail(x, s, NULL, "1 to %d collectors", NS_IPFIX_MAX_COLLECTORS);
	for (int i = 0; i < n; i++)
		if (parse_endpoint(x, cfg_scalar_elem(s, i), &ip->collectors[i]))
			return -1;
	ip->n_collectors = (uint32_t)n;
	return 0;
}

/*
 * ns_metrics_parse_listen - "A.B.C.D:PORT" or "[IPV6]:PORT" (port 1-65535)
 * into m. Returns 0, or -1 with the reason in err (m untouched).
 */
int ns_metrics_parse_listen(const char *v, struct ns_metrics_conf *m, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

	if (parse_addr_port(v, &ss, err, errlen))
		return -1;
	memset(m, 0, sizeof(*m));
	m->family = ss.ss_family;
	if (ss.ss_family == AF_INET6) {
		m->addr6 = s6->sin6_addr;
		m->port = ntohs(s6->sin6_port);
	} else {
		m->addr4 = s4->sin_addr;
		m->port = ntohs(s4->sin_port);
	}
	snprintf(m->listen, sizeof(m->listen), "%s", v);
	m->enabled = true;
	return 0;
}

int cfg_parse_metrics(struct pctx *x, const config_setting_t *top)
{
	static const char *const keys[] = { "listen", NULL };
	const config_setting_t *g;
	char err[160];
	const char *v;
	int r = cfg_get_group(x, top, "metrics", false, &g);

	if (r != 1)
		return r;
	if (cfg_check_keys(x, g, keys))
		return -1;
	r = cfg_get_str(x, g, "listen", false, &v);
	if (r != 1)
		return r;
	if (strlen(v) >= sizeof(x->c->metrics.listen))
		return cfg_fail(x, config_setting_get_member(g, "listen"), NULL,
				"longer than %zu characters", sizeof(x->c->metrics.listen) - 1);
	if (ns_metrics_parse_listen(v, &x->c->metrics, err, sizeof(err)))
		return cfg_fail(x, config_setting_get_member(g, "listen"), NULL, "%s", err);
	return 0;
}
