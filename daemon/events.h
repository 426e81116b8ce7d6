/* SPDX-License-Identifier: GPL-2.0 */
/*
 * events.h - session-logs and nat-logs: the fast path's ring buffer records
 * (struct ns_event) and the daemon's own SESSION_CLOSE / NAT_RELEASE events,
 * formatted as one line each and written through log.h (stderr, log file,
 * syslog as configured).
 *
 * Line formats (addresses dotted quad, ports decimal; for ICMP queries the
 * "port" is the echo identifier, and the remote side has none):
 *   SESSION_OPEN svc=S PROTO SRC:P -> DST:P [nat XSRC:P [dst XDST:P] TYPE] [origin=outside]
 *   SESSION_CLOSE svc=S PROTO SRC:P -> DST:P [nat ...] state=ST age=SECs pkts=IN/OUT bytes=IN/OUT
 *   NAT_ALLOC svc=S pool=P PROTO SRC:P -> XSRC:P TYPE          (no destination, RFC 6888)
 *   NAT_RELEASE svc=S pool=P PROTO SRC:P -> XSRC:P
 *   POOL_EXHAUSTED svc=S pool=P PROTO SRC:P
 *   SESSION_FULL svc=S PROTO SRC:P -> DST:P
 */
#ifndef NATSYNC_EVENTS_H
#define NATSYNC_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct ns_daemon;

/* Name of enum ns_tcp_state ("established", ...); "-" for NS_TCP_NONE. */
const char *ns_tcp_state_name(uint8_t state);

/* Fill an event record describing session s (for SESSION_OPEN/CLOSE). */
void ns_event_from_session(struct ns_event *ev, const struct ns_session *s, uint8_t type);

/* Fill an event record describing a NAT binding (for NAT_RELEASE). */
void ns_event_from_port(struct ns_event *ev, const struct ns_port_key *k,
			const struct ns_port_val *v, uint8_t type);

/*
 * ns_event_wanted - whether the event's syslog class is enabled: session
 * events need session-logs, NAT events nat-logs on the event's service set;
 * SESSION_FULL and POOL_EXHAUSTED are operational warnings, always wanted.
 */
bool ns_event_wanted(const struct ns_event *ev, const struct ns_config *c);

/*
 * ns_event_format - one log line for ev into buf (always terminated).
 * @s:   the session, for SESSION_CLOSE statistics; may be NULL
 * @now: CLOCK_MONOTONIC ns, to print a session's age
 * Returns the line length, or -1 for an unknown event type.
 */
int ns_event_format(const struct ns_event *ev, const struct ns_session *s, uint64_t now,
		    const struct ns_config *c, char *buf, size_t len);

/*
 * ns_event_log - format and log ev if its class is wanted (rate-limited for
 * POOL_EXHAUSTED/SESSION_FULL, which can arrive at packet rate); counts
 * d->st.events_logged.
 */
void ns_event_log(struct ns_daemon *d, const struct ns_event *ev, const struct ns_session *s);

/* NAT64 (struct ns_event6): the same lines with the IPv6 subscriber and
 * destination as "[addr]:port" instead of the 32-bit stand-in. */
void ns_event6_from_session(struct ns_event6 *e6, const struct ns_session *s,
			    const struct ns_tuple6 *k, uint8_t type);
int ns_event6_format(const struct ns_event6 *e6, const struct ns_session *s, uint64_t now,
		     const struct ns_config *c, char *buf, size_t len);
void ns_event6_log(struct ns_daemon *d, const struct ns_event6 *e6, const struct ns_session *s);

/*
 * ns_event_release_log - NAT_RELEASE of the binding k/v (aging freed it).
 * A NAT64 binding's line names its IPv6 subscriber, remembered from the
 * binding's NAT_ALLOC event; one made before this natsyncd started, or
 * installed by sync, shows the 32-bit stand-in and says so.
 */
void ns_event_release_log(struct ns_daemon *d, const struct ns_port_key *k,
			  const struct ns_port_val *v);

/*
 * Open the ns_events ring buffer and register it on d->loop; a timer then
 * warns (once a second at most) when the fast path's event_lost counter grew,
 * i.e. when a full ring buffer dropped events the log will never show.
 * 0 or -errno.
 */
int ns_events_init(struct ns_daemon *d);

/* Drain what is left in the ring buffer and free it. */
void ns_events_fini(struct ns_daemon *d);

#endif
