// SPDX-License-Identifier: GPL-2.0
/*
 * control.c - the control socket server and the built-in "show" commands
 * (see control.h for the contract, ctlproto.h for the protocol).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include "control.h"
#include "counters.h"
#include "daemon.h"
#include "events.h"
#include "frag.h"
#include "synhold.h"
#include "aging.h"
#include "loader.h"
#include "mapmem.h"
#include "mapwalk.h"
#include "pools.h"
#include "log.h"
#include "util.h"

#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull
#define CTL_SWEEP_MS 500          /* how often deadlines are checked */

enum client_state { CL_FREE = 0, CL_READ, CL_WORK, CL_WRITE };

/* A request being answered over several slices (CL_WORK). */
struct ctl_work {
	struct ctl_request req;
	struct ctl_out out;
	struct ctl_json j;
	char *buf;                   /* out.f's memstream */
	size_t blen;
};

struct ctl_client {
	int fd;
	enum client_state state;
	uint64_t deadline_ns;
	size_t in_len;
	char in[CTL_MAX_LINE];
	char *out;
	size_t out_len, out_off;
	struct ctl_work *work;       /* CL_WORK */
};

struct ctl_handler_slot {
	ns_ctl_handler fn;
	void *arg;
};

struct ns_control {
	struct ns_daemon *d;
	int lfd;
	int kfd;                     /* eventfd: the next slice of CL_WORK requests */
	uint64_t slices;             /* handler calls that returned CTL_MORE */
	int timer_fd;                /* deadline sweep, only while clients exist */
	unsigned int n_clients;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;                   /* identity of the socket file we bound */
	ino_t ino;
	struct ctl_client cl[CTL_MAX_CLIENTS];
	struct ctl_handler_slot h[CTL_CMD_MAX];
};

