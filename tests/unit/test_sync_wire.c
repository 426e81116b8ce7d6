// SPDX-License-Identifier: GPL-2.0
/*
 * test_sync_wire.c - the sync protocol's wire encoding: every message type
 * round-trips; truncated, oversized, mis-versioned, mis-counted and random
 * frames are rejected with an error and never crash the decoder.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "daemon/sync_wire.h"

static uint8_t frame[NSW_MAX_FRAME + 64];
/* Body of the last checked frame (set in its own statement: argument
 * evaluation order is unspecified, so never inside the decoder call). */
static const uint8_t *cb;

/* A NAPT44 TCP session: 100.64.0.10:40000 -> 198.51.100.7:80 via 203.0.113.5:1025. */
static struct nsw_session sample_session(unsigned int i)
{
	struct nsw_session s;

	memset(&s, 0, sizeof(s));
	s.in_key.saddr = htonl(0x64400000u + 10 + i);
	s.in_key.daddr = htonl(0xc6336407u);
	s.in_key.sport = htons(40000 + i);
	s.in_key.dport = htons(80);
	s.in_key.proto = IPPROTO_TCP;
	s.out_key.saddr = s.in_key.daddr;
	s.out_key.daddr = htonl(0xcb007105u);
	s.out_key.sport = htons(80);
	s.out_key.dport = htons(1025 + i);
	s.out_key.proto = IPPROTO_TCP;
	s.flags = NS_SF_NAT_SRC | (i & 1 ? NS_SF_EIM : 0);
	s.svc_set = i % NS_MAX_SVC_SETS;
	s.nat_term = i % 3 ? 7 : NS_NONE16;
	s.fw_term = 2;
	s.nat_type = NS_NAT_NAPT44;
	s.tcp_state = NS_TCP_ESTABLISHED;
	s.origin = NS_SIDE_INSIDE;
	s.pool_id = i % 2 ? 3 : 0xff;
	s.bind = NSW_BIND_PORT | (i & 1 ? NSW_BIND_EIM : 0);
	s.age_ms = 1000ull * i * i + i;
	s.idle_ms = s.age_ms / 3;
	return s;
}

static void check_session_eq(const struct nsw_session *a, const struct nsw_session *b)
{
	cr_assert_eq(memcmp(&a->in_key, &b->in_key, sizeof(a->in_key)), 0);
	cr_assert_eq(memcmp(&a->out_key, &b->out_key, sizeof(a->out_key)), 0);
	cr_assert_eq(a->flags, b->flags);
	cr_assert_eq(a->svc_set, b->svc_set);
	cr_assert_eq(a->nat_term, b->nat_term);
	cr_assert_eq(a->fw_term, b->fw_term);
	cr_assert_eq(a->nat_type, b->nat_type);
	cr_assert_eq(a->tcp_state, b->tcp_state);
	cr_assert_eq(a->origin, b->origin);
	cr_assert_eq(a->pool_id, b->pool_id);
	cr_assert_eq(a->bind, b->bind);
	cr_assert_eq(a->age_ms, b->age_ms);
	cr_assert_eq(a->idle_ms, b->idle_ms);
}

/* Check a whole frame and return a pointer to its body. */
static const uint8_t *checked_body(const uint8_t *f, size_t len, uint8_t type, uint32_t seq,
				   struct nsw_hdr *h)
{
	cr_assert_eq(nsw_frame_check(f, len, h), 0, "frame of %zu bytes rejected", len);
	cr_assert_eq(h->magic, NSW_MAGIC);
	cr_assert_eq(h->version, NSW_VERSION);
	cr_assert_eq(h->type, type);
	cr_assert_eq(h->seq, seq);
	cr_assert_eq(NSW_HDR_LEN + h->length, len);
	return f + NSW_HDR_LEN;
}

Test(sync_wire, header_is_network_byte_order)
{
	struct nsw_ack a = { .seq = 0x01020304, .install_fail = 5 };
	int n = nsw_encode_ack(frame, sizeof(frame), 0x0a0b0c0d, &a);
	static const uint8_t want[] = { 0x4e, 0x53, 0x59, 0x43, NSW_VERSION, NSW_ACK, 0, 0,
					0, 0, 0, 8, 0x0a, 0x0b, 0x0c, 0x0d,
					1, 2, 3, 4, 0, 0, 0, 5 };

	cr_assert_eq(n, (int)sizeof(want));
	cr_assert_eq(memcmp(frame, want, sizeof(want)), 0);
}

Test(sync_wire, hello_and_ack_roundtrip)
{
	struct nsw_hello m = { .version = NSW_VERSION, .role = NSW_ROLE_PRIMARY,
			       .flags = NSW_HELLO_F_WANT_BULK, .caps = NSW_CAP_BINDINGS | NSW_CAP_EIF,
			       .fingerprint = 0x0123456789abcdefull, .name = "chassis1",
			       .nonce = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } };
	uint8_t types[] = { NSW_HELLO, NSW_HELLO_ACK };

	for (size_t t = 0; t < 2; t++) {
		struct nsw_hello d;
		struct nsw_hdr h;
		int n = nsw_encode_hello(frame, sizeof(frame), types[t], 42, &m);
		const uint8_t *body;

		cr_assert_gt(n, 0);
		body = checked_body(frame, n, types[t], 42, &h);
		cr_assert_eq(nsw_decode_hello(body, h.length, &d), 0);
		cr_assert_eq(d.version, m.version);
		cr_assert_eq(d.role, m.role);
		cr_assert_eq(d.flags, m.flags);
		cr_assert_eq(d.caps, m.caps);
		cr_assert_eq(d.fingerprint, m.fingerprint);
		cr_assert_eq(memcmp(d.nonce, m.nonce, NSW_NONCE_LEN), 0);
		cr_assert_str_eq(d.name, "chassis1");
	}
}

Test(sync_wire, hello_name_limits)
{
	struct nsw_hello m = { .version = NSW_VERSION }, d;
	struct nsw_hdr h;
	int n;

	/* Empty and maximal names are fine. */
	n = nsw_encode_hello(frame, sizeof(frame), NSW_HELLO, 1, &m);
	cr_assert_gt(n, 0);
	cb = checked_body(frame, n, NSW_HELLO, 1, &h);
	cr_assert_eq(nsw_decode_hello(cb, h.length, &d), 0);
	cr_assert_str_eq(d.name, "");
	memset(m.name, 'x', NSW_NAME_MAX);
	n = nsw_encode_hello(frame, sizeof(frame), NSW_HELLO, 1, &m);
	cr_assert_eq(n, NSW_HDR_LEN + 33 + NSW_NAME_MAX);
	cb = checked_body(frame, n, NSW_HELLO, 1, &h);
	cr_assert_eq(nsw_decode_hello(cb, h.length, &d), 0);
	cr_assert_eq(strlen(d.name), NSW_NAME_MAX);
	/* A control character in the name is refused. */
	frame[NSW_HDR_LEN + 33 + 3] = '\n';
	cr_assert_eq(nsw_decode_hello(frame + NSW_HDR_LEN, h.length, &d), -NSW_E_VALUE);
	/* Name length byte disagreeing with the body length. */
	frame[NSW_HDR_LEN + 33 + 3] = 'x';
	frame[NSW_HDR_LEN + 32] = 10;
	cr_assert_eq(nsw_decode_hello(frame + NSW_HDR_LEN, h.length, &d), -NSW_E_LENGTH);
	/* Unknown role. */
	frame[NSW_HDR_LEN + 32] = NSW_NAME_MAX;
	frame[NSW_HDR_LEN + 1] = 7;
	cr_assert_eq(nsw_decode_hello(frame + NSW_HDR_LEN, h.length, &d), -NSW_E_VALUE);
}

