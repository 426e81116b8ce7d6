// SPDX-License-Identifier: GPL-2.0
/*
 * monitor.c - redundancy events: the debouncer (pure, first half) and the
 * probes that feed it (link and route through one rtnetlink socket, ping
 * through an ICMP socket per event, the peer through a callback), all on
 * the event loop and never blocking. See monitor.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip_icmp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ctlproto.h"
#include "log.h"
#include "loop.h"
#include "monitor.h"
#include "util.h"

/* ---- the debouncer ---------------------------------------------------------- */

static int settle(struct mon_event *e, uint64_t now, bool up)
{
	uint8_t from = e->state;

	e->state = up ? MON_UP : MON_DOWN;
	e->holding = false;
	e->since_ms = now;
	e->changes++;
	ns_strlcpy(e->reason, e->raw_reason, sizeof(e->reason));
	if (!up)
		return MON_FIRE_DOWN;
	return from == MON_DOWN ? MON_FIRE_UP : 0;
}

int mon_event_input(struct mon_event *e, uint32_t hold_down_ms, uint32_t hold_up_ms,
		    uint64_t now, bool up, const char *reason)
{
	ns_strlcpy(e->raw_reason, reason ? reason : "", sizeof(e->raw_reason));
	if (e->raw_up != up && e->holding)
		e->flaps++; /* back before its hold ran out: forgotten */
	e->raw_up = up;
	if (e->state == MON_UNKNOWN && up)
		return settle(e, now, true);
	if (e->state == (up ? MON_UP : MON_DOWN)) {
		e->holding = false;
		return 0;
	}
	if (!e->holding) {
		e->holding = true;
		e->hold_since_ms = now;
	}
	return mon_event_tick(e, hold_down_ms, hold_up_ms, now);
}

int mon_event_tick(struct mon_event *e, uint32_t hold_down_ms, uint32_t hold_up_ms,
		   uint64_t now)
{
	uint32_t hold = e->raw_up ? hold_up_ms : hold_down_ms;

	if (!e->holding || now - e->hold_since_ms < hold)
		return 0;
	return settle(e, now, e->raw_up);
}

const char *mon_event_state_name(const struct mon_event *e)
{
	if (e->holding)
		return e->raw_up ? "holding-up" : "holding-down";
	switch (e->state) {
	case MON_UP: return "up";
	case MON_DOWN: return "down";
	}
	return "unknown";
}

/* ---- daemon glue -------------------------------------------------------------- */

#define MON_TICK_MS 25
#define MON_NL_BURST 16           /* netlink reads per callback: a big table
				   * dump yields to the loop between bursts */

struct mon_ping {
	int fd;
	bool raw;                 /* SOCK_RAW: replies carry the IP header */
	uint16_t id;              /* echo identifier (raw; datagram: the kernel's) */
	uint16_t seq;             /* last sent */
	bool outstanding;         /* the last echo is unanswered */
	uint32_t lost;            /* unanswered in a row */
	uint64_t next_ms;
	uint64_t sent, answered;
	int last_err;             /* last sendto() errno, 0 none */
};

struct mon_link {
	int ifindex;
	bool up;
};

struct ns_monitor {
	struct ns_loop *loop;
	const struct ns_redundancy_conf *rc;
	monitor_fired_cb fired;
	monitor_peer_cb peer;
	void *arg;
	struct mon_event ev[NS_SRD_MAX_EVENTS];
	struct mon_link links[NS_SRD_MAX_EVENTS][NS_SRD_MAX_LINKS];
	struct mon_ping ping[NS_SRD_MAX_EVENTS];
	bool route_seen[NS_SRD_MAX_EVENTS]; /* during a route dump */
	int nlfd, tfd;
	uint32_t nl_seq, nl_pid;  /* our dump's sequence; our netlink port */
	int dumping;              /* 0, RTM_GETLINK or RTM_GETROUTE in progress */
	bool want_links, want_routes; /* a dump is due once the current one ends */
	uint64_t dumps, nl_overruns;
};

