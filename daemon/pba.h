/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pba.h - natsyncd's side of port-block-allocation (bpf/pba.h allocates):
 * one log line per block allocated, still active (interim) or released,
 * the release of blocks whose last port is gone (after the port-hold), and
 * the backup's copy of the blocks, derived from the replicated sessions.
 * doc/operations.md has the log format, doc/fastpath.md the design.
 */
#ifndef NATSYNC_DAEMON_PBA_H
#define NATSYNC_DAEMON_PBA_H

#include <stddef.h>
#include <stdint.h>

#include "common/natsync.h"

struct ns_daemon;
struct ns_config;
struct nsw_session;

#define NS_PBA_SCAN_MS 1000			/* how often blocks are looked at */
#define NS_PBA_GRACE_NS (2ull * 1000000000ull) /* a block younger than this is
						* never released (its first port may
						* not be claimed yet) */

struct ns_pba_stats {
	uint64_t scans;
	uint64_t blocks;        /* blocks owned at the last scan */
	uint64_t logged_alloc;  /* PORT_BLOCK_ALLOC lines */
	uint64_t logged_interim;
	uint64_t released;      /* blocks released (PORT_BLOCK_RELEASE when active) */
	uint64_t adopted;       /* blocks installed from replicated sessions */
	uint64_t conflicts;     /* a replicated port in a block another owns */
	uint64_t errors;        /* map operations that failed */
};

/* Start the scan timer (a no-op tick while no pool has blocks). 0/-errno. */
int ns_pba_init(struct ns_daemon *d);
void ns_pba_fini(struct ns_daemon *d);

/* One scan now: log, release. Returns blocks released or -errno. */
int ns_pba_scan(struct ns_daemon *d, uint64_t now);

/* Backup: make the blocks of n replicated session records its own. */
void ns_pba_adopt(struct ns_daemon *d, const struct nsw_session *r, size_t n, uint64_t now);

/* True when the pool's NAT bindings are logged per block, not per session. */
bool ns_pba_pool_quiet(const struct ns_config *c, unsigned int pool_id);

/* One log line for a block into buf: what = "ALLOC", "ACTIVE", "RELEASE". */
int ns_pba_format(char *buf, size_t len, const char *what, const char *pool,
		  const struct ns_pool_pba *c, const struct ns_pba_blk_key *k,
		  const struct ns_pba_blk_val *v, uint64_t now);

void ns_pba_get_stats(struct ns_pba_stats *st);

/*
 * ns_pba_map_entries - the max_entries of ns_pba_blk and ns_pba for config
 * c: every block its pools can hand out (addresses x blocks per address,
 * deterministic pools none), at most NS_MAX_PBA_BLOCKS, at least 1 (no
 * pool with blocks). A subscriber's ns_pba entry lives only while it owns
 * a block, so ns_pba needs no more entries than ns_pba_blk.
 */
uint32_t ns_pba_map_entries(const struct ns_config *c);

/*
 * ns_pba_maps_fit - can the running ns_pba/ns_pba_blk (their max_entries)
 * hold what config c's pools need? 0, or -1 with the reason in err (a
 * reload is then refused: maps are not resized while they run).
 */
int ns_pba_maps_fit(const struct ns_daemon *d, const struct ns_config *c, char *err,
		    size_t len);

/*
 * Deterministic NAT lookups from the config alone (natsyncctl lookup):
 * "A.B.C.D:PORT" (a pool address and port) -> the subscriber that had it;
 * "A.B.C.D" (a subscriber) -> its address and port ranges in every
 * deterministic pool. One line per answer into out. Returns the number of
 * answers (0: no deterministic pool has it), or -1 with a message in out
 * when the query is malformed.
 */
int ns_pba_det_lookup(const struct ns_config *c, const char *query, char *out, size_t len);

#endif
