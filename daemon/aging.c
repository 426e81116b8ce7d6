// SPDX-License-Identifier: GPL-2.0
/*
 * aging.c - session and NAT binding expiry (see aging.h, doc/daemon.md).
 *
 * This file: the decisions, what a cycle changes (reap, ports, paired) and
 * the batch walk; aging_kernel.c: the in-kernel sweep, its worker thread,
 * the timer and the entry points. Two engines, one set of decisions
 * (bpf/aging_sweep.h):
 *
 *  - the in-kernel sweep (bpf/aging.bpf.c): SEC("syscall") programs that
 *    walk ns_sessions, ns_nat64_sess, ns_ports and ns_paired with
 *    bpf_for_each_map_elem, run with BPF_PROG_RUN on a worker thread. A live
 *    session costs no copy to userspace: the kernel marks its bindings in a
 *    bitmap and emits only what changes. What changes is applied on the
 *    event loop in bounded steps, with pauses that keep aging under
 *    NS_AGING_CPU_SHARE_PCT of one core: the event loop never stalls.
 *  - the batch walk, the last resort when the sweep cannot load:
 *    BPF_MAP_LOOKUP_BATCH in chunks, live bindings in in-memory hash sets,
 *    one synchronous pass per tick on the loop (natsyncd warns when it runs;
 *    NATSYNC_AGING_ENGINE=in-kernel refuses to start instead).
 *
 * Either way only entries that change (an expired session, a port moving
 * into or out of hold) cost per-entry syscalls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aging.h"
#include "aging_cycle.h"
#include "sublimit.h"
#include "bpf/aging_sweep.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "sync.h"
#include "util.h"


#define WALK_CHUNK 4096u        /* entries per batch lookup */
#define WALK_CHUNK_MAX (1u << 20)
#define FULL_WARN_EVERY_NS (60 * NS_NSEC_PER_SEC)

_Static_assert(NS_PORT_FREE == NS_AGE_PORT_FREE && NS_PORT_DROP_EIM == NS_AGE_PORT_DROP_EIM &&
	       NS_PORT_HOLD == NS_AGE_PORT_HOLD && NS_PORT_UNHOLD == NS_AGE_PORT_UNHOLD &&
	       NS_PORT_KEEP == NS_AGE_PORT_KEEP, "port verdicts differ from aging_sweep.h");

bool ns_aging_session_expired(uint64_t last_seen_ns, uint64_t now, uint32_t timeout_s)
{
	return ns_age_expired(last_seen_ns, now, timeout_s);
}

enum ns_port_verdict ns_aging_port_decide(const struct ns_port_val *v, bool in_use,
					  bool clean_close, uint64_t now, uint64_t walk_start,
					  uint32_t hold_s, uint32_t binding_s)
{
	return (enum ns_port_verdict)ns_age_port_decide(v, in_use, clean_close, now, walk_start,
							hold_s, binding_s);
}

bool ns_aging_paired_expired(const struct ns_paired_val *v, bool in_use, uint64_t now,
			     uint64_t walk_start, uint32_t binding_s)
{
	return ns_age_paired_expired(v, in_use, now, walk_start, binding_s);
}

/* ---- an open-addressing set of non-zero u64 ---------------------------- */


static void set_put(uint64_t *slot, size_t cap, uint64_t key)
{
	size_t i = ns_age_mix64(key) & (cap - 1);

	while (slot[i] && slot[i] != key)
		i = (i + 1) & (cap - 1);
	slot[i] = key;
}

bool ag_set_has(const struct u64set *s, uint64_t key)
{
	size_t i;

	if (!s->cap)
		return false;
	for (i = ns_age_mix64(key) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == key)
			return true;
	return false;
}

