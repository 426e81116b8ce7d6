/* SPDX-License-Identifier: GPL-2.0 */
/*
 * aging_sweep.h - what the in-kernel aging sweep (bpf/aging.bpf.c) and
 * natsyncd's aging (daemon/aging.c) share: the record the sweep emits, its
 * parameters, the live-binding bitmap hash and the expiry decisions. The
 * decisions are plain inline C compiled into both, so the kernel's filter
 * and the daemon's final verdict can never disagree.
 *
 * Owned by aging (not part of the fast path's headers).
 */
#ifndef NATSYNC_AGING_SWEEP_H
#define NATSYNC_AGING_SWEEP_H

#include <linux/types.h>

#include "common/natsync.h"

#define NS_AGE_NSEC_PER_SEC 1000000000ull

/* Record types the sweep's walks emit (struct ns_age_rec.type). */
enum ns_age_rec_type {
	NS_AGE_REC_SESSION = 1, /* an expired session: key + value */
	NS_AGE_REC_PORT = 2,    /* an ns_ports entry whose verdict is not KEEP */
	NS_AGE_REC_PAIRED = 3,  /* an ns_paired entry that expired */
	NS_AGE_REC_SESSION64 = 5, /* an expired NAT64 session: IPv6 key + value */
};

struct ns_age_rec {
	__u32 type;  /* enum ns_age_rec_type */
	__u32 _pad;
	union {
		struct {
			struct ns_tuple key;
			struct ns_session s;
		} sess;
		struct {
			struct ns_port_key k;
			struct ns_port_val v;
		} port;
		struct {
			struct ns_paired_key k;
			struct ns_paired_val v;
		} paired;
		struct {
			struct ns_tuple6 key;
			struct ns_session s;
		} sess64;
	};
};

#ifndef __cplusplus
_Static_assert(sizeof(struct ns_age_rec) == 144, "ns_age_rec size");
#endif

/* Session timeout classes: TCP by state, then UDP, ICMP, other. */
#define NS_AGE_TO_UDP NS_TCP_STATE_MAX
#define NS_AGE_TO_ICMP (NS_TCP_STATE_MAX + 1)
#define NS_AGE_TO_OTHER (NS_TCP_STATE_MAX + 2)
#define NS_AGE_TO_MAX (NS_TCP_STATE_MAX + 3)

/* The sweep's parameters, written by the daemon before each cycle (.bss). */
struct ns_age_cfg {
	__u64 now;         /* the cycle's clock (CLOCK_MONOTONIC ns) */
	__u64 walk_start;  /* when the cycle began */
	__u64 seed;        /* bitmap hash seed, new every cycle */
	__u32 nbits;       /* bits in the live bitmap (words * 64) */
	__u32 hold_s;      /* port-hold */
	__u32 binding_s;   /* EIM / paired binding time */
	__u32 _pad;
	__u32 timeout_s[NS_AGE_TO_MAX];
};

/* Counters the sweep keeps (.bss), read by the daemon. */
struct ns_age_stats {
	__u64 sessions;   /* session entries visited this cycle */
	__u64 expired;    /* of which emitted as expired */
	__u64 ports;      /* ns_ports entries visited */
	__u64 paired;     /* ns_paired entries visited */
	__u64 sessions64; /* ns_nat64_sess entries visited this cycle */
	__u64 expired64;  /* of which emitted as expired */
	__u64 deferred;   /* records that did not fit in ns_age_out: next cycle */
};

/*
 * A sliced walk (one program, one map, several runs): where it stands
 * between two runs (.bss age_cur). A hash map cannot be walked from a
 * position, so a run resumes by key: it skips entries until it meets the
 * key the previous run processed last, then processes at most limit more.
 */
union ns_age_key {
	struct ns_tuple t;
	struct ns_tuple6 t6;
	struct ns_port_key port;
	struct ns_paired_key paired;
};

/* How a run ended (struct ns_age_cursor.state). */
#define NS_AGE_RUN_END 0  /* it reached the end of the map: the walk is over */
#define NS_AGE_RUN_MORE 1 /* it stopped after limit entries: run again */
#define NS_AGE_RUN_LOST 2 /* the remembered key is gone: restart the walk */

struct ns_age_cursor {
	__u32 limit;    /* daemon: entries one run processes, 0 = all of them */
	__u32 has_key;  /* key is set: the next run resumes after it */
	__u32 n;        /* program: entries this run processed */
	__u32 skipped;  /* program: entries this run skipped to resume */
	__u32 state;    /* program: NS_AGE_RUN_* */
	__u32 skipping; /* program: still looking for key */
	union ns_age_key key; /* the last entry processed */
};

