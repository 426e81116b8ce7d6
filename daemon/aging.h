/* SPDX-License-Identifier: GPL-2.0 */
/*
 * aging.h - session and NAT binding expiry, run by natsyncd every
 * aging-interval-ms on the event loop.
 *
 * One cycle: find the sessions idle longer than their protocol/TCP-state
 * timeout and delete them (with their ns_session_rev entry), then go
 * through ns_ports and ns_paired: a binding no live session uses is held
 * (RFC 6888 port-hold) and freed after the hold; see doc/daemon.md.
 *
 * The engine is the in-kernel sweep (bpf/aging.bpf.c: syscall programs that
 * walk the maps with bpf_for_each_map_elem on a worker thread, their
 * findings applied on the loop in bounded steps under a CPU share), or,
 * where it cannot load, the batch walk (one synchronous pass per tick).
 * NATSYNC_AGING_ENGINE=auto|in-kernel|batch in the environment chooses;
 * in-kernel means "the sweep or do not start".
 *
 * The decision functions are pure so the unit tests can drive them with
 * fake clocks.
 */
#ifndef NATSYNC_AGING_H
#define NATSYNC_AGING_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct ns_daemon;

#define NS_NSEC_PER_SEC 1000000000ull

/* The in-kernel sweep's cap: after a slice of work it rests long enough to
 * use at most this share (%) of one core. */
#define NS_AGING_CPU_SHARE_PCT 4

/* What one walk of the in-kernel sweep can emit (expired sessions, changed
 * bindings; 144 B each: 4.5 MiB). What does not fit waits for the next
 * cycle, counted in aging_deferred; an expired session that waits keeps
 * its bindings until it is deleted. */
#define NS_AGING_OUT_RECS 32768u

/* The in-kernel sweep's walks run in slices of `aging-slice` entries per
 * BPF_PROG_RUN (doc/daemon.md, "Sliced walks"); ns_age_out is collected
 * after every slice, so one walk may emit up to NS_AGING_WALK_RECS records
 * (18 MiB in the daemon at most). A walk whose resume key vanished restarts;
 * after NS_AGING_MAX_RESTARTS restarts it runs in one unsliced run. */
#define NS_AGING_SLICE_DEFAULT 16384u
/* aging-slice not configured: NS_AGING_SLICE_DEFAULT when the walks share
 * the event loop's CPU (one CPU), unsliced when they have a CPU of their
 * own, where slicing would only cost (ns_aging_slice()). */
#define NS_AGING_SLICE_AUTO UINT32_MAX
#define NS_AGING_SLICE_MAX (1u << 24)
#define NS_AGING_WALK_RECS (4 * NS_AGING_OUT_RECS)
#define NS_AGING_MAX_RESTARTS 3
/* A run skips everything the walk has passed (at ~1/4 of the cost of
 * processing it): a slice is at least 1/NS_AGING_SLICE_GROWTH of that, so
 * the skips of a whole walk cost ~NS_AGING_SLICE_GROWTH + 1 passes over the
 * map instead of n / 2 slice, and the longest run ~1.5 skips of the map. */
#define NS_AGING_SLICE_GROWTH 8

/* Tests only: called on the walking thread after a slice of the in-kernel
 * sweep that another follows, with the fd of the daemon map walked and the
 * key the next slice resumes after (bpf/aging_sweep.h, union ns_age_key). */
/* The entries per slice the sweep's walks use now (0: unsliced). */
uint32_t ns_aging_slice(const struct ns_daemon *d);

typedef void (*ns_aging_slice_hook_fn)(void *arg, int map_fd, const void *key);
void ns_aging_set_slice_hook(struct ns_daemon *d, ns_aging_slice_hook_fn fn, void *arg);

/* Tests only: called on the sweep's worker thread right after it told the
 * loop that a walk is over, before it waits for the next one (where a
 * worker starved of CPU may be descheduled). */
typedef void (*ns_aging_worker_hook_fn)(void *arg);
void ns_aging_set_worker_hook(struct ns_daemon *d, ns_aging_worker_hook_fn fn, void *arg);

