// SPDX-License-Identifier: GPL-2.0
/*
 * test_prom.c - the Prometheus exposition: the encoder (daemon/prom.c:
 * names, label escaping, HELP/TYPE lines, refusals), the JSON flattener the
 * sync and redundancy figures go through (daemon/jsonflat.c), the listen
 * address of metrics { } and the rendering of a whole scrape over a real
 * counters map (daemon/metrics.c): a line per fast-path counter.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon/config.h"
#include "daemon/counters.h"
#include "daemon/jsonflat.h"
#include "daemon/metrics.h"
#include "daemon/prom.h"

/* An exposition written into a memory buffer. */
struct mem {
	char *buf;
	size_t len;
	FILE *f;
};

static void mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	cr_assert_not_null(m->f);
}

static const char *mem_text(struct mem *m)
{
	fflush(m->f);
	return m->buf;
}

static void mem_close(struct mem *m)
{
	fclose(m->f);
	free(m->buf);
}

/* Lines of text that start with prefix. */
static int count_lines(const char *text, const char *prefix)
{
	int n = 0;
	size_t pl = strlen(prefix);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		n += !strncmp(l, prefix, pl);
	return n;
}

Test(prom, help_and_type_then_samples)
{
	struct ns_prom_label l[2] = { { "pool", "p1" }, { "proto", "tcp" } };
	struct mem m;
	struct ns_prom p;

	mem_open(&m);
	ns_prom_init(&p, m.f);
	cr_assert_eq(ns_prom_family(&p, "natsync_x_total", NS_PROM_COUNTER, "what x counts"), 0);
	cr_assert_eq(ns_prom_u64(&p, "natsync_x_total", NULL, 0, 18446744073709551615ull), 0);
	cr_assert_eq(ns_prom_family(&p, "natsync_y", NS_PROM_GAUGE, "y"), 0);
	cr_assert_eq(ns_prom_u64(&p, "natsync_y", l, 2, 7), 0);
	cr_assert_eq(ns_prom_double(&p, "natsync_y", l, 1, 0.25), 0);
	cr_assert_eq(ns_prom_finish(&p), 0);
	cr_assert_str_eq(mem_text(&m), "# HELP natsync_x_total what x counts\n"
				       "# TYPE natsync_x_total counter\n"
				       "natsync_x_total 18446744073709551615\n"
				       "# HELP natsync_y y\n"
				       "# TYPE natsync_y gauge\n"
				       "natsync_y{pool=\"p1\",proto=\"tcp\"} 7\n"
				       "natsync_y{pool=\"p1\"} 0.25\n");
	mem_close(&m);
}

Test(prom, label_values_and_help_are_escaped)
{
	struct ns_prom_label l[1] = { { "detail", "a\\b \"q\"\nnext" } };
	struct mem m;
	struct ns_prom p;

	mem_open(&m);
	ns_prom_init(&p, m.f);
	cr_assert_eq(ns_prom_family(&p, "natsync_e", NS_PROM_GAUGE, "back\\slash\nnewline \"q\""), 0);
	cr_assert_eq(ns_prom_u64(&p, "natsync_e", l, 1, 1), 0);
	cr_assert_eq(ns_prom_finish(&p), 0);
	/* HELP: backslash and newline escaped, quotes as they are */
	cr_assert_str_eq(mem_text(&m), "# HELP natsync_e back\\\\slash\\nnewline \"q\"\n"
				       "# TYPE natsync_e gauge\n"
				       "natsync_e{detail=\"a\\\\b \\\"q\\\"\\nnext\"} 1\n");
	mem_close(&m);
}

Test(prom, special_values)
{
	struct mem m;
	struct ns_prom p;

	mem_open(&m);
	ns_prom_init(&p, m.f);
	ns_prom_family(&p, "g", NS_PROM_GAUGE, "");
	ns_prom_double(&p, "g", NULL, 0, 1.0 / 0.0);
	ns_prom_double(&p, "g", NULL, 0, -1.0 / 0.0);
	ns_prom_double(&p, "g", NULL, 0, 0.0 / 0.0);
	cr_assert_eq(ns_prom_finish(&p), 0);
	cr_assert_str_eq(mem_text(&m), "# HELP g \n# TYPE g gauge\ng +Inf\ng -Inf\ng NaN\n");
	mem_close(&m);
}

