/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pipeline.h - the packet pipeline shared by natsync_xdp and natsync_tc:
 *
 *   parse -> interface role -> sanity (malformed, inactive, TTL)
 *   -> a later IPv4 fragment: translated as its first one (bpf/frag.h)
 *   -> a NAT64 fragment: tail call to the frag64 program (bpf/frag64.h)
 *   -> session lookup (inside: ns_sessions, outside: via ns_session_rev)
 *   -> miss: local? firewall, SYN check, NAT allocation, insert
 *   -> account + TCP state -> rewrite with checksums -> forward.
 *
 * Every function returns the verdict counter (enum ns_counter); 0
 * (NS_CNT_RX, never a verdict) means "continue". The entry point counts the
 * verdict and maps it onto the program's return code.
 */
#ifndef NATSYNC_BPF_PIPELINE_H
#define NATSYNC_BPF_PIPELINE_H

/* The fixed include order: context, maps, counters/events, then one
 * header per stage in pipeline order. */
/* clang-format off */
#include "bpf/ctx.h"
#include "bpf/maps.h"
#include "bpf/counters.h"
#include "bpf/events.h"
#include "bpf/parse.h"
#include "bpf/csum.h"
#include "bpf/session.h"
#include "bpf/firewall.h"
#include "bpf/nat44.h"
#include "bpf/sublimit.h"
#include "bpf/icmp.h"
#include "bpf/fwd.h"
#include "bpf/icmp_err.h"
#include "bpf/nat64.h"
#include "bpf/frag.h"
/* clang-format on */

/*
 * Per-CPU scratch for building a new session: a session record and an
 * allocation would take ~150 of the 512 stack bytes the whole call chain
 * may use. Programs run to completion on one CPU, so one slot per CPU is
 * enough. Deliberately not "ns_"-prefixed: the daemon pins and adopts the
 * ns_* maps, and there is nothing here worth keeping across restarts.
 */
struct ns_open_scratch {
	struct ns_session s;
	struct ns_alloc a;
	__u64 sublimit_ev_ns; /* last NS_EV_SUBSCRIBER_LIMIT of this CPU */
	struct ns_frag_key fk; /* the packet's, when a fragment (bpf/frag.h):
				* 52 bytes the stack has no room for */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ns_open_scratch);
} scratch_open SEC(".maps");

static __always_inline struct ns_open_scratch *ns_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch_open, &zero);
}

/* Program return code for a verdict counter. */
static __always_inline int ns_action(__u32 cnt, const bool is_tc)
{
	switch (cnt) {
	case NS_CNT_FWD_REDIRECT:
		return is_tc ? TC_ACT_REDIRECT : XDP_REDIRECT;
	case NS_CNT_TX_REJECT:
		return is_tc ? TC_ACT_REDIRECT : XDP_TX;
	case NS_CNT_PASS_NON_IP:
	case NS_CNT_PASS_LOCAL:
	case NS_CNT_PASS_NO_SVC:
	case NS_CNT_PASS_TTL:
	case NS_CNT_PASS_UNTRACKED:
	case NS_CNT_FWD_STACK:
		return is_tc ? TC_ACT_OK : XDP_PASS;
	default:
		return is_tc ? TC_ACT_SHOT : XDP_DROP;
	}
}

/* Publish @s, release the claims in @a if it did not become ours, emit
 * events, count it for its subscriber in @subc (may be NULL). Return
 * NS_CONTINUE with *@sp set, or the verdict. */
static __always_inline __u32 ns_session_publish(struct ns_session *s, struct ns_alloc *a,
						const struct ns_cfg *cfg, __u64 *subc,
						struct ns_session **sp)
{
	__u32 cnt = NS_CNT_DROP_SESSION_FULL;
	int raced;

