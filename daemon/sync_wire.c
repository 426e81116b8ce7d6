// SPDX-License-Identifier: GPL-2.0
/*
 * sync_wire.c - encode/decode of the sync protocol (see sync_wire.h and
 * doc/sync.md). Every multi-byte integer goes through put/get helpers that
 * fix network byte order explicitly; addresses and ports, already in network
 * order in the maps, are copied as bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "sync_wire.h"

#define HELLO_FIXED 33
#define REFUSE_LEN 12
#define BULK_LEN 8
#define ACK_LEN 8
#define HEARTBEAT_LEN 16

/* ---- byte helpers ------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* LEB128, at most NSW_VARINT_MAX_BYTES; the value must fit (caller clamps). */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/*
 * Decode a varint from p[0..len). Returns bytes consumed, 0 when truncated
 * or when it is longer than NSW_VARINT_MAX_BYTES or not minimally encoded
 * (one value, one encoding: keeps digests of frames comparable).
 */
static size_t get_varint(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t r = 0;

	for (size_t i = 0; i < len && i < NSW_VARINT_MAX_BYTES; i++) {
		r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (i > 0 && p[i] == 0)
				return 0;
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

/* ---- names ------------------------------------------------------------- */

const char *nsw_err_str(int err)
{
	static const char *const s[] = {
		[NSW_OK] = "ok",
		[NSW_E_TRUNCATED] = "truncated frame",
		[NSW_E_MAGIC] = "bad magic",
		[NSW_E_VERSION] = "unsupported protocol version",
		[NSW_E_TYPE] = "unknown message type",
		[NSW_E_LENGTH] = "bad frame length",
		[NSW_E_COUNT] = "record count does not match length",
		[NSW_E_VALUE] = "invalid field value",
		[NSW_E_NOSPC] = "no space in output buffer",
	};

	if (err < 0)
		err = -err;
	if ((size_t)err >= sizeof(s) / sizeof(s[0]))
		return "unknown error";
	return s[err];
}

const char *nsw_type_str(unsigned int type)
{
	static const char *const s[] = {
		[NSW_HELLO] = "HELLO", [NSW_HELLO_ACK] = "HELLO_ACK",
		[NSW_REFUSE] = "REFUSE", [NSW_SESSION_ADD] = "SESSION_ADD",
		[NSW_SESSION_UPDATE] = "SESSION_UPDATE", [NSW_SESSION_DEL] = "SESSION_DEL",
		[NSW_BULK_START] = "BULK_START", [NSW_BULK_END] = "BULK_END",
		[NSW_ACK] = "ACK", [NSW_HEARTBEAT] = "HEARTBEAT",
		[NSW_BULK_REQUEST] = "BULK_REQUEST", [NSW_SESSION64_ADD] = "SESSION64_ADD",
		[NSW_SESSION64_UPDATE] = "SESSION64_UPDATE", [NSW_SESSION64_DEL] = "SESSION64_DEL",
		[NSW_PORT_HOLD] = "PORT_HOLD",
	};

	if (type >= NSW_TYPE_MAX || !s[type])
		return "UNKNOWN";
	return s[type];
}

const char *nsw_refuse_str(unsigned int reason)
{
	switch (reason) {
	case NSW_REFUSE_VERSION: return "protocol version mismatch";
	case NSW_REFUSE_FINGERPRINT: return "configuration fingerprint mismatch";
	case NSW_REFUSE_PROTOCOL: return "protocol error";
	case NSW_REFUSE_BUSY: return "duplicate connection";
	case NSW_REFUSE_AUTH: return "authentication failed (key-file missing or different)";
	case NSW_REFUSE_ENCRYPT: return "encryption setting differs (encrypt on one box only)";
	default: return "unknown reason";
	}
}

/* ---- framing ----------------------------------------------------------- */

size_t nsw_put_hdr(uint8_t *buf, uint8_t type, uint32_t length, uint32_t seq)
{
	put32(buf, NSW_MAGIC);
	buf[4] = NSW_VERSION;
	buf[5] = type;
	put16(buf + 6, 0);
	put32(buf + 8, length);
	put32(buf + 12, seq);
	return NSW_HDR_LEN;
}

void nsw_set_seq(uint8_t *frame, uint32_t seq)
{
	put32(frame + 12, seq);
}

/* The smallest and largest body each type may carry. */
static int body_limits(uint8_t type, size_t *min, size_t *max)
{
	switch (type) {
	case NSW_HELLO:
	case NSW_HELLO_ACK:
		*min = HELLO_FIXED;
		*max = HELLO_FIXED + NSW_NAME_MAX;
		return 0;
	case NSW_REFUSE:
		*min = *max = REFUSE_LEN;
		return 0;
	case NSW_SESSION_ADD:
	case NSW_SESSION_UPDATE:
		*min = 2 + NSW_SESSION_MIN;
		*max = NSW_MAX_BODY;
		return 0;
	case NSW_SESSION_DEL:
	case NSW_SESSION64_DEL:
		*min = 2 + NSW_DEL_LEN;
		*max = NSW_MAX_BODY;
		return 0;
	case NSW_SESSION64_ADD:
	case NSW_SESSION64_UPDATE:
		*min = 2 + NSW_SESSION64_MIN;
		*max = NSW_MAX_BODY;
		return 0;
	case NSW_PORT_HOLD:
		*min = 2 + NSW_HOLD_MIN;
		*max = NSW_MAX_BODY;
		return 0;
	case NSW_BULK_START:
	case NSW_BULK_END:
		*min = *max = BULK_LEN;
		return 0;
	case NSW_ACK:
		*min = *max = ACK_LEN;
		return 0;
	case NSW_HEARTBEAT:
		*min = *max = HEARTBEAT_LEN;
		return 0;
	case NSW_BULK_REQUEST:
		*min = *max = 0;
		return 0;
	default:
		return -NSW_E_TYPE;
	}
}

int nsw_frame_check(const uint8_t *buf, size_t len, struct nsw_hdr *h)
{
	size_t min, max;

	/* Check magic as soon as 4 bytes are in, so garbage fails fast. */
	if (len >= 4 && get32(buf) != NSW_MAGIC)
		return -NSW_E_MAGIC;
	if (len < NSW_HDR_LEN)
		return -NSW_E_TRUNCATED;
	h->magic = get32(buf);
	h->version = buf[4];
	h->type = buf[5];
	h->flags = get16(buf + 6);
	h->length = get32(buf + 8);
	h->seq = get32(buf + 12);
	if (h->version != NSW_VERSION)
		return -NSW_E_VERSION;
	if (body_limits(h->type, &min, &max))
		return -NSW_E_TYPE;
	if ((h->flags & ~(NSW_F_MAC | NSW_F_ENC)) || h->flags == (NSW_F_MAC | NSW_F_ENC))
		return -NSW_E_VALUE;
	if (h->flags) { /* either kind of tag */
		min += NSW_MAC_LEN;
		max += NSW_MAC_LEN;
	}
	if (h->length < min || h->length > max)
		return -NSW_E_LENGTH;
	if (len - NSW_HDR_LEN < h->length)
		return -NSW_E_TRUNCATED;
	return 0;
}

/* ---- single messages --------------------------------------------------- */

int nsw_encode_hello(uint8_t *out, size_t cap, uint8_t type, uint32_t seq,
		     const struct nsw_hello *m)
{
	size_t nlen = strnlen(m->name, sizeof(m->name));
	size_t blen = HELLO_FIXED + nlen;
	uint8_t *b = out + NSW_HDR_LEN;

	if (type != NSW_HELLO && type != NSW_HELLO_ACK)
		return -NSW_E_VALUE;
	if (nlen > NSW_NAME_MAX || m->role > NSW_ROLE_PRIMARY || (m->flags & ~NSW_HELLO_F_MASK))
		return -NSW_E_VALUE;
	if (cap < NSW_HDR_LEN + blen)
		return -NSW_E_NOSPC;
	nsw_put_hdr(out, type, blen, seq);
	b[0] = m->version;
	b[1] = m->role;
	put16(b + 2, m->flags);
	put32(b + 4, m->caps);
	put64(b + 8, m->fingerprint);
	memcpy(b + 16, m->nonce, NSW_NONCE_LEN);
	b[32] = (uint8_t)nlen;
	memcpy(b + HELLO_FIXED, m->name, nlen);
	return NSW_HDR_LEN + blen;
}

int nsw_decode_hello(const uint8_t *b, size_t len, struct nsw_hello *m)
{
	size_t nlen;

	if (len < HELLO_FIXED)
		return -NSW_E_TRUNCATED;
	nlen = b[32];
	if (nlen > NSW_NAME_MAX || len != HELLO_FIXED + nlen)
		return -NSW_E_LENGTH;
	memset(m, 0, sizeof(*m));
	m->version = b[0];
	m->role = b[1];
	m->flags = get16(b + 2);
	m->caps = get32(b + 4);
	m->fingerprint = get64(b + 8);
	memcpy(m->nonce, b + 16, NSW_NONCE_LEN);
	if (m->role > NSW_ROLE_PRIMARY || (m->flags & ~NSW_HELLO_F_MASK))
		return -NSW_E_VALUE;
	/* Names end up in logs and JSON: printable ASCII only. */
	for (size_t i = 0; i < nlen; i++) {
		uint8_t c = b[HELLO_FIXED + i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return -NSW_E_VALUE;
		m->name[i] = (char)c;
	}
	return 0;
}

int nsw_encode_refuse(uint8_t *out, size_t cap, uint32_t seq, const struct nsw_refuse *m)
{
	uint8_t *b = out + NSW_HDR_LEN;

	if (!m->reason || m->reason >= NSW_REFUSE_MAX)
		return -NSW_E_VALUE;
	if (cap < NSW_HDR_LEN + REFUSE_LEN)
		return -NSW_E_NOSPC;
	nsw_put_hdr(out, NSW_REFUSE, REFUSE_LEN, seq);
	b[0] = m->reason;
	b[1] = m->version;
	put16(b + 2, 0);
	put64(b + 4, m->fingerprint);
	return NSW_HDR_LEN + REFUSE_LEN;
}

int nsw_decode_refuse(const uint8_t *b, size_t len, struct nsw_refuse *m)
{
	if (len != REFUSE_LEN)
		return len < REFUSE_LEN ? -NSW_E_TRUNCATED : -NSW_E_LENGTH;
	m->reason = b[0];
	m->version = b[1];
	m->fingerprint = get64(b + 4);
	if (!m->reason || m->reason >= NSW_REFUSE_MAX || get16(b + 2))
		return -NSW_E_VALUE;
	return 0;
}

int nsw_encode_bulk(uint8_t *out, size_t cap, uint8_t type, uint32_t seq,
		    const struct nsw_bulk *m)
{
	if (type != NSW_BULK_START && type != NSW_BULK_END)
		return -NSW_E_VALUE;
	if (cap < NSW_HDR_LEN + BULK_LEN)
		return -NSW_E_NOSPC;
	nsw_put_hdr(out, type, BULK_LEN, seq);
	put32(out + NSW_HDR_LEN, m->epoch);
	put32(out + NSW_HDR_LEN + 4, m->count);
	return NSW_HDR_LEN + BULK_LEN;
}

int nsw_decode_bulk(const uint8_t *b, size_t len, struct nsw_bulk *m)
{
	if (len != BULK_LEN)
		return len < BULK_LEN ? -NSW_E_TRUNCATED : -NSW_E_LENGTH;
	m->epoch = get32(b);
	m->count = get32(b + 4);
	return 0;
}

int nsw_encode_ack(uint8_t *out, size_t cap, uint32_t seq, const struct nsw_ack *m)
{
	if (cap < NSW_HDR_LEN + ACK_LEN)
		return -NSW_E_NOSPC;
	nsw_put_hdr(out, NSW_ACK, ACK_LEN, seq);
	put32(out + NSW_HDR_LEN, m->seq);
	put32(out + NSW_HDR_LEN + 4, m->install_fail);
	return NSW_HDR_LEN + ACK_LEN;
}

int nsw_decode_ack(const uint8_t *b, size_t len, struct nsw_ack *m)
{
	if (len != ACK_LEN)
		return len < ACK_LEN ? -NSW_E_TRUNCATED : -NSW_E_LENGTH;
	m->seq = get32(b);
	m->install_fail = get32(b + 4);
	return 0;
}

int nsw_encode_heartbeat(uint8_t *out, size_t cap, uint32_t seq, const struct nsw_heartbeat *m)
{
	uint8_t *b = out + NSW_HDR_LEN;

	if (m->role > NSW_ROLE_PRIMARY || m->ready > 1)
		return -NSW_E_VALUE;
	if (cap < NSW_HDR_LEN + HEARTBEAT_LEN)
		return -NSW_E_NOSPC;
	nsw_put_hdr(out, NSW_HEARTBEAT, HEARTBEAT_LEN, seq);
	b[0] = m->role;
	b[1] = m->ready;
	put16(b + 2, m->priority);
	put32(b + 4, m->sessions);
	put64(b + 8, m->uptime_ms);
	return NSW_HDR_LEN + HEARTBEAT_LEN;
}

int nsw_decode_heartbeat(const uint8_t *b, size_t len, struct nsw_heartbeat *m)
{
	if (len != HEARTBEAT_LEN)
		return len < HEARTBEAT_LEN ? -NSW_E_TRUNCATED : -NSW_E_LENGTH;
	m->role = b[0];
	m->ready = b[1];
	m->priority = get16(b + 2);
	m->sessions = get32(b + 4);
	m->uptime_ms = get64(b + 8);
	if (m->role > NSW_ROLE_PRIMARY || m->ready > 1)
		return -NSW_E_VALUE;
	return 0;
}

int nsw_encode_empty(uint8_t *out, size_t cap, uint8_t type, uint32_t seq)
{
	size_t min, max;

	if (body_limits(type, &min, &max) || min != 0)
		return -NSW_E_VALUE;
	if (cap < NSW_HDR_LEN)
		return -NSW_E_NOSPC;
	return (int)nsw_put_hdr(out, type, 0, seq);
}

/* ---- session records --------------------------------------------------- */

/*
 * Record layout (offsets in the record; doc/sync.md has the same table):
 *  0 in.saddr[4]  4 in.daddr[4]  8 in.sport[2]  10 in.dport[2]  12 proto
 * 13 out.saddr[4] 17 out.daddr[4] 21 out.sport[2] 23 out.dport[2]
 * 25 flags be16   27 svc_set   28 nat_type   29 tcp_state   30 origin
 * 31 pool_id      32 nat_term be16   34 fw_term be16   36 bind
 * 37 age_ms varint   .. idle_ms varint
 */
static void put_tuple4(uint8_t *p, const struct ns_tuple *t)
{
	memcpy(p, &t->saddr, 4);
	memcpy(p + 4, &t->daddr, 4);
	memcpy(p + 8, &t->sport, 2);
	memcpy(p + 10, &t->dport, 2);
}

static void get_tuple4(const uint8_t *p, struct ns_tuple *t)
{
	memcpy(&t->saddr, p, 4);
	memcpy(&t->daddr, p + 4, 4);
	memcpy(&t->sport, p + 8, 2);
	memcpy(&t->dport, p + 10, 2);
}

static uint64_t clamp_age(uint64_t ms)
{
	return ms > NSW_AGE_MAX_MS ? NSW_AGE_MAX_MS : ms;
}

size_t nsw_session_size(const struct nsw_session *s)
{
	return NSW_SESSION_FIXED + varint_size(clamp_age(s->age_ms)) +
	       varint_size(clamp_age(s->idle_ms));
}

/* Fields a receiver can act on; anything else is garbage, not a session. */
static bool session_valid(const struct nsw_session *s)
{
	if (s->flags & ~NSW_SF_WIRE_MASK)
		return false;
	if (s->svc_set >= NS_MAX_SVC_SETS || s->nat_type > NS_NAT_NAT64 ||
	    s->tcp_state >= NS_TCP_STATE_MAX || s->origin > NS_SIDE_OUTSIDE)
		return false;
	if (s->pool_id >= NS_MAX_POOLS && s->pool_id != 0xff)
		return false;
	if (s->nat_term >= NS_MAX_NAT_TERMS && s->nat_term != NS_NONE16)
		return false;
	if (s->fw_term >= NS_MAX_FW_TERMS && s->fw_term != NS_NONE16)
		return false;
	if (s->bind & ~NSW_BIND_MASK)
		return false;
	return s->idle_ms <= s->age_ms;
}

static size_t encode_session(uint8_t *p, const struct nsw_session *s)
{
	uint64_t age = clamp_age(s->age_ms), idle = clamp_age(s->idle_ms);
	size_t n;

	put_tuple4(p, &s->in_key);
	p[12] = s->in_key.proto;
	put_tuple4(p + 13, &s->out_key);
	put16(p + 25, (uint16_t)(s->flags & NSW_SF_WIRE_MASK));
	p[27] = (uint8_t)s->svc_set;
	p[28] = s->nat_type;
	p[29] = s->tcp_state;
	p[30] = s->origin;
	p[31] = s->pool_id;
	put16(p + 32, s->nat_term);
	put16(p + 34, s->fw_term);
	p[36] = s->bind;
	n = NSW_SESSION_FIXED;
	n += put_varint(p + n, age);
	n += put_varint(p + n, idle > age ? age : idle);
	return n;
}

/* Decode one record from p[0..len); returns bytes used or a negative error. */
static int decode_session(const uint8_t *p, size_t len, struct nsw_session *s)
{
	size_t n = NSW_SESSION_FIXED, k;

	if (len < NSW_SESSION_MIN)
		return -NSW_E_TRUNCATED;
	memset(s, 0, sizeof(*s));
	get_tuple4(p, &s->in_key);
	s->in_key.proto = p[12];
	get_tuple4(p + 13, &s->out_key);
	s->out_key.proto = p[12];
	s->flags = get16(p + 25);
	s->svc_set = p[27];
	s->nat_type = p[28];
	s->tcp_state = p[29];
	s->origin = p[30];
	s->pool_id = p[31];
	s->nat_term = get16(p + 32);
	s->fw_term = get16(p + 34);
	s->bind = p[36];
	k = get_varint(p + n, len - n, &s->age_ms);
	if (!k)
		return len - n < NSW_VARINT_MAX_BYTES ? -NSW_E_TRUNCATED : -NSW_E_VALUE;
	n += k;
	k = get_varint(p + n, len - n, &s->idle_ms);
	if (!k)
		return len - n < NSW_VARINT_MAX_BYTES ? -NSW_E_TRUNCATED : -NSW_E_VALUE;
	n += k;
	if (!session_valid(s))
		return -NSW_E_VALUE;
	return (int)n;
}

void nsw_batch_start(struct nsw_batch *b, uint8_t *buf, size_t cap, uint8_t type)
{
	b->buf = buf;
	/* The body limit holds without the tag a MAC may add later. */
	b->cap = cap < NSW_HDR_LEN + NSW_MAX_BODY ? cap : NSW_HDR_LEN + NSW_MAX_BODY;
	b->len = NSW_HDR_LEN + 2;
	b->count = 0;
	b->type = type;
}

int nsw_batch_add_session(struct nsw_batch *b, const struct nsw_session *s)
{
	if (b->type != NSW_SESSION_ADD && b->type != NSW_SESSION_UPDATE)
		return -NSW_E_VALUE;
	if (!session_valid(s))
		return -NSW_E_VALUE;
	if (b->count == UINT16_MAX || b->len + nsw_session_size(s) > b->cap)
		return -NSW_E_NOSPC;
	b->len += encode_session(b->buf + b->len, s);
	b->count++;
	return 0;
}

/* A NAT64 record's IPv6 key: 16 + 16 address bytes, ports, next header. */
static void put_key6(uint8_t *p, const struct ns_tuple6 *k)
{
	memcpy(p, k->saddr, 16);
	memcpy(p + 16, k->daddr, 16);
	memcpy(p + 32, &k->sport, 2);
	memcpy(p + 34, &k->dport, 2);
	p[36] = k->proto;
}

static void get_key6(const uint8_t *p, struct ns_tuple6 *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, p, 16);
	memcpy(k->daddr, p + 16, 16);
	memcpy(&k->sport, p + 32, 2);
	memcpy(&k->dport, p + 34, 2);
	k->proto = p[36];
}

/* A NAT64 session: its record must say so, and its IPv6 key carry one of
 * the protocols the fast path translates (ICMPv6 for ICMP). */
static bool session64_valid(const struct ns_tuple6 *k, const struct nsw_session *s)
{
	if (s->nat_type != NS_NAT_NAT64)
		return false;
	if (k->proto == 58)
		return s->in_key.proto == 1;
	return (k->proto == 6 || k->proto == 17) && s->in_key.proto == k->proto;
}

int nsw_batch_add_session64(struct nsw_batch *b, const struct ns_tuple6 *k,
			    const struct nsw_session *s)
{
	if (b->type != NSW_SESSION64_ADD && b->type != NSW_SESSION64_UPDATE)
		return -NSW_E_VALUE;
	if (!session_valid(s) || !session64_valid(k, s))
		return -NSW_E_VALUE;
	if (b->count == UINT16_MAX || b->len + NSW_KEY6_LEN + nsw_session_size(s) > b->cap)
		return -NSW_E_NOSPC;
	put_key6(b->buf + b->len, k);
	b->len += NSW_KEY6_LEN;
	b->len += encode_session(b->buf + b->len, s);
	b->count++;
	return 0;
}

int nsw_batch_add_del(struct nsw_batch *b, const struct ns_tuple *k)
{
	if (b->type != NSW_SESSION_DEL && b->type != NSW_SESSION64_DEL)
		return -NSW_E_VALUE;
	if (b->count == UINT16_MAX || b->len + NSW_DEL_LEN > b->cap)
		return -NSW_E_NOSPC;
	put_tuple4(b->buf + b->len, k);
	b->buf[b->len + 12] = k->proto;
	b->len += NSW_DEL_LEN;
	b->count++;
	return 0;
}

size_t nsw_batch_finish(struct nsw_batch *b, uint32_t seq)
{
	if (!b->count)
		return 0;
	nsw_put_hdr(b->buf, b->type, (uint32_t)(b->len - NSW_HDR_LEN), seq);
	put16(b->buf + NSW_HDR_LEN, b->count);
	return b->len;
}

int nsw_decode_sessions(const uint8_t *b, size_t len, struct nsw_session *out, size_t max,
			size_t *n)
{
	size_t count, off = 2;

	*n = 0;
	if (len < 2)
		return -NSW_E_TRUNCATED;
	count = get16(b);
	if (!count || count > max || count * NSW_SESSION_MIN > len - 2)
		return -NSW_E_COUNT;
	for (size_t i = 0; i < count; i++) {
		int r = decode_session(b + off, len - off, &out[i]);

		if (r == -NSW_E_TRUNCATED)
			return -NSW_E_COUNT;
		if (r < 0)
			return r;
		off += (size_t)r;
	}
	if (off != len)
		return -NSW_E_COUNT; /* trailing bytes: count and length disagree */
	*n = count;
	return 0;
}

int nsw_decode_sessions64(const uint8_t *b, size_t len, struct ns_tuple6 *keys,
			  struct nsw_session *out, size_t max, size_t *n)
{
	size_t count, off = 2;

	*n = 0;
	if (len < 2)
		return -NSW_E_TRUNCATED;
	count = get16(b);
	if (!count || count > max || count * NSW_SESSION64_MIN > len - 2)
		return -NSW_E_COUNT;
	for (size_t i = 0; i < count; i++) {
		int r;

		if (len - off < NSW_KEY6_LEN)
			return -NSW_E_COUNT;
		get_key6(b + off, &keys[i]);
		off += NSW_KEY6_LEN;
		r = decode_session(b + off, len - off, &out[i]);
		if (r == -NSW_E_TRUNCATED)
			return -NSW_E_COUNT;
		if (r < 0)
			return r;
		if (!session64_valid(&keys[i], &out[i]))
			return -NSW_E_VALUE;
		off += (size_t)r;
	}
	if (off != len)
		return -NSW_E_COUNT;
	*n = count;
	return 0;
}

int nsw_decode_dels(const uint8_t *b, size_t len, struct ns_tuple *out, size_t max, size_t *n)
{
	size_t count;

	*n = 0;
	if (len < 2)
		return -NSW_E_TRUNCATED;
	count = get16(b);
	if (!count || count > max || len != 2 + count * NSW_DEL_LEN)
		return -NSW_E_COUNT;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = b + 2 + i * NSW_DEL_LEN;

		memset(&out[i], 0, sizeof(out[i]));
		get_tuple4(p, &out[i]);
		out[i].proto = p[12];
	}
	*n = count;
	return 0;
}

/* ---- held bindings (PORT_HOLD) ------------------------------------------ */

/*
 * Record layout:
 *  0 addr[4]  4 port[2]  6 proto  7 in_addr[4]  11 in_port[2]  13 flags
 * 14 pool_id  15 svc_set  16 nat_term be16  18 held_ms varint
 */
static bool hold_valid(const struct nsw_hold *h)
{
	if (h->flags & ~(NS_PORT_F_EIM | NS_PORT_F_EIF))
		return false;
	if ((h->flags & NS_PORT_F_EIF) && !(h->flags & NS_PORT_F_EIM))
		return false; /* EIF needs EIM (RFC 4787 REQ-8) */
	if (h->pool_id >= NS_MAX_POOLS || h->svc_set >= NS_MAX_SVC_SETS ||
	    h->nat_term >= NS_MAX_NAT_TERMS)
		return false;
	switch (h->key.proto) {
	case 0: /* dynamic-nat44: the whole address, port 0, no inside port */
		return !h->key.port && !h->in_port && !h->flags;
	case 1:
	case 6:
	case 17:
		return true;
	default:
		return false;
	}
}

int nsw_batch_add_hold(struct nsw_batch *b, const struct nsw_hold *h)
{
	uint64_t held = clamp_age(h->held_ms);
	uint8_t *p;

	if (b->type != NSW_PORT_HOLD || !hold_valid(h))
		return -NSW_E_VALUE;
	if (b->count == UINT16_MAX || b->len + NSW_HOLD_FIXED + varint_size(held) > b->cap)
		return -NSW_E_NOSPC;
	p = b->buf + b->len;
	memcpy(p, &h->key.addr, 4);
	memcpy(p + 4, &h->key.port, 2);
	p[6] = h->key.proto;
	memcpy(p + 7, &h->in_addr, 4);
	memcpy(p + 11, &h->in_port, 2);
	p[13] = h->flags;
	p[14] = h->pool_id;
	p[15] = (uint8_t)h->svc_set;
	put16(p + 16, h->nat_term);
	b->len += NSW_HOLD_FIXED + put_varint(p + NSW_HOLD_FIXED, held);
	b->count++;
	return 0;
}

int nsw_decode_holds(const uint8_t *b, size_t len, struct nsw_hold *out, size_t max, size_t *n)
{
	size_t count, off = 2;

	*n = 0;
	if (len < 2)
		return -NSW_E_TRUNCATED;
	count = get16(b);
	if (!count || count > max || count * NSW_HOLD_MIN > len - 2)
		return -NSW_E_COUNT;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = b + off;
		struct nsw_hold *h = &out[i];
		size_t k;

		if (len - off < NSW_HOLD_MIN)
			return -NSW_E_COUNT;
		memset(h, 0, sizeof(*h));
		memcpy(&h->key.addr, p, 4);
		memcpy(&h->key.port, p + 4, 2);
		h->key.proto = p[6];
		memcpy(&h->in_addr, p + 7, 4);
		memcpy(&h->in_port, p + 11, 2);
		h->flags = p[13];
		h->pool_id = p[14];
		h->svc_set = p[15];
		h->nat_term = get16(p + 16);
		k = get_varint(p + NSW_HOLD_FIXED, len - off - NSW_HOLD_FIXED, &h->held_ms);
		if (!k)
			return len - off - NSW_HOLD_FIXED < NSW_VARINT_MAX_BYTES ? -NSW_E_COUNT
										  : -NSW_E_VALUE;
		if (!hold_valid(h))
			return -NSW_E_VALUE;
		off += NSW_HOLD_FIXED + k;
	}
	if (off != len)
		return -NSW_E_COUNT;
	*n = count;
	return 0;
}

