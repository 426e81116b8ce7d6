// SPDX-License-Identifier: GPL-2.0
/*
 * test_dnat.c - destination NAT through BPF_PROG_TEST_RUN, XDP and TC:
 *  - dnat-44 (match-direction output): outside-originated flows to a public
 *    address are sent to an inside server (address, optionally port), the
 *    server's replies are translated back; TCP, UDP, ICMP echo; port
 *    forwarding on the box's own address; firewall discard still wins;
 *    ICMP errors about such flows from both sides;
 *  - twice-nat (match-direction input): source from the source pool
 *    (napt-44), destination from the destination pool, both directions,
 *    ICMP errors.
 * Every output checksum is verified by full recomputation (tests/bpf/pkt.h).
 */
#include "tests/bpf/fixture.h"
#include <criterion/criterion.h>

#define T_PUB "203.0.113.80"  /* dnat-44 public address (not in pool 0) */
#define T_SRV T_SUB2	      /* the inside server (has a neighbour) */
#define T_SVC "198.51.100.53" /* twice-nat service address */
#define T_REAL T_REM2	      /* twice-nat: the real server behind it */

static void setup(void)
{
	t_setup(1024);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(dnat, .init = setup, .fini = teardown);

/*
 * dnat-44 in front of the default napt-44 term: @pub:@dport (proto, 0 =
 * any with all ports) goes to T_SRV, port @srv_port (0: kept).
 */
static void dnat_config(const char *pub, uint8_t proto, uint16_t dport, uint16_t srv_port)
{
	struct ns_match m = t_match("0.0.0.0", 0, pub, 32, proto, proto ? dport : 0,
				    proto ? dport : 0xffff, NS_DIR_OUTPUT);

	t_set_pool(1, T_SRV, 1, srv_port, srv_port, 0);
	t_set_nat2(0, m, NS_NAT_DNAT44, 0xff, 1);
	t_set_nat(1, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_NAPT44, 0, 0);
	t_set_svc(0, 0, 0, 2, 0);
}

/* Outside client -> public:80 -> server:8080, handshake, data, FIN. */
static void dnat_tcp(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec c = t_spec_in(IPPROTO_TCP, T_REM, 40000, T_PUB, 80);
	struct pkt_spec v = t_spec_out(IPPROTO_TCP, T_SRV, 8080, T_REM, 40000);
	struct ns_tuple k = t_tuple(T_SRV, 8080, T_REM, 40000, IPPROTO_TCP);
	struct ns_session sess;
	struct pkt_info o, r, sent;
	uint8_t buf[PKT_MAX];

	dnat_config(T_PUB, IPPROTO_TCP, 80, 8080);
	c.tcp_flags = 0x02;
	r = t_send(tc, t_ifout, &c, fwd, NULL, NULL);
	cr_assert(r.ok, "inbound SYN checksums");
	cr_assert_eq(r.daddr, pkt_ip(T_SRV), "destination is the server");
	cr_assert_eq(r.dport, 8080, "destination port from the pool");
	cr_assert_eq(r.saddr, pkt_ip(T_REM), "source untouched");
	cr_assert_eq(r.sport, 40000);
	cr_assert_eq(r.ttl, 63);
	cr_assert_arr_eq(r.dmac, t_mac_sub, 6, "next hop on the inside");
	cr_assert_eq(t_session(&k, &sess), 0, "in_key is the server's view");
	cr_assert_eq(sess.nat_type, NS_NAT_DNAT44);
	cr_assert_eq(sess.origin, NS_SIDE_OUTSIDE);
	cr_assert(sess.flags & NS_SF_NAT_DST);
	cr_assert(!(sess.flags & NS_SF_NAT_SRC));
	cr_assert_eq(sess.out_key.daddr, pkt_ip(T_PUB));
	cr_assert_eq(ntohs(sess.out_key.dport), 80);
	cr_assert_eq(sess.nat_term, 0);
	cr_assert_eq(sess.pool_id, 1);
	cr_assert_eq(sess.tcp_state, NS_TCP_SYN_SENT);

	/* the server's SYN-ACK leaves from the public address */
	v.tcp_flags = 0x12;
	o = t_send(tc, t_ifin, &v, fwd, NULL, NULL);
	cr_assert(o.ok, "outbound SYN-ACK checksums");
	cr_assert_eq(o.saddr, pkt_ip(T_PUB), "reply from the public address");
	cr_assert_eq(o.sport, 80);
	cr_assert_eq(o.daddr, pkt_ip(T_REM));
	cr_assert_eq(o.dport, 40000);
	cr_assert_arr_eq(o.dmac, t_mac_rem, 6);
	t_session(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_SYN_RECV);

	/* data from the client: payload intact, state established */
	c.tcp_flags = 0x18;
	c.payload = 301;
	sent = pkt_parse(buf, pkt_build(buf, &c));
	r = t_send(tc, t_ifout, &c, fwd, NULL, NULL);
	cr_assert(r.ok);
	cr_assert_eq(r.payload_sum, sent.payload_sum);
	t_session(&k, &sess);
	cr_assert_eq(sess.tcp_state, NS_TCP_ESTABLISHED);
	cr_assert_eq(sess.packets[NS_SIDE_OUTSIDE], 2);
	cr_assert_eq(sess.packets[NS_SIDE_INSIDE], 1);
	cr_assert_eq(t_cnt(NS_CNT_SESSION_NEW), 1);
	cr_assert_eq(t_cnt(NS_CNT_NAT_ALLOC), 0, "dnat-44 claims no pool port");
	cr_assert_eq(t_map_count(t_fd("ns_ports")), 0);

	/* other ports and protocols of the public address stay closed */
	c.tcp_flags = 0x02;
	c.payload = 0;
	c.dport = 81;
	t_send(tc, t_ifout, &c, tc ? TC_RET_SHOT : XDP_RET_DROP, NULL, NULL);
	c.proto = IPPROTO_UDP;
	c.dport = 80;
	t_send(tc, t_ifout, &c, tc ? TC_RET_SHOT : XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 2);
	/* a mid-stream segment to the public address opens nothing */
	c.proto = IPPROTO_TCP;
	c.sport = 40001;
	c.tcp_flags = 0x10;
	t_send(tc, t_ifout, &c, tc ? TC_RET_SHOT : XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_TCP_NO_SYN), 1);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 1);
}

