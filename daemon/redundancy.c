// SPDX-License-Identifier: GPL-2.0
/*
 * redundancy.c - service redundancy: the role state machine (pure, first
 * half) and its daemon glue (second half). See redundancy.h for the
 * contract and doc/redundancy.md for the rules in operator terms.
 *
 * The rules, in one place (evaluate()):
 *  INIT    peer alive and primary          -> BACKUP   (never two primaries)
 *          peer alive, not primary         -> election (advertisement, then
 *                                             the lower address wins)
 *          nobody heard for dead-interval  -> PRIMARY  (alone)
 *  BACKUP  peer silent for dead-interval   -> PRIMARY  (split brain: VRRP-like)
 *          peer alive, not primary         -> election
 *          peer primary, preempt, we are ready, healthy and advertise more
 *                                          -> request the role (RED_ADV_REQUEST)
 *  PRIMARY peer primary too                -> the election loser yields
 *          peer requests the role          -> step down (RED_ADV_RELEASE)
 *          our link down, peer healthy     -> step down
 * A box that steps down advertises RED_ADV_RELEASE until the peer is
 * primary (or dead-interval passes), so the peer wins the election the
 * moment it hears that heartbeat: the handover costs one heartbeat, not a
 * dead-interval.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "control.h"
#include "ctlproto.h"
#include "active.h"
#include "daemon.h"
#include "hbpath.h"
#include "log.h"
#include "monitor.h"
#include "policy.h"
#include "redundancy.h"
#include "sync.h"
#include "util.h"
#include "vip.h"

/* ---- names ------------------------------------------------------------- */

const char *red_role_name(int role)
{
	switch (role) {
	case RED_ROLE_INIT: return "init";
	case RED_ROLE_BACKUP: return "backup";
	case RED_ROLE_PRIMARY: return "primary";
	}
	return "unknown";
}

const char *red_reason_name(int reason)
{
	static const char *const names[RED_R_MAX] = {
		[RED_R_NONE] = "none",
		[RED_R_START] = "start",
		[RED_R_NO_PEER] = "no-peer",
		[RED_R_PEER_PRIMARY] = "peer-primary",
		[RED_R_ELECTION] = "election",
		[RED_R_PEER_DEAD] = "peer-dead",
		[RED_R_PEER_RELEASED] = "peer-released",
		[RED_R_PEER_REQUEST] = "peer-request",
		[RED_R_LINK_DOWN] = "link-down",
		[RED_R_MANUAL] = "manual",
		[RED_R_PREEMPT] = "preempt",
		[RED_R_DUAL_PRIMARY] = "dual-primary",
		[RED_R_EXTERNAL] = "external",
		[RED_R_SHUTDOWN] = "shutdown",
		[RED_R_RELEASE_TIMEOUT] = "release-timeout",
		[RED_R_POLICY] = "policy",
	};

	if (reason < 0 || reason >= RED_R_MAX || !names[reason])
		return "unknown";
	return names[reason];
}

/* ---- the state machine ----------------------------------------------------- */

static void note_event(struct red_fsm *f, uint64_t now, int reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void note_event(struct red_fsm *f, uint64_t now, int reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->last_event, sizeof(f->last_event), fmt, ap);
	va_end(ap);
	f->last_reason = (uint8_t)reason;
	f->last_event_ms = now;
}

/* Change role and record why; returns the action bits of the change. */
static unsigned int set_role(struct red_fsm *f, uint64_t now, enum red_role to, int reason,
			     const char *detail)
{
	struct red_transition *t;
	enum red_role from = f->role;

	if (from == to)
		return 0;
	t = &f->hist[f->n_hist % RED_HISTORY];
	memset(t, 0, sizeof(*t));
	t->mono_ms = now;
	t->wall_s = f->wall_offset_s ? f->wall_offset_s + now / 1000 : 0;
	t->from = (uint8_t)from;
	t->to = (uint8_t)to;
	t->reason = (uint8_t)reason;
	ns_strlcpy(t->detail, detail ? detail : "", sizeof(t->detail));
	f->n_hist++;
	f->role = to;
	f->since_ms = now;
	note_event(f, now, reason, "%s -> %s: %s%s%s", red_role_name(from), red_role_name(to),
		   red_reason_name(reason), detail && *detail ? ", " : "", detail ? detail : "");
	if (to == RED_ROLE_PRIMARY) {
		/* Do we hold the flows? A backup that had its bulk does; a box
		 * elected at a joint start holds what its peer holds (nothing
		 * forwarded yet); a box alone since start does not, until its
		 * peer syncs from it. */
		f->current = reason == RED_R_ELECTION ? from == RED_ROLE_INIT || f->ready :
			     reason == RED_R_NO_PEER ? false : f->ready;
		/* Whatever made us primary ends any hand-over in progress. */
		f->releasing = false;
		f->requesting = false;
		f->preempt_suppressed = false;
		return RED_ACT_PRIMARY;
	}
	f->current = false;
	return from == RED_ROLE_PRIMARY || from == RED_ROLE_INIT ? RED_ACT_BACKUP : 0;
}

uint16_t red_fsm_advert(const struct red_fsm *f)
{
	int prio = f->c.priority < 0 ? 0 : f->c.priority > 255 ? 255 : f->c.priority;

	if (f->shutting_down || f->releasing)
		return RED_ADV_RELEASE;
	if (f->requesting && f->role == RED_ROLE_BACKUP)
		return RED_ADV_REQUEST;
	return (uint16_t)((f->faulted ? RED_ADV_FAULT_BASE : RED_ADV_HEALTHY_BASE) + prio);
}

bool red_fsm_peer_alive(const struct red_fsm *f, uint64_t now)
{
	return f->peer.seen && now - f->peer.last_hb_ms < f->c.dead_ms;
}

/* Both not primary (or both primary): do we win? Higher advertisement,
 * then the lower address, so both boxes compute the same answer. */
static bool wins_election(const struct red_fsm *f)
{
	uint16_t mine = red_fsm_advert(f), theirs = f->peer.adv;

	if (mine != theirs)
		return mine > theirs;
	return f->c.local_addr < f->c.peer_addr;
}

static void expire_handover(struct red_fsm *f, uint64_t now, bool alive)
{
	if (f->releasing && ((alive && f->peer.role == RED_PEER_PRIMARY) ||
			     now - f->release_ms >= f->c.dead_ms)) {
		if (!(alive && f->peer.role == RED_PEER_PRIMARY))
			note_event(f, now, RED_R_RELEASE_TIMEOUT,
				   "released, but the peer did not take over within %u ms",
				   f->c.dead_ms);
		f->releasing = false;
	}
	if (f->requesting && (f->role != RED_ROLE_BACKUP || now - f->request_ms >= f->c.dead_ms)) {
		if (f->role == RED_ROLE_BACKUP)
			note_event(f, now, RED_R_MANUAL,
				   "switchover request not honoured by the primary within %u ms",
				   f->c.dead_ms);
		f->requesting = false;
	}
}

