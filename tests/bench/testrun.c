// SPDX-License-Identifier: GPL-2.0
/*
 * testrun.c - per-packet cost with BPF_PROG_TEST_RUN (issue 5, part 1).
 *
 * The kernel times the program loop itself and reports ns per run (the copy
 * of the packet and the syscall are outside the timed loop). Three methods:
 *
 *  - stateless programs (no-op, parse + lookup): one call with repeat = R
 *    (millions) per round; the figure is the median of the rounds;
 *  - programs that rewrite the packet (forwarders, natsync): test_run reuses
 *    the same buffer for every repeat, so repeat N runs the program on its
 *    own output. The TTL decrement of a forwarder limits N (TTL 255 -> 250
 *    runs), and natsync's translation is made to land on a session again
 *    by a pair of sessions A/B whose translations are each other's inverse
 *    (see ns_testrun_size in nsmaps.c). So a round is a few calls of repeat
 *    250, every run an established hit;
 *  - session setup needs a new tuple per run: a loop of calls with repeat 1
 *    over pre-built packets, against the same loop with the no-op program,
 *    both timed by the kernel; setup cost = difference of the medians.
 * Table sizes: empty (maps sized like the largest case), 1k, 1M, 10M (quick:
 * 100k, no 10M); at 1M (quick 100k) the cost ladder of ladder.c follows.
 * Before a natsync case is timed, one run's output is checked (translated
 * tuple, checksums recomputed, counters), so a drop path is never timed by
 * mistake; the counters after the timed runs are checked again.
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

#define TTL_REPEAT 250 /* runs per call when every run decrements the TTL */

int bench_run(int prog_fd, const struct pkt *in, int ifindex, uint32_t repeat,
	      double *ns, uint32_t *retval, struct pkt *out)
{
	struct xdp_md ctx = { .data_end = in->len, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = in->data,
		    .data_size_in = in->len,
		    .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx),
		    .repeat = repeat);
	int err;

	if (out) {
		opts.data_out = out->data;
		opts.data_size_out = sizeof(out->data);
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	if (out)
		out->len = opts.data_size_out;
	if (ns)
		*ns = opts.duration;
	if (retval)
		*retval = opts.retval;
	return 0;
}

/*
 * Rounds of `calls` calls with repeat `repeat` each; one value per round:
 * the mean ns/run of its calls. Returns 0 or -errno.
 */
static int measure(int prog_fd, const struct pkt *p, int ifindex, uint32_t repeat,
		   long calls, int rounds, struct bench_stat *st)
{
	double v[32], ns = 0, sum;
	long c;
	int r, err;

	for (r = 0; r < rounds && r < 32; r++) {
		sum = 0;
		for (c = 0; c < calls; c++) {
			err = bench_run(prog_fd, p, ifindex, repeat, &ns, NULL, NULL);
			if (err)
				return err;
			sum += ns;
		}
		v[r] = sum / calls;
	}
	bench_stat_of(v, r, st);
	return 0;
}

/*
 * Calls of repeat 250 per round. Few: every test_run call with repeat > 1
 * swaps the XDP dispatcher twice (about 20 ms of wall time, outside the
 * timed loop), so the runs are spread over rounds instead.
 */
static long ttl_calls(const struct bench_opts *o)
{
	return o->ttl_calls;
}

static void emit(const char *name, long sessions, const struct bench_stat *st,
		 const char *how, const char *note, const char *target)
{
	struct bench_fig f = { "testrun", name, sessions, "ns/pkt", st, how, note, target };

	bench_emit(&f);
}

/* Flow k of bench_flows: flow 0 is the tuple of the packet arg. */
static void flow_entry(long k, void *key, void *val, const void *arg)
{
	const struct pkt *p = arg;

	*(struct ns_tuple *)key = k ? pkt_tuple(0x64600000u + (uint32_t)k, 7, 0xc6336402u, 53, 17)
				    : pkt_parse_tuple(p->data, p->len);
	*(__u64 *)val = 0;
}

