// SPDX-License-Identifier: GPL-2.0
/*
 * sync_chan.c - the sync channel: connections (listen, connect, accept,
 * duplicates), the handshake (HELLO / HELLO_ACK / REFUSE, keys), the
 * bounded output queues and their flushing, heartbeats and the module's
 * timer. What travels on it is sync_send.c's (primary) and sync_recv.c's
 * (backup) business; doc/sync.md describes the protocol.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "active.h"
#include "daemon.h"
#include "log.h"
#include "redundancy.h"
#include "sync.h"
#include "sync_wire.h"
#include "util.h"
#include "sync_int.h"

/* ---- helpers ------------------------------------------------------------ */

/* Remember the last error for "show sync" and log it loudly. */
void sy_set_error(struct ns_sync *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	pr_err("sync: %s", s->last_error);
}

const char *sy_role_name(bool primary)
{
	return primary ? "primary" : "backup";
}

const char *sy_state_name(enum conn_state st)
{
	switch (st) {
	case C_CONNECTING: return "connecting";
	case C_HANDSHAKE: return "handshake";
	case C_ESTABLISHED: return "established";
	default: return "idle";
	}
}

/* ---- output queues ------------------------------------------------------ */

size_t sy_q_len(const struct sync_q *q)
{
	return q->tail - q->head;
}

/* Room for len more bytes without exceeding the queue's bound. */
static bool q_room(struct sync_q *q, size_t len)
{
	if (sy_q_len(q) + len > q->cap)
		return false;
	if (q->tail + len > q->cap) {
		memmove(q->buf, q->buf + q->head, sy_q_len(q));
		q->tail -= q->head;
		q->head = 0;
	}
	return true;
}

static void want_events(struct ns_sync *s, struct sync_conn *c, uint32_t ev)
{
	if (c->events == ev)
		return;
	if (!loop_mod(s->d->loop, c->fd, ev))
		c->events = ev;
}

/*
 * Append one frame to q. On an authenticated connection the frame gets room
 * for its tag (written when it starts on the wire, after the sequence);
 * REFUSE stays untagged so a peer without our key can still read why.
 */
static bool enqueue(struct sync_conn *c, struct sync_q *q, const uint8_t *f, int len)
{
	bool tag;
	size_t n;

	if (len <= 0)
		return false; /* the encoder refused */
	if (c->st == C_FREE || !q->buf)
		return false; /* closed under the caller: sy_conn_close freed buf */
	tag = c->auth && f[5] != NSW_REFUSE;
	n = (size_t)len + (tag ? NSW_MAC_LEN : 0);
	if (!q_room(q, n)) {
		if (q == &c->hi)
			c->owner->st.hi_full++;
		return false;
	}
	memcpy(q->buf + q->tail, f, (size_t)len);
	/* The HELLO pair stays readable: it carries the key derivation's
	 * nonces. Everything after it is sealed (encrypt) or tagged. */
	if (tag && c->enc && f[5] != NSW_HELLO && f[5] != NSW_HELLO_ACK)
		nsw_mark_enc(q->buf + q->tail, (size_t)len);
	else if (tag)
		nsw_mark_mac(q->buf + q->tail, (size_t)len);
	q->tail += n;
	if (sy_q_len(&c->hi) + sy_q_len(&c->lo) > c->owner->st.queued_max)
		c->owner->st.queued_max = sy_q_len(&c->hi) + sy_q_len(&c->lo);
	return true;
}

/* Queue a control frame (HELLO, ACK, ...) on hi and try to send it. */
bool sy_send_hi(struct ns_sync *s, struct sync_conn *c, const uint8_t *f, int len)
{
	if (!enqueue(c, &c->hi, f, len))
		return false;
	sy_flush_out(s, c);
	return true;
}

bool sy_send_lo(struct ns_sync *s, struct sync_conn *c, const uint8_t *f, int len)
{
	if (!enqueue(c, &c->lo, f, len))
		return false;
	c->lo_enq++;
	sy_flush_out(s, c);
	return true;
}

/*
 * May lo start another frame? Only while fewer than SYNC_WINDOW_FRAMES data
 * frames are unacknowledged: what the backup has not processed yet sits in
 * front of our next heartbeat, so this bounds the heartbeat's delay.
 */
bool sy_lo_open(const struct sync_conn *c)
{
	return sy_lag_frames(c) < SYNC_WINDOW_FRAMES;
}

/* Start the next frame: deletes and control first, then bulk/incremental.
 * The sequence is stamped now, so wire order and sequence order agree. */
