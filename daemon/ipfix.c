// SPDX-License-Identifier: GPL-2.0
/* ipfix.c - IPFIX export of NAT events over UDP (see ipfix.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "daemon.h"
#include "ipfix.h"
#include "log.h"
#include "util.h"

/* How long a record may wait for others to share its message. */
#define IPFIX_FLUSH_MS 100

/* One exporter per process (daemon.h: one daemon per process). */
static struct {
	struct ipfix_enc *enc;
	struct ns_ipfix_conf conf;    /* what is in force */
	int fd4, fd6;                 /* UDP sockets, non-blocking */
	int flush_fd;                 /* one-shot timerfd, armed by the first pending record */
	bool flush_armed;
	int refresh_fd;               /* periodic: template sets */
	bool send_warned;
} ix = { .fd4 = -1, .fd6 = -1, .flush_fd = -1, .refresh_fd = -1 };

static uint64_t wall_ms_of(uint64_t mono_ns)
{
	struct timespec rt;
	uint64_t now = ns_now(), rt_ms;

	clock_gettime(CLOCK_REALTIME, &rt);
	rt_ms = (uint64_t)rt.tv_sec * 1000 + (uint64_t)rt.tv_nsec / 1000000;
	if (!mono_ns || mono_ns > now)
		return rt_ms;
	return rt_ms - (now - mono_ns) / 1000000;
}

bool ipfix_rec_from_event(struct ipfix_nat_rec *r, const struct ns_event *ev,
			  const struct ns_config *c, const uint8_t *v6src, const uint8_t *v6dst,
			  uint64_t wall_ms)
{
	const struct ns_tuple *in = &ev->in_key, *out = &ev->out_key;
	bool nat64 = ev->nat_type == NS_NAT_NAT64 && v6src;

	memset(r, 0, sizeof(*r));
	r->time_ms = wall_ms;
	r->proto = in->proto;
	/* inside endpoint, and the translated source: the reverse of out_key */
	r->src4 = ntohl(in->saddr);
	r->sport = ntohs(in->sport);
	r->xsrc4 = ntohl(out->daddr);
	r->xsport = ntohs(out->dport);
	if (nat64) {
		memcpy(r->src6, v6src, 16);
		if (v6dst)
			memcpy(r->dst6, v6dst, 16);
		r->src4 = 0;
	}
	switch (ev->type) {
	case NS_EV_SESSION_OPEN:
	case NS_EV_SESSION_CLOSE:
		if (ev->nat_type == NS_NAT_NONE || (ev->nat_type == NS_NAT_NAT64 && !nat64))
			return false;
		r->dst4 = nat64 ? 0 : ntohl(in->daddr);
		r->dport = ntohs(in->dport);
		r->xdst4 = ntohl(out->saddr);
		r->xdport = ntohs(out->sport);
		if (nat64)
			r->nat_event = ev->type == NS_EV_SESSION_OPEN ? IPFIX_NATEV_NAT64_SESS_CREATE :
									IPFIX_NATEV_NAT64_SESS_DELETE;
		else
			r->nat_event = ev->type == NS_EV_SESSION_OPEN ? IPFIX_NATEV_NAT44_SESS_CREATE :
									IPFIX_NATEV_NAT44_SESS_DELETE;
		return true;
	case NS_EV_NAT_ALLOC:
	case NS_EV_NAT_RELEASE:
		if (ev->nat_type == NS_NAT_NAT64 && !nat64)
			return false;
		if (nat64)
			r->nat_event = ev->type == NS_EV_NAT_ALLOC ? IPFIX_NATEV_NAT64_BIB_CREATE :
								     IPFIX_NATEV_NAT64_BIB_DELETE;
		else
			r->nat_event = ev->type == NS_EV_NAT_ALLOC ? IPFIX_NATEV_NAT44_BIB_CREATE :
								     IPFIX_NATEV_NAT44_BIB_DELETE;
		memset(r->dst6, 0, 16);
		return true;
	case NS_EV_POOL_EXHAUSTED:
		memset(r, 0, sizeof(*r));
		r->time_ms = wall_ms;
		r->nat_event = IPFIX_NATEV_ADDR_EXHAUSTED;
		r->pool_id = ev->pool_id;
		return true;
	case NS_EV_SESSION_FULL:
		memset(r, 0, sizeof(*r));
		r->time_ms = wall_ms;
		r->nat_event = IPFIX_NATEV_QUOTA_EXCEEDED;
		r->quota_event = IPFIX_QUOTA_MAX_SESSIONS;
		r->max_sessions = c->max_sessions;
		return true;
	case NS_EV_SUBSCRIBER_LIMIT:
		memset(r, 0, sizeof(*r));
		r->time_ms = wall_ms;
		r->nat_event = IPFIX_NATEV_QUOTA_EXCEEDED;
		r->quota_event = IPFIX_QUOTA_MAX_PER_USER;
		r->max_per_user = c->cfg.max_sess_per_sub;
		r->src4 = ntohl(in->saddr);
		return true;
	default:
		return false;
	}
}

