// SPDX-License-Identifier: GPL-2.0
/*
 * ladder.c - where the time of natsync's established NAPT44 path goes
 * (issue 5, the "breakdown" rows of the test_run section).
 *
 * The reference programs bench_l1_lookup .. bench_l4_counted of
 * xdp_min.bpf.c each add one piece of the work natsync does for an
 * established in->out packet: the session lookup and its accounting, the
 * fib lookup and redirect, the source NAT with incremental checksums,
 * natsync's configuration lookups and verdict counters. They run on the
 * same packet, against a table of the same size and key/value layout as
 * natsync's ns_sessions, with the same method as natsync's own row (calls
 * of repeat 250, the output of a run the next run's input: an A/B session
 * pair whose translations are each other's inverse). report.py prints the
 * step-to-step differences and natsync's distance to the last step.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bench.h"
#include "nsmaps.h"
#include "xdp_min.skel.h"

/* The bench's A/B pair, the same addresses as natsync's (nsmaps.c). */
#define L_SUB 0x6440000au  /* 100.64.0.10 */
#define L_SRV 0xc6336402u  /* 198.51.100.2 */
#define L_POOL 0xcb007101u /* 203.0.113.1 */

/* Filler session k (distinct from A/B): only the keys the programs read. */
static void filler_entry(long k, void *key, void *val, const void *arg)
{
	struct ns_tuple *t = key;
	struct ns_session *s = val;

	(void)arg;
	*t = pkt_tuple(0x64600000u + (uint32_t)(k >> 6), (uint16_t)(10000 + (k & 63)), L_SRV, 443,
		       17);
	memset(s, 0, sizeof(*s));
	s->in_key = *t;
	s->out_key = pkt_tuple(L_POOL, (uint16_t)(1024 + (k & 0x7fff)), L_SRV, 443, 17);
}

/* n filler sessions plus A and B, batch-inserted. */
static int fill_sessions(int fd, long n, const struct ns_tuple *a, const struct ns_tuple *a_to,
			 const struct ns_tuple *b, const struct ns_tuple *b_to)
{
	struct ns_session v[2];
	int err = nsb_batch(fd, 0, n, sizeof(struct ns_tuple), sizeof(struct ns_session),
			    filler_entry, NULL);

	memset(v, 0, sizeof(v));
	v[0].in_key = *a;
	v[0].out_key = *a_to; /* the translation: out_key.saddr/sport */
	v[1].in_key = *b;
	v[1].out_key = *b_to;
	if (!err && (bpf_map_update_elem(fd, a, &v[0], BPF_ANY) ||
		     bpf_map_update_elem(fd, b, &v[1], BPF_ANY)))
		err = -errno;
	return err;
}

/* natsync-like configuration for bench_l4_counted. */
static int fill_l4(struct xdp_min_bpf *skel, int if_in, int if_out)
{
	struct ns_iface ifc = { .svc_set = 0, .side = NS_SIDE_INSIDE };
	struct ns_cfg cfg = { .flags = NS_CFG_F_ACTIVE, .n_svc = 1 };
	struct ns_svc svc = { .fw_count = 1, .nat_count = 1 };
	__u32 zero = 0, in = (__u32)if_in, out = (__u32)if_out;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.bench_ifaces), &in, &ifc, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.bench_cfg), &zero, &cfg, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.bench_svc), &zero, &svc, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.bench_tx), &out, &out, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.bench_tx), &in, &in, BPF_ANY))
		return -errno;
	return 0;
}

/* The cached next hop of bench_l3_nh_cached: what bpf_fib_lookup returns
 * for the server (nsbo, its static neighbour of run.sh). */
static int fill_nh(struct xdp_min_bpf *skel, int if_out)
{
	struct {
		__u32 ifindex;
		__u8 dmac[6], smac[6];
	} nh = { (__u32)if_out, { 0x02, 0, 0, 0, 0xb2, 0x02 }, { 0x02, 0, 0, 0, 0xb2, 0x01 } };
	__u32 zero = 0;

	return bpf_map_update_elem(bpf_map__fd(skel->maps.bench_nh), &zero, &nh, BPF_ANY) ?
	       -errno : 0;
}

struct rung {
	const char *name;
	struct bpf_program *prog;
	uint32_t verdict;           /* expected XDP verdict */
	const struct ns_tuple *out; /* expected output tuple */
};

