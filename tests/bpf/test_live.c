// SPDX-License-Identifier: GPL-2.0
/*
 * test_live.c - the fast path on real veth traffic, without the daemon:
 * client namespace -- [nsbt_in  box  nsbt_out] -- server namespace, the box
 * being the test's private namespace with natsync_xdp (native) or
 * natsync_tc (clsact ingress) attached to both interfaces and the maps
 * filled directly. Ping, a UDP exchange and a TCP transfer (content hash
 * compared) must work, the server must only ever see pool addresses, and
 * unsolicited inbound traffic must be dropped. XDP mode turns tx checksum
 * offload off on the hosts (XDP cannot fix CHECKSUM_PARTIAL); TC mode keeps
 * it on, so the csum helpers meet partial checksums from local sockets.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "natsync.skel.h"
#include "tests/bpf/fixture.h"

#define LIVE_BYTES (512 * 1024)
#define UDP_PORT 5300
#define TCP_PORT 5301

static char ns_cli[32], ns_srv[32];

/* The write end of the pipe pair() waits on, in a server child: the server
 * writes one byte once its socket is bound (and listening). */
static int ready_fd = -1;

static void server_ready(void)
{
	char c = 1;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, &c, 1) != 1)
		_exit(95);
	close(ready_fd);
	ready_fd = -1;
}

static void shf(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

static void live_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null",
		 ns_cli, ns_srv);
	if (system(cmd) != 0)
		cr_log_warn("namespace cleanup: %s", cmd);
	t_teardown();
}

/* The veth peers of the fixture move into a client and a server namespace,
 * with the MACs the fixture's permanent neighbour entries expect. */
static void live_setup(int xdp)
{
	t_setup(1024);
	snprintf(ns_cli, sizeof(ns_cli), "nsbt-cli-%d", getpid());
	snprintf(ns_srv, sizeof(ns_srv), "nsbt-srv-%d", getpid());
	shf("ip netns add %s && ip netns add %s", ns_cli, ns_srv);
	shf("ip link set nsbt_inp down && ip link set nsbt_inp address 02:00:00:00:00:02 netns %s",
	    ns_cli);
	shf("ip link set nsbt_outp down && ip link set nsbt_outp address 02:00:00:00:00:03 netns "
	    "%s",
	    ns_srv);
	shf("ip -n %s link set lo up && ip -n %s link set nsbt_inp up", ns_cli, ns_cli);
	shf("ip -n %s addr add 100.64.0.2/24 dev nsbt_inp", ns_cli);
	shf("ip -n %s route add default via 100.64.0.1", ns_cli);
	shf("ip -n %s link set lo up && ip -n %s link set nsbt_outp up", ns_srv, ns_srv);
	shf("ip -n %s addr add 198.51.100.2/24 dev nsbt_outp", ns_srv);
	/* the server knows the pool only: anything else proves a leak */
	shf("ip -n %s route add 203.0.113.0/24 via 198.51.100.1", ns_srv);
	/* XDP_REDIRECT into a veth needs NAPI on the peer: GRO on */
	shf("ip netns exec %s ethtool -K nsbt_inp gro on >/dev/null", ns_cli);
	shf("ip netns exec %s ethtool -K nsbt_outp gro on >/dev/null", ns_srv);
	if (xdp) {
		shf("ip netns exec %s ethtool -K nsbt_inp tx off >/dev/null", ns_cli);
		shf("ip netns exec %s ethtool -K nsbt_outp tx off >/dev/null", ns_srv);
	}
}

static void attach_xdp(unsigned int mode)
{
	int fd = bpf_program__fd(t_skel->progs.natsync_xdp);

	cr_assert_eq(bpf_xdp_attach(t_ifin, fd, mode, NULL), 0);
	cr_assert_eq(bpf_xdp_attach(t_ifout, fd, mode, NULL), 0);
}