static int set_add(struct u64set *s, uint64_t key)
{
	if (ag_set_has(s, key))
		return 0;
	if ((s->n + 1) * 2 > s->cap) { /* keep the load under one half */
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *slot = calloc(cap, sizeof(*slot));

		if (!slot)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				set_put(slot, cap, s->slot[i]);
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	set_put(s->slot, s->cap, key);
	s->n++;
	return 0;
}

static void set_free(struct u64set *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

uint64_t ag_port_id(__be32 addr, __be16 port, __u8 proto)
{
	return ns_age_port_id(addr, port, proto);
}

static uint64_t paired_id(__be32 addr, __u8 pool)
{
	return ns_age_paired_id(addr, pool);
}

/* ---- batch walk ---------------------------------------------------------- */

typedef int (*walk_cb)(void *ctx, const void *keys, const void *vals, uint32_t n);

/*
 * Read every entry of a hash map in chunks and hand each chunk to cb.
 * ENOSPC with nothing returned means one bucket holds more entries than
 * the buffer: grow it and retry; ENOENT ends the walk (with a last chunk).
 */
static int map_walk(int fd, uint32_t ksz, uint32_t vsz, walk_cb cb, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint64_t tok_in[8], tok_out[8]; /* a hash map's token is a u32 bucket */
	uint32_t chunk = WALK_CHUNK;
	void *keys = malloc((size_t)chunk * ksz), *vals = malloc((size_t)chunk * vsz);
	bool first = true;
	int err = 0;

	while (keys && vals) {
		uint32_t count = chunk;
		int ret = bpf_map_lookup_batch(fd, first ? NULL : tok_in, tok_out, keys, vals,
					       &count, &opts);

		if (ret < 0 && ret != -ENOENT && ret != -ENOSPC) {
			err = ret;
			break;
		}
		if (ret == -ENOSPC && !count) {
			void *k, *v;

			if (chunk >= WALK_CHUNK_MAX) {
				err = -ENOSPC;
				break;
			}
			chunk *= 2;
			k = realloc(keys, (size_t)chunk * ksz);
			if (k)
				keys = k;
			v = k ? realloc(vals, (size_t)chunk * vsz) : NULL;
			if (!v) {
				err = -ENOMEM;
				break;
			}
			vals = v;
			continue;
		}
		if (count) {
			err = cb(ctx, keys, vals, count);
			if (err)
				break;
		}
		if (ret == -ENOENT)
			break;
		memcpy(tok_in, tok_out, sizeof(tok_in));
		first = false;
	}
	if ((!keys || !vals) && !err)
		err = -ENOMEM;
	free(keys);
	free(vals);
	return err;
}

/* Delete n keys; batch first, then one by one for what the batch left. */
static int delete_keys(int fd, const void *keys, uint32_t ksz, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t done = n;
	int failed = 0;

	if (!n)
		return 0;
	if (!bpf_map_delete_batch(fd, keys, &done, &opts) && done == n)
		return 0;
	/* A key deleted concurrently stops the batch with ENOENT: finish the
	 * rest individually, ignoring keys already gone. */
	for (uint32_t i = done; i < n; i++) {
		int ret = bpf_map_delete_elem(fd, (const char *)keys + (size_t)i * ksz);

		if (ret < 0 && ret != -ENOENT)
			failed++;
	}
	return failed ? -EIO : 0;
}

/* ---- sessions ------------------------------------------------------------ */

int ag_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t cap2 = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (cap2 < need)
		cap2 *= 2;
	p = realloc(*arr, cap2 * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = cap2;
	return 0;
}

static void bitmap_mark(struct pass *p, uint64_t id)
{
	uint32_t word;
	uint64_t bits = ns_age_bits(id, p->seed, p->nbits, &word);

	p->bitmap[word] |= bits;
}

bool ag_bitmap_test(const struct pass *p, uint64_t id)
{
	uint32_t word;
	uint64_t bits = ns_age_bits(id, p->seed, p->nbits, &word);

	return (p->bitmap[word] & bits) == bits;
}

/* Mark the bindings a live session keeps in use (its pool port, its paired
 * address). NAT64 sessions name theirs the same way (see natsync.h). */
static int mark_bindings(struct pass *p, const struct ns_session *s)
{
	int err;

	if (p->bitmap) {
		bitmap_mark(p, ns_age_session_port_id(s));
		if (s->pool_id != 0xff)
			bitmap_mark(p, paired_id(s->in_key.saddr, s->pool_id));
		return 0;
	}
	/* dynamic-nat44 owns a whole address, as ns_ports[(addr, 0, 0)] */
	err = set_add(&p->ports, ns_age_session_port_id(s));
	if (!err && s->pool_id != 0xff)
		err = set_add(&p->paired, paired_id(s->in_key.saddr, s->pool_id));
	return err;
}

static int mark_live(struct pass *p, const struct ns_session *s)
{
	p->live++;
	return mark_bindings(p, s);
}

static int mark_live64(struct pass *p, const struct ns_session *s)
{
	p->live64++;
	return mark_bindings(p, s);
}

static int on_sessions(void *ctx, const void *keys, const void *vals, uint32_t n)
{
	const struct ns_tuple *k = keys;
	const struct ns_session *v = vals;
	struct pass *p = ctx;
	int err = 0;

	for (uint32_t i = 0; i < n && !err; i++) {
		uint32_t t = ns_config_session_timeout(&p->d->conf, v[i].in_key.proto,
						       v[i].tcp_state);

		if (!ns_aging_session_expired(v[i].last_seen_ns, p->now, t)) {
			err = mark_live(p, &v[i]);
			continue;
		}
		err = ag_grow((void **)&p->exp, &p->cap_exp, p->n_exp + 1, sizeof(*p->exp));
		if (err)
			break;
		p->exp[p->n_exp].key = k[i];
		p->exp[p->n_exp].s = v[i];
		p->n_exp++;
	}
	return err;
}

/*
 * Delete the expired sessions p->exp[from, from + cnt). Each is looked up
 * once more first: a packet may have refreshed it since the walk read it,
 * and deleting a live flow's session would cut it. Only expired entries pay
 * this syscall.
 */
int ag_reap_sessions(struct pass *p, size_t from, size_t cnt)
{
	struct ns_sublimit_acc subs = { 0 }; /* max-sessions-per-subscriber */
	struct ns_daemon *d = p->d;
	struct ns_tuple *keys, *rev;
	uint32_t n = 0;
	int err = 0, e2;

	if (!cnt)
		return 0;
	keys = calloc(cnt, sizeof(*keys));
	rev = calloc(cnt, sizeof(*rev));
	if (!keys || !rev) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = from; i < from + cnt && !err; i++) {
		struct expired *x = &p->exp[i];
		struct ns_session cur;
		struct ns_event ev;

		if (bpf_map_lookup_elem(d->fd.sessions, &x->key, &cur))
			continue; /* gone already */
		if (cur.last_seen_ns != x->s.last_seen_ns) {
			err = mark_live(p, &cur);
			continue;
		}
		keys[n] = x->key;
		rev[n++] = x->s.out_key;
		err = ns_sublimit_note(&subs, &x->s);
		if (!err && x->s.tcp_state == NS_TCP_TIME_WAIT)
			err = set_add(&p->clean, ag_port_id(x->s.out_key.daddr, x->s.out_key.dport,
							 x->s.out_key.proto));
		ns_event_from_session(&ev, &x->s, NS_EV_SESSION_CLOSE);
		ns_event_log(d, &ev, &x->s);
	}
	e2 = delete_keys(d->fd.sessions, keys, sizeof(*keys), n);
	if (!e2)
		e2 = delete_keys(d->fd.session_rev, rev, sizeof(*rev), n);
	if (e2)
		d->st.aging_errors++;
	d->st.sessions_expired += n;
	if (!err)
		err = e2;
	e2 = ns_sublimit_after_reap(d, &subs, p->now);
	if (!err)
		err = e2;
out:
	free(subs.keys);
	free(keys);
	free(rev);
	return err;
}

/* ---- NAT64 sessions ------------------------------------------------------ */

/* Queue an expired NAT64 session for ag_reap_sessions64(). */
int ag_note_expired64(struct pass *p, const struct ns_tuple6 *k, const struct ns_session *s)
{
	if (ag_grow((void **)&p->exp64, &p->cap_exp64, p->n_exp64 + 1, sizeof(*p->exp64)))
		return -ENOMEM;
	p->exp64[p->n_exp64].key = *k;
	p->exp64[p->n_exp64++].s = *s;
	return 0;
}

static int on_sessions64(void *ctx, const void *keys, const void *vals, uint32_t n)
{
	const struct ns_tuple6 *k = keys;
	const struct ns_session *v = vals;
	struct pass *p = ctx;
	int err = 0;

	for (uint32_t i = 0; i < n && !err; i++) {
		uint32_t t = ns_config_session_timeout(&p->d->conf, v[i].in_key.proto,
						       v[i].tcp_state);

		if (!ns_aging_session_expired(v[i].last_seen_ns, p->now, t))
			err = mark_live64(p, &v[i]);
		else
			err = ag_note_expired64(p, &k[i], &v[i]);
	}
	return err;
}

/*
 * Delete the expired NAT64 sessions p->exp64[from, from + cnt) with their
 * ns_nat64_rev entries, re-checking each first as ag_reap_sessions() does.
 * Their pool ports are released by the port phase that follows (no live
 * session marks them any more).
 */
int ag_reap_sessions64(struct pass *p, size_t from, size_t cnt)
{
	struct ns_sublimit_acc subs = { 0 }; /* max-sessions-per-subscriber */
	struct ns_daemon *d = p->d;
	struct ns_tuple6 *keys;
	struct ns_tuple *rev;
	uint32_t n = 0;
	int err = 0, e2;

	if (!cnt)
		return 0;
	keys = calloc(cnt, sizeof(*keys));
	rev = calloc(cnt, sizeof(*rev));
	if (!keys || !rev) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = from; i < from + cnt && !err; i++) {
		struct expired64 *x = &p->exp64[i];
		struct ns_session cur;
		struct ns_event6 ev;

		if (bpf_map_lookup_elem(d->fd.nat64_sess, &x->key, &cur))
			continue;
		if (cur.last_seen_ns != x->s.last_seen_ns) {
			err = mark_live64(p, &cur);
			continue;
		}
		keys[n] = x->key;
		rev[n++] = x->s.out_key;
		err = ns_sublimit_note64(&subs, &x->s, x->key.saddr);
		if (!err && x->s.tcp_state == NS_TCP_TIME_WAIT)
			err = set_add(&p->clean, ag_port_id(x->s.out_key.daddr, x->s.out_key.dport,
							 x->s.out_key.proto));
		ns_event6_from_session(&ev, &x->s, &x->key, NS_EV_SESSION_CLOSE);
		ns_event6_log(d, &ev, &x->s);
	}
	e2 = delete_keys(d->fd.nat64_sess, keys, sizeof(*keys), n);
	if (!e2)
		e2 = delete_keys(d->fd.nat64_rev, rev, sizeof(*rev), n);
	if (e2)
		d->st.aging_errors++;
	d->st.sessions_expired += n;
	if (!err)
		err = e2;
	e2 = ns_sublimit_after_reap(d, &subs, p->now);
	if (!err)
		err = e2;
out:
	free(subs.keys);
	free(keys);
	free(rev);
	return err;
}