static uint64_t now_ms(void)
{
	return ns_now() / 1000000ull;
}

static void input_at(struct ns_monitor *m, uint32_t i, bool up, const char *reason, uint64_t now)
{
	const struct ns_srd_event_conf *c = &m->rc->events[i];
	struct mon_event *e = &m->ev[i];
	uint8_t before = e->state;
	int fire;

	if (e->state != MON_UNKNOWN && e->raw_up == up && !e->holding && e->state ==
	    (up ? MON_UP : MON_DOWN))
		return; /* nothing new: keep the reason of the change */
	fire = mon_event_input(e, c->hold_down_ms, c->hold_up_ms, now, up, reason);
	if (e->holding && before != MON_UNKNOWN)
		pr_info("redundancy: event %s %s (%s), holding %u ms", c->name,
			up ? "clears" : "occurs", reason, up ? c->hold_up_ms : c->hold_down_ms);
	if (fire || e->state != before)
		pr_warn("redundancy: event %s is %s: %s", c->name, mon_event_state_name(e), e->reason);
	if (fire && m->fired)
		m->fired(m->arg, i, fire);
}

void monitor_input(struct ns_monitor *m, uint32_t idx, bool up, const char *reason)
{
	if (idx < m->rc->n_events)
		input_at(m, idx, up, reason, now_ms());
}

const struct mon_event *monitor_event(const struct ns_monitor *m, uint32_t idx)
{
	return idx < m->rc->n_events ? &m->ev[idx] : NULL;
}

bool monitor_is(const struct ns_monitor *m, uint32_t idx, bool up)
{
	return idx < m->rc->n_events && m->ev[idx].state == (up ? MON_UP : MON_DOWN);
}

/* ---- links ---- */

static void link_report(struct ns_monitor *m, uint32_t i)
{
	const struct ns_srd_event_conf *c = &m->rc->events[i];
	char why[MON_TEXT_MAX] = "";
	size_t len = 0;

	for (uint32_t k = 0; k < c->n_links; k++) {
		if (!m->links[i][k].up)
			ns_join(why, sizeof(why), &len, "link down: ", c->links[k]);
	}
	monitor_input(m, i, !len, len ? why : "every link up");
}

static void on_link(struct ns_monitor *m, const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const char *name = ns_nl_link_name(h);

	for (uint32_t i = 0; i < m->rc->n_events; i++) {
		const struct ns_srd_event_conf *c = &m->rc->events[i];
		bool hit = false;

		if (c->kind != NS_SRD_LINK)
			continue;
		for (uint32_t k = 0; k < c->n_links; k++) {
			struct mon_link *l = &m->links[i][k];

			if (l->ifindex != ifi->ifi_index && !(name && !strcmp(name, c->links[k])))
				continue;
			hit = true;
			l->ifindex = h->nlmsg_type == RTM_NEWLINK ? ifi->ifi_index : 0;
			l->up = h->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP) &&
				(ifi->ifi_flags & IFF_RUNNING);
		}
		if (hit && !m->dumping)
			link_report(m, i);
	}
}

/* ---- routes ---- */

static bool route_is(const struct ns_srd_event_conf *c, const struct rtmsg *rt, uint32_t table,
		     uint32_t dst)
{
	return c->kind == NS_SRD_ROUTE && rt->rtm_family == AF_INET &&
	       rt->rtm_dst_len == c->prefix_len && table == c->table &&
	       dst == c->prefix.s_addr;
}

static void route_reason(const struct ns_srd_event_conf *c, bool up, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u %s table %u", ns_fmt_ip(c->prefix.s_addr, a, sizeof(a)),
		 c->prefix_len, up ? "in" : "gone from", c->table);
}