static bool next_frame(struct ns_sync *s, struct sync_conn *c)
{
	struct sync_q *q = NULL;
	uint8_t *f;
	uint32_t blen;

	if (sy_q_len(&c->hi))
		q = &c->hi;
	else if (sy_q_len(&c->lo) && sy_lo_open(c))
		q = &c->lo;
	if (!q)
		return false;
	if (c->tx_seq == UINT32_MAX) {
		/* Never reuse a sequence number (the AEAD nonce, the replay
		 * check): a new connection brings new keys. */
		if (!c->closing)
			sy_conn_close(s, c, "sequence numbers exhausted: reconnecting");
		return false;
	}
	f = q->buf + q->head;
	blen = (uint32_t)f[8] << 24 | (uint32_t)f[9] << 16 | (uint32_t)f[10] << 8 | f[11];
	nsw_set_seq(f, ++c->tx_seq);
	if (f[7] & NSW_F_ENC)
		nsw_seal_frame(c->tx_key, c->outgoing ? 'I' : 'A', f);
	else if (f[7] & NSW_F_MAC)
		nsw_mac_frame(c->key, c->outgoing ? 'I' : 'A', f);
	/* Only data is acknowledged (the receiver acks these types, NAT64
	 * sessions and held bindings included): the window and "all
	 * acknowledged" count them. */
	if (nsw_type_acked(f[5]))
		c->data_seq = c->tx_seq;
	if (q == &c->lo) {
		c->lo_started++;
		sy_lat_started(s, c->lo_started, c->tx_seq);
		if (f[5] == NSW_BULK_END)
			c->bulk_end_seq = c->tx_seq;
	}
	c->cur = q;
	c->cur_left = NSW_HDR_LEN + blen;
	s->st.frames_tx++;
	return true;
}

void sy_flush_out(struct ns_sync *s, struct sync_conn *c)
{
	if (c->st == C_FREE || c->st == C_CONNECTING)
		return;
	for (;;) {
		ssize_t n;

		if (!c->cur_left && !next_frame(s, c))
			break;
		n = send(c->fd, c->cur->buf + c->cur->head, c->cur_left,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			if (!c->closing)
				sy_conn_close(s, c, strerror(errno));
			return;
		}
		c->cur->head += (size_t)n;
		c->cur_left -= (size_t)n;
		s->st.bytes_tx += (uint64_t)n;
	}
	if (c->st == C_FREE)
		return; /* next_frame() closed it */
	if (!c->cur_left && !sy_q_len(&c->hi) && sy_q_len(&c->lo)) {
		s->st.window_waits++; /* an ACK reopens it (sy_on_conn_event) */
		if (!c->window_since)
			c->window_since = ns_now(); /* check_conns() logs a long wait */
	}
	/* No EPOLLOUT while only the window holds lo back: it would spin. */
	want_events(s, c, EPOLLIN | (c->cur_left || sy_q_len(&c->hi) ? EPOLLOUT : 0));
}

/* ---- handshake ---------------------------------------------------------- */

static void fill_hello(struct ns_sync *s, struct sync_conn *c, struct nsw_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->version = NSW_VERSION;
	h->role = s->primary ? NSW_ROLE_PRIMARY : NSW_ROLE_BACKUP;
	h->flags = s->primary ? 0 : NSW_HELLO_F_WANT_BULK;
	h->caps = NSW_CAP_BINDINGS | NSW_CAP_EIF | NSW_CAP_HEARTBEAT |
		  (s->psk_len ? NSW_CAP_AUTH : 0) | (s->encrypt ? NSW_CAP_ENCRYPT : 0) |
		  (s->d->fd.nat64_sess >= 0 && s->d->fd.nat64_rev >= 0 ? NSW_CAP_NAT64 : 0) |
		  NSW_CAP_HOLD |
		  (s->d->fd.pba_blk >= 0 && s->d->fd.pba >= 0 ? NSW_CAP_PBA : 0);
	memcpy(h->nonce, c->nonce, sizeof(h->nonce));
	h->fingerprint = s->fingerprint;
	ns_strlcpy(h->name, s->d->conf.node_name, sizeof(h->name));
}

void sy_send_refuse(struct ns_sync *s, struct sync_conn *c, uint8_t reason)
{
	struct nsw_refuse r = { .reason = reason, .version = NSW_VERSION,
				.fingerprint = s->fingerprint };
	uint8_t f[NSW_HDR_LEN + 16];

	s->st.refused_sent++;
	sy_send_hi(s, c, f, nsw_encode_refuse(f, sizeof(f), 0, &r));
}