Test(sync_wire, refuse_roundtrip)
{
	for (uint8_t r = NSW_REFUSE_VERSION; r < NSW_REFUSE_MAX; r++) {
		struct nsw_refuse m = { .reason = r, .version = NSW_VERSION,
					.fingerprint = 0xfeedfacecafebeefull }, d;
		struct nsw_hdr h;
		int n = nsw_encode_refuse(frame, sizeof(frame), 9, &m);

		cr_assert_gt(n, 0);
		cb = checked_body(frame, n, NSW_REFUSE, 9, &h);
		cr_assert_eq(nsw_decode_refuse(cb, h.length,
					       &d), 0);
		cr_assert_eq(d.reason, r);
		cr_assert_eq(d.version, NSW_VERSION);
		cr_assert_eq(d.fingerprint, m.fingerprint);
		cr_assert_str_neq(nsw_refuse_str(r), "unknown reason");
	}
	{
		struct nsw_refuse bad = { .reason = 0 };

		cr_assert_eq(nsw_encode_refuse(frame, sizeof(frame), 1, &bad), -NSW_E_VALUE);
	}
}

Test(sync_wire, bulk_ack_heartbeat_empty_roundtrip)
{
	struct nsw_bulk b = { .epoch = 3, .count = 1000000 }, bd;
	struct nsw_ack a = { .seq = 0xfffffffe, .install_fail = 17 }, ad;
	struct nsw_heartbeat hb = { .role = NSW_ROLE_BACKUP, .ready = 1, .priority = 100,
				    .sessions = 123456, .uptime_ms = 1ull << 40 }, hd;
	struct nsw_hdr h;
	int n;

	for (uint8_t t = NSW_BULK_START; t <= NSW_BULK_END; t++) {
		n = nsw_encode_bulk(frame, sizeof(frame), t, 5, &b);
		cr_assert_gt(n, 0);
		cb = checked_body(frame, n, t, 5, &h);
		cr_assert_eq(nsw_decode_bulk(cb, h.length, &bd), 0);
		cr_assert_eq(bd.epoch, 3);
		cr_assert_eq(bd.count, 1000000);
	}
	n = nsw_encode_ack(frame, sizeof(frame), 6, &a);
	cb = checked_body(frame, n, NSW_ACK, 6, &h);
	cr_assert_eq(nsw_decode_ack(cb, h.length, &ad), 0);
	cr_assert_eq(ad.seq, a.seq);
	cr_assert_eq(ad.install_fail, 17);
	n = nsw_encode_heartbeat(frame, sizeof(frame), 7, &hb);
	cb = checked_body(frame, n, NSW_HEARTBEAT, 7, &h);
	cr_assert_eq(nsw_decode_heartbeat(cb, h.length,
					  &hd), 0);
	cr_assert_eq(hd.role, NSW_ROLE_BACKUP);
	cr_assert_eq(hd.ready, 1);
	cr_assert_eq(hd.priority, 100);
	cr_assert_eq(hd.sessions, 123456);
	cr_assert_eq(hd.uptime_ms, 1ull << 40);
	n = nsw_encode_empty(frame, sizeof(frame), NSW_BULK_REQUEST, 8);
	cr_assert_eq(n, NSW_HDR_LEN);
	checked_body(frame, n, NSW_BULK_REQUEST, 8, &h);
	cr_assert_eq(h.length, 0);
	/* Types that carry a body cannot be sent empty. */
	cr_assert_eq(nsw_encode_empty(frame, sizeof(frame), NSW_ACK, 8), -NSW_E_VALUE);
}

static void session_batch_roundtrip(uint8_t type, unsigned int count)
{
	static struct nsw_session in[NSW_BATCH_MAX_SESSIONS], out[NSW_BATCH_MAX_SESSIONS];
	struct nsw_batch b;
	struct nsw_hdr h;
	size_t n, got;

	nsw_batch_start(&b, frame, sizeof(frame), type);
	for (unsigned int i = 0; i < count; i++) {
		in[i] = sample_session(i);
		cr_assert_eq(nsw_batch_add_session(&b, &in[i]), 0, "record %u", i);
	}
	n = nsw_batch_finish(&b, 77);
	cr_assert_leq(n, NSW_MAX_FRAME);
	cb = checked_body(frame, n, type, 77, &h);
	cr_assert_eq(nsw_decode_sessions(cb, h.length, out,
					 NSW_BATCH_MAX_SESSIONS, &got), 0);
	cr_assert_eq(got, count);
	for (unsigned int i = 0; i < count; i++)
		check_session_eq(&in[i], &out[i]);
}

Test(sync_wire, session_add_update_roundtrip)
{
	session_batch_roundtrip(NSW_SESSION_ADD, 1);
	session_batch_roundtrip(NSW_SESSION_ADD, 100);
	session_batch_roundtrip(NSW_SESSION_UPDATE, 1);
	session_batch_roundtrip(NSW_SESSION_UPDATE, 250);
}

Test(sync_wire, session_record_is_small)
{
	struct nsw_session s = sample_session(1);

	/* A session 2 h old, idle 1 min: 37 fixed + 4 + 3 bytes. */
	s.age_ms = 7200000;
	s.idle_ms = 60000;
	cr_assert_eq(nsw_session_size(&s), 44);
	/* Worst case, ages clamped to what five varint bytes hold. */
	s.age_ms = s.idle_ms = UINT64_MAX;
	cr_assert_eq(nsw_session_size(&s), NSW_SESSION_MAX);
	cr_assert_leq(NSW_SESSION_MAX, 48);
}

Test(sync_wire, ages_at_varint_boundaries_and_clamp)
{
	static const uint64_t ages[] = { 0, 1, 127, 128, 16383, 16384, 2097151, 2097152,
					 NSW_AGE_MAX_MS };
	struct nsw_session out[1];
	struct nsw_batch b;
	struct nsw_hdr h;
	size_t n, got;

	for (size_t i = 0; i < (sizeof(ages) / sizeof((ages)[0])); i++) {
		struct nsw_session s = sample_session(2);

		s.age_ms = ages[i];
		s.idle_ms = ages[i];
		nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_ADD);
		cr_assert_eq(nsw_batch_add_session(&b, &s), 0);
		n = nsw_batch_finish(&b, 1);
		cb = checked_body(frame, n, NSW_SESSION_ADD, 1, &h);
		cr_assert_eq(nsw_decode_sessions(cb, h.length, out, 1, &got), 0);
		cr_assert_eq(out[0].age_ms, ages[i]);
		cr_assert_eq(out[0].idle_ms, ages[i]);
	}
	/* Beyond the maximum the encoder clamps instead of overflowing. */
	{
		struct nsw_session s = sample_session(2);

		s.age_ms = s.idle_ms = NSW_AGE_MAX_MS + 12345;
		nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_ADD);
		cr_assert_eq(nsw_batch_add_session(&b, &s), 0);
		n = nsw_batch_finish(&b, 1);
		cr_assert_eq(nsw_decode_sessions(frame + NSW_HDR_LEN, n - NSW_HDR_LEN, out, 1,
						 &got), 0);
		cr_assert_eq(out[0].age_ms, NSW_AGE_MAX_MS);
	}
}