Test(dnat, tcp_xdp)
{
	dnat_tcp(0);
}

Test(dnat, tcp_tc)
{
	dnat_tcp(1);
}

/* UDP, the pool has no port: the destination port is kept. */
static void dnat_udp(int tc, int nocsum)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec c = t_spec_in(IPPROTO_UDP, T_REM, 5000, T_PUB, 53);
	struct pkt_spec v = t_spec_out(IPPROTO_UDP, T_SRV, 53, T_REM, 5000);
	struct pkt_info o, r;

	dnat_config(T_PUB, IPPROTO_UDP, 53, 0);
	c.payload = 33;
	c.udp_nocsum = nocsum;
	r = t_send(tc, t_ifout, &c, fwd, NULL, NULL);
	cr_assert(r.ok, "inbound UDP checksums");
	cr_assert_eq(r.daddr, pkt_ip(T_SRV));
	cr_assert_eq(r.dport, 53, "port kept without a pool port");
	if (nocsum)
		cr_assert_eq(r.udp_csum, 0, "UDP checksum 0 stays 0");
	v.payload = 90;
	v.udp_nocsum = nocsum;
	o = t_send(tc, t_ifin, &v, fwd, NULL, NULL);
	cr_assert(o.ok, "outbound UDP checksums");
	cr_assert_eq(o.saddr, pkt_ip(T_PUB));
	cr_assert_eq(o.sport, 53);
	cr_assert_eq(o.daddr, pkt_ip(T_REM));
}