static void attach_tc(void)
{
	int fd = bpf_program__fd(t_skel->progs.natsync_tc), ifs[2] = {t_ifin, t_ifout}, i;

	for (i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifs[i], .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd);

		cr_assert_eq(bpf_tc_hook_create(&hook), 0);
		cr_assert_eq(bpf_tc_attach(&hook, &opts), 0);
	}
}

/* Run fn in a child that entered namespace @ns; return its pid. */
static pid_t in_ns(const char *ns, int (*fn)(void))
{
	pid_t pid = fork();
	char path[128];
	int fd;

	cr_assert_geq(pid, 0);
	if (pid)
		return pid;
	alarm(20);
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		_exit(90);
	_exit(fn());
}

static int wait_ok(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int in_pool(const struct sockaddr_in *a)
{
	uint32_t h = ntohl(a->sin_addr.s_addr), first = ntohl(pkt_ip(T_POOL_FIRST));

	return h >= first && h < first + 4;
}

static struct sockaddr_in addr(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	a.sin_addr.s_addr = pkt_ip(ip);
	return a;
}

static void timeouts(int fd)
{
	struct timeval tv = {.tv_sec = 5};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int udp_server(void)
{
	struct sockaddr_in me = addr(T_REM, UDP_PORT), peer;
	socklen_t pl = sizeof(peer);
	char buf[256];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	timeouts(fd);
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)))
		return 1;
	server_ready();
	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl);
	if (n <= 0)
		return 2;
	if (!in_pool(&peer))
		return 3;
	buf[0] ^= 0xff;
	return sendto(fd, buf, n, 0, (struct sockaddr *)&peer, pl) == n ? 0 : 4;
}

static int udp_client(void)
{
	struct sockaddr_in srv = addr(T_REM, UDP_PORT);
	char msg[100], buf[256];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), i;
	ssize_t n;

	timeouts(fd);
	for (i = 0; i < (int)sizeof(msg); i++)
		msg[i] = (char)i;
	if (sendto(fd, msg, sizeof(msg), 0, (struct sockaddr *)&srv, sizeof(srv)) != sizeof(msg))
		return 1;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n != sizeof(msg))
		return 2;
	msg[0] ^= 0xff;
	return memcmp(buf, msg, n) ? 3 : 0;
}

static uint64_t fnv(uint64_t h, const uint8_t *b, size_t n)
{
	while (n--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}

static int tcp_server(void)
{
	struct sockaddr_in me = addr(T_REM, TCP_PORT), peer;
	socklen_t pl = sizeof(peer);
	uint64_t h = 1469598103934665603ull;
	size_t total = 0;
	uint8_t buf[16384];
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), fd;
	ssize_t n;

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	timeouts(ls);
	if (bind(ls, (struct sockaddr *)&me, sizeof(me)) || listen(ls, 1))
		return 1;
	server_ready();
	fd = accept(ls, (struct sockaddr *)&peer, &pl);
	if (fd < 0)
		return 2;
	if (!in_pool(&peer))
		return 3;
	timeouts(fd);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		h = fnv(h, buf, n);
		total += n;
	}
	if (total != LIVE_BYTES)
		return 4;
	return write(fd, &h, sizeof(h)) == sizeof(h) ? 0 : 5;
}

static int tcp_client(void)
{
	struct sockaddr_in srv = addr(T_REM, TCP_PORT);
	static uint8_t data[LIVE_BYTES];
	uint64_t h = 1469598103934665603ull, got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t off = 0, i;
	ssize_t n;

	timeouts(fd);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + (i >> 8));
	if (connect(fd, (struct sockaddr *)&srv, sizeof(srv)))
		return 1;
	while (off < sizeof(data)) {
		n = write(fd, data + off, sizeof(data) - off);
		if (n <= 0)
			return 2;
		off += n;
	}
	shutdown(fd, SHUT_WR);
	if (read(fd, &got, sizeof(got)) != sizeof(got))
		return 3;
	return got == fnv(h, data, sizeof(data)) ? 0 : 4;
}

