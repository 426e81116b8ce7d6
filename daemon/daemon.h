/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daemon.h - the state of one natsyncd instance, shared by its modules
 * (loader, aging, events, control, sync, redundancy). One instance per
 * process; everything runs on the one event loop (loop.h).
 */
#ifndef NATSYNC_DAEMON_H
#define NATSYNC_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"

struct natsync_bpf; /* generated skeleton (build/bpf/natsync.skel.h) */
struct ns_sync;      /* sync.c */
struct ns_redundancy;/* redundancy.c */
struct ns_loader;    /* loader.c: what natsyncd attached, to detach it */
struct ring_buffer;  /* libbpf ring buffer of ns_events (events.c) */
struct ns_aging_sweep; /* aging.c */
struct ns_fragd;     /* frag.c */
struct synhold_daemon; /* synhold.c */
struct ns_metrics;    /* metrics.c: the HTTP endpoint */

/* File descriptors of the pinned maps (-1 when not open). */
struct ns_map_fds {
	int sessions, session_rev, ports, eim, paired;
	int pools, pool_state, svc, fw_terms, nat_terms;
	int ifaces, config, counters, tx_ports, events;
	int nat64_sess, nat64_rev, nat64_terms; /* stateful NAT64 (doc/nat64.md) */
	int frag, frag_ring; /* IPv4 fragments (bpf/frag.h, frag.h) */
	int pool_pba, pba, pba_blk; /* port-block-allocation (bpf/pba.h, pba.h) */
};

struct ns_daemon_stats {
	uint64_t aging_passes;
	uint64_t aging_last_ns;       /* duration of the last pass */
	uint64_t sessions_seen;       /* live sessions at the last pass */
	uint64_t sessions_expired;    /* total */
	uint64_t bindings_live;       /* ns_ports entries at the last pass */
	uint64_t bindings_released;   /* total ports moved to hold or freed */
	uint64_t events_logged;
	uint64_t reloads, reload_failures;
	uint64_t reloads_deferred;    /* applied by reload.c's timer, not at once */
	uint64_t map_full_warnings;
	uint64_t events_suppressed;   /* rate-limited warnings not logged */
	uint64_t aging_errors;        /* map operations that failed in aging */
	uint64_t nat_released;        /* ns_ports entries deleted after hold */
	uint64_t nat64_sessions_seen; /* live NAT64 sessions at the last pass */
	uint64_t aging_deferred;      /* sweep records left for a later cycle
				       * (its output buffer was full) */
	uint64_t aging_slices;        /* sweep runs (slices) in the last cycle */
	uint64_t aging_slice_max_ns;  /* the last cycle's longest slice */
	uint64_t aging_slice_restarts; /* sliced walks restarted: key gone */
	uint64_t aging_unsliced_walks; /* walks run unsliced after restarts */
	/* IPFIX export (ipfix.c) and the syslog sink (log.c) */
	uint64_t ipfix_records;       /* records encoded */
	uint64_t ipfix_templates;     /* template sets sent (start, refresh) */
	uint64_t ipfix_messages;      /* messages sent, per collector */
	uint64_t ipfix_drops;         /* messages dropped: socket buffer full */
	uint64_t ipfix_send_errors;   /* sends or encodings that failed otherwise */
	uint64_t ipfix_unresolved;    /* NAT64 events whose IPv6 side was gone */
	uint64_t sessions_cleared;    /* deleted by natsyncctl clear sessions */
};

struct ns_daemon {
	struct ns_config conf;
	struct ns_loop *loop;
	struct natsync_bpf *skel;     /* loaded object; its maps may be adopted pins */
	struct ns_map_fds fd;
	struct ns_daemon_stats st;
	uint64_t started_ns;          /* CLOCK_MONOTONIC at start */
	bool foreground;
	struct ns_sync *sync;         /* NULL when redundancy is not configured */
	struct ns_redundancy *red;
	struct ns_loader *ld;         /* attachments (loader.c) */
	struct ring_buffer *rb;       /* ns_events consumer (events.c) */
	struct ns_fragd *frag;        /* held fragments (frag.c); NULL when off */
	struct synhold_daemon *synhold; /* held NAT64 SYNs (synhold.c); NULL when off */
	int aging_timer_fd;           /* -1 until aging_init() */
	struct ns_aging_sweep *aging_sweep; /* the in-kernel sweep (aging.c) */
	struct ns_metrics *metrics;   /* NULL unless metrics.listen is set */
	char aging_why[128];          /* why not: the batch walk runs instead */
	uint64_t full_warned_ns;      /* last ">90% of max-sessions" warning */
	uint64_t cfg_flip_ns;         /* last flip of the config bank (loader.c) */
	int loop_nice;                /* the event loop thread's nice in force */
	int aging_cpu;                /* the in-kernel walks' CPU, -1: not set apart */
	uint64_t cfg_flips;           /* config banks put in force (loader.c) */
};

/* Monotonic clock in ns, the same clock as bpf_ktime_get_ns(). */
uint64_t ns_now(void);

#endif
