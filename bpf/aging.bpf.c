// SPDX-License-Identifier: GPL-2.0
/*
 * aging.bpf.c - natsyncd's aging sweep in the kernel (daemon/aging.c drives
 * it, doc/daemon.md explains it).
 *
 * Four map-element iterators (SEC("iter/bpf_map_elem")), attached by the
 * daemon to natsync's own ns_sessions, ns_nat64_sess, ns_ports and
 * ns_paired (the map is
 * bound at attach time, so this object declares none of them), read with
 * read() on the iterator fd. A read returns once its buffer is full, and
 * the kernel remembers the position between reads: the daemon walks a
 * table of any size in slices, never blocking its event loop for long.
 *
 * Only entries that change cost a record: an expired session, a binding
 * whose verdict is not KEEP, an expired paired entry. Live sessions instead
 * set their bindings' bits in ns_age_live (a Bloom filter the daemon maps
 * and clears every cycle), which the port and paired sweeps then test.
 * Nothing is deleted here: the daemon re-checks and deletes after the read
 * (deleting from inside an iteration is what DESIGN.md forbids).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/aging_sweep.h"

/* The iterator context as the kernel defines it (CO-RE relocated). */
struct seq_file;
struct bpf_map;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
} __attribute__((preserve_access_index));

/* Live-binding bitmap; max_entries is set by the daemon before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} ns_age_live SEC(".maps");

struct ns_age_cfg age_cfg;
struct ns_age_stats age_stats;

static __always_inline void mark(__u64 id)
{
	__u32 word;
	__u64 bits = ns_age_bits(id, age_cfg.seed, age_cfg.nbits, &word);
	__u64 *w = bpf_map_lookup_elem(&ns_age_live, &word);

	if (w)
		*w |= bits; /* one iterator at a time: no other writer */
}

static __always_inline int marked(__u64 id)
{
	__u32 word;
	__u64 bits = ns_age_bits(id, age_cfg.seed, age_cfg.nbits, &word);
	__u64 *w = bpf_map_lookup_elem(&ns_age_live, &word);

	/* No bitmap word: say "in use", the conservative answer. */
	return !w || (*w & bits) == bits;
}

/* Every NS_AGE_TICK_EVERY entries, a progress record (see aging_sweep.h). */
static __always_inline void tick(struct seq_file *seq, __u64 n)
{
	struct ns_age_rec r = { .type = NS_AGE_REC_TICK };

	if (!(n % NS_AGE_TICK_EVERY))
		bpf_seq_write(seq, &r, sizeof(r));
}

SEC("iter/bpf_map_elem")
int ns_age_sessions(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct ns_tuple *k = ctx->key;
	struct ns_session *s = ctx->value;
	struct ns_age_rec r = {};
	__u32 cls;

	if (!k || !s)
		return 0; /* the end-of-walk call */
	age_stats.sessions++;
	cls = ns_age_timeout_class(s->in_key.proto, s->tcp_state);
	if (cls >= NS_AGE_TO_MAX)
		return 0;
	if (ns_age_expired(s->last_seen_ns, age_cfg.now, age_cfg.timeout_s[cls])) {
		r.type = NS_AGE_REC_SESSION;
		__builtin_memcpy(&r.sess.key, k, sizeof(*k));
		__builtin_memcpy(&r.sess.s, s, sizeof(*s));
		bpf_seq_write(seq, &r, sizeof(r));
		age_stats.expired++;
	} else {
		mark(ns_age_session_port_id(s));
		if (s->pool_id != 0xff)
			mark(ns_age_paired_id(s->in_key.saddr, s->pool_id));
	}
	tick(seq, age_stats.sessions);
	return 0;
}

/* The same for the NAT64 sessions (IPv6 keys, the same session record:
 * its out_key and in_key.saddr name its bindings as for napt-44). */
SEC("iter/bpf_map_elem")
int ns_age_sessions64(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct ns_tuple6 *k = ctx->key;
	struct ns_session *s = ctx->value;
	struct ns_age_rec r = {};
	__u32 cls;

	if (!k || !s)
		return 0;
	age_stats.sessions64++;
	cls = ns_age_timeout_class(s->in_key.proto, s->tcp_state);
	if (cls >= NS_AGE_TO_MAX)
		return 0;
	if (ns_age_expired(s->last_seen_ns, age_cfg.now, age_cfg.timeout_s[cls])) {
		r.type = NS_AGE_REC_SESSION64;
		__builtin_memcpy(&r.sess64.key, k, sizeof(*k));
		__builtin_memcpy(&r.sess64.s, s, sizeof(*s));
		bpf_seq_write(seq, &r, sizeof(r));
		age_stats.expired64++;
	} else {
		mark(ns_age_session_port_id(s));
		if (s->pool_id != 0xff)
			mark(ns_age_paired_id(s->in_key.saddr, s->pool_id));
	}
	tick(seq, age_stats.sessions64);
	return 0;
}

SEC("iter/bpf_map_elem")
int ns_age_ports(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct ns_port_key *k = ctx->key;
	struct ns_port_val *v = ctx->value;
	struct ns_age_rec r = {};
	int used;

	if (!k || !v)
		return 0;
	age_stats.ports++;
	used = marked(ns_age_port_id(k->addr, k->port, k->proto));
	/* clean_close only turns HOLD into FREE: both are emitted, so the
	 * daemon's exact decision (which knows it) sees every candidate. */
	if (ns_age_port_decide(v, used, 0, age_cfg.now, age_cfg.walk_start, age_cfg.hold_s,
			       age_cfg.binding_s) != NS_AGE_PORT_KEEP) {
		r.type = NS_AGE_REC_PORT;
		__builtin_memcpy(&r.port.k, k, sizeof(*k));
		__builtin_memcpy(&r.port.v, v, sizeof(*v));
		bpf_seq_write(seq, &r, sizeof(r));
	}
	tick(seq, age_stats.ports);
	return 0;
}

SEC("iter/bpf_map_elem")
int ns_age_paired(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct ns_paired_key *k = ctx->key;
	struct ns_paired_val *v = ctx->value;
	struct ns_age_rec r = {};
	int used;

	if (!k || !v)
		return 0;
	age_stats.paired++;
	used = marked(ns_age_paired_id(k->in_addr, k->pool_id));
	if (ns_age_paired_expired(v, used, age_cfg.now, age_cfg.walk_start, age_cfg.binding_s)) {
		r.type = NS_AGE_REC_PAIRED;
		__builtin_memcpy(&r.paired.k, k, sizeof(*k));
		__builtin_memcpy(&r.paired.v, v, sizeof(*v));
		bpf_seq_write(seq, &r, sizeof(r));
	}
	tick(seq, age_stats.paired);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
