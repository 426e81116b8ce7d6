// SPDX-License-Identifier: GPL-2.0
/*
 * nat64.c - the NAT64 established rows of the test_run section.
 *
 * NAT64 changes the packet's family, so the A/B ping-pong of the NAPT44
 * rows (each run's output is the next run's input) cannot be used: the
 * output of an IPv6->IPv4 run is an IPv4 packet on the inside interface.
 * Instead each direction is measured like session setup: pre-built
 * packets, one BPF_PROG_TEST_RUN call with repeat 1 each, kernel-timed,
 * minus the median of the same loop over the no-op program. The table
 * holds n NAT64 sessions (ns_nat64_sess + ns_nat64_rev, batch-inserted) besides
 * the n NAPT44 sessions of nsmaps.c; one of them is the measured flow.
 * Before timing, one run of each direction is checked: XDP_REDIRECT, the
 * output's tuple, every checksum recomputed (IPv4 here, IPv6 below), the
 * nat64_out/nat64_in counter moved once and no drop counter. NAPT44's
 * in->out packet is timed the same way, as the figure to compare with.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "daemon/counters.h"
#include "daemon/util.h"
#include "nsmaps.h"
#include "tests/bpf/pkt6.h"

#define N64_POOL_ID 1
#define N64_POOL_NET 0xcb007100u /* 203.0.113.0/24, ports >= 40000 */
#define N64_POOL_A 0xcb007101u	 /* the measured flow's pool address */
#define N64_PORT_A 65002	 /* above every prefilled port */
#define N64_SRV 0xc6336402u	 /* 198.51.100.2 */
#define N64_CLI "2001:db8:64::a" /* resolvable on nsbi (run.sh) */
#define N64_PREF "64:ff9b::"
#define XDP_REDIRECT_RC 4

/* The measured flow's IPv6 key: client:40000 -> 64:ff9b::198.51.100.2:53. */
static struct ns_tuple6 flow_key(void)
{
	struct ns_tuple6 k;
	uint32_t srv = htonl(N64_SRV);

	memset(&k, 0, sizeof(k));
	inet_pton(AF_INET6, N64_CLI, k.saddr);
	inet_pton(AF_INET6, N64_PREF, k.daddr);
	memcpy(k.daddr + 12, &srv, 4);
	k.sport = htons(40000);
	k.dport = htons(53);
	k.proto = IPPROTO_UDP;
	return k;
}

/* The IPv6 output of the v4->v6 run: addresses, ports and checksum (by
 * recomputation, pkt6_parse). */
static int check6(const struct pkt *out, const struct ns_tuple6 *k)
{
	struct pkt6_info in = pkt6_parse(out->data, (int)out->len);

	/* the reply: from pref64 + server, to the client's port */
	return in.ok && in.nh == IPPROTO_UDP && !memcmp(in.saddr, k->daddr, 16) &&
	       !memcmp(in.daddr, k->saddr, 16) && in.sport == ntohs(k->dport) &&
	       in.dport == ntohs(k->sport);
}