	*sp = ns_session_insert(s, &raced, &cnt);
	/* Two CPUs opening one outside-originated flow build the same
	 * out_key (the packet's tuple). A different one means another flow
	 * already owns this in_key (dnat-44: two public addresses onto one
	 * server endpoint): refuse rather than translate into that flow. */
	if (*sp && raced && s->origin == NS_SIDE_OUTSIDE &&
	    !ns_tuple_eq(&(*sp)->out_key, &s->out_key))
		*sp = NULL;
	if (!*sp || raced)
		ns_alloc_release(a);
	if (!*sp) {
		ns_emit(cfg, NS_EV_SESSION_FULL, &s->in_key, &s->out_key, s->svc_set, s->nat_type,
			s->pool_id, s->origin);
		return cnt;
	}
	if (!raced) {
		/* only the CPU whose session won counts it */
		if (subc)
			__sync_fetch_and_add(subc, 1);
		ns_emit(cfg, NS_EV_SESSION_OPEN, &s->in_key, &s->out_key, s->svc_set, s->nat_type,
			s->pool_id, s->origin);
		if (a->new_port)
			ns_emit(cfg, NS_EV_NAT_ALLOC, &s->in_key, &s->out_key, s->svc_set,
				s->nat_type, s->pool_id, s->origin);
	}
	return NS_CONTINUE;
}

/*
 * Translation of a new inside->outside flow by NAT term @nt (index @nat):
 * the source half (napt-44, dynamic-nat44, basic-nat44, twice-nat) from
 * the allocator, the destination half (dnat-44, twice-nat) from the
 * term's destination pool. @s arrives with out_key = reverse(in_key);
 * out_key is the reverse of the translated tuple, so the source half sets
 * its daddr/dport and the destination half its saddr/sport.
 * Return: NS_CONTINUE, or the verdict.
 */
static __always_inline __u32 ns_nat_inside(struct ns_pkt *p, const struct ns_nat_term *nt,
					   int nat, const struct ns_svc *svc, __u16 svc_id,
					   const struct ns_cfg *cfg, struct ns_session *s,
					   struct ns_alloc *a)
{
	__u8 type = nt->nat_type;
	__be32 daddr;
	__be16 dport;

	if (type != NS_NAT_NAPT44 && type != NS_NAT_DYNAMIC44 && type != NS_NAT_BASIC44 &&
	    type != NS_NAT_DNAT44 && type != NS_NAT_TWICE)
		return NS_CNT_DROP_UNSUPPORTED;
	if (type == NS_NAT_DNAT44 || type == NS_NAT_TWICE) {
		if (ns_dnat_dest(svc, nt, &p->t, &daddr, &dport))
			return NS_CNT_DROP_UNSUPPORTED;
		s->out_key.saddr = daddr;
		s->out_key.sport = dport;
		s->flags |= NS_SF_NAT_DST;
		s->pool_id = nt->dst_pool;
	}
	if (type != NS_NAT_DNAT44) {
		a->svc_id = svc_id;
		a->nat_idx = nat;
		a->bank = svc->bank & 1;
		if (ns_nat_alloc_g(&p->t, nt, a)) {
			ns_emit(cfg, NS_EV_POOL_EXHAUSTED, &p->t, NULL, svc_id, type,
				nt->src_pool, NS_SIDE_INSIDE);
			return NS_CNT_DROP_POOL_EXHAUSTED;
		}
		s->out_key.daddr = a->addr;
		s->out_key.dport = a->port;
		s->pool_id = a->pool_id;
		s->flags |= NS_SF_NAT_SRC;
	}
	s->nat_type = type;
	s->nat_term = nat;
	if (type == NS_NAT_NAPT44 && (nt->flags & NS_NAT_F_EIM))
		s->flags |= NS_SF_EIM;
	if (nt->flags & NS_NAT_F_SYSLOG)
		s->flags |= NS_SF_SYSLOG;
	return NS_CONTINUE;
}