static unsigned int eval_init(struct red_fsm *f, uint64_t now, bool alive)
{
	if (alive && f->peer.role == RED_PEER_PRIMARY)
		return set_role(f, now, RED_ROLE_BACKUP, RED_R_PEER_PRIMARY, f->peer.name);
	if (alive)
		return set_role(f, now, wins_election(f) ? RED_ROLE_PRIMARY : RED_ROLE_BACKUP,
				RED_R_ELECTION, f->peer.name);
	if (now - f->start_ms < f->c.dead_ms)
		return 0;
	/* The peer answered (the channel is up): it is alive, its heartbeat
	 * is late because it is busy. Wait for it, within reason. */
	if (f->link_up && now - f->link_up_ms < (uint64_t)RED_INIT_LINK_WAIT * f->c.dead_ms) {
		if (!f->init_waited)
			note_event(f, now, RED_R_NONE, "sync channel up but no heartbeat yet: "
				   "waiting for the peer");
		f->init_waited = true;
		return 0;
	}
	return set_role(f, now, RED_ROLE_PRIMARY, RED_R_NO_PEER,
			f->link_up ? "channel up but the peer never sent a heartbeat" :
			f->peer.seen ? "peer silent" : "no heartbeat since start");
}

static bool may_preempt(const struct red_fsm *f)
{
	return f->c.preempt && !f->preempt_suppressed && !f->faulted && f->ready &&
	       !f->requesting && red_fsm_advert(f) > f->peer.adv;
}

static unsigned int eval_backup(struct red_fsm *f, uint64_t now, bool alive)
{
	uint64_t last = f->peer.last_hb_ms > f->since_ms ? f->peer.last_hb_ms : f->since_ms;

	if (!alive) {
		/* Count from our own change too: a box that just stepped down
		 * gives the peer a full dead-interval before taking back. */
		if (now - last >= f->c.dead_ms)
			return set_role(f, now, RED_ROLE_PRIMARY, RED_R_PEER_DEAD, f->peer.name);
		return 0;
	}
	/* A primary advertising RELEASE is on its way out (its role byte may
	 * lag behind): treat it as not primary. */
	if (f->peer.role != RED_PEER_PRIMARY || f->peer.adv == RED_ADV_RELEASE) {
		if (!wins_election(f))
			return 0;
		return set_role(f, now, RED_ROLE_PRIMARY,
				f->peer.adv == RED_ADV_RELEASE ? RED_R_PEER_RELEASED :
				RED_R_ELECTION, f->peer.name);
	}
	if (may_preempt(f)) {
		f->requesting = true;
		f->request_ms = now;
		note_event(f, now, RED_R_PREEMPT, "priority %d beats the primary's: requesting the role",
			   f->c.priority);
	}
	return 0;
}

/* Step down from primary and advertise RED_ADV_RELEASE so the peer takes over. */
static unsigned int step_down(struct red_fsm *f, uint64_t now, int reason, const char *detail)
{
	unsigned int acts = set_role(f, now, RED_ROLE_BACKUP, reason, detail);

	f->releasing = true;
	f->release_ms = now;
	return acts;
}

static unsigned int eval_primary(struct red_fsm *f, uint64_t now, bool alive)
{
	if (!alive)
		return 0;
	if (f->peer.role == RED_PEER_PRIMARY) {
		/* Both primary (a healed split, a restarted box that came up
		 * alone). The box that holds the flows keeps them, whatever the
		 * priorities; between two that do (or two that do not), the
		 * election decides, and so preempt too. The winner's peer
		 * yields at this heartbeat; its gratuitous ARPs may have pulled
		 * the LANs to it meanwhile: announce again. */
		bool keep = f->current != f->peer.ready ? f->current : wins_election(f);

		if (keep)
			return RED_ACT_REANNOUNCE;
		return set_role(f, now, RED_ROLE_BACKUP, RED_R_DUAL_PRIMARY,
				f->peer.ready && !f->current ? "the peer holds the flows" :
				f->peer.name);
	}
	if (f->peer.adv == RED_ADV_REQUEST)
		return step_down(f, now, RED_R_PEER_REQUEST, f->peer.name);
	/* A faulted primary gives way to a healthy peer, ready or not: the
	 * flows behind the dead link are lost either way. */
	if (f->faulted && f->peer.adv >= RED_ADV_HEALTHY_BASE && f->peer.adv != RED_ADV_REQUEST)
		return step_down(f, now, f->fault_reason ? f->fault_reason : RED_R_LINK_DOWN,
				 f->fault_detail);
	return 0;
}

/* Apply every rule to what we know now; adds ADVERTISE when the
 * heartbeat content changed. */
static unsigned int evaluate(struct red_fsm *f, uint64_t now, uint16_t adv_before,
			     enum red_role role_before)
{
	bool alive = red_fsm_peer_alive(f, now);
	unsigned int acts = 0;

	if (!f->c.external) {
		expire_handover(f, now, alive);
		switch (f->role) {
		case RED_ROLE_INIT: acts = eval_init(f, now, alive); break;
		case RED_ROLE_BACKUP: acts = eval_backup(f, now, alive); break;
		case RED_ROLE_PRIMARY: acts = eval_primary(f, now, alive); break;
		}
		/* A step down can make us win at once (e.g. the peer released
		 * too): settle, but at most one more round. */
		if (acts)
			expire_handover(f, now, alive);
	}
	if (red_fsm_advert(f) != adv_before || f->role != role_before)
		acts |= RED_ACT_ADVERTISE;
	return acts;
}

void red_fsm_init(struct red_fsm *f, const struct red_fsm_conf *c, uint64_t now)
{
	memset(f, 0, sizeof(*f));
	f->c = *c;
	if (!f->c.dead_ms)
		f->c.dead_ms = 3000;
	f->start_ms = f->since_ms = now;
	f->role = RED_ROLE_INIT;
	note_event(f, now, RED_R_START, "started, %s", c->external ?
		   "role set externally (natsyncctl role)" : "waiting for the peer");
	/* With external control nothing here decides: wait as backup for
	 * keepalived (or the operator) to say otherwise. */
	if (c->external)
		set_role(f, now, RED_ROLE_BACKUP, RED_R_START, "role-control external");
}

