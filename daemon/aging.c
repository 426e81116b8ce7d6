// SPDX-License-Identifier: GPL-2.0
/*
 * aging.c - session and NAT binding expiry (see aging.h, doc/daemon.md).
 *
 * Cost model: the common path (a live session) costs no syscall of its own:
 * sessions, ports and paired entries are read with BPF_MAP_LOOKUP_BATCH in
 * chunks, and live bindings are found through in-memory hash sets built from
 * the sessions. Only entries that change (an expired session, a port moving
 * into or out of hold) cost per-entry work.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "aging.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "util.h"

#define WALK_CHUNK 4096u        /* entries per batch lookup */
#define WALK_CHUNK_MAX (1u << 20)
#define FULL_WARN_EVERY_NS (60 * NS_NSEC_PER_SEC)

bool ns_aging_session_expired(uint64_t last_seen_ns, uint64_t now, uint32_t timeout_s)
{
	if (now <= last_seen_ns)
		return false;
	return now - last_seen_ns > (uint64_t)timeout_s * NS_NSEC_PER_SEC;
}

enum ns_port_verdict ns_aging_port_decide(const struct ns_port_val *v, bool in_use,
					  bool clean_close, uint64_t now, uint64_t walk_start,
					  uint32_t hold_s, uint32_t binding_s)
{
	bool held = v->flags & NS_PORT_F_HOLD;
	bool eim = v->flags & NS_PORT_F_EIM;
	uint64_t bind_ns = eim ? (uint64_t)binding_s * NS_NSEC_PER_SEC : 0;
	uint64_t hold_ns = (uint64_t)hold_s * NS_NSEC_PER_SEC;
	uint64_t idle;

	if (in_use)
		return held ? NS_PORT_UNHOLD : NS_PORT_KEEP;
	/* Allocated while we walked: its session may be in a bucket we had
	 * already passed. The next pass decides. */
	if (v->last_used_ns >= walk_start)
		return NS_PORT_KEEP;
	if (!held) {
		if (!bind_ns && (!hold_ns || clean_close))
			return NS_PORT_FREE;
		return NS_PORT_HOLD;
	}
	idle = now > v->released_ns ? now - v->released_ns : 0;
	if (idle <= bind_ns)
		return NS_PORT_KEEP;
	if (idle > bind_ns + hold_ns)
		return NS_PORT_FREE;
	return eim ? NS_PORT_DROP_EIM : NS_PORT_KEEP;
}

bool ns_aging_paired_expired(const struct ns_paired_val *v, bool in_use, uint64_t now,
			     uint64_t walk_start, uint32_t binding_s)
{
	if (in_use || v->last_used_ns >= walk_start)
		return false;
	return ns_aging_session_expired(v->last_used_ns, now, binding_s);
}

/* ---- an open-addressing set of non-zero u64 ---------------------------- */

