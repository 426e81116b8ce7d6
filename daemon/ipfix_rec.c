// SPDX-License-Identifier: GPL-2.0
/* ipfix_rec.c - NAT event records into IPFIX messages with libfixbuf (see ipfix_rec.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fixbuf/public.h>

#include "ipfix_rec.h"

/* fixbuf's internal template (the in-memory record), apart from the
 * external ids: it never goes on the wire. */
#define IPFIX_T_INTERNAL 0x1000

/* struct ipfix_nat_rec, field by field. */
static fbInfoElementSpec_t rec_spec[] = {
	{ "observationTimeMilliseconds", 8, 0 },
	{ "sourceIPv6Address", 16, 0 },
	{ "destinationIPv6Address", 16, 0 },
	{ "sourceIPv4Address", 4, 0 },
	{ "destinationIPv4Address", 4, 0 },
	{ "postNATSourceIPv4Address", 4, 0 },
	{ "postNATDestinationIPv4Address", 4, 0 },
	{ "natPoolId", 4, 0 },
	{ "natQuotaExceededEvent", 4, 0 },
	{ "maxSessionEntries", 4, 0 },
	{ "maxEntriesPerUser", 4, 0 },
	{ "sourceTransportPort", 2, 0 },
	{ "destinationTransportPort", 2, 0 },
	{ "postNAPTSourceTransportPort", 2, 0 },
	{ "postNAPTDestinationTransportPort", 2, 0 },
	{ "portRangeStart", 2, 0 },
	{ "portRangeEnd", 2, 0 },
	{ "portRangeStepSize", 2, 0 },
	{ "portRangeNumPorts", 2, 0 },
	{ "natEvent", 1, 0 },
	{ "protocolIdentifier", 1, 0 },
	{ "paddingOctets", 6, 0 },
	FB_IESPEC_NULL
};

/* The external templates: RFC 8158 sec. 4.2-4.6, in its order, without
 * the VRF ids (natsync has no VRFs in its fast path). Length 0: the
 * element's own (RFC 7012) length. */
#define T(name) { name, 0, 0 }
static fbInfoElementSpec_t t_sess44[] = {
	T("observationTimeMilliseconds"), T("sourceIPv4Address"), T("postNATSourceIPv4Address"),
	T("protocolIdentifier"), T("sourceTransportPort"), T("postNAPTSourceTransportPort"),
	T("destinationIPv4Address"), T("postNATDestinationIPv4Address"),
	T("destinationTransportPort"), T("postNAPTDestinationTransportPort"), T("natEvent"),
	FB_IESPEC_NULL
};
static fbInfoElementSpec_t t_sess64[] = {
	T("observationTimeMilliseconds"), T("sourceIPv6Address"), T("postNATSourceIPv4Address"),
	T("protocolIdentifier"), T("sourceTransportPort"), T("postNAPTSourceTransportPort"),
	T("destinationIPv6Address"), T("postNATDestinationIPv4Address"),
	T("destinationTransportPort"), T("postNAPTDestinationTransportPort"), T("natEvent"),
	FB_IESPEC_NULL
};
static fbInfoElementSpec_t t_bib44[] = {
	T("observationTimeMilliseconds"), T("sourceIPv4Address"), T("postNATSourceIPv4Address"),
	T("protocolIdentifier"), T("sourceTransportPort"), T("postNAPTSourceTransportPort"),
	T("natEvent"), FB_IESPEC_NULL
};
static fbInfoElementSpec_t t_bib64[] = {
	T("observationTimeMilliseconds"), T("sourceIPv6Address"), T("postNATSourceIPv4Address"),
	T("protocolIdentifier"), T("sourceTransportPort"), T("postNAPTSourceTransportPort"),
	T("natEvent"), FB_IESPEC_NULL
};
static fbInfoElementSpec_t t_addr_exhausted[] = {
	T("observationTimeMilliseconds"), T("natEvent"), T("natPoolId"), FB_IESPEC_NULL
};
static fbInfoElementSpec_t t_quota_sessions[] = {
	T("observationTimeMilliseconds"), T("natEvent"), T("natQuotaExceededEvent"),
	T("maxSessionEntries"), FB_IESPEC_NULL
};
static fbInfoElementSpec_t t_quota_user[] = {
	T("observationTimeMilliseconds"), T("natEvent"), T("natQuotaExceededEvent"),
	T("maxEntriesPerUser"), T("sourceIPv4Address"), FB_IESPEC_NULL
};
static fbInfoElementSpec_t t_port_block[] = {
	T("observationTimeMilliseconds"), T("sourceIPv4Address"), T("postNATSourceIPv4Address"),
	T("portRangeStart"), T("portRangeEnd"), T("portRangeStepSize"), T("portRangeNumPorts"),
	T("natEvent"), FB_IESPEC_NULL
};
#undef T

