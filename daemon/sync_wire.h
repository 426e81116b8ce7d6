/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sync_wire.h - the versioned, byte-order-explicit wire encoding of the
 * inter-chassis sync protocol (doc/sync.md has the byte-by-byte layout).
 *
 * Pure code: no sockets, no maps, no clock reads. Encoders write into a
 * caller-supplied buffer, decoders read from one and never trust a byte of
 * it: every length, count and field is checked, and a bad frame comes back
 * as a negative enum nsw_err, never as a crash (the decoder is fuzzed).
 *
 * A session record is encoded field by field (never a memcpy of struct
 * ns_session) and carries ages in milliseconds instead of timestamps, because
 * clocks do not cross machines: the receiver rebases them onto its own clock.
 */
#ifndef NATSYNC_SYNC_WIRE_H
#define NATSYNC_SYNC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/natsync.h"

#define NSW_MAGIC 0x4e535943u         /* "NSYC" */
#define NSW_VERSION 1
#define NSW_HDR_LEN 16
#define NSW_MAX_BODY 16384            /* larger frames are refused */
#define NSW_MAC_LEN 16                /* truncated HMAC-SHA256 tag */
#define NSW_MAX_FRAME (NSW_HDR_LEN + NSW_MAX_BODY + NSW_MAC_LEN)
#define NSW_NAME_MAX 63               /* node name bytes on the wire */
#define NSW_NONCE_LEN 16
#define NSW_KEY_LEN 32                /* per-connection key (HMAC-SHA256) */

/* Header flags. */
#define NSW_F_MAC 0x0001u             /* body is followed by a NSW_MAC_LEN tag */
#define NSW_F_ENC 0x0002u             /* body is ciphertext, followed by a
				       * NSW_MAC_LEN Poly1305 tag (never with MAC) */

/* Session record: 37 fixed bytes + two varints of 1..5 bytes each. */
#define NSW_SESSION_FIXED 37
#define NSW_SESSION_MIN (NSW_SESSION_FIXED + 2)
#define NSW_SESSION_MAX (NSW_SESSION_FIXED + 10)
#define NSW_DEL_LEN 13                /* one deleted in_key */
#define NSW_VARINT_MAX_BYTES 5
#define NSW_AGE_MAX_MS ((1ull << 35) - 1) /* what 5 varint bytes hold (~397 d) */
/* NAT64 record: the IPv6 key (saddr, daddr, sport, dport, next header) and
 * a session record. */
#define NSW_KEY6_LEN 37
#define NSW_SESSION64_MIN (NSW_KEY6_LEN + NSW_SESSION_MIN)
/* Batch body: u16 count + records. */
#define NSW_BATCH_MAX_SESSIONS ((NSW_MAX_BODY - 2) / NSW_SESSION_MIN)
#define NSW_BATCH_MAX_DELS ((NSW_MAX_BODY - 2) / NSW_DEL_LEN)
#define NSW_BATCH_MAX_SESSIONS64 ((NSW_MAX_BODY - 2) / NSW_SESSION64_MIN)
/* PORT_HOLD record: 18 fixed bytes + the time held so far (varint, ms). */
#define NSW_HOLD_FIXED 18
#define NSW_HOLD_MIN (NSW_HOLD_FIXED + 1)
#define NSW_HOLD_MAX (NSW_HOLD_FIXED + NSW_VARINT_MAX_BYTES)
#define NSW_BATCH_MAX_HOLDS ((NSW_MAX_BODY - 2) / NSW_HOLD_MIN)

enum nsw_type {
	NSW_HELLO = 1,          /* initiator: who I am */
	NSW_HELLO_ACK = 2,      /* acceptor: accepted, who I am */
	NSW_REFUSE = 3,         /* either: refused, why; then the sender closes */
	NSW_SESSION_ADD = 4,    /* batch of session records, first copy */
	NSW_SESSION_UPDATE = 5, /* batch of session records, state/activity */
	NSW_SESSION_DEL = 6,    /* batch of in_keys */
	NSW_BULK_START = 7,     /* a full-table transfer begins */
	NSW_BULK_END = 8,       /* ... and ends; receiver drops what it missed */
	NSW_ACK = 9,            /* cumulative: highest sequence installed */
	NSW_HEARTBEAT = 10,     /* liveness, role, readiness (issue 4) */
	NSW_BULK_REQUEST = 11,  /* receiver asks for a (new) bulk transfer */
	/* NAT64 sessions (NSW_CAP_NAT64 peers only): records carry the IPv6
	 * key in front of the session record; deletes name the out_key */
	NSW_SESSION64_ADD = 12,
	NSW_SESSION64_UPDATE = 13,
	NSW_SESSION64_DEL = 14,
	/* NAT bindings held after their last session (RFC 6888 port-hold;
	 * NSW_CAP_HOLD peers only): the receiver holds them as long */
	NSW_PORT_HOLD = 15,
	NSW_TYPE_MAX,
};