struct u64set {
	uint64_t *slot;
	size_t cap; /* power of two */
	size_t n;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void set_put(uint64_t *slot, size_t cap, uint64_t key)
{
	size_t i = mix64(key) & (cap - 1);

	while (slot[i] && slot[i] != key)
		i = (i + 1) & (cap - 1);
	slot[i] = key;
}

static bool set_has(const struct u64set *s, uint64_t key)
{
	size_t i;

	if (!s->cap)
		return false;
	for (i = mix64(key) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
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

/* Bit 63 keeps every id non-zero (0 marks an empty slot). */
static uint64_t port_id(__be32 addr, __be16 port, __u8 proto)
{
	return (uint64_t)addr | (uint64_t)port << 32 | (uint64_t)proto << 48 | 1ull << 63;
}

static uint64_t paired_id(__be32 addr, __u8 pool)
{
	return (uint64_t)addr | (uint64_t)pool << 32 | 1ull << 63;
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
	uint64_t live, bindings, held, released, freed;
	struct port_change *pc; /* ns_ports changes, applied after the walk */
	size_t n_pc, cap_pc;
	struct paired_gone *gone;
	size_t n_gone, cap_gone;
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

static int mark_live(struct pass *p, const struct ns_session *s)
{
	int err;

	p->live++;
	/* dynamic-nat44 owns a whole address, as ns_ports[(addr, 0, 0)] */
	if (s->nat_type == NS_NAT_DYNAMIC44)
		err = set_add(&p->ports, port_id(s->out_key.daddr, 0, 0));
	else
		err = set_add(&p->ports,
			      port_id(s->out_key.daddr, s->out_key.dport, s->out_key.proto));
	if (!err && s->pool_id != 0xff)
		err = set_add(&p->paired, paired_id(s->in_key.saddr, s->pool_id));
	return err;
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
 * Delete the expired sessions. Each is looked up once more first: a packet
 * may have refreshed it since the batch read, and deleting a live flow's
 * session would cut it. Only expired entries pay this syscall.
 */
static int reap_sessions(struct pass *p)
{
	struct ns_daemon *d = p->d;
	struct ns_tuple *keys, *rev;
	uint32_t n = 0;
	int err = 0, e2;

	if (!p->n_exp)
		return 0;
	keys = calloc(p->n_exp, sizeof(*keys));
	rev = calloc(p->n_exp, sizeof(*rev));
	if (!keys || !rev) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < p->n_exp && !err; i++) {
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
		if (x->s.tcp_state == NS_TCP_TIME_WAIT)
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

static int apply_ports(struct pass *p)
{
	struct ns_daemon *d = p->d;
	struct ns_port_key *del;
	uint32_t n_del = 0;
	int err, failed = 0;

	del = calloc(p->n_pc ? p->n_pc : 1, sizeof(*del));
	if (!del)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_pc; i++) {
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
	p->freed = n_del;
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
	free(p->pc);
	free(p->gone);
}

int ns_aging_pass(struct ns_daemon *d, uint64_t now)
{
	struct pass p = { .d = d, .now = now, .walk_start = ns_now() };
	uint64_t t0 = ns_now();
	int err;

	if (p.walk_start > now)
		p.walk_start = now; /* a caller-supplied (test) clock in the past */
	err = map_walk(d->fd.sessions, sizeof(struct ns_tuple), sizeof(struct ns_session),
		       on_sessions, &p);
	if (!err)
		err = reap_sessions(&p);
	if (!err && d->fd.ports >= 0)
		err = map_walk(d->fd.ports, sizeof(struct ns_port_key),
			       sizeof(struct ns_port_val), on_ports, &p);
	if (!err && d->fd.ports >= 0)
		err = apply_ports(&p);
	if (!err && d->fd.paired >= 0)
		err = map_walk(d->fd.paired, sizeof(struct ns_paired_key),
			       sizeof(struct ns_paired_val), on_paired, &p);
	if (!err && p.n_gone)
		err = delete_paired_unchanged(d->fd.paired, p.gone, p.n_gone);

	d->st.aging_passes++;
	d->st.aging_last_ns = ns_now() - t0;
	d->st.sessions_seen = p.live;
	d->st.bindings_live = p.bindings - p.freed;
	d->st.bindings_released += p.held;
	d->st.nat_released += p.freed;
	if (err)
		d->st.aging_errors++;
	/* Quiet when nothing changed: one line a minute at 1 s intervals. */
	if (p.n_exp || p.held || p.freed || p.n_gone || d->st.aging_passes % 60 == 1)
		pr_debug("aging: pass %llu: %llu live, %zu expired, %llu bindings, %llu held, "
			 "%llu freed, %zu paired gone, %llu us%s",
			 (unsigned long long)d->st.aging_passes, (unsigned long long)p.live,
			 p.n_exp, (unsigned long long)p.bindings, (unsigned long long)p.held,
			 (unsigned long long)p.freed, p.n_gone,
			 (unsigned long long)(d->st.aging_last_ns / 1000), err ? " (failed)" : "");
	warn_if_full(d, now, p.live);
	pass_free(&p);
	return err;
}

static void on_aging_timer(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_daemon *d = arg;
	int err;

	(void)loop;
	(void)fd;
	(void)events;
	err = ns_aging_pass(d, ns_now());
	if (err)
		pr_warn("aging: pass failed: %s", strerror(-err));
}

int ns_aging_init(struct ns_daemon *d)
{
	int fd = loop_add_timer(d->loop, d->conf.aging_interval_ms, on_aging_timer, d);

	if (fd < 0) {
		pr_err("aging: cannot start the timer: %s", strerror(-fd));
		return fd;
	}
	d->aging_timer_fd = fd;
	return 0;
}

void ns_aging_fini(struct ns_daemon *d)
{
	if (d->aging_timer_fd >= 0 && d->loop)
		loop_del(d->loop, d->aging_timer_fd);
	d->aging_timer_fd = -1;
}
