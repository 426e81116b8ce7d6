// SPDX-License-Identifier: GPL-2.0
/*
 * test_sublimit.c - max-sessions-per-subscriber (RFC 6888 REQ-4) through
 * BPF_PROG_TEST_RUN: the limit refuses new flows of one subscriber (counted
 * drop_subscriber_limit, nothing allocated), never evicts or disturbs its
 * existing sessions, does not touch other subscribers, frees up as the
 * daemon counts deleted sessions in ns_sub_closed, and costs nothing when
 * it is 0.
 */
#include "tests/bpf/fixture.h"
#include <criterion/criterion.h>
#include <unistd.h>

static void setup(void)
{
	t_setup(1024);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(sublimit, .init = setup, .fini = teardown);

static void set_limit(uint32_t limit)
{
	struct ns_cfg c = {.flags = NS_CFG_F_ACTIVE, .n_svc = 1, .max_sess_per_sub = limit};
	uint32_t k = NS_CFG_SLOT_BANK(0); /* bank 0 is in force (fixture) */

	cr_assert_eq(bpf_map_update_elem(t_fd("ns_config"), &k, &c, BPF_ANY), 0);
}

static struct ns_sub_key sub_key(const char *addr)
{
	struct ns_sub_key k;

	memset(&k, 0, sizeof(k));
	k.addr = pkt_ip(addr);
	return k;
}

static uint64_t sub_val(const char *map, const char *addr)
{
	struct ns_sub_key k = sub_key(addr);
	uint64_t v = 0;

	if (bpf_map_lookup_elem(t_fd(map), &k, &v))
		return (uint64_t)-1;
	return v;
}

static struct pkt_info udp_out(int tc, const char *src, uint16_t sport, int expect)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, src, sport, T_REM, 53);

	return t_send(tc, t_ifin, &s, expect, NULL, NULL);
}

/* Expire one session as the daemon does: delete it, free its port, count
 * it closed for its subscriber. */
static void expire(const char *src, uint16_t sport)
{
	struct ns_tuple ik = t_tuple(src, sport, T_REM, 53, IPPROTO_UDP);
	struct ns_sub_key k = sub_key(src);
	struct ns_port_key pk;
	struct ns_session s;
	uint64_t closed = 0;

	cr_assert_eq(t_session(&ik, &s), 0);
	cr_assert(s.flags & NS_SF_SUB_COUNTED, "the session was counted");
	memset(&pk, 0, sizeof(pk));
	pk.addr = s.out_key.daddr;
	pk.port = s.out_key.dport;
	pk.proto = IPPROTO_UDP;
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_session_rev"), &s.out_key), 0);
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_sessions"), &ik), 0);
	cr_assert_eq(bpf_map_delete_elem(t_fd("ns_ports"), &pk), 0);
	bpf_map_lookup_elem(t_fd("ns_sub_closed"), &k, &closed);
	closed++;
	cr_assert_eq(bpf_map_update_elem(t_fd("ns_sub_closed"), &k, &closed, BPF_ANY), 0);
}

static void limit_flow(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	int drop = tc ? TC_RET_SHOT : XDP_RET_DROP;
	struct pkt_info o;
	char pool[INET_ADDRSTRLEN];
	int i;

	set_limit(3);
	for (i = 0; i < 3; i++)
		udp_out(tc, T_SUB, 1000 + i, fwd);
	udp_out(tc, T_SUB, 1003, drop);
	cr_assert_eq(t_cnt(NS_CNT_DROP_SUBSCRIBER_LIMIT), 1);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 3);
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 3, "a refused flow claims no port");
	cr_assert_eq(sub_val("ns_sub_created", T_SUB), 3);

	/* nothing evicted: the existing flows work both ways */
	o = udp_out(tc, T_SUB, 1000, fwd);
	cr_assert(o.ok);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, pool, o.sport);
	struct pkt_info r = t_send(tc, t_ifout, &b, fwd, NULL, NULL);

	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	cr_assert_eq(r.dport, 1000);

	/* another subscriber has its own budget */
	udp_out(tc, T_SUB2, 1003, fwd);
	cr_assert_eq(sub_val("ns_sub_created", T_SUB2), 1);

	/* the daemon deletes one session: room for exactly one more */
	expire(T_SUB, 1001);
	udp_out(tc, T_SUB, 1003, fwd);
	udp_out(tc, T_SUB, 1004, drop);
	cr_assert_eq(t_cnt(NS_CNT_DROP_SUBSCRIBER_LIMIT), 2);
	cr_assert_eq(sub_val("ns_sub_created", T_SUB), 4);
	cr_assert_eq(sub_val("ns_sub_closed", T_SUB), 1);
}

Test(sublimit, limit_xdp)
{
	limit_flow(0);
}

Test(sublimit, limit_tc)
{
	limit_flow(1);
}

/* A TCP flow refused by the limit: the SYN is dropped, not reset. */
Test(sublimit, tcp_syn_dropped_silently)
{
	struct pkt_spec s = t_spec_out(IPPROTO_TCP, T_SUB, 2000, T_REM, 80);

	set_limit(1);
	s.tcp_flags = 0x02;
	t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	s.sport = 2001;
	t_send(0, t_ifin, &s, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_SUBSCRIBER_LIMIT), 1);
	cr_assert_eq(t_cnt(NS_CNT_TX_REJECT), 0);
}

