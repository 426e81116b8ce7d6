/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sublimit.h - the daemon's half of max-sessions-per-subscriber (RFC 6888
 * REQ-4; the fast path's half is bpf/sublimit.h).
 *
 * The fast path counts the sessions it opens for a subscriber in
 * ns_sub_created and marks them NS_SF_SUB_COUNTED; aging, when it deletes
 * such a session, counts it in ns_sub_closed (only the daemon writes that
 * map). live = created - closed. Subscribers with nothing live are removed
 * from both maps now and then (ns_sublimit_gc).
 */
#ifndef NATSYNC_SUBLIMIT_H
#define NATSYNC_SUBLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/natsync.h"

struct ns_daemon;

/* Deleted sessions of one aging step, per subscriber. */
struct ns_sublimit_acc {
	struct ns_sub_key *keys;
	size_t n, cap;
};

/*
 * ns_sublimit_note - remember that session @s is being deleted. Only
 * sessions this box's fast path counted (NS_SF_SUB_COUNTED, not installed
 * by sync) count as closed. 0 or -ENOMEM.
 */
int ns_sublimit_note(struct ns_sublimit_acc *acc, const struct ns_session *s);

/* ns_sublimit_note() for a NAT64 session whose IPv6 subscriber is @saddr6:
 * the subscriber is its /64 (struct ns_sub_key, nat64 = 1). */
int ns_sublimit_note64(struct ns_sublimit_acc *acc, const struct ns_session *s,
		       const uint8_t saddr6[16]);

/*
 * ns_sublimit_flush - add the noted sessions to ns_sub_closed (@closed_fd;
 * < 0: nothing to do) and empty @acc. One lookup and update per distinct
 * subscriber. 0 or -errno of the first failed update.
 */
int ns_sublimit_flush(int closed_fd, struct ns_sublimit_acc *acc);

/*
 * ns_sublimit_gc - delete the entries of subscribers with no live session
 * (created == closed) from both maps. A flow opened in the same instant
 * may lose its count (the subscriber is then under-counted by one until
 * its next idle moment). Return the number of subscribers removed, or
 * -errno.
 */
int ns_sublimit_gc(int created_fd, int closed_fd);

/*
 * ns_sublimit_fds - the two maps of the loaded fast path of @d (-1 each
 * when it has none, e.g. in unit tests).
 */
void ns_sublimit_fds(const struct ns_daemon *d, int *created_fd, int *closed_fd);

/*
 * ns_sublimit_after_reap - what aging calls after deleting sessions: flush
 * @acc into ns_sub_closed, and at most every 10 s (@now, monotonic ns)
 * garbage-collect idle subscribers. 0 or -errno.
 */
int ns_sublimit_after_reap(struct ns_daemon *d, struct ns_sublimit_acc *acc, uint64_t now);

#endif