/* Check the peer's HELLO/HELLO_ACK; refuse and return false on mismatch. */
static bool hello_acceptable(struct ns_sync *s, struct sync_conn *c, const struct nsw_hello *h)
{
	if (h->version != NSW_VERSION) {
		sy_set_error(s, "peer %s speaks protocol version %u, we speak %u: refused",
			  h->name, h->version, NSW_VERSION);
		sy_send_refuse(s, c, NSW_REFUSE_VERSION);
		return false;
	}
	if (h->fingerprint != s->fingerprint) {
		sy_set_error(s, "configuration fingerprint mismatch: peer %s has %016llx, ours is "
			  "%016llx (NAT, firewall, service sets and timeouts must be identical); "
			  "refused", h->name, (unsigned long long)h->fingerprint,
			  (unsigned long long)s->fingerprint);
		sy_send_refuse(s, c, NSW_REFUSE_FINGERPRINT);
		return false;
	}
	if (!!(h->caps & NSW_CAP_AUTH) != !!s->psk_len) {
		s->st.auth_fail++;
		sy_set_error(s, "peer %s has %s key-file but we have %s: refused", h->name,
			  h->caps & NSW_CAP_AUTH ? "a" : "no", s->psk_len ? "one" : "none");
		sy_send_refuse(s, c, NSW_REFUSE_AUTH);
		return false;
	}
	if (!!(h->caps & NSW_CAP_ENCRYPT) != s->encrypt) {
		sy_set_error(s, "peer %s has encrypt %s but we have encrypt %s: refused (set "
			  "redundancy-options.encrypt alike on both boxes)", h->name,
			  h->caps & NSW_CAP_ENCRYPT ? "on" : "off", s->encrypt ? "on" : "off");
		sy_send_refuse(s, c, NSW_REFUSE_ENCRYPT);
		return false;
	}
	if (!(h->caps & NSW_CAP_PBA) && s->d->fd.pba_blk >= 0)
		pr_warn("sync: peer %s does not keep port blocks: after a failover its "
			"subscribers get new ones", h->name);
	if (h->role == NSW_ROLE_PRIMARY && s->primary)
		pr_warn("sync: peer %s is primary too: neither side replicates until one "
			"becomes backup", h->name);
	return true;
}

static uint32_t initiator_addr(struct ns_sync *s, const struct sync_conn *c)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;

	return ntohl(c->outgoing ? r->local_addr.s_addr : r->peer_addr.s_addr);
}

void sy_start_bulk(struct ns_sync *s)
{
	s->epoch++;
	s->bulk_pending = true;
	s->peer_ready = false;
	/* Restart the walk so the bulk sees every bucket from the first. */
	s->walking = false;
	s->finishing = false;
	s->batch.count = 0;
	sy_lat_reset_pending(s); /* their frames are gone with the connection */
	sy_kick(s);
}

/* The handshake succeeded on c: make it the connection, resolving duplicates. */
void sy_conn_established(struct ns_sync *s, struct sync_conn *c)
{
	if (s->active && s->active != c) {
		uint32_t ia = initiator_addr(s, c), ib = initiator_addr(s, s->active);
		/* Simultaneous open: the lower address's connection wins on both
		 * sides. Same opener twice: it lost the old one (restart), so the
		 * new one wins. */
		struct sync_conn *keep = ia <= ib ? c : s->active;
		struct sync_conn *drop = keep == c ? s->active : c;

		pr_info("sync: duplicate connection, keeping the %s one",
			ia == ib ? "newer" : "lower address's");
		if (drop == s->active)
			s->active = NULL;
		drop->duplicate = true;
		sy_conn_close(s, drop, "duplicate connection");
		if (drop == c)
			return;
	}
	c->st = C_ESTABLISHED;
	c->last_hb_ns = 0;
	s->active = c;
	s->sweeping = false;
	s->backoff_ms = 0;
	s->last_error[0] = '\0';
	pr_info("sync: connected to %s (%s, peer role %s, %s)", c->peer.name,
		c->outgoing ? "outgoing" : "incoming",
		sy_role_name(c->peer.role == NSW_ROLE_PRIMARY), sy_role_name(s->primary));
	s->ready = false;
	s->bulk_rx_running = false;
	if (s->primary)
		sy_start_bulk(s);
	red_on_peer_link(s->d, true);
}

