// SPDX-License-Identifier: GPL-2.0
/*
 * sync.c - inter-chassis session synchronization (see sync.h, doc/sync.md).
 *
 * Channel: one TCP connection per pair. Both sides listen on their data
 * address and connect to the peer when they have no connection, so either
 * may start first; when both connections come up, the one initiated by the
 * lower address wins on both sides. The initiator sends HELLO, the acceptor
 * answers HELLO_ACK or REFUSE (version or config fingerprint mismatch).
 *
 * Primary: a walk over ns_sessions with batch lookups, resumable across
 * loop iterations, queues SESSION_ADD for sessions past the replication
 * threshold that the peer does not have in this connection's epoch, and
 * SESSION_UPDATE when the TCP state, the flags or the activity (last_seen
 * moved by more than a quarter of the timeout) changed. Sessions that
 * vanished between two passes go out as SESSION_DEL on a high-priority queue
 * that never waits behind bulk data. The first pass of a connection is the
 * bulk: BULK_START ... BULK_END. Sequence numbers are assigned when a frame
 * starts on the wire, the backup ACKs the highest one it has processed.
 *
 * Backup: installs records into ns_sessions, ns_session_rev and the binding
 * maps (ns_ports, ns_eim, ns_paired) with NS_SF_REPLICATED and rebased
 * clocks; BULK_END removes replicated sessions the bulk did not contain.
 * Bindings are released by the ordinary aging pass once no session uses
 * them, exactly as on the primary.
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

#define SYNC_TICK_MS 20                             /* also sends what is due (due_step) */
#define SYNC_PASS_INTERVAL_NS (250ull * 1000000)   /* start a pass at most this often */
#define SYNC_WALK_CHUNK 256                        /* entries per batch lookup */
/* Work one sync callback may do before yielding to the loop (heartbeats of
 * both modules and the control socket must never wait behind a bulk). */
#define SYNC_STEP_BUDGET_NS (5ull * 1000000)
#define SYNC_SLOW_STEP_NS (20ull * 1000000)        /* counted as a stall */
/* Data frames on the wire not yet acknowledged as processed: bounds what a
 * backup has buffered ahead of a heartbeat to ~32 x 16 KiB. */
#define SYNC_WINDOW_FRAMES 32
#define SYNC_FINI_FLUSH_NS (200ull * 1000000)      /* graceful close: flush */
#define SYNC_FINI_DRAIN_NS (100ull * 1000000)      /* graceful close: peer's FIN */
#define SYNC_LO_CAP (4u << 20)                     /* bulk/incremental queue */
#define SYNC_HI_CAP (1u << 20)                     /* deletes and control */
#define SYNC_IN_CAP (2 * NSW_MAX_FRAME)
#define SYNC_RX_BUDGET (256u << 10)                /* bytes per read callback */
#define SYNC_MAX_CONNS 4
#define SYNC_HANDSHAKE_NS (5ull * 1000000000)
#define SYNC_BACKOFF_MIN_MS 100
#define SYNC_BACKOFF_MAX_MS 5000
#define SYNC_NS_PER_MS 1000000ull

/* ---- bookkeeping table: in_key -> what we last sent / installed ---------- */

struct sync_ent {
	struct ns_tuple key;
	struct sync_ent *next;
	uint64_t created_ns;     /* primary: detects a reused 5-tuple */
	uint64_t last_seen_sent; /* primary: last_seen_ns in the last record */
	uint32_t epoch;          /* primary: connection epoch; backup: bulk gen */
	uint32_t seen_pass;      /* primary: last walk pass that saw it */
	uint32_t serial;         /* primary: lo frame serial of the last record */
	uint32_t flags;          /* primary: session flags in the last record */
	uint8_t tcp_state;
	bool queued;             /* primary: in the due wheel, not sent yet */
};

struct sync_table {
	struct sync_ent **b;
	size_t nb;               /* power of two */
	size_t n;
	size_t nb_min;           /* first size: sized for max-sessions */
};

/* Average chain length before the table doubles: one, so that a lookup
 * costs about one cache miss (the walk does one per session per pass). */
#define SYNC_TAB_LOAD 1
#define SYNC_TAB_MAX_FIRST (1u << 22)              /* first bucket array: 32 MiB at most */

/*
 * Sessions about to become old enough to replicate (primary), in a timing
 * wheel of SYNC_DUE_SLOTS slots of SYNC_DUE_SLOT_NS by the time they do.
 * The walk queues the ones that will before it sees them again, with the
 * session as it read it, and due_step() sends each once its slot is over
 * (never early: the threshold holds) instead of when the next pass over
 * the whole map reaches it. A map lookup per session would cost more than
 * the whole record (a bpf syscall is ~1.3 us on the team VM): the copy is
 * at most a horizon old, and the next pass corrects it like any change
 * (an update, or a delete if the session ended meanwhile).
 */
#define SYNC_DUE_SLOT_NS (10ull * 1000000)
#define SYNC_DUE_SLOTS 1024u                       /* 10.24 s ahead at most */
#define SYNC_DUE_HORIZON_MAX_NS (4000ull * 1000000)

struct sync_due {
	struct ns_session v;     /* as the walk read it; v.in_key is the key */
	uint8_t bind;            /* its binding_bits() then */
};

struct sync_slot {
	struct sync_due *v;
	uint32_t n, cap, off;    /* entries [off, n) not sent yet */
};

struct sync_wheel {
	struct sync_slot slot[SYNC_DUE_SLOTS];
	uint64_t pos;            /* next slot (time / SYNC_DUE_SLOT_NS) to send */
	size_t n, max;           /* queued; max: max-sessions */
};

/* ---- output queue: whole frames, bounded -------------------------------- */

struct sync_q {
	uint8_t *buf;
	size_t cap, head, tail;  /* frames in buf[head..tail) */
};

enum conn_state { C_FREE = 0, C_CONNECTING, C_HANDSHAKE, C_ESTABLISHED };

struct sync_conn {
	struct ns_sync *owner;
	int fd;
	enum conn_state st;
	bool outgoing;
	bool closing;           /* in conn_close: no re-entry */
	bool duplicate;         /* closed as the losing duplicate: expected */
	bool auth;              /* frames are tagged with key (both ways) */
	bool enc;               /* ... and encrypted (ChaCha20-Poly1305) */
	bool hello_done;        /* acceptor: HELLO_ACK sent, awaiting proof */
	uint8_t nonce[NSW_NONCE_LEN]; /* ours, in our HELLO / HELLO_ACK */
	uint8_t key[NSW_KEY_LEN];     /* per-connection key (nsw_derive_key) */
	uint8_t tx_key[NSW_KEY_LEN];  /* encryption: our direction's key */
	uint8_t rx_key[NSW_KEY_LEN];  /* encryption: the peer's direction's key */
	uint64_t window_since;   /* primary: window closed since (0: open) */
	bool window_logged;      /* ... and that was logged */
	bool ack_needed;        /* data processed since the last ACK */
	bool rx_paused;         /* budget spent with frames left in in[] */
	uint32_t events;         /* registered epoll events */
	uint8_t *in;
	size_t in_len;
	struct sync_q hi, lo;
	struct sync_q *cur;      /* queue whose head frame is partly sent */
	size_t cur_left;
	uint32_t tx_seq;         /* last sequence put on the wire */
	uint32_t rx_seq;         /* last sequence received and processed */
	uint32_t ack_sent;       /* backup: last sequence acknowledged */
	uint32_t acked;          /* primary: peer's cumulative ACK */
	uint32_t bulk_end_seq;   /* primary: sequence of BULK_END, 0 none */
	uint32_t data_seq;       /* primary: sequence of the last data frame */
	uint32_t lo_enq, lo_started; /* lo frame serials: enqueued, started */
	uint64_t opened_ns, last_rx_ns, last_hb_ns;
	struct nsw_hello peer;
};

struct sync_stats {
	uint64_t connects, connect_fail, accepts, accept_rejected, disconnects;
	uint64_t refused_sent, refused_recv, proto_errors, dead_peer;
	uint64_t frames_tx, frames_rx, bytes_tx, bytes_rx;
	uint64_t adds_tx, updates_tx, dels_tx, bulks_tx;
	uint64_t records_rx, installed, install_fail, dels_rx, dels_applied;
	uint64_t bulks_rx, stale_removed;
	uint64_t backpressure, dels_deferred, walk_passes, walk_errors, walk_last_ns;
	uint64_t due_sent;       /* sessions sent by due_step, not by a pass */
	uint64_t open_sent;      /* sessions sent on their SESSION_OPEN event */
	uint64_t heartbeats_tx, heartbeats_rx, acks_rx;
	uint64_t bulk_requests_rx;
	uint64_t auth_fail;
	uint64_t seq_replays, seq_gaps; /* sequence not previous + 1 */
	uint64_t truncated;      /* peer closed in the middle of a frame */
	uint64_t hi_full;        /* control frames not queued: hi queue full */
	uint64_t queued_max;     /* most bytes queued at once (hi + lo) */
	uint64_t steps, steps_slow, step_max_ns, step_max_cpu_ns, rx_yields, window_waits;
	const char *step_max_what;
	uint64_t red_max_ns;     /* longest redundancy handler run inside a step */
};

/* One received frame staged for batch map updates (backup). */
struct sync_stage {
	struct ns_tuple keys[NSW_BATCH_MAX_SESSIONS];
	struct ns_session vals[NSW_BATCH_MAX_SESSIONS];
	struct ns_tuple rkeys[NSW_BATCH_MAX_SESSIONS];
	bool fail[NSW_BATCH_MAX_SESSIONS];
	uint32_t hashes[NSW_BATCH_MAX_SESSIONS]; /* tab_prefetch() scratch */
	struct ns_port_key pk[NSW_BATCH_MAX_SESSIONS];
	struct ns_port_val pv[NSW_BATCH_MAX_SESSIONS];
	struct ns_eim_key ek[NSW_BATCH_MAX_SESSIONS];
	struct ns_eim_val ev[NSW_BATCH_MAX_SESSIONS];
	struct ns_paired_key qk[NSW_BATCH_MAX_SESSIONS];
	struct ns_paired_val qv[NSW_BATCH_MAX_SESSIONS];
	uint32_t np, ne, nq;
};

struct ns_sync {
	struct ns_daemon *d;
	int lfd, tfd;
	int kfd;                 /* eventfd: "walk again as soon as the loop is free" */
	bool kicked;
	bool primary;
	uint64_t fingerprint;
	uint8_t psk[256];        /* redundancy-options.key-file, psk_len 0: none */
	size_t psk_len;
	bool encrypt;            /* redundancy-options.encrypt (needs psk) */
	struct sync_conn conns[SYNC_MAX_CONNS];
	struct sync_conn *active;
	struct sync_table tab;
	/* NAT64 sessions (ns_nat64_sess), keyed by out_key: what the peer
	 * has (primary) / what we installed (backup), as tab */
	struct sync_table tab64;
	uint64_t next_connect_ns;
	uint32_t backoff_ms;
	uint64_t next_listen_ns;
	/* primary walk */
	uint32_t epoch;          /* +1 per connection / role change */
	uint32_t pass;
	size_t pass_seen;        /* table entries marked seen in this pass */
	size_t tab_queued;       /* table entries queued, not sent (not tracked) */
	uint64_t pass_due;       /* this pass: earliest time a session seen too
				  * young becomes old enough to replicate */
	uint64_t next_due_ns;    /* the last complete pass's pass_due */
	bool any_paired;         /* a NAT term uses address-pooling paired */
	uint64_t due_horizon;    /* this pass queues sessions due before now + this */
	struct sync_wheel due;   /* sessions coming due (due_step) */
	bool walking, walk_first, bulk_pending, bulk_running;
	bool finishing;          /* walk done, finish_pass() at tab bucket fin_idx */
	size_t fin_idx;
	bool walk64, walk64_first; /* the pass walks ns_nat64_sess now */
	uint64_t walk64_token;
	bool fin64;              /* finish_pass() is at tab64 bucket fin_idx */
	uint64_t walk_token;
	uint64_t last_pass_ns;
	uint32_t bulk_epoch, bulk_count, bulk_expected;
	bool peer_ready;         /* primary: peer acked our BULK_END */
	struct nsw_batch batch;  /* pending records for lo */
	uint8_t batch_buf[NSW_MAX_FRAME];
	struct nsw_batch dbatch; /* pending deletes for hi */
	uint8_t dbatch_buf[NSW_MAX_FRAME];
	struct ns_tuple keys[SYNC_WALK_CHUNK];
	struct ns_session vals[SYNC_WALK_CHUNK];
	struct ns_tuple6 keys6[SYNC_WALK_CHUNK];
	uint32_t hashes[SYNC_WALK_CHUNK];
	/* backup */
	uint32_t gen;            /* bulk generation */
	bool bulk_rx_running, ready;
	bool sweeping, sweep_first; /* end-of-bulk stale sweep, resumable */
	uint64_t sweep_token;
	bool sweep64, sweep64_first; /* ... then over ns_nat64_sess */
	uint64_t sweep64_token;
	uint32_t bulk_rx_epoch, bulk_rx_expected, bulk_rx_count;
	uint32_t peer_install_fail;
	struct nsw_heartbeat peer_hb;
	/* status */
	char last_error[256];
	struct nsw_session rx_recs[NSW_BATCH_MAX_SESSIONS];
	struct sync_stage stage;
	struct ns_tuple rx_keys[NSW_BATCH_MAX_DELS];
	struct ns_tuple6 rx_keys6[NSW_BATCH_MAX_SESSIONS64];
	struct sync_stats st;
	const char *step_what;   /* what the current step did last (show sync) */
	uint64_t step_red_ns;    /* time of the current step in redundancy code */
};

static void conn_close(struct ns_sync *s, struct sync_conn *c, const char *why);
static void flush_out(struct ns_sync *s, struct sync_conn *c);
static void walk_step(struct ns_sync *s);
static void send_heartbeat(struct ns_sync *s, struct sync_conn *c, uint64_t now);
static void kick(struct ns_sync *s);
static uint32_t lag_frames(const struct sync_conn *c);

