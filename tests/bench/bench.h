/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h - shared declarations of bench_pkt, the measuring half of
 * `make bench` (tests/bench/run.sh drives it and formats its output).
 *
 * bench_pkt prints one JSON object per figure on stdout (JSON lines) and
 * progress on stderr; tests/bench/report.py turns the lines into the table
 * and $(BUILD)/bench.json. Benchmarks never assert a time: a figure that
 * misses its target is printed as missed, a case that cannot run says why.
 */
#ifndef NATSYNC_BENCH_H
#define NATSYNC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/natsync.h"
#include "tests/bpf/pkt.h"

/* The carrier-scale table of issue 5 (10M sessions). */
#define BENCH_BIG_TABLE 10000000L

/*
 * bench_mem_check - whether entries map entries (natsync's session-sized
 * maps, at most bytes_per_entry each) fit in MemAvailable with 2 GiB to
 * spare; if not, the reason goes to why. 1 = fits.
 */
int bench_mem_check(long entries, long bytes_per_entry, char *why, size_t whylen);

/* Interface names run.sh creates in the private netns of the test_run cases. */
#define BENCH_IF_IN "nsbi"
#define BENCH_IF_OUT "nsbo"

/* ---- statistics and output (bench_pkt.c) ------------------------------- */

struct bench_stat {
	double median, min, max, mean;
	int n;
};

/* Median/min/max/mean of v[0..n) (v is sorted in place). */
void bench_stat_of(double *v, int n, struct bench_stat *out);

/* One figure, emitted as a JSON line. */
struct bench_fig {
	const char *section;   /* "testrun", "scale", ... */
	const char *name;      /* what was measured */
	long sessions;         /* sessions in the maps, -1 if not applicable */
	const char *unit;
	const struct bench_stat *st; /* NULL: n/a (see note) */
	const char *how;       /* how it was measured */
	const char *note;      /* why n/a, caveats; may be NULL */
	const char *target;    /* e.g. "<= 80", NULL for none */
};

void bench_emit(const struct bench_fig *f);

/* Single-valued convenience wrapper around bench_emit. */
void bench_emit_value(const char *section, const char *name, long sessions,
		      const char *unit, double value, const char *how,
		      const char *note, const char *target);

/* Emit an "n/a" figure with the reason in note. */
void bench_emit_na(const char *section, const char *name, long sessions,
		   const char *note, const char *target);

/* Options shared by the subcommands. */
struct bench_opts {
	bool quick;
	int rounds;            /* rounds per figure (median over them) */
	uint32_t repeat;       /* BPF_PROG_TEST_RUN repeat for stateless cases */
	long ttl_calls;        /* calls of repeat 250 per round (rewriting cases) */
	long sizes[4];         /* session counts for the table sizes, ascending;
				* 0 = the empty table */
	int n_sizes;
	long mid;              /* the size of the breakdown rows (1M; quick 100k) */
	long new_sessions;     /* unique packets for the session setup figure */
};

/* ---- packets (pkt.c, on the BPF suite's tests/bpf/pkt.h and pkt6.h) ---- */

struct pkt {
	uint8_t data[PKT_MAX];
	uint32_t len;
};

/* 64-byte (without FCS: 60) Ethernet/IPv4/UDP frame of tuple t. */
void pkt_udp(struct pkt *p, const struct ns_tuple *t, uint8_t ttl, int vlan);

/* Make p (an untagged IPv4 frame) a later fragment: MF set, offset 8 bytes,
 * IPv4 checksum recomputed; what followed the header is now payload. */
void pkt_later_fragment(struct pkt *p);

/* Ethernet/IPv4/TCP frame with the given flags (TCP header only). */
void pkt_tcp(struct pkt *p, const struct ns_tuple *t, uint8_t ttl, uint8_t flags);

/* ICMP port unreachable from router to dst about the packet inner (as the
 * receiver of inner saw it: inner is the tuple of the packet that failed). */
void pkt_icmp_unreach(struct pkt *p, uint32_t router, uint32_t dst,
		      const struct ns_tuple *inner, uint8_t ttl);

/* Ethernet/IPv6/UDP frame of key k with payload bytes of payload. */
void pkt_udp6(struct pkt *p, const struct ns_tuple6 *k, int payload);

/* Make p (a pkt_udp6 frame) a later IPv6 fragment: a Fragment header of
 * identification id, offset 8 bytes, M set, behind the 40-byte header;
 * what followed the header is now data. */
void pkt6_later_fragment(struct pkt *p, uint32_t id);

/* Build a tuple from host-order addresses and ports. */
struct ns_tuple pkt_tuple(uint32_t saddr, uint16_t sport, uint32_t daddr,
			  uint16_t dport, uint8_t proto);

/* Tuple of a frame (IPv4 addresses, TCP/UDP ports; 0 ports otherwise). */
struct ns_tuple pkt_parse_tuple(const uint8_t *frame, uint32_t len);

/* 1 if the IPv4 header and the TCP/UDP/ICMP checksum verify, else 0. */
int pkt_csum_ok(const uint8_t *frame, uint32_t len);

/* ---- test_run (testrun.c) and natsync maps (nsmaps.c) ------------------ */

/* Run one program with BPF_PROG_TEST_RUN: per-packet ns as the kernel
 * measured it over `repeat` runs; retval and output copied if asked. */
int bench_run(int prog_fd, const struct pkt *in, int ifindex, uint32_t repeat,
	      double *ns, uint32_t *retval, struct pkt *out);

int cmd_testrun(const struct bench_opts *o);
/* Log lines and bytes per 1M sessions, per session and with port blocks. */
void bench_pba_logs(void);
int cmd_scale(const struct bench_opts *o, const char *pin_dir);
int cmd_attach(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_sgen(int argc, char **argv);
/* "aa:bb:cc:dd:ee:ff" into mac (gen.c); -EINVAL if it is not one. */
int bench_parse_mac(const char *s, uint8_t mac[6]);
/* The MAC address of interface ifname into mac (attach.c); 0 or -errno. */
int bench_if_mac(const char *ifname, uint8_t mac[6]);
/* syncfill.c: aged sessions into a running natsyncd's pinned maps. */
int cmd_syncfill(int argc, char **argv);

#endif