Test(dnat, udp_xdp)
{
	dnat_udp(0, 0);
}

Test(dnat, udp_tc)
{
	dnat_udp(1, 0);
}

Test(dnat, udp_zero_checksum_xdp)
{
	dnat_udp(0, 1);
}

/* A term for any protocol: ping the public address, the server answers. */
static void dnat_echo(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec c = t_spec_in(IPPROTO_ICMP, T_REM, 0, T_PUB, 0);
	struct pkt_spec v = t_spec_out(IPPROTO_ICMP, T_SRV, 0, T_REM, 0);
	struct pkt_info o, r;

	dnat_config(T_PUB, 0, 0, 8080);
	c.icmp_type = 8;
	c.icmp_id = 0x5151;
	c.icmp_seq = 3;
	c.payload = 56;
	r = t_send(tc, t_ifout, &c, fwd, NULL, NULL);
	cr_assert(r.ok, "echo request checksums");
	cr_assert_eq(r.daddr, pkt_ip(T_SRV));
	cr_assert_eq(r.icmp_id, 0x5151, "the pool port never applies to an echo id");
	v.icmp_type = 0;
	v.icmp_id = 0x5151;
	v.icmp_seq = 3;
	v.payload = 56;
	o = t_send(tc, t_ifin, &v, fwd, NULL, NULL);
	cr_assert(o.ok, "echo reply checksums");
	cr_assert_eq(o.saddr, pkt_ip(T_PUB));
	cr_assert_eq(o.daddr, pkt_ip(T_REM));
	cr_assert_eq(o.icmp_id, 0x5151);
	cr_assert_eq(o.icmp_type, 0);
}

Test(dnat, echo_xdp)
{
	dnat_echo(0);
}

Test(dnat, echo_tc)
{
	dnat_echo(1);
}

/* Port forwarding on the box's own outside address: the forwarded port is
 * translated, every other port still belongs to the box's stack. */
Test(dnat, port_forward_on_box_address)
{
	struct pkt_spec c = t_spec_in(IPPROTO_TCP, T_REM, 40000, "198.51.100.1", 2222);
	struct pkt_info r;

	dnat_config("198.51.100.1", IPPROTO_TCP, 2222, 22);
	c.tcp_flags = 0x02;
	r = t_send(0, t_ifout, &c, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(r.ok);
	cr_assert_eq(r.daddr, pkt_ip(T_SRV));
	cr_assert_eq(r.dport, 22);
	c.dport = 22;
	t_send(0, t_ifout, &c, XDP_RET_PASS, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_PASS_LOCAL), 1);
}

/* A firewall discard/reject for the outside still wins over dnat-44. */
Test(dnat, firewall_discard_wins)
{
	struct pkt_spec c = t_spec_in(IPPROTO_TCP, T_REM, 40000, T_PUB, 80);

	dnat_config(T_PUB, IPPROTO_TCP, 80, 8080);
	t_set_fw(0, t_match(T_REM, 32, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_OUTPUT), NS_FW_DISCARD);
	t_set_svc(0, 1, 0, 2, NS_SVC_F_HAS_FW);
	c.tcp_flags = 0x02;
	t_send(0, t_ifout, &c, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FW_DISCARD), 1);
	c.src = T_REM2; /* not discarded: dnat-44 admits it */
	t_send(0, t_ifout, &c, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 1);
}

