// SPDX-License-Identifier: GPL-2.0
/*
 * syncfill.c - the C half of the sync benchmark (issue 3/5, `make bench`
 * section "sync"; tests/bench/run.sh drives two real natsyncd processes):
 *
 *   bench_pkt syncfill PIN_DIR FIRST N AGE_MS
 *
 * batch-inserts N established NAPT44 TCP sessions, numbered FIRST ..
 * FIRST+N-1, into the maps a running natsyncd pinned under PIN_DIR/<NS_PIN_SUBDIR>
 * (ns_sessions, ns_session_rev, ns_ports), the way its fast path would
 * have created them, but AGE_MS old: created_ns = now - AGE_MS ms, so the
 * primary's sync walk finds them exactly at (or past) its replication
 * threshold without the benchmark waiting for it. last_seen_ns is now, so
 * no aging pass expires them during the run.
 *
 * Prints one line on stdout: "REAL_NS FILL_MS", the wall clock (realtime,
 * ns) of the instant used as "now" for created_ns, and how long the batch
 * inserts took; run.sh turns REAL_NS into the moment the sessions become
 * eligible for replication (REAL_NS + threshold - AGE_MS).
 *
 * Session i: subscriber 100.64.0.0 + i/64 port 10000 + i%64 -> server
 * 198.51.100.10 + i%200 port 443, translated to 203.0.113.(i/64 % 256)
 * port 1024 + (i/64/256)*64 + i%64: unique in- and out-tuples and pool
 * ports for i < 4,194,304 (the subscribers of 100.64.0.0/10).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bench.h"
#include "daemon/util.h"

#define SF_SUB_BASE 0x64400000u  /* 100.64.0.0 */
#define SF_SRV_BASE 0xc633640au  /* 198.51.100.10 */
#define SF_POOL_NET 0xcb007100u  /* 203.0.113.0 */
#define SF_MAX (1L << 22)
#define SF_CHUNK 65536L

/* fds of the pinned maps a fill writes. */
struct sf_maps {
	int sessions, rev, ports;
};

/* Batch buffers of one chunk. */
struct sf_buf {
	struct ns_tuple *in, *out;
	struct ns_session *sess;
	struct ns_port_key *pk;
	struct ns_port_val *pv;
};

static void sf_tuples(long i, struct ns_tuple *in, struct ns_tuple *out)
{
	uint32_t j = (uint32_t)(i >> 6);
	uint16_t port = (uint16_t)(1024 + (j >> 8) * 64 + (i & 63));
	uint32_t srv = SF_SRV_BASE + (uint32_t)(i % 200);

	*in = pkt_tuple(SF_SUB_BASE + j, (uint16_t)(10000 + (i & 63)), srv, 443, 6);
	*out = pkt_tuple(srv, 443, SF_POOL_NET + (j & 255), port, 6);
}

/* Session i as the fast path creates an outbound NAPT44 TCP session
 * (service set 0, NAT term 0, pool 0, no firewall term), established. */
static void sf_session(long i, uint64_t created, uint64_t now, struct sf_buf *b, long k)
{
	struct ns_session *s = &b->sess[k];

	sf_tuples(i, &b->in[k], &b->out[k]);
	memset(s, 0, sizeof(*s));
	s->in_key = b->in[k];
	s->out_key = b->out[k];
	s->created_ns = created;
	s->last_seen_ns = now;
	s->packets[0] = s->packets[1] = 1;
	s->flags = NS_SF_NAT_SRC;
	s->svc_set = 0;
	s->nat_term = 0;
	s->fw_term = NS_NONE16;
	s->nat_type = NS_NAT_NAPT44;
	s->tcp_state = NS_TCP_ESTABLISHED;
	s->origin = NS_SIDE_INSIDE;
	s->pool_id = 0;
	memset(&b->pk[k], 0, sizeof(b->pk[k]));
	memset(&b->pv[k], 0, sizeof(b->pv[k]));
	b->pk[k].addr = b->out[k].daddr;
	b->pk[k].port = b->out[k].dport;
	b->pk[k].proto = 6;
	b->pv[k].in_addr = b->in[k].saddr;
	b->pv[k].in_port = b->in[k].sport;
	b->pv[k].pool_id = 0;
	b->pv[k].svc_set = 0;
	b->pv[k].nat_term = 0;
	b->pv[k].last_used_ns = now;
}

