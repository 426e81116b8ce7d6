// SPDX-License-Identifier: GPL-2.0
/* subscriber.c - show subscriber ADDR (see subscriber.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "daemon.h"
#include "events.h"
#include "mapwalk.h"
#include "pools.h"
#include "subscriber.h"
#include "util.h"

#define SUB_MAX_ROWS 1000 /* sessions and ports listed (all are counted) */

struct sub_walk {
	const struct ctl_request *req;
	uint32_t addr;                 /* network order */
	uint64_t sessions[PP_MAX];
	uint64_t n_sessions;
	struct ns_session rows[SUB_MAX_ROWS];
	uint32_t n_rows;
	struct { struct ns_port_key k; struct ns_port_val v; } ports[SUB_MAX_ROWS];
	uint32_t n_ports;
	uint64_t ports_in_use, ports_held;
	struct ns_paired_key pk[NS_MAX_POOLS];
	struct ns_paired_val pv[NS_MAX_POOLS];
	uint32_t n_paired;
};

static void on_session(const void *key, const void *val, void *arg)
{
	const struct ns_session *s = val;
	struct sub_walk *w = arg;

	(void)key;
	if (!ctl_session_matches(w->req, s))
		return;
	w->sessions[pool_proto_index(s->in_key.proto)]++;
	w->n_sessions++;
	if (w->n_rows < SUB_MAX_ROWS)
		w->rows[w->n_rows++] = *s;
}

static void on_port(const void *key, const void *val, void *arg)
{
	const struct ns_port_val *v = val;
	struct sub_walk *w = arg;

	if (v->in_addr != w->addr)
		return;
	if (v->flags & NS_PORT_F_HOLD)
		w->ports_held++;
	else
		w->ports_in_use++;
	if (w->n_ports < SUB_MAX_ROWS) {
		memcpy(&w->ports[w->n_ports].k, key, sizeof(struct ns_port_key));
		w->ports[w->n_ports++].v = *v;
	}
}

static void on_paired(const void *key, const void *val, void *arg)
{
	const struct ns_paired_key *k = key;
	struct sub_walk *w = arg;

	if (k->in_addr != w->addr || w->n_paired >= NS_MAX_POOLS)
		return;
	w->pk[w->n_paired] = *k;
	memcpy(&w->pv[w->n_paired++], val, sizeof(struct ns_paired_val));
}

static const char *pool_of(const struct ns_config *c, unsigned int id)
{
	return id < c->n_pools && id < NS_MAX_POOLS ? c->pool_names[id] : "-";
}

static void sub_json(struct ctl_json *j, const struct ns_config *c, const struct sub_walk *w)
{
	char ip[INET_ADDRSTRLEN];

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "subscriber", ns_fmt_ip(w->addr, ip, sizeof(ip)));
	ctl_json_key(j, "sessions");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "total", w->n_sessions);
	for (int i = 0; i < PP_MAX; i++)
		ctl_json_kv_uint(j, pp_names[i], w->sessions[i]);
	ctl_json_key(j, "list");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < w->n_rows; i++) {
		const struct ns_session *s = &w->rows[i];

		ctl_json_start_object(j);
		ctl_json_kv_string(j, "proto", ns_proto_name(s->in_key.proto));
		ctl_json_ep(j, "inside", s->in_key.saddr, s->in_key.sport);
		ctl_json_ep(j, "remote", s->in_key.daddr, s->in_key.dport);
		ctl_json_ep(j, "nat", s->out_key.daddr, s->out_key.dport);
		ctl_json_kv_string(j, "state", ns_tcp_state_name(s->tcp_state));
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	ctl_json_end_object(j);
	ctl_json_key(j, "ports");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "in_use", w->ports_in_use);
	ctl_json_kv_uint(j, "held", w->ports_held);
	ctl_json_key(j, "list");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < w->n_ports; i++) {
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "proto", ns_proto_name(w->ports[i].k.proto));
		ctl_json_ep(j, "nat", w->ports[i].k.addr, w->ports[i].k.port);
		ctl_json_kv_uint(j, "inside_port", ntohs(w->ports[i].v.in_port));
		ctl_json_kv_string(j, "pool", pool_of(c, w->ports[i].v.pool_id));
		ctl_json_kv_string(j, "status",
				   w->ports[i].v.flags & NS_PORT_F_HOLD ? "held" : "in_use");
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	ctl_json_end_object(j);
	ctl_json_key(j, "paired");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < w->n_paired; i++) {
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "pool", pool_of(c, w->pk[i].pool_id));
		ctl_json_kv_string(j, "addr", ns_fmt_ip(w->pv[i].out_addr, ip, sizeof(ip)));
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	/* natsync allocates ports one at a time: a subscriber holds no block */
	ctl_json_key(j, "port_blocks");
	ctl_json_start_array(j);
	ctl_json_end_array(j);
	ctl_json_end_object(j);
}