int ctl_out_error(struct ctl_out *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->err, sizeof(out->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- small formatting helpers ------------------------------------------ */

const char *ctl_fmt_ep(uint32_t be_addr, uint16_t be_port, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	snprintf(buf, len, "%s:%u", ns_fmt_ip(be_addr, ip, sizeof(ip)), ntohs(be_port));
	return buf;
}

void ctl_json_ep(struct ctl_json *j, const char *key, uint32_t be_addr, uint16_t be_port)
{
	char ip[INET_ADDRSTRLEN];

	ctl_json_key(j, key);
	ctl_json_start_object(j);
	ctl_json_kv_string(j, "addr", ns_fmt_ip(be_addr, ip, sizeof(ip)));
	ctl_json_kv_uint(j, "port", ntohs(be_port));
	ctl_json_end_object(j);
}

static const char *svc_name(const struct ns_config *c, unsigned int idx)
{
	if (idx < c->n_svcs && idx < NS_MAX_SVC_SETS)
		return c->svc_conf[idx].name;
	return NULL;
}

static const char *pool_name(const struct ns_config *c, unsigned int idx)
{
	if (idx < c->n_pools && idx < NS_MAX_POOLS)
		return c->pool_names[idx];
	return NULL;
}

/* A name, or null when the index is not in the config (e.g. pool 0xff). */
static void json_name(struct ctl_json *j, const char *key, const char *name)
{
	ctl_json_key(j, key);
	if (name)
		ctl_json_string(j, name);
	else
		ctl_json_null(j);
}

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

/* ---- show sessions ------------------------------------------------------ */

struct sess_walk {
	struct ns_daemon *d;
	const struct ctl_request *req;
	struct ctl_out *out;
	uint64_t now;
	uint64_t matched, shown, total;
};

static uint64_t secs_between(uint64_t from, uint64_t to)
{
	return to > from ? (to - from) / NSEC_PER_SEC : 0;
}

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
	json_name(j, "svc", svc_name(c, s->svc_set));
	ctl_json_kv_string(j, "nat_type", ns_nat_type_name(s->nat_type));
	json_name(j, "pool", pool_name(c, s->pool_id));
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
	const char *svc = svc_name(c, s->svc_set);

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
	age = secs_between(s->created_ns, w->now);
	idle = secs_between(s->last_seen_ns, w->now);
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
	struct ctl_request r;
	struct sess_walk w;
	struct ns_walk_seq q;
};

static void sess_cont_free(void *p)
{
	struct sess_cont *sc = p;

	ns_walk_seq_fini(&sc->q);
	free(sc);
}

static int show_sessions(struct ns_daemon *d, const struct ctl_request *req,
			 struct ctl_out *out, void *arg)
{
	struct sess_cont *sc = out->cont;
	int ret;

	(void)arg;
	if (!sc) {
		sc = calloc(1, sizeof(*sc));
		if (!sc)
			return ctl_out_error(out, "out of memory");
		out->cont = sc;
		out->cont_free = sess_cont_free;
		sc->r = *req;
		sc->w = (struct sess_walk){ .d = d, .req = &sc->r, .out = out, .now = ns_now() };
		if (ctl_sessions_ready(d, &sc->r, out))
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
		ns_walk_seq_add(&sc->q, d->fd.sessions, sizeof(struct ns_tuple),
				sizeof(struct ns_session), session_visit, &sc->w, NS_MAP_SESSIONS);
		ns_walk_seq_add(&sc->q, d->fd.nat64_sess, sizeof(struct ns_tuple6),
				sizeof(struct ns_session), session64_visit, &sc->w,
				NS_MAP_NAT64_SESS);
	}
	ret = ns_walk_seq_step(&sc->q, out->deadline);
	if (ret < 0)
		return ctl_out_error(out, "reading %s: %s", sc->q.name, strerror(-ret));
	if (!ret)
		return CTL_MORE;
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

/* ---- show pools ---------------------------------------------------------- */

static void fmt_range(const struct ns_range *r, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	ns_fmt_ip(htonl(r->first), a, sizeof(a));
	if (r->count <= 1) {
		snprintf(buf, len, "%s", a);
		return;
	}
	ns_fmt_ip(htonl(r->first + r->count - 1), b, sizeof(b));
	snprintf(buf, len, "%s-%s", a, b);
}

static void fmt_ports(const struct ns_pool *p, char *buf, size_t len)
{
	if (p->flags & NS_POOL_F_PORT_AUTO)
		snprintf(buf, len, "automatic (512-1023, 1024-65535)");
	else if (!pool_ports_per_addr(p))
		snprintf(buf, len, "none (address only)");
	else
		snprintf(buf, len, "%u-%u", p->port_lo, p->port_hi);
}

static void pool_json(struct ctl_json *j, const struct ns_config *c, const struct pool_usage *u,
		      int id)
{
	const struct ns_pool *p = &c->pools[id];
	uint64_t cap = pool_capacity(p), pm = pool_usage_permille(u, id, cap);
	char buf[64];

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "name", c->pool_names[id]);
	ctl_json_kv_uint(j, "id", (uint64_t)id);
	ctl_json_key(j, "ranges");
	ctl_json_start_array(j);
	for (uint32_t r = 0; r < p->n_ranges && r < NS_POOL_MAX_RANGES; r++) {
		fmt_range(&p->ranges[r], buf, sizeof(buf));
		ctl_json_string(j, buf);
	}
	ctl_json_end_array(j);
	ctl_json_kv_uint(j, "addresses", p->n_addrs);
	ctl_json_key(j, "ports");
	ctl_json_start_object(j);
	ctl_json_kv_string(j, "mode", p->flags & NS_POOL_F_PORT_AUTO ? "automatic"
				      : pool_ports_per_addr(p)   ? "range"
								 : "none");
	ctl_json_kv_uint(j, "low", p->port_lo);
	ctl_json_kv_uint(j, "high", p->port_hi);
	ctl_json_kv_uint(j, "per_address", pool_ports_per_addr(p));
	ctl_json_end_object(j);
	ctl_json_kv_string(j, "port_allocation",
			   p->flags & NS_POOL_F_RANDOM_PORT ? "random" : "sequential");
	ctl_json_kv_string(j, "address_allocation",
			   p->flags & NS_POOL_F_ROUND_ROBIN ? "round-robin" : "default");
	ctl_json_kv_uint(j, "capacity_per_protocol", cap);
	ctl_json_key(j, "in_use");
	ctl_json_start_object(j);
	for (int i = 0; i < PP_MAX; i++)
		ctl_json_kv_uint(j, pp_names[i], u->in_use[id][i]);
	ctl_json_end_object(j);
	ctl_json_key(j, "held");
	ctl_json_start_object(j);
	for (int i = 0; i < PP_MAX; i++)
		ctl_json_kv_uint(j, pp_names[i], u->held[id][i]);
	ctl_json_end_object(j);
	ctl_json_kv_uint(j, "usage_permille", pm);
	ctl_json_kv_uint(j, "subscribers", u->subscribers[id]);
	ctl_json_end_object(j);
}

static void pool_text(FILE *f, const struct ns_config *c, const struct pool_usage *u, int id)
{
	const struct ns_pool *p = &c->pools[id];
	uint64_t cap = pool_capacity(p), pm = pool_usage_permille(u, id, cap);
	char buf[64];

	fprintf(f, "pool %s\n  addresses     ", c->pool_names[id]);
	for (uint32_t r = 0; r < p->n_ranges && r < NS_POOL_MAX_RANGES; r++) {
		fmt_range(&p->ranges[r], buf, sizeof(buf));
		fprintf(f, "%s%s", r ? ", " : "", buf);
	}
	fmt_ports(p, buf, sizeof(buf));
	fprintf(f, " (%u)\n  ports         %s\n", p->n_addrs, buf);
	fprintf(f, "  allocation    port %s, address %s\n",
		p->flags & NS_POOL_F_RANDOM_PORT ? "random" : "sequential",
		p->flags & NS_POOL_F_ROUND_ROBIN ? "round-robin" : "default");
	fprintf(f, "  capacity      %llu per protocol\n", (unsigned long long)cap);
	fprintf(f, "  in use        tcp %llu, udp %llu, icmp %llu, other %llu\n",
		(unsigned long long)u->in_use[id][PP_TCP], (unsigned long long)u->in_use[id][PP_UDP],
		(unsigned long long)u->in_use[id][PP_ICMP],
		(unsigned long long)u->in_use[id][PP_OTHER]);
	fprintf(f, "  held          tcp %llu, udp %llu, icmp %llu, other %llu\n",
		(unsigned long long)u->held[id][PP_TCP], (unsigned long long)u->held[id][PP_UDP],
		(unsigned long long)u->held[id][PP_ICMP], (unsigned long long)u->held[id][PP_OTHER]);
	fprintf(f, "  usage         %llu.%llu %%\n", (unsigned long long)(pm / 10),
		(unsigned long long)(pm % 10));
	fprintf(f, "  subscribers   %llu\n", (unsigned long long)u->subscribers[id]);
}

/* show pools between slices. */
struct pools_cont {
	struct ctl_request r;
	struct pool_usage u;
	struct ns_walk_seq q;
};

static void pools_cont_free(void *p)
{
	struct pools_cont *pc = p;

	ns_walk_seq_fini(&pc->q);
	free(pc);
}

static int show_pools(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		      void *arg)
{
	struct pools_cont *pc = out->cont;
	uint64_t cnt[NS_CNT_MAX];
	struct pool_usage *u;
	char err[CTL_ERR_MAX];
	int ret;

	(void)arg;
	if (!pc) {
		pc = calloc(1, sizeof(*pc));
		if (!pc)
			return ctl_out_error(out, "out of memory");
		out->cont = pc;
		out->cont_free = pools_cont_free;
		pc->r = *req;
		if (ctl_request_resolve(&pc->r, &d->conf, err, sizeof(err)) ||
		    pools_collect_begin(d->fd.ports, d->fd.paired, &pc->u, &pc->q, err,
					sizeof(err)))
			return ctl_out_error(out, "%s", err);
	}
	ret = ns_walk_seq_step(&pc->q, out->deadline);
	if (ret < 0)
		return ctl_out_error(out, "reading NAT bindings: %s", strerror(-ret));
	if (!ret)
		return CTL_MORE;
	u = &pc->u;
	/* Failures are counted globally by the fast path, not per pool. */
	if (ns_counters_read(d->fd.counters, cnt))
		memset(cnt, 0, sizeof(cnt));
	if (out->j) {
		ctl_json_start_object(out->j);
		ctl_json_key(out->j, "pools");
		ctl_json_start_array(out->j);
	}
	for (uint32_t i = 0; i < d->conf.n_pools && i < NS_MAX_POOLS; i++) {
		if (pc->r.pool_idx >= 0 && (int)i != pc->r.pool_idx)
			continue;
		if (out->j)
			pool_json(out->j, &d->conf, u, (int)i);
		else
			pool_text(out->f, &d->conf, u, (int)i);
	}
	if (out->j) {
		ctl_json_end_array(out->j);
		ctl_json_kv_uint(out->j, "allocation_failures", cnt[NS_CNT_DROP_POOL_EXHAUSTED]);
		ctl_json_end_object(out->j);
	} else {
		if (!d->conf.n_pools)
			fprintf(out->f, "no pools configured\n");
		fprintf(out->f, "allocation failures (all pools): %llu\n",
			(unsigned long long)cnt[NS_CNT_DROP_POOL_EXHAUSTED]);
	}
	return 0;
}

/* ---- show counters ------------------------------------------------------- */

static int show_counters(struct ns_daemon *d, const struct ctl_request *req,
			 struct ctl_out *out, void *arg)
{
	uint64_t cnt[NS_CNT_MAX];
	int ret;

	(void)req;
	(void)arg;
	ret = ns_counters_read(d->fd.counters, cnt);
	if (ret)
		return ctl_out_error(out, "reading %s: %s", NS_MAP_COUNTERS, strerror(-ret));
	if (out->j) {
		ctl_json_start_object(out->j);
		ctl_json_key(out->j, "counters");
		ctl_json_start_object(out->j);
		for (int i = 0; i < NS_CNT_MAX; i++)
			ctl_json_kv_uint(out->j, ns_counter_name(i), cnt[i]);
		ctl_json_end_object(out->j);
		ctl_json_key(out->j, "daemon");
		ctl_json_start_object(out->j);
		for (size_t i = 0; i < ns_n_daemon_stat_fields; i++)
			ctl_json_kv_uint(out->j, ns_daemon_stat_fields[i].name, ns_daemon_stat_value(&d->st, i));
		ctl_json_end_object(out->j);
		ctl_json_end_object(out->j);
		return 0;
	}
	fprintf(out->f, "fast path (all CPUs)\n");
	for (int i = 0; i < NS_CNT_MAX; i++)
		fprintf(out->f, "  %-22s %llu\n", ns_counter_name(i), (unsigned long long)cnt[i]);
	fprintf(out->f, "daemon\n");
	for (size_t i = 0; i < ns_n_daemon_stat_fields; i++)
		fprintf(out->f, "  %-22s %llu\n", ns_daemon_stat_fields[i].name,
			(unsigned long long)ns_daemon_stat_value(&d->st, i));
	return 0;
}

/* ---- show status / show config ------------------------------------------- */

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };

static const char *log_level_name(int l)
{
	return l >= 0 && (size_t)l < NS_ARRAY_SIZE(log_level_names) ? log_level_names[l] : "?";
}

static void redundancy_json(struct ctl_json *j, const struct ns_redundancy_conf *r)
{
	char ip[INET_ADDRSTRLEN];

	ctl_json_key(j, "redundancy");
	ctl_json_start_object(j);
	ctl_json_kv_bool(j, "enabled", r->enabled);
	if (r->enabled) {
		ctl_json_kv_string(j, "local", ns_fmt_ip(r->local_addr.s_addr, ip, sizeof(ip)));
		ctl_json_kv_string(j, "peer", ns_fmt_ip(r->peer_addr.s_addr, ip, sizeof(ip)));
		ctl_json_kv_uint(j, "port", r->port);
		ctl_json_kv_string(j, "device", r->device);
		ctl_json_kv_uint(j, "replication_threshold_s", r->replication_threshold);
		ctl_json_kv_int(j, "priority", r->priority);
		ctl_json_kv_bool(j, "preempt", r->preempt);
	}
	ctl_json_end_object(j);
}

static void redundancy_text(FILE *f, const struct ns_redundancy_conf *r)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	if (!r->enabled) {
		fprintf(f, "redundancy     disabled\n");
		return;
	}
	fprintf(f, "redundancy     local %s, peer %s port %u%s%s, replication after %u s\n",
		ns_fmt_ip(r->local_addr.s_addr, a, sizeof(a)),
		ns_fmt_ip(r->peer_addr.s_addr, b, sizeof(b)), r->port,
		r->device[0] ? " via " : "", r->device, r->replication_threshold);
}

static const char *iface_svc(const struct ns_config *c, const struct ns_iface_conf *i)
{
	const char *n = i->svc >= 0 ? svc_name(c, (unsigned int)i->svc) : NULL;

	return n ? n : "-";
}

/*
 * What the kernel says is attached on an interface, asked in the daemon's
 * own namespace, so "auto" shows whether native or generic XDP won and a
 * program detached behind our back shows as "none".
 */
static const char *iface_attached(const struct ns_iface_conf *ic)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = NS_TC_HANDLE, .priority = NS_TC_PRIO);
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);
	int ifindex = (int)if_nametoindex(ic->name);

	if (!ifindex)
		return "missing";
	if (ic->mode == NS_ATTACH_TC) {
		hook.ifindex = ifindex;
		return bpf_tc_query(&hook, &tc) ? "none" : "tc";
	}
	if (bpf_xdp_query(ifindex, 0, &xq))
		return "unknown";
	switch (xq.attach_mode) {
	case XDP_ATTACHED_DRV: return "native";
	case XDP_ATTACHED_SKB: return "generic";
	case XDP_ATTACHED_HW: return "offload";
	case XDP_ATTACHED_MULTI: return "multi";
	default: return "none";
	}
}

/* The config bank the fast path uses now (ns_config's live slot), -1 if
 * the map cannot be read. */
static int config_bank(const struct ns_daemon *d)
{
	struct ns_cfg live;
	uint32_t k = NS_CFG_SLOT_LIVE;

	if (d->fd.config < 0 || bpf_map_lookup_elem(d->fd.config, &k, &live))
		return -1;
	return (int)(live.bank & 1);
}

#define STATUS_MAPS 32

/* Kernel memory of every map (mapmem.h), for show status. */
static void maps_json(struct ctl_json *j, struct ns_daemon *d)
{
	struct ns_map_mem m[STATUS_MAPS];
	long long total;
	int n = ns_map_memory(d, m, STATUS_MAPS, &total);

	ctl_json_key(j, "maps");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "count", (uint64_t)n);
	ctl_json_kv_uint(j, "kernel_bytes", (uint64_t)total);
	ctl_json_kv_uint(j, "bytes_per_session",
			 d->conf.max_sessions ? (uint64_t)total / d->conf.max_sessions : 0);
	ctl_json_key(j, "each");
	ctl_json_start_array(j);
	for (int i = 0; i < n && i < STATUS_MAPS; i++) {
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "name", m[i].name);
		ctl_json_kv_uint(j, "max_entries", m[i].max_entries);
		ctl_json_kv_uint(j, "kernel_bytes", (uint64_t)m[i].bytes);
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	ctl_json_end_object(j);
}

static void maps_text(FILE *f, struct ns_daemon *d)
{
	struct ns_map_mem m[STATUS_MAPS];
	long long total;
	int n = ns_map_memory(d, m, STATUS_MAPS, &total);

	fprintf(f, "maps           %d, %.1f MiB kernel memory, %llu B per session at max-sessions %u:",
		n, total / 1048576.0,
		d->conf.max_sessions ? (unsigned long long)total / d->conf.max_sessions : 0ull,
		d->conf.max_sessions);
	for (int i = 0; i < n && i < STATUS_MAPS; i++)
		fprintf(f, " %s %.1f", m[i].name, m[i].bytes / 1048576.0);
	fprintf(f, " (MiB)\n");
}