/* ---- HMAC-SHA256 ----------------------------------------------------------
 * From libsodium (a well-kept library, as the hardening issue asks), never
 * hand-written: crypto_auth_hmacsha256_* hashes an over-long key itself, as
 * RFC 2104 says, and needs no allocation per frame. */

void nsw_hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *prefix, size_t plen,
		     const uint8_t *data, size_t dlen, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, klen);
	if (plen)
		crypto_auth_hmacsha256_update(&st, prefix, plen);
	if (dlen)
		crypto_auth_hmacsha256_update(&st, data, dlen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

int nsw_load_psk(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t n;
	int c;

	if (!f)
		return -errno;
	n = fread(buf, 1, cap, f);
	c = fgetc(f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (c != EOF || n < 16) {
		sodium_memzero(buf, cap);
		return -EINVAL;
	}
	*len = n;
	return 0;
}

void nsw_derive_key(const uint8_t *psk, size_t psk_len, const uint8_t nonce_i[NSW_NONCE_LEN],
		    const uint8_t nonce_a[NSW_NONCE_LEN], uint8_t key[NSW_KEY_LEN])
{
	static const char label[] = "natsync-sync-v1";
	uint8_t nonces[2 * NSW_NONCE_LEN];

	memcpy(nonces, nonce_i, NSW_NONCE_LEN);
	memcpy(nonces + NSW_NONCE_LEN, nonce_a, NSW_NONCE_LEN);
	nsw_hmac_sha256(psk, psk_len, (const uint8_t *)label, sizeof(label) - 1, nonces,
			sizeof(nonces), key);
}

size_t nsw_mark_mac(uint8_t *frame, size_t len)
{
	put16(frame + 6, get16(frame + 6) | NSW_F_MAC);
	put32(frame + 8, get32(frame + 8) + NSW_MAC_LEN);
	return len + NSW_MAC_LEN;
}

/* The tag covers the direction and the frame up to the tag. */
static void frame_tag(const uint8_t key[NSW_KEY_LEN], uint8_t dir, const uint8_t *frame,
		      uint8_t tag[32])
{
	size_t covered = NSW_HDR_LEN + get32(frame + 8) - NSW_MAC_LEN;

	nsw_hmac_sha256(key, NSW_KEY_LEN, &dir, 1, frame, covered, tag);
}

void nsw_mac_frame(const uint8_t key[NSW_KEY_LEN], uint8_t dir, uint8_t *frame)
{
	uint8_t tag[32];

	frame_tag(key, dir, frame, tag);
	memcpy(frame + NSW_HDR_LEN + get32(frame + 8) - NSW_MAC_LEN, tag, NSW_MAC_LEN);
}

bool nsw_mac_verify(const uint8_t key[NSW_KEY_LEN], uint8_t dir, const uint8_t *frame)
{
	const uint8_t *got;
	uint8_t tag[32];

	if (!(get16(frame + 6) & NSW_F_MAC) || get32(frame + 8) < NSW_MAC_LEN)
		return false;
	frame_tag(key, dir, frame, tag);
	got = frame + NSW_HDR_LEN + get32(frame + 8) - NSW_MAC_LEN;
	return sodium_memcmp(tag, got, NSW_MAC_LEN) == 0; /* constant time */
}

/* ---- ChaCha20-Poly1305 ------------------------------------------------------
 * libsodium's IETF construction (RFC 8439): 256-bit key, 96-bit nonce,
 * 128-bit tag. In-place operation (ciphertext over plaintext) is supported
 * by libsodium, so the frame never needs a second buffer. */

_Static_assert(crypto_aead_chacha20poly1305_IETF_ABYTES == NSW_MAC_LEN, "tag size");
_Static_assert(crypto_aead_chacha20poly1305_IETF_KEYBYTES == NSW_KEY_LEN, "key size");
_Static_assert(crypto_aead_chacha20poly1305_IETF_NPUBBYTES == 12, "nonce size");

void nsw_derive_enc_key(const uint8_t *psk, size_t psk_len, const uint8_t nonce_i[NSW_NONCE_LEN],
			const uint8_t nonce_a[NSW_NONCE_LEN], uint8_t dir, uint8_t key[NSW_KEY_LEN])
{
	static const char label[] = "natsync-sync-enc-v1";
	uint8_t pre[sizeof(label)], nonces[2 * NSW_NONCE_LEN];

	/* label || dir: a label the MAC key's derivation never uses, so the
	 * three keys of a connection are independent. */
	memcpy(pre, label, sizeof(label) - 1);
	pre[sizeof(label) - 1] = dir;
	memcpy(nonces, nonce_i, NSW_NONCE_LEN);
	memcpy(nonces + NSW_NONCE_LEN, nonce_a, NSW_NONCE_LEN);
	nsw_hmac_sha256(psk, psk_len, pre, sizeof(pre), nonces, sizeof(nonces), key);
	sodium_memzero(nonces, sizeof(nonces));
}

size_t nsw_mark_enc(uint8_t *frame, size_t len)
{
	put16(frame + 6, get16(frame + 6) | NSW_F_ENC);
	put32(frame + 8, get32(frame + 8) + NSW_MAC_LEN);
	return len + NSW_MAC_LEN;
}

/* dir || 0 0 0 || sequence as a 64-bit big-endian number. */
static void aead_nonce(uint8_t dir, const uint8_t *frame, uint8_t n[12])
{
	memset(n, 0, 12);
	n[0] = dir;
	memcpy(n + 8, frame + 12, 4);
}

void nsw_seal_frame(const uint8_t key[NSW_KEY_LEN], uint8_t dir, uint8_t *frame)
{
	uint32_t blen = get32(frame + 8) - NSW_MAC_LEN;
	uint8_t *body = frame + NSW_HDR_LEN, n[12];

	aead_nonce(dir, frame, n);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, body + blen, NULL, body, blen,
							   frame, NSW_HDR_LEN, NULL, n, key);
}

bool nsw_open_frame(const uint8_t key[NSW_KEY_LEN], uint8_t dir, uint8_t *frame)
{
	uint32_t len = get32(frame + 8);
	uint8_t *body = frame + NSW_HDR_LEN, n[12];

	if (!(get16(frame + 6) & NSW_F_ENC) || len < NSW_MAC_LEN)
		return false;
	aead_nonce(dir, frame, n);
	/* libsodium verifies the tag before it decrypts; on a mismatch it
	 * clears the output instead of releasing unverified plaintext. */
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		       body, NULL, body, len - NSW_MAC_LEN, body + len - NSW_MAC_LEN, frame,
		       NSW_HDR_LEN, n, key) == 0;
}