/* ---- NAT bindings ------------------------------------------------------- */

static int on_ports(void *ctx, const void *keys, const void *vals, uint32_t n)
{
	const struct ns_port_key *k = keys;
	const struct ns_port_val *v = vals;
	struct pass *p = ctx;
	const struct ns_timeouts *to = &p->d->conf.timeouts;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = ag_port_id(k[i].addr, k[i].port, k[i].proto);
		enum ns_port_verdict vd;

		vd = ns_aging_port_decide(&v[i], ag_set_has(&p->ports, id), ag_set_has(&p->clean, id),
					  p->now, p->walk_start, to->port_hold, to->binding);
		p->bindings++;
		if (vd == NS_PORT_KEEP)
			continue;
		if (ag_grow((void **)&p->pc, &p->cap_pc, p->n_pc + 1, sizeof(*p->pc)))
			return -ENOMEM;
		p->pc[p->n_pc].k = k[i];
		p->pc[p->n_pc].v = v[i];
		p->pc[p->n_pc].verdict = vd;
		p->n_pc++;
	}
	return 0;
}

/* Delete the ns_eim entry of a binding, if it still names this port, and
 * a NAT64 binding's BIB entry (natsync.h) with it. */
static void drop_eim(struct ns_daemon *d, const struct ns_port_key *k, const struct ns_port_val *v)
{
	struct ns_eim_key ek;
	struct ns_eim_val ev;
	struct ns_tuple bk;

	if ((v->flags & NS_PORT_F_NAT64) && d->fd.nat64_rev >= 0) {
		ns_nat64_bib_key(&bk, k->addr, k->port, k->proto);
		bpf_map_delete_elem(d->fd.nat64_rev, &bk);
	}

	memset(&ek, 0, sizeof(ek));
	ek.in_addr = v->in_addr;
	ek.in_port = v->in_port;
	ek.proto = k->proto;
	ek.svc_set = v->svc_set;
	if (bpf_map_lookup_elem(d->fd.eim, &ek, &ev))
		return;
	if (ev.out_addr == k->addr && ev.out_port == k->port)
		bpf_map_delete_elem(d->fd.eim, &ek);
}