/* The event loop's stall statistics (loop.h), for show status. */
static void loop_json(struct ctl_json *j, const struct ns_loop *loop)
{
	struct ns_loop_stats st = { 0 };

	if (loop)
		loop_get_stats(loop, &st);
	ctl_json_key(j, "event_loop");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "callbacks", st.callbacks);
	ctl_json_kv_uint(j, "longest_stall_us", st.max_ns / 1000);
	ctl_json_kv_uint(j, "longest_stall_cpu_us", st.max_cpu_ns / 1000);
	ctl_json_kv_string(j, "longest_stall_in", st.max_name);
	ctl_json_key(j, "by_duration");
	ctl_json_start_object(j);
	for (int b = 0; b < NS_LOOP_BUCKETS; b++) {
		char name[32];

		if (b < NS_LOOP_BUCKETS - 1)
			snprintf(name, sizeof(name), "le_%u_us", NS_LOOP_BUCKET_US[b]);
		else
			snprintf(name, sizeof(name), "gt_%u_us", NS_LOOP_BUCKET_US[b - 1]);
		ctl_json_kv_uint(j, name, st.hist[b]);
	}
	ctl_json_end_object(j);
	ctl_json_end_object(j);
}

static void loop_text(FILE *f, const struct ns_loop *loop)
{
	struct ns_loop_stats st = { 0 };

	if (loop)
		loop_get_stats(loop, &st);
	fprintf(f, "event loop     longest stall %llu us (%s, %llu us of CPU) over %llu callbacks; "
		"by duration:", (unsigned long long)(st.max_ns / 1000),
		st.max_name[0] ? st.max_name : "none", (unsigned long long)(st.max_cpu_ns / 1000),
		(unsigned long long)st.callbacks);
	for (int b = 0; b < NS_LOOP_BUCKETS; b++) {
		if (b < NS_LOOP_BUCKETS - 1)
			fprintf(f, " <=%uus %llu", NS_LOOP_BUCKET_US[b], (unsigned long long)st.hist[b]);
		else
			fprintf(f, " >%uus %llu\n", NS_LOOP_BUCKET_US[b - 1],
				(unsigned long long)st.hist[b]);
	}
}

static void status_json(struct ns_daemon *d, struct ctl_json *j, uint64_t up)
{
	const struct ns_config *c = &d->conf;

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "node", c->node_name);
	ctl_json_kv_uint(j, "pid", (uint64_t)getpid());
	ctl_json_kv_uint(j, "abi_version", NS_ABI_VERSION);
	ctl_json_kv_string(j, "config", c->path);
	ctl_json_kv_string(j, "pin_path", c->pin_path);
	ctl_json_kv_string(j, "pin_dir", NS_PIN_SUBDIR);
	ctl_json_kv_uint(j, "uptime_s", up);
	ctl_json_kv_uint(j, "sessions", d->st.sessions_seen);
	ctl_json_kv_uint(j, "nat64_sessions", d->st.nat64_sessions_seen);
	ctl_json_kv_uint(j, "max_sessions", c->max_sessions);
	ctl_json_key(j, "aging");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "interval_ms", c->aging_interval_ms);
	ctl_json_kv_uint(j, "passes", d->st.aging_passes);
	ctl_json_kv_uint(j, "last_pass_us", d->st.aging_last_ns / 1000);
	ctl_json_kv_uint(j, "sessions_expired", d->st.sessions_expired);
	ctl_json_kv_uint(j, "bindings_live", d->st.bindings_live);
	ctl_json_kv_uint(j, "bindings_released", d->st.bindings_released);
	ctl_json_kv_string(j, "engine", ns_aging_engine(d));
	ctl_json_kv_string(j, "fallback", ns_aging_fallback(d) ? ns_aging_fallback(d) : "");
	ctl_json_kv_uint(j, "deferred", d->st.aging_deferred);
	ctl_json_kv_uint(j, "slice_entries", ns_aging_slice(d));
	ctl_json_kv_uint(j, "slices", d->st.aging_slices);
	ctl_json_kv_uint(j, "slice_max_us", d->st.aging_slice_max_ns / 1000);
	ctl_json_kv_uint(j, "slice_restarts", d->st.aging_slice_restarts);
	ctl_json_kv_uint(j, "unsliced_walks", d->st.aging_unsliced_walks);
	ctl_json_end_object(j);
	loop_json(j, d->loop);
	maps_json(j, d);
	ns_frag_status_json(d, j);
	ns_synhold_status_json(d, j);
	ctl_json_kv_uint(j, "events_logged", d->st.events_logged);
	ctl_json_kv_uint(j, "reloads", d->st.reloads);
	ctl_json_kv_uint(j, "reload_failures", d->st.reload_failures);
	ctl_json_kv_uint(j, "reloads_deferred", d->st.reloads_deferred);
	ctl_json_kv_int(j, "loop_nice", d->loop_nice);
	ctl_json_kv_int(j, "loop_nice_configured", d->conf.loop_nice);
	ctl_json_kv_int(j, "aging_cpu", d->aging_cpu);
	ctl_json_kv_int(j, "config_bank", config_bank(d));
	ctl_json_kv_uint(j, "config_flips", d->cfg_flips);
	redundancy_json(j, &c->red);
	ctl_json_key(j, "interfaces");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < c->n_ifaces && i < NS_MAX_IFACES; i++) {
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "name", c->ifaces[i].name);
		ctl_json_kv_string(j, "side", ctl_side_name((uint8_t)c->ifaces[i].side));
		ctl_json_kv_string(j, "svc", iface_svc(c, &c->ifaces[i]));
		ctl_json_kv_string(j, "attach_mode", ctl_attach_mode_name(c->ifaces[i].mode));
		ctl_json_kv_string(j, "attached", iface_attached(&c->ifaces[i]));
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	ctl_json_end_object(j);
}

