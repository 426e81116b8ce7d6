// SPDX-License-Identifier: GPL-2.0
/*
 * test_ipfix.c - the IPFIX export's records (daemon/ipfix_rec.c, ipfix.c)
 * decoded byte by byte by an RFC 7011 reader written here, independent of
 * libfixbuf: the message header, every template's elements in RFC 8158's
 * order, every record field by field; the event -> record mapping; the
 * config keys; and log.c's own syslog client against a socket the test
 * binds (and a missing one, said once).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/ipfix.h"
#include "daemon/ipfix_rec.h"
#include "daemon/log.h"

/* ---- a minimal RFC 7011 reader ------------------------------------------- */

#define MAX_MSGS 64
#define MAX_FIELDS 16
#define MAX_RECS 256

struct msgs {
	size_t n;
	size_t len[MAX_MSGS];
	uint8_t buf[MAX_MSGS][2048];
};

static void sink(void *ctx, const uint8_t *msg, size_t len)
{
	struct msgs *m = ctx;

	cr_assert_lt(m->n, MAX_MSGS);
	cr_assert_leq(len, sizeof(m->buf[0]));
	memcpy(m->buf[m->n], msg, len);
	m->len[m->n++] = len;
}

struct tmpl {
	uint16_t id, n;
	uint16_t ie[MAX_FIELDS], len[MAX_FIELDS];
};

struct rec {
	uint16_t tid;
	uint32_t seq;             /* the message's sequence number */
	const uint8_t *f[MAX_FIELDS];
};

struct decoded {
	struct tmpl t[IPFIX_N_TMPL];
	size_t n_tmpl;
	struct rec r[MAX_RECS];
	size_t n_rec;
	uint32_t domain;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

static const struct tmpl *find_tmpl(const struct decoded *d, uint16_t id)
{
	for (size_t i = 0; i < d->n_tmpl; i++)
		if (d->t[i].id == id)
			return &d->t[i];
	return NULL;
}

/* Decode one message into d (templates must come before their data). */
static void decode(struct decoded *d, const uint8_t *m, size_t len, uint16_t mtu)
{
	size_t off = 16;

	cr_assert_geq(len, 16);
	cr_assert_leq(len, mtu, "message of %zu bytes over the %u-byte limit", len, mtu);
	cr_assert_eq(rd16(m), 10, "IPFIX version");
	cr_assert_eq(rd16(m + 2), len, "message length field");
	cr_assert_gt(rd32(m + 4), 1700000000u, "export time is the wall clock");
	d->domain = rd32(m + 12);
	while (off < len) {
		uint16_t sid = rd16(m + off), slen = rd16(m + off + 2);
		size_t end = off + slen, p = off + 4;

		cr_assert_geq(slen, 4);
		cr_assert_leq(end, len, "set overruns the message");
		if (sid == 2) {
			while (p + 4 <= end) {
				struct tmpl *t = &d->t[d->n_tmpl];

				cr_assert_lt(d->n_tmpl, IPFIX_N_TMPL);
				t->id = rd16(m + p);
				t->n = rd16(m + p + 2);
				cr_assert_leq(t->n, MAX_FIELDS);
				p += 4;
				for (int i = 0; i < t->n; i++, p += 4) {
					t->ie[i] = rd16(m + p);
					t->len[i] = rd16(m + p + 2);
					cr_assert_eq(t->ie[i] & 0x8000, 0, "no enterprise element");
				}
				d->n_tmpl++;
			}
		} else {
			const struct tmpl *t = find_tmpl(d, sid);
			size_t rl = 0;

			cr_assert_not_null(t, "data set %u before its template", sid);
			for (int i = 0; i < t->n; i++)
				rl += t->len[i];
			while (p + rl <= end) {
				struct rec *r = &d->r[d->n_rec++];
				size_t q = p;

				cr_assert_lt(d->n_rec, MAX_RECS);
				r->tid = sid;
				r->seq = rd32(m + 8);
				for (int i = 0; i < t->n; i++) {
					r->f[i] = m + q;
					q += t->len[i];
				}
				p += rl;
			}
			cr_assert_lt(end - p, 4, "more than padding left in a data set");
		}
		off = end;
	}
}

/* The field with element id ie of record r (NULL if its template has none). */
static const uint8_t *field(const struct decoded *d, const struct rec *r, uint16_t ie,
			    uint16_t *len)
{
	const struct tmpl *t = find_tmpl(d, r->tid);

	for (int i = 0; i < t->n; i++)
		if (t->ie[i] == ie) {
			*len = t->len[i];
			return r->f[i];
		}
	return NULL;
}

static uint64_t num(const struct decoded *d, const struct rec *r, uint16_t ie)
{
	uint16_t len = 0;
	const uint8_t *p = field(d, r, ie, &len);

	cr_assert_not_null(p, "template %u has no element %u", r->tid, ie);
	switch (len) {
	case 1: return p[0];
	case 2: return rd16(p);
	case 4: return rd32(p);
	case 8: return rd64(p);
	}
	cr_assert_fail("element %u of length %u", ie, len);
	return 0;
}

/* IANA element ids */
enum {
	IE_PROTO = 4, IE_SPORT = 7, IE_SRC4 = 8, IE_DPORT = 11, IE_DST4 = 12, IE_SRC6 = 27,
	IE_DST6 = 28, IE_XSRC4 = 225, IE_XDST4 = 226, IE_XSPORT = 227, IE_XDPORT = 228,
	IE_NATEVENT = 230, IE_POOL = 283, IE_TIME_MS = 323, IE_PB_START = 361, IE_PB_END = 362,
	IE_PB_STEP = 363, IE_PB_NUM = 364, IE_QUOTA = 466, IE_MAX_SESS = 471,
	IE_MAX_USER = 473,
};

static const uint32_t A_SUB = 0x64400005;   /* 100.64.0.5 */
static const uint32_t A_SRV = 0xc6336414;   /* 198.51.100.20 */
static const uint32_t A_POOL = 0xcb007107;  /* 203.0.113.7 */

static struct ipfix_nat_rec sample(uint8_t ev)
{
	struct ipfix_nat_rec r;

