// SPDX-License-Identifier: GPL-2.0
/*
 * nsmaps.c - natsync's fast path loaded and filled by the benchmarks
 * themselves (no daemon in the loop), and the natsync test_run cases.
 *
 * The skeleton is natsync's own (build/bpf/natsync.skel.h); the maps are
 * looked up by their names in common/natsync.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "nsmaps.h"
#include "common/pba.h"
#include "daemon/counters.h"
#include "daemon/util.h"

#include "natsync.skel.h"

/* Addresses of the bench's own sessions (host order). */
#define B_SUB 0x6440000au   /* 100.64.0.10: subscriber */
#define B_SUB_FW 0x64400014u /* 100.64.0.20: firewall-only subscriber */
#define B_SRV 0xc6336402u   /* 198.51.100.2: server */
#define B_RTR 0xc63364feu   /* 198.51.100.254: router sending ICMP errors */
#define B_POOL 0xcb007101u  /* 203.0.113.1 */
#define B_POOL_NET 0xcb007100u
#define B_POOL_ADDRS 256
#define B_PORT_SUB 40000
#define B_PORT_SRV 53
#define B_PORT_POOL 65001   /* above every prefilled port */

/* Prefilled sessions: fill.c (nsb_prefill), subscribers 100.96.0.0 + i/64. */
#define NEW_SUB_BASE 0x64500000u /* 100.80.0.0: session setup packets */

struct nsb {
	struct natsync_bpf *skel;
	struct bpf_object *obj;
};

/* Maps whose size is the session table's. */
static const char *const session_maps[] = {
	NS_MAP_SESSIONS, NS_MAP_SESSION_REV, NS_MAP_PORTS, NS_MAP_EIM, NS_MAP_PAIRED,
	NS_MAP_NAT64_SESS, NS_MAP_NAT64_REV,
};

/* The bench pool's port blocks (pba_setup): block-size 64, up to 4 blocks. */
static struct ns_pool_pba bench_pba(void)
{
	struct ns_pool_pba c = { .block_size = 64, .max_blocks = 4, .port_lo = 1024,
				 .port_hi = 65535 };

	c.blocks_per_addr = ns_pba_blocks_in(c.port_lo, c.port_hi, c.block_size);
	return c;
}

struct nsb *nsb_open(long max_sessions, bool blocks, char *why, size_t whylen)
{
	struct nsb *b = calloc(1, sizeof(*b));
	struct ns_pool_pba pba = bench_pba();
	/* natsyncd: ns_pba_map_entries() of a config with that pool (256 addresses) */
	uint64_t pba_n = blocks ? (uint64_t)B_POOL_ADDRS * pba.blocks_per_addr : 1;
	size_t i;
	int err;

	if (!b) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	b->skel = natsync_bpf__open();
	if (!b->skel) {
		snprintf(why, whylen, "natsync skeleton open failed: %s", strerror(errno));
		free(b);
		return NULL;
	}
	b->obj = b->skel->obj;
	for (i = 0; i < sizeof(session_maps) / sizeof(session_maps[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(b->obj, session_maps[i]);

		if (m)
			bpf_map__set_max_entries(m, (__u32)max_sessions);
	}
	if (pba_n > NS_MAX_PBA_BLOCKS)
		pba_n = NS_MAX_PBA_BLOCKS;
	bpf_map__set_max_entries(bpf_object__find_map_by_name(b->obj, NS_MAP_PBA), (__u32)pba_n);
	bpf_map__set_max_entries(bpf_object__find_map_by_name(b->obj, NS_MAP_PBA_BLK),
				 (__u32)pba_n);
	err = natsync_bpf__load(b->skel);
	if (err) {
		snprintf(why, whylen, "natsync skeleton load failed: %s", strerror(-err));
		natsync_bpf__destroy(b->skel);
		free(b);
		return NULL;
	}
	return b;
}

void nsb_close(struct nsb *b)
{
	if (!b)
		return;
	natsync_bpf__destroy(b->skel);
	free(b);
}
struct bpf_object *nsb_obj(struct nsb *b)
{
	return b->obj;
}

int nsb_prog_fd(struct nsb *b, bool tc)
{
	/* by name, as daemon/loader.c: each type has a second program, the
	 * NAT64 fragments' (natsync_*_frag64), reached by tail call only */
	struct bpf_program *p =
		bpf_object__find_program_by_name(b->obj, tc ? "natsync_tc" : "natsync_xdp");

	return p ? bpf_program__fd(p) : -1;
}

/* The verifier's cost of every program of the object: verified_insns of
 * the loaded programs (doc/nat64.md "Verifier cost"; bpftool 7.1 does not
 * print it). The limit is 1M instructions per program. */
void nsb_emit_insns(struct nsb *b)
{
	static const char how[] = "verified_insns of the loaded program (bpf_obj_get_info_by_fd), "
				  "natsync.bpf.o as natsyncd loads it";
	struct bpf_program *p;

	bpf_object__for_each_program(p, b->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		char name[128], note[160];

		memset(&info, 0, sizeof(info));
		snprintf(name, sizeof(name), "verified instructions, %s", bpf_program__name(p));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len)) {
			snprintf(note, sizeof(note), "error: cannot read the program's info: %s",
				 strerror(errno));
			bench_emit_na("testrun", name, -1, note, "<= 1000000");
			continue;
		}
		bench_emit_value("testrun", name, -1, "insns", info.verified_insns, how, NULL,
				 "<= 1000000");
	}
}

