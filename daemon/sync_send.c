// SPDX-License-Identifier: GPL-2.0
/*
 * sync_send.c - the primary's sender: the resumable replication walk over
 * ns_sessions and ns_nat64_sess, what is sent (adds, updates, deletes,
 * the bulk) and when (threshold, the due wheel, SESSION_OPEN events),
 * sliced so that a step never holds the loop more than a few ms.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "active.h"
#include "daemon.h"
#include "log.h"
#include "redundancy.h"
#include "sync.h"
#include "sync_wire.h"
#include "util.h"
#include "sync_int.h"

/* ---- primary: the replication walk -------------------------------------- */

/* May sessions of this service set travel, and from what age (ns)? */
static bool svc_replicates(struct ns_sync *s, uint16_t svc, uint64_t *thr_ns)
{
	const struct ns_config *c = &s->d->conf;
	int64_t t;

	if (svc >= NS_MAX_SVC_SETS || svc >= c->n_svcs)
		return false;
	if (!c->svc_conf[svc].replicate || (c->svcs[svc].flags & NS_SVC_F_NO_REPLICATE))
		return false;
	t = c->svc_conf[svc].replication_threshold;
	*thr_ns = (t >= 0 ? (uint64_t)t : c->red.replication_threshold) * 1000000000ull;
	return true;
}

/* Which NAT bindings of this session exist on the primary (looked up, not
 * guessed, so the backup reserves exactly what the fast path allocated).
 * ns_paired is only looked up while a NAT term uses address-pooling
 * paired: no other term reads it (an entry left from an older
 * configuration is never used), and a lookup is a syscall per record. */
static uint8_t binding_bits(struct ns_sync *s, const struct ns_session *v)
{
	struct ns_map_fds *fd = &s->d->fd;
	struct ns_port_key pk;
	struct ns_port_val pv;
	uint8_t bits = 0;
	/* dynamic-nat44 owns the whole address, ns_ports[(addr, 0, 0)], and
	 * keeps it per subscriber in ns_paired whatever the pooling */
	bool dyn = v->nat_type == NS_NAT_DYNAMIC44;
	/* NAT64 always pools paired (its terms are not in conf.nat) */
	bool own_paired = dyn || v->nat_type == NS_NAT_NAT64;

	if (!(v->flags & NS_SF_NAT_SRC))
		return 0;
	memset(&pk, 0, sizeof(pk));
	pk.addr = v->out_key.daddr;
	pk.port = dyn ? 0 : v->out_key.dport;
	pk.proto = dyn ? 0 : v->in_key.proto;
	if (fd->ports >= 0 && !bpf_map_lookup_elem(fd->ports, &pk, &pv) &&
	    pv.in_addr == v->in_key.saddr && pv.in_port == (dyn ? 0 : v->in_key.sport)) {
		bits |= NSW_BIND_PORT;
		if (pv.flags & NS_PORT_F_EIF)
			bits |= NSW_BIND_EIF;
	}
	if ((v->flags & NS_SF_EIM) && fd->eim >= 0) {
		struct ns_eim_key ek;
		struct ns_eim_val ev;

		memset(&ek, 0, sizeof(ek));
		ek.in_addr = v->in_key.saddr;
		ek.in_port = v->in_key.sport;
		ek.proto = v->in_key.proto;
		ek.svc_set = v->svc_set;
		if (!bpf_map_lookup_elem(fd->eim, &ek, &ev) && ev.out_addr == v->out_key.daddr &&
		    ev.out_port == v->out_key.dport)
			bits |= NSW_BIND_EIM;
	}
	if (v->pool_id != 0xff && fd->paired >= 0 && (s->any_paired || own_paired)) {
		struct ns_paired_key qk;
		struct ns_paired_val qv;

		memset(&qk, 0, sizeof(qk));
		qk.in_addr = v->in_key.saddr;
		qk.pool_id = v->pool_id;
		if (!bpf_map_lookup_elem(fd->paired, &qk, &qv) && qv.out_addr == v->out_key.daddr)
			bits |= NSW_BIND_PAIRED;
	}
	return bits;
}