/* Decoder results (returned negated). */
enum nsw_err {
	NSW_OK = 0,
	NSW_E_TRUNCATED = 1, /* not enough bytes (yet): on a stream, read more */
	NSW_E_MAGIC = 2,     /* not a natsync sync frame */
	NSW_E_VERSION = 3,   /* other protocol version (header still parsed) */
	NSW_E_TYPE = 4,      /* unknown message type */
	NSW_E_LENGTH = 5,    /* oversized, or wrong for the message type */
	NSW_E_COUNT = 6,     /* record count does not match the length */
	NSW_E_VALUE = 7,     /* a field holds an impossible value */
	NSW_E_NOSPC = 8,     /* encoder: output buffer too small */
};

enum nsw_role {
	NSW_ROLE_BACKUP = 0,
	NSW_ROLE_PRIMARY = 1,
};

enum nsw_refuse_reason {
	NSW_REFUSE_VERSION = 1,     /* protocol version differs */
	NSW_REFUSE_FINGERPRINT = 2, /* NAT/firewall/service-set config differs */
	NSW_REFUSE_PROTOCOL = 3,    /* malformed or unexpected frame */
	NSW_REFUSE_BUSY = 4,        /* a connection to this peer already exists */
	NSW_REFUSE_AUTH = 5,        /* key missing on one side, or wrong */
	NSW_REFUSE_ENCRYPT = 6,     /* encryption on at one side only */
	NSW_REFUSE_MAX,
};

/* HELLO flags. */
#define NSW_HELLO_F_WANT_BULK (1u << 0) /* sender (a backup) wants a bulk */
#define NSW_HELLO_F_MASK 0x0001u
/* Capabilities (HELLO caps): what this build replicates. */
#define NSW_CAP_BINDINGS (1u << 0)   /* port/EIM/paired bindings in records */
#define NSW_CAP_EIF (1u << 1)        /* EIF sessions */
#define NSW_CAP_HEARTBEAT (1u << 2)  /* sends HEARTBEAT */
#define NSW_CAP_AUTH (1u << 3)       /* has a pre-shared key: frames are MACed */
#define NSW_CAP_ENCRYPT (1u << 4)    /* wants encrypted frames (needs AUTH) */
#define NSW_CAP_NAT64 (1u << 5)      /* takes NSW_SESSION64_* (NAT64 sessions) */
#define NSW_CAP_HOLD (1u << 6)       /* takes NSW_PORT_HOLD (held bindings) */
#define NSW_CAP_PBA (1u << 7)        /* installs the port block of each session
				      * record of a port-block pool (daemon/pba.c):
				      * the block travels as the record's pool and
				      * out port, cut as the (fingerprinted) pool cuts */

/* Session record "bind" byte: which NAT bindings the receiver installs. */
#define NSW_BIND_PORT (1u << 0)   /* ns_ports[out daddr,dport,proto] owned by in saddr,sport */
#define NSW_BIND_EIM (1u << 1)    /* ns_eim[in saddr,sport,proto,svc] -> out daddr,dport */
#define NSW_BIND_EIF (1u << 2)    /* the port binding allows inbound from anyone */
#define NSW_BIND_PAIRED (1u << 3) /* ns_paired[in saddr,pool] -> out daddr */
#define NSW_BIND_MASK 0x0fu

/* Session flags that travel: REPLICATED and SYNCED are local bookkeeping. */
#define NSW_SF_WIRE_MASK (NS_SF_NAT_SRC | NS_SF_NAT_DST | NS_SF_EIM | NS_SF_EIF | \
			  NS_SF_FIN_IN | NS_SF_FIN_OUT | NS_SF_SYSLOG)

/* Fixed frame header; every multi-byte field in network byte order. */
struct nsw_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t type;     /* enum nsw_type */
	uint16_t flags;   /* NSW_F_* */
	uint32_t length;  /* bytes after the header: body + tag (NSW_F_MAC) */
	uint32_t seq;     /* sender's frame sequence, +1 per frame, from 1 */
};