int nsb_map_fd(struct nsb *b, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(b->obj, name);

	return m ? bpf_map__fd(m) : -1;
}

static int put(struct nsb *b, const char *map, __u32 key, const void *val)
{
	int fd = nsb_map_fd(b, map);

	if (fd < 0)
		return -ENOENT;
	return bpf_map_update_elem(fd, &key, val, BPF_ANY) ? -errno : 0;
}

/* ns_tx_ports: ifindex -> ifindex, whatever devmap flavour holds it. */
static int put_tx_port(struct nsb *b, int ifindex)
{
	struct bpf_map *m = bpf_object__find_map_by_name(b->obj, NS_MAP_TX_PORTS);
	__u32 key = (__u32)ifindex, val[2] = { (__u32)ifindex, 0 };

	if (!m)
		return 0;
	if (bpf_map__type(m) == BPF_MAP_TYPE_DEVMAP && key >= bpf_map__max_entries(m))
		return -ERANGE;
	if (bpf_map__value_size(m) > sizeof(val))
		return -EINVAL;
	if (bpf_map__value_size(m) == 8)
		val[1] = (__u32)-1; /* struct bpf_devmap_val: no program */
	return bpf_map_update_elem(bpf_map__fd(m), &key, val, BPF_ANY) ? -errno : 0;
}

int nsb_fill_config(struct nsb *b, int if_in, int if_out)
{
	struct ns_cfg cfg = { .flags = NS_CFG_F_ACTIVE, .n_svc = 1 };
	struct ns_svc svc = { .fw_first = 0, .fw_count = 1, .nat_first = 0, .nat_count = 1,
			      .flags = NS_SVC_F_HAS_FW };
	struct ns_iface in = { .svc_set = 0, .side = NS_SIDE_INSIDE };
	struct ns_iface out = { .svc_set = 0, .side = NS_SIDE_OUTSIDE };
	struct ns_fw_term fw;
	struct ns_nat_term nat;
	struct ns_pool pool;
	int err;

	memset(&fw, 0, sizeof(fw));
	fw.m.sport_hi = fw.m.dport_hi = 65535;
	fw.m.dir_mask = NS_DIR_INPUT;
	fw.action = NS_FW_ACCEPT;

	memset(&nat, 0, sizeof(nat));
	nat.m.src_addr = htonl(0x64400000);
	nat.m.src_mask = htonl(0xffc00000); /* 100.64.0.0/10 */
	nat.m.sport_hi = nat.m.dport_hi = 65535;
	nat.m.dir_mask = NS_DIR_INPUT;
	nat.nat_type = NS_NAT_NAPT44;
	nat.flags = NS_NAT_F_PAIRED;
	nat.src_pool = 0;
	nat.dst_pool = 0xff;

	memset(&pool, 0, sizeof(pool));
	pool.ranges[0].first = B_POOL_NET;
	pool.ranges[0].count = B_POOL_ADDRS;
	pool.n_ranges = 1;
	pool.n_addrs = B_POOL_ADDRS;
	pool.port_lo = 1024;
	pool.port_hi = 65535;
	pool.flags = NS_POOL_F_RANDOM_PORT;

	err = put(b, NS_MAP_CONFIG, NS_CFG_SLOT_LIVE, &cfg); /* role + bank 0 in force */
	err = err ?: put(b, NS_MAP_CONFIG, NS_CFG_SLOT_BANK(0), &cfg);
	err = err ?: put(b, NS_MAP_SVC, 0, &svc);
	err = err ?: put(b, NS_MAP_FW_TERMS, 0, &fw);
	err = err ?: put(b, NS_MAP_NAT_TERMS, 0, &nat);
	err = err ?: put(b, NS_MAP_POOLS, 0, &pool);
	err = err ?: put(b, NS_MAP_IFACES, (__u32)if_in, &in);
	err = err ?: put(b, NS_MAP_IFACES, (__u32)if_out, &out);
	err = err ?: put_tx_port(b, if_in);
	err = err ?: put_tx_port(b, if_out);
	return err;
}

