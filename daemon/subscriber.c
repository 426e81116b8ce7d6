// SPDX-License-Identifier: GPL-2.0
/* subscriber.c - show subscriber ADDR (see subscriber.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pba.h"
#include "control.h"
#include "daemon.h"
#include "events.h"
#include "mapwalk.h"
#include "pools.h"
#include "subscriber.h"
#include "util.h"

#define SUB_MAX_ROWS 1000 /* sessions and ports listed (all are counted) */
#define SUB_MAX_BLOCKS 256 /* port blocks listed */

/* One port block of the subscriber: from ns_pba_blk, or computed
 * (deterministic pool: no allocation time). */
struct sub_block {
	__be32 addr;
	uint32_t block;
	uint8_t pool_id;
	bool det;
	uint64_t alloc_ns;   /* !det */
	uint64_t active_ns;  /* newest last_seen of its sessions; 0: none */
};

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
	const struct ns_config *conf;
	struct sub_block blocks[SUB_MAX_BLOCKS];
	uint32_t n_blocks;
	uint64_t blocks_total;
};

/* The block of w that session s's NAT port lies in, if any. */
static struct sub_block *block_of(struct sub_walk *w, const struct ns_session *s)
{
	for (uint32_t i = 0; i < w->n_blocks; i++) {
		struct sub_block *b = &w->blocks[i];
		const struct ns_pool_pba *c = &w->conf->pool_pba[b->pool_id];
		uint32_t first = ns_pba_block_first(c, b->block), port = ntohs(s->out_key.dport);

		if (b->pool_id == s->pool_id && b->addr == s->out_key.daddr && port >= first &&
		    port < first + c->block_size)
			return b;
	}
	return NULL;
}

static void add_block(struct sub_walk *w, __be32 addr, uint32_t blk, uint8_t pool_id, bool det,
		      uint64_t alloc_ns)
{
	w->blocks_total++;
	if (w->n_blocks < SUB_MAX_BLOCKS)
		w->blocks[w->n_blocks++] = (struct sub_block){ .addr = addr, .block = blk,
			.pool_id = pool_id, .det = det, .alloc_ns = alloc_ns };
}

static void on_block(const void *key, const void *val, void *arg)
{
	const struct ns_pba_blk_key *k = key;
	const struct ns_pba_blk_val *v = val;
	struct sub_walk *w = arg;

	if (v->in_addr != w->addr || k->pool_id >= w->conf->n_pools ||
	    !w->conf->pool_pba[k->pool_id].block_size)
		return;
	add_block(w, k->addr, k->block, k->pool_id, false, v->alloc_ns);
}

/* The subscriber's blocks in the deterministic pools (RFC 7422): a
 * function of its address, kept in no map. */
static void det_blocks(struct sub_walk *w)
{
	const struct ns_config *c = w->conf;

	for (uint32_t i = 0; i < c->n_pools && i < NS_MAX_POOLS; i++) {
		const struct ns_pool_pba *p = &c->pool_pba[i];
		uint32_t idx, blk;

		if (!p->block_size || !(p->flags & NS_PBA_F_DETERMINISTIC))
			continue;
		for (uint32_t k = 0; k < p->max_blocks; k++) {
			if (ns_pba_det_block(p, &c->pools[i], ntohl(w->addr), k, &idx, &blk))
				break;
			add_block(w, htonl(ns_pool_addr_at(&c->pools[i], idx)), blk, (uint8_t)i,
				  true, 0);
		}
	}
}