/* ---- helpers ------------------------------------------------------------ */

static void set_error(struct ns_sync *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Remember the last error for "show sync" and log it loudly. */
static void set_error(struct ns_sync *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	pr_err("sync: %s", s->last_error);
}

static const char *role_name(bool primary)
{
	return primary ? "primary" : "backup";
}

static const char *state_name(enum conn_state st)
{
	switch (st) {
	case C_CONNECTING: return "connecting";
	case C_HANDSHAKE: return "handshake";
	case C_ESTABLISHED: return "established";
	default: return "idle";
	}
}

/* ---- table -------------------------------------------------------------- */

static size_t tab_hash(const struct sync_table *t, const struct ns_tuple *k)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	uint32_t w[4];

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 4; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
	}
	return h & (t->nb - 1);
}

static bool key_eq(const struct ns_tuple *a, const struct ns_tuple *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return x[0] == y[0] && x[1] == y[1];
}

static struct sync_ent *tab_find(struct sync_table *t, const struct ns_tuple *k)
{
	if (!t->nb)
		return NULL;
	for (struct sync_ent *e = t->b[tab_hash(t, k)]; e; e = e->next)
		if (key_eq(&e->key, k))
			return e;
	return NULL;
}

/*
 * Start loading the entries of n keys about to be looked up: the table is
 * far larger than the caches, and the walk looks up every session of the
 * map once per pass. Two rounds (bucket slots, then the first entries)
 * overlap the cache misses instead of taking them one after the other.
 */
static void tab_prefetch(const struct sync_table *t, const struct ns_tuple *k, size_t n,
			 uint32_t *h)
{
	if (!t->nb)
		return;
	for (size_t i = 0; i < n; i++) {
		h[i] = (uint32_t)tab_hash(t, &k[i]);
		__builtin_prefetch(&t->b[h[i]]);
	}
	for (size_t i = 0; i < n; i++)
		if (t->b[h[i]])
			__builtin_prefetch(t->b[h[i]]);
}

/*
 * Double the bucket array; on allocation failure keep the old one. The
 * first size comes from max-sessions (tab_size), so this rehash - one
 * loop iteration, ~50 ms at a million entries - only runs when the maps
 * hold more than the configuration allows for.
 */
static void tab_grow(struct sync_table *t)
{
	size_t nb = t->nb ? t->nb * 2 : (t->nb_min ? t->nb_min : 4096);
	struct sync_ent **b = calloc(nb, sizeof(*b));
	struct sync_table nt = { .b = b, .nb = nb, .n = t->n, .nb_min = t->nb_min };

	if (!b)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct sync_ent *e = t->b[i], *next;

		for (; e; e = next) {
			size_t h = tab_hash(&nt, &e->key);

			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(t->b);
	*t = nt;
}

static struct sync_ent *tab_add(struct sync_table *t, const struct ns_tuple *k)
{
	struct sync_ent *e;
	size_t h;

	if (!t->nb || t->n >= t->nb * SYNC_TAB_LOAD)
		tab_grow(t);
	if (!t->nb)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = *k;
	h = tab_hash(t, k);
	e->next = t->b[h];
	t->b[h] = e;
	t->n++;
	return e;
}

static void tab_del(struct sync_table *t, const struct ns_tuple *k)
{
	struct sync_ent **pp;

	if (!t->nb)
		return;
	for (pp = &t->b[tab_hash(t, k)]; *pp; pp = &(*pp)->next) {
		if (key_eq(&(*pp)->key, k)) {
			struct sync_ent *e = *pp;

			*pp = e->next;
			free(e);
			t->n--;
			return;
		}
	}
}

static void tab_clear(struct sync_table *t)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct sync_ent *e = t->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0; /* nb_min stays */
}

/* Tables being freed by tab_discard()'s threads (sync_fini waits for 0). */
static int tab_discards;

