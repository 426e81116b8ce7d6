/* SPDX-License-Identifier: GPL-2.0 */
/*
 * clear.h - natsyncctl clear sessions [filters]: drop sessions on this box.
 */
#ifndef NATSYNC_CLEAR_H
#define NATSYNC_CLEAR_H

struct ns_daemon;
struct ctl_request;
struct ctl_out;

/*
 * ns_clear_ctl - "clear sessions" with show sessions' filters (none: every
 * session). Each matching IPv4 and NAT64 session is deleted with its
 * reverse entry, logged as closed (session-logs), and counted off its
 * subscriber's max-sessions-per-subscriber; the NAT bindings it held are
 * released by the next aging cycle (no live session keeps them any more).
 * A primary sends the backup a SESSION_DEL for each at once
 * (sync_sessions_cleared); one it cannot queue then is found gone by the
 * sync walk's next pass, as for an expiry. On a backup only its own copies
 * go (the answer says so). A session a packet refreshes meanwhile is still
 * deleted.
 */
int ns_clear_ctl(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		 void *arg);

#endif
