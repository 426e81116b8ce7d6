// SPDX-License-Identifier: GPL-2.0
/*
 * test_hairpin.c - hairpinning through BPF_PROG_TEST_RUN (RFC 4787 REQ-9,
 * RFC 5382 REQ-8): a subscriber reaching a public endpoint of its own box.
 *  - a dnat-44 service through its public address and port ("NAT
 *    loopback"): on a pool-like address that routes nowhere, on the box's
 *    own address, and on an address that routes out of the box; with a
 *    napt-44, dynamic-nat44 or basic-nat44 sender, TCP and UDP, XDP and
 *    TC. The server sees the sender's public address, the sender sees the
 *    service's public address; an output firewall term that discards or
 *    rejects it drops the hairpinned packet; a sender without source
 *    translation is not turned round (its private address never reaches
 *    the server);
 *  - another subscriber's binding, with that binding's filtering:
 *    napt-44 with EIM but not EIF, dynamic-nat44 and basic-nat44 accept
 *    only what answers the target's own flow (an unsolicited packet is
 *    dropped, after the target sent to the sender's public endpoint it
 *    passes both ways). EIM+EIF is test_alloc.c's hairpin test;
 *  - an ICMP error from the server about a hairpinned datagram, translated
 *    twice back to the subscriber (RFC 5508 REQ-7), XDP and TC.
 * Every output checksum is verified by full recomputation (tests/bpf/pkt.h).
 */
#include "tests/bpf/fixture.h"
#include <criterion/criterion.h>

#define T_PUB "203.0.113.80" /* dnat-44 public address, blackholed, not pool 0 */
#define T_BOX "198.51.100.1" /* the box's own outside address */
#define T_SRV T_SUB2	     /* the inside server */
#define T_SRV_PORT 8080
#define T_PUB_PORT 80

static void setup(void)
{
	t_setup(1024);
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(hairpin, .init = setup, .fini = teardown);

/* Is @a (network order) one of pool 0's four addresses? */
static int in_pool0(uint32_t a)
{
	uint32_t first = ntohl(pkt_ip(T_POOL_FIRST)), h = ntohl(a);

	return h >= first && h < first + 4;
}

/*
 * Term 0: dnat-44 of @pub:80 (@proto) to T_SRV:8080; term 1: the
 * subscribers' source translation @type (100.64.0.0/30, pool 0, @flags).
 * @fw: with firewall terms (input: accept; output to @pub: @fw_action).
 */
static void config(const char *pub, uint8_t proto, uint8_t type, uint8_t flags, int fw,
		   uint8_t fw_action)
{
	t_set_pool(1, T_SRV, 1, T_SRV_PORT, T_SRV_PORT, 0);
	t_set_nat2(0,
		   t_match("0.0.0.0", 0, pub, 32, proto, T_PUB_PORT, T_PUB_PORT, NS_DIR_OUTPUT),
		   NS_NAT_DNAT44, 0xff, 1);
	t_set_nat(1, t_match("100.64.0.0", 30, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT), type,
		  flags, 0);
	if (!fw) {
		t_set_svc(0, 0, 0, 2, 0);
		return;
	}
	t_set_fw(0, t_match("0.0.0.0", 0, pub, 32, proto, T_PUB_PORT, T_PUB_PORT, NS_DIR_OUTPUT),
		 fw_action);
	t_set_fw(1, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		 NS_FW_ACCEPT);
	t_set_svc(0, 2, 0, 2, NS_SVC_F_HAS_FW);
}

static int has_flag(const char *src, uint16_t sport, const char *dst, uint16_t dport,
		    uint8_t proto, uint32_t flag)
{
	struct ns_tuple k = t_tuple(src, sport, dst, dport, proto);
	struct ns_session s;

	return !t_session(&k, &s) && (s.flags & flag) == flag;
}

/* The subscriber reaches the dnat-44 service at @pub:80 and the server
 * answers; both legs turn round inside the box. */
static void loopback(int tc, uint8_t proto, uint8_t type, const char *pub)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec c = t_spec_out(proto, T_SUB, 5000, pub, T_PUB_PORT);
	struct pkt_info o, r;
	char src[INET_ADDRSTRLEN];

	config(pub, proto, type, type == NS_NAT_NAPT44 ? NS_NAT_F_EIM : 0, 0, 0);
	c.tcp_flags = 0x02;
	c.payload = 12;
	o = t_send(tc, t_ifin, &c, fwd, NULL, NULL);
	cr_assert(o.ok, "hairpinned checksums");
	cr_assert_eq(o.daddr, pkt_ip(T_SRV), "to the server");
	cr_assert_eq(o.dport, T_SRV_PORT);
	cr_assert(in_pool0(o.saddr), "the server sees the subscriber's public address");
	if (type != NS_NAT_NAPT44)
		cr_assert_eq(o.sport, 5000, "ports kept");
	cr_assert_arr_eq(o.dmac, t_mac_sub, 6, "out of the inside interface");
	cr_assert_eq(o.proto, proto);

	inet_ntop(AF_INET, &o.saddr, src, sizeof(src));
	struct pkt_spec a = t_spec_out(proto, T_SRV, T_SRV_PORT, src, o.sport);

	a.tcp_flags = 0x12;
	a.payload = 7;
	r = t_send(tc, t_ifin, &a, fwd, NULL, NULL);
	cr_assert(r.ok, "answer's checksums");
	cr_assert_eq(r.daddr, pkt_ip(T_SUB), "answer to the subscriber");
	cr_assert_eq(r.dport, 5000);
	cr_assert_eq(r.saddr, pkt_ip(pub), "from the service's public address");
	cr_assert_eq(r.sport, T_PUB_PORT);
	cr_assert(has_flag(T_SUB, 5000, pub, T_PUB_PORT, proto, NS_SF_HAIRPIN));
	cr_assert(has_flag(T_SRV, T_SRV_PORT, src, o.sport, proto, NS_SF_HAIRPIN | NS_SF_NAT_DST));
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 2);
	cr_assert_eq(t_cnt(NS_CNT_FWD_REDIRECT), 2);
}