static void *tab_free_thread(void *arg)
{
	struct sync_table *t = arg;

	tab_clear(t);
	free(t);
	__atomic_sub_fetch(&tab_discards, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* At exit: let the freeing threads finish (a table of 10M: a few seconds). */
static void tab_discards_wait(void)
{
	for (int i = 0; i < 30000 && __atomic_load_n(&tab_discards, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
}

/*
 * Empty t at once and free what it held on a thread of its own: freeing a
 * table costs a walk of its whole bucket array (sized by max-sessions) and
 * one free() per entry, up to a second at 1M sessions, which a role change
 * must not spend on the event loop. Freed inline only when no thread can
 * be started (logged).
 */
static void tab_discard(struct sync_table *t)
{
	struct sync_table *old;
	pthread_attr_t attr;
	pthread_t th;
	int err = ENOMEM;

	if (!t->b)
		return;
	old = malloc(sizeof(*old));
	if (old) {
		*old = *t;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		__atomic_add_fetch(&tab_discards, 1, __ATOMIC_ACQ_REL);
		err = pthread_create(&th, &attr, tab_free_thread, old);
		if (err)
			__atomic_sub_fetch(&tab_discards, 1, __ATOMIC_RELEASE);
		pthread_attr_destroy(&attr);
	}
	if (err) {
		pr_warn("sync: cannot free the session table off the loop (%s): freeing %zu "
			"entries inline", strerror(err), t->n);
		free(old);
		tab_clear(t);
		return;
	}
	t->b = NULL;
	t->nb = t->n = 0; /* nb_min stays */
}

/* Size the first bucket array for max sessions (bounded: 32 MiB). */
static void tab_size(struct sync_table *t, uint32_t max_sessions)
{
	size_t want = max_sessions / SYNC_TAB_LOAD;

	t->nb_min = 4096;
	while (t->nb_min < want && t->nb_min < SYNC_TAB_MAX_FIRST)
		t->nb_min *= 2;
}

/* ---- due wheel ---------------------------------------------------------- */

/* Queue session v, due at due_ns (> now); false when the wheel is full,
 * out of memory or due_ns too far ahead (it is then sent when a pass
 * reaches it, as without the wheel). */
static bool wheel_push(struct sync_wheel *w, const struct ns_session *v, uint8_t bind,
		       uint64_t due_ns, uint64_t now)
{
	uint64_t t = due_ns / SYNC_DUE_SLOT_NS;
	struct sync_slot *sl;

	if (!w->n)
		w->pos = now / SYNC_DUE_SLOT_NS;
	if (t < w->pos || t - w->pos >= SYNC_DUE_SLOTS || w->n >= w->max)
		return false;
	sl = &w->slot[t % SYNC_DUE_SLOTS];
	if (sl->n >= sl->cap) {
		uint32_t cap = sl->cap ? sl->cap * 2 : 256;
		struct sync_due *nv = realloc(sl->v, cap * sizeof(*nv));

		if (!nv)
			return false;
		sl->v = nv;
		sl->cap = cap;
	}
	sl->v[sl->n].v = *v;
	sl->v[sl->n++].bind = bind;
	w->n++;
	return true;
}

static void slot_free(struct sync_slot *sl)
{
	free(sl->v);
	memset(sl, 0, sizeof(*sl));
}

static void wheel_clear(struct sync_wheel *w)
{
	for (uint32_t i = 0; i < SYNC_DUE_SLOTS; i++)
		slot_free(&w->slot[i]);
	w->n = 0;
}

/* ---- output queues ------------------------------------------------------ */

static size_t q_len(const struct sync_q *q)
{
	return q->tail - q->head;
}

/* Room for len more bytes without exceeding the queue's bound. */
static bool q_room(struct sync_q *q, size_t len)
{
	if (q_len(q) + len > q->cap)
		return false;
	if (q->tail + len > q->cap) {
		memmove(q->buf, q->buf + q->head, q_len(q));
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
		return false; /* closed under the caller: conn_close freed buf */
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
	if (q_len(&c->hi) + q_len(&c->lo) > c->owner->st.queued_max)
		c->owner->st.queued_max = q_len(&c->hi) + q_len(&c->lo);
	return true;
}

/* Queue a control frame (HELLO, ACK, ...) on hi and try to send it. */
static bool send_hi(struct ns_sync *s, struct sync_conn *c, const uint8_t *f, int len)
{
	if (!enqueue(c, &c->hi, f, len))
		return false;
	flush_out(s, c);
	return true;
}

static bool send_lo(struct ns_sync *s, struct sync_conn *c, const uint8_t *f, int len)
{
	if (!enqueue(c, &c->lo, f, len))
		return false;
	c->lo_enq++;
	flush_out(s, c);
	return true;
}

/*
 * May lo start another frame? Only while fewer than SYNC_WINDOW_FRAMES data
 * frames are unacknowledged: what the backup has not processed yet sits in
 * front of our next heartbeat, so this bounds the heartbeat's delay.
 */
static bool lo_open(const struct sync_conn *c)
{
	return lag_frames(c) < SYNC_WINDOW_FRAMES;
}

/* Start the next frame: deletes and control first, then bulk/incremental.
 * The sequence is stamped now, so wire order and sequence order agree. */
static bool next_frame(struct ns_sync *s, struct sync_conn *c)
{
	struct sync_q *q = NULL;
	uint8_t *f;
	uint32_t blen;

	if (q_len(&c->hi))
		q = &c->hi;
	else if (q_len(&c->lo) && lo_open(c))
		q = &c->lo;
	if (!q)
		return false;
	if (c->tx_seq == UINT32_MAX) {
		/* Never reuse a sequence number (the AEAD nonce, the replay
		 * check): a new connection brings new keys. */
		if (!c->closing)
			conn_close(s, c, "sequence numbers exhausted: reconnecting");
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
	 * sessions included): the window and "all acknowledged" count them. */
	if ((f[5] >= NSW_SESSION_ADD && f[5] <= NSW_BULK_END) ||
	    (f[5] >= NSW_SESSION64_ADD && f[5] <= NSW_SESSION64_DEL))
		c->data_seq = c->tx_seq;
	if (q == &c->lo) {
		c->lo_started++;
		if (f[5] == NSW_BULK_END)
			c->bulk_end_seq = c->tx_seq;
	}
	c->cur = q;
	c->cur_left = NSW_HDR_LEN + blen;
	s->st.frames_tx++;
	return true;
}

static void flush_out(struct ns_sync *s, struct sync_conn *c)
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
				conn_close(s, c, strerror(errno));
			return;
		}
		c->cur->head += (size_t)n;
		c->cur_left -= (size_t)n;
		s->st.bytes_tx += (uint64_t)n;
	}
	if (c->st == C_FREE)
		return; /* next_frame() closed it */
	if (!c->cur_left && !q_len(&c->hi) && q_len(&c->lo)) {
		s->st.window_waits++; /* an ACK reopens it (on_conn_event) */
		if (!c->window_since)
			c->window_since = ns_now(); /* check_conns() logs a long wait */
	}
	/* No EPOLLOUT while only the window holds lo back: it would spin. */
	want_events(s, c, EPOLLIN | (c->cur_left || q_len(&c->hi) ? EPOLLOUT : 0));
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
		  (s->d->fd.nat64_sess >= 0 && s->d->fd.nat64_rev >= 0 ? NSW_CAP_NAT64 : 0);
	memcpy(h->nonce, c->nonce, sizeof(h->nonce));
	h->fingerprint = s->fingerprint;
	ns_strlcpy(h->name, s->d->conf.node_name, sizeof(h->name));
}

static void send_refuse(struct ns_sync *s, struct sync_conn *c, uint8_t reason)
{
	struct nsw_refuse r = { .reason = reason, .version = NSW_VERSION,
				.fingerprint = s->fingerprint };
	uint8_t f[NSW_HDR_LEN + 16];

	s->st.refused_sent++;
	send_hi(s, c, f, nsw_encode_refuse(f, sizeof(f), 0, &r));
}

/* Check the peer's HELLO/HELLO_ACK; refuse and return false on mismatch. */
static bool hello_acceptable(struct ns_sync *s, struct sync_conn *c, const struct nsw_hello *h)
{
	if (h->version != NSW_VERSION) {
		set_error(s, "peer %s speaks protocol version %u, we speak %u: refused",
			  h->name, h->version, NSW_VERSION);
		send_refuse(s, c, NSW_REFUSE_VERSION);
		return false;
	}
	if (h->fingerprint != s->fingerprint) {
		set_error(s, "configuration fingerprint mismatch: peer %s has %016llx, ours is "
			  "%016llx (NAT, firewall, service sets and timeouts must be identical); "
			  "refused", h->name, (unsigned long long)h->fingerprint,
			  (unsigned long long)s->fingerprint);
		send_refuse(s, c, NSW_REFUSE_FINGERPRINT);
		return false;
	}
	if (!!(h->caps & NSW_CAP_AUTH) != !!s->psk_len) {
		s->st.auth_fail++;
		set_error(s, "peer %s has %s key-file but we have %s: refused", h->name,
			  h->caps & NSW_CAP_AUTH ? "a" : "no", s->psk_len ? "one" : "none");
		send_refuse(s, c, NSW_REFUSE_AUTH);
		return false;
	}
	if (!!(h->caps & NSW_CAP_ENCRYPT) != s->encrypt) {
		set_error(s, "peer %s has encrypt %s but we have encrypt %s: refused (set "
			  "redundancy-options.encrypt alike on both boxes)", h->name,
			  h->caps & NSW_CAP_ENCRYPT ? "on" : "off", s->encrypt ? "on" : "off");
		send_refuse(s, c, NSW_REFUSE_ENCRYPT);
		return false;
	}
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

static void start_bulk(struct ns_sync *s)
{
	s->epoch++;
	s->bulk_pending = true;
	s->peer_ready = false;
	/* Restart the walk so the bulk sees every bucket from the first. */
	s->walking = false;
	s->finishing = false;
	s->batch.count = 0;
	kick(s);
}

/* The handshake succeeded on c: make it the connection, resolving duplicates. */
static void conn_established(struct ns_sync *s, struct sync_conn *c)
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
		conn_close(s, drop, "duplicate connection");
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
		role_name(c->peer.role == NSW_ROLE_PRIMARY), role_name(s->primary));
	s->ready = false;
	s->bulk_rx_running = false;
	if (s->primary)
		start_bulk(s);
	red_on_peer_link(s->d, true);
}

/* A frame failed authentication, or the key is missing on one side. */
static void auth_failed(struct ns_sync *s, struct sync_conn *c, const char *what)
{
	s->st.auth_fail++;
	set_error(s, "frame from %s failed authentication (%s): check key-file on both boxes",
		  c->peer.name[0] ? c->peer.name : "peer", what);
	send_refuse(s, c, NSW_REFUSE_AUTH);
	s->backoff_ms = SYNC_BACKOFF_MAX_MS;
	s->next_connect_ns = ns_now() + (uint64_t)SYNC_BACKOFF_MAX_MS * SYNC_NS_PER_MS;
	conn_close(s, c, "authentication failed");
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

static void on_hello(struct ns_sync *s, struct sync_conn *c, const uint8_t *frame,
		     const uint8_t *b, uint32_t len, bool is_ack)
{
	struct nsw_hello h;
	uint8_t f[NSW_HDR_LEN + 96];
	int r = nsw_decode_hello(b, len, &h);

	if (r) {
		s->st.proto_errors++;
		set_error(s, "bad HELLO from peer: %s", nsw_err_str(r));
		send_refuse(s, c, NSW_REFUSE_PROTOCOL);
		conn_close(s, c, "bad hello");
		return;
	}
	/* The initiator gets HELLO_ACK, the acceptor HELLO; anything else is
	 * a confused peer. */
	if (c->st != C_HANDSHAKE || is_ack != c->outgoing) {
		s->st.proto_errors++;
		send_refuse(s, c, NSW_REFUSE_PROTOCOL);
		conn_close(s, c, "unexpected hello");
		return;
	}
	c->peer = h;
	if (!hello_acceptable(s, c, &h)) {
		s->backoff_ms = SYNC_BACKOFF_MAX_MS;
		s->next_connect_ns = ns_now() + (uint64_t)SYNC_BACKOFF_MAX_MS * SYNC_NS_PER_MS;
		conn_close(s, c, "refused");
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
		if (!send_hi(s, c, f, nsw_encode_hello(f, sizeof(f), NSW_HELLO_ACK, 0, &me)))
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
			auth_failed(s, c, "HELLO_ACK tag does not verify: the peer has another key");
			return;
		}
		derive_enc_keys(s, c, c->nonce, h.nonce);
		c->auth = true;
	}
	conn_established(s, c);
	if (c->st == C_ESTABLISHED && c->auth && c->outgoing)
		send_heartbeat(s, c, ns_now()); /* our proof, at once */
}

static void on_refuse(struct ns_sync *s, struct sync_conn *c, const uint8_t *b, uint32_t len)
{
	struct nsw_refuse r;

	s->st.refused_recv++;
	if (nsw_decode_refuse(b, len, &r)) {
		set_error(s, "peer refused the connection (unreadable reason)");
	} else if (r.reason == NSW_REFUSE_FINGERPRINT) {
		set_error(s, "peer refused us: configuration fingerprint mismatch "
			  "(peer %016llx, ours %016llx)", (unsigned long long)r.fingerprint,
			  (unsigned long long)s->fingerprint);
	} else {
		set_error(s, "peer refused us: %s (peer version %u)", nsw_refuse_str(r.reason),
			  r.version);
	}
	/* A refused peer is retried slowly: its config may be fixed by a reload. */
	s->backoff_ms = SYNC_BACKOFF_MAX_MS;
	s->next_connect_ns = ns_now() + (uint64_t)SYNC_BACKOFF_MAX_MS * SYNC_NS_PER_MS;
	conn_close(s, c, "refused by peer");
}

/* ---- backup: install ---------------------------------------------------- */

/*
 * Write n entries with one batch syscall. On a failure the kernel reports
 * how many it wrote; the rest are retried one by one so exactly the failed
 * entries are known (fail[i] set, when fail is given). BPF_ANY makes a
 * retry of an entry that was written harmless. Returns the failures.
 */
static uint32_t update_many(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz,
			    uint32_t n, bool *fail)
{
	uint32_t done = n, bad = 0;

	if (!n)
		return 0;
	if (!bpf_map_update_batch(fd, keys, vals, &done, NULL))
		return 0;
	if (done >= n)
		done = 0; /* refused before writing anything (no batch support) */
	for (uint32_t i = done; i < n; i++) {
		if (!bpf_map_update_elem(fd, (const char *)keys + i * ksz,
					 (const char *)vals + i * vsz, BPF_ANY))
			continue;
		bad++;
		if (fail)
			fail[i] = true;
	}
	return bad;
}

/* Queue the NAT bindings record r asks for into the stage. */
static void stage_bindings(struct sync_stage *g, const struct nsw_session *r, uint64_t now)
{
	uint8_t pf = (r->bind & NSW_BIND_EIM ? NS_PORT_F_EIM : 0) |
		     (r->bind & NSW_BIND_EIF ? NS_PORT_F_EIF : 0);

	if (r->bind & NSW_BIND_PORT) {
		struct ns_port_key *k = &g->pk[g->np];
		struct ns_port_val *v = &g->pv[g->np++];

		memset(k, 0, sizeof(*k));
		memset(v, 0, sizeof(*v));
		k->addr = r->out_key.daddr;
		k->port = r->out_key.dport;
		k->proto = r->in_key.proto;
		v->in_addr = r->in_key.saddr;
		v->in_port = r->in_key.sport;
		v->flags = pf;
		v->pool_id = r->pool_id;
		v->svc_set = r->svc_set;
		v->nat_term = r->nat_term;
		v->last_used_ns = now;
	}
	if (r->bind & NSW_BIND_EIM) {
		struct ns_eim_key *k = &g->ek[g->ne];
		struct ns_eim_val *v = &g->ev[g->ne++];

		memset(k, 0, sizeof(*k));
		memset(v, 0, sizeof(*v));
		k->in_addr = r->in_key.saddr;
		k->in_port = r->in_key.sport;
		k->proto = r->in_key.proto;
		k->svc_set = r->svc_set;
		v->out_addr = r->out_key.daddr;
		v->out_port = r->out_key.dport;
		v->flags = pf;
		v->pool_id = r->pool_id;
		v->last_used_ns = now;
	}
	if (r->bind & NSW_BIND_PAIRED) {
		struct ns_paired_key *k = &g->qk[g->nq];
		struct ns_paired_val *v = &g->qv[g->nq++];

		memset(k, 0, sizeof(*k));
		memset(v, 0, sizeof(*v));
		k->in_addr = r->in_key.saddr;
		k->pool_id = r->pool_id;
		v->out_addr = r->out_key.daddr;
		v->last_used_ns = now;
	}
}

/*
 * Install one received frame of n records: bindings first (a session whose
 * pool port is not reserved must never be visible to the fast path), then
 * the reverse entries, then the sessions, each map with one batch update.
 */
static void install_frame(struct ns_sync *s, const struct nsw_session *r, size_t n, uint64_t now)
{
	struct ns_map_fds *fd = &s->d->fd;
	struct sync_stage *g = &s->stage;

	g->np = g->ne = g->nq = 0;
	memset(g->fail, 0, n * sizeof(g->fail[0]));
	for (size_t i = 0; i < n; i++) {
		nsw_session_to_ns(&r[i], now, &g->vals[i]);
		g->keys[i] = g->vals[i].in_key;
		g->rkeys[i] = g->vals[i].out_key;
	}
	tab_prefetch(&s->tab, g->keys, n, g->hashes);
	for (size_t i = 0; i < n; i++) {
		struct ns_session *v = &g->vals[i], old;

		/* Known session: keep local counters, and drop a stale reverse
		 * entry if the translation changed (5-tuple reused). */
		if (tab_find(&s->tab, &v->in_key) &&
		    !bpf_map_lookup_elem(fd->sessions, &v->in_key, &old)) {
			memcpy(v->packets, old.packets, sizeof(v->packets));
			memcpy(v->bytes, old.bytes, sizeof(v->bytes));
			if (memcmp(&old.out_key, &v->out_key, sizeof(v->out_key)))
				bpf_map_delete_elem(fd->session_rev, &old.out_key);
		}
		stage_bindings(g, &r[i], now);
	}
	s->st.install_fail += update_many(fd->ports, g->pk, sizeof(g->pk[0]), g->pv,
					  sizeof(g->pv[0]), g->np, NULL);
	s->st.install_fail += update_many(fd->eim, g->ek, sizeof(g->ek[0]), g->ev,
					  sizeof(g->ev[0]), g->ne, NULL);
	s->st.install_fail += update_many(fd->paired, g->qk, sizeof(g->qk[0]), g->qv,
					  sizeof(g->qv[0]), g->nq, NULL);
	update_many(fd->session_rev, g->rkeys, sizeof(g->rkeys[0]), g->keys, sizeof(g->keys[0]),
		    (uint32_t)n, g->fail);
	update_many(fd->sessions, g->keys, sizeof(g->keys[0]), g->vals, sizeof(g->vals[0]),
		    (uint32_t)n, g->fail);
	for (size_t i = 0; i < n; i++) {
		struct sync_ent *e;

		if (g->fail[i]) {
			/* Half-installed is worse than absent: undo. */
			s->st.install_fail++;
			bpf_map_delete_elem(fd->sessions, &g->keys[i]);
			bpf_map_delete_elem(fd->session_rev, &g->rkeys[i]);
			continue;
		}
		e = tab_find(&s->tab, &g->keys[i]);
		if (!e)
			e = tab_add(&s->tab, &g->keys[i]);
		if (e)
			e->epoch = s->gen;
		s->st.installed++;
	}
}

/*
 * Remove a session and its reverse entry on a backup. Locally created ones
 * too: a backup creates none, so those are left from its time as primary
 * and the new primary's word is what counts.
 */
static bool remove_session(struct ns_sync *s, const struct ns_tuple *k)
{
	struct ns_map_fds *fd = &s->d->fd;
	struct ns_session v;

	tab_del(&s->tab, k);
	if (bpf_map_lookup_elem(fd->sessions, k, &v))
		return false;
	bpf_map_delete_elem(fd->sessions, k);
	bpf_map_delete_elem(fd->session_rev, &v.out_key);
	return true;
}

/*
 * Install one frame of n NAT64 records (IPv6 keys k): bindings, then the
 * reverse entries, then the sessions, as install_frame() does; the table
 * entry is keyed by the out_key.
 */
static void install_frame64(struct ns_sync *s, const struct ns_tuple6 *k,
			    const struct nsw_session *r, size_t n, uint64_t now)
{
	struct ns_map_fds *fd = &s->d->fd;
	struct sync_stage *g = &s->stage;

	if (fd->nat64_sess < 0 || fd->nat64_rev < 0) {
		s->st.install_fail += n;
		return;
	}
	g->np = g->ne = g->nq = 0;
	memset(g->fail, 0, n * sizeof(g->fail[0]));
	for (size_t i = 0; i < n; i++) {
		struct ns_session *v = &g->vals[i], old;

		nsw_session_to_ns(&r[i], now, v);
		g->rkeys[i] = v->out_key;
		if (!bpf_map_lookup_elem(fd->nat64_sess, &k[i], &old)) {
			memcpy(v->packets, old.packets, sizeof(v->packets));
			memcpy(v->bytes, old.bytes, sizeof(v->bytes));
			if (memcmp(&old.out_key, &v->out_key, sizeof(v->out_key)))
				bpf_map_delete_elem(fd->nat64_rev, &old.out_key);
		}
		stage_bindings(g, &r[i], now);
	}
	s->st.install_fail += update_many(fd->ports, g->pk, sizeof(g->pk[0]), g->pv,
					  sizeof(g->pv[0]), g->np, NULL);
	s->st.install_fail += update_many(fd->paired, g->qk, sizeof(g->qk[0]), g->qv,
					  sizeof(g->qv[0]), g->nq, NULL);
	update_many(fd->nat64_rev, g->rkeys, sizeof(g->rkeys[0]), k, sizeof(k[0]), (uint32_t)n,
		    g->fail);
	update_many(fd->nat64_sess, k, sizeof(k[0]), g->vals, sizeof(g->vals[0]), (uint32_t)n,
		    g->fail);
	for (size_t i = 0; i < n; i++) {
		struct sync_ent *e;

		if (g->fail[i]) {
			s->st.install_fail++;
			bpf_map_delete_elem(fd->nat64_sess, &k[i]);
			bpf_map_delete_elem(fd->nat64_rev, &g->rkeys[i]);
			continue;
		}
		e = tab_find(&s->tab64, &g->rkeys[i]);
		if (!e)
			e = tab_add(&s->tab64, &g->rkeys[i]);
		if (e)
			e->epoch = s->gen;
		s->st.installed++;
	}
}

/* Remove a NAT64 session named by its out_key (and its reverse entry). */
static bool remove_session64(struct ns_sync *s, const struct ns_tuple *out_key)
{
	struct ns_map_fds *fd = &s->d->fd;
	struct ns_tuple6 k;
	struct ns_session v;

	tab_del(&s->tab64, out_key);
	if (fd->nat64_rev < 0 || bpf_map_lookup_elem(fd->nat64_rev, out_key, &k))
		return false;
	bpf_map_delete_elem(fd->nat64_rev, out_key);
	if (bpf_map_lookup_elem(fd->nat64_sess, &k, &v))
		return false;
	bpf_map_delete_elem(fd->nat64_sess, &k);
	return true;
}

static int on_sessions64(struct ns_sync *s, const uint8_t *b, uint32_t len)
{
	size_t n;
	uint64_t now = ns_now();
	int r = nsw_decode_sessions64(b, len, s->rx_keys6, s->rx_recs, NSW_BATCH_MAX_SESSIONS64, &n);

	if (r)
		return r;
	s->st.records_rx += n;
	if (s->primary)
		return 0;
	install_frame64(s, s->rx_keys6, s->rx_recs, n, now);
	if (s->bulk_rx_running)
		s->bulk_rx_count += (uint32_t)n;
	return 0;
}

static int on_sessions(struct ns_sync *s, const uint8_t *b, uint32_t len)
{
	size_t n;
	uint64_t now = ns_now();
	int r = nsw_decode_sessions(b, len, s->rx_recs, NSW_BATCH_MAX_SESSIONS, &n);

	if (r)
		return r;
	s->st.records_rx += n;
	if (s->primary)
		return 0; /* a primary never takes state from its peer */
	install_frame(s, s->rx_recs, n, now);
	if (s->bulk_rx_running)
		s->bulk_rx_count += (uint32_t)n;
	return 0;
}

/* SESSION_DEL (keys: in_keys) or SESSION64_DEL (@nat64; keys: out_keys). */
static int on_dels(struct ns_sync *s, const uint8_t *b, uint32_t len, bool nat64)
{
	size_t n;
	int r = nsw_decode_dels(b, len, s->rx_keys, NSW_BATCH_MAX_DELS, &n);

	if (r)
		return r;
	s->st.dels_rx += n;
	if (s->primary)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (nat64 ? remove_session64(s, &s->rx_keys[i]) : remove_session(s, &s->rx_keys[i]))
			s->st.dels_applied++;
	return 0;
}

/*
 * End of a bulk: every session in the maps that this bulk did not
 * (re)install is gone on the primary (or was never replicated: younger than
 * the threshold when this box stopped being primary). Walks the map itself,
 * not our table, so sessions left pinned by a previous run are swept too.
 * Resumable: one call sweeps for at most SYNC_STEP_BUDGET_NS, then kicks
 * the loop (a million sessions take ~0.3 s, longer than a dead interval).
 * The backup is ready once the sweep is over.
 */
static void sweep_step(struct ns_sync *s)
{
	struct ns_map_fds *fd = &s->d->fd;
	struct ns_tuple del[SYNC_WALK_CHUNK]; /* a whole chunk may be stale */
	uint64_t start = ns_now();
	int err = 0;

	s->step_what = "stale sweep";
	while (s->sweeping && !s->sweep64 && !err) {
		__u32 n = SYNC_WALK_CHUNK;
		int ndel = 0;

		if (ns_now() - start >= SYNC_STEP_BUDGET_NS) {
			kick(s); /* on_kick continues after the pending events */
			return;
		}
		err = bpf_map_lookup_batch(fd->sessions, s->sweep_first ? NULL : &s->sweep_token,
					   &s->sweep_token, s->keys, s->vals, &n, NULL);
		s->sweep_first = false;
		if (err && err != -ENOENT) {
			s->st.walk_errors++;
			break;
		}
		for (__u32 i = 0; i < n; i++) {
			struct sync_ent *e = tab_find(&s->tab, &s->keys[i]);

			if (e && e->epoch == s->gen)
				continue;
			del[ndel++] = s->keys[i];
		}
		/* Delete after the walk step, never during it. */
		for (int i = 0; i < ndel; i++)
			if (remove_session(s, &del[i]))
				s->st.stale_removed++;
	}
	if (!s->sweeping)
		return;
	if (!s->sweep64) {
		s->sweep64 = true;
		s->sweep64_first = true;
	}
	err = 0;
	/* The NAT64 sessions the same way (their table is keyed by out_key). */
	while (fd->nat64_sess >= 0 && !err) {
		__u32 n = SYNC_WALK_CHUNK;
		int ndel = 0;

		if (ns_now() - start >= SYNC_STEP_BUDGET_NS) {
			kick(s);
			return;
		}
		err = bpf_map_lookup_batch(fd->nat64_sess, s->sweep64_first ? NULL : &s->sweep64_token,
					   &s->sweep64_token, s->keys6, s->vals, &n, NULL);
		s->sweep64_first = false;
		if (err && err != -ENOENT) {
			s->st.walk_errors++;
			break;
		}
		for (__u32 i = 0; i < n; i++) {
			struct sync_ent *e = tab_find(&s->tab64, &s->vals[i].out_key);

			if (e && e->epoch == s->gen)
				continue;
			del[ndel++] = s->vals[i].out_key;
		}
		for (int i = 0; i < ndel; i++)
			if (remove_session64(s, &del[i]))
				s->st.stale_removed++;
	}
	s->sweep64 = false;
	s->sweeping = false;
	s->ready = true;
	pr_info("sync: bulk %u complete: %u sessions received, %llu stale removed; backup ready",
		s->bulk_rx_epoch, s->bulk_rx_count, (unsigned long long)s->st.stale_removed);
}

static int on_bulk(struct ns_sync *s, const uint8_t *b, uint32_t len, bool start)
{
	struct nsw_bulk m;
	int r = nsw_decode_bulk(b, len, &m);

	if (r || s->primary)
		return r;
	if (start) {
		s->gen++;
		s->bulk_rx_running = true;
		s->bulk_rx_epoch = m.epoch;
		s->bulk_rx_expected = m.count;
		s->bulk_rx_count = 0;
		s->ready = false;
		s->sweeping = false; /* the new bulk's end sweeps again */
		pr_info("sync: bulk %u from %s started (%u sessions expected)", m.epoch,
			s->active ? s->active->peer.name : "?", m.count);
		return 0;
	}
	if (!s->bulk_rx_running || m.epoch != s->bulk_rx_epoch)
		return 0;
	s->bulk_rx_running = false;
	s->st.bulks_rx++;
	s->sweeping = true;
	s->sweep_first = true;
	s->sweep64 = false;
	sweep_step(s);
	return 0;
}

/* ---- receive path ------------------------------------------------------- */

/*
 * Sequence and tag of one frame before anything in it is believed: the
 * sequence must be the previous one + 1 (nothing lost, replayed or
 * reordered); after the handshake of an authenticated connection every
 * frame but REFUSE carries a valid tag, and without a key none does.
 * HELLO_ACK's tag is checked in on_hello (the key needs its nonce).
 */
static bool frame_trusted(struct ns_sync *s, struct sync_conn *c, const struct nsw_hdr *h,
			  uint8_t *frame)
{
	if (h->seq != c->rx_seq + 1 || !h->seq) {
		bool replay = h->seq <= c->rx_seq;

		if (replay)
			s->st.seq_replays++;
		else
			s->st.seq_gaps++;
		set_error(s, "%s %s frame from %s: sequence %u after %u, connection reset",
			  replay ? "replayed" : "out-of-order (sequence gap)",
			  nsw_type_str(h->type), c->peer.name[0] ? c->peer.name : "peer",
			  h->seq, c->rx_seq);
		conn_close(s, c, "sequence error");
		return false;
	}
	c->rx_seq = h->seq;
	if (h->type == NSW_REFUSE || h->type == NSW_HELLO_ACK)
		return true;
	if (!c->auth) {
		if (!(h->flags & NSW_F_MAC))
			return true;
		s->st.proto_errors++;
		conn_close(s, c, "tagged frame without a key");
		return false;
	}
	if (c->enc) {
		/* Sealed or nothing: a MAC-only frame here is a downgrade. */
		if (!nsw_open_frame(c->rx_key, c->outgoing ? 'A' : 'I', frame)) {
			auth_failed(s, c, h->flags & NSW_F_ENC ?
				    "decryption failed: tag does not verify" :
				    "unencrypted frame on an encrypted channel");
			return false;
		}
	} else if (!nsw_mac_verify(c->key, c->outgoing ? 'A' : 'I', frame)) {
		auth_failed(s, c, h->flags & NSW_F_MAC ? "tag does not verify" : "untagged frame");
		return false;
	}
	/* The initiator's first tagged frame proves it holds the key. */
	if (c->hello_done && c->st == C_HANDSHAKE) {
		c->hello_done = false;
		conn_established(s, c);
		return c->st == C_ESTABLISHED;
	}
	return true;
}

/* Handle one complete, header-checked frame; false when c was closed. */
static bool handle_frame(struct ns_sync *s, struct sync_conn *c, const struct nsw_hdr *h,
			 uint8_t *frame)
{
	const uint8_t *body = frame + NSW_HDR_LEN;
	uint32_t len = nsw_body_len(h);
	int r = 0;

	s->st.frames_rx++;
	if (!frame_trusted(s, c, h, frame))
		return false;
	if (c->st != C_ESTABLISHED && h->type != NSW_HELLO && h->type != NSW_HELLO_ACK &&
	    h->type != NSW_REFUSE) {
		s->st.proto_errors++;
		conn_close(s, c, "data before handshake");
		return false;
	}
	switch (h->type) {
	case NSW_HELLO:
	case NSW_HELLO_ACK:
		on_hello(s, c, frame, body, len, h->type == NSW_HELLO_ACK);
		return c->st != C_FREE;
	case NSW_REFUSE:
		on_refuse(s, c, body, len);
		return false;
	case NSW_SESSION_ADD:
	case NSW_SESSION_UPDATE:
		r = on_sessions(s, body, len);
		c->ack_needed = true;
		break;
	case NSW_SESSION_DEL:
		r = on_dels(s, body, len, false);
		c->ack_needed = true;
		break;
	case NSW_SESSION64_ADD:
	case NSW_SESSION64_UPDATE:
		r = on_sessions64(s, body, len);
		c->ack_needed = true;
		break;
	case NSW_SESSION64_DEL:
		r = on_dels(s, body, len, true);
		c->ack_needed = true;
		break;
	case NSW_BULK_START:
	case NSW_BULK_END:
		r = on_bulk(s, body, len, h->type == NSW_BULK_START);
		c->ack_needed = true;
		break;
	case NSW_ACK: {
		struct nsw_ack a;

		r = nsw_decode_ack(body, len, &a);
		if (!r) {
			s->st.acks_rx++;
			c->acked = a.seq;
			if (c->window_since && lo_open(c)) {
				if (c->window_logged)
					pr_info("sync: peer %s acknowledges again after %llu ms",
						c->peer.name, (unsigned long long)((ns_now() -
						c->window_since) / SYNC_NS_PER_MS));
				c->window_since = 0;
				c->window_logged = false;
			}
			s->peer_install_fail = a.install_fail;
			if (c->bulk_end_seq && (int32_t)(a.seq - c->bulk_end_seq) >= 0 &&
			    !s->peer_ready) {
				s->peer_ready = true;
				pr_info("sync: peer %s installed bulk %u", c->peer.name, s->bulk_epoch);
			}
		}
		break;
	}
	case NSW_HEARTBEAT:
		r = nsw_decode_heartbeat(body, len, &s->peer_hb);
		if (!r) {
			uint64_t t0 = ns_now();

			s->st.heartbeats_rx++;
			/* Roles are agreed through heartbeats (redundancy.c);
			 * this may call sync_set_role() right away. */
			red_on_peer_heartbeat(s->d, s->peer_hb.role, s->peer_hb.ready,
					      s->peer_hb.priority, c->peer.name);
			/* A takeover (addresses, hooks) is timed by
			 * redundancy.c, not charged to sync's step. */
			t0 = ns_now() - t0;
			s->step_red_ns += t0;
			if (t0 > s->st.red_max_ns)
				s->st.red_max_ns = t0;
		}
		break;
	case NSW_BULK_REQUEST:
		s->st.bulk_requests_rx++;
		if (s->primary)
			start_bulk(s);
		break;
	}
	if (r) {
		s->st.proto_errors++;
		set_error(s, "bad %s frame from peer: %s", nsw_type_str(h->type), nsw_err_str(r));
		conn_close(s, c, "protocol error");
		return false;
	}
	return true;
}

/* Acknowledge what we processed (backup), coalesced to one ACK per read. */
static void send_ack(struct ns_sync *s, struct sync_conn *c)
{
	struct nsw_ack a = { .seq = c->rx_seq, .install_fail = (uint32_t)s->st.install_fail };
	uint8_t f[NSW_HDR_LEN + 8];

	/* Only data is acknowledged, so two peers never ACK each other's ACKs. */
	if (c->st != C_ESTABLISHED || !c->ack_needed || c->rx_seq == c->ack_sent)
		return;
	if (send_hi(s, c, f, nsw_encode_ack(f, sizeof(f), 0, &a))) {
		c->ack_sent = a.seq;
		c->ack_needed = false;
	}
}

/* Frames whose processing costs map operations (budgeted on a backup). */
static bool costly_frame(uint8_t type)
{
	return (type >= NSW_SESSION_ADD && type <= NSW_BULK_END) ||
	       (type >= NSW_SESSION64_ADD && type <= NSW_SESSION64_DEL);
}

/*
 * Parse the complete frames in c->in until deadline; false when c was
 * closed. Out of time before a data frame, it sets c->rx_paused and leaves
 * the rest in c->in: the caller yields to the loop and resumes later.
 */
static bool process_input(struct ns_sync *s, struct sync_conn *c, uint64_t deadline)
{
	size_t off = 0;

	while (off < c->in_len) {
		struct nsw_hdr h;
		int r = nsw_frame_check(c->in + off, c->in_len - off, &h);

		if (r == -NSW_E_TRUNCATED)
			break;
		if (r) {
			s->st.proto_errors++;
			set_error(s, "bad frame from peer: %s", nsw_err_str(r));
			if (r == -NSW_E_VERSION)
				send_refuse(s, c, NSW_REFUSE_VERSION);
			conn_close(s, c, "protocol error");
			return false;
		}
		if (costly_frame(h.type) && ns_now() >= deadline) {
			c->rx_paused = true;
			break;
		}
		/* A heartbeat may change the role and close c (send -> error):
		 * then c->in is gone, whatever handle_frame returned. */
		if (!handle_frame(s, c, &h, c->in + off) || c->st == C_FREE)
			return false;
		off += NSW_HDR_LEN + h.length;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return true;
}

/*
 * Read and process input for at most SYNC_STEP_BUDGET_NS. Frames left from
 * a paused call go first; while they are not done nothing more is read (TCP
 * flow control holds the peer back). A paused connection is resumed from
 * on_kick, or by EPOLLIN when more data waits in the socket.
 */
static void on_readable(struct ns_sync *s, struct sync_conn *c)
{
	uint64_t deadline = ns_now() + SYNC_STEP_BUDGET_NS;
	size_t total = 0;

	s->step_what = "receive/install";
	c->rx_paused = false;
	if (c->in_len && !process_input(s, c, deadline))
		return;
	while (!c->rx_paused && total < SYNC_RX_BUDGET && c->in_len < SYNC_IN_CAP) {
		ssize_t n = recv(c->fd, c->in + c->in_len, SYNC_IN_CAP - c->in_len, MSG_DONTWAIT);

		if (n == 0) {
			if (c->in_len) {
				/* Whatever the partial frame held is dropped. */
				s->st.truncated++;
				set_error(s, "truncated frame from %s: connection closed after %zu "
					  "bytes of a frame, discarded",
					  c->peer.name[0] ? c->peer.name : "peer", c->in_len);
			}
			conn_close(s, c, "peer closed the connection");
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			conn_close(s, c, strerror(errno));
			return;
		}
		c->in_len += (size_t)n;
		total += (size_t)n;
		s->st.bytes_rx += (uint64_t)n;
		c->last_rx_ns = ns_now();
		if (!process_input(s, c, deadline))
			return;
	}
	if (c->rx_paused) {
		s->st.rx_yields++;
		kick(s);
	}
	/* Acknowledge per step: the primary's window reopens as we install. */
	send_ack(s, c);
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

static void conn_close(struct ns_sync *s, struct sync_conn *c, const char *why)
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
	if (c->cur_left || q_len(&c->hi))
		flush_out(s, c);
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
	send_hi(s, c, f, nsw_encode_hello(f, sizeof(f), NSW_HELLO, 0, &me));
}

/*
 * Time of one sync callback, for "show sync": the loop is shared with the
 * redundancy heartbeats, so a long step here is a late heartbeat there.
 */
/* CPU time of this thread: tells our own work from time the kernel gave
 * to other tasks while we were in a step (a loaded 2-core box). */
static uint64_t cpu_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void step_done(struct ns_sync *s, uint64_t start, uint64_t cpu_start, const char *what)
{
	uint64_t t = ns_now() - start, cpu = cpu_now() - cpu_start;

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
	if (cpu > s->st.step_max_cpu_ns)
		s->st.step_max_cpu_ns = cpu;
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
			conn_close(s, c, strerror(err));
			return;
		}
		s->st.connects++;
		c->st = C_HANDSHAKE;
		c->opened_ns = c->last_rx_ns = ns_now();
		send_hello(s, c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		on_readable(s, c);
		if (c->st == C_FREE)
			return;
	}
	/* Also after a read: an ACK may have reopened the window for lo. */
	flush_out(s, c);
	/* Backpressure released: continue the walk (or the due sessions)
	 * that stopped on a full queue. */
	if (c->st == C_ESTABLISHED && c == s->active && (s->walking || s->due.n) &&
	    q_len(&c->lo) < SYNC_LO_CAP / 4)
		walk_step(s);
}

static void on_conn_event(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct sync_conn *c = arg;
	struct ns_sync *s = c->owner;
	uint64_t start = ns_now(), cpu = cpu_now();

	conn_event(loop, fd, ev, arg);
	step_done(s, start, cpu, "connection event");
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
	if (loop_add(s->d->loop, fd, EPOLLOUT | EPOLLIN, on_conn_event, c)) {
		c->st = C_FREE;
		free(c->in);
		free(c->hi.buf);
		free(c->lo.buf);
		close(fd);
		return;
	}
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
		if (!c || loop_add(loop, cfd, EPOLLIN, on_conn_event, c)) {
			if (c) {
				c->st = C_FREE;
				free(c->in);
				free(c->hi.buf);
				free(c->lo.buf);
			}
			close(cfd);
			continue;
		}
		c->events = EPOLLIN;
		s->st.accepts++;
	}
}