/* Unsolicited: the server sends to a pool address nobody opened. */
static int unsolicited(void)
{
	struct sockaddr_in dst = addr(T_POOL_FIRST, 4444);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	return sendto(fd, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst)) == 1 ? 0 : 1;
}

/* Run a server and a client; the client starts once the server is bound
 * (it said so on a pipe), however long the server took to get there. */
static void pair(int (*srv)(void), int (*cli)(void), const char *what)
{
	struct pollfd p;
	int rs, rc, fds[2];
	pid_t s, c;
	char b;

	cr_assert_eq(pipe(fds), 0);
	ready_fd = fds[1];
	s = in_ns(ns_srv, srv);
	ready_fd = -1;
	close(fds[1]);
	/* One byte: ready. EOF: the server exited first (its status says why). */
	p = (struct pollfd){.fd = fds[0], .events = POLLIN};
	if (poll(&p, 1, 15000) != 1) {
		kill(s, SIGKILL);
		wait_ok(s);
		cr_assert_fail("%s server not bound within 15 s", what);
	}
	if (read(fds[0], &b, 1) < 0)
		cr_log_warn("%s: reading the server's ready byte failed", what);
	close(fds[0]);
	c = in_ns(ns_cli, cli);
	rc = wait_ok(c);
	if (rc)
		kill(s, SIGTERM);
	rs = wait_ok(s);
	cr_assert_eq(rc, 0, "%s client failed (%d)", what, rc);
	cr_assert_eq(rs, 0, "%s server failed (%d)", what, rs);
}

/* Counter @idx once it has reached @want, or after 5 s whatever it is: the
 * fast path sees a packet in softirq context, after sendto() returned. */
static uint64_t cnt_reaching(int idx, uint64_t want)
{
	struct timespec t0, t;
	uint64_t v;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		v = t_cnt(idx);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (v >= want || t.tv_sec - t0.tv_sec >= 5)
			return v;
		usleep(10 * 1000);
	}
}

static void traffic(int xdp)
{
	uint64_t drops;

	shf("ip netns exec %s ping -c 3 -i 0.2 -W 2 %s >/dev/null", ns_cli, T_REM);
	pair(udp_server, udp_client, "UDP");
	pair(tcp_server, tcp_client, "TCP");
	drops = t_cnt(NS_CNT_DROP_NO_SESSION);
	cr_assert_eq(wait_ok(in_ns(ns_srv, unsolicited)), 0);
	cr_assert_eq(cnt_reaching(NS_CNT_DROP_NO_SESSION, drops + 1), drops + 1,
		     "unsolicited inbound dropped");
	cr_assert_geq(t_cnt(NS_CNT_SESSION_NEW), 3, "ping, UDP and TCP sessions");
	/* the fast path redirects by itself; TC sees GSO super-packets (one
	 * skb for many segments), hence the lower count there */
	cr_assert_eq(t_cnt(NS_CNT_FWD_STACK), 0, "nothing fell back to the stack");
	cr_assert_gt(t_cnt(NS_CNT_FWD_REDIRECT), xdp ? 100 : 20, "fast path forwarded (%s)",
		     xdp ? "xdp" : "tc");
	t_assert_invariant();
}

Test(live, xdp_native, .fini = live_teardown, .timeout = 60)
{
	live_setup(1);
	attach_xdp(XDP_FLAGS_DRV_MODE);
	traffic(1);
}

/* The daemon falls back to generic XDP where native is not available. */
Test(live, xdp_generic, .fini = live_teardown, .timeout = 60)
{
	live_setup(1);
	attach_xdp(XDP_FLAGS_SKB_MODE);
	traffic(1);
}

Test(live, tc_ingress_partial_checksums, .fini = live_teardown, .timeout = 60)
{
	live_setup(0);
	attach_tc();
	traffic(0);
}