Test(sync_wire, del_roundtrip)
{
	static struct ns_tuple in[NSW_BATCH_MAX_DELS], out[NSW_BATCH_MAX_DELS];
	struct nsw_batch b;
	struct nsw_hdr h;
	size_t n, got, count = 0;

	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_DEL);
	for (;;) {
		struct nsw_session s = sample_session((unsigned int)count);

		s.in_key.proto = count % 2 ? IPPROTO_UDP : IPPROTO_ICMP;
		if (nsw_batch_add_del(&b, &s.in_key))
			break;
		in[count++] = s.in_key;
	}
	/* The batch filled a whole frame and stopped cleanly. */
	cr_assert_eq(count, NSW_BATCH_MAX_DELS);
	n = nsw_batch_finish(&b, 3);
	cr_assert_leq(n, NSW_MAX_FRAME);
	cb = checked_body(frame, n, NSW_SESSION_DEL, 3, &h);
	cr_assert_eq(nsw_decode_dels(cb, h.length, out,
				     NSW_BATCH_MAX_DELS, &got), 0);
	cr_assert_eq(got, count);
	for (size_t i = 0; i < count; i++)
		cr_assert_eq(memcmp(&in[i], &out[i], sizeof(in[i])), 0, "key %zu", i);
}

Test(sync_wire, full_session_batch_fits_one_frame)
{
	static struct nsw_session out[NSW_BATCH_MAX_SESSIONS];
	struct nsw_batch b;
	struct nsw_hdr h;
	unsigned int count = 0;
	size_t n, got;

	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_ADD);
	for (;;) {
		struct nsw_session s = sample_session(count);

		if (nsw_batch_add_session(&b, &s) == -NSW_E_NOSPC)
			break;
		count++;
	}
	cr_assert_gt(count, 300);
	n = nsw_batch_finish(&b, 1);
	cr_assert_leq(n, NSW_MAX_FRAME);
	cb = checked_body(frame, n, NSW_SESSION_ADD, 1, &h);
	cr_assert_eq(nsw_decode_sessions(cb, h.length,
					 out, NSW_BATCH_MAX_SESSIONS, &got), 0);
	cr_assert_eq(got, count);
	/* An empty batch produces no frame at all. */
	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_UPDATE);
	cr_assert_eq(nsw_batch_finish(&b, 1), 0);
	/* Wrong record kind for the batch type. */
	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_DEL);
	cr_assert_eq(nsw_batch_add_session(&b, &out[0]), -NSW_E_VALUE);
}

Test(sync_wire, map_value_conversion_rebases_clocks)
{
	struct ns_session v, back;
	struct nsw_session w;
	uint64_t sender_now = 5000ull * 1000000000ull, receiver_now = 90ull * 1000000000ull;

	memset(&v, 0, sizeof(v));
	v.in_key.saddr = htonl(0x64400001);
	v.in_key.proto = IPPROTO_UDP;
	v.out_key.daddr = htonl(0xcb007101);
	v.out_key.proto = IPPROTO_UDP;
	v.created_ns = sender_now - 30ull * 1000000000ull;  /* 30 s old */
	v.last_seen_ns = sender_now - 2500000000ull;         /* idle 2.5 s */
	v.packets[0] = 10;
	v.flags = NS_SF_NAT_SRC | NS_SF_SYNCED;
	v.svc_set = 1;
	v.nat_term = 4;
	v.fw_term = NS_NONE16;
	v.nat_type = NS_NAT_NAPT44;
	v.pool_id = 2;
	nsw_session_from_ns(&v, sender_now, NSW_BIND_PORT, &w);
	cr_assert_eq(w.age_ms, 30000);
	cr_assert_eq(w.idle_ms, 2500);
	cr_assert_eq(w.flags, NS_SF_NAT_SRC, "local-only flags must not travel");
	nsw_session_to_ns(&w, receiver_now, &back);
	cr_assert_eq(back.created_ns, receiver_now - 30ull * 1000000000ull);
	cr_assert_eq(back.last_seen_ns, receiver_now - 2500000000ull);
	cr_assert_eq(back.flags, NS_SF_NAT_SRC | NS_SF_REPLICATED);
	cr_assert_eq(back.packets[0], 0);
	cr_assert_eq(back.svc_set, 1);
	cr_assert_eq(back.nat_term, 4);
	cr_assert_eq(back.fw_term, NS_NONE16);
	cr_assert_eq(back.pool_id, 2);
	cr_assert_eq(memcmp(&back.in_key, &v.in_key, sizeof(v.in_key)), 0);
	/* A receiver whose clock is younger than the session clamps, no wrap. */
	nsw_session_to_ns(&w, 1000, &back);
	cr_assert_eq(back.created_ns, 1);
	/* A timestamp in the sender's future (race) reads as age 0. */
	v.created_ns = v.last_seen_ns = sender_now + 5;
	nsw_session_from_ns(&v, sender_now, 0, &w);
	cr_assert_eq(w.age_ms, 0);
	cr_assert_eq(w.idle_ms, 0);
}

/* ---- rejection ----------------------------------------------------------- */

static size_t one_session_frame(void)
{
	struct nsw_session s = sample_session(5);
	struct nsw_batch b;

	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_ADD);
	cr_assert_eq(nsw_batch_add_session(&b, &s), 0);
	s = sample_session(6);
	cr_assert_eq(nsw_batch_add_session(&b, &s), 0);
	return nsw_batch_finish(&b, 11);
}

Test(sync_wire, every_truncation_is_reported)
{
	struct nsw_hello m = { .version = NSW_VERSION, .name = "box-a" };
	struct nsw_hdr h;
	size_t n = one_session_frame();

	for (size_t cut = 0; cut < n; cut++)
		cr_assert_eq(nsw_frame_check(frame, cut, &h),
			     -NSW_E_TRUNCATED, "cut at %zu", cut);
	n = (size_t)nsw_encode_hello(frame, sizeof(frame), NSW_HELLO, 1, &m);
	for (size_t cut = 0; cut < n; cut++)
		cr_assert_eq(nsw_frame_check(frame, cut, &h), -NSW_E_TRUNCATED, "cut at %zu", cut);
}

Test(sync_wire, truncated_bodies_rejected_by_decoders)
{
	struct nsw_session out[4];
	struct ns_tuple keys[4];
	struct nsw_hello hm;
	struct nsw_refuse rm;
	struct nsw_ack am;
	struct nsw_bulk bm;
	struct nsw_heartbeat hbm;
	size_t n = one_session_frame(), got;

	/* Body shortened by any amount: count/length disagree. */
	for (size_t cut = 0; cut < n - NSW_HDR_LEN; cut++)
		cr_assert_lt(nsw_decode_sessions(frame + NSW_HDR_LEN, cut, out, 4, &got), 0,
			     "body cut at %zu", cut);
	for (size_t cut = 0; cut < 15; cut++)
		cr_assert_lt(nsw_decode_dels(frame + NSW_HDR_LEN, cut, keys, 4, &got), 0);
	cr_assert_lt(nsw_decode_hello(frame, 32, &hm), 0);
	cr_assert_lt(nsw_decode_refuse(frame, 11, &rm), 0);
	cr_assert_lt(nsw_decode_ack(frame, 7, &am), 0);
	cr_assert_lt(nsw_decode_bulk(frame, 7, &bm), 0);
	cr_assert_lt(nsw_decode_heartbeat(frame, 15, &hbm), 0);
}

