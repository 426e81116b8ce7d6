// SPDX-License-Identifier: GPL-2.0
/* events.c - ring buffer consumer and session/NAT log lines (see events.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <bpf/libbpf.h>
#include <glib.h>

#include "counters.h"
#include "daemon.h"
#include "events.h"
#include "ipfix.h"
#include "log.h"
#include "pba.h"
#include "sync.h"
#include "util.h"

/* At most this many POOL_EXHAUSTED/SESSION_FULL lines per second each. */
#define EV_WARN_PER_SEC 10
/* How often the fast path's event_lost counter is looked at. */
#define EV_LOST_CHECK_MS 1000

/* event_lost as last seen, and the timer that watches it (one daemon per
 * process, daemon.h). */
static uint64_t ev_lost_seen;
static int ev_lost_timer = -1;

const char *ns_tcp_state_name(uint8_t state)
{
	static const char *const names[] = {
		[NS_TCP_NONE] = "-",
		[NS_TCP_SYN_SENT] = "syn-sent",
		[NS_TCP_SYN_RECV] = "syn-recv",
		[NS_TCP_ESTABLISHED] = "established",
		[NS_TCP_FIN_WAIT] = "fin-wait",
		[NS_TCP_TIME_WAIT] = "time-wait",
		[NS_TCP_CLOSED] = "closed",
	};

	return state < NS_ARRAY_SIZE(names) ? names[state] : "unknown";
}

void ns_event_from_session(struct ns_event *ev, const struct ns_session *s, uint8_t type)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = s->last_seen_ns;
	ev->in_key = s->in_key;
	ev->out_key = s->out_key;
	ev->svc_set = s->svc_set;
	ev->type = type;
	ev->nat_type = s->nat_type;
	ev->pool_id = s->pool_id;
	ev->origin = s->origin;
}

void ns_event_from_port(struct ns_event *ev, const struct ns_port_key *k,
			const struct ns_port_val *v, uint8_t type)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = v->released_ns;
	ev->in_key.saddr = v->in_addr;
	ev->in_key.sport = v->in_port;
	ev->in_key.proto = k->proto;
	ev->out_key.daddr = k->addr;
	ev->out_key.dport = k->port;
	ev->out_key.proto = k->proto;
	ev->svc_set = v->svc_set;
	ev->type = type;
	ev->nat_type = NS_NAT_NAPT44;
	ev->pool_id = v->pool_id;
	ev->origin = NS_SIDE_INSIDE;
}

bool ns_event_wanted(const struct ns_event *ev, const struct ns_config *c)
{
	uint32_t f = ev->svc_set < c->n_svcs ? c->svcs[ev->svc_set].flags : 0;
	const struct ns_pool_pba *pba = ev->pool_id < c->n_pools && c->pool_pba[ev->pool_id].block_size
						? &c->pool_pba[ev->pool_id] : NULL;

	switch (ev->type) {
	case NS_EV_SESSION_OPEN:
	case NS_EV_SESSION_CLOSE:
		/* deterministic NAT (RFC 7422): the config says who had a
		 * port, no per-session line at all */
		if (pba && (pba->flags & NS_PBA_F_DETERMINISTIC))
			return false;
		return f & NS_SVC_F_SYSLOG_SESSION;
	case NS_EV_NAT_ALLOC:
	case NS_EV_NAT_RELEASE:
		/* port blocks: one line per block (pba.c), not per session */
		if (pba)
			return false;
		return f & NS_SVC_F_SYSLOG_NAT;
	case NS_EV_POOL_EXHAUSTED:
	case NS_EV_SESSION_FULL:
	case NS_EV_SUBSCRIBER_LIMIT:
		return true;
	default:
		return false;
	}
}

/* "a.b.c.d:port" of a network-order address/port; an ICMP query's port is
 * its identifier, and a zero one (the remote side of a query) is left out. */
static const char *fmt_ep(uint32_t addr, uint16_t be_port, uint8_t proto, char *buf,
			  size_t len)
{
	char ip[16];

	ns_fmt_ip(addr, ip, sizeof(ip));
	if (proto == IPPROTO_ICMP && !be_port)
		snprintf(buf, len, "%s", ip);
	else
		snprintf(buf, len, "%s:%u", ip, ntohs(be_port));
	return buf;
}

