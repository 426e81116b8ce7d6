// SPDX-License-Identifier: GPL-2.0
/*
 * aging.c - session and NAT binding expiry (see aging.h, doc/daemon.md).
 *
 * Two engines, one set of decisions (bpf/aging_sweep.h):
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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aging.h"
#include "sublimit.h"
#include "bpf/aging_sweep.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "util.h"

#include "aging.skel.h"

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

struct u64set {
	uint64_t *slot;
	size_t cap; /* power of two */
	size_t n;
};

static void set_put(uint64_t *slot, size_t cap, uint64_t key)
{
	size_t i = ns_age_mix64(key) & (cap - 1);

	while (slot[i] && slot[i] != key)
		i = (i + 1) & (cap - 1);
	slot[i] = key;
}

static bool set_has(const struct u64set *s, uint64_t key)
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
	if (set_has(s, key))
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

static uint64_t port_id(__be32 addr, __be16 port, __u8 proto)
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

struct expired {
	struct ns_tuple key;
	struct ns_session s;
};

/* An expired NAT64 session: its IPv6 key and the same session record. */
struct expired64 {
	struct ns_tuple6 key;
	struct ns_session s;
};

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

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
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

static bool bitmap_test(const struct pass *p, uint64_t id)
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
		err = grow((void **)&p->exp, &p->cap_exp, p->n_exp + 1, sizeof(*p->exp));
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
static int reap_sessions(struct pass *p, size_t from, size_t cnt)
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
			err = set_add(&p->clean, port_id(x->s.out_key.daddr, x->s.out_key.dport,
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

/* Queue an expired NAT64 session for reap_sessions64(). */
static int note_expired64(struct pass *p, const struct ns_tuple6 *k, const struct ns_session *s)
{
	if (grow((void **)&p->exp64, &p->cap_exp64, p->n_exp64 + 1, sizeof(*p->exp64)))
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
			err = note_expired64(p, &k[i], &v[i]);
	}
	return err;
}

/*
 * Delete the expired NAT64 sessions p->exp64[from, from + cnt) with their
 * ns_nat64_rev entries, re-checking each first as reap_sessions() does.
 * Their pool ports are released by the port phase that follows (no live
 * session marks them any more).
 */
static int reap_sessions64(struct pass *p, size_t from, size_t cnt)
{
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
		struct ns_event ev;

		if (bpf_map_lookup_elem(d->fd.nat64_sess, &x->key, &cur))
			continue;
		if (cur.last_seen_ns != x->s.last_seen_ns) {
			err = mark_live64(p, &cur);
			continue;
		}
		keys[n] = x->key;
		rev[n++] = x->s.out_key;
		if (x->s.tcp_state == NS_TCP_TIME_WAIT)
			err = set_add(&p->clean, port_id(x->s.out_key.daddr, x->s.out_key.dport,
							 x->s.out_key.proto));
		ns_event_from_session(&ev, &x->s, NS_EV_SESSION_CLOSE);
		ns_event_log(d, &ev, &x->s);
	}
	e2 = delete_keys(d->fd.nat64_sess, keys, sizeof(*keys), n);
	if (!e2)
		e2 = delete_keys(d->fd.nat64_rev, rev, sizeof(*rev), n);
	if (e2)
		d->st.aging_errors++;
	d->st.sessions_expired += n;
	if (!err)
		err = e2;
out:
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
		uint64_t id = port_id(k[i].addr, k[i].port, k[i].proto);
		enum ns_port_verdict vd;

		vd = ns_aging_port_decide(&v[i], set_has(&p->ports, id), set_has(&p->clean, id),
					  p->now, p->walk_start, to->port_hold, to->binding);
		p->bindings++;
		if (vd == NS_PORT_KEEP)
			continue;
		if (grow((void **)&p->pc, &p->cap_pc, p->n_pc + 1, sizeof(*p->pc)))
			return -ENOMEM;
		p->pc[p->n_pc].k = k[i];
		p->pc[p->n_pc].v = v[i];
		p->pc[p->n_pc].verdict = vd;
		p->n_pc++;
	}
	return 0;
}