/* A frame failed authentication, or the key is missing on one side. */
void sy_auth_failed(struct ns_sync *s, struct sync_conn *c, const char *what)
{
	s->st.auth_fail++;
	sy_set_error(s, "frame from %s failed authentication (%s): check key-file on both boxes",
		  c->peer.name[0] ? c->peer.name : "peer", what);
	sy_send_refuse(s, c, NSW_REFUSE_AUTH);
	s->backoff_ms = SYNC_BACKOFF_MAX_MS;
	s->next_connect_ns = ns_now() + (uint64_t)SYNC_BACKOFF_MAX_MS * SYNC_NS_PER_MS;
	sy_conn_close(s, c, "authentication failed");
}

/*
 * Encryption keys of a connection, one per direction, when both sides
 * asked for encryption (hello_acceptable() refused any other combination).
 */
static void derive_enc_keys(struct ns_sync *s, struct sync_conn *c,
			    const uint8_t nonce_i[NSW_NONCE_LEN], const uint8_t nonce_a[NSW_NONCE_LEN])
{
	if (!s->encrypt)
		return;
	nsw_derive_enc_key(s->psk, s->psk_len, nonce_i, nonce_a, c->outgoing ? 'I' : 'A',
			   c->tx_key);
	nsw_derive_enc_key(s->psk, s->psk_len, nonce_i, nonce_a, c->outgoing ? 'A' : 'I',
			   c->rx_key);
	c->enc = true;
}

void sy_on_hello(struct ns_sync *s, struct sync_conn *c, const uint8_t *frame,
		     const uint8_t *b, uint32_t len, bool is_ack)
{
	struct nsw_hello h;
	uint8_t f[NSW_HDR_LEN + 96];
	int r = nsw_decode_hello(b, len, &h);

	if (r) {
		s->st.proto_errors++;
		sy_set_error(s, "bad HELLO from peer: %s", nsw_err_str(r));
		sy_send_refuse(s, c, NSW_REFUSE_PROTOCOL);
		sy_conn_close(s, c, "bad hello");
		return;
	}
	/* The initiator gets HELLO_ACK, the acceptor HELLO; anything else is
	 * a confused peer. */
	if (c->st != C_HANDSHAKE || is_ack != c->outgoing) {
		s->st.proto_errors++;
		sy_send_refuse(s, c, NSW_REFUSE_PROTOCOL);
		sy_conn_close(s, c, "unexpected hello");
		return;
	}
	c->peer = h;
	if (!hello_acceptable(s, c, &h)) {
		s->backoff_ms = SYNC_BACKOFF_MAX_MS;
		s->next_connect_ns = ns_now() + (uint64_t)SYNC_BACKOFF_MAX_MS * SYNC_NS_PER_MS;
		sy_conn_close(s, c, "refused");
		return;
	}
	if (!is_ack) {
		struct nsw_hello me;

		fill_hello(s, c, &me);
		if (s->psk_len) {
			/* HELLO_ACK is the first tagged frame: it proves we
			 * hold the key; the initiator's first frame proves it
			 * does, and only then is the connection ours. */
			nsw_derive_key(s->psk, s->psk_len, h.nonce, c->nonce, c->key);
			derive_enc_keys(s, c, h.nonce, c->nonce);
			c->auth = true;
		}
		if (!sy_send_hi(s, c, f, nsw_encode_hello(f, sizeof(f), NSW_HELLO_ACK, 0, &me)))
			return;
		if (c->st == C_FREE)
			return;
		if (c->auth) {
			c->hello_done = true;
			return;
		}
	} else if (s->psk_len) {
		nsw_derive_key(s->psk, s->psk_len, c->nonce, h.nonce, c->key);
		if (!nsw_mac_verify(c->key, 'A', frame)) {
			sy_auth_failed(s, c, "HELLO_ACK tag does not verify: the peer has another key");
			return;
		}
		derive_enc_keys(s, c, c->nonce, h.nonce);
		c->auth = true;
	}
	sy_conn_established(s, c);
	if (c->st == C_ESTABLISHED && c->auth && c->outgoing)
		sy_send_heartbeat(s, c, ns_now()); /* our proof, at once */
}

void sy_on_refuse(struct ns_sync *s, struct sync_conn *c, const uint8_t *b, uint32_t len)
{
	struct nsw_refuse r;

	s->st.refused_recv++;
	if (nsw_decode_refuse(b, len, &r)) {
		sy_set_error(s, "peer refused the connection (unreadable reason)");
	} else if (r.reason == NSW_REFUSE_FINGERPRINT) {
		sy_set_error(s, "peer refused us: configuration fingerprint mismatch "
			  "(peer %016llx, ours %016llx)", (unsigned long long)r.fingerprint,
			  (unsigned long long)s->fingerprint);
	} else {
		sy_set_error(s, "peer refused us: %s (peer version %u)", nsw_refuse_str(r.reason),
			  r.version);
	}
	/* A refused peer is retried slowly: its config may be fixed by a reload. */
	s->backoff_ms = SYNC_BACKOFF_MAX_MS;
	s->next_connect_ns = ns_now() + (uint64_t)SYNC_BACKOFF_MAX_MS * SYNC_NS_PER_MS;
	sy_conn_close(s, c, "refused by peer");
}

