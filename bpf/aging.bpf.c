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
__u32 age_out_n; /* records written to ns_age_out; the daemon resets it */

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
	struct ns_age_rec *r = bpf_map_lookup_elem(&ns_age_out, &i);

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

static long on_port(struct bpf_map *map, struct ns_port_key *k, struct ns_port_val *v, void *ctx)
{
	struct ns_age_rec *r;
	int used;

	age_stats.ports++;
	used = marked(ns_age_port_id(k->addr, k->port, k->proto));
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
	bpf_for_each_map_elem(&ns_sessions, on_session, NULL, 0);
	return 0;
}

SEC("syscall")
int ns_age_sessions64(void *ctx)
{
	bpf_for_each_map_elem(&ns_nat64_sess, on_session64, NULL, 0);
	return 0;
}

SEC("syscall")
int ns_age_ports(void *ctx)
{
	bpf_for_each_map_elem(&ns_ports, on_port, NULL, 0);
	return 0;
}

SEC("syscall")
int ns_age_paired(void *ctx)
{
	bpf_for_each_map_elem(&ns_paired, on_paired, NULL, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