static struct ns_tuple reverse(const struct ns_tuple *t)
{
	struct ns_tuple r = *t;

	r.saddr = t->daddr;
	r.daddr = t->saddr;
	r.sport = t->dport;
	r.dport = t->sport;
	return r;
}

int nsb_put_frag(struct nsb *b, const struct ns_frag_key *k, struct ns_frag *v)
{
	int fd = nsb_map_fd(b, NS_MAP_FRAG);

	v->created_ns = ns_now();
	v->first = 1;
	if (fd < 0)
		return -ENOENT;
	return bpf_map_update_elem(fd, k, v, BPF_ANY) ? -errno : 0;
}

/* A datagram's first fragment went from @from to @to (NAPT44). */
static int nsb_add_frag(struct nsb *b, const struct ns_tuple *from, const struct ns_tuple *to,
			uint16_t id)
{
	struct ns_frag_key k;
	struct ns_frag v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.saddr = from->saddr;
	k.daddr = from->daddr;
	k.id = htons(id);
	k.proto = from->proto;
	k.side = NS_SIDE_INSIDE;
	v.new_saddr = to->saddr;
	v.new_daddr = to->daddr;
	return nsb_put_frag(b, &k, &v);
}

int nsb_counters(struct nsb *b, uint64_t out[NS_CNT_MAX])
{
	int fd = nsb_map_fd(b, NS_MAP_COUNTERS);

	if (fd < 0)
		return -ENOENT;
	return ns_counters_read(fd, out);
}

/* ------------------------------------------------------------------------
 * The natsync test_run cases.
 */

/* Sum of the drop verdict counters between two snapshots. */
static uint64_t drops_between(const uint64_t *a, const uint64_t *b)
{
	uint64_t d = 0;
	int i;

	for (i = 0; i < NS_CNT_MAX; i++)
		if (ns_counter_is_drop(i))
			d += b[i] - a[i];
	return d;
}

/* Name of the first counter (verdicts) that moved, for messages. */
static const char *moved(const uint64_t *a, const uint64_t *b)
{
	int i;

	for (i = 0; i < NS_CNT_MAX; i++)
		if (ns_counter_is_verdict(i) && b[i] != a[i])
			return ns_counter_name(i);
	return "none";
}

struct ns_case {
	const char *name;
	const struct pkt *in;
	int ifindex;
	struct ns_tuple expect;     /* tuple of the output (outer) packet */
	int count_idx;              /* counter that must move once per run */
	const char *target;
};

/*
 * One rewriting case: check one run, time it, check the counters again.
 * Emits the figure (or why it could not be measured).
 */
