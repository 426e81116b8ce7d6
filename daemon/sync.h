/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sync.h - inter-chassis session synchronization (issue 3), the module.
 *
 * One TCP channel between the data addresses of a primary/backup pair
 * (conf.red), handshake with version and config fingerprint, replication of
 * sessions older than the replication threshold from the primary's maps,
 * bulk transfer on every new connection, and installation into the backup's
 * maps. Everything runs on the daemon's event loop and never blocks: output
 * queues are bounded, a slow peer only slows the replication walk, and
 * every step (walk, install, end-of-bulk sweep) yields to the loop after
 * ~5 ms so heartbeats are never late because of sync.
 * The wire encoding is in sync_wire.h; doc/sync.md describes both.
 */
#ifndef NATSYNC_SYNC_H
#define NATSYNC_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct ns_daemon;
struct ctl_json;
struct ctl_request;
struct ctl_out;

/*
 * sync_init - start the sync module when d->conf.red.enabled (no-op and 0
 * otherwise). Opens the listening socket on red.local_addr:red.port (bound
 * to red.device when set), starts connecting to the peer and registers its
 * timer on d->loop. Without the redundancy module (d->red NULL) the role
 * is conf.red.initial_role and sync sets NS_CFG_F_ACTIVE to match; with it,
 * sync starts as backup (replicates nothing) and follows sync_set_role().
 * Call after red_init(). Needs d->fd (the maps) open.
 * Returns 0 or -errno; sets d->sync.
 */
int sync_init(struct ns_daemon *d);

/*
 * sync_fini - close every socket, unregister from the loop, free d->sync.
 * An established connection is closed gracefully: what is on the
 * high-priority queue (the release heartbeat a graceful hand-over queued
 * just before) is flushed for up to 200 ms, then shutdown(SHUT_WR) and the
 * peer's FIN awaited for up to 100 ms; unsent replication data is dropped.
 * Blocks for at most ~300 ms per connection.
 */
void sync_fini(struct ns_daemon *d);

/*
 * sync_reconfigure - call after a reload replaced d->conf: re-applies the
 * role to the fast path (the loader rewrote ns_config) and, when the
 * fingerprint changed, drops the connection so the handshake compares
 * the new configuration with the peer's. No-op without sync.
 */
void sync_reconfigure(struct ns_daemon *d);

/*
 * sync_set_role - the redundancy module (issue 4) changes the role. A new
 * primary starts a bulk transfer to its peer; a new backup stops
 * replicating and asks its peer for a bulk. No-op without sync.
 */
void sync_set_role(struct ns_daemon *d, bool primary);

/*
 * sync_send_heartbeat_now - queue a HEARTBEAT (role, ready, the
 * redundancy module's advertised priority) now instead of at the next
 * interval, so a role hand-over costs one round trip. No-op unconnected.
 */
void sync_send_heartbeat_now(struct ns_daemon *d);

/* The fast path opened the session with inside key k (its SESSION_OPEN
 * event): a primary replicating with threshold 0 sends it at once. */
struct ns_tuple;
void sync_session_opened(struct ns_daemon *d, const struct ns_tuple *k);

/* Aging held the NAT binding k/v (RFC 6888 port-hold): a primary with a
 * live peer sends it, so the backup holds it as long (sync_hold.h). */
struct ns_port_key;
struct ns_port_val;
void sync_port_held(struct ns_daemon *d, const struct ns_port_key *k,
		    const struct ns_port_val *v);

/*
 * sync_sessions_cleared - "clear sessions" deleted the n sessions v (NAT64
 * ones when nat64) from this box's maps: a primary sends the peer a
 * SESSION_DEL (SESSION64_DEL) now for each one it had sent, and forgets
 * it, instead of waiting for the next pass to find it gone (which still
 * catches those it could not queue here: no live channel, a full queue).
 * No-op on a backup and without sync.
 */
struct ns_session;
void sync_sessions_cleared(struct ns_daemon *d, const struct ns_session *v, size_t n,
			   bool nat64);

/*
 * sync_backup_ready - true on a backup that has installed a complete bulk
 * transfer from the current connection (the takeover gate of issue 4);
 * on a primary, true when the peer acknowledged its bulk.
 */
bool sync_backup_ready(const struct ns_daemon *d);

/*
 * sync_show - "show sync": peer, state, role, counters, bulk progress, lag,
 * errors. Text to f when j is NULL, else exactly one JSON object through j.
 */
void sync_show(struct ns_daemon *d, FILE *f, struct ctl_json *j);

/*
 * sync_ctl_show - the control socket handler for CTL_SHOW_SYNC, to register
 * with ns_control_set_handler(ctl, CTL_SHOW_SYNC, sync_ctl_show, NULL).
 */
int sync_ctl_show(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		  void *arg);

#endif
