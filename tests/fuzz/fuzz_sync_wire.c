// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_sync_wire.c - libFuzzer target for the sync frame decoder
 * (daemon/sync_wire.c).
 *
 * The input is a byte stream as a peer would send it on the sync TCP
 * connection: frames are taken off it with nsw_frame_check() exactly as
 * sync.c's process_input() does, and each frame goes to the body decoder of
 * its type. Besides "no crash, no out-of-bounds read" (ASan) this checks
 * properties the daemon relies on, and aborts when one does not hold:
 *  - a frame that decodes re-encodes to the very same bytes (one value, one
 *    encoding: a decoder that accepts what the encoder cannot produce, or
 *    reads a field wrongly, shows up here);
 *  - a decoded session survives the map-value conversion both ways;
 *  - a tagged frame verifies under the key it was tagged with and only in
 *    its direction.
 *  - an encrypted frame (NSW_F_ENC) opens only when sealed under the key,
 *    in its direction, to the same body; a forged or altered tag never.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sync_wire.h"

/* Abort with a reason: libFuzzer saves the input as a crash. */
#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz_sync_wire: %s:%d: check failed: %s\n",    \
				__FILE__, __LINE__, #cond);                              \
			abort();                                                         \
		}                                                                        \
	} while (0)

static const uint8_t test_key[NSW_KEY_LEN] = "natsync-fuzz-key-0123456789abcd";
/* Records of one frame; static: they are large. */
static struct nsw_session recs[NSW_BATCH_MAX_SESSIONS];
static struct ns_tuple dels[NSW_BATCH_MAX_DELS];
static struct nsw_hold holds[NSW_BATCH_MAX_HOLDS];
static struct ns_tuple6 keys6[NSW_BATCH_MAX_SESSIONS64];
static uint8_t out[NSW_MAX_FRAME];

/* The re-encoded body must equal the received one, byte for byte. */
static void same_body(const uint8_t *body, size_t len, int enc)
{
	CHECK(enc >= NSW_HDR_LEN);
	CHECK((size_t)enc - NSW_HDR_LEN == len);
	CHECK(memcmp(out + NSW_HDR_LEN, body, len) == 0);
}

static void check_hello(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_hello m;

	if (nsw_decode_hello(body, len, &m))
		return;
	CHECK(strlen(m.name) <= NSW_NAME_MAX);
	same_body(body, len, nsw_encode_hello(out, sizeof(out), h->type, h->seq, &m));
}

static void check_refuse(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_refuse m;

	if (nsw_decode_refuse(body, len, &m))
		return;
	(void)nsw_refuse_str(m.reason);
	same_body(body, len, nsw_encode_refuse(out, sizeof(out), h->seq, &m));
}

static void check_bulk(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_bulk m;

	if (nsw_decode_bulk(body, len, &m))
		return;
	same_body(body, len, nsw_encode_bulk(out, sizeof(out), h->type, h->seq, &m));
}

static void check_ack(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_ack m;

	if (nsw_decode_ack(body, len, &m))
		return;
	same_body(body, len, nsw_encode_ack(out, sizeof(out), h->seq, &m));
}

static void check_heartbeat(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_heartbeat m;

	if (nsw_decode_heartbeat(body, len, &m))
		return;
	same_body(body, len, nsw_encode_heartbeat(out, sizeof(out), h->seq, &m));
}

/* Wire record -> map value -> wire record must be the identity. The clock
 * is far from 0 so that no age is clamped by the rebase. */
static void check_session_conversion(const struct nsw_session *s)
{
	const uint64_t now_ns = 1ull << 62;
	struct nsw_session back;
	struct ns_session v;

	nsw_session_to_ns(s, now_ns, &v);
	CHECK(v.flags & NS_SF_REPLICATED);
	nsw_session_from_ns(&v, now_ns, s->bind, &back);
	CHECK(memcmp(&back, s, sizeof(back)) == 0);
}

static void check_sessions(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_batch b;
	size_t n, i;

	if (nsw_decode_sessions(body, len, recs, NSW_BATCH_MAX_SESSIONS, &n))
		return;
	CHECK(n > 0 && n <= NSW_BATCH_MAX_SESSIONS);
	nsw_batch_start(&b, out, sizeof(out), h->type);
	for (i = 0; i < n; i++) {
		CHECK(recs[i].in_key.proto == recs[i].out_key.proto);
		CHECK(recs[i].idle_ms <= recs[i].age_ms);
		CHECK(nsw_batch_add_session(&b, &recs[i]) == 0);
		check_session_conversion(&recs[i]);
	}
	same_body(body, len, (int)nsw_batch_finish(&b, h->seq));
}

/* NAT64 records: decoded ones re-encode to the same bytes. */
static void check_sessions64(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_batch b;
	size_t n, i;

	if (nsw_decode_sessions64(body, len, keys6, recs, NSW_BATCH_MAX_SESSIONS64, &n))
		return;
	CHECK(n > 0 && n <= NSW_BATCH_MAX_SESSIONS64);
	nsw_batch_start(&b, out, sizeof(out), h->type);
	for (i = 0; i < n; i++) {
		CHECK(recs[i].nat_type == NS_NAT_NAT64);
		CHECK(nsw_batch_add_session64(&b, &keys6[i], &recs[i]) == 0);
		check_session_conversion(&recs[i]);
	}
	same_body(body, len, (int)nsw_batch_finish(&b, h->seq));
}