/* An exemption term matching first means no destination translation. */
Test(dnat, exemption_first_means_no_dnat)
{
	struct pkt_spec c = t_spec_in(IPPROTO_TCP, T_REM, 40000, T_PUB, 80);
	struct ns_nat_term t;
	uint32_t idx = 0;

	dnat_config(T_PUB, IPPROTO_TCP, 80, 8080);
	memset(&t, 0, sizeof(t));
	t.m = t_match(T_REM, 32, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_OUTPUT);
	t.flags = NS_NAT_F_NO_TRANSLATION;
	t.src_pool = t.dst_pool = 0xff;
	cr_assert_eq(bpf_map_update_elem(t_fd("ns_nat_terms"), &idx, &t, BPF_ANY), 0);
	t_set_nat(1, t_match("0.0.0.0", 0, T_PUB, 32, IPPROTO_TCP, 80, 80, NS_DIR_OUTPUT),
		  NS_NAT_DNAT44, 0, 0xff);
	idx = 1;
	cr_assert_eq(bpf_map_lookup_elem(t_fd("ns_nat_terms"), &idx, &t), 0);
	t.dst_pool = 1;
	cr_assert_eq(bpf_map_update_elem(t_fd("ns_nat_terms"), &idx, &t, BPF_ANY), 0);
	c.tcp_flags = 0x02;
	t_send(0, t_ifout, &c, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1);
	c.src = T_REM2;
	t_send(0, t_ifout, &c, XDP_RET_REDIRECT, NULL, NULL);
}

/* Two public addresses onto one server endpoint: a client reusing its port
 * for both would give two flows one in_key. The second is refused, never
 * translated into the first flow's session. */
Test(dnat, in_key_collision_refused)
{
	struct pkt_spec c = t_spec_in(IPPROTO_TCP, T_REM, 40000, T_PUB, 80);
	struct ns_tuple k = t_tuple(T_SRV, 8080, T_REM, 40000, IPPROTO_TCP);
	struct ns_session sess;

	dnat_config(T_PUB, IPPROTO_TCP, 80, 8080);
	t_set_nat2(2, t_match("0.0.0.0", 0, "203.0.113.81", 32, IPPROTO_TCP, 80, 80, NS_DIR_OUTPUT),
		 NS_NAT_DNAT44, 0xff, 1);
	t_set_svc(0, 0, 0, 3, 0);
	c.tcp_flags = 0x02;
	t_send(0, t_ifout, &c, XDP_RET_REDIRECT, NULL, NULL);
	c.dst = "203.0.113.81";
	t_send(0, t_ifout, &c, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_SESSION_FULL), 1);
	cr_assert_eq(t_session(&k, &sess), 0);
	cr_assert_eq(sess.out_key.daddr, pkt_ip(T_PUB), "the first flow keeps its session");
	cr_assert_eq(sess.packets[NS_SIDE_OUTSIDE], 1);
	cr_assert_eq(t_map_count(t_fd("ns_session_rev")), 1);
}

/* ICMP errors about a dnat-44 flow, from the client's side and from the
 * server itself. */
static void dnat_icmp_err(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec c = t_spec_in(IPPROTO_UDP, T_REM, 5000, T_PUB, 53);
	struct pkt_spec v = t_spec_out(IPPROTO_UDP, T_SRV, 5353, T_REM, 5000);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	struct pkt_info o, r, in;
	int slen, elen, olen;

	dnat_config(T_PUB, IPPROTO_UDP, 53, 5353);
	c.payload = 10;
	r = t_send(tc, t_ifout, &c, fwd, sent, &slen);
	cr_assert(r.ok);
	/* the server says port unreachable about what it received */
	elen = pkt_build_icmp_err(err, t_mac_sub, t_mac_in, T_SRV, T_REM, 3, 3, sent + r.l3_off,
				  r.ip_len);
	cr_assert_eq(tc ? t_run_tc(t_ifin, err, elen, out, &olen)
			: t_run_xdp(t_ifin, err, elen, out, &olen),
		     fwd);
	o = pkt_parse(out, olen);
	cr_assert(o.ok, "outer checksums");
	cr_assert_eq(o.saddr, pkt_ip(T_PUB), "the server is known as the public address");
	cr_assert_eq(o.daddr, pkt_ip(T_REM));
	in = pkt_parse_l3(out + o.l4_off + 8, olen - o.l4_off - 8);
	cr_assert(in.ok, "quoted checksums");
	cr_assert_eq(in.saddr, pkt_ip(T_REM));
	cr_assert_eq(in.daddr, pkt_ip(T_PUB), "quoted destination as the client sent it");
	cr_assert_eq(in.dport, 53);
	cr_assert_eq(in.sport, 5000);

	/* a reply, then an error about it from the client's side */
	v.payload = 10;
	o = t_send(tc, t_ifin, &v, fwd, sent, &slen);
	cr_assert(o.ok);
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REM, T_PUB, 3, 3, sent + o.l3_off,
				  o.ip_len);
	cr_assert_eq(tc ? t_run_tc(t_ifout, err, elen, out, &olen)
			: t_run_xdp(t_ifout, err, elen, out, &olen),
		     fwd);
	r = pkt_parse(out, olen);
	cr_assert(r.ok);
	cr_assert_eq(r.daddr, pkt_ip(T_SRV), "error goes to the server");
	cr_assert_eq(r.saddr, pkt_ip(T_REM));
	in = pkt_parse_l3(out + r.l4_off + 8, olen - r.l4_off - 8);
	cr_assert(in.ok);
	cr_assert_eq(in.saddr, pkt_ip(T_SRV), "quoted as the server sent it");
	cr_assert_eq(in.sport, 5353);
	cr_assert_eq(in.daddr, pkt_ip(T_REM));
	cr_assert_eq(in.dport, 5000);
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 2);
}

