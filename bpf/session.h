/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session.h - the session table: lookup by direction, insert of both keys,
 * per-direction accounting and the TCP state machine.
 *
 * ns_sessions is keyed by in_key (inside->outside tuple before NAT),
 * ns_session_rev by out_key (outside->inside tuple before NAT). A packet on
 * the inside looks up ns_sessions directly, one on the outside goes through
 * ns_session_rev first.
 */
#ifndef NATSYNC_BPF_SESSION_H
#define NATSYNC_BPF_SESSION_H

#include "bpf/counters.h"

static __always_inline void ns_tuple_reverse(struct ns_tuple *r, const struct ns_tuple *t)
{
	__builtin_memset(r, 0, sizeof(*r));
	r->saddr = t->daddr;
	r->daddr = t->saddr;
	r->sport = t->dport;
	r->dport = t->sport;
	r->proto = t->proto;
}

static __always_inline int ns_tuple_eq(const struct ns_tuple *a, const struct ns_tuple *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
	       a->dport == b->dport && a->proto == b->proto;
}

/* A session record with the fields every new session shares (NAT44 and
 * NAT64 alike); the caller sets what its kind of session says. */
static __always_inline void ns_session_init(struct ns_session *s, const struct ns_pkt *p,
					    __u16 svc_id, __u8 origin, __u64 now)
{
	__builtin_memset(s, 0, sizeof(*s));
	s->created_ns = now;
	s->last_seen_ns = now;
	s->svc_set = svc_id;
	s->nat_term = NS_NONE16;
	s->fw_term = NS_NONE16;
	s->pool_id = 0xff;
	s->origin = origin;
	s->tcp_state = p->t.proto == IPPROTO_TCP ? NS_TCP_SYN_SENT : NS_TCP_NONE;
}

/**
 * ns_session_find() - the session of a packet arriving on @side.
 * @t: the packet tuple (padding must be zero).
 */
static __always_inline struct ns_session *ns_session_find(const struct ns_tuple *t, __u8 side)
{
	struct ns_tuple *in_key;

	if (side == NS_SIDE_INSIDE)
		return bpf_map_lookup_elem(&ns_sessions, t);
	in_key = bpf_map_lookup_elem(&ns_session_rev, t);
	if (!in_key)
		return NULL;
	return bpf_map_lookup_elem(&ns_sessions, in_key);
}

static __always_inline int ns_tcp_pure_syn(__u8 flags)
{
	return (flags & (NS_TCP_SYN | NS_TCP_ACK | NS_TCP_RST | NS_TCP_FIN)) == NS_TCP_SYN;
}

/**
 * ns_tcp_update() - advance the TCP state of @s for a packet from @side.
 * Races between CPUs only make a transition a packet late; the daemon maps
 * the state to a timeout, so that is harmless.
 */
static __always_inline void ns_tcp_update(struct ns_session *s, __u8 side, __u8 flags)
{
	int from_origin = side == s->origin;
	__u32 fin_bit, f;

	if (flags & NS_TCP_RST) {
		s->tcp_state = NS_TCP_CLOSED;
		return;
	}
	if (flags & NS_TCP_FIN) {
		fin_bit = side == NS_SIDE_INSIDE ? NS_SF_FIN_IN : NS_SF_FIN_OUT;
		f = s->flags | fin_bit;
		s->flags = f;
		if ((f & (NS_SF_FIN_IN | NS_SF_FIN_OUT)) == (NS_SF_FIN_IN | NS_SF_FIN_OUT))
			s->tcp_state = NS_TCP_TIME_WAIT;
		else
			s->tcp_state = NS_TCP_FIN_WAIT;
		return;
	}
	switch (s->tcp_state) {
	case NS_TCP_SYN_SENT:
		if (!from_origin &&
		    (flags & (NS_TCP_SYN | NS_TCP_ACK)) == (NS_TCP_SYN | NS_TCP_ACK))
			s->tcp_state = NS_TCP_SYN_RECV;
		break;
	case NS_TCP_SYN_RECV:
		if (from_origin && (flags & NS_TCP_ACK) && !(flags & NS_TCP_SYN))
			s->tcp_state = NS_TCP_ESTABLISHED;
		break;
	case NS_TCP_TIME_WAIT:
	case NS_TCP_CLOSED:
		/* the same 5-tuple reopened before aging removed it */
		if (from_origin && ns_tcp_pure_syn(flags)) {
			s->flags &= ~(NS_SF_FIN_IN | NS_SF_FIN_OUT);
			s->tcp_state = NS_TCP_SYN_SENT;
		}
		break;
	}
}

/*
 * The clock of the per-packet path: CLOCK_MONOTONIC at tick resolution
 * (a few ms behind bpf_ktime_get_ns(), never ahead of it). Reading the
 * precise clock costs about 40 ns per packet on a VM (a paravirtual clock
 * read); the coarse one reads the last tick's value. Session creation,
 * bindings and events keep the precise clock.
 */
static __always_inline __u64 ns_now_coarse(void)
{
	return bpf_ktime_get_coarse_ns();
}

/**
 * ns_session_account() - a packet from @side used session @s: counters,
 * last_seen_ns and TCP state.
 * @now: ns_now_coarse() on the per-packet path: last_seen_ns only decides
 * expiry, in seconds, and only userspace compares it, with its own later
 * CLOCK_MONOTONIC reading.
 */
static __always_inline void ns_session_account(struct ns_session *s, const struct ns_pkt *p,
					       __u8 side, __u64 now)
{
	__u32 i = side & 1;

	__sync_fetch_and_add(&s->packets[i], 1);
	__sync_fetch_and_add(&s->bytes[i], p->ip_len);
	s->last_seen_ns = now;
	if (p->t.proto == IPPROTO_TCP)
		ns_tcp_update(s, side, p->tcp_flags);
}

/**
 * ns_session_insert() - publish a new session under both keys.
 * @s: the complete record (in_key/out_key filled).
 * Return: the map's copy; NULL with *@cnt set to the verdict counter when
 * the maps are full. If another CPU inserted the same in_key first, its
 * session is returned and *@raced is set (the caller releases its claims).
 */
static __always_inline struct ns_session *ns_session_insert(struct ns_session *s, int *raced,
							    __u32 *cnt)
{
	struct ns_session *cur;

	*raced = 0;
	if (bpf_map_update_elem(&ns_sessions, &s->in_key, s, BPF_NOEXIST)) {
		cur = bpf_map_lookup_elem(&ns_sessions, &s->in_key);
		if (cur) {
			*raced = 1;
			ns_count(NS_CNT_SESSION_RACE);
			return cur;
		}
		*cnt = NS_CNT_DROP_SESSION_FULL;
		return NULL;
	}
	if (bpf_map_update_elem(&ns_session_rev, &s->out_key, &s->in_key, BPF_NOEXIST)) {
		bpf_map_delete_elem(&ns_sessions, &s->in_key);
		*cnt = NS_CNT_DROP_SESSION_FULL;
		return NULL;
	}
	ns_count(NS_CNT_SESSION_NEW);
	return bpf_map_lookup_elem(&ns_sessions, &s->in_key);
}

#endif /* NATSYNC_BPF_SESSION_H */
