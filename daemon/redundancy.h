/* SPDX-License-Identifier: GPL-2.0 */
/*
 * redundancy.h - service redundancy (issue 4): which box of a pair is
 * primary, what makes that change, and what a change does.
 *
 * Two layers:
 *  - struct red_fsm, a pure state machine (no sockets, no maps, no clock
 *    reads: every input carries "now" in ms). Inputs: peer heartbeats,
 *    the passage of time (peer dead, start-up wait), local readiness,
 *    monitored links, manual switchover, external role control, graceful
 *    shutdown. Output: the new role, a history of transitions with reasons,
 *    and the priority this box advertises in its heartbeats. The unit tests
 *    drive it directly.
 *  - struct ns_redundancy (redundancy.c), the daemon glue: a tick timer, a
 *    netlink link monitor, and the switchover actions (NS_CFG_F_ACTIVE in
 *    ns_config, virtual addresses + gratuitous ARP, signal routes, hook
 *    command: vip.h), all on the event loop, never blocking.
 *
 * Issue 10 plugs in through the glue: redundancy events and the policies
 * that act on them (monitor.h, policy.h) set the fault flag or ask for the
 * role; heartbeat paths besides the sync channel (hbpath.h) deliver their
 * heartbeats like sync's.
 *
 * The pair agrees through the heartbeat the sync channel already carries
 * (role, ready, priority). The priority field holds an "advertisement"
 * (red_fsm_advert()), so a box can say "elect my peer" (RED_ADV_RELEASE) or
 * "hand over to me" (RED_ADV_REQUEST) without a new frame type. Rules and
 * the split-brain choice: doc/redundancy.md.
 */
#ifndef NATSYNC_REDUNDANCY_H
#define NATSYNC_REDUNDANCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ns_daemon;
struct ns_control;
struct ctl_json;
struct ctl_request;
struct ctl_out;

enum red_role {
	RED_ROLE_INIT = 0,    /* start-up: waits for the peer, never forwards */
	RED_ROLE_BACKUP = 1,  /* installs replicated state, never forwards */
	RED_ROLE_PRIMARY = 2, /* forwards, creates sessions, owns the VIPs */
};

/* Why a transition (or a refused request) happened. */
enum red_reason {
	RED_R_NONE = 0,
	RED_R_START,          /* daemon started (INIT) */
	RED_R_NO_PEER,        /* INIT: no heartbeat within dead-interval */
	RED_R_PEER_PRIMARY,   /* INIT: the peer is primary already */
	RED_R_ELECTION,       /* neither is primary: priority, then address */
	RED_R_PEER_DEAD,      /* no heartbeat for dead-interval */
	RED_R_PEER_RELEASED,  /* the primary stepped down and elects us */
	RED_R_PEER_REQUEST,   /* the backup asked for the role (manual/preempt) */
	RED_R_LINK_DOWN,      /* a monitored interface lost its link */
	RED_R_MANUAL,         /* natsyncctl switchover */
	RED_R_PREEMPT,        /* higher priority backup with preempt */
	RED_R_DUAL_PRIMARY,   /* both primary (split brain healed): loser yields */
	RED_R_EXTERNAL,       /* natsyncctl role (keepalived notify script) */
	RED_R_SHUTDOWN,       /* graceful shutdown: hand over at once */
	RED_R_RELEASE_TIMEOUT,/* released, but the peer never took over */
	RED_R_POLICY,         /* a release-mastership policy (policy.h) */
	RED_R_MAX,
};

/* Advertised priority (heartbeat "priority" field, 16 bits). */
#define RED_ADV_RELEASE 0u          /* stepping down / shutting down: elect the peer */
#define RED_ADV_FAULT_BASE 1u       /* a monitored link is down: 1 + priority */
#define RED_ADV_HEALTHY_BASE 257u   /* healthy: 257 + priority (priority 0..255) */
#define RED_ADV_REQUEST 0xffffu     /* backup: "hand the role over to me" */

/* Heartbeat roles as on the wire (enum nsw_role). */
#define RED_PEER_BACKUP 0
#define RED_PEER_PRIMARY 1

#define RED_HISTORY 32              /* transitions kept for show redundancy */
#define RED_NAME_MAX 64
#define RED_DETAIL_MAX 96

/* Action bits returned by every red_fsm_* input. */
#define RED_ACT_PRIMARY (1u << 0)   /* became primary: take over */
#define RED_ACT_BACKUP (1u << 1)    /* left primary (or INIT): release */
#define RED_ACT_ADVERTISE (1u << 2) /* role or advertisement changed: send a
				     * heartbeat now rather than at the next tick */