/* Term, pool and config of the NAT64 flow (added to nsb_fill_config's). */
static int fill_config(struct nsb *b)
{
	struct ns_nat64_term t;
	struct ns_pool pool;
	struct ns_cfg cfg;
	__u32 k = 0, slot = NS_CFG_SLOT_BANK(0), pid = N64_POOL_ID; /* bank 0 in force */
	int fd = nsb_map_fd(b, NS_MAP_CONFIG);

	memset(&t, 0, sizeof(t));
	inet_pton(AF_INET6, "2001:db8:64::", t.src6);
	t.src6_len = 48;
	inet_pton(AF_INET6, N64_PREF, t.pref64);
	t.src_pool = N64_POOL_ID;
	memset(&pool, 0, sizeof(pool));
	pool.ranges[0].first = N64_POOL_NET;
	pool.ranges[0].count = 256;
	pool.n_ranges = 1;
	pool.n_addrs = 256;
	pool.port_lo = 40000;
	pool.port_hi = 65535;
	pool.flags = NS_POOL_F_RANDOM_PORT;
	if (fd < 0 || nsb_map_fd(b, NS_MAP_NAT64_TERMS) < 0 || bpf_map_lookup_elem(fd, &slot, &cfg))
		return -ENOENT;
	cfg.n_nat64 = 1;
	if (bpf_map_update_elem(nsb_map_fd(b, NS_MAP_NAT64_TERMS), &k, &t, BPF_ANY) ||
	    bpf_map_update_elem(nsb_map_fd(b, NS_MAP_POOLS), &pid, &pool, BPF_ANY) ||
	    bpf_map_update_elem(fd, &slot, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

/* Session of key k translated to pool address:port (host order). */
static void session64(struct ns_session *s, const struct ns_tuple6 *k, uint32_t pool, uint16_t port,
		      uint64_t now)
{
	memset(s, 0, sizeof(*s));
	s->in_key.saddr = ns_nat64_fold(k->saddr);
	memcpy(&s->in_key.daddr, k->daddr + 12, 4);
	s->in_key.sport = k->sport;
	s->in_key.dport = k->dport;
	s->in_key.proto = IPPROTO_UDP;
	s->out_key.saddr = s->in_key.daddr;
	s->out_key.daddr = htonl(pool);
	s->out_key.sport = k->dport;
	s->out_key.dport = htons(port);
	s->out_key.proto = IPPROTO_UDP;
	s->created_ns = s->last_seen_ns = now;
	s->packets[0] = s->packets[1] = 1;
	s->flags = NS_SF_NAT_SRC | NS_SF_NAT_DST;
	s->nat_term = 0;
	s->fw_term = NS_NONE16;
	s->nat_type = NS_NAT_NAT64;
	s->origin = NS_SIDE_INSIDE;
	s->pool_id = N64_POOL_ID;
}

/* NAT64 session i of the prefill: client 2001:db8:64::(i + 0x1000) port
 * 10000 + i%1024, translated to 203.0.113.(i % 256) port 40000 + i/256. */
static void prefill_session(long i, struct ns_tuple6 *k, struct ns_session *s, uint64_t now)
{
	uint32_t id = htonl((uint32_t)(i + 0x1000));

	*k = flow_key();
	memcpy(k->saddr + 12, &id, 4);
	k->sport = htons((uint16_t)(10000 + (i & 1023)));
	session64(s, k, N64_POOL_NET + (uint32_t)(i & 255), (uint16_t)(40000 + (i >> 8)), now);
}

/* Its entries in ns_nat64_sess and ns_nat64_rev (arg: the time). */
static void sess_entry(long i, void *key, void *val, const void *arg)
{
	prefill_session(i, key, val, *(const uint64_t *)arg);
}

static void rev_entry(long i, void *key, void *val, const void *arg)
{
	struct ns_session s;

	prefill_session(i, val, &s, *(const uint64_t *)arg);
	*(struct ns_tuple *)key = s.out_key;
}

/* n NAT64 sessions (clients 2001:db8:64::/48 varied in their low 32 bits)
 * plus the measured flow, batch-inserted with their reverse entries. */
static int prefill64(struct nsb *b, long n)
{
	int fs = nsb_map_fd(b, NS_MAP_NAT64_SESS), fr = nsb_map_fd(b, NS_MAP_NAT64_REV);
	struct ns_tuple6 a = flow_key();
	uint64_t now = ns_now();
	struct ns_session s;
	int err;

	if (fs < 0 || fr < 0)
		return -ENOENT;
	err = nsb_batch(fs, 0, n, sizeof(struct ns_tuple6), sizeof(struct ns_session), sess_entry,
			&now);
	err = err ?: nsb_batch(fr, 0, n, sizeof(struct ns_tuple), sizeof(struct ns_tuple6),
			       rev_entry, &now);
	if (err)
		return err;
	session64(&s, &a, N64_POOL_A, N64_PORT_A, now);
	if (bpf_map_update_elem(fs, &a, &s, BPF_ANY) ||
	    bpf_map_update_elem(fr, &s.out_key, &a, BPF_ANY))
		return -errno;
	return 0;
}

/* Mean kernel ns of one repeat-1 call on p, per round, net of the no-op. */
static int time_calls(int fd, const struct pkt *p, int ifindex, const struct bench_opts *o,
		      const struct bench_ref *ref, struct bench_stat *st, long *calls)
{
	long per = o->new_sessions / o->rounds, i;
	double v[32], ns = 0, sum;
	int r;

	*calls = 0;
	for (r = 0; r < o->rounds && r < 32; r++) {
		sum = 0;
		for (i = 0; i < per; i++) {
			if (bench_run(fd, p, ifindex, 1, &ns, NULL, NULL))
				return -errno;
			sum += ns;
		}
		v[r] = sum / per;
		*calls += per;
	}
	bench_stat_of(v, r, st);
	st->median -= ref->noop_call.median;
	st->min -= ref->noop_call.median;
	st->max -= ref->noop_call.median;
	return 0;
}

static uint64_t drops(const uint64_t *a, const uint64_t *b)
{
	uint64_t d = 0;

	for (int i = 0; i < NS_CNT_MAX; i++)
		if (ns_counter_is_drop(i))
			d += b[i] - a[i];
	return d;
}

/* One row: a packet, where it arrives, the counters that must move once
 * per run (cnt2 -1: only cnt), and the check of one run's output. */
struct n64_case {
	const char *name;
	const struct pkt *in;
	int ifindex;
	int cnt, cnt2;
	int (*ok)(const struct pkt *in, const struct pkt *out);
	const char *checked; /* what ok checks, for the row's how */
	const char *target;
};

/* Runs counted as c's counters between two snapshots: calls when both
 * moved by that much, else the smaller count. */
static long counted(const struct n64_case *c, const uint64_t *a, const uint64_t *b)
{
	long n = (long)(b[c->cnt] - a[c->cnt]), n2;

	if (c->cnt2 < 0)
		return n;
	n2 = (long)(b[c->cnt2] - a[c->cnt2]);
	return n2 < n ? n2 : n;
}

/* One row: check one run (c->ok decides on its output), then time it. */
static void run_dir(struct nsb *b, const struct bench_opts *o, long n, const struct bench_ref *ref,
		    const struct n64_case *c)
{
	uint64_t c0[NS_CNT_MAX], c1[NS_CNT_MAX];
	int fd = nsb_prog_fd(b, false);
	char how[384], note[256];
	struct bench_stat st;
	struct pkt out;
	uint32_t ret = 0;
	long calls;

	if (nsb_counters(b, c0) || bench_run(fd, c->in, c->ifindex, 1, NULL, &ret, &out) ||
	    nsb_counters(b, c1)) {
		bench_emit_na("testrun", c->name, n, "error: test_run or counter read failed",
			      c->target);
		return;
	}
	if (ret != XDP_REDIRECT_RC || counted(c, c0, c1) != 1 || drops(c0, c1) ||
	    !c->ok(c->in, &out)) {
		snprintf(note, sizeof(note),
			 "error: not translated and redirected as expected "
			 "(XDP verdict %u, %s %llu, %s %llu, drops %llu, output %s)",
			 ret, ns_counter_name(c->cnt),
			 (unsigned long long)(c1[c->cnt] - c0[c->cnt]),
			 c->cnt2 < 0 ? "-" : ns_counter_name(c->cnt2),
			 c->cnt2 < 0 ? 0ULL : (unsigned long long)(c1[c->cnt2] - c0[c->cnt2]),
			 (unsigned long long)drops(c0, c1), c->ok(c->in, &out) ? "ok" : "wrong");
		bench_emit_na("testrun", c->name, n, note, c->target);
		return;
	}
	nsb_counters(b, c0);
	if (time_calls(fd, c->in, c->ifindex, o, ref, &st, &calls)) {
		bench_emit_na("testrun", c->name, n, "error: test_run failed", c->target);
		return;
	}
	nsb_counters(b, c1);
	snprintf(
	    how, sizeof(how),
	    "%ld calls of repeat 1 on the same pre-built packet (NAT64 changes the packet's "
	    "family, so no output can be the next input), kernel-timed; median of %d "
	    "rounds minus the median no-op repeat-1 call (%.0f ns); checked first: XDP_REDIRECT, "
	    "%s, counters",
	    calls, o->rounds, ref->noop_call.median, c->checked);
	note[0] = 0;
	if (counted(c, c0, c1) != calls || drops(c0, c1))
		snprintf(note, sizeof(note), "WARNING: %ld of %ld runs counted as %s%s%s, %llu drops",
			 counted(c, c0, c1), calls, ns_counter_name(c->cnt),
			 c->cnt2 < 0 ? "" : " and ", c->cnt2 < 0 ? "" : ns_counter_name(c->cnt2),
			 (unsigned long long)drops(c0, c1));
	bench_emit_testrun(c->name, n, &st, how, note[0] ? note : NULL, c->target);
}

static int ok_6to4(const struct pkt *in, const struct pkt *out)
{
	struct ns_tuple want = pkt_tuple(N64_POOL_A, N64_PORT_A, N64_SRV, 53, IPPROTO_UDP);
	struct ns_tuple got = pkt_parse_tuple(out->data, out->len);

	(void)in;
	return !memcmp(&got, &want, sizeof(got)) && pkt_csum_ok(out->data, out->len);
}

static int ok_4to6(const struct pkt *in, const struct pkt *out)
{
	struct ns_tuple6 k = flow_key();

	(void)in;
	return check6(out, &k);
}

/* The NAPT44 reference packets' output: any checksum-correct translation
 * (its exact tuple is checked by nsmaps.c's own case). */
static int ok_44(const struct pkt *in, const struct pkt *out)
{
	(void)in;
	return pkt_csum_ok(out->data, out->len);
}

/*
 * The later fragments (pkt_later_fragment, pkt6_later_fragment: offset 8
 * bytes, MF/M set, so the datagram never completes and its ns_frag entry
 * stays for every run). The entry is written here as the first fragment
 * leaves it (xlat, the addresses; nsb_put_frag, as for nsmaps.c's IPv4
 * row).
 */
#define FRAG_ID6 0xa1b2c3d4u /* the IPv6 fragment's identification */
#define FRAG_ID4 0x1234	     /* pkt_udp's IP ID */
#define FRAG_DATA 16	     /* pkt_udp6 with 8 payload bytes: 8 x 2 */

/* IPv6 fragments client -> pref64 + server become IPv4 pool A -> server;
 * IPv4 fragments server -> pool A become IPv6 pref64 + server -> client. */
static int fill_frags(struct nsb *b)
{
	struct ns_tuple6 a = flow_key();
	struct ns_frag_key k;
	struct ns_frag v;
	int err;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.v6 = 1;
	memcpy(k.saddr6, a.saddr, 16);
	memcpy(k.daddr6, a.daddr, 16);
	k.id6 = htonl(FRAG_ID6);
	k.proto = IPPROTO_UDP;
	k.side = NS_SIDE_INSIDE;
	v.xlat = NS_FRAG_X6TO4;
	v.new_saddr = htonl(N64_POOL_A);
	v.new_daddr = htonl(N64_SRV);
	err = nsb_put_frag(b, &k, &v);
	if (err)
		return err;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.saddr = htonl(N64_SRV);
	k.daddr = htonl(N64_POOL_A);
	k.id = htons(FRAG_ID4);
	k.proto = IPPROTO_UDP;
	k.side = NS_SIDE_OUTSIDE;
	v.xlat = NS_FRAG_X4TO6;
	memcpy(v.new_saddr6, a.daddr, 16);
	memcpy(v.new_daddr6, a.saddr, 16);
	return nsb_put_frag(b, &k, &v);
}

/* IPv6 fragment -> IPv4 (RFC 7915 5.1.1): pool A -> server, UDP, header
 * checksum recomputed, ID = low 16 bits of the identification, offset
 * copied, MF = M, DF clear, TTL = hop limit - 1, the data unchanged. */
static int ok_frag6to4(const struct pkt *in, const struct pkt *out)
{
	struct ns_tuple want = pkt_tuple(N64_POOL_A, 0, N64_SRV, 0, IPPROTO_UDP);
	struct ns_tuple got = pkt_parse_tuple(out->data, out->len);
	const uint8_t *ip = out->data + 14;

	return out->len >= 14 + 20 + FRAG_DATA && !memcmp(&got, &want, sizeof(got)) &&
	       pkt_csum_ok(out->data, out->len) && ip[0] == 0x45 &&
	       get16(ip + 2) == 20 + FRAG_DATA && get16(ip + 4) == (FRAG_ID6 & 0xffff) &&
	       get16(ip + 6) == (0x2000 | 1) && ip[8] == in->data[14 + 7] - 1 &&
	       !memcmp(ip + 20, in->data + 62, FRAG_DATA);
}

/* IPv4 fragment -> IPv6 (RFC 7915 4.1): pref64 + server -> client, a
 * Fragment header (next header UDP, identification = the IPv4 ID, offset
 * copied, M = MF), hop limit = TTL - 1, the data unchanged. */
static int ok_frag4to6(const struct pkt *in, const struct pkt *out)
{
	struct ns_tuple6 k = flow_key();
	const uint8_t *ip = out->data + 14, *fh = out->data + 54, *iip = in->data + 14;
	int n = get16(iip + 2) - 20;

	return out->len >= (uint32_t)(62 + n) && get16(out->data + 12) == 0x86dd &&
	       ip[0] >> 4 == 6 && get16(ip + 4) == 8 + n && ip[6] == 44 &&
	       ip[7] == iip[8] - 1 && !memcmp(ip + 8, k.daddr, 16) &&
	       !memcmp(ip + 24, k.saddr, 16) && fh[0] == IPPROTO_UDP && fh[1] == 0 &&
	       get16(fh + 2) == (1 << 3 | 1) && get32(fh + 4) == FRAG_ID4 &&
	       !memcmp(fh + 8, iip + 20, (size_t)n);
}

/* The rows of nat64_testrun_size, in its order, with their targets. */
static const struct {
	const char *name, *target;
} n64_rows[] = {
	{ "natsync NAT64 established v6->v4", "<= 80" },
	{ "natsync NAT64 established v4->v6", "<= 80" },
	/* the same method on NAPT44's in->out packet: what the NAT64 rows
	 * compare with (the repeat-1 method reads higher than the A/B one) */
	{ "natsync NAPT44 established in->out, repeat-1 method", "<= 80" },
	/* the main program tail-calls natsync_xdp_frag64 */
	{ "natsync later IPv6 fragment in->out (NAT64, as its first one)", NULL },
	{ "natsync later IPv4 fragment out->in (NAT64, as its first one)", NULL },
	/* and the IPv4 row's packet (nsmaps.c), no tail call */
	{ "natsync later IPv4 fragment in->out, repeat-1 method", NULL },
};

void nat64_testrun_na(long n, const char *why)
{
	for (size_t i = 0; i < sizeof(n64_rows) / sizeof(n64_rows[0]); i++)
		bench_emit_na("testrun", n64_rows[i].name, n, why, n64_rows[i].target);
}

void nat64_testrun_size(struct nsb *b, const struct bench_opts *o, long n,
			const struct bench_ref *ref, int if_in, int if_out, const struct pkt *x44,
			const struct pkt *frag44)
{
	const char *est = "output tuple, checksums recomputed",
		   *f64 = "output IPv4 header field by field (addresses, ID, offset, MF, TTL), "
			  "its checksum recomputed, data unchanged",
		   *f46 = "output IPv6 and Fragment headers field by field (addresses, "
			  "identification, offset, M, hop limit), data unchanged";
	struct ns_tuple6 k = flow_key();
	struct ns_tuple r = pkt_tuple(N64_SRV, 53, N64_POOL_A, N64_PORT_A, IPPROTO_UDP);
	struct pkt p6, p4, f6, f4;
	char why[128];
	int err;

	err = fill_config(b);
	err = err ?: prefill64(b, n);
	err = err ?: fill_frags(b);
	if (err) {
		snprintf(why, sizeof(why), "error: filling the NAT64 maps: %s", strerror(-err));
		nat64_testrun_na(n, why);
		return;
	}
	pkt_udp6(&p6, &k, 6);
	pkt_udp(&p4, &r, 64, 0);
	pkt_udp6(&f6, &k, FRAG_DATA - 8);
	pkt6_later_fragment(&f6, FRAG_ID6);
	f4 = p4;
	pkt_later_fragment(&f4);
	{
		/* name and target: n64_rows[i] */
		const struct n64_case cases[] = {
			{ .in = &p6, .ifindex = if_in, .cnt = NS_CNT_NAT64_OUT, .cnt2 = -1,
			  .ok = ok_6to4, .checked = est },
			{ .in = &p4, .ifindex = if_out, .cnt = NS_CNT_NAT64_IN, .cnt2 = -1,
			  .ok = ok_4to6, .checked = est },
			{ .in = x44, .ifindex = if_in, .cnt = NS_CNT_SESSION_HIT, .cnt2 = -1,
			  .ok = ok_44, .checked = "checksums recomputed" },
			{ .in = &f6, .ifindex = if_in, .cnt = NS_CNT_FRAG_XLATED,
			  .cnt2 = NS_CNT_NAT64_OUT, .ok = ok_frag6to4, .checked = f64 },
			{ .in = &f4, .ifindex = if_out, .cnt = NS_CNT_FRAG_XLATED,
			  .cnt2 = NS_CNT_NAT64_IN, .ok = ok_frag4to6, .checked = f46 },
			{ .in = frag44, .ifindex = if_in, .cnt = NS_CNT_FRAG_XLATED, .cnt2 = -1,
			  .ok = ok_44, .checked = "checksums recomputed" },
		};

		_Static_assert(sizeof(cases) / sizeof(cases[0]) ==
				       sizeof(n64_rows) / sizeof(n64_rows[0]),
			       "a case per row");
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct n64_case c = cases[i];

			c.name = n64_rows[i].name;
			c.target = n64_rows[i].target;
			run_dir(b, o, n, ref, &c);
		}
	}
}