Test(dnat, icmp_errors_xdp)
{
	dnat_icmp_err(0);
}

Test(dnat, icmp_errors_tc)
{
	dnat_icmp_err(1);
}

/* ---- twice-nat ----------------------------------------------------------- */

/* Subscribers -> T_SVC:53 (proto @proto, 0 = any) become pool -> T_REAL
 * (port @real_port, 0 = kept). */
static void twice_config(uint8_t proto, uint16_t real_port)
{
	struct ns_match m = t_match("100.64.0.0", 10, T_SVC, 32, proto, proto ? 53 : 0,
				    proto ? 53 : 0xffff, NS_DIR_INPUT);

	t_set_pool(1, T_REAL, 1, real_port, real_port, 0);
	t_set_nat2(0, m, NS_NAT_TWICE, 0, 1);
	t_set_nat(1, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_NAPT44, 0, 0);
	t_set_svc(0, 0, 0, 2, 0);
}

static int in_pool(uint32_t addr_be)
{
	uint32_t a = ntohl(addr_be), first = ntohl(pkt_ip(T_POOL_FIRST));

	return a >= first && a < first + 4;
}

static void twice_flow(int tc, uint8_t proto, uint16_t real_port)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec s = t_spec_out(proto, T_SUB, 5000, T_SVC, 53);
	struct ns_tuple k = t_tuple(T_SUB, 5000, T_SVC, 53, proto);
	struct ns_session sess;
	struct ns_port_key pk;
	struct ns_port_val pv;
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o, r;

	twice_config(proto, real_port);
	s.tcp_flags = 0x02;
	s.payload = 17;
	o = t_send(tc, t_ifin, &s, fwd, NULL, NULL);
	cr_assert(o.ok, "outbound checksums");
	cr_assert(in_pool(o.saddr), "source from the source pool");
	cr_assert(o.sport >= 1024, "napt port %u", o.sport);
	cr_assert_eq(o.daddr, pkt_ip(T_REAL), "destination from the destination pool");
	cr_assert_eq(o.dport, real_port ? real_port : 53);
	cr_assert_eq(t_session(&k, &sess), 0);
	cr_assert_eq(sess.nat_type, NS_NAT_TWICE);
	cr_assert_eq(sess.flags & (NS_SF_NAT_SRC | NS_SF_NAT_DST), NS_SF_NAT_SRC | NS_SF_NAT_DST);
	cr_assert_eq(sess.pool_id, 0, "the session's pool is the source pool");
	memset(&pk, 0, sizeof(pk));
	pk.addr = o.saddr;
	pk.port = htons(o.sport);
	pk.proto = proto;
	cr_assert_eq(bpf_map_lookup_elem(t_fd("ns_ports"), &pk, &pv), 0, "port claimed");
	cr_assert_eq(pv.in_addr, pkt_ip(T_SUB));

	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	struct pkt_spec b = t_spec_in(proto, T_REAL, o.dport, pool, o.sport);

	b.tcp_flags = 0x12;
	b.payload = 40;
	r = t_send(tc, t_ifout, &b, fwd, NULL, NULL);
	cr_assert(r.ok, "inbound checksums");
	cr_assert_eq(r.saddr, pkt_ip(T_SVC), "reply from the service address");
	cr_assert_eq(r.sport, 53);
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	cr_assert_eq(r.dport, 5000);
	/* other destinations still take the plain napt-44 term */
	s.dst = T_REM;
	o = t_send(tc, t_ifin, &s, fwd, NULL, NULL);
	cr_assert_eq(o.daddr, pkt_ip(T_REM));
	cr_assert_eq(o.dport, 53);
}

