/* SPDX-License-Identifier: GPL-2.0 */
/*
 * frag.h - IPv4 fragments through the NAT (RFC 4787 REQ-14, RFC 5508 for
 * ICMP, RFC 6146 for the 2 s timer; see struct ns_frag in
 * common/natsync.h and doc/fastpath.md "Fragments").
 *
 *  - A first fragment (MF set, offset 0) holds the L4 header: the pipeline
 *    translates it like any packet through its session, then
 *    ns_frag_first_done() records the translated addresses under the
 *    fragment's (saddr, daddr, IP ID, proto, side).
 *  - A later fragment (offset > 0) of a recorded datagram gets the same
 *    addresses, the IPv4 header checksum patched, and is forwarded like
 *    its first fragment. It has no L4 header, so nothing else changes: the
 *    L4 checksum lives in the first fragment, which the session rewrite
 *    fixed for the whole datagram (RFC 1624 is incremental).
 *  - A later fragment arriving first makes a pending entry and is copied
 *    to the daemon through ns_frag_ring (at most NS_FRAG_HOLD_MAX per
 *    datagram); the first fragment, when it comes, tells the daemon how
 *    it was translated and the daemon sends the held ones on (daemon/frag.c).
 *    XDP can emit one frame per run and cannot wait, so holding is the
 *    daemon's; the in-order case never leaves the fast path.
 *  - An entry goes as soon as its fragments cover the datagram, or when
 *    its bpf_timer fires after NS_FRAG_TIMEOUT_NS (counted frag_timeout):
 *    a flood of fragments that never complete occupies at most
 *    NS_FRAG_MAX entries for 2 s, and is counted (frag_track_full).
 *  - NAT64 fragments use the same table and ring (frag64.h): an entry's
 *    xlat says how its fragments are translated; a later IPv4 fragment of
 *    an IPv4 -> IPv6 datagram goes to the frag64 program (NS64_FRAG).
 */
#ifndef NATSYNC_BPF_FRAG_H
#define NATSYNC_BPF_FRAG_H

#include "bpf/counters.h"
#include "bpf/csum.h"
#include "bpf/firewall.h"
#include "bpf/fwd.h"
#include "bpf/nat64_types.h"

#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC 1
#endif

#define NS_IP_MF 0x2000
#define NS_IP_OFFMASK 0x1fff

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_FRAG_MAX);
	__type(key, struct ns_frag_key);
	__type(value, struct ns_frag);
} ns_frag SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NS_FRAG_RING_BYTES);
} ns_frag_ring SEC(".maps");

/* ---- NAT64 fragments: the frag64 programs (frag64.h) ---- */

int natsync_xdp_frag64(struct xdp_md *ctx);
int natsync_tc_frag64(struct __sk_buff *skb);

/* One per program type: a program array belongs to one type. Not "ns_":
 * never pinned, each load fills its own (libbpf, at load). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct xdp_md *));
} frag64_xdp SEC(".maps") = {
	.values = { [0] = (void *)&natsync_xdp_frag64 },
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct __sk_buff *));
} frag64_tc SEC(".maps") = {
	.values = { [0] = (void *)&natsync_tc_frag64 },
};

/* The main program's end for a NAT64 fragment: the frag64 program counts
 * its verdict; this returns only when the tail call fails. */
static __always_inline __u32 ns_frag64_tail(void *ctx, const bool is_tc)
{
	if (is_tc)
		bpf_tail_call(ctx, &frag64_tc, 0);
	else
		bpf_tail_call(ctx, &frag64_xdp, 0);
	return NS_CNT_DROP_FRAGMENT;
}

/* The IPv4 header's identification and flags/offset word (host order). */
static __always_inline int ns_frag_hdr(const struct ns_pkt *p, const bool is_tc, __be16 *id,
				       __u16 *fo)
{
	struct iphdr *ip = ns_ptr(p->ctx, is_tc, p->l3_off, sizeof(*ip));

	if (!ip)
		return -1;
	*id = ip->id;
	*fo = bpf_ntohs(ip->frag_off);
	return 0;
}