static void on_route(struct ns_monitor *m, const struct nlmsghdr *h, bool dump_reply)
{
	const struct rtmsg *rt = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rt));
	uint32_t table = rt->rtm_table, dst = 0;
	char why[MON_TEXT_MAX];

	if (len < 0 || rt->rtm_family != AF_INET)
		return;
	for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) >= 4)
			memcpy(&table, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) >= 4)
			memcpy(&dst, RTA_DATA(a), 4);
	}
	for (uint32_t i = 0; i < m->rc->n_events; i++) {
		const struct ns_srd_event_conf *c = &m->rc->events[i];

		if (!route_is(c, rt, table, dst))
			continue;
		if (dump_reply) {
			m->route_seen[i] = true;
		} else if (h->nlmsg_type == RTM_NEWROUTE) {
			route_reason(c, true, why, sizeof(why));
			monitor_input(m, i, true, why);
		} else {
			/* Another route to the same prefix (another metric)
			 * may remain: the table dump decides. */
			m->want_routes = true;
		}
	}
}

static bool has_kind(const struct ns_monitor *m, int kind)
{
	for (uint32_t i = 0; i < m->rc->n_events; i++)
		if (m->rc->events[i].kind == kind)
			return true;
	return false;
}

/* Start the next due dump (one at a time on the socket). */
static void dump_next(struct ns_monitor *m)
{
	struct {
		struct nlmsghdr n;
		union {
			struct ifinfomsg ifi;
			struct rtmsg rt;
		};
	} req;
	int type;

	if (m->dumping || m->nlfd < 0)
		return;
	if (m->want_links)
		type = RTM_GETLINK;
	else if (m->want_routes)
		type = RTM_GETROUTE;
	else
		return;
	memset(&req, 0, sizeof(req));
	req.n.nlmsg_type = (uint16_t)type;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.n.nlmsg_seq = ++m->nl_seq;
	if (type == RTM_GETLINK) {
		req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
		req.ifi.ifi_family = AF_UNSPEC;
	} else {
		req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt));
		req.rt.rtm_family = AF_INET;
	}
	if (send(m->nlfd, &req, req.n.nlmsg_len, MSG_DONTWAIT) < 0) {
		pr_warn("redundancy: monitor: netlink dump request: %s", strerror(errno));
		return; /* the next tick retries: want_* stay set */
	}
	if (type == RTM_GETLINK)
		m->want_links = false;
	else
		m->want_routes = false;
	memset(m->route_seen, 0, sizeof(m->route_seen));
	m->dumping = type;
	m->dumps++;
}

static void dump_done(struct ns_monitor *m)
{
	char why[MON_TEXT_MAX];

	for (uint32_t i = 0; i < m->rc->n_events; i++) {
		const struct ns_srd_event_conf *c = &m->rc->events[i];

		if (m->dumping == RTM_GETLINK && c->kind == NS_SRD_LINK) {
			link_report(m, i);
		} else if (m->dumping == RTM_GETROUTE && c->kind == NS_SRD_ROUTE) {
			route_reason(c, m->route_seen[i], why, sizeof(why));
			monitor_input(m, i, m->route_seen[i], why);
		}
	}
	m->dumping = 0;
	dump_next(m);
}

static void on_netlink(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_monitor *m = arg;
	char buf[16384] __attribute__((aligned(4)));
	ssize_t len = 0;

	(void)loop;
	(void)events;
	for (int burst = 0; burst < MON_NL_BURST; burst++) {
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			bool reply = m->dumping && h->nlmsg_seq == m->nl_seq &&
				     h->nlmsg_pid == m->nl_pid;

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				if (reply)
					dump_done(m);
				continue;
			}
			if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) {
				on_link(m, h);
				/* Routes through a link that went down vanish
				 * without a notification each. */
				if (!reply && has_kind(m, NS_SRD_ROUTE))
					m->want_routes = true;
			} else if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) {
				on_route(m, h, reply);
			} else if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
				if (has_kind(m, NS_SRD_ROUTE))
					m->want_routes = true;
			}
		}
	}
	if (len < 0 && errno == ENOBUFS) {
		/* Notifications were lost: ask the kernel for the truth. */
		m->nl_overruns++;
		m->want_links = has_kind(m, NS_SRD_LINK);
		m->want_routes = has_kind(m, NS_SRD_ROUTE);
		if (m->dumping)
			m->dumping = 0; /* its end may be lost too: start over */
	}
	dump_next(m);
}