/* ---- map value conversion ---------------------------------------------- */

static uint64_t ns_to_ms_age(uint64_t now_ns, uint64_t then_ns)
{
	return then_ns >= now_ns ? 0 : (now_ns - then_ns) / 1000000ull;
}

void nsw_session_from_ns(const struct ns_session *v, uint64_t now_ns, uint8_t bind,
			 struct nsw_session *out)
{
	memset(out, 0, sizeof(*out));
	out->in_key = v->in_key;
	out->out_key = v->out_key;
	memset(out->in_key._pad, 0, sizeof(out->in_key._pad));
	memset(out->out_key._pad, 0, sizeof(out->out_key._pad));
	out->out_key.proto = v->in_key.proto;
	out->flags = v->flags & NSW_SF_WIRE_MASK;
	out->svc_set = v->svc_set;
	out->nat_term = v->nat_term;
	out->fw_term = v->fw_term;
	out->nat_type = v->nat_type;
	out->tcp_state = v->tcp_state;
	out->origin = v->origin;
	out->pool_id = v->pool_id;
	out->bind = bind & NSW_BIND_MASK;
	out->age_ms = clamp_age(ns_to_ms_age(now_ns, v->created_ns));
	out->idle_ms = clamp_age(ns_to_ms_age(now_ns, v->last_seen_ns));
	/* last_seen < created can only be a race with the fast path: clamp. */
	if (out->idle_ms > out->age_ms)
		out->idle_ms = out->age_ms;
}