struct nsw_hello {
	uint8_t version;
	uint8_t role;          /* enum nsw_role */
	uint16_t flags;        /* NSW_HELLO_F_* */
	uint32_t caps;         /* NSW_CAP_* */
	uint64_t fingerprint;  /* ns_config_fingerprint() */
	uint8_t nonce[NSW_NONCE_LEN]; /* fresh per connection (key derivation) */
	char name[NSW_NAME_MAX + 1];
};

struct nsw_refuse {
	uint8_t reason;        /* enum nsw_refuse_reason */
	uint8_t version;       /* the refuser's version */
	uint64_t fingerprint;  /* the refuser's fingerprint */
};

struct nsw_bulk {
	uint32_t epoch;        /* bulk number on this primary */
	uint32_t count;        /* START: sessions expected (estimate), END: sent */
};

struct nsw_ack {
	uint32_t seq;          /* highest frame sequence fully processed */
	uint32_t install_fail; /* receiver's cumulative install failures */
};

struct nsw_heartbeat {
	uint8_t role;          /* enum nsw_role */
	uint8_t ready;         /* backup: bulk installed; primary: 1 */
	uint16_t priority;
	uint32_t sessions;     /* sessions replicated (primary) / installed */
	uint64_t uptime_ms;
};

/*
 * One session as it travels. Keys keep network byte order (they are copied
 * byte for byte into ns_tuple); out_key.proto always equals in_key.proto.
 */
struct nsw_session {
	struct ns_tuple in_key;
	struct ns_tuple out_key;
	uint32_t flags;        /* NS_SF_* & NSW_SF_WIRE_MASK */
	uint16_t svc_set;
	uint16_t nat_term;
	uint16_t fw_term;
	uint8_t nat_type;
	uint8_t tcp_state;
	uint8_t origin;
	uint8_t pool_id;
	uint8_t bind;          /* NSW_BIND_* */
	uint64_t age_ms;       /* now - created */
	uint64_t idle_ms;      /* now - last_seen, <= age_ms */
};

/*
 * One held NAT binding (an ns_ports entry with NS_PORT_F_HOLD) as it
 * travels: the port key, its owner and the time it has been held so far.
 * A dynamic-nat44 address binding has port 0 and proto 0.
 */
struct nsw_hold {
	struct ns_port_key key;
	uint32_t in_addr;      /* network byte order, as in ns_port_val */
	uint16_t in_port;      /* network byte order */
	uint8_t flags;         /* NS_PORT_F_EIM | NS_PORT_F_EIF (HOLD implied) */
	uint8_t pool_id;
	uint16_t svc_set;
	uint16_t nat_term;
	uint64_t held_ms;      /* now - released */
};

/* Human-readable names (static strings, never NULL). */
const char *nsw_err_str(int err);
const char *nsw_type_str(unsigned int type);
const char *nsw_refuse_str(unsigned int reason);

/*
 * Check the start of a byte stream for one frame. Returns 0 when a whole,
 * valid-looking frame is present (*h filled, frame size NSW_HDR_LEN +
 * h->length), -NSW_E_TRUNCATED when more bytes are needed, or another
 * negative nsw_err for a frame the stream cannot recover from. With
 * -NSW_E_VERSION *h is filled, so the caller can refuse by version.
 */
int nsw_frame_check(const uint8_t *buf, size_t len, struct nsw_hdr *h);

/* Body bytes of a checked frame (its length without the tag). */
static inline uint32_t nsw_body_len(const struct nsw_hdr *h)
{
	return h->flags & (NSW_F_MAC | NSW_F_ENC) ? h->length - NSW_MAC_LEN : h->length;
}

/* Write a header; returns NSW_HDR_LEN. Also used to patch the sequence. */
size_t nsw_put_hdr(uint8_t *buf, uint8_t type, uint32_t length, uint32_t seq);
/* Overwrite the sequence of an encoded frame (assigned at send time). */
void nsw_set_seq(uint8_t *frame, uint32_t seq);

/*
 * Single-message encoders: write a whole frame (header + body) into out.
 * Return the frame size, or -NSW_E_NOSPC / -NSW_E_VALUE.
 */
int nsw_encode_hello(uint8_t *out, size_t cap, uint8_t type, uint32_t seq,
		     const struct nsw_hello *m);
int nsw_encode_refuse(uint8_t *out, size_t cap, uint32_t seq, const struct nsw_refuse *m);
int nsw_encode_bulk(uint8_t *out, size_t cap, uint8_t type, uint32_t seq,
		    const struct nsw_bulk *m);