unsigned int red_fsm_tick(struct red_fsm *f, uint64_t now)
{
	return evaluate(f, now, red_fsm_advert(f), f->role);
}

unsigned int red_fsm_peer_heartbeat(struct red_fsm *f, uint64_t now, uint8_t role, bool ready,
				    uint16_t adv, const char *name)
{
	uint16_t before = red_fsm_advert(f);
	bool was_alive = red_fsm_peer_alive(f, now), was_seen = f->peer.seen;
	unsigned int acts;

	/* How punctual the peer (and the path to it) is: a gap over half the
	 * dead interval is a near miss of a false takeover. A longer silence
	 * was a loss, not lateness. */
	if (f->peer.seen && now > f->peer.last_hb_ms && now - f->peer.last_hb_ms < f->c.dead_ms) {
		uint32_t gap = (uint32_t)(now - f->peer.last_hb_ms);

		if (gap > f->peer.max_gap_ms)
			f->peer.max_gap_ms = gap;
		if (gap > f->c.dead_ms / 2)
			f->peer.late++;
	}
	f->peer.seen = true;
	f->peer.last_hb_ms = now;
	f->peer.role = role == RED_PEER_PRIMARY ? RED_PEER_PRIMARY : RED_PEER_BACKUP;
	f->peer.ready = ready;
	f->peer.adv = adv;
	if (name && *name)
		ns_strlcpy(f->peer.name, name, sizeof(f->peer.name));
	acts = evaluate(f, now, before, f->role);
	/* The peer is back after a silence (a split brain healing): it may
	 * have taken the role and announced the addresses meanwhile, and it
	 * may already have yielded when its first heartbeat reaches us (then
	 * it says backup). Either way the LANs may point at it: announce
	 * again. */
	if (f->role == RED_ROLE_PRIMARY && was_seen && !was_alive)
		acts |= RED_ACT_REANNOUNCE;
	return acts;
}

unsigned int red_fsm_set_ready(struct red_fsm *f, uint64_t now, bool ready)
{
	uint16_t before = red_fsm_advert(f);

	if (f->ready != ready)
		note_event(f, now, RED_R_NONE, "%s", ready ? "bulk sync complete: ready" :
			   "not ready (bulk sync incomplete)");
	f->ready = ready;
	/* A primary's ready is its backup's: a backup synced from us, so we
	 * hold the flows. */
	if (f->role == RED_ROLE_PRIMARY && ready)
		f->current = true;
	return evaluate(f, now, before, f->role);
}

unsigned int red_fsm_set_fault(struct red_fsm *f, uint64_t now, bool faulted, const char *detail)
{
	uint16_t before = red_fsm_advert(f);

	if (f->faulted != faulted)
		note_event(f, now, faulted ? (f->fault_reason ? f->fault_reason : RED_R_LINK_DOWN) :
			   RED_R_NONE, "%s",
			   detail && *detail ? detail : faulted ? "link down" : "links up");
	f->faulted = faulted;
	ns_strlcpy(f->fault_detail, detail ? detail : "", sizeof(f->fault_detail));
	return evaluate(f, now, before, f->role);
}

void red_fsm_set_link(struct red_fsm *f, uint64_t now, bool up)
{
	if (up && !f->link_up)
		f->link_up_ms = now;
	f->link_up = up;
}