static __always_inline void ns_sub_limit_event(const struct ns_cfg *cfg, const struct ns_pkt *p,
					       __u16 svc_id)
{
	struct ns_open_scratch *sc = ns_scratch();
	__u64 now = bpf_ktime_get_ns();

	if (!sc || now - sc->sublimit_ev_ns < NS_SUBLIMIT_EV_GAP_NS)
		return;
	sc->sublimit_ev_ns = now;
	ns_emit(cfg, NS_EV_SUBSCRIBER_LIMIT, &p->t, NULL, svc_id, NS_NAT_NONE, 0xff,
		NS_SIDE_INSIDE);
}

/* The first NAT term for NS_DIR_OUTPUT, if it is a dnat-44 (an exemption
 * or another type matching first means no destination translation). */
static __always_inline struct ns_nat_term *ns_dnat_term(const struct ns_svc *svc,
						       const struct ns_tuple *t, int *nat)
{
	struct ns_nat_term *nt;

	if (!svc->nat_count)
		return NULL;
	*nat = ns_nat_eval_g(svc, t, NS_DIR_OUTPUT);
	if (*nat < 0)
		return NULL;
	nt = ns_nat_term_at(svc, *nat);
	if (!nt || nt->nat_type != NS_NAT_DNAT44 || (nt->flags & NS_NAT_F_NO_TRANSLATION))
		return NULL;
	return nt;
}

/*
 * Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8): is the destination of an
 * inside packet an outside endpoint of this box, one of the service set's
 * pool addresses (another subscriber's binding) or a dnat-44 service
 * (the first NS_DIR_OUTPUT NAT term)? Such a flow turns round inside the
 * box: source-translated as usual, then judged as if it arrived from the
 * outside, so the target's filtering applies and the far end sees only
 * public endpoints. Asked once, when a session opens.
 */
static __always_inline int ns_hairpin_dest(const struct ns_svc *svc, const struct ns_tuple *t)
{
	int nat;

	return ns_svc_pool_addr_g(svc, t->daddr) || ns_dnat_term(svc, t, &nat);
}

/**
 * ns_open_inside() - first packet of a flow from the inside: firewall
 * (NS_DIR_INPUT), TCP SYN check, NAT term, allocation, insert.
 */
static __always_inline __u32 ns_open_inside(struct ns_pkt *p, const bool is_tc,
					    const struct ns_cfg *cfg, const struct ns_svc *svc,
					    __u16 svc_id, struct ns_session **sp)
{
	struct ns_nat_term *nt = NULL;
	__u8 action = NS_FW_ACCEPT;
	struct ns_open_scratch *sc;
	struct ns_session *s;
	struct ns_alloc *a;
	__u64 *subc = NULL;
	__u32 cnt;
	int fw, nat, hairpin;
	__u64 now;

	/* a public endpoint of the box is the NAT's even when it is also an
	 * address of the box itself (port forwarding) */
	hairpin = ns_hairpin_dest(svc, &p->t);
	if (!hairpin && ns_is_local(p))
		return NS_CNT_PASS_LOCAL;
	/* mid-stream TCP without a session is dropped, never answered:
	 * after a takeover the peer's flows must survive */
	if (p->t.proto == IPPROTO_TCP && !ns_tcp_pure_syn(p->tcp_flags))
		return NS_CNT_DROP_TCP_NO_SYN;
	fw = ns_fw_eval(svc, &p->t, NS_DIR_INPUT, &action);
	if (fw < 0 && (svc->flags & NS_SVC_F_HAS_FW))
		return NS_CNT_DROP_FW_DISCARD;
	if (action == NS_FW_DISCARD)
		return NS_CNT_DROP_FW_DISCARD;
	if (action == NS_FW_REJECT)
		return is_tc ? ns_reject_tc(p) : ns_reject_xdp(p);
	/* before any allocation: a subscriber over its limit claims nothing */
	if (ns_sub_admit(cfg, p->t.saddr, svc_id, &subc)) {
		ns_sub_limit_event(cfg, p, svc_id);
		return NS_CNT_DROP_SUBSCRIBER_LIMIT;
	}

	sc = ns_scratch();
	if (!sc)
		return NS_CNT_DROP_SESSION_FULL;
	s = &sc->s;
	a = &sc->a;
	now = bpf_ktime_get_ns();
	ns_session_init(s, p, svc_id, NS_SIDE_INSIDE, now);
	__builtin_memset(a, 0, sizeof(*a));
	s->in_key = p->t;
	ns_tuple_reverse(&s->out_key, &p->t);
	if (fw >= 0)
		s->fw_term = fw;
	if (svc->flags & NS_SVC_F_SYSLOG_SESSION)
		s->flags |= NS_SF_SYSLOG;
	if (subc)
		s->flags |= NS_SF_SUB_COUNTED;
	nat = ns_nat_eval_g(svc, &p->t, NS_DIR_INPUT);
	if (nat >= 0)
		nt = ns_nat_term_at(svc, nat);
	if (nt && !(nt->flags & NS_NAT_F_NO_TRANSLATION)) {
		cnt = ns_nat_inside(p, nt, nat, svc, svc_id, cfg, s, a);
		if (cnt != NS_CONTINUE)
			return cnt;
	}
	/* only with a public source (the far end must never see a
	 * subscriber's private address) and the destination as sent (a
	 * twice-nat or dnat-44 input term already chose another one) */
	if (hairpin && (s->flags & (NS_SF_NAT_SRC | NS_SF_NAT_DST)) == NS_SF_NAT_SRC)
		s->flags |= NS_SF_HAIRPIN;
	return ns_session_publish(s, a, cfg, subc, sp);
}

