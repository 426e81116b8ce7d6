/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ipfix.h - IPFIX export of NAT events (RFC 7011 over UDP, RFC 8158
 * records; doc/logging.md) to the collectors of the config's ipfix section.
 *
 * Every event that reaches events.c (the fast path's ring buffer and the
 * daemon's own SESSION_CLOSE / NAT_RELEASE) is turned into one record,
 * whatever the service set's syslog classes say. Records are batched into
 * messages of at most ipfix.message-size bytes, sent when full or 100 ms
 * after the first record; template sets go out at start and every
 * ipfix.template-refresh seconds. Sends never block the event loop: a full
 * socket buffer drops the message and counts it (ipfix_drops).
 */
#ifndef NATSYNC_IPFIX_H
#define NATSYNC_IPFIX_H

#include <stdbool.h>
#include <stdint.h>

#include "ipfix_rec.h"

struct ns_daemon;
struct ns_event;
struct ns_config;

/* Open the sockets and timers and send the templates; 0 without
 * collectors. 0 or -errno (nothing left open). */
int ipfix_init(struct ns_daemon *d);

/* Send what is pending and close everything. */
void ipfix_fini(struct ns_daemon *d);

/* After a reload put d->conf in force: start, stop or restart the export
 * when the ipfix section changed. */
void ipfix_reconfigure(struct ns_daemon *d);

/* One event (events.c calls it for every event); nothing without
 * collectors. sub6: for the NAT_RELEASE of a NAT64 binding, its IPv6
 * subscriber (events.c notes it from the binding's NAT_ALLOC), else NULL. */
void ipfix_event(struct ns_daemon *d, const struct ns_event *ev, const uint8_t *sub6);

/* Records are exported (collectors are configured). */
bool ipfix_on(void);

/*
 * A port block allocated to (or released from) a subscriber, for the
 * port-block allocator to report (natEvent 16/17, RFC 8158 sec. 4.7).
 * Addresses in network order, ports in host order; ts_ns is
 * CLOCK_MONOTONIC (0 = now).
 */
struct ipfix_port_block {
	uint64_t ts_ns;
	uint32_t in_addr;         /* the subscriber */
	uint32_t out_addr;        /* the pool address */
	uint16_t first, last;     /* the block's first and last port */
	uint16_t step;            /* 1 for a contiguous block */
	uint16_t n_ports;
	bool release;             /* false: allocated, true: released */
};
void ipfix_port_block(struct ns_daemon *d, const struct ipfix_port_block *pb);

/*
 * ipfix_rec_from_event - the record of ev (NAT64 events: @v6src/@v6dst are
 * the IPv6 side, else NULL), time @wall_ms. false for an event that has
 * no NAT record (a session without translation).
 */
bool ipfix_rec_from_event(struct ipfix_nat_rec *r, const struct ns_event *ev,
			  const struct ns_config *c, const uint8_t *v6src, const uint8_t *v6dst,
			  uint64_t wall_ms);

#endif
