// SPDX-License-Identifier: GPL-2.0
/*
 * test_synhold.c - the 6-second hold of IPv4-initiated NAT64 SYNs
 * (daemon/synhold.c, RFC 6146 3.5.2.2) with an advanced clock and mocked
 * effects: a held SYN is released (re-injected as it arrived) once its flow
 * is open, not before; one that no outbound SYN matched is answered with
 * ICMP port unreachable no earlier than 6 s, its checksums recomputed
 * here; retransmissions are held once; a full table drops and counts; what
 * is no TCP SYN is refused.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "daemon/synhold.h"
#include "tests/bpf/pkt.h"
#include "tests/bpf/tuple.h"

#define S (1000ull * 1000 * 1000)

static struct {
	struct ns_tuple open; /* the flow the mock says is open */
	bool is_open;
	int reinjected, sent;
	uint32_t ifindex;
	uint8_t pkt[2048];
	uint32_t len;
} m;

static bool m_opened(void *ctx, const struct ns_tuple *t)
{
	(void)ctx;
	return m.is_open && !memcmp(t, &m.open, sizeof(*t));
}

static int m_reinject(void *ctx, uint32_t ifindex, const uint8_t *pkt, uint32_t len)
{
	(void)ctx;
	m.reinjected++;
	m.ifindex = ifindex;
	memcpy(m.pkt, pkt, len);
	m.len = len;
	return 0;
}

static int m_send(void *ctx, const uint8_t *pkt, uint32_t len)
{
	(void)ctx;
	m.sent++;
	memcpy(m.pkt, pkt, len);
	m.len = len;
	return 0;
}

static const struct ns_synhold_ops ops = { m_opened, m_reinject, m_send };

/* The IPv4 packet (no Ethernet header) of a TCP segment
 * 198.51.100.20:@sport -> 203.0.113.17:40000 with @flags and @payload
 * bytes, built by tests/bpf/pkt.h with every checksum right (the tests
 * use 20 bytes: a 60-byte packet, as a SYN with its options is). */
static uint32_t syn(uint8_t *p, uint16_t sport, uint8_t flags, int payload)
{
	struct pkt_spec sp = { .src = "198.51.100.20", .dst = "203.0.113.17",
			       .proto = IPPROTO_TCP, .sport = sport, .dport = 40000,
			       .tcp_flags = flags, .seq = 0x11223344, .ttl = 63,
			       .payload = payload };
	uint8_t f[PKT_MAX];
	int n = pkt_build(f, &sp);

	memcpy(p, f + 14, n - 14);
	return (uint32_t)(n - 14);
}

static struct ns_tuple tuple_of(uint16_t sport)
{
	return pkt_tuple_str("198.51.100.20", sport, "203.0.113.17", 40000, IPPROTO_TCP);
}

/* The Internet checksum over @n bytes folds to 0xffff when it is right
 * (recomputed here, never taken from the code under test). */
static int csum_ok(const uint8_t *b, uint32_t n)
{
	return pkt_csum(b, n, 0) == 0;
}

static struct ns_synhold *h;

static void setup(void)
{
	memset(&m, 0, sizeof(m));
	h = ns_synhold_new(&ops, NULL);
	cr_assert_not_null(h);
}

static void teardown(void)
{
	ns_synhold_free(h);
}

TestSuite(synhold, .init = setup, .fini = teardown);