/* Move the pending record batch into lo; false when lo is full. */
static bool flush_batch(struct ns_sync *s, struct sync_conn *c)
{
	size_t n = nsw_batch_finish(&s->batch, 0);

	if (!n)
		return true;
	if (!sy_send_lo(s, c, s->batch_buf, n))
		return false;
	sy_lat_framed(s, c->lo_enq);
	s->batch.count = 0;
	return true;
}

static bool flush_dels(struct ns_sync *s, struct sync_conn *c)
{
	size_t n = nsw_batch_finish(&s->dbatch, 0);

	if (!n)
		return true;
	if (!sy_send_hi(s, c, s->dbatch_buf, (int)n))
		return false;
	s->dbatch.count = 0;
	return true;
}

/* Add one record (with its IPv6 key k6 for a NAT64 session, else NULL). */
static int batch_add(struct ns_sync *s, const struct ns_tuple6 *k6, const struct nsw_session *r)
{
	return k6 ? nsw_batch_add_session64(&s->batch, k6, r) : nsw_batch_add_session(&s->batch, r);
}

static bool queue_record(struct ns_sync *s, struct sync_conn *c, uint8_t type,
			 const struct ns_tuple6 *k6, const struct nsw_session *r)
{
	int err;

	if (s->batch.count && s->batch.type != type && !flush_batch(s, c))
		return false;
	if (!s->batch.count)
		nsw_batch_start(&s->batch, s->batch_buf, sizeof(s->batch_buf), type);
	err = batch_add(s, k6, r);
	if (err == -NSW_E_NOSPC) {
		if (!flush_batch(s, c))
			return false;
		nsw_batch_start(&s->batch, s->batch_buf, sizeof(s->batch_buf), type);
		err = batch_add(s, k6, r);
	}
	return !err;
}

/*
 * Queue the delete of a session we sent. Deletes go on the high-priority
 * queue, except when the session's last record has not started on the wire
 * yet: then the delete must follow it on lo, or the backup would install
 * the record after deleting it.
 */
static bool queue_del(struct ns_sync *s, struct sync_conn *c, const struct sync_ent *e,
		      uint8_t type)
{
	if (e->serial >= c->lo_started) {
		struct nsw_batch b;
		uint8_t f[NSW_HDR_LEN + 2 + NSW_DEL_LEN];

		if (!flush_batch(s, c))
			return false;
		nsw_batch_start(&b, f, sizeof(f), type);
		nsw_batch_add_del(&b, &e->key);
		if (!sy_send_lo(s, c, f, nsw_batch_finish(&b, 0)))
			return false;
	} else {
		/* one delete type per frame: SESSION_DEL or SESSION64_DEL */
		if (s->dbatch.count && s->dbatch.type != type && !flush_dels(s, c))
			return false;
		if (!s->dbatch.count)
			nsw_batch_start(&s->dbatch, s->dbatch_buf, sizeof(s->dbatch_buf), type);
		if (nsw_batch_add_del(&s->dbatch, &e->key)) {
			if (!flush_dels(s, c))
				return false;
			nsw_batch_start(&s->dbatch, s->dbatch_buf, sizeof(s->dbatch_buf), type);
			nsw_batch_add_del(&s->dbatch, &e->key);
		}
	}
	s->st.dels_tx++;
	return true;
}

/* Has the session changed enough since its last record to send an update? */
static bool needs_update(struct ns_sync *s, const struct sync_ent *e, const struct ns_session *v)
{
	uint64_t quarter;

	if (v->tcp_state != e->tcp_state || (v->flags & NSW_SF_WIRE_MASK) != e->flags)
		return true;
	/* Refresh before the backup's own aging could expire it: a quarter
	 * of the timeout leaves room for a slow pass and a slow link. */
	quarter = (uint64_t)ns_config_session_timeout(&s->d->conf, v->in_key.proto, v->tcp_state) *
		  1000000000ull / 4;
	if (quarter < 1000000000ull)
		quarter = 1000000000ull;
	return v->last_seen_ns > e->last_seen_sent && v->last_seen_ns - e->last_seen_sent >= quarter;
}