static void on_session(const void *key, const void *val, void *arg)
{
	const struct ns_session *s = val;
	struct sub_walk *w = arg;
	struct sub_block *b;

	(void)key;
	if (!ctl_session_matches(w->req, s))
		return;
	b = block_of(w, s);
	if (b && s->last_seen_ns > b->active_ns)
		b->active_ns = s->last_seen_ns;
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

/* The wall-clock time (UTC, ISO 8601) of monotonic instant ns. */
static const char *wall_of(uint64_t ns, uint64_t now, char *buf, size_t len)
{
	time_t t = time(NULL) - (time_t)ctl_secs_between(ns, now);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
	return buf;
}

static void sub_json(struct ctl_json *j, const struct ns_config *c, const struct sub_walk *w,
		     uint64_t now)
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
	ctl_json_key(j, "port_blocks");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "total", w->blocks_total);
	ctl_json_key(j, "list");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < w->n_blocks; i++) {
		const struct sub_block *b = &w->blocks[i];
		const struct ns_pool_pba *p = &c->pool_pba[b->pool_id];
		uint32_t first = ns_pba_block_first(p, b->block);
		char t[32];

		ctl_json_start_object(j);
		ctl_json_kv_string(j, "pool", pool_of(c, b->pool_id));
		ctl_json_kv_string(j, "addr", ns_fmt_ip(b->addr, ip, sizeof(ip)));
		ctl_json_kv_uint(j, "block", b->block);
		ctl_json_kv_uint(j, "first_port", first);
		ctl_json_kv_uint(j, "last_port", first + p->block_size - 1);
		ctl_json_kv_bool(j, "deterministic", b->det);
		if (b->det) {
			ctl_json_key(j, "allocated_at");
			ctl_json_null(j);
		} else {
			ctl_json_kv_string(j, "allocated_at", wall_of(b->alloc_ns, now, t, sizeof(t)));
			ctl_json_kv_uint(j, "age_s", ctl_secs_between(b->alloc_ns, now));
		}
		if (b->active_ns) {
			ctl_json_kv_string(j, "last_active_at",
					   wall_of(b->active_ns, now, t, sizeof(t)));
			ctl_json_kv_uint(j, "idle_s", ctl_secs_between(b->active_ns, now));
		} else {
			ctl_json_key(j, "last_active_at");
			ctl_json_null(j);
		}
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	ctl_json_end_object(j);
	ctl_json_end_object(j);
}

static void sub_text(FILE *f, const struct ns_config *c, const struct sub_walk *w, uint64_t now)
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
	if (!w->blocks_total)
		fprintf(f, "port blocks    none\n");
	else
		fprintf(f, "port blocks    %llu\n", (unsigned long long)w->blocks_total);
	for (uint32_t i = 0; i < w->n_blocks; i++) {
		const struct sub_block *bl = &w->blocks[i];
		const struct ns_pool_pba *p = &c->pool_pba[bl->pool_id];
		uint32_t first = ns_pba_block_first(p, bl->block);
		char t1[32], t2[32];

		fprintf(f, "  %-15s ports %5u-%-5u pool %-12s allocated %s last active %s\n",
			ns_fmt_ip(bl->addr, a, sizeof(a)), first, first + p->block_size - 1,
			pool_of(c, bl->pool_id),
			bl->det ? "deterministic" : wall_of(bl->alloc_ns, now, t1, sizeof(t1)),
			bl->active_ns ? wall_of(bl->active_ns, now, t2, sizeof(t2)) : "-");
	}
	if (w->blocks_total > w->n_blocks)
		fprintf(f, "  (%llu blocks not listed)\n",
			(unsigned long long)(w->blocks_total - w->n_blocks));
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
	struct ctl_walk cw;
	struct sub_walk w;
};

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
		sc = ctl_walk_new(out, req, sizeof(*sc), NULL);
		if (!sc)
			return -1;
		sc->w.req = &sc->cw.r;
		sc->w.addr = req->src_addr;
		sc->w.conf = &d->conf;
		det_blocks(&sc->w);
		/* the blocks first: the sessions walk finds their last activity */
		ns_walk_seq_add(&sc->cw.q, d->fd.pba_blk, sizeof(struct ns_pba_blk_key),
				sizeof(struct ns_pba_blk_val), on_block, &sc->w, NS_MAP_PBA_BLK);
		ns_walk_seq_add(&sc->cw.q, d->fd.sessions, sizeof(struct ns_tuple),
				sizeof(struct ns_session), on_session, &sc->w, NS_MAP_SESSIONS);
		ns_walk_seq_add(&sc->cw.q, d->fd.ports, sizeof(struct ns_port_key),
				sizeof(struct ns_port_val), on_port, &sc->w, NS_MAP_PORTS);
		ns_walk_seq_add(&sc->cw.q, d->fd.paired, sizeof(struct ns_paired_key),
				sizeof(struct ns_paired_val), on_paired, &sc->w, NS_MAP_PAIRED);
	}
	ret = ctl_walk_step(out, &sc->cw, "show subscriber: ");
	if (ret)
		return ret;
	if (out->j)
		sub_json(out->j, &d->conf, &sc->w, ns_now());
	else
		sub_text(out->f, &d->conf, &sc->w, ns_now());
	return 0;
}