/* Limit 0: no accounting at all, sessions are not marked. */
Test(sublimit, zero_means_unlimited)
{
	struct ns_tuple ik = t_tuple(T_SUB, 1000, T_REM, 53, IPPROTO_UDP);
	struct ns_session s;
	int i;

	for (i = 0; i < 20; i++)
		udp_out(0, T_SUB, 1000 + i, XDP_RET_REDIRECT);
	cr_assert_eq(t_map_count(t_fd("ns_sub_created")), 0);
	cr_assert_eq(t_session(&ik, &s), 0);
	cr_assert(!(s.flags & NS_SF_SUB_COUNTED));
	cr_assert_eq(t_cnt(NS_CNT_DROP_SUBSCRIBER_LIMIT), 0);
}

/* Sessions opened from the outside (here a firewall accept) are not the
 * subscriber's own: they neither count nor are refused. */
Test(sublimit, inbound_sessions_not_counted)
{
	struct pkt_spec b = t_spec_in(IPPROTO_TCP, T_REM, 3000, T_SUB, 22);

	set_limit(1);
	t_set_fw(0, t_match("0.0.0.0", 0, "100.64.0.0", 10, IPPROTO_TCP, 22, 22, NS_DIR_OUTPUT),
		 NS_FW_ACCEPT);
	t_set_svc(0, 1, 0, 1, 0);
	b.tcp_flags = 0x02;
	t_send(0, t_ifout, &b, XDP_RET_REDIRECT, NULL, NULL);
	b.sport = 3001;
	t_send(0, t_ifout, &b, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert_eq(t_map_count(t_fd("ns_sub_created")), 0);
	udp_out(0, T_SUB, 1000, XDP_RET_REDIRECT);
	cr_assert_eq(sub_val("ns_sub_created", T_SUB), 1);
}

/* closed above created (the daemon reset a subscriber while a flow was
 * being opened): nothing is taken as live, the subscriber is not locked
 * out. */
Test(sublimit, closed_above_created_admits)
{
	struct ns_sub_key k = sub_key(T_SUB);
	uint64_t v = 5;

	set_limit(2);
	cr_assert_eq(bpf_map_update_elem(t_fd("ns_sub_closed"), &k, &v, BPF_ANY), 0);
	udp_out(0, T_SUB, 1000, XDP_RET_REDIRECT);
	udp_out(0, T_SUB, 1001, XDP_RET_REDIRECT);
	cr_assert_eq(sub_val("ns_sub_created", T_SUB), 2);
}

static int n_limit_ev, n_other_ev;

static int limit_ev_cb(void *ctx, void *data, size_t len)
{
	const struct ns_event *e = data;

	(void)ctx;
	cr_assert_geq(len, sizeof(*e));
	if (e->type == NS_EV_SUBSCRIBER_LIMIT) {
		n_limit_ev++;
		cr_assert_eq(e->in_key.saddr, pkt_ip(T_SUB), "the refused subscriber");
		cr_assert_eq(e->in_key.proto, IPPROTO_UDP);
	} else {
		n_other_ev++;
	}
	return 0;
}

static void drain_events(void)
{
	struct ring_buffer *rb = ring_buffer__new(t_fd("ns_events"), limit_ev_cb, NULL, NULL);

	cr_assert_not_null(rb);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
}

/* A subscriber flooding new flows past its limit: every refusal is
 * counted, but the ring buffer gets at most one SUBSCRIBER_LIMIT event per
 * CPU per 100 ms, so the flood cannot crowd out other events. */
Test(sublimit, limit_event_sampled)
{
	struct ns_cfg c = {.flags = NS_CFG_F_ACTIVE | NS_CFG_F_EVENTS, .n_svc = 1,
			   .max_sess_per_sub = 2};
	uint32_t k = NS_CFG_SLOT_BANK(0);
	int i;

	t_set_cfg(NS_CFG_F_ACTIVE | NS_CFG_F_EVENTS);
	cr_assert_eq(bpf_map_update_elem(t_fd("ns_config"), &k, &c, BPF_ANY), 0);
	udp_out(0, T_SUB, 1000, XDP_RET_REDIRECT);
	udp_out(0, T_SUB, 1001, XDP_RET_REDIRECT);
	for (i = 0; i < 200; i++)
		udp_out(0, T_SUB, 2000 + i, XDP_RET_DROP);
	cr_assert_eq(t_cnt(NS_CNT_DROP_SUBSCRIBER_LIMIT), 200, "every refusal counted");
	drain_events();
	/* test_run may move between the two CPUs: one event per CPU at most */
	cr_assert(n_limit_ev >= 1 && n_limit_ev <= 2, "%d SUBSCRIBER_LIMIT events", n_limit_ev);
	cr_assert_eq(n_other_ev, 4, "SESSION_OPEN + NAT_ALLOC of the two admitted flows");
	/* 100 ms later the next refusal is reported again */
	usleep(150 * 1000);
	n_limit_ev = 0;
	udp_out(0, T_SUB, 3000, XDP_RET_DROP);
	drain_events();
	cr_assert_eq(n_limit_ev, 1);
}