/* e leaves the due wheel's accounting (sent, or removed). */
static void unqueue(struct ns_sync *s, struct sync_ent *e)
{
	if (!e->queued)
		return;
	e->queued = false;
	s->tab_queued--;
}

/*
 * Queue a session that becomes old enough at due_ns into the wheel, with
 * its bindings looked up now (the syscall is then not on the way of the
 * record when it is due), and track it (e, or a new entry) as queued so
 * later passes do not queue it again. False when it could not be queued.
 */
static void mark_seen(struct ns_sync *s, struct sync_ent *e);

static bool due_queue(struct ns_sync *s, const struct ns_tuple *k, const struct ns_session *v,
		      struct sync_ent *e, uint64_t due_ns, uint64_t now)
{
	bool fresh = !e;

	if (fresh) {
		e = sy_tab_add(&s->tab, k);
		if (!e)
			return false;
		e->created_ns = v->created_ns;
	}
	if (!sy_wheel_push(&s->due, v, binding_bits(s, v), due_ns, now)) {
		if (fresh)
			sy_tab_del(&s->tab, k);
		return false;
	}
	if (fresh)
		mark_seen(s, e);
	e->queued = true;
	s->tab_queued++;
	return true;
}

/* The walk saw e's session in this pass (counted: see finish_pass). */
static void mark_seen(struct ns_sync *s, struct sync_ent *e)
{
	if (e->seen_pass == s->pass)
		return;
	e->seen_pass = s->pass;
	s->pass_seen++;
}

/* One session seen by the walk. */
static void walk_entry(struct ns_sync *s, struct sync_conn *c, const struct ns_tuple *k,
		       const struct ns_session *v, int bind, uint64_t now)
{
	struct sync_ent *e = sy_tab_find(&s->tab, k);
	struct nsw_session r;
	uint64_t thr;
	uint8_t type;

	if (e && e->created_ns != v->created_ns) {
		/* Same 5-tuple, new session: the one the peer has is gone. */
		if (e->epoch == s->epoch && !queue_del(s, c, e, NSW_SESSION_DEL))
			return;
		if (e->seen_pass == s->pass)
			s->pass_seen--;
		unqueue(s, e);
		sy_tab_del(&s->tab, k);
		e = NULL;
	}
	if (e)
		mark_seen(s, e);
	if (!svc_replicates(s, v->svc_set, &thr))
		return;
	if (v->created_ns > now)
		return;
	if (now - v->created_ns < thr) {
		/* Too young yet. Due before the walk comes back here: queue
		 * it for its time (due_step), once. Otherwise remember the
		 * earliest due time (pass_due) for an early pass. */
		if (e && e->queued)
			return;
		if (v->created_ns + thr - now <= s->due_horizon &&
		    due_queue(s, k, v, e, v->created_ns + thr, now))
			return;
		if (v->created_ns + thr < s->pass_due)
			s->pass_due = v->created_ns + thr;
		return;
	}
	if (!e) {
		e = sy_tab_add(&s->tab, k);
		if (!e)
			return;
		e->created_ns = v->created_ns;
		mark_seen(s, e);
	}
	if (e->epoch != s->epoch)
		type = NSW_SESSION_ADD;
	else if (needs_update(s, e, v))
		type = NSW_SESSION_UPDATE;
	else
		return;
	nsw_session_from_ns(v, now, bind >= 0 ? (uint8_t)bind : binding_bits(s, v), &r);
	if (!queue_record(s, c, type, NULL, &r)) {
		s->st.backpressure++;
		return;
	}
	unqueue(s, e);
	e->epoch = s->epoch;
	e->tcp_state = v->tcp_state;
	e->flags = v->flags & NSW_SF_WIRE_MASK;
	e->last_seen_sent = v->last_seen_ns;
	e->serial = c->lo_enq;
	if (type == NSW_SESSION_ADD) {
		s->st.adds_tx++;
		if (s->bulk_running)
			s->bulk_count++;
		else if (s->lat_on)
			sy_lat_queued(s, v->created_ns + thr);
	} else {
		s->st.updates_tx++;
	}
}