static void status_text(struct ns_daemon *d, FILE *f, uint64_t up)
{
	const struct ns_config *c = &d->conf;

	fprintf(f, "node           %s\n", c->node_name);
	fprintf(f, "pid            %d\n", (int)getpid());
	fprintf(f, "config         %s\n", c->path);
	fprintf(f, "pin path       %s/%s\n", c->pin_path, NS_PIN_SUBDIR);
	fprintf(f, "uptime         %llud %02llu:%02llu:%02llu\n",
		(unsigned long long)(up / 86400), (unsigned long long)(up / 3600 % 24),
		(unsigned long long)(up / 60 % 60), (unsigned long long)(up % 60));
	fprintf(f, "sessions       %llu (at the last aging pass; max %u)\n",
		(unsigned long long)d->st.sessions_seen, c->max_sessions);
	if (c->n_nat64)
		fprintf(f, "nat64 sessions %llu (at the last aging pass)\n",
			(unsigned long long)d->st.nat64_sessions_seen);
	fprintf(f, "aging          every %u ms: %llu passes, last took %llu us, %llu sessions expired\n",
		c->aging_interval_ms, (unsigned long long)d->st.aging_passes,
		(unsigned long long)(d->st.aging_last_ns / 1000),
		(unsigned long long)d->st.sessions_expired);
	if (ns_aging_fallback(d))
		fprintf(f, "aging engine   batch walk: FALLBACK (%s)\n", ns_aging_fallback(d));
	else
		fprintf(f, "aging engine   in-kernel sweep (%llu records deferred)\n"
			"aging slices   %llu in the last cycle (%u entries at least, 0: unsliced), longest %llu us; "
			"%llu restarts, %llu unsliced walks\n",
			(unsigned long long)d->st.aging_deferred,
			(unsigned long long)d->st.aging_slices, ns_aging_slice(d),
			(unsigned long long)(d->st.aging_slice_max_ns / 1000),
			(unsigned long long)d->st.aging_slice_restarts,
			(unsigned long long)d->st.aging_unsliced_walks);
	loop_text(f, d->loop);
	maps_text(f, d);
	fprintf(f, "bindings       %llu live, %llu released\n",
		(unsigned long long)d->st.bindings_live, (unsigned long long)d->st.bindings_released);
	ns_frag_status_text(d, f);
	ns_synhold_status_text(d, f);
	fprintf(f, "events logged  %llu\n", (unsigned long long)d->st.events_logged);
	fprintf(f, "reloads        %llu (%llu failed, %llu deferred)\n",
		(unsigned long long)d->st.reloads, (unsigned long long)d->st.reload_failures,
		(unsigned long long)d->st.reloads_deferred);
	fprintf(f, "scheduling     event loop nice %d (configured %d), background threads nice %d",
		d->loop_nice, d->conf.loop_nice, NS_BG_NICE);
	if (d->aging_cpu >= 0)
		fprintf(f, "; aging walks on CPU %d, the event loop off it\n", d->aging_cpu);
	else
		fprintf(f, "; aging walks share the event loop's CPUs\n");
	fprintf(f, "config bank    %d in force (%llu flips)\n", config_bank(d),
		(unsigned long long)d->cfg_flips);
	redundancy_text(f, &c->red);
	fprintf(f, "interfaces\n");
	for (uint32_t i = 0; i < c->n_ifaces && i < NS_MAX_IFACES; i++)
		fprintf(f, "  %-16s %-8s svc %-16s mode %-8s attached %s\n", c->ifaces[i].name,
			ctl_side_name((uint8_t)c->ifaces[i].side), iface_svc(c, &c->ifaces[i]),
			ctl_attach_mode_name(c->ifaces[i].mode), iface_attached(&c->ifaces[i]));
}

static int show_status(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		       void *arg)
{
	uint64_t up = secs_between(d->started_ns, ns_now());

	(void)req;
	(void)arg;
	if (out->j)
		status_json(d, out->j, up);
	else
		status_text(d, out->f, up);
	return 0;
}

static const struct {
	const char *name;
	size_t off;
} timeout_fields[] = {
#define TO(f, n) { n, offsetof(struct ns_timeouts, f) }
	TO(tcp_syn, "tcp-syn"),     TO(tcp_established, "tcp-established"),
	TO(tcp_closing, "tcp-closing"), TO(tcp_time_wait, "tcp-time-wait"),
	TO(tcp_rst, "tcp-rst"),     TO(udp, "udp"),
	TO(icmp, "icmp"),           TO(other, "other"),
	TO(port_hold, "port-hold"), TO(binding, "binding"),
#undef TO
};

static uint32_t timeout_value(const struct ns_timeouts *t, size_t i)
{
	uint32_t v;

	memcpy(&v, (const char *)t + timeout_fields[i].off, sizeof(v));
	return v;
}

static void config_svc_json(struct ctl_json *j, const struct ns_config *c, uint32_t i)
{
	const struct ns_svc *s = &c->svcs[i];

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "name", c->svc_conf[i].name);
	ctl_json_kv_string(j, "inside", c->svc_conf[i].inside);
	ctl_json_kv_string(j, "outside", c->svc_conf[i].outside);
	ctl_json_kv_uint(j, "firewall_terms", s->fw_count);
	ctl_json_kv_uint(j, "nat_terms", s->nat_count);
	ctl_json_kv_bool(j, "session_logs", s->flags & NS_SVC_F_SYSLOG_SESSION);
	ctl_json_kv_bool(j, "nat_logs", s->flags & NS_SVC_F_SYSLOG_NAT);
	ctl_json_kv_bool(j, "replicate", c->svc_conf[i].replicate);
	ctl_json_end_object(j);
}

/* A stateful-nat64 term: "2001:db8:64::/48 -> 64:ff9b::/96 pool p64". */
static void nat64_term_strs(const struct ns_nat64_term *t, char *src, char *pref, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, t->src6, a, sizeof(a));
	snprintf(src, len, "%s/%u", a, t->src6_len);
	inet_ntop(AF_INET6, t->pref64, a, sizeof(a));
	snprintf(pref, len, "%s/%u", a, t->pref_len);
}

/* RFC 4787 mapping/filtering behaviour, as the config names it */
static const char *nat64_eim_name(unsigned int eim)
{
	return eim ? "endpoint-independent" : "address-and-port-dependent";
}

static void nat64_term_json(struct ctl_json *j, const struct ns_config *c,
			    const struct ns_nat64_term *t)
{
	char src[64], pref[64];

	nat64_term_strs(t, src, pref, sizeof(src));
	ctl_json_start_object(j);
	json_name(j, "rule", t->rule_idx < c->n_nat_rules ? c->nat_rule_names[t->rule_idx] : NULL);
	json_name(j, "svc", svc_name(c, t->svc_set));
	ctl_json_kv_string(j, "source", src);
	ctl_json_kv_string(j, "pref64", pref);
	json_name(j, "pool", pool_name(c, t->src_pool));
	ctl_json_kv_string(j, "mapping", nat64_eim_name(t->flags & NS_NAT_F_EIM));
	ctl_json_kv_string(j, "filtering", nat64_eim_name(t->flags & NS_NAT_F_EIF));
	ctl_json_end_object(j);
}

