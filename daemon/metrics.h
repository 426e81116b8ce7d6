/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics.h - natsyncd's Prometheus metrics (text exposition 0.0.4, prom.h):
 * every fast-path counter (summed over CPUs), sessions by family, protocol
 * and TCP state, pool usage, the daemon's statistics, aging and event-loop
 * figures, map memory, and the sync and redundancy state (from the JSON
 * documents of show sync / show redundancy, so the two views never
 * disagree). doc/operations.md lists every family.
 *
 * Two ways out, one text: `natsyncctl show metrics` (answered on the event
 * loop, like show sessions) and, with `metrics: { listen = "ADDR:PORT"; }`,
 * an HTTP endpoint (GET /metrics) served by libmicrohttpd on a thread of
 * its own. A scrape never runs on the event loop: the thread asks the loop
 * for a snapshot of the daemon's own figures (an eventfd; the loop copies a
 * few structs and two short JSON documents, microseconds), then reads the
 * maps itself with its own file descriptors. If the loop does not answer
 * within NS_METRICS_SNAP_WAIT_MS the previous snapshot is served and
 * natsync_metrics_snapshot_age_seconds says how old it is.
 */
#ifndef NATSYNC_METRICS_H
#define NATSYNC_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "daemon.h"
#include "loop.h"
#include "mapmem.h"

struct ctl_request;
struct ctl_out;
struct ns_metrics;

#define NS_METRICS_MAPS 32
#define NS_METRICS_SNAP_WAIT_MS 2000
#define NS_METRICS_MAX_CLIENTS 8
#define NS_METRICS_TIMEOUT_S 10

/* The daemon's own figures at one instant, taken on the event loop. */
struct ns_metrics_snap {
	uint64_t taken_ns;               /* ns_now() when taken */
	uint64_t started_ns;
	char node[NS_NAME_MAX];
	uint32_t max_sessions;
	struct ns_daemon_stats st;
	struct ns_loop_stats loop;
	uint64_t cfg_flips;
	char aging_engine[32];
	char aging_fallback[128];        /* "" when the in-kernel sweep runs */
	uint32_t n_pools;
	char pool_names[NS_MAX_POOLS][NS_NAME_MAX];
	uint64_t pool_capacity[NS_MAX_POOLS];
	uint32_t pool_addrs[NS_MAX_POOLS];
	int n_maps;
	struct ns_map_mem maps[NS_METRICS_MAPS];
	long long maps_total;
	char *sync_json;                 /* show sync's document (malloc'd) */
	char *red_json;                  /* show redundancy's document (malloc'd) */
};

/* The maps a rendering reads (the HTTP thread holds its own duplicates). */
struct ns_metrics_fds {
	int counters, sessions, nat64_sess, ports, paired;
};

/* ns_metrics_snapshot - take d's figures (event loop only). 0 or -ENOMEM. */
int ns_metrics_snapshot(struct ns_daemon *d, struct ns_metrics_snap *s);

/* ns_metrics_snap_free - free what a snapshot holds (not s itself). */
void ns_metrics_snap_free(struct ns_metrics_snap *s);

/*
 * ns_metrics_render - the whole exposition of snapshot s and the maps fds
 * at now_ns into f. Touches no daemon state (safe on any thread). Returns
 * how many parts could not be read (also exported, natsync_metrics_errors)
 * plus the encoder's refusals (0 when all is well).
 */
int ns_metrics_render(const struct ns_metrics_snap *s, const struct ns_metrics_fds *fds,
		      uint64_t now_ns, FILE *f);

/* "show metrics": the same exposition (JSON mode: {"exposition": TEXT}). */
int ns_metrics_ctl_show(struct ns_daemon *d, const struct ctl_request *req,
			struct ctl_out *out, void *arg);

/*
 * ns_metrics_start - when d->conf.metrics is enabled, listen on its
 * address and serve GET /metrics from a thread; sets d->metrics. Returns 0
 * (also when disabled) or -errno, with the reason logged (the address
 * cannot be bound, ...).
 */
int ns_metrics_start(struct ns_daemon *d);

/* ns_metrics_stop - stop the server and its thread; NULL d->metrics is a no-op. */
void ns_metrics_stop(struct ns_daemon *d);

#endif