static void run_case(struct nsb *b, const struct bench_opts *o, long n, const struct ns_case *c)
{
	uint64_t c0[NS_CNT_MAX], c1[NS_CNT_MAX];
	int fd = nsb_prog_fd(b, false);
	struct bench_stat st;
	struct ns_tuple got;
	char how[384], note[256];
	uint32_t ret;
	struct pkt out;
	long runs;
	int err;

	if (nsb_counters(b, c0) || bench_run(fd, c->in, c->ifindex, 1, NULL, &ret, &out) ||
	    nsb_counters(b, c1)) {
		bench_emit_na("testrun", c->name, n, "error: test_run or counter read failed", c->target);
		return;
	}
	got = pkt_parse_tuple(out.data, out.len);
	if (c1[c->count_idx] - c0[c->count_idx] != 1 || drops_between(c0, c1)) {
		snprintf(note, sizeof(note), "n/a (not handled by the fast path: verdict %s, retval %u)",
			 moved(c0, c1), ret);
		bench_emit_na("testrun", c->name, n, note, c->target);
		return;
	}
	if (memcmp(&got, &c->expect, sizeof(got)) || !pkt_csum_ok(out.data, out.len)) {
		bench_emit_na("testrun", c->name, n,
			      "error: output not translated as expected or bad checksum", c->target);
		return;
	}
	nsb_counters(b, c0);
	err = bench_measure_ttl(o, fd, c->in, c->ifindex, &st);
	nsb_counters(b, c1);
	if (err) {
		bench_emit_na("testrun", c->name, n, "error: test_run failed", c->target);
		return;
	}
	runs = bench_ttl_runs(o);
	snprintf(how, sizeof(how), "%ld runs as calls of repeat 250, each run's output the next "
		 "run's input (TTL 255; NAT: an A/B session pair), median of %d rounds; XDP verdict "
		 "%u; checked first: output tuple, checksums recomputed, counters", runs, o->rounds,
		 ret);
	note[0] = 0;
	if ((long)(c1[c->count_idx] - c0[c->count_idx]) != runs || drops_between(c0, c1))
		snprintf(note, sizeof(note), "WARNING: %llu of %ld runs counted as %s, %llu drops",
			 (unsigned long long)(c1[c->count_idx] - c0[c->count_idx]), runs,
			 ns_counter_name(c->count_idx), (unsigned long long)drops_between(c0, c1));
	bench_emit_testrun(c->name, n, &st, how, note[0] ? note : NULL, c->target);
}

/* Session setup: o->new_sessions unique UDP flows from subscribers
 * sub_base.., 16 each, one call each; @name: the row. */
static void run_setup(struct nsb *b, const struct bench_opts *o, long n, long maps, long held,
		      const struct bench_ref *ref, int if_in, const char *name, uint32_t sub_base)
{
	uint64_t c0[NS_CNT_MAX], c1[NS_CNT_MAX];
	int fd = nsb_prog_fd(b, false);
	long per = o->new_sessions / o->rounds, k = 0, i;
	double v[32], ns = 0, sum;
	struct bench_stat st;
	char how[384], note[256];
	struct ns_tuple t;
	struct pkt p;
	int r;

	nsb_counters(b, c0);
	for (r = 0; r < o->rounds && r < 32; r++) {
		sum = 0;
		for (i = 0; i < per; i++, k++) {
			t = pkt_tuple(sub_base + (uint32_t)(k >> 4), (uint16_t)(20000 + (k & 15)),
				      B_SRV, B_PORT_SRV, 17);
			pkt_udp(&p, &t, 64, 0);
			if (bench_run(fd, &p, if_in, 1, &ns, NULL, NULL)) {
				bench_emit_na("testrun", name, n, "error: test_run failed", "<= 1000");
				return;
			}
			sum += ns;
		}
		v[r] = sum / per;
	}
	nsb_counters(b, c1);
	bench_stat_of(v, r, &st);
	st.median -= ref->noop_call.median;
	st.min -= ref->noop_call.median;
	st.max -= ref->noop_call.median;
	snprintf(how, sizeof(how), "%ld unique UDP flows (16 per new subscriber), one test_run "
		 "call (repeat 1) each, kernel-timed, into maps of %ld entries holding %ld "
		 "sessions; median of %d rounds of %ld minus the median no-op repeat-1 call "
		 "(%.0f ns)", k, maps, held, r, per, ref->noop_call.median);
	/* With many sessions the pool's ports fill up: random port allocation
	 * then probes more than once (part of the cost at that scale). */
	snprintf(note, sizeof(note), "pool 203.0.113.0/24 ports in use before: %ld (%.0f%% of "
		 "256 x 64512)", n, 100.0 * n / (256.0 * 64512));
	if ((long)(c1[NS_CNT_SESSION_NEW] - c0[NS_CNT_SESSION_NEW]) != k)
		snprintf(note, sizeof(note), "WARNING: only %llu of %ld packets created a session "
			 "(%llu drops, first verdict moved: %s)",
			 (unsigned long long)(c1[NS_CNT_SESSION_NEW] - c0[NS_CNT_SESSION_NEW]), k,
			 (unsigned long long)drops_between(c0, c1), moved(c0, c1));
	bench_emit_testrun(name, n, &st, how, note[0] ? note : NULL, "<= 1000");
}

