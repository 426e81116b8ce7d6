/* SPDX-License-Identifier: GPL-2.0 */
/*
 * aging_cycle.h - what one aging cycle collects and changes, shared by the
 * two engines (internal to aging: aging.c holds the decisions, the changes
 * and the batch walk; aging_kernel.c the in-kernel sweep, its worker thread
 * and the timer). Not for other modules: they use aging.h.
 */
#ifndef NATSYNC_AGING_CYCLE_H
#define NATSYNC_AGING_CYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/natsync.h"
#include "aging.h"

struct ns_daemon;

/* An open-addressing set of non-zero u64 (binding ids). */
struct u64set {
	uint64_t *slot;
	size_t cap; /* power of two */
	size_t n;
};

/* An expired session: its key and the record as the walk read it. */
struct expired {
	struct ns_tuple key;
	struct ns_session s;
};

/* An expired NAT64 session: its IPv6 key and the same session record. */
struct expired64 {
	struct ns_tuple6 key;
	struct ns_session s;
};

/* An ns_ports entry whose verdict is not KEEP, applied after the walk. */
struct port_change {
	struct ns_port_key k;
	struct ns_port_val v;
	enum ns_port_verdict verdict;
};

/* A paired-pooling entry to delete, with the last use the walk saw. */
struct paired_gone {
	struct ns_paired_key k;
	uint64_t seen_last_used;
};

/* One cycle: its clock, the live bindings seen, what to change, counts. */
struct pass {
	struct ns_daemon *d;
	uint64_t now, walk_start;
	struct u64set ports;   /* (out addr, port, proto) of live sessions */
	struct u64set paired;  /* (subscriber, pool) of live sessions */
	struct u64set clean;   /* ports whose expired session closed cleanly */
	struct expired *exp;
	size_t n_exp, cap_exp;
	struct expired64 *exp64;  /* NAT64 sessions, reaped like exp */
	size_t n_exp64, cap_exp64;
	uint64_t live64;          /* live NAT64 sessions (not in live: those
				   * are measured against ns_sessions' size) */
	uint64_t live, bindings, held, released, freed;
	struct port_change *pc; /* ns_ports changes, applied after the walk */
	size_t n_pc, cap_pc;
	struct paired_gone *gone;
	size_t n_gone, cap_gone;
	/* In-kernel sweep only: live bindings are bits in the sweep's bitmap
	 * (NULL for the batch walk, which uses the sets above). */
	uint64_t *bitmap;
	uint64_t seed;
	uint32_t nbits;
};

bool ag_set_has(const struct u64set *s, uint64_t key);
uint64_t ag_port_id(__be32 addr, __be16 port, __u8 proto);
/* Grow *arr (of *cap elements of elem bytes) to hold need; 0 or -ENOMEM. */
int ag_grow(void **arr, size_t *cap, size_t need, size_t elem);
/* Whether the sweep's live bitmap has id (p->bitmap set). */
bool ag_bitmap_test(const struct pass *p, uint64_t id);
/* Queue an expired NAT64 session for ag_reap_sessions64(). */
int ag_note_expired64(struct pass *p, const struct ns_tuple6 *k, const struct ns_session *s);
/* Delete the expired sessions p->exp[from, from + cnt) (re-checked first). */
int ag_reap_sessions(struct pass *p, size_t from, size_t cnt);
/* The same for p->exp64. */
int ag_reap_sessions64(struct pass *p, size_t from, size_t cnt);
/* Apply the port changes p->pc[from, from + cnt). */
int ag_apply_ports(struct pass *p, size_t from, size_t cnt);
/* Delete the paired entries g[0, n) the fast path has not used since. */
int ag_delete_paired_unchanged(int fd, const struct paired_gone *g, size_t n);
/* Warn (at most once a minute) when live sessions pass 90% of the map. */
void ag_warn_if_full(struct ns_daemon *d, uint64_t now, uint64_t live);
void ag_pass_free(struct pass *p);
/* One synchronous pass of the batch walk. */
int ag_batch_pass(struct ns_daemon *d, uint64_t now);

#endif
