// SPDX-License-Identifier: GPL-2.0
/*
 * test_nat.c - NAPT44 translation through BPF_PROG_TEST_RUN, XDP and TC:
 * outbound and inbound TCP, UDP and ICMP echo, every output checksum
 * verified by full recomputation, sessions and TCP state checked in the map.
 */
#include "tests/bpf/fixture.h"
#include <criterion/criterion.h>

static void setup(void)
{
	t_setup(1024);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(nat, .init = setup, .fini = teardown);

static int in_pool(uint32_t addr_be)
{
	uint32_t a = ntohl(addr_be), first = ntohl(pkt_ip(T_POOL_FIRST));

	return a >= first && a < first + 4;
}

/* Full TCP handshake + data + FIN through XDP (tc=0) or TC (tc=1). */
static void tcp_flow(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec s = t_spec_out(IPPROTO_TCP, T_SUB, 40000, T_REM, 80);
	struct pkt_info o, r;
	struct ns_tuple k = t_tuple(T_SUB, 40000, T_REM, 80, IPPROTO_TCP);
	struct ns_session sess;

	s.tcp_flags = 0x02;
	o = t_send(tc, t_ifin, &s, fwd, NULL, NULL);
	cr_assert(o.ok, "outbound SYN checksums");
	cr_assert(in_pool(o.saddr), "source is a pool address");
	cr_assert_eq(o.daddr, pkt_ip(T_REM));
	cr_assert(o.sport >= 1024, "port auto keeps >= 1024: %u", o.sport);
	cr_assert_eq(o.dport, 80);
	cr_assert_eq(o.ttl, 63, "ttl decremented");
	cr_assert_arr_eq(o.dmac, t_mac_rem, 6, "next-hop MAC");
	cr_assert_arr_eq(o.smac, t_mac_out, 6, "egress MAC");
	cr_assert_eq(t_session(&k, &sess), 0, "session created");
	cr_assert_eq(sess.tcp_state, NS_TCP_SYN_SENT);
	cr_assert_eq(sess.out_key.daddr, o.saddr);
	cr_assert_eq(ntohs(sess.out_key.dport), o.sport);
	cr_assert(sess.flags & NS_SF_NAT_SRC);

	/* SYN-ACK back to the pool address */
	struct pkt_spec b = t_spec_in(IPPROTO_TCP, T_REM, 80, "0.0.0.0", o.sport);
	char pool[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	b.dst = pool;
	b.tcp_flags = 0x12;
	b.ack = 1001;
	r = t_send(tc, t_ifout, &b, fwd, NULL, NULL);
	cr_assert(r.ok, "inbound SYN-ACK checksums");
	cr_assert_eq(r.saddr, pkt_ip(T_REM));
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	cr_assert_eq(r.dport, 40000);
	cr_assert_arr_eq(r.dmac, t_mac_sub, 6);
	t_session(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_SYN_RECV);

	/* ACK with data: payload untouched, state established */
	s.tcp_flags = 0x18;
	s.payload = 333;
	uint8_t in[PKT_MAX];
	int len = pkt_build(in, &s);
	struct pkt_info sent = pkt_parse(in, len);

	o = t_send(tc, t_ifin, &s, fwd, NULL, NULL);
	cr_assert(o.ok);
	cr_assert_eq(o.payload_sum, sent.payload_sum);
	t_session(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_ESTABLISHED);
	cr_assert_eq(sess.packets[NS_SIDE_INSIDE], 2);
	cr_assert_eq(sess.packets[NS_SIDE_OUTSIDE], 1);

	/* FIN from both sides */
	s.tcp_flags = 0x11;
	s.payload = 0;
	t_send(tc, t_ifin, &s, fwd, NULL, NULL);
	t_session(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_FIN_WAIT);
	b.tcp_flags = 0x11;
	t_send(tc, t_ifout, &b, fwd, NULL, NULL);
	t_session(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_TIME_WAIT);
	cr_assert_eq(t_cnt(NS_CNT_SESSION_NEW), 1);
	cr_assert_eq(t_cnt(NS_CNT_NAT_ALLOC), 1);
	cr_assert_eq(t_cnt(NS_CNT_FWD_REDIRECT), 5);
}

Test(nat, tcp_xdp)
{
	tcp_flow(0);
}

Test(nat, tcp_tc)
{
	tcp_flow(1);
}

static void udp_flow(int tc, int nocsum)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 5353, T_REM, 53);
	struct pkt_info o, r;
	char pool[INET_ADDRSTRLEN];

	s.payload = 41;
	s.udp_nocsum = nocsum;
	o = t_send(tc, t_ifin, &s, fwd, NULL, NULL);
	cr_assert(o.ok, "outbound UDP checksums");
	cr_assert(in_pool(o.saddr));
	cr_assert(o.sport >= 1024);
	if (nocsum)
		cr_assert_eq(o.udp_csum, 0, "UDP checksum 0 stays 0");
	else
		cr_assert_neq(o.udp_csum, 0);

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, pool, o.sport);

	b.payload = 77;
	b.udp_nocsum = nocsum;
	r = t_send(tc, t_ifout, &b, fwd, NULL, NULL);
	cr_assert(r.ok, "inbound UDP checksums");
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	cr_assert_eq(r.dport, 5353);
	cr_assert_eq(r.sport, 53);
}

