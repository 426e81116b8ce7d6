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
 *
 * The module's files, one concern each (sync_int.h is what they share):
 *   sync.c        this face: init, fini, reconfigure, role changes
 *   sync_chan.c   the channel: connections, handshake, queues, heartbeats, timer
 *   sync_send.c   the primary's sender: the walk, the due wheel, open events
 *   sync_recv.c   the receiver: framing and checks, the backup's installer
 *   sync_table.c  the bookkeeping table and the due wheel
 *   sync_show.c   "show sync"
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
		pr_warn("sync: cannot switch the fast path to %s: %s", sy_role_name(s->primary),
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
	if (s->kfd >= 0 && loop_add(d->loop, s->kfd, EPOLLIN, sy_on_kick, s)) {
		close(s->kfd);
		s->kfd = -1; /* the walk then advances on timer ticks only */
	}
	if (s->kfd >= 0)
		loop_set_name(d->loop, s->kfd, "sync walk");
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
	sy_tab_size(&s->tab, d->conf.max_sessions);
	sy_tab_size(&s->tab64, d->conf.n_nat64 ? d->conf.max_sessions : 0);
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
	err = sy_open_listener(s);
	if (err) {
		/* Not fatal: the address may come later (retried every 5 s). */
		sy_set_error(s, "cannot listen on %s:%u: %s",
			  ns_fmt_ip(d->conf.red.local_addr.s_addr, a, sizeof(a)), d->conf.red.port,
			  strerror(-err));
		s->next_listen_ns = ns_now() + 5000 * SYNC_NS_PER_MS;
	}
	s->tfd = loop_add_timer(d->loop, SYNC_TICK_MS, sy_on_tick, s);
	if (s->tfd >= 0)
		loop_set_name(d->loop, s->tfd, "sync tick");
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
		"%s", d->conf.node_name, sy_role_name(s->primary),
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
		sy_conn_close(s, c, "shutting down");
		return;
	}
	if (c->cur == &c->lo && c->cur_left)
		c->lo.tail = c->lo.head + c->cur_left; /* finish the frame on the wire */
	else
		c->lo.head = c->lo.tail = 0;
	for (;;) {
		sy_flush_out(s, c);
		if (c->st == C_FREE)
			return;
		if (!c->cur_left && !sy_q_len(&c->hi))
			break;
		if (!wait_fd(c->fd, POLLOUT, until))
			break;
	}
	if (c->cur_left || sy_q_len(&c->hi)) {
		pr_warn("sync: shutdown: %zu bytes for %s not sent in %llu ms",
			c->cur_left + sy_q_len(&c->hi), c->peer.name,
			(unsigned long long)(SYNC_FINI_FLUSH_NS / SYNC_NS_PER_MS));
	} else if (!shutdown(c->fd, SHUT_WR)) {
		until = ns_now() + SYNC_FINI_DRAIN_NS;
		while (wait_fd(c->fd, POLLIN, until)) {
			ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	sy_conn_close(s, c, "shutting down");
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
	sy_tab_clear(&s->tab);
	sy_tab_clear(&s->tab64);
	sy_tab_discards_wait();
	s->tab_queued = 0;
	sy_wheel_clear(&s->due);
	sync_hold_fini(&s->hold);
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
				sy_conn_close(s, &s->conns[i], "encryption setting changed");
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
		sy_conn_close(s, &s->conns[i], "configuration changed");
	s->backoff_ms = 0;
	s->next_connect_ns = 0;
}

void sync_set_role(struct ns_daemon *d, bool primary)
{
	struct ns_sync *s = d->sync;
	uint8_t f[NSW_HDR_LEN];

	if (!s || s->primary == primary)
		return;
	pr_info("sync: role %s -> %s", sy_role_name(s->primary), sy_role_name(primary));
	s->step_what = "role change";
	s->primary = primary;
	if (!d->red)
		set_active(s); /* else redundancy.c switched the fast path already */
	/* The table means "what the peer has" on a primary and "what we
	 * installed" on a backup: it does not survive a role change. */
	sy_tab_discard(&s->tab);
	sy_tab_discard(&s->tab64);
	s->tab_queued = 0;
	sy_wheel_clear(&s->due);
	s->walking = false;
	s->finishing = false;
	s->sweeping = false;
	s->bulk_running = false;
	s->ready = false;
	s->bulk_rx_running = false;
	if (primary) {
		sy_start_bulk(s);
		return;
	}
	if (s->active && s->active->st == C_ESTABLISHED)
		sy_send_hi(s, s->active, f, nsw_encode_empty(f, sizeof(f), NSW_BULK_REQUEST, 0));
}

void sync_send_heartbeat_now(struct ns_daemon *d)
{
	struct ns_sync *s = d->sync;

	if (s && s->active && s->active->st == C_ESTABLISHED)
		sy_send_heartbeat(s, s->active, ns_now());
}

bool sync_backup_ready(const struct ns_daemon *d)
{
	const struct ns_sync *s = d->sync;

	if (!s)
		return false;
	return s->primary ? s->peer_ready : s->ready;
}