static int nl_open(struct ns_monitor *m)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_IFADDR,
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE), err;
	socklen_t sl = sizeof(sa);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	m->nl_pid = sa.nl_pid;
	err = loop_add(m->loop, fd, EPOLLIN, on_netlink, m);
	if (err) {
		close(fd);
		return err;
	}
	m->nlfd = fd;
	m->want_links = has_kind(m, NS_SRD_LINK);
	m->want_routes = has_kind(m, NS_SRD_ROUTE);
	dump_next(m);
	return 0;
}

/* ---- ping ---- */

static void on_ping(struct ns_loop *loop, int fd, uint32_t events, void *arg);

static int ping_open(struct ns_monitor *m, uint32_t i)
{
	const struct ns_srd_event_conf *c = &m->rc->events[i];
	struct mon_ping *p = &m->ping[i];
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr = c->ping_source };
	int fd, err;

	/* Datagram ICMP needs no privilege where ping_group_range allows
	 * our group; raw needs CAP_NET_RAW (natsyncd has it for ARP). */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	p->raw = fd < 0;
	if (fd < 0)
		fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		return -errno;
	if ((c->ping_iface[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, c->ping_iface,
					    (socklen_t)strlen(c->ping_iface) + 1) < 0) ||
	    ((c->ping_source.s_addr || !p->raw) &&
	     bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!p->raw) {
		socklen_t sl = sizeof(src);

		if (getsockname(fd, (struct sockaddr *)&src, &sl) == 0)
			p->id = ntohs(src.sin_port);
	} else {
		p->id = (uint16_t)(getpid() * 31 + i * 7919);
	}
	err = loop_add(m->loop, fd, EPOLLIN, on_ping, m);
	if (err) {
		close(fd);
		return err;
	}
	p->fd = fd;
	return 0;
}

static void ping_send(struct ns_monitor *m, uint32_t i, uint64_t now)
{
	const struct ns_srd_event_conf *c = &m->rc->events[i];
	struct mon_ping *p = &m->ping[i];
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr = c->ping_addr };
	struct {
		struct icmphdr h;
		uint8_t data[24];
	} pkt;
	char why[MON_TEXT_MAX], a[INET_ADDRSTRLEN];

	if (p->outstanding && ++p->lost >= c->ping_count) {
		snprintf(why, sizeof(why), "%s: %u echoes unanswered%s%s",
			 ns_fmt_ip(c->ping_addr.s_addr, a, sizeof(a)), p->lost,
			 p->last_err ? ", " : "", p->last_err ? strerror(p->last_err) : "");
		monitor_input(m, i, false, why);
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.h.type = ICMP_ECHO;
	pkt.h.un.echo.id = htons(p->id);
	pkt.h.un.echo.sequence = htons(++p->seq);
	memcpy(pkt.data, "natsync-monitor", 15);
	pkt.h.checksum = htons(ns_inet_csum((const uint8_t *)&pkt, sizeof(pkt)));
	p->outstanding = true;
	p->next_ms = now + c->ping_interval_ms;
	p->sent++;
	p->last_err = sendto(p->fd, &pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&dst,
			     sizeof(dst)) < 0 ? errno : 0;
}