/*
 * The same with port-block-allocation on the pool (block-size 64, up to 4
 * blocks): each new subscriber's first flow claims a block, its 15 others
 * take ports of it. Subscribers from 100.96.0.0, so every flow is new.
 * The pool goes back to plain napt-44 afterwards.
 */
static void pba_setup(struct nsb *b, const struct bench_opts *o, long n, long maps,
		      const struct bench_ref *ref, int if_in)
{
	const char *name = "natsync session setup with port blocks (new flow), net of no-op";
	struct ns_pool_pba c = bench_pba();
	int fd = nsb_map_fd(b, NS_MAP_POOL_PBA);
	uint32_t k = 0;

	if (fd < 0 || bpf_map_update_elem(fd, &k, &c, BPF_ANY)) {
		bench_emit_na("testrun", name, n, "error: cannot write ns_pool_pba", NULL);
		return;
	}
	/* after the plain setup row: its new flows are in the table too */
	run_setup(b, o, n, maps, n + o->new_sessions, ref, if_in, name,
		  0x64600000u /* 100.96.0.0 */);
	memset(&c, 0, sizeof(c));
	bpf_map_update_elem(fd, &k, &c, BPF_ANY);
}

void ns_testrun_na(long n, const char *why)
{
	bench_emit_na("testrun", "natsync NAPT44 established in->out", n, why, "<= 80");
	bench_emit_na("testrun", "natsync NAPT44 established out->in", n, why, "<= 80");
	bench_emit_na("testrun", "natsync firewall-only established", n, why, NULL);
	bench_emit_na("testrun", "natsync ICMP error translation", n, why, NULL);
	bench_emit_na("testrun", "natsync later IPv4 fragment in->out (as its first one)", n, why,
		      NULL);
	bench_emit_na("testrun", "natsync session setup (new flow), net of no-op", n, why,
		      "<= 1000");
	bench_emit_na("testrun", "natsync session setup with port blocks (new flow), net of no-op",
		      n, why, NULL);
	nat64_testrun_na(n, why);
}

