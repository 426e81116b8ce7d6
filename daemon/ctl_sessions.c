// SPDX-License-Identifier: GPL-2.0
/*
 * ctl_sessions.c - "show sessions": the session tables, filtered, in slices.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_int.h"
#include "daemon.h"
#include "events.h"
#include "mapwalk.h"
#include "util.h"

static const struct {
	uint32_t bit;
	const char *name;
} session_flags[] = {
	{ NS_SF_NAT_SRC, "nat-src" },   { NS_SF_NAT_DST, "nat-dst" },
	{ NS_SF_EIM, "eim" },           { NS_SF_EIF, "eif" },
	{ NS_SF_FIN_IN, "fin-in" },     { NS_SF_FIN_OUT, "fin-out" },
	{ NS_SF_REPLICATED, "replicated" }, { NS_SF_SYSLOG, "syslog" },
	{ NS_SF_SYNCED, "synced" },     { NS_SF_HAIRPIN, "hairpin" },
};

static void fmt_flags(uint32_t flags, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NS_ARRAY_SIZE(session_flags) && off < len; i++)
		if (flags & session_flags[i].bit)
			off += snprintf(buf + off, len - off, "%s%s", off ? "," : "",
					session_flags[i].name);
	if (!off)
		snprintf(buf, len, "-");
}

struct sess_walk {
	struct ns_daemon *d;
	const struct ctl_request *req;
	struct ctl_out *out;
	uint64_t now;
	uint64_t matched, shown, total;
};

/* An IPv6 endpoint as "[addr]:port". */
static const char *fmt_ep6(const uint8_t addr[16], uint16_t be_port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, addr, ip, sizeof(ip));
	snprintf(buf, len, "[%s]:%u", ip, ntohs(be_port));
	return buf;
}

static void json_ep6(struct ctl_json *j, const char *key, const uint8_t addr[16], uint16_t be_port)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, addr, ip, sizeof(ip));
	ctl_json_key(j, key);
	ctl_json_start_object(j);
	ctl_json_kv_string(j, "addr", ip);
	ctl_json_kv_uint(j, "port", ntohs(be_port));
	ctl_json_end_object(j);
}

/* @k6: the IPv6 key of a NAT64 session (its inside endpoint is IPv6 and
 * in_key.saddr only a stand-in), NULL for the others. */
static void session_json(struct sess_walk *w, const struct ns_session *s,
			 const struct ns_tuple6 *k6, uint64_t age, uint64_t idle, uint32_t tmo)
{
	const struct ns_config *c = &w->d->conf;
	struct ctl_json *j = w->out->j;

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "proto", ns_proto_name(s->in_key.proto));
	if (k6) {
		json_ep6(j, "inside", k6->saddr, k6->sport);
		json_ep6(j, "remote6", k6->daddr, k6->dport);
	} else {
		ctl_json_ep(j, "inside", s->in_key.saddr, s->in_key.sport);
	}
	ctl_json_ep(j, "remote", s->in_key.daddr, s->in_key.dport);
	ctl_json_ep(j, "nat", s->out_key.daddr, s->out_key.dport);
	ctl_json_ep(j, "outside_remote", s->out_key.saddr, s->out_key.sport);
	ctl_json_kv_string(j, "state", ns_tcp_state_name(s->tcp_state));
	ctl_json_name(j, "svc", ctl_svc_name(c, s->svc_set));
	ctl_json_kv_string(j, "nat_type", ns_nat_type_name(s->nat_type));
	ctl_json_name(j, "pool", ctl_pool_name(c, s->pool_id));
	ctl_json_kv_string(j, "origin", ctl_side_name(s->origin));
	ctl_json_kv_uint(j, "age_s", age);
	ctl_json_kv_uint(j, "idle_s", idle);
	ctl_json_kv_uint(j, "timeout_s", tmo);
	ctl_json_kv_uint(j, "remaining_s", idle < tmo ? tmo - idle : 0);
	ctl_json_key(j, "packets");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "inside_to_outside", s->packets[NS_SIDE_INSIDE]);
	ctl_json_kv_uint(j, "outside_to_inside", s->packets[NS_SIDE_OUTSIDE]);
	ctl_json_end_object(j);
	ctl_json_key(j, "bytes");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "inside_to_outside", s->bytes[NS_SIDE_INSIDE]);
	ctl_json_kv_uint(j, "outside_to_inside", s->bytes[NS_SIDE_OUTSIDE]);
	ctl_json_end_object(j);
	ctl_json_key(j, "flags");
	ctl_json_start_array(j);
	for (size_t i = 0; i < NS_ARRAY_SIZE(session_flags); i++)
		if (s->flags & session_flags[i].bit)
			ctl_json_string(j, session_flags[i].name);
	ctl_json_end_array(j);
	ctl_json_end_object(j);
}

#define SESS_HDR_FMT "%-5s %-21s %-21s %-21s %-11s %-10s %-13s %6s %6s %6s %-15s %-21s %s\n"
#define SESS_ROW_FMT "%-5s %-21s %-21s %-21s %-11s %-10s %-13s %6llu %6llu %6llu %-15s %-21s %s\n"

