// SPDX-License-Identifier: GPL-2.0
/*
 * test_ctlproto.c - the control protocol: request grammar (every command and
 * filter, every error text), the session filter, the JSON writer, and the
 * control server over a real unix socket (framing, size cap, timeout,
 * client limit, stale socket). Map-backed commands are exercised against
 * real BPF hash maps when the test runs with CAP_BPF, skipped otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "daemon/aging.h"
#include "daemon/clear.h"
#include "daemon/control.h"
#include "daemon/ctlproto.h"
#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "daemon/util.h"

static struct ctl_request req;
static char err[CTL_ERR_MAX];

static int parse(const char *line)
{
	err[0] = '\0';
	return ctl_parse_request(line, strlen(line), &req, err, sizeof(err));
}

/* ---- grammar: every command ------------------------------------------------ */

Test(ctlproto, every_command_parses)
{
	static const struct {
		const char *line;
		enum ctl_cmd cmd;
	} cases[] = {
		{ "show sessions", CTL_SHOW_SESSIONS },   { "show pools", CTL_SHOW_POOLS },
		{ "show counters", CTL_SHOW_COUNTERS },   { "show config", CTL_SHOW_CONFIG },
		{ "show status", CTL_SHOW_STATUS },       { "show sync", CTL_SHOW_SYNC },
		{ "show redundancy", CTL_SHOW_REDUNDANCY }, { "switchover", CTL_SWITCHOVER },
		{ "reload", CTL_RELOAD },
		/* prefixes, blanks, line endings */
		{ "sh sess", CTL_SHOW_SESSIONS },         { "sh p", CTL_SHOW_POOLS },
		{ "show cou", CTL_SHOW_COUNTERS },        { "show conf", CTL_SHOW_CONFIG },
		{ "show st", CTL_SHOW_STATUS },           { "show sy", CTL_SHOW_SYNC },
		{ "sw", CTL_SWITCHOVER },                 { "rel", CTL_RELOAD },
		{ "  show\t status  ", CTL_SHOW_STATUS }, { "show status\n", CTL_SHOW_STATUS },
		{ "show status\r\n", CTL_SHOW_STATUS },
		{ "show metrics", CTL_SHOW_METRICS },     { "show m", CTL_SHOW_METRICS },
		{ "show subscriber 100.64.0.10", CTL_SHOW_SUBSCRIBER },
		{ "show su src=100.64.0.10", CTL_SHOW_SUBSCRIBER },
		{ "clear sessions", CTL_CLEAR_SESSIONS }, { "cl s proto=udp", CTL_CLEAR_SESSIONS },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(cases[i].line), 0, "'%s': %s", cases[i].line, err);
		cr_assert_eq(req.cmd, cases[i].cmd, "'%s'", cases[i].line);
		cr_assert_not(req.json);
		cr_assert_eq(req.limit, CTL_LIMIT_DEFAULT);
	}
}

Test(ctlproto, json_on_every_command)
{
	char line[64], name[32];

	for (size_t i = 0; i < ctl_n_commands; i++) {
		/* show subscriber needs its address */
		bool addr = ctl_commands[i].cmd == CTL_SHOW_SUBSCRIBER;

		snprintf(line, sizeof(line), "%s%s json=1",
			 ctl_command_name(ctl_commands[i].cmd, name, sizeof(name)),
			 addr ? " 100.64.0.10" : "");
		cr_assert_eq(parse(line), 0, "'%s': %s", line, err);
		cr_assert_eq(req.cmd, ctl_commands[i].cmd);
		cr_assert(req.json);
		cr_assert_eq(req.have, CTL_BIT(CTL_ARG_JSON) | (addr ? CTL_BIT(CTL_ARG_SRC) : 0));
		if (addr)
			cr_assert_eq(req.src_addr, htonl(0x6440000a));
		snprintf(line, sizeof(line), "%s%s json=0", name, addr ? " 100.64.0.10" : "");
		cr_assert_eq(parse(line), 0, "'%s': %s", line, err);
		cr_assert_not(req.json);
	}
}

Test(ctlproto, session_filters)
{
	cr_assert_eq(parse("show sessions json=1 src=100.64.0.10 dst=198.51.100.0/24 "
			   "nat=203.0.113.7 proto=tcp sport=40000 dport=80 nport=1024 "
			   "svc=ss-2.a state=established limit=100"),
		     0, "%s", err);
	cr_assert_eq(req.cmd, CTL_SHOW_SESSIONS);
	cr_assert(req.json);
	cr_assert_eq(req.src_addr, inet_addr("100.64.0.10"));
	cr_assert_eq(req.src_mask, 0xffffffffu);
	cr_assert_eq(req.dst_addr, inet_addr("198.51.100.0"));
	cr_assert_eq(req.dst_mask, inet_addr("255.255.255.0"));
	cr_assert_eq(req.nat_addr, inet_addr("203.0.113.7"));
	cr_assert_eq(req.proto, IPPROTO_TCP);
	cr_assert_eq(req.sport, 40000);
	cr_assert_eq(req.dport, 80);
	cr_assert_eq(req.nport, 1024);
	cr_assert_str_eq(req.svc, "ss-2.a");
	cr_assert_eq(req.state, NS_TCP_ESTABLISHED);
	cr_assert_eq(req.limit, 100);
	cr_assert_eq(req.have, (1u << CTL_ARG_MAX) - 1 -
			       CTL_BIT(CTL_ARG_POOL) - CTL_BIT(CTL_ARG_FORCE));
}

Test(ctlproto, values_at_their_bounds)
{
	cr_assert_eq(parse("show sessions src=100.64.0.10/10"), 0, "%s", err);
	cr_assert_eq(req.src_addr, inet_addr("100.64.0.0"), "host bits are cleared");
	cr_assert_eq(req.src_mask, inet_addr("255.192.0.0"));
	cr_assert_eq(parse("show sessions dst=1.2.3.4/0"), 0, "%s", err);
	cr_assert_eq(req.dst_addr, 0);
	cr_assert_eq(req.dst_mask, 0);
	cr_assert_eq(parse("show sessions sport=0 dport=65535"), 0, "%s", err);
	cr_assert_eq(req.dport, 65535);
	cr_assert_eq(parse("show sessions proto=udp"), 0);
	cr_assert_eq(req.proto, IPPROTO_UDP);
	cr_assert_eq(parse("show sessions proto=icmp"), 0);
	cr_assert_eq(req.proto, IPPROTO_ICMP);
	cr_assert_eq(parse("show sessions proto=47"), 0);
	cr_assert_eq(req.proto, 47);
	cr_assert_eq(parse("show sessions limit=100000"), 0);
	cr_assert_eq(req.limit, CTL_LIMIT_MAX);
	cr_assert_eq(parse("show pools pool=pool-a"), 0);
	cr_assert_str_eq(req.pool, "pool-a");
	cr_assert_eq(parse("switchover force=1"), 0);
	cr_assert(req.force);
	cr_assert_eq(parse("show sessions state=syn-sent proto=tcp"), 0, "%s", err);
	cr_assert_eq(req.state, NS_TCP_SYN_SENT);
	cr_assert_eq(parse("show sessions state=closed"), 0);
	cr_assert_eq(req.state, NS_TCP_CLOSED);
}

/* ---- grammar: every error --------------------------------------------------- */