	memset(&r, 0, sizeof(r));
	r.time_ms = 1796000000123ull + ev;
	r.nat_event = ev;
	r.proto = 6;
	r.src4 = A_SUB;
	r.sport = 40001;
	r.dst4 = A_SRV;
	r.dport = 443;
	r.xsrc4 = A_POOL;
	r.xsport = 1025 + ev;
	r.xdst4 = A_SRV;
	r.xdport = 443;
	for (int i = 0; i < 16; i++) {
		r.src6[i] = (uint8_t)(0x20 + i);
		r.dst6[i] = (uint8_t)(0x60 + i);
	}
	return r;
}

/* RFC 8158's template element lists (less the VRF ids), as the wire says. */
static const struct {
	uint16_t tid, n;
	uint16_t ie[MAX_FIELDS];
} rfc8158[] = {
	{ IPFIX_T_SESS44, 11, { IE_TIME_MS, IE_SRC4, IE_XSRC4, IE_PROTO, IE_SPORT, IE_XSPORT,
				IE_DST4, IE_XDST4, IE_DPORT, IE_XDPORT, IE_NATEVENT } },
	{ IPFIX_T_SESS64, 11, { IE_TIME_MS, IE_SRC6, IE_XSRC4, IE_PROTO, IE_SPORT, IE_XSPORT,
				IE_DST6, IE_XDST4, IE_DPORT, IE_XDPORT, IE_NATEVENT } },
	{ IPFIX_T_BIB44, 7, { IE_TIME_MS, IE_SRC4, IE_XSRC4, IE_PROTO, IE_SPORT, IE_XSPORT,
			      IE_NATEVENT } },
	{ IPFIX_T_BIB64, 7, { IE_TIME_MS, IE_SRC6, IE_XSRC4, IE_PROTO, IE_SPORT, IE_XSPORT,
			      IE_NATEVENT } },
	{ IPFIX_T_ADDR_EXHAUSTED, 3, { IE_TIME_MS, IE_NATEVENT, IE_POOL } },
	{ IPFIX_T_QUOTA_SESSIONS, 4, { IE_TIME_MS, IE_NATEVENT, IE_QUOTA, IE_MAX_SESS } },
	{ IPFIX_T_QUOTA_USER, 5, { IE_TIME_MS, IE_NATEVENT, IE_QUOTA, IE_MAX_USER, IE_SRC4 } },
	{ IPFIX_T_PORT_BLOCK, 8, { IE_TIME_MS, IE_SRC4, IE_XSRC4, IE_PB_START, IE_PB_END,
				   IE_PB_STEP, IE_PB_NUM, IE_NATEVENT } },
};

static struct msgs M;
static struct decoded D;

static void decode_all(uint16_t mtu)
{
	memset(&D, 0, sizeof(D));
	for (size_t i = 0; i < M.n; i++)
		decode(&D, M.buf[i], M.len[i], mtu);
}

Test(ipfix, templates_carry_rfc8158_elements_in_order)
{
	const char *why = NULL;
	struct ipfix_enc *e = ipfix_enc_new(42, 1400, sink, &M, &why);

	cr_assert_not_null(e, "%s", why);
	cr_assert_eq(ipfix_enc_templates(e), 0);
	cr_assert_eq(ipfix_enc_flush(e), 0);
	cr_assert_eq(M.n, 1, "one message of templates");
	decode_all(1400);
	cr_expect_eq(D.domain, 42, "observation domain id");
	cr_assert_eq(D.n_tmpl, IPFIX_N_TMPL);
	for (size_t i = 0; i < sizeof(rfc8158) / sizeof(rfc8158[0]); i++) {
		const struct tmpl *t = find_tmpl(&D, rfc8158[i].tid);

		cr_assert_not_null(t, "template %u missing", rfc8158[i].tid);
		cr_assert_eq(t->n, rfc8158[i].n, "template %u: %u elements", t->id, t->n);
		for (int k = 0; k < t->n; k++)
			cr_expect_eq(t->ie[k], rfc8158[i].ie[k], "template %u element %d: %u, want %u",
				     t->id, k, t->ie[k], rfc8158[i].ie[k]);
	}
	ipfix_enc_free(e);
}

Test(ipfix, every_event_decodes_field_by_field)
{
	static const uint8_t events[] = {
		IPFIX_NATEV_NAT44_SESS_CREATE, IPFIX_NATEV_NAT44_SESS_DELETE,
		IPFIX_NATEV_NAT64_SESS_CREATE, IPFIX_NATEV_NAT64_SESS_DELETE,
		IPFIX_NATEV_NAT44_BIB_CREATE,  IPFIX_NATEV_NAT44_BIB_DELETE,
		IPFIX_NATEV_NAT64_BIB_CREATE,  IPFIX_NATEV_NAT64_BIB_DELETE,
		IPFIX_NATEV_ADDR_EXHAUSTED,    IPFIX_NATEV_PORT_BLOCK_ALLOC,
		IPFIX_NATEV_PORT_BLOCK_RELEASE,
	};
	const char *why = NULL;
	struct ipfix_enc *e = ipfix_enc_new(7, 1400, sink, &M, &why);
	struct ipfix_nat_rec q1, q3;
	size_t n = sizeof(events);

	cr_assert_not_null(e, "%s", why);
	cr_assert_eq(ipfix_enc_templates(e), 0);
	for (size_t i = 0; i < n; i++) {
		struct ipfix_nat_rec r = sample(events[i]);

		r.pool_id = 3;
		r.pb_start = 2048;
		r.pb_end = 2175;
		r.pb_step = 1;
		r.pb_num = 128;
		cr_assert_eq(ipfix_enc_add(e, &r), 0, "natEvent %u", events[i]);
	}
	q1 = sample(IPFIX_NATEV_QUOTA_EXCEEDED);
	q1.quota_event = IPFIX_QUOTA_MAX_SESSIONS;
	q1.max_sessions = 65536;
	q3 = sample(IPFIX_NATEV_QUOTA_EXCEEDED);
	q3.quota_event = IPFIX_QUOTA_MAX_PER_USER;
	q3.max_per_user = 100;
	cr_assert_eq(ipfix_enc_add(e, &q1), 0);
	cr_assert_eq(ipfix_enc_add(e, &q3), 0);
	cr_assert_eq(ipfix_enc_flush(e), 0);
	cr_expect_eq(ipfix_enc_records(e), n + 2);
	decode_all(1400);
	cr_assert_eq(D.n_rec, n + 2, "%zu records decoded", D.n_rec);
	for (size_t i = 0; i < n; i++) {
		const struct rec *r = &D.r[i];
		uint8_t ev = events[i];
		uint16_t l;
		const uint8_t *p;

		cr_expect_eq(num(&D, r, IE_NATEVENT), ev);
		cr_expect_eq(num(&D, r, IE_TIME_MS), 1796000000123ull + ev);
		cr_expect_eq(r->tid, ipfix_rec_template(ev, 0));
		switch (r->tid) {
		case IPFIX_T_SESS44:
			cr_expect_eq(num(&D, r, IE_DST4), A_SRV);
			cr_expect_eq(num(&D, r, IE_XDST4), A_SRV);
			cr_expect_eq(num(&D, r, IE_DPORT), 443);
			cr_expect_eq(num(&D, r, IE_XDPORT), 443);
			/* fall through */
		case IPFIX_T_BIB44:
			cr_expect_eq(num(&D, r, IE_SRC4), A_SUB);
			cr_expect_eq(num(&D, r, IE_XSRC4), A_POOL);
			cr_expect_eq(num(&D, r, IE_PROTO), 6);
			cr_expect_eq(num(&D, r, IE_SPORT), 40001);
			cr_expect_eq(num(&D, r, IE_XSPORT), 1025 + ev);
			cr_expect_null(field(&D, r, IE_SRC6, &l));
			break;
		case IPFIX_T_SESS64:
			p = field(&D, r, IE_DST6, &l);
			cr_assert_not_null(p);
			cr_expect_eq(l, 16);
			cr_expect_eq(p[0], 0x60);
			cr_expect_eq(p[15], 0x6f);
			cr_expect_eq(num(&D, r, IE_XDST4), A_SRV);
			cr_expect_eq(num(&D, r, IE_DPORT), 443);
			/* fall through */
		case IPFIX_T_BIB64:
			p = field(&D, r, IE_SRC6, &l);
			cr_assert_not_null(p);
			cr_expect_eq(l, 16);
			for (int k = 0; k < 16; k++)
				cr_expect_eq(p[k], 0x20 + k);
			cr_expect_null(field(&D, r, IE_SRC4, &l), "NAT64 has no IPv4 source");
			cr_expect_eq(num(&D, r, IE_XSRC4), A_POOL);
			cr_expect_eq(num(&D, r, IE_SPORT), 40001);
			cr_expect_eq(num(&D, r, IE_XSPORT), 1025 + ev);
			break;
		case IPFIX_T_ADDR_EXHAUSTED:
			cr_expect_eq(num(&D, r, IE_POOL), 3);
			break;
		case IPFIX_T_PORT_BLOCK:
			cr_expect_eq(num(&D, r, IE_SRC4), A_SUB);
			cr_expect_eq(num(&D, r, IE_XSRC4), A_POOL);
			cr_expect_eq(num(&D, r, IE_PB_START), 2048);
			cr_expect_eq(num(&D, r, IE_PB_END), 2175);
			cr_expect_eq(num(&D, r, IE_PB_STEP), 1);
			cr_expect_eq(num(&D, r, IE_PB_NUM), 128);
			break;
		default:
			cr_assert_fail("natEvent %u in template %u", ev, r->tid);
		}
	}
	cr_expect_eq(D.r[n].tid, IPFIX_T_QUOTA_SESSIONS);
	cr_expect_eq(num(&D, &D.r[n], IE_QUOTA), 1);
	cr_expect_eq(num(&D, &D.r[n], IE_MAX_SESS), 65536);
	cr_expect_eq(D.r[n + 1].tid, IPFIX_T_QUOTA_USER);
	cr_expect_eq(num(&D, &D.r[n + 1], IE_QUOTA), 3);
	cr_expect_eq(num(&D, &D.r[n + 1], IE_MAX_USER), 100);
	cr_expect_eq(num(&D, &D.r[n + 1], IE_SRC4), A_SUB);
	ipfix_enc_free(e);
}

Test(ipfix, full_messages_split_and_sequence_counts_records)
{
	const char *why = NULL;
	struct ipfix_enc *e = ipfix_enc_new(1, 512, sink, &M, &why);
	struct ipfix_nat_rec r = sample(IPFIX_NATEV_NAT44_SESS_CREATE);
	uint32_t want_seq = 0;
	size_t first = 0;

	cr_assert_not_null(e, "%s", why);
	cr_assert_eq(ipfix_enc_templates(e), 0);
	for (int i = 0; i < 100; i++) {
		r.sport = (uint16_t)(10000 + i);
		cr_assert_eq(ipfix_enc_add(e, &r), 0);
	}
	cr_assert_eq(ipfix_enc_flush(e), 0);
	cr_assert_gt(M.n, 3, "100 records of 39 bytes need several 512-byte messages");
	decode_all(512);
	cr_assert_eq(D.n_rec, 100);
	/* RFC 7011 sec. 3.1: a message's sequence number counts the data
	 * records sent before it */
	for (size_t i = 0; i < D.n_rec; i++) {
		if (i && D.r[i].seq != D.r[i - 1].seq) {
			want_seq += (uint32_t)(i - first);
			first = i;
		}
		cr_expect_eq(D.r[i].seq, want_seq, "record %zu", i);
		cr_expect_eq(num(&D, &D.r[i], IE_SPORT), 10000 + i);
	}
	ipfix_enc_free(e);
}

Test(ipfix, unknown_event_refused)
{
	const char *why = NULL;
	struct ipfix_enc *e = ipfix_enc_new(1, 1400, sink, &M, &why);
	struct ipfix_nat_rec r = sample(99);

	cr_assert_not_null(e);
	cr_expect_eq(ipfix_enc_add(e, &r), -EINVAL);
	r = sample(IPFIX_NATEV_QUOTA_EXCEEDED);
	r.quota_event = 77;
	cr_expect_eq(ipfix_enc_add(e, &r), -EINVAL);
	cr_expect_eq(ipfix_enc_records(e), 0);
	cr_expect_null(ipfix_enc_new(1, 100, sink, &M, &why), "a 100-byte message refused");
	ipfix_enc_free(e);
}

/* ---- events -> records --------------------------------------------------- */

static struct ns_config conf;

static struct ns_event nat_event(uint8_t type, uint8_t nat_type)
{
	struct ns_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.nat_type = nat_type;
	ev.in_key.saddr = htonl(A_SUB);
	ev.in_key.daddr = htonl(A_SRV);
	ev.in_key.sport = htons(40001);
	ev.in_key.dport = htons(53);
	ev.in_key.proto = 17;
	/* out_key: the reply as it arrives, server -> pool address */
	ev.out_key.saddr = htonl(A_SRV);
	ev.out_key.daddr = htonl(A_POOL);
	ev.out_key.sport = htons(53);
	ev.out_key.dport = htons(2000);
	ev.out_key.proto = 17;
	ev.pool_id = 2;
	return ev;
}

Test(ipfix, nat44_session_and_binding_records)
{
	struct ns_event ev = nat_event(NS_EV_SESSION_OPEN, NS_NAT_NAPT44);
	struct ipfix_nat_rec r;

	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 5));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_NAT44_SESS_CREATE);
	cr_expect_eq(r.time_ms, 5);
	cr_expect_eq(r.src4, A_SUB);
	cr_expect_eq(r.sport, 40001);
	cr_expect_eq(r.dst4, A_SRV);
	cr_expect_eq(r.dport, 53);
	cr_expect_eq(r.xsrc4, A_POOL);
	cr_expect_eq(r.xsport, 2000);
	cr_expect_eq(r.xdst4, A_SRV);
	cr_expect_eq(r.xdport, 53);
	cr_expect_eq(r.proto, 17);
	ev.type = NS_EV_SESSION_CLOSE;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 5));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_NAT44_SESS_DELETE);
	ev.type = NS_EV_NAT_ALLOC;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 5));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_NAT44_BIB_CREATE);
	cr_expect_eq(r.xsrc4, A_POOL);
	cr_expect_eq(r.xsport, 2000);
	ev.type = NS_EV_NAT_RELEASE;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 5));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_NAT44_BIB_DELETE);
	/* a firewall-only session translates nothing: no NAT record */
	ev = nat_event(NS_EV_SESSION_OPEN, NS_NAT_NONE);
	cr_expect_not(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 5));
}