void ns_testrun_size(const struct bench_opts *o, long n, long max_entries,
		     const struct bench_ref *ref)
{
	int if_in = (int)if_nametoindex(BENCH_IF_IN), if_out = (int)if_nametoindex(BENCH_IF_OUT);
	struct ns_tuple a_in, a_out, b_in, b_out, f_in, f_out;
	struct pkt x0, y0, icmp, fw, frag;
	char why[256];
	struct nsb *b;
	int err;

	/* Room for the n sessions and both setup rows' new flows (plain, then
	 * with port blocks): sized for one row only, the table was full after
	 * the first and the port-block row created 4,098 of its 100,000. */
	long cap = max_entries > 0 ? max_entries : n + 2 * o->new_sessions + 4096;

	b = nsb_open(cap, true, why, sizeof(why));
	if (!b) {
		ns_testrun_na(n, why);
		return;
	}
	/* A: subscriber S:s -> D:d translated to P:p. B: its inverse, so that
	 * the output of a run on A is a packet that hits B, and vice versa. */
	a_in = pkt_tuple(B_SUB, B_PORT_SUB, B_SRV, B_PORT_SRV, 17);
	a_out = pkt_tuple(B_SRV, B_PORT_SRV, B_POOL, B_PORT_POOL, 17);
	b_in = pkt_tuple(B_POOL, B_PORT_POOL, B_SRV, B_PORT_SRV, 17);
	b_out = pkt_tuple(B_SRV, B_PORT_SRV, B_SUB, B_PORT_SUB, 17);
	f_in = pkt_tuple(B_SUB_FW, 5000, B_SRV, B_PORT_SRV, 17);
	f_out = reverse(&f_in);
	err = nsb_fill_config(b, if_in, if_out);
	err = err ?: nsb_prefill(b, n);
	err = err ?: nsb_add_session(b, &a_in, &a_out, NS_NAT_NAPT44);
	err = err ?: nsb_add_session(b, &b_in, &b_out, NS_NAT_NAPT44);
	err = err ?: nsb_add_session(b, &f_in, &f_out, NS_NAT_NONE);
	/* a later fragment of A, and of A translated (B's way back): pkt_udp's
	 * IP ID is 0x1234 */
	err = err ?: nsb_add_frag(b, &a_in, &b_in, 0x1234);
	err = err ?: nsb_add_frag(b, &b_in, &a_in, 0x1234);
	if (err) {
		snprintf(why, sizeof(why), "error: filling natsync maps: %s", strerror(-err));
		ns_testrun_na(n, why);
		nsb_close(b);
		return;
	}
	fprintf(stderr, "bench: natsync maps filled with %ld sessions\n", n);

	pkt_udp(&x0, &a_in, 255, 0);
	pkt_udp(&y0, &a_out, 255, 0);
	pkt_udp(&fw, &f_in, 255, 0);
	pkt_udp(&frag, &a_in, 255, 0);
	pkt_later_fragment(&frag);
	pkt_icmp_unreach(&icmp, htonl(B_RTR), a_out.daddr, &b_in, 255);
	{
		struct ns_case cases[] = {
			{ "natsync NAPT44 established in->out", &x0, if_in, b_in,
			  NS_CNT_SESSION_HIT, "<= 80" },
			{ "natsync NAPT44 established out->in", &y0, if_out, b_out,
			  NS_CNT_SESSION_HIT, "<= 80" },
			{ "natsync firewall-only established", &fw, if_in, f_in,
			  NS_CNT_SESSION_HIT, NULL },
			{ "natsync ICMP error translation", &icmp, if_out,
			  pkt_tuple(B_RTR, 0, B_SUB, 0, 1), NS_CNT_ICMP_ERR_XLATED, NULL },
			{ "natsync later IPv4 fragment in->out (as its first one)", &frag, if_in,
			  pkt_tuple(B_POOL, 0, B_SRV, 0, 17), NS_CNT_FRAG_XLATED, NULL },
		};
		size_t i;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run_case(b, o, n, &cases[i]);
	}
	run_setup(b, o, n, cap, n, ref, if_in, "natsync session setup (new flow), net of no-op",
		  NEW_SUB_BASE);
	pba_setup(b, o, n, cap, ref, if_in);
	nat64_testrun_size(b, o, n, ref, if_in, if_out, &x0, &frag);
	nsb_close(b);
}

/* One packet of the profile loop: the established A, or new flow k. */
static void profile_pkt(struct pkt *p, bool setup, long k, const struct ns_tuple *a_in)
{
	struct ns_tuple t;

	if (!setup) {
		pkt_udp(p, a_in, 255, 0);
		return;
	}
	t = pkt_tuple(NEW_SUB_BASE + (uint32_t)(k >> 4), (uint16_t)(20000 + (k & 15)), B_SRV,
		      B_PORT_SRV, 17);
	pkt_udp(p, &t, 64, 0);
}

/*
 * Print the JIT address ranges of prog_fd (the program and its
 * subprograms) as a JSON array of [start, length]: profile.py attributes
 * perf samples by address, because perf's names for BPF programs go stale
 * when other programs are loaded and unloaded on the machine meanwhile.
 */