static __always_inline void ns_frag_key_of(const struct ns_pkt *p, __be16 id,
					   struct ns_frag_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->saddr = p->t.saddr;
	k->daddr = p->t.daddr;
	k->id = id;
	k->proto = p->t.proto;
	k->side = p->side;
}

/**
 * ns_frag_first() - is the parsed packet a first fragment? Then fill @k
 * with its key as it arrived (before any translation).
 */
static __always_inline bool ns_frag_first(const struct ns_pkt *p, const bool is_tc,
					  struct ns_frag_key *k)
{
	__be16 id;
	__u16 fo;

	if (ns_frag_hdr(p, is_tc, &id, &fo) || !(fo & NS_IP_MF) || (fo & NS_IP_OFFMASK))
		return false;
	ns_frag_key_of(p, id, k);
	return true;
}

/* Timer callback: the datagram did not complete in time; forget it. */
static int ns_frag_expire(void *map, struct ns_frag_key *k, struct ns_frag *e)
{
	ns_count(NS_CNT_FRAG_TIMEOUT);
	bpf_map_delete_elem(map, k);
	return 0;
}

/* A fresh entry at @k: insert, arm its timer. NULL when ns_frag is full
 * (or another CPU's entry is there: the caller looks it up). */
static __always_inline struct ns_frag *ns_frag_new(const struct ns_frag_key *k, int *raced)
{
	struct ns_frag v, *e;

	__builtin_memset(&v, 0, sizeof(v));
	v.created_ns = bpf_ktime_get_ns();
	*raced = 0;
	if (bpf_map_update_elem(&ns_frag, k, &v, BPF_NOEXIST)) {
		*raced = 1;
		return bpf_map_lookup_elem(&ns_frag, k);
	}
	e = bpf_map_lookup_elem(&ns_frag, k);
	if (!e)
		return NULL;
	/* an entry that could never expire would leak: none without a timer */
	if (bpf_timer_init(&e->timer, &ns_frag, CLOCK_MONOTONIC) ||
	    bpf_timer_set_callback(&e->timer, ns_frag_expire) ||
	    bpf_timer_start(&e->timer, NS_FRAG_TIMEOUT_NS, 0)) {
		bpf_map_delete_elem(&ns_frag, k);
		return NULL;
	}
	return e;
}

/* Count one fragment of @payload bytes at byte offset @off (@mf: more
 * follow) into @e; drop the entry once the fragments cover the datagram.
 * Overlapping or duplicate fragments may end it early: a later one is then
 * unknown and goes the out-of-order way (it is a duplicate anyway). */
static __always_inline void ns_frag_account(struct ns_frag *e, const struct ns_frag_key *k,
					    __u32 payload, __u32 off, __u16 mf)
{
	__sync_fetch_and_add(&e->seen, payload);
	if (!mf) {
		e->total = off + payload;
		e->last = 1;
	}
	if (e->first && e->last && e->seen >= e->total)
		bpf_map_delete_elem(&ns_frag, k);
}

/* Payload bytes of the fragment (IPv4 total length minus header). */
static __always_inline __u32 ns_frag_payload(const struct ns_pkt *p)
{
	return p->ip_len - (p->l4_off - p->l3_off);
}

/* Tell the daemon how the first fragment of @k went out: @xlat (enum
 * ns_frag_xlat), the IPv4 addresses @s4/@d4, or (NS_FRAG_X4TO6) the IPv6
 * ones at @s6/@d6 (NULL otherwise). */