/* A named test that is one call of a scenario of this file. */
#define HAIRPIN_CASE(name, scenario, ...)                                                          \
	Test(hairpin, name)                                                                        \
	{                                                                                          \
		scenario(__VA_ARGS__);                                                             \
	}

HAIRPIN_CASE(dnat_tcp_xdp, loopback, 0, IPPROTO_TCP, NS_NAT_NAPT44, T_PUB)
HAIRPIN_CASE(dnat_tcp_tc, loopback, 1, IPPROTO_TCP, NS_NAT_NAPT44, T_PUB)
HAIRPIN_CASE(dnat_udp_xdp, loopback, 0, IPPROTO_UDP, NS_NAT_NAPT44, T_PUB)
HAIRPIN_CASE(dnat_udp_tc, loopback, 1, IPPROTO_UDP, NS_NAT_NAPT44, T_PUB)
HAIRPIN_CASE(dnat_from_dynamic_nat44, loopback, 0, IPPROTO_UDP, NS_NAT_DYNAMIC44, T_PUB)
HAIRPIN_CASE(dnat_from_basic_nat44, loopback, 0, IPPROTO_TCP, NS_NAT_BASIC44, T_PUB)
/* Port forwarding on the box's own address: local to the kernel, still
 * the NAT's for a subscriber. */
HAIRPIN_CASE(dnat_on_box_address, loopback, 0, IPPROTO_TCP, NS_NAT_NAPT44, T_BOX)
HAIRPIN_CASE(dnat_on_box_address_tc, loopback, 1, IPPROTO_UDP, NS_NAT_NAPT44, T_BOX)
/* A public address that routes out of the box (a neighbour has it): the
 * subscriber's flow still turns round instead of leaving. */
HAIRPIN_CASE(dnat_on_routed_address, loopback, 0, IPPROTO_TCP, NS_NAT_NAPT44, T_REM2)

/* An output firewall term that discards (or rejects) the service drops
 * the hairpinned packet too: nothing reaches the server, nothing is
 * answered (a reject cannot answer a packet whose sender is behind its
 * own translation). */