static void sub_text(FILE *f, const struct ns_config *c, const struct sub_walk *w)
{
	char ip[INET_ADDRSTRLEN], a[32], b[32], n[32];

	fprintf(f, "subscriber     %s\n", ns_fmt_ip(w->addr, ip, sizeof(ip)));
	fprintf(f, "sessions       %llu (tcp %llu, udp %llu, icmp %llu, other %llu)\n",
		(unsigned long long)w->n_sessions, (unsigned long long)w->sessions[PP_TCP],
		(unsigned long long)w->sessions[PP_UDP], (unsigned long long)w->sessions[PP_ICMP],
		(unsigned long long)w->sessions[PP_OTHER]);
	if (!w->n_paired)
		fprintf(f, "paired         none\n");
	for (uint32_t i = 0; i < w->n_paired; i++)
		fprintf(f, "paired         %s (pool %s)\n",
			ns_fmt_ip(w->pv[i].out_addr, ip, sizeof(ip)), pool_of(c, w->pk[i].pool_id));
	fprintf(f, "NAT ports      %llu in use, %llu held\n", (unsigned long long)w->ports_in_use,
		(unsigned long long)w->ports_held);
	for (uint32_t i = 0; i < w->n_ports; i++)
		fprintf(f, "  %-5s %-21s inside port %-5u pool %-12s %s\n",
			ns_proto_name(w->ports[i].k.proto),
			ctl_fmt_ep(w->ports[i].k.addr, w->ports[i].k.port, a, sizeof(a)),
			ntohs(w->ports[i].v.in_port), pool_of(c, w->ports[i].v.pool_id),
			w->ports[i].v.flags & NS_PORT_F_HOLD ? "held" : "in use");
	fprintf(f, "port blocks    none (ports are allocated one at a time)\n");
	for (uint32_t i = 0; i < w->n_rows; i++) {
		const struct ns_session *s = &w->rows[i];

		fprintf(f, "  %-5s %-21s -> %-21s as %-21s %s\n", ns_proto_name(s->in_key.proto),
			ctl_fmt_ep(s->in_key.saddr, s->in_key.sport, a, sizeof(a)),
			ctl_fmt_ep(s->in_key.daddr, s->in_key.dport, b, sizeof(b)),
			ctl_fmt_ep(s->out_key.daddr, s->out_key.dport, n, sizeof(n)),
			ns_tcp_state_name(s->tcp_state));
	}
	if (w->n_sessions > w->n_rows)
		fprintf(f, "  (%llu sessions not listed: show sessions src=%s)\n",
			(unsigned long long)(w->n_sessions - w->n_rows), ip);
}

/* show subscriber between slices. */
struct sub_cont {
	struct ctl_request r;
	struct sub_walk w;
	struct ns_walk_seq q;
};

static void sub_cont_free(void *p)
{
	struct sub_cont *sc = p;

	ns_walk_seq_fini(&sc->q);
	free(sc);
}

int ns_subscriber_ctl(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		      void *arg)
{
	struct sub_cont *sc = out->cont;
	char err[CTL_ERR_MAX];
	int ret;

	(void)arg;
	if (!sc) {
		if (req->src_mask != 0xffffffffu)
			return ctl_out_error(out, "show subscriber: one address, not a prefix (for "
					     "prefixes: show sessions src=A/N)");
		if (ns_map_check(d->fd.sessions, NS_MAP_SESSIONS, sizeof(struct ns_tuple),
				 sizeof(struct ns_session), err, sizeof(err)) ||
		    ns_map_check(d->fd.ports, NS_MAP_PORTS, sizeof(struct ns_port_key),
				 sizeof(struct ns_port_val), err, sizeof(err)) ||
		    ns_map_check(d->fd.paired, NS_MAP_PAIRED, sizeof(struct ns_paired_key),
				 sizeof(struct ns_paired_val), err, sizeof(err)))
			return ctl_out_error(out, "%s", err);
		sc = calloc(1, sizeof(*sc));
		if (!sc)
			return ctl_out_error(out, "out of memory");
		out->cont = sc;
		out->cont_free = sub_cont_free;
		sc->r = *req;
		sc->w.req = &sc->r;
		sc->w.addr = req->src_addr;
		ns_walk_seq_add(&sc->q, d->fd.sessions, sizeof(struct ns_tuple),
				sizeof(struct ns_session), on_session, &sc->w, NS_MAP_SESSIONS);
		ns_walk_seq_add(&sc->q, d->fd.ports, sizeof(struct ns_port_key),
				sizeof(struct ns_port_val), on_port, &sc->w, NS_MAP_PORTS);
		ns_walk_seq_add(&sc->q, d->fd.paired, sizeof(struct ns_paired_key),
				sizeof(struct ns_paired_val), on_paired, &sc->w, NS_MAP_PAIRED);
	}
	ret = ns_walk_seq_step(&sc->q, out->deadline);
	if (ret < 0)
		return ctl_out_error(out, "show subscriber: reading %s: %s", sc->q.name,
				     strerror(-ret));
	if (!ret)
		return CTL_MORE;
	if (out->j)
		sub_json(out->j, &d->conf, &sc->w);
	else
		sub_text(out->f, &d->conf, &sc->w);
	return 0;
}