/* An echo reply from the target to one of the last count echoes. */
static void on_ping(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_monitor *m = arg;
	uint8_t buf[1500];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	char why[MON_TEXT_MAX], a[INET_ADDRSTRLEN];
	ssize_t n;

	(void)loop;
	(void)events;
	for (uint32_t i = 0; i < m->rc->n_events; i++) {
		const struct ns_srd_event_conf *c = &m->rc->events[i];
		struct mon_ping *p = &m->ping[i];

		if (c->kind != NS_SRD_PING || p->fd != fd)
			continue;
		while ((n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &fl)) > 0) {
			fl = sizeof(from);
			size_t off = 0;
			const struct icmphdr *h;
			uint16_t back;

			if (p->raw)
				off = (size_t)(buf[0] & 0x0f) * 4;
			if ((size_t)n < off + sizeof(*h) || from.sin_addr.s_addr != c->ping_addr.s_addr)
				continue;
			h = (const struct icmphdr *)(buf + off);
			back = (uint16_t)(p->seq - ntohs(h->un.echo.sequence));
			if (h->type != ICMP_ECHOREPLY || (p->raw && ntohs(h->un.echo.id) != p->id) ||
			    back >= c->ping_count)
				continue;
			p->outstanding = false;
			p->lost = 0;
			p->answered++;
			snprintf(why, sizeof(why), "%s answers",
				 ns_fmt_ip(c->ping_addr.s_addr, a, sizeof(a)));
			monitor_input(m, i, true, why);
		}
	}
}

/* ---- the tick ---- */

void monitor_tick(struct ns_monitor *m)
{
	uint64_t now = now_ms();

	for (uint32_t i = 0; i < m->rc->n_events; i++) {
		const struct ns_srd_event_conf *c = &m->rc->events[i];
		int fire;

		if (c->kind == NS_SRD_PING && m->ping[i].fd >= 0 && now >= m->ping[i].next_ms)
			ping_send(m, i, now);
		if (c->kind == NS_SRD_PEER && m->peer) {
			int alive = m->peer(m->arg);

			if (alive >= 0)
				input_at(m, i, alive, alive ? "peer heartbeats arrive" :
					 "no heartbeat from the peer for dead-interval", now);
		}
		fire = mon_event_tick(&m->ev[i], c->hold_down_ms, c->hold_up_ms, now);
		if (fire) {
			pr_warn("redundancy: event %s is %s after its hold time: %s", c->name,
				mon_event_state_name(&m->ev[i]), m->ev[i].reason);
			if (m->fired)
				m->fired(m->arg, i, fire);
		}
	}
	dump_next(m);
}

static void on_tick(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	monitor_tick(arg);
}

struct ns_monitor *monitor_new(struct ns_loop *loop, const struct ns_redundancy_conf *rc,
			       monitor_fired_cb fired, monitor_peer_cb peer, void *arg)
{
	struct ns_monitor *m = calloc(1, sizeof(*m));
	int err = 0;

	if (!m)
		return NULL;
	m->loop = loop;
	m->rc = rc;
	m->fired = fired;
	m->peer = peer;
	m->arg = arg;
	m->nlfd = m->tfd = -1;
	for (uint32_t i = 0; i < NS_SRD_MAX_EVENTS; i++)
		m->ping[i].fd = -1;
	if (!loop || !rc->n_events)
		return m;
	if (has_kind(m, NS_SRD_LINK) || has_kind(m, NS_SRD_ROUTE))
		err = nl_open(m);
	for (uint32_t i = 0; !err && i < rc->n_events; i++)
		if (rc->events[i].kind == NS_SRD_PING) {
			err = ping_open(m, i);
			if (err)
				pr_err("redundancy: event %s: ICMP socket: %s", rc->events[i].name,
				       strerror(-err));
		}
	if (!err) {
		m->tfd = loop_add_timer(loop, MON_TICK_MS, on_tick, m);
		err = m->tfd < 0 ? m->tfd : 0;
	}
	if (err) {
		monitor_free(m);
		errno = -err;
		return NULL;
	}
	return m;
}