Test(nat, udp_xdp)
{
	udp_flow(0, 0);
}

Test(nat, udp_tc)
{
	udp_flow(1, 0);
}

Test(nat, udp_zero_checksum_xdp)
{
	udp_flow(0, 1);
}

Test(nat, udp_zero_checksum_tc)
{
	udp_flow(1, 1);
}

static void icmp_flow(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec s = t_spec_out(IPPROTO_ICMP, T_SUB, 0x1234, T_REM, 0);
	struct pkt_info o, r;
	char pool[INET_ADDRSTRLEN];

	s.icmp_type = 8;
	s.icmp_seq = 7;
	s.payload = 56;
	o = t_send(tc, t_ifin, &s, fwd, NULL, NULL);
	cr_assert(o.ok, "outbound echo checksums");
	cr_assert(in_pool(o.saddr));
	cr_assert_eq(o.icmp_type, 8);

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	struct pkt_spec b = t_spec_in(IPPROTO_ICMP, T_REM, 0, pool, 0);

	b.icmp_type = 0;
	b.icmp_id = o.icmp_id;
	b.icmp_seq = 7;
	b.payload = 56;
	r = t_send(tc, t_ifout, &b, fwd, NULL, NULL);
	cr_assert(r.ok, "inbound echo reply checksums");
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	cr_assert_eq(r.icmp_id, 0x1234, "echo id restored");
	cr_assert_eq(r.icmp_type, 0);
}

Test(nat, icmp_echo_xdp)
{
	icmp_flow(0);
}

Test(nat, icmp_echo_tc)
{
	icmp_flow(1);
}

Test(nat, low_port_stays_low)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 123, T_REM, 123);
	struct pkt_info o = t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);

	cr_assert(o.ok);
	cr_assert(o.sport >= 512 && o.sport <= 1023, "port %u", o.sport);
}

Test(nat, ip_options)
{
	struct pkt_spec s = t_spec_out(IPPROTO_TCP, T_SUB, 40001, T_REM, 443);
	struct pkt_info o;

	s.tcp_flags = 0x02;
	s.ip_opt = 8;
	o = t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(o.ok, "checksums with IP options");
	cr_assert(in_pool(o.saddr));
	cr_assert_eq(o.l4_off - o.l3_off, 28);
}

Test(nat, unsolicited_inbound_dropped)
{
	struct pkt_spec b = t_spec_in(IPPROTO_UDP, T_REM, 53, T_POOL_FIRST, 3000);

	t_send(0, t_ifout, &b, XDP_RET_DROP, NULL, NULL);
	b.dst = T_SUB; /* straight at a subscriber */
	t_send(0, t_ifout, &b, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 2);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 0);
}

static int n_open, n_alloc;

static int event_cb(void *ctx, void *data, size_t sz)
{
	const struct ns_event *e = data;

	(void)ctx;
	cr_assert_eq(sz, sizeof(*e));
	if (e->type == NS_EV_SESSION_OPEN)
		n_open++;
	if (e->type == NS_EV_NAT_ALLOC)
		n_alloc++;
	cr_assert_eq(e->in_key.saddr, pkt_ip(T_SUB));
	return 0;
}

Test(nat, events_on_open)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 6000, T_REM, 53);
	struct ring_buffer *rb;

	t_set_cfg(NS_CFG_F_ACTIVE | NS_CFG_F_EVENTS);
	t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	rb = ring_buffer__new(t_fd("ns_events"), event_cb, NULL, NULL);
	cr_assert_not_null(rb);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	cr_assert_eq(n_open, 1);
	cr_assert_eq(n_alloc, 1);
}