static void config_json(const struct ns_config *c, struct ctl_json *j)
{
	char fp[20];

	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)ns_config_fingerprint(c));
	ctl_json_start_object(j);
	ctl_json_kv_string(j, "path", c->path);
	ctl_json_kv_string(j, "fingerprint", fp);
	ctl_json_kv_string(j, "node", c->node_name);
	ctl_json_kv_string(j, "pin_path", c->pin_path);
	ctl_json_kv_string(j, "control_socket", c->control_socket);
	ctl_json_kv_string(j, "log_level", log_level_name(c->log_level));
	ctl_json_kv_string(j, "log_file", c->log_file);
	ctl_json_kv_bool(j, "log_syslog", c->log_syslog);
	ctl_json_kv_uint(j, "max_sessions", c->max_sessions);
	ctl_json_kv_uint(j, "aging_interval_ms", c->aging_interval_ms);
	ctl_json_kv_string(j, "attach_mode", ctl_attach_mode_name(c->attach_mode));
	ctl_json_key(j, "timeouts_s");
	ctl_json_start_object(j);
	for (size_t i = 0; i < NS_ARRAY_SIZE(timeout_fields); i++)
		ctl_json_kv_uint(j, timeout_fields[i].name, timeout_value(&c->timeouts, i));
	ctl_json_end_object(j);
	ctl_json_key(j, "pools");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < c->n_pools && i < NS_MAX_POOLS; i++)
		ctl_json_string(j, c->pool_names[i]);
	ctl_json_end_array(j);
	ctl_json_key(j, "service_sets");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < c->n_svcs && i < NS_MAX_SVC_SETS; i++)
		config_svc_json(j, c, i);
	ctl_json_end_array(j);
	ctl_json_kv_uint(j, "firewall_terms", c->n_fw);
	ctl_json_kv_uint(j, "nat_terms", c->n_nat);
	ctl_json_key(j, "nat64_terms");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < c->n_nat64 && i < NS_MAX_NAT64_TERMS; i++)
		nat64_term_json(j, c, &c->nat64[i]);
	ctl_json_end_array(j);
	redundancy_json(j, &c->red);
	ctl_json_end_object(j);
}

static void config_text(const struct ns_config *c, FILE *f)
{
	fprintf(f, "config         %s (fingerprint %016llx)\n", c->path,
		(unsigned long long)ns_config_fingerprint(c));
	fprintf(f, "node           %s\n", c->node_name);
	fprintf(f, "pin path       %s\n", c->pin_path);
	fprintf(f, "control socket %s\n", c->control_socket);
	fprintf(f, "log            level %s, file %s, syslog %s\n", log_level_name(c->log_level),
		c->log_file[0] ? c->log_file : "-", c->log_syslog ? "yes" : "no");
	fprintf(f, "max sessions   %u\n", c->max_sessions);
	fprintf(f, "aging          every %u ms\n", c->aging_interval_ms);
	fprintf(f, "attach mode    %s\n", ctl_attach_mode_name(c->attach_mode));
	fprintf(f, "timeouts (s)  ");
	for (size_t i = 0; i < NS_ARRAY_SIZE(timeout_fields); i++)
		fprintf(f, " %s %u", timeout_fields[i].name, timeout_value(&c->timeouts, i));
	fprintf(f, "\npools          %u:", c->n_pools);
	for (uint32_t i = 0; i < c->n_pools && i < NS_MAX_POOLS; i++)
		fprintf(f, " %s", c->pool_names[i]);
	fprintf(f, "\nservice sets   %u (%u firewall terms, %u NAT terms in all)\n", c->n_svcs,
		c->n_fw, c->n_nat);
	for (uint32_t i = 0; i < c->n_svcs && i < NS_MAX_SVC_SETS; i++)
		fprintf(f, "  %-16s inside %-10s outside %-10s fw %u, nat %u%s%s%s\n",
			c->svc_conf[i].name, c->svc_conf[i].inside, c->svc_conf[i].outside,
			c->svcs[i].fw_count, c->svcs[i].nat_count,
			c->svcs[i].flags & NS_SVC_F_SYSLOG_SESSION ? ", session-logs" : "",
			c->svcs[i].flags & NS_SVC_F_SYSLOG_NAT ? ", nat-logs" : "",
			c->svc_conf[i].replicate ? "" : ", no replication");
	for (uint32_t i = 0; i < c->n_nat64 && i < NS_MAX_NAT64_TERMS; i++) {
		const struct ns_nat64_term *t = &c->nat64[i];
		const char *pool = pool_name(c, t->src_pool), *svc = svc_name(c, t->svc_set);
		char src[64], pref[64];

		nat64_term_strs(t, src, pref, sizeof(src));
		fprintf(f, "nat64          %s -> %s, pool %s, service set %s%s%s\n", src, pref,
			pool ? pool : "?", svc ? svc : "?",
			t->flags & NS_NAT_F_EIM ? ", mapping endpoint-independent" : "",
			t->flags & NS_NAT_F_EIF ? ", filtering endpoint-independent" : "");
	}
	redundancy_text(f, &c->red);
}

static int show_config(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		       void *arg)
{
	(void)req;
	(void)arg;
	if (out->j)
		config_json(&d->conf, out->j);
	else
		config_text(&d->conf, out->f);
	return 0;
}

/* ---- request dispatch ----------------------------------------------------- */

/* Slice length of a request that walks maps (ctl_out.deadline). */
#define CTL_SLICE_NS (5ull * 1000000)

/* Open w's answer ("OK\n", then the body) and check that req has a handler. */
static int work_start(struct ns_control *c, struct ctl_work *w, char *err, size_t errlen)
{
	char name[32];

	if (!c->h[w->req.cmd].fn) {
		bool ha = w->req.cmd == CTL_SHOW_SYNC || w->req.cmd == CTL_SHOW_REDUNDANCY ||
			  w->req.cmd == CTL_SWITCHOVER || w->req.cmd == CTL_ROLE_PRIMARY ||
			  w->req.cmd == CTL_ROLE_BACKUP;

		snprintf(err, errlen, "%s: not available (%s)",
			 ctl_command_name(w->req.cmd, name, sizeof(name)),
			 ha && !c->d->conf.red.enabled ? "redundancy is not configured"
						       : "not provided by this daemon");
		return -1;
	}
	w->out.f = open_memstream(&w->buf, &w->blen);
	if (!w->out.f) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fputs("OK\n", w->out.f);
	if (w->req.json) {
		ctl_json_init(&w->j, w->out.f);
		w->out.j = &w->j;
	}
	return 0;
}

/* One call of the handler; 0 done, CTL_MORE, -1 (err set). */
static int work_step(struct ns_control *c, struct ctl_work *w, uint64_t deadline, char *err,
		     size_t errlen)
{
	struct ctl_handler_slot *h = &c->h[w->req.cmd];
	char name[32];
	int r;

	w->out.deadline = deadline;
	r = h->fn(c->d, &w->req, &w->out, h->arg);
	if (r == CTL_MORE)
		return CTL_MORE;
	if (r) {
		snprintf(err, errlen, "%s", w->out.err[0] ? w->out.err : "command failed");
		return -1;
	}
	if (w->out.j && (w->j.error || w->j.depth)) {
		snprintf(err, errlen, "internal error: malformed JSON from %s",
			 ctl_command_name(w->req.cmd, name, sizeof(name)));
		return -1;
	}
	if (w->out.j)
		fputc('\n', w->out.f);
	return 0;
}