static void session_text(struct sess_walk *w, const struct ns_session *s,
			 const struct ns_tuple6 *k6, uint64_t age, uint64_t idle, uint32_t tmo)
{
	const struct ns_config *c = &w->d->conf;
	char in[64], rem[32], nat[32], counts[2][48], flags[96], svcbuf[16];
	const char *svc = ctl_svc_name(c, s->svc_set);

	if (!svc) {
		snprintf(svcbuf, sizeof(svcbuf), "#%u", s->svc_set);
		svc = svcbuf;
	}
	fmt_flags(s->flags, flags, sizeof(flags));
	snprintf(counts[0], sizeof(counts[0]), "%llu/%llu",
		 (unsigned long long)s->packets[NS_SIDE_INSIDE],
		 (unsigned long long)s->packets[NS_SIDE_OUTSIDE]);
	snprintf(counts[1], sizeof(counts[1]), "%llu/%llu",
		 (unsigned long long)s->bytes[NS_SIDE_INSIDE],
		 (unsigned long long)s->bytes[NS_SIDE_OUTSIDE]);
	if (k6)
		fmt_ep6(k6->saddr, k6->sport, in, sizeof(in));
	else
		ctl_fmt_ep(s->in_key.saddr, s->in_key.sport, in, sizeof(in));
	fprintf(w->out->f, SESS_ROW_FMT, ns_proto_name(s->in_key.proto), in,
		ctl_fmt_ep(s->in_key.daddr, s->in_key.dport, rem, sizeof(rem)),
		ctl_fmt_ep(s->out_key.daddr, s->out_key.dport, nat, sizeof(nat)),
		ns_tcp_state_name(s->tcp_state), svc, ns_nat_type_name(s->nat_type),
		(unsigned long long)age, (unsigned long long)idle,
		(unsigned long long)(idle < tmo ? tmo - idle : 0),
		counts[0], counts[1], flags);
}

static void session_show(struct sess_walk *w, const struct ns_session *s,
			 const struct ns_tuple6 *k6)
{
	uint64_t age, idle;
	uint32_t tmo;

	w->total++;
	if (!ctl_session_matches(w->req, s))
		return;
	/* src= names an IPv4 subscriber: a NAT64 one is IPv6 */
	if (k6 && (w->req->have & CTL_BIT(CTL_ARG_SRC)))
		return;
	w->matched++;
	if (w->shown >= w->req->limit)
		return;
	w->shown++;
	age = ctl_secs_between(s->created_ns, w->now);
	idle = ctl_secs_between(s->last_seen_ns, w->now);
	tmo = ns_config_session_timeout(&w->d->conf, s->in_key.proto, s->tcp_state);
	if (w->out->j)
		session_json(w, s, k6, age, idle, tmo);
	else
		session_text(w, s, k6, age, idle, tmo);
}

static void session_visit(const void *key, const void *val, void *arg)
{
	(void)key;
	session_show(arg, val, NULL);
}

/* ns_nat64_sess: the key is the IPv6 tuple, the value the same record. */
static void session64_visit(const void *key, const void *val, void *arg)
{
	session_show(arg, val, key);
}

int ctl_sessions_ready(struct ns_daemon *d, struct ctl_request *r, struct ctl_out *out)
{
	char err[CTL_ERR_MAX];

	if (ctl_request_resolve(r, &d->conf, err, sizeof(err)) ||
	    ns_map_check(d->fd.sessions, NS_MAP_SESSIONS, sizeof(struct ns_tuple),
			 sizeof(struct ns_session), err, sizeof(err)))
		return ctl_out_error(out, "%s", err);
	return 0;
}

/* show sessions between slices: its request, counts and place in the walks. */
struct sess_cont {
	struct ctl_walk cw;
	struct sess_walk w;
};

int ctl_show_sessions(struct ns_daemon *d, const struct ctl_request *req,
			 struct ctl_out *out, void *arg)
{
	struct sess_cont *sc = out->cont;
	int ret;

	(void)arg;
	if (!sc) {
		sc = ctl_walk_new(out, req, sizeof(*sc), NULL);
		if (!sc)
			return -1;
		sc->w = (struct sess_walk){ .d = d, .req = &sc->cw.r, .out = out, .now = ns_now() };
		if (ctl_sessions_ready(d, &sc->cw.r, out))
			return -1;
		if (out->j) {
			ctl_json_start_object(out->j);
			ctl_json_key(out->j, "sessions");
			ctl_json_start_array(out->j);
		} else {
			fprintf(out->f, SESS_HDR_FMT, "PROTO", "INSIDE", "REMOTE", "NAT", "STATE",
				"SVC", "TYPE", "AGE", "IDLE", "LEFT", "PKTS IN/OUT",
				"BYTES IN/OUT", "FLAGS");
		}
		ns_walk_seq_add(&sc->cw.q, d->fd.sessions, sizeof(struct ns_tuple),
				sizeof(struct ns_session), session_visit, &sc->w, NS_MAP_SESSIONS);
		ns_walk_seq_add(&sc->cw.q, d->fd.nat64_sess, sizeof(struct ns_tuple6),
				sizeof(struct ns_session), session64_visit, &sc->w,
				NS_MAP_NAT64_SESS);
	}
	ret = ctl_walk_step(out, &sc->cw, "");
	if (ret)
		return ret;
	if (out->j) {
		ctl_json_end_array(out->j);
		ctl_json_kv_uint(out->j, "count", sc->w.shown);
		ctl_json_kv_uint(out->j, "matched", sc->w.matched);
		ctl_json_kv_uint(out->j, "total", sc->w.total);
		ctl_json_kv_bool(out->j, "truncated", sc->w.matched > sc->w.shown);
		ctl_json_end_object(out->j);
	} else {
		fprintf(out->f, "%llu of %llu matching sessions shown (%llu in table)%s\n",
			(unsigned long long)sc->w.shown, (unsigned long long)sc->w.matched,
			(unsigned long long)sc->w.total,
			sc->w.matched > sc->w.shown ? "; raise limit= to see more" : "");
	}
	return 0;
}