Test(synhold, released_by_an_outbound_syn_within_6s)
{
	uint8_t p[60], orig[60];
	uint64_t t0 = 1000 * S;

	syn(p, 5555, 0x02, 20);
	memcpy(orig, p, sizeof(p));
	cr_assert_eq(ns_synhold_add(h, p, 60, 7, t0), 0);
	cr_assert_eq(ns_synhold_get(h)->waiting, 1);
	ns_synhold_tick(h, t0 + 3 * S);
	cr_assert_eq(m.reinjected + m.sent, 0, "nothing happens while held");
	/* the subscriber's outbound SYN opens the flow at 4 s */
	m.open = tuple_of(5555);
	m.is_open = true;
	ns_synhold_tick(h, t0 + 4 * S);
	cr_assert_eq(m.reinjected, 1);
	cr_assert_eq(m.sent, 0, "a released SYN is never answered");
	cr_assert_eq(m.ifindex, 7, "re-injected on the interface it arrived on");
	cr_assert_eq(m.len, 60);
	cr_assert_arr_eq(m.pkt, orig, 60, "re-injected exactly as it arrived");
	cr_assert_eq(ns_synhold_get(h)->released, 1);
	cr_assert_eq(ns_synhold_get(h)->waiting, 0);
	ns_synhold_tick(h, t0 + 10 * S);
	cr_assert_eq(m.reinjected + m.sent, 1, "released once");
}

Test(synhold, flow_open_already_when_the_copy_arrives)
{
	uint8_t p[60];

	m.open = tuple_of(5555);
	m.is_open = true;
	syn(p, 5555, 0x02, 20);
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, 5 * S), 0);
	cr_assert_eq(m.reinjected, 1);
	cr_assert_eq(ns_synhold_get(h)->waiting, 0);
}

Test(synhold, expired_after_6s_icmp_port_unreachable)
{
	uint8_t p[60];
	uint32_t a;
	uint64_t t0 = 50 * S;

	syn(p, 6666, 0x02, 20);
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, t0), 0);
	m.open = tuple_of(5555); /* another flow opens: not this one's */
	m.is_open = true;
	ns_synhold_tick(h, t0 + NS_SYN_HOLD_NS - 1);
	cr_assert_eq(m.sent + m.reinjected, 0, "never answered before 6 s");
	ns_synhold_tick(h, t0 + NS_SYN_HOLD_NS);
	cr_assert_eq(m.reinjected, 0);
	cr_assert_eq(m.sent, 1);
	cr_assert_eq(ns_synhold_get(h)->expired, 1);
	cr_assert_eq(ns_synhold_get(h)->waiting, 0);
	/* IPv4: 20 + ICMP 8 + the whole 60-byte SYN quoted */
	cr_assert_eq(m.len, 88);
	cr_assert_eq(m.pkt[0], 0x45);
	cr_assert_eq(m.pkt[2] << 8 | m.pkt[3], 88);
	cr_assert_eq(m.pkt[9], IPPROTO_ICMP);
	cr_assert_eq(m.pkt[8], 64);
	inet_pton(AF_INET, "203.0.113.17", &a);
	cr_assert_eq(memcmp(m.pkt + 12, &a, 4), 0, "from the address the SYN was sent to");
	inet_pton(AF_INET, "198.51.100.20", &a);
	cr_assert_eq(memcmp(m.pkt + 16, &a, 4), 0, "to the SYN's source");
	cr_assert(csum_ok(m.pkt, 20), "IPv4 header checksum");
	cr_assert_eq(m.pkt[20], 3, "destination unreachable");
	cr_assert_eq(m.pkt[21], 3, "port unreachable");
	cr_assert(csum_ok(m.pkt + 20, 68), "ICMP checksum");
	cr_assert_arr_eq(m.pkt + 28, p, 60, "the stored SYN quoted");
	ns_synhold_tick(h, t0 + 20 * S);
	cr_assert_eq(m.sent, 1, "answered once");
}

Test(synhold, icmp_quote_capped_at_576_bytes)
{
	uint8_t p[1200], out[NS_SYNHOLD_ICMP_MAX];
	int n;

	syn(p, 7777, 0x02, 20);
	memset(p + 60, 0xab, sizeof(p) - 60); /* more data: 1,200 bytes */
	p[2] = sizeof(p) >> 8;
	p[3] = sizeof(p) & 0xff;
	p[10] = p[11] = 0;
	{
		uint16_t c = pkt_csum(p, 20, 0);

		p[10] = c >> 8;
		p[11] = c & 0xff;
	}
	n = ns_synhold_icmp(out, sizeof(out), p, sizeof(p));
	cr_assert_eq(n, 576);
	cr_assert_eq(out[2] << 8 | out[3], 576);
	cr_assert(csum_ok(out, 20));
	cr_assert(csum_ok(out + 20, 556));
	cr_assert_arr_eq(out + 28, p, 548);
	cr_assert_eq(ns_synhold_icmp(out, 100, p, sizeof(p)), -EINVAL, "buffer too small");
}

