/* SPDX-License-Identifier: GPL-2.0 */
/*
 * synhold.h - IPv4-initiated SYNs of stateful NAT64 (RFC 6146 3.5.2.2,
 * RFC 5382 REQ-4; doc/nat64.md "IPv4-initiated SYNs"). A SYN from an IPv4
 * host to a NAT64 binding that filtering refuses is not dropped by the
 * fast path but copied to natsyncd through ns_frag_ring (NS_FRAG_REC_SYN,
 * bpf/nat64_bib.h), the ring and record of held fragments (frag.h). The
 * daemon keeps it NS_SYN_HOLD_NS (6 s) and never answers it before:
 *  - once an outbound SYN of the IPv6 subscriber has opened the matching
 *    session (ns_nat64_rev holds the SYN's tuple: a simultaneous open),
 *    the held SYN is run again through the fast path (its TC program,
 *    BPF_PROG_TEST_RUN, as arrived on its interface), which translates it
 *    like any packet of the session, and the IPv6 packet it becomes is
 *    sent through frag.c's raw IPv6 socket (released);
 *  - otherwise, after the 6 s, it is answered with ICMP port unreachable
 *    (type 3 code 3) from the address it was sent to, quoting it, through
 *    frag.c's raw IPv4 socket (expired).
 * The table is bounded (NS_SYNHOLD_MAX): a SYN flood fills it and the
 * rest is dropped unanswered, counted (table_full); a retransmitted SYN of
 * a held one is not held twice (duplicates).
 */
#ifndef NATSYNC_SYNHOLD_H
#define NATSYNC_SYNHOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/natsync.h"

struct ns_daemon;
struct ctl_json;

#define NS_SYNHOLD_MAX 1024    /* SYNs held at once */
#define NS_SYNHOLD_CHECK_MS 100 /* how often held SYNs are checked */
/* Releases and answers of one check: each is a BPF_PROG_TEST_RUN of the TC
 * program or an ICMP send on the event loop, so a flood's 1,024 SYNs
 * falling due together are answered over 1.6 s, not in one long callback
 * (and ICMP errors are rate-limited, RFC 1812 4.3.2.8). */
#define NS_SYNHOLD_TICK_MAX 64
#define NS_SYNHOLD_ICMP_MAX 576 /* RFC 1812 4.3.2.3: an ICMP error's size */

struct ns_synhold_stats {
	uint64_t held;        /* SYNs taken into the table */
	uint64_t released;    /* sent through the fast path after an outbound SYN */
	uint64_t expired;     /* no outbound SYN in 6 s: ICMP port unreachable sent */
	uint64_t duplicates;  /* a SYN of a flow already held (retransmission) */
	uint64_t table_full;  /* NS_SYNHOLD_MAX already held: dropped unanswered */
	uint64_t send_errors; /* re-injection or ICMP send failed */
	uint64_t bad;         /* records that are no IPv4 TCP SYN */
	uint32_t waiting;     /* held now */
};

/* What the table does to the world (the daemon's: ns_nat64_rev, the XDP
 * program, a raw socket; a unit test's mocks). */
struct ns_synhold_ops {
	/* has the IPv6 subscriber opened the flow of inbound tuple @t? */
	bool (*opened)(void *ctx, const struct ns_tuple *t);
	/* translate @pkt (an IPv4 packet) through the fast path as arrived
	 * on @ifindex and send the result; 0 or -errno */
	int (*reinject)(void *ctx, uint32_t ifindex, const uint8_t *pkt, uint32_t len);
	/* send @pkt (an IPv4 packet, header included); 0 or -errno */
	int (*send)(void *ctx, const uint8_t *pkt, uint32_t len);
};

struct ns_synhold;

struct ns_synhold *ns_synhold_new(const struct ns_synhold_ops *ops, void *ctx);
void ns_synhold_free(struct ns_synhold *h);

/* Take a SYN (@pkt: its IPv4 packet, @len bytes, arrived on @ifindex) at
 * time @now. Returns 0 (held, or a duplicate), -EINVAL (no IPv4 TCP SYN),
 * -ENOSPC (table full). */
int ns_synhold_add(struct ns_synhold *h, const uint8_t *pkt, uint32_t len, uint32_t ifindex,
		   uint64_t now);

/* Release the held SYNs whose flow is open now, answer those held
 * NS_SYN_HOLD_NS or longer: at most NS_SYNHOLD_TICK_MAX of them, the rest
 * at the next check, which goes on from the slot after the last one this
 * check looked at (no slot waits behind a busy first part of the table). */
void ns_synhold_tick(struct ns_synhold *h, uint64_t now);

const struct ns_synhold_stats *ns_synhold_get(const struct ns_synhold *h);

/* The inbound tuple of an IPv4 TCP packet, as the fast path keys it.
 * 0, or -EINVAL. Pure. */
int ns_synhold_tuple(const uint8_t *pkt, uint32_t len, struct ns_tuple *t);

/* Build into @out (@cap bytes) the ICMP port unreachable answering @syn
 * (@len bytes): from its destination to its source, TTL 64, quoting as
 * much of it as fits NS_SYNHOLD_ICMP_MAX bytes, checksums computed.
 * Returns its length, or -EINVAL. Pure. */
int ns_synhold_icmp(uint8_t *out, size_t cap, const uint8_t *syn, uint32_t len);

/* The daemon's: start (no-op without ns_frag_ring), stop, a ring record
 * of type NS_FRAG_REC_SYN (frag.c hands them over), status. */
int ns_synhold_init(struct ns_daemon *d);
void ns_synhold_fini(struct ns_daemon *d);
void ns_synhold_record(struct ns_daemon *d, const void *data, size_t size);
void ns_synhold_status_text(const struct ns_daemon *d, FILE *f);
void ns_synhold_status_json(const struct ns_daemon *d, struct ctl_json *j);

#endif