/* now - ms, never below 1 ns: a fresh machine's clock may be younger than
 * the session, and 0 reads as "never" to some of our tools. */
static uint64_t rebase(uint64_t now_ns, uint64_t ms)
{
	uint64_t d = ms * 1000000ull;

	return d >= now_ns ? 1 : now_ns - d;
}

void nsw_session_to_ns(const struct nsw_session *s, uint64_t now_ns, struct ns_session *out)
{
	memset(out, 0, sizeof(*out));
	out->in_key = s->in_key;
	out->out_key = s->out_key;
	memset(out->in_key._pad, 0, sizeof(out->in_key._pad));
	memset(out->out_key._pad, 0, sizeof(out->out_key._pad));
	out->created_ns = rebase(now_ns, s->age_ms);
	out->last_seen_ns = rebase(now_ns, s->idle_ms);
	out->flags = (s->flags & NSW_SF_WIRE_MASK) | NS_SF_REPLICATED;
	out->svc_set = s->svc_set;
	out->nat_term = s->nat_term;
	out->fw_term = s->fw_term;
	out->nat_type = s->nat_type;
	out->tcp_state = s->tcp_state;
	out->origin = s->origin;
	out->pool_id = s->pool_id;
}

void nsw_hold_from_ns(const struct ns_port_key *k, const struct ns_port_val *v, uint64_t now_ns,
		      struct nsw_hold *out)
{
	memset(out, 0, sizeof(*out));
	out->key.addr = k->addr;
	out->key.port = k->port;
	out->key.proto = k->proto;
	out->in_addr = v->in_addr;
	out->in_port = v->in_port;
	out->flags = v->flags & (NS_PORT_F_EIM | NS_PORT_F_EIF);
	out->pool_id = v->pool_id;
	out->svc_set = v->svc_set;
	out->nat_term = v->nat_term;
	out->held_ms = clamp_age(ns_to_ms_age(now_ns, v->released_ns));
}

void nsw_hold_to_ns(const struct nsw_hold *h, uint64_t now_ns, struct ns_port_key *k,
		    struct ns_port_val *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->addr = h->key.addr;
	k->port = h->key.port;
	k->proto = h->key.proto;
	v->in_addr = h->in_addr;
	v->in_port = h->in_port;
	v->flags = h->flags | NS_PORT_F_HOLD;
	v->pool_id = h->pool_id;
	v->svc_set = h->svc_set;
	v->nat_term = h->nat_term;
	v->released_ns = rebase(now_ns, h->held_ms);
	/* before any aging walk that could see it: judged by released_ns */
	v->last_used_ns = v->released_ns;
}