static const char *svc_name(const struct ns_config *c, uint16_t svc, char *buf, size_t len)
{
	if (svc < c->n_svcs && c->svc_conf[svc].name[0])
		return c->svc_conf[svc].name;
	snprintf(buf, len, "#%u", svc);
	return buf;
}

static const char *pool_name(const struct ns_config *c, uint8_t pool, char *buf, size_t len)
{
	if (pool < c->n_pools && c->pool_names[pool][0])
		return c->pool_names[pool];
	snprintf(buf, len, pool == 0xff ? "-" : "#%u", pool);
	return buf;
}

/*
 * The translated inside->outside packet is the reverse of out_key: its
 * source is out_key.daddr:dport, its destination out_key.saddr:sport.
 */
static int fmt_nat(const struct ns_event *ev, char *buf, size_t len)
{
	const struct ns_tuple *in = &ev->in_key, *out = &ev->out_key;
	char xs[32], xd[32];
	int n;

	if (ev->nat_type == NS_NAT_NONE)
		return snprintf(buf, len, "%s", "");
	n = snprintf(buf, len, " nat %s", fmt_ep(out->daddr, out->dport, out->proto, xs, sizeof(xs)));
	if (out->saddr != in->daddr || out->sport != in->dport)
		n += snprintf(buf + n, len > (size_t)n ? len - n : 0, " dst %s",
			      fmt_ep(out->saddr, out->sport, out->proto, xd, sizeof(xd)));
	n += snprintf(buf + n, len > (size_t)n ? len - n : 0, " %s",
		      ns_nat_type_name(ev->nat_type));
	return n;
}

static void fmt_close_stats(const struct ns_session *s, uint64_t now, char *buf, size_t len)
{
	uint64_t age = now > s->created_ns ? now - s->created_ns : 0;

	snprintf(buf, len, " state=%s age=%llus pkts=%llu/%llu bytes=%llu/%llu",
		 ns_tcp_state_name(s->tcp_state), (unsigned long long)(age / 1000000000ull),
		 (unsigned long long)s->packets[NS_SIDE_INSIDE],
		 (unsigned long long)s->packets[NS_SIDE_OUTSIDE],
		 (unsigned long long)s->bytes[NS_SIDE_INSIDE],
		 (unsigned long long)s->bytes[NS_SIDE_OUTSIDE]);
}

/* "[IPv6]:port" (a query's zero port left out, as in fmt_ep()) */
static const char *fmt_ep6(const uint8_t a[16], uint16_t be_port, uint8_t proto, char *buf,
			   size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, ip, sizeof(ip));
	if (proto == IPPROTO_ICMP && !be_port)
		snprintf(buf, len, "[%s]", ip);
	else
		snprintf(buf, len, "[%s]:%u", ip, ntohs(be_port));
	return buf;
}

/* One line for @ev whose inside endpoints are @src -> @dst (IPv4 text or,
 * for NAT64, the IPv6 addresses). */