Test(sync_wire, bad_headers_rejected)
{
	struct nsw_hdr h;
	size_t n = one_session_frame();

	frame[0] ^= 0xff;
	cr_assert_eq(nsw_frame_check(frame, n, &h), -NSW_E_MAGIC);
	cr_assert_eq(nsw_frame_check(frame, 4, &h), -NSW_E_MAGIC, "magic checked early");
	frame[0] ^= 0xff;
	frame[4] = NSW_VERSION + 1;
	cr_assert_eq(nsw_frame_check(frame, n, &h), -NSW_E_VERSION);
	cr_assert_eq(h.version, NSW_VERSION + 1, "header still reported for REFUSE");
	frame[4] = NSW_VERSION;
	frame[5] = 0;
	cr_assert_eq(nsw_frame_check(frame, n, &h), -NSW_E_TYPE);
	frame[5] = NSW_TYPE_MAX;
	cr_assert_eq(nsw_frame_check(frame, n, &h), -NSW_E_TYPE);
	frame[5] = NSW_SESSION_ADD;
	frame[7] = 4;
	cr_assert_eq(nsw_frame_check(frame, n, &h), -NSW_E_VALUE, "reserved flags set");
	frame[6] = 0x80;
	frame[7] = 0;
	cr_assert_eq(nsw_frame_check(frame, n, &h), -NSW_E_VALUE, "reserved flags set");
	frame[6] = 0;
	frame[7] = NSW_F_MAC | NSW_F_ENC;
	cr_assert_eq(nsw_frame_check(frame, n, &h), -NSW_E_VALUE, "MAC and ENC together");
	frame[7] = 0;
	cr_assert_eq(nsw_frame_check(frame, n, &h), 0);
	{
		/* A fixed-size message flagged as tagged but without the tag. */
		struct nsw_ack a = { .seq = 1 };
		int an = nsw_encode_ack(frame, sizeof(frame), 1, &a);

		frame[7] = NSW_F_MAC;
		cr_assert_eq(nsw_frame_check(frame, (size_t)an, &h), -NSW_E_LENGTH,
			     "MAC flag without room for a tag");
		frame[7] = NSW_F_ENC;
		cr_assert_eq(nsw_frame_check(frame, (size_t)an, &h), -NSW_E_LENGTH,
			     "ENC flag without room for a tag");
	}
}

Test(sync_wire, oversized_and_wrong_lengths_rejected)
{
	struct nsw_ack a = { .seq = 1 };
	struct nsw_hdr h;
	uint8_t big[NSW_HDR_LEN];

	/* Oversized is refused from the header alone, before any body arrives. */
	nsw_put_hdr(big, NSW_SESSION_ADD, NSW_MAX_BODY + 1, 1);
	cr_assert_eq(nsw_frame_check(big, sizeof(big), &h), -NSW_E_LENGTH);
	nsw_put_hdr(big, NSW_SESSION_DEL, 0xffffffffu, 1);
	cr_assert_eq(nsw_frame_check(big, sizeof(big), &h), -NSW_E_LENGTH);
	/* Fixed-size messages with another length. */
	nsw_encode_ack(frame, sizeof(frame), 1, &a);
	nsw_put_hdr(frame, NSW_ACK, 9, 1);
	cr_assert_eq(nsw_frame_check(frame, NSW_HDR_LEN + 9, &h), -NSW_E_LENGTH);
	nsw_put_hdr(frame, NSW_BULK_REQUEST, 1, 1);
	cr_assert_eq(nsw_frame_check(frame, NSW_HDR_LEN + 1, &h), -NSW_E_LENGTH);
	nsw_put_hdr(frame, NSW_SESSION_ADD, 2, 1);
	cr_assert_eq(nsw_frame_check(frame, NSW_HDR_LEN + 2, &h), -NSW_E_LENGTH,
		     "a batch without a record");
	/* Encoders refuse a buffer that is too small. */
	cr_assert_eq(nsw_encode_ack(frame, NSW_HDR_LEN + 7, 1, &a), -NSW_E_NOSPC);
}

Test(sync_wire, count_mismatch_rejected)
{
	struct nsw_session out[8];
	struct ns_tuple keys[8];
	size_t n = one_session_frame(), got;
	uint8_t *body = frame + NSW_HDR_LEN;
	size_t blen = n - NSW_HDR_LEN;

	body[1] = 3; /* claims 3 records, holds 2 */
	cr_assert_eq(nsw_decode_sessions(body, blen, out, 8, &got), -NSW_E_COUNT);
	body[1] = 1; /* claims 1: the second record is trailing garbage */
	cr_assert_eq(nsw_decode_sessions(body, blen, out, 8, &got), -NSW_E_COUNT);
	body[1] = 0;
	cr_assert_eq(nsw_decode_sessions(body, blen, out, 8, &got), -NSW_E_COUNT);
	body[1] = 2;
	cr_assert_eq(nsw_decode_sessions(body, blen, out, 1, &got), -NSW_E_COUNT,
		     "more records than the caller's array");
	cr_assert_eq(nsw_decode_sessions(body, blen, out, 8, &got), 0);
	cr_assert_eq(got, 2);
	/* Deletes: length must be exactly 2 + 13 * count. */
	body[0] = 0;
	body[1] = 2;
	cr_assert_eq(nsw_decode_dels(body, 2 + 2 * NSW_DEL_LEN + 1, keys, 8, &got), -NSW_E_COUNT);
	cr_assert_eq(nsw_decode_dels(body, 2 + 2 * NSW_DEL_LEN, keys, 8, &got), 0);
}

Test(sync_wire, invalid_record_fields_rejected)
{
	struct nsw_session out[2];
	size_t n = one_session_frame(), got;
	uint8_t *rec = frame + NSW_HDR_LEN + 2;
	size_t blen = n - NSW_HDR_LEN;
	static const struct { size_t off; uint8_t val; const char *what; } bad[] = {
		{ 29, NS_TCP_STATE_MAX, "tcp state" },
		{ 28, 99, "nat type" },
		{ 30, 2, "origin" },
		{ 27, NS_MAX_SVC_SETS, "service set" },
		{ 31, NS_MAX_POOLS, "pool id" },
		{ 36, 0x80, "binding bits" },
		{ 26, NS_SF_REPLICATED, "local-only flag" },
		{ 32, 0x7f, "nat term" },
	};

	for (size_t i = 0; i < (sizeof(bad) / sizeof((bad)[0])); i++) {
		uint8_t saved = rec[bad[i].off];

		rec[bad[i].off] = bad[i].val;
		cr_assert_eq(nsw_decode_sessions(frame + NSW_HDR_LEN, blen, out, 2, &got),
			     -NSW_E_VALUE, "%s", bad[i].what);
		rec[bad[i].off] = saved;
	}
	cr_assert_eq(nsw_decode_sessions(frame + NSW_HDR_LEN, blen, out, 2, &got), 0);
}