/* Fill bench_flows with n flows, flow 0 being the tuple of p. */
static int fill_flows(struct xdp_min_bpf *skel, const struct pkt *p, long n)
{
	return nsb_batch(bpf_map__fd(skel->maps.bench_flows), 0, n, sizeof(struct ns_tuple),
			 sizeof(__u64), flow_entry, p);
}

/* The reference programs: no-op, parse + one lookup, minimal forwarder. */
static int run_reference(const struct bench_opts *o, const bool *ok, struct bench_ref *ref)
{
	struct xdp_min_bpf *skel;
	struct ns_tuple t = pkt_tuple(0x6440000a, 40000, 0xc6336402, 53, 17);
	struct bench_stat st;
	char how[256];
	struct pkt p;
	int ifin = if_nametoindex(BENCH_IF_IN);
	long largest = 1 << 20;
	int s, err;

	skel = xdp_min_bpf__open();
	if (!skel) {
		fprintf(stderr, "bench: cannot open xdp_min: %s\n", strerror(errno));
		return -1;
	}
	for (s = 0; s < o->n_sizes; s++)
		if (o->sizes[s] > largest && ok[s])
			largest = o->sizes[s];
	/* The ladder's session table is loaded by ladder.c, sized there. */
	bpf_map__set_max_entries(skel->maps.bench_flows, (__u32)largest);
	bpf_map__set_max_entries(skel->maps.bench_sess, 1);
	err = xdp_min_bpf__load(skel);
	if (err) {
		fprintf(stderr, "bench: cannot load xdp_min: %s\n", strerror(-err));
		xdp_min_bpf__destroy(skel);
		return -1;
	}
	pkt_udp(&p, &t, 255, 0);

	err = measure(bpf_program__fd(skel->progs.bench_noop), &p, ifin, o->repeat, 1,
		      o->rounds, &st);
	if (err)
		goto out;
	snprintf(how, sizeof(how), "repeat %u per call, median of %d calls", o->repeat, o->rounds);
	emit("no-op XDP (ref 26 ns)", -1, &st, how, NULL, NULL);

	err = measure(bpf_program__fd(skel->progs.bench_noop), &p, ifin, TTL_REPEAT,
		      ttl_calls(o), o->rounds, &st);
	if (err)
		goto out;
	snprintf(how, sizeof(how), "%ld calls x repeat %d per round, median of %d rounds",
		 ttl_calls(o), TTL_REPEAT, o->rounds);
	emit("no-op XDP, repeat-250 method", -1, &st, how,
	     "same method as the rewriting cases: shows what the method adds", NULL);

	err = measure(bpf_program__fd(skel->progs.bench_noop), &p, ifin, 1,
		      o->new_sessions / o->rounds, o->rounds, &st);
	if (err)
		goto out;
	ref->noop_call = st;
	snprintf(how, sizeof(how), "%ld calls x repeat 1 per round, kernel-timed, median of %d rounds",
		 o->new_sessions / o->rounds, o->rounds);
	emit("no-op XDP, repeat-1 method (setup baseline)", -1, &st, how, NULL, NULL);

	for (s = 0; s < o->n_sizes; s++) {
		if (!o->sizes[s] || !ok[s])
			continue;
		err = fill_flows(skel, &p, o->sizes[s]);
		if (err)
			goto out;
		err = measure(bpf_program__fd(skel->progs.bench_parse_lookup), &p, ifin,
			      o->repeat, 1, o->rounds, &st);
		if (err)
			goto out;
		snprintf(how, sizeof(how), "repeat %u per call, median of %d calls, hit in a "
			 "%ld-entry hash", o->repeat, o->rounds, o->sizes[s]);
		emit("parse + 1 hash lookup (xdp_min, ref 45 ns)", o->sizes[s], &st, how, NULL, NULL);
		ref->parse_lookup = st;
	}

	err = measure(bpf_program__fd(skel->progs.bench_fwd), &p, ifin, TTL_REPEAT,
		      ttl_calls(o), o->rounds, &st);
	if (err)
		goto out;
	snprintf(how, sizeof(how), "%ld calls x repeat %d per round (TTL 255), median of %d "
		 "rounds; fib hit with a resolved neighbour, XDP_REDIRECT",
		 ttl_calls(o), TTL_REPEAT, o->rounds);
	emit("minimal XDP forwarder: parse + fib + redirect", -1, &st, how, NULL, NULL);
	ref->fwd = st;
out:
	if (err)
		fprintf(stderr, "bench: reference test_run failed: %s\n", strerror(-err));
	xdp_min_bpf__destroy(skel);
	return err;
}