/* EIF: an endpoint-independent binding that accepts this inbound packet? */
static __always_inline struct ns_port_val *ns_eif_binding(const struct ns_pkt *p)
{
	struct ns_port_key k;
	struct ns_port_val *v;

	if (p->t.proto != IPPROTO_TCP && p->t.proto != IPPROTO_UDP)
		return NULL;
	__builtin_memset(&k, 0, sizeof(k));
	k.addr = p->t.daddr;
	k.port = p->t.dport;
	k.proto = p->t.proto;
	v = bpf_map_lookup_elem(&ns_ports, &k);
	/* a NAT64 binding's owner is IPv6: ns64_open_eif() */
	if (!v || !(v->flags & NS_PORT_F_EIF) || (v->flags & NS_PORT_F_NAT64))
		return NULL;
	return v;
}

/**
 * ns_open_outside() - first packet of a flow from the outside: an EIF
 * binding (inbound session to the bound inside endpoint), a dnat-44 term
 * for NS_DIR_OUTPUT (session to the term's destination pool), or a
 * firewall term for NS_DIR_OUTPUT that accepts it (firewall-only session);
 * else it is unsolicited and dropped. A discard/reject firewall term
 * overrides the first two.
 */
static __always_inline __u32 ns_open_outside(struct ns_pkt *p, const bool is_tc,
					     const struct ns_cfg *cfg, const struct ns_svc *svc,
					     __u16 svc_id, struct ns_session **sp)
{
	__u8 action = NS_FW_ACCEPT;
	struct ns_open_scratch *sc;
	struct ns_nat_term *dn = NULL;
	struct ns_port_val *pv;
	struct ns_session *s;
	int fw, nat = -1;
	__u64 now;

	/* a pool address is the NAT's, even when no route makes the kernel
	 * call it "local" */
	p->to_pool = ns_svc_pool_addr_g(svc, p->t.daddr);
	pv = ns_eif_binding(p);
	if (!pv)
		dn = ns_dnat_term(svc, &p->t, &nat);
	/* so is an address a dnat-44 term forwards, even the box's own
	 * (port forwarding) */
	if (!p->to_pool && !dn && ns_is_local(p))
		return NS_CNT_PASS_LOCAL;
	fw = ns_fw_eval(svc, &p->t, NS_DIR_OUTPUT, &action);
	if (!pv && !dn && fw < 0)
		return NS_CNT_DROP_NO_SESSION;
	if (fw >= 0 && action == NS_FW_DISCARD)
		return NS_CNT_DROP_FW_DISCARD;
	if (p->t.proto == IPPROTO_TCP && !ns_tcp_pure_syn(p->tcp_flags))
		return NS_CNT_DROP_TCP_NO_SYN;
	if (fw >= 0 && action == NS_FW_REJECT)
		/* a hairpinned packet's sender is behind its source
		 * translation: no reply can be built for it here */
		return p->hairpin ? NS_CNT_DROP_FW_DISCARD :
		       is_tc	  ? ns_reject_tc(p) :
				    ns_reject_xdp(p);

	sc = ns_scratch();
	if (!sc)
		return NS_CNT_DROP_SESSION_FULL;
	s = &sc->s;
	now = bpf_ktime_get_ns();
	ns_session_init(s, p, svc_id, NS_SIDE_OUTSIDE, now);
	if (p->hairpin)
		s->flags |= NS_SF_HAIRPIN;
	__builtin_memset(&sc->a, 0, sizeof(sc->a));
	s->out_key = p->t;
	if (fw >= 0)
		s->fw_term = fw;
	if (svc->flags & NS_SVC_F_SYSLOG_SESSION)
		s->flags |= NS_SF_SYSLOG;
	if (pv) {
		s->in_key.saddr = pv->in_addr;
		s->in_key.daddr = p->t.saddr;
		s->in_key.sport = pv->in_port;
		s->in_key.dport = p->t.sport;
		s->in_key.proto = p->t.proto;
		s->nat_type = NS_NAT_NAPT44;
		s->nat_term = pv->nat_term;
		s->pool_id = pv->pool_id;
		s->flags |= NS_SF_NAT_SRC | NS_SF_EIM | NS_SF_EIF;
		pv->last_used_ns = now;
		ns_count(NS_CNT_EIF_INBOUND);
	} else {
		ns_tuple_reverse(&s->in_key, &p->t);
	}
	if (dn) {
		/* in_key is what the inside server sends: the reverse of the
		 * destination-translated packet */
		if (ns_dnat_dest(svc, dn, &p->t, &s->in_key.saddr, &s->in_key.sport))
			return NS_CNT_DROP_UNSUPPORTED;
		s->nat_type = NS_NAT_DNAT44;
		s->nat_term = nat;
		s->pool_id = dn->dst_pool;
		s->flags |= NS_SF_NAT_DST;
		if (dn->flags & NS_NAT_F_SYSLOG)
			s->flags |= NS_SF_SYSLOG;
	}
	return ns_session_publish(s, &sc->a, cfg, NULL, sp);
}