int nsw_encode_ack(uint8_t *out, size_t cap, uint32_t seq, const struct nsw_ack *m);
int nsw_encode_heartbeat(uint8_t *out, size_t cap, uint32_t seq, const struct nsw_heartbeat *m);
int nsw_encode_empty(uint8_t *out, size_t cap, uint8_t type, uint32_t seq);

/*
 * Batch builder for SESSION_ADD/UPDATE/DEL: start on a buffer of at least
 * NSW_HDR_LEN + 2 bytes, add records until one returns -NSW_E_NOSPC (frame
 * full: finish it and start another), then finish.
 */
struct nsw_batch {
	uint8_t *buf;
	size_t cap;   /* min(buffer size, NSW_MAX_FRAME) */
	size_t len;   /* bytes used, header included */
	uint16_t count;
	uint8_t type;
};

void nsw_batch_start(struct nsw_batch *b, uint8_t *buf, size_t cap, uint8_t type);
int nsw_batch_add_session(struct nsw_batch *b, const struct nsw_session *s);
/* SESSION_DEL: in_key; SESSION64_DEL: the out_key of a NAT64 session. */
int nsw_batch_add_del(struct nsw_batch *b, const struct ns_tuple *in_key);
/* SESSION64_ADD/UPDATE: the IPv6 key k and the record s. */
int nsw_batch_add_session64(struct nsw_batch *b, const struct ns_tuple6 *k,
			    const struct nsw_session *s);
/* Write header and count; returns the frame size (0 when the batch is empty). */
size_t nsw_batch_finish(struct nsw_batch *b, uint32_t seq);

/*
 * Body decoders: body/len is what follows the header (h->length bytes).
 * Return 0 or a negative nsw_err; the output is only valid on 0.
 */
int nsw_decode_hello(const uint8_t *body, size_t len, struct nsw_hello *m);
int nsw_decode_refuse(const uint8_t *body, size_t len, struct nsw_refuse *m);
int nsw_decode_bulk(const uint8_t *body, size_t len, struct nsw_bulk *m);
int nsw_decode_ack(const uint8_t *body, size_t len, struct nsw_ack *m);
int nsw_decode_heartbeat(const uint8_t *body, size_t len, struct nsw_heartbeat *m);
/* Up to max records into out (max >= NSW_BATCH_MAX_SESSIONS always fits). */
int nsw_decode_sessions(const uint8_t *body, size_t len, struct nsw_session *out,
			size_t max, size_t *n);
int nsw_decode_dels(const uint8_t *body, size_t len, struct ns_tuple *out, size_t max,
		    size_t *n);
/* NAT64 records: keys[i] with out[i], up to max (NSW_BATCH_MAX_SESSIONS64). */
int nsw_decode_sessions64(const uint8_t *body, size_t len, struct ns_tuple6 *keys,
			  struct nsw_session *out, size_t max, size_t *n);

/* ---- authentication (HMAC-SHA256, RFC 2104 / FIPS 180-4) ----------------
 * With a pre-shared key both sides derive a per-connection key from the
 * two HELLO nonces; every frame after the HELLO carries NSW_F_MAC and a
 * 16-byte tag over a direction byte and the whole frame, sequence included,
 * so frames cannot be forged, altered, replayed or reordered. */

/* HMAC-SHA256 of prefix||data under key into out. */
void nsw_hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *prefix, size_t plen,
		     const uint8_t *data, size_t dlen, uint8_t out[32]);

/*
 * nsw_load_psk - the pre-shared key of redundancy-options.key-file: the whole
 * file, trailing newlines stripped, 16..cap bytes (a short or longer key is a
 * configuration error, not a weak channel). 0 with *len, -errno, or -EINVAL
 * (buf cleared).
 */
int nsw_load_psk(const char *path, uint8_t *buf, size_t cap, size_t *len);

/* Per-connection key = HMAC(psk, "natsync-sync-v1" || nonce_i || nonce_a). */
void nsw_derive_key(const uint8_t *psk, size_t psk_len, const uint8_t nonce_i[NSW_NONCE_LEN],
		    const uint8_t nonce_a[NSW_NONCE_LEN], uint8_t key[NSW_KEY_LEN]);

/* Turn an encoded frame of len bytes into a tagged one: sets NSW_F_MAC and
 * grows the length by NSW_MAC_LEN (the caller reserved the room). Returns
 * the new frame size. The tag itself is written by nsw_mac_frame(). */
size_t nsw_mark_mac(uint8_t *frame, size_t len);