/* The answer of w (its body, or "ERR err" when ret failed); frees w's
 * stream and handler state. 0, or -ENOMEM. */
static int work_finish(struct ctl_work *w, int ret, const char *err, char **resp,
		       size_t *resp_len)
{
	if (w->out.cont && w->out.cont_free)
		w->out.cont_free(w->out.cont);
	w->out.cont = NULL;
	if (w->out.f && fclose(w->out.f) && !ret) {
		ret = -1;
		err = "out of memory";
	}
	w->out.f = NULL;
	if (!ret) {
		*resp = w->buf;
		*resp_len = w->blen;
		w->buf = NULL;
		return 0;
	}
	free(w->buf);
	w->buf = NULL;
	pr_debug("control: request refused: %s", err);
	if (asprintf(resp, "ERR %s\n", err) < 0)
		return -ENOMEM;
	*resp_len = strlen(*resp);
	return 0;
}

int ns_control_answer(struct ns_control *c, const char *line, size_t len, char **resp,
		      size_t *resp_len)
{
	struct ctl_work w = { 0 };
	char err[CTL_ERR_MAX] = "";
	int ret;

	ret = ctl_parse_request(line, len, &w.req, err, sizeof(err));
	if (!ret)
		ret = work_start(c, &w, err, sizeof(err));
	while (!ret && (ret = work_step(c, &w, 0, err, sizeof(err))) == CTL_MORE)
		;
	return work_finish(&w, ret, err, resp, resp_len);
}

/* ---- the socket server ---------------------------------------------------- */

static void client_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg);

static void sweep_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg);

/* The deadline sweep only ticks while there is a client to time out. */
static void sweep_update(struct ns_control *c)
{
	int fd;

	if (c->n_clients && c->timer_fd < 0) {
		fd = loop_add_timer(c->d->loop, CTL_SWEEP_MS, sweep_cb, c);
		if (fd < 0)
			pr_warn("control: no deadline timer: %s", strerror(-fd));
		else {
			c->timer_fd = fd;
			loop_set_name(c->d->loop, fd, "control deadlines");
		}
	} else if (!c->n_clients && c->timer_fd >= 0) {
		loop_del(c->d->loop, c->timer_fd); /* closes the timerfd */
		c->timer_fd = -1;
	}
}

/* Read what the client sent beyond its request line: closing a socket with
 * unread data resets the connection and could cut off our answer. */
static void client_drain(int fd)
{
	char buf[512];

	for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
}

static void client_drop(struct ns_control *c, struct ctl_client *cl)
{
	char *resp = NULL;
	size_t rlen;

	if (cl->work) { /* gone while its answer was being made */
		work_finish(cl->work, -1, "client gone", &resp, &rlen);
		free(resp);
		free(cl->work);
	}
	loop_del(c->d->loop, cl->fd);
	client_drain(cl->fd);
	close(cl->fd);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
	cl->state = CL_FREE;
	c->n_clients--;
	sweep_update(c);
}

/* Write what the socket takes; drop the client when done or broken. */
static void client_flush(struct ns_control *c, struct ctl_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (cl->state != CL_WRITE) {
				cl->state = CL_WRITE;
				cl->deadline_ns = ns_now() + CTL_WRITE_TIMEOUT_MS * NSEC_PER_MSEC;
				loop_mod(c->d->loop, cl->fd, EPOLLOUT);
			}
			return;
		}
		if (n <= 0) {
			pr_debug("control: client went away: %s", strerror(errno));
			break;
		}
		cl->out_off += (size_t)n;
	}
	client_drop(c, cl);
}

static const char ctl_nomem[] = "ERR out of memory\n";

/* One slice of cl's request; its answer is sent when the handler is done. */
static void client_work(struct ns_control *c, struct ctl_client *cl)
{
	struct ctl_work *w = cl->work;
	char err[CTL_ERR_MAX] = "";
	uint64_t one = 1;
	int ret = work_step(c, w, ns_now() + CTL_SLICE_NS, err, sizeof(err));

	if (ret == CTL_MORE) {
		c->slices++;
		if (cl->state != CL_WORK) /* nothing to read meanwhile */
			loop_mod(c->d->loop, cl->fd, 0);
		cl->state = CL_WORK;
		if (write(c->kfd, &one, sizeof(one)) != sizeof(one))
			pr_warn("control: cannot schedule the next slice: %s", strerror(errno));
		return;
	}
	if (work_finish(w, ret, err, &cl->out, &cl->out_len)) {
		cl->out = strdup(ctl_nomem);
		cl->out_len = cl->out ? sizeof(ctl_nomem) - 1 : 0;
	}
	free(w);
	cl->work = NULL;
	cl->state = CL_READ; /* client_flush moves it on */
	cl->out_off = 0;
	client_flush(c, cl);
}

static void client_respond(struct ns_control *c, struct ctl_client *cl, const char *line,
			   size_t len)
{
	char err[CTL_ERR_MAX] = "";
	struct ctl_work *w = calloc(1, sizeof(*w));
	int ret;

	if (!w) {
		cl->out = strdup(ctl_nomem);
		cl->out_len = cl->out ? sizeof(ctl_nomem) - 1 : 0;
		cl->out_off = 0;
		client_flush(c, cl);
		return;
	}
	cl->work = w;
	ret = ctl_parse_request(line, len, &w->req, err, sizeof(err));
	if (!ret)
		ret = work_start(c, w, err, sizeof(err));
	if (!ret) {
		client_work(c, cl);
		return;
	}
	work_finish(w, ret, err, &cl->out, &cl->out_len);
	free(w);
	cl->work = NULL;
	cl->out_off = 0;
	client_flush(c, cl);
}

/* The next slice of every request still being answered. */
static void kick_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_control *c = arg;
	uint64_t n;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].state == CL_WORK && c->cl[i].work)
			client_work(c, &c->cl[i]);
}

/* Send a fixed error at once and drop: used before any request was read. */
static void client_refuse(struct ns_control *c, struct ctl_client *cl, const char *msg)
{
	cl->out = strdup(msg);
	cl->out_len = cl->out ? strlen(msg) : 0;
	cl->out_off = 0;
	client_flush(c, cl);
}