static int format_ev(const struct ns_event *ev, const char *src, const char *dst,
		     const struct ns_session *s, uint64_t now, const struct ns_config *c, char *buf,
		     size_t len)
{
	const struct ns_tuple *in = &ev->in_key, *out = &ev->out_key;
	char sb[16], pb[16], xsrc[32], nat[96] = "", extra[128] = "";
	const char *proto = ns_proto_name(in->proto);
	const char *svc = svc_name(c, ev->svc_set, sb, sizeof(sb));
	const char *pool = pool_name(c, ev->pool_id, pb, sizeof(pb));

	fmt_ep(out->daddr, out->dport, in->proto, xsrc, sizeof(xsrc));
	switch (ev->type) {
	case NS_EV_SESSION_OPEN:
	case NS_EV_SESSION_CLOSE:
		fmt_nat(ev, nat, sizeof(nat));
		if (ev->type == NS_EV_SESSION_CLOSE && s)
			fmt_close_stats(s, now, extra, sizeof(extra));
		return snprintf(buf, len, "%s svc=%s %s %s -> %s%s%s%s",
				ev->type == NS_EV_SESSION_OPEN ? "SESSION_OPEN" : "SESSION_CLOSE",
				svc, proto, src, dst, nat,
				ev->origin == NS_SIDE_OUTSIDE ? " origin=outside" : "", extra);
	case NS_EV_NAT_ALLOC:
		/* RFC 6888 sec. 4: NAT logs should not record destinations. */
		return snprintf(buf, len, "NAT_ALLOC svc=%s pool=%s %s %s -> %s %s", svc, pool,
				proto, src, xsrc, ns_nat_type_name(ev->nat_type));
	case NS_EV_NAT_RELEASE:
		return snprintf(buf, len, "NAT_RELEASE svc=%s pool=%s %s %s -> %s", svc, pool,
				proto, src, xsrc);
	case NS_EV_POOL_EXHAUSTED:
		return snprintf(buf, len, "POOL_EXHAUSTED svc=%s pool=%s %s %s", svc, pool,
				proto, src);
	case NS_EV_SESSION_FULL:
		return snprintf(buf, len, "SESSION_FULL svc=%s %s %s -> %s", svc, proto, src, dst);
	case NS_EV_SUBSCRIBER_LIMIT:
		/* sampled in the fast path: drop_subscriber_limit counts all */
		return snprintf(buf, len, "SUBSCRIBER_LIMIT svc=%s %s %s -> %s: %u live sessions "
				"(max-sessions-per-subscriber)", svc, proto, src, dst,
				c->cfg.max_sess_per_sub);
	default:
		if (len)
			buf[0] = '\0';
		return -1;
	}
}

int ns_event_format(const struct ns_event *ev, const struct ns_session *s, uint64_t now,
		    const struct ns_config *c, char *buf, size_t len)
{
	char src[32], dst[32];

	fmt_ep(ev->in_key.saddr, ev->in_key.sport, ev->in_key.proto, src, sizeof(src));
	fmt_ep(ev->in_key.daddr, ev->in_key.dport, ev->in_key.proto, dst, sizeof(dst));
	return format_ev(ev, src, dst, s, now, c, buf, len);
}

int ns_event6_format(const struct ns_event6 *e6, const struct ns_session *s, uint64_t now,
		     const struct ns_config *c, char *buf, size_t len)
{
	const struct ns_tuple *in = &e6->ev.in_key;
	char src[INET6_ADDRSTRLEN + 10], dst[INET6_ADDRSTRLEN + 10];

	fmt_ep6(e6->saddr6, in->sport, in->proto, src, sizeof(src));
	fmt_ep6(e6->daddr6, in->dport, in->proto, dst, sizeof(dst));
	return format_ev(&e6->ev, src, dst, s, now, c, buf, len);
}

void ns_event6_from_session(struct ns_event6 *e6, const struct ns_session *s,
			    const struct ns_tuple6 *k, uint8_t type)
{
	memset(e6, 0, sizeof(*e6));
	ns_event_from_session(&e6->ev, s, type);
	memcpy(e6->saddr6, k->saddr, 16);
	memcpy(e6->daddr6, k->daddr, 16);
}

/* Token bucket of one second per warning type; true when this one may log. */
static bool warn_allowed(uint8_t type, uint64_t now)
{
	static uint64_t window[8];
	static unsigned int used[8];
	unsigned int i = type & 7;

	if (now - window[i] >= 1000000000ull) {
		window[i] = now;
		used[i] = 0;
	}
	return ++used[i] <= EV_WARN_PER_SEC;
}

/*
 * The IPv6 subscribers of NAT64 bindings, by pool endpoint, noted from
 * their NAT_ALLOC events: the release, which aging makes from the ns_ports
 * entry (32-bit stand-in only), then names the IPv6 subscriber too, in the
 * log line and in the IPFIX record (ipfix_event()'s sub6): the one table of
 * them. An entry goes with its release; one whose release was never seen
 * is replaced when its endpoint is bound again, so the table stays within
 * the pools' size.
 */
static GHashTable *bind6;