/* Delete the ns_eim entry of a binding, if it still names this port. */
static void drop_eim(struct ns_daemon *d, const struct ns_port_key *k, const struct ns_port_val *v)
{
	struct ns_eim_key ek;
	struct ns_eim_val ev;

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
static int apply_ports(struct pass *p, size_t from, size_t cnt)
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
		struct ns_event ev;

		switch (p->pc[i].verdict) {
		case NS_PORT_UNHOLD:
			v.flags &= ~NS_PORT_F_HOLD;
			v.released_ns = 0;
			break;
		case NS_PORT_HOLD:
			v.flags |= NS_PORT_F_HOLD;
			v.released_ns = p->now;
			p->held++;
			break;
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
			ns_event_from_port(&ev, k, &v, NS_EV_NAT_RELEASE);
			ns_event_log(d, &ev, NULL);
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
		bool used = set_has(&p->paired, paired_id(k[i].in_addr, k[i].pool_id));

		if (!ns_aging_paired_expired(&v[i], used, p->now, p->walk_start,
					     p->d->conf.timeouts.binding))
			continue;
		if (grow((void **)&p->gone, &p->cap_gone, p->n_gone + 1, sizeof(*p->gone)))
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
static int delete_paired_unchanged(int fd, const struct paired_gone *g, size_t n)
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

static void warn_if_full(struct ns_daemon *d, uint64_t now, uint64_t live)
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

static void pass_free(struct pass *p)
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
static int batch_pass(struct ns_daemon *d, uint64_t now)
{
	struct pass p = { .d = d, .now = now, .walk_start = ns_now() };
	uint64_t t0 = ns_now();
	int err;

	if (p.walk_start > now)
		p.walk_start = now; /* a caller-supplied (test) clock in the past */
	err = map_walk(d->fd.sessions, sizeof(struct ns_tuple), sizeof(struct ns_session),
		       on_sessions, &p);
	if (!err)
		err = reap_sessions(&p, 0, p.n_exp);
	if (!err && d->fd.nat64_sess >= 0)
		err = map_walk(d->fd.nat64_sess, sizeof(struct ns_tuple6),
			       sizeof(struct ns_session), on_sessions64, &p);
	if (!err)
		err = reap_sessions64(&p, 0, p.n_exp64);
	if (!err && d->fd.ports >= 0)
		err = map_walk(d->fd.ports, sizeof(struct ns_port_key),
			       sizeof(struct ns_port_val), on_ports, &p);
	if (!err && d->fd.ports >= 0)
		err = apply_ports(&p, 0, p.n_pc);
	if (!err && d->fd.paired >= 0)
		err = map_walk(d->fd.paired, sizeof(struct ns_paired_key),
			       sizeof(struct ns_paired_val), on_paired, &p);
	if (!err && p.n_gone)
		err = delete_paired_unchanged(d->fd.paired, p.gone, p.n_gone);

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
	warn_if_full(d, now, p.live);
	pass_free(&p);
	return err;
}

/* ---- the in-kernel sweep ------------------------------------------------- */

/*
 * A cycle's walks run in the kernel (bpf/aging.bpf.c: one BPF_PROG_RUN of a
 * syscall program per map) on a worker thread; everything else (reading
 * what the walks emitted, re-checking and deleting, logging) runs on the
 * event loop in steps of at most SLICE_NS. After each step or walk, aging
 * rests long enough to stay under NS_AGING_CPU_SHARE_PCT of one core.
 */
#define SLICE_NS (4 * 1000 * 1000ull)
#define MIN_GAP_NS (1000 * 1000ull)
#define OUT_RECS NS_AGING_OUT_RECS
/* Bitmap bits per session-map entry (two ids per session, two bits each). */
#define BITS_PER_SESSION 32
/* Expired sessions re-checked and deleted, or port/paired changes applied,
 * per step on the loop. */
#define REAP_CHUNK 1024

/*
 * The phases of a cycle. The walks (PH_SESSIONS, PH_PORTS, PH_PAIRED) run
 * in the kernel; each is followed by a phase that applies what it found on
 * the loop, in chunks. Expired sessions are deleted only after the session
 * walks (PH_REAP, PH_REAP64), before the port walk reads the live bitmap.
 */
enum sweep_phase {
	PH_SESSIONS = 0, PH_REAP, PH_REAP64, PH_PORTS, PH_APPLY_PORTS, PH_PAIRED,
	PH_APPLY_PAIRED, PH_MAX, PH_IDLE = PH_MAX
};

static bool phase_walks(enum sweep_phase ph)
{
	return ph == PH_SESSIONS || ph == PH_PORTS || ph == PH_PAIRED;
}

struct ns_aging_sweep {
	struct ns_daemon *d;
	struct aging_bpf *skel;
	uint64_t *bitmap;               /* ns_age_live, mmap()ed */
	size_t bitmap_len;
	uint32_t nbits;
	const struct ns_age_rec *out;   /* ns_age_out, mmap()ed */
	size_t out_len;
	enum sweep_phase phase;
	struct pass p;                  /* the running cycle */
	uint64_t cycle_start, work_ns, cycles;
	uint64_t next_ns;               /* when the next cycle may start */
	int err;                        /* first error of the running cycle */
	size_t done;                    /* reap/apply phases: entries handled */
	uint64_t deferred;              /* age_stats.deferred, summed per cycle */
	bool walked;                    /* the current phase's walk is over */
	uint64_t walk_ns[3];            /* this cycle: sessions, ports, paired */
	bool waiting;                   /* the worker walks for this cycle */

	/* The worker thread (started by ns_aging_init(); ns_aging_pass()
	 * runs walks inline instead). Under mu: job, quit, job_err/cpu. */
	pthread_t thread;
	bool thread_up;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int job;                        /* the walk to run, -1: none */
	bool quit;
	int job_err;
	uint64_t job_cpu_ns;
	int done_fd;                    /* eventfd: a walk is over */
	int timer_fd;                   /* the aging timer, re-armed per step */
};

static void sweep_destroy(struct ns_aging_sweep *sw)
{
	if (!sw)
		return;
	if (sw->bitmap)
		munmap(sw->bitmap, sw->bitmap_len);
	if (sw->out)
		munmap((void *)sw->out, sw->out_len);
	aging_bpf__destroy(sw->skel);
	pass_free(&sw->p);
	free(sw);
}

static int map_max_entries(int fd)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return (int)info.max_entries;
}

/* Walk the daemon's own map (fd), or an empty one when it has none. */
static int sweep_use_map(struct bpf_map *m, int fd)
{
	return fd >= 0 ? bpf_map__reuse_fd(m, fd) : 0;
}

static void *map_shared(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Load the sweep over the daemon's maps: their fds are handed to libbpf
 * before load, so the programs walk the loaded or pinned ns_* maps as they
 * are. The bitmap gets BITS_PER_SESSION bits per ns_sessions entry.
 */
static int sweep_open(struct ns_daemon *d, struct ns_aging_sweep **out)
{
	struct ns_aging_sweep *sw = calloc(1, sizeof(*sw));
	int max = map_max_entries(d->fd.sessions), err;
	long page = sysconf(_SC_PAGESIZE);
	struct aging_bpf *k;
	uint32_t words;

	if (!sw)
		return -ENOMEM;
	sw->d = d;
	sw->phase = PH_IDLE;
	sw->job = -1;
	sw->done_fd = -1;
	sw->timer_fd = -1;
	if (max <= 0) {
		err = max < 0 ? max : -EINVAL;
		goto fail;
	}
	words = (uint32_t)(((uint64_t)max * BITS_PER_SESSION + 63) / 64);
	if (words < 1024)
		words = 1024;
	k = sw->skel = aging_bpf__open();
	if (!k) {
		err = -errno;
		goto fail;
	}
	err = bpf_map__set_max_entries(k->maps.ns_age_live, words);
	err = err ?: bpf_map__set_max_entries(k->maps.ns_age_out, OUT_RECS);
	err = err ?: sweep_use_map(k->maps.ns_sessions, d->fd.sessions);
	err = err ?: sweep_use_map(k->maps.ns_nat64_sess, d->fd.nat64_sess);
	err = err ?: sweep_use_map(k->maps.ns_ports, d->fd.ports);
	err = err ?: sweep_use_map(k->maps.ns_paired, d->fd.paired);
	err = err ?: aging_bpf__load(k);
	if (err)
		goto fail;
	sw->nbits = words * 64;
	sw->bitmap_len = ((size_t)words * 8 + page - 1) / page * page;
	sw->bitmap = map_shared(bpf_map__fd(k->maps.ns_age_live), sw->bitmap_len);
	sw->out_len = ((size_t)OUT_RECS * sizeof(struct ns_age_rec) + page - 1) / page * page;
	sw->out = map_shared(bpf_map__fd(k->maps.ns_age_out), sw->out_len);
	if (!sw->bitmap || !sw->out) {
		err = -errno;
		goto fail;
	}
	*out = sw;
	return 0;
fail:
	sweep_destroy(sw);
	return err;
}

/* Which engine the operator asked for: NATSYNC_AGING_ENGINE = auto (the
 * default: the sweep, else the batch walk, loudly), in-kernel (the sweep or
 * nothing: natsyncd does not start), batch. */
enum engine_want { WANT_AUTO, WANT_KERNEL, WANT_BATCH, WANT_BAD };

static enum engine_want engine_wanted(void)
{
	const char *e = getenv("NATSYNC_AGING_ENGINE");

	if (!e || !*e || !strcmp(e, "auto"))
		return WANT_AUTO;
	if (!strcmp(e, "in-kernel"))
		return WANT_KERNEL;
	if (!strcmp(e, "batch"))
		return WANT_BATCH;
	return WANT_BAD;
}

/* The daemon's sweep, loaded on first use; NULL means the batch walk, with
 * the reason in d->aging_why. */
static struct ns_aging_sweep *sweep_of(struct ns_daemon *d)
{
	struct ns_aging_sweep *sw = NULL;
	int err;

	if (d->aging_sweep || d->aging_why[0])
		return d->aging_sweep;
	switch (engine_wanted()) {
	case WANT_BATCH:
		snprintf(d->aging_why, sizeof(d->aging_why), "NATSYNC_AGING_ENGINE=batch");
		pr_info("aging: NATSYNC_AGING_ENGINE=batch: using the batch walk");
		return NULL;
	case WANT_BAD:
		snprintf(d->aging_why, sizeof(d->aging_why), "NATSYNC_AGING_ENGINE=%s is not "
			 "auto, in-kernel or batch", getenv("NATSYNC_AGING_ENGINE"));
		pr_err("aging: %s", d->aging_why);
		return NULL;
	default:
		break;
	}
	err = sweep_open(d, &sw);
	if (!err) {
		d->aging_sweep = sw;
		pr_info("aging: in-kernel sweep loaded (syscall programs, %u bitmap bits)",
			sw->nbits);
		return sw;
	}
	snprintf(d->aging_why, sizeof(d->aging_why), "in-kernel sweep refused: %s",
		 strerror(-err));
	pr_warn("aging: %s: FALLING BACK to the batch walk, which runs one synchronous pass "
		"per tick on the event loop", d->aging_why);
	if (d->conf.red.enabled)
		pr_warn("aging: this box is half of an HA pair: at scale the batch walk delays "
			"heartbeats (set NATSYNC_AGING_ENGINE=in-kernel to refuse to start "
			"instead)");
	return NULL;
}

/* Start a cycle at clock now: write the parameters of the walks. */
static void sweep_begin(struct ns_aging_sweep *sw, uint64_t now)
{
	struct ns_daemon *d = sw->d;
	const struct ns_config *c = &d->conf;
	struct ns_age_cfg *cfg = &sw->skel->bss->age_cfg;
	struct pass *p = &sw->p;

	pass_free(p);
	memset(p, 0, sizeof(*p));
	p->d = d;
	p->now = now;
	p->walk_start = ns_now();
	if (p->walk_start > now)
		p->walk_start = now; /* a caller-supplied (test) clock in the past */
	p->bitmap = sw->bitmap;
	p->nbits = sw->nbits;
	p->seed = ns_age_mix64(now ^ ++sw->cycles);

	memset(cfg, 0, sizeof(*cfg));
	cfg->now = now;
	cfg->walk_start = p->walk_start;
	cfg->seed = p->seed;
	cfg->nbits = sw->nbits;
	cfg->hold_s = c->timeouts.port_hold;
	cfg->binding_s = c->timeouts.binding;
	/* Timeouts are re-read every cycle: a reload may have changed them. */
	for (uint8_t st = 0; st < NS_TCP_STATE_MAX; st++)
		cfg->timeout_s[st] = ns_config_session_timeout(c, 6, st);
	cfg->timeout_s[NS_AGE_TO_UDP] = ns_config_session_timeout(c, 17, 0);
	cfg->timeout_s[NS_AGE_TO_ICMP] = ns_config_session_timeout(c, 1, 0);
	cfg->timeout_s[NS_AGE_TO_OTHER] = ns_config_session_timeout(c, 47, 0);
	memset(&sw->skel->bss->age_stats, 0, sizeof(sw->skel->bss->age_stats));

	sw->work_ns = 0;
	sw->cycle_start = ns_now();
	sw->err = 0;
	sw->done = 0;
	sw->deferred = 0;
	sw->walked = false;
	sw->phase = PH_SESSIONS;
}

static int prog_run(struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (err)
		return -errno;
	return (int)opts.retval;
}

/*
 * The walk of phase ph, in the kernel: clear what it writes, run its
 * program(s). Runs on the worker thread (or inline in ns_aging_pass()); it
 * touches only the sweep's own maps and .bss, which the loop leaves alone
 * while a walk is under way.
 */
static int sweep_walk(struct ns_aging_sweep *sw, enum sweep_phase ph)
{
	struct aging_bpf *k = sw->skel;
	uint64_t t0 = ns_now();
	int err, i = ph == PH_SESSIONS ? 0 : ph == PH_PORTS ? 1 : 2;

	k->bss->age_out_n = 0;
	switch (ph) {
	case PH_SESSIONS:
		memset(sw->bitmap, 0, (size_t)sw->nbits / 8);
		err = prog_run(k->progs.ns_age_sessions);
		err = err ?: prog_run(k->progs.ns_age_sessions64);
		break;
	case PH_PORTS:
		err = prog_run(k->progs.ns_age_ports);
		break;
	case PH_PAIRED:
		err = prog_run(k->progs.ns_age_paired);
		break;
	default:
		return -EINVAL;
	}
	sw->walk_ns[i] = ns_now() - t0;
	return err;
}

/* Turn one emitted record into the cycle's work (the exact decision for a
 * port, now with the clean-close set). */
static int sweep_record(struct ns_aging_sweep *sw, const struct ns_age_rec *r)
{
	struct pass *p = &sw->p;
	const struct ns_timeouts *to = &p->d->conf.timeouts;

	switch (r->type) {
	case NS_AGE_REC_SESSION:
		if (grow((void **)&p->exp, &p->cap_exp, p->n_exp + 1, sizeof(*p->exp)))
			return -ENOMEM;
		p->exp[p->n_exp].key = r->sess.key;
		p->exp[p->n_exp++].s = r->sess.s;
		return 0;
	case NS_AGE_REC_SESSION64:
		return note_expired64(p, &r->sess64.key, &r->sess64.s);
	case NS_AGE_REC_PORT: {
		uint64_t id = port_id(r->port.k.addr, r->port.k.port, r->port.k.proto);
		enum ns_port_verdict vd;

		vd = ns_aging_port_decide(&r->port.v, bitmap_test(p, id), set_has(&p->clean, id),
					  p->now, p->walk_start, to->port_hold, to->binding);
		if (vd == NS_PORT_KEEP)
			return 0;
		if (grow((void **)&p->pc, &p->cap_pc, p->n_pc + 1, sizeof(*p->pc)))
			return -ENOMEM;
		p->pc[p->n_pc].k = r->port.k;
		p->pc[p->n_pc].v = r->port.v;
		p->pc[p->n_pc++].verdict = vd;
		return 0;
	}
	case NS_AGE_REC_PAIRED:
		if (grow((void **)&p->gone, &p->cap_gone, p->n_gone + 1, sizeof(*p->gone)))
			return -ENOMEM;
		p->gone[p->n_gone].k = r->paired.k;
		p->gone[p->n_gone++].seen_last_used = r->paired.v.last_used_ns;
		return 0;
	default:
		return -EPROTO;
	}
}

/* After a walk: take in what it emitted. 0 or -errno. */
static int sweep_collect(struct ns_aging_sweep *sw)
{
	uint32_t n = sw->skel->bss->age_out_n;
	int err = 0;

	if (n > OUT_RECS)
		return -EOVERFLOW;
	for (uint32_t i = 0; i < n && !err; i++)
		err = sweep_record(sw, &sw->out[i]);
	return err;
}

static void sweep_finish(struct ns_aging_sweep *sw)
{
	struct ns_daemon *d = sw->d;
	struct pass *p = &sw->p;
	const struct ns_age_stats *ks = &sw->skel->bss->age_stats;
	uint64_t live = ks->sessions - ks->expired + p->live;

	d->st.aging_passes++;
	d->st.aging_last_ns = sw->work_ns;
	d->st.aging_deferred += ks->deferred;
	d->st.sessions_seen = live;
	d->st.nat64_sessions_seen = ks->sessions64 - ks->expired64 + p->live64;
	d->st.bindings_live = ks->ports - p->freed;
	d->st.bindings_released += p->held;
	d->st.nat_released += p->freed;
	if (sw->err)
		d->st.aging_errors++;
	if (p->n_exp || p->n_exp64 || p->held || p->freed || p->n_gone || ks->deferred ||
	    d->st.aging_passes % 60 == 1)
		pr_debug("aging: cycle %llu: %llu live, %zu expired, %llu NAT64 live, %zu NAT64 "
			 "expired, %llu bindings, %llu held, %llu freed, %zu paired gone, %llu "
			 "deferred, %llu us of work (walks %llu/%llu/%llu us) over %llu ms%s",
			 (unsigned long long)d->st.aging_passes, (unsigned long long)live, p->n_exp,
			 (unsigned long long)d->st.nat64_sessions_seen, p->n_exp64,
			 (unsigned long long)ks->ports, (unsigned long long)p->held,
			 (unsigned long long)p->freed, p->n_gone,
			 (unsigned long long)ks->deferred, (unsigned long long)(sw->work_ns / 1000),
			 (unsigned long long)(sw->walk_ns[0] / 1000),
			 (unsigned long long)(sw->walk_ns[1] / 1000),
			 (unsigned long long)(sw->walk_ns[2] / 1000),
			 (unsigned long long)((ns_now() - sw->cycle_start) / 1000000),
			 sw->err ? " (failed)" : "");
	warn_if_full(d, p->now, live);
	sw->phase = PH_IDLE;
}

/* One chunk of a reap/apply phase; true while there is more. */
static bool sweep_apply_chunk(struct ns_aging_sweep *sw)
{
	struct pass *p = &sw->p;
	size_t total, n;
	int err;

	switch (sw->phase) {
	case PH_REAP:
		total = p->n_exp;
		break;
	case PH_REAP64:
		total = p->n_exp64;
		break;
	case PH_APPLY_PORTS:
		total = p->n_pc;
		break;
	default: /* PH_APPLY_PAIRED */
		total = p->n_gone;
		break;
	}
	n = total - sw->done > REAP_CHUNK ? REAP_CHUNK : total - sw->done;
	if (!n)
		return false;
	if (sw->phase == PH_REAP)
		err = reap_sessions(p, sw->done, n);
	else if (sw->phase == PH_REAP64)
		err = reap_sessions64(p, sw->done, n);
	else if (sw->phase == PH_APPLY_PORTS)
		err = apply_ports(p, sw->done, n);
	else
		err = delete_paired_unchanged(sw->d->fd.paired, p->gone + sw->done, n);
	if (err)
		sw->err = sw->err ?: err;
	sw->done += n;
	return sw->done < total;
}

enum step { STEP_DONE, STEP_MORE, STEP_WAIT };

/* Hand the current phase's walk to the worker. The timer stays disarmed
 * until the walk is over: the loop must not write the .bss meanwhile. */
static void sweep_submit(struct ns_aging_sweep *sw)
{
	struct itimerspec off = {0};

	if (sw->timer_fd >= 0)
		timerfd_settime(sw->timer_fd, 0, &off, NULL);
	sw->waiting = true;
	pthread_mutex_lock(&sw->mu);
	sw->job = (int)sw->phase;
	pthread_cond_signal(&sw->cv);
	pthread_mutex_unlock(&sw->mu);
}

/*
 * Run the cycle until it ends (STEP_DONE), the clock passes deadline
 * (STEP_MORE), or a walk has been handed to the worker (STEP_WAIT: its end
 * wakes the loop). With inline_walks (ns_aging_pass()), walks run here.
 * A failed walk ends the cycle: a session walk that did not finish leaves
 * the live bitmap incomplete, so no binding may be judged on it.
 */
static enum step sweep_step(struct ns_aging_sweep *sw, uint64_t deadline, bool inline_walks)
{
	uint64_t t0 = ns_now();
	int err;

	while (sw->phase < PH_MAX) {
		if (phase_walks(sw->phase)) {
			if (!sw->walked && !inline_walks) {
				sw->work_ns += ns_now() - t0;
				sweep_submit(sw);
				return STEP_WAIT;
			}
			err = sw->walked ? 0 : sweep_walk(sw, sw->phase);
			sw->walked = false;
			err = err ?: sw->err;
			err = err ?: sweep_collect(sw);
			if (err) {
				sw->err = sw->err ?: err;
				sw->phase = PH_MAX;
				break;
			}
			sw->phase++;
			sw->done = 0;
		} else if (!sweep_apply_chunk(sw)) {
			sw->phase++;
			sw->done = 0;
		}
		if (sw->phase < PH_MAX && ns_now() >= deadline) {
			sw->work_ns += ns_now() - t0;
			return STEP_MORE;
		}
	}
	sw->work_ns += ns_now() - t0;
	sweep_finish(sw);
	return STEP_DONE;
}

/* ---- the worker thread ---------------------------------------------------- */

/* CPU time of this thread: the share is about CPU, and a slice preempted
 * by another process should not make aging rest longer. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return ns_now();
	return (uint64_t)ts.tv_sec * NS_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void *sweep_worker(void *arg)
{
	struct ns_aging_sweep *sw = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&sw->mu);
	for (;;) {
		uint64_t c0;
		int ph, err;

		while (sw->job < 0 && !sw->quit)
			pthread_cond_wait(&sw->cv, &sw->mu);
		if (sw->quit)
			break;
		ph = sw->job;
		pthread_mutex_unlock(&sw->mu);
		c0 = thread_cpu_ns();
		err = sweep_walk(sw, (enum sweep_phase)ph);
		pthread_mutex_lock(&sw->mu);
		sw->job = -1;
		sw->job_err = err;
		sw->job_cpu_ns = thread_cpu_ns() - c0;
		if (write(sw->done_fd, &one, sizeof(one)) < 0)
			pr_err("aging: cannot wake the loop: %s", strerror(errno));
	}
	pthread_mutex_unlock(&sw->mu);
	return NULL;
}

/* Start the worker; signals stay with the main thread's signalfd. */
static int worker_start(struct ns_aging_sweep *sw)
{
	sigset_t all, old;
	int err;

	sw->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sw->done_fd < 0)
		return -errno;
	pthread_mutex_init(&sw->mu, NULL);
	pthread_cond_init(&sw->cv, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&sw->thread, NULL, sweep_worker, sw);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_cond_destroy(&sw->cv);
		pthread_mutex_destroy(&sw->mu);
		close(sw->done_fd);
		sw->done_fd = -1;
		return -err;
	}
	sw->thread_up = true;
	return 0;
}