static void client_read(struct ns_control *c, struct ctl_client *cl)
{
	char *nl;
	ssize_t n;

	for (;;) {
		n = recv(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* wait for more, the deadline bounds the wait */
		if (n < 0) {
			client_drop(c, cl);
			return;
		}
		if (n == 0) {
			/* EOF without newline: what was sent is the request. */
			if (cl->in_len)
				client_respond(c, cl, cl->in, cl->in_len);
			else
				client_drop(c, cl);
			return;
		}
		nl = memchr(cl->in + cl->in_len, '\n', (size_t)n);
		cl->in_len += (size_t)n;
		if (nl) {
			client_respond(c, cl, cl->in, (size_t)(nl - cl->in) + 1);
			return;
		}
		if (cl->in_len == sizeof(cl->in)) {
			client_refuse(c, cl, "ERR request too long (max 1023 bytes)\n");
			return;
		}
	}
}

static void client_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_control *c = arg;
	struct ctl_client *cl = NULL;

	(void)loop;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].state != CL_FREE && c->cl[i].fd == fd)
			cl = &c->cl[i];
	if (!cl)
		return;
	if (cl->state == CL_WORK) {
		if (events & (EPOLLERR | EPOLLHUP))
			client_drop(c, cl); /* gone: nobody to answer */
		return;
	}
	if (cl->state == CL_READ && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		client_read(c, cl);
	else if (cl->state == CL_WRITE && (events & EPOLLERR))
		client_drop(c, cl);
	else if (cl->state == CL_WRITE && (events & (EPOLLOUT | EPOLLHUP)))
		client_flush(c, cl);
}

static void sweep_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_control *c = arg;
	uint64_t now = ns_now();

	(void)loop;
	(void)fd;
	(void)events;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &c->cl[i];

		/* a request being answered is bounded and moves on */
		if (cl->state == CL_FREE || cl->state == CL_WORK || now < cl->deadline_ns)
			continue;
		pr_debug("control: dropping client: %s timed out",
			 cl->state == CL_READ ? "request" : "response");
		client_drop(c, cl);
	}
}

static struct ctl_client *client_slot(struct ns_control *c)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].state == CL_FREE)
			return &c->cl[i];
	return NULL;
}

static void accept_cb(struct ns_loop *loop, int lfd, uint32_t events, void *arg)
{
	static const char busy[] = "ERR too many clients, try again\n";
	struct ns_control *c = arg;
	struct ctl_client *cl;
	int fd, err;

	(void)events;
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				pr_warn("control: accept: %s", strerror(errno));
			if (errno == EINTR)
				continue;
			return;
		}
		cl = client_slot(c);
		if (!cl) {
			/* Best effort: the socket buffer of a new connection is empty. */
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				pr_debug("control: busy reply: %s", strerror(errno));
			close(fd);
			continue;
		}
		err = loop_add(loop, fd, EPOLLIN, client_cb, c);
		if (err) {
			pr_warn("control: cannot watch client: %s", strerror(-err));
			close(fd);
			continue;
		}
		loop_set_name(loop, fd, "control client");
		memset(cl, 0, sizeof(*cl));
		cl->fd = fd;
		cl->state = CL_READ;
		cl->deadline_ns = ns_now() + CTL_READ_TIMEOUT_MS * NSEC_PER_MSEC;
		c->n_clients++;
		sweep_update(c);
	}
}

/*
 * A socket file left by a daemon that died is stale if nobody accepts on it;
 * only then may it be removed. Returns 0 when the path is free now.
 */
static int clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st)) {
		return errno == ENOENT ? 0 : -errno;
	}
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST; /* never remove a file that is not a socket */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!ret)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED)
		return -errno;
	pr_info("control: removing stale socket %s", sa->sun_path);
	return unlink(sa->sun_path) && errno != ENOENT ? -errno : 0;
}

/* Bind with mode 0600 from the start: umask covers the window before chmod. */
static int bind_private(int fd, const struct sockaddr_un *sa)
{
	mode_t old = umask(0177);
	int ret = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int err = errno;

	umask(old);
	if (ret)
		return -err;
	return chmod(sa->sun_path, 0600) ? -errno : 0;
}

static int control_listen(struct ns_control *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int err;

	if (!c->path[0] || strlen(c->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	err = clear_stale(&sa);
	if (err)
		return err;
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		return -errno;
	err = bind_private(c->lfd, &sa);
	if (err)
		return err;
	if (stat(c->path, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	if (listen(c->lfd, CTL_MAX_CLIENTS))
		return -errno;
	return loop_add(c->d->loop, c->lfd, EPOLLIN, accept_cb, c);
}

struct ns_control *ns_control_open(struct ns_daemon *d, int *err)
{
	struct ns_control *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	c->d = d;
	c->lfd = -1;
	c->kfd = -1;
	c->timer_fd = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		c->cl[i].fd = -1;
	ns_strlcpy(c->path, d->conf.control_socket, sizeof(c->path));
	c->h[CTL_SHOW_SESSIONS].fn = show_sessions;
	c->h[CTL_SHOW_POOLS].fn = show_pools;
	c->h[CTL_SHOW_COUNTERS].fn = show_counters;
	c->h[CTL_SHOW_CONFIG].fn = show_config;
	c->h[CTL_SHOW_STATUS].fn = show_status;
	if (!d->loop) {
		/* No loop (tests): ns_control_answer() works, no socket. */
		return c;
	}
	c->kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->kfd < 0 || loop_add(d->loop, c->kfd, EPOLLIN, kick_cb, c)) {
		ret = c->kfd < 0 ? -errno : -EIO;
		pr_err("control: cannot set up request slices: %s", strerror(-ret));
		ns_control_close(c);
		*err = ret;
		return NULL;
	}
	loop_set_name(d->loop, c->kfd, "control slices");
	ret = control_listen(c);
	if (ret) {
		pr_err("control: cannot listen on %s: %s", c->path,
		       ret == -EADDRINUSE ? "another natsyncd answers there" : strerror(-ret));
		ns_control_close(c);
		*err = ret;
		return NULL;
	}
	pr_info("control: listening on %s", c->path);
	return c;
}

uint64_t ns_control_slices(const struct ns_control *c)
{
	return c->slices;
}

int ns_control_set_handler(struct ns_control *c, enum ctl_cmd cmd, ns_ctl_handler fn,
			   void *arg)
{
	if (cmd <= CTL_CMD_NONE || cmd >= CTL_CMD_MAX)
		return -EINVAL;
	c->h[cmd].fn = fn;
	c->h[cmd].arg = arg;
	return 0;
}

/* Unlink the path only if it is still our socket, not a successor's. */
static void unlink_own(struct ns_control *c)
{
	struct stat st;

	if (!c->ino || stat(c->path, &st))
		return;
	if (st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
}

void ns_control_close(struct ns_control *c)
{
	if (!c)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].state != CL_FREE)
			client_drop(c, &c->cl[i]);
	if (c->lfd >= 0) {
		loop_del(c->d->loop, c->lfd);
		close(c->lfd);
		unlink_own(c);
	}
	if (c->timer_fd >= 0)
		loop_del(c->d->loop, c->timer_fd);
	if (c->kfd >= 0) {
		if (c->d->loop)
			loop_del(c->d->loop, c->kfd);
		close(c->kfd);
	}
	free(c);
}