bool red_fsm_advert_ready(const struct red_fsm *f)
{
	return f->role == RED_ROLE_PRIMARY ? f->current : f->ready;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int red_fsm_switchover(struct red_fsm *f, uint64_t now, bool force, unsigned int *acts,
		       char *err, size_t errlen)
{
	uint16_t before = red_fsm_advert(f);
	enum red_role rb = f->role;
	bool alive = red_fsm_peer_alive(f, now);

	*acts = 0;
	if (f->c.external)
		return fail(err, errlen, "role-control is external: use \"natsyncctl role\"");
	if (f->role == RED_ROLE_INIT)
		return fail(err, errlen, "still starting (init): no role to switch yet");
	if (!alive)
		return fail(err, errlen, "peer %s is not alive: nobody to switch over to",
			    f->peer.name[0] ? f->peer.name : "(never heard)");
	if (f->role == RED_ROLE_PRIMARY) {
		if (!f->peer.ready && !force)
			return fail(err, errlen, "peer %s is not ready (bulk sync incomplete): "
				    "its flows would be lost; use force to switch anyway",
				    f->peer.name);
		f->preempt_suppressed = true;
		step_down(f, now, RED_R_MANUAL, force && !f->peer.ready ?
			  "manual switchover (forced, peer not ready)" : "manual switchover");
		*acts = evaluate(f, now, before, rb) | RED_ACT_BACKUP;
		return 0;
	}
	if (f->peer.role != RED_PEER_PRIMARY)
		return fail(err, errlen, "peer %s is not primary: nothing to take over",
			    f->peer.name);
	if (!f->ready && !force)
		return fail(err, errlen, "this box is not ready (bulk sync incomplete): "
			    "flows would be lost; use force to switch anyway");
	if (f->requesting)
		return fail(err, errlen, "a switchover request is already pending");
	f->requesting = true;
	f->request_ms = now;
	f->preempt_suppressed = false;
	note_event(f, now, RED_R_MANUAL, "manual switchover: asked %s to hand over%s",
		   f->peer.name, force && !f->ready ? " (forced, not ready)" : "");
	*acts = evaluate(f, now, before, rb);
	return 0;
}

int red_fsm_set_role(struct red_fsm *f, uint64_t now, bool primary, unsigned int *acts,
		     char *err, size_t errlen)
{
	uint16_t before = red_fsm_advert(f);
	enum red_role rb = f->role;
	const char *detail = primary && !f->ready ? "set by natsyncctl role (not ready)" :
			     "set by natsyncctl role";

	*acts = 0;
	if (!f->c.external)
		return fail(err, errlen, "role-control is auto: use \"natsyncctl switchover\" "
			    "(or set redundancy-options role-control = \"external\")");
	*acts = set_role(f, now, primary ? RED_ROLE_PRIMARY : RED_ROLE_BACKUP, RED_R_EXTERNAL,
			 detail);
	*acts |= evaluate(f, now, before, rb);
	return 0;
}

unsigned int red_fsm_shutdown(struct red_fsm *f, uint64_t now)
{
	uint16_t before = red_fsm_advert(f);
	enum red_role rb = f->role;
	unsigned int acts = 0;

	f->shutting_down = true;
	if (f->role == RED_ROLE_PRIMARY)
		acts = set_role(f, now, RED_ROLE_BACKUP, RED_R_SHUTDOWN, "graceful shutdown");
	else
		note_event(f, now, RED_R_SHUTDOWN, "graceful shutdown");
	if (red_fsm_advert(f) != before || f->role != rb)
		acts |= RED_ACT_ADVERTISE;
	return acts;
}

const struct red_transition *red_fsm_history(const struct red_fsm *f, uint32_t i)
{
	if (i >= f->n_hist || i >= RED_HISTORY)
		return NULL;
	return &f->hist[(f->n_hist - 1 - i) % RED_HISTORY];
}

/* ---- daemon glue ----------------------------------------------------------- */

#define RED_MAX_MON (NS_RED_MAX_MONITOR + 2 * NS_MAX_SVC_SETS)


struct red_mon {
	char name[IF_NAMESIZE];
	int ifindex;              /* 0 while the interface does not exist */
	bool up;
};

struct ns_redundancy {
	struct ns_daemon *d;
	struct red_fsm fsm;
	struct ns_vip *vip;
	int tfd;                  /* evaluation tick */
	int nlfd;                 /* RTMGRP_LINK listener */
	struct red_mon mon[RED_MAX_MON];
	uint32_t n_mon;
	uint64_t takeover_ns;     /* duration of the last takeover's actions */
	uint64_t tick_ms, last_tick_ms;
	uint64_t late_ticks;      /* ticks that came late: loop was busy */
	uint64_t peer_uptime_ms;  /* the newest heartbeat's sender uptime */
	uint64_t hb_reordered;    /* heartbeats older than one already seen */
	uint64_t reannounce_ns;   /* last re-announcement after a dual-primary */
	struct ns_monitor *events; /* redundancy events (issue 10) */
	struct ns_policies *pol;  /* redundancy policies */
	struct ns_hbpaths *hbp;   /* heartbeat paths besides the sync channel */
	struct ns_redundancy_conf *srd; /* their configuration, as started:
					 * a reload does not change them */
	bool link_fault, policy_fault;
	char link_detail[RED_DETAIL_MAX], policy_detail[RED_DETAIL_MAX];
	bool draining;            /* graceful shutdown: waiting for the peer */
	uint64_t drain_deadline_ms;
	uint64_t switchovers;
};

static uint64_t now_ms(void)
{
	return ns_now() / 1000000ull;
}

/* ns_config[0].flags ACTIVE: the one switch the fast path reads. */
/* Carry out what the state machine decided. */
static void apply(struct ns_redundancy *r, unsigned int acts)
{
	struct ns_daemon *d = r->d;
	const struct red_transition *t = red_fsm_history(&r->fsm, 0);
	const char *reason = t ? red_reason_name(t->reason) : "none";
	const char *prev = t ? red_role_name(t->from) : "init";
	uint64_t t0 = ns_now();
	int err;

	/* One input can cause two transitions (e.g. a stale peer declared
	 * dead, then its fresh heartbeat makes us yield): act on where the
	 * state machine ended, never on the first step. */
	if ((acts & (RED_ACT_PRIMARY | RED_ACT_BACKUP)) && r->fsm.role == RED_ROLE_PRIMARY) {
		/* ACTIVE first: the replicated sessions forward from the first
		 * packet the announcements attract. */
		err = ns_active_set(d, true);
		if (err)
			pr_err("redundancy: cannot set ACTIVE in %s: %s", NS_MAP_CONFIG,
			       strerror(-err));
		vip_takeover(r->vip);
		sync_set_role(d, true);
		r->switchovers++;
		r->takeover_ns = ns_now() - t0;
		pr_warn("redundancy: %s is PRIMARY (%s%s%s), actions took %llu us", d->conf.node_name,
			reason, t && t->detail[0] ? ": " : "", t ? t->detail : "",
			(unsigned long long)(r->takeover_ns / 1000));
		vip_run_hook(r->vip, "primary", prev, reason);
	} else if (acts & (RED_ACT_PRIMARY | RED_ACT_BACKUP)) {
		/* Stop attracting traffic first, then stop forwarding. */
		vip_release(r->vip);
		err = ns_active_set(d, false);
		if (err)
			pr_err("redundancy: cannot clear ACTIVE in %s: %s", NS_MAP_CONFIG,
			       strerror(-err));
		sync_set_role(d, false);
		pr_warn("redundancy: %s is %s (%s%s%s)", d->conf.node_name,
			red_role_name(r->fsm.role), reason, t && t->detail[0] ? ": " : "",
			t ? t->detail : "");
		if (t && t->from != RED_ROLE_INIT)
			vip_run_hook(r->vip, red_role_name(r->fsm.role), prev, reason);
	}
	if ((acts & RED_ACT_REANNOUNCE) && r->fsm.role == RED_ROLE_PRIMARY &&
	    ns_now() - r->reannounce_ns > (uint64_t)r->fsm.c.dead_ms * 1000000ull) {
		r->reannounce_ns = ns_now();
		pr_warn("redundancy: %s was primary too: announcing the addresses again",
			r->fsm.peer.name);
		vip_takeover(r->vip);
	}
	/* Tell the peer now rather than at the next interval: a hand-over
	 * then costs one round trip, not a heartbeat interval. */
	if (acts & RED_ACT_ADVERTISE) {
		sync_send_heartbeat_now(d);
		hbpath_send_now(r->hbp);
	}
}

/* ---- monitored links ---------------------------------------------------------- */

static void mon_add(struct ns_redundancy *r, const char *name)
{
	if (!name || !*name || r->n_mon >= RED_MAX_MON)
		return;
	for (uint32_t i = 0; i < r->n_mon; i++)
		if (!strcmp(r->mon[i].name, name))
			return;
	ns_strlcpy(r->mon[r->n_mon++].name, name, IF_NAMESIZE);
}

/* Up means administratively up with carrier (IFF_RUNNING). */
static bool link_flags_up(unsigned int flags)
{
	return (flags & IFF_UP) && (flags & IFF_RUNNING);
}

static void mon_probe(struct red_mon *m)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	m->ifindex = (int)if_nametoindex(m->name);
	m->up = false;
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	ns_strlcpy(ifr.ifr_name, m->name, sizeof(ifr.ifr_name));
	if (m->ifindex && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		m->up = link_flags_up((unsigned int)(unsigned short)ifr.ifr_flags);
	close(fd);
}

/* Faulted: a monitored link is down, or a release-mastership policy holds. */
static void fault_report(struct ns_redundancy *r)
{
	const char *detail = r->link_fault ? r->link_detail :
			     r->policy_fault ? r->policy_detail : "links up";

	r->fsm.fault_reason = r->link_fault ? RED_R_LINK_DOWN : RED_R_POLICY;
	apply(r, red_fsm_set_fault(&r->fsm, now_ms(), r->link_fault || r->policy_fault, detail));
}

/* Tell the state machine whether any monitored link is down. */
static void mon_report(struct ns_redundancy *r)
{
	char detail[RED_DETAIL_MAX] = "";
	size_t len = 0;
	bool down = false;

	for (uint32_t i = 0; i < r->n_mon; i++) {
		if (r->mon[i].up)
			continue;
		down = true;
		ns_join(detail, sizeof(detail), &len, "link down: ", r->mon[i].name);
	}
	r->link_fault = down;
	ns_strlcpy(r->link_detail, detail, sizeof(r->link_detail));
	fault_report(r);
}

static void on_link_msg(struct ns_redundancy *r, const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const char *name = ns_nl_link_name(h);

	for (uint32_t i = 0; i < r->n_mon; i++) {
		struct red_mon *m = &r->mon[i];
		bool up;

		if (m->ifindex != ifi->ifi_index && !(name && !strcmp(name, m->name)))
			continue;
		up = h->nlmsg_type == RTM_NEWLINK && link_flags_up(ifi->ifi_flags);
		m->ifindex = h->nlmsg_type == RTM_NEWLINK ? ifi->ifi_index : 0;
		if (up != m->up)
			pr_warn("redundancy: monitored interface %s link %s", m->name,
				up ? "up" : "down");
		m->up = up;
	}
}

static void on_netlink(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_redundancy *r = arg;
	char buf[16384];
	ssize_t len;

	(void)loop;
	(void)events;
	while ((len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len))
			if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
				on_link_msg(r, h);
	}
	if (len < 0 && errno == ENOBUFS) {
		/* Events were lost: ask the kernel for the truth again. */
		for (uint32_t i = 0; i < r->n_mon; i++)
			mon_probe(&r->mon[i]);
	}
	mon_report(r);
}