static fbInfoElementSpec_t *const ext_spec[IPFIX_N_TMPL] = {
	[IPFIX_T_SESS44 - IPFIX_T_SESS44] = t_sess44,
	[IPFIX_T_SESS64 - IPFIX_T_SESS44] = t_sess64,
	[IPFIX_T_BIB44 - IPFIX_T_SESS44] = t_bib44,
	[IPFIX_T_BIB64 - IPFIX_T_SESS44] = t_bib64,
	[IPFIX_T_ADDR_EXHAUSTED - IPFIX_T_SESS44] = t_addr_exhausted,
	[IPFIX_T_QUOTA_SESSIONS - IPFIX_T_SESS44] = t_quota_sessions,
	[IPFIX_T_QUOTA_USER - IPFIX_T_SESS44] = t_quota_user,
	[IPFIX_T_PORT_BLOCK - IPFIX_T_SESS44] = t_port_block,
};

struct ipfix_enc {
	fbInfoModel_t *model;
	fbSession_t *session;   /* owned by fbuf once there is one */
	fBuf_t *fbuf;
	fbExporter_t *exporter; /* owned by fbuf */
	int cur_tid;            /* export template set on fbuf, 0 = none */
	unsigned int pending;   /* records and template sets in the open message */
	uint64_t records;
	uint8_t *msg;           /* where fixbuf copies each emitted message */
	ipfix_sink_fn sink;
	void *sink_ctx;
};

int ipfix_rec_template(uint8_t nat_event, uint32_t quota_event)
{
	switch (nat_event) {
	case IPFIX_NATEV_NAT44_SESS_CREATE:
	case IPFIX_NATEV_NAT44_SESS_DELETE:
		return IPFIX_T_SESS44;
	case IPFIX_NATEV_NAT64_SESS_CREATE:
	case IPFIX_NATEV_NAT64_SESS_DELETE:
		return IPFIX_T_SESS64;
	case IPFIX_NATEV_NAT44_BIB_CREATE:
	case IPFIX_NATEV_NAT44_BIB_DELETE:
		return IPFIX_T_BIB44;
	case IPFIX_NATEV_NAT64_BIB_CREATE:
	case IPFIX_NATEV_NAT64_BIB_DELETE:
		return IPFIX_T_BIB64;
	case IPFIX_NATEV_ADDR_EXHAUSTED:
		return IPFIX_T_ADDR_EXHAUSTED;
	case IPFIX_NATEV_QUOTA_EXCEEDED:
		if (quota_event == IPFIX_QUOTA_MAX_SESSIONS)
			return IPFIX_T_QUOTA_SESSIONS;
		if (quota_event == IPFIX_QUOTA_MAX_PER_USER)
			return IPFIX_T_QUOTA_USER;
		return 0;
	case IPFIX_NATEV_PORT_BLOCK_ALLOC:
	case IPFIX_NATEV_PORT_BLOCK_RELEASE:
		return IPFIX_T_PORT_BLOCK;
	default:
		return 0;
	}
}

/* A template from spec added to the session under tid (internal or not);
 * the session owns it from then on. */
static int add_template(struct ipfix_enc *e, fbInfoElementSpec_t *spec, uint16_t tid,
			gboolean internal)
{
	fbTemplate_t *t = fbTemplateAlloc(e->model);
	GError *gerr = NULL;

	if (!fbTemplateAppendSpecArray(t, spec, 0, &gerr) ||
	    !fbSessionAddTemplate(e->session, internal, tid, t, &gerr)) {
		g_clear_error(&gerr);
		fbTemplateFreeUnused(t);
		return -1;
	}
	return 0;
}

