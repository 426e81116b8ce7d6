/* SPDX-License-Identifier: GPL-2.0 */
/*
 * monitor.h - redundancy events (issue 10): what the Service Redundancy
 * Daemon watches besides the peer's role. Each configured event
 * (redundancy-options.redundancy-events) watches one thing:
 *   link-down  any of its interfaces lost its link (rtnetlink RTMGRP_LINK)
 *   route      a prefix is gone from a routing table (rtnetlink: route
 *              notifications, and a table dump to confirm a deletion or
 *              after a link/address change, which the kernel does not
 *              report route by route)
 *   ping       an address stopped answering ICMP echo (count in a row lost)
 *   peer       the peer's heartbeats stopped (loss, as the state machine
 *              judges it)
 * and is debounced by its hold times: a change of the raw condition only
 * counts once it has lasted hold-time-down-ms / hold-time-up-ms; a change
 * that reverts sooner is forgotten. Settled changes are reported to a
 * callback (policy.c maps them to actions).
 *
 * Two layers, like redundancy.h: struct mon_event is the pure debouncer
 * (every input carries now in ms; unit tests drive it), struct ns_monitor
 * the daemon glue (sockets and one timer on the event loop, never blocking;
 * its clock is ns_now(), which tests move with ns_clock_offset_set()).
 */
#ifndef NATSYNC_MONITOR_H
#define NATSYNC_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ns_loop;
struct ns_redundancy_conf;
struct ctl_json;

/* Settled state of an event. */
enum mon_state {
	MON_UNKNOWN = 0,   /* not measured yet */
	MON_UP = 1,
	MON_DOWN = 2,
};

/* What a settled change means for the policies (mon_event_* return). */
#define MON_FIRE_DOWN 1    /* the event occurred: up (or unknown) -> down */
#define MON_FIRE_UP 2      /* it cleared: down -> up */

#define MON_TEXT_MAX 96

struct mon_event {
	uint8_t state;            /* enum mon_state, settled */
	bool holding;             /* the raw condition differs, hold time running */
	bool raw_up;              /* last raw input */
	uint64_t since_ms;        /* settled state entered */
	uint64_t hold_since_ms;   /* raw change that is being held */
	uint64_t changes;         /* settled changes */
	uint64_t flaps;           /* raw changes forgotten within their hold time */
	char raw_reason[MON_TEXT_MAX];  /* why the raw condition is what it is */
	char reason[MON_TEXT_MAX];      /* why the settled state last changed */
};

/*
 * mon_event_input - a raw observation at now: up or not, and why. Returns
 * MON_FIRE_DOWN / MON_FIRE_UP when the settled state changed at once (no
 * hold time for that direction), else 0. The first observation of an
 * unknown event settles "up" silently (nothing changed) and "down" like any
 * down (after hold-time-down, then MON_FIRE_DOWN).
 */
int mon_event_input(struct mon_event *e, uint32_t hold_down_ms, uint32_t hold_up_ms,
		    uint64_t now, bool up, const char *reason);

/* mon_event_tick - time passes: a hold that ran out settles (and fires). */
int mon_event_tick(struct mon_event *e, uint32_t hold_down_ms, uint32_t hold_up_ms,
		   uint64_t now);

/* Display name of the state: "up", "down", "unknown", "holding-down" (up,
 * raw down, hold running), "holding-up". Static string. */
const char *mon_event_state_name(const struct mon_event *e);

/* ---- daemon glue ---------------------------------------------------------- */

struct ns_monitor;

/* A settled change of event idx (MON_FIRE_*). */
typedef void (*monitor_fired_cb)(void *arg, uint32_t idx, int fire);
/* For monitor-peer = "loss": 1 the peer's heartbeats arrive, 0 they
 * stopped, -1 never heard (the event stays unknown: a box that starts alone
 * has lost nobody). */
typedef int (*monitor_peer_cb)(void *arg);

/*
 * monitor_new - the events of rc (kept by pointer). With a loop: opens the
 * rtnetlink listener (when a link or route event exists), one ICMP socket
 * per ping event (datagram ICMP when net.ipv4.ping_group_range allows it,
 * raw otherwise) and a timer; inputs then come from the kernel. Without a
 * loop (tests): no socket, inputs only through monitor_input(). Returns
 * NULL with errno.
 */
struct ns_monitor *monitor_new(struct ns_loop *loop, const struct ns_redundancy_conf *rc,
			       monitor_fired_cb fired, monitor_peer_cb peer, void *arg);
void monitor_free(struct ns_monitor *m);

/* A raw observation for event idx at ns_now() (tests; the probes use it). */
void monitor_input(struct ns_monitor *m, uint32_t idx, bool up, const char *reason);

/* Run the holds, the ping schedule and the peer check at ns_now(). The
 * timer calls it; tests call it after moving the clock. */
void monitor_tick(struct ns_monitor *m);

/* Event idx's state (NULL past the last). */
const struct mon_event *monitor_event(const struct ns_monitor *m, uint32_t idx);

/* Is event idx settled in the state a policy's "when" names? */
bool monitor_is(const struct ns_monitor *m, uint32_t idx, bool up);

/* "show redundancy" lines (f) or the "events" array (j). */
void monitor_status(const struct ns_monitor *m, FILE *f, struct ctl_json *j);

#endif