/* ---- connections -------------------------------------------------------- */

static struct sync_conn *conn_alloc(struct ns_sync *s, int fd, bool outgoing)
{
	for (int i = 0; i < SYNC_MAX_CONNS; i++) {
		struct sync_conn *c = &s->conns[i];

		if (c->st != C_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->in = malloc(SYNC_IN_CAP);
		c->hi.buf = malloc(SYNC_HI_CAP);
		c->lo.buf = malloc(SYNC_LO_CAP);
		if (!c->in || !c->hi.buf || !c->lo.buf) {
			free(c->in);
			free(c->hi.buf);
			free(c->lo.buf);
			return NULL;
		}
		c->hi.cap = SYNC_HI_CAP;
		c->lo.cap = SYNC_LO_CAP;
		c->owner = s;
		c->fd = fd;
		c->outgoing = outgoing;
		c->opened_ns = c->last_rx_ns = ns_now();
		c->st = outgoing ? C_CONNECTING : C_HANDSHAKE;
		/* Fresh per connection: an old connection's tags never verify. */
		if (getrandom(c->nonce, sizeof(c->nonce), GRND_NONBLOCK) != sizeof(c->nonce)) {
			uint64_t t = ns_now() ^ (uint64_t)(uintptr_t)c;

			memcpy(c->nonce, &t, sizeof(t));
		}
		return c;
	}
	return NULL;
}

void sy_conn_close(struct ns_sync *s, struct sync_conn *c, const char *why)
{
	if (c->st == C_FREE || c->closing)
		return;
	c->closing = true;
	if (c->st == C_ESTABLISHED) {
		s->st.disconnects++;
		log_msg(c->duplicate ? NS_LOG_INFO : NS_LOG_WARN, "sync: connection to %s closed: %s",
			c->peer.name[0] ? c->peer.name : "peer", why);
	} else {
		pr_debug("sync: connection attempt closed: %s", why);
	}
	/* A REFUSE we queued goes out best effort before the close. */
	if (c->cur_left || sy_q_len(&c->hi))
		sy_flush_out(s, c);
	loop_del(s->d->loop, c->fd);
	close(c->fd);
	/* Callers up the stack may still hold c (walk -> send -> error ->
	 * here): they re-check c->st, and enqueue() refuses a NULL buffer. */
	free(c->in);
	free(c->hi.buf);
	free(c->lo.buf);
	c->in = NULL;
	c->hi.buf = c->lo.buf = NULL;
	c->in_len = 0;
	c->hi.head = c->hi.tail = c->lo.head = c->lo.tail = 0;
	c->cur = NULL;
	c->cur_left = 0;
	c->rx_paused = false;
	/* Keys of a closed connection are never needed again. */
	sodium_memzero(c->key, sizeof(c->key));
	sodium_memzero(c->tx_key, sizeof(c->tx_key));
	sodium_memzero(c->rx_key, sizeof(c->rx_key));
	c->auth = c->enc = false;
	c->st = C_FREE;
	c->fd = -1;
	if (s->active == c) {
		s->active = NULL;
		s->walking = false;
		s->finishing = false;
		s->sweeping = false;
		s->bulk_running = false;
		s->peer_ready = false;
		/* The backup keeps its sessions (it may have to take over), but
		 * is no longer known to be in sync. */
		s->ready = false;
		s->bulk_rx_running = false;
		red_on_peer_link(s->d, false);
	}
}

/* TCP options every sync socket gets; device binding puts it in the VRF. */
static int sock_setup(struct ns_sync *s, int fd)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;
	int one = 1, idle = 5, intvl = 2, cnt = 3;

	if (r->device[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, r->device, strlen(r->device) + 1) < 0)
		return -errno;
	/* Records are small and latency matters more than packing. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* The HA address may be configured after natsyncd starts. */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	return 0;
}

static void send_hello(struct ns_sync *s, struct sync_conn *c)
{
	struct nsw_hello me;
	uint8_t f[NSW_HDR_LEN + 96];

	fill_hello(s, c, &me);
	sy_send_hi(s, c, f, nsw_encode_hello(f, sizeof(f), NSW_HELLO, 0, &me));
}