Test(sync_wire, bad_varints_rejected)
{
	uint8_t body[2 + NSW_SESSION_FIXED + 12];
	struct nsw_session s = sample_session(0), out[1];
	struct nsw_batch b;
	size_t got, n;

	s.age_ms = s.idle_ms = 0;
	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_ADD);
	cr_assert_eq(nsw_batch_add_session(&b, &s), 0);
	n = nsw_batch_finish(&b, 1) - NSW_HDR_LEN;
	cr_assert_eq(n, 2 + NSW_SESSION_MIN);
	memcpy(body, frame + NSW_HDR_LEN, n);
	/* Age 0 encoded non-minimally as 0x80 0x00. */
	body[2 + 37] = 0x80;
	body[2 + 38] = 0x00;
	body[2 + 39] = 0x00;
	cr_assert_lt(nsw_decode_sessions(body, n + 1, out, 1, &got), 0);
	/* Six continuation bytes: longer than any valid age. */
	memset(body + 2 + 37, 0xff, 6);
	body[2 + 43] = 0x01;
	body[2 + 44] = 0x00;
	cr_assert_lt(nsw_decode_sessions(body, 2 + 37 + 8, out, 1, &got), 0);
	/* idle greater than age. */
	body[2 + 37] = 0x01;
	body[2 + 38] = 0x02;
	cr_assert_eq(nsw_decode_sessions(body, n, out, 1, &got), -NSW_E_VALUE);
}

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Decode whatever the frame claims to be; returns the decoder's result. */
static int decode_any(const uint8_t *buf, size_t len)
{
	static struct nsw_session ss[NSW_BATCH_MAX_SESSIONS];
	static struct ns_tuple ks[NSW_BATCH_MAX_DELS];
	struct nsw_hello hm;
	struct nsw_refuse rm;
	struct nsw_bulk bm;
	struct nsw_ack am;
	struct nsw_heartbeat hbm;
	struct nsw_hdr h;
	const uint8_t *b = buf + NSW_HDR_LEN;
	size_t got;
	int r = nsw_frame_check(buf, len, &h);

	if (r)
		return r;
	switch (h.type) {
	case NSW_HELLO:
	case NSW_HELLO_ACK: return nsw_decode_hello(b, nsw_body_len(&h), &hm);
	case NSW_REFUSE: return nsw_decode_refuse(b, nsw_body_len(&h), &rm);
	case NSW_SESSION_ADD:
	case NSW_SESSION_UPDATE:
		r = nsw_decode_sessions(b, nsw_body_len(&h), ss, NSW_BATCH_MAX_SESSIONS, &got);
		if (!r && !h.flags) {
			/* A frame that decodes re-encodes to the same bytes: one
			 * value, one encoding. */
			static uint8_t again[NSW_MAX_FRAME];
			struct nsw_batch bb;

			nsw_batch_start(&bb, again, sizeof(again), h.type);
			for (size_t i = 0; i < got; i++)
				cr_assert_eq(nsw_batch_add_session(&bb, &ss[i]), 0);
			cr_assert_eq(nsw_batch_finish(&bb, h.seq), NSW_HDR_LEN + h.length);
			cr_assert_eq(memcmp(again, buf, NSW_HDR_LEN + h.length), 0);
		}
		return r;
	case NSW_SESSION_DEL: return nsw_decode_dels(b, nsw_body_len(&h), ks, NSW_BATCH_MAX_DELS, &got);
	case NSW_BULK_START:
	case NSW_BULK_END: return nsw_decode_bulk(b, nsw_body_len(&h), &bm);
	case NSW_ACK: return nsw_decode_ack(b, nsw_body_len(&h), &am);
	case NSW_HEARTBEAT: return nsw_decode_heartbeat(b, nsw_body_len(&h), &hbm);
	default: return 0;
	}
}

Test(sync_wire, random_garbage_never_crashes)
{
	static uint8_t buf[NSW_MAX_FRAME];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		size_t len = rng_next(&x) % 256;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng_next(&x);
		/* Half the rounds get a valid header so the body decoders run. */
		if (round % 2 && len >= NSW_HDR_LEN) {
			uint8_t type = 1 + rng_next(&x) % (NSW_TYPE_MAX - 1);

			nsw_put_hdr(buf, type, (uint32_t)(len - NSW_HDR_LEN), round);
		}
		if (decode_any(buf, len) == 0)
			accepted++;
	}
	/* Random bytes with a valid header sometimes form fixed messages
	 * (ACK, BULK): the decoder must accept those, not reject everything. */
	cr_assert_gt(accepted, 0);
}

Test(sync_wire, mutated_valid_frames_never_crash)
{
	static uint8_t buf[NSW_MAX_FRAME];
	uint64_t x = 0x1234567887654321ull;
	size_t n = one_session_frame();
	int rejected = 0;

	for (int round = 0; round < 20000; round++) {
		memcpy(buf, frame, n);
		for (int flips = 1 + rng_next(&x) % 4; flips; flips--)
			buf[rng_next(&x) % n] = (uint8_t)rng_next(&x);
		if (decode_any(buf, n - (rng_next(&x) % 3 == 0 ? rng_next(&x) % n : 0)))
			rejected++;
	}
	cr_assert_gt(rejected, 0);
}

/* ---- authentication ------------------------------------------------------ */

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

Test(sync_wire, hmac_sha256_rfc4231_vectors)
{
	uint8_t key[131], out[32];
	char h[65];
	static const char data6[] = "Test Using Larger Than Block-Size Key - Hash Key First";

	memset(key, 0x0b, 20);
	nsw_hmac_sha256(key, 20, (const uint8_t *)"Hi ", 3, (const uint8_t *)"There", 5, out);
	hex(out, 32, h);
	cr_assert_str_eq(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	nsw_hmac_sha256((const uint8_t *)"Jefe", 4, NULL, 0,
			(const uint8_t *)"what do ya want for nothing?", 28, out);
	hex(out, 32, h);
	cr_assert_str_eq(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, sizeof(key));
	nsw_hmac_sha256(key, sizeof(key), NULL, 0, (const uint8_t *)data6, sizeof(data6) - 1, out);
	hex(out, 32, h);
	cr_assert_str_eq(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(sync_wire, mac_detects_forgery_replay_and_direction)
{
	static const uint8_t psk[] = "a pre-shared key of the pair";
	uint8_t ni[NSW_NONCE_LEN] = { 1 }, na[NSW_NONCE_LEN] = { 2 }, k[NSW_KEY_LEN],
		k2[NSW_KEY_LEN];
	struct nsw_ack a = { .seq = 9, .install_fail = 0 }, ad;
	struct nsw_hdr h;
	size_t n = (size_t)nsw_encode_ack(frame, sizeof(frame), 0, &a);

	nsw_derive_key(psk, sizeof(psk) - 1, ni, na, k);
	n = nsw_mark_mac(frame, n);
	nsw_set_seq(frame, 5);
	nsw_mac_frame(k, 'A', frame);
	cr_assert_eq(nsw_frame_check(frame, n, &h), 0);
	cr_assert_eq(h.flags, NSW_F_MAC);
	cr_assert_eq(nsw_body_len(&h), 8);
	cr_assert_eq(nsw_decode_ack(frame + NSW_HDR_LEN, nsw_body_len(&h), &ad), 0);
	cr_assert_eq(ad.seq, 9);
	cr_assert(nsw_mac_verify(k, 'A', frame));
	cr_assert_not(nsw_mac_verify(k, 'I', frame), "reflected back to its sender");
	nsw_set_seq(frame, 6);
	cr_assert_not(nsw_mac_verify(k, 'A', frame), "sequence is covered");
	nsw_set_seq(frame, 5);
	frame[NSW_HDR_LEN + 3] ^= 1;
	cr_assert_not(nsw_mac_verify(k, 'A', frame), "body is covered");
	frame[NSW_HDR_LEN + 3] ^= 1;
	cr_assert(nsw_mac_verify(k, 'A', frame));
	/* Another connection (other nonce) or another key: no match. */
	na[0] = 3;
	nsw_derive_key(psk, sizeof(psk) - 1, ni, na, k2);
	cr_assert_not(nsw_mac_verify(k2, 'A', frame));
	na[0] = 2;
	nsw_derive_key((const uint8_t *)"another key", 11, ni, na, k2);
	cr_assert_not(nsw_mac_verify(k2, 'A', frame));
	/* An untagged frame never verifies. */
	n = (size_t)nsw_encode_ack(frame, sizeof(frame), 5, &a);
	cr_assert_not(nsw_mac_verify(k, 'A', frame));
}

/* ---- encryption (ChaCha20-Poly1305) --------------------------------------- */

static const uint8_t enc_psk[] = "a pre-shared key of the pair";
static const uint8_t enc_ni[NSW_NONCE_LEN] = { 1, 2, 3 }, enc_na[NSW_NONCE_LEN] = { 4, 5, 6 };

/* A full SESSION_ADD batch, marked for encryption and stamped with seq. */
static size_t full_enc_frame(uint32_t seq, unsigned int *count)
{
	struct nsw_batch b;
	size_t n;

	*count = 0;
	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_ADD);
	for (;;) {
		struct nsw_session s = sample_session(*count);

		if (nsw_batch_add_session(&b, &s) == -NSW_E_NOSPC)
			break;
		(*count)++;
	}
	n = nsw_mark_enc(frame, nsw_batch_finish(&b, 0));
	nsw_set_seq(frame, seq);
	return n;
}

/* Does the plaintext byte string p[0..len) occur in buf[0..n)? */
static bool contains(const uint8_t *buf, size_t n, const void *p, size_t len)
{
	for (size_t i = 0; i + len <= n; i++)
		if (!memcmp(buf + i, p, len))
			return true;
	return false;
}

Test(sync_wire, enc_keys_per_direction_and_connection)
{
	uint8_t ki[NSW_KEY_LEN], ka[NSW_KEY_LEN], kmac[NSW_KEY_LEN], k2[NSW_KEY_LEN],
		na2[NSW_NONCE_LEN];

	nsw_derive_enc_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, 'I', ki);
	nsw_derive_enc_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, 'A', ka);
	nsw_derive_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, kmac);
	cr_assert_neq(memcmp(ki, ka, sizeof(ki)), 0, "one key per direction");
	cr_assert_neq(memcmp(ki, kmac, sizeof(ki)), 0, "encryption key is not the MAC key");
	cr_assert_neq(memcmp(ka, kmac, sizeof(ka)), 0);
	memcpy(na2, enc_na, sizeof(na2));
	na2[15] = 1;
	nsw_derive_enc_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, na2, 'I', k2);
	cr_assert_neq(memcmp(ki, k2, sizeof(ki)), 0, "a new connection has new keys");
	nsw_derive_enc_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, 'I', k2);
	cr_assert_eq(memcmp(ki, k2, sizeof(ki)), 0, "both sides derive the same key");
}

