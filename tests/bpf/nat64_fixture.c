// SPDX-License-Identifier: GPL-2.0
/* nat64_fixture.c - see nat64_fixture.h. */
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "natsync.skel.h"
#include "tests/bpf/nat64_fixture.h"

void t64_put_map(struct bpf_map *m, const void *k, const void *v)
{
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(m), k, v, BPF_ANY), 0, "map %s",
		     bpf_map__name(m));
}

/* The default fixture plus: pool 1 = 203.0.113.64/31 (automatic random
 * ports), one stateful-nat64 term 2001:db8:64::/48 -> 64:ff9b::/96 on pool
 * 1, and IPv6 on the inside interface with a neighbour for the subscriber. */
void t64_config(uint32_t pool_count, uint16_t lo, uint16_t hi, uint32_t pool_flags)
{
	struct ns_cfg c = {.flags = NS_CFG_F_ACTIVE, .n_svc = 1, .n_nat64 = 1};
	struct ns_nat64_term t;
	uint32_t k = 0;

	t_set_pool(1, T64_POOL, pool_count, lo, hi, pool_flags);
	memset(&t, 0, sizeof(t));
	pkt6_addr("2001:db8:64::", t.src6);
	t.src6_len = 48;
	pkt6_addr("64:ff9b::", t.pref64);
	t.pref_len = 96;
	t.src_pool = 1;
	t64_put_map(t_skel->maps.ns_nat64_terms, &k, &t); /* bank 0, term 0 */
	t64_put_map(t_skel->maps.ns_config, &k, &c);     /* live slot: role, bank 0 */
	k = NS_CFG_SLOT_BANK(0);
	t64_put_map(t_skel->maps.ns_config, &k, &c);     /* bank 0: n_nat64 */
}

void t64_setup(void)
{
	t_setup(1024);
	t_sh("echo 1 > /proc/sys/net/ipv6/conf/all/forwarding");
	t_sh("ip -6 addr add 2001:db8:64::1/64 dev nsbt_in nodad");
	t_sh("ip -6 neigh replace 2001:db8:64::2 lladdr 02:00:00:00:00:02 dev nsbt_in nud "
	     "permanent");
	t64_config(2, 0, 0, NS_POOL_F_PORT_AUTO | NS_POOL_F_RANDOM_PORT);
}

void t64_teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

struct pkt6_spec t64_spec6(uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct pkt6_spec s;

	memset(&s, 0, sizeof(s));
	memcpy(s.smac, t_mac_sub, 6);
	memcpy(s.dmac, t_mac_in, 6);
	s.src = T6_SUB;
	s.dst = T6_REM;
	s.proto = proto;
	s.sport = sport;
	s.dport = dport;
	s.icmp_type = 128;
	s.icmp_id = sport;
	s.icmp_seq = 7;
	s.seq = 1000;
	return s;
}

/* Send an IPv6 frame from the subscriber; parse the IPv4 result. */
struct pkt_info t64_out6(int tc, const struct pkt6_spec *s, int expect, uint32_t *sent_sum)
{
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	int len = pkt6_build(in, s), olen = 0, rc;
	struct pkt6_info si = pkt6_parse(in, len);

	cr_assert(si.ok, "the test's own IPv6 frame checks");
	if (sent_sum)
		*sent_sum = si.payload_sum;
	rc = t_run(tc, t_ifin, in, len, out, &olen);
	cr_assert_eq(rc, expect, "%s returned %d, expected %d", tc ? "tc" : "xdp", rc, expect);
	return pkt_parse(out, olen);
}

/* Send an IPv4 frame from the remote host; parse the IPv6 result. */
struct pkt6_info t64_in4(int tc, const struct pkt_spec *s, int expect)
{
	uint8_t in[PKT_MAX], out[PKT_MAX * 2];
	int len = pkt_build(in, s), olen = 0, rc;