/*
 * Time of one sync callback, for "show sync": the loop is shared with the
 * redundancy heartbeats, so a long step here is a late heartbeat there.
 */
/* CPU time of this thread: tells our own work from time the kernel gave
 * to other tasks while we were in a step (a loaded 2-core box). */
uint64_t sy_cpu_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *const sy_phase_name[SYP_N] = {
	[SYP_OTHER] = "other", [SYP_DUE] = "due sends", [SYP_HOLD] = "held bindings",
	[SYP_LOOKUP] = "walk lookups", [SYP_ENTRIES] = "walk entries",
	[SYP_DELETES] = "deletes", [SYP_INSTALL] = "receive/install",
	[SYP_SWEEP] = "stale sweep",
};

/* The step goes on in phase p from thread CPU time now. */
static void phase_at(struct ns_sync *s, enum sy_phase p, uint64_t now)
{
	if (s->ph_cur != SYP_OTHER && now > s->ph_t0)
		s->ph_cpu[s->ph_cur] += now - s->ph_t0;
	s->ph_t0 = now;
	s->ph_cur = p;
}

void sy_phase(struct ns_sync *s, enum sy_phase p)
{
	phase_at(s, p, sy_cpu_now());
}

/* The step that used cpu ns of CPU ended: keep its phases if it is the
 * costliest so far, and say where an overrun went. */
static void step_phases_done(struct ns_sync *s, uint64_t cpu, uint64_t end, const char *what)
{
	uint64_t named = 0;
	int big = 1;

	/* the last phase ends where the step's CPU was read */
	phase_at(s, SYP_OTHER, end);
	for (int i = 1; i < SYP_N; i++) {
		named += s->ph_cpu[i];
		if (s->ph_cpu[i] > s->ph_cpu[big])
			big = i;
	}
	/* Redundancy time (step_red_ns) is not the step's: when it ran inside
	 * a phase, take it out of the largest one, so the phases are the
	 * step's CPU exactly. */
	if (named > cpu) {
		uint64_t over = named - cpu;

		s->ph_cpu[big] -= over < s->ph_cpu[big] ? over : s->ph_cpu[big];
		named = cpu;
	}
	s->ph_cpu[SYP_OTHER] = cpu - named;
	if (cpu >= SYNC_SLOW_STEP_NS)
		s->st.steps_over_cpu++;
	if (cpu > s->st.step_max_cpu_ns) {
		char parts[256];
		size_t len = 0;

		s->st.step_max_cpu_ns = cpu;
		s->st.step_max_cpu_what = what;
		memcpy(s->st.step_max_cpu_ph, s->ph_cpu, sizeof(s->ph_cpu));
		parts[0] = '\0';
		for (int i = 0; i < SYP_N; i++) {
			char item[48];

			if (s->ph_cpu[i] < SYNC_NS_PER_MS)
				continue;
			snprintf(item, sizeof(item), "%s %llu ms", sy_phase_name[i],
				 (unsigned long long)(s->ph_cpu[i] / SYNC_NS_PER_MS));
			ns_join(parts, sizeof(parts), &len, "", item);
		}
		/* Logged only when a new record is set: a handful of lines. */
		if (cpu >= SYNC_SLOW_STEP_NS)
			pr_warn("sync: a %s step used %llu ms of CPU (budget %llu ms): %s", what,
				(unsigned long long)(cpu / SYNC_NS_PER_MS),
				(unsigned long long)(SYNC_STEP_BUDGET_NS / SYNC_NS_PER_MS), parts);
	}
	memset(s->ph_cpu, 0, sizeof(s->ph_cpu));
}

void sy_step_done(struct ns_sync *s, uint64_t start, uint64_t cpu_start, const char *what)
{
	uint64_t end = sy_cpu_now(), t = ns_now() - start, cpu = end - cpu_start;

	t = t > s->step_red_ns ? t - s->step_red_ns : 0;
	cpu = cpu > s->step_red_ns ? cpu - s->step_red_ns : 0;
	s->step_red_ns = 0;
	if (s->step_what)
		what = s->step_what;
	s->step_what = NULL;
	s->st.steps++;
	if (t > s->st.step_max_ns) {
		s->st.step_max_ns = t;
		s->st.step_max_what = what;
	}
	step_phases_done(s, cpu, end, what);
	if (t >= SYNC_SLOW_STEP_NS) {
		s->st.steps_slow++;
		pr_debug("sync: %s took %llu ms (%llu ms CPU)", what,
			 (unsigned long long)(t / SYNC_NS_PER_MS),
			 (unsigned long long)(cpu / SYNC_NS_PER_MS));
	}
}