static inline __u32 ns_age_timeout_class(__u8 proto, __u8 tcp_state)
{
	if (proto == 6)
		return tcp_state < NS_TCP_STATE_MAX ? tcp_state : NS_TCP_SYN_SENT;
	if (proto == 17)
		return NS_AGE_TO_UDP;
	if (proto == 1)
		return NS_AGE_TO_ICMP;
	return NS_AGE_TO_OTHER;
}

/* Idle for longer than timeout_s at now; a future last_seen never expires. */
static inline int ns_age_expired(__u64 last_seen_ns, __u64 now, __u32 timeout_s)
{
	if (now <= last_seen_ns)
		return 0;
	return now - last_seen_ns > (__u64)timeout_s * NS_AGE_NSEC_PER_SEC;
}

/* Port verdicts; the same values as enum ns_port_verdict in aging.h. */
#define NS_AGE_PORT_KEEP 0
#define NS_AGE_PORT_UNHOLD 1
#define NS_AGE_PORT_HOLD 2
#define NS_AGE_PORT_DROP_EIM 3
#define NS_AGE_PORT_FREE 4

/* The fate of one NAT binding; see ns_aging_port_decide() in aging.h. */
static inline int ns_age_port_decide(const struct ns_port_val *v, int in_use, int clean_close,
				     __u64 now, __u64 walk_start, __u32 hold_s, __u32 binding_s)
{
	int held = !!(v->flags & NS_PORT_F_HOLD);
	int eim = !!(v->flags & NS_PORT_F_EIM);
	__u64 bind_ns = eim ? (__u64)binding_s * NS_AGE_NSEC_PER_SEC : 0;
	__u64 hold_ns = (__u64)hold_s * NS_AGE_NSEC_PER_SEC;
	__u64 idle;

	if (in_use)
		return held ? NS_AGE_PORT_UNHOLD : NS_AGE_PORT_KEEP;
	/* Allocated while we walked: its session may be in a bucket we had
	 * already passed. The next cycle decides. */
	if (v->last_used_ns >= walk_start)
		return NS_AGE_PORT_KEEP;
	if (!held) {
		if (!bind_ns && (!hold_ns || clean_close))
			return NS_AGE_PORT_FREE;
		return NS_AGE_PORT_HOLD;
	}
	idle = now > v->released_ns ? now - v->released_ns : 0;
	if (idle <= bind_ns)
		return NS_AGE_PORT_KEEP;
	if (idle > bind_ns + hold_ns)
		return NS_AGE_PORT_FREE;
	return eim ? NS_AGE_PORT_DROP_EIM : NS_AGE_PORT_KEEP;
}

/* An address-pooling-paired entry nobody uses, idle past the binding time. */
static inline int ns_age_paired_expired(const struct ns_paired_val *v, int in_use, __u64 now,
					__u64 walk_start, __u32 binding_s)
{
	if (in_use || v->last_used_ns >= walk_start)
		return 0;
	return ns_age_expired(v->last_used_ns, now, binding_s);
}

/* ---- live-binding ids and their bitmap ---------------------------------- */

/* (outside address, port, proto) of a NAT binding; bit 63 keeps it non-zero. */
static inline __u64 ns_age_port_id(__be32 addr, __be16 port, __u8 proto)
{
	return (__u64)addr | (__u64)port << 32 | (__u64)proto << 48 | 1ull << 63;
}

/* (subscriber, pool) of a paired entry; bit 62 keeps it apart from port ids. */
static inline __u64 ns_age_paired_id(__be32 addr, __u8 pool)
{
	return (__u64)addr | (__u64)pool << 32 | 1ull << 63 | 1ull << 62;
}

/* The binding a live session keeps in use (dynamic-nat44 owns an address). */
static inline __u64 ns_age_session_port_id(const struct ns_session *s)
{
	if (s->nat_type == NS_NAT_DYNAMIC44)
		return ns_age_port_id(s->out_key.daddr, 0, 0);
	return ns_age_port_id(s->out_key.daddr, s->out_key.dport, s->out_key.proto);
}

static inline __u64 ns_age_mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/*
 * The live set is a blocked Bloom filter: an id sets two bits of one 64-bit
 * word (one cache line touched per id). A false positive only keeps an
 * unused binding one more cycle, and the seed changes every cycle so it
 * never sticks. *word = index of the word, returns the two-bit mask.
 */
static inline __u64 ns_age_bits(__u64 id, __u64 seed, __u32 nbits, __u32 *word)
{
	__u64 h = ns_age_mix64(id ^ seed);
	__u32 words = nbits / 64;

	*word = (__u32)(((h & 0xffffffffull) * words) >> 32);
	return 1ull << ((h >> 32) & 63) | 1ull << ((h >> 40) & 63);
}

#endif