void monitor_free(struct ns_monitor *m)
{
	if (!m)
		return;
	if (m->tfd >= 0)
		loop_del(m->loop, m->tfd);
	if (m->nlfd >= 0) {
		loop_del(m->loop, m->nlfd);
		close(m->nlfd);
	}
	for (uint32_t i = 0; i < NS_SRD_MAX_EVENTS; i++)
		if (m->ping[i].fd >= 0) {
			loop_del(m->loop, m->ping[i].fd);
			close(m->ping[i].fd);
		}
	free(m);
}

/* ---- show ---- */

static const char *kind_name(int kind)
{
	switch (kind) {
	case NS_SRD_LINK: return "link-down";
	case NS_SRD_ROUTE: return "route";
	case NS_SRD_PING: return "ping";
	case NS_SRD_PEER: return "peer";
	}
	return "?";
}

/* What the event watches, in one phrase. */
static void what_text(const struct ns_srd_event_conf *c, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];
	size_t n = 0;

	buf[0] = '\0';
	switch (c->kind) {
	case NS_SRD_LINK:
		for (uint32_t k = 0; k < c->n_links; k++)
			ns_join(buf, len, &n, "", c->links[k]);
		break;
	case NS_SRD_ROUTE:
		snprintf(buf, len, "%s/%u table %u", ns_fmt_ip(c->prefix.s_addr, a, sizeof(a)),
			 c->prefix_len, c->table);
		break;
	case NS_SRD_PING:
		snprintf(buf, len, "%s every %u ms, %u lost", ns_fmt_ip(c->ping_addr.s_addr, a,
			 sizeof(a)), c->ping_interval_ms, c->ping_count);
		break;
	case NS_SRD_PEER:
		snprintf(buf, len, "loss");
		break;
	}
}

void monitor_status(const struct ns_monitor *m, FILE *f, struct ctl_json *j)
{
	uint64_t now = now_ms();
	char what[MON_TEXT_MAX];

	if (j) {
		ctl_json_key(j, "events");
		ctl_json_start_array(j);
	} else if (m->rc->n_events) {
		fprintf(f, "Events:\n");
	}
	for (uint32_t i = 0; i < m->rc->n_events; i++) {
		const struct ns_srd_event_conf *c = &m->rc->events[i];
		const struct mon_event *e = &m->ev[i];
		uint64_t since = e->holding ? e->hold_since_ms : e->since_ms;

		what_text(c, what, sizeof(what));
		if (!j) {
			fprintf(f, "  %-16s %-9s %-34s %-12s for %llu ms, %llu changes: %s\n",
				c->name, kind_name(c->kind), what, mon_event_state_name(e),
				(unsigned long long)(now - since), (unsigned long long)e->changes,
				e->holding ? e->raw_reason : e->reason[0] ? e->reason : "-");
			continue;
		}
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "name", c->name);
		ctl_json_kv_string(j, "kind", kind_name(c->kind));
		ctl_json_kv_string(j, "watches", what);
		ctl_json_kv_string(j, "state", mon_event_state_name(e));
		ctl_json_kv_uint(j, "since_ms", now - since);
		ctl_json_kv_string(j, "reason", e->reason);
		ctl_json_kv_string(j, "raw_reason", e->raw_reason);
		ctl_json_kv_uint(j, "changes", e->changes);
		ctl_json_kv_uint(j, "flaps", e->flaps);
		ctl_json_kv_uint(j, "hold_down_ms", c->hold_down_ms);
		ctl_json_kv_uint(j, "hold_up_ms", c->hold_up_ms);
		if (c->kind == NS_SRD_PING) {
			ctl_json_kv_uint(j, "echoes_sent", m->ping[i].sent);
			ctl_json_kv_uint(j, "echoes_answered", m->ping[i].answered);
		}
		ctl_json_end_object(j);
	}
	if (j)
		ctl_json_end_array(j);
}
