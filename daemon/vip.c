// SPDX-License-Identifier: GPL-2.0
/*
 * vip.c - virtual addresses, gratuitous ARP, signal routes and hook
 * commands for the redundancy module (contract in vip.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"
#include "vip.h"

extern char **environ;

struct vip_hook {
	pid_t pid;               /* 0 = free slot */
	int pidfd;
	char what[48];           /* "primary (manual)" for the log */
};

struct ns_vip {
	struct ns_loop *loop;
	const struct ns_redundancy_conf *rc;
	char node[NS_NAME_MAX];
	int nlfd;                /* rtnetlink requests, opened on first use */
	int pfd;                 /* AF_PACKET for ARP, opened on first use */
	int garp_tfd;            /* repeat timer while a burst runs, else -1 */
	uint32_t garp_left;      /* announcements still to send per address */
	struct vip_hook hooks[VIP_MAX_HOOKS];
};

/* ---- rtnetlink ------------------------------------------------------------- */

struct nl_req {
	struct nlmsghdr n;
	union {
		struct ifaddrmsg ifa;
		struct rtmsg rt;
	};
	char attrs[256];
};

int vip_nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void nl_attr(struct nlmsghdr *n, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/*
 * Send one request and read its ack. The kernel handles rtnetlink requests
 * synchronously inside sendmsg(), so the ack is queued by the time we read
 * (MSG_DONTWAIT: the loop never waits on it). Stale acks of earlier
 * requests (other sequence numbers) are skipped.
 */
static int nl_talk(int fd, struct nlmsghdr *n)
{
	static uint32_t seq;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	ssize_t len;

	n->nlmsg_seq = ++seq;
	n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (sendto(fd, n, n->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != n->nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

int vip_addr_change(int nlfd, bool add, int ifindex, uint32_t addr_be, uint8_t plen)
{
	struct nl_req r;
	int err;

	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.n.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	r.n.nlmsg_flags = add ? NLM_F_CREATE | NLM_F_REPLACE : 0;
	r.ifa.ifa_family = AF_INET;
	r.ifa.ifa_prefixlen = plen;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	r.ifa.ifa_index = (unsigned int)ifindex;
	nl_attr(&r.n, IFA_LOCAL, &addr_be, 4);
	nl_attr(&r.n, IFA_ADDRESS, &addr_be, 4);
	err = nl_talk(nlfd, &r.n);
	/* Deleting an address that is not there is what we wanted. */
	if (!add && err == -EADDRNOTAVAIL)
		err = 0;
	return err;
}

int vip_route_change(int nlfd, bool add, const struct ns_red_route *rt)
{
	uint32_t table = rt->table ? rt->table : RT_TABLE_MAIN, metric = rt->metric;
	int oif = rt->ifname[0] ? (int)if_nametoindex(rt->ifname) : 0;
	bool blackhole = !rt->ifname[0] && !rt->via.s_addr;
	struct nl_req r;
	int err;

	if (rt->ifname[0] && !oif)
		return -ENODEV;
	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	r.n.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	r.n.nlmsg_flags = add ? NLM_F_CREATE | NLM_F_REPLACE : 0;
	r.rt.rtm_family = AF_INET;
	r.rt.rtm_dst_len = rt->prefix_len;
	r.rt.rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	r.rt.rtm_protocol = RTPROT_STATIC;
	r.rt.rtm_scope = blackhole || rt->via.s_addr ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	r.rt.rtm_type = blackhole ? RTN_BLACKHOLE : RTN_UNICAST;
	nl_attr(&r.n, RTA_DST, &rt->dst.s_addr, 4);
	nl_attr(&r.n, RTA_TABLE, &table, 4);
	if (rt->via.s_addr)
		nl_attr(&r.n, RTA_GATEWAY, &rt->via.s_addr, 4);
	if (oif)
		nl_attr(&r.n, RTA_OIF, &oif, 4);
	if (metric)
		nl_attr(&r.n, RTA_PRIORITY, &metric, 4);
	err = nl_talk(nlfd, &r.n);
	if (!add && err == -ESRCH)
		err = 0;
	return err;
}

/* ---- gratuitous ARP -------------------------------------------------------- */

int vip_arp_open(void)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));

	return fd < 0 ? -errno : fd;
}

/* The interface's Ethernet address; -EOPNOTSUPP when it has none. */
static int if_mac(int ifindex, unsigned char mac[ETH_ALEN])
{
	struct ifreq ifr;
	int fd, err = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		err = -EOPNOTSUPP;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	close(fd);
	return err;
}

int vip_send_garp(int pfd, int ifindex, uint32_t addr_be)
{
	struct {
		struct arphdr h;
		unsigned char sha[ETH_ALEN], spa[4], tha[ETH_ALEN], tpa[4];
	} __attribute__((packed)) p;
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = ifindex,
		.sll_halen = ETH_ALEN,
	};
	int err;

	memset(&p, 0, sizeof(p));
	err = if_mac(ifindex, p.sha);
	if (err)
		return err;
	/* A request for our own address (RFC 5227 "ARP announcement"):
	 * every host on the LAN updates its cache, none answers. */
	p.h.ar_hrd = htons(ARPHRD_ETHER);
	p.h.ar_pro = htons(ETH_P_IP);
	p.h.ar_hln = ETH_ALEN;
	p.h.ar_pln = 4;
	p.h.ar_op = htons(ARPOP_REQUEST);
	memcpy(p.spa, &addr_be, 4);
	memcpy(p.tpa, &addr_be, 4);
	memset(to.sll_addr, 0xff, ETH_ALEN);
	if (sendto(pfd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/* ---- the actions ------------------------------------------------------------- */

static int ensure_fds(struct ns_vip *v)
{
	if (v->nlfd < 0)
		v->nlfd = vip_nl_open();
	if (v->nlfd < 0)
		return v->nlfd;
	if (v->pfd < 0)
		v->pfd = vip_arp_open();
	return v->pfd < 0 ? v->pfd : 0;
}

struct ns_vip *vip_new(struct ns_loop *loop, const struct ns_redundancy_conf *rc,
		       const char *node)
{
	struct ns_vip *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->loop = loop;
	v->rc = rc;
	ns_strlcpy(v->node, node ? node : "", sizeof(v->node));
	v->nlfd = v->pfd = v->garp_tfd = -1;
	return v;
}

static void stop_garp(struct ns_vip *v)
{
	if (v->garp_tfd >= 0 && v->loop)
		loop_del(v->loop, v->garp_tfd); /* closes the timerfd */
	v->garp_tfd = -1;
	v->garp_left = 0;
}

/* One announcement for every virtual address; logs only the first round. */
static void garp_round(struct ns_vip *v, bool first)
{
	for (uint32_t i = 0; i < v->rc->n_vips; i++) {
		const struct ns_red_vip *a = &v->rc->vips[i];
		int ifindex = (int)if_nametoindex(a->ifname);
		char ip[INET_ADDRSTRLEN];
		int err;

		if (!ifindex)
			continue; /* reported by the address step */
		err = vip_send_garp(v->pfd, ifindex, a->addr.s_addr);
		if (err && first && err != -EOPNOTSUPP)
			pr_warn("redundancy: gratuitous ARP for %s on %s: %s",
				ns_fmt_ip(a->addr.s_addr, ip, sizeof(ip)), a->ifname, strerror(-err));
	}
}

static void on_garp_timer(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_vip *v = arg;

	(void)loop;
	(void)fd;
	(void)events;
	garp_round(v, false);
	if (v->garp_left)
		v->garp_left--;
	if (!v->garp_left)
		stop_garp(v);
}

static void start_garp(struct ns_vip *v)
{
	uint32_t count = v->rc->garp_count ? v->rc->garp_count : VIP_GARP_COUNT_DEFAULT;
	uint32_t ival = v->rc->garp_interval_ms ? v->rc->garp_interval_ms :
			VIP_GARP_INTERVAL_DEFAULT_MS;
	int fd;

	stop_garp(v);
	if (!v->rc->n_vips)
		return;
	garp_round(v, true);
	if (count <= 1 || !v->loop)
		return;
	/* Repeats, because a switch port or a host may miss the first
	 * (a bridge still learning, an ARP entry being refreshed). */
	fd = loop_add_timer(v->loop, ival, on_garp_timer, v);
	if (fd < 0) {
		pr_warn("redundancy: ARP repeat timer: %s", strerror(-fd));
		return;
	}
	v->garp_tfd = fd;
	v->garp_left = count - 1;
}

static int change_addrs(struct ns_vip *v, bool add)
{
	int first = 0;

	for (uint32_t i = 0; i < v->rc->n_vips; i++) {
		const struct ns_red_vip *a = &v->rc->vips[i];
		int ifindex = (int)if_nametoindex(a->ifname), err;
		char ip[INET_ADDRSTRLEN];

		err = ifindex ? vip_addr_change(v->nlfd, add, ifindex, a->addr.s_addr,
						a->prefix_len ? a->prefix_len : 32) : -ENODEV;
		if (err) {
			pr_err("redundancy: %s virtual address %s/%u on %s: %s",
			       add ? "add" : "remove", ns_fmt_ip(a->addr.s_addr, ip, sizeof(ip)),
			       a->prefix_len ? a->prefix_len : 32, a->ifname, strerror(-err));
			if (!first)
				first = err;
		}
	}
	return first;
}

static int change_routes(struct ns_vip *v, bool add)
{
	int first = 0;

	for (uint32_t i = 0; i < v->rc->n_routes; i++) {
		const struct ns_red_route *rt = &v->rc->routes[i];
		char ip[INET_ADDRSTRLEN];
		int err = vip_route_change(v->nlfd, add, rt);

		if (err) {
			pr_err("redundancy: %s signal route %s/%u: %s", add ? "add" : "remove",
			       ns_fmt_ip(rt->dst.s_addr, ip, sizeof(ip)), rt->prefix_len,
			       strerror(-err));
			if (!first)
				first = err;
		}
	}
	return first;
}

int vip_takeover(struct ns_vip *v)
{
	int err = 0, e;

	if (!v->rc->n_vips && !v->rc->n_routes)
		return 0;
	err = ensure_fds(v);
	if (err) {
		pr_err("redundancy: netlink/packet socket: %s", strerror(-err));
		return err;
	}
	/* Addresses first (a GARP for an address we do not hold would be a
	 * lie), then the announcement, then the routes that attract more. */
	err = change_addrs(v, true);
	start_garp(v);
	e = change_routes(v, true);
	return err ? err : e;
}

int vip_release(struct ns_vip *v)
{
	int err, e;

	stop_garp(v);
	if (!v->rc->n_vips && !v->rc->n_routes)
		return 0;
	err = ensure_fds(v);
	if (err) {
		pr_err("redundancy: netlink/packet socket: %s", strerror(-err));
		return err;
	}
	/* Routes first: stop attracting traffic before dropping addresses. */
	err = change_routes(v, false);
	e = change_addrs(v, false);
	return err ? err : e;
}

/* ---- hooks ------------------------------------------------------------------- */

static void on_hook_exit(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct vip_hook *h = arg;
	int status;

	(void)events;
	if (waitpid(h->pid, &status, WNOHANG) == 0)
		return; /* spurious */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		pr_info("redundancy: hook for %s finished", h->what);
	else if (WIFEXITED(status))
		pr_warn("redundancy: hook for %s exited with status %d", h->what,
			WEXITSTATUS(status));
	else
		pr_warn("redundancy: hook for %s killed by signal %d", h->what,
			WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	loop_del(loop, fd);
	close(fd);
	h->pid = 0;
	h->pidfd = -1;
}

static struct vip_hook *free_hook(struct ns_vip *v)
{
	int status;

	/* Hooks nobody watches (no pidfd, or no loop) are collected here. */
	for (int i = 0; i < VIP_MAX_HOOKS; i++) {
		struct vip_hook *h = &v->hooks[i];

		if (h->pid && h->pidfd < 0 && waitpid(h->pid, &status, WNOHANG) == h->pid)
			h->pid = 0;
	}
	for (int i = 0; i < VIP_MAX_HOOKS; i++)
		if (!v->hooks[i].pid)
			return &v->hooks[i];
	return NULL;
}

unsigned int vip_hooks_running(const struct ns_vip *v)
{
	unsigned int n = 0;

	for (int i = 0; i < VIP_MAX_HOOKS; i++)
		n += v->hooks[i].pid != 0;
	return n;
}

/* The child's environment: ours without NATSYNC_*, plus vars[0..n). */
static char **hook_env(char *const *vars, size_t nvars)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + nvars + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "NATSYNC_", 8))
			env[k++] = environ[i];
	for (size_t i = 0; i < nvars; i++)
		env[k++] = vars[i];
	env[k] = NULL;
	return env;
}

pid_t vip_spawn_shell(const char *cmd, char *const *vars, size_t nvars, char *const *args,
		      size_t nargs)
{
	char *argv[8] = { "sh", "-c", (char *)cmd, "natsync-hook" };
	char **env;
	pid_t pid;
	int err;

	if (nargs > NS_ARRAY_SIZE(argv) - 5)
		return -E2BIG;
	for (size_t i = 0; i < nargs; i++)
		argv[4 + i] = args[i];
	env = hook_env(vars, nvars);
	if (!env)
		return -ENOMEM;
	/* posix_spawn: no fork of a large daemon image, and the parent
	 * returns at once; the loop reaps the child through its pidfd. */
	err = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, env);
	free(env);
	return err ? -err : pid;
}