static int mon_init(struct ns_redundancy *r)
{
	const struct ns_config *c = &r->d->conf;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd, err;

	for (uint32_t i = 0; i < c->red.n_monitor; i++)
		mon_add(r, c->red.monitor[i]);
	/* Default: the service sets' interfaces, the links the service needs. */
	if (!c->red.n_monitor)
		for (uint32_t i = 0; i < c->n_ifaces; i++)
			mon_add(r, c->ifaces[i].name);
	if (!r->n_mon)
		return 0;
	for (uint32_t i = 0; i < r->n_mon; i++)
		mon_probe(&r->mon[i]);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = loop_add(r->d->loop, fd, EPOLLIN, on_netlink, r);
	if (err) {
		close(fd);
		return err;
	}
	r->nlfd = fd;
	loop_set_name(r->d->loop, fd, "redundancy netlink");
	return 0;
}

/* ---- timer and sync hooks ----------------------------------------------------- */

/* Graceful shutdown: stop the loop once the peer has taken over (or the
 * wait is over); natsyncd's cleanup then runs red_fini() and sync_fini(). */
static void drain_check(struct ns_redundancy *r, uint64_t now)
{
	bool taken = r->fsm.peer.role == RED_PEER_PRIMARY && red_fsm_peer_alive(&r->fsm, now);

	if (!r->draining || (!taken && now < r->drain_deadline_ms))
		return;
	if (taken)
		pr_info("redundancy: %s took over: exiting", r->fsm.peer.name);
	else
		pr_warn("redundancy: peer did not confirm the takeover within %u ms: exiting",
			r->fsm.c.dead_ms);
	r->draining = false;
	loop_stop(r->d->loop);
}

static void on_tick(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_redundancy *r = arg;
	uint64_t now = now_ms(), last = r->last_tick_ms;
	unsigned int acts;

	(void)loop;
	(void)fd;
	(void)events;
	r->last_tick_ms = now;
	/* A late tick means the loop was busy: the peer's heartbeats may be
	 * waiting unread in the sync socket. Let the loop read them before
	 * judging the peer dead (the next tick does), or a stall of our own
	 * would look like the peer's death. */
	if (last && now - last > 2 * r->tick_ms + 50) {
		r->late_ticks++;
		pr_debug("redundancy: tick %llu ms late: peer check deferred",
			 (unsigned long long)(now - last - r->tick_ms));
		return;
	}
	acts = red_fsm_set_ready(&r->fsm, now, sync_backup_ready(r->d));
	acts |= red_fsm_tick(&r->fsm, now);
	apply(r, acts);
	drain_check(r, now);
}

bool red_hb_in_order(uint64_t *last, uint64_t uptime_ms, uint32_t dead_ms)
{
	if (uptime_ms < *last && *last - uptime_ms < dead_ms)
		return false;
	*last = uptime_ms;
	return true;
}

void red_on_peer_heartbeat(struct ns_daemon *d, uint8_t role, bool ready, uint16_t priority,
			   const char *peer_name, uint64_t uptime_ms)
{
	struct ns_redundancy *r = d->red;
	uint64_t now = now_ms();
	unsigned int acts;

	if (!r)
		return;
	if (!red_hb_in_order(&r->peer_uptime_ms, uptime_ms, r->fsm.c.dead_ms)) {
		r->hb_reordered++;
		return;
	}
	/* The heartbeat first: evaluating anything with the previous one
	 * could find it older than dead-interval after a busy stretch. */
	acts = red_fsm_peer_heartbeat(&r->fsm, now, role, ready, priority, peer_name);
	acts |= red_fsm_set_ready(&r->fsm, now, sync_backup_ready(d));
	apply(r, acts);
	drain_check(r, now);
}

bool red_shutdown_begin(struct ns_daemon *d)
{
	struct ns_redundancy *r = d->red;
	uint64_t now = now_ms();
	unsigned int acts;
	bool was_primary;

	if (!r || r->draining)
		return false;
	was_primary = r->fsm.role == RED_ROLE_PRIMARY;
	acts = red_fsm_shutdown(&r->fsm, now);
	if (!was_primary || !red_fsm_peer_alive(&r->fsm, now))
		return false;
	pr_warn("redundancy: graceful shutdown: handing over to %s", r->fsm.peer.name);
	/* Step down now (release addresses, clear ACTIVE, tell the peer),
	 * and keep the loop, so sync delivers the release, until the peer
	 * says it is primary: never a moment with nobody forwarding that a
	 * closing socket could stretch into a dead-interval. */
	apply(r, acts);
	r->draining = true;
	r->drain_deadline_ms = now + r->fsm.c.dead_ms;
	return true;
}