static int open_listener(struct ns_sync *s)
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
	s->lfd = fd;
	return 0;
}

/* ---- primary: the replication walk -------------------------------------- */

/* May sessions of this service set travel, and from what age (ns)? */
static bool svc_replicates(struct ns_sync *s, uint16_t svc, uint64_t *thr_ns)
{
	const struct ns_config *c = &s->d->conf;
	int64_t t;

	if (svc >= NS_MAX_SVC_SETS || svc >= c->n_svcs)
		return false;
	if (!c->svc_conf[svc].replicate || (c->svcs[svc].flags & NS_SVC_F_NO_REPLICATE))
		return false;
	t = c->svc_conf[svc].replication_threshold;
	*thr_ns = (t >= 0 ? (uint64_t)t : c->red.replication_threshold) * 1000000000ull;
	return true;
}

/* Which NAT bindings of this session exist on the primary (looked up, not
 * guessed, so the backup reserves exactly what the fast path allocated).
 * ns_paired is only looked up while a NAT term uses address-pooling
 * paired: no other term reads it (an entry left from an older
 * configuration is never used), and a lookup is a syscall per record. */
static uint8_t binding_bits(struct ns_sync *s, const struct ns_session *v)
{
	struct ns_map_fds *fd = &s->d->fd;
	struct ns_port_key pk;
	struct ns_port_val pv;
	uint8_t bits = 0;

	if (!(v->flags & NS_SF_NAT_SRC))
		return 0;
	memset(&pk, 0, sizeof(pk));
	pk.addr = v->out_key.daddr;
	pk.port = v->out_key.dport;
	pk.proto = v->in_key.proto;
	if (fd->ports >= 0 && !bpf_map_lookup_elem(fd->ports, &pk, &pv) &&
	    pv.in_addr == v->in_key.saddr && pv.in_port == v->in_key.sport) {
		bits |= NSW_BIND_PORT;
		if (pv.flags & NS_PORT_F_EIF)
			bits |= NSW_BIND_EIF;
	}
	if ((v->flags & NS_SF_EIM) && fd->eim >= 0) {
		struct ns_eim_key ek;
		struct ns_eim_val ev;

		memset(&ek, 0, sizeof(ek));
		ek.in_addr = v->in_key.saddr;
		ek.in_port = v->in_key.sport;
		ek.proto = v->in_key.proto;
		ek.svc_set = v->svc_set;
		if (!bpf_map_lookup_elem(fd->eim, &ek, &ev) && ev.out_addr == v->out_key.daddr &&
		    ev.out_port == v->out_key.dport)
			bits |= NSW_BIND_EIM;
	}
	if (v->pool_id != 0xff && fd->paired >= 0 && s->any_paired) {
		struct ns_paired_key qk;
		struct ns_paired_val qv;

		memset(&qk, 0, sizeof(qk));
		qk.in_addr = v->in_key.saddr;
		qk.pool_id = v->pool_id;
		if (!bpf_map_lookup_elem(fd->paired, &qk, &qv) && qv.out_addr == v->out_key.daddr)
			bits |= NSW_BIND_PAIRED;
	}
	return bits;
}

