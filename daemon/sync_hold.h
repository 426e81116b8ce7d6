/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sync_hold.h - held NAT bindings travel to the backup (issue 10).
 *
 * A port (or a dynamic-nat44 address) whose last session ended is held
 * before reuse (RFC 6888 REQ-8, timeouts.port-hold): an ns_ports entry
 * with NS_PORT_F_HOLD and released_ns. The primary sends such entries as
 * PORT_HOLD records (sync_wire.h): each one when its aging pass holds it
 * (sync_port_held()), and all of them in every bulk (a walk of ns_ports),
 * so a backup restarted with empty maps holds them too. The backup writes
 * the entry with the hold rebased onto its own clock; its own aging frees
 * it when the hold is over, as the primary's does. This file owns the
 * records waiting to be sent, the bulk's walk and the install; sync.c
 * decides when a frame may go (queues, role, connection).
 */
#ifndef NATSYNC_SYNC_HOLD_H
#define NATSYNC_SYNC_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync_wire.h"

#define SYNC_HOLD_CHUNK 256          /* ns_ports entries per batch lookup */
#define SYNC_HOLD_PENDING_MAX 65536  /* incremental records waiting (~2.5 MiB) */

struct sync_hold {
	struct nsw_hold *pend;       /* records to send, oldest first */
	size_t n, off, cap;          /* pend[off, n) waits */
	bool bulk, bulk_first;       /* a bulk's walk of ns_ports is under way */
	uint64_t token;              /* batch position (a bucket, for a hash) */
	struct ns_port_key keys[SYNC_HOLD_CHUNK];
	struct ns_port_val vals[SYNC_HOLD_CHUNK];
	/* counters (show sync) */
	uint64_t sent;               /* records queued to the peer */
	uint64_t dropped;            /* not sent: pending list full, or no room */
	uint64_t received, installed, install_fail;
	struct nsw_hold rx[NSW_BATCH_MAX_HOLDS];
};

/* Free everything; the counters stay. */
void sync_hold_reset(struct sync_hold *h);
void sync_hold_fini(struct sync_hold *h);

/* The aging pass held the binding k/v now (primary with a live peer):
 * remember it for the next frame. */
void sync_hold_note(struct sync_hold *h, const struct ns_port_key *k,
		    const struct ns_port_val *v, uint64_t now);

/* A bulk begins: its frames carry every held entry of ns_ports too. */
void sync_hold_bulk_start(struct sync_hold *h);

/* Is anything left to send (waiting records or the bulk's walk)? */
bool sync_hold_busy(const struct sync_hold *h);

/*
 * Build the next PORT_HOLD frame into buf (cap bytes, sequence 0): the
 * waiting records first, then what the bulk's walk of ports_fd finds, until
 * the frame is full, nothing is left or ns_now() passes deadline. Returns
 * the frame size (0: nothing to send now; sync_hold_busy() tells whether
 * to come back) or -errno when the walk failed (the walk is abandoned).
 */
int sync_hold_frame(struct sync_hold *h, int ports_fd, uint8_t *buf, size_t cap,
		    uint64_t now, uint64_t deadline);

/*
 * Backup: install a PORT_HOLD body: every binding held as on the primary
 * (ns_ports; ns_eim too while the binding is endpoint-independent).
 * Returns 0 or a negative nsw_err (nothing installed).
 */
int sync_hold_install(struct sync_hold *h, int ports_fd, int eim_fd, const uint8_t *body,
		      size_t len, uint64_t now);

#endif