static void conn_event(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct sync_conn *c = arg;
	struct ns_sync *s = c->owner;

	(void)loop;
	if (c->st == C_FREE || c->fd != fd)
		return;
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			s->st.connect_fail++;
			sy_conn_close(s, c, strerror(err));
			return;
		}
		s->st.connects++;
		c->st = C_HANDSHAKE;
		c->opened_ns = c->last_rx_ns = ns_now();
		send_hello(s, c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		sy_on_readable(s, c);
		if (c->st == C_FREE)
			return;
	}
	/* Also after a read: an ACK may have reopened the window for lo. */
	sy_flush_out(s, c);
	/* Backpressure released: continue the walk (or the due sessions)
	 * that stopped on a full queue. */
	if (c->st == C_ESTABLISHED && c == s->active && (s->walking || s->due.n) &&
	    sy_q_len(&c->lo) < SYNC_LO_CAP / 4)
		sy_walk_step(s);
}

void sy_on_conn_event(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct sync_conn *c = arg;
	struct ns_sync *s = c->owner;
	uint64_t start = ns_now(), cpu = sy_cpu_now();

	conn_event(loop, fd, ev, arg);
	sy_step_done(s, start, cpu, "connection event");
}

static void start_connect(struct ns_sync *s)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;
	struct sockaddr_in local = { .sin_family = AF_INET, .sin_addr = r->local_addr };
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr = r->peer_addr,
				    .sin_port = htons(r->port) };
	struct sync_conn *c;
	int fd, err;

	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : SYNC_BACKOFF_MIN_MS;
	if (s->backoff_ms > SYNC_BACKOFF_MAX_MS)
		s->backoff_ms = SYNC_BACKOFF_MAX_MS;
	s->next_connect_ns = ns_now() + (uint64_t)s->backoff_ms * SYNC_NS_PER_MS;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	err = sock_setup(s, fd);
	/* From the data address, so the peer sees who we are. */
	if (!err && bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0)
		err = -errno;
	if (!err && connect(fd, (struct sockaddr *)&peer, sizeof(peer)) < 0 &&
	    errno != EINPROGRESS)
		err = -errno;
	if (err) {
		s->st.connect_fail++;
		pr_debug("sync: connect to peer failed: %s", strerror(-err));
		close(fd);
		return;
	}
	c = conn_alloc(s, fd, true);
	if (!c) {
		close(fd);
		return;
	}
	if (loop_add(s->d->loop, fd, EPOLLOUT | EPOLLIN, sy_on_conn_event, c)) {
		c->st = C_FREE;
		free(c->in);
		free(c->hi.buf);
		free(c->lo.buf);
		close(fd);
		return;
	}
	loop_set_name(s->d->loop, fd, "sync connection");
	c->events = EPOLLOUT | EPOLLIN;
}

static void on_accept(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct ns_sync *s = arg;

	(void)ev;
	for (;;) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		struct sync_conn *c;
		char ip[INET_ADDRSTRLEN];
		int cfd = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return;
		/* Only the configured peer may feed our maps. */
		if (sa.sin_family != AF_INET ||
		    sa.sin_addr.s_addr != s->d->conf.red.peer_addr.s_addr) {
			s->st.accept_rejected++;
			pr_warn("sync: connection from %s rejected: not the configured peer",
				ns_fmt_ip(sa.sin_addr.s_addr, ip, sizeof(ip)));
			close(cfd);
			continue;
		}
		sock_setup(s, cfd);
		c = conn_alloc(s, cfd, false);
		if (!c || loop_add(loop, cfd, EPOLLIN, sy_on_conn_event, c)) {
			if (c) {
				c->st = C_FREE;
				free(c->in);
				free(c->hi.buf);
				free(c->lo.buf);
			}
			close(cfd);
			continue;
		}
		loop_set_name(loop, cfd, "sync connection");
		c->events = EPOLLIN;
		s->st.accepts++;
	}
}

int sy_open_listener(struct ns_sync *s)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = r->local_addr,
				  .sin_port = htons(r->port) };
	int one = 1, fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	err = sock_setup(s, fd);
	if (!err && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err = -errno;
	if (!err && listen(fd, 8) < 0)
		err = -errno;
	if (!err)
		err = loop_add(s->d->loop, fd, EPOLLIN, on_accept, s);
	if (err) {
		close(fd);
		return err;
	}
	loop_set_name(s->d->loop, fd, "sync listener");
	s->lfd = fd;
	return 0;
}

/* ---- timer -------------------------------------------------------------- */