/* Write the tag of a frame marked with nsw_mark_mac(); dir is 'I' for
 * frames from the connection's initiator, 'A' from its acceptor. */
void nsw_mac_frame(const uint8_t key[NSW_KEY_LEN], uint8_t dir, uint8_t *frame);

/* Constant-time check of a checked frame's tag; false when untagged. */
bool nsw_mac_verify(const uint8_t key[NSW_KEY_LEN], uint8_t dir, const uint8_t *frame);

/* ---- encryption (ChaCha20-Poly1305 IETF AEAD, RFC 8439) -------------------
 * Optional (redundancy-options.encrypt): with it every frame after the
 * HELLO/HELLO_ACK pair, except REFUSE, carries NSW_F_ENC instead of
 * NSW_F_MAC: its body is encrypted and the 16-byte tag is Poly1305's, which
 * authenticates the body and, as associated data, the 16-byte header (type,
 * flags, length, sequence). Each direction has its own key; the 96-bit AEAD
 * nonce is the direction byte, three zero bytes and the frame's sequence
 * number (64-bit big-endian), unique per key because a sender never reuses
 * a sequence number on a connection (it reconnects before the wrap). */

/* Per-direction key = HMAC-SHA256(psk, "natsync-sync-enc-v1" || dir ||
 * nonce_i || nonce_a), dir 'I' (frames from the initiator) or 'A'. */
void nsw_derive_enc_key(const uint8_t *psk, size_t psk_len, const uint8_t nonce_i[NSW_NONCE_LEN],
			const uint8_t nonce_a[NSW_NONCE_LEN], uint8_t dir,
			uint8_t key[NSW_KEY_LEN]);

/* Like nsw_mark_mac() but for an encrypted frame: sets NSW_F_ENC and grows
 * the length by NSW_MAC_LEN (room reserved by the caller). Returns the new
 * frame size. nsw_seal_frame() encrypts it once its sequence is final. */
size_t nsw_mark_enc(uint8_t *frame, size_t len);

/* Encrypt the body of a frame marked with nsw_mark_enc() in place under
 * key (the sender's direction key) and write its tag; the nonce comes from
 * dir and the header's sequence. */
void nsw_seal_frame(const uint8_t key[NSW_KEY_LEN], uint8_t dir, uint8_t *frame);

/* Check the tag of a checked NSW_F_ENC frame (header included) and decrypt
 * its body in place. False when the frame is not encrypted or any bit of
 * header, ciphertext or tag differs: then no plaintext is released (the
 * body is cleared or left as it was) and the frame must be dropped. */
bool nsw_open_frame(const uint8_t key[NSW_KEY_LEN], uint8_t dir, uint8_t *frame);

/* Does the receiver acknowledge frames of this type (data frames)? */
static inline bool nsw_type_acked(unsigned int type)
{
	return (type >= NSW_SESSION_ADD && type <= NSW_BULK_END) ||
	       (type >= NSW_SESSION64_ADD && type <= NSW_PORT_HOLD);
}

/* PORT_HOLD: add one held binding (-NSW_E_NOSPC: frame full). */
int nsw_batch_add_hold(struct nsw_batch *b, const struct nsw_hold *h);
/* Up to max held bindings into out (max >= NSW_BATCH_MAX_HOLDS always fits). */
int nsw_decode_holds(const uint8_t *body, size_t len, struct nsw_hold *out, size_t max,
		     size_t *n);
/* ns_ports entry <-> wire record; _to_ns rebases the hold onto now_ns and
 * sets NS_PORT_F_HOLD. */
void nsw_hold_from_ns(const struct ns_port_key *k, const struct ns_port_val *v, uint64_t now_ns,
		      struct nsw_hold *out);
void nsw_hold_to_ns(const struct nsw_hold *h, uint64_t now_ns, struct ns_port_key *k,
		    struct ns_port_val *v);

/* Encoded size of one session record (for budgeting). */
size_t nsw_session_size(const struct nsw_session *s);

/*
 * Map value <-> wire record. _from_ns converts timestamps to ages against
 * the sender's now_ns; _to_ns rebases ages onto the receiver's now_ns and
 * sets NS_SF_REPLICATED (counters start at zero on the receiver).
 */
void nsw_session_from_ns(const struct ns_session *v, uint64_t now_ns, uint8_t bind,
			 struct nsw_session *out);
void nsw_session_to_ns(const struct nsw_session *s, uint64_t now_ns, struct ns_session *out);

#endif
