/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ipfix_rec.h - NAT event records (RFC 8158 information elements) encoded
 * into IPFIX messages (RFC 7011) with libfixbuf, into a memory buffer: the
 * transport (ipfix.c) sends each message itself, non-blocking.
 *
 * One in-memory record (struct ipfix_nat_rec) describes every event; the
 * event decides which of the templates below carries it (RFC 8158 sec. 4,
 * less the VRF ids natsync has none of):
 *
 *   256 NAT44 session create/delete   257 NAT64 session create/delete
 *   258 NAT44 BIB create/delete       259 NAT64 BIB create/delete
 *   260 NAT addresses exhausted       261 quota: max session entries
 *   262 quota: max entries per user   263 port block allocate/release
 */
#ifndef NATSYNC_IPFIX_REC_H
#define NATSYNC_IPFIX_REC_H

#include <stddef.h>
#include <stdint.h>

/* natEvent values (IANA "natEvent" registry, RFC 8158 sec. 4.1). */
enum ipfix_nat_event {
	IPFIX_NATEV_ADDR_EXHAUSTED = 3,
	IPFIX_NATEV_NAT44_SESS_CREATE = 4,
	IPFIX_NATEV_NAT44_SESS_DELETE = 5,
	IPFIX_NATEV_NAT64_SESS_CREATE = 6,
	IPFIX_NATEV_NAT64_SESS_DELETE = 7,
	IPFIX_NATEV_NAT44_BIB_CREATE = 8,
	IPFIX_NATEV_NAT44_BIB_DELETE = 9,
	IPFIX_NATEV_NAT64_BIB_CREATE = 10,
	IPFIX_NATEV_NAT64_BIB_DELETE = 11,
	IPFIX_NATEV_PORTS_EXHAUSTED = 12,
	IPFIX_NATEV_QUOTA_EXCEEDED = 13,
	IPFIX_NATEV_PORT_BLOCK_ALLOC = 16,
	IPFIX_NATEV_PORT_BLOCK_RELEASE = 17,
};

/* natQuotaExceededEvent values (RFC 8158 sec. 4.1.1). */
enum ipfix_quota_event {
	IPFIX_QUOTA_MAX_SESSIONS = 1,
	IPFIX_QUOTA_MAX_BIB = 2,
	IPFIX_QUOTA_MAX_PER_USER = 3,
};

/* Template ids (>= 256, RFC 7011 sec. 3.4.1). */
enum ipfix_tmpl {
	IPFIX_T_SESS44 = 256,
	IPFIX_T_SESS64,
	IPFIX_T_BIB44,
	IPFIX_T_BIB64,
	IPFIX_T_ADDR_EXHAUSTED,
	IPFIX_T_QUOTA_SESSIONS,
	IPFIX_T_QUOTA_USER,
	IPFIX_T_PORT_BLOCK,
	IPFIX_T_END,
};
#define IPFIX_N_TMPL (IPFIX_T_END - IPFIX_T_SESS44)

/*
 * The one in-memory record, laid out as fixbuf's internal template reads
 * it (largest fields first, explicit padding). IPv4 addresses are in host
 * order (fixbuf's in-memory form), IPv6 addresses in network order, ports
 * in host order. Fields a template does not carry are ignored.
 */
struct ipfix_nat_rec {
	uint64_t time_ms;         /* observationTimeMilliseconds */
	uint8_t src6[16];         /* sourceIPv6Address (NAT64 inside) */
	uint8_t dst6[16];         /* destinationIPv6Address (NAT64 inside) */
	uint32_t src4;            /* sourceIPv4Address */
	uint32_t dst4;            /* destinationIPv4Address */
	uint32_t xsrc4;           /* postNATSourceIPv4Address */
	uint32_t xdst4;           /* postNATDestinationIPv4Address */
	uint32_t pool_id;         /* natPoolId */
	uint32_t quota_event;     /* natQuotaExceededEvent */
	uint32_t max_sessions;    /* maxSessionEntries */
	uint32_t max_per_user;    /* maxEntriesPerUser */
	uint16_t sport;           /* sourceTransportPort */
	uint16_t dport;           /* destinationTransportPort */
	uint16_t xsport;          /* postNAPTSourceTransportPort */
	uint16_t xdport;          /* postNAPTDestinationTransportPort */
	uint16_t pb_start;        /* portRangeStart */
	uint16_t pb_end;          /* portRangeEnd */
	uint16_t pb_step;         /* portRangeStepSize */
	uint16_t pb_num;          /* portRangeNumPorts */
	uint8_t nat_event;        /* natEvent (enum ipfix_nat_event) */
	uint8_t proto;            /* protocolIdentifier */
	uint8_t _pad[6];
};
_Static_assert(sizeof(struct ipfix_nat_rec) == 96, "ipfix_nat_rec must match its spec");

/*
 * The template that carries an event (enum ipfix_tmpl), or 0 for a natEvent
 * (or, for IPFIX_NATEV_QUOTA_EXCEEDED, a quota event) no template carries.
 */
int ipfix_rec_template(uint8_t nat_event, uint32_t quota_event);

struct ipfix_enc;

/* Where each finished message goes (the transport; a test's buffer). */
typedef void (*ipfix_sink_fn)(void *ctx, const uint8_t *msg, size_t len);

/*
 * ipfix_enc_new - a fixbuf session for observation domain @domain that
 * builds messages of at most @mtu bytes (at least 512) and hands each
 * finished one to @sink. NULL with *err set (static text) on failure.
 */
struct ipfix_enc *ipfix_enc_new(uint32_t domain, uint16_t mtu, ipfix_sink_fn sink, void *ctx,
				const char **err);
void ipfix_enc_free(struct ipfix_enc *e);

/*
 * ipfix_enc_add - append one record to the message being built; a full
 * message goes to the sink first. 0; -EINVAL for an event no template
 * carries; -EIO when fixbuf refused it.
 */
int ipfix_enc_add(struct ipfix_enc *e, const struct ipfix_nat_rec *r);

/*
 * ipfix_enc_templates - append every template (a template set, in a
 * message of its own: fixbuf keeps templates and data apart) to be sent
 * before the first record and on the template refresh schedule (RFC 7011
 * sec. 8.4). 0 or -EIO.
 */
int ipfix_enc_templates(struct ipfix_enc *e);

/*
 * ipfix_enc_flush - hand the message being built to the sink, if it holds
 * anything. Its header carries the export time (the clock when it was
 * begun), the sequence number (data records before it) and the
 * observation domain. 0 or -EIO.
 */
int ipfix_enc_flush(struct ipfix_enc *e);

/* Records appended since the encoder was made (for the counters). */
uint64_t ipfix_enc_records(const struct ipfix_enc *e);

#endif