Test(ipfix, nat64_records_carry_the_ipv6_side)
{
	struct ns_event ev = nat_event(NS_EV_SESSION_OPEN, NS_NAT_NAT64);
	uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
	uint8_t d6[16] = { 0, 0x64, 0xff, 0x9b, [12] = 198, 51, 100, 20 };
	struct ipfix_nat_rec r;

	cr_expect_not(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 1),
		      "NAT64 without its IPv6 side: no record rather than a wrong one");
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, s6, d6, 1));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_NAT64_SESS_CREATE);
	cr_expect_arr_eq(r.src6, s6, 16);
	cr_expect_arr_eq(r.dst6, d6, 16);
	cr_expect_eq(r.xsrc4, A_POOL);
	cr_expect_eq(r.xdst4, A_SRV);
	ev.type = NS_EV_SESSION_CLOSE;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, s6, d6, 1));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_NAT64_SESS_DELETE);
	ev.type = NS_EV_NAT_ALLOC;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, s6, NULL, 1));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_NAT64_BIB_CREATE);
	ev.type = NS_EV_NAT_RELEASE;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, s6, NULL, 1));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_NAT64_BIB_DELETE);
}

Test(ipfix, warnings_become_exhaustion_and_quota_records)
{
	struct ns_event ev = nat_event(NS_EV_POOL_EXHAUSTED, NS_NAT_NAPT44);
	struct ipfix_nat_rec r;

	ns_config_defaults(&conf);
	conf.max_sessions = 4096;
	conf.cfg.max_sess_per_sub = 64;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 1));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_ADDR_EXHAUSTED);
	cr_expect_eq(r.pool_id, 2);
	ev.type = NS_EV_SESSION_FULL;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 1));
	cr_expect_eq(r.nat_event, IPFIX_NATEV_QUOTA_EXCEEDED);
	cr_expect_eq(r.quota_event, IPFIX_QUOTA_MAX_SESSIONS);
	cr_expect_eq(r.max_sessions, 4096);
	ev.type = NS_EV_SUBSCRIBER_LIMIT;
	cr_assert(ipfix_rec_from_event(&r, &ev, &conf, NULL, NULL, 1));
	cr_expect_eq(r.quota_event, IPFIX_QUOTA_MAX_PER_USER);
	cr_expect_eq(r.max_per_user, 64);
	cr_expect_eq(r.src4, A_SUB);
}