/* ---- transport ----------------------------------------------------------- */

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* fixbuf's sink: the message to every collector, never waiting. */
static void send_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct ns_daemon *d = ctx;

	for (uint32_t i = 0; i < ix.conf.n_collectors; i++) {
		const struct sockaddr_storage *ss = &ix.conf.collectors[i];
		int fd = ss->ss_family == AF_INET6 ? ix.fd6 : ix.fd4;

		if (sendto(fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)ss, sa_len(ss)) ==
		    (ssize_t)len) {
			d->st.ipfix_messages++;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			d->st.ipfix_drops++; /* socket buffer full: the loop never waits */
			continue;
		}
		d->st.ipfix_send_errors++;
		if (!ix.send_warned)
			pr_warn("ipfix: sending to collector %u failed: %s (counted in "
				"ipfix_send_errors; said once)", i + 1, strerror(errno));
		ix.send_warned = true;
	}
}

static void flush(struct ns_daemon *d)
{
	if (ix.enc && ipfix_enc_flush(ix.enc))
		d->st.ipfix_send_errors++;
}

static void send_templates(struct ns_daemon *d)
{
	flush(d);
	if (ipfix_enc_templates(ix.enc)) {
		d->st.ipfix_send_errors++;
		return;
	}
	d->st.ipfix_templates++;
	flush(d);
}

static void on_flush(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t n;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_debug("ipfix: flush timer: %s", strerror(errno));
	ix.flush_armed = false;
	flush(arg);
}

static void on_refresh(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	send_templates(arg);
}

/* The first record of a message: send it at the latest IPFIX_FLUSH_MS later. */
static void arm_flush(void)
{
	struct itimerspec its = { .it_value = { 0, IPFIX_FLUSH_MS * 1000000L } };

	if (ix.flush_armed || ix.flush_fd < 0)
		return;
	if (!timerfd_settime(ix.flush_fd, 0, &its, NULL))
		ix.flush_armed = true;
}

static void add(struct ns_daemon *d, const struct ipfix_nat_rec *r)
{
	int err = ipfix_enc_add(ix.enc, r);

	if (err) {
		d->st.ipfix_send_errors++;
		pr_debug("ipfix: record of natEvent %u not encoded: %s", r->nat_event,
			 strerror(-err));
		return;
	}
	d->st.ipfix_records++;
	arm_flush();
}

/* ---- NAT64: the IPv6 side of an event ------------------------------------- */

/*
 * The IPv6 tuple of a NAT64 session from ns_nat64_rev (its out_key). The
 * entry is there for SESSION_OPEN/NAT_ALLOC (the session was just made)
 * and for SESSION_CLOSE (aging logs before it deletes).
 */
static bool nat64_tuple(struct ns_daemon *d, const struct ns_event *ev, struct ns_tuple6 *t6)
{
	if (d->fd.nat64_rev < 0 || bpf_map_lookup_elem(d->fd.nat64_rev, &ev->out_key, t6))
		return false;
	return ns_nat64_fold(t6->saddr) == ev->in_key.saddr;
}

/* Only stateful-nat64 terms take bindings from this pool. */
static bool nat64_only_pool(const struct ns_config *c, uint8_t pool)
{
	bool nat64 = false;

	for (uint32_t i = 0; i < c->n_nat64 && i < NS_MAX_NAT64_TERMS; i++)
		nat64 |= c->nat64[i].src_pool == pool;
	for (uint32_t i = 0; i < c->n_nat && i < NS_MAX_NAT_TERMS; i++)
		if (c->nat[i].src_pool == pool)
			return false;
	return nat64;
}

bool ipfix_on(void)
{
	return ix.enc;
}

void ipfix_event(struct ns_daemon *d, const struct ns_event *ev, const uint8_t *sub6)
{
	struct ipfix_nat_rec r;
	struct ns_tuple6 t6;
	const uint8_t *v6s = NULL, *v6d = NULL;
	uint64_t ts = ev->ts_ns;

	if (!ix.enc)
		return;
	/* the daemon's own events happen now (their ts_ns is the session's
	 * last packet or the port's release) */
	if (ev->type == NS_EV_SESSION_CLOSE || ev->type == NS_EV_NAT_RELEASE)
		ts = 0;
	if (ev->type == NS_EV_NAT_RELEASE) {
		/* a port record does not say NAT64: the binding's create did */
		if (sub6) {
			struct ns_event e64 = *ev;

			e64.nat_type = NS_NAT_NAT64;
			if (ipfix_rec_from_event(&r, &e64, &d->conf, sub6, NULL, wall_ms_of(ts)))
				add(d, &r);
			return;
		}
		/* a NAT64 binding made before this natsyncd started: its IPv6
		 * side is not known, and a NAT44 record would be wrong */
		if (nat64_only_pool(&d->conf, ev->pool_id)) {
			d->st.ipfix_unresolved++;
			return;
		}
	} else if (ev->nat_type == NS_NAT_NAT64 &&
		   (ev->type == NS_EV_SESSION_OPEN || ev->type == NS_EV_SESSION_CLOSE ||
		    ev->type == NS_EV_NAT_ALLOC)) {
		if (!nat64_tuple(d, ev, &t6)) {
			d->st.ipfix_unresolved++;
			return;
		}
		v6s = t6.saddr;
		v6d = t6.daddr;
	}
	if (ipfix_rec_from_event(&r, ev, &d->conf, v6s, v6d, wall_ms_of(ts)))
		add(d, &r);
}

