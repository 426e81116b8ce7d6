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
 * The sessions are the benchmarks' one injector's (fill.c, struct
 * nsb_fill) from subscriber 100.64.0.0, TCP, no firewall term: session i
 * is subscriber 100.64.0.0 + i/64 port 10000 + i%64 -> server
 * 198.51.100.10 + i%200 port 443, translated to 203.0.113.(i/64 % 256)
 * port 1024 + (i/64/256)*64 + i%64: unique in- and out-tuples and pool
 * ports for i < 4,194,304 (the subscribers of 100.64.0.0/10).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/util.h"
#include "nsmaps.h"

#define SF_SUB_BASE 0x64400000u /* 100.64.0.0 */
#define SF_MAX (1L << 22)

/* Wall clock in ns (run.sh compares it with `date +%s%N`). */
static uint64_t sf_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cmd_syncfill(int argc, char **argv)
{
	struct nsb_fill f = { .sub_base = SF_SUB_BASE, .proto = IPPROTO_TCP, .fw_term = NS_NONE16 };
	char dir[512];
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
	snprintf(dir, sizeof(dir), "%s/" NS_PIN_SUBDIR, argv[0]);
	f.first = first;
	f.n = n;
	now = ns_now();
	real = sf_real_ns();
	f.created_ns = now - (uint64_t)age_ms * 1000000ull;
	f.last_seen_ns = now;
	err = nsb_fill_pinned(dir, &f);
	t1 = ns_now();
	if (err == -ENOENT) {
		fprintf(stderr, "bench: syncfill: no pinned session maps under %s\n", dir);
		return err;
	}
	if (err) {
		fprintf(stderr, "bench: syncfill: batch update: %s\n", strerror(-err));
		return err;
	}
	printf("%llu %.1f\n", (unsigned long long)real, (t1 - now) / 1e6);
	return 0;
}