/* ---- config ---------------------------------------------------------------- */

#define CFG_HEAD "natsync: { pin-path = \"/sys/fs/bpf/nsu-ipfix\"; " \
	"control-socket = \"/run/nsu-ipfix.sock\"; services: { stateful-firewall: { " \
	"rules = ( { name = \"fw1\"; match-direction = \"input\"; terms = ( { name = \"t1\"; " \
	"then = \"accept\"; } ); } ); }; service-sets = ( { name = \"ss1\"; " \
	"stateful-firewall-rules = [ \"fw1\" ]; next-hop-service = { " \
	"inside-service-interface = \"nsu-in\"; outside-service-interface = \"nsu-out\"; }; } ); }; "

Test(ipfix, config_keys_and_defaults)
{
	char err[NS_CONF_ERR_MAX] = "";
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;

	cr_assert_eq(ns_config_load_string(CFG_HEAD "};", "t.cfg", &conf, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_eq(conf.ipfix.n_collectors, 0, "no export by default");
	cr_expect_eq(conf.ipfix.template_refresh, 60);
	cr_expect_eq(conf.ipfix.domain, 1);
	cr_expect_eq(conf.ipfix.message_size, 1400);
	cr_expect_str_eq(conf.syslog_socket, "/dev/log");
	cr_assert_eq(ns_config_load_string(CFG_HEAD
		"log = { syslog = true; syslog-socket = \"/run/nsu-log\"; }; "
		"ipfix = { collectors = [ \"198.51.100.9:4739\", \"[2001:db8::9]:2055\" ]; "
		"template-refresh = 30; observation-domain = 77; message-size = 1200; }; };",
		"t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(conf.syslog_socket, "/run/nsu-log");
	cr_assert_eq(conf.ipfix.n_collectors, 2);
	s4 = (const struct sockaddr_in *)&conf.ipfix.collectors[0];
	cr_expect_eq(s4->sin_family, AF_INET);
	cr_expect_eq(s4->sin_addr.s_addr, htonl(0xc6336409));
	cr_expect_eq(ntohs(s4->sin_port), 4739);
	s6 = (const struct sockaddr_in6 *)&conf.ipfix.collectors[1];
	cr_expect_eq(s6->sin6_family, AF_INET6);
	cr_expect_eq(ntohs(s6->sin6_port), 2055);
	cr_expect_eq(s6->sin6_addr.s6_addr[15], 9);
	cr_expect_eq(conf.ipfix.template_refresh, 30);
	cr_expect_eq(conf.ipfix.domain, 77);
	cr_expect_eq(conf.ipfix.message_size, 1200);
}

Test(ipfix, bad_config_is_refused_with_its_reason)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "ipfix = { };", "ipfix.collectors: missing" },
		/* the texts of metrics.listen: one ADDR:PORT parser (config_export.c) */
		{ "ipfix = { collectors = \"198.51.100.9\"; };",
		  "ipfix.collectors: '198.51.100.9' is not ADDR:PORT" },
		{ "ipfix = { collectors = \"198.51.100.9:0\"; };",
		  "ipfix.collectors: '198.51.100.9:0': port '0' is not 1-65535" },
		{ "ipfix = { collectors = \"198.51.100.9:70000\"; };",
		  "'198.51.100.9:70000': port '70000' is not 1-65535" },
		{ "ipfix = { collectors = \"198.51.100:4739\"; };",
		  "'198.51.100:4739': '198.51.100' is not an IPv4 address (IPv6: [ADDR]:PORT)" },
		{ "ipfix = { collectors = \"[2001:db8::x]:4739\"; };",
		  "'[2001:db8::x]:4739': '2001:db8::x' is not an IPv6 address" },
		{ "ipfix = { collectors = [ \"198.51.100.9:1\", \"198.51.100.9:2\", "
		  "\"198.51.100.9:3\", \"198.51.100.9:4\", \"198.51.100.9:5\" ]; };",
		  "1 to 4 collectors" },
		{ "ipfix = { collectors = \"198.51.100.9:4739\"; message-size = 100; };",
		  "message-size" },
		{ "ipfix = { collectors = \"198.51.100.9:4739\"; template-refresh = 0; };",
		  "template-refresh" },
		{ "ipfix = { collector = \"198.51.100.9:4739\"; };", "collector" },
		{ "log = { syslog-socket = \"dev/log\"; };", "not an absolute path" },
	};
	char text[1024], err[NS_CONF_ERR_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), CFG_HEAD "%s };", bad[i].text);
		err[0] = '\0';
		cr_expect_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), -1,
			     "accepted: %s", bad[i].text);
		cr_expect_not_null(strstr(err, bad[i].want), "%s: error '%s' lacks '%s'",
				   bad[i].text, err, bad[i].want);
	}
}

