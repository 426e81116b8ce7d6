/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nat64_fixture.h - the NAT64 test bed shared by test_nat64.c (translation,
 * ICMP errors) and test_nat64_rfc6146.c (bindings, RFC 6052 prefixes, MSS,
 * VLAN, events): fixture.h's namespace and skeleton plus one
 * stateful-nat64 term 2001:db8:64::/48 -> 64:ff9b::/96 on pool 1
 * (203.0.113.64/31), IPv6 on the inside interface, and the helpers that
 * send IPv6 from the subscriber and IPv4 from the remote host.
 */
#ifndef NATSYNC_TEST_NAT64_FIXTURE_H
#define NATSYNC_TEST_NAT64_FIXTURE_H

#include "tests/bpf/fixture.h"
#include "tests/bpf/pkt6.h"

#define T6_SUB "2001:db8:64::2"
#define T6_SUB2 "2001:db8:64::3"	 /* a second subscriber, same /64 */
#define T6_SUB3 "2001:db8:64:1::2" /* a subscriber of another /64 */
#define T6_REM "64:ff9b::198.51.100.2" /* = 64:ff9b::c633:6402 */
#define T64_POOL "203.0.113.64"

/* Suite .init/.fini: t_setup(1024), IPv6 forwarding, the subscriber's
 * neighbour, t64_config(2, 0, 0, automatic random ports); the invariant
 * checked and everything torn down. */
void t64_setup(void);
void t64_teardown(void);

/* Write @k -> @v into @m; assert it succeeds. */
void t64_put_map(struct bpf_map *m, const void *k, const void *v);
/* Pool 1 = T64_POOL, @pool_count addresses, ports @lo..@hi, @pool_flags;
 * the NAT64 term (bank 0, term 0) and the live and bank 0 configs. */
void t64_config(uint32_t pool_count, uint16_t lo, uint16_t hi, uint32_t pool_flags);
/* Term 0 of bank 0 with the flags @flags (NS_NAT_F_EIM/EIF) and pref64
 * @pref/@len; neighbours for the other subscribers. */
void t64_term(uint8_t flags, const char *pref, uint8_t len);
/* Bank 0's config with @flags added (events) and a subscriber limit. */
void t64_cfg_set(uint32_t flags, uint32_t max_per_sub);

/* T6_SUB:@sport -> T6_REM:@dport (ICMPv6 echo request, id @sport, if
 * @proto is PKT6_ICMP), subscriber MAC -> inside interface. */
struct pkt6_spec t64_spec6(uint8_t proto, uint16_t sport, uint16_t dport);
/* Send an IPv6 frame from the subscriber, assert the verdict @expect,
 * parse the IPv4 result (*@sent_sum: the payload sum sent, unless NULL). */
struct pkt_info t64_out6(int tc, const struct pkt6_spec *s, int expect, uint32_t *sent_sum);
/* Send an IPv4 frame from the remote host, assert the verdict @expect,
 * parse the IPv6 result. */
struct pkt6_info t64_in4(int tc, const struct pkt_spec *s, int expect);
/* The reply from the remote host to what @o left as (@pool: a buffer of
 * INET_ADDRSTRLEN for the pool address). */
struct pkt_spec t64_reply_to(const struct pkt_info *o, char *pool);
/* @src:@sport -> @pool:@port from the outside (@buf as in t64_reply_to). */
struct pkt_spec t64_in_from(const char *src, uint8_t proto, uint16_t sport, uint32_t pool,
			    uint16_t port, char *buf);
/* A translated reply: checksums, pref64 source, subscriber destination,
 * one hop, MACs from the IPv6 fib lookup. */
void t64_expect_v6_reply(const struct pkt6_info *r, int tc);

/* The IPv6 key T6_SUB:@sport -> T6_REM:@dport of ns_nat64_sess, and the
 * session under @k (0 when found). */
struct ns_tuple6 t64_key6(uint8_t proto, uint16_t sport, uint16_t dport);
int t64_session6(const struct ns_tuple6 *k, struct ns_session *s);
/* Is @addr_be one of the two addresses of T64_POOL? */
int t64_in_pool(uint32_t addr_be);

#endif /* NATSYNC_TEST_NAT64_FIXTURE_H */
