/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hbpath.h - heartbeat paths besides the sync channel (issue 10): UDP
 * heartbeats between configured addresses on other links (the inside or
 * outside LAN), so that losing the sync link alone is not taken for a dead
 * peer. Each datagram carries what a sync HEARTBEAT carries for the
 * redundancy state machine (role, ready, advertisement, node name) and is
 * delivered to it like one.
 *
 * Authenticated like the sync channel: with redundancy-options.key-file every
 * datagram carries a 16-byte HMAC-SHA256 tag under a key derived from the
 * pre-shared key (nsw_hmac_sha256, libsodium). Replay protection without a
 * handshake: every datagram carries a fresh random nonce and echoes the last
 * nonce received from the peer on that path; a datagram proves the peer
 * alive only when its echo is one of the nonces we sent within the dead
 * interval, so a recorded datagram replayed later proves nothing. A path is
 * thus up only when it works both ways.
 *
 * Pure part (frame encode/decode, freshness) first; the daemon glue (one
 * non-blocking UDP socket per path and a timer on the loop) after.
 */
#ifndef NATSYNC_HBPATH_H
#define NATSYNC_HBPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ns_loop;
struct ns_redundancy_conf;
struct ctl_json;

#define HBP_NAME_MAX 32
#define HBP_BODY_LEN 68             /* header + fields + name */
#define HBP_TAG_LEN 16
#define HBP_MAX_LEN (HBP_BODY_LEN + HBP_TAG_LEN)
#define HBP_KEY_LEN 32
#define HBP_NONCES 16               /* our recent nonces a peer may echo */

/* One heartbeat datagram. */
struct hbp_frame {
	uint8_t role;               /* RED_PEER_PRIMARY / RED_PEER_BACKUP */
	bool ready;
	uint16_t adv;               /* the advertisement (redundancy.h) */
	uint64_t nonce;             /* fresh per datagram */
	uint64_t echo;              /* the last nonce heard from the peer, 0 none */
	uint64_t uptime_ms;         /* the sender's, as in its sync heartbeats */
	char name[HBP_NAME_MAX];    /* the sender's node name (truncated) */
};

/* Why a datagram was refused (hbp_decode). */
#define HBP_E_MALFORMED (-1)        /* size, magic or version */
#define HBP_E_AUTH (-2)             /* tag missing, unexpected or wrong */

/* key = HMAC-SHA256(psk, "natsync-hbpath-key-v1"). */
void hbp_derive_key(const uint8_t *psk, size_t psk_len, uint8_t key[HBP_KEY_LEN]);

/* Encode f into buf (>= HBP_MAX_LEN), tagged when key is non-NULL. Returns
 * the datagram's length. */
size_t hbp_encode(uint8_t *buf, const struct hbp_frame *f, const uint8_t *key);

/* Decode a datagram; key NULL = expect it untagged. 0, HBP_E_MALFORMED or
 * HBP_E_AUTH (constant-time tag check). */
int hbp_decode(const uint8_t *buf, size_t len, struct hbp_frame *f, const uint8_t *key);

/* Our side of the freshness proof on one path. */
struct hbp_fresh {
	uint64_t nonce[HBP_NONCES];
	uint64_t sent_ms[HBP_NONCES];
	uint32_t next;
};

/* Remember a nonce we send at now. */
void hbp_fresh_sent(struct hbp_fresh *s, uint64_t nonce, uint64_t now);

/* Is echo one of our nonces sent within window_ms before now? */
bool hbp_fresh_ok(const struct hbp_fresh *s, uint64_t echo, uint64_t now, uint32_t window_ms);

/* ---- daemon glue ---------------------------------------------------------- */

struct ns_hbpaths;

/* What the redundancy module tells and is told. */
struct hbpath_ops {
	/* Our heartbeat's content now. */
	void (*content)(void *arg, uint8_t *role, bool *ready, uint16_t *adv, uint64_t *uptime_ms);
	/* A fresh, authentic heartbeat from the peer on path idx. */
	void (*deliver)(void *arg, uint32_t idx, uint8_t role, bool ready, uint16_t adv,
			const char *name, uint64_t uptime_ms);
};

/*
 * hbpath_new - the heartbeat-paths of rc (kept by pointer): per path a UDP
 * socket bound to local-address:port (and interface), a timer sending every
 * heartbeat-interval-ms on loop (required); rc->key-file (if set)
 * authenticates. A socket that
 * cannot be opened yet (address not configured) is retried every interval.
 * NULL with errno on failure (EINVAL: a key-file of the wrong size).
 */
struct ns_hbpaths *hbpath_new(struct ns_loop *loop, const struct ns_redundancy_conf *rc,
			      const char *node, const struct hbpath_ops *ops, void *arg);
void hbpath_free(struct ns_hbpaths *h);

/* Send a heartbeat on every path now (role or advertisement changed). */
void hbpath_send_now(struct ns_hbpaths *h);

/* The name of a path whose peer heartbeats arrived within dead-interval
 * (the first such), or NULL. */
const char *hbpath_alive(const struct ns_hbpaths *h);

/* "show redundancy" lines (f) or the "heartbeat_paths" array (j). */
void hbpath_status(const struct ns_hbpaths *h, FILE *f, struct ctl_json *j);

#endif