static int sf_batch(int fd, void *keys, void *vals, __u32 n)
{
	__u32 cnt = n;

	return bpf_map_update_batch(fd, keys, vals, &cnt, NULL) ? -errno : 0;
}

static int sf_open(const char *dir, struct sf_maps *m)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/" NS_PIN_SUBDIR "/%s", dir, NS_MAP_SESSIONS);
	m->sessions = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/" NS_PIN_SUBDIR "/%s", dir, NS_MAP_SESSION_REV);
	m->rev = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/" NS_PIN_SUBDIR "/%s", dir, NS_MAP_PORTS);
	m->ports = bpf_obj_get(path);
	return m->sessions < 0 || m->rev < 0 || m->ports < 0 ? -ENOENT : 0;
}

static void sf_close(struct sf_maps *m)
{
	if (m->sessions >= 0)
		close(m->sessions);
	if (m->rev >= 0)
		close(m->rev);
	if (m->ports >= 0)
		close(m->ports);
}

static void sf_free(struct sf_buf *b)
{
	free(b->in);
	free(b->out);
	free(b->sess);
	free(b->pk);
	free(b->pv);
}

static int sf_alloc(struct sf_buf *b)
{
	b->in = calloc(SF_CHUNK, sizeof(*b->in));
	b->out = calloc(SF_CHUNK, sizeof(*b->out));
	b->sess = calloc(SF_CHUNK, sizeof(*b->sess));
	b->pk = calloc(SF_CHUNK, sizeof(*b->pk));
	b->pv = calloc(SF_CHUNK, sizeof(*b->pv));
	return b->in && b->out && b->sess && b->pk && b->pv ? 0 : -ENOMEM;
}

/* Bindings first, then reverse entries, then sessions: the order natsyncd
 * installs replicated sessions in, so the sync walk never reads a session
 * whose port binding is not there yet. */
static int sf_fill(const struct sf_maps *m, long first, long n, uint64_t created, uint64_t now)
{
	struct sf_buf b;
	long done, k;
	int err = sf_alloc(&b);

	for (done = 0; done < n && !err; done += SF_CHUNK) {
		__u32 cnt = (__u32)(n - done < SF_CHUNK ? n - done : SF_CHUNK);

		for (k = 0; k < cnt; k++)
			sf_session(first + done + k, created, now, &b, k);
		err = sf_batch(m->ports, b.pk, b.pv, cnt);
		err = err ?: sf_batch(m->rev, b.out, b.in, cnt);
		err = err ?: sf_batch(m->sessions, b.in, b.sess, cnt);
	}
	sf_free(&b);
	return err;
}

/* Wall clock in ns (run.sh compares it with `date +%s%N`). */
static uint64_t sf_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cmd_syncfill(int argc, char **argv)
{
	struct sf_maps m = { -1, -1, -1 };
	long first, n, age_ms;
	uint64_t now, real, t1;
	int err;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_pkt syncfill PIN_DIR FIRST N AGE_MS\n");
		return -EINVAL;
	}
	first = atol(argv[1]);
	n = atol(argv[2]);
	age_ms = atol(argv[3]);
	if (first < 0 || n <= 0 || first + n > SF_MAX || age_ms < 0) {
		fprintf(stderr, "bench: syncfill: sessions %ld..%ld out of 0..%ld\n", first,
			first + n - 1, SF_MAX - 1);
		return -ERANGE;
	}
	err = sf_open(argv[0], &m);
	if (err) {
		fprintf(stderr, "bench: syncfill: no pinned session maps under %s/" NS_PIN_SUBDIR "\n", argv[0]);
		sf_close(&m);
		return err;
	}
	now = ns_now();
	real = sf_real_ns();
	err = sf_fill(&m, first, n, now - (uint64_t)age_ms * 1000000ull, now);
	t1 = ns_now();
	sf_close(&m);
	if (err) {
		fprintf(stderr, "bench: syncfill: batch update: %s\n", strerror(-err));
		return err;
	}
	printf("%llu %.1f\n", (unsigned long long)real, (t1 - now) / 1e6);
	return 0;
}