static void check_dels(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_batch b;
	size_t n, i;

	if (nsw_decode_dels(body, len, dels, NSW_BATCH_MAX_DELS, &n))
		return;
	CHECK(n > 0 && n <= NSW_BATCH_MAX_DELS);
	nsw_batch_start(&b, out, sizeof(out), h->type);
	for (i = 0; i < n; i++)
		CHECK(nsw_batch_add_del(&b, &dels[i]) == 0);
	same_body(body, len, (int)nsw_batch_finish(&b, h->seq));
}

/* Held bindings: decoded ones re-encode to the same bytes and convert to
 * a held ns_ports entry. */
static void check_holds(const struct nsw_hdr *h, const uint8_t *body, size_t len)
{
	struct nsw_batch b;
	size_t n, i;

	if (nsw_decode_holds(body, len, holds, NSW_BATCH_MAX_HOLDS, &n))
		return;
	CHECK(n > 0 && n <= NSW_BATCH_MAX_HOLDS);
	nsw_batch_start(&b, out, sizeof(out), h->type);
	for (i = 0; i < n; i++) {
		struct ns_port_key k;
		struct ns_port_val v;

		CHECK(nsw_batch_add_hold(&b, &holds[i]) == 0);
		nsw_hold_to_ns(&holds[i], 1000000000ull, &k, &v);
		CHECK(v.flags & NS_PORT_F_HOLD);
		CHECK(v.released_ns >= 1 && v.released_ns <= 1000000000ull);
	}
	same_body(body, len, (int)nsw_batch_finish(&b, h->seq));
}

/* Tag a copy of the frame (as the sender would): it verifies in its own
 * direction only, and no longer once one bit of the tag flips. */
static void check_mac(const uint8_t *frame, size_t flen)
{
	memcpy(out, frame, flen);
	nsw_mac_frame(test_key, 'I', out);
	CHECK(nsw_mac_verify(test_key, 'I', out));
	CHECK(!nsw_mac_verify(test_key, 'A', out));
	out[flen - 1] ^= 0x01;
	CHECK(!nsw_mac_verify(test_key, 'I', out));
}

/* An encrypted frame: the input's own tag never opens (a forgery), a copy
 * sealed under the key opens to the very same body, only in its own
 * direction, and no longer once one bit of the tag flips. */
static void check_enc(const uint8_t *frame, size_t flen)
{
	memcpy(out, frame, flen);
	CHECK(!nsw_open_frame(test_key, 'A', out));
	memcpy(out, frame, flen);
	nsw_seal_frame(test_key, 'A', out);
	CHECK(nsw_open_frame(test_key, 'A', out));
	CHECK(memcmp(out, frame, flen - NSW_MAC_LEN) == 0);
	nsw_seal_frame(test_key, 'A', out);
	CHECK(!nsw_open_frame(test_key, 'I', out));
	nsw_seal_frame(test_key, 'A', out);
	out[flen - 1] ^= 0x01;
	CHECK(!nsw_open_frame(test_key, 'A', out));
}

/* One frame nsw_frame_check() accepted: what handle_frame() would decode. */
static void check_frame(const struct nsw_hdr *h, const uint8_t *frame)
{
	const uint8_t *body = frame + NSW_HDR_LEN;
	size_t len = nsw_body_len(h);

	CHECK(len <= NSW_MAX_BODY);
	(void)nsw_type_str(h->type);
	if (h->flags & NSW_F_MAC)
		check_mac(frame, NSW_HDR_LEN + h->length);
	if (h->flags & NSW_F_ENC)
		check_enc(frame, NSW_HDR_LEN + h->length);
	switch (h->type) {
	case NSW_HELLO:
	case NSW_HELLO_ACK:
		check_hello(h, body, len);
		break;
	case NSW_REFUSE:
		check_refuse(h, body, len);
		break;
	case NSW_SESSION_ADD:
	case NSW_SESSION_UPDATE:
		check_sessions(h, body, len);
		break;
	case NSW_SESSION_DEL:
	case NSW_SESSION64_DEL:
		check_dels(h, body, len);
		break;
	case NSW_PORT_HOLD:
		check_holds(h, body, len);
		break;
	case NSW_SESSION64_ADD:
	case NSW_SESSION64_UPDATE:
		check_sessions64(h, body, len);
		break;
	case NSW_BULK_START:
	case NSW_BULK_END:
		check_bulk(h, body, len);
		break;
	case NSW_ACK:
		check_ack(h, body, len);
		break;
	case NSW_HEARTBEAT:
		check_heartbeat(h, body, len);
		break;
	default:
		/* BULK_REQUEST has no body; frame_check let nothing else by. */
		CHECK(h->type == NSW_BULK_REQUEST && len == 0);
	}
}

/**
 * LLVMFuzzerTestOneInput() - libFuzzer entry point: data is a sync stream.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct nsw_hdr h;
		int r = nsw_frame_check(data + off, size - off, &h);

		(void)nsw_err_str(r);
		if (r)
			break; /* truncated: wait for more; else: connection closed */
		CHECK(h.length <= size - off - NSW_HDR_LEN);
		check_frame(&h, data + off);
		off += NSW_HDR_LEN + h.length;
	}
	return 0;
}
