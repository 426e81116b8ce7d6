// SPDX-License-Identifier: GPL-2.0
/*
 * aging.bpf.c - natsyncd's aging sweep in the kernel (daemon/aging.c drives
 * it, doc/daemon.md explains it).
 *
 * Four SEC("syscall") programs, each one bpf_for_each_map_elem() over one of
 * natsync's own maps (ns_sessions, ns_nat64_sess, ns_ports, ns_paired: the
 * daemon hands its map fds to libbpf before load, so these declarations
 * are only their shapes). The daemon runs them with BPF_PROG_RUN from a
 * worker thread, so a walk of any length never holds its event loop.
 * syscall programs and bpf_for_each_map_elem load on every machine of this
 * kind, where the map-element iterators the sweep used before are refused
 * with EPERM.
 *
 * Only entries that change cost a record in ns_age_out: an expired session,
 * a binding whose verdict is not KEEP, an expired paired entry. Live
 * sessions instead set their bindings' bits in ns_age_live (a Bloom filter
 * the daemon maps and clears every cycle), which the port and paired walks
 * then test. When ns_age_out is full, what did not fit waits for the next
 * cycle (counted in age_stats.deferred); an expired session that does not
 * fit still marks its bindings, so nothing it holds is released before the
 * session itself is deleted.
 *
 * Nothing is deleted here: the daemon re-checks and deletes after the walk
 * (deleting from inside bpf_for_each_map_elem is what DESIGN.md forbids).
 *
 * Walks run in slices (age_cur, struct ns_age_cursor): a run processes at
 * most age_cur.limit entries, remembers the key of the last one and stops;
 * the next run skips entries up to and including that key and goes on. On a
 * kernel without preemption in kernel mode, this is what bounds how long one
 * BPF_PROG_RUN holds its CPU (doc/daemon.md, "Sliced walks"). Between two
 * runs the fast path inserts and deletes; why that is safe:
 *  - marking a binding in ns_age_live is idempotent, and the daemon looks
 *    every expired session up again before deleting it, so an entry seen
 *    twice (an update moved it to the head of its bucket, before the
 *    remembered key) changes nothing;
 *  - an entry inserted into a part of the map the walk has passed is not
 *    seen this cycle. Sessions are only ever inserted, never moved, by the
 *    fast path (BPF_NOEXIST): such a session is newer than walk_start, and
 *    so is every binding it can depend on (a new port, a re-used EIM
 *    binding or paired address: on_port() takes their last use into
 *    account), which the walk-start rule of ns_age_port_decide() and
 *    ns_age_paired_expired() keeps. That is the rule the unsliced walk
 *    relied on already; slicing only makes the window longer;
 *  - if the remembered key was deleted meanwhile, the run reaches the end of
 *    the map without meeting it (NS_AGE_RUN_LOST): it must not pretend the
 *    rest was walked. The daemon throws away what the walk emitted and
 *    restarts it (safe by the first point), and after a few restarts runs
 *    it in one unsliced run, so that every walk ends.
 */
#include <linux/bpf.h>
/* after linux/bpf.h, which it needs */
#include <bpf/bpf_helpers.h>

#include "bpf/aging_sweep.h"

struct bpf_map; /* the callbacks' first argument (unused) */

/* The daemon's maps (bpf_map__reuse_fd before load); max_entries 1 is what
 * a map the daemon does not have (no NAT64, say) is created with. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct ns_tuple);
	__type(value, struct ns_session);
} ns_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct ns_tuple6);
	__type(value, struct ns_session);
} ns_nat64_sess SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct ns_port_key);
	__type(value, struct ns_port_val);
} ns_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct ns_paired_key);
	__type(value, struct ns_paired_val);
} ns_paired SEC(".maps");

/* Only looked up (port_last_used()). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct ns_eim_key);
	__type(value, struct ns_eim_val);
} ns_eim SEC(".maps");

/* Live-binding bitmap; max_entries is set by the daemon before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} ns_age_live SEC(".maps");

/* What a walk emits, records [0, age_out_n); sized by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct ns_age_rec);
} ns_age_out SEC(".maps");

struct ns_age_cfg age_cfg;
struct ns_age_stats age_stats;
struct ns_age_cursor age_cur;
__u32 age_out_n;   /* records written to ns_age_out; the daemon resets it */
__u32 age_out_max; /* records this run may write (the daemon's budget) */