Test(sync_wire, enc_full_batch_roundtrip_hides_addresses)
{
	static struct nsw_session out[NSW_BATCH_MAX_SESSIONS];
	static uint8_t plain[NSW_MAX_FRAME];
	uint8_t k[NSW_KEY_LEN];
	struct nsw_session s0 = sample_session(0);
	struct nsw_hdr h;
	unsigned int count;
	size_t n = full_enc_frame(7, &count), got;

	nsw_derive_enc_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, 'I', k);
	memcpy(plain, frame, n);
	cr_assert(contains(plain, n, &s0.in_key.saddr, 4));
	nsw_seal_frame(k, 'I', frame);
	cr_assert_eq(nsw_frame_check(frame, n, &h), 0);
	cr_assert_eq(h.flags, NSW_F_ENC);
	cr_assert_eq(h.seq, 7);
	cr_assert_eq(NSW_HDR_LEN + h.length, n);
	cr_assert_eq(memcmp(frame, plain, NSW_HDR_LEN), 0, "header stays readable");
	/* No subscriber address, no session record left in clear. */
	cr_assert_not(contains(frame + NSW_HDR_LEN, n - NSW_HDR_LEN, &s0.in_key.saddr, 4),
		      "subscriber address visible in the ciphertext");
	cr_assert_not(contains(frame, n, plain + NSW_HDR_LEN + 2, 16));
	cr_assert(nsw_open_frame(k, 'I', frame));
	cr_assert_eq(memcmp(frame + NSW_HDR_LEN, plain + NSW_HDR_LEN, nsw_body_len(&h)), 0);
	cr_assert_eq(nsw_decode_sessions(frame + NSW_HDR_LEN, nsw_body_len(&h), out,
					 NSW_BATCH_MAX_SESSIONS, &got), 0);
	cr_assert_eq(got, count);
	for (unsigned int i = 0; i < count; i += 97) {
		struct nsw_session want = sample_session(i);

		check_session_eq(&out[i], &want);
	}
	/* Small frames too: a heartbeat and a bodyless BULK_REQUEST. */
	{
		struct nsw_heartbeat hb = { .role = 1, .ready = 1, .priority = 300,
					    .sessions = 42, .uptime_ms = 1234 }, hd;
		size_t m = nsw_mark_enc(frame, (size_t)nsw_encode_heartbeat(frame, sizeof(frame),
									    3, &hb));

		nsw_seal_frame(k, 'I', frame);
		cr_assert_eq(nsw_frame_check(frame, m, &h), 0);
		cr_assert(nsw_open_frame(k, 'I', frame));
		cr_assert_eq(nsw_decode_heartbeat(frame + NSW_HDR_LEN, nsw_body_len(&h), &hd), 0);
		cr_assert_eq(hd.uptime_ms, 1234);
		m = nsw_mark_enc(frame, (size_t)nsw_encode_empty(frame, sizeof(frame),
								 NSW_BULK_REQUEST, 4));
		nsw_seal_frame(k, 'I', frame);
		cr_assert_eq(nsw_frame_check(frame, m, &h), 0);
		cr_assert_eq(nsw_body_len(&h), 0);
		cr_assert(nsw_open_frame(k, 'I', frame));
		frame[m - 1] ^= 0x80;
		cr_assert_not(nsw_open_frame(k, 'I', frame), "tag of an empty body is checked");
	}
}

/* Every single-bit change anywhere in the frame is caught, and a frame that
 * failed yields no plaintext (libsodium clears the output on failure). */
Test(sync_wire, enc_tamper_ciphertext_tag_header)
{
	static uint8_t sealed[NSW_MAX_FRAME];
	uint8_t k[NSW_KEY_LEN];
	struct nsw_session s0 = sample_session(0);
	struct nsw_hdr h;
	unsigned int count, opened = 0;
	size_t n = full_enc_frame(9, &count);
	/* header: type, flags (low byte), length, seq; body start, middle, end;
	 * tag first and last byte */
	const size_t where[] = { 5, 7, 11, 12, 15, NSW_HDR_LEN, NSW_HDR_LEN + 1,
				 n / 2, n - NSW_MAC_LEN - 1, n - NSW_MAC_LEN, n - 1 };

	nsw_derive_enc_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, 'A', k);
	nsw_seal_frame(k, 'A', frame);
	memcpy(sealed, frame, n);
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(frame, sealed, n);
			frame[where[i]] ^= (uint8_t)(1u << bit);
			/* A flipped length or flags byte may already fail the
			 * frame check (the receiver never opens it then); what
			 * passes it must not open. */
			if (nsw_frame_check(frame, n, &h)) {
				cr_assert(where[i] == 5 || where[i] == 7 || where[i] == 11, "byte %zu",
					  where[i]);
				continue;
			}
			opened++;
			cr_assert_not(nsw_open_frame(k, 'A', frame), "byte %zu bit %d accepted",
				      where[i], bit);
			cr_assert_not(contains(frame + NSW_HDR_LEN, n - NSW_HDR_LEN - NSW_MAC_LEN,
					       &s0.in_key.saddr, 4),
				      "plaintext released by a rejected frame (byte %zu)", where[i]);
		}
	}
	cr_assert_geq(opened, 16, "too few tampered frames reached the tag check");
	memcpy(frame, sealed, n);
	cr_assert(nsw_open_frame(k, 'A', frame), "untouched frame opens");
}