Test(prom, names)
{
	const char *good[] = { "a", "_a", ":a", "natsync_rx_total", "a:b_c9" };
	const char *bad[] = { "", "9a", "a-b", "a b", "a.b", "é", NULL };
	const char *lgood[] = { "a", "_a", "proto", "le", "a9" };
	const char *lbad[] = { "", "9a", "__reserved", "a:b", "a-b", NULL };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(ns_prom_metric_name_ok(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(ns_prom_metric_name_ok(bad[i]), "%s", bad[i] ? bad[i] : "NULL");
	for (size_t i = 0; i < sizeof(lgood) / sizeof(lgood[0]); i++)
		cr_assert(ns_prom_label_name_ok(lgood[i]), "%s", lgood[i]);
	for (size_t i = 0; i < sizeof(lbad) / sizeof(lbad[0]); i++)
		cr_assert_not(ns_prom_label_name_ok(lbad[i]), "%s", lbad[i] ? lbad[i] : "NULL");
}

Test(prom, sanitize)
{
	char out[16];

	cr_assert_str_eq(ns_prom_sanitize("tcp-syn.x y", out, sizeof(out)), "tcp_syn_x_y");
	cr_assert_str_eq(ns_prom_sanitize("a_very_long_name_here", out, 8), "a_very_");
}

Test(prom, refusals_write_nothing)
{
	struct ns_prom_label badl[1] = { { "__x", "v" } };
	struct ns_prom_label dup[2] = { { "a", "1" }, { "a", "2" } };
	struct mem m;
	struct ns_prom p;

	mem_open(&m);
	ns_prom_init(&p, m.f);
	cr_assert_eq(ns_prom_family(&p, "bad-name", NS_PROM_GAUGE, "x"), -1);
	cr_assert_eq(ns_prom_u64(&p, "orphan", NULL, 0, 1), -1); /* before any family */
	cr_assert_eq(ns_prom_family(&p, "f", NS_PROM_GAUGE, "x"), 0);
	cr_assert_eq(ns_prom_family(&p, "f", NS_PROM_GAUGE, "x"), -1);  /* twice */
	cr_assert_eq(ns_prom_u64(&p, "other", NULL, 0, 1), -1);         /* outside f */
	cr_assert_eq(ns_prom_u64(&p, "f_bucket", NULL, 0, 1), -1);      /* f is no histogram */
	cr_assert_eq(ns_prom_u64(&p, "f", badl, 1, 1), -1);
	cr_assert_eq(ns_prom_u64(&p, "f", dup, 2, 1), -1);
	cr_assert_eq(ns_prom_finish(&p), 7);
	cr_assert_str_eq(p.why, "invalid metric name 'bad-name'");
	cr_assert_str_eq(mem_text(&m), "# HELP f x\n# TYPE f gauge\n");
	mem_close(&m);
}

Test(prom, histogram_series)
{
	struct ns_prom_label le[1] = { { "le", "+Inf" } };
	struct mem m;
	struct ns_prom p;

	mem_open(&m);
	ns_prom_init(&p, m.f);
	cr_assert_eq(ns_prom_family(&p, "h_seconds", NS_PROM_HISTOGRAM, "h"), 0);
	cr_assert_eq(ns_prom_u64(&p, "h_seconds_bucket", le, 1, 3), 0);
	cr_assert_eq(ns_prom_double(&p, "h_seconds_sum", NULL, 0, 1.5), 0);
	cr_assert_eq(ns_prom_u64(&p, "h_seconds_count", NULL, 0, 3), 0);
	cr_assert_eq(ns_prom_u64(&p, "h_seconds_total", NULL, 0, 3), -1);
	cr_assert_eq(ns_prom_finish(&p), 1);
	cr_assert_str_eq(mem_text(&m), "# HELP h_seconds h\n# TYPE h_seconds histogram\n"
				       "h_seconds_bucket{le=\"+Inf\"} 3\nh_seconds_sum 1.5\n"
				       "h_seconds_count 3\n");
	mem_close(&m);
}

/* ---- jsonflat ------------------------------------------------------------ */

static int collect(const char *path, const char *key, enum ns_jf_kind kind, const char *text,
		   void *arg)
{
	FILE *f = arg;

	if (kind == NS_JF_END)
		fprintf(f, "end(%s)\n", path);
	else
		fprintf(f, "%s|%s|%d|%s\n", path, key, (int)kind, text);
	return 0;
}

Test(jsonflat, members_paths_and_arrays_skipped)
{
	struct mem m;

	mem_open(&m);
	cr_assert_eq(ns_json_flatten("{\"a\":1,\"s\":\"x\\\"y\\u00e9\",\"o\":{\"b\":true,\"n\":null,"
				     "\"h\":[{\"z\":1},2]},\"c\":-1.5e3}",
				     collect, m.f), 0);
	cr_assert_str_eq(mem_text(&m), "|a|1|1\n"
				       "|s|0|x\"y\xc3\xa9\n"
				       "o|b|2|true\n"
				       "o|n|3|\n"
				       "end(o)\n"
				       "|c|1|-1.5e3\n"
				       "end()\n");
	mem_close(&m);
}

Test(jsonflat, invalid_documents)
{
	const char *bad[] = { "", "[]", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":tru}",
			      "{\"a\":\"\x01\"}", "{\"a\":1} x", "{\"a\":\"\\q\"}", NULL };
	char deep[128] = "";
	struct mem m;

	mem_open(&m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ns_json_flatten(bad[i], collect, m.f), -1, "%s",
			     bad[i] ? bad[i] : "NULL");
	for (int i = 0; i < 20; i++)
		strcat(deep, "{\"a\":");
	cr_assert_eq(ns_json_flatten(deep, collect, m.f), -1);
	mem_close(&m);
}

/* ---- metrics { listen } -------------------------------------------------- */

Test(metrics_conf, listen_addresses)
{
	struct ns_metrics_conf m;
	char err[160];

	cr_assert_eq(ns_metrics_parse_listen("198.51.100.1:9477", &m, err, sizeof(err)), 0);
	cr_assert(m.enabled);
	cr_assert_eq(m.family, AF_INET);
	cr_assert_eq(m.port, 9477);
	cr_assert_eq(ns_metrics_parse_listen("[2001:db8::1]:80", &m, err, sizeof(err)), 0);
	cr_assert_eq(m.family, AF_INET6);
	cr_assert_eq(m.port, 80);
	cr_assert_eq(ns_metrics_parse_listen("localhost", &m, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "'localhost' is not ADDR:PORT (e.g. \"198.51.100.1:9477\")");
	/* a refused value changes nothing */
	cr_assert(m.enabled);
	cr_assert_eq(m.family, AF_INET6);
	cr_assert_eq(m.port, 80);
	cr_assert_str_eq(m.listen, "[2001:db8::1]:80");
	cr_assert_eq(ns_metrics_parse_listen("1.2.3.4:0", &m, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "'1.2.3.4:0': port '0' is not 1-65535");
	cr_assert_eq(ns_metrics_parse_listen("1.2.3.4:65536", &m, err, sizeof(err)), -1);
	cr_assert_eq(ns_metrics_parse_listen("host:80", &m, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "'host:80': 'host' is not an IPv4 address (IPv6: [ADDR]:PORT)");
	cr_assert_eq(ns_metrics_parse_listen("[zz]:80", &m, err, sizeof(err)), -1);
	cr_assert_eq(ns_metrics_parse_listen("2001:db8::1:80", &m, err, sizeof(err)), -1);
}

/* A valid box with METRICS (a member of natsync { }) spliced in. */
#define BOX(METRICS)                                                                       \
	"natsync: { " METRICS " services: { nat: {"                                        \
	" pools = ( { name = \"p1\"; address = [ \"203.0.113.0/28\" ]; port = \"automatic\"; } );" \
	" rules = ( { name = \"r1\"; match-direction = \"input\"; terms = ( { name = \"t1\";"   \
	" from = { source-address = [ \"100.64.0.0/10\" ]; };"                                 \
	" then = { translation-type = \"napt-44\"; source-pool = \"p1\"; }; } ); } ); };"        \
	" service-sets = ( { name = \"ss1\"; nat-rules = [ \"r1\" ];"                           \
	" next-hop-service = { inside-service-interface = \"a-in\";"                            \
	" outside-service-interface = \"a-out\"; }; } ); }; };"

Test(metrics_conf, off_by_default_and_in_the_file)
{
	static struct ns_config c;
	char err[NS_CONF_ERR_MAX];

	cr_assert_eq(ns_config_load_string(BOX(""), "t", &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(c.metrics.enabled);
	cr_assert_eq(ns_config_load_string(BOX("metrics: { listen = \"127.0.0.1:9477\"; };"), "t",
					   &c, err, sizeof(err)), 0, "%s", err);
	cr_assert(c.metrics.enabled);
	cr_assert_str_eq(c.metrics.listen, "127.0.0.1:9477");
	cr_assert_eq(ns_config_load_string(BOX("metrics: { };"), "t", &c, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_not(c.metrics.enabled);
	cr_assert_eq(ns_config_load_string(BOX("metrics: { listen = \"x\"; };"), "t", &c, err,
					   sizeof(err)), -1);
	cr_assert(strstr(err, "metrics.listen") && strstr(err, "'x' is not ADDR:PORT"), "%s", err);
	cr_assert_eq(ns_config_load_string(BOX("metrics: { lisen = \"1.2.3.4:1\"; };"), "t", &c,
					   err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown key (did you mean 'listen'?)"), "%s", err);
	cr_assert_eq(ns_config_load_string(BOX("metrics: { listen = 9477; };"), "t", &c, err,
					   sizeof(err)), -1);
	cr_assert(strstr(err, "expected a string"), "%s", err);
}

/* ---- a whole scrape over a real counters map ------------------------------ */

Test(metrics_render, a_line_per_counter)
{
	struct ns_metrics_snap s = { 0 };
	struct ns_metrics_fds fds = { -1, -1, -1, -1, -1 };
	int ncpu = libbpf_num_possible_cpus(), bad;
	uint64_t *vals;
	struct mem m;
	char line[160];

	if (geteuid() != 0)
		cr_skip_test("needs root (BPF maps)");
	fds.counters = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "ns_counters", 4, 8, NS_CNT_MAX,
				      NULL);
	cr_assert_geq(fds.counters, 0, "bpf_map_create: %s", strerror(errno));
	vals = calloc((size_t)ncpu, 8);
	for (uint32_t k = 0; k < NS_CNT_MAX; k++) {
		for (int c = 0; c < ncpu; c++)
			vals[c] = k + 1; /* sum: (k + 1) * ncpu */
		cr_assert_eq(bpf_map_update_elem(fds.counters, &k, vals, 0), 0);
	}
	strcpy(s.node, "n\"1");
	s.sync_json = strdup("{\"enabled\":true,\"state\":\"connected\",\"counters\":"
			     "{\"frames_tx\":5,\"queued_max\":9}}");
	s.red_json = strdup("{\"role\":\"primary\",\"ready\":true}");
	mem_open(&m);
	bad = ns_metrics_render(&s, &fds, 0, m.f);
	/* the session and pool maps are not there: two parts unread, said so */
	cr_assert_eq(bad, 2);
	mem_text(&m);
	for (int i = 0; i < NS_CNT_MAX; i++) {
		snprintf(line, sizeof(line), "natsync_fastpath_%s_total %llu\n", ns_counter_name(i),
			 (unsigned long long)(i + 1) * ncpu);
		cr_assert_eq(count_lines(m.buf, line), 1, "%s", line);
		snprintf(line, sizeof(line), "# TYPE natsync_fastpath_%s_total counter\n",
			 ns_counter_name(i));
		cr_assert_eq(count_lines(m.buf, line), 1, "%s", line);
		snprintf(line, sizeof(line), "# HELP natsync_fastpath_%s_total %s\n",
			 ns_counter_name(i), ns_counter_help(i));
		cr_assert_eq(count_lines(m.buf, line), 1, "%s", line);
		cr_assert_neq(ns_counter_help(i)[0], '\0', "counter %s has no HELP text",
			      ns_counter_name(i));
	}
	cr_assert_eq(count_lines(m.buf, "natsync_fastpath_"), NS_CNT_MAX);
	cr_assert_eq(count_lines(m.buf, "natsync_build_info{version="), 1);
	cr_assert(strstr(m.buf, ",node=\"n\\\"1\","), "node label not escaped");
	cr_assert_eq(count_lines(m.buf, "natsync_sync_counters_frames_tx_total 5\n"), 1);
	cr_assert_eq(count_lines(m.buf, "natsync_sync_counters_queued_max 9\n"), 1);
	cr_assert_eq(count_lines(m.buf, "natsync_sync_enabled 1\n"), 1);
	cr_assert_eq(count_lines(m.buf, "natsync_sync_info{state=\"connected\"} 1\n"), 1);
	cr_assert_eq(count_lines(m.buf, "natsync_redundancy_info{role=\"primary\"} 1\n"), 1);
	cr_assert_eq(count_lines(m.buf, "natsync_metrics_errors 2\n"), 1);
	cr_assert_eq(count_lines(m.buf, "natsync_sessions{"), 0); /* no map: no figure */
	mem_close(&m);
	free(s.sync_json);
	free(s.red_json);
	free(vals);
	close(fds.counters);
}
