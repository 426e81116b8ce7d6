/* SPDX-License-Identifier: GPL-2.0 */
/*
 * events.h - session/NAT events to the daemon through the ns_events ring
 * buffer (only with NS_CFG_F_EVENTS; a full ring is counted, never waited on).
 */
#ifndef NATSYNC_BPF_EVENTS_H
#define NATSYNC_BPF_EVENTS_H

#include "bpf/counters.h"

/* Fill the common part of an event record. */
static __always_inline void ns_event_fill(struct ns_event *e, __u8 type,
					  const struct ns_tuple *in_key,
					  const struct ns_tuple *out_key, __u16 svc, __u8 nat_type,
					  __u8 pool_id, __u8 origin)
{
	e->ts_ns = bpf_ktime_get_ns();
	e->in_key = *in_key;
	if (out_key)
		e->out_key = *out_key;
	e->svc_set = svc;
	e->type = type;
	e->nat_type = nat_type;
	e->pool_id = pool_id;
	e->origin = origin;
}

/* A zeroed ring buffer record of @size bytes, or NULL (events off, or the
 * ring full: counted). */
static __always_inline void *ns_ev_reserve(const struct ns_cfg *cfg, __u32 size)
{
	void *e;

	if (!(cfg->flags & NS_CFG_F_EVENTS))
		return NULL;
	e = bpf_ringbuf_reserve(&ns_events, size, 0);
	if (!e)
		ns_count(NS_CNT_EVENT_LOST);
	return e;
}

/**
 * ns_emit() - queue one event.
 * @cfg:  global config (events enabled?).
 * @type: enum ns_event_type.
 * @in_key/@out_key: the session's keys (out_key may be NULL).
 * @svc/@nat_type/@pool_id/@origin: copied into the record.
 */
static __always_inline void ns_emit(const struct ns_cfg *cfg, __u8 type,
				    const struct ns_tuple *in_key, const struct ns_tuple *out_key,
				    __u16 svc, __u8 nat_type, __u8 pool_id, __u8 origin)
{
	struct ns_event *e = ns_ev_reserve(cfg, sizeof(*e));

	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	ns_event_fill(e, type, in_key, out_key, svc, nat_type, pool_id, origin);
	bpf_ringbuf_submit(e, 0);
}

/**
 * ns_emit6() - queue one NAT64 event (struct ns_event6): ns_emit()'s
 * record followed by the IPv6 subscriber @saddr6 and destination @daddr6,
 * which the event's in_key only has as a 32-bit stand-in.
 */
static __always_inline void ns_emit6(const struct ns_cfg *cfg, __u8 type,
				     const struct ns_tuple *in_key, const struct ns_tuple *out_key,
				     __u16 svc, __u8 pool_id, __u8 origin, const __u8 *saddr6,
				     const __u8 *daddr6)
{
	struct ns_event6 *e = ns_ev_reserve(cfg, sizeof(*e));

	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	ns_event_fill(&e->ev, type, in_key, out_key, svc, NS_NAT_NAT64, pool_id, origin);
	__builtin_memcpy(e->saddr6, saddr6, 16);
	__builtin_memcpy(e->daddr6, daddr6, 16);
	bpf_ringbuf_submit(e, 0);
}

#endif /* NATSYNC_BPF_EVENTS_H */