Test(synhold, retransmission_held_once_its_6s_from_the_first)
{
	uint8_t p[60];
	uint64_t t0 = 10 * S;

	syn(p, 5555, 0x02, 20);
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, t0), 0);
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, t0 + 1 * S), 0);
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, t0 + 3 * S), 0);
	cr_assert_eq(ns_synhold_get(h)->held, 1);
	cr_assert_eq(ns_synhold_get(h)->duplicates, 2);
	cr_assert_eq(ns_synhold_get(h)->waiting, 1);
	ns_synhold_tick(h, t0 + NS_SYN_HOLD_NS);
	cr_assert_eq(m.sent, 1, "one answer, 6 s after the first copy");
}

Test(synhold, flood_fills_the_table_then_counted_drops)
{
	uint8_t p[60];

	for (unsigned int i = 0; i < NS_SYNHOLD_MAX; i++) {
		syn(p, (uint16_t)(1024 + i), 0x02, 20);
		cr_assert_eq(ns_synhold_add(h, p, 60, 3, S), 0);
	}
	syn(p, 60000, 0x02, 20);
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, S), -ENOSPC);
	cr_assert_eq(ns_synhold_get(h)->table_full, 1);
	cr_assert_eq(ns_synhold_get(h)->waiting, NS_SYNHOLD_MAX);
	/* nothing due: one check still looks at the whole table (the last
	 * slot's flow, opened, is released) */
	m.open = tuple_of(1024 + NS_SYNHOLD_MAX - 1);
	m.is_open = true;
	ns_synhold_tick(h, 3 * S);
	cr_assert_eq(m.reinjected, 1);
	cr_assert_eq(m.sent, 0);
	m.is_open = false;
	/* all due at once: a check answers at most NS_SYNHOLD_TICK_MAX, the
	 * next ones the rest, each SYN once */
	for (unsigned int k = 1; ns_synhold_get(h)->waiting; k++) {
		unsigned int before = m.sent;

		cr_assert_leq(k, (NS_SYNHOLD_MAX - 1 + NS_SYNHOLD_TICK_MAX - 1) / NS_SYNHOLD_TICK_MAX,
			      "drained in as few checks as the bound allows");
		ns_synhold_tick(h, S + NS_SYN_HOLD_NS + (k - 1) * 100 * 1000 * 1000ull);
		cr_assert_eq(m.sent - before,
			     before + NS_SYNHOLD_TICK_MAX <= NS_SYNHOLD_MAX - 1
				     ? NS_SYNHOLD_TICK_MAX
				     : NS_SYNHOLD_MAX - 1 - before,
			     "check %u answered %u", k, m.sent - before);
	}
	cr_assert_eq(m.sent, NS_SYNHOLD_MAX - 1);
	cr_assert_eq(ns_synhold_get(h)->expired, NS_SYNHOLD_MAX - 1);
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, 20 * S), 0, "room again once they expired");
}

Test(synhold, not_a_syn_refused)
{
	uint8_t p[60];

	syn(p, 5555, 0x12, 20); /* SYN-ACK */
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, S), -EINVAL);
	syn(p, 5555, 0x02, 20);
	cr_assert_eq(ns_synhold_add(h, p, 59, 3, S), -EINVAL, "length not the IPv4 total length");
	p[9] = IPPROTO_UDP;
	cr_assert_eq(ns_synhold_add(h, p, 60, 3, S), -EINVAL);
	cr_assert_eq(ns_synhold_get(h)->bad, 3);
	cr_assert_eq(ns_synhold_get(h)->waiting, 0);
}