/* ---- log.c's syslog client ------------------------------------------------- */

static int bind_dgram(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	strcpy(a.sun_path, path);
	unlink(path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %m", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

Test(ipfix, syslog_lines_reach_the_configured_socket)
{
	char path[64], buf[1500], want[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/tmp/nsu-syslog-%d.sock", (int)getpid());
	fd = bind_dgram(path);
	cr_assert_eq(log_set_syslog_socket(path), 0);
	cr_assert_eq(log_init("natsyncd", 2, NULL, 1), 0);
	pr_info("NAT_ALLOC svc=s1 pool=p1 udp 100.64.0.5:40001 -> 203.0.113.7:2000 napt-44");
	pr_warn("SESSION_FULL svc=s1 udp 100.64.0.5:40001 -> 198.51.100.20:53");
	pr_debug("not at level info: not sent");
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	cr_assert_gt(n, 0, "no syslog datagram: %m");
	buf[n] = '\0';
	/* RFC 3164: <PRI>Mmm dd hh:mm:ss TAG[pid]: MSG; LOG_DAEMON|LOG_INFO = 30 */
	cr_expect_eq(strncmp(buf, "<30>", 4), 0, "%s", buf);
	snprintf(want, sizeof(want), " natsyncd[%d]: NAT_ALLOC svc=s1 ", (int)getpid());
	cr_expect_not_null(strstr(buf, want), "%s", buf);
	cr_expect_eq(buf[7], ' ', "timestamp 'Mmm dd': %s", buf);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_expect_eq(strncmp(buf, "<28>", 4), 0, "LOG_DAEMON|LOG_WARNING: %s", buf);
	cr_expect_not_null(strstr(buf, "SESSION_FULL svc=s1"), "%s", buf);
	cr_expect_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1, "the debug line was sent");
	cr_expect_eq(log_syslog_lost(), 0);
	log_close();
	close(fd);
	unlink(path);
}

static int count_lines(const char *file, const char *needle)
{
	char line[2048];
	FILE *f = fopen(file, "r");
	int n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

Test(ipfix, missing_syslog_socket_is_said_once_then_recovery)
{
	char path[64], file[64], buf[1500];
	int fd;

	snprintf(path, sizeof(path), "/tmp/nsu-nolog-%d.sock", (int)getpid());
	snprintf(file, sizeof(file), "/tmp/nsu-nolog-%d.log", (int)getpid());
	unlink(path);
	unlink(file);
	cr_assert_eq(log_set_syslog_socket(path), 0);
	cr_assert_eq(log_init("natsyncd", 2, file, 1), 0);
	for (int i = 0; i < 5; i++)
		pr_info("SESSION_OPEN line %d", i);
	cr_expect_eq(log_syslog_lost(), 5);
	cr_expect_eq(count_lines(file, "syslog: cannot send to"), 1, "said exactly once");
	cr_expect_eq(count_lines(file, "No such file or directory"), 1);
	cr_expect_eq(count_lines(file, "SESSION_OPEN line"), 5, "the lines still reach the file");
	/* the socket appears (syslog started): lines flow, the loss is told */
	fd = bind_dgram(path);
	pr_info("SESSION_OPEN after");
	cr_assert_gt(recv(fd, buf, sizeof(buf), 0), 0);
	cr_expect_eq(count_lines(file, "reached again; 5 lines were lost"), 1);
	cr_expect_eq(log_set_syslog_socket(""), -EINVAL);
	log_close();
	close(fd);
	unlink(path);
	unlink(file);
}