static void filtered(uint8_t action)
{
	struct pkt_spec c = t_spec_out(IPPROTO_UDP, T_SUB, 5001, T_PUB, T_PUB_PORT);

	config(T_PUB, IPPROTO_UDP, NS_NAT_NAPT44, 0, 1, action);
	t_send(0, t_ifin, &c, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_FW_DISCARD), 1);
	cr_assert_eq(t_cnt(NS_CNT_TX_REJECT), 0);
	cr_assert_eq(t_map_count(t_fd("ns_sessions")), 1, "only the sender's own session");
}

HAIRPIN_CASE(dnat_fw_discard_drops, filtered, NS_FW_DISCARD)
HAIRPIN_CASE(dnat_fw_reject_drops, filtered, NS_FW_REJECT)

/* No source translation for the sender (an exemption): not turned round,
 * so the server never sees a private source; the packet goes to the
 * kernel untranslated (which drops it: the address routes nowhere). */
Test(hairpin, no_source_nat_not_turned)
{
	struct pkt_spec c = t_spec_out(IPPROTO_UDP, T_SUB, 5002, T_PUB, T_PUB_PORT);
	struct pkt_info o;

	config(T_PUB, IPPROTO_UDP, NS_NAT_NAPT44, NS_NAT_F_NO_TRANSLATION, 0, 0);
	o = t_send(0, t_ifin, &c, XDP_RET_PASS, NULL, NULL);
	cr_assert(o.ok);
	cr_assert_eq(o.daddr, pkt_ip(T_PUB), "not translated to the server");
	cr_assert_eq(o.saddr, pkt_ip(T_SUB));
	cr_assert_eq(t_cnt(NS_CNT_FWD_STACK), 1);
	cr_assert(has_flag(T_SUB, 5002, T_PUB, T_PUB_PORT, IPPROTO_UDP, 0), "a session, firewall-only");
	cr_assert(!has_flag(T_SUB, 5002, T_PUB, T_PUB_PORT, IPPROTO_UDP, NS_SF_HAIRPIN));
}

/* The public endpoint of @src:@sport's session towards @dst:@dport. */
static void public_of(const char *src, uint16_t sport, const char *dst, uint16_t dport,
		      char *addr, uint16_t *port)
{
	struct ns_tuple k = t_tuple(src, sport, dst, dport, IPPROTO_UDP);
	struct ns_session s;

	cr_assert_eq(t_session(&k, &s), 0, "session of %s:%u", src, sport);
	inet_ntop(AF_INET, &s.out_key.daddr, addr, INET_ADDRSTRLEN);
	*port = ntohs(s.out_key.dport);
}

/*
 * Subscriber B's binding of translation @type (@flags), filtered as from
 * the outside: A's packet to it is dropped until B has sent to A's public
 * endpoint; then both directions pass, each side seeing the other's
 * public endpoint only.
 */
static void binding_filtering(uint8_t type, uint8_t flags)
{
	struct pkt_spec s;
	struct pkt_info o;
	char pub_a[INET_ADDRSTRLEN], pub_b[INET_ADDRSTRLEN];
	uint16_t port_a, port_b;

	t_set_nat(0, t_match("100.64.0.0", 30, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT), type,
		  flags, 0);
	t_set_svc(0, 0, 0, 1, 0);
	/* B's binding, from a flow of its own to the internet */
	s = t_spec_out(IPPROTO_UDP, T_SUB2, 6000, T_REM, 53);
	t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	public_of(T_SUB2, 6000, T_REM, 53, pub_b, &port_b);

	/* A -> B's binding, unsolicited: filtered */
	s = t_spec_out(IPPROTO_UDP, T_SUB, 5000, pub_b, port_b);
	t_send(0, t_ifin, &s, XDP_RET_DROP, NULL, NULL);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1, "unsolicited towards B's binding");
	public_of(T_SUB, 5000, pub_b, port_b, pub_a, &port_a);

	/* B -> A's public endpoint: answers A's flow, passes */
	s = t_spec_out(IPPROTO_UDP, T_SUB2, 6000, pub_a, port_a);
	o = t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(o.ok);
	cr_assert_eq(o.daddr, pkt_ip(T_SUB), "to A");
	cr_assert_eq(o.dport, 5000);
	cr_assert_eq(o.saddr, pkt_ip(pub_b), "A sees B's public endpoint");
	cr_assert_eq(o.sport, port_b);

	/* and now A -> B passes too */
	s = t_spec_out(IPPROTO_UDP, T_SUB, 5000, pub_b, port_b);
	o = t_send(0, t_ifin, &s, XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(o.ok);
	cr_assert_eq(o.daddr, pkt_ip(T_SUB2), "to B");
	cr_assert_eq(o.dport, 6000);
	cr_assert_eq(o.saddr, pkt_ip(pub_a), "B sees A's public endpoint");
	cr_assert_eq(o.sport, port_a);
	cr_assert_eq(t_cnt(NS_CNT_DROP_NO_SESSION), 1);
}