Test(ctlproto, errors_are_exact)
{
	static const struct {
		const char *line;
		const char *err;
	} cases[] = {
		{ "", "empty request" },
		{ " \t \n", "empty request" },
		{ "frobnicate", "unknown command 'frobnicate'" },
		{ "show foo", "unknown command 'show foo'" },
		{ "shows sessions", "unknown command 'shows'" },
		{ "s", "ambiguous command 's' (show, switchover)" },
		{ "show s", "ambiguous command 'show s' (sessions, status, sync, subscriber)" },
		{ "show subscriber", "missing argument 'src' for 'show subscriber' (usage: show "
				     "subscriber ADDR)" },
		{ "show subscriber 100.64.0.1 100.64.0.2", "expected key=value, got '100.64.0.2'" },
		{ "show subscriber 100.64.0.1 src=100.64.0.2", "duplicate argument 'src'" },
		{ "show subscriber nothost", "bad address 'nothost' for 'src'" },
		{ "clear sessions limit=5", "unknown argument 'limit' for 'clear sessions'" },
		{ "clear", "incomplete command 'clear' (expected sessions)" },
		{ "show co", "ambiguous command 'show co' (counters, config)" },
		{ "show", "incomplete command 'show' (expected sessions, pools, counters, config, "
			  "status, sync, redundancy, metrics, subscriber)" },
		{ "show json=1", "incomplete command 'show' (expected sessions, pools, counters, "
				 "config, status, sync, redundancy, metrics, subscriber)" },
		{ "json=1 show status", "expected a command before 'json=1'" },
		{ "reload now", "expected key=value, got 'now'" },
		{ "show status =1", "expected key=value, got '=1'" },
		{ "show status src=1.2.3.4", "unknown argument 'src' for 'show status'" },
		{ "show pools frob=1", "unknown argument 'frob' for 'show pools'" },
		{ "show sessions pool=x", "unknown argument 'pool' for 'show sessions'" },
		{ "show sessions src=", "missing value for 'src'" },
		{ "show sessions json=", "missing value for 'json'" },
		{ "show sessions src=1.2.3.4 src=1.2.3.5", "duplicate argument 'src'" },
		{ "show sessions src=1.2.3", "bad address '1.2.3' for 'src'" },
		{ "show sessions dst=300.1.1.1", "bad address '300.1.1.1' for 'dst'" },
		{ "show sessions nat=junk", "bad address 'junk' for 'nat'" },
		{ "show sessions src=1.2.3.4/33", "bad prefix length in '1.2.3.4/33' for 'src'" },
		{ "show sessions src=1.2.3.4/", "bad prefix length in '1.2.3.4/' for 'src'" },
		{ "show sessions src=1.2.3.4/-1", "bad prefix length in '1.2.3.4/-1' for 'src'" },
		{ "show sessions src=1.2.3.4.5.6.7.8.9/8",
		  "bad address '1.2.3.4.5.6.7.8.9/8' for 'src'" },
		{ "show sessions sport=65536", "bad port '65536' for 'sport' (0-65535)" },
		{ "show sessions dport=-1", "bad port '-1' for 'dport' (0-65535)" },
		{ "show sessions dport=0x50", "bad port '0x50' for 'dport' (0-65535)" },
		{ "show sessions nport=99999999999999999999",
		  "bad port '99999999999999999999' for 'nport' (0-65535)" },
		{ "show sessions proto=sctp", "bad protocol 'sctp' (tcp, udp, icmp or 1-255)" },
		{ "show sessions proto=0", "bad protocol '0' (tcp, udp, icmp or 1-255)" },
		{ "show sessions proto=256", "bad protocol '256' (tcp, udp, icmp or 1-255)" },
		{ "show sessions state=open", "bad state 'open' (syn-sent, syn-recv, established, "
					      "fin-wait, time-wait, closed)" },
		{ "show sessions state=-", "bad state '-' (syn-sent, syn-recv, established, "
					   "fin-wait, time-wait, closed)" },
		{ "show sessions proto=udp state=established", "state= applies to proto=tcp only" },
		{ "show sessions limit=0", "bad limit '0' (1-100000)" },
		{ "show sessions limit=100001", "bad limit '100001' (1-100000)" },
		{ "show status json=yes", "bad value 'yes' for 'json' (0 or 1)" },
		{ "switchover force=2", "bad value '2' for 'force' (0 or 1)" },
		{ "show sessions svc=a\"b", "bad name 'a\"b' for 'svc'" },
		{ "show sessions svc=a/b", "bad name 'a/b' for 'svc'" },
		{ "show status\x01", "invalid byte 0x01 at offset 11" },
		{ "show status\n\n", "invalid byte 0x0a at offset 11" },
		{ "show\rstatus", "invalid byte 0x0d at offset 4" },
		{ "show st\x7f", "invalid byte 0x7f at offset 7" },
		{ "show st\xc3\xa9", "invalid byte 0xc3 at offset 7" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(cases[i].line), -1, "'%s' was accepted", cases[i].line);
		cr_assert_str_eq(err, cases[i].err, "'%s'", cases[i].line);
	}
}