/*
 * ns_aging_session_expired - true when a session last seen at last_seen_ns
 * has been idle for longer than timeout_s at now. A last_seen_ns in the
 * future (a packet raced the pass) is never expired.
 */
bool ns_aging_session_expired(uint64_t last_seen_ns, uint64_t now, uint32_t timeout_s);

/* What a pass does with one ns_ports entry. */
enum ns_port_verdict {
	NS_PORT_KEEP = 0,  /* nothing to write */
	NS_PORT_UNHOLD,    /* in use again: clear NS_PORT_F_HOLD */
	NS_PORT_HOLD,      /* last session gone: set HOLD, released_ns = now */
	NS_PORT_DROP_EIM,  /* EIM binding time over: delete the ns_eim entry,
			    * clear NS_PORT_F_EIM, keep holding the port */
	NS_PORT_FREE,      /* hold over: delete the port (and its ns_eim entry) */
};

/*
 * ns_aging_port_decide - the fate of one NAT binding in this pass.
 * @v:           the ns_ports value
 * @in_use:      a live session translates to this (address, port, proto)
 * @now:         the pass's clock
 * @walk_start:  when the session walk began: a port touched since then may
 *               belong to a session the walk did not see yet, so it is kept
 * @clean_close: the last session on it ended with a clean TCP close
 *               (both FINs): RFC 6888 lets such a port be reused at once
 * @hold_s:      port-hold seconds (RFC 6888: a released port is not reused
 *               for >= 120 s), 0 = free at once
 * @binding_s:   EIM binding lifetime after its last session, 0 = none
 */
enum ns_port_verdict ns_aging_port_decide(const struct ns_port_val *v, bool in_use,
					  bool clean_close, uint64_t now, uint64_t walk_start,
					  uint32_t hold_s, uint32_t binding_s);

/*
 * ns_aging_paired_expired - true when an address-pooling-paired entry is
 * unused (no live session of that subscriber on that pool) and older than
 * the binding timeout; entries touched since walk_start are kept.
 */
bool ns_aging_paired_expired(const struct ns_paired_val *v, bool in_use, uint64_t now,
			     uint64_t walk_start, uint32_t binding_s);

/*
 * ns_aging_pass - one full cycle over the maps in d->fd at clock now, run to
 * its end before returning (tests and benchmarks; natsyncd itself runs
 * cycles in slices from the timer). Updates d->st; logs SESSION_CLOSE /
 * NAT_RELEASE per the service sets' syslog classes. Returns 0, or -errno
 * when a map walk failed (the cycle stops, nothing half-deleted is left
 * inconsistent: a session's rev entry is deleted with it).
 */
int ns_aging_pass(struct ns_daemon *d, uint64_t now);

/* "in-kernel sweep" or "batch walk": the engine d's aging uses (loads the
 * sweep on first use). */
const char *ns_aging_engine(struct ns_daemon *d);

/* Why d's aging runs the batch walk (for logs and show status), or NULL
 * when the in-kernel sweep runs. */
const char *ns_aging_fallback(struct ns_daemon *d);

/* The fds of the maps the in-kernel sweep owns (its live bitmap and output
 * buffer: the fast path's maps it walks are the daemon's) into fds[0, max);
 * returns how many (0 without the sweep). For show status' memory. */
int ns_aging_map_fds(struct ns_daemon *d, int *fds, int max);

/* Start the aging timer (conf.aging_interval_ms) on d->loop, load the
 * sweep and start its worker thread (falling back to the batch walk, with a
 * warning, unless NATSYNC_AGING_ENGINE=in-kernel: then -ENOTSUP). 0 or
 * -errno. */
int ns_aging_init(struct ns_daemon *d);

/* Stop the aging timer and unload the sweep (also after ns_aging_pass()
 * without ns_aging_init(): d->loop may be NULL). */
void ns_aging_fini(struct ns_daemon *d);

#endif