/* Apply the port changes p->pc[from, from + cnt). */
int ag_apply_ports(struct pass *p, size_t from, size_t cnt)
{
	struct ns_daemon *d = p->d;
	struct ns_port_key *del;
	uint32_t n_del = 0;
	int err, failed = 0;

	del = calloc(cnt ? cnt : 1, sizeof(*del));
	if (!del)
		return -ENOMEM;
	for (size_t i = from; i < from + cnt; i++) {
		const struct ns_port_key *k = &p->pc[i].k;
		struct ns_port_val v = p->pc[i].v;

		switch (p->pc[i].verdict) {
		case NS_PORT_UNHOLD:
			v.flags &= ~NS_PORT_F_HOLD;
			v.released_ns = 0;
			break;
		case NS_PORT_HOLD:
			v.flags |= NS_PORT_F_HOLD;
			v.released_ns = p->now;
			p->held++;
			if (bpf_map_update_elem(d->fd.ports, k, &v, BPF_EXIST) < 0)
				failed++;
			else
				sync_port_held(d, k, &v); /* the backup holds it too */
			continue;
		case NS_PORT_DROP_EIM:
			drop_eim(d, k, &v);
			v.flags &= ~(NS_PORT_F_EIM | NS_PORT_F_EIF);
			break;
		case NS_PORT_FREE:
			if (v.flags & NS_PORT_F_EIM)
				drop_eim(d, k, &v);
			if (!(v.flags & NS_PORT_F_HOLD))
				p->held++; /* freed without a hold: released now */
			v.released_ns = v.released_ns ? v.released_ns : p->now;
			del[n_del++] = *k;
			ns_event_release_log(d, k, &v);
			continue;
		default:
			continue;
		}
		if (bpf_map_update_elem(d->fd.ports, k, &v, BPF_EXIST) < 0)
			failed++; /* ENOENT: freed meanwhile, nothing to do */
	}
	err = delete_keys(d->fd.ports, del, sizeof(*del), n_del);
	p->freed += n_del;
	free(del);
	if (failed)
		pr_debug("aging: %d port updates raced with the fast path", failed);
	return err;
}

