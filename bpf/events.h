/* SPDX-License-Identifier: GPL-2.0 */
/*
 * events.h - session/NAT events to the daemon through the ns_events ring
 * buffer (only with NS_CFG_F_EVENTS; a full ring is counted, never waited on).
 */
#ifndef NATSYNC_BPF_EVENTS_H
#define NATSYNC_BPF_EVENTS_H

#include "bpf/counters.h"

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
	struct ns_event *e;

	if (!(cfg->flags & NS_CFG_F_EVENTS))
		return;
	e = bpf_ringbuf_reserve(&ns_events, sizeof(*e), 0);
	if (!e) {
		ns_count(NS_CNT_EVENT_LOST);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->in_key = *in_key;
	if (out_key)
		e->out_key = *out_key;
	e->svc_set = svc;
	e->type = type;
	e->nat_type = nat_type;
	e->pool_id = pool_id;
	e->origin = origin;
	bpf_ringbuf_submit(e, 0);
}

#endif /* NATSYNC_BPF_EVENTS_H */