void red_reconfigure(struct ns_daemon *d)
{
	struct ns_redundancy *r = d->red;
	const struct ns_redundancy_conf *rc = &d->conf.red;
	unsigned int acts;

	if (!r)
		return;
	r->fsm.c.priority = rc->priority;
	r->fsm.c.preempt = rc->preempt;
	r->fsm.c.dead_ms = rc->dead_interval_ms ? rc->dead_interval_ms : 3000;
	/* New virtual addresses or routes of a primary take effect now
	 * (the actions are idempotent); ones removed from the file stay
	 * until the next release. */
	if (r->fsm.role == RED_ROLE_PRIMARY)
		vip_takeover(r->vip);
	acts = red_fsm_tick(&r->fsm, now_ms());
	apply(r, acts | RED_ACT_ADVERTISE);
}

bool red_is_active(const struct ns_daemon *d)
{
	if (!d->conf.red.enabled)
		return true;
	return d->red && d->red->fsm.role == RED_ROLE_PRIMARY;
}

uint16_t red_advertised_priority(const struct ns_daemon *d)
{
	if (!d->red)
		return (uint16_t)(RED_ADV_HEALTHY_BASE + (uint32_t)d->conf.red.priority);
	return red_fsm_advert(&d->red->fsm);
}

bool red_advertised_ready(const struct ns_daemon *d, bool sync_ready)
{
	return d->red ? red_fsm_advert_ready(&d->red->fsm) : sync_ready;
}

void red_on_peer_link(struct ns_daemon *d, bool up)
{
	struct ns_redundancy *r = d->red;

	/* Only noted: sync calls this from deep inside its own steps, and
	 * the next tick evaluates (INIT is the only state it changes). */
	if (!r)
		return;
	red_fsm_set_link(&r->fsm, now_ms(), up);
	if (!up && hbpath_alive(r->hbp))
		pr_warn("redundancy: sync link down, peer %s alive via %s: no takeover",
			r->fsm.peer.name, hbpath_alive(r->hbp));
}

int red_request_switchover(struct ns_daemon *d, bool force, char *err, size_t errlen)
{
	unsigned int acts, pre;

	if (!d->red)
		return fail(err, errlen, "redundancy is not configured (redundancy-options)");
	pre = red_fsm_set_ready(&d->red->fsm, now_ms(), sync_backup_ready(d));
	if (red_fsm_switchover(&d->red->fsm, now_ms(), force, &acts, err, errlen)) {
		apply(d->red, pre);
		return -1;
	}
	pr_warn("redundancy: %s", d->red->fsm.last_event);
	apply(d->red, pre | acts);
	return 0;
}

int red_set_role(struct ns_daemon *d, bool primary, char *err, size_t errlen)
{
	unsigned int acts, pre;

	if (!d->red)
		return fail(err, errlen, "redundancy is not configured (redundancy-options)");
	pre = red_fsm_set_ready(&d->red->fsm, now_ms(), sync_backup_ready(d));
	if (red_fsm_set_role(&d->red->fsm, now_ms(), primary, &acts, err, errlen)) {
		apply(d->red, pre);
		return -1;
	}
	apply(d->red, pre | acts);
	return 0;
}

/* ---- redundancy events and policies (monitor.c, policy.c) ------------------ */

static void srd_fired(void *arg, uint32_t idx, int fire)
{
	struct ns_redundancy *r = arg;

	policy_on_event(r->pol, r->events, idx, fire);
}

static int srd_peer_alive(void *arg)
{
	struct ns_redundancy *r = arg;

	if (!r->fsm.peer.seen)
		return -1;
	return red_fsm_peer_alive(&r->fsm, now_ms());
}

/* acquire-mastership: a backup asks the primary for the role (not forced:
 * a backup without the bulk would lose the flows). */
static int srd_acquire(void *arg, const char *why, char *err, size_t errlen)
{
	struct ns_redundancy *r = arg;
	unsigned int acts;

	if (r->fsm.role == RED_ROLE_PRIMARY)
		return 0;
	if (red_fsm_switchover(&r->fsm, now_ms(), false, &acts, err, errlen))
		return -1;
	pr_warn("redundancy: %s: %s", why, r->fsm.last_event);
	apply(r, acts);
	return 0;
}

static void srd_release(void *arg, bool on, const char *why)
{
	struct ns_redundancy *r = arg;

	r->policy_fault = on;
	ns_strlcpy(r->policy_detail, why, sizeof(r->policy_detail));
	fault_report(r);
}

static const char *srd_role(void *arg)
{
	return red_role_name(((struct ns_redundancy *)arg)->fsm.role);
}

static int srd_init(struct ns_redundancy *r)
{
	static const struct policy_ops ops = {
		.acquire = srd_acquire, .release = srd_release, .role = srd_role,
	};
	const struct ns_redundancy_conf *rc = &r->d->conf.red;

	if (!rc->n_events && !rc->n_hb_paths)
		return 0;
	r->srd = malloc(sizeof(*r->srd));
	if (!r->srd)
		return -ENOMEM;
	*r->srd = *rc;
	if (!rc->n_events)
		return 0;
	r->pol = policy_new(r->d->loop, r->srd, r->d->conf.node_name, &ops, r);
	if (!r->pol)
		return -ENOMEM;
	r->events = monitor_new(r->d->loop, r->srd, srd_fired, srd_peer_alive, r);
	return r->events ? 0 : -errno;
}

/* ---- heartbeat paths (hbpath.c) ---- */

static void hbp_content(void *arg, uint8_t *role, bool *ready, uint16_t *adv, uint64_t *uptime)
{
	struct ns_redundancy *r = arg;

	*uptime = (ns_now() - r->d->started_ns) / 1000000ull;
	*role = r->fsm.role == RED_ROLE_PRIMARY ? RED_PEER_PRIMARY : RED_PEER_BACKUP;
	*ready = red_fsm_advert_ready(&r->fsm);
	*adv = red_fsm_advert(&r->fsm);
}

static void hbp_deliver(void *arg, uint32_t idx, uint8_t role, bool ready, uint16_t adv,
			const char *name, uint64_t uptime)
{
	struct ns_redundancy *r = arg;

	(void)idx;
	red_on_peer_heartbeat(r->d, role, ready, adv, name, uptime);
}