_Static_assert(sizeof(struct ns_tuple) % 4 == 0 && sizeof(struct ns_tuple6) % 4 == 0 &&
	       sizeof(struct ns_port_key) % 4 == 0 && sizeof(struct ns_paired_key) % 4 == 0,
	       "keys are compared in 32-bit words");

static __always_inline int key_eq(const void *a, const void *b, __u32 len)
{
	const __u32 *x = a, *y = b;

#pragma unroll
	for (__u32 i = 0; i < len / 4; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

enum { GATE_GO, GATE_SKIP, GATE_STOP };

/* Every callback starts here: skip up to the remembered key, stop after
 * limit entries, else remember this key and process the entry. */
static __always_inline int gate(const void *k, __u32 len)
{
	if (age_cur.skipping) {
		age_cur.skipped++;
		if (key_eq(k, &age_cur.key, len))
			age_cur.skipping = 0;
		return GATE_SKIP;
	}
	if (age_cur.limit && age_cur.n >= age_cur.limit) {
		age_cur.state = NS_AGE_RUN_MORE;
		return GATE_STOP;
	}
	age_cur.n++;
	__builtin_memcpy(&age_cur.key, k, len);
	age_cur.has_key = 1;
	return GATE_GO;
}

/* The callback's return value for a gate other than GATE_GO. */
#define GATE(k)                                                   \
	do {                                                      \
		int g_ = gate(k, sizeof(*(k)));                   \
		if (g_ != GATE_GO)                                \
			return g_ == GATE_STOP;                   \
	} while (0)

static __always_inline void run_begin(void)
{
	age_cur.n = 0;
	age_cur.skipped = 0;
	age_cur.state = NS_AGE_RUN_END;
	age_cur.skipping = age_cur.has_key;
}

static __always_inline void run_end(void)
{
	if (age_cur.skipping)
		age_cur.state = NS_AGE_RUN_LOST;
}

static __always_inline void mark(__u64 id)
{
	__u32 word;
	__u64 bits = ns_age_bits(id, age_cfg.seed, age_cfg.nbits, &word);
	__u64 *w = bpf_map_lookup_elem(&ns_age_live, &word);

	if (w)
		*w |= bits; /* one walk at a time: no other writer */
}

static __always_inline int marked(__u64 id)
{
	__u32 word;
	__u64 bits = ns_age_bits(id, age_cfg.seed, age_cfg.nbits, &word);
	__u64 *w = bpf_map_lookup_elem(&ns_age_live, &word);

	/* No bitmap word: say "in use", the conservative answer. */
	return !w || (*w & bits) == bits;
}

/* The next free output record, or NULL (counted) when ns_age_out is full. */
static __always_inline struct ns_age_rec *out_next(__u32 type)
{
	__u32 i = age_out_n;
	struct ns_age_rec *r = i < age_out_max ? bpf_map_lookup_elem(&ns_age_out, &i) : NULL;

	if (!r) {
		age_stats.deferred++;
		return NULL;
	}
	age_out_n = i + 1;
	r->type = type;
	r->_pad = 0;
	return r;
}

static __always_inline void mark_session(const struct ns_session *s)
{
	mark(ns_age_session_port_id(s));
	if (s->pool_id != 0xff)
		mark(ns_age_paired_id(s->in_key.saddr, s->pool_id));
}

static __always_inline int session_expired(const struct ns_session *s)
{
	__u32 cls = ns_age_timeout_class(s->in_key.proto, s->tcp_state);

	if (cls >= NS_AGE_TO_MAX)
		return 0;
	return ns_age_expired(s->last_seen_ns, age_cfg.now, age_cfg.timeout_s[cls]);
}

static long on_session(struct bpf_map *map, struct ns_tuple *k, struct ns_session *s, void *ctx)
{
	struct ns_age_rec *r;

	GATE(k);
	age_stats.sessions++;
	if (session_expired(s)) {
		r = out_next(NS_AGE_REC_SESSION);
		if (r) {
			__builtin_memcpy(&r->sess.key, k, sizeof(*k));
			__builtin_memcpy(&r->sess.s, s, sizeof(*s));
			age_stats.expired++;
			return 0;
		}
	}
	mark_session(s);
	return 0;
}

/* The same for the NAT64 sessions (IPv6 keys, the same session record:
 * its out_key and in_key.saddr name its bindings as for napt-44). */
static long on_session64(struct bpf_map *map, struct ns_tuple6 *k, struct ns_session *s, void *ctx)
{
	struct ns_age_rec *r;

	GATE(k);
	age_stats.sessions64++;
	if (session_expired(s)) {
		r = out_next(NS_AGE_REC_SESSION64);
		if (r) {
			__builtin_memcpy(&r->sess64.key, k, sizeof(*k));
			__builtin_memcpy(&r->sess64.s, s, sizeof(*s));
			age_stats.expired64++;
			return 0;
		}
	}
	mark_session(s);
	return 0;
}

/*
 * When the binding k was last used. A new session that re-uses a binding
 * does not touch its ns_ports entry: an EIM binding is found through its
 * ns_eim entry, a dynamic-nat44 address (port 0) through the subscriber's
 * ns_paired entry, and those are what the fast path stamps. Such a session
 * may sit in a part of the session map the walk had passed, so the port
 * walk takes their stamps into account for the walk-start rule.
 */
static __always_inline __u64 port_last_used(const struct ns_port_key *k,
					    const struct ns_port_val *v)
{
	__u64 last = v->last_used_ns;

	if (v->flags & NS_PORT_F_EIM) {
		struct ns_eim_key ek = { .in_addr = v->in_addr, .in_port = v->in_port,
					 .proto = k->proto, .svc_set = v->svc_set };
		struct ns_eim_val *e = bpf_map_lookup_elem(&ns_eim, &ek);

		if (e && e->out_addr == k->addr && e->out_port == k->port &&
		    e->last_used_ns > last)
			last = e->last_used_ns;
	} else if (!k->port && !k->proto) {
		struct ns_paired_key pk = { .in_addr = v->in_addr, .pool_id = v->pool_id };
		struct ns_paired_val *pv = bpf_map_lookup_elem(&ns_paired, &pk);

		if (pv && pv->out_addr == k->addr && pv->last_used_ns > last)
			last = pv->last_used_ns;
	}
	return last;
}

static long on_port(struct bpf_map *map, struct ns_port_key *k, struct ns_port_val *v, void *ctx)
{
	struct ns_age_rec *r;
	int used;

	GATE(k);
	age_stats.ports++;
	used = marked(ns_age_port_id(k->addr, k->port, k->proto));
	if (!used && port_last_used(k, v) >= age_cfg.walk_start)
		return 0; /* re-used during the cycle: kept, as a new port is */
	/* clean_close only turns HOLD into FREE: both are emitted, so the
	 * daemon's exact decision (which knows it) sees every candidate. */
	if (ns_age_port_decide(v, used, 0, age_cfg.now, age_cfg.walk_start, age_cfg.hold_s,
			       age_cfg.binding_s) == NS_AGE_PORT_KEEP)
		return 0;
	r = out_next(NS_AGE_REC_PORT);
	if (r) {
		__builtin_memcpy(&r->port.k, k, sizeof(*k));
		__builtin_memcpy(&r->port.v, v, sizeof(*v));
	}
	return 0;
}

static long on_paired(struct bpf_map *map, struct ns_paired_key *k, struct ns_paired_val *v,
		      void *ctx)
{
	struct ns_age_rec *r;
	int used;

	GATE(k);
	age_stats.paired++;
	used = marked(ns_age_paired_id(k->in_addr, k->pool_id));
	if (!ns_age_paired_expired(v, used, age_cfg.now, age_cfg.walk_start, age_cfg.binding_s))
		return 0;
	r = out_next(NS_AGE_REC_PAIRED);
	if (r) {
		__builtin_memcpy(&r->paired.k, k, sizeof(*k));
		__builtin_memcpy(&r->paired.v, v, sizeof(*v));
	}
	return 0;
}

SEC("syscall")
int ns_age_sessions(void *ctx)
{
	run_begin();
	bpf_for_each_map_elem(&ns_sessions, on_session, NULL, 0);
	run_end();
	return 0;
}

SEC("syscall")
int ns_age_sessions64(void *ctx)
{
	run_begin();
	bpf_for_each_map_elem(&ns_nat64_sess, on_session64, NULL, 0);
	run_end();
	return 0;
}

SEC("syscall")
int ns_age_ports(void *ctx)
{
	run_begin();
	bpf_for_each_map_elem(&ns_ports, on_port, NULL, 0);
	run_end();
	return 0;
}

SEC("syscall")
int ns_age_paired(void *ctx)
{
	run_begin();
	bpf_for_each_map_elem(&ns_paired, on_paired, NULL, 0);
	run_end();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