/* Move the pending record batch into lo; false when lo is full. */
static bool flush_batch(struct ns_sync *s, struct sync_conn *c)
{
	size_t n = nsw_batch_finish(&s->batch, 0);

	if (!n)
		return true;
	if (!send_lo(s, c, s->batch_buf, n))
		return false;
	s->batch.count = 0;
	return true;
}

static bool flush_dels(struct ns_sync *s, struct sync_conn *c)
{
	size_t n = nsw_batch_finish(&s->dbatch, 0);

	if (!n)
		return true;
	if (!send_hi(s, c, s->dbatch_buf, (int)n))
		return false;
	s->dbatch.count = 0;
	return true;
}

/* Add one record (with its IPv6 key k6 for a NAT64 session, else NULL). */
static int batch_add(struct ns_sync *s, const struct ns_tuple6 *k6, const struct nsw_session *r)
{
	return k6 ? nsw_batch_add_session64(&s->batch, k6, r) : nsw_batch_add_session(&s->batch, r);
}

static bool queue_record(struct ns_sync *s, struct sync_conn *c, uint8_t type,
			 const struct ns_tuple6 *k6, const struct nsw_session *r)
{
	int err;

	if (s->batch.count && s->batch.type != type && !flush_batch(s, c))
		return false;
	if (!s->batch.count)
		nsw_batch_start(&s->batch, s->batch_buf, sizeof(s->batch_buf), type);
	err = batch_add(s, k6, r);
	if (err == -NSW_E_NOSPC) {
		if (!flush_batch(s, c))
			return false;
		nsw_batch_start(&s->batch, s->batch_buf, sizeof(s->batch_buf), type);
		err = batch_add(s, k6, r);
	}
	return !err;
}

/*
 * Queue the delete of a session we sent. Deletes go on the high-priority
 * queue, except when the session's last record has not started on the wire
 * yet: then the delete must follow it on lo, or the backup would install
 * the record after deleting it.
 */
static bool queue_del(struct ns_sync *s, struct sync_conn *c, const struct sync_ent *e,
		      uint8_t type)
{
	if (e->serial >= c->lo_started) {
		struct nsw_batch b;
		uint8_t f[NSW_HDR_LEN + 2 + NSW_DEL_LEN];

		if (!flush_batch(s, c))
			return false;
		nsw_batch_start(&b, f, sizeof(f), type);
		nsw_batch_add_del(&b, &e->key);
		if (!send_lo(s, c, f, nsw_batch_finish(&b, 0)))
			return false;
	} else {
		/* one delete type per frame: SESSION_DEL or SESSION64_DEL */
		if (s->dbatch.count && s->dbatch.type != type && !flush_dels(s, c))
			return false;
		if (!s->dbatch.count)
			nsw_batch_start(&s->dbatch, s->dbatch_buf, sizeof(s->dbatch_buf), type);
		if (nsw_batch_add_del(&s->dbatch, &e->key)) {
			if (!flush_dels(s, c))
				return false;
			nsw_batch_start(&s->dbatch, s->dbatch_buf, sizeof(s->dbatch_buf), type);
			nsw_batch_add_del(&s->dbatch, &e->key);
		}
	}
	s->st.dels_tx++;
	return true;
}

/* Has the session changed enough since its last record to send an update? */
static bool needs_update(struct ns_sync *s, const struct sync_ent *e, const struct ns_session *v)
{
	uint64_t quarter;

	if (v->tcp_state != e->tcp_state || (v->flags & NSW_SF_WIRE_MASK) != e->flags)
		return true;
	/* Refresh before the backup's own aging could expire it: a quarter
	 * of the timeout leaves room for a slow pass and a slow link. */
	quarter = (uint64_t)ns_config_session_timeout(&s->d->conf, v->in_key.proto, v->tcp_state) *
		  1000000000ull / 4;
	if (quarter < 1000000000ull)
		quarter = 1000000000ull;
	return v->last_seen_ns > e->last_seen_sent && v->last_seen_ns - e->last_seen_sent >= quarter;
}

/* e leaves the due wheel's accounting (sent, or removed). */
static void unqueue(struct ns_sync *s, struct sync_ent *e)
{
	if (!e->queued)
		return;
	e->queued = false;
	s->tab_queued--;
}

/*
 * Queue a session that becomes old enough at due_ns into the wheel, with
 * its bindings looked up now (the syscall is then not on the way of the
 * record when it is due), and track it (e, or a new entry) as queued so
 * later passes do not queue it again. False when it could not be queued.
 */
static void mark_seen(struct ns_sync *s, struct sync_ent *e);

static bool due_queue(struct ns_sync *s, const struct ns_tuple *k, const struct ns_session *v,
		      struct sync_ent *e, uint64_t due_ns, uint64_t now)
{
	bool fresh = !e;

	if (fresh) {
		e = tab_add(&s->tab, k);
		if (!e)
			return false;
		e->created_ns = v->created_ns;
	}
	if (!wheel_push(&s->due, v, binding_bits(s, v), due_ns, now)) {
		if (fresh)
			tab_del(&s->tab, k);
		return false;
	}
	if (fresh)
		mark_seen(s, e);
	e->queued = true;
	s->tab_queued++;
	return true;
}

/* The walk saw e's session in this pass (counted: see finish_pass). */
static void mark_seen(struct ns_sync *s, struct sync_ent *e)
{
	if (e->seen_pass == s->pass)
		return;
	e->seen_pass = s->pass;
	s->pass_seen++;
}

/* One session seen by the walk. */
static void walk_entry(struct ns_sync *s, struct sync_conn *c, const struct ns_tuple *k,
		       const struct ns_session *v, int bind, uint64_t now)
{
	struct sync_ent *e = tab_find(&s->tab, k);
	struct nsw_session r;
	uint64_t thr;
	uint8_t type;

	if (e && e->created_ns != v->created_ns) {
		/* Same 5-tuple, new session: the one the peer has is gone. */
		if (e->epoch == s->epoch && !queue_del(s, c, e, NSW_SESSION_DEL))
			return;
		if (e->seen_pass == s->pass)
			s->pass_seen--;
		unqueue(s, e);
		tab_del(&s->tab, k);
		e = NULL;
	}
	if (e)
		mark_seen(s, e);
	if (!svc_replicates(s, v->svc_set, &thr))
		return;
	if (v->created_ns > now)
		return;
	if (now - v->created_ns < thr) {
		/* Too young yet. Due before the walk comes back here: queue
		 * it for its time (due_step), once. Otherwise remember the
		 * earliest due time (pass_due) for an early pass. */
		if (e && e->queued)
			return;
		if (v->created_ns + thr - now <= s->due_horizon &&
		    due_queue(s, k, v, e, v->created_ns + thr, now))
			return;
		if (v->created_ns + thr < s->pass_due)
			s->pass_due = v->created_ns + thr;
		return;
	}
	if (!e) {
		e = tab_add(&s->tab, k);
		if (!e)
			return;
		e->created_ns = v->created_ns;
		mark_seen(s, e);
	}
	if (e->epoch != s->epoch)
		type = NSW_SESSION_ADD;
	else if (needs_update(s, e, v))
		type = NSW_SESSION_UPDATE;
	else
		return;
	nsw_session_from_ns(v, now, bind >= 0 ? (uint8_t)bind : binding_bits(s, v), &r);
	if (!queue_record(s, c, type, NULL, &r)) {
		s->st.backpressure++;
		return;
	}
	unqueue(s, e);
	e->epoch = s->epoch;
	e->tcp_state = v->tcp_state;
	e->flags = v->flags & NSW_SF_WIRE_MASK;
	e->last_seen_sent = v->last_seen_ns;
	e->serial = c->lo_enq;
	if (type == NSW_SESSION_ADD) {
		s->st.adds_tx++;
		if (s->bulk_running)
			s->bulk_count++;
	} else {
		s->st.updates_tx++;
	}
}