struct ipfix_enc *ipfix_enc_new(uint32_t domain, uint16_t mtu, ipfix_sink_fn sink, void *ctx,
				const char **err)
{
	struct ipfix_enc *e = calloc(1, sizeof(*e));

	*err = "out of memory";
	if (!e)
		return NULL;
	e->sink = sink;
	e->sink_ctx = ctx;
	if (mtu < 512) {
		*err = "message size below 512 bytes";
		goto fail;
	}
	e->msg = malloc(mtu);
	e->model = fbInfoModelAlloc();
	e->session = e->model ? fbSessionAlloc(e->model) : NULL;
	if (!e->msg || !e->session)
		goto fail;
	fbSessionSetDomain(e->session, domain);
	*err = "libfixbuf refused a template (an information element missing from its model?)";
	if (add_template(e, rec_spec, IPFIX_T_INTERNAL, TRUE))
		goto fail;
	for (int i = 0; i < IPFIX_N_TMPL; i++)
		if (add_template(e, ext_spec[i], IPFIX_T_SESS44 + i, FALSE))
			goto fail;
	/* (fixbuf allocates with g_slice, which aborts rather than fail) */
	e->exporter = fbExporterAllocBuffer(e->msg, mtu);
	e->fbuf = fBufAllocForExport(e->session, e->exporter);
	/* Manual mode: a full message is reported (FB_ERROR_EOM), never
	 * emitted behind our back over the one we have not sent yet. */
	fBufSetAutomaticMode(e->fbuf, FALSE);
	{
		GError *gerr = NULL;

		if (!fBufSetInternalTemplate(e->fbuf, IPFIX_T_INTERNAL, &gerr)) {
			g_clear_error(&gerr);
			*err = "libfixbuf refused the internal template";
			goto fail;
		}
	}
	return e;
fail:
	ipfix_enc_free(e);
	return NULL;
}

void ipfix_enc_free(struct ipfix_enc *e)
{
	if (!e)
		return;
	if (e->fbuf)
		fBufFree(e->fbuf); /* and the exporter and the session */
	else if (e->session)
		fbSessionFree(e->session);
	if (e->model)
		fbInfoModelFree(e->model);
	free(e->msg);
	free(e);
}

/*
 * fixbuf in manual mode answers FB_ERROR_EOM when the message is full and
 * also when a template set follows data sets or data follows templates
 * (it puts them in messages of their own): either way the message is
 * emitted and the call made once more. 1 for EOM, -EIO for anything else.
 */
static int fb_fail(GError *gerr)
{
	int r = g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM) ? 1 : -EIO;

	g_clear_error(&gerr);
	return r;
}

static int add_once(struct ipfix_enc *e, const struct ipfix_nat_rec *r, int tid)
{
	GError *gerr = NULL;

	if (tid != e->cur_tid) {
		if (!fBufSetExportTemplate(e->fbuf, (uint16_t)tid, &gerr))
			return fb_fail(gerr);
		e->cur_tid = tid;
	}
	if (!fBufAppend(e->fbuf, (uint8_t *)r, sizeof(*r), &gerr))
		return fb_fail(gerr);
	return 0;
}

int ipfix_enc_add(struct ipfix_enc *e, const struct ipfix_nat_rec *r)
{
	int tid = ipfix_rec_template(r->nat_event, r->quota_event);
	int ret;

	if (!tid)
		return -EINVAL;
	ret = add_once(e, r, tid);
	if (ret == 1) {
		ret = ipfix_enc_flush(e);
		if (!ret)
			ret = add_once(e, r, tid);
		if (ret == 1)
			ret = -EIO; /* does not fit in an empty message */
	}
	if (ret)
		return ret;
	e->pending++;
	e->records++;
	return 0;
}

static int templates_once(struct ipfix_enc *e)
{
	GError *gerr = NULL;

	if (!fbSessionExportTemplates(e->session, &gerr))
		return fb_fail(gerr);
	return 0;
}

int ipfix_enc_templates(struct ipfix_enc *e)
{
	int ret = templates_once(e);

	if (ret == 1) {
		ret = ipfix_enc_flush(e);
		if (!ret)
			ret = templates_once(e);
		if (ret == 1)
			ret = -EIO;
	}
	if (ret)
		return ret;
	e->pending++;
	return 0;
}

int ipfix_enc_flush(struct ipfix_enc *e)
{
	GError *gerr = NULL;

	if (!e->pending)
		return 0;
	if (!fBufEmit(e->fbuf, &gerr)) {
		g_clear_error(&gerr);
		return -EIO;
	}
	e->pending = 0;
	e->sink(e->sink_ctx, e->msg, fbExporterGetMsgLen(e->exporter));
	return 0;
}

uint64_t ipfix_enc_records(const struct ipfix_enc *e)
{
	return e->records;
}
