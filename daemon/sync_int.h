/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sync_int.h - what the files of the sync module share: its limits, the
 * channel, table and module structures, and the functions one file calls
 * in another (prefix sy_). Only sync*.c include it; the module's public
 * face is sync.h.
 */
#ifndef NATSYNC_SYNC_INT_H
#define NATSYNC_SYNC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "sync.h"
#include "sync_hold.h"
#include "sync_wire.h"

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

/* Replication latency (sync_lat.c): samples waiting for their frame's ACK,
 * and a histogram of 0.5 ms buckets up to 250 ms (beyond: counted in over). */
#define SYNC_LAT_RING 16384u
#define SYNC_LAT_FRAMES 1024u     /* lo frames whose sequence is remembered */
#define SYNC_LAT_BUCKET_NS 500000ull
#define SYNC_LAT_BUCKETS 500u

struct sync_lat_sample {
	uint64_t due_ns;          /* created + threshold, ns_now() clock */
	uint32_t serial;          /* lo serial of its frame; 0: not framed yet */
};

struct sync_lat {
	struct sync_lat_sample ring[SYNC_LAT_RING];
	uint32_t head, framed, tail; /* [head, framed) framed, [framed, tail) not */
	uint32_t seq_of[SYNC_LAT_FRAMES], serial_of[SYNC_LAT_FRAMES];
	uint64_t hist[SYNC_LAT_BUCKETS];
	uint64_t measured, over, unmeasured, max_ns;
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
	bool closing;           /* in sy_conn_close: no re-entry */
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

/*
 * The parts a step spends CPU in (sy_phase): when a step overruns its
 * SYNC_STEP_BUDGET_NS, show sync and the log say which part did, so an
 * overrun is found from the box instead of guessed.
 */
enum sy_phase {
	SYP_OTHER,     /* whatever no phase below names (framing, flushes) */
	SYP_DUE,       /* due_step: sessions whose threshold came */
	SYP_HOLD,      /* held bindings */
	SYP_LOOKUP,    /* the walk's bpf_map_lookup_batch calls */
	SYP_ENTRIES,   /* the walk's per-session compare, encode, queue */
	SYP_DELETES,   /* end of pass: deletes of unseen sessions */
	SYP_INSTALL,   /* backup: reading and installing frames */
	SYP_SWEEP,     /* backup: the stale sweep after a bulk */
	SYP_N
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
	uint64_t clear_dels;     /* deletes sent by clear sessions, not by a pass */
	uint64_t heartbeats_tx, heartbeats_rx, acks_rx;
	uint64_t bulk_requests_rx;
	uint64_t auth_fail;
	uint64_t seq_replays, seq_gaps; /* sequence not previous + 1 */
	uint64_t truncated;      /* peer closed in the middle of a frame */
	uint64_t hi_full;        /* control frames not queued: hi queue full */
	uint64_t queued_max;     /* most bytes queued at once (hi + lo) */
	uint64_t steps, steps_slow, step_max_ns, step_max_cpu_ns, rx_yields, window_waits;
	const char *step_max_what;
	const char *step_max_cpu_what;
	uint64_t step_max_cpu_ph[SYP_N]; /* where the step with most CPU spent it */
	uint64_t steps_over_cpu;         /* steps that used >= SYNC_SLOW_STEP_NS of CPU */
	uint64_t red_max_ns;     /* longest redundancy handler run inside a step */
};

/* One received frame staged for batch map updates (backup). */
struct sync_stage {
	struct ns_tuple keys[NSW_BATCH_MAX_SESSIONS];
	struct ns_session vals[NSW_BATCH_MAX_SESSIONS];
	struct ns_tuple rkeys[NSW_BATCH_MAX_SESSIONS];
	bool fail[NSW_BATCH_MAX_SESSIONS];
	uint32_t hashes[NSW_BATCH_MAX_SESSIONS]; /* sy_tab_prefetch() scratch */
	struct ns_port_key pk[NSW_BATCH_MAX_SESSIONS];
	struct ns_port_val pv[NSW_BATCH_MAX_SESSIONS];
	struct ns_eim_key ek[NSW_BATCH_MAX_SESSIONS];
	struct ns_eim_val ev[NSW_BATCH_MAX_SESSIONS];
	struct ns_paired_key qk[NSW_BATCH_MAX_SESSIONS];
	struct ns_paired_val qv[NSW_BATCH_MAX_SESSIONS];
	/* NAT64 BIB entries of endpoint-independent bindings (natsync.h) */
	struct ns_tuple bk[NSW_BATCH_MAX_SESSIONS64];
	struct ns_tuple6 bv[NSW_BATCH_MAX_SESSIONS64];
	uint32_t np, ne, nq, nb;
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
	size_t tab_queued;       /* table entries queued, not sent (not sy_tracked) */
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
	struct sync_hold hold;   /* held bindings: to send (primary), counters */
	/* status */
	char last_error[256];
	struct nsw_session rx_recs[NSW_BATCH_MAX_SESSIONS];
	struct sync_stage stage;
	struct ns_tuple rx_keys[NSW_BATCH_MAX_DELS];
	struct ns_tuple6 rx_keys6[NSW_BATCH_MAX_SESSIONS64];
	struct sync_stats st;
	const char *step_what;   /* what the current step did last (show sync) */
	uint64_t ph_cpu[SYP_N];  /* this step's thread CPU per phase (sy_phase) */
	uint64_t ph_t0;          /* thread CPU when the current phase began */
	enum sy_phase ph_cur;
	uint64_t step_red_ns;    /* time of the current step in redundancy code */
	struct sync_lat lat;     /* primary: replication latency (sync_lat.c) */
	bool lat_on;             /* the add being queued is measured: sent on its
				  * open event or when it came due, not found
				  * late by a walk (missed event, injected) */
};

/* sync_chan.c */
void sy_auth_failed(struct ns_sync *s, struct sync_conn *c, const char *what);
void sy_conn_close(struct ns_sync *s, struct sync_conn *c, const char *why);
void sy_conn_established(struct ns_sync *s, struct sync_conn *c);
uint64_t sy_cpu_now(void);
void sy_flush_out(struct ns_sync *s, struct sync_conn *c);
bool sy_lo_open(const struct sync_conn *c);
void sy_on_conn_event(struct ns_loop *loop, int fd, uint32_t ev, void *arg);
void sy_on_hello(struct ns_sync *s, struct sync_conn *c, const uint8_t *frame,
		     const uint8_t *b, uint32_t len, bool is_ack);
void sy_on_refuse(struct ns_sync *s, struct sync_conn *c, const uint8_t *b, uint32_t len);
void sy_on_tick(struct ns_loop *loop, int fd, uint32_t ev, void *arg);
int sy_open_listener(struct ns_sync *s);
size_t sy_q_len(const struct sync_q *q);
const char *sy_role_name(bool primary);
void sy_send_heartbeat(struct ns_sync *s, struct sync_conn *c, uint64_t now);
bool sy_send_hi(struct ns_sync *s, struct sync_conn *c, const uint8_t *f, int len);
bool sy_send_lo(struct ns_sync *s, struct sync_conn *c, const uint8_t *f, int len);
void sy_send_refuse(struct ns_sync *s, struct sync_conn *c, uint8_t reason);
/* Remember the last error for "show sync" and log it loudly. */
void sy_set_error(struct ns_sync *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sy_start_bulk(struct ns_sync *s);
const char *sy_state_name(enum conn_state st);
void sy_step_done(struct ns_sync *s, uint64_t start, uint64_t cpu_start, const char *what);
/* The step goes on in phase p (its CPU from now on is counted there). */
void sy_phase(struct ns_sync *s, enum sy_phase p);
extern const char *const sy_phase_name[SYP_N];
size_t sy_tracked(const struct ns_sync *s);
/* sync_table.c */
void sy_slot_free(struct sync_slot *sl);
struct sync_ent *sy_tab_add(struct sync_table *t, const struct ns_tuple *k);
void sy_tab_clear(struct sync_table *t);
void sy_tab_del(struct sync_table *t, const struct ns_tuple *k);
void sy_tab_discard(struct sync_table *t);
void sy_tab_discards_wait(void);
struct sync_ent *sy_tab_find(struct sync_table *t, const struct ns_tuple *k);
void sy_tab_prefetch(const struct sync_table *t, const struct ns_tuple *k, size_t n,
			 uint32_t *h);
void sy_tab_size(struct sync_table *t, uint32_t max_sessions);
void sy_wheel_clear(struct sync_wheel *w);
bool sy_wheel_push(struct sync_wheel *w, const struct ns_session *v, uint8_t bind,
		       uint64_t due_ns, uint64_t now);
/* sync_recv.c */
void sy_on_readable(struct ns_sync *s, struct sync_conn *c);
void sy_send_ack(struct ns_sync *s, struct sync_conn *c);
void sy_sweep_step(struct ns_sync *s);
/* sync_send.c */
void sy_kick(struct ns_sync *s);
void sy_on_kick(struct ns_loop *loop, int fd, uint32_t ev, void *arg);
void sy_walk_step(struct ns_sync *s);
/* sync_lat.c: a session due at due_ns was queued (incremental add); the
 * batch went on lo as frame lo_serial; that frame started with seq; the
 * peer acked up to seq; a connection closed; the q-quantile (upper bound). */
void sy_lat_queued(struct ns_sync *s, uint64_t due_ns);
void sy_lat_framed(struct ns_sync *s, uint32_t lo_serial);
void sy_lat_started(struct ns_sync *s, uint32_t lo_serial, uint32_t seq);
void sy_lat_acked(struct ns_sync *s, const struct sync_conn *c, uint32_t seq, uint64_t now);
void sy_lat_reset_pending(struct ns_sync *s);
uint64_t sy_lat_quantile_ns(const struct sync_lat *l, double q);
/* sync_show.c */
uint32_t sy_lag_frames(const struct sync_conn *c);

#endif /* NATSYNC_SYNC_INT_H */