/* Verdict for packets natsync does not translate: the box's own, or
 * @otherwise. */
static __always_inline __u32 ns_local_or(struct ns_pkt *p, __u32 otherwise)
{
	return ns_is_local(p) ? NS_CNT_PASS_LOCAL : otherwise;
}

/* Sanity checks after parsing; NS_CONTINUE when the packet is ours. */
static __always_inline __u32 ns_classify(struct ns_pkt *p, int rc)
{
	if (rc == NS_PARSE_NON_IP)
		return NS_CNT_PASS_NON_IP;
	if (rc == NS_PARSE_MALFORMED)
		return NS_CNT_DROP_MALFORMED;
	if (!p->active)
		return ns_local_or(p, NS_CNT_DROP_INACTIVE);
	if (p->ttl <= 1)
		return ns_local_or(p, NS_CNT_PASS_TTL);
	if (rc == NS_PARSE_FRAGMENT) /* a later fragment: bpf/frag.h */
		return NS_CONTINUE;
	if (rc == NS_PARSE_OTHER_L4)
		return ns_local_or(p, NS_CNT_DROP_UNSUPPORTED);
	if (p->t.proto == IPPROTO_ICMP && p->icmp_type != ICMP_ECHO &&
	    p->icmp_type != ICMP_ECHOREPLY && !ns_icmp_is_error(p->icmp_type))
		return ns_local_or(p, NS_CNT_DROP_UNSUPPORTED);
	return NS_CONTINUE;
}