static void print_jit_ranges(int prog_fd)
{
	__u64 addrs[64];
	__u32 lens[64];
	struct bpf_prog_info info;
	__u32 len = sizeof(info), i, n;

	memset(&info, 0, sizeof(info));
	info.nr_jited_ksyms = 64;
	info.nr_jited_func_lens = 64;
	info.jited_ksyms = (__u64)(unsigned long)addrs;
	info.jited_func_lens = (__u64)(unsigned long)lens;
	printf("\"jit\":[");
	if (!bpf_obj_get_info_by_fd(prog_fd, &info, &len)) {
		n = info.nr_jited_ksyms < info.nr_jited_func_lens ? info.nr_jited_ksyms
								  : info.nr_jited_func_lens;
		for (i = 0; i < n && i < 64; i++)
			printf("%s[%llu,%u]", i ? "," : "", (unsigned long long)addrs[i], lens[i]);
	}
	printf("]");
}

/*
 * ns_profile - run natsync's established in->out case (or, with setup,
 * new flows: 16 per new subscriber, at most NS_PROFILE_NEW of them) at n
 * sessions for `seconds`, one test_run call of repeat 1 per packet (repeat
 * > 1 would swap the XDP dispatcher on every call, and the program would
 * run for a tiny share of the time), for `perf record` around this process
 * (run.sh, profile.py). Prints one JSON line: packets run, the
 * kernel-timed mean ns of one run, the counter that should have moved
 * once per packet. 0 or -1.
 */
#define NS_PROFILE_NEW 300000L

int ns_profile(const struct bench_opts *o, long n, double seconds, bool setup)
{
	int if_in = (int)if_nametoindex(BENCH_IF_IN), if_out = (int)if_nametoindex(BENCH_IF_OUT);
	struct ns_tuple a_in = pkt_tuple(B_SUB, B_PORT_SUB, B_SRV, B_PORT_SRV, 17);
	struct ns_tuple a_out = pkt_tuple(B_SRV, B_PORT_SRV, B_POOL, B_PORT_POOL, 17);
	uint64_t c0[NS_CNT_MAX], c1[NS_CNT_MAX], end;
	int cnt = setup ? NS_CNT_SESSION_NEW : NS_CNT_SESSION_HIT;
	double ns = 0, sum = 0;
	long runs = 0;
	char why[256];
	struct nsb *b;
	struct pkt x;
	uint32_t ret = 0;
	int fd, err;

	b = nsb_open(n + (setup ? NS_PROFILE_NEW : o->new_sessions) + 4096, false, why,
		     sizeof(why));
	if (!b) {
		fprintf(stderr, "bench: profile: %s\n", why);
		return -1;
	}
	err = nsb_fill_config(b, if_in, if_out);
	err = err ?: nsb_prefill(b, n);
	err = err ?: nsb_add_session(b, &a_in, &a_out, NS_NAT_NAPT44);
	if (err) {
		fprintf(stderr, "bench: profile: filling maps: %s\n", strerror(-err));
		nsb_close(b);
		return -1;
	}
	fd = nsb_prog_fd(b, false);
	nsb_counters(b, c0);
	end = ns_now() + (uint64_t)(seconds * 1e9);
	while (ns_now() < end && (!setup || runs < NS_PROFILE_NEW)) {
		profile_pkt(&x, setup, runs, &a_in);
		err = bench_run(fd, &x, if_in, 1, &ns, &ret, NULL);
		if (err)
			break;
		sum += ns;
		runs++;
	}
	nsb_counters(b, c1);
	if (err || !runs) {
		fprintf(stderr, "bench: profile: test_run failed\n");
		nsb_close(b);
		return -1;
	}
	printf("{");
	print_jit_ranges(fd);
	printf(",\"profile_runs\":%ld,\"mean_ns\":%.1f,\"counted\":%llu,\"counter\":\"%s\","
	       "\"verdict\":%u,\"sessions\":%ld,\"case\":\"%s\"}\n", runs, sum / runs,
	       (unsigned long long)(c1[cnt] - c0[cnt]), ns_counter_name(cnt), ret, n,
	       setup ? "session setup" : "established in->out");
	nsb_close(b);
	return 0;
}