/* Check one run of a rung (verdict, output tuple, checksums), then time it. */
static void run_rung(const struct bench_opts *o, long n, const struct rung *r,
		     const struct pkt *in, int ifindex)
{
	int fd = bpf_program__fd(r->prog);
	struct bench_stat st;
	struct ns_tuple got;
	char how[384];
	struct pkt out;
	uint32_t ret;

	if (bench_run(fd, in, ifindex, 1, NULL, &ret, &out)) {
		bench_emit_na("testrun", r->name, n, "error: test_run failed", NULL);
		return;
	}
	got = pkt_parse_tuple(out.data, out.len);
	if (ret != r->verdict || memcmp(&got, r->out, sizeof(got)) ||
	    !pkt_csum_ok(out.data, out.len)) {
		snprintf(how, sizeof(how), "error: check failed (verdict %u, want %u; tuple or "
			 "checksum not as expected)", ret, r->verdict);
		bench_emit_na("testrun", r->name, n, how, NULL);
		return;
	}
	if (bench_measure_ttl(o, fd, in, ifindex, &st)) {
		bench_emit_na("testrun", r->name, n, "error: test_run failed", NULL);
		return;
	}
	snprintf(how, sizeof(how), "%ld runs as calls of repeat 250 (each run's output the next "
		 "run's input), median of %d rounds, %ld-entry table of struct ns_session; checked "
		 "first: verdict %u, output tuple, checksums", bench_ttl_runs(o), o->rounds, n, ret);
	bench_emit_testrun(r->name, n, &st, how, NULL, NULL);
}

void bench_ladder(const struct bench_opts *o, long n)
{
	int if_in = (int)if_nametoindex(BENCH_IF_IN), if_out = (int)if_nametoindex(BENCH_IF_OUT);
	struct ns_tuple a = pkt_tuple(L_SUB, 40000, L_SRV, 53, 17);
	struct ns_tuple b = pkt_tuple(L_POOL, 65001, L_SRV, 53, 17);
	struct xdp_min_bpf *skel;
	char why[128];
	struct pkt p;
	int err;

	skel = xdp_min_bpf__open();
	if (!skel) {
		bench_emit_na("testrun", "breakdown: all steps", n, "error: xdp_min open failed",
			      NULL);
		return;
	}
	/* Same bucket count as natsync's ns_sessions in the n-session case. */
	bpf_map__set_max_entries(skel->maps.bench_sess, (__u32)(n + o->new_sessions + 4096));
	bpf_map__set_max_entries(skel->maps.bench_flows, 1);
	err = xdp_min_bpf__load(skel);
	err = err ?: fill_sessions(bpf_map__fd(skel->maps.bench_sess), n, &a, &b, &b, &a);
	err = err ?: fill_l4(skel, if_in, if_out);
	err = err ?: fill_nh(skel, if_out);
	if (err) {
		snprintf(why, sizeof(why), "error: loading/filling the ladder: %s", strerror(-err));
		bench_emit_na("testrun", "breakdown: all steps", n, why, NULL);
		xdp_min_bpf__destroy(skel);
		return;
	}
	pkt_udp(&p, &a, 255, 0);
	{
		const struct rung rungs[] = {
			{ "breakdown 1: parse + session lookup (96 B value) + accounting",
			  skel->progs.bench_l1_lookup, XDP_PASS, &a },
			{ "breakdown 2: 1 + fib lookup + TTL + MACs + redirect",
			  skel->progs.bench_l2_fwd, XDP_REDIRECT, &a },
			{ "breakdown 3: 2 + source NAT + incremental checksums (minimal NAPT44)",
			  skel->progs.bench_l3_nat, XDP_REDIRECT, &b },
			{ "breakdown 4: 3 + natsync's config lookups, 2 counters, devmap redirect",
			  skel->progs.bench_l4_counted, XDP_REDIRECT, &b },
			{ "breakdown 3 with a cached next hop instead of bpf_fib_lookup",
			  skel->progs.bench_l3_nh_cached, XDP_REDIRECT, &b },
		};
		size_t i;

		for (i = 0; i < sizeof(rungs) / sizeof(rungs[0]); i++)
			run_rung(o, n, &rungs[i], &p, if_in);
	}
	xdp_min_bpf__destroy(skel);
}