static int on_paired(void *ctx, const void *keys, const void *vals, uint32_t n)
{
	const struct ns_paired_key *k = keys;
	const struct ns_paired_val *v = vals;
	struct pass *p = ctx;

	for (uint32_t i = 0; i < n; i++) {
		bool used = ag_set_has(&p->paired, paired_id(k[i].in_addr, k[i].pool_id));

		if (!ns_aging_paired_expired(&v[i], used, p->now, p->walk_start,
					     p->d->conf.timeouts.binding))
			continue;
		if (ag_grow((void **)&p->gone, &p->cap_gone, p->n_gone + 1, sizeof(*p->gone)))
			return -ENOMEM;
		p->gone[p->n_gone].k = k[i];
		p->gone[p->n_gone++].seen_last_used = v[i].last_used_ns;
	}
	return 0;
}

/*
 * Delete the paired entries chosen by the walk, each only if the fast path has
 * not used it since (last_used_ns unchanged): a subscriber who opened a new
 * session between the walk and now keeps its pool address (RFC 4787 REQ-2).
 * Rare (one entry per subscriber going idle), so one lookup+delete each.
 */
int ag_delete_paired_unchanged(int fd, const struct paired_gone *g, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		struct ns_paired_val cur;

		if (bpf_map_lookup_elem(fd, &g[i].k, &cur))
			continue; /* already gone */
		if (cur.last_used_ns != g[i].seen_last_used)
			continue; /* used again meanwhile: keep it */
		if (bpf_map_delete_elem(fd, &g[i].k) && errno != ENOENT)
			failed++;
	}
	return failed ? -EIO : 0;
}