/**
 * ns_pipeline_begin() - the interface, the config bank, the service set
 * and the parse, for every program.
 * Return: NS_CONTINUE with *@p, *@cfgp, *@svcp, *@svc_id and the parse
 * result *@rc filled, else the verdict.
 */
static __always_inline __u32 ns_pipeline_begin(void *ctx, const bool is_tc, struct ns_pkt *p,
					       struct ns_cfg **cfgp, struct ns_svc **svcp,
					       __u32 *svc_id, int *rc)
{
	struct ns_cfg *live, *cfg;
	struct ns_iface *ifc;
	struct ns_svc *svc;
	__u32 key = NS_CFG_SLOT_LIVE, bank;

	__builtin_memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	if (is_tc) {
		struct __sk_buff *skb = ctx;
		__u32 len = skb->len < NS_TC_PULL_LEN ? skb->len : NS_TC_PULL_LEN;

		bpf_skb_pull_data(skb, len);
		p->ifindex = skb->ifindex;
	} else {
		p->ifindex = ((struct xdp_md *)ctx)->ingress_ifindex;
	}
	ifc = bpf_map_lookup_elem(&ns_ifaces, &p->ifindex);
	live = bpf_map_lookup_elem(&ns_config, &key);
	if (!ifc || !live)
		return NS_CNT_PASS_NO_SVC;
	/* One read of the bank: the whole packet uses one config (a reload
	 * flips it between packets, never within one). */
	bank = *(volatile __u32 *)&live->bank & 1;
	p->active = !!(*(volatile __u32 *)&live->flags & NS_CFG_F_ACTIVE);
	p->bank = bank;
	key = NS_CFG_SLOT_BANK(bank);
	cfg = bpf_map_lookup_elem(&ns_config, &key);
	*svc_id = ifc->svc_set;
	if (!cfg || *svc_id >= NS_MAX_SVC_SETS)
		return NS_CNT_PASS_NO_SVC;
	key = bank * NS_MAX_SVC_SETS + *svc_id;
	svc = bpf_map_lookup_elem(&ns_svc, &key);
	if (!svc)
		return NS_CNT_PASS_NO_SVC;
	p->side = ifc->side == NS_SIDE_OUTSIDE ? NS_SIDE_OUTSIDE : NS_SIDE_INSIDE;
	*cfgp = cfg;
	*svcp = svc;
	*rc = ns_parse(p, is_tc);
	return NS_CONTINUE;
}

/**
 * ns_pipeline() - everything between parsing and the verdict.
 * @ctx: program context; @is_tc: compile-time constant.
 * Return: the verdict counter.
 */
