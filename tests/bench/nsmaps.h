/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nsmaps.h - natsync's fast path as the benchmarks drive it without the
 * daemon: load the skeleton with the session maps sized for the case, fill
 * the config/pool/rule/interface maps the way natsyncd does, prefill
 * sessions with bpf_map_update_batch (nsmaps.c).
 */
#ifndef NATSYNC_BENCH_NSMAPS_H
#define NATSYNC_BENCH_NSMAPS_H

#include "bench.h"

/* Reference figures measured in the same run (testrun.c). */
struct bench_ref {
	struct bench_stat noop_call;    /* no-op, repeat-1 loop (setup baseline) */
	struct bench_stat parse_lookup; /* parse + 1 lookup, largest table */
	struct bench_stat fwd;          /* minimal forwarder */
};

/* testrun.c helpers shared with nsmaps.c. */
int bench_measure_ttl(const struct bench_opts *o, int prog_fd, const struct pkt *p,
		      int ifindex, struct bench_stat *st);
long bench_ttl_runs(const struct bench_opts *o);
void bench_emit_testrun(const char *name, long sessions, const struct bench_stat *st,
			const char *how, const char *note, const char *target);

struct nsb;

/* Kernel memory per entry of natsync's session-sized maps together
 * (sessions, rev, ports, eim, paired: about 650 B measured, rounded up),
 * for the memory check before a 10M table is loaded. */
#define NSB_BYTES_PER_ENTRY 1024L

/*
 * nsb_open - open and load natsync's skeleton with every per-session map
 * (sessions, rev, ports, eim, paired) sized to max_sessions, and the
 * port-block maps (ns_pba, ns_pba_blk) as natsyncd's loader sizes them
 * for the bench's pool: its blocks with blocks true (the port-block
 * testrun row), else 1 entry (no pool uses blocks).
 * Returns NULL with the reason in why when it does not load.
 */
struct nsb *nsb_open(long max_sessions, bool blocks, char *why, size_t whylen);
void nsb_close(struct nsb *b);

/* fd of the XDP (or TC: tc=true) entry program, -1 if none. */
int nsb_prog_fd(struct nsb *b, bool tc);

/* One figure per program of b: its verified_insns. */
void nsb_emit_insns(struct nsb *b);

/* fd of a map by name (NS_MAP_*), -1 if the object has no such map. */
int nsb_map_fd(struct nsb *b, const char *name);

/* The bpf_object, for pinning and bpftool-style accounting. */
struct bpf_object *nsb_obj(struct nsb *b);

/*
 * nsb_fill_config - one service set, inside if_in / outside if_out, NAPT44
 * from 100.64.0.0/10 to pool 203.0.113.0/24 (ports 1024-65535, random,
 * address-pooling paired) behind an accept-all stateful firewall term:
 * the shape of configs/ single-box example. ns_tx_ports maps each ifindex
 * to itself when the object has that devmap. 0 or -errno.
 */
int nsb_fill_config(struct nsb *b, int if_in, int if_out);

/* ---- sessions into natsync's maps (fill.c) ---------------------------- */

/* Writes entry i of a map (key and value, ksz and vsz bytes) for nsb_batch. */
typedef void nsb_entry_fn(long i, void *key, void *val, const void *arg);

/* Entries first .. first + n - 1 of the map fd, made by entry(i, ..., arg),
 * batch-inserted 65536 at a time. 0 or -errno. */
int nsb_batch(int fd, long first, long n, size_t ksz, size_t vsz, nsb_entry_fn *entry,
	      const void *arg);

/*
 * What nsb_fill writes: established NAPT44 sessions first .. first + n - 1.
 * Session i: subscriber sub_base + i/64 port 10000 + i%64 -> server
 * 198.51.100.10 + i%200 port 443, translated to 203.0.113.(i/64 % 256) port
 * 1024 + (i/64/256)*64 + i%64 (pool 0, NAT term 0, service set 0): unique in-
 * and out-tuples and pool ports for i < 4,194,304, ports below 17,408 there.
 */
struct nsb_fill {
	long first, n;
	uint32_t sub_base;	 /* host order */
	uint8_t proto;		 /* IPPROTO_UDP, or IPPROTO_TCP (established) */
	uint16_t fw_term;	 /* the session's firewall term, NS_NONE16: none */
	uint64_t created_ns;	 /* ns_now() clock */
	uint64_t last_seen_ns;	 /* also the bindings' last use */
	bool paired;		 /* a paired-pooling binding per subscriber too */
};

/* The maps a fill writes, -1: absent (sessions and rev are needed). */
struct nsb_fill_fds {
	int sessions, rev, ports, paired;
};

/* Batch-insert f's sessions: all port (and paired) bindings, then all
 * reverse entries, then all sessions, natsyncd's order. 0 or -errno. */
int nsb_fill(const struct nsb_fill_fds *fd, const struct nsb_fill *f);

/* The same into the maps pinned in dir (sessions, rev and ports needed). */
int nsb_fill_pinned(const char *dir, const struct nsb_fill *f);

/*
 * nsb_prefill - install n established NAPT44 UDP sessions (session, rev,
 * port binding, paired binding) with batch updates: nsb_fill's sessions
 * 0 .. n-1 from subscriber 100.96.0.0, so that they never collide with the
 * bench's own sessions. 0 or -errno.
 */
int nsb_prefill(struct nsb *b, long n);

/* Same, into the maps an instance (natsyncd) pinned in dir. 0 or -errno. */
int nsb_prefill_pinned(const char *dir, long n);

/* Install one session and its rev entry and port binding. 0 or -errno. */
int nsb_add_session(struct nsb *b, const struct ns_tuple *in, const struct ns_tuple *out,
		    uint8_t nat_type);

/* Write ns_frag entry k -> v as the fast path leaves it after a datagram's
 * first fragment (first seen, created now), without the timer the fast
 * path arms, so it cannot expire during a timing. 0 or -errno. */
int nsb_put_frag(struct nsb *b, const struct ns_frag_key *k, struct ns_frag *v);

/* Sum of the per-CPU counters (enum ns_counter), 0 or -errno. */
int nsb_counters(struct nsb *b, uint64_t out[NS_CNT_MAX]);

/* NAT64 rows (nat64.c): n NAT64 sessions added to b, one direction at a
 * time with repeat-1 calls net of the no-op baseline: established, and a
 * later fragment each way (through the frag64 program's tail call); then
 * NAPT44's in->out packet x44 and its later fragment frag44 the same way,
 * to compare with. */
/* Every row of nat64_testrun_size as not measured, because why. */
void nat64_testrun_na(long n, const char *why);
void nat64_testrun_size(struct nsb *b, const struct bench_opts *o, long n,
			const struct bench_ref *ref, int if_in, int if_out, const struct pkt *x44,
			const struct pkt *frag44);

/*
 * ns_testrun_size - the per-packet natsync cases for a table of n sessions
 * (testrun), the maps sized max_entries (0: n + the setup packets + 4096).
 */
void ns_testrun_size(const struct bench_opts *o, long n, long max_entries,
		     const struct bench_ref *ref);

/* The natsync test_run rows of size n as n/a, with the reason why. */
void ns_testrun_na(long n, const char *why);

/* Run the established in->out case (or new flows: setup) in a loop for
 * perf (see nsmaps.c). 0 or -1. */
int ns_profile(const struct bench_opts *o, long n, double seconds, bool setup);

/* ladder.c: the cost breakdown of the established path at n sessions. */
void bench_ladder(const struct bench_opts *o, long n);

#endif