/*
 * One NAT64 session seen by the walk (IPv6 key k): walk_entry()'s logic
 * with tab64, keyed by the session's out_key, and SESSION64_* records.
 */
static void walk_entry64(struct ns_sync *s, struct sync_conn *c, const struct ns_tuple6 *k,
			 const struct ns_session *v, uint64_t now)
{
	struct sync_ent *e = sy_tab_find(&s->tab64, &v->out_key);
	struct nsw_session r;
	uint64_t thr;
	uint8_t type;

	if (e && e->created_ns != v->created_ns) {
		if (e->epoch == s->epoch && !queue_del(s, c, e, NSW_SESSION64_DEL))
			return;
		sy_tab_del(&s->tab64, &v->out_key);
		e = NULL;
	}
	if (e)
		e->seen_pass = s->pass;
	if (!svc_replicates(s, v->svc_set, &thr))
		return;
	if (v->created_ns > now || now - v->created_ns < thr)
		return;
	if (!e) {
		e = sy_tab_add(&s->tab64, &v->out_key);
		if (!e)
			return;
		e->created_ns = v->created_ns;
		e->seen_pass = s->pass;
	}
	if (e->epoch != s->epoch)
		type = NSW_SESSION64_ADD;
	else if (needs_update(s, e, v))
		type = NSW_SESSION64_UPDATE;
	else
		return;
	nsw_session_from_ns(v, now, binding_bits(s, v), &r);
	if (!queue_record(s, c, type, k, &r)) {
		s->st.backpressure++;
		return;
	}
	e->epoch = s->epoch;
	e->tcp_state = v->tcp_state;
	e->flags = v->flags & NSW_SF_WIRE_MASK;
	e->last_seen_sent = v->last_seen_ns;
	e->serial = c->lo_enq;
	if (type == NSW_SESSION64_ADD) {
		s->st.adds_tx++;
		if (s->bulk_running)
			s->bulk_count++;
	} else {
		s->st.updates_tx++;
	}
}

/* Does this pass replicate NAT64 sessions to the peer on c? */
static bool nat64_replicates(const struct ns_sync *s, const struct sync_conn *c)
{
	return s->d->fd.nat64_sess >= 0 && (c->peer.caps & NSW_CAP_NAT64);
}

static void start_pass(struct ns_sync *s, struct sync_conn *c, uint64_t now)
{
	s->pass++;
	s->pass_seen = 0;
	s->pass_due = UINT64_MAX;
	/* The walk sees a session again within about one interval plus one
	 * pass time (passes run back to back when longer than the interval):
	 * twice that leaves room for a slower pass. */
	s->due_horizon = 2 * (SYNC_PASS_INTERVAL_NS + s->st.walk_last_ns);
	if (s->due_horizon > SYNC_DUE_HORIZON_MAX_NS)
		s->due_horizon = SYNC_DUE_HORIZON_MAX_NS; /* bounds the copies held */
	s->walking = true;
	s->walk_first = true;
	s->walk64 = false;
	s->fin64 = false;
	s->finishing = false;
	s->fin_idx = 0;
	s->last_pass_ns = now;
	if (!s->bulk_pending)
		return;
	{
		struct nsw_bulk b = { .epoch = s->epoch,
				      .count = (uint32_t)s->d->st.sessions_seen };
		uint8_t f[NSW_HDR_LEN + 8];

		/* A fresh connection: nothing half-built may leak into it. */
		s->batch.count = 0;
		s->dbatch.count = 0;
		sy_lat_reset_pending(s);
		if (!sy_send_lo(s, c, f, nsw_encode_bulk(f, sizeof(f), NSW_BULK_START, 0, &b))) {
			s->walking = false; /* lo full: the next step retries the start */
			return;
		}
		s->bulk_pending = false;
		s->bulk_running = true;
		/* the bulk sends every held binding: what waited is in it */
		sync_hold_reset(&s->hold);
		if (c->peer.caps & NSW_CAP_HOLD)
			sync_hold_bulk_start(&s->hold);
		s->bulk_epoch = s->epoch;
		s->bulk_count = 0;
		s->bulk_expected = b.count;
		s->st.bulks_tx++;
	}
}