/* Map entries of natsync's session-sized maps for a table of n sessions. */
static long maps_for(const struct bench_opts *o, long n)
{
	return n + o->new_sessions + 4096;
}

/*
 * Which sizes fit in memory (the 10M table needs several GiB; nothing else
 * is measured while it is loaded, but other jobs may use the memory):
 * ok[s], or the reason in why[s] (printed as the n/a rows of that size).
 */
static void sizes_that_fit(const struct bench_opts *o, bool *ok, char (*why)[256])
{
	int s;

	for (s = 0; s < o->n_sizes; s++)
		ok[s] = o->sizes[s] < BENCH_BIG_TABLE ||
			bench_mem_check(maps_for(o, o->sizes[s]), NSB_BYTES_PER_ENTRY, why[s],
					sizeof(why[s]));
}

/* The programs' verifier cost, from one load of the object. */
static void emit_insns(void)
{
	char why[256], note[300];
	struct nsb *b = nsb_open(4096, false, why, sizeof(why));

	if (!b) {
		snprintf(note, sizeof(note), "error: %s", why);
		bench_emit_na("testrun", "verified instructions, natsync_xdp", -1, note,
			      "<= 1000000");
		return;
	}
	nsb_emit_insns(b);
	nsb_close(b);
}

int cmd_testrun(const struct bench_opts *o)
{
	struct bench_ref ref;
	char why[4][256];
	bool ok[4];
	long biggest = 0;
	int s, err;

	memset(&ref, 0, sizeof(ref));
	if (!if_nametoindex(BENCH_IF_IN) || !if_nametoindex(BENCH_IF_OUT)) {
		fprintf(stderr, "bench: %s/%s missing: run through tests/bench/run.sh\n",
			BENCH_IF_IN, BENCH_IF_OUT);
		return -1;
	}
	sizes_that_fit(o, ok, why);
	for (s = 0; s < o->n_sizes; s++)
		if (ok[s])
			biggest = o->sizes[s];
	err = run_reference(o, ok, &ref);
	if (err)
		return err;
	emit_insns();
	/* the NAT64 rows are measured per size in nat64.c */
	for (s = 0; s < o->n_sizes; s++) {
		if (!ok[s]) {
			ns_testrun_na(o->sizes[s], why[s]);
			continue;
		}
		/* The empty table gets the biggest case's maps: a deployed box's
		 * maps are sized to max-sessions from the start, so "flat from
		 * empty to 10M" compares occupancy, not map size. */
		ns_testrun_size(o, o->sizes[s], o->sizes[s] ? 0 : maps_for(o, biggest), &ref);
		if (o->sizes[s] == o->mid)
			bench_ladder(o, o->mid);
	}
	bench_pba_logs();
	if (o->quick)
		bench_emit_na("testrun", "natsync session setup (new flow), net of no-op",
			      BENCH_BIG_TABLE, "n/a (quick mode: no 10M table)", "<= 1000");
	return 0;
}

/* Helpers for nsmaps.c: time a rewriting case the way the references are. */
int bench_measure_ttl(const struct bench_opts *o, int prog_fd, const struct pkt *p,
		      int ifindex, struct bench_stat *st)
{
	return measure(prog_fd, p, ifindex, TTL_REPEAT, ttl_calls(o), o->rounds, st);
}

long bench_ttl_runs(const struct bench_opts *o)
{
	return ttl_calls(o) * TTL_REPEAT * o->rounds;
}

void bench_emit_testrun(const char *name, long sessions, const struct bench_stat *st,
			const char *how, const char *note, const char *target)
{
	emit(name, sessions, st, how, note, target);
}