HAIRPIN_CASE(napt44_eim_without_eif_filters, binding_filtering, NS_NAT_NAPT44, NS_NAT_F_EIM)
HAIRPIN_CASE(dynamic_nat44_filters, binding_filtering, NS_NAT_DYNAMIC44, 0)
HAIRPIN_CASE(basic_nat44_filters, binding_filtering, NS_NAT_BASIC44, 0)

/*
 * RFC 5508 REQ-7: the dnat-44 server's port unreachable about a
 * hairpinned datagram reaches the subscriber as if the service's public
 * address had sent it, quoting the datagram as the subscriber sent it
 * (every checksum recomputed).
 */
static void icmp_error_back(int tc)
{
	int fwd = tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
	struct pkt_spec c = t_spec_out(IPPROTO_UDP, T_SUB, 5000, T_PUB, T_PUB_PORT);
	uint8_t out[PKT_MAX * 2], err[PKT_MAX * 2], res[PKT_MAX * 2], sent[PKT_MAX];
	struct pkt_info o, e, qi;
	char pub_a[INET_ADDRSTRLEN];
	int olen, elen, rlen, hl;
	const uint8_t *q;

	config(T_PUB, IPPROTO_UDP, NS_NAT_NAPT44, NS_NAT_F_EIM, 0, 0);
	c.payload = 12;
	pkt_build(sent, &c);
	o = t_send(tc, t_ifin, &c, fwd, out, &olen);
	cr_assert(o.ok && o.daddr == pkt_ip(T_SRV));
	inet_ntop(AF_INET, &o.saddr, pub_a, sizeof(pub_a));
	/* the server quotes what it received */
	elen = pkt_build_icmp_err(err, t_mac_sub, t_mac_in, T_SRV, pub_a, 3, 3, out + o.l3_off,
				  o.ip_len);
	rlen = 0;
	cr_assert_eq(tc ? t_run_tc(t_ifin, err, elen, res, &rlen) :
			  t_run_xdp(t_ifin, err, elen, res, &rlen),
		     fwd);
	e = pkt_parse(res, rlen);
	cr_assert(e.ok, "outer checksums");
	cr_assert_eq(e.icmp_type, 3);
	cr_assert_eq(e.icmp_code, 3);
	cr_assert_eq(e.daddr, pkt_ip(T_SUB), "to the subscriber");
	cr_assert_eq(e.saddr, pkt_ip(T_PUB), "from the service's public address");
	q = res + e.l4_off + 8;
	hl = (q[0] & 0xf) * 4;
	qi = pkt_parse_l3(q, rlen - e.l4_off - 8);
	cr_assert(qi.ok, "quoted IPv4 and UDP checksums");
	cr_assert_eq(qi.saddr, pkt_ip(T_SUB), "quote: the subscriber's own datagram");
	cr_assert_eq(qi.daddr, pkt_ip(T_PUB));
	cr_assert_eq(qi.sport, 5000);
	cr_assert_eq(qi.dport, T_PUB_PORT);
	cr_assert_eq(memcmp(q + hl, sent + 14 + 20, 8 + 12), 0, "UDP header and data as sent");
	cr_assert_eq(t_cnt(NS_CNT_ICMP_ERR_XLATED), 1);
}

HAIRPIN_CASE(icmp_error_about_hairpinned_xdp, icmp_error_back, 0)
HAIRPIN_CASE(icmp_error_about_hairpinned_tc, icmp_error_back, 1)