static int hbp_init(struct ns_redundancy *r)
{
	static const struct hbpath_ops ops = { .content = hbp_content, .deliver = hbp_deliver };

	if (!r->d->conf.red.n_hb_paths)
		return 0;
	r->hbp = hbpath_new(r->d->loop, r->srd, r->d->conf.node_name, &ops, r);
	return r->hbp ? 0 : -errno;
}

static void srd_fini(struct ns_redundancy *r)
{
	hbpath_free(r->hbp);
	monitor_free(r->events);
	policy_free(r->pol);
	free(r->srd);
}

int red_init(struct ns_daemon *d)
{
	const struct ns_redundancy_conf *rc = &d->conf.red;
	struct red_fsm_conf fc = {
		.dead_ms = rc->dead_interval_ms ? rc->dead_interval_ms : 3000,
		.priority = rc->priority,
		.preempt = rc->preempt,
		.external = rc->role_external,
		.local_addr = ntohl(rc->local_addr.s_addr),
		.peer_addr = ntohl(rc->peer_addr.s_addr),
	};
	uint32_t hb = rc->heartbeat_interval_ms ? rc->heartbeat_interval_ms : 1000;
	struct ns_redundancy *r;
	struct timespec rt;
	int err;

	d->red = NULL;
	if (!rc->enabled)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->d = d;
	r->tfd = r->nlfd = -1;
	red_fsm_init(&r->fsm, &fc, now_ms());
	clock_gettime(CLOCK_REALTIME, &rt);
	r->fsm.wall_offset_s = (uint64_t)rt.tv_sec - now_ms() / 1000;
	r->vip = vip_new(d->loop, rc, d->conf.node_name);
	if (!r->vip) {
		free(r);
		return -ENOMEM;
	}
	d->red = r;
	/* Until the peer has been heard this box must not attract or forward
	 * traffic: a restarted daemon may find a primary already there. */
	ns_active_set(d, false);
	vip_release(r->vip);
	err = mon_init(r);
	if (err)
		pr_warn("redundancy: link monitor: %s (monitored links not watched)", strerror(-err));
	err = srd_init(r);
	if (!err)
		err = hbp_init(r);
	if (err) {
		pr_err("redundancy: redundancy events: %s", strerror(-err));
		red_fini(d, false);
		return err;
	}
	/* Tick a few times per heartbeat: dead-interval and hand-over
	 * decisions are then late by at most a quarter heartbeat. */
	r->tick_ms = hb / 4 < 20 ? 20 : hb / 4 > 250 ? 250 : hb / 4;
	r->tfd = loop_add_timer(d->loop, r->tick_ms, on_tick, r);
	if (r->tfd < 0) {
		err = r->tfd;
		red_fini(d, false);
		return err;
	}
	loop_set_name(d->loop, r->tfd, "redundancy tick");
	mon_report(r);
	pr_info("redundancy: %s starts in %s: priority %d, preempt %s, dead-interval %u ms, "
		"%u virtual addresses, %u signal routes, %u monitored links%s",
		d->conf.node_name, red_role_name(r->fsm.role), rc->priority,
		rc->preempt ? "on" : "off", fc.dead_ms, rc->n_vips, rc->n_routes, r->n_mon,
		rc->role_external ? ", role-control external" : "");
	return 0;
}

void red_fini(struct ns_daemon *d, bool graceful)
{
	struct ns_redundancy *r = d->red;

	if (!r)
		return;
	if (graceful) {
		unsigned int acts = red_fsm_shutdown(&r->fsm, now_ms());

		if (acts & RED_ACT_BACKUP)
			pr_warn("redundancy: graceful shutdown: handing over to %s",
				r->fsm.peer.name[0] ? r->fsm.peer.name : "the peer");
		/* The release heartbeat (role backup, RED_ADV_RELEASE) must
		 * leave before sync_fini() closes: sync_fini flushes it. */
		sync_set_role(d, false);
		if (acts & RED_ACT_ADVERTISE) {
			sync_send_heartbeat_now(d);
			hbpath_send_now(r->hbp);
		}
		vip_release(r->vip);
		ns_active_set(d, false);
	}
	if (r->tfd >= 0)
		loop_del(d->loop, r->tfd);
	if (r->nlfd >= 0) {
		loop_del(d->loop, r->nlfd);
		close(r->nlfd);
	}
	srd_fini(r);
	vip_free(r->vip);
	free(r);
	d->red = NULL;
}

/* ---- show redundancy ------------------------------------------------------------ */

static const char *adv_text(uint16_t adv, char *buf, size_t len)
{
	if (adv == RED_ADV_RELEASE)
		snprintf(buf, len, "releasing");
	else if (adv == RED_ADV_REQUEST)
		snprintf(buf, len, "requesting the role");
	else if (adv >= RED_ADV_HEALTHY_BASE)
		snprintf(buf, len, "priority %u", adv - RED_ADV_HEALTHY_BASE);
	else
		snprintf(buf, len, "priority %u, faulted", adv - RED_ADV_FAULT_BASE);
	return buf;
}

