// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_ctl.c - libFuzzer target for the control-socket request parser
 * (daemon/ctlproto.c: ctl_parse_request).
 *
 * The input is one request as control.c receives it from a client: raw
 * bytes, not NUL-terminated, so ASan catches any read beyond len. Checked
 * besides memory safety:
 *  - the error is always one NUL-terminated, non-empty line;
 *  - a request that parses names a command of the table and only keys that
 *    command allows; its filters are self-consistent (host bits cleared);
 *  - parsing is deterministic, and the request still parses once the
 *    client appends " json=1" (what natsyncctl -j does) when it fits;
 *  - name resolution, the session filter and the JSON escaping of the
 *    error text run on what the parser produced.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/ctlproto.h"

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz_ctl: %s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                                        \
			abort();                                                         \
		}                                                                        \
	} while (0)

/* A config with one service set and one pool, for ctl_request_resolve(). */
static struct ns_config conf;

/**
 * LLVMFuzzerInitialize() - libFuzzer hook, once per process: the config.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ns_config_defaults(&conf);
	snprintf(conf.svc_conf[0].name, sizeof(conf.svc_conf[0].name), "ss1");
	conf.n_svcs = 1;
	snprintf(conf.pool_names[0], sizeof(conf.pool_names[0]), "p1");
	conf.n_pools = 1;
	return 0;
}

static void check_error(const char *err, size_t errlen)
{
	size_t n = strnlen(err, errlen);

	CHECK(n > 0 && n < errlen);
	CHECK(!strchr(err, '\n'));
}

/* Keys the command does not take must never be accepted. */
static void check_request(const struct ctl_request *req)
{
	const struct ctl_command *c = ctl_command_find(req->cmd);
	char name[64];

	CHECK(c != NULL);
	CHECK((req->have & ~(c->args | CTL_BIT(CTL_ARG_JSON))) == 0);
	CHECK(req->json == !!(req->json));
	CHECK(req->limit <= CTL_LIMIT_MAX);
	CHECK((req->src_addr & ~req->src_mask) == 0);
	CHECK((req->dst_addr & ~req->dst_mask) == 0);
	CHECK((req->nat_addr & ~req->nat_mask) == 0);
	CHECK(strnlen(req->svc, sizeof(req->svc)) < sizeof(req->svc));
	CHECK(strnlen(req->pool, sizeof(req->pool)) < sizeof(req->pool));
	CHECK(strcmp(ctl_command_name(req->cmd, name, sizeof(name)), "?") != 0);
}

/* Resolve names and run the session filter on a session built from the
 * request's own values: with every filter given exactly (/32), it matches. */
static void check_filter(struct ctl_request *req)
{
	char err[CTL_ERR_MAX];
	struct ns_session s;

	memset(&s, 0, sizeof(s));
	if (ctl_request_resolve(req, &conf, err, sizeof(err))) {
		check_error(err, sizeof(err));
		return;
	}
	s.in_key.saddr = req->src_addr;
	s.in_key.daddr = req->dst_addr;
	s.out_key.daddr = req->nat_addr;
	s.in_key.proto = req->have & CTL_BIT(CTL_ARG_STATE) ? IPPROTO_TCP : req->proto;
	s.in_key.sport = htons(req->sport);
	s.in_key.dport = htons(req->dport);
	s.out_key.dport = htons(req->nport);
	s.svc_set = req->svc_idx < 0 ? 0 : (uint16_t)req->svc_idx;
	s.tcp_state = req->state;
	if ((req->have & CTL_BIT(CTL_ARG_PROTO)) && (req->have & CTL_BIT(CTL_ARG_STATE)))
		CHECK(req->proto == IPPROTO_TCP);
	CHECK(ctl_session_matches(req, &s));
}

/* The error text goes to clients as JSON too: escaping must not fail. */
static void check_json(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	ctl_json_escape(f, s);
	fclose(f);
	CHECK(len >= 2 && buf[0] == '"' && buf[len - 1] == '"');
	for (size_t i = 0; i < len; i++)
		CHECK((unsigned char)buf[i] >= 0x20);
	free(buf);
}

/**
 * LLVMFuzzerTestOneInput() - libFuzzer entry point: data is a request line.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CTL_ERR_MAX], err2[CTL_ERR_MAX], line[CTL_MAX_LINE + 16];
	struct ctl_request req, req2;
	int r;

	r = ctl_parse_request((const char *)data, size, &req, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	CHECK(ctl_parse_request((const char *)data, size, &req2, err2, sizeof(err2)) == r);
	if (r) {
		check_error(err, sizeof(err));
		CHECK(strcmp(err, err2) == 0);
		check_json(err);
		/* A tiny error buffer truncates, never overflows. */
		CHECK(ctl_parse_request((const char *)data, size, &req2, err2, 8) == -1);
		CHECK(strnlen(err2, 8) < 8);
		return 0;
	}
	CHECK(memcmp(&req, &req2, sizeof(req)) == 0);
	check_request(&req);
	check_filter(&req);
	/* natsyncctl -j appends " json=1" unless json= is there already. */
	if (!(req.have & CTL_BIT(CTL_ARG_JSON)) && size + 8 < CTL_MAX_LINE - 1 &&
	    !memchr(data, '\n', size) && !memchr(data, '\r', size)) {
		memcpy(line, data, size);
		memcpy(line + size, " json=1", 7);
		r = ctl_parse_request(line, size + 7, &req2, err2, sizeof(err2));
		/* ... which only a request of CTL_MAX_TOKENS words refuses. */
		CHECK(r == 0 || strstr(err2, "too many arguments"));
		CHECK(r || (req2.json && req2.cmd == req.cmd));
	}
	return 0;
}