Test(ctlproto, long_names_and_lines)
{
	char line[CTL_MAX_LINE + 64];
	char name[NS_NAME_MAX + 1];

	memset(name, 'a', NS_NAME_MAX - 1);
	name[NS_NAME_MAX - 1] = '\0';
	snprintf(line, sizeof(line), "show sessions svc=%s", name);
	cr_assert_eq(parse(line), 0, "a 63-byte name fits: %s", err);
	strcat(name, "a");
	snprintf(line, sizeof(line), "show sessions svc=%s", name);
	cr_assert_eq(parse(line), -1);
	cr_assert_str_eq(err, "value too long for 'svc' (max 63 bytes)");

	/* 1023 bytes + newline is the largest request. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "show status", 11);
	line[CTL_MAX_LINE - 1] = '\n';
	cr_assert_eq(ctl_parse_request(line, CTL_MAX_LINE, &req, err, sizeof(err)), 0, "%s",
		     err);
	line[CTL_MAX_LINE - 1] = ' ';
	line[CTL_MAX_LINE] = '\n';
	cr_assert_eq(ctl_parse_request(line, CTL_MAX_LINE + 1, &req, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "request too long (max 1023 bytes)");
	cr_assert_eq(ctl_parse_request(line, CTL_MAX_LINE, &req, err, sizeof(err)), -1,
		     "1024 bytes without newline is too long");
	cr_assert_str_eq(err, "request too long (max 1023 bytes)");
}

Test(ctlproto, too_many_words)
{
	char line[256] = "show sessions";

	for (int i = 0; i < CTL_MAX_TOKENS - 2; i++)
		strcat(line, " json=1");
	cr_assert_eq(parse(line), -1);
	cr_assert_str_eq(err, "duplicate argument 'json'", "24 words are allowed");
	strcat(line, " json=1");
	cr_assert_eq(parse(line), -1);
	cr_assert_str_eq(err, "too many arguments (max 24 words)");
}

Test(ctlproto, embedded_nul_and_no_terminator)
{
	static const char line[] = "show\0status";
	char exact[11] = { 's', 'h', 'o', 'w', ' ', 'p', 'o', 'o', 'l', 's', 'X' };

	cr_assert_eq(ctl_parse_request(line, sizeof(line) - 1, &req, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "embedded NUL byte at offset 4");
	/* The parser reads len bytes only: the 'X' after them is never seen. */
	cr_assert_eq(ctl_parse_request(exact, 10, &req, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(req.cmd, CTL_SHOW_POOLS);
	cr_assert_eq(ctl_parse_request(NULL, 0, &req, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "empty request");
	/* A tiny error buffer is still terminated. */
	char small[8];
	cr_assert_eq(ctl_parse_request("bogus", 5, &req, small, sizeof(small)), -1);
	cr_assert_str_eq(small, "unknown");
}

/* Random bytes and random mutations of valid lines: never a crash, always a
 * terminated error on failure, and a success is a command of the table. */
Test(ctlproto, fuzz_smoke)
{
	static const char *seeds[] = {
		"show sessions src=100.64.0.10/24 proto=tcp state=established limit=5",
		"show pools pool=p json=1", "switchover force=1", "reload",
	};
	static const char alphabet[] = "show sessionpx=./0123456789tcpudj\t\n\r\x01\x80 ";
	char buf[CTL_MAX_LINE + 32];
	unsigned int seed = 12345;

	for (int it = 0; it < 200000; it++) {
		size_t len;

		if (it & 1) {
			len = (size_t)rand_r(&seed) % sizeof(buf);
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)(rand_r(&seed) & 0xff);
		} else {
			const char *s = seeds[rand_r(&seed) % 4];

			len = strlen(s);
			memcpy(buf, s, len);
			for (int m = rand_r(&seed) % 4; m >= 0; m--)
				buf[rand_r(&seed) % len] =
					alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		}
		memset(err, 'Z', sizeof(err));
		if (ctl_parse_request(buf, len, &req, err, sizeof(err)) == 0) {
			cr_assert(ctl_command_find(req.cmd) != NULL);
			cr_assert(req.limit >= 1 && req.limit <= CTL_LIMIT_MAX);
		} else {
			cr_assert(memchr(err, '\0', sizeof(err)) != NULL);
			cr_assert(err[0] != '\0');
		}
	}
}

/* ---- filter matching ------------------------------------------------------- */

static struct ns_session mk_session(void)
{
	struct ns_session s;

	memset(&s, 0, sizeof(s));
	s.in_key.saddr = inet_addr("100.64.0.10");
	s.in_key.daddr = inet_addr("198.51.100.10");
	s.in_key.sport = htons(40000);
	s.in_key.dport = htons(80);
	s.in_key.proto = IPPROTO_TCP;
	s.out_key.saddr = inet_addr("198.51.100.10");
	s.out_key.daddr = inet_addr("203.0.113.7");
	s.out_key.sport = htons(80);
	s.out_key.dport = htons(1024);
	s.out_key.proto = IPPROTO_TCP;
	s.svc_set = 1;
	s.tcp_state = NS_TCP_ESTABLISHED;
	s.nat_type = NS_NAT_NAPT44;
	return s;
}

static bool matches(const char *line, const struct ns_session *s)
{
	cr_assert_eq(parse(line), 0, "'%s': %s", line, err);
	req.svc_idx = !strcmp(req.svc, "ss2") ? 1 : req.svc[0] ? 0 : -1;
	return ctl_session_matches(&req, s);
}

Test(ctlproto, session_matching)
{
	struct ns_session s = mk_session();

	cr_assert(matches("show sessions", &s));
	cr_assert(matches("show sessions src=100.64.0.10", &s));
	cr_assert(matches("show sessions src=100.64.0.0/10", &s));
	cr_assert_not(matches("show sessions src=100.64.0.11", &s));
	cr_assert_not(matches("show sessions src=198.51.100.10", &s), "src is the subscriber");
	cr_assert(matches("show sessions dst=198.51.100.10", &s));
	cr_assert(matches("show sessions dst=198.51.100.0/24", &s));
	cr_assert_not(matches("show sessions dst=198.51.101.0/24", &s));
	cr_assert(matches("show sessions nat=203.0.113.7", &s));
	cr_assert(matches("show sessions nat=203.0.113.0/29", &s));
	cr_assert_not(matches("show sessions nat=203.0.113.8/29", &s));
	cr_assert(matches("show sessions proto=tcp", &s));
	cr_assert_not(matches("show sessions proto=udp", &s));
	cr_assert(matches("show sessions sport=40000", &s));
	cr_assert_not(matches("show sessions sport=80", &s));
	cr_assert(matches("show sessions dport=80", &s));
	cr_assert_not(matches("show sessions dport=40000", &s));
	cr_assert(matches("show sessions nport=1024", &s));
	cr_assert_not(matches("show sessions nport=1025", &s));
	cr_assert(matches("show sessions svc=ss2", &s));
	cr_assert_not(matches("show sessions svc=ss1", &s));
	cr_assert(matches("show sessions state=established", &s));
	cr_assert_not(matches("show sessions state=fin-wait", &s));
	cr_assert(matches("show sessions src=100.64.0.10 dst=198.51.100.10 nat=203.0.113.7 "
			  "proto=tcp sport=40000 dport=80 nport=1024 svc=ss2 state=established",
			  &s));
	cr_assert_not(matches("show sessions src=100.64.0.10 dst=198.51.100.10 "
			      "nat=203.0.113.7 proto=tcp sport=40000 dport=81",
			      &s), "every filter must hold");

	/* An unresolved svc= never matches, even index 0. */
	cr_assert_eq(parse("show sessions svc=nope"), 0);
	s.svc_set = 0;
	cr_assert_not(ctl_session_matches(&req, &s));

	/* state= never matches a non-TCP session (whose tcp_state is NONE). */
	s = mk_session();
	s.in_key.proto = IPPROTO_UDP;
	s.tcp_state = NS_TCP_ESTABLISHED;
	cr_assert_not(matches("show sessions state=established", &s));
}

Test(ctlproto, resolve_names)
{
	struct ns_config *c = calloc(1, sizeof(*c));

	cr_assert_not_null(c);
	ns_config_defaults(c);
	c->n_svcs = 2;
	strcpy(c->svc_conf[0].name, "ss1");
	strcpy(c->svc_conf[1].name, "ss2");
	c->n_pools = 1;
	strcpy(c->pool_names[0], "pool-a");

	cr_assert_eq(parse("show sessions svc=ss2"), 0);
	cr_assert_eq(ctl_request_resolve(&req, c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(req.svc_idx, 1);
	cr_assert_eq(parse("show sessions svc=ss3"), 0);
	cr_assert_eq(ctl_request_resolve(&req, c, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "unknown service set 'ss3'");
	cr_assert_eq(parse("show pools pool=pool-a"), 0);
	cr_assert_eq(ctl_request_resolve(&req, c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(req.pool_idx, 0);
	cr_assert_eq(parse("show pools pool=pool-b"), 0);
	cr_assert_eq(ctl_request_resolve(&req, c, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "unknown pool 'pool-b'");
	free(c);
}

/* ---- JSON writer ------------------------------------------------------------ */

static char *json_buf;
static size_t json_len;

static FILE *json_open(void)
{
	FILE *f = open_memstream(&json_buf, &json_len);

	cr_assert_not_null(f);
	return f;
}

static void json_close(FILE *f)
{
	cr_assert_eq(fclose(f), 0);
}

static const char *escaped(const char *s)
{
	FILE *f;

	free(json_buf);
	json_buf = NULL;
	f = json_open();
	ctl_json_escape(f, s);
	json_close(f);
	return json_buf;
}

Test(ctljson, escaping)
{
	cr_assert_str_eq(escaped("plain"), "\"plain\"");
	cr_assert_str_eq(escaped(""), "\"\"");
	cr_assert_str_eq(escaped("a\"b"), "\"a\\\"b\"");
	cr_assert_str_eq(escaped("a\\b"), "\"a\\\\b\"");
	cr_assert_str_eq(escaped("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
	cr_assert_str_eq(escaped("\x01\x1f"), "\"\\u0001\\u001f\"");
	cr_assert_str_eq(escaped("/\x7f"), "\"/\x7f\"", "/ and DEL need no escape");
	cr_assert_str_eq(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
			 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "valid UTF-8 kept");
	cr_assert_str_eq(escaped("\xff"), "\"\\ufffd\"");
	cr_assert_str_eq(escaped("a\xc3"), "\"a\\ufffd\"", "truncated sequence");
	cr_assert_str_eq(escaped("\xc0\xaf"), "\"\\ufffd\\ufffd\"", "overlong /");
	cr_assert_str_eq(escaped("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"", "surrogate");
	cr_assert_str_eq(escaped("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
			 "above U+10FFFF");
	free(json_buf);
	json_buf = NULL;
}

Test(ctljson, structure)
{
	FILE *f = json_open();
	struct ctl_json j;

	ctl_json_init(&j, f);
	ctl_json_start_object(&j);
	ctl_json_key(&j, "sessions");
	ctl_json_start_array(&j);
	ctl_json_start_object(&j);
	ctl_json_kv_string(&j, "svc", "a\"b");
	ctl_json_kv_uint(&j, "n", 18446744073709551615ull);
	ctl_json_end_object(&j);
	ctl_json_start_object(&j);
	ctl_json_end_object(&j);
	ctl_json_uint(&j, 1);
	ctl_json_null(&j);
	ctl_json_end_array(&j);
	ctl_json_kv_int(&j, "neg", -5);
	ctl_json_kv_bool(&j, "t", true);
	ctl_json_kv_bool(&j, "f", false);
	ctl_json_key(&j, "empty");
	ctl_json_start_array(&j);
	ctl_json_end_array(&j);
	ctl_json_end_object(&j);
	json_close(f);
	cr_assert_not(j.error);
	cr_assert_eq(j.depth, 0);
	cr_assert_str_eq(json_buf, "{\"sessions\":[{\"svc\":\"a\\\"b\",\"n\":18446744073709551615},"
				   "{},1,null],\"neg\":-5,\"t\":true,\"f\":false,\"empty\":[]}");
	free(json_buf);
	json_buf = NULL;
}

Test(ctljson, misuse_is_flagged)
{
	struct ctl_json j;
	FILE *f = json_open();

	ctl_json_init(&j, f);
	ctl_json_start_object(&j);
	ctl_json_uint(&j, 1); /* value without key */
	cr_assert(j.error);

	ctl_json_init(&j, f);
	ctl_json_start_array(&j);
	ctl_json_end_object(&j); /* wrong closer */
	cr_assert(j.error);

	ctl_json_init(&j, f);
	ctl_json_start_array(&j);
	ctl_json_key(&j, "k"); /* key in an array */
	cr_assert(j.error);

	ctl_json_init(&j, f);
	ctl_json_start_object(&j);
	ctl_json_key(&j, "k");
	ctl_json_end_object(&j); /* key without value */
	cr_assert(j.error);

	ctl_json_init(&j, f);
	for (int i = 0; i < CTL_JSON_MAX_DEPTH; i++)
		ctl_json_start_array(&j);
	cr_assert_not(j.error);
	ctl_json_start_array(&j); /* too deep */
	cr_assert(j.error);
	json_close(f);
	free(json_buf);
	json_buf = NULL;
}

/* ---- names and the command table -------------------------------------------- */

Test(ctlproto, table_is_consistent)
{
	char name[32];

	for (int c = CTL_CMD_NONE + 1; c < CTL_CMD_MAX; c++) {
		const struct ctl_command *e = ctl_command_find(c);

		cr_assert_not_null(e, "command %d has no table entry", c);
		cr_assert_not_null(e->help);
		cr_assert_not_null(e->usage);
		ctl_command_name(c, name, sizeof(name));
		/* show subscriber takes its address as a bare word, as its usage says */
		if (c == CTL_SHOW_SUBSCRIBER) {
			cr_assert_str_eq(e->usage, "ADDR");
			strcat(name, " 100.64.0.10");
		}
		cr_assert_eq(parse(name), 0, "'%s' does not parse: %s", name, err);
		cr_assert_eq((int)req.cmd, c);
	}
	for (int a = 0; a < CTL_ARG_MAX; a++)
		cr_assert_not_null(ctl_arg_name(a));
	cr_assert_null(ctl_arg_name(CTL_ARG_MAX));
	cr_assert_str_eq(ctl_attach_mode_name(NS_ATTACH_TC), "tc");
	cr_assert_str_eq(ctl_attach_mode_name(99), "unknown");
	cr_assert_str_eq(ctl_side_name(NS_SIDE_OUTSIDE), "outside");
}

/* ---- the server, through ns_control_answer() and a real socket ------------- */

#include <stdatomic.h>

#include "daemon/loop.h"

static struct ns_daemon *srv_d;
static struct ns_control *srv;
static atomic_int client_done;

static void srv_daemon_init(bool with_loop)
{
	int e = 0;

	srv_d = calloc(1, sizeof(*srv_d));
	cr_assert_not_null(srv_d);
	ns_config_defaults(&srv_d->conf);
	strcpy(srv_d->conf.node_name, "node-\"a\"");
	snprintf(srv_d->conf.control_socket, sizeof(srv_d->conf.control_socket),
		 "/tmp/nsct-unit-%d.sock", (int)getpid());
	unlink(srv_d->conf.control_socket);
	memset(&srv_d->fd, 0xff, sizeof(srv_d->fd)); /* every map fd -1 */
	srv_d->started_ns = ns_now();
	if (with_loop) {
		srv_d->loop = loop_new();
		cr_assert_not_null(srv_d->loop);
	}
	srv = ns_control_open(srv_d, &e);
	cr_assert_not_null(srv, "ns_control_open: %s", strerror(-e));
}

static void srv_daemon_fini(void)
{
	ns_control_close(srv);
	srv = NULL;
	/* show status/metrics open the aging sweep (to name its engine); no
	 * aging timer here: ns_aging_fini must not close fd 0 */
	srv_d->aging_timer_fd = -1;
	ns_aging_fini(srv_d);
	if (srv_d->loop)
		loop_free(srv_d->loop);
	free(srv_d);
	srv_d = NULL;
}

static char *answer(const char *line)
{
	static char *resp;
	size_t len;

	free(resp);
	resp = NULL;
	cr_assert_eq(ns_control_answer(srv, line, strlen(line), &resp, &len), 0);
	cr_assert_eq(strlen(resp), len);
	return resp;
}

static int reload_ok(struct ns_daemon *d, const struct ctl_request *r, struct ctl_out *out,
		     void *arg)
{
	(void)d;
	(void)r;
	fprintf(out->f, "reloaded %s\n", (const char *)arg);
	return 0;
}

static int reload_fails(struct ns_daemon *d, const struct ctl_request *r, struct ctl_out *out,
			void *arg)
{
	(void)d;
	(void)r;
	(void)arg;
	fprintf(out->f, "partial output that must not be sent");
	return ctl_out_error(out, "config.conf:3: pools: bad");
}

Test(ctlserver, answers_without_maps)
{
	const char *r;

	srv_daemon_init(false);
	cr_assert_str_eq(answer("bogus\n"), "ERR unknown command 'bogus'\n");
	cr_assert_str_eq(answer("show sync"),
			 "ERR show sync: not available (redundancy is not configured)\n");
	cr_assert_str_eq(answer("reload"), "ERR reload: not available (not provided by this daemon)\n");
	cr_assert_str_eq(answer("show sessions"), "ERR map ns_sessions is not open\n");
	cr_assert_str_eq(answer("show pools"), "ERR map ns_ports is not open\n");
	cr_assert_str_eq(answer("show sessions svc=nope"), "ERR unknown service set 'nope'\n");
	cr_assert(!strncmp(answer("show counters"), "ERR reading ns_counters: ", 25));

	cr_assert(!strncmp(answer("show status"), "OK\nnode           node-\"a\"\n", 26));
	r = answer("show status json=1");
	cr_assert(!strncmp(r, "OK\n{\"node\":\"node-\\\"a\\\"\",", 24), "%s", r);
	cr_assert(strstr(answer("show config json=1"), "\"timeouts_s\":{\"tcp-syn\":"));
	cr_assert(strstr(answer("show config"), "\nmax sessions   "));
	r = answer("show config json=1");
	cr_assert_eq(r[strlen(r) - 1], '\n', "a JSON body ends with a newline");

	cr_assert_eq(ns_control_set_handler(srv, CTL_RELOAD, reload_ok, "now"), 0);
	cr_assert_str_eq(answer("reload\n"), "OK\nreloaded now\n");
	cr_assert_eq(ns_control_set_handler(srv, CTL_RELOAD, reload_fails, NULL), 0);
	cr_assert_str_eq(answer("reload\n"), "ERR config.conf:3: pools: bad\n");
	cr_assert_eq(ns_control_set_handler(srv, CTL_CMD_MAX, reload_ok, NULL), -EINVAL);
	srv_daemon_fini();
}

/* A client running beside the loop: it does its job, then lets the loop stop. */
struct client_job {
	const char *path;
	const char *send;
	size_t send_len;
	bool shut_wr;
	bool hang_up;         /* close right after sending: read no answer */
	bool send_failed;     /* recorded by the client thread */
	char resp[65536];  /* show metrics answers ~10 kB */
	ssize_t resp_len;
	bool want_big;        /* read the whole answer into big instead */
	char *big;            /* malloc()ed, NUL-terminated; the test frees it */
	size_t big_len;
	double secs;
};

static double now_s(void)
{
	return (double)ns_now() / 1e9;
}

static int client_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	strcpy(sa.sun_path, path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

/*
 * Runs in a client thread: no cr_assert here (Criterion's assertions unwind
 * only the main thread); failures are recorded in *j and checked by the test.
 * A failed send is not an error in itself: a server that refuses a client
 * (client_limit) may close before the request is sent, and its answer is
 * still read below.
 */
static void client_exchange(struct client_job *j)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double t0 = now_s();
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t n;

	j->resp_len = 0;
	j->resp[0] = '\0';
	strcpy(sa.sun_path, j->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(j->resp, sizeof(j->resp), "client: connect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (j->send_len)
		j->send_failed = send(fd, j->send, j->send_len, MSG_NOSIGNAL) != (ssize_t)j->send_len;
	if (j->shut_wr)
		shutdown(fd, SHUT_WR);
	while (j->want_big) {
		char *b = j->big_len % 65536 ? j->big : realloc(j->big, j->big_len + 65537);

		if (!b)
			break;
		j->big = b;
		n = recv(fd, j->big + j->big_len, 65536 - j->big_len % 65536, 0);
		if (n <= 0)
			break;
		j->big_len += (size_t)n;
	}
	if (j->big)
		j->big[j->big_len] = '\0';
	while (!j->want_big && !j->hang_up &&
	       (n = recv(fd, j->resp + j->resp_len, sizeof(j->resp) - 1 - j->resp_len, 0)) > 0)
		j->resp_len += n;
	j->resp[j->resp_len] = '\0';
	j->secs = now_s() - t0;
	close(fd);
}

static void *client_thread(void *arg)
{
	client_exchange(arg);
	atomic_store(&client_done, 1);
	return NULL;
}

static void stop_when_done(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	double *deadline = arg;

	(void)fd;
	(void)ev;
	if (atomic_load(&client_done) || now_s() > *deadline)
		loop_stop(loop);
}

/* Serve on the loop until the client job finished (or 15 s passed). */
static void serve(struct client_job *j)
{
	double deadline = now_s() + 15;
	pthread_t th;
	int tfd;

	atomic_store(&client_done, 0);
	tfd = loop_add_timer(srv_d->loop, 20, stop_when_done, &deadline);
	cr_assert_geq(tfd, 0);
	cr_assert_eq(pthread_create(&th, NULL, client_thread, j), 0);
	loop_run(srv_d->loop);
	pthread_join(th, NULL);
	loop_del(srv_d->loop, tfd);
	cr_assert(atomic_load(&client_done), "client did not finish in time");
}

Test(ctlserver, socket_roundtrip)
{
	struct client_job j = { 0 };
	struct stat st;

	srv_daemon_init(true);
	j.path = srv_d->conf.control_socket;
	cr_assert_eq(stat(j.path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);

	j.send = "show status\n";
	j.send_len = strlen(j.send);
	serve(&j);
	cr_assert(!strncmp(j.resp, "OK\nnode ", 8), "%s", j.resp);

	/* EOF stands for the newline. */
	j.send = "show status json=1";
	j.send_len = strlen(j.send);
	j.shut_wr = true;
	serve(&j);
	cr_assert(!strncmp(j.resp, "OK\n{\"node\":", 11), "%s", j.resp);
	cr_assert_eq(j.resp[j.resp_len - 2], '}');

	j.send = "show frob\n";
	j.send_len = strlen(j.send);
	serve(&j);
	cr_assert_str_eq(j.resp, "ERR unknown command 'show frob'\n");

	/* Connect and close without a word: dropped silently. */
	j.send_len = 0;
	serve(&j);
	cr_assert_eq(j.resp_len, 0);

	srv_daemon_fini();
	cr_assert_eq(stat(j.path, &st), -1, "socket file left behind");
}

Test(ctlserver, overlong_request_refused)
{
	static char big[3000];
	struct client_job j = { 0 };

	srv_daemon_init(true);
	memset(big, 'a', sizeof(big));
	j.path = srv_d->conf.control_socket;
	j.send = big;
	j.send_len = sizeof(big);
	serve(&j);
	cr_assert_str_eq(j.resp, "ERR request too long (max 1023 bytes)\n");
	srv_daemon_fini();
}

Test(ctlserver, silent_client_times_out, .timeout = 20)
{
	struct client_job j = { 0 };

	srv_daemon_init(true);
	j.path = srv_d->conf.control_socket;
	j.send = "show stat"; /* no newline, no EOF */
	j.send_len = strlen(j.send);
	serve(&j);
	cr_assert_eq(j.resp_len, 0, "got '%s'", j.resp);
	cr_assert_geq(j.secs, CTL_READ_TIMEOUT_MS / 1000.0 - 0.1, "dropped after %.2f s", j.secs);
	cr_assert_lt(j.secs, CTL_READ_TIMEOUT_MS / 1000.0 + 2, "dropped after %.2f s", j.secs);
	srv_daemon_fini();
}

Test(ctlserver, client_limit)
{
	struct client_job j = { 0 };
	int idle[CTL_MAX_CLIENTS];

	srv_daemon_init(true);
	j.path = srv_d->conf.control_socket;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		idle[i] = client_connect(j.path);
	j.send = "show status\n";
	j.send_len = strlen(j.send);
	serve(&j);
	cr_assert_str_eq(j.resp, "ERR too many clients, try again\n");
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		close(idle[i]);
	serve(&j);
	cr_assert(!strncmp(j.resp, "OK\n", 3), "a slot is free again: %s", j.resp);
	srv_daemon_fini();
}

Test(ctlserver, stale_and_live_sockets)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ns_daemon *d2 = calloc(1, sizeof(*d2));
	struct stat st;
	int fd, e = 0;

	srv_daemon_init(true);
	/* A second daemon on a live socket is refused, the file kept. */
	d2->conf = srv_d->conf;
	d2->loop = loop_new();
	cr_assert_null(ns_control_open(d2, &e));
	cr_assert_eq(e, -EADDRINUSE);
	cr_assert_eq(stat(srv_d->conf.control_socket, &st), 0);
	srv_daemon_fini();

	/* A socket file nobody listens on is stale: replaced. */
	strcpy(sa.sun_path, d2->conf.control_socket);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	cr_assert_eq(stat(sa.sun_path, &st), 0, "stale file exists");
	srv = ns_control_open(d2, &e);
	cr_assert_not_null(srv, "stale socket not replaced: %s", strerror(-e));
	ns_control_close(srv);
	srv = NULL;

	/* A regular file is never removed. */
	fd = open(sa.sun_path, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_null(ns_control_open(d2, &e));
	cr_assert_eq(e, -EEXIST);
	cr_assert_eq(unlink(sa.sun_path), 0, "regular file was removed");
	loop_free(d2->loop);
	free(d2);
}

/* ---- map-backed commands against real BPF maps (needs CAP_BPF) ------------- */

#define NS_SEC 1000000000ull

static int mk_map(enum bpf_map_type type, const char *name, uint32_t ksz, uint32_t vsz,
		  uint32_t n)
{
	int fd = bpf_map_create(type, name, ksz, vsz, n, NULL);

	if (fd < 0 && (errno == EPERM || errno == EACCES))
		cr_skip_test("no permission to create BPF maps (run as root)");
	cr_assert_geq(fd, 0, "bpf_map_create %s: %s", name, strerror(errno));
	return fd;
}

static void put_session(int fd, const char *src, uint16_t sport, const char *dst, uint16_t dport,
			uint8_t proto, uint16_t nport, uint8_t state, uint32_t flags, uint64_t now)
{
	struct ns_session s;

	memset(&s, 0, sizeof(s));
	s.in_key.saddr = inet_addr(src);
	s.in_key.daddr = inet_addr(dst);
	s.in_key.sport = htons(sport);
	s.in_key.dport = htons(dport);
	s.in_key.proto = proto;
	s.out_key.saddr = s.in_key.daddr;
	s.out_key.daddr = inet_addr("203.0.113.7");
	s.out_key.sport = s.in_key.dport;
	s.out_key.dport = htons(nport);
	s.out_key.proto = proto;
	s.created_ns = now - 100 * NS_SEC;
	s.last_seen_ns = now - 10 * NS_SEC;
	s.packets[NS_SIDE_INSIDE] = 3;
	s.packets[NS_SIDE_OUTSIDE] = 2;
	s.bytes[NS_SIDE_INSIDE] = 300;
	s.bytes[NS_SIDE_OUTSIDE] = 200;
	s.flags = flags;
	s.svc_set = 0;
	s.nat_term = 0;
	s.fw_term = NS_NONE16;
	s.nat_type = NS_NAT_NAPT44;
	s.tcp_state = state;
	s.origin = NS_SIDE_INSIDE;
	s.pool_id = 0;
	cr_assert_eq(bpf_map_update_elem(fd, &s.in_key, &s, BPF_NOEXIST), 0);
}

static void put_port(int fd, uint16_t port, uint8_t proto, uint8_t flags)
{
	struct ns_port_key k;
	struct ns_port_val v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.addr = inet_addr("203.0.113.7");
	k.port = htons(port);
	k.proto = proto;
	v.flags = flags;
	v.pool_id = 0;
	cr_assert_eq(bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST), 0);
}

static void put_paired(int fd, const char *sub)
{
	struct ns_paired_key k;
	struct ns_paired_val v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.in_addr = inet_addr(sub);
	v.out_addr = inet_addr("203.0.113.7");
	cr_assert_eq(bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST), 0);
}

static void put_counter(int fd, uint32_t idx, uint64_t per_cpu, int ncpu)
{
	uint64_t *v = calloc((size_t)ncpu, sizeof(*v));

	for (int i = 0; i < ncpu; i++)
		v[i] = per_cpu;
	cr_assert_eq(bpf_map_update_elem(fd, &idx, v, BPF_ANY), 0);
	free(v);
}

static void maps_setup(void)
{
	struct ns_config *c;
	uint64_t now;
	int ncpu = libbpf_num_possible_cpus();
	char src[32];

	/* Sessions are dated 100 s back: run the daemon's clock ahead, so the
	 * ages come out the same on a machine booted a minute ago. */
	ns_clock_offset_set(1000 * NS_SEC);
	now = ns_now();
	srv_daemon_init(false);
	c = &srv_d->conf;
	c->n_svcs = 1;
	strcpy(c->svc_conf[0].name, "ss1");
	c->n_pools = 1;
	strcpy(c->pool_names[0], "pool-a");
	c->pools[0].n_ranges = 1;
	c->pools[0].ranges[0].first = ntohl(inet_addr("203.0.113.0"));
	c->pools[0].ranges[0].count = 8;
	c->pools[0].n_addrs = 8;
	c->pools[0].port_lo = 1024;
	c->pools[0].port_hi = 65535;
	c->pools[0].flags = NS_POOL_F_RANDOM_PORT;

	srv_d->fd.sessions = mk_map(BPF_MAP_TYPE_HASH, "ns_sessions", sizeof(struct ns_tuple),
				    sizeof(struct ns_session), 4096);
	srv_d->fd.ports = mk_map(BPF_MAP_TYPE_HASH, "ns_ports", sizeof(struct ns_port_key),
				 sizeof(struct ns_port_val), 1024);
	srv_d->fd.paired = mk_map(BPF_MAP_TYPE_HASH, "ns_paired", sizeof(struct ns_paired_key),
				  sizeof(struct ns_paired_val), 1024);
	srv_d->fd.counters = mk_map(BPF_MAP_TYPE_PERCPU_ARRAY, "ns_counters", sizeof(uint32_t),
				    sizeof(uint64_t), NS_CNT_MAX);

	put_session(srv_d->fd.sessions, "100.64.0.10", 40000, "198.51.100.10", 80, IPPROTO_TCP,
		    1024, NS_TCP_ESTABLISHED, NS_SF_NAT_SRC | NS_SF_EIM, now);
	put_session(srv_d->fd.sessions, "100.64.0.11", 5353, "198.51.100.20", 53, IPPROTO_UDP,
		    1025, NS_TCP_NONE, NS_SF_NAT_SRC, now);
	put_session(srv_d->fd.sessions, "100.64.0.10", 7, "198.51.100.10", 0, IPPROTO_ICMP,
		    1026, NS_TCP_NONE, NS_SF_NAT_SRC | NS_SF_REPLICATED, now);
	/* Enough more to need several batches. */
	for (int i = 0; i < 1000; i++) {
		snprintf(src, sizeof(src), "100.65.%d.%d", i / 250, i % 250 + 1);
		put_session(srv_d->fd.sessions, src, 1000, "198.51.100.99", 443, IPPROTO_TCP,
			    (uint16_t)(2000 + i), NS_TCP_SYN_SENT, NS_SF_NAT_SRC, now);
	}
	put_port(srv_d->fd.ports, 1024, IPPROTO_TCP, NS_PORT_F_EIM);
	put_port(srv_d->fd.ports, 1025, IPPROTO_UDP, 0);
	put_port(srv_d->fd.ports, 1026, IPPROTO_ICMP, 0);
	put_port(srv_d->fd.ports, 3000, IPPROTO_TCP, NS_PORT_F_HOLD);
	put_paired(srv_d->fd.paired, "100.64.0.10");
	put_paired(srv_d->fd.paired, "100.64.0.11");
	cr_assert_gt(ncpu, 0);
	put_counter(srv_d->fd.counters, NS_CNT_RX, 3, ncpu);
	put_counter(srv_d->fd.counters, NS_CNT_DROP_POOL_EXHAUSTED, 2, ncpu);
}

static void maps_teardown(void)
{
	if (!srv_d)
		return;
	for (int *fd = &srv_d->fd.sessions; fd <= &srv_d->fd.events; fd++)
		if (*fd >= 0)
			close(*fd);
	srv_daemon_fini();
}

Test(ctlmaps, show_sessions_json, .init = maps_setup, .fini = maps_teardown)
{
	const char *r = answer("show sessions json=1 src=100.64.0.10 proto=tcp");

	cr_assert(!strncmp(r, "OK\n{\"sessions\":[{\"proto\":\"tcp\","
			      "\"inside\":{\"addr\":\"100.64.0.10\",\"port\":40000},"
			      "\"remote\":{\"addr\":\"198.51.100.10\",\"port\":80},"
			      "\"nat\":{\"addr\":\"203.0.113.7\",\"port\":1024},"
			      "\"outside_remote\":{\"addr\":\"198.51.100.10\",\"port\":80},"
			      "\"state\":\"established\",\"svc\":\"ss1\",\"nat_type\":\"napt-44\","
			      "\"pool\":\"pool-a\",\"origin\":\"inside\",\"age_s\":100,"
			      "\"idle_s\":10,\"timeout_s\":7440,\"remaining_s\":7430,"
			      "\"packets\":{\"inside_to_outside\":3,\"outside_to_inside\":2},"
			      "\"bytes\":{\"inside_to_outside\":300,\"outside_to_inside\":200},"
			      "\"flags\":[\"nat-src\",\"eim\"]}],"
			      "\"count\":1,\"matched\":1,\"total\":1003,\"truncated\":false}\n",
		       strlen(r)),
		  "%s", r);
	cr_assert_eq(strlen(r), strlen(strchr(r, '{')) + 3);

	r = answer("show sessions json=1 src=100.64.0.10");
	cr_assert(strstr(r, "\"count\":2,\"matched\":2,\"total\":1003,\"truncated\":false}"), "%s",
		  r);
	cr_assert(strstr(r, "\"proto\":\"icmp\",\"inside\":{\"addr\":\"100.64.0.10\",\"port\":7}"));
	cr_assert(strstr(r, "\"timeout_s\":60,\"remaining_s\":50"), "icmp timeout: %s", r);
	cr_assert(strstr(r, "\"flags\":[\"nat-src\",\"replicated\"]"));

	r = answer("show sessions json=1 state=syn-sent limit=10");
	cr_assert(strstr(r, "\"count\":10,\"matched\":1000,\"total\":1003,\"truncated\":true}"),
		  "%s", r);
	r = answer("show sessions json=1 nport=2999");
	cr_assert(strstr(r, "\"inside\":{\"addr\":\"100.65.3.250\",\"port\":1000}"), "%s", r);
	r = answer("show sessions json=1 svc=ss1 dst=198.51.100.20/32 proto=udp");
	cr_assert(strstr(r, "\"count\":1,"), "%s", r);
	cr_assert(strstr(r, "\"state\":\"-\""), "%s", r);
}

Test(ctlmaps, show_sessions_text, .init = maps_setup, .fini = maps_teardown)
{
	const char *r = answer("show sessions dst=198.51.100.10");

	cr_assert(!strncmp(r, "OK\nPROTO INSIDE ", 16), "%s", r);
	cr_assert(strstr(r, "\ntcp   100.64.0.10:40000     198.51.100.10:80      "
			    "203.0.113.7:1024      established ss1        napt-44          100"
			    "     10   7430 3/2             300/200               nat-src,eim\n"),
		  "%s", r);
	cr_assert(strstr(r, "\n2 of 2 matching sessions shown (1003 in table)\n"), "%s", r);
	r = answer("show sessions limit=1");
	cr_assert(strstr(r, "\n1 of 1003 matching sessions shown (1003 in table); raise limit= "
			    "to see more\n"), "%s", r);
}

Test(ctlmaps, show_pools, .init = maps_setup, .fini = maps_teardown)
{
	int ncpu = libbpf_num_possible_cpus();
	char want[512];
	const char *r = answer("show pools json=1");

	snprintf(want, sizeof(want),
		 "OK\n{\"pools\":[{\"name\":\"pool-a\",\"id\":0,"
		 "\"ranges\":[\"203.0.113.0-203.0.113.7\"],\"addresses\":8,"
		 "\"ports\":{\"mode\":\"range\",\"low\":1024,\"high\":65535,\"per_address\":64512},"
		 "\"port_allocation\":\"random\","
		 "\"address_allocation\":\"default\",\"capacity_per_protocol\":516096,"
		 "\"in_use\":{\"tcp\":1,\"udp\":1,\"icmp\":1,\"other\":0},"
		 "\"held\":{\"tcp\":1,\"udp\":0,\"icmp\":0,\"other\":0},"
		 "\"usage_permille\":0,\"subscribers\":2}],\"allocation_failures\":%d}\n",
		 2 * ncpu);
	cr_assert_str_eq(r, want);
	r = answer("show pools");
	cr_assert(strstr(r, "pool pool-a\n  addresses     203.0.113.0-203.0.113.7 (8)\n"
			    "  ports         1024-65535\n"), "%s", r);
	cr_assert(strstr(r, "  held          tcp 1, udp 0, icmp 0, other 0\n"), "%s", r);
	cr_assert_str_eq(answer("show pools pool=nope"), "ERR unknown pool 'nope'\n");
}

Test(ctlmaps, show_counters, .init = maps_setup, .fini = maps_teardown)
{
	int ncpu = libbpf_num_possible_cpus();
	char want[64];
	const char *r;

	srv_d->st.aging_passes = 42;
	r = answer("show counters json=1");
	snprintf(want, sizeof(want), "OK\n{\"counters\":{\"rx\":%d,\"pass_non_ip\":0,", 3 * ncpu);
	cr_assert(!strncmp(r, want, strlen(want)), "%s", r);
	snprintf(want, sizeof(want), "\"drop_pool_exhausted\":%d,", 2 * ncpu);
	cr_assert(strstr(r, want), "%s", r);
	cr_assert(strstr(r, "},\"daemon\":{\"aging_passes\":42,"), "%s", r);
	r = answer("show counters");
	snprintf(want, sizeof(want), "\n  rx                     %d\n", 3 * ncpu);
	cr_assert(strstr(r, want), "%s", r);
	cr_assert(strstr(r, "\n  aging_passes           42\n"), "%s", r);
}

Test(ctlmaps, wrong_map_layout_reported)
{
	srv_daemon_init(false);
	srv_d->fd.sessions = mk_map(BPF_MAP_TYPE_HASH, "ns_sessions", sizeof(struct ns_tuple),
				    64, 16);
	cr_assert_str_eq(answer("show sessions"),
			 "ERR map ns_sessions: key/value size 16/64, expected 16/96\n");
	close(srv_d->fd.sessions);
	srv_d->fd.sessions = -1;
	srv_daemon_fini();
}

/*
 * show sessions, clear sessions and show pools over large tables are
 * answered in slices: the handler stops after its slice and the loop runs other
 * sources before the next one, instead of walking the whole map in one
 * callback (at 1M sessions that held the loop for a second). 300,000
 * sessions need far more than one 5 ms slice on any machine; the answer
 * through the socket is whole and counts what the synchronous answer counts.
 */
/* srv_d's ns_sessions: n established TCP sessions from 100.64.0.0 + i. */
static void fill_sessions(uint32_t n_all)
{
	enum { B = 10000 };
	static struct ns_tuple keys[B];
	static struct ns_session vals[B];

	srv_d->fd.sessions = mk_map(BPF_MAP_TYPE_HASH, "ns_sessions", sizeof(struct ns_tuple),
				    sizeof(struct ns_session), n_all);
	for (uint32_t base = 0; base < n_all; base += B) {
		__u32 n = B;

		memset(vals, 0, sizeof(vals));
		for (uint32_t i = 0; i < B; i++) {
			memset(&keys[i], 0, sizeof(keys[i]));
			keys[i].saddr = htonl(0x64400000u + base + i); /* 100.64.0.0 + i */
			keys[i].daddr = htonl(0xc6336463u);
			keys[i].sport = htons(1000);
			keys[i].dport = htons(443);
			keys[i].proto = IPPROTO_TCP;
			vals[i].in_key = keys[i];
			vals[i].tcp_state = NS_TCP_ESTABLISHED;
		}
		cr_assert_eq(bpf_map_update_batch(srv_d->fd.sessions, keys, vals, &n, NULL), 0,
			     "bpf_map_update_batch: %s", strerror(errno));
	}
}

/* Answer line through the socket, the loop running: its answer must be OK
 * and contain want. Returns how many slices it took (ns_control_slices). */
static uint64_t serve_sliced(struct client_job *j, const char *line, const char *want)
{
	uint64_t before = ns_control_slices(srv);

	j->path = srv_d->conf.control_socket;
	j->send = line;
	j->send_len = strlen(line);
	serve(j);
	cr_assert(!strncmp(j->resp, "OK\n", 3), "%s: %.2000s", line, j->resp);
	cr_assert_not_null(strstr(j->resp, want), "%s: %.2000s", line, j->resp);
	return ns_control_slices(srv) - before;
}

/*
 * A large answer (show sessions limit=N in JSON: ~15 MB here, 48 MB for
 * 100,000 sessions) is sent in steps of at most CTL_SEND_MAX bytes, one per
 * EPOLLOUT callback, even to a client that reads as fast as it is sent: it
 * used to go out in one callback (and be built in one memstream whose
 * doublings copied it whole; ctl_buf tests). Every session arrives.
 */
Test(ctlserver, large_answer_sent_in_bounded_steps)
{
	enum { N = 30000 };
	struct client_job j = { 0 };
	char line[64], tail[128];
	size_t send_max, n_sess = 0;
	uint64_t sends;

	srv_daemon_init(true);
	fill_sessions(N);
	snprintf(line, sizeof(line), "show sessions json=1 limit=%d\n", N);
	snprintf(tail, sizeof(tail), "],\"count\":%d,\"matched\":%d,\"total\":%d,"
		 "\"truncated\":false}\n", N, N, N);
	j.path = srv_d->conf.control_socket;
	j.send = line;
	j.send_len = strlen(line);
	j.want_big = true;
	serve(&j);
	cr_assert_not_null(j.big);
	cr_assert(!strncmp(j.big, "OK\n{\"sessions\":[", 15), "%.200s", j.big);
	cr_assert_geq(j.big_len, strlen(tail));
	cr_assert_str_eq(j.big + j.big_len - strlen(tail), tail);
	for (const char *p = j.big; (p = strstr(p, "{\"proto\":\"tcp\"")); p++)
		n_sess++;
	cr_assert_eq(n_sess, (size_t)N, "%zu sessions in %zu bytes", n_sess, j.big_len);
	ns_control_send_stats(srv, &sends, &send_max);
	cr_assert_leq(send_max, CTL_SEND_MAX, "one callback sent %zu bytes", send_max);
	cr_assert_geq(sends, j.big_len / CTL_SEND_MAX, "%zu bytes sent in %llu callbacks",
		      j.big_len, (unsigned long long)sends);
	free(j.big);
	close(srv_d->fd.sessions);
	srv_d->fd.sessions = -1;
	srv_daemon_fini();
}

Test(ctlserver, show_and_clear_sessions_answered_in_slices)
{
	enum { N = 300000, B = 10000 };
	struct client_job j = { 0 };
	const char *sync_r;
	uint64_t slices;
	char want[128];

	srv_daemon_init(true);
	fill_sessions(N);
	snprintf(want, sizeof(want), "\"count\":1,\"matched\":%d,\"total\":%d,", N, N);
	sync_r = answer("show sessions json=1 limit=1");
	cr_assert_not_null(strstr(sync_r, want), "%s", sync_r);

	slices = serve_sliced(&j, "show sessions json=1 limit=1\n", want);
	cr_assert(!strncmp(j.resp, "OK\n{\"sessions\":[", 15), "%s", j.resp);
	cr_assert_gt(slices, 1, "answered in %llu slices", (unsigned long long)slices);

	/* clear sessions: the same walk, then the deletes, in slices too */
	srv_d->fd.session_rev = mk_map(BPF_MAP_TYPE_HASH, "ns_session_rev",
				       sizeof(struct ns_tuple), sizeof(struct ns_tuple), N);
	ns_control_set_handler(srv, CTL_CLEAR_SESSIONS, ns_clear_ctl, NULL);
	snprintf(want, sizeof(want), "{\"matched\":%d,\"cleared\":%d,", N, N);
	slices = serve_sliced(&j, "clear sessions json=1 dport=443\n", want);
	cr_assert_gt(slices, 1, "cleared in %llu slices", (unsigned long long)slices);
	cr_assert_str_eq(answer("show sessions json=1 limit=1"),
			 "OK\n{\"sessions\":[],\"count\":0,\"matched\":0,\"total\":0,"
			 "\"truncated\":false}\n");

	/* show pools: a walk of ns_ports (and ns_paired), in slices too */
	{
		static struct ns_port_key pk[B];
		static struct ns_port_val pv[B];

		srv_d->fd.ports = mk_map(BPF_MAP_TYPE_HASH, "ns_ports", sizeof(struct ns_port_key),
					 sizeof(struct ns_port_val), N);
		srv_d->fd.paired = mk_map(BPF_MAP_TYPE_HASH, "ns_paired",
					  sizeof(struct ns_paired_key),
					  sizeof(struct ns_paired_val), 16);
		memset(pv, 0, sizeof(pv));
		for (uint32_t base = 0; base < N; base += B) {
			__u32 n = B;

			for (uint32_t i = 0; i < B; i++) {
				memset(&pk[i], 0, sizeof(pk[i]));
				pk[i].addr = htonl(0xcb007100u + (base + i) / 60000);
				pk[i].port = htons((uint16_t)(1024 + (base + i) % 60000));
				pk[i].proto = IPPROTO_TCP;
			}
			cr_assert_eq(bpf_map_update_batch(srv_d->fd.ports, pk, pv, &n, NULL), 0,
				     "bpf_map_update_batch: %s", strerror(errno));
		}
	}
	slices = serve_sliced(&j, "show pools\n", "allocation failures (all pools):");
	cr_assert_gt(slices, 1, "counted in %llu slices", (unsigned long long)slices);
	close(srv_d->fd.ports);
	close(srv_d->fd.paired);
	srv_d->fd.ports = srv_d->fd.paired = -1;
	close(srv_d->fd.session_rev);
	srv_d->fd.session_rev = -1;
	close(srv_d->fd.sessions);
	srv_d->fd.sessions = -1;
	srv_daemon_fini();
}

/*
 * show metrics walks every session (the per-state gauges) and every port:
 * it renders on a thread of its own (daemon/metrics.c) that signals an
 * eventfd when done, and the handler answers CTL_WAIT on it meanwhile. So
 * the loop calls the handler twice (the start, then once the text is
 * ready), neither blocking in it nor spinning on it while the thread
 * works; the answer through the socket is the same exposition as the
 * synchronous one, counting all 300,000 sessions.
 */
static int metrics_calls, metrics_waits;

static int counted_metrics(struct ns_daemon *d, const struct ctl_request *req,
			   struct ctl_out *out, void *arg)
{
	int r = ns_metrics_ctl_show(d, req, out, arg);

	metrics_calls++;
	metrics_waits += r == CTL_WAIT;
	return r;
}

Test(ctlserver, show_metrics_rendered_off_the_loop)
{
	enum { N = 300000 };
	const char *want = "natsync_sessions{family=\"ipv4\",proto=\"tcp\",state=\"established\"} 300000\n";
	struct client_job j = { 0 };
	const char *sync_r;
	uint64_t slices;

	srv_daemon_init(true);
	fill_sessions(N);
	ns_control_set_handler(srv, CTL_SHOW_METRICS, ns_metrics_ctl_show, NULL);
	sync_r = answer("show metrics");
	cr_assert(!strncmp(sync_r, "OK\n", 3), "%s", sync_r);
	cr_assert_not_null(strstr(sync_r, want), "%.2000s", sync_r);

	ns_control_set_handler(srv, CTL_SHOW_METRICS, counted_metrics, NULL);
	slices = serve_sliced(&j, "show metrics\n", want);
	cr_assert_eq(metrics_waits, 1, "the handler waited %d times", metrics_waits);
	cr_assert_eq(metrics_calls, 2, "the loop called the handler %d times (a spin?)",
		     metrics_calls);
	cr_assert_eq(slices, 1, "answered in %llu slices", (unsigned long long)slices);
	close(srv_d->fd.sessions);
	srv_d->fd.sessions = -1;
	srv_daemon_fini();
}

/*
 * A client that hangs up while show metrics renders: the server stops
 * watching the handler's eventfd and drops the request (client_drop), the
 * thread finishes on its own and frees what is left; the next request is
 * answered whole. Run under asan-unit for the memory side.
 */
Test(ctlserver, show_metrics_client_gone_while_waiting)
{
	enum { N = 100000 };
	struct client_job j = { 0 };

	srv_daemon_init(true);
	fill_sessions(N);
	ns_control_set_handler(srv, CTL_SHOW_METRICS, counted_metrics, NULL);
	metrics_calls = metrics_waits = 0;
	j.path = srv_d->conf.control_socket;
	j.send = "show metrics\n";
	j.send_len = strlen(j.send);
	j.hang_up = true;
	serve(&j);
	cr_assert_not(j.send_failed);

	/* the loop may see the first request only now: both wait, once each */
	j.hang_up = false;
	serve_sliced(&j, "show metrics\n",
		     "natsync_sessions{family=\"ipv4\",proto=\"tcp\",state=\"established\"} 100000\n");
	cr_assert_eq(metrics_waits, 2, "the handler waited %d times", metrics_waits);
	close(srv_d->fd.sessions);
	srv_d->fd.sessions = -1;
	srv_daemon_fini();
}