void ipfix_port_block(struct ns_daemon *d, const struct ipfix_port_block *pb)
{
	struct ipfix_nat_rec r;

	if (!ix.enc)
		return;
	memset(&r, 0, sizeof(r));
	r.time_ms = wall_ms_of(pb->ts_ns);
	r.nat_event = pb->release ? IPFIX_NATEV_PORT_BLOCK_RELEASE : IPFIX_NATEV_PORT_BLOCK_ALLOC;
	r.src4 = ntohl(pb->in_addr);
	r.xsrc4 = ntohl(pb->out_addr);
	r.pb_start = pb->first;
	r.pb_end = pb->last;
	r.pb_step = pb->step;
	r.pb_num = pb->n_ports;
	add(d, &r);
}

/* ---- set-up --------------------------------------------------------------- */

static int udp_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

static int timer_fd(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int open_all(struct ns_daemon *d)
{
	const struct ns_ipfix_conf *c = &ix.conf;
	const char *why;
	int err;

	for (uint32_t i = 0; i < c->n_collectors; i++) {
		int *fd = c->collectors[i].ss_family == AF_INET6 ? &ix.fd6 : &ix.fd4;

		if (*fd < 0 && (*fd = udp_socket(c->collectors[i].ss_family)) < 0)
			return *fd;
	}
	ix.enc = ipfix_enc_new(c->domain, (uint16_t)c->message_size, send_msg, d, &why);
	if (!ix.enc) {
		pr_err("ipfix: %s", why);
		return -ENOMEM;
	}
	ix.flush_fd = timer_fd();
	if (ix.flush_fd < 0)
		return ix.flush_fd;
	err = loop_add(d->loop, ix.flush_fd, EPOLLIN, on_flush, d);
	if (err) {
		close(ix.flush_fd);
		ix.flush_fd = -1;
		return err;
	}
	ix.refresh_fd = loop_add_timer(d->loop, (uint64_t)c->template_refresh * 1000, on_refresh, d);
	return ix.refresh_fd < 0 ? ix.refresh_fd : 0;
}

static void close_all(struct ns_daemon *d)
{
	flush(d);
	if (ix.refresh_fd >= 0)
		loop_del(d->loop, ix.refresh_fd); /* closes the timerfd */
	if (ix.flush_fd >= 0) {
		loop_del(d->loop, ix.flush_fd);
		close(ix.flush_fd);
	}
	ix.refresh_fd = ix.flush_fd = -1;
	ix.flush_armed = false;
	if (ix.fd4 >= 0)
		close(ix.fd4);
	if (ix.fd6 >= 0)
		close(ix.fd6);
	ix.fd4 = ix.fd6 = -1;
	ipfix_enc_free(ix.enc);
	ix.enc = NULL;
}

static const char *fmt_endpoint(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	}
	return buf;
}

int ipfix_init(struct ns_daemon *d)
{
	char addr[INET6_ADDRSTRLEN + 8];
	int err;

	ix.conf = d->conf.ipfix;
	if (!ix.conf.n_collectors)
		return 0;
	err = open_all(d);
	if (err) {
		pr_err("ipfix: cannot start the export: %s", strerror(-err));
		close_all(d);
		return err;
	}
	fmt_endpoint(&ix.conf.collectors[0], addr, sizeof(addr));
	pr_info("ipfix: exporting NAT events to %s%s (observation domain %u, templates every %u s)",
		addr, ix.conf.n_collectors > 1 ? " and others" : "", ix.conf.domain,
		ix.conf.template_refresh);
	send_templates(d);
	return 0;
}

void ipfix_fini(struct ns_daemon *d)
{
	close_all(d);
}

void ipfix_reconfigure(struct ns_daemon *d)
{
	if (!memcmp(&ix.conf, &d->conf.ipfix, sizeof(ix.conf)))
		return;
	close_all(d);
	if (ipfix_init(d))
		pr_err("ipfix: the export stays off until the next reload");
}