static __always_inline void ns_frag_tell_first(const struct ns_frag_key *k, __u8 xlat, __be32 s4,
					       __be32 d4, const __u8 *s6, const __u8 *d6)
{
	struct ns_frag_rec *r = bpf_ringbuf_reserve(&ns_frag_ring, sizeof(*r), 0);

	if (!r) {
		ns_count(NS_CNT_EVENT_LOST);
		return;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->key = *k;
	r->type = NS_FRAG_REC_FIRST;
	r->xlat = xlat;
	r->new_saddr = s4;
	r->new_daddr = d4;
	if (s6) {
		__builtin_memcpy(r->new_saddr6, s6, 16);
		__builtin_memcpy(r->new_daddr6, d6, 16);
	}
	bpf_ringbuf_submit(r, 0);
}

/**
 * ns_frag_first_rec() - after a first fragment of @payload L4 bytes was
 * translated (verdict @cnt; @k its key as it arrived; how it left as for
 * ns_frag_tell_first()):
 * record the translation for the later fragments. Only a forwarded one:
 * a dropped first fragment leaves its followers unknown.
 */
static __always_inline void ns_frag_first_rec(const struct ns_frag_key *k, __u32 cnt, __u8 xlat,
					      __be32 s4, __be32 d4, const __u8 *s6,
					      const __u8 *d6, __u32 payload)
{
	struct ns_frag *e;
	int raced;

	if (cnt != NS_CNT_FWD_REDIRECT && cnt != NS_CNT_FWD_STACK)
		return;
	e = ns_frag_new(k, &raced);
	if (!e) {
		ns_count(NS_CNT_FRAG_TRACK_FULL);
		return;
	}
	if (e->first) /* a duplicate first fragment */
		return;
	e->new_saddr = s4;
	e->new_daddr = d4;
	e->xlat = xlat;
	if (s6) {
		__builtin_memcpy(e->new_saddr6, s6, 16);
		__builtin_memcpy(e->new_daddr6, d6, 16);
	}
	e->first = 1;
	ns_count(NS_CNT_FRAG_FIRST);
	/* later fragments came first and wait in the daemon */
	if (raced && e->held)
		ns_frag_tell_first(k, xlat, s4, d4, s6, d6);
	ns_frag_account(e, k, payload, 0, 1);
}

/* NAT44: the first fragment's translation is p->t as it leaves. */
static __always_inline void ns_frag_first_done(const struct ns_pkt *p, const struct ns_frag_key *k,
					       __u32 cnt)
{
	ns_frag_first_rec(k, cnt, NS_FRAG_X44, p->t.saddr, p->t.daddr, NULL, NULL,
			  ns_frag_payload(p));
}

/* Copy the packet (its IPv4 packet) to the daemon as a record of @type:
 * NS_FRAG_REC_HELD (a fragment), NS_FRAG_REC_SYN (a NAT64 SYN held,
 * nat64_bib.h). 0 when it is held. */
static __always_inline int ns_frag_hold(struct ns_pkt *p, const bool is_tc,
					const struct ns_frag_key *k, __u8 type)
{
	struct ns_frag_rec *r;
	__u64 len = p->ip_len; /* 64-bit: no zero-extended copy gets checked instead */

	if (len < sizeof(struct iphdr) || len > NS_FRAG_DATA_MAX)
		return -1;
	r = bpf_ringbuf_reserve(&ns_frag_ring, sizeof(*r) + NS_FRAG_DATA_MAX, 0);
	if (!r)
		return -1;
	__builtin_memset(r, 0, sizeof(*r));
	r->key = *k;
	r->type = type;
	r->len = len;
	r->ifindex = p->ifindex;
	/* the verifier needs both bounds checked on the register passed:
	 * the barriers keep clang from merging the checks into one */
	asm volatile("" : "+r"(len));
	if (len > NS_FRAG_DATA_MAX)
		goto discard;
	asm volatile("" : "+r"(len));
	if (len < sizeof(struct iphdr) || ns_load(p->ctx, is_tc, p->l3_off, r->data, len)) {
discard:
		bpf_ringbuf_discard(r, 0);
		return -1;
	}
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* Rewrite a later fragment's addresses: IPv4 header and its checksum
 * only. ns_set_addr() patches no L4 checksum for protocol 0, and a later
 * fragment has no L4 header to patch. */
static __always_inline int ns_frag_rewrite(struct ns_pkt *p, const bool is_tc,
					   const struct ns_frag *e)
{
	__u8 proto = p->t.proto;
	int err;

	p->t.proto = 0;
	err = ns_set_addr(p, is_tc, 0, p->t.saddr, e->new_saddr) ||
	      ns_set_addr(p, is_tc, 1, p->t.daddr, e->new_daddr);
	p->t.proto = proto;
	p->t.saddr = e->new_saddr;
	p->t.daddr = e->new_daddr;
	return err ? -1 : 0;
}

/*
 * A later fragment (@payload bytes at byte offset @off, @mf) of @k whose
 * first fragment has not been seen (@e pending): hand it to the daemon.
 * Return: the verdict counter.
 */
static __always_inline __u32 ns_frag_hold_later(struct ns_pkt *p, const bool is_tc,
						struct ns_frag *e, const struct ns_frag_key *k,
						__u32 payload, __u32 off, __u16 mf)
{
	ns_count(NS_CNT_FRAG_UNKNOWN);
	/* held before it is copied: a first fragment that finds held == 0
	 * tells the daemon nothing, and the daemon then looks ns_frag up
	 * itself when this copy arrives */
	if (e->held >= NS_FRAG_HOLD_MAX) {
		ns_count(NS_CNT_FRAG_HOLD_FULL);
		return NS_CNT_DROP_FRAGMENT;
	}
	__sync_fetch_and_add(&e->held, 1);
	if (ns_frag_hold(p, is_tc, k, NS_FRAG_REC_HELD)) {
		ns_count(NS_CNT_FRAG_HOLD_FULL);
		return NS_CNT_DROP_FRAGMENT;
	}
	ns_frag_account(e, k, payload, off, mf);
	return NS_CNT_FRAG_HELD;
}

/**
 * ns_frag_later() - a non-first fragment (offset > 0), after the sanity
 * checks: translate it as its first fragment was, or hold it until that
 * one comes. @k: room for its key (per-CPU scratch).
 * Return: the verdict counter.
 */
static __always_inline __u32 ns_frag_later(struct ns_pkt *p, const bool is_tc,
					   const struct ns_svc *svc, struct ns_frag_key *k)
{
	struct ns_frag *e;
	__u32 payload = ns_frag_payload(p);
	__be16 id;
	__u16 fo;
	int raced;

	if (ns_frag_hdr(p, is_tc, &id, &fo))
		return NS_CNT_DROP_MALFORMED;
	ns_frag_key_of(p, id, k);
	e = bpf_map_lookup_elem(&ns_frag, k);
	if (!e) {
		/* the box's own datagrams are the kernel's to reassemble; a
		 * pool address is the NAT's even when it is "local" */
		if ((p->side == NS_SIDE_INSIDE || !ns_svc_pool_addr_g(svc, p->t.daddr)) &&
		    ns_is_local(p))
			return NS_CNT_PASS_LOCAL;
		e = ns_frag_new(k, &raced);
		if (!e) {
			ns_count(NS_CNT_FRAG_TRACK_FULL);
			return NS_CNT_DROP_FRAGMENT;
		}
	}
	if (e->first) {
		if (e->xlat != NS_FRAG_X44)
			return NS64_FRAG; /* becomes IPv6: frag64.h */
		if (ns_frag_rewrite(p, is_tc, e))
			return NS_CNT_DROP_MALFORMED;
		ns_count(NS_CNT_FRAG_XLATED);
		ns_frag_account(e, k, payload, (fo & NS_IP_OFFMASK) * 8, fo & NS_IP_MF);
		return ns_forward(p, is_tc);
	}
	return ns_frag_hold_later(p, is_tc, e, k, payload, (fo & NS_IP_OFFMASK) * 8, fo & NS_IP_MF);
}

#endif /* NATSYNC_BPF_FRAG_H */