Test(sync_wire, enc_wrong_key_direction_or_sequence)
{
	static uint8_t sealed[NSW_MAX_FRAME];
	uint8_t ki[NSW_KEY_LEN], ka[NSW_KEY_LEN], kx[NSW_KEY_LEN], kmac[NSW_KEY_LEN];
	unsigned int count;
	size_t n = full_enc_frame(5, &count);

	nsw_derive_enc_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, 'I', ki);
	nsw_derive_enc_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, 'A', ka);
	nsw_derive_enc_key((const uint8_t *)"another key of 16+ bytes", 24, enc_ni, enc_na, 'I',
			   kx);
	nsw_derive_key(enc_psk, sizeof(enc_psk) - 1, enc_ni, enc_na, kmac);
	nsw_seal_frame(ki, 'I', frame);
	memcpy(sealed, frame, n);
	cr_assert_not(nsw_open_frame(kx, 'I', frame), "another pre-shared key");
	memcpy(frame, sealed, n);
	cr_assert_not(nsw_open_frame(ka, 'I', frame), "the other direction's key");
	memcpy(frame, sealed, n);
	cr_assert_not(nsw_open_frame(ki, 'A', frame), "reflected: other direction's nonce");
	memcpy(frame, sealed, n);
	cr_assert_not(nsw_open_frame(kmac, 'I', frame), "the MAC key");
	memcpy(frame, sealed, n);
	/* The sequence is in the nonce and the associated data: a frame
	 * replayed under another sequence number never opens. (The same
	 * frame at the same sequence is refused by the receiver's sequence
	 * rule, previous + 1, before any crypto: sync.c frame_trusted.) */
	nsw_set_seq(frame, 6);
	cr_assert_not(nsw_open_frame(ki, 'I', frame), "re-sequenced replay");
	memcpy(frame, sealed, n);
	nsw_set_seq(frame, 4);
	cr_assert_not(nsw_open_frame(ki, 'I', frame), "re-sequenced replay");
	memcpy(frame, sealed, n);
	/* A MAC-tagged frame is not an encrypted one (no downgrade). */
	frame[7] = NSW_F_MAC;
	cr_assert_not(nsw_open_frame(ki, 'I', frame), "MAC flag instead of ENC");
	memcpy(frame, sealed, n);
	cr_assert_not(nsw_mac_verify(kmac, 'I', frame), "ENC frame is not a MAC frame");
	cr_assert(nsw_open_frame(ki, 'I', frame));
	/* Same plaintext, next sequence: another ciphertext (nonce not reused). */
	{
		static uint8_t first[NSW_MAX_FRAME];

		n = full_enc_frame(5, &count);
		nsw_seal_frame(ki, 'I', frame);
		memcpy(first, frame, n);
		n = full_enc_frame(6, &count);
		nsw_seal_frame(ki, 'I', frame);
		cr_assert_neq(memcmp(first + NSW_HDR_LEN, frame + NSW_HDR_LEN, 64), 0);
	}
}

/* ---- NAT64 sessions (SESSION64_*) --------------------------------------- */

/* A NAT64 session: [2001:db8:64::i]:40000+i -> 64:ff9b::198.51.100.7:80. */
static void sample_session64(unsigned int i, struct ns_tuple6 *k, struct nsw_session *s)
{
	*s = sample_session(i);
	memset(k, 0, sizeof(*k));
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:64::", k->saddr), 1);
	k->saddr[14] = (uint8_t)(i >> 8);
	k->saddr[15] = (uint8_t)i;
	cr_assert_eq(inet_pton(AF_INET6, "64:ff9b::198.51.100.7", k->daddr), 1);
	k->sport = s->in_key.sport;
	k->dport = s->in_key.dport;
	k->proto = i % 3 == 2 ? 58 : IPPROTO_TCP;
	s->nat_type = NS_NAT_NAT64;
	s->flags = NS_SF_NAT_SRC | NS_SF_NAT_DST;
	s->bind = NSW_BIND_PORT | NSW_BIND_PAIRED;
	if (k->proto == 58) {
		s->in_key.proto = s->out_key.proto = IPPROTO_ICMP;
		s->tcp_state = NS_TCP_NONE;
	}
}

Test(sync_wire, session64_roundtrip_fills_a_frame)
{
	static struct ns_tuple6 kin[NSW_BATCH_MAX_SESSIONS64], kout[NSW_BATCH_MAX_SESSIONS64];
	static struct nsw_session in[NSW_BATCH_MAX_SESSIONS64], out[NSW_BATCH_MAX_SESSIONS64];
	struct nsw_batch b;
	struct nsw_hdr h;
	size_t n, got, count = 0;

	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION64_ADD);
	for (;;) {
		struct ns_tuple6 k;
		struct nsw_session s;

		sample_session64((unsigned int)count, &k, &s);
		s.age_ms = s.idle_ms = 0; /* the smallest records: the most per frame */
		if (nsw_batch_add_session64(&b, &k, &s))
			break;
		cr_assert_lt(count, NSW_BATCH_MAX_SESSIONS64);
		kin[count] = k;
		in[count++] = s;
	}
	cr_assert_gt(count, 100);
	n = nsw_batch_finish(&b, 9);
	cr_assert_leq(n, NSW_MAX_FRAME);
	cb = checked_body(frame, n, NSW_SESSION64_ADD, 9, &h);
	cr_assert_eq(nsw_decode_sessions64(cb, h.length, kout, out, NSW_BATCH_MAX_SESSIONS64, &got),
		     0);
	cr_assert_eq(got, count);
	for (size_t i = 0; i < count; i++) {
		cr_assert_eq(memcmp(&kin[i], &kout[i], sizeof(kin[i])), 0, "key %zu", i);
		check_session_eq(&in[i], &out[i]);
	}
	/* an IPv4 decoder refuses what it cannot read, and the reverse */
	cr_assert_neq(nsw_decode_sessions(cb, h.length, out, NSW_BATCH_MAX_SESSIONS, &got), 0);
}

Test(sync_wire, session64_records_must_be_nat64)
{
	struct ns_tuple6 k, kout[1];
	struct nsw_session s, out[1];
	struct nsw_batch b;
	struct nsw_hdr h;
	size_t n, got;

	sample_session64(1, &k, &s);
	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION64_UPDATE);
	s.nat_type = NS_NAT_NAPT44;
	cr_assert_eq(nsw_batch_add_session64(&b, &k, &s), -NSW_E_VALUE, "not a NAT64 session");
	s.nat_type = NS_NAT_NAT64;
	k.proto = 47;
	cr_assert_eq(nsw_batch_add_session64(&b, &k, &s), -NSW_E_VALUE, "GRE is not translated");
	k.proto = IPPROTO_TCP;
	cr_assert_eq(nsw_batch_add_session(&b, &s), -NSW_E_VALUE, "IPv4 record in a 64 batch");
	cr_assert_eq(nsw_batch_add_session64(&b, &k, &s), 0);
	n = nsw_batch_finish(&b, 4);
	/* a record whose key and session disagree on the protocol */
	frame[NSW_HDR_LEN + 2 + 36] = IPPROTO_UDP;
	cb = checked_body(frame, n, NSW_SESSION64_UPDATE, 4, &h);
	cr_assert_eq(nsw_decode_sessions64(cb, h.length, kout, out, 1, &got), -NSW_E_VALUE);
	/* truncated inside the key */
	cr_assert_neq(nsw_decode_sessions64(cb, 2 + 20, kout, out, 1, &got), 0);
}

Test(sync_wire, session64_del_carries_the_out_key)
{
	struct nsw_session s = sample_session(5);
	struct ns_tuple out[1];
	struct nsw_batch b;
	struct nsw_hdr h;
	size_t n, got;

	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION64_DEL);
	cr_assert_eq(nsw_batch_add_del(&b, &s.out_key), 0);
	n = nsw_batch_finish(&b, 5);
	cb = checked_body(frame, n, NSW_SESSION64_DEL, 5, &h);
	cr_assert_eq(nsw_decode_dels(cb, h.length, out, 1, &got), 0);
	cr_assert_eq(memcmp(&out[0], &s.out_key, sizeof(out[0])), 0);
	cr_assert_str_eq(nsw_type_str(NSW_SESSION64_DEL), "SESSION64_DEL");
}

/* A held binding: i picks the kind (napt port, EIM+EIF port, dynamic-nat44
 * address) and the values. */
static struct nsw_hold sample_hold(unsigned int i)
{
	struct nsw_hold h;

