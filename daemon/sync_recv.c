// SPDX-License-Identifier: GPL-2.0
/*
 * sync_recv.c - the receiving side of the sync channel: framing,
 * authentication and sequence checks, dispatch of each frame, and the
 * backup's installer (records into ns_sessions, ns_session_rev and the
 * binding maps, NAT64 sessions, deletes, the end-of-bulk stale sweep),
 * all in budgeted slices so the loop never waits behind a bulk.
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
#include "pba.h"
#include "redundancy.h"
#include "sync.h"
#include "sync_wire.h"
#include "util.h"
#include "sync_int.h"

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
	/* a NAT64 binding's owner is IPv6: marked so, never taken for an
	 * IPv4 endpoint (its BIB entry: stage_bib64()) */
	uint8_t pf = (r->bind & NSW_BIND_EIM ? NS_PORT_F_EIM : 0) |
		     (r->bind & NSW_BIND_EIF ? NS_PORT_F_EIF : 0) |
		     (r->nat_type == NS_NAT_NAT64 ? NS_PORT_F_NAT64 : 0);
	bool dyn = r->nat_type == NS_NAT_DYNAMIC44; /* owns (addr, 0, 0) */

	if (r->bind & NSW_BIND_PORT) {
		struct ns_port_key *k = &g->pk[g->np];
		struct ns_port_val *v = &g->pv[g->np++];

		memset(k, 0, sizeof(*k));
		memset(v, 0, sizeof(*v));
		k->addr = r->out_key.daddr;
		k->port = dyn ? 0 : r->out_key.dport;
		k->proto = dyn ? 0 : r->in_key.proto;
		v->in_addr = r->in_key.saddr;
		v->in_port = dyn ? 0 : r->in_key.sport;
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
		v->flags = NS_PORT_F_EIM; /* as the fast path writes it (ns_eim_set) */
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
	sy_tab_prefetch(&s->tab, g->keys, n, g->hashes);
	for (size_t i = 0; i < n; i++) {
		struct ns_session *v = &g->vals[i], old;

		/* Known session: keep local counters, and drop a stale reverse
		 * entry if the translation changed (5-tuple reused). */
		if (sy_tab_find(&s->tab, &v->in_key) &&
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
	ns_pba_adopt(s->d, r, n, now);
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
		e = sy_tab_find(&s->tab, &g->keys[i]);
		if (!e)
			e = sy_tab_add(&s->tab, &g->keys[i]);
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

	sy_tab_del(&s->tab, k);
	if (bpf_map_lookup_elem(fd->sessions, k, &v))
		return false;
	bpf_map_delete_elem(fd->sessions, k);
	bpf_map_delete_elem(fd->session_rev, &v.out_key);
	return true;
}

/*
 * Queue the NAT64 BIB entry (RFC 6146 3.1, natsync.h) of record r (IPv6
 * key k) when its binding is endpoint-independent: the IPv6 owner of the
 * pool endpoint, which endpoint-independent filtering needs to let a new
 * IPv4 peer in (bpf/nat64_bib.h, ns64_open_eif()). The wire does not carry
 * it: it is the subscriber's address and port from k and the pref64 of
 * the session's term, which both peers have from the same configuration
 * (ns_nat64_bib_val(), as the fast path writes it).
 */
static void stage_bib64(struct ns_sync *s, const struct ns_tuple6 *k, const struct nsw_session *r)
{
	const struct ns_config *c = &s->d->conf;
	struct sync_stage *g = &s->stage;

	if (!(r->bind & NSW_BIND_EIM) || r->nat_term >= c->n_nat64 ||
	    r->nat_term >= NS_MAX_NAT64_TERMS)
		return;
	ns_nat64_bib_key(&g->bk[g->nb], r->out_key.daddr, r->out_key.dport, r->in_key.proto);
	ns_nat64_bib_val(&g->bv[g->nb++], k->saddr, k->sport, k->proto, &c->nat64[r->nat_term],
			 r->nat_term);
}

/*
 * Install one frame of n NAT64 records (IPv6 keys k): bindings (with the
 * BIB entries of endpoint-independent ones), then the reverse entries,
 * then the sessions, as install_frame() does; the table entry is keyed by
 * the out_key.
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
	g->np = g->ne = g->nq = g->nb = 0;
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
		stage_bib64(s, &k[i], &r[i]);
	}
	s->st.install_fail += update_many(fd->ports, g->pk, sizeof(g->pk[0]), g->pv,
					  sizeof(g->pv[0]), g->np, NULL);
	s->st.install_fail += update_many(fd->eim, g->ek, sizeof(g->ek[0]), g->ev,
					  sizeof(g->ev[0]), g->ne, NULL);
	s->st.install_fail += update_many(fd->paired, g->qk, sizeof(g->qk[0]), g->qv,
					  sizeof(g->qv[0]), g->nq, NULL);
	s->st.install_fail += update_many(fd->nat64_rev, g->bk, sizeof(g->bk[0]), g->bv,
					  sizeof(g->bv[0]), g->nb, NULL);
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
		e = sy_tab_find(&s->tab64, &g->rkeys[i]);
		if (!e)
			e = sy_tab_add(&s->tab64, &g->rkeys[i]);
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

	sy_tab_del(&s->tab64, out_key);
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
void sy_sweep_step(struct ns_sync *s)
{
	struct ns_map_fds *fd = &s->d->fd;
	struct ns_tuple del[SYNC_WALK_CHUNK]; /* a whole chunk may be stale */
	uint64_t start = ns_now();
	int err = 0;

	s->step_what = "stale sweep";
	sy_phase(s, SYP_SWEEP);
	while (s->sweeping && !s->sweep64 && !err) {
		__u32 n = SYNC_WALK_CHUNK;
		int ndel = 0;

		if (ns_now() - start >= SYNC_STEP_BUDGET_NS) {
			sy_kick(s); /* sy_on_kick continues after the pending events */
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
			struct sync_ent *e = sy_tab_find(&s->tab, &s->keys[i]);

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
			sy_kick(s);
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
			struct sync_ent *e = sy_tab_find(&s->tab64, &s->vals[i].out_key);

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
	sy_sweep_step(s);
	return 0;
}

/* ---- receive path ------------------------------------------------------- */

/*
 * Sequence and tag of one frame before anything in it is believed: the
 * sequence must be the previous one + 1 (nothing lost, replayed or
 * reordered); after the handshake of an authenticated connection every
 * frame but REFUSE carries a valid tag, and without a key none does.
 * HELLO_ACK's tag is checked in sy_on_hello (the key needs its nonce).
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
		sy_set_error(s, "%s %s frame from %s: sequence %u after %u, connection reset",
			  replay ? "replayed" : "out-of-order (sequence gap)",
			  nsw_type_str(h->type), c->peer.name[0] ? c->peer.name : "peer",
			  h->seq, c->rx_seq);
		sy_conn_close(s, c, "sequence error");
		return false;
	}
	c->rx_seq = h->seq;
	if (h->type == NSW_REFUSE || h->type == NSW_HELLO_ACK)
		return true;
	if (!c->auth) {
		if (!(h->flags & NSW_F_MAC))
			return true;
		s->st.proto_errors++;
		sy_conn_close(s, c, "tagged frame without a key");
		return false;
	}
	if (c->enc) {
		/* Sealed or nothing: a MAC-only frame here is a downgrade. */
		if (!nsw_open_frame(c->rx_key, c->outgoing ? 'A' : 'I', frame)) {
			sy_auth_failed(s, c, h->flags & NSW_F_ENC ?
				    "decryption failed: tag does not verify" :
				    "unencrypted frame on an encrypted channel");
			return false;
		}
	} else if (!nsw_mac_verify(c->key, c->outgoing ? 'A' : 'I', frame)) {
		sy_auth_failed(s, c, h->flags & NSW_F_MAC ? "tag does not verify" : "untagged frame");
		return false;
	}
	/* The initiator's first tagged frame proves it holds the key. */
	if (c->hello_done && c->st == C_HANDSHAKE) {
		c->hello_done = false;
		sy_conn_established(s, c);
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
		sy_conn_close(s, c, "data before handshake");
		return false;
	}
	switch (h->type) {
	case NSW_HELLO:
	case NSW_HELLO_ACK:
		sy_on_hello(s, c, frame, body, len, h->type == NSW_HELLO_ACK);
		return c->st != C_FREE;
	case NSW_REFUSE:
		sy_on_refuse(s, c, body, len);
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
	case NSW_PORT_HOLD:
		/* a primary never takes state from its peer */
		r = s->primary ? 0 : sync_hold_install(&s->hold, s->d->fd.ports, s->d->fd.eim,
							body, len, ns_now());
		c->ack_needed = true;
		break;
	case NSW_ACK: {
		struct nsw_ack a;

		r = nsw_decode_ack(body, len, &a);
		if (!r) {
			s->st.acks_rx++;
			c->acked = a.seq;
			sy_lat_acked(s, c, a.seq, ns_now());
			if (c->window_since && sy_lo_open(c)) {
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
					      s->peer_hb.priority, c->peer.name,
					      s->peer_hb.uptime_ms);
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
			sy_start_bulk(s);
		break;
	}
	if (r) {
		s->st.proto_errors++;
		sy_set_error(s, "bad %s frame from peer: %s", nsw_type_str(h->type), nsw_err_str(r));
		sy_conn_close(s, c, "protocol error");
		return false;
	}
	return true;
}

/* Acknowledge what we processed (backup), coalesced to one ACK per read. */
void sy_send_ack(struct ns_sync *s, struct sync_conn *c)
{
	struct nsw_ack a = { .seq = c->rx_seq, .install_fail = (uint32_t)s->st.install_fail };
	uint8_t f[NSW_HDR_LEN + 8];

	/* Only data is acknowledged, so two peers never ACK each other's ACKs. */
	if (c->st != C_ESTABLISHED || !c->ack_needed || c->rx_seq == c->ack_sent)
		return;
	if (sy_send_hi(s, c, f, nsw_encode_ack(f, sizeof(f), 0, &a))) {
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
			sy_set_error(s, "bad frame from peer: %s", nsw_err_str(r));
			if (r == -NSW_E_VERSION)
				sy_send_refuse(s, c, NSW_REFUSE_VERSION);
			sy_conn_close(s, c, "protocol error");
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
 * sy_on_kick, or by EPOLLIN when more data waits in the socket.
 */
void sy_on_readable(struct ns_sync *s, struct sync_conn *c)
{
	uint64_t deadline = ns_now() + SYNC_STEP_BUDGET_NS;
	size_t total = 0;

	s->step_what = "receive/install";
	sy_phase(s, SYP_INSTALL);
	c->rx_paused = false;
	if (c->in_len && !process_input(s, c, deadline))
		return;
	while (!c->rx_paused && total < SYNC_RX_BUDGET && c->in_len < SYNC_IN_CAP) {
		ssize_t n = recv(c->fd, c->in + c->in_len, SYNC_IN_CAP - c->in_len, MSG_DONTWAIT);

		if (n == 0) {
			if (c->in_len) {
				/* Whatever the partial frame held is dropped. */
				s->st.truncated++;
				sy_set_error(s, "truncated frame from %s: connection closed after %zu "
					  "bytes of a frame, discarded",
					  c->peer.name[0] ? c->peer.name : "peer", c->in_len);
			}
			sy_conn_close(s, c, "peer closed the connection");
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			sy_conn_close(s, c, strerror(errno));
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
		sy_kick(s);
	}
	/* Acknowledge per step: the primary's window reopens as we install. */
	sy_send_ack(s, c);
}