/*
 * One NAT64 session seen by the walk (IPv6 key k): walk_entry()'s logic
 * with tab64, keyed by the session's out_key, and SESSION64_* records.
 */
static void walk_entry64(struct ns_sync *s, struct sync_conn *c, const struct ns_tuple6 *k,
			 const struct ns_session *v, uint64_t now)
{
	struct sync_ent *e = tab_find(&s->tab64, &v->out_key);
	struct nsw_session r;
	uint64_t thr;
	uint8_t type;

	if (e && e->created_ns != v->created_ns) {
		if (e->epoch == s->epoch && !queue_del(s, c, e, NSW_SESSION64_DEL))
			return;
		tab_del(&s->tab64, &v->out_key);
		e = NULL;
	}
	if (e)
		e->seen_pass = s->pass;
	if (!svc_replicates(s, v->svc_set, &thr))
		return;
	if (v->created_ns > now || now - v->created_ns < thr)
		return;
	if (!e) {
		e = tab_add(&s->tab64, &v->out_key);
		if (!e)
			return;
		e->created_ns = v->created_ns;
		e->seen_pass = s->pass;
	}
	if (e->epoch != s->epoch)
		type = NSW_SESSION64_ADD;
	else if (needs_update(s, e, v))
		type = NSW_SESSION64_UPDATE;
	else
		return;
	nsw_session_from_ns(v, now, binding_bits(s, v), &r);
	if (!queue_record(s, c, type, k, &r)) {
		s->st.backpressure++;
		return;
	}
	e->epoch = s->epoch;
	e->tcp_state = v->tcp_state;
	e->flags = v->flags & NSW_SF_WIRE_MASK;
	e->last_seen_sent = v->last_seen_ns;
	e->serial = c->lo_enq;
	if (type == NSW_SESSION64_ADD) {
		s->st.adds_tx++;
		if (s->bulk_running)
			s->bulk_count++;
	} else {
		s->st.updates_tx++;
	}
}

/* Does this pass replicate NAT64 sessions to the peer on c? */
static bool nat64_replicates(const struct ns_sync *s, const struct sync_conn *c)
{
	return s->d->fd.nat64_sess >= 0 && (c->peer.caps & NSW_CAP_NAT64);
}

static void start_pass(struct ns_sync *s, struct sync_conn *c, uint64_t now)
{
	s->pass++;
	s->pass_seen = 0;
	s->pass_due = UINT64_MAX;
	/* The walk sees a session again within about one interval plus one
	 * pass time (passes run back to back when longer than the interval):
	 * twice that leaves room for a slower pass. */
	s->due_horizon = 2 * (SYNC_PASS_INTERVAL_NS + s->st.walk_last_ns);
	if (s->due_horizon > SYNC_DUE_HORIZON_MAX_NS)
		s->due_horizon = SYNC_DUE_HORIZON_MAX_NS; /* bounds the copies held */
	s->walking = true;
	s->walk_first = true;
	s->walk64 = false;
	s->fin64 = false;
	s->finishing = false;
	s->fin_idx = 0;
	s->last_pass_ns = now;
	if (!s->bulk_pending)
		return;
	{
		struct nsw_bulk b = { .epoch = s->epoch,
				      .count = (uint32_t)s->d->st.sessions_seen };
		uint8_t f[NSW_HDR_LEN + 8];

		/* A fresh connection: nothing half-built may leak into it. */
		s->batch.count = 0;
		s->dbatch.count = 0;
		if (!send_lo(s, c, f, nsw_encode_bulk(f, sizeof(f), NSW_BULK_START, 0, &b))) {
			s->walking = false; /* lo full: the next step retries the start */
			return;
		}
		s->bulk_pending = false;
		s->bulk_running = true;
		s->bulk_epoch = s->epoch;
		s->bulk_count = 0;
		s->bulk_expected = b.count;
		s->st.bulks_tx++;
	}
}

/* Is c still the established connection the walk works for? */
static bool conn_live(const struct ns_sync *s, const struct sync_conn *c)
{
	return s->active == c && c->st == C_ESTABLISHED;
}

/*
 * Sessions not seen in the pass that just ended were deleted: tell the
 * peer. Resumable at table bucket s->fin_idx; returns having done at most
 * SYNC_STEP_BUDGET_NS of work since start (the kick brings it back).
 */
/*
 * The deletes of one table (tab: SESSION_DEL, tab64: SESSION64_DEL) from
 * bucket s->fin_idx on. Returns true when the table is done, false when
 * the step must end (budget spent: kicked; or the connection died).
 */
static bool finish_table(struct ns_sync *s, struct sync_conn *c, struct sync_table *t,
			 uint8_t del_type, uint64_t start)
{
	/* Every entry of the IPv4 table was seen in the pass (pass_seen
	 * counts them): nothing was deleted, and the scan below (a cache
	 * miss per entry) has nothing to find. */
	if (t == &s->tab && !s->fin_idx && s->pass_seen == s->tab.n)
		s->fin_idx = s->tab.nb;
	for (; s->fin_idx < t->nb; s->fin_idx++) {
		struct sync_ent **pp = &t->b[s->fin_idx];

		if (!(s->fin_idx & 1023) && ns_now() - start >= SYNC_STEP_BUDGET_NS) {
			kick(s);
			return false;
		}
		while (*pp) {
			struct sync_ent *e = *pp;

			if (e->seen_pass == s->pass) {
				pp = &e->next;
				continue;
			}
			if (e->epoch == s->epoch && !queue_del(s, c, e, del_type)) {
				if (!conn_live(s, c))
					return false;
				s->st.dels_deferred++; /* stays unseen: retried next pass */
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			unqueue(s, e);
			free(e);
			t->n--;
		}
		if (!conn_live(s, c))
			return false;
	}
	return true;
}

static void finish_pass(struct ns_sync *s, struct sync_conn *c, uint64_t start)
{
	if (!flush_batch(s, c))
		return; /* retried at the next step, the pass is not over yet */
	if (!s->fin64) {
		if (!finish_table(s, c, &s->tab, NSW_SESSION_DEL, start))
			return;
		s->fin64 = true;
		s->fin_idx = 0;
	}
	if (!finish_table(s, c, &s->tab64, NSW_SESSION64_DEL, start))
		return;
	flush_dels(s, c);
	if (!conn_live(s, c))
		return;
	if (s->bulk_running) {
		struct nsw_bulk b = { .epoch = s->bulk_epoch, .count = s->bulk_count };
		uint8_t f[NSW_HDR_LEN + 8];

		if (!send_lo(s, c, f, nsw_encode_bulk(f, sizeof(f), NSW_BULK_END, 0, &b)))
			return;
		s->bulk_running = false;
		pr_info("sync: bulk %u sent: %u sessions", b.epoch, b.count);
	}
	s->walking = false;
	s->finishing = false;
	s->fin_idx = 0;
	s->fin64 = false;
	s->st.walk_passes++;
	s->st.walk_last_ns = ns_now() - s->last_pass_ns;
	s->next_due_ns = s->pass_due;
}

/* Ask the loop to call walk_step() again after the events already pending. */
static void kick(struct ns_sync *s)
{
	uint64_t one = 1;

	if (s->kfd >= 0 && !s->kicked && write(s->kfd, &one, sizeof(one)) == sizeof(one))
		s->kicked = true;
}

static void kicked(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct ns_sync *s = arg;
	uint64_t v;

	(void)loop;
	(void)ev;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	s->kicked = false;
	/* Input a budget-limited step left behind (backup installing). */
	for (int i = 0; i < SYNC_MAX_CONNS; i++) {
		struct sync_conn *c = &s->conns[i];

		if (c->st != C_FREE && c->rx_paused) {
			on_readable(s, c);
			if (c->st != C_FREE)
				flush_out(s, c);
		}
	}
	if (s->sweeping)
		sweep_step(s);
	walk_step(s);
}

static void on_kick(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct ns_sync *s = arg;
	uint64_t start = ns_now(), cpu = cpu_now();

	kicked(loop, fd, ev, arg);
	step_done(s, start, cpu, "continued step");
}

/*
 * Send the queued sessions that are due by now. Shares the step's budget
 * with the walk; false when the step must end here (budget spent:
 * kicked; lo half full: resumed when it drains; c closed).
 */
static bool due_step(struct ns_sync *s, struct sync_conn *c, uint64_t now)
{
	struct sync_wheel *w = &s->due;
	uint32_t i = 0;

	/* Slot pos holds sessions due before (pos + 1) slot times. */
	while (w->n && (w->pos + 1) * SYNC_DUE_SLOT_NS <= now) {
		struct sync_slot *sl = &w->slot[w->pos % SYNC_DUE_SLOTS];

		while (sl->off < sl->n) {
			const struct ns_session *v = &sl->v[sl->off].v;
			struct sync_ent *e;

			if (q_len(&c->lo) > SYNC_LO_CAP / 2) {
				s->st.backpressure++;
				return false;
			}
			if (!(++i & 63) && ns_now() - now >= SYNC_STEP_BUDGET_NS) {
				kick(s);
				return false;
			}
			sl->off++;
			w->n--;
			/* No entry: a pass found the session gone (its entry
			 * was freed). Another creation time: the 5-tuple was
			 * reused, the walk handles the new session. */
			e = tab_find(&s->tab, &v->in_key);
			if (!e || e->created_ns != v->created_ns || e->epoch == s->epoch)
				continue;
			s->st.due_sent++;
			walk_entry(s, c, &v->in_key, v, sl->v[sl->off - 1].bind, now);
			if (!conn_live(s, c))
				return false;
		}
		slot_free(sl);
		w->pos++;
	}
	return true;
}

/*
 * Time for a new pass? Every SYNC_PASS_INTERVAL_NS (changes, deletes), and
 * earlier when the last pass saw a session that is old enough to replicate
 * by now: it is then sent a pass time after it became eligible, not up to
 * a whole interval later. The earlier start keeps the walk idle at least
 * as long as the last pass took, so a table that always has a session
 * coming due costs at most half a CPU.
 */
static bool pass_due(const struct ns_sync *s, uint64_t now)
{
	uint64_t since = now - s->last_pass_ns;

	if (since >= SYNC_PASS_INTERVAL_NS)
		return true;
	return s->next_due_ns <= now && since >= 2 * s->st.walk_last_ns;
}

/*
 * One bounded step of the replication walk: batch lookups until the
 * budget is spent (then kick) or lo is half full (then on_conn_event
 * resumes it when lo drains), then the resumable finish_pass().
 */
static void walk_step(struct ns_sync *s)
{
	struct sync_conn *c = s->active;
	uint64_t now = ns_now();

	if (!c || c->st != C_ESTABLISHED || !s->primary || s->d->fd.sessions < 0)
		return;
	s->step_what = "replication walk";
	/* Not before BULK_START on a new connection. */
	if (!s->bulk_pending && !due_step(s, c, now)) {
		if (conn_live(s, c))
			flush_batch(s, c);
		return;
	}
	if (s->finishing) {
		finish_pass(s, c, now);
		return;
	}
	if (!s->walking) {
		if (!s->bulk_pending && !pass_due(s, now))
			return;
		start_pass(s, c, now);
		if (s->bulk_pending || !conn_live(s, c))
			return; /* lo full, or BULK_START's send closed c */
	}
	for (;;) {
		__u32 n = SYNC_WALK_CHUNK;
		int err;

		if (q_len(&c->lo) > SYNC_LO_CAP / 2) {
			s->st.backpressure++;
			break; /* resumed from on_conn_event when lo drains */
		}
		if (ns_now() - now >= SYNC_STEP_BUDGET_NS) {
			kick(s); /* let other events run, then continue at once */
			break;
		}
		if (s->walk64)
			err = bpf_map_lookup_batch(s->d->fd.nat64_sess,
						   s->walk64_first ? NULL : &s->walk64_token,
						   &s->walk64_token, s->keys6, s->vals, &n, NULL);
		else
			err = bpf_map_lookup_batch(s->d->fd.sessions,
						   s->walk_first ? NULL : &s->walk_token,
						   &s->walk_token, s->keys, s->vals, &n, NULL);
		if (err && err != -ENOENT) {
			s->st.walk_errors++;
			pr_warn("sync: %s walk failed: %s", s->walk64 ? "NAT64 session" : "session",
				strerror(-err));
			s->walking = false;
			if (s->bulk_running) {
				s->bulk_running = false;
				s->bulk_pending = true; /* a bulk must be complete: redo */
			}
			return;
		}
		if (s->walk64)
			s->walk64_first = false;
		else
			s->walk_first = false;
		if (!s->walk64)
			tab_prefetch(&s->tab, s->keys, n, s->hashes);
		for (__u32 i = 0; i < n; i++) {
			if (s->walk64)
				walk_entry64(s, c, &s->keys6[i], &s->vals[i], now);
			else
				walk_entry(s, c, &s->keys[i], &s->vals[i], -1, now);
			if (!conn_live(s, c))
				return; /* the connection died under a send */
		}
		if (err == -ENOENT && !s->walk64 && nat64_replicates(s, c)) {
			/* the IPv4 sessions are done: the NAT64 ones next */
			s->walk64 = true;
			s->walk64_first = true;
			continue;
		}
		if (err == -ENOENT) {
			s->finishing = true;
			s->fin_idx = 0;
			finish_pass(s, c, now);
			break;
		}
	}
	if (conn_live(s, c)) {
		flush_batch(s, c);
		flush_dels(s, c);
	}
}

/*
 * A new session, told by the fast path's SESSION_OPEN event (events.c):
 * with replication-threshold 0 it goes to the backup now, not when the
 * next pass finds it (up to SYNC_PASS_INTERVAL_NS plus a walk later), so a
 * flow opened just before a failure survives it. Anything else (an older
 * threshold, a NAT64 session, no live channel, a full queue) is left to the
 * pass and the due wheel, as before.
 */
void sync_session_opened(struct ns_daemon *d, const struct ns_tuple *k)
{
	struct ns_sync *s = d->sync;
	struct sync_conn *c = s ? s->active : NULL;
	struct ns_session v;
	uint64_t thr;

	if (!c || !s->primary || !conn_live(s, c) || s->bulk_pending || d->fd.sessions < 0)
		return;
	if (bpf_map_lookup_elem(d->fd.sessions, k, &v))
		return; /* gone already, or not an IPv4 session */
	if (!svc_replicates(s, v.svc_set, &thr) || thr || tab_find(&s->tab, k))
		return;
	if (q_len(&c->lo) > SYNC_LO_CAP / 2) {
		s->st.backpressure++;
		return;
	}
	walk_entry(s, c, k, &v, -1, ns_now());
	if (!conn_live(s, c) || !tab_find(&s->tab, k))
		return;
	s->st.open_sent++;
	flush_batch(s, c);
}

/* ---- timer -------------------------------------------------------------- */

/* Sessions the peer has (primary) or we installed (backup): the table
 * without the entries only queued for later (the due wheel). */
static size_t tracked(const struct ns_sync *s)
{
	return s->tab.n - s->tab_queued;
}

static void send_heartbeat(struct ns_sync *s, struct sync_conn *c, uint64_t now)
{
	struct nsw_heartbeat hb = {
		.role = s->primary ? NSW_ROLE_PRIMARY : NSW_ROLE_BACKUP,
		.ready = red_advertised_ready(s->d, s->primary ? 1 : s->ready),
		.priority = red_advertised_priority(s->d),
		.sessions = (uint32_t)(tracked(s) + s->tab64.n),
		.uptime_ms = (now - s->d->started_ns) / SYNC_NS_PER_MS,
	};
	uint8_t f[NSW_HDR_LEN + 16];

	if (send_hi(s, c, f, nsw_encode_heartbeat(f, sizeof(f), 0, &hb)))
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
				conn_close(s, c, "handshake timeout");
			continue;
		}
		if (now - c->last_rx_ns > dead) {
			s->st.dead_peer++;
			set_error(s, "peer %s silent for %llu ms: connection dropped", c->peer.name,
				  (unsigned long long)((now - c->last_rx_ns) / SYNC_NS_PER_MS));
			conn_close(s, c, "peer dead");
			continue;
		}
		if (c->window_since && !c->window_logged && now - c->window_since > 2 * hb) {
			/* Bounded either way (window, queue caps); say why
			 * replication stands still before the peer is dead. */
			c->window_logged = true;
			pr_warn("sync: peer %s has not acknowledged %u frames for %llu ms: "
				"replication held back, %zu + %zu bytes queued (slow peer)",
				c->peer.name, lag_frames(c),
				(unsigned long long)((now - c->window_since) / SYNC_NS_PER_MS),
				q_len(&c->hi), q_len(&c->lo));
		}
		if (now - c->last_hb_ns >= hb)
			send_heartbeat(s, c, now);
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
		int err = open_listener(s);

		if (err) {
			set_error(s, "cannot listen on port %u: %s", s->d->conf.red.port,
				  strerror(-err));
			s->next_listen_ns = now + 5000 * SYNC_NS_PER_MS;
		}
	}
	check_conns(s, now);
	if (!s->active && !connecting(s) && now >= s->next_connect_ns)
		start_connect(s);
	if (s->active && !s->primary)
		send_ack(s, s->active);
	if (s->sweeping && !s->kicked)
		sweep_step(s); /* without the eventfd the timer drives it */
	walk_step(s);
}