/* Is c still the established connection the walk works for? */
static bool conn_live(const struct ns_sync *s, const struct sync_conn *c)
{
	return s->active == c && c->st == C_ESTABLISHED;
}

/*
 * Sessions not seen in the pass that just ended were deleted: tell the
 * peer. Resumable at table bucket s->fin_idx; returns having done at most
 * SYNC_STEP_BUDGET_NS of work since start (the sy_kick brings it back).
 */
/*
 * The deletes of one table (tab: SESSION_DEL, tab64: SESSION64_DEL) from
 * bucket s->fin_idx on. Returns true when the table is done, false when
 * the step must end (budget spent: kicked; or the connection died).
 */
static bool finish_table(struct ns_sync *s, struct sync_conn *c, struct sync_table *t,
			 uint8_t del_type, uint64_t start)
{
	/* Every entry of the IPv4 table was seen in the pass (pass_seen
	 * counts them): nothing was deleted, and the scan below (a cache
	 * miss per entry) has nothing to find. */
	if (t == &s->tab && !s->fin_idx && s->pass_seen == s->tab.n)
		s->fin_idx = s->tab.nb;
	for (; s->fin_idx < t->nb; s->fin_idx++) {
		struct sync_ent **pp = &t->b[s->fin_idx];

		if (!(s->fin_idx & 1023) && ns_now() - start >= SYNC_STEP_BUDGET_NS) {
			sy_kick(s);
			return false;
		}
		while (*pp) {
			struct sync_ent *e = *pp;

			if (e->seen_pass == s->pass) {
				pp = &e->next;
				continue;
			}
			if (e->epoch == s->epoch && !queue_del(s, c, e, del_type)) {
				if (!conn_live(s, c))
					return false;
				s->st.dels_deferred++; /* stays unseen: retried next pass */
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			unqueue(s, e);
			free(e);
			t->n--;
		}
		if (!conn_live(s, c))
			return false;
	}
	return true;
}

/*
 * Send what sync_hold has for the peer (held bindings, see sync_hold.h);
 * false when the step must end here (budget spent: kicked; lo half full:
 * resumed when it drains; c closed).
 */
static bool hold_step(struct ns_sync *s, struct sync_conn *c, uint64_t start)
{
	uint8_t f[NSW_MAX_FRAME];

	sy_phase(s, SYP_HOLD);
	while (sync_hold_busy(&s->hold)) {
		int n;

		if (sy_q_len(&c->lo) > SYNC_LO_CAP / 2) {
			s->st.backpressure++;
			return false;
		}
		if (ns_now() - start >= SYNC_STEP_BUDGET_NS) {
			sy_kick(s);
			return false;
		}
		n = sync_hold_frame(&s->hold, s->d->fd.ports, f, sizeof(f), ns_now(),
				    start + SYNC_STEP_BUDGET_NS);
		if (n < 0) {
			s->st.walk_errors++;
			pr_warn("sync: walk of held bindings failed: %s", strerror(-n));
			continue;
		}
		if (n && !sy_send_lo(s, c, f, n))
			return false;
		if (!conn_live(s, c))
			return false;
	}
	return true;
}

static void finish_pass(struct ns_sync *s, struct sync_conn *c, uint64_t start)
{
	if (!flush_batch(s, c))
		return; /* retried at the next step, the pass is not over yet */
	sy_phase(s, SYP_DELETES);
	if (!s->fin64) {
		if (!finish_table(s, c, &s->tab, NSW_SESSION_DEL, start))
			return;
		s->fin64 = true;
		s->fin_idx = 0;
	}
	if (!finish_table(s, c, &s->tab64, NSW_SESSION64_DEL, start))
		return;
	flush_dels(s, c);
	if (!conn_live(s, c))
		return;
	if (s->bulk_running && !hold_step(s, c, start))
		return; /* the bulk's held bindings go before its end */
	if (s->bulk_running) {
		struct nsw_bulk b = { .epoch = s->bulk_epoch, .count = s->bulk_count };
		uint8_t f[NSW_HDR_LEN + 8];

		if (!sy_send_lo(s, c, f, nsw_encode_bulk(f, sizeof(f), NSW_BULK_END, 0, &b)))
			return;
		s->bulk_running = false;
		pr_info("sync: bulk %u sent: %u sessions", b.epoch, b.count);
	}
	s->walking = false;
	s->finishing = false;
	s->fin_idx = 0;
	s->fin64 = false;
	s->st.walk_passes++;
	s->st.walk_last_ns = ns_now() - s->last_pass_ns;
	s->next_due_ns = s->pass_due;
}

/* Ask the loop to call sy_walk_step() again after the events already pending. */
void sy_kick(struct ns_sync *s)
{
	uint64_t one = 1;

	if (s->kfd >= 0 && !s->kicked && write(s->kfd, &one, sizeof(one)) == sizeof(one))
		s->kicked = true;
}

static void kicked(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct ns_sync *s = arg;
	uint64_t v;

	(void)loop;
	(void)ev;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	s->kicked = false;
	/* Input a budget-limited step left behind (backup installing). */
	for (int i = 0; i < SYNC_MAX_CONNS; i++) {
		struct sync_conn *c = &s->conns[i];

		if (c->st != C_FREE && c->rx_paused) {
			sy_on_readable(s, c);
			if (c->st != C_FREE)
				sy_flush_out(s, c);
		}
	}
	if (s->sweeping)
		sy_sweep_step(s);
	sy_walk_step(s);
}

void sy_on_kick(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct ns_sync *s = arg;
	uint64_t start = ns_now(), cpu = sy_cpu_now();

	kicked(loop, fd, ev, arg);
	sy_step_done(s, start, cpu, "continued step");
}

/*
 * Send the queued sessions that are due by now. Shares the step's budget
 * with the walk; false when the step must end here (budget spent:
 * kicked; lo half full: resumed when it drains; c closed).
 */
static bool due_step(struct ns_sync *s, struct sync_conn *c, uint64_t now)
{
	struct sync_wheel *w = &s->due;
	uint32_t i = 0;

	sy_phase(s, SYP_DUE);
	/* Slot pos holds sessions due before (pos + 1) slot times. */
	while (w->n && (w->pos + 1) * SYNC_DUE_SLOT_NS <= now) {
		struct sync_slot *sl = &w->slot[w->pos % SYNC_DUE_SLOTS];

		while (sl->off < sl->n) {
			const struct ns_session *v = &sl->v[sl->off].v;
			struct sync_ent *e;

			if (sy_q_len(&c->lo) > SYNC_LO_CAP / 2) {
				s->st.backpressure++;
				return false;
			}
			if (!(++i & 63) && ns_now() - now >= SYNC_STEP_BUDGET_NS) {
				sy_kick(s);
				return false;
			}
			sl->off++;
			w->n--;
			/* No entry: a pass found the session gone (its entry
			 * was freed). Another creation time: the 5-tuple was
			 * reused, the walk handles the new session. */
			e = sy_tab_find(&s->tab, &v->in_key);
			if (!e || e->created_ns != v->created_ns || e->epoch == s->epoch)
				continue;
			s->st.due_sent++;
			s->lat_on = true;
			walk_entry(s, c, &v->in_key, v, sl->v[sl->off - 1].bind, now);
			s->lat_on = false;
			if (!conn_live(s, c))
				return false;
		}
		sy_slot_free(sl);
		w->pos++;
	}
	return true;
}

/*
 * Time for a new pass? Every SYNC_PASS_INTERVAL_NS (changes, deletes), and
 * earlier when the last pass saw a session that is old enough to replicate
 * by now: it is then sent a pass time after it became eligible, not up to
 * a whole interval later. The earlier start keeps the walk idle at least
 * as long as the last pass took, so a table that always has a session
 * coming due costs at most half a CPU.
 */
static bool pass_due(const struct ns_sync *s, uint64_t now)
{
	uint64_t since = now - s->last_pass_ns;

	if (since >= SYNC_PASS_INTERVAL_NS)
		return true;
	return s->next_due_ns <= now && since >= 2 * s->st.walk_last_ns;
}

/*
 * One bounded step of the replication walk: batch lookups until the
 * budget is spent (then sy_kick) or lo is half full (then sy_on_conn_event
 * resumes it when lo drains), then the resumable finish_pass().
 */
void sy_walk_step(struct ns_sync *s)
{
	struct sync_conn *c = s->active;
	uint64_t now = ns_now();

	if (!c || c->st != C_ESTABLISHED || !s->primary || s->d->fd.sessions < 0)
		return;
	s->step_what = "replication walk";
	/* Not before BULK_START on a new connection. */
	if (!s->bulk_pending && !due_step(s, c, now)) {
		if (conn_live(s, c))
			flush_batch(s, c);
		return;
	}
	/* held bindings as they come (a bulk sends them from finish_pass) */
	if (!s->bulk_pending && !s->bulk_running && !hold_step(s, c, now))
		return;
	if (s->finishing) {
		finish_pass(s, c, now);
		return;
	}
	if (!s->walking) {
		if (!s->bulk_pending && !pass_due(s, now))
			return;
		start_pass(s, c, now);
		if (s->bulk_pending || !conn_live(s, c))
			return; /* lo full, or BULK_START's send closed c */
	}
	for (;;) {
		__u32 n = SYNC_WALK_CHUNK;
		int err;

		if (sy_q_len(&c->lo) > SYNC_LO_CAP / 2) {
			s->st.backpressure++;
			break; /* resumed from sy_on_conn_event when lo drains */
		}
		if (ns_now() - now >= SYNC_STEP_BUDGET_NS) {
			sy_kick(s); /* let other events run, then continue at once */
			break;
		}
		sy_phase(s, SYP_LOOKUP);
		if (s->walk64)
			err = bpf_map_lookup_batch(s->d->fd.nat64_sess,
						   s->walk64_first ? NULL : &s->walk64_token,
						   &s->walk64_token, s->keys6, s->vals, &n, NULL);
		else
			err = bpf_map_lookup_batch(s->d->fd.sessions,
						   s->walk_first ? NULL : &s->walk_token,
						   &s->walk_token, s->keys, s->vals, &n, NULL);
		if (err && err != -ENOENT) {
			s->st.walk_errors++;
			pr_warn("sync: %s walk failed: %s", s->walk64 ? "NAT64 session" : "session",
				strerror(-err));
			s->walking = false;
			if (s->bulk_running) {
				s->bulk_running = false;
				s->bulk_pending = true; /* a bulk must be complete: redo */
			}
			return;
		}
		if (s->walk64)
			s->walk64_first = false;
		else
			s->walk_first = false;
		sy_phase(s, SYP_ENTRIES);
		if (!s->walk64)
			sy_tab_prefetch(&s->tab, s->keys, n, s->hashes);
		for (__u32 i = 0; i < n; i++) {
			if (s->walk64)
				walk_entry64(s, c, &s->keys6[i], &s->vals[i], now);
			else
				walk_entry(s, c, &s->keys[i], &s->vals[i], -1, now);
			if (!conn_live(s, c))
				return; /* the connection died under a send */
		}
		if (err == -ENOENT && !s->walk64 && nat64_replicates(s, c)) {
			/* the IPv4 sessions are done: the NAT64 ones next */
			s->walk64 = true;
			s->walk64_first = true;
			continue;
		}
		if (err == -ENOENT) {
			s->finishing = true;
			s->fin_idx = 0;
			finish_pass(s, c, now);
			break;
		}
	}
	if (conn_live(s, c)) {
		flush_batch(s, c);
		flush_dels(s, c);
	}
}

/*
 * A new session, told by the fast path's SESSION_OPEN event (events.c):
 * with replication-threshold 0 it goes to the backup now, not when the
 * next pass finds it (up to SYNC_PASS_INTERVAL_NS plus a walk later), so a
 * flow opened just before a failure survives it. Anything else (an older
 * threshold, a NAT64 session, no live channel, a full queue) is left to the
 * pass and the due wheel, as before.
 */
void sync_session_opened(struct ns_daemon *d, const struct ns_tuple *k)
{
	struct ns_sync *s = d->sync;
	struct sync_conn *c = s ? s->active : NULL;
	struct ns_session v;
	uint64_t thr;

	if (!c || !s->primary || !conn_live(s, c) || s->bulk_pending || d->fd.sessions < 0)
		return;
	if (bpf_map_lookup_elem(d->fd.sessions, k, &v))
		return; /* gone already, or not an IPv4 session */
	if (!svc_replicates(s, v.svc_set, &thr) || thr || sy_tab_find(&s->tab, k))
		return;
	if (sy_q_len(&c->lo) > SYNC_LO_CAP / 2) {
		s->st.backpressure++;
		return;
	}
	s->lat_on = true;
	walk_entry(s, c, k, &v, -1, ns_now());
	s->lat_on = false;
	if (!conn_live(s, c) || !sy_tab_find(&s->tab, k))
		return;
	s->st.open_sent++;
	flush_batch(s, c);
}

void sync_sessions_cleared(struct ns_daemon *d, const struct ns_session *v, size_t n, bool nat64)
{
	struct ns_sync *s = d->sync;
	struct sync_conn *c = s ? s->active : NULL;
	struct sync_table *t;
	uint8_t type = nat64 ? NSW_SESSION64_DEL : NSW_SESSION_DEL;

	if (!c || !s->primary || !conn_live(s, c) || s->bulk_pending)
		return; /* the next connection's bulk leaves them out */
	t = nat64 ? &s->tab64 : &s->tab;
	for (size_t i = 0; i < n; i++) {
		const struct ns_tuple *k = nat64 ? &v[i].out_key : &v[i].in_key;
		struct sync_ent *e = sy_tab_find(t, k);

		if (!e || e->created_ns != v[i].created_ns)
			continue;
		if (e->epoch == s->epoch) {
			if (!queue_del(s, c, e, type))
				break; /* the rest: the next pass's finish_pass */
			s->st.clear_dels++;
		}
		if (t == &s->tab && e->seen_pass == s->pass)
			s->pass_seen--;
		unqueue(s, e);
		sy_tab_del(t, k);
		if (!conn_live(s, c))
			return;
	}
	if (conn_live(s, c))
		flush_dels(s, c);
}

void sync_port_held(struct ns_daemon *d, const struct ns_port_key *k,
		    const struct ns_port_val *v)
{
	struct ns_sync *s = d->sync;
	struct sync_conn *c = s ? s->active : NULL;

	/* Unconnected, the next connection's bulk carries it. */
	if (!c || !s->primary || !conn_live(s, c) || s->bulk_pending ||
	    !(c->peer.caps & NSW_CAP_HOLD))
		return;
	sync_hold_note(&s->hold, k, v, ns_now());
	sy_kick(s);
}