/* Stop the worker; a walk under way is waited for (it is bounded). */
static void worker_stop(struct ns_aging_sweep *sw)
{
	if (!sw->thread_up)
		return;
	pthread_mutex_lock(&sw->mu);
	sw->quit = true;
	pthread_cond_signal(&sw->cv);
	pthread_mutex_unlock(&sw->mu);
	pthread_join(sw->thread, NULL);
	pthread_cond_destroy(&sw->cv);
	pthread_mutex_destroy(&sw->mu);
	close(sw->done_fd);
	sw->done_fd = -1;
	sw->thread_up = false;
}

/* ---- entry points -------------------------------------------------------- */

int ns_aging_pass(struct ns_daemon *d, uint64_t now)
{
	struct ns_aging_sweep *sw = sweep_of(d);

	if (!sw) {
		if (engine_wanted() == WANT_KERNEL || engine_wanted() == WANT_BAD)
			return -ENOTSUP;
		return batch_pass(d, now);
	}
	if (sw->waiting)
		return -EBUSY; /* the worker is walking for the timer's cycle */
	sweep_begin(sw, now);
	sweep_step(sw, UINT64_MAX, true);
	return sw->err;
}

const char *ns_aging_engine(struct ns_daemon *d)
{
	return sweep_of(d) ? "in-kernel sweep" : "batch walk";
}