static void on_tick(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct ns_sync *s = arg;
	uint64_t start = ns_now(), cpu = cpu_now();

	(void)loop;
	(void)fd;
	(void)ev;
	tick(s);
	step_done(s, start, cpu, "timer");
}

/* ---- public ------------------------------------------------------------- */

/*
 * The pre-shared key: the whole file, trailing newlines stripped, at least
 * 16 bytes (a short key is a configuration error, not a weak channel).
 */
static int load_key(struct ns_sync *s, const char *path)
{
	FILE *f = fopen(path, "re");
	size_t n;
	int c;

	if (!f)
		return -errno;
	n = fread(s->psk, 1, sizeof(s->psk), f);
	c = fgetc(f);
	fclose(f);
	while (n && (s->psk[n - 1] == '\n' || s->psk[n - 1] == '\r'))
		n--;
	if (c != EOF || n < 16) {
		memset(s->psk, 0, sizeof(s->psk));
		return -EINVAL;
	}
	s->psk_len = n;
	return 0;
}

/*
 * Make the fast path follow the role: a primary forwards and creates
 * sessions (NS_CFG_F_ACTIVE), a backup only holds the replicated ones.
 */
/* Does a NAT term of c use address-pooling paired (binding_bits)? */
static bool any_paired(const struct ns_config *c)
{
	for (uint32_t i = 0; i < c->n_nat && i < NS_MAX_NAT_TERMS; i++)
		if (c->nat[i].flags & NS_NAT_F_PAIRED)
			return true;
	return false;
}

static void set_active(struct ns_sync *s)
{
	int err = ns_active_set(s->d, s->primary);

	if (err)
		pr_warn("sync: cannot switch the fast path to %s: %s", role_name(s->primary),
			strerror(-err));
}