static __always_inline __u32 ns_pipeline(void *ctx, const bool is_tc)
{
	struct ns_session *s = NULL;
	struct ns_open_scratch *osc;
	struct ns_tuple nt;
	struct ns_cfg *cfg;
	struct ns_svc *svc;
	struct ns_pkt p;
	__u32 cnt, svc_id, pass;
	int rc, fib_rc;
	bool first_frag;

	cnt = ns_pipeline_begin(ctx, is_tc, &p, &cfg, &svc, &svc_id, &rc);
	if (cnt != NS_CONTINUE)
		return cnt;
	if (rc == NS_PARSE_IPV6) {
		cnt = ns64_from_inside(&p, is_tc, cfg, svc, svc_id, false);
		return cnt == NS64_FRAG ? ns_frag64_tail(ctx, is_tc) : cnt;
	}
	cnt = ns_classify(&p, rc);
	if (cnt != NS_CONTINUE)
		return cnt;
	osc = ns_scratch();
	if (!osc)
		return NS_CNT_DROP_SESSION_FULL;
	if (rc == NS_PARSE_FRAGMENT) {
		cnt = ns_frag_later(&p, is_tc, svc, &osc->fk);
		return cnt == NS64_FRAG ? ns_frag64_tail(ctx, is_tc) : cnt;
	}
	if (p.t.proto == IPPROTO_ICMP && ns_icmp_is_error(p.icmp_type)) {
		if (p.side == NS_SIDE_OUTSIDE) {
			p.to_pool = ns_svc_pool_addr_g(svc, p.t.daddr);
			/* about a NAT64 flow: it leaves as ICMPv6 */
			cnt = is_tc ? ns64_icmp_error_tc(&p, cfg) : ns64_icmp_error_xdp(&p, cfg);
			if (cnt != NS_CONTINUE)
				return cnt;
		}
		return is_tc ? ns_icmp_error_tc(&p) : ns_icmp_error_xdp(&p);
	}

	/*
	 * Pass 0 is the packet as it arrived. Hairpinning (RFC 4787 REQ-9,
	 * RFC 5382 REQ-8): a subscriber talking to another subscriber's
	 * binding or to a dnat-44 service of the box leaves pass 0
	 * source-translated towards that public endpoint; pass 1 then treats
	 * it as arriving from the outside (session via ns_session_rev, an EIF
	 * binding, a dnat-44 term, else dropped as unsolicited) and
	 * translates the destination to the inside endpoint. Sessions opened
	 * towards such an endpoint carry NS_SF_HAIRPIN; older ones (or
	 * replicated ones without it) still turn when the destination routes
	 * nowhere, as a pool address does.
	 */
	first_frag = ns_frag_first(&p, is_tc, &osc->fk);
	for (pass = 0; pass < 2; pass++) {
		s = ns_session_find(&p.t, p.side);
		if (!s && !pass && p.side == NS_SIDE_OUTSIDE) {
			/* a reply to a NAT64 flow leaves as IPv6 */
			cnt = is_tc ? ns64_from_outside_tc(&p, cfg, svc, svc_id)
				    : ns64_from_outside_xdp(&p, cfg, svc, svc_id);
			if (cnt == NS64_FRAG)
				return ns_frag64_tail(ctx, is_tc);
			if (cnt != NS_CONTINUE)
				return cnt;
		}
		if (s) {
			ns_count(NS_CNT_SESSION_HIT);
		} else {
			if (p.side == NS_SIDE_INSIDE)
				cnt = ns_open_inside(&p, is_tc, cfg, svc, svc_id, &s);
			else
				cnt = ns_open_outside(&p, is_tc, cfg, svc, svc_id, &s);
			if (cnt != NS_CONTINUE)
				return cnt;
			if (!s)
				return NS_CNT_DROP_SESSION_FULL;
		}

		ns_session_account(s, &p, p.side, ns_now_coarse());
		if (p.side == NS_SIDE_INSIDE)
			ns_tuple_reverse(&nt, &s->out_key);
		else
			ns_tuple_reverse(&nt, &s->in_key);
		if (ns_rewrite(&p, is_tc, &nt))
			return NS_CNT_DROP_MALFORMED;
		if (!pass && p.side == NS_SIDE_INSIDE && (s->flags & NS_SF_HAIRPIN)) {
			p.side = NS_SIDE_OUTSIDE;
			p.hairpin = 1;
			continue;
		}
		cnt = ns_forward_rc(&p, is_tc, &fib_rc);
		if (pass || p.side != NS_SIDE_INSIDE || !ns_fib_nowhere(fib_rc) ||
		    !(s->flags & NS_SF_NAT_SRC))
			break;
		p.side = NS_SIDE_OUTSIDE;
		p.hairpin = 1;
	}
	if (first_frag)
		ns_frag_first_done(&p, &osc->fk, cnt);
	return cnt;
}

/* Entry helper: count RX and the verdict, return the program's action. */
static __always_inline int ns_run(void *ctx, const bool is_tc)
{
	__u32 cnt;

	ns_count(NS_CNT_RX);
	cnt = ns_pipeline(ctx, is_tc);
	ns_count(cnt);
	return ns_action(cnt, is_tc);
}

#endif /* NATSYNC_BPF_PIPELINE_H */