/* ---- one pass ------------------------------------------------------------ */

void ag_warn_if_full(struct ns_daemon *d, uint64_t now, uint64_t live)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(d->fd.sessions, &info, &len) || !info.max_entries)
		return;
	if (live * 10 < (uint64_t)info.max_entries * 9)
		return;
	if (d->full_warned_ns && now - d->full_warned_ns < FULL_WARN_EVERY_NS)
		return;
	d->full_warned_ns = now;
	d->st.map_full_warnings++;
	pr_warn("aging: %llu sessions, over 90%% of max-sessions %u: new sessions will "
		"soon be refused (drop_session_full)", (unsigned long long)live, info.max_entries);
}

void ag_pass_free(struct pass *p)
{
	set_free(&p->ports);
	set_free(&p->paired);
	set_free(&p->clean);
	free(p->exp);
	free(p->exp64);
	free(p->pc);
	free(p->gone);
}

/* One synchronous pass of the batch walk (the engine without the sweep). */
int ag_batch_pass(struct ns_daemon *d, uint64_t now)
{
	struct pass p = { .d = d, .now = now, .walk_start = ns_now() };
	uint64_t t0 = ns_now();
	int err;

	if (p.walk_start > now)
		p.walk_start = now; /* a caller-supplied (test) clock in the past */
	err = map_walk(d->fd.sessions, sizeof(struct ns_tuple), sizeof(struct ns_session),
		       on_sessions, &p);
	if (!err)
		err = ag_reap_sessions(&p, 0, p.n_exp);
	if (!err && d->fd.nat64_sess >= 0)
		err = map_walk(d->fd.nat64_sess, sizeof(struct ns_tuple6),
			       sizeof(struct ns_session), on_sessions64, &p);
	if (!err)
		err = ag_reap_sessions64(&p, 0, p.n_exp64);
	if (!err && d->fd.ports >= 0)
		err = map_walk(d->fd.ports, sizeof(struct ns_port_key),
			       sizeof(struct ns_port_val), on_ports, &p);
	if (!err && d->fd.ports >= 0)
		err = ag_apply_ports(&p, 0, p.n_pc);
	if (!err && d->fd.paired >= 0)
		err = map_walk(d->fd.paired, sizeof(struct ns_paired_key),
			       sizeof(struct ns_paired_val), on_paired, &p);
	if (!err && p.n_gone)
		err = ag_delete_paired_unchanged(d->fd.paired, p.gone, p.n_gone);

	d->st.aging_passes++;
	d->st.aging_last_ns = ns_now() - t0;
	d->st.sessions_seen = p.live;
	d->st.nat64_sessions_seen = p.live64;
	d->st.bindings_live = p.bindings - p.freed;
	d->st.bindings_released += p.held;
	d->st.nat_released += p.freed;
	if (err)
		d->st.aging_errors++;
	/* Quiet when nothing changed: one line a minute at 1 s intervals. */
	if (p.n_exp || p.n_exp64 || p.held || p.freed || p.n_gone ||
	    d->st.aging_passes % 60 == 1)
		pr_debug("aging: pass %llu: %llu live, %zu expired, %llu NAT64 live, %zu NAT64 "
			 "expired, %llu bindings, %llu held, %llu freed, %zu paired gone, %llu us%s",
			 (unsigned long long)d->st.aging_passes, (unsigned long long)p.live,
			 p.n_exp, (unsigned long long)p.live64, p.n_exp64,
			 (unsigned long long)p.bindings, (unsigned long long)p.held,
			 (unsigned long long)p.freed, p.n_gone,
			 (unsigned long long)(d->st.aging_last_ns / 1000), err ? " (failed)" : "");
	ag_warn_if_full(d, now, p.live);
	ag_pass_free(&p);
	return err;
}