int sync_init(struct ns_daemon *d)
{
	struct ns_sync *s;
	char a[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN];
	int err;

	d->sync = NULL;
	if (!d->conf.red.enabled)
		return 0;
	if (sodium_init() < 0) { /* frame authentication (sync_wire.c) needs it */
		pr_err("sync: libsodium failed to initialise");
		return -EIO;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->lfd = -1;
	s->tfd = -1;
	s->next_due_ns = UINT64_MAX;
	s->kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->kfd >= 0 && loop_add(d->loop, s->kfd, EPOLLIN, on_kick, s)) {
		close(s->kfd);
		s->kfd = -1; /* the walk then advances on timer ticks only */
	}
	for (int i = 0; i < SYNC_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	if (d->red) {
		/* The redundancy module owns the role and NS_CFG_F_ACTIVE: it
		 * starts undecided and calls sync_set_role() once it knows. */
		s->primary = false;
	} else {
		s->primary = d->conf.red.initial_role != NS_ROLE_BACKUP;
		set_active(s);
	}
	s->fingerprint = ns_config_fingerprint(&d->conf);
	tab_size(&s->tab, d->conf.max_sessions);
	tab_size(&s->tab64, d->conf.n_nat64 ? d->conf.max_sessions : 0);
	s->any_paired = any_paired(&d->conf);
	s->due.max = d->conf.max_sessions ? d->conf.max_sessions : 4096;
	s->due.pos = ns_now() / SYNC_DUE_SLOT_NS;
	if (d->conf.red.key_file[0]) {
		err = load_key(s, d->conf.red.key_file);
		if (err) {
			pr_err("sync: key-file %s: %s", d->conf.red.key_file,
			       err == -EINVAL ? "must hold 16 to 256 bytes" : strerror(-err));
			if (s->kfd >= 0) {
				loop_del(d->loop, s->kfd);
				close(s->kfd);
			}
			free(s);
			return err;
		}
	}
	/* config.c refuses encrypt without key-file; keep the invariant. */
	s->encrypt = d->conf.red.encrypt && s->psk_len;
	err = open_listener(s);
	if (err) {
		/* Not fatal: the address may come later (retried every 5 s). */
		set_error(s, "cannot listen on %s:%u: %s",
			  ns_fmt_ip(d->conf.red.local_addr.s_addr, a, sizeof(a)), d->conf.red.port,
			  strerror(-err));
		s->next_listen_ns = ns_now() + 5000 * SYNC_NS_PER_MS;
	}
	s->tfd = loop_add_timer(d->loop, SYNC_TICK_MS, on_tick, s);
	if (s->tfd < 0) {
		err = s->tfd;
		if (s->lfd >= 0) {
			loop_del(d->loop, s->lfd);
			close(s->lfd);
		}
		if (s->kfd >= 0) {
			loop_del(d->loop, s->kfd);
			close(s->kfd);
		}
		free(s);
		return err;
	}
	d->sync = s;
	pr_info("sync: %s %s, local %s:%u, peer %s:%u%s%s, threshold %u s, fingerprint %016llx, "
		"%s", d->conf.node_name, role_name(s->primary),
		ns_fmt_ip(d->conf.red.local_addr.s_addr, a, sizeof(a)), d->conf.red.port,
		ns_fmt_ip(d->conf.red.peer_addr.s_addr, p, sizeof(p)), d->conf.red.port,
		d->conf.red.device[0] ? ", device " : "", d->conf.red.device,
		d->conf.red.replication_threshold, (unsigned long long)s->fingerprint,
		s->encrypt ? "authenticated and encrypted (key-file, encrypt)" :
		s->psk_len ? "authenticated (key-file), not encrypted" :
		"NOT authenticated (no key-file)");
	if (!s->psk_len)
		pr_warn("sync: no key-file: anybody who reaches %s:%u as the peer address can "
			"inject sessions; keep the sync link on a dedicated link or VRF",
			ns_fmt_ip(d->conf.red.local_addr.s_addr, a, sizeof(a)), d->conf.red.port);
	return 0;
}

/* Wait up to until (ns_now() clock) for ev on fd; false on timeout. */
static bool wait_fd(int fd, short ev, uint64_t until)
{
	uint64_t now = ns_now();
	struct pollfd p = { .fd = fd, .events = ev };
	int ms;

	if (now >= until)
		return false;
	ms = (int)((until - now + SYNC_NS_PER_MS - 1) / SYNC_NS_PER_MS);
	return poll(&p, 1, ms) > 0;
}

/*
 * Close an established connection without losing what matters in its
 * queues: the last heartbeat (a graceful release asks the peer to take
 * over now) and the control frames on hi. Unstarted replication data is
 * dropped (the peer's next bulk repairs it). Blocks for at most
 * SYNC_FINI_FLUSH_NS + SYNC_FINI_DRAIN_NS: only called at shutdown.
 * After our FIN it reads until the peer's, so close() sends no RST that
 * could destroy the heartbeat in the peer's receive queue.
 */
static void conn_close_graceful(struct ns_sync *s, struct sync_conn *c)
{
	uint64_t until = ns_now() + SYNC_FINI_FLUSH_NS;
	uint8_t sink[4096];

	if (c->st != C_ESTABLISHED) {
		conn_close(s, c, "shutting down");
		return;
	}
	if (c->cur == &c->lo && c->cur_left)
		c->lo.tail = c->lo.head + c->cur_left; /* finish the frame on the wire */
	else
		c->lo.head = c->lo.tail = 0;
	for (;;) {
		flush_out(s, c);
		if (c->st == C_FREE)
			return;
		if (!c->cur_left && !q_len(&c->hi))
			break;
		if (!wait_fd(c->fd, POLLOUT, until))
			break;
	}
	if (c->cur_left || q_len(&c->hi)) {
		pr_warn("sync: shutdown: %zu bytes for %s not sent in %llu ms",
			c->cur_left + q_len(&c->hi), c->peer.name,
			(unsigned long long)(SYNC_FINI_FLUSH_NS / SYNC_NS_PER_MS));
	} else if (!shutdown(c->fd, SHUT_WR)) {
		until = ns_now() + SYNC_FINI_DRAIN_NS;
		while (wait_fd(c->fd, POLLIN, until)) {
			ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	conn_close(s, c, "shutting down");
}

void sync_fini(struct ns_daemon *d)
{
	struct ns_sync *s = d->sync;

	if (!s)
		return;
	for (int i = 0; i < SYNC_MAX_CONNS; i++)
		conn_close_graceful(s, &s->conns[i]);
	if (s->lfd >= 0) {
		loop_del(d->loop, s->lfd);
		close(s->lfd);
	}
	if (s->tfd >= 0)
		loop_del(d->loop, s->tfd); /* closes the timerfd */
	if (s->kfd >= 0) {
		loop_del(d->loop, s->kfd);
		close(s->kfd);
	}
	tab_clear(&s->tab);
	tab_clear(&s->tab64);
	tab_discards_wait();
	s->tab_queued = 0;
	wheel_clear(&s->due);
	memset(s->psk, 0, sizeof(s->psk));
	free(s);
	d->sync = NULL;
}

void sync_reconfigure(struct ns_daemon *d)
{
	struct ns_sync *s = d->sync;
	uint64_t fp;

	if (!s)
		return;
	if (!d->red)
		set_active(s);
	s->any_paired = any_paired(&d->conf);
	if (d->conf.red.encrypt != s->encrypt) {
		if (d->conf.red.encrypt && !s->psk_len) {
			pr_warn("sync: encrypt needs the key-file loaded at start: restart "
				"natsyncd to apply it");
		} else {
			pr_info("sync: encryption %s: reconnecting",
				d->conf.red.encrypt ? "on" : "off");
			s->encrypt = d->conf.red.encrypt;
			for (int i = 0; i < SYNC_MAX_CONNS; i++)
				conn_close(s, &s->conns[i], "encryption setting changed");
			s->backoff_ms = 0;
			s->next_connect_ns = 0;
		}
	}
	fp = ns_config_fingerprint(&d->conf);
	if (fp == s->fingerprint)
		return;
	pr_info("sync: configuration fingerprint %016llx -> %016llx: reconnecting",
		(unsigned long long)s->fingerprint, (unsigned long long)fp);
	s->fingerprint = fp;
	for (int i = 0; i < SYNC_MAX_CONNS; i++)
		conn_close(s, &s->conns[i], "configuration changed");
	s->backoff_ms = 0;
	s->next_connect_ns = 0;
}

void sync_set_role(struct ns_daemon *d, bool primary)
{
	struct ns_sync *s = d->sync;
	uint8_t f[NSW_HDR_LEN];

	if (!s || s->primary == primary)
		return;
	pr_info("sync: role %s -> %s", role_name(s->primary), role_name(primary));
	s->step_what = "role change";
	s->primary = primary;
	if (!d->red)
		set_active(s); /* else redundancy.c switched the fast path already */
	/* The table means "what the peer has" on a primary and "what we
	 * installed" on a backup: it does not survive a role change. */
	tab_discard(&s->tab);
	tab_discard(&s->tab64);
	s->tab_queued = 0;
	wheel_clear(&s->due);
	s->walking = false;
	s->finishing = false;
	s->sweeping = false;
	s->bulk_running = false;
	s->ready = false;
	s->bulk_rx_running = false;
	if (primary) {
		start_bulk(s);
		return;
	}
	if (s->active && s->active->st == C_ESTABLISHED)
		send_hi(s, s->active, f, nsw_encode_empty(f, sizeof(f), NSW_BULK_REQUEST, 0));
}

void sync_send_heartbeat_now(struct ns_daemon *d)
{
	struct ns_sync *s = d->sync;

	if (s && s->active && s->active->st == C_ESTABLISHED)
		send_heartbeat(s, s->active, ns_now());
}

bool sync_backup_ready(const struct ns_daemon *d)
{
	const struct ns_sync *s = d->sync;

	if (!s)
		return false;
	return s->primary ? s->peer_ready : s->ready;
}

/* ---- show sync ---------------------------------------------------------- */

/* Data frames sent that the backup has not acknowledged as installed. */
static uint32_t lag_frames(const struct sync_conn *c)
{
	int32_t d = (int32_t)(c->data_seq - c->acked);

	return d > 0 ? (uint32_t)d : 0;
}

static void show_text(struct ns_sync *s, FILE *f)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;
	const struct sync_stats *t = &s->st;
	struct sync_conn *c = s->active;
	char a[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN];
	uint64_t now = ns_now();

	fprintf(f, "Sync:         %s, role %s, fingerprint %016llx\n", s->d->conf.node_name,
		role_name(s->primary), (unsigned long long)s->fingerprint);
	fprintf(f, "Channel:      %s:%u -> %s:%u%s%s, threshold %u s, %s\n",
		ns_fmt_ip(r->local_addr.s_addr, a, sizeof(a)), r->port,
		ns_fmt_ip(r->peer_addr.s_addr, p, sizeof(p)), r->port,
		r->device[0] ? " dev " : "", r->device, r->replication_threshold,
		s->encrypt ? "authenticated, encrypted (ChaCha20-Poly1305)" :
		s->psk_len ? "authenticated, not encrypted" : "not authenticated");
	if (c)
		fprintf(f, "Peer:         %s, role %s, %s, up %llu s, ready %s, %s\n", c->peer.name,
			role_name(c->peer.role == NSW_ROLE_PRIMARY), state_name(c->st),
			(unsigned long long)((now - c->opened_ns) / 1000000000ull),
			sync_backup_ready(s->d) ? "yes" : "no",
			c->enc ? "encrypted" : c->auth ? "authenticated" : "clear");
	else
		fprintf(f, "Peer:         not connected%s\n", s->lfd < 0 ? " (not listening)" : "");
	if (s->primary)
		fprintf(f, "Bulk:         %s, epoch %u, %u sent (expected %u)\n",
			s->bulk_running ? "running" : s->bulk_pending ? "pending" :
			s->peer_ready ? "acknowledged" : "idle",
			s->bulk_epoch, s->bulk_count, s->bulk_expected);
	else
		fprintf(f, "Bulk:         %s, epoch %u, %u received (expected %u)\n",
			s->bulk_rx_running ? "receiving" : s->sweeping ? "sweeping" :
			s->ready ? "complete" : "waiting",
			s->bulk_rx_epoch, s->bulk_rx_count, s->bulk_rx_expected);
	fprintf(f, "Tracked:      %zu sessions %s\n", tracked(s),
		s->primary ? "replicated to the peer" : "installed from the peer");
	fprintf(f, "Sent:         %llu add, %llu update, %llu delete, %llu bulks, %llu frames, %llu bytes\n",
		(unsigned long long)t->adds_tx, (unsigned long long)t->updates_tx,
		(unsigned long long)t->dels_tx, (unsigned long long)t->bulks_tx,
		(unsigned long long)t->frames_tx, (unsigned long long)t->bytes_tx);
	fprintf(f, "Received:     %llu records, %llu installed, %llu install failures, %llu deletes "
		"(%llu applied), %llu stale removed, %llu frames, %llu bytes\n",
		(unsigned long long)t->records_rx, (unsigned long long)t->installed,
		(unsigned long long)t->install_fail, (unsigned long long)t->dels_rx,
		(unsigned long long)t->dels_applied, (unsigned long long)t->stale_removed,
		(unsigned long long)t->frames_rx, (unsigned long long)t->bytes_rx);
	if (c && s->primary)
		fprintf(f, "Lag:          %u frames (data seq %u, acked %u), queued %zu + %zu bytes, "
			"peer install failures %u\n", lag_frames(c), c->data_seq, c->acked,
			q_len(&c->hi), q_len(&c->lo), s->peer_install_fail);
	fprintf(f, "Errors:       connect %llu, refused sent %llu, refused received %llu, "
		"protocol %llu, auth %llu, replayed %llu, sequence gaps %llu, truncated %llu, "
		"dead peer %llu, rejected %llu, backpressure %llu, deletes deferred %llu, "
		"walk errors %llu\n",
		(unsigned long long)t->connect_fail, (unsigned long long)t->refused_sent,
		(unsigned long long)t->refused_recv, (unsigned long long)t->proto_errors,
		(unsigned long long)t->auth_fail, (unsigned long long)t->seq_replays,
		(unsigned long long)t->seq_gaps, (unsigned long long)t->truncated,
		(unsigned long long)t->dead_peer, (unsigned long long)t->accept_rejected,
		(unsigned long long)t->backpressure, (unsigned long long)t->dels_deferred,
		(unsigned long long)t->walk_errors);
	fprintf(f, "Queues:       most queued %llu bytes (bounds %u + %u), %llu control frames "
		"not queued (full)\n", (unsigned long long)t->queued_max, SYNC_HI_CAP,
		SYNC_LO_CAP, (unsigned long long)t->hi_full);
	fprintf(f, "Loop:         %llu steps, longest %llu.%03llu ms (%s; most CPU %llu.%03llu ms), "
		"%llu over %llu ms, %llu input yields, %llu window waits, redundancy handler "
		"longest %llu ms\n",
		(unsigned long long)t->steps, (unsigned long long)(t->step_max_ns / SYNC_NS_PER_MS),
		(unsigned long long)(t->step_max_ns % SYNC_NS_PER_MS / 1000),
		t->step_max_what ? t->step_max_what : "-",
		(unsigned long long)(t->step_max_cpu_ns / SYNC_NS_PER_MS),
		(unsigned long long)(t->step_max_cpu_ns % SYNC_NS_PER_MS / 1000),
		(unsigned long long)t->steps_slow,
		(unsigned long long)(SYNC_SLOW_STEP_NS / SYNC_NS_PER_MS),
		(unsigned long long)t->rx_yields, (unsigned long long)t->window_waits,
		(unsigned long long)(t->red_max_ns / SYNC_NS_PER_MS));
	if (s->last_error[0])
		fprintf(f, "Last error:   %s\n", s->last_error);
}

static void show_json(struct ns_sync *s, struct ctl_json *j)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;
	const struct sync_stats *t = &s->st;
	struct sync_conn *c = s->active;
	char a[INET_ADDRSTRLEN], fp[20];
	uint64_t now = ns_now();

	ctl_json_start_object(j);
	ctl_json_kv_bool(j, "enabled", true);
	ctl_json_kv_string(j, "node", s->d->conf.node_name);
	ctl_json_kv_string(j, "role", role_name(s->primary));
	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)s->fingerprint);
	ctl_json_kv_string(j, "fingerprint", fp);
	ctl_json_kv_string(j, "local", ns_fmt_ip(r->local_addr.s_addr, a, sizeof(a)));
	ctl_json_kv_string(j, "peer", ns_fmt_ip(r->peer_addr.s_addr, a, sizeof(a)));
	ctl_json_kv_uint(j, "port", r->port);
	ctl_json_kv_string(j, "device", r->device);
	ctl_json_kv_uint(j, "replication_threshold", r->replication_threshold);
	ctl_json_kv_bool(j, "listening", s->lfd >= 0);
	ctl_json_kv_bool(j, "authenticated", s->psk_len > 0);
	ctl_json_kv_bool(j, "encrypted", s->encrypt);
	ctl_json_kv_string(j, "cipher", s->encrypt ? "chacha20-poly1305-ietf" :
			   s->psk_len ? "hmac-sha256 (integrity only)" : "none");
	ctl_json_kv_string(j, "state", c ? state_name(c->st) : "disconnected");
	ctl_json_kv_bool(j, "ready", sync_backup_ready(s->d));
	ctl_json_kv_uint(j, "tracked_sessions", tracked(s));
	ctl_json_kv_uint(j, "tracked_nat64_sessions", s->tab64.n);
	if (c) {
		ctl_json_key(j, "connection");
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "peer_node", c->peer.name);
		ctl_json_kv_string(j, "peer_role", role_name(c->peer.role == NSW_ROLE_PRIMARY));
		ctl_json_kv_string(j, "direction", c->outgoing ? "outgoing" : "incoming");
		ctl_json_kv_bool(j, "encrypted", c->enc);
		ctl_json_kv_uint(j, "up_ms", (now - c->opened_ns) / SYNC_NS_PER_MS);
		ctl_json_kv_uint(j, "seq_sent", c->tx_seq);
		ctl_json_kv_uint(j, "seq_data_sent", c->data_seq);
		ctl_json_kv_uint(j, "seq_acked", c->acked);
		ctl_json_kv_uint(j, "lag_frames", s->primary ? lag_frames(c) : 0);
		ctl_json_kv_uint(j, "seq_received", c->rx_seq);
		ctl_json_kv_uint(j, "queued_hi_bytes", q_len(&c->hi));
		ctl_json_kv_uint(j, "queued_lo_bytes", q_len(&c->lo));
		ctl_json_kv_uint(j, "peer_install_failures", s->peer_install_fail);
		ctl_json_end_object(j);
	}
	ctl_json_key(j, "bulk");
	ctl_json_start_object(j);
	if (s->primary) {
		ctl_json_kv_string(j, "state", s->bulk_running ? "running" : s->bulk_pending ?
				   "pending" : s->peer_ready ? "acknowledged" : "idle");
		ctl_json_kv_uint(j, "epoch", s->bulk_epoch);
		ctl_json_kv_uint(j, "sent", s->bulk_count);
		ctl_json_kv_uint(j, "expected", s->bulk_expected);
	} else {
		ctl_json_kv_string(j, "state", s->bulk_rx_running ? "receiving" : s->sweeping ?
				   "sweeping" : s->ready ? "complete" : "waiting");
		ctl_json_kv_uint(j, "epoch", s->bulk_rx_epoch);
		ctl_json_kv_uint(j, "received", s->bulk_rx_count);
		ctl_json_kv_uint(j, "expected", s->bulk_rx_expected);
	}
	ctl_json_end_object(j);
	ctl_json_key(j, "counters");
	ctl_json_start_object(j);
#define KV(name) ctl_json_kv_uint(j, #name, t->name)
	KV(connects); KV(connect_fail); KV(accepts); KV(accept_rejected); KV(disconnects);
	KV(refused_sent); KV(refused_recv); KV(proto_errors); KV(dead_peer);
	KV(frames_tx); KV(frames_rx); KV(bytes_tx); KV(bytes_rx);
	KV(adds_tx); KV(updates_tx); KV(dels_tx); KV(bulks_tx);
	KV(records_rx); KV(installed); KV(install_fail); KV(dels_rx); KV(dels_applied);
	KV(bulks_rx); KV(stale_removed); KV(backpressure); KV(dels_deferred);
	KV(walk_passes); KV(walk_errors); KV(walk_last_ns); KV(due_sent); KV(open_sent); KV(heartbeats_tx);
	KV(heartbeats_rx); KV(acks_rx); KV(bulk_requests_rx); KV(auth_fail);
	KV(steps); KV(steps_slow); KV(step_max_ns); KV(step_max_cpu_ns); KV(rx_yields);
	KV(window_waits); KV(red_max_ns); KV(seq_replays); KV(seq_gaps); KV(truncated);
	KV(hi_full); KV(queued_max);
#undef KV
	ctl_json_end_object(j);
	ctl_json_kv_string(j, "last_error", s->last_error);
	ctl_json_end_object(j);
}

void sync_show(struct ns_daemon *d, FILE *f, struct ctl_json *j)
{
	struct ns_sync *s = d->sync;

	if (!s) {
		if (j) {
			ctl_json_start_object(j);
			ctl_json_kv_bool(j, "enabled", false);
			ctl_json_end_object(j);
		} else {
			fprintf(f, "Sync:         not configured (redundancy-options)\n");
		}
		return;
	}
	if (j)
		show_json(s, j);
	else
		show_text(s, f);
}

int sync_ctl_show(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		  void *arg)
{
	(void)arg;
	sync_show(d, out->f, req->json ? out->j : NULL);
	return 0;
}