pid_t vip_run_hook(struct ns_vip *v, const char *role, const char *prev, const char *reason)
{
	char vars[4][160];
	char *vp[] = { vars[0], vars[1], vars[2], vars[3] };
	char *args[] = { (char *)role, (char *)prev, (char *)reason };
	struct vip_hook *h;
	pid_t pid;
	int pidfd;

	if (!v->rc->hook[0])
		return 0;
	h = free_hook(v);
	if (!h) {
		pr_warn("redundancy: %d hooks still running: hook for %s not started",
			VIP_MAX_HOOKS, role);
		return -EBUSY;
	}
	snprintf(vars[0], sizeof(vars[0]), "NATSYNC_ROLE=%s", role);
	snprintf(vars[1], sizeof(vars[1]), "NATSYNC_PREV_ROLE=%s", prev);
	snprintf(vars[2], sizeof(vars[2]), "NATSYNC_REASON=%s", reason);
	snprintf(vars[3], sizeof(vars[3]), "NATSYNC_NODE=%s", v->node);
	pid = vip_spawn_shell(v->rc->hook, vp, 4, args, 3);
	if (pid < 0) {
		pr_err("redundancy: hook %s: %s", v->rc->hook, strerror((int)-pid));
		return pid;
	}
	pr_info("redundancy: hook started for %s (pid %d): %s", role, (int)pid, v->rc->hook);
	h->pid = pid;
	h->pidfd = -1;
	snprintf(h->what, sizeof(h->what), "%s (%s)", role, reason);
	if (!v->loop)
		return pid;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || loop_add(v->loop, pidfd, EPOLLIN, on_hook_exit, h)) {
		/* Without a pidfd the next free_hook() sweep collects it. */
		pr_warn("redundancy: cannot watch hook pid %d: %s", (int)pid, strerror(errno));
		if (pidfd >= 0)
			close(pidfd);
		return pid;
	}
	h->pidfd = pidfd;
	return pid;
}

void vip_free(struct ns_vip *v)
{
	if (!v)
		return;
	stop_garp(v);
	for (int i = 0; i < VIP_MAX_HOOKS; i++) {
		if (v->hooks[i].pidfd >= 0 && v->hooks[i].pid) {
			if (v->loop)
				loop_del(v->loop, v->hooks[i].pidfd);
			close(v->hooks[i].pidfd);
		}
	}
	if (v->nlfd >= 0)
		close(v->nlfd);
	if (v->pfd >= 0)
		close(v->pfd);
	free(v);
}