	rc = t_run(tc, t_ifout, in, len, out, &olen);
	cr_assert_eq(rc, expect, "%s returned %d, expected %d", tc ? "tc" : "xdp", rc, expect);
	return pkt6_parse(out, olen);
}

struct ns_tuple6 t64_key6(uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct ns_tuple6 k;

	memset(&k, 0, sizeof(k));
	pkt6_addr(T6_SUB, k.saddr);
	pkt6_addr(T6_REM, k.daddr);
	k.sport = htons(sport);
	k.dport = htons(dport);
	k.proto = proto;
	return k;
}

int t64_session6(const struct ns_tuple6 *k, struct ns_session *s)
{
	return bpf_map_lookup_elem(bpf_map__fd(t_skel->maps.ns_nat64_sess), k, s);
}

int t64_in_pool(uint32_t addr_be)
{
	uint32_t a = ntohl(addr_be), first = ntohl(pkt_ip(T64_POOL));

	return a >= first && a < first + 2;
}

/* The reply from the remote host to what @o left as. */
struct pkt_spec t64_reply_to(const struct pkt_info *o, char *pool)
{
	struct pkt_spec b = t_spec_in(o->proto, T_REM, o->dport, "0.0.0.0", o->sport);

	inet_ntop(AF_INET, &o->saddr, pool, INET_ADDRSTRLEN);
	b.dst = pool;
	return b;
}

void t64_expect_v6_reply(const struct pkt6_info *r, int tc)
{
	uint8_t a[16];

	(void)tc;
	cr_assert(r->ok, "IPv6 checksum by recomputation");
	pkt6_addr(T6_REM, a);
	cr_assert_arr_eq(r->saddr, a, 16, "source = pref64 + IPv4 source");
	pkt6_addr(T6_SUB, a);
	cr_assert_arr_eq(r->daddr, a, 16, "destination = the subscriber");
	cr_assert_eq(r->hop, 63, "hop limit decremented once");
	cr_assert_arr_eq(r->dmac, t_mac_sub, 6, "subscriber's MAC (fib AF_INET6)");
	cr_assert_arr_eq(r->smac, t_mac_in, 6);
}

/* Term 0 of bank 0 with the flags @flags (NS_NAT_F_EIM/EIF) and pref64
 * @pref/@len; neighbours for the other subscribers. */
void t64_term(uint8_t flags, const char *pref, uint8_t len)
{
	struct ns_nat64_term t;
	uint32_t k = 0;

	memset(&t, 0, sizeof(t));
	pkt6_addr("2001:db8:64::", t.src6);
	t.src6_len = 48;
	pkt6_addr(pref, t.pref64);
	t.pref_len = len;
	t.src_pool = 1;
	t.flags = flags;
	t64_put_map(t_skel->maps.ns_nat64_terms, &k, &t);
	t_sh("ip -6 neigh replace " T6_SUB2 " lladdr 02:00:00:00:00:02 dev nsbt_in nud permanent");
	t_sh("ip -6 route replace 2001:db8:64:1::/64 dev nsbt_in");
	t_sh("ip -6 neigh replace " T6_SUB3 " lladdr 02:00:00:00:00:02 dev nsbt_in nud permanent");
}

/* Bank 0's config with @flags added (events) and a subscriber limit. */
void t64_cfg_set(uint32_t flags, uint32_t max_per_sub)
{
	struct ns_cfg c = {.flags = NS_CFG_F_ACTIVE | flags, .n_svc = 1, .n_nat64 = 1,
			   .max_sess_per_sub = max_per_sub};
	uint32_t k = NS_CFG_SLOT_BANK(0);

	t64_put_map(t_skel->maps.ns_config, &k, &c);
}

struct pkt_spec t64_in_from(const char *src, uint8_t proto, uint16_t sport, uint32_t pool,
			       uint16_t port, char *buf)
{
	struct pkt_spec b = t_spec_in(proto, src, sport, "0.0.0.0", port);

	inet_ntop(AF_INET, &pool, buf, INET_ADDRSTRLEN);
	b.dst = buf;
	return b;
}