#define RED_ACT_REANNOUNCE (1u << 3) /* still primary after a dual-primary:
				      * announce the addresses again (the
				      * loser's ARPs may have moved traffic) */

struct red_fsm_conf {
	uint32_t dead_ms;         /* peer dead after this long without heartbeat */
	int priority;             /* 0..255, higher wins */
	bool preempt;             /* a higher priority, ready backup takes over */
	bool external;            /* role set only by red_fsm_set_role (keepalived) */
	uint32_t local_addr;      /* host order: the tie-break (lower wins) */
	uint32_t peer_addr;       /* host order */
};

/* What the last heartbeat told us about the peer. */
struct red_peer {
	bool seen;                /* at least one heartbeat since start */
	uint64_t last_hb_ms;
	uint8_t role;             /* RED_PEER_* */
	bool ready;               /* backup: bulk installed; primary: it holds
				   * the flows (red_fsm.current) */
	uint16_t adv;             /* advertised priority */
	char name[RED_NAME_MAX];
	uint32_t max_gap_ms;      /* longest gap between two heartbeats while
				   * the peer was alive (< dead interval) */
	uint64_t late;            /* heartbeats that came more than half a
				   * dead interval after the one before */
};

struct red_transition {
	uint64_t wall_s;          /* CLOCK_REALTIME seconds (filled by the glue; 0 in tests) */
	uint64_t mono_ms;
	uint8_t from, to;         /* enum red_role */
	uint8_t reason;           /* enum red_reason */
	char detail[RED_DETAIL_MAX];
};

struct red_fsm {
	struct red_fsm_conf c;
	enum red_role role;
	uint64_t start_ms, since_ms;  /* start; last role change */
	bool ready;                   /* local readiness (sync_backup_ready) */
	bool current;                 /* primary: holds the flows (took over
				       * ready, was elected at a joint start,
				       * or its backup synced from it); false
				       * for a box that came up alone (NO_PEER)
				       * until its peer syncs from it */
	bool link_up;                 /* the sync channel to the peer is up */
	uint64_t link_up_ms;
	bool init_waited;             /* INIT logged that it waits for the peer */
	bool faulted;                 /* a monitored link is down, or a
				       * release-mastership policy holds */
	uint8_t fault_reason;         /* RED_R_LINK_DOWN (default) or RED_R_POLICY */
	char fault_detail[RED_DETAIL_MAX];
	bool releasing;               /* stepped down, waiting for the peer */
	uint64_t release_ms;
	bool requesting;              /* backup asked the primary to hand over */
	uint64_t request_ms;
	bool preempt_suppressed;      /* after a manual switchover away from us */
	bool shutting_down;
	struct red_peer peer;
	uint8_t last_reason;          /* enum red_reason of the last event */
	char last_event[RED_DETAIL_MAX];
	uint64_t last_event_ms;
	uint64_t wall_offset_s;       /* glue: realtime - monotonic, for history */
	struct red_transition hist[RED_HISTORY];
	uint32_t n_hist;              /* total transitions; ring of RED_HISTORY */
};

/* Start in INIT (or BACKUP with c->external) at now_ms. */
void red_fsm_init(struct red_fsm *f, const struct red_fsm_conf *c, uint64_t now_ms);

/* Time passes: peer-dead, start-up wait, release/request timeouts. */
unsigned int red_fsm_tick(struct red_fsm *f, uint64_t now_ms);

/* A heartbeat from the peer (role RED_PEER_*, ready, advertisement, name). */
unsigned int red_fsm_peer_heartbeat(struct red_fsm *f, uint64_t now_ms, uint8_t role, bool ready,
				    uint16_t adv, const char *name);

/* Local readiness changed (sync: bulk installed / connection lost). */
unsigned int red_fsm_set_ready(struct red_fsm *f, uint64_t now_ms, bool ready);

/*
 * The sync channel to the peer came up (handshake done) or went down (only
 * noted: the next tick or heartbeat evaluates). A box
 * in INIT whose channel is up does not take the role for lack of a
 * heartbeat: the peer answered, its heartbeat is on the way (it waits up to
 * RED_INIT_LINK_WAIT dead-intervals more, for a peer whose daemon hangs).
 */
#define RED_INIT_LINK_WAIT 4
void red_fsm_set_link(struct red_fsm *f, uint64_t now_ms, bool up);

/* What this box's heartbeat says in its "ready" field: a backup, its bulk
 * is installed; a primary, it holds the flows (red_fsm.current). */
bool red_fsm_advert_ready(const struct red_fsm *f);

/* Monitored links: faulted = at least one is down; detail names it. */
unsigned int red_fsm_set_fault(struct red_fsm *f, uint64_t now_ms, bool faulted,
			       const char *detail);

/*
 * Manual switchover. On the primary: hand over to a live peer (ready, or
 * force). On a backup: ask the live primary to hand over (this box ready,
 * or force). Returns 0 with *acts set, or -1 with a reason in err and no
 * state change.
 */
int red_fsm_switchover(struct red_fsm *f, uint64_t now_ms, bool force, unsigned int *acts,
		       char *err, size_t errlen);

/*
 * External role control ("natsyncctl role primary|backup", for keepalived):
 * only with c.external. Returns 0 with *acts, or -1 with err.
 */
int red_fsm_set_role(struct red_fsm *f, uint64_t now_ms, bool primary, unsigned int *acts,
		     char *err, size_t errlen);

/* Graceful shutdown: a primary steps down and advertises RED_ADV_RELEASE. */
unsigned int red_fsm_shutdown(struct red_fsm *f, uint64_t now_ms);

/* Advertised priority for the next heartbeat (RED_ADV_*). */
uint16_t red_fsm_advert(const struct red_fsm *f);

/* True when a heartbeat arrived within dead-interval. */
bool red_fsm_peer_alive(const struct red_fsm *f, uint64_t now_ms);

/* The i-th most recent transition (0 = newest), or NULL. */
const struct red_transition *red_fsm_history(const struct red_fsm *f, uint32_t i);

/* Display names (static strings, never NULL). */
const char *red_role_name(int role);
const char *red_reason_name(int reason);

/* ---- daemon glue ---------------------------------------------------------- */

/*
 * red_init - start the redundancy module when d->conf.red.enabled (no-op,
 * d->red NULL, otherwise: the box is simply active). Call after the maps are
 * open and BEFORE sync_init(): it clears NS_CFG_F_ACTIVE (in d->conf.cfg and
 * in ns_config) and releases the virtual addresses, because a box that
 * starts does not know yet whether its peer is primary. Registers its timer
 * and link monitor on d->loop. Returns 0 or -errno.
 */
int red_init(struct ns_daemon *d);

/*
 * red_fini - graceful: a primary hands over first (heartbeat with
 * RED_ADV_RELEASE queued on the sync channel, which sync_fini() flushes, so
 * call red_fini() BEFORE sync_fini()), then releases addresses and routes
 * and clears ACTIVE. Not graceful (fatal error paths): just frees.
 */
void red_fini(struct ns_daemon *d, bool graceful);

/*
 * red_shutdown_begin - SIGTERM/SIGINT on a primary with a live peer: step
 * down at once (release, clear ACTIVE, heartbeat RED_ADV_RELEASE) and
 * return true: the caller keeps running the loop, which red stops with
 * loop_stop() once the peer reports primary (or after dead-interval).
 * Returns false (caller stops the loop itself) in every other case.
 */
bool red_shutdown_begin(struct ns_daemon *d);

/*
 * red_reconfigure - after a successful reload (d->conf replaced): take the
 * new priority, preempt and dead-interval, add new virtual addresses and
 * signal routes on a primary, advertise at once. role-control, monitored
 * interfaces and removed addresses/routes need a restart.
 */
void red_reconfigure(struct ns_daemon *d);

/* True when the fast path must forward (primary, or no redundancy). */
bool red_is_active(const struct ns_daemon *d);

/* Advertised priority for sync's outgoing heartbeats (conf priority if no module). */
uint16_t red_advertised_priority(const struct ns_daemon *d);

/* The heartbeat's ready field as redundancy sees it (red_fsm_advert_ready);
 * without redundancy, what sync knows (primary: 1, backup: bulk done). */
bool red_advertised_ready(const struct ns_daemon *d, bool sync_ready);

/* sync calls this when its channel to the peer is established or closed. */
void red_on_peer_link(struct ns_daemon *d, bool up);

/*
 * red_on_peer_heartbeat - sync calls this for every HEARTBEAT it decodes
 * (and hbpath.c for every fresh datagram): role (enum nsw_role), ready,
 * priority (the advertisement), the peer's node name and its uptime (ms
 * since its start, the order of its heartbeats across transports: see
 * red_hb_in_order()). May change the role at once (it calls
 * sync_set_role()).
 */
void red_on_peer_heartbeat(struct ns_daemon *d, uint8_t role, bool ready, uint16_t priority,
			   const char *peer_name, uint64_t uptime_ms);

/*
 * red_hb_in_order - heartbeats travel over the sync channel and the
 * heartbeat paths, so one sent earlier can arrive later (TCP behind bulk
 * data, UDP not). A heartbeat whose sender uptime is below the newest seen
 * (*last) by less than dead_ms is such a late one: false, ignore it (its
 * old role would undo a hand-over). One lower by more is a restarted peer:
 * true, like every newer one, and *last follows.
 */
bool red_hb_in_order(uint64_t *last, uint64_t uptime_ms, uint32_t dead_ms);

/* Switchover / external role from the control socket; 0 or -1 with err. */
int red_request_switchover(struct ns_daemon *d, bool force, char *err, size_t errlen);
int red_set_role(struct ns_daemon *d, bool primary, char *err, size_t errlen);

/* "show redundancy": text to f when j is NULL, else one JSON object via j. */
void red_status(struct ns_daemon *d, FILE *f, struct ctl_json *j);

/* Control handlers (ns_ctl_handler) for CTL_SHOW_REDUNDANCY and CTL_SWITCHOVER. */
int red_ctl_show(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		 void *arg);
int red_ctl_switchover(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		       void *arg);
/* Handler for "role primary" (arg non-NULL) / "role backup" (arg NULL). */
int red_ctl_role(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		 void *arg);

#endif