static void fmt_wall(uint64_t wall_s, char *buf, size_t len)
{
	time_t t = (time_t)wall_s;
	struct tm tm;

	if (!wall_s || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

static void status_text(struct ns_redundancy *r, FILE *f, uint64_t now)
{
	const struct red_fsm *m = &r->fsm;
	char a[40], w[32];

	fprintf(f, "Node:         %s, role %s for %llu s%s\n", r->d->conf.node_name,
		red_role_name(m->role), (unsigned long long)((now - m->since_ms) / 1000),
		m->c.external ? " (role-control external)" : "");
	fprintf(f, "Advertising:  %s; preempt %s%s; ready %s; links %s\n",
		adv_text(red_fsm_advert(m), a, sizeof(a)), m->c.preempt ? "on" : "off",
		m->preempt_suppressed ? " (suppressed after manual switchover)" : "",
		m->ready ? "yes" : "no", m->faulted ? m->fault_detail : "up");
	if (m->peer.seen)
		fprintf(f, "Peer:         %s, role %s, %s, ready %s, last heartbeat %llu ms ago%s\n",
			m->peer.name[0] ? m->peer.name : "?",
			m->peer.role == RED_PEER_PRIMARY ? "primary" : "backup",
			adv_text(m->peer.adv, a, sizeof(a)), m->peer.ready ? "yes" : "no",
			(unsigned long long)(now - m->peer.last_hb_ms),
			red_fsm_peer_alive(m, now) ? "" : " (DEAD)");
	else
		fprintf(f, "Peer:         never heard\n");
	if (r->hbp) {
		const char *via = hbpath_alive(r->hbp);

		fprintf(f, "Sync link:    %s%s%s\n", m->link_up ? "up" : "down",
			!m->link_up && via ? ", peer alive via " : "",
			!m->link_up && via ? via : "");
		hbpath_status(r->hbp, f, NULL);
	}
	fprintf(f, "Heartbeats:   longest gap %u ms, %llu later than half the dead interval (%u ms), "
		"%llu overtaken (ignored)\n", m->peer.max_gap_ms, (unsigned long long)m->peer.late,
		m->c.dead_ms / 2, (unsigned long long)r->hb_reordered);
	if (r->events)
		monitor_status(r->events, f, NULL);
	if (r->pol)
		policy_status(r->pol, f, NULL);
	fprintf(f, "Last event:   %s (%llu s ago)\n", m->last_event,
		(unsigned long long)((now - m->last_event_ms) / 1000));
	fprintf(f, "Switchovers:  %u transitions, last takeover actions %llu us, "
		"%llu late ticks (busy loop)\n", m->n_hist,
		(unsigned long long)(r->takeover_ns / 1000), (unsigned long long)r->late_ticks);
	fprintf(f, "History (newest first):\n");
	for (uint32_t i = 0; i < RED_HISTORY; i++) {
		const struct red_transition *t = red_fsm_history(m, i);

		if (!t)
			break;
		fmt_wall(t->wall_s, w, sizeof(w));
		fprintf(f, "  %s  %-7s -> %-7s  %-15s %s\n", w, red_role_name(t->from),
			red_role_name(t->to), red_reason_name(t->reason), t->detail);
	}
}

static void status_json(struct ns_redundancy *r, struct ctl_json *j, uint64_t now)
{
	const struct red_fsm *m = &r->fsm;
	char w[32];

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "node", r->d->conf.node_name);
	ctl_json_kv_string(j, "role", red_role_name(m->role));
	ctl_json_kv_uint(j, "role_since_ms", now - m->since_ms);
	ctl_json_kv_string(j, "role_control", m->c.external ? "external" : "auto");
	ctl_json_kv_int(j, "priority", m->c.priority);
	ctl_json_kv_uint(j, "advertised", red_fsm_advert(m));
	ctl_json_kv_bool(j, "preempt", m->c.preempt);
	ctl_json_kv_bool(j, "preempt_suppressed", m->preempt_suppressed);
	ctl_json_kv_bool(j, "ready", m->ready);
	ctl_json_kv_bool(j, "links_up", !m->faulted);
	ctl_json_kv_string(j, "links_detail", m->faulted ? m->fault_detail : "");
	ctl_json_key(j, "peer");
	ctl_json_start_object(j);
	ctl_json_kv_bool(j, "seen", m->peer.seen);
	ctl_json_kv_string(j, "name", m->peer.name);
	ctl_json_kv_string(j, "role", m->peer.role == RED_PEER_PRIMARY ? "primary" : "backup");
	ctl_json_kv_bool(j, "ready", m->peer.ready);
	ctl_json_kv_uint(j, "advertised", m->peer.adv);
	ctl_json_kv_bool(j, "alive", red_fsm_peer_alive(m, now));
	if (m->peer.seen)
		ctl_json_kv_uint(j, "last_heartbeat_ms", now - m->peer.last_hb_ms);
	ctl_json_end_object(j);
	ctl_json_kv_string(j, "last_event", m->last_event);
	ctl_json_kv_string(j, "last_reason", red_reason_name(m->last_reason));
	ctl_json_kv_uint(j, "last_event_ms", now - m->last_event_ms);
	ctl_json_kv_uint(j, "transitions", m->n_hist);
	ctl_json_kv_uint(j, "takeover_actions_us", r->takeover_ns / 1000);
	ctl_json_kv_uint(j, "late_ticks", r->late_ticks);
	ctl_json_kv_uint(j, "heartbeat_max_gap_ms", m->peer.max_gap_ms);
	ctl_json_kv_uint(j, "heartbeats_late", m->peer.late);
	ctl_json_kv_uint(j, "heartbeats_reordered", r->hb_reordered);
	if (r->hbp) {
		ctl_json_kv_bool(j, "sync_link_up", m->link_up);
		ctl_json_kv_string(j, "alive_via", hbpath_alive(r->hbp) ? hbpath_alive(r->hbp) : "");
		hbpath_status(r->hbp, NULL, j);
	}
	if (r->events)
		monitor_status(r->events, NULL, j);
	if (r->pol)
		policy_status(r->pol, NULL, j);
	ctl_json_key(j, "history");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < RED_HISTORY; i++) {
		const struct red_transition *t = red_fsm_history(m, i);

		if (!t)
			break;
		fmt_wall(t->wall_s, w, sizeof(w));
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "time", w);
		ctl_json_kv_uint(j, "ago_ms", now - t->mono_ms);
		ctl_json_kv_string(j, "from", red_role_name(t->from));
		ctl_json_kv_string(j, "to", red_role_name(t->to));
		ctl_json_kv_string(j, "reason", red_reason_name(t->reason));
		ctl_json_kv_string(j, "detail", t->detail);
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	ctl_json_end_object(j);
}

void red_status(struct ns_daemon *d, FILE *f, struct ctl_json *j)
{
	uint64_t now = now_ms();

	if (!d->red) {
		if (j) {
			ctl_json_start_object(j);
			ctl_json_kv_string(j, "role", "standalone");
			ctl_json_end_object(j);
		} else {
			fprintf(f, "Redundancy:   not configured (redundancy-options): standalone, "
				"always active\n");
		}
		return;
	}
	if (j)
		status_json(d->red, j, now);
	else
		status_text(d->red, f, now);
}

int red_ctl_show(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		 void *arg)
{
	(void)req;
	(void)arg;
	red_status(d, out->f, out->j);
	return 0;
}

/* Answer of switchover/role: the new state, as text or JSON. */
static int ctl_done(struct ns_daemon *d, struct ctl_out *out)
{
	if (out->j) {
		red_status(d, out->f, out->j);
		return 0;
	}
	fprintf(out->f, "%s\n", d->red->fsm.last_event);
	return 0;
}

int red_ctl_switchover(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		       void *arg)
{
	char err[CTL_ERR_MAX];

	(void)arg;
	if (red_request_switchover(d, req->force, err, sizeof(err)))
		return ctl_out_error(out, "switchover refused: %s", err);
	return ctl_done(d, out);
}

int red_ctl_role(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		 void *arg)
{
	char err[CTL_ERR_MAX];

	(void)req;
	if (red_set_role(d, arg != NULL, err, sizeof(err)))
		return ctl_out_error(out, "role refused: %s", err);
	return ctl_done(d, out);
}