int ns_aging_map_fds(struct ns_daemon *d, int *fds, int max)
{
	struct ns_aging_sweep *sw = d->aging_sweep;
	int n = 0;

	if (!sw)
		return 0;
	if (n < max)
		fds[n++] = bpf_map__fd(sw->skel->maps.ns_age_live);
	if (n < max)
		fds[n++] = bpf_map__fd(sw->skel->maps.ns_age_out);
	return n;
}

const char *ns_aging_fallback(struct ns_daemon *d)
{
	return sweep_of(d) ? NULL : d->aging_why;
}

static void rearm(int fd, uint64_t delay_ns)
{
	struct itimerspec its = {0};

	if (delay_ns < MIN_GAP_NS)
		delay_ns = MIN_GAP_NS;
	its.it_value.tv_sec = (time_t)(delay_ns / NS_NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(delay_ns % NS_NSEC_PER_SEC);
	if (timerfd_settime(fd, 0, &its, NULL) < 0)
		pr_err("aging: cannot re-arm the timer: %s", strerror(errno));
}

/*
 * Run one step of the cycle on the loop and re-arm: after work of t (a step
 * here, or a walk on the worker), aging rests t * (100 / share - 1), so it
 * never takes more than its share of a core; after the last step, it waits
 * for the next interval. While the worker walks, nothing is armed: the end
 * of the walk (on_walk_done) steps on.
 */
static void sweep_run(struct ns_aging_sweep *sw, uint64_t prior_cpu_ns)
{
	struct ns_daemon *d = sw->d;
	uint64_t interval = (uint64_t)d->conf.aging_interval_ms * 1000000ull;
	uint64_t c0 = thread_cpu_ns(), dt, rest;
	enum step st = sweep_step(sw, ns_now() + SLICE_NS, false);

	dt = thread_cpu_ns() - c0 + prior_cpu_ns;
	if (st == STEP_WAIT)
		return;
	if (st == STEP_DONE && sw->err)
		pr_warn("aging: sweep failed: %s", strerror(-sw->err));
	rest = dt * (100 / NS_AGING_CPU_SHARE_PCT - 1);
	if (st == STEP_DONE) {
		sw->next_ns = sw->cycle_start + interval;
		if (sw->next_ns < ns_now() + rest)
			sw->next_ns = ns_now() + rest;
		rest = sw->next_ns - ns_now();
	}
	rearm(sw->timer_fd, rest);
}

static void sweep_tick(struct ns_aging_sweep *sw)
{
	uint64_t now = ns_now();

	if (sw->waiting)
		return; /* a walk is under way; its end steps on */
	if (sw->phase == PH_IDLE) {
		if (now < sw->next_ns) {
			rearm(sw->timer_fd, sw->next_ns - now);
			return;
		}
		sweep_begin(sw, now);
	} else {
		/* The clock moves on between steps (no walk is under way here:
		 * the timer is not armed then). */
		sw->p.now = now;
		sw->skel->bss->age_cfg.now = now;
	}
	sweep_run(sw, 0);
}

/* The worker finished a walk: take its result and step on. */
static void on_walk_done(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_aging_sweep *sw = arg;
	uint64_t n, cpu;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0)
		return; /* EAGAIN: nothing yet */
	pthread_mutex_lock(&sw->mu);
	if (sw->job >= 0) { /* not over after all */
		pthread_mutex_unlock(&sw->mu);
		return;
	}
	sw->err = sw->err ?: sw->job_err;
	cpu = sw->job_cpu_ns;
	pthread_mutex_unlock(&sw->mu);
	sw->work_ns += cpu;
	sw->waiting = false;
	sw->walked = true;
	sweep_run(sw, cpu);
}