	memset(&h, 0, sizeof(h));
	h.key.addr = htonl(0xcb007100u + (i & 0xff)); /* 203.0.113.x */
	h.key.port = htons((uint16_t)(1024 + i));
	h.key.proto = i % 2 ? IPPROTO_UDP : IPPROTO_TCP;
	h.in_addr = htonl(0x64400000u + i);           /* 100.64.x.y */
	h.in_port = htons((uint16_t)(40000 + i));
	h.flags = i % 3 == 1 ? NS_PORT_F_EIM | NS_PORT_F_EIF : 0;
	if (i % 3 == 2) { /* dynamic-nat44 owns (addr, 0, 0) */
		h.key.port = 0;
		h.key.proto = 0;
		h.in_port = 0;
	}
	h.pool_id = (uint8_t)(i % NS_MAX_POOLS);
	h.svc_set = (uint16_t)(i % NS_MAX_SVC_SETS);
	h.nat_term = (uint16_t)(i % NS_MAX_NAT_TERMS);
	h.held_ms = (uint64_t)i * 997;
	return h;
}

Test(sync_wire, port_hold_roundtrip_fills_a_frame)
{
	static struct nsw_hold in[NSW_BATCH_MAX_HOLDS], out[NSW_BATCH_MAX_HOLDS];
	struct nsw_batch b;
	struct nsw_hdr h;
	size_t n, got, count = 0;

	nsw_batch_start(&b, frame, sizeof(frame), NSW_PORT_HOLD);
	for (;;) {
		in[count] = sample_hold((unsigned int)count);
		if (nsw_batch_add_hold(&b, &in[count]))
			break;
		count++;
	}
	cr_assert_gt(count, 600, "only %zu held bindings in one frame", count);
	n = nsw_batch_finish(&b, 11);
	cr_assert_leq(n, NSW_MAX_FRAME);
	cb = checked_body(frame, n, NSW_PORT_HOLD, 11, &h);
	cr_assert_eq(nsw_decode_holds(cb, h.length, out, NSW_BATCH_MAX_HOLDS, &got), 0);
	cr_assert_eq(got, count);
	for (size_t i = 0; i < count; i++)
		cr_assert_eq(memcmp(&in[i], &out[i], sizeof(in[i])), 0, "record %zu", i);
	cr_assert_str_eq(nsw_type_str(NSW_PORT_HOLD), "PORT_HOLD");
	cr_assert(nsw_type_acked(NSW_PORT_HOLD), "held bindings are data: acknowledged");
	cr_assert(!nsw_type_acked(NSW_HEARTBEAT));
	/* every truncation is refused */
	for (size_t l = 0; l < h.length; l++)
		cr_assert_neq(nsw_decode_holds(cb, l, out, NSW_BATCH_MAX_HOLDS, &got), 0,
			      "truncated to %zu bytes", l);
}

Test(sync_wire, port_hold_invalid_records_rejected)
{
	struct nsw_hold hd = sample_hold(3), bad, out[1];
	struct nsw_batch b;
	struct nsw_hdr h;
	size_t n, got;

	nsw_batch_start(&b, frame, sizeof(frame), NSW_PORT_HOLD);
	bad = hd;
	bad.flags = NS_PORT_F_HOLD;
	cr_assert_eq(nsw_batch_add_hold(&b, &bad), -NSW_E_VALUE, "HOLD is implied, never sent");
	bad = hd;
	bad.flags = NS_PORT_F_EIF;
	cr_assert_eq(nsw_batch_add_hold(&b, &bad), -NSW_E_VALUE, "EIF without EIM");
	bad = hd;
	bad.key.proto = 47;
	cr_assert_eq(nsw_batch_add_hold(&b, &bad), -NSW_E_VALUE, "GRE has no ports");
	bad = hd;
	bad.key.proto = 0;
	cr_assert_eq(nsw_batch_add_hold(&b, &bad), -NSW_E_VALUE, "address binding with a port");
	bad = hd;
	bad.pool_id = NS_MAX_POOLS;
	cr_assert_eq(nsw_batch_add_hold(&b, &bad), -NSW_E_VALUE, "pool out of range");
	bad = hd;
	bad.svc_set = NS_MAX_SVC_SETS;
	cr_assert_eq(nsw_batch_add_hold(&b, &bad), -NSW_E_VALUE, "service set out of range");
	nsw_batch_start(&b, frame, sizeof(frame), NSW_SESSION_ADD);
	cr_assert_eq(nsw_batch_add_hold(&b, &hd), -NSW_E_VALUE, "hold in a session batch");
	nsw_batch_start(&b, frame, sizeof(frame), NSW_PORT_HOLD);
	cr_assert_eq(nsw_batch_add_hold(&b, &hd), 0);
	n = nsw_batch_finish(&b, 2);
	cb = checked_body(frame, n, NSW_PORT_HOLD, 2, &h);
	cr_assert_eq(nsw_decode_holds(cb, h.length, out, 1, &got), 0);
	/* a flag byte nobody knows, on the wire */
	frame[NSW_HDR_LEN + 2 + 13] = 0x80;
	cr_assert_eq(nsw_decode_holds(cb, h.length, out, 1, &got), -NSW_E_VALUE);
	frame[NSW_HDR_LEN + 2 + 13] = 0;
	/* trailing bytes and a count that disagrees */
	cr_assert_eq(nsw_decode_holds(cb, h.length + 1, out, 1, &got), -NSW_E_COUNT);
	frame[NSW_HDR_LEN + 1] = 2;
	cr_assert_eq(nsw_decode_holds(cb, h.length, out, 2, &got), -NSW_E_COUNT);
}

Test(sync_wire, port_hold_conversion_rebases_the_hold)
{
	struct ns_port_key k, k2;
	struct ns_port_val v, v2;
	struct nsw_hold w;
	uint64_t now_a = 500ull * 1000000000, now_b = 90ull * 1000000000;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.addr = htonl(0xcb007170u);
	k.port = htons(2000);
	k.proto = IPPROTO_TCP;
	v.in_addr = htonl(0x64460a0au);
	v.in_port = htons(41000);
	v.flags = NS_PORT_F_HOLD | NS_PORT_F_EIM;
	v.pool_id = 5;
	v.svc_set = 1;
	v.nat_term = 7;
	v.last_used_ns = now_a - 30ull * 1000000000;
	v.released_ns = now_a - 12345ull * 1000000; /* held for 12.345 s */
	nsw_hold_from_ns(&k, &v, now_a, &w);
	cr_assert_eq(w.held_ms, 12345);
	cr_assert_eq(w.flags, NS_PORT_F_EIM, "HOLD is implied by the message");
	/* the receiver's clock reads another time: same time held */
	nsw_hold_to_ns(&w, now_b, &k2, &v2);
	cr_assert_eq(memcmp(&k, &k2, sizeof(k)), 0);
	cr_assert_eq(v2.released_ns, now_b - 12345ull * 1000000);
	cr_assert_eq(v2.flags, NS_PORT_F_HOLD | NS_PORT_F_EIM);
	cr_assert_eq(v2.in_addr, v.in_addr);
	cr_assert_eq(v2.in_port, v.in_port);
	cr_assert_eq(v2.pool_id, 5);
	cr_assert_eq(v2.svc_set, 1);
	cr_assert_eq(v2.nat_term, 7);
	cr_assert_leq(v2.last_used_ns, v2.released_ns, "no aging walk may take it for new");
	/* a hold older than the receiver's clock never becomes "never" (0) */
	w.held_ms = 200ull * 1000;
	nsw_hold_to_ns(&w, now_b, &k2, &v2);
	cr_assert_eq(v2.released_ns, 1);
	/* released in the sender's future (a race): held 0 ms */
	v.released_ns = now_a + 5;
	nsw_hold_from_ns(&k, &v, now_a, &w);
	cr_assert_eq(w.held_ms, 0);
}