static uint64_t bind6_key(__be32 addr, __be16 port, uint8_t proto)
{
	return (uint64_t)ntohl(addr) << 24 | (uint64_t)ntohs(port) << 8 | proto;
}

static void bind6_note(const struct ns_event6 *e6)
{
	uint64_t key = bind6_key(e6->ev.out_key.daddr, e6->ev.out_key.dport,
				 e6->ev.out_key.proto);

	if (!bind6)
		bind6 = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	g_hash_table_replace(bind6, g_memdup2(&key, sizeof(key)), g_memdup2(e6->saddr6, 16));
}

/* ns_event_log() of an IPv4 event (@e6 NULL) or a NAT64 one (@ev = &e6->ev);
 * @note (may be NULL) ends the line. */
static void event_log(struct ns_daemon *d, const struct ns_event *ev, const struct ns_event6 *e6,
		      const struct ns_session *s, const char *note)
{
	uint64_t now = ns_now();
	bool wanted = ns_event_wanted(ev, &d->conf), export;
	char line[384];
	int n;

	/* whatever the syslog classes say; a port-block pool's bindings are
	 * exported per block (pba.c), not per session */
	export = !((ev->type == NS_EV_NAT_ALLOC || ev->type == NS_EV_NAT_RELEASE) &&
		   ns_pba_pool_quiet(&d->conf, ev->pool_id));
	if (export)
		ipfix_event(d, ev, e6 && ev->type == NS_EV_NAT_RELEASE ? e6->saddr6 : NULL);
	/* only bindings whose release will be logged or exported are noted */
	if (e6 && ev->type == NS_EV_NAT_ALLOC && (wanted || (export && ipfix_on())))
		bind6_note(e6);
	if (!wanted)
		return;
	n = e6 ? ns_event6_format(e6, s, now, &d->conf, line, sizeof(line))
	       : ns_event_format(ev, s, now, &d->conf, line, sizeof(line));
	if (n < 0)
		return;
	if (note && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, "%s", note);
	if (ev->type == NS_EV_POOL_EXHAUSTED || ev->type == NS_EV_SESSION_FULL ||
	    ev->type == NS_EV_SUBSCRIBER_LIMIT) {
		if (!warn_allowed(ev->type, now)) {
			d->st.events_suppressed++;
			return;
		}
		pr_warn("%s", line);
	} else {
		pr_info("%s", line);
	}
	d->st.events_logged++;
}

void ns_event_log(struct ns_daemon *d, const struct ns_event *ev, const struct ns_session *s)
{
	event_log(d, ev, NULL, s, NULL);
}

void ns_event6_log(struct ns_daemon *d, const struct ns_event6 *e6, const struct ns_session *s)
{
	event_log(d, &e6->ev, e6, s, NULL);
}

void ns_event_release_log(struct ns_daemon *d, const struct ns_port_key *k,
			  const struct ns_port_val *v)
{
	struct ns_event6 e6;
	uint64_t key = bind6_key(k->addr, k->port, k->proto);
	const uint8_t *sub = NULL;

	memset(&e6, 0, sizeof(e6));
	ns_event_from_port(&e6.ev, k, v, NS_EV_NAT_RELEASE);
	if (!(v->flags & NS_PORT_F_NAT64)) {
		event_log(d, &e6.ev, NULL, NULL, NULL);
		return;
	}
	if (bind6)
		sub = g_hash_table_lookup(bind6, &key);
	if (!sub) {
		event_log(d, &e6.ev, NULL, NULL,
			  " (stateful-nat64: IPv6 subscriber not known here, its 32-bit stand-in "
			  "shown)");
		return;
	}
	memcpy(e6.saddr6, sub, 16);
	event_log(d, &e6.ev, &e6, NULL, NULL);
	g_hash_table_remove(bind6, &key);
}

/* libbpf ring buffer callback: one struct ns_event per record, or a
 * struct ns_event6 (NAT64: the record is longer). */