static void on_aging_timer(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_daemon *d = arg;
	int err;

	(void)loop;
	(void)events;
	(void)fd;
	if (d->aging_sweep) {
		sweep_tick(d->aging_sweep);
		return;
	}
	err = batch_pass(d, ns_now());
	if (err)
		pr_warn("aging: pass failed: %s", strerror(-err));
}

int ns_aging_init(struct ns_daemon *d)
{
	struct ns_aging_sweep *sw;
	int fd, err;

	/* Load the sweep now (not at the first tick), so its log line and any
	 * fallback to the batch walk show up at start. */
	sw = sweep_of(d);
	if (!sw && (engine_wanted() == WANT_KERNEL || engine_wanted() == WANT_BAD)) {
		pr_err("aging: NATSYNC_AGING_ENGINE asks for the in-kernel sweep, which is not "
		       "available (%s): not starting", d->aging_why);
		return -ENOTSUP;
	}
	fd = loop_add_timer(d->loop, d->conf.aging_interval_ms, on_aging_timer, d);
	if (fd < 0) {
		pr_err("aging: cannot start the timer: %s", strerror(-fd));
		return fd;
	}
	d->aging_timer_fd = fd;
	if (!sw)
		return 0; /* the batch walk keeps the periodic timer */
	/* The sweep re-arms the timer one-shot per step. */
	sw->timer_fd = fd;
	err = worker_start(sw);
	if (!err)
		err = loop_add(d->loop, sw->done_fd, EPOLLIN, on_walk_done, sw);
	if (err) {
		pr_err("aging: cannot start the sweep's worker: %s", strerror(-err));
		ns_aging_fini(d);
		return err;
	}
	return 0;
}

void ns_aging_fini(struct ns_daemon *d)
{
	struct ns_aging_sweep *sw = d->aging_sweep;

	if (d->aging_timer_fd >= 0 && d->loop)
		loop_del(d->loop, d->aging_timer_fd);
	d->aging_timer_fd = -1;
	if (sw) {
		if (sw->done_fd >= 0 && d->loop)
			loop_del(d->loop, sw->done_fd);
		worker_stop(sw);
		sweep_destroy(sw);
	}
	d->aging_sweep = NULL;
	d->aging_why[0] = '\0';
}
