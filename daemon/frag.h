/* SPDX-License-Identifier: GPL-2.0 */
/*
 * frag.h - the daemon's half of out-of-order IPv4 fragments (RFC 4787
 * REQ-14; the fast path's half is bpf/frag.h). A later fragment that
 * reaches the box before its first one cannot be translated yet and XDP
 * cannot keep it: the fast path copies it into the ring ns_frag_ring
 * (NS_FRAG_REC_HELD) and drops it. natsyncd keeps the copies for
 * NS_FRAG_TIMEOUT_NS; when the first fragment has been translated the
 * fast path says how (NS_FRAG_REC_FIRST), and natsyncd rewrites the held
 * fragments the same way (addresses, TTL - 1, IPv4 header checksum) and
 * sends them through a raw IPv4 socket (IP_HDRINCL): the box's routing
 * takes them to the next hop, as it does the fast path's fwd_stack
 * packets. NAT64 fragments (bpf/frag64.h) change family on the way:
 * frag64.c translates the header and a raw IPv6 socket sends what becomes
 * IPv6. See doc/fastpath.md "Fragments", doc/nat64.md "Fragments".
 */
#ifndef NATSYNC_FRAG_H
#define NATSYNC_FRAG_H

#include <stdint.h>
#include <stdio.h>

#include "common/natsync.h"

struct ns_daemon;
struct ctl_json;

#define NS_FRAGD_HELD_MAX 256  /* fragments natsyncd holds at once */
#define NS_FRAGD_KNOWN_MAX 64  /* recent first-fragment translations */

struct ns_frag_stats {
	uint64_t held;        /* copies received from the fast path */
	uint64_t sent;        /* sent on, translated */
	uint64_t send_errors; /* sendto() refused (e.g. EMSGSIZE, no route) */
	uint64_t expired;     /* first fragment never came in time */
	uint64_t table_full;  /* NS_FRAGD_HELD_MAX already held: dropped */
	uint64_t bad;         /* malformed records */
	uint32_t waiting;     /* held now */
};

/* Translate a held fragment (@pkt: its IPv4 packet, @len bytes) to the
 * addresses its first fragment left with: addresses, TTL - 1, IPv4
 * header checksum recomputed. Returns 0, -EINVAL when it is not an IPv4
 * packet of @len bytes or its TTL would expire. Pure (unit-tested). */
int ns_frag_translate(uint8_t *pkt, uint32_t len, uint32_t new_saddr, uint32_t new_daddr);

/* NAT64 (bpf/frag64.h, RFC 7915 5.1.1): a held IPv6 fragment (@in, @len
 * bytes: IPv6 header, Fragment header, data) becomes the IPv4 fragment
 * its first one's translation gives: @new_saddr/@new_daddr, the low 16
 * bits of the identification as IPv4 ID, offset and M as MF, DF clear,
 * hop limit - 1 as TTL, header checksum. Written to @out (@out_max
 * bytes). Returns its length, or -EINVAL (not such a fragment, too long,
 * or the hop limit would expire). Pure (unit-tested). */
int ns_frag_xlat_6to4(const uint8_t *in, uint32_t len, uint32_t new_saddr, uint32_t new_daddr,
		      uint8_t *out, uint32_t out_max);
/* NAT64 (RFC 7915 4.1): a held IPv4 fragment (no options) becomes an IPv6
 * packet from @new_saddr6 to @new_daddr6 with a Fragment header (the IPv4
 * ID as identification, offset, MF as M), TTL - 1 as hop limit. As above. */
int ns_frag_xlat_4to6(const uint8_t *in, uint32_t len, const uint8_t *new_saddr6,
		      const uint8_t *new_daddr6, uint8_t *out, uint32_t out_max);

/* Start consuming ns_frag_ring (no-op without it). Without a raw socket
 * (no CAP_NET_RAW) held fragments are only counted, and expire: logged
 * once. Returns 0 or -errno. */
int ns_frag_init(struct ns_daemon *d);
void ns_frag_fini(struct ns_daemon *d);

/* Send @pkt (@len bytes: an IPv4 or IPv6 packet, its own header) to its
 * header's destination through the box's routing, on frag's raw sockets
 * (also synhold.c's). Never waits: a full socket buffer is a failure.
 * Returns 0 or -errno (-ENOTSUP: no raw socket for its family). */
int ns_frag_raw_send(const struct ns_daemon *d, const uint8_t *pkt, uint32_t len);

/* Statistics for show status (zeros when not running). */
void ns_frag_get_stats(const struct ns_daemon *d, struct ns_frag_stats *st);
void ns_frag_status_text(const struct ns_daemon *d, FILE *f);
void ns_frag_status_json(const struct ns_daemon *d, struct ctl_json *j);

#endif