Test(dnat, twice_udp_xdp)
{
	twice_flow(0, IPPROTO_UDP, 5353);
}

Test(dnat, twice_udp_tc)
{
	twice_flow(1, IPPROTO_UDP, 5353);
}

Test(dnat, twice_tcp_xdp)
{
	twice_flow(0, IPPROTO_TCP, 0);
}

Test(dnat, twice_tcp_tc)
{
	twice_flow(1, IPPROTO_TCP, 0);
}

Test(dnat, twice_echo)
{
	struct pkt_spec s = t_spec_out(IPPROTO_ICMP, T_SUB, 0x7777, T_SVC, 0);
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o, r;

	twice_config(0, 5353);
	s.icmp_type = 8;
	s.payload = 24;
	o = t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(o.ok);
	cr_assert(in_pool(o.saddr));
	cr_assert_eq(o.daddr, pkt_ip(T_REAL));
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	struct pkt_spec b = t_spec_in(IPPROTO_ICMP, T_REAL, 0, pool, 0);

	b.icmp_type = 0;
	b.icmp_id = o.icmp_id;
	b.payload = 24;
	r = t_send(0, t_ifout, &b, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(r.ok);
	cr_assert_eq(r.saddr, pkt_ip(T_SVC));
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	cr_assert_eq(r.icmp_id, 0x7777);
}

/* The real server answers port unreachable: the subscriber sees it from
 * the service address, quoting exactly what it sent. */
Test(dnat, twice_icmp_error_from_server)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, 5000, T_SVC, 53);
	uint8_t sent[PKT_MAX * 2], err[PKT_MAX], out[PKT_MAX * 2];
	char pool[INET_ADDRSTRLEN];
	struct pkt_info o, r, in;
	int slen, elen, olen;

	twice_config(IPPROTO_UDP, 5353);
	s.payload = 12;
	o = t_send(0, t_ifin, &s, XDP_RET_REDIRECT, sent, &slen);
	inet_ntop(AF_INET, &o.saddr, pool, sizeof(pool));
	elen = pkt_build_icmp_err(err, t_mac_rem, t_mac_out, T_REAL, pool, 3, 3, sent + o.l3_off,
				  o.ip_len);
	cr_assert_eq(t_run_xdp(t_ifout, err, elen, out, &olen), XDP_RET_REDIRECT);
	r = pkt_parse(out, olen);
	cr_assert(r.ok);
	cr_assert_eq(r.saddr, pkt_ip(T_SVC), "from the service address");
	cr_assert_eq(r.daddr, pkt_ip(T_SUB));
	in = pkt_parse_l3(out + r.l4_off + 8, olen - r.l4_off - 8);
	cr_assert(in.ok, "quoted checksums");
	cr_assert_eq(in.saddr, pkt_ip(T_SUB));
	cr_assert_eq(in.sport, 5000);
	cr_assert_eq(in.daddr, pkt_ip(T_SVC));
	cr_assert_eq(in.dport, 53);
}
