/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tuple.h - struct ns_tuple (common/natsync.h) from an address as text or
 * as a number, for the C tests and the benchmarks: the key of a session,
 * of its reverse entry, of the packets the tests build with pkt.h.
 */
#ifndef NATSYNC_TEST_TUPLE_H
#define NATSYNC_TEST_TUPLE_H

#include "common/natsync.h"
#include "tests/bpf/pkt.h"

/* Addresses in network order, ports in host order. */
static inline struct ns_tuple pkt_tuple_be(uint32_t saddr, uint16_t sport, uint32_t daddr,
					   uint16_t dport, uint8_t proto)
{
	struct ns_tuple t;

	memset(&t, 0, sizeof(t));
	t.saddr = saddr;
	t.daddr = daddr;
	t.sport = htons(sport);
	t.dport = htons(dport);
	t.proto = proto;
	return t;
}

/* Addresses as dotted quads, ports in host order. */
static inline struct ns_tuple pkt_tuple_str(const char *s, uint16_t sport, const char *d,
					    uint16_t dport, uint8_t proto)
{
	return pkt_tuple_be(pkt_ip(s), sport, pkt_ip(d), dport, proto);
}

#endif /* NATSYNC_TEST_TUPLE_H */
