// SPDX-License-Identifier: GPL-2.0
/*
 * bench_pkt.c - entry point of the measuring tool behind `make bench`.
 *
 *   bench_pkt [-q] testrun         per-packet cost with BPF_PROG_TEST_RUN
 *                                  (run in a private netns holding the
 *                                  veths BENCH_IF_IN/BENCH_IF_OUT)
 *   bench_pkt [-q] scale [PINDIR]  map memory per session, aging pass time,
 *                                  load+pin+attach time with big maps
 *   bench_pkt [-q] profile SECS [est|setup]  natsync's established in->out
 *                                  case (or new flows) in a loop, for
 *                                  perf record (run.sh, profile.py)
 *   bench_pkt attach ...           attach the reference or natsync programs
 *                                  for the veth forwarding topology
 *   bench_pkt gen ...              saturating XDP live-frames generator
 *   bench_pkt sgen ...             AF_PACKET sendmmsg generator (no TX ring)
 *   bench_pkt syncfill ...         aged sessions into natsyncd's pinned
 *                                  maps (the sync benchmark, syncfill.c)
 *
 * Figures go to stdout as JSON lines (see bench.h), progress to stderr.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bench.h"
#include "nsmaps.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void bench_stat_of(double *v, int n, struct bench_stat *out)
{
	double sum = 0;
	int i;

	memset(out, 0, sizeof(*out));
	if (n <= 0)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	out->n = n;
	out->min = v[0];
	out->max = v[n - 1];
	out->mean = sum / n;
	out->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Print s as a JSON string (the texts here are ours: escape " and \ only). */
static void json_str(const char *key, const char *s, int comma)
{
	printf("\"%s\":", key);
	if (!s) {
		printf("null");
	} else {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				putchar('\\');
			putchar(*s == '\n' ? ' ' : *s);
		}
		putchar('"');
	}
	if (comma)
		putchar(',');
}

static void json_num(const char *key, double v, int comma)
{
	if (isfinite(v))
		printf("\"%s\":%.6g%s", key, v, comma ? "," : "");
	else
		printf("\"%s\":null%s", key, comma ? "," : "");
}

void bench_emit(const struct bench_fig *f)
{
	putchar('{');
	json_str("section", f->section, 1);
	json_str("name", f->name, 1);
	if (f->sessions >= 0)
		printf("\"sessions\":%ld,", f->sessions);
	else
		printf("\"sessions\":null,");
	json_str("unit", f->unit, 1);
	if (f->st) {
		json_num("median", f->st->median, 1);
		json_num("min", f->st->min, 1);
		json_num("max", f->st->max, 1);
		printf("\"n\":%d,", f->st->n);
	} else {
		printf("\"median\":null,");
	}
	json_str("how", f->how, 1);
	json_str("note", f->note, 1);
	json_str("target", f->target, 0);
	printf("}\n");
	fflush(stdout);
}

void bench_emit_value(const char *section, const char *name, long sessions,
		      const char *unit, double value, const char *how,
		      const char *note, const char *target)
{
	struct bench_stat st = { value, value, value, value, 1 };
	struct bench_fig f = { section, name, sessions, unit, &st, how, note, target };

	bench_emit(&f);
}

void bench_emit_na(const char *section, const char *name, long sessions,
		   const char *note, const char *target)
{
	struct bench_fig f = { section, name, sessions, NULL, NULL, NULL, note, target };

	bench_emit(&f);
}

int bench_mem_check(long entries, long bytes_per_entry, char *why, size_t whylen)
{
	long long avail_kib = -1, need_kib = (long long)entries * bytes_per_entry / 1024;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &avail_kib) == 1)
			break;
	if (f)
		fclose(f);
	if (avail_kib < 0) {
		snprintf(why, whylen, "n/a (MemAvailable not readable)");
		return 0;
	}
	if (avail_kib - need_kib < 2LL * 1024 * 1024) {
		snprintf(why, whylen, "n/a (not enough memory: %lld MiB available, %lld MiB needed "
			 "for %ld entries + 2 GiB spare)", avail_kib / 1024, need_kib / 1024, entries);
		return 0;
	}
	return 1;
}

/* libbpf's own messages: warnings only, unless BENCH_DEBUG is set. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("BENCH_DEBUG"))
		return 0;
	if (level == LIBBPF_INFO && !getenv("BENCH_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_pkt [-q] testrun\n"
		"       bench_pkt [-q] scale [PIN_DIR]\n"
		"       bench_pkt [-q] profile SECONDS [est|setup]   (natsync loop for perf)\n"
		"       bench_pkt attach (fwd|sink|natsync|counters|off) ...   (see attach.c)\n"
		"       bench_pkt gen IFNAME DST_MAC (FLOWS|new) COUNT   (see gen.c)\n"
		"       bench_pkt sgen [-r ADDR] IFNAME DST_MAC (FLOWS|new) COUNT [PPS]\n"
		"       bench_pkt syncfill PIN_DIR FIRST N AGE_MS   (see syncfill.c)\n"
		"  -q   quick mode (BENCH_QUICK=1): fewer repeats, smaller tables\n");
}

static void opts_init(struct bench_opts *o, bool quick)
{
	memset(o, 0, sizeof(*o));
	o->quick = quick;
	o->rounds = quick ? 3 : 7;
	o->repeat = quick ? 200000 : 2000000;
	o->ttl_calls = quick ? 8 : 40;
	/* 0: the empty table (maps sized like the largest case), 1k, 1M, 10M.
	 * Quick mode: 100k instead of 1M, no 10M (printed as n/a). */
	o->sizes[0] = 0;
	o->sizes[1] = 1000;
	o->sizes[2] = quick ? 100000 : 1000000;
	o->sizes[3] = BENCH_BIG_TABLE;
	o->n_sizes = quick ? 3 : 4;
	o->mid = o->sizes[2];
	o->new_sessions = quick ? 20000 : 100000;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	bool quick = getenv("BENCH_QUICK") && strcmp(getenv("BENCH_QUICK"), "0");
	int i = 1;

	if (i < argc && !strcmp(argv[i], "-q")) {
		quick = true;
		i++;
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	opts_init(&o, quick);
	libbpf_set_print(libbpf_print);
	if (!strcmp(argv[i], "testrun"))
		return cmd_testrun(&o) ? 1 : 0;
	if (!strcmp(argv[i], "scale"))
		return cmd_scale(&o, i + 1 < argc ? argv[i + 1] : "/sys/fs/bpf/nsb-bench") ? 1 : 0;
	if (!strcmp(argv[i], "profile"))
		return ns_profile(&o, o.mid, i + 1 < argc ? atof(argv[i + 1]) : 5.0,
				  i + 2 < argc && !strcmp(argv[i + 2], "setup")) ? 1 : 0;
	if (!strcmp(argv[i], "attach"))
		return cmd_attach(argc - i - 1, argv + i + 1) ? 1 : 0;
	if (!strcmp(argv[i], "gen"))
		return cmd_gen(argc - i - 1, argv + i + 1) ? 1 : 0;
	if (!strcmp(argv[i], "sgen"))
		return cmd_sgen(argc - i - 1, argv + i + 1) ? 1 : 0;
	if (!strcmp(argv[i], "syncfill"))
		return cmd_syncfill(argc - i - 1, argv + i + 1) ? 1 : 0;
	usage();
	return 2;
}