static int on_ringbuf_record(void *ctx, void *data, size_t size)
{
	struct ns_daemon *d = ctx;
	struct ns_event6 e6;

	if (size < sizeof(e6.ev)) {
		pr_debug("events: short record (%zu bytes) ignored", size);
		return 0;
	}
	/* ring buffer data is only 8-byte aligned */
	if (size >= sizeof(e6)) {
		memcpy(&e6, data, sizeof(e6));
		ns_event6_log(d, &e6, NULL);
		return 0;
	}
	memcpy(&e6.ev, data, sizeof(e6.ev));
	if (e6.ev.type == NS_EV_SESSION_OPEN)
		sync_session_opened(d, &e6.ev.in_key);
	ns_event_log(d, &e6.ev, NULL);
	return 0;
}

static void on_ringbuf_ready(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_daemon *d = arg;
	int n;

	(void)loop;
	(void)fd;
	(void)events;
	n = ring_buffer__consume(d->rb);
	if (n < 0)
		pr_warn("events: ring buffer consume failed: %s", strerror(-n));
}

static int read_event_lost(const struct ns_daemon *d, uint64_t *lost)
{
	uint64_t cnt[NS_CNT_MAX];
	int err = ns_counters_read(d->fd.counters, cnt);

	if (!err)
		*lost = cnt[NS_CNT_EVENT_LOST];
	return err;
}

/*
 * A full ring buffer (natsyncd stopped or too slow) drops events in the fast
 * path, counted in event_lost and never waited on: the log then misses lines
 * without a trace, POOL_EXHAUSTED/SESSION_FULL warnings included. Say so,
 * at most once per check.
 */
static void on_lost_timer(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_daemon *d = arg;
	uint64_t lost;

	(void)loop;
	(void)fd;
	(void)events;
	if (read_event_lost(d, &lost))
		return;
	if (lost > ev_lost_seen)
		pr_warn("events: %llu events lost, the ring buffer %s was full (natsyncd fell "
			"behind): the log misses them (event_lost %llu)",
			(unsigned long long)(lost - ev_lost_seen), NS_MAP_EVENTS,
			(unsigned long long)lost);
	ev_lost_seen = lost; /* also when lower: the maps were replaced */
}

int ns_events_init(struct ns_daemon *d)
{
	int err;

	d->rb = ring_buffer__new(d->fd.events, on_ringbuf_record, d, NULL);
	if (!d->rb) {
		err = -errno;
		pr_err("events: cannot open ring buffer %s: %s", NS_MAP_EVENTS, strerror(-err));
		return err;
	}
	err = loop_add(d->loop, ring_buffer__epoll_fd(d->rb), EPOLLIN, on_ringbuf_ready, d);
	if (err) {
		pr_err("events: cannot watch ring buffer: %s", strerror(-err));
		ring_buffer__free(d->rb);
		d->rb = NULL;
		return err;
	}
	loop_set_name(d->loop, ring_buffer__epoll_fd(d->rb), "event ring");
	/* Only losses from now on are warned about; earlier ones (the pinned
	 * counter survives restarts) are mentioned once, since after a kill -9
	 * no instance was there to report them. Without the counters map
	 * nothing is watched. */
	if (d->fd.counters >= 0 && !read_event_lost(d, &ev_lost_seen)) {
		if (ev_lost_seen)
			pr_info("events: %llu events were lost before this start (event_lost)",
				(unsigned long long)ev_lost_seen);
		ev_lost_timer = loop_add_timer(d->loop, EV_LOST_CHECK_MS, on_lost_timer, d);
		if (ev_lost_timer < 0)
			pr_warn("events: cannot watch event_lost: %s", strerror(-ev_lost_timer));
	}
	return 0;
}

void ns_events_fini(struct ns_daemon *d)
{
	if (!d->rb)
		return;
	ring_buffer__consume(d->rb);
	if (ev_lost_timer >= 0 && d->loop)
		loop_del(d->loop, ev_lost_timer); /* closes the timerfd */
	ev_lost_timer = -1;
	if (d->loop)
		loop_del(d->loop, ring_buffer__epoll_fd(d->rb));
	ring_buffer__free(d->rb);
	d->rb = NULL;
	if (bind6)
		g_hash_table_destroy(bind6);
	bind6 = NULL;
}
