/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sublimit.h - max-sessions-per-subscriber (RFC 6888 REQ-4: a CGN MUST be
 * able to limit what one subscriber takes, so that one cannot starve the
 * others).
 *
 * A subscriber's live sessions = ns_sub_created - ns_sub_closed. The fast
 * path increments ns_sub_created (atomically) for every session it opens
 * from the inside and marks the session NS_SF_SUB_COUNTED; the daemon
 * increments ns_sub_closed when it deletes such a session, and deletes both
 * entries of a subscriber with nothing live. Each map has one writer: a
 * userspace update rewrites a whole value and would lose a concurrent BPF
 * increment. Existing sessions are never evicted: over the limit, the new
 * flow is dropped (NS_CNT_DROP_SUBSCRIBER_LIMIT).
 *
 * Approximations (documented in doc/fastpath.md): CPUs admitting flows of
 * one subscriber at the same moment may each pass the check, so the limit
 * can be exceeded by up to (CPUs - 1); a full ns_sub_created table leaves
 * new subscribers unlimited rather than cut off.
 */
#ifndef NATSYNC_BPF_SUBLIMIT_H
#define NATSYNC_BPF_SUBLIMIT_H

#include "bpf/maps.h"

/* The subscriber's ns_sub_created counter, created at 0 when missing.
 * NULL when the table is full. */
static __always_inline __u64 *ns_sub_created_get(const struct ns_sub_key *k)
{
	__u64 zero = 0, *c = bpf_map_lookup_elem(&ns_sub_created, k);

	if (c)
		return c;
	/* a lost race with another CPU is fine: its entry is as good */
	bpf_map_update_elem(&ns_sub_created, k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&ns_sub_created, k);
}

/**
 * ns_sub_admit_key() - may subscriber @k open one more session?
 * @ctr: out, the counter to increment once the session exists (NULL when
 *       no limit applies or the subscriber cannot be tracked).
 * Return: 0 to go on, -1 when the limit is reached.
 */
static __always_inline int ns_sub_admit_key(const struct ns_cfg *cfg, const struct ns_sub_key *k,
					    __u64 **ctr)
{
	__u64 *c, *closed, created, gone;

	*ctr = NULL;
	if (!cfg->max_sess_per_sub)
		return 0;
	c = ns_sub_created_get(k);
	if (!c)
		return 0;
	created = *c;
	closed = bpf_map_lookup_elem(&ns_sub_closed, k);
	gone = closed ? *closed : 0;
	/* closed > created only after the daemon reset the subscriber's
	 * entries under a racing open: count nothing live */
	if (gone < created && created - gone >= cfg->max_sess_per_sub)
		return -1;
	*ctr = c;
	return 0;
}

/* ns_sub_admit_key() for the IPv4 subscriber @saddr of service set @svc_id. */
static __always_inline int ns_sub_admit(const struct ns_cfg *cfg, __be32 saddr, __u16 svc_id,
					__u64 **ctr)
{
	struct ns_sub_key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.addr = saddr;
	k.svc_set = svc_id;
	return ns_sub_admit_key(cfg, &k, ctr);
}

/* A subscriber's flood of new flows must not fill the ring buffer the
 * other subscribers' session and NAT logs need: a refusal by the
 * per-subscriber limit is reported at most once per CPU per 100 ms (the
 * counter drop_subscriber_limit has every one). */
#define NS_SUBLIMIT_EV_GAP_NS (100ull * 1000 * 1000)

#endif /* NATSYNC_BPF_SUBLIMIT_H */