/* Sessions the peer has (primary) or we installed (backup): the table
 * without the entries only queued for later (the due wheel). */
size_t sy_tracked(const struct ns_sync *s)
{
	return s->tab.n - s->tab_queued;
}

void sy_send_heartbeat(struct ns_sync *s, struct sync_conn *c, uint64_t now)
{
	struct nsw_heartbeat hb = {
		.role = s->primary ? NSW_ROLE_PRIMARY : NSW_ROLE_BACKUP,
		.ready = red_advertised_ready(s->d, s->primary ? 1 : s->ready),
		.priority = red_advertised_priority(s->d),
		.sessions = (uint32_t)(sy_tracked(s) + s->tab64.n),
		.uptime_ms = (now - s->d->started_ns) / SYNC_NS_PER_MS,
	};
	uint8_t f[NSW_HDR_LEN + 16];

	if (sy_send_hi(s, c, f, nsw_encode_heartbeat(f, sizeof(f), 0, &hb)))
		s->st.heartbeats_tx++;
	c->last_hb_ns = now;
}

static void check_conns(struct ns_sync *s, uint64_t now)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;
	uint64_t dead = (uint64_t)(r->dead_interval_ms ? r->dead_interval_ms : 3000) *
			SYNC_NS_PER_MS;
	uint64_t hb = (uint64_t)(r->heartbeat_interval_ms ? r->heartbeat_interval_ms : 1000) *
		      SYNC_NS_PER_MS;

	/* Dropping the channel costs a whole new bulk, and a backup busy
	 * installing one (or starved of CPU) may be silent for a while: the
	 * channel waits three dead-intervals, at least 10 s. Role decisions
	 * do not wait for this: redundancy.c times the heartbeats itself. */
	dead *= 3;
	if (dead < 3 * hb)
		dead = 3 * hb;
	if (dead < 10000 * SYNC_NS_PER_MS)
		dead = 10000 * SYNC_NS_PER_MS;
	for (int i = 0; i < SYNC_MAX_CONNS; i++) {
		struct sync_conn *c = &s->conns[i];

		if (c->st == C_FREE)
			continue;
		if (c->st != C_ESTABLISHED) {
			if (now - c->opened_ns > SYNC_HANDSHAKE_NS)
				sy_conn_close(s, c, "handshake timeout");
			continue;
		}
		if (now - c->last_rx_ns > dead) {
			s->st.dead_peer++;
			sy_set_error(s, "peer %s silent for %llu ms: connection dropped", c->peer.name,
				  (unsigned long long)((now - c->last_rx_ns) / SYNC_NS_PER_MS));
			sy_conn_close(s, c, "peer dead");
			continue;
		}
		if (c->window_since && !c->window_logged && now - c->window_since > 2 * hb) {
			/* Bounded either way (window, queue caps); say why
			 * replication stands still before the peer is dead. */
			c->window_logged = true;
			pr_warn("sync: peer %s has not acknowledged %u frames for %llu ms: "
				"replication held back, %zu + %zu bytes queued (slow peer)",
				c->peer.name, sy_lag_frames(c),
				(unsigned long long)((now - c->window_since) / SYNC_NS_PER_MS),
				sy_q_len(&c->hi), sy_q_len(&c->lo));
		}
		if (now - c->last_hb_ns >= hb)
			sy_send_heartbeat(s, c, now);
	}
}

static bool connecting(const struct ns_sync *s)
{
	for (int i = 0; i < SYNC_MAX_CONNS; i++)
		if (s->conns[i].st != C_FREE && s->conns[i].outgoing)
			return true;
	return false;
}

static void tick(struct ns_sync *s)
{
	uint64_t now = ns_now();

	if (s->lfd < 0 && now >= s->next_listen_ns) {
		int err = sy_open_listener(s);

		if (err) {
			sy_set_error(s, "cannot listen on port %u: %s", s->d->conf.red.port,
				  strerror(-err));
			s->next_listen_ns = now + 5000 * SYNC_NS_PER_MS;
		}
	}
	check_conns(s, now);
	if (!s->active && !connecting(s) && now >= s->next_connect_ns)
		start_connect(s);
	if (s->active && !s->primary)
		sy_send_ack(s, s->active);
	if (s->sweeping && !s->kicked)
		sy_sweep_step(s); /* without the eventfd the timer drives it */
	sy_walk_step(s);
}

void sy_on_tick(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct ns_sync *s = arg;
	uint64_t start = ns_now(), cpu = sy_cpu_now();

	(void)loop;
	(void)fd;
	(void)ev;
	tick(s);
	sy_step_done(s, start, cpu, "timer");
}
